/*
 * Segment-register loads (seg.c) and direct far transfers (far.c): the
 * null-selector rules, #GP/#SS/#NP with the selector as error code, the
 * RPL/DPL/CPL rules for data and stack segments, the accessed bit, the
 * MOV SS interrupt shadow, real-mode loads, expand-down stacks, and far
 * JMP/CALL/RET between 32- and 16-bit code.
 */
#include "sys_test.h"

static void expect(const char *src, int vector, long err)
{
    harness *h = sys_new();
    sys_desc(h, 0x40, 0, 0xfffff, 0x12, FLG_32);               /* data, not present */
    sys_desc(h, 0x48, 0, 0xfffff, 0x90, FLG_32);               /* data, read-only */
    sys_desc(h, 0x50, 0, 0xfffff, 0x98, FLG_32);               /* code, execute-only */
    sys_desc(h, 0x58, 0, 0xfffff, 0x1a, FLG_32);               /* code, not present */
    sys_desc(h, 0x60, 0, 0xfffff, ACC_CODE | ACC_DPL(3), FLG_32);
    sys_expect(h, src, vector, err);
    harness_free(h);
}

static void test_null_selectors(void **state)
{
    (void)state;
    /* DS may hold null; using it is #GP(0). */
    expect("xor eax, eax\nmov ds, ax\nmov es, ax\nfault: mov eax, [0x1000]", 13, 0);
    /* SS may not. */
    expect("xor eax, eax\nfault: mov ss, ax", 13, 0);
    /* Null with RPL 3 is still null. */
    expect("mov eax, 3\nmov fs, ax\nfault: mov eax, [fs:0]", 13, 0);
}

static void test_data_segment_checks(void **state)
{
    (void)state;
    expect("mov ax, 0x80\nfault: mov ds, ax", 13, 0x80);          /* beyond the GDT */
    expect("mov ax, 0x40\nfault: mov ds, ax", 11, 0x40);          /* not present */
    expect("mov ax, 0x50\nfault: mov es, ax", 13, 0x50);          /* execute-only code */
    expect("mov ax, 0x38\nfault: mov gs, ax", 13, 0x38);          /* system (TSS) */
    expect("mov ax, 0x13\nfault: mov ds, ax", 13, 0x10);          /* RPL 3 > DPL 0 */
    expect("mov ax, 0x48\nmov ds, ax\nfault: mov [0], eax", 13, 0); /* write to read-only */
    /* Readable code is a valid data segment; reads work, writes fault. */
    expect("mov ax, 0x08\nmov ds, ax\nmov eax, [0x10000]\nfault: mov [0x7000], eax", 13, 0);
}

static void test_stack_segment_checks(void **state)
{
    (void)state;
    expect("mov ax, 0x40\nfault: mov ss, ax", 12, 0x40);          /* not present: #SS */
    expect("mov ax, 0x48\nfault: mov ss, ax", 13, 0x48);          /* read-only */
    expect("mov ax, 0x33\nfault: mov ss, ax", 13, 0x30);          /* RPL != CPL */
    expect("mov ax, 0x30\nfault: mov ss, ax", 13, 0x30);          /* DPL != CPL */
    expect("mov ax, 0x08\nfault: mov ss, ax", 13, 0x08);          /* code */
}

/* At CPL 3 a DPL-0 data segment is out of reach. */
static void test_cpl3_loads(void **state)
{
    (void)state;
    expect("mov ax, 0x33\nmov ds, ax\npush dword 0x33\npush dword 0x7f000\npush dword 2\n"
           "push dword 0x2b\npush dword user\niretd\n"
           "user:\nmov ax, 0x33\nmov es, ax\nmov ax, 0x13\nfault: mov es, ax", 13, 0x10);
}

static void test_accessed_bit_and_shadow(void **state)
{
    (void)state;
    harness *h = sys_new();
    sys_desc(h, 0x40, 0x20000, 0xffff, 0x92 & ~1, 0);    /* accessed bit clear */
    sys_poke32(h, 0x20010, 0xcafe);
    harness_asm(h, "mov ax, 0x40\nmov ds, ax\nmov ebx, [0x10]\nmov ax, 0x10\nmov ss, ax\nnop\nhlt");
    cpu_exec(&h->cpu, 3);
    assert_true(sys_get64(h, SYS_GDT + 0x40) & (1ull << 40));
    assert_int_equal(h->cpu.seg[S_DS].base, 0x20000);
    assert_int_equal(h->cpu.regs[R_EBX], 0xcafe);
    cpu_exec(&h->cpu, 2);
    assert_true(h->cpu.inhibit_irq); /* right after MOV SS */
    cpu_exec(&h->cpu, 1);
    assert_false(h->cpu.inhibit_irq);
    harness_free(h);
}

