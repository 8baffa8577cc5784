/*
 * Paging as the CPU sees it (mmu/paging.c walked through cpu/mem.c's TLB,
 * with cr.c's flushes): 4 KiB and 4 MiB pages, accessed and dirty bits,
 * CR0.WP, user/supervisor protection, #PF error codes and CR2, INVLPG,
 * CR3 reloads and global pages.
 *
 * Tables built here: page directory at 0x100000; PDE 0 -> page table at
 * 0x101000 identity-mapping 0-4 MiB as user read/write pages, except
 *   0x200000  not present
 *   0x201000  user, read-only
 *   0x202000  supervisor only
 *   0x203000  -> physical 0x300000 (an alias)
 * PDE 1 maps 4-8 MiB with one 4 MiB page at physical 8 MiB (with PSE).
 */
#include "sys_test.h"

#include "mmu/paging.h"

#define PD 0x100000u
#define PT 0x101000u

#define PAGING_ON "mov eax, 0x100000\nmov cr3, eax\nmov eax, cr0\nor eax, 0x80000000\nmov cr0, eax\n"
#define TO_USER                                                             \
    "mov ax, 0x33\nmov ds, ax\nmov es, ax\n"                                \
    "push dword 0x33\npush dword 0x7f000\npush dword 2\n"                   \
    "push dword 0x2b\npush dword user\niretd\nuser:\n"

static uint32_t pte(harness *h, uint32_t lin)
{
    return harness_peek32(h, PT + (lin >> 12) * 4);
}

static void set_pte(harness *h, uint32_t lin, uint32_t v)
{
    sys_poke32(h, PT + (lin >> 12) * 4, v);
}

static harness *paging_env(void)
{
    harness *h = sys_new();
    static uint32_t table[1024];
    for (uint32_t i = 0; i < 1024; i++)
        table[i] = (i << 12) | PTE_P | PTE_RW | PTE_US;
    table[0x200] = 0;
    table[0x201] = 0x201000 | PTE_P | PTE_US;
    table[0x202] = 0x202000 | PTE_P | PTE_RW;
    table[0x203] = 0x300000 | PTE_P | PTE_RW | PTE_US;
    harness_poke(h, PT, table, sizeof(table));
    static const uint32_t zero[1024];
    harness_poke(h, PD, zero, sizeof(zero));
    sys_poke32(h, PD, PT | PTE_P | PTE_RW | PTE_US);
    sys_poke32(h, PD + 4, 0x800000 | PTE_P | PTE_RW | PTE_US | PTE_PS);
    sys_poke32(h, 0x300010, 0x11111111);
    sys_poke32(h, 0x304010, 0x22222222);
    sys_poke32(h, 0x800010, 0x44444444);
    return h;
}

static void test_4k_translation_and_ad_bits(void **state)
{
    (void)state;
    harness *h = paging_env();
    harness_asm(h, PAGING_ON "mov ebx, [0x203010]\nhlt\nmov [0x203020], ebx\nhlt");
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.regs[R_EBX], 0x11111111);
    assert_true(pte(h, 0x203000) & PTE_A);
    assert_false(pte(h, 0x203000) & PTE_D);
    assert_true(harness_peek32(h, PD) & PTE_A);
    h->cpu.run_state = CPU_RUNNING;
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    assert_true(pte(h, 0x203000) & PTE_D);       /* the first write set D */
    assert_int_equal(harness_peek32(h, 0x300020), 0x11111111);
    harness_free(h);
}

