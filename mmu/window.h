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

typedef struct mmu_window {
    uint8_t *reservation;
    size_t reservation_size;
    uint8_t *base;        /* host address of guest linear address 0 */
    phys_mem *pm;
} mmu_window;

/* 0, or -1 with errno set.  Installs pm's code hook. */
int window_init_flat(mmu_window *w, phys_mem *pm);
void window_destroy(mmu_window *w);

/* Is a host address inside the window (guards included)? */
static inline bool window_contains(const mmu_window *w, uintptr_t addr)
{
    return addr - (uintptr_t)w->reservation < w->reservation_size;
}

#endif
