/*
 * Shadow paging (mmu/shadow.c) without a CPU: fills driven by hand, as
 * the translator's fault handler drives them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mmu/shadow.h"

#define RAM (128u << 20)
#define PD 0x1000u
#define PT0 0x2000u          /* page tables for 0..64 MiB follow */
#define DATA (16u << 20)     /* linear = physical from here */
#define DATA_PAGES (24576u)  /* 96 MiB: more fills than the old fixed budget */

static void put32(phys_mem *pm, uint32_t paddr, uint32_t v)
{
    memcpy(pm->ram + paddr, &v, 4);
}

/* The host's view, from /proc/self/maps: the VMAs inside [lo, hi), and
 * the permissions ("rw-s", "r--s", "---p") of the one holding addr. */
static unsigned host_vmas(const void *lo, const void *hi, const void *addr, char perms[5])
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    unsigned n = 0;
    unsigned long a, b;
    char pm[5], line[512];
    perms[0] = 0;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%lx-%lx %4s", &a, &b, pm) != 3)
            continue;
        if (a >= (uintptr_t)lo && b <= (uintptr_t)hi)
            n++;
        if ((uintptr_t)addr >= a && (uintptr_t)addr < b)
            memcpy(perms, pm, 5);
    }
    fclose(f);
    return n;
}

static unsigned window_vmas(const mmu_window *w)
{
    char perms[5];
    return host_vmas(w->reservation, w->reservation + w->reservation_size, NULL, perms);
}

/* The VMA estimate must never fall below what the host holds (each
 * window's reservation is one VMA when empty: the estimate counts the
 * rest). */
static void assert_vma_bound(const shadow_space *s)
{
    unsigned held = 0;
    for (int v = 0; v < 1 + SHADOW_SPACES; v++)
        held += window_vmas(&s->view[v].win) - 1;
    if (held > s->vmas)
        fail_msg("host holds %u window VMAs, estimate %u", held, s->vmas);
}

static const char *host_perms(const shadow_space *s, int w, uint32_t lin)
{
    static char perms[5];
    host_vmas(NULL, NULL, s->view[w == SHADOW_USER ? 1 + s->cur : 0].win.base + lin, perms);
    return perms;
}

/* Identity-map [0, 112 MiB) with 4 KiB pages, accessed and dirty clear,
 * as a guest that has just built its tables. */
static void build_tables(phys_mem *pm)
{
    for (uint32_t t = 0; t < 28; t++) {
        put32(pm, PD + t * 4, (PT0 + t * 0x1000) | PTE_P | PTE_RW);
        for (uint32_t i = 0; i < 1024; i++)
            put32(pm, PT0 + t * 0x1000 + i * 4, ((t * 1024 + i) << 12) | PTE_P | PTE_RW);
    }
}

/* RAM with the tables build writes, and a shadow space over it. */
static void setup(phys_mem *pm, shadow_space *s, void (*build)(phys_mem *))
{
    assert_int_equal(phys_init(pm, RAM), 0);
    build(pm);
    assert_int_equal(shadow_init(s, pm), 0);
}

/*
 * A guest writing through fresh memory page after page (the compute
 * benchmark's first pass): each write fills one page, so a fill must map
 * only the new page — not re-map the neighbours filled before it — and
 * fills that continue each other cost no host VMAs, so the windows never
 * start over.  Before the fix each fill re-mapped the whole run behind
 * it (O(n^2) pages) and the windows were wiped every 24000 fills.
 */
static void test_sequential_fills_map_each_page_once(void **state)
{
    (void)state;
    phys_mem pm;
    shadow_space s;
    setup(&pm, &s, build_tables);
    pg_control pc = { .cr0 = 0x80000001u, .cr3 = PD, .cr4 = 0 };
    for (uint32_t p = 0; p < DATA_PAGES; p++) {
        uint32_t lin = DATA + p * 0x1000;
        assert_int_equal(shadow_fill(&s, &pc, SHADOW_SUPERVISOR, lin, true), SHADOW_MAPPED);
        /* the mapping is the guest's frame, writable */
        s.view[0].win.base[lin + 8] = (uint8_t)p;
        assert_int_equal(pm.ram[lin + 8], (uint8_t)p);
    }
    assert_int_equal(s.stats.fills, DATA_PAGES);
    assert_int_equal(s.stats.fill_pages, DATA_PAGES);
    assert_int_equal(s.stats.wipes, 0);
    assert_true(s.vmas < 8);
    /* The walker set A and D on the guest's entries, as hardware would. */
    uint32_t pte;
    memcpy(&pte, pm.ram + PT0 + (DATA >> 12) * 4, 4);
    assert_int_equal(pte & (PTE_A | PTE_D), PTE_A | PTE_D);
    shadow_destroy(&s);
    phys_destroy(&pm);
}