static void test_real_mode_loads(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_REAL16);
    harness_asm(h, "mov ax, 0x1234\nmov ds, ax\nmov es, ax\nmov ss, ax\nhlt");
    assert_int_equal(harness_run(h, 100), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.seg[S_DS].base, 0x12340);
    assert_int_equal(h->cpu.seg[S_SS].base, 0x12340);
    assert_int_equal(h->cpu.seg[S_ES].selector, 0x1234);
    harness_free(h);
}

/* An expand-down 16-bit stack: offsets above the limit are valid.  At CPL 3,
 * so that the #SS is delivered on the ring-0 stack. */
static void test_expand_down_stack(void **state)
{
    (void)state;
    harness *h = sys_new();
    sys_desc(h, 0x40, 0x40000, 0x0fff, 0xf6, 0);          /* DPL 3, expand-down, limit 0xfff */
    sys_expect(h, "mov ax, 0x33\nmov ds, ax\npush dword 0x33\npush dword 0x7f000\npush dword 2\n"
                  "push dword 0x2b\npush dword user\niretd\n"
                  "user:\nmov ax, 0x43\nmov ss, ax\nmov esp, 0x1004\npush ax\nfault: push eax",
               12, 0);
    assert_int_equal(sys_stack(h, 4) & 0xffff, 0x1002); /* the user SP in the frame */
    harness_free(h);
}

/* Far JMP to a 16-bit segment and back, far CALL/RET between them. */
static void test_far_jmp_call_16_32(void **state)
{
    (void)state;
    harness *h = sys_new();
    sys_desc(h, 0x40, HARNESS_CODE, 0xffff, ACC_CODE, 0);    /* 16-bit code at the test code */
    harness_asm(h, "jmp 0x40:code16-0x10000\n"
                   "back32:\nmov esi, 0x32\ncall 0x40:func16-0x10000\nmov edi, eax\nhlt\n"
                   "bits 16\ncode16:\nmov ebx, 0x16\njmp dword 0x08:back32\n"
                   "func16:\nmov eax, 0x99\no32 retf\n");
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.regs[R_EBX], 0x16);
    assert_int_equal(h->cpu.regs[R_ESI], 0x32);
    assert_int_equal(h->cpu.regs[R_EDI], 0x99);
    assert_int_equal(h->cpu.seg[S_CS].selector, SEL_CODE0);
    assert_true(h->cpu.code32);
    assert_int_equal(h->cpu.regs[R_ESP], HARNESS_STACK);
    harness_free(h);
}

static void test_far_transfer_checks(void **state)
{
    (void)state;
    expect("fault: jmp 0x60:0", 13, 0x60);          /* non-conforming DPL 3 from CPL 0 */
    expect("fault: jmp 0x10:0", 13, 0x10);          /* data */
    expect("fault: jmp 0x58:0", 11, 0x58);          /* not present */
    expect("fault: jmp 0:0", 13, 0);                /* null */
}

/* Limits and returns. */
static void test_far_limit(void **state)
{
    (void)state;
    harness *h = sys_new();
    sys_desc(h, 0x40, 0, 0xffff, ACC_CODE, 0x4);    /* 32-bit, limit 64 KiB */
    sys_expect(h, "fault: jmp 0x40:0x10000", 13, 0);
    harness_free(h);
    /* RETF to an outer level with an invalid SS: #GP(SS selector). */
    h = sys_new();
    sys_expect(h, "push dword 0x13\npush dword 0x7f000\npush dword 0x2b\npush dword 0\n"
                  "fault: retf", 13, 0x10);
    harness_free(h);
    /* RETF to a more privileged level: #GP(CS selector). */
    h = sys_new();
    sys_expect(h, "mov ax, 0x33\nmov ds, ax\npush dword 0x33\npush dword 0x7f000\npush dword 2\n"
                  "push dword 0x2b\npush dword user\niretd\n"
                  "user:\npush dword 0x08\npush dword 0\nfault: retf", 13, 0x08);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_selectors),
        cmocka_unit_test(test_data_segment_checks),
        cmocka_unit_test(test_stack_segment_checks),
        cmocka_unit_test(test_cpl3_loads),
        cmocka_unit_test(test_accessed_bit_and_shadow),
        cmocka_unit_test(test_real_mode_loads),
        cmocka_unit_test(test_expand_down_stack),
        cmocka_unit_test(test_far_jmp_call_16_32),
        cmocka_unit_test(test_far_transfer_checks),
        cmocka_unit_test(test_far_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
