/*
 * A host window onto guest memory for translated code.
 *
 * A guest access to linear address L runs as a host access to
 * base + L, where base sits in a reservation with guard regions on both
 * sides, so that any 32-bit address plus the largest offset an
 * instruction can add (BT's bit offset, ±256 MiB) stays inside the
 * reservation: a stray access faults instead of touching host memory.
 *
 * This is the flat window of a guest running without paging: guest RAM
 * is mapped from the memfd at its physical addresses; ROM, MMIO and
 * unassigned space are left unmapped (accesses fault and are emulated);
 * code pages are mapped read-only so writes to them trap (self-modifying
 * code).  Shadow windows for paged guests follow the same layout.
 */
#ifndef BTVM_MMU_WINDOW_H
#define BTVM_MMU_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmu/phys.h"

#define WINDOW_GUARD (1ull << 30)
/* The base is 4 GiB-aligned: the low 32 bits of base + L are L, so a host
 * pointer into the window is also the guest address it stands for (the
 * translator's string instructions run on such pointers). */
#define WINDOW_BASE_ALIGN (1ull << 32)

typedef struct mmu_window {
    uint8_t *reservation;
    size_t reservation_size;
    uint8_t *base;        /* host address of guest linear address 0 */
    phys_mem *pm;
} mmu_window;

/* An empty window: the whole 4 GiB and its guards unmapped.  0 or -1/errno. */
int window_init(mmu_window *w, phys_mem *pm);
/* The flat window: all of RAM mapped at its physical addresses. */
int window_init_flat(mmu_window *w, phys_mem *pm);
void window_destroy(mmu_window *w);

/* Drop every mapping (one system call).  0 or -1. */
int window_clear(mmu_window *w);
/* Drop the mappings of [lin, lin + len). */
int window_unmap(mmu_window *w, uint32_t lin, uint32_t len);
/* Map len bytes of guest RAM from frame at lin; 0 or -1.  populate: fill
 * the host page tables now (allocating the frames the memfd lacks), not
 * at each page's first touch. */
int window_map(mmu_window *w, uint32_t lin, uint32_t frame, uint32_t len, bool writable,
               bool populate);
/* Flat windows: a page became code (read-only) or stopped being code. */
void window_protect_code(mmu_window *w, uint32_t paddr, bool is_code);

/* Is a host address inside the window (guards included)? */
static inline bool window_contains(const mmu_window *w, uintptr_t addr)
{
    return addr - (uintptr_t)w->reservation < w->reservation_size;
}

#endif