/* Neighbours the guest has already used join a fill (one mapping for the
 * run); entries it has not used do not (their A bit must stay clear). */
static void test_batched_fill_takes_used_neighbours_only(void **state)
{
    (void)state;
    phys_mem pm;
    shadow_space s;
    setup(&pm, &s, build_tables);
    uint32_t pt = PT0 + (DATA >> 22) * 0x1000;
    for (uint32_t i = 0; i < 8; i++) /* pages 0..7 of DATA's table used and dirty */
        put32(&pm, pt + i * 4, ((DATA >> 12) + i) << 12 | PTE_P | PTE_RW | PTE_A | PTE_D);
    pg_control pc = { .cr0 = 0x80000001u, .cr3 = PD, .cr4 = 0 };
    assert_int_equal(shadow_fill(&s, &pc, SHADOW_SUPERVISOR, DATA + 3 * 0x1000, false), SHADOW_MAPPED);
    assert_int_equal(s.stats.fill_pages, 8);
    assert_int_equal(s.stats.batched_fills, 1);
    uint32_t pte;
    memcpy(&pte, pm.ram + pt + 8 * 4, 4);
    assert_int_equal(pte & PTE_A, 0);
    shadow_destroy(&s);
    phys_destroy(&pm);
}

/*
 * A CR3 write drops the non-global mappings in one unmap of the span they
 * cover; a global mapping inside that span is mapped again, to the same
 * frame, and the user window is left alone when it maps nothing.
 */
static void test_cr3_flush_keeps_globals_inside_the_span(void **state)
{
    (void)state;
    phys_mem pm;
    shadow_space s;
    setup(&pm, &s, build_tables);
    uint32_t pt = PT0 + (DATA >> 22) * 0x1000;
    /* pages 0 and 2 non-global, page 1 global, between them */
    for (uint32_t i = 0; i < 3; i++)
        put32(&pm, pt + i * 4, ((DATA >> 12) + 100 + i) << 12 | PTE_P | PTE_RW | (i == 1 ? PTE_G : 0));
    pm.ram[((DATA >> 12) + 101) * 0x1000 + 5] = 0x5a;
    pg_control pc = { .cr0 = 0x80000001u, .cr3 = PD, .cr4 = 0x80 /* PGE */ };
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(shadow_fill(&s, &pc, SHADOW_SUPERVISOR, DATA + i * 0x1000, false),
                         SHADOW_MAPPED);
    assert_int_equal(shadow_view_of(&s, SHADOW_USER)->nfills, 0);
    shadow_cr3_write(&s, &pc);
    uint32_t *frame_of = s.view[0].frame_of;
    assert_int_equal(frame_of[DATA >> 12], 0);
    assert_int_equal(frame_of[(DATA >> 12) + 2], 0);
    assert_int_equal(frame_of[(DATA >> 12) + 1], (DATA >> 12) + 101 + 1);
    /* still mapped, to its frame */
    assert_int_equal(s.view[0].win.base[DATA + 0x1000 + 5], 0x5a);
    assert_int_equal(s.stats.kept_global, 1);
    assert_vma_bound(&s);
    shadow_destroy(&s);
    phys_destroy(&pm);
}

/*
 * A frame that held translated code is mapped read-only; once it stops
 * being code, the guest's next write to it faults in the window.  The
 * page is mapped to the right frame already: one mprotect makes it
 * writable, with no re-mapping (fill_pages unchanged).
 */
