/*
 * Trace mode (-d trace): a translated block is printed with its guest
 * disassembly, the host code Capstone reads back, and the reason for
 * each instruction's translation — identical, rewritten, or the
 * instruction the block stopped before.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "translator/tr.h"

/* Run the harness program to HLT under the translator, tracing into a
 * string the caller frees. */
static char *trace_of(harness *h)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    char err[128];
    tr_engine *t = tr_new(&h->cpu, err, sizeof(err));
    assert_non_null(t);
    tr_set_trace(t, out);
    enum cpu_exit e;
    do {
        e = tr_exec(t, 100000);
    } while (e == CPU_EXIT_REQUEST || e == CPU_EXIT_BUDGET);
    assert_int_equal(e, CPU_EXIT_HALT);
    tr_free(t);
    fclose(out);
    return text;
}

static void test_trace_lists_guest_host_and_reasons(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_FLAT32);
    harness_asm(h,
                "    mov eax, 5\n"
                "    add [0x3000], eax\n"
                "    mov ebx, 0x2ff0\n"
                "    xor ecx, ecx\n"
                "    mov [ebx + ecx*4 + 0x14], eax\n"
                "    push eax\n"
                "    pop ecx\n"
                "    cli\n"
                "    hlt\n");
    char *text = trace_of(h);
    assert_non_null(text);
    /* guest side: Zydis, Intel syntax */
    assert_non_null(strstr(text, "mov eax, 0x05"));
    assert_non_null(strstr(text, "add [0x00003000], eax"));
    /* host side: Capstone, with the memory operands rebased: a small
     * absolute address directly, an indexed one through r14d (wrapped) */
    assert_non_null(strstr(text, "dword ptr [r15 + 0x3000], eax"));
    assert_non_null(strstr(text, "lea r14d, [rbx + rcx*4 + 0x14]"));
    assert_non_null(strstr(text, "dword ptr [r15 + r14], eax"));
    /* no loop here: no stop-request probe (only backward branches probe) */
    assert_null(strstr(text, "cpu.tr_poll"));
    /* the reasons */
    assert_non_null(strstr(text, "identical: same encoding, registers kept"));
    assert_non_null(strstr(text, "identical: memory operand rebased onto the window (r15)"));
    assert_non_null(strstr(text, "rewritten: push stores below ESP first"));
    assert_non_null(strstr(text, "rewritten: pop loads first"));
    const char *cli = strstr(text, "cli");
    assert_non_null(cli);
    assert_non_null(strstr(cli, "ends block: interpreted (privileged or sensitive"));
    assert_int_equal(harness_peek32(h, 0x3000), 5);
    assert_int_equal(harness_peek32(h, 0x3004), 5);
    free(text);
    harness_free(h);
}

/* Conditional branches: a loop back into the block jumps there directly
 * (probing first, R10 moved by the instructions it repeats); a forward
 * branch out of the block leaves through an out-of-line chainable exit,
 * and the fall-through goes on in the same block. */
static void test_trace_conditional_branch(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_FLAT32);
    harness_asm(h,
                "    mov ecx, 3\n"
                "again:\n"
                "    dec ecx\n"
                "    jnz again\n"
                "    test ecx, ecx\n"
                "    jz out\n"
                "    mov ecx, 9\n"
                "    hlt\n"
                "out:\n"
                "    hlt\n");
    char *text = trace_of(h);
    assert_non_null(text);
    assert_non_null(strstr(text, "rewritten: conditional branch: the block goes on"));
    /* the loop: probe, count, jump back to its first instruction (the
     * second of the block: R10 moves by the two it repeats) */
    const char *loop = strstr(text, "block eip=00010000");
    assert_non_null(loop);
    const char *probe = strstr(loop, "cpu.tr_poll: the stop-request probe");
    assert_non_null(probe);
    assert_non_null(strstr(probe, "lea r10, [r10 + 2]"));
    assert_non_null(strstr(probe, "lea r10, [r10 - 2]"));
    /* the forward jz leaves out of line, after the fall-through exit */
    const char *side = strstr(loop, "taken edges of the conditional branches (out of line)");
    assert_non_null(side);
    assert_non_null(strstr(loop, "; exit 0 to "));
    assert_non_null(strstr(side, "; exit 1 to "));
    assert_non_null(strstr(side, "jmp <exit trampoline>"));
    assert_int_equal(h->cpu.regs[R_ECX], 0); /* the loop ran out, jz was taken */
    free(text);
    harness_free(h);
}

/* An FS-relative access: copied, with the segment base added at run time. */
static void test_trace_fs_base(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_FLAT32);
    harness_asm(h, "    mov eax, [fs:0x10]\n    hlt\n");
    h->cpu.seg[S_FS].base = 0x3000;
    char *text = trace_of(h);
    assert_non_null(text);
    assert_non_null(strstr(text, "memory operand rebased onto the window (r15), segment base added (FS)"));
    assert_non_null(strstr(text, "; FS base"));
    free(text);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_lists_guest_host_and_reasons),
        cmocka_unit_test(test_trace_conditional_branch),
        cmocka_unit_test(test_trace_fs_base),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