static void test_4m_page(void **state)
{
    (void)state;
    harness *h = paging_env();
    harness_asm(h, "mov eax, 0x10\nmov cr4, eax\n" PAGING_ON
                   "mov ebx, [0x400010]\nmov [0x7ffffc], ebx\nhlt");
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.regs[R_EBX], 0x44444444);
    assert_int_equal(harness_peek32(h, 0xbffffc), 0x44444444);
    assert_int_equal(harness_peek32(h, PD + 4) & (PTE_A | PTE_D), PTE_A | PTE_D);
    harness_free(h);

    /* Reserved bits 13-21 of a 4 MiB PDE: #PF with RSVD. */
    h = paging_env();
    sys_poke32(h, PD + 4, 0x800000 | 0x2000 | PTE_P | PTE_RW | PTE_PS);
    sys_expect(h, "mov eax, 0x10\nmov cr4, eax\n" PAGING_ON "fault: mov ebx, [0x400010]", 14,
               PFEC_P | PFEC_RSVD);
    assert_int_equal(h->cpu.cr2, 0x400010);
    harness_free(h);
}

static void test_not_present(void **state)
{
    (void)state;
    harness *h = paging_env();
    sys_expect(h, PAGING_ON "fault: mov ebx, [0x200004]", 14, 0);
    assert_int_equal(h->cpu.cr2, 0x200004);
    harness_free(h);
    h = paging_env();
    sys_expect(h, PAGING_ON "fault: mov [0x200ffe], eax", 14, PFEC_W);
    assert_int_equal(h->cpu.cr2, 0x200ffe);
    harness_free(h);
    /* A dword straddling into a not-present page faults on the second page,
     * and nothing is written to the first. */
    h = paging_env();
    sys_poke32(h, 0x1fffc, 0);
    sys_expect(h, PAGING_ON "mov eax, -1\nfault: mov [0x1ffffe], eax", 14, PFEC_W);
    assert_int_equal(h->cpu.cr2, 0x200000);
    assert_int_equal(harness_peek32(h, 0x1ffffc), 0);
    harness_free(h);
}

static void test_write_protect(void **state)
{
    (void)state;
    /* CR0.WP=0: the supervisor writes to a read-only page. */
    harness *h = paging_env();
    harness_asm(h, PAGING_ON "mov dword [0x201000], 0x5a5a\nhlt");
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    assert_int_equal(harness_peek32(h, 0x201000), 0x5a5a);
    harness_free(h);
    /* CR0.WP=1: it cannot. */
    h = paging_env();
    sys_expect(h, PAGING_ON "mov eax, cr0\nor eax, 0x10000\nmov cr0, eax\n"
                  "fault: mov dword [0x201000], 0x5a5a", 14, PFEC_P | PFEC_W);
    assert_int_equal(h->cpu.cr2, 0x201000);
    harness_free(h);
    /* Turning WP on after a write through the TLB still takes effect. */
    h = paging_env();
    sys_expect(h, PAGING_ON "mov dword [0x201000], 1\nmov eax, cr0\nor eax, 0x10000\n"
                  "mov cr0, eax\nfault: mov dword [0x201000], 2", 14, PFEC_P | PFEC_W);
    harness_free(h);
}

static void test_user_supervisor(void **state)
{
    (void)state;
    harness *h = paging_env();
    sys_expect(h, PAGING_ON TO_USER "mov eax, [0x201000]\nfault: mov ebx, [0x202008]", 14,
               PFEC_P | PFEC_U);
    assert_int_equal(h->cpu.cr2, 0x202008);
    assert_int_equal(sys_stack(h, 2), SEL_CODE3);
    harness_free(h);
    h = paging_env();
    sys_expect(h, PAGING_ON TO_USER "fault: mov [0x201000], eax", 14, PFEC_P | PFEC_W | PFEC_U);
    harness_free(h);
    h = paging_env();
    sys_expect(h, PAGING_ON TO_USER "fault: mov [0x200000], eax", 14, PFEC_W | PFEC_U);
    harness_free(h);
}

/* INVLPG and MOV CR3 make a changed PTE visible; a global page survives a
 * CR3 reload (while CR4.PGE is set) but not INVLPG. */
