/*
 * Helpers shared by the instruction tests (test_alu, test_data,
 * test_branch, test_string): run a nasm snippet to its HLT one
 * instruction at a time, so a test needs neither an instruction count
 * nor a HLT handler, and fail loudly on a shutdown.
 */
#ifndef BTVM_TESTS_INSN_TEST_H
#define BTVM_TESTS_INSN_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/interp.h"
#include "harness.h"

/* Linear address of CS:EIP (the harness runs without paging). */
static inline uint32_t insn_test_pc(harness *h)
{
    return h->cpu.seg[S_CS].base + h->cpu.eip;
}

static inline uint8_t insn_test_byte(harness *h, uint32_t paddr)
{
    uint8_t b = 0;
    assert_int_equal(phys_copy_from(&h->mem, paddr, &b, 1), 0);
    return b;
}

/* Step until the next instruction is HLT (F4); returns the instructions run. */
static inline int run_to_hlt(harness *h, int max)
{
    for (int n = 0; n < max; n++) {
        if (insn_test_byte(h, insn_test_pc(h)) == 0xf4)
            return n;
        enum cpu_exit e = cpu_exec(&h->cpu, 1);
        if (e == CPU_EXIT_SHUTDOWN)
            fail_msg("shutdown: %s", h->cpu.diag);
    }
    fail_msg("no HLT after %d instructions (eip %08x)", max, h->cpu.eip);
    return -1;
}

/* New CPU in mode, eflags preset, snippet assembled and run to its HLT. */
static inline harness *run_snippet(enum harness_mode mode, uint32_t eflags, const char *src)
{
    harness *h = harness_new(mode);
    harness_asm(h, src);
    h->cpu.eflags = eflags | FL_FIXED1;
    run_to_hlt(h, 100000);
    return h;
}

static inline uint16_t peek16(harness *h, uint32_t paddr)
{
    return (uint16_t)harness_peek32(h, paddr);
}

/*
 * Real-mode fault capture: the prologue points IVT entries 0-13 at
 * handlers that store their vector at CS:F000 (physical 0x1F000) and the
 * IP found on the stack at CS:F002, then halt.  The body must define the
 * label fault_at (its offset is stored at CS:F004 for comparison); the
 * word at 0x1F000 stays FFFF when nothing faults.
 */
#define RM_FAULT_PROLOGUE                                                  \
    "%assign i 0\n%rep 14\n"                                              \
    "mov word [i*4], rm_h%[i]\nmov word [i*4+2], 0x1000\n"                \
    "%assign i i+1\n%endrep\n"                                            \
    "mov word [cs:0xf000], 0xffff\nmov word [cs:0xf004], fault_at\n"
#define RM_FAULT_HANDLERS                                                  \
    "hlt\n%assign i 0\n%rep 14\nrm_h%[i]:\n"                            \
    "mov word [cs:0xf000], i\npop word [cs:0xf002]\nhlt\n"               \
    "%assign i i+1\n%endrep\n"
#define RM_FAULT_VECTOR 0x1f000u
#define RM_FAULT_IP 0x1f002u
#define RM_FAULT_AT 0x1f004u

/* Run body (which defines fault_at:) in real mode with the fault capture. */
static inline harness *rm_fault_run(const char *body)
{
    size_t n = strlen(RM_FAULT_PROLOGUE) + strlen(body) + strlen(RM_FAULT_HANDLERS) + 2;
    char *src = malloc(n);
    snprintf(src, n, "%s%s\n%s", RM_FAULT_PROLOGUE, body, RM_FAULT_HANDLERS);
    harness *h = run_snippet(HARNESS_REAL16, 0, src);
    free(src);
    return h;
}

/* Expect body to fault with vector at fault_at (vector -1: no fault). */
static inline void rm_expect_fault(const char *body, int vector)
{
    harness *h = rm_fault_run(body);
    uint16_t v = peek16(h, RM_FAULT_VECTOR);
    if (vector < 0) {
        if (v != 0xffff)
            fail_msg("unexpected vector %d in:\n%s", v, body);
    } else {
        if (v != vector)
            fail_msg("vector %d, want %d, in:\n%s", v == 0xffff ? -1 : v, vector, body);
        if (peek16(h, RM_FAULT_IP) != peek16(h, RM_FAULT_AT))
            fail_msg("fault IP %04x, want %04x, in:\n%s", peek16(h, RM_FAULT_IP),
                     peek16(h, RM_FAULT_AT), body);
    }
    harness_free(h);
}

#endif
