/*
 * branch.c: JMP/CALL/RET near in their relative, register and memory
 * forms, every Jcc condition, JCXZ/JECXZ, LOOP/LOOPE/LOOPNE with both
 * count sizes, 16-bit target wrap, and #GP for targets beyond CS.limit
 * (captured through the real-mode IVT).
 */
#include "insn_test.h"
#include "sys_test.h"

/* One Jcc per condition: flags in, taken or not. */
typedef struct jcc_case {
    const char *mn;
    uint32_t flags;
    bool taken;
} jcc_case;

static const jcc_case jcc_cases[] = {
    { "jo", FL_OF, true }, { "jo", 0, false }, { "jno", 0, true }, { "jno", FL_OF, false },
    { "jb", FL_CF, true }, { "jb", 0, false }, { "jae", 0, true }, { "jae", FL_CF, false },
    { "jz", FL_ZF, true }, { "jz", 0, false }, { "jnz", 0, true }, { "jnz", FL_ZF, false },
    { "jbe", FL_CF, true }, { "jbe", FL_ZF, true }, { "jbe", 0, false },
    { "ja", 0, true }, { "ja", FL_CF, false }, { "ja", FL_ZF, false },
    { "js", FL_SF, true }, { "js", 0, false }, { "jns", 0, true }, { "jns", FL_SF, false },
    { "jp", FL_PF, true }, { "jp", 0, false }, { "jnp", 0, true }, { "jnp", FL_PF, false },
    { "jl", FL_SF, true }, { "jl", FL_OF, true }, { "jl", FL_SF | FL_OF, false }, { "jl", 0, false },
    { "jge", FL_SF | FL_OF, true }, { "jge", 0, true }, { "jge", FL_SF, false },
    { "jle", FL_ZF, true }, { "jle", FL_SF, true }, { "jle", 0, false }, { "jle", FL_SF | FL_OF, false },
    { "jg", 0, true }, { "jg", FL_SF | FL_OF, true }, { "jg", FL_ZF, false }, { "jg", FL_OF, false },
};

static void run_jcc(enum harness_mode mode, const char *form)
{
    for (size_t i = 0; i < sizeof(jcc_cases) / sizeof(jcc_cases[0]); i++) {
        const jcc_case *c = &jcc_cases[i];
        char src[256];
        snprintf(src, sizeof(src), "mov eax,0\n%s %s t\nmov eax,2\nhlt\nt: mov eax,1\nhlt", c->mn, form);
        harness *h = run_snippet(mode, c->flags, src);
        if (h->cpu.regs[R_EAX] != (c->taken ? 1u : 2u))
            fail_msg("%s %s with flags %03x: taken %d", c->mn, form, c->flags, h->cpu.regs[R_EAX] == 1);
        harness_free(h);
    }
}

static void test_jcc(void **state)
{
    (void)state;
    run_jcc(HARNESS_FLAT32, "short");
    run_jcc(HARNESS_FLAT32, "near");
    run_jcc(HARNESS_REAL16, "short");
    run_jcc(HARNESS_REAL16, "near");
}

static void expect_regs(enum harness_mode mode, const char *src, uint32_t eax, uint32_t esp)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s\nhlt", src);
    harness *h = run_snippet(mode, 0, buf);
    if (h->cpu.regs[R_EAX] != eax || h->cpu.regs[R_ESP] != esp)
        fail_msg("eax %08x want %08x, esp %08x want %08x in:\n%s", h->cpu.regs[R_EAX], eax,
                 h->cpu.regs[R_ESP], esp, src);
    harness_free(h);
}

static void test_jmp_call_ret(void **state)
{
    (void)state;
    const uint32_t sp32 = HARNESS_STACK, sp16 = 0xfff0;
    expect_regs(HARNESS_FLAT32, "jmp short a\nhlt\na: jmp near b\nhlt\nb: mov eax,3", 3, sp32);
    expect_regs(HARNESS_FLAT32, "call f\nadd eax,1\njmp e\nf: mov eax,5\nret\ne:", 6, sp32);
    expect_regs(HARNESS_FLAT32, "push 1\npush 2\ncall f\njmp e\nf: mov eax,[esp+4]\nret 8\ne:", 2, sp32);
    expect_regs(HARNESS_FLAT32, "mov ebx,f\ncall ebx\njmp e\nf: mov eax,7\nret\ne:", 7, sp32);
    expect_regs(HARNESS_FLAT32, "mov dword [0x20000],f\ncall [0x20000]\njmp e\nf: mov eax,8\nret\ne:", 8, sp32);
    expect_regs(HARNESS_FLAT32, "mov dword [0x20000],e\nmov eax,9\njmp [0x20000]\nmov eax,0\ne:", 9, sp32);
    expect_regs(HARNESS_FLAT32, "call f\nf: pop eax", HARNESS_CODE + 5, sp32);
    expect_regs(HARNESS_REAL16, "call f\njmp e\nf: movzx eax,word [esp]\nret\ne:", 3, sp16);
    expect_regs(HARNESS_REAL16, "mov bx,f\ncall bx\njmp e\nf: mov eax,0x11\nret\ne:", 0x11, sp16);
    expect_regs(HARNESS_REAL16, "push 1\ncall f\njmp e\nf: mov eax,0x12\nret 2\ne:", 0x12, sp16);
}

