/*
 * The interpreter's software TLB: a direct-mapped cache from linear page
 * to host pointer and permissions, filled by the page walker.
 *
 * Write permission is cached only once the page's dirty bit is set, so
 * the first write to a clean page walks again and sets D (SDM Vol. 3A
 * §4.8).  Pages without a host pointer (MMIO, unassigned) go through
 * phys_read/phys_write with the cached physical address.
 */
#ifndef BTVM_MMU_TLB_H
#define BTVM_MMU_TLB_H

#include <stdint.h>
#include <string.h>

#define TLB_ENTRIES 1024

#define TLB_USER_READ  0x01u  /* CPL 3 may read */
#define TLB_USER_WRITE 0x02u  /* CPL 3 may write (and D is set) */
#define TLB_SUP_WRITE  0x04u  /* CPL 0-2 may write (and D is set) */
#define TLB_GLOBAL     0x08u
#define TLB_LARGE      0x10u  /* piece of a 4 MiB page */

typedef struct tlb_entry {
    uint32_t tag;      /* linear page | 1, 0 = empty */
    uint32_t paddr;    /* physical page */
    uint8_t *host_r;   /* host page for reads, or NULL */
    uint8_t *host_w;   /* host page for writes, or NULL */
    uint32_t perm;
} tlb_entry;

typedef struct cpu_tlb {
    tlb_entry e[TLB_ENTRIES];
    uint64_t phys_generation; /* phys_mem map the entries were made against */
} cpu_tlb;

static inline tlb_entry *tlb_slot(cpu_tlb *t, uint32_t lin)
{
    return &t->e[(lin >> 12) & (TLB_ENTRIES - 1)];
}

static inline void tlb_flush_all(cpu_tlb *t)
{
    memset(t->e, 0, sizeof(t->e));
}

/* A CR3 write keeps global pages (SDM Vol. 3A §4.10.4.1). */
static inline void tlb_flush_nonglobal(cpu_tlb *t)
{
    for (int i = 0; i < TLB_ENTRIES; i++)
        if (!(t->e[i].perm & TLB_GLOBAL))
            t->e[i].tag = 0;
}

static inline void tlb_flush_page(cpu_tlb *t, uint32_t lin)
{
    tlb_entry *e = tlb_slot(t, lin);
    if (e->tag == ((lin & ~0xfffu) | 1))
        e->tag = 0;
}

#endif
