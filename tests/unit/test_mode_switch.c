/*
 * Entering protected mode: between setting CR0.PE and the far jump that
 * loads CS, CPL stays 0 even though CS still holds a real-mode paragraph
 * (SDM Vol. 3A §9.9.1).  Loading SS in that window must not take CPL
 * from the paragraph's low bits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"

static void test_ss_load_before_far_jump_keeps_cpl0(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_REAL16);
    harness_asm(h,
                "    jmp 0x0fff:after + 0x10     ; same code, CS low bits 3\n"
                "after:\n"
                "    o32 lgdt [cs:gdtr + 0x10]\n"
                "    mov eax, cr0\n"
                "    or al, 1\n"
                "    mov cr0, eax\n"
                "    mov ax, 0x10\n"
                "    mov ss, ax\n"
                "    mov ds, ax                  ; #GP if CPL were 3\n"
                "    mov ebx, 0x1234\n"
                "    hlt\n"
                "gdtr: dw 23\n"
                "      dd 0x10000 + gdt\n"
                "align 8\n"
                "gdt:  dq 0, 0x00cf9a000000ffff, 0x00cf92000000ffff\n");
    enum cpu_exit e = harness_run(h, 100);
    assert_int_equal(e, CPU_EXIT_HALT);
    assert_int_equal(h->cpu.regs[R_EBX], 0x1234);
    assert_int_equal(h->cpu.cpl, 0);
    assert_true(h->cpu.stack32);
    harness_free(h);
}

static void test_reset_edx_is_the_cpuid_signature(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_REAL16);
    cpu_reset(&h->cpu);
    uint32_t reset_edx = h->cpu.regs[R_EDX];
    harness_asm(h, "mov eax, 1\ncpuid\nhlt\n");
    assert_int_equal(harness_run(h, 10), CPU_EXIT_HALT);
    assert_int_equal(reset_edx, h->cpu.regs[R_EAX]);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ss_load_before_far_jump_keeps_cpl0),
        cmocka_unit_test(test_reset_edx_is_the_cpuid_signature),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
