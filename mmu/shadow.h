/*
 * Shadow paging: the host MMU walks the guest's page tables' effect.
 *
 * A paged guest gets windows (window.h): one for CPL 0-2 that maps every
 * page the guest maps, and one for CPL 3 per user address space that
 * maps only its user pages.  A window behaves as a TLB: a host fault in
 * it is a miss, filled from the guest page tables (setting A, and D on
 * writes: a clean page is mapped read-only until its first write);
 * INVLPG drops one page; a change of CR0.PG/WP or CR4.PSE/PGE drops
 * everything.  Like a TLB, a window may keep a translation after the
 * guest edits a PTE, until the guest invalidates it (SDM Vol. 3A
 * §4.10.4), so the current address space's page tables need no write
 * tracing.
 *
 * A CR3 write drops the supervisor window's non-global pages, and
 * switches to the user window of the new CR3: the last SHADOW_SPACES
 * address spaces keep theirs (a fork or a pipe switches between two or
 * three).  Such a window comes back only after a check of what it maps
 * against the guest's tables as they are now — each mapped page's PDE and
 * PTE compared with the entries it was mapped from — so it holds exactly
 * what an empty TLB would refill; a page whose entries changed is
 * dropped, or write-protected if only its write right or D bit went.
 * This replaces tracing writes to the page tables of the address spaces
 * not running (a host fault per write) by reading their entries once per
 * switch.
 *
 * A guest 4 MiB page is mapped with one mmap, and a fill of a 4 KiB page
 * takes along the neighbouring entries of its page table that map the
 * next frames with the same rights (one mmap, one VMA).  Frames holding
 * translated code are mapped read-only in every window (a reverse map
 * finds the writable mappings of a frame when it becomes code).  MMIO and
 * unbacked frames are never mapped: those accesses are emulated.
 */
#ifndef BTVM_MMU_SHADOW_H
#define BTVM_MMU_SHADOW_H

#include <stdbool.h>
#include <stdint.h>

#include "mmu/paging.h"
#include "mmu/window.h"

enum { SHADOW_SUPERVISOR = 0, SHADOW_USER = 1 };
/* User address spaces whose windows survive CR3 writes. */
#define SHADOW_SPACES 8

typedef struct shadow_rmap {
    uint32_t lin_page;   /* linear page number */
    uint32_t frame;      /* frame number it maps */
    uint8_t view;        /* index in shadow_space.view */
    int32_t next;        /* next record of the same frame, or -1 */
} shadow_rmap;

typedef struct shadow_stats {
    uint64_t fills, fill_pages, large_fills, batched_fills, wipes, cr3_flushes, kept_global, invlpgs,
        downgrades, emulated,
        upgrades,        /* read-only mappings made writable by mprotect (shadow_fill) */
        upgraded_pages,  /* the pages they covered */
        invlpg_drops,    /* pages (or 4 MiB fills) INVLPG unmapped, per window */
        invlpg_replaced, /* INVLPGs that re-mapped a mapped page to its new frame at once */
        invlpg_kept,     /* INVLPGs that found it mapped to the same frame (rights updated) */
        spaces_kept,     /* CR3 writes that found the address space's user window kept */
        spaces_evicted,  /* user windows emptied for another address space */
        checked_pages,   /* pages of kept user windows checked against the guest's tables */
        checked_drops,   /* ... dropped: their entries changed */
        checked_downgrades; /* ... write-protected: their write right or D bit went */
} shadow_stats;

/* One fill: a 4 KiB page or a 4 MiB region (large), for wiping cheaply. */
typedef struct shadow_fill_rec {
    uint32_t lin;
    uint32_t pages;      /* 1 to 2^20: neighbouring fills share a record */
    uint8_t large;       /* a guest 4 MiB page (INVLPG drops all of it) */
    uint8_t global;      /* the guest marked it global: survives CR3 writes */
} shadow_fill_rec;

/* A window and what it maps. */
typedef struct shadow_view {
    mmu_window win;
    uint32_t *frame_of;      /* per linear page: mapped frame + 1, 0 = unmapped */
    bool *writable;          /* per linear page: mapped writable */
    bool *global;            /* per linear page: mapped as global (survives CR3 writes) */
    uint32_t large[1024];    /* per 4 MiB region: its frame + 1 when filled as one page */
    bool large_writable[1024];
    uint32_t vmas;           /* host VMAs it uses beyond its reservation, counted as the
                                host merges them (shadow.c: vma_edge) */
    shadow_fill_rec *fills;  /* every fill since it was last emptied */
    uint32_t nfills;
} shadow_view;

/* A user address space's window: what it was filled from, to check it
 * when its CR3 comes back. */
typedef struct shadow_space_tag {
    uint32_t cr3;            /* page-directory base */
    bool tagged;
    uint64_t used;           /* when last switched to (LRU) */
    uint32_t *pte;           /* per linear page: the PTE its mapping came from (A, D as set) */
    uint32_t pde[1024];      /* per 4 MiB region: the PDE of its last fill there */
} shadow_space_tag;

typedef struct shadow_space {
    phys_mem *pm;
    /* view[0]: supervisor; view[1 + i]: user address space i */
    shadow_view view[1 + SHADOW_SPACES];
    shadow_space_tag space[SHADOW_SPACES];
    int cur;                 /* the address space of CR3: its user window is view[1 + cur] */
    uint64_t clock;
    int32_t *rmap_head;      /* per RAM frame: writable 4 KiB mappings of it */
    shadow_rmap *rmap;
    uint32_t rmap_used, rmap_cap;
    uint32_t fills_cap;      /* per view */
    uint32_t vmas;           /* the views' VMAs together */
    uint8_t *dropping;       /* per linear page: scratch for a CR3 write's VMA count */
    uint32_t *dropped;       /* the pages marked in dropping */
    uint32_t vma_budget;     /* start over past this (a share of vm.max_map_count) */
    shadow_stats stats;
} shadow_space;

/* The window a privilege class uses now (SHADOW_SUPERVISOR or SHADOW_USER). */
static inline shadow_view *shadow_view_of(shadow_space *s, int w)
{
    return &s->view[w == SHADOW_USER ? 1 + s->cur : 0];
}

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
/* A CR3 write (pc holds the new CR3): the supervisor window forgets all
 * but the global pages, which a guest kernel maps the same in every
 * address space; the user window becomes the new address space's,
 * checked against its tables if it was kept. */
void shadow_cr3_write(shadow_space *s, const pg_control *pc);
/* INVLPG: drop the page, or bring a mapping of it up to date when the
 * guest has used its new entry (A set); pc is read, the tables are not
 * written. */
void shadow_invlpg(shadow_space *s, const pg_control *pc, uint32_t lin);
/* A frame became code: no window may keep it writable. */
void shadow_frame_became_code(shadow_space *s, uint32_t paddr);

#endif
