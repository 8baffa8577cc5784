/* The guest page-table walker: see paging.h. */
#include "mmu/paging.h"

#include "mmu/phys.h"

/*
 * Combined protection of the PDE and PTE (SDM Vol. 3A §4.6.1):
 *   user access:        both levels must have U/S=1; a write needs R/W=1
 *                       at both levels.
 *   supervisor access:  reads always allowed; a write to a page that is
 *                       read-only at either level is allowed only when
 *                       CR0.WP=0.
 */
static bool access_allowed(uint32_t combined, pg_access access, bool user, bool wp)
{
    if (user && !(combined & PTE_US))
        return false;
    if (access == PG_WRITE && !(combined & PTE_RW))
        return !user && !wp;
    return true;
}

static uint32_t read_entry(phys_mem *pm, uint32_t paddr)
{
    return phys_read(pm, paddr & pm->a20_mask, 4);
}

static void write_entry(phys_mem *pm, uint32_t paddr, uint32_t v)
{
    phys_write(pm, paddr & pm->a20_mask, v, 4);
}

/* The walk; update says whether it sets A and D as the access would. */
static bool walk(phys_mem *pm, const pg_control *pc, uint32_t lin, pg_access access, bool user,
                 bool update, pg_translation *out, uint32_t *pfec)
{
    uint32_t err = (access == PG_WRITE ? PFEC_W : 0) | (user ? PFEC_U : 0);
    bool wp = pc->cr0 & 0x00010000u;

    uint32_t pde_addr = (pc->cr3 & 0xfffff000u) | ((lin >> 20) & 0xffc);
    uint32_t pde = read_entry(pm, pde_addr);
    if (!(pde & PTE_P)) {
        *pfec = err;
        return false;
    }

    if ((pde & PTE_PS) && (pc->cr4 & 0x10u /* CR4.PSE */)) {
        /* 4 MiB page.  Bits 13..21 of the PDE are reserved without PSE-36. */
        if (pde & 0x003fe000u) {
            *pfec = err | PFEC_P | PFEC_RSVD;
            return false;
        }
        if (!access_allowed(pde, access, user, wp)) {
            *pfec = err | PFEC_P;
            return false;
        }
        uint32_t nde = update ? pde | PTE_A | (access == PG_WRITE ? PTE_D : 0) : pde;
        if (nde != pde)
            write_entry(pm, pde_addr, nde);
        *out = (pg_translation){
            .paddr = (pde & 0xffc00000u) | (lin & 0x003fffffu),
            .rw = pde & PTE_RW,
            .us = pde & PTE_US,
            .global = (pde & PTE_G) && (pc->cr4 & 0x80u),
            .dirty = nde & PTE_D,
            .large = true,
            .accessed = pde & PTE_A,
        };
        return true;
    }

    uint32_t pte_addr = (pde & 0xfffff000u) | ((lin >> 10) & 0xffc);
    uint32_t pte = read_entry(pm, pte_addr);
    if (!(pte & PTE_P)) {
        *pfec = err;
        return false;
    }
    uint32_t combined = pte & pde & (PTE_US | PTE_RW);
    if (!access_allowed(combined, access, user, wp)) {
        *pfec = err | PFEC_P;
        return false;
    }
    if (update && !(pde & PTE_A))
        write_entry(pm, pde_addr, pde | PTE_A);
    uint32_t npte = update ? pte | PTE_A | (access == PG_WRITE ? PTE_D : 0) : pte;
    if (npte != pte)
        write_entry(pm, pte_addr, npte);
    *out = (pg_translation){
        .paddr = (pte & 0xfffff000u) | (lin & 0xfff),
        .rw = combined & PTE_RW,
        .us = combined & PTE_US,
        .global = (pte & PTE_G) && (pc->cr4 & 0x80u),
        .dirty = npte & PTE_D,
        .large = false,
        .accessed = pde & pte & PTE_A,
    };
    return true;
}

bool pg_walk(phys_mem *pm, const pg_control *pc, uint32_t lin, pg_access access, bool user,
             pg_translation *out, uint32_t *pfec)
{
    return walk(pm, pc, lin, access, user, true, out, pfec);
}

bool pg_peek(phys_mem *pm, const pg_control *pc, uint32_t lin, pg_access access, bool user,
             pg_translation *out, uint32_t *pfec)
{
    return walk(pm, pc, lin, access, user, false, out, pfec);
}
