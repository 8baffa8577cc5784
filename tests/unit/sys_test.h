/*
 * A protected-mode environment for the system tests (test_seg,
 * test_interrupt, test_paging, test_system), on top of the flat harness:
 *
 *   0x1000  GDT: the harness's five entries, then
 *           0x28 code32 DPL3, 0x30 data DPL3, 0x38 TSS32 (at 0x3000),
 *           0x40..0x78 free for the test (sys_desc / sys_gate_desc)
 *   0x2000  IDT: 256 interrupt gates (DPL 0, CS 0x08; DPL 3 for INT3) to
 *           catch stubs
 *   0x3000  TSS: SS0:ESP0 = 0x10:0x70000, I/O bitmap at +0x68 (all ports
 *           denied), limit 0x2068
 *   0x8000  catch stubs: vector v's stub is one HLT at 0x8000 + 16*v
 *   0x10000 test code (harness_asm), stack top 0x80000
 *
 * A test runs its code with sys_run; when it ends at a catch stub, the
 * stub's HLT stopped the CPU right after delivery, so the frame is on the
 * stack untouched: sys_vector() says which vector was delivered and
 * sys_stack(h, i) reads the i-th dword of the frame.
 */
#ifndef BTVM_TESTS_SYS_TEST_H
#define BTVM_TESTS_SYS_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/interp.h"
#include "cpu/mem.h"
#include "cpu/seg.h"
#include "harness.h"

#define SYS_GDT 0x1000u
#define SYS_IDT 0x2000u
#define SYS_TSS 0x3000u
#define SYS_TSS_LIMIT 0x2068u
#define SYS_STUBS 0x8000u
#define SYS_ESP0 0x70000u
#define SYS_GDT_ENTRIES 16

enum { SEL_CODE0 = 0x08, SEL_DATA0 = 0x10, SEL_CODE16 = 0x18, SEL_DATA16 = 0x20,
       SEL_CODE3 = 0x2b, SEL_DATA3 = 0x33, SEL_TSS = 0x38 };

/* Access byte: P DPL S type.  Flags nibble: G D/B L AVL. */
#define ACC_CODE 0x9a   /* present, DPL 0, execute/read */
#define ACC_DATA 0x92   /* present, DPL 0, read/write */
#define ACC_DPL(n) ((n) << 5)
#define FLG_32 0xc      /* G=1, D/B=1 */

static inline void sys_poke32(harness *h, uint32_t paddr, uint32_t v)
{
    harness_poke(h, paddr, &v, 4);
}

static inline void sys_poke16(harness *h, uint32_t paddr, uint16_t v)
{
    harness_poke(h, paddr, &v, 2);
}

static inline uint64_t sys_make_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    uint32_t lo = (limit & 0xffff) | (base << 16);
    uint32_t hi = ((base >> 16) & 0xff) | (base & 0xff000000u) | (limit & 0x000f0000u) |
                  ((uint32_t)access << 8) | ((uint32_t)(flags & 0xf) << 20);
    return lo | (uint64_t)hi << 32;
}

static inline void sys_put64(harness *h, uint32_t paddr, uint64_t d)
{
    harness_poke(h, paddr, &d, 8);
}

static inline uint64_t sys_get64(harness *h, uint32_t paddr)
{
    return harness_peek32(h, paddr) | (uint64_t)harness_peek32(h, paddr + 4) << 32;
}

/* GDT entry for selector sel. */
static inline void sys_desc(harness *h, uint16_t sel, uint32_t base, uint32_t limit,
                            uint8_t access, uint8_t flags)
{
    sys_put64(h, SYS_GDT + (sel & 0xfff8u), sys_make_desc(base, limit, access, flags));
}

/* A gate: type 4/12 call, 5 task, 6/14 interrupt, 7/15 trap. */
static inline uint64_t sys_make_gate(uint16_t sel, uint32_t off, unsigned type, unsigned dpl,
                                     unsigned params)
{
    uint32_t lo = (off & 0xffff) | ((uint32_t)sel << 16);
    uint32_t hi = (off & 0xffff0000u) | 0x8000u | (dpl << 13) | (type << 8) | (params & 0x1f);
    return lo | (uint64_t)hi << 32;
}

static inline void sys_idt_gate(harness *h, int vector, uint16_t sel, uint32_t off, unsigned type,
                                unsigned dpl)
{
    sys_put64(h, SYS_IDT + vector * 8, sys_make_gate(sel, off, type, dpl, 0));
}

static inline void sys_gate_desc(harness *h, uint16_t gsel, uint16_t sel, uint32_t off,
                                 unsigned type, unsigned dpl, unsigned params)
{
    sys_put64(h, SYS_GDT + (gsel & 0xfff8u), sys_make_gate(sel, off, type, dpl, params));
}