static void test_write_to_former_code_page_upgrades_it(void **state)
{
    (void)state;
    phys_mem pm;
    shadow_space s;
    setup(&pm, &s, build_tables);
    uint32_t pt = PT0 + (DATA >> 22) * 0x1000;
    put32(&pm, pt, (DATA >> 12) << 12 | PTE_P | PTE_RW | PTE_A | PTE_D);
    phys_mark_code(&pm, DATA);
    pg_control pc = { .cr0 = 0x80010001u, .cr3 = PD, .cr4 = 0 };
    assert_int_equal(shadow_fill(&s, &pc, SHADOW_SUPERVISOR, DATA, false), SHADOW_MAPPED);
    assert_false(s.view[0].writable[DATA >> 12]);
    assert_string_equal(host_perms(&s, SHADOW_SUPERVISOR, DATA), "r--s");
    uint64_t pages = s.stats.fill_pages;

    phys_unmark_code(&pm, DATA);
    assert_int_equal(shadow_fill(&s, &pc, SHADOW_SUPERVISOR, DATA + 4, true), SHADOW_MAPPED);
    assert_int_equal(s.stats.fill_pages, pages);
    assert_int_equal(s.stats.upgrades, 1);
    assert_true(s.view[0].writable[DATA >> 12]);
    assert_string_equal(host_perms(&s, SHADOW_SUPERVISOR, DATA), "rw-s");
    s.view[0].win.base[DATA + 4] = 0x77;
    assert_int_equal(pm.ram[DATA + 4], 0x77);
    assert_vma_bound(&s);
    /* ... and it is in the reverse map: becoming code again protects it */
    shadow_frame_became_code(&s, DATA);
    assert_string_equal(host_perms(&s, SHADOW_SUPERVISOR, DATA), "r--s");
    assert_vma_bound(&s);
    shadow_destroy(&s);
    phys_destroy(&pm);
}

/*
 * A guest 4 MiB page read before it was written is mapped read-only as a
 * whole (its D bit clear).  The first write sets D for all of it: every
 * page but the code frames becomes writable, one mprotect per run
 * between code frames, without re-mapping the 4 MiB (which would zap its
 * 1024 host PTEs and write-protect the code frames again).
 */
static void test_first_write_to_large_page_upgrades_between_code_frames(void **state)
{
    (void)state;
    phys_mem pm;
    shadow_space s;
    setup(&pm, &s, build_tables);
    const uint32_t big = 64u << 20; /* beyond the tables: a 4 MiB page, lin = phys */
    put32(&pm, PD + (big >> 22) * 4, big | PTE_P | PTE_RW | PTE_PS);
    phys_mark_code(&pm, big + 10 * 0x1000);
    phys_mark_code(&pm, big + 20 * 0x1000);
    pg_control pc = { .cr0 = 0x80010001u, .cr3 = PD, .cr4 = 0x10 /* PSE */ };
    assert_int_equal(shadow_fill(&s, &pc, SHADOW_SUPERVISOR, big + 5 * 0x1000, false), SHADOW_MAPPED);
    assert_int_equal(s.stats.large_fills, 1);
    assert_int_equal(s.stats.fill_pages, 1024);
    assert_string_equal(host_perms(&s, SHADOW_SUPERVISOR, big + 5 * 0x1000), "r--s");

    assert_int_equal(shadow_fill(&s, &pc, SHADOW_SUPERVISOR, big + 5 * 0x1000, true), SHADOW_MAPPED);
    assert_int_equal(s.stats.fill_pages, 1024);
    assert_int_equal(s.stats.upgrades, 3);         /* [0,10) [11,20) [21,1024) */
    assert_int_equal(s.stats.upgraded_pages, 1022);
    uint32_t pde;
    memcpy(&pde, pm.ram + PD + (big >> 22) * 4, 4);
    assert_int_equal(pde & (PTE_A | PTE_D), PTE_A | PTE_D);
    assert_string_equal(host_perms(&s, SHADOW_SUPERVISOR, big + 5 * 0x1000), "rw-s");
    assert_string_equal(host_perms(&s, SHADOW_SUPERVISOR, big + 10 * 0x1000), "r--s");
    assert_string_equal(host_perms(&s, SHADOW_SUPERVISOR, big + 20 * 0x1000), "r--s");
    assert_string_equal(host_perms(&s, SHADOW_SUPERVISOR, big + 1000 * 0x1000), "rw-s");
    s.view[0].win.base[big + 1000 * 0x1000] = 0x42;
    assert_int_equal(pm.ram[big + 1000 * 0x1000], 0x42);
    /* a write to a code frame is still the emulator's */
    assert_int_equal(shadow_fill(&s, &pc, SHADOW_SUPERVISOR, big + 10 * 0x1000, true), SHADOW_EMULATE);
    assert_vma_bound(&s);
    /* the upgraded pages are found when their frame becomes code */
    shadow_frame_became_code(&s, big + 30 * 0x1000);
    assert_string_equal(host_perms(&s, SHADOW_SUPERVISOR, big + 30 * 0x1000), "r--s");
    assert_vma_bound(&s);
    shadow_destroy(&s);
    phys_destroy(&pm);
}

