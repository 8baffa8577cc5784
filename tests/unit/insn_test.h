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

#endif
