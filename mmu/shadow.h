/*
 * Shadow paging: the host MMU walks the guest's page tables' effect.
 *
 * A paged guest gets two windows (window.h): one for CPL 0-2 that maps
 * every page the guest maps, one for CPL 3 that maps only user pages.
 * A window behaves as a TLB: a host fault in it is a miss, filled from
 * the guest page tables (setting A, and D on writes: a clean page is
 * mapped read-only until its first write); INVLPG drops one page; a CR3
 * write or a change of CR0.PG/WP or CR4.PSE/PGE drops everything.  Like
 * a TLB, a window may keep a translation after the guest edits a PTE,
 * until the guest invalidates it (SDM Vol. 3A §4.10.4) — so page-table
 * pages need no write tracing.
 *
 * A guest 4 MiB page is mapped with one mmap, and a fill of a 4 KiB page
 * takes along the neighbouring entries of its page table that map the
 * next frames with the same rights (one mmap, one VMA).  Frames holding translated
 * code are mapped read-only in every window (a reverse map finds the
 * writable mappings of a frame when it becomes code).  MMIO and
 * unbacked frames are never mapped: those accesses are emulated.
 */
#ifndef BTVM_MMU_SHADOW_H
#define BTVM_MMU_SHADOW_H

#include <stdbool.h>
#include <stdint.h>

#include "mmu/paging.h"
#include "mmu/window.h"

enum { SHADOW_SUPERVISOR = 0, SHADOW_USER = 1 };

typedef struct shadow_rmap {
    uint32_t lin_page;   /* linear page number */
    uint32_t frame;      /* frame number it maps */
    uint8_t win;
    int32_t next;        /* next record of the same frame, or -1 */
} shadow_rmap;

typedef struct shadow_stats {
    uint64_t fills, fill_pages, large_fills, batched_fills, wipes, cr3_flushes, kept_global, invlpgs,
        downgrades, emulated,
        upgrades,        /* read-only mappings made writable by mprotect (shadow_fill) */
        upgraded_pages,  /* the pages they covered */
        invlpg_drops,    /* pages (or 4 MiB fills) INVLPG unmapped, per window */
        invlpg_replaced, /* INVLPGs that re-mapped a mapped page to its new frame at once */
        invlpg_kept;     /* INVLPGs that found it mapped to the same frame (rights updated) */
} shadow_stats;

/* One fill: a 4 KiB page or a 4 MiB region (large), for wiping cheaply. */
typedef struct shadow_fill_rec {
    uint32_t lin;
    uint32_t pages;      /* 1 to 2^20: neighbouring fills share a record */
    uint8_t win;
    uint8_t large;       /* a guest 4 MiB page (INVLPG drops all of it) */
    uint8_t global;      /* the guest marked it global: survives CR3 writes */
} shadow_fill_rec;

typedef struct shadow_space {
    phys_mem *pm;
    mmu_window win[2];
    uint32_t *frame_of[2];   /* per linear page: mapped frame + 1, 0 = unmapped */
    bool *writable[2];       /* per linear page: mapped writable */
    bool *global[2];         /* per linear page: mapped as global (survives CR3 writes) */
    uint32_t large[2][1024]; /* per 4 MiB region: its frame + 1 when filled as one page */
    bool large_writable[2][1024];
    int32_t *rmap_head;      /* per RAM frame: writable 4 KiB mappings of it */
    shadow_rmap *rmap;
    uint32_t rmap_used, rmap_cap;
    shadow_fill_rec *fills;  /* every fill since the last wipe */
    uint32_t nfills, fills_cap;
    uint32_t vmas;           /* host VMAs the windows use beyond their reservations, counted
                                as the host merges them (shadow.c: vma_edge) */
    uint32_t win_vmas[2];    /* the same per window (vmas is their sum) */
    uint8_t *dropping;       /* per linear page: scratch for a CR3 write's VMA count */
    uint32_t *dropped;       /* the pages marked in dropping */
    uint32_t vma_budget;     /* start over past this (a share of vm.max_map_count) */
    bool user_filled;        /* the user window maps something */
    shadow_stats stats;
} shadow_space;

enum shadow_fill {
    SHADOW_MAPPED,       /* retry the access */
    SHADOW_GUEST_FAULT,  /* the guest tables refuse: a #PF for the guest */
    SHADOW_EMULATE,      /* MMIO, unbacked, or a write to a code frame */
};

int shadow_init(shadow_space *s, phys_mem *pm);
void shadow_destroy(shadow_space *s);

/* Fill the page holding lin in window win after a host fault. */
enum shadow_fill shadow_fill(shadow_space *s, const pg_control *pc, int win, uint32_t lin,
                             bool write);
/* Forget everything (paging mode changes). */
void shadow_wipe(shadow_space *s);
/* A CR3 write: forget all but the global pages, which a guest kernel maps
 * the same in every address space. */
void shadow_flush_nonglobal(shadow_space *s);
/* INVLPG: drop the page, or bring a mapping of it up to date when the
 * guest has used its new entry (A set); pc is read, the tables are not
 * written. */
void shadow_invlpg(shadow_space *s, const pg_control *pc, uint32_t lin);
/* A frame became code: no window may keep it writable. */
void shadow_frame_became_code(shadow_space *s, uint32_t paddr);

#endif