/* The supervisor window of a space filled with PTEs i = 0..n-1 of DATA's
 * table, each mapping frame DATA + 0x100000 + i pages, with flags. */
static void setup_ptes(phys_mem *pm, uint32_t n, uint32_t flags)
{
    uint32_t pt = PT0 + (DATA >> 22) * 0x1000;
    for (uint32_t i = 0; i < n; i++)
        put32(pm, pt + i * 4, (DATA + 0x100000 + i * 0x1000) | flags);
}

static void set_pte(phys_mem *pm, uint32_t i, uint32_t v)
{
    put32(pm, PT0 + (DATA >> 22) * 0x1000 + i * 4, v);
}

static uint32_t get_pte(phys_mem *pm, uint32_t i)
{
    uint32_t v;
    memcpy(&v, pm->ram + PT0 + (DATA >> 22) * 0x1000 + i * 4, 4);
    return v;
}

/*
 * A mapped page whose entry now maps another frame, one the guest has
 * used (A set): INVLPG maps the new frame at once, with one mmap, where
 * an unmap would be followed by a host fault and a fill.
 */
static void test_invlpg_after_pte_change_maps_the_new_frame(void **state)
{
    (void)state;
    phys_mem pm;
    shadow_space s;
    setup(&pm, &s, build_tables);
    setup_ptes(&pm, 1, PTE_P | PTE_RW | PTE_A | PTE_D);
    const uint32_t other = 40u << 20;
    pm.ram[other + 8] = 0x99;
    pg_control pc = { .cr0 = 0x80010001u, .cr3 = PD, .cr4 = 0 };
    assert_int_equal(shadow_fill(&s, &pc, SHADOW_SUPERVISOR, DATA, false), SHADOW_MAPPED);
    uint64_t fills = s.stats.fills;

    set_pte(&pm, 0, other | PTE_P | PTE_RW | PTE_A | PTE_D);
    shadow_invlpg(&s, &pc, DATA);
    assert_int_equal(s.stats.invlpg_replaced, 1);
    assert_int_equal(s.view[0].frame_of[DATA >> 12], (other >> 12) + 1);
    assert_true(s.view[0].writable[DATA >> 12]);
    assert_int_equal(s.view[0].win.base[DATA + 8], 0x99);
    assert_string_equal(host_perms(&s, SHADOW_SUPERVISOR, DATA), "rw-s");
    assert_int_equal(s.stats.fills, fills);
    assert_vma_bound(&s);

    /* the same entry with D cleared (the guest cleaning the page): the
     * mapping stays, read-only, so the next write sets D again */
    set_pte(&pm, 0, other | PTE_P | PTE_RW | PTE_A);
    shadow_invlpg(&s, &pc, DATA);
    assert_int_equal(s.stats.invlpg_kept, 1);
    assert_false(s.view[0].writable[DATA >> 12]);
    assert_string_equal(host_perms(&s, SHADOW_SUPERVISOR, DATA), "r--s");
    assert_int_equal(shadow_fill(&s, &pc, SHADOW_SUPERVISOR, DATA, true), SHADOW_MAPPED);
    assert_int_equal(get_pte(&pm, 0) & PTE_D, PTE_D);
    assert_string_equal(host_perms(&s, SHADOW_SUPERVISOR, DATA), "rw-s");
    assert_vma_bound(&s);
    shadow_destroy(&s);
    phys_destroy(&pm);
}