/* A 32-bit TSS at base: zeroed, SS0:ESP0, I/O map base past the end. */
static inline void sys_tss32(harness *h, uint32_t base, uint16_t ss0, uint32_t esp0)
{
    static const uint8_t zero[0x68];
    harness_poke(h, base, zero, sizeof(zero));
    sys_poke32(h, base + 4, esp0);
    sys_poke32(h, base + 8, ss0);
    sys_poke16(h, base + 0x66, 0x68);
}

static inline harness *sys_new(void)
{
    harness *h = harness_new(HARNESS_FLAT32);
    cpu_state *c = &h->cpu;
    sys_desc(h, SEL_CODE3, 0, 0xfffff, ACC_CODE | ACC_DPL(3), FLG_32);
    sys_desc(h, SEL_DATA3, 0, 0xfffff, ACC_DATA | ACC_DPL(3), FLG_32);
    /* TSS with an I/O bitmap denying every port, and the 0xff terminator. */
    sys_tss32(h, SYS_TSS, SEL_DATA0, SYS_ESP0);
    static uint8_t ones[8193];
    memset(ones, 0xff, sizeof(ones));
    harness_poke(h, SYS_TSS + 0x68, ones, sizeof(ones));
    sys_desc(h, SEL_TSS, SYS_TSS, SYS_TSS_LIMIT, 0x8b, 0); /* busy 32-bit TSS */
    c->gdtr.limit = SYS_GDT_ENTRIES * 8 - 1;
    cpu_seg_from_descriptor(&c->seg[S_TR], SEL_TSS, sys_get64(h, SYS_GDT + SEL_TSS));
    for (int v = 0; v < 256; v++) {
        uint8_t hlt = 0xf4;
        harness_poke(h, SYS_STUBS + v * 16, &hlt, 1);
        sys_idt_gate(h, v, SEL_CODE0, SYS_STUBS + v * 16, 14, 0);
    }
    /* INT3 may be used from CPL 3 (as OSes set it up): a DPL-3 gate. */
    sys_idt_gate(h, 3, SEL_CODE0, SYS_STUBS + 3 * 16, 14, 3);
    c->idtr = (cpu_dtr){ SYS_IDT, 256 * 8 - 1 };
    return h;
}

/* Run until HLT (or shutdown); fails the test on a budget overrun. */
static inline enum cpu_exit sys_run(harness *h)
{
    enum cpu_exit e = harness_run(h, 1000000);
    if (e == CPU_EXIT_BUDGET)
        fail_msg("no HLT after 1000000 instructions (eip %08x)", h->cpu.eip);
    return e;
}

/* The vector whose catch stub halted the CPU, or -1 (the test's own HLT). */
static inline int sys_vector(harness *h)
{
    uint32_t at = h->cpu.seg[S_CS].base + h->cpu.eip - 1;
    if (h->cpu.run_state != CPU_HALTED || at < SYS_STUBS || at >= SYS_STUBS + 256 * 16 ||
        (at - SYS_STUBS) % 16)
        return -1;
    return (int)(at - SYS_STUBS) / 16;
}

/* The i-th dword above ESP (through SS, no paging assumed). */
static inline uint32_t sys_stack(harness *h, int i)
{
    return harness_peek32(h, h->cpu.seg[S_SS].base + h->cpu.regs[R_ESP] + 4 * i);
}

#define SYS_FAULT_AT 0x7ff0u

/*
 * Assemble src into h (from sys_new, maybe adjusted), run it, and expect
 * delivery of vector with error code err (err < 0: no error code).  If the
 * source has a label `fault:`, the saved EIP must point at it.
 */
static inline void sys_expect(harness *h, const char *src, int vector, long err)
{
    bool has_label = strstr(src, "fault:") != NULL;
    size_t n = strlen(src) + 64;
    char *full = malloc(n);
    snprintf(full, n, "%s\n%s", has_label ? "mov dword [0x7ff0], fault" : "", src);
    harness_asm(h, full);
    free(full);
    sys_run(h);
    int v = sys_vector(h);
    if (v != vector)
        fail_msg("vector %d, want %d (eip %08x) in:\n%s", v, vector, h->cpu.eip, src);
    if (err >= 0 && sys_stack(h, 0) != (uint32_t)err)
        fail_msg("error code %x, want %lx in:\n%s", sys_stack(h, 0), err, src);
    if (has_label && sys_stack(h, err >= 0 ? 1 : 0) != harness_peek32(h, SYS_FAULT_AT))
        fail_msg("saved EIP %08x, want %08x in:\n%s", sys_stack(h, err >= 0 ? 1 : 0),
                 harness_peek32(h, SYS_FAULT_AT), src);
}

#endif
