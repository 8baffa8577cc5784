/*
 * Shadow paging (mmu/shadow.c) without a CPU: fills driven by hand, as
 * the translator's fault handler drives them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
    assert_int_equal(phys_init(&pm, RAM), 0);
    build_tables(&pm);
    shadow_space s;
    assert_int_equal(shadow_init(&s, &pm), 0);
    pg_control pc = { .cr0 = 0x80000001u, .cr3 = PD, .cr4 = 0 };
    for (uint32_t p = 0; p < DATA_PAGES; p++) {
        uint32_t lin = DATA + p * 0x1000;
        assert_int_equal(shadow_fill(&s, &pc, SHADOW_SUPERVISOR, lin, true), SHADOW_MAPPED);
        /* the mapping is the guest's frame, writable */
        s.win[SHADOW_SUPERVISOR].base[lin + 8] = (uint8_t)p;
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
    assert_int_equal(phys_init(&pm, RAM), 0);
    build_tables(&pm);
    uint32_t pt = PT0 + (DATA >> 22) * 0x1000;
    for (uint32_t i = 0; i < 8; i++) /* pages 0..7 of DATA's table used and dirty */
        put32(&pm, pt + i * 4, ((DATA >> 12) + i) << 12 | PTE_P | PTE_RW | PTE_A | PTE_D);
    shadow_space s;
    assert_int_equal(shadow_init(&s, &pm), 0);
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
    assert_int_equal(phys_init(&pm, RAM), 0);
    build_tables(&pm);
    uint32_t pt = PT0 + (DATA >> 22) * 0x1000;
    /* pages 0 and 2 non-global, page 1 global, between them */
    for (uint32_t i = 0; i < 3; i++)
        put32(&pm, pt + i * 4, ((DATA >> 12) + 100 + i) << 12 | PTE_P | PTE_RW | (i == 1 ? PTE_G : 0));
    pm.ram[((DATA >> 12) + 101) * 0x1000 + 5] = 0x5a;
    shadow_space s;
    assert_int_equal(shadow_init(&s, &pm), 0);
    pg_control pc = { .cr0 = 0x80000001u, .cr3 = PD, .cr4 = 0x80 /* PGE */ };
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(shadow_fill(&s, &pc, SHADOW_SUPERVISOR, DATA + i * 0x1000, false),
                         SHADOW_MAPPED);
    assert_false(s.user_filled);
    shadow_flush_nonglobal(&s);
    uint32_t *frame_of = s.frame_of[SHADOW_SUPERVISOR];
    assert_int_equal(frame_of[DATA >> 12], 0);
    assert_int_equal(frame_of[(DATA >> 12) + 2], 0);
    assert_int_equal(frame_of[(DATA >> 12) + 1], (DATA >> 12) + 101 + 1);
    /* still mapped, to its frame */
    assert_int_equal(s.win[SHADOW_SUPERVISOR].base[DATA + 0x1000 + 5], 0x5a);
    assert_int_equal(s.stats.kept_global, 1);
    shadow_destroy(&s);
    phys_destroy(&pm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequential_fills_map_each_page_once),
        cmocka_unit_test(test_batched_fill_takes_used_neighbours_only),
        cmocka_unit_test(test_cr3_flush_keeps_globals_inside_the_span),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