/*
 * INVLPG of a mapped page whose entry is not present now (Linux's fixmap
 * churn), or present but not yet used (A clear): the page is unmapped,
 * and the guest's entry is left as it was — the A bit is the guest's
 * access to set, not the INVLPG's.
 */
static void test_invlpg_unmaps_not_present_and_unused_entries(void **state)
{
    (void)state;
    phys_mem pm;
    shadow_space s;
    setup(&pm, &s, build_tables);
    setup_ptes(&pm, 2, PTE_P | PTE_RW | PTE_A | PTE_D);
    pg_control pc = { .cr0 = 0x80010001u, .cr3 = PD, .cr4 = 0 };
    assert_int_equal(shadow_fill(&s, &pc, SHADOW_SUPERVISOR, DATA, false), SHADOW_MAPPED);
    assert_int_equal(s.stats.fill_pages, 2);

    set_pte(&pm, 0, 0);
    shadow_invlpg(&s, &pc, DATA);
    assert_int_equal(s.view[0].frame_of[DATA >> 12], 0);
    assert_string_equal(host_perms(&s, SHADOW_SUPERVISOR, DATA), "---p");
    /* the neighbour is still mapped */
    assert_string_equal(host_perms(&s, SHADOW_SUPERVISOR, DATA + 0x1000), "rw-s");

    uint32_t unused = (48u << 20) | PTE_P | PTE_RW;
    set_pte(&pm, 1, unused);
    shadow_invlpg(&s, &pc, DATA + 0x1000);
    assert_int_equal(s.view[0].frame_of[(DATA >> 12) + 1], 0);
    assert_string_equal(host_perms(&s, SHADOW_SUPERVISOR, DATA + 0x1000), "---p");
    assert_int_equal(get_pte(&pm, 1), unused);
    assert_int_equal(s.stats.invlpg_drops, 2);
    assert_int_equal(s.stats.invlpg_replaced + s.stats.invlpg_kept, 0);
    assert_vma_bound(&s);
    /* an INVLPG of a page the window does not map maps nothing */
    set_pte(&pm, 0, (DATA + 0x100000) | PTE_P | PTE_RW | PTE_A | PTE_D);
    shadow_invlpg(&s, &pc, DATA);
    assert_int_equal(s.view[0].frame_of[DATA >> 12], 0);
    shadow_destroy(&s);
    phys_destroy(&pm);
}

/*
 * A page of a global fill that INVLPG dropped and a later fill mapped
 * non-global is non-global: a CR3 write must unmap it, though the global
 * fill it was part of stays (SDM Vol. 3A §4.10.4.1).  Before, the CR3
 * flush mapped it again with its global fill and then forgot it: the
 * host kept a mapping the shadow no longer knew, which the next INVLPG
 * could not drop.
 */
static void test_cr3_flush_drops_a_refilled_nonglobal_page_of_a_global_fill(void **state)
{
    (void)state;
    phys_mem pm;
    shadow_space s;
    setup(&pm, &s, build_tables);
    setup_ptes(&pm, 3, PTE_P | PTE_RW | PTE_A | PTE_D | PTE_G);
    pg_control pc = { .cr0 = 0x80010001u, .cr3 = PD, .cr4 = 0x80 /* PGE */ };
    assert_int_equal(shadow_fill(&s, &pc, SHADOW_SUPERVISOR, DATA, false), SHADOW_MAPPED);
    assert_int_equal(s.stats.fill_pages, 3); /* one global fill */

    set_pte(&pm, 1, (DATA + 0x101000) | PTE_P | PTE_RW); /* not global, not used yet */
    shadow_invlpg(&s, &pc, DATA + 0x1000);
    assert_int_equal(shadow_fill(&s, &pc, SHADOW_SUPERVISOR, DATA + 0x1000, false), SHADOW_MAPPED);
    assert_int_equal(s.view[0].frame_of[(DATA >> 12) + 1], ((DATA + 0x101000) >> 12) + 1);

    shadow_cr3_write(&s, &pc);
    assert_int_equal(s.view[0].frame_of[(DATA >> 12) + 1], 0);
    assert_string_equal(host_perms(&s, SHADOW_SUPERVISOR, DATA + 0x1000), "---p");
    assert_string_equal(host_perms(&s, SHADOW_SUPERVISOR, DATA), "rw-s");
    assert_string_equal(host_perms(&s, SHADOW_SUPERVISOR, DATA + 0x2000), "rw-s");
    assert_int_equal(s.view[0].frame_of[DATA >> 12], ((DATA + 0x100000) >> 12) + 1);
    assert_vma_bound(&s);
    shadow_destroy(&s);
    phys_destroy(&pm);
}