static void test_tlb_invalidation(void **state)
{
    (void)state;
    harness *h = paging_env();
    harness_asm(h, PAGING_ON "mov eax, [0x203010]\n"
                   "mov dword [0x101000 + 0x203*4], 0x304007\ninvlpg [0x203000]\n"
                   "mov ebx, [0x203010]\n"
                   "mov dword [0x101000 + 0x203*4], 0x300007\nmov eax, cr3\nmov cr3, eax\n"
                   "mov ecx, [0x203010]\nhlt");
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.regs[R_EBX], 0x22222222);
    assert_int_equal(h->cpu.regs[R_ECX], 0x11111111);
    harness_free(h);

    h = paging_env();
    set_pte(h, 0x203000, 0x300000 | PTE_P | PTE_RW | PTE_US | PTE_G);
    harness_asm(h, "mov eax, 0x80\nmov cr4, eax\n" PAGING_ON "mov eax, [0x203010]\n"
                   "mov dword [0x101000 + 0x203*4], 0x304107\nmov eax, cr3\nmov cr3, eax\n"
                   "mov ebx, [0x203010]\ninvlpg [0x203000]\nmov ecx, [0x203010]\nhlt");
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.regs[R_EBX], 0x11111111); /* global: kept across CR3 */
    assert_int_equal(h->cpu.regs[R_ECX], 0x22222222);
    harness_free(h);
}

/* #PF while delivering a #GP through an IDT that is not mapped: the #PF is
 * delivered (benign order), through... the same unmapped IDT, so #DF, and
 * then shutdown.  With the IDT mapped but the handler's stack page absent
 * the #PF itself becomes a #DF (page fault after page fault). */
static void test_fault_during_delivery(void **state)
{
    (void)state;
    harness *h = paging_env();
    set_pte(h, SYS_IDT, 0);
    harness_asm(h, PAGING_ON "mov ax, 0x1000\nmov ds, ax\nhlt");
    assert_int_equal(harness_run(h, 1000), CPU_EXIT_SHUTDOWN);
    harness_free(h);

    /* The ring-0 stack page is absent: a user #PF cannot be delivered: #DF
     * (whose delivery needs the same stack: shutdown).  Use a task gate
     * for #DF to see it. */
    h = paging_env();
    sys_tss32(h, 0x6000, SEL_DATA0, 0x50000);
    sys_poke32(h, 0x6000 + 0x1c, PD);
    sys_poke32(h, 0x6000 + 0x20, SYS_STUBS + 8 * 16);
    sys_poke32(h, 0x6000 + 0x24, 2);
    sys_poke32(h, 0x6000 + 0x38, 0x50000);
    sys_poke32(h, 0x6000 + 0x4c, SEL_CODE0);
    sys_poke32(h, 0x6000 + 0x50, SEL_DATA0);
    sys_desc(h, 0x48, 0x6000, 0x67, 0x89, 0);
    sys_put64(h, SYS_IDT + 8 * 8, sys_make_gate(0x48, 0, 5, 0, 0));
    set_pte(h, SYS_ESP0 - 4, 0);
    harness_asm(h, PAGING_ON TO_USER "mov eax, [0x200000]\nhlt");
    sys_run(h);
    assert_int_equal(sys_vector(h), 8);
    assert_int_equal(h->cpu.seg[S_TR].selector, 0x48);
    assert_int_equal(h->cpu.regs[R_ESP], 0x50000 - 4);
    assert_int_equal(sys_stack(h, 0), 0);            /* #DF error code */
    assert_int_equal(h->cpu.cr2, SYS_ESP0 - 4);      /* the second #PF's address */
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_4k_translation_and_ad_bits),
        cmocka_unit_test(test_4m_page),
        cmocka_unit_test(test_not_present),
        cmocka_unit_test(test_write_protect),
        cmocka_unit_test(test_user_supervisor),
        cmocka_unit_test(test_tlb_invalidation),
        cmocka_unit_test(test_fault_during_delivery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
