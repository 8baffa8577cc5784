/*
 * The guest page-table walker: 2-level 32-bit paging with 4 KiB and
 * 4 MiB (CR4.PSE) pages, SDM Vol. 3A §4.3.
 *
 * The walker is pure mmu/: it reads and updates the guest's tables in
 * physical memory and reports a #PF error code; the caller (cpu/) raises
 * the exception.  Accessed bits are set on every successful walk, the
 * dirty bit on writes (§4.8).
 */
#ifndef BTVM_MMU_PAGING_H
#define BTVM_MMU_PAGING_H

#include <stdbool.h>
#include <stdint.h>

#include "mmu/phys.h"

/* Page-table entry bits (SDM Vol. 3A Table 4-5, 4-6) */
#define PTE_P   0x001u
#define PTE_RW  0x002u
#define PTE_US  0x004u
#define PTE_PWT 0x008u
#define PTE_PCD 0x010u
#define PTE_A   0x020u
#define PTE_D   0x040u
#define PTE_PS  0x080u  /* in a PDE: 4 MiB page */
#define PTE_G   0x100u

/* #PF error code bits (SDM Vol. 3A §4.7) */
#define PFEC_P    0x01u  /* 0: not present, 1: protection violation */
#define PFEC_W    0x02u
#define PFEC_U    0x04u
#define PFEC_RSVD 0x08u

typedef enum pg_access { PG_READ = 0, PG_WRITE = 1, PG_FETCH = 2 } pg_access;

typedef struct pg_translation {
    uint32_t paddr;       /* physical address of the linear address walked */
    bool rw;              /* R/W set at every level */
    bool us;              /* U/S set at every level */
    bool global;
    bool dirty;
    bool large;           /* 4 MiB page */
    bool accessed;        /* A was already set at every level before the walk */
} pg_translation;

typedef struct pg_control {
    uint32_t cr0, cr3, cr4;
} pg_control;

/*
 * Translate lin for an access; user is true for CPL 3 (and for implicit
 * supervisor accesses false).  Returns true with *out filled, or false
 * with the #PF error code in *pfec.
 */
bool pg_walk(phys_mem *pm, const pg_control *pc, uint32_t lin, pg_access access, bool user,
             pg_translation *out, uint32_t *pfec);

/*
 * The same walk without its side effects: A and D are never written, and
 * out->dirty reports D as the tables hold it.  For looking ahead (the
 * shadow windows' fill at INVLPG) without changing what the guest sees.
 */
bool pg_peek(phys_mem *pm, const pg_control *pc, uint32_t lin, pg_access access, bool user,
             pg_translation *out, uint32_t *pfec);

#endif