/*
 * The VMA count decides when the windows start over, before the host
 * refuses to map (vm.max_map_count): it must never fall below what the
 * host holds.  A CR3 write keeps a global 4 MiB fill whose code frames
 * split it into several VMAs; the count after it is the boundaries the
 * dropped pages leave, not a guess per kept fill (which fell short).
 */
static void test_vma_count_holds_across_a_cr3_write_keeping_split_globals(void **state)
{
    (void)state;
    phys_mem pm;
    shadow_space s;
    setup(&pm, &s, build_tables);
    const uint32_t big = 64u << 20;
    put32(&pm, PD + (big >> 22) * 4, big | PTE_P | PTE_RW | PTE_PS | PTE_A | PTE_D | PTE_G);
    for (uint32_t i = 1; i < 8; i++)
        phys_mark_code(&pm, big + i * 3 * 0x1000);
    setup_ptes(&pm, 4, PTE_P | PTE_RW | PTE_A | PTE_D);
    const uint32_t user = DATA + 0x800000, upt = PT0 + (user >> 22) * 0x1000;
    put32(&pm, PD + (user >> 22) * 4, upt | PTE_P | PTE_RW | PTE_US);
    put32(&pm, upt, user | PTE_P | PTE_RW | PTE_US);
    pg_control pc = { .cr0 = 0x80010001u, .cr3 = PD, .cr4 = 0x90 /* PSE, PGE */ };
    assert_int_equal(shadow_fill(&s, &pc, SHADOW_SUPERVISOR, big, false), SHADOW_MAPPED);
    assert_int_equal(shadow_fill(&s, &pc, SHADOW_SUPERVISOR, DATA, false), SHADOW_MAPPED);
    assert_int_equal(shadow_fill(&s, &pc, SHADOW_USER, user, false), SHADOW_MAPPED);
    assert_vma_bound(&s);
    shadow_cr3_write(&s, &pc);
    assert_int_equal(s.view[0].frame_of[DATA >> 12], 0);
    assert_int_equal(s.view[0].frame_of[big >> 12], (big >> 12) + 1);
    assert_vma_bound(&s);
    shadow_invlpg(&s, &pc, big + 0x5000); /* the whole 4 MiB fill goes */
    assert_int_equal(s.view[0].frame_of[big >> 12], 0);
    assert_vma_bound(&s);
    shadow_destroy(&s);
    phys_destroy(&pm);
}

/* Two user address spaces, A and B: page directories PD_A and PD_B, each
 * with one page table mapping USER_PAGES user pages at USER_LIN to frames
 * of its own (A's from FRAMES_A, B's from FRAMES_B), accessed, dirty. */
#define PD_A 0x100000u
#define PD_B 0x101000u
#define PT_A 0x102000u
#define PT_B 0x103000u
#define USER_LIN 0x08000000u
#define USER_PAGES 8u
#define FRAMES_A (40u << 20)
#define FRAMES_B (44u << 20)

static const pg_control space_a = { .cr0 = 0x80010001u, .cr3 = PD_A, .cr4 = 0 };
static const pg_control space_b = { .cr0 = 0x80010001u, .cr3 = PD_B, .cr4 = 0 };