static void test_loop(void **state)
{
    (void)state;
    harness *h = run_snippet(HARNESS_FLAT32, 0, "mov ecx,5\nmov eax,0\nl: inc eax\nloop l\nhlt");
    assert_int_equal(h->cpu.regs[R_EAX], 5);
    assert_int_equal(h->cpu.regs[R_ECX], 0);
    harness_free(h);

    /* CX counts with a 16-bit address size; ECX's upper half stays */
    h = run_snippet(HARNESS_FLAT32, 0, "mov ecx,0x10003\nmov eax,0\nl: inc eax\nloop l,cx\nhlt");
    assert_int_equal(h->cpu.regs[R_EAX], 3);
    assert_int_equal(h->cpu.regs[R_ECX], 0x10000);
    harness_free(h);

    /* LOOP with ECX = 0 runs 2^32 times in hardware; here the count wraps to
     * FFFFFFFF and the first branch is taken */
    h = run_snippet(HARNESS_FLAT32, 0, "mov ecx,0\nloop t\nmov eax,0\nhlt\nt: mov eax,1\nhlt");
    assert_int_equal(h->cpu.regs[R_EAX], 1);
    assert_int_equal(h->cpu.regs[R_ECX], 0xffffffff);
    harness_free(h);

    h = run_snippet(HARNESS_FLAT32, 0, "mov ecx,10\nmov eax,0\nl: inc eax\ncmp eax,3\nloopne l\nhlt");
    assert_int_equal(h->cpu.regs[R_EAX], 3);
    assert_int_equal(h->cpu.regs[R_ECX], 7);
    harness_free(h);

    h = run_snippet(HARNESS_FLAT32, 0, "mov ecx,10\nmov eax,0\nl: inc eax\ncmp eax,1\nloope l\nhlt");
    assert_int_equal(h->cpu.regs[R_EAX], 2);
    assert_int_equal(h->cpu.regs[R_ECX], 8);
    harness_free(h);

    h = run_snippet(HARNESS_REAL16, 0, "mov cx,4\nmov ax,0\nl: add ax,2\nloop l\nhlt");
    assert_int_equal(h->cpu.regs[R_EAX] & 0xffff, 8);
    harness_free(h);

    /* LOOP leaves the flags alone */
    h = run_snippet(HARNESS_FLAT32, FL_ZF | FL_CF, "mov ecx,1\nloop $\nhlt");
    assert_int_equal(h->cpu.eflags & (FL_ZF | FL_CF), FL_ZF | FL_CF);
    harness_free(h);
}

static void test_jcxz(void **state)
{
    (void)state;
    harness *h = run_snippet(HARNESS_FLAT32, 0,
                             "mov eax,0\nmov ecx,0x10000\njecxz t1\nadd eax,1\n"
                             "t1: jcxz t2\nadd eax,2\nt2: hlt");
    assert_int_equal(h->cpu.regs[R_EAX], 1);
    harness_free(h);
    h = run_snippet(HARNESS_REAL16, 0,
                    "mov eax,0\nmov ecx,0x10000\njcxz t1\nadd eax,1\nt1: jecxz t2\nadd eax,2\nt2: hlt");
    assert_int_equal(h->cpu.regs[R_EAX], 2);
    harness_free(h);
}

/* A 16-bit relative branch wraps within the segment: from IP 3, a
 * displacement of -19 lands at FFF0. */
static void test_wrap16(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_REAL16);
    harness_asm(h, "jmp word 0xfff0");
    uint8_t hlt = 0xf4;
    harness_poke(h, HARNESS_CODE + 0xfff0, &hlt, 1);
    run_to_hlt(h, 10);
    assert_int_equal(h->cpu.eip, 0xfff0);
    harness_free(h);
}

/* Targets beyond the CS limit (FFFF in real mode) raise #GP(0) at the
 * branch, before the call pushes anything. */
static void test_limit(void **state)
{
    (void)state;
    rm_expect_fault("fault_at: jmp dword 0x10000", EXC_GP);
    rm_expect_fault("fault_at: call dword 0x10000", EXC_GP);
    rm_expect_fault("mov eax,0x12345\nfault_at: jmp eax", EXC_GP);
    rm_expect_fault("push dword 0x10000\nfault_at: o32 ret", EXC_GP);
    rm_expect_fault("stc\nfault_at: jc near dword 0x20000", EXC_GP);
    rm_expect_fault("clc\nfault_at: jc near dword 0x20000", -1);
    rm_expect_fault("mov ax,fault_at+2\nfault_at: jmp ax\nhlt", -1);

    /* the faulting CALL pushed nothing */
    harness *h = rm_fault_run("mov ecx,5\nmov sp,0x200\nfault_at: call dword 0x10000");
    assert_int_equal(peek16(h, RM_FAULT_VECTOR), EXC_GP);
    /* the #GP frame sits right below 0x200: IP at 0x1fa */
    assert_int_equal(peek16(h, HARNESS_STACK + 0x1fa), peek16(h, RM_FAULT_AT));
    harness_free(h);
}

/* Protected mode: a 16-bit code segment at 0x10000 with a 4 KiB limit;
 * a near JMP past the limit raises #GP(0) with IP at the JMP. */
static void test_limit_pm(void **state)
{
    (void)state;
    harness *h = sys_new();
    sys_desc(h, 0x40, HARNESS_CODE, 0xfff, ACC_CODE, 0);
    harness_asm(h, "mov dword [0x7ff4], here - 0x10000\njmp 0x40:(c16 - 0x10000)\n"
                   "bits 16\nc16: mov ax, 1\nhere: db 0xe9\ndw 0x1000\n");
    sys_run(h);
    assert_int_equal(sys_vector(h), EXC_GP);
    assert_int_equal(sys_stack(h, 0), 0);                        /* error code */
    assert_int_equal(sys_stack(h, 1), harness_peek32(h, 0x7ff4)); /* IP of the JMP */
    assert_int_equal(sys_stack(h, 2), 0x40);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jcc),
        cmocka_unit_test(test_jmp_call_ret),
        cmocka_unit_test(test_loop),
        cmocka_unit_test(test_jcxz),
        cmocka_unit_test(test_wrap16),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_limit_pm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