static void build_spaces(phys_mem *pm)
{
    const uint32_t pdi = USER_LIN >> 22;
    put32(pm, PD_A + pdi * 4, PT_A | PTE_P | PTE_RW | PTE_US | PTE_A);
    put32(pm, PD_B + pdi * 4, PT_B | PTE_P | PTE_RW | PTE_US | PTE_A);
    for (uint32_t i = 0; i < USER_PAGES; i++) {
        const uint32_t bits = PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D;
        put32(pm, PT_A + i * 4, (FRAMES_A + i * 0x1000) | bits);
        put32(pm, PT_B + i * 4, (FRAMES_B + i * 0x1000) | bits);
        pm->ram[FRAMES_A + i * 0x1000] = (uint8_t)(0xa0 + i);
        pm->ram[FRAMES_B + i * 0x1000] = (uint8_t)(0xb0 + i);
    }
}

/*
 * Switching between two address spaces (a fork, a pipe) keeps each one's
 * user window: back in A, its pages are still mapped — no fill — once
 * checked against A's tables.  An entry A's kernel changed while B ran
 * is not kept as it was: a new frame is dropped (refilled on use), a
 * write right taken away write-protects the page, a cleared A bit drops
 * it (the next access must set A again, as after a TLB flush).
 */
static void test_user_window_is_kept_across_cr3_writes(void **state)
{
    (void)state;
    phys_mem pm;
    shadow_space s;
    setup(&pm, &s, build_spaces);
    const pg_control *a = &space_a, *b = &space_b;
    shadow_cr3_write(&s, a);
    assert_int_equal(shadow_fill(&s, a, SHADOW_USER, USER_LIN, true), SHADOW_MAPPED);
    shadow_view *va = shadow_view_of(&s, SHADOW_USER);
    assert_int_equal(va->win.base[USER_LIN + 0x3000], 0xa3); /* the batch took all 8 */
    shadow_cr3_write(&s, b);
    shadow_view *vb = shadow_view_of(&s, SHADOW_USER);
    assert_ptr_not_equal(va, vb);
    assert_int_equal(shadow_fill(&s, b, SHADOW_USER, USER_LIN, false), SHADOW_MAPPED);
    assert_int_equal(vb->win.base[USER_LIN + 0x3000], 0xb3);
    /* while B runs, A's kernel edits A's entries */
    put32(&pm, PT_A + 1 * 4, (FRAMES_B + 0x7000) | PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
    put32(&pm, PT_A + 2 * 4, (FRAMES_A + 0x2000) | PTE_P | PTE_US | PTE_A | PTE_D);
    put32(&pm, PT_A + 3 * 4, (FRAMES_A + 0x3000) | PTE_P | PTE_RW | PTE_US | PTE_D);
    uint64_t fills = s.stats.fills;
    shadow_cr3_write(&s, a);
    assert_ptr_equal(shadow_view_of(&s, SHADOW_USER), va);
    assert_int_equal(s.stats.spaces_kept, 1);
    const uint32_t p0 = USER_LIN >> 12;
    assert_int_equal(va->frame_of[p0], (FRAMES_A >> 12) + 1);        /* unchanged: kept */
    assert_true(va->writable[p0]);
    assert_int_equal(va->win.base[USER_LIN + 0x4000], 0xa4);
    assert_int_equal(va->frame_of[p0 + 1], 0);                      /* new frame: dropped */
    assert_int_equal(va->frame_of[p0 + 2], ((FRAMES_A + 0x2000) >> 12) + 1);
    assert_false(va->writable[p0 + 2]);                             /* write-protected */
    assert_string_equal(host_perms(&s, SHADOW_USER, USER_LIN + 0x2000), "r--s");
    assert_int_equal(va->frame_of[p0 + 3], 0);                      /* A cleared: dropped */
    assert_int_equal(s.stats.fills, fills);
    assert_int_equal(s.stats.checked_drops, 2);
    assert_int_equal(s.stats.checked_downgrades, 1);
    /* the dropped pages fill again from the new entries */
    assert_int_equal(shadow_fill(&s, a, SHADOW_USER, USER_LIN + 0x1000, false), SHADOW_MAPPED);
    assert_int_equal(va->win.base[USER_LIN + 0x1000], 0xb7);
    assert_vma_bound(&s);
    shadow_destroy(&s);
    phys_destroy(&pm);
}

/* More address spaces than windows: the least recently used one is
 * emptied for the new one; a page directory that comes back after that
 * starts empty. */
static void test_least_recent_user_window_is_emptied(void **state)
{
    (void)state;
    phys_mem pm;
    shadow_space s;
    setup(&pm, &s, build_spaces);
    const pg_control *a = &space_a;
    shadow_cr3_write(&s, a);
    assert_int_equal(shadow_fill(&s, a, SHADOW_USER, USER_LIN, false), SHADOW_MAPPED);
    const shadow_view *va = shadow_view_of(&s, SHADOW_USER);
    for (uint32_t i = 0; i < SHADOW_SPACES; i++) {
        /* other page directories: copies of B's */
        uint32_t pd = 0x200000u + i * 0x1000;
        put32(&pm, pd + (USER_LIN >> 22) * 4, PT_B | PTE_P | PTE_RW | PTE_US | PTE_A);
        pg_control o = { .cr0 = a->cr0, .cr3 = pd, .cr4 = 0 };
        shadow_cr3_write(&s, &o);
        assert_int_equal(shadow_fill(&s, &o, SHADOW_USER, USER_LIN, false), SHADOW_MAPPED);
    }
    assert_int_equal(s.stats.spaces_evicted, 1);
    assert_int_not_equal(va->frame_of[USER_LIN >> 12], (FRAMES_A >> 12) + 1); /* B's now */
    shadow_cr3_write(&s, a);
    assert_int_equal(s.stats.spaces_evicted, 2);
    assert_int_equal(shadow_view_of(&s, SHADOW_USER)->frame_of[USER_LIN >> 12], 0);
    assert_vma_bound(&s);
    shadow_destroy(&s);
    phys_destroy(&pm);
}

/* A frame becoming code is write-protected in the user windows of the
 * address spaces not running too: they come back without a fill. */
static void test_code_frame_is_protected_in_a_kept_window(void **state)
{
    (void)state;
    phys_mem pm;
    shadow_space s;
    setup(&pm, &s, build_spaces);
    const pg_control *a = &space_a, *b = &space_b;
    shadow_cr3_write(&s, a);
    assert_int_equal(shadow_fill(&s, a, SHADOW_USER, USER_LIN, true), SHADOW_MAPPED);
    shadow_view *va = shadow_view_of(&s, SHADOW_USER);
    assert_true(va->writable[USER_LIN >> 12]);
    shadow_cr3_write(&s, b);
    phys_mark_code(&pm, FRAMES_A);
    shadow_frame_became_code(&s, FRAMES_A);
    shadow_cr3_write(&s, a);
    assert_ptr_equal(shadow_view_of(&s, SHADOW_USER), va);
    assert_int_equal(va->frame_of[USER_LIN >> 12], (FRAMES_A >> 12) + 1);
    assert_false(va->writable[USER_LIN >> 12]);
    assert_string_equal(host_perms(&s, SHADOW_USER, USER_LIN), "r--s");
    assert_true(va->writable[(USER_LIN >> 12) + 1]);
    shadow_destroy(&s);
    phys_destroy(&pm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequential_fills_map_each_page_once),
        cmocka_unit_test(test_batched_fill_takes_used_neighbours_only),
        cmocka_unit_test(test_cr3_flush_keeps_globals_inside_the_span),
        cmocka_unit_test(test_write_to_former_code_page_upgrades_it),
        cmocka_unit_test(test_first_write_to_large_page_upgrades_between_code_frames),
        cmocka_unit_test(test_invlpg_after_pte_change_maps_the_new_frame),
        cmocka_unit_test(test_invlpg_unmaps_not_present_and_unused_entries),
        cmocka_unit_test(test_cr3_flush_drops_a_refilled_nonglobal_page_of_a_global_fill),
        cmocka_unit_test(test_vma_count_holds_across_a_cr3_write_keeping_split_globals),
        cmocka_unit_test(test_user_window_is_kept_across_cr3_writes),
        cmocka_unit_test(test_least_recent_user_window_is_emptied),
        cmocka_unit_test(test_code_frame_is_protected_in_a_kept_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
