/*
 * Differential fuzz test: the binary translator against the interpreter.
 *
 * Each case builds two identical flat 32-bit harness CPUs from one seed
 * (registers, flags, data area, stack), puts the same random instruction
 * sequence at HARNESS_CODE, runs one machine with the reference
 * interpreter (cpu_exec, one instruction at a time) and the other with
 * the translator (tr_exec), and compares everything observable: the
 * GPRs, EIP, the whole EFLAGS, segment registers, control and
 * descriptor-table registers, the FXSAVE image, instruction and
 * exception counts, every RAM page either machine touched, and the
 * accesses a small MMIO device saw.
 *
 * Flags: EFLAGS is compared exactly, undefined flags included.  Both
 * engines compute arithmetic flags on the same host CPU (the interpreter
 * runs the same host instruction, cpu/hostflags.h; translated code is the
 * host instruction), so even the flags the SDM leaves undefined must
 * agree on any one host.  Where the interpreter models an undefined
 * result in C instead, the translator does not copy that instruction.
 *
 * Exceptions: an IDT with 256 interrupt gates whose handlers store their
 * vector at REC and halt, so the first exception ends the case; the
 * exception frame (and error code) is on the compared stack.
 *
 * The generator emits mostly valid encodings: ALU ops in all forms,
 * mov/lea/movzx/movsx, inc/dec/not/neg, mul/imul/div/idiv (division by
 * zero and quotient overflow included), shifts and rotates by 1/CL/imm,
 * shld/shrd, bt/bts/btr/btc, bsf/bsr, setcc, cmovcc, xchg, xadd,
 * cmpxchg, cmpxchg8b, bswap, cbw/cwd, flag ops, push/pop in all forms,
 * pushad/popad, enter/leave, forward jcc/jmp/loop/jecxz, call/ret
 * subroutines, indirect jmp/call through registers and memory, string
 * instructions with small counts, a few system instructions, runs of x87
 * instructions (memory and register forms, FCOMI and FCMOV on EFLAGS,
 * control words that unmask exceptions); with 0x66,
 * LOCK, segment and address-size prefixes; memory operands with random
 * base/index/scale/disp pointing at the data area, the stack, the code
 * itself, the last bytes of RAM (straddling its end), an MMIO page, a ROM
 * page, unassigned space and the 4 GiB wrap; stores into the next
 * instruction (self-modifying code); plus fully random byte strings in
 * 30% of the cases.  The code starts anywhere in its page, sometimes
 * running into the next.  40% of the cases run with paging: identity
 * mapped (4 KiB pages below 4 MiB, 4 MiB pages above), aliases of a data
 * page and of the code page, data or stack pages not present or read-only,
 * CR0.WP on or off; the page tables' A/D bits are compared with the rest
 * of RAM.  Cases whose execution reaches a non-deterministic instruction
 * (RDTSC and friends) are skipped.
 *
 * Long runs: BTVM_FUZZ_CASES=n and BTVM_FUZZ_SEED=s (docs/testing.md).
 * A mismatch prints the case seed, the shortest failing prefix of the
 * sequence, its disassembly, the executed path and the differing state.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include <Zydis/Zydis.h>

#include "cpu/exception.h"
#include "cpu/icache.h"
#include "cpu/interp.h"
#include "cpu/mem.h"
#include "harness.h"
#include "translator/tr.h"

#define IDT_BASE   0x2000u   /* 256 interrupt gates */
#define STUBS      0x3000u   /* 16 bytes per vector: mov dword [REC], v ; hlt */
#define REC        0x4000u   /* vector of the exception taken */
#define CODE       HARNESS_CODE
#define CODE_MAX   0x2000u
#define DATA       0x20000u
#define DATA_SIZE  0x2000u
#define MMIO_BASE  0x02000000u
#define ROM_BASE   0x03000000u
#define UNASSIGNED 0x05000000u

#define CODE_PAGE  (CODE + 0x1000)  /* code starts in CODE's page, may run into this one */
#define PD_BASE    0x6000u    /* paging cases: page directory, one page table for 0-4 MiB */
#define PT_BASE    0x7000u
#define ALIAS_DATA 0x00300000u /* paging cases: another linear address of DATA's first page */
#define ALIAS_CODE 0x00301000u /* ... and of CODE_PAGE */
#define MAX_ITEMS  96
#define MAX_FIX    (MAX_ITEMS * 4)
#define MAX_STEPS  4000
#define TRACE_LEN  48

/* --- random numbers --- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* --- the generator --- */

enum fix_kind { FIX_REL8, FIX_REL32, FIX_ABS32 };

typedef struct gen {
    uint64_t rng;
    uint8_t code[CODE_MAX];
    unsigned len;
    unsigned item_off[MAX_ITEMS + 1];
    unsigned nitems, item;
    struct { unsigned at, end, target; enum fix_kind kind; } fix[MAX_FIX];
    unsigned nfix;
    unsigned osz;         /* operand size of the instruction being emitted */
    bool dirty;           /* random bytes and system instructions allowed */
    bool paging;          /* the case runs with paging: alias addresses exist */
    uint32_t base;        /* guest address of code[0] */
    bool lockable;        /* the next instruction takes LOCK with a memory destination */
    uint8_t mandatory;    /* a mandatory prefix (F3, F2, 66) for the next instruction */
} gen;

static uint32_t rnd(gen *g) { return (uint32_t)splitmix(&g->rng); }
static unsigned pick(gen *g, unsigned n) { return rnd(g) % n; }
static bool chance(gen *g, unsigned percent) { return pick(g, 100) < percent; }

static void b1(gen *g, uint32_t v)
{
    if (g->len < CODE_MAX - 64)
        g->code[g->len++] = (uint8_t)v;
}
static void b2(gen *g, uint32_t v) { b1(g, v); b1(g, v >> 8); }
static void b4(gen *g, uint32_t v) { b2(g, v); b2(g, v >> 16); }
static void imm_osz(gen *g, uint32_t v) { if (g->osz == 16) b2(g, v); else b4(g, v); }

/* A forward branch target: the start of one of the next few items (the
 * final HLT at worst). */
static unsigned forward_target(gen *g)
{
    unsigned t = g->item + 1 + pick(g, 4);
    return t > g->nitems ? g->nitems : t;
}

static void add_fix(gen *g, enum fix_kind kind, unsigned target)
{
    if (g->nfix == MAX_FIX)
        return;
    unsigned size = kind == FIX_REL8 ? 1 : 4;
    g->fix[g->nfix++] = (typeof(g->fix[0])){ .at = g->len, .end = g->len + size,
                                             .target = target, .kind = kind };
    for (unsigned i = 0; i < size; i++)
        b1(g, 0);
}

/* Interesting 32-bit values. */
static uint32_t value(gen *g)
{
    static const uint32_t special[] = { 0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
                                        0x7fffffff, 0x80000000u, 0xffffffffu, 0xfffffffeu, 31,
                                        32, 33 };
    switch (pick(g, 5)) {
    case 0: return DATA + pick(g, DATA_SIZE);
    case 1: return pick(g, 256);
    case 2: return special[pick(g, sizeof(special) / sizeof(special[0]))];
    default: return rnd(g);
    }
}

/* A register operand: ESP less often (it is the stack). */
static unsigned reg(gen *g)
{
    unsigned r = pick(g, 8);
    if (r == 4 && !chance(g, 25))
        r = pick(g, 8);
    return r;
}

/* A register that setup code may load (never ESP). */
static unsigned reg_nosp(gen *g)
{
    unsigned r = pick(g, 7);
    return r >= 4 ? r + 1 : r;
}

static uint32_t pick_addr(gen *g)
{
    unsigned p = pick(g, 100);
    if (p < 66) {
        uint32_t a = DATA + pick(g, DATA_SIZE - 8);
        return chance(g, 50) ? a & ~3u : a;
    }
    if (p < 76) return HARNESS_STACK - 256 + pick(g, 512);
    if (p < 80) return HARNESS_RAM - 1 - pick(g, 4);     /* straddles the end of RAM */
    if (p < 85) return MMIO_BASE + (pick(g, 64) & (chance(g, 80) ? ~3u : ~0u));
    if (p < 88) return ROM_BASE + pick(g, 0x1000);
    if (p < 91) return UNASSIGNED + pick(g, 0x1000);
    if (p < 93) return 0xfffffffcu + pick(g, 4);          /* wraps at 4 GiB */
    if (p < 96) return g->base + pick(g, 0x200);           /* self-modifying */
    if (p < 97 && g->paging) return ALIAS_DATA + pick(g, 0x1000);
    if (p < 98 && g->paging) return ALIAS_CODE + pick(g, 0x1000);
    if (p < 99) return IDT_BASE + pick(g, 0x3000);         /* IDT, stubs, REC */
    return rnd(g);
}

static void mov_imm(gen *g, unsigned r, uint32_t v)
{
    b1(g, 0xb8 + r);
    b4(g, v);
}

/* A ModRM (+SIB, disp) planned before the instruction, because it may
 * emit setup code (loading base and index registers). */
typedef struct rm { uint8_t b[7]; unsigned n; bool mem; } rm;

static void rm_put_disp(rm *m, int64_t disp, unsigned size)
{
    for (unsigned i = 0; i < size; i++)
        m->b[m->n++] = (uint8_t)(disp >> (8 * i));
}

/* mod bits and displacement for [regs + disp]; known: disp is exact. */
static void rm_disp(gen *g, rm *m, uint8_t *modrm, uint32_t disp, bool known, bool ebp_base)
{
    if (!known) {
        unsigned k = pick(g, 3);
        disp = k == 1 ? (uint32_t)(int8_t)rnd(g) : rnd(g);
        if (k == 0 && ebp_base)
            k = 1;
        if (k == 0)
            return;
        *modrm |= k == 1 ? 0x40 : 0x80;
        rm_put_disp(m, k == 1 ? (int64_t)(int8_t)disp : (int64_t)disp, k == 1 ? 1 : 4);
        return;
    }
    if (disp == 0 && !ebp_base && chance(g, 70))
        return;
    if ((int32_t)disp == (int8_t)disp) {
        *modrm |= 0x40;
        rm_put_disp(m, disp, 1);
    } else {
        *modrm |= 0x80;
        rm_put_disp(m, disp, 4);
    }
}

static void plan_rm(gen *g, rm *m, bool allow_reg, bool allow_mem)
{
    memset(m, 0, sizeof(*m));
    if (!allow_mem || (allow_reg && chance(g, 40))) {
        m->b[m->n++] = (uint8_t)(0xc0 | reg(g));
        return;
    }
    m->mem = true;
    uint32_t addr = pick_addr(g);
    unsigned form = pick(g, 10);
    if (form < 2) {                     /* [disp32] */
        m->b[m->n++] = 0x05;
        rm_put_disp(m, addr, 4);
    } else if (form < 6) {              /* [base + disp] */
        unsigned base = reg_nosp(g);
        bool known = chance(g, 80);
        uint32_t bv = pick(g, 4) == 0 ? 0 : value(g);
        uint32_t disp = addr - bv;
        if (known && (int32_t)disp != (int8_t)disp && disp != 0 && chance(g, 60)) {
            bv = addr - (uint32_t)(int8_t)rnd(g);   /* prefer a short disp */
            disp = addr - bv;
        }
        if (known)
            mov_imm(g, base, bv);
        uint8_t modrm = (uint8_t)base;
        unsigned at = m->n++;
        rm_disp(g, m, &modrm, disp, known, base == 5);
        m->b[at] = modrm;
    } else if (form < 7) {              /* [esp + disp] */
        uint8_t modrm = 0x04;
        unsigned at = m->n++;
        m->b[m->n++] = 0x24;
        if (chance(g, 70)) {
            modrm |= 0x40;
            rm_put_disp(m, (int8_t)(pick(g, 64) - 8), 1);
        }
        m->b[at] = modrm;
    } else {                            /* [base + index*scale + disp] */
        unsigned base = pick(g, 8), index = pick(g, 8), scale = pick(g, 4);
        bool no_base = base == 5 && chance(g, 30);
        bool known = chance(g, 80) && base != 4 && !(base == index && index != 4);
        uint32_t iv = pick(g, 16), bv = value(g);
        if (index == 4)
            iv = 0;                     /* no index */
        if (no_base)
            bv = 0;
        if (known) {
            if (index != 4)
                mov_imm(g, index, iv);
            if (!no_base)
                mov_imm(g, base, bv);
        }
        uint32_t disp = addr - bv - (iv << scale);
        uint8_t modrm = 0x04;
        unsigned at = m->n++;
        m->b[m->n++] = (uint8_t)((scale << 6) | (index << 3) | base);
        if (no_base) {
            rm_put_disp(m, known ? disp : rnd(g), 4);
        } else {
            rm_disp(g, m, &modrm, disp, known, base == 5);
        }
        m->b[at] = modrm;
    }
}

static void emit_rm(gen *g, const rm *m, unsigned regfield)
{
    b1(g, m->b[0] | (regfield & 7) << 3);
    for (unsigned i = 1; i < m->n; i++)
        b1(g, m->b[i]);
}

/* Prefixes: operand size sometimes, rarely LOCK, a segment, 0x67. */
static void prefixes(gen *g, bool size_ok, bool mem)
{
    g->osz = 32;
    if (size_ok && chance(g, 15)) {
        b1(g, 0x66);
        g->osz = 16;
    }
    if (pick(g, 1000) < (mem && g->lockable ? 150u : 2u))
        b1(g, 0xf0);
    g->lockable = false;
    if (g->mandatory)
        b1(g, g->mandatory);
    g->mandatory = 0;
    if (mem && chance(g, 4)) {
        static const uint8_t seg[] = { 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65 };
        b1(g, seg[pick(g, 6)]);
    }
    if (pick(g, 1000) < 3)
        b1(g, 0x67);
}

/* opcode bytes, then modrm, then an immediate of imm bytes (0, 1, 2, 4, or 5 = operand size) */
static void insn_rm(gen *g, const uint8_t *op, unsigned oplen, unsigned regfield, bool allow_reg,
                    bool allow_mem, unsigned imm, bool size_ok)
{
    rm m;
    plan_rm(g, &m, allow_reg, allow_mem);
    prefixes(g, size_ok, m.mem);
    for (unsigned i = 0; i < oplen; i++)
        b1(g, op[i]);
    emit_rm(g, &m, regfield);
    if (imm == 5)
        imm_osz(g, value(g));
    else if (imm == 1)
        b1(g, chance(g, 50) ? pick(g, 40) : rnd(g));
    else if (imm == 2)
        b2(g, rnd(g));
    else if (imm == 4)
        b4(g, value(g));
}

static void op1(gen *g, uint8_t o, unsigned regfield, bool r, bool mm, unsigned imm, bool sz)
{
    insn_rm(g, &o, 1, regfield, r, mm, imm, sz);
}

static void op2(gen *g, uint8_t o, unsigned regfield, bool r, bool mm, unsigned imm, bool sz)
{
    uint8_t b[2] = { 0x0f, o };
    insn_rm(g, b, 2, regfield, r, mm, imm, sz);
}

/* Instruction families */

static void gen_alu(gen *g)
{
    unsigned op = pick(g, 8);
    switch (pick(g, 4)) {
    case 0: {
        uint8_t o = (uint8_t)(op << 3 | pick(g, 4));
        g->lockable = o < 0x38 && !(o & 2);
        op1(g, o, reg(g), true, true, 0, true);
        break;
    }
    case 1: {
        g->lockable = op != 7;
        static const uint8_t grp1[] = { 0x80, 0x81, 0x83 };
        uint8_t o = grp1[pick(g, 3)];
        op1(g, o, op, true, true, o == 0x81 ? 5 : 1, o != 0x80);
        break;
    }
    case 2:
        prefixes(g, true, false);
        if (chance(g, 50)) {
            b1(g, op << 3 | 4);
            b1(g, rnd(g));
        } else {
            b1(g, op << 3 | 5);
            imm_osz(g, value(g));
        }
        break;
    default:
        prefixes(g, true, false);
        b1(g, 0x40 + pick(g, 16)); /* inc/dec r */
        break;
    }
}

static void gen_unary(gen *g)
{
    switch (pick(g, 5)) {
    case 0: g->lockable = true; op1(g, 0xfe + pick(g, 2), pick(g, 2), true, true, 0, true); break;
    case 1: g->lockable = true; op1(g, 0xf6 + pick(g, 2), 2 + pick(g, 2), true, true, 0, true); break;
    case 2: op1(g, 0x84 + pick(g, 2), reg(g), true, true, 0, true); break;            /* test */
    case 3: {
        uint8_t o = 0xf6 + pick(g, 2);
        op1(g, o, 0, true, true, o == 0xf7 ? 5 : 1, true);                              /* test imm */
        break;
    }
    default:
        prefixes(g, true, false);
        if (chance(g, 50)) {
            b1(g, 0xa8);
            b1(g, rnd(g));
        } else {
            b1(g, 0xa9);
            imm_osz(g, value(g));
        }
        break;
    }
}

static void gen_muldiv(gen *g)
{
    unsigned k = pick(g, 6);
    if (k < 3) {
        /* mul/imul/div/idiv: make division sometimes sane, sometimes by zero */
        unsigned f = 4 + pick(g, 4);
        if (f >= 6) {
            if (chance(g, 60)) {
                b1(g, 0x31);
                b1(g, 0xd2); /* xor edx, edx */
            } else if (chance(g, 30)) {
                b1(g, 0x99); /* cdq */
            }
        }
        rm m;
        plan_rm(g, &m, true, true);
        if (!m.mem && f >= 6 && chance(g, 70)) {
            /* a non-zero divisor in the register (mostly) */
            unsigned r = m.b[0] & 7;
            if (r != 4 && r != 0 && r != 2)
                mov_imm(g, r, chance(g, 90) ? 1 + pick(g, 1000) : 0);
        }
        prefixes(g, true, m.mem);
        b1(g, 0xf6 + pick(g, 2));
        emit_rm(g, &m, f);
    } else if (k < 5) {
        op2(g, 0xaf, reg(g), true, true, 0, true); /* imul r, r/m */
    } else {
        uint8_t o = chance(g, 50) ? 0x69 : 0x6b;
        op1(g, o, reg(g), true, true, o == 0x69 ? 5 : 1, true);
    }
}

static void gen_shift(gen *g)
{
    unsigned f = pick(g, 8);
    switch (pick(g, 5)) {
    case 0: op1(g, 0xc0 + pick(g, 2), f, true, true, 1, true); break;
    case 1: op1(g, 0xd0 + pick(g, 2), f, true, true, 0, true); break;
    case 2:
        if (chance(g, 60)) {
            b1(g, 0xb1);
            b1(g, chance(g, 70) ? pick(g, 40) : rnd(g)); /* mov cl, n */
        }
        op1(g, 0xd2 + pick(g, 2), f, true, true, 0, true);
        break;
    case 3: op2(g, chance(g, 50) ? 0xa4 : 0xac, reg(g), true, true, 1, true); break; /* shld/shrd imm */
    default: op2(g, chance(g, 50) ? 0xa5 : 0xad, reg(g), true, true, 0, true); break; /* ... cl */
    }
}

static void gen_mov(gen *g)
{
    switch (pick(g, 9)) {
    case 0: case 1: case 2: op1(g, 0x88 + pick(g, 4), reg(g), true, true, 0, true); break;
    case 3: op1(g, 0x8c, pick(g, chance(g, 95) ? 6 : 8), true, true, 0, true); break;   /* mov r/m, sreg */
    case 4: prefixes(g, true, false); b1(g, 0xb8 + reg(g)); imm_osz(g, value(g)); break;
    case 5: prefixes(g, false, false); b1(g, 0xb0 + pick(g, 8)); b1(g, rnd(g)); break;
    case 6: op1(g, 0x8d, reg(g), chance(g, 3), true, 0, true); break;                  /* lea */
    case 7: op2(g, 0xb6 + pick(g, 2) + 8 * pick(g, 2), reg(g), true, true, 0, true); break; /* movzx/movsx */
    default:
        prefixes(g, true, true);
        b1(g, 0xa0 + pick(g, 4)); /* mov al/eax <-> moffs */
        b4(g, pick_addr(g));
        break;
    }
}

/* mov r/m, imm: the immediate size depends on the opcode, so emit by hand. */
static void gen_mov_imm(gen *g)
{
    bool byte = chance(g, 30);
    rm m;
    plan_rm(g, &m, true, true);
    prefixes(g, !byte, m.mem);
    b1(g, byte ? 0xc6 : 0xc7);
    emit_rm(g, &m, chance(g, 97) ? 0 : pick(g, 8));
    if (byte)
        b1(g, rnd(g));
    else
        imm_osz(g, value(g));
}

static void gen_bits(gen *g)
{
    switch (pick(g, 7)) {
    case 0: case 1: {
        static const uint8_t bt[] = { 0xa3, 0xab, 0xb3, 0xbb };
        if (chance(g, 50))
            mov_imm(g, reg_nosp(g), chance(g, 70) ? pick(g, 256) - 64 : rnd(g));
        uint8_t o = bt[pick(g, 4)];
        g->lockable = o != 0xa3;
        op2(g, o, reg(g), true, true, 0, true);
        break;
    }
    case 2: {
        unsigned f = 4 + pick(g, 4);
        g->lockable = f != 4;
        op2(g, 0xba, f, true, true, 1, true);
        break;
    }
    case 3:
        if (chance(g, 20))
            g->mandatory = 0xf3; /* tzcnt/lzcnt (bsf/bsr on an i686) */
        op2(g, 0xbc + pick(g, 2), reg(g), true, true, 0, true);
        break;
    case 4: op2(g, 0x90 + pick(g, 16), 0, true, true, 0, false); break;  /* setcc */
    case 5: op2(g, 0x40 + pick(g, 16), reg(g), true, true, 0, true); break; /* cmovcc */
    default:
        prefixes(g, true, false);
        b1(g, 0x0f);
        b1(g, 0xc8 + reg(g)); /* bswap */
        break;
    }
}

static void gen_xchg(gen *g)
{
    switch (pick(g, 6)) {
    case 0: case 1: g->lockable = true; op1(g, 0x86 + pick(g, 2), reg(g), true, true, 0, true); break;
    case 2: prefixes(g, true, false); b1(g, 0x90 + reg(g)); break;
    case 3: g->lockable = true; op2(g, 0xc0 + pick(g, 2), reg(g), true, true, 0, true); break; /* xadd */
    case 4: g->lockable = true; op2(g, 0xb0 + pick(g, 2), reg(g), true, true, 0, true); break; /* cmpxchg */
    default: g->lockable = true; op2(g, 0xc7, 1, chance(g, 3), true, 0, false); break; /* cmpxchg8b */
    }
}

static void gen_misc(gen *g)
{
    static const uint8_t one[] = { 0x98, 0x99, 0xf8, 0xf9, 0xf5, 0x9e, 0x9f, 0xfc, 0xfd, 0x90 };
    if (chance(g, 80)) {
        prefixes(g, true, false);
        b1(g, one[pick(g, sizeof(one))]);
    } else {
        op2(g, 0x1f, 0, true, true, 0, true); /* nop r/m */
    }
}

static void gen_stack(gen *g)
{
    switch (pick(g, 11)) {
    case 0: case 1: prefixes(g, true, false); b1(g, 0x50 + reg(g)); break;
    case 2: case 3: prefixes(g, true, false); b1(g, 0x58 + reg(g)); break;
    case 4: prefixes(g, true, false); b1(g, 0x68); imm_osz(g, value(g)); break;
    case 5: prefixes(g, true, false); b1(g, 0x6a); b1(g, rnd(g)); break;
    case 6: op1(g, 0xff, 6, true, true, 0, true); break;     /* push r/m */
    case 7: op1(g, 0x8f, 0, true, true, 0, true); break;     /* pop r/m */
    case 8: prefixes(g, true, false); b1(g, 0x60 + pick(g, 2)); break; /* pushad/popad */
    case 9: /* pushfd/popfd; popfd mostly of a chosen value */
        prefixes(g, true, false);
        if (chance(g, 60)) {
            b1(g, 0x68);
            imm_osz(g, (rnd(g) & (FL_ARITH | FL_DF | (chance(g, 5) ? FL_TF : 0))) | FL_FIXED1);
            if (g->osz == 16)
                b1(g, 0x66);
            b1(g, 0x9d);
        } else {
            b1(g, 0x9c + pick(g, 2));
        }
        break;
    default:
        prefixes(g, true, false);
        if (chance(g, 50)) {
            b1(g, 0xc8); /* enter */
            b2(g, pick(g, 64));
            b1(g, pick(g, 3));
        } else {
            if (chance(g, 70))
                b1(g, 0x89), b1(g, 0xe5); /* mov ebp, esp: leave then restores */
            b1(g, 0xc9);
        }
        break;
    }
}

static void gen_branch(gen *g)
{
    switch (pick(g, 10)) {
    case 0: case 1: /* jcc rel8 */
        b1(g, 0x70 + pick(g, 16));
        add_fix(g, FIX_REL8, forward_target(g));
        break;
    case 2: /* jcc rel32 */
        if (chance(g, 5))
            b1(g, 0x66); /* jcc rel16: truncates EIP to 16 bits */
        b1(g, 0x0f);
        b1(g, 0x80 + pick(g, 16));
        add_fix(g, FIX_REL32, forward_target(g));
        break;
    case 3: /* jmp rel8/rel32 */
        if (chance(g, 50)) {
            b1(g, 0xeb);
            add_fix(g, FIX_REL8, forward_target(g));
        } else {
            b1(g, 0xe9);
            add_fix(g, FIX_REL32, forward_target(g));
        }
        break;
    case 4: { /* call sub ; jmp over ; sub: body ; ret */
        b1(g, 0xe8);
        unsigned call_at = g->len;
        b4(g, 0);
        b1(g, 0xeb);
        unsigned jmp_at = g->len;
        b1(g, 0);
        unsigned sub = g->len;
        unsigned n = pick(g, 3);
        for (unsigned i = 0; i < n; i++) {
            if (chance(g, 50))
                gen_alu(g);
            else
                gen_shift(g);
        }
        if (chance(g, 20)) {
            b1(g, 0xc2); /* ret imm16 */
            b2(g, 4 * pick(g, 3));
        } else {
            b1(g, 0xc3);
        }
        uint32_t rel = sub - (call_at + 4);
        memcpy(g->code + call_at, &rel, 4);
        g->code[jmp_at] = (uint8_t)(g->len - (jmp_at + 1));
        break;
    }
    case 5: case 6: { /* indirect jmp/call through a register or memory */
        unsigned r = reg_nosp(g);
        bool call = chance(g, 40), mem = chance(g, 40);
        unsigned t = forward_target(g);
        if (mem) {
            uint32_t slot = DATA + (pick(g, DATA_SIZE / 4) * 4);
            b1(g, 0xc7);
            b1(g, 0x05);
            b4(g, slot);
            add_fix(g, FIX_ABS32, t);          /* mov dword [slot], target */
            b1(g, 0xff);
            b1(g, call ? 0x15 : 0x25);
            b4(g, slot);                       /* jmp/call [slot] */
        } else {
            b1(g, 0xb8 + r);
            add_fix(g, FIX_ABS32, t);
            b1(g, 0xff);
            b1(g, (call ? 0xd0 : 0xe0) | r);
        }
        break;
    }
    case 7: /* push target ; ret */
        b1(g, 0x68);
        add_fix(g, FIX_ABS32, forward_target(g));
        b1(g, 0xc3);
        break;
    case 8: /* loop/loope/loopne/jecxz */
        if (chance(g, 50))
            mov_imm(g, 1, pick(g, 4));
        b1(g, 0xe0 + pick(g, 4));
        add_fix(g, FIX_REL8, forward_target(g));
        break;
    default: /* call rel32 to a later item: the return address stays pushed */
        b1(g, 0xe8);
        add_fix(g, FIX_REL32, forward_target(g));
        break;
    }
}

/* Self-modifying code: a store into the immediate of the next instruction
 * (same block for the translator), directly or through a code alias. */
static void gen_smc(gen *g)
{
    bool dword = chance(g, 50);
    uint32_t at = g->base + g->len + (dword ? 10 : 7) + 1; /* the imm32 of the mov below */
    if (g->paging && chance(g, 30))
        at = at - CODE_PAGE + ALIAS_CODE;
    b1(g, dword ? 0xc7 : 0xc6);
    b1(g, 0x05);
    b4(g, at + (dword ? 0 : pick(g, 4)));
    if (dword)
        b4(g, value(g));
    else
        b1(g, rnd(g));
    b1(g, 0xb8 + reg_nosp(g));
    b4(g, value(g));
}

static void gen_string(gen *g)
{
    static const uint8_t ops[] = { 0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf };
    mov_imm(g, 1, pick(g, 6));
    mov_imm(g, 6, DATA + pick(g, DATA_SIZE - 64));
    mov_imm(g, 7, chance(g, 90) ? DATA + pick(g, DATA_SIZE - 64) : pick_addr(g));
    if (chance(g, 20))
        b1(g, 0xfc + pick(g, 2)); /* cld/std */
    if (chance(g, 15))
        b1(g, 0x66);
    if (chance(g, 60))
        b1(g, 0xf2 + pick(g, 2));
    b1(g, ops[pick(g, sizeof(ops))]);
}

static void gen_system(gen *g)
{
    switch (pick(g, 9)) {
    case 0: mov_imm(g, 0, pick(g, 3)); b2(g, 0xa20f); break;              /* cpuid */
    case 1: b1(g, 0x0f); b1(g, 0x20); b1(g, 0xc0 | pick(g, 8)); break;    /* mov r, cr0 */
    case 2: op2(g, 0x01, pick(g, 2), false, true, 0, false); break;       /* sgdt/sidt */
    case 3: b1(g, 0xec + pick(g, 2)); break;                              /* in al/eax, dx */
    case 4: b1(g, 0xfa + pick(g, 2)); break;                              /* cli/sti */
    case 5: b1(g, 0xcc); break;                                           /* int3 */
    case 6: b1(g, 0xcd); b1(g, rnd(g)); break;                            /* int n */
    case 7: b2(g, 0x0b0f); break;                                         /* ud2 */
    default: b1(g, 0xce); break;                                          /* into */
    }
}

/* x87 runs of one to four instructions: loads, stores and arithmetic
 * with memory and register operands, compares into EFLAGS, FCMOVcc, the
 * one-byte group (constants, transcendentals), control and status words
 * — a control word loaded from random data unmasks exceptions, so #MF
 * comes up — FWAIT, FNCLEX and FNINIT. */
static void gen_x87(gen *g)
{
    static const struct { uint8_t op, reg; } mem[] = {
        { 0xd9, 0 }, { 0xd9, 2 }, { 0xd9, 3 }, { 0xdd, 0 }, { 0xdd, 2 }, { 0xdd, 3 },
        { 0xdb, 5 }, { 0xdb, 7 }, { 0xdf, 0 }, { 0xdb, 0 }, { 0xdf, 5 }, { 0xdf, 2 },
        { 0xdb, 2 }, { 0xdb, 3 }, { 0xdf, 7 }, { 0xdf, 3 }, { 0xd9, 5 }, { 0xd9, 7 },
        { 0xdd, 7 },
    };
    static const uint8_t arith[] = { 0xd8, 0xdc, 0xda, 0xde };
    static const struct { uint8_t op, lo, n; } regs[] = {
        { 0xd8, 0xc0, 64 }, { 0xdc, 0xc0, 64 }, { 0xde, 0xc0, 64 }, /* arithmetic */
        { 0xd9, 0xc0, 16 },                                         /* fld st(i), fxch */
        { 0xdd, 0xc0, 32 },                                         /* ffree, fst, fstp */
        { 0xda, 0xc0, 32 }, { 0xdb, 0xc0, 32 },                     /* fcmovcc */
        { 0xdb, 0xe8, 16 }, { 0xdf, 0xe8, 16 },                     /* fucomi(p), fcomi(p) */
        { 0xd9, 0xe0, 32 },                                         /* the one-byte group */
    };
    for (unsigned n = 1 + pick(g, 4); n > 0; n--) {
        unsigned k, p = pick(g, 20);
        if (p < 6) {
            k = pick(g, sizeof(mem) / sizeof(mem[0]));
            op1(g, mem[k].op, mem[k].reg, false, true, 0, false);
        } else if (p < 9) {
            op1(g, arith[pick(g, 4)], pick(g, 8), false, true, 0, false);
        } else if (p < 17) {
            k = pick(g, sizeof(regs) / sizeof(regs[0]));
            b1(g, regs[k].op);
            b1(g, regs[k].lo + pick(g, regs[k].n));
        } else if (p < 18) {
            b2(g, 0xe0df);                      /* fnstsw ax */
        } else if (p < 19) {
            b1(g, 0x9b);                        /* fwait */
        } else {
            b2(g, pick(g, 2) ? 0xe2db : 0xe3db); /* fnclex, fninit */
        }
    }
}

static void gen_random(gen *g)
{
    unsigned n = 1 + pick(g, 8);
    if (chance(g, 40)) {
        b1(g, 0x0f);
        n--;
    }
    for (unsigned i = 0; i < n; i++)
        b1(g, rnd(g));
}

static void gen_item(gen *g)
{
    unsigned p = pick(g, 1000);
    if (p < 210) gen_alu(g);
    else if (p < 290) gen_unary(g);
    else if (p < 330) gen_muldiv(g);
    else if (p < 420) gen_shift(g);
    else if (p < 530) gen_mov(g);
    else if (p < 570) gen_mov_imm(g);
    else if (p < 650) gen_bits(g);
    else if (p < 700) gen_xchg(g);
    else if (p < 730) gen_misc(g);
    else if (p < 820) gen_stack(g);
    else if (p < 920) gen_branch(g);
    else if (p < 930) gen_smc(g);
    else if (p < 950 || (p < 1000 && !g->dirty)) gen_string(g);
    else if (p < 960) gen_system(g);
    else if (p < 985) gen_x87(g);
    else gen_random(g);
}

/* The case: initial state and code, all from one seed.  Items beyond
 * limit are not generated (for shrinking a failing case). */
typedef struct fuzz_case {
    uint64_t seed;
    uint32_t regs[8];
    uint32_t eflags;
    bool paging;            /* identity-mapped with the changes below */
    bool wp;                /* CR0.WP */
    unsigned npte;
    struct { uint32_t lin, pte; } pte[6];  /* PTEs of the first 4 MiB changed from identity */
    gen g;
} fuzz_case;

static void make_case(fuzz_case *c, uint64_t seed, unsigned limit)
{
    memset(c, 0, sizeof(*c));
    c->seed = seed;
    gen *g = &c->g;
    g->rng = seed;
    for (int r = 0; r < 8; r++)
        c->regs[r] = value(g);
    c->regs[4] = HARNESS_STACK - 4 * pick(g, 32);
    if (chance(g, 5))
        c->regs[4] += pick(g, 4);
    c->eflags = FL_FIXED1 | (rnd(g) & FL_ARITH);
    unsigned n = 4 + pick(g, 60);
    g->dirty = chance(g, 30);
    /* Code anywhere in its page, sometimes running into the next one. */
    g->base = CODE + (chance(g, 50) ? pick(g, 0x1000) : 0xf00 + pick(g, 0x100));
    if (chance(g, 40)) {
        c->paging = g->paging = true;
        c->wp = chance(g, 50);
        /* Aliases of a data page and of the code page; a data page (or the
         * stack page) not present or read-only; a PTE without A/D bits. */
        c->pte[c->npte++].lin = ALIAS_DATA, c->pte[c->npte - 1].pte = DATA | 0x7;
        c->pte[c->npte++].lin = ALIAS_CODE, c->pte[c->npte - 1].pte = CODE_PAGE | 0x7;
        for (unsigned k = pick(g, 4); k > 0; k--) {
            uint32_t lin = chance(g, 85) ? DATA + 0x1000 * pick(g, DATA_SIZE / 0x1000)
                                         : (HARNESS_STACK - 0x1000) + 0x1000 * pick(g, 2);
            uint32_t pte = chance(g, 50) ? lin | 0x5 /* read-only */ : lin | 0x6 /* not present */;
            c->pte[c->npte].lin = lin;
            c->pte[c->npte++].pte = pte;
        }
    }
    g->nitems = n < limit ? n : limit;
    /* The rest of the stream seeds the memory contents (fill_case). */
    uint64_t code_rng = splitmix(&g->rng);
    g->rng = code_rng;
    for (g->item = 0; g->item < g->nitems; g->item++) {
        g->item_off[g->item] = g->len;
        gen_item(g);
    }
    g->item_off[g->nitems] = g->len;
    b1(g, 0xf4); /* hlt */
    for (unsigned i = 0; i < g->nfix; i++) {
        uint32_t t = g->item_off[g->fix[i].target];
        uint32_t v = g->fix[i].kind == FIX_ABS32 ? g->base + t : t - g->fix[i].end;
        if (g->fix[i].kind == FIX_REL8)
            g->code[g->fix[i].at] = (uint8_t)v;
        else
            memcpy(g->code + g->fix[i].at, &v, 4);
    }
}

/* --- the machines --- */

/* An MMIO page with side effects on reads, logging every access. */
typedef struct mmio_dev {
    uint32_t regs[16];
    uint32_t reads, writes;
    uint64_t log;            /* hash of every access in order */
} mmio_dev;

static void mmio_log(mmio_dev *d, uint32_t kind, uint32_t off, unsigned size, uint32_t v)
{
    d->log = (d->log ^ kind ^ (uint64_t)off << 8 ^ (uint64_t)size << 24 ^ (uint64_t)v << 32) *
             0x100000001b3ull;
}

static uint32_t mmio_read(void *opaque, uint32_t off, unsigned size)
{
    mmio_dev *d = opaque;
    uint32_t v = d->regs[(off >> 2) & 15] + d->reads++;
    v >>= 8 * (off & 3);
    if (size < 4)
        v &= (1u << (8 * size)) - 1;
    mmio_log(d, 1, off, size, v);
    return v;
}

static void mmio_write(void *opaque, uint32_t off, uint32_t v, unsigned size)
{
    mmio_dev *d = opaque;
    d->regs[(off >> 2) & 15] = v;
    d->writes++;
    mmio_log(d, 2, off, size, v);
}

static const mmio_ops mmio_dev_ops = { mmio_read, mmio_write };

#define LOW_BASE 0u        /* page 0, GDT, IDT, handlers, REC: restored for every case */
#define LOW_SIZE 0x5000u

typedef struct machine {
    harness *h;
    mmio_dev mmio;
    uint8_t low[LOW_SIZE];
    cpu_state pristine;
} machine;

static machine mach_i, mach_t; /* interpreter, translator */

static void put_gate(harness *h, unsigned v, uint32_t handler)
{
    uint32_t d[2] = { (handler & 0xffff) | (0x08u << 16), (handler & 0xffff0000u) | 0x8e00u };
    harness_poke(h, IDT_BASE + 8 * v, d, 8);
}

/* The parts of a machine every case shares, built once: the harness, the
 * IDT and its handlers, the ROM and MMIO pages.  Page 0x1000-0x4fff and
 * the CPU state are kept as they are then, to start each case from. */
static void machine_new(machine *m)
{
    memset(m, 0, sizeof(*m));
    m->h = harness_new(HARNESS_FLAT32);
    harness *h = m->h;
    for (unsigned v = 0; v < 256; v++) {
        put_gate(h, v, STUBS + 16 * v);
        uint8_t stub[16] = { 0xc7, 0x05 };          /* mov dword [REC], v */
        uint32_t rec = REC;
        memcpy(stub + 2, &rec, 4);
        memcpy(stub + 6, &v, 4);
        stub[10] = 0xf4;                            /* hlt */
        stub[11] = 0xeb;
        stub[12] = 0xfd;                            /* jmp hlt */
        harness_poke(h, STUBS + 16 * v, stub, 16);
    }
    uint32_t none = 0xffffffffu;
    harness_poke(h, REC, &none, 4);
    h->cpu.idtr = (cpu_dtr){ IDT_BASE, 256 * 8 - 1 };
    /* Page 0 holds HLTs: jumps to small addresses (a RET to a small value)
     * stop there instead of sliding through zeros. */
    static uint8_t hlts[0x1000];
    memset(hlts, 0xf4, sizeof(hlts));
    harness_poke(h, 0, hlts, sizeof(hlts));
    static uint8_t rom[0x1000];
    for (unsigned i = 0; i < sizeof(rom); i++)
        rom[i] = (uint8_t)(i * 7 + 3);
    assert_int_equal(phys_add_rom(&h->mem, ROM_BASE, rom, sizeof(rom), "fuzz-rom"), 0);
    assert_int_equal(phys_add_mmio(&h->mem, MMIO_BASE, 0x1000, &mmio_dev_ops, &m->mmio, "fuzz-mmio"),
                     0);
    phys_copy_from(&h->mem, LOW_BASE, m->low, sizeof(m->low));
    m->pristine = h->cpu;
}

/* Paging cases: identity mapping, 4 KiB pages for the first 4 MiB and
 * 4 MiB pages above (RAM, the MMIO and ROM pages, unassigned space, the
 * top of the address space), with the case's changed PTEs. */
static void load_paging(harness *h, const fuzz_case *c)
{
    static uint32_t pd[1024], pt[1024];
    memset(pd, 0, sizeof(pd));
    for (uint32_t i = 0; i < 1024; i++)
        pt[i] = (i << 12) | 0x7;
    for (unsigned k = 0; k < c->npte; k++)
        pt[c->pte[k].lin >> 12] = c->pte[k].pte;
    pd[0] = PT_BASE | 0x7;
    static const uint32_t big[] = { 1, 2, 3, MMIO_BASE >> 22, ROM_BASE >> 22, UNASSIGNED >> 22,
                                    1023 };
    for (unsigned k = 0; k < sizeof(big) / sizeof(big[0]); k++)
        pd[big[k]] = (big[k] << 22) | 0x87;
    harness_poke(h, PD_BASE, pd, sizeof(pd));
    harness_poke(h, PT_BASE, pt, sizeof(pt));
    cpu_state *cpu = &h->cpu;
    cpu->cr3 = PD_BASE;
    cpu->cr4 |= CR4_PSE;
    cpu->cr0 |= CR0_PG | (c->wp ? CR0_WP : 0);
    cpu_tlb_flush(cpu, false);
}

/* Start a case: RAM cleared (the pages go back to the memfd), the shared
 * low pages and the case's data, stack and code written, CPU state from
 * the case. */
static void machine_load(machine *m, const fuzz_case *c)
{
    harness *h = m->h;
    cpu_state *cpu = &h->cpu;
    phys_mem *pm = &h->mem;
    assert_int_equal(fallocate(pm->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
                               pm->ram_size), 0);
    memset(pm->code_page, 0, pm->ram_size >> 12);
    *cpu = m->pristine;
    cpu_icache_clear(cpu->icache);
    cpu_tlb_flush(cpu, false);
    harness_poke(h, LOW_BASE, m->low, sizeof(m->low));

    /* Data area and stack contents: a second stream from the seed. */
    uint64_t s = c->seed ^ 0x5deece66dull;
    static uint8_t buf[DATA_SIZE];
    for (unsigned i = 0; i < DATA_SIZE; i += 8) {
        uint64_t v = splitmix(&s);
        memcpy(buf + i, &v, 8);
    }
    harness_poke(h, DATA, buf, DATA_SIZE);
    harness_poke(h, HARNESS_STACK - 0x800, buf, 0x1000);
    harness_poke(h, c->g.base, c->g.code, c->g.len);

    memset(&m->mmio, 0, sizeof(m->mmio));
    for (int i = 0; i < 16; i++)
        m->mmio.regs[i] = 0x11111111u * (uint32_t)i;
    memcpy(cpu->regs, c->regs, sizeof(cpu->regs));
    cpu->eflags = c->eflags;
    cpu->eip = c->g.base;
    if (c->paging)
        load_paging(h, c);
}

/* Why a case stopped; NONDET: it reached an instruction whose result the
 * engines cannot agree on (RDTSC ...), LOOP: it did not halt in time. */
enum outcome { OUT_HALT, OUT_SHUTDOWN, OUT_NONDET, OUT_LOOP };

static const char *const outcome_name[] = { "halt", "shutdown", "non-deterministic", "no halt" };

typedef struct trace {
    uint32_t eip[TRACE_LEN];
    unsigned n;
} trace;

static bool nondeterministic(cpu_state *cpu, const ZydisDecoder *dec)
{
    if (!cpu->code32)
        return false; /* not 32-bit any more: not checked (rare) */
    uint8_t b[15];
    uint32_t lin = cpu->seg[S_CS].base + cpu->eip;
    if ((lin & ~0xfffu) == ALIAS_CODE && (cpu->cr0 & CR0_PG))
        lin = CODE_PAGE | (lin & 0xfff); /* else paging cases map linear = physical */
    /* RAM only: reading the MMIO page has side effects (code there is
     * fetched from the device; ROM and unassigned space hold no RDTSC). */
    for (unsigned i = 0; i < sizeof(b); i++)
        b[i] = lin + i < cpu->mem->ram_size ? cpu->mem->ram[lin + i] : 0xff;
    ZydisDecodedInstruction z;
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(dec, NULL, b, sizeof(b), &z)))
        return false;
    switch (z.mnemonic) {
    case ZYDIS_MNEMONIC_RDTSC: case ZYDIS_MNEMONIC_RDTSCP: case ZYDIS_MNEMONIC_RDPMC:
    case ZYDIS_MNEMONIC_RDRAND: case ZYDIS_MNEMONIC_RDSEED: case ZYDIS_MNEMONIC_RDMSR:
        return true; /* RDMSR: the TSC MSR */
    default:
        return false;
    }
}

static enum outcome run_interp(machine *m, trace *tr)
{
    cpu_state *cpu = &m->h->cpu;
    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    tr->n = 0;
    for (unsigned i = 0; i < MAX_STEPS; i++) {
        if (cpu->run_state == CPU_RUNNING && nondeterministic(cpu, &dec))
            return OUT_NONDET;
        tr->eip[tr->n++ % TRACE_LEN] = cpu->eip;
        enum cpu_exit e = cpu_exec(cpu, 1);
        if (e == CPU_EXIT_HALT)
            return OUT_HALT;
        if (e == CPU_EXIT_SHUTDOWN)
            return OUT_SHUTDOWN;
    }
    return OUT_LOOP;
}

static enum outcome run_tr(machine *m, tr_stats *stats)
{
    cpu_state *cpu = &m->h->cpu;
    char err[200];
    tr_engine *t = tr_new(cpu, err, sizeof(err));
    if (!t)
        fail_msg("%s", err);
    enum outcome out = OUT_LOOP;
    while (cpu->stats.instructions < MAX_STEPS + 64) {
        enum cpu_exit e = tr_exec(t, MAX_STEPS + 64 - cpu->stats.instructions);
        if (e == CPU_EXIT_HALT) {
            out = OUT_HALT;
            break;
        }
        if (e == CPU_EXIT_SHUTDOWN) {
            out = OUT_SHUTDOWN;
            break;
        }
    }
    *stats = *tr_get_stats(t);
    tr_free(t);
    return out;
}

/* --- comparison --- */

static FILE *report; /* NULL: count differences silently */

static unsigned ndiff;

static void differ(const char *fmt, ...)
{
    ndiff++;
    if (!report)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(report, "    ");
    vfprintf(report, fmt, ap);
    fprintf(report, "\n");
    va_end(ap);
}

#define CMP(field, fmt)                                                                  \
    do {                                                                                 \
        if (a->field != b->field)                                                        \
            differ("%-16s interp " fmt "  bt " fmt, #field, a->field, b->field);           \
    } while (0)

static bool strict;              /* BTVM_FUZZ_STRICT: no known differences tolerated */
static uint64_t known_ad;        /* tolerated A/D-bit differences (see compare_ram) */

static void compare_ram(machine *ma, machine *mb)
{
    bool faulted = ma->h->cpu.stats.exceptions > 0;
    uint8_t *ra = ma->h->mem.ram, *rb = mb->h->mem.ram;
    size_t pages = HARNESS_RAM >> 12;
    static unsigned char va[HARNESS_RAM >> 12], vb[HARNESS_RAM >> 12];
    if (mincore(ra, HARNESS_RAM, va) < 0 || mincore(rb, HARNESS_RAM, vb) < 0) {
        /* No residency information: compare everything. */
        memset(va, 1, sizeof(va));
    }
    unsigned shown = 0;
    for (size_t p = 0; p < pages; p++) {
        if (!((va[p] | vb[p]) & 1))
            continue;
        size_t o = p << 12;
        if (memcmp(ra + o, rb + o, 4096) == 0)
            continue;
        for (size_t i = o; i < o + 4096; i++) {
            if (ra[i] != rb[i] && !strict && faulted && (o == PD_BASE || o == PT_BASE) &&
                i % 4 == 0 && !((ra[i] ^ rb[i]) & ~0x60) && !(ra[i] & ~rb[i])) {
                /* Known (left to the translator's owner): an access that
                 * straddles two pages, or wraps past 4 GiB, and faults on
                 * its second part (#PF, or #GP/#SS for the wrap) leaves
                 * the A (and for a write D) bit of the first page set by
                 * the shadow fill; the interpreter faults before setting
                 * them.  Tolerated in cases that end in an exception;
                 * BTVM_FUZZ_STRICT=1 reports it. */
                known_ad++;
                continue;
            }
            if (ra[i] != rb[i]) {
                if (shown++ < 16)
                    differ("ram[%08zx]    interp %02x  bt %02x", i, ra[i], rb[i]);
                else
                    ndiff++;
            }
        }
    }
}

static unsigned compare(machine *ma, machine *mb)
{
    ndiff = 0;
    const cpu_state *a = &ma->h->cpu, *b = &mb->h->cpu;
    static const char *const names[8] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" };
    for (int r = 0; r < 8; r++)
        if (a->regs[r] != b->regs[r])
            differ("%-16s interp %08x  bt %08x", names[r], a->regs[r], b->regs[r]);
    CMP(eip, "%08x");
    CMP(eflags, "%08x");
    CMP(cpl, "%u");
    CMP(run_state, "%d");
    CMP(inhibit_irq, "%d");
    for (int s = 0; s < S_COUNT; s++) {
        CMP(seg[s].selector, "%04x");
        CMP(seg[s].base, "%08x");
        CMP(seg[s].limit, "%08x");
        CMP(seg[s].flags, "%04x");
    }
    CMP(cr0, "%08x");
    CMP(cr2, "%08x");
    CMP(cr3, "%08x");
    CMP(cr4, "%08x");
    CMP(gdtr.base, "%08x");
    CMP(gdtr.limit, "%04x");
    CMP(idtr.base, "%08x");
    CMP(idtr.limit, "%04x");
    CMP(stats.instructions, "%llu");
    CMP(stats.exceptions, "%llu");
    if (memcmp(a->fxsave, b->fxsave, sizeof(a->fxsave)) != 0)
        differ("fxsave image differs");
    const mmio_dev *da = &ma->mmio, *db = &mb->mmio;
    if (da->reads != db->reads || da->writes != db->writes || da->log != db->log)
        differ("mmio             interp %u reads %u writes  bt %u reads %u writes%s", da->reads,
               da->writes, db->reads, db->writes, da->log != db->log ? " (different accesses)" : "");
    compare_ram(ma, mb);
    return ndiff;
}

#undef CMP

/* --- one case --- */

typedef struct case_result {
    enum outcome out_i, out_t;
    unsigned ndiff;
    tr_stats st;
    trace tr;
    uint32_t vector;
} case_result;

static void run_case(const fuzz_case *c, case_result *res, bool verbose)
{
    machine *mi = &mach_i, *mt = &mach_t;
    if (!mi->h) {
        machine_new(mi);
        machine_new(mt);
    }
    machine_load(mi, c);
    machine_load(mt, c);
    memset(res, 0, sizeof(*res));
    res->out_i = run_interp(mi, &res->tr);
    if (res->out_i == OUT_NONDET || res->out_i == OUT_LOOP)
        return;
    res->out_t = run_tr(mt, &res->st);
    report = verbose ? stderr : NULL;
    res->ndiff = compare(mi, mt);
    if (res->out_i != res->out_t) {
        res->ndiff++;
        if (verbose)
            fprintf(stderr, "    outcome          interp %s  bt %s\n", outcome_name[res->out_i],
                    outcome_name[res->out_t]);
    }
    report = NULL;
    res->vector = harness_peek32(mi->h, REC);
    if (getenv("BTVM_FUZZ_VERBOSE") && res->vector < 32) {
        cpu_state *cpu = &mi->h->cpu;
        uint32_t esp = cpu->regs[R_ESP], feip = 0;
        uint8_t bytes[8] = { 0 };
        if (esp + 16 < HARNESS_RAM) {
            feip = harness_peek32(mi->h, esp + (cpu_vector_has_error((int)res->vector) ? 4 : 0));
            if (feip + 8 < HARNESS_RAM)
                phys_copy_from(&mi->h->mem, feip, bytes, 8);
        }
        fprintf(stderr, "vector %u at %08x: %02x %02x %02x %02x %02x %02x %02x %02x\n", res->vector,
                feip, bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6],
                bytes[7]);
    }
}

static void disassemble(const fuzz_case *c, const trace *tr)
{
    ZydisDecoder dec;
    ZydisFormatter fmt;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    ZydisFormatterInit(&fmt, ZYDIS_FORMATTER_STYLE_INTEL);
    const gen *g = &c->g;
    fprintf(stderr, "  code (%u bytes at %08x)%s:\n", g->len, g->base,
            c->paging ? ", paging on (see make_case)" : "");
    unsigned off = 0, item = 0;
    while (off < g->len) {
        while (item <= g->nitems && g->item_off[item] < off)
            item++;
        if (item <= g->nitems && g->item_off[item] == off)
            fprintf(stderr, "   item %u:\n", item);
        ZydisDecodedInstruction z;
        ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
        char text[96];
        unsigned len = 1;
        if (ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, g->code + off, g->len - off, &z, op))) {
            ZydisFormatterFormatInstruction(&fmt, &z, op, z.operand_count_visible, text,
                                            sizeof(text), g->base + off, NULL);
            len = z.length;
        } else {
            snprintf(text, sizeof(text), "(bad)");
        }
        char hex[48] = "";
        for (unsigned i = 0; i < len && i < 15; i++)
            snprintf(hex + 3 * i, sizeof(hex) - 3 * i, "%02x ", g->code[off + i]);
        fprintf(stderr, "    %08x  %-45s %s\n", g->base + off, hex, text);
        off += len;
    }
    fprintf(stderr, "  bytes:");
    for (unsigned i = 0; i < g->len; i++)
        fprintf(stderr, "%s%02x", i % 32 ? " " : "\n    ", g->code[i]);
    fprintf(stderr, "\n  executed (interpreter, last %u of %u):", tr->n < TRACE_LEN ? tr->n : TRACE_LEN,
            tr->n);
    unsigned first = tr->n > TRACE_LEN ? tr->n - TRACE_LEN : 0;
    for (unsigned i = first; i < tr->n; i++)
        fprintf(stderr, "%s%08x", (i - first) % 8 ? " " : "\n    ", tr->eip[i % TRACE_LEN]);
    fprintf(stderr, "\n");
}

/* Shrink to the shortest failing prefix of items, then report. */
static void report_mismatch(uint64_t seed)
{
    static fuzz_case c;
    case_result res;
    make_case(&c, seed, MAX_ITEMS);
    unsigned full = c.g.nitems, k;
    for (k = 1; k < full; k++) {
        make_case(&c, seed, k);
        run_case(&c, &res, false);
        if (res.ndiff)
            break;
    }
    make_case(&c, seed, k);
    fprintf(stderr, "\nbt_diff MISMATCH: BTVM_FUZZ_SEED=%llu BTVM_FUZZ_CASES=1 "
            "(shortest failing prefix: %u of %u items)\n",
            (unsigned long long)seed, k, full);
    fprintf(stderr, "  initial: eax=%08x ecx=%08x edx=%08x ebx=%08x esp=%08x ebp=%08x esi=%08x "
            "edi=%08x eflags=%08x\n", c.regs[0], c.regs[1], c.regs[2], c.regs[3], c.regs[4],
            c.regs[5], c.regs[6], c.regs[7], c.eflags);
    run_case(&c, &res, true);
    fprintf(stderr, "  exception vector recorded: %08x; bt: %llu blocks, %llu identical, %llu "
            "rewritten, %llu interpreted, %llu traps\n", res.vector,
            (unsigned long long)res.st.blocks_translated,
            (unsigned long long)res.st.insns_identical, (unsigned long long)res.st.insns_rewritten,
            (unsigned long long)res.st.insns_interpreted, (unsigned long long)res.st.traps);
    disassemble(&c, &res.tr);
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    return s && *s ? strtoull(s, NULL, 0) : dflt;
}

static void test_fuzz(void **state)
{
    (void)state;
    uint64_t cases = env_u64("BTVM_FUZZ_CASES", 2000);
    uint64_t seed0 = env_u64("BTVM_FUZZ_SEED", 1);
    uint64_t max_fail = env_u64("BTVM_FUZZ_MAX_FAILURES", 1);
    strict = env_u64("BTVM_FUZZ_STRICT", 0) != 0;
    uint64_t fails = 0, skipped = 0, exceptions = 0, halted = 0, insns = 0;
    uint64_t identical = 0, rewritten = 0, interpreted = 0, traps = 0;
    uint64_t vectors[33] = { 0 };
    static fuzz_case c;
    for (uint64_t i = 0; i < cases; i++) {
        case_result res;
        make_case(&c, seed0 + i, MAX_ITEMS);
        run_case(&c, &res, false);
        if (res.out_i == OUT_NONDET || res.out_i == OUT_LOOP) {
            skipped++;
            continue;
        }
        halted++;
        exceptions += res.vector != 0xffffffffu;
        vectors[res.vector < 32 ? res.vector : 32]++;
        identical += res.st.insns_identical;
        rewritten += res.st.insns_rewritten;
        interpreted += res.st.insns_interpreted;
        traps += res.st.traps;
        insns += res.tr.n;
        if (getenv("BTVM_FUZZ_VERBOSE"))
            fprintf(stderr, "case %llu: %u insns, vector %x, bt %llu blocks %llu identical %llu "
                    "rewritten %llu interpreted %llu traps\n", (unsigned long long)(seed0 + i),
                    res.tr.n, res.vector, (unsigned long long)res.st.blocks_translated,
                    (unsigned long long)res.st.insns_identical,
                    (unsigned long long)res.st.insns_rewritten,
                    (unsigned long long)res.st.insns_interpreted, (unsigned long long)res.st.traps);
        if (res.ndiff) {
            report_mismatch(seed0 + i);
            if (++fails >= max_fail)
                break;
        }
    }
    fprintf(stderr, "bt_diff: %llu cases from seed %llu: %llu compared (%llu ended in an "
            "exception), %llu skipped, %llu mismatches; %llu guest instructions: bt %llu identical, "
            "%llu rewritten, %llu interpreted, %llu host traps\n",
            (unsigned long long)cases, (unsigned long long)seed0, (unsigned long long)halted,
            (unsigned long long)exceptions, (unsigned long long)skipped, (unsigned long long)fails,
            (unsigned long long)insns, (unsigned long long)identical,
            (unsigned long long)rewritten, (unsigned long long)interpreted,
            (unsigned long long)traps);
    fprintf(stderr, "bt_diff: cases ending in exception vector:");
    for (int v = 0; v < 32; v++)
        if (vectors[v])
            fprintf(stderr, " #%d:%llu", v, (unsigned long long)vectors[v]);
    fprintf(stderr, " none/other:%llu\n", (unsigned long long)vectors[32]);
    if (known_ad)
        fprintf(stderr, "bt_diff: tolerated known differences: %llu A/D bits set by an access "
                "that faults on its second page (BTVM_FUZZ_STRICT=1 fails on them)\n",
                (unsigned long long)known_ad);
    assert_int_equal(fails, 0);
}

/* --- fixed cases: reproducers of mismatches found, as regression tests --- */

typedef struct fixed_case {
    const char *what;
    const char *bytes;       /* hex, at CODE; a HLT follows */
    uint64_t seed;           /* data area and stack contents (as a fuzz case's) */
    uint32_t regs[8];        /* all zero: ESP = HARNESS_STACK, ESI/EDI into DATA */
    uint32_t eflags;
} fixed_case;

static const fixed_case fixed_cases[] = {
    { "fist with only the precision exception unmasked (the reset FCW) stores its result",
      "d9 ea db 15 00 00 02 00", 0, { 0 }, 0 },
    { "tzcnt: bsf on the guest (i686), tzcnt on a BMI1 host",
      "b8 01 00 00 00 f3 0f bc c8", 0, { 0 }, 0 },
    { "code fetched from the MMIO page (a RET into it): fetches have side effects",
      "8c 0d 61 04 02 00 e8 0a 00 00 00 0f ca e9 12 00 00 00 13 ac 2d b8 79 10 02 00 c7 40 f6 09 5b ed "
      "de 66 8a e9 49 d0 c3 0f ce bb 4f 00 00 02 0f b1 53 e1 8d 6c 24 16 c7 05 18 1d 02 00 58 00 01 00 "
      "ff 25 18 1d 02 00 5f be 09 00 00 00 ba 00 00 00 00 0f af 74 72 ed 66 4a e8 02 00 00 00 7a 00 be "
      "00 00 00 00 b9 00 80 00 00 fe 8c 71 51 8d 01 00 2c e4 f5 66 6a dd ff 35 db 15 02 00 39 cb 0f c0 "
      "cd 5d 0f af ed ba e4 fe 07 00 66 c7 42 38 b4 82 98 0f 8b 11 00 00 00 bf 63 00 00 00 bd 84 0b 02 "
      "00 0f ab 8d 98 f6 ff ff 0f 95 c5 b9 78 ff 07 00 3b 79 0f be 24 00 08 00 0f c7 4e b9 a8 17 c7 05 "
      "2c 14 02 00 a3 00 00 00 0f ba e0 17 66 d2 25 b4 01 02 00 81 87 44 6c 22 21 b0 82 31 ad a8 50 66 "
      "14 20 d0 d0 26 0f af 2c 24 68 ef 00 01 00 c3 ba 01 00 00 00 66 0f ad 2c 15 37 00 00 02 08 7c 89 "
      "3a 53 c3 64",
      118746, { 0x00007fff, 0x4b1d3f1e, 0xa6a492db, 0x67eaf871, 0x0007ff84, 0x3753a892, 0xf5ac332f,
                0x45a8aed0 }, 0x843 },
};

static unsigned hex_bytes(const char *s, uint8_t *out, unsigned max)
{
    unsigned n = 0;
    while (*s && n < max) {
        char *end;
        unsigned long v = strtoul(s, &end, 16);
        if (end == s)
            break;
        out[n++] = (uint8_t)v;
        s = end;
    }
    return n;
}

static void test_fixed(void **state)
{
    (void)state;
    static fuzz_case c;
    unsigned failed = 0;
    for (size_t i = 0; i < sizeof(fixed_cases) / sizeof(fixed_cases[0]); i++) {
        const fixed_case *f = &fixed_cases[i];
        memset(&c, 0, sizeof(c));
        c.seed = f->seed;
        c.regs[4] = HARNESS_STACK;
        c.regs[6] = DATA;
        c.regs[7] = DATA + 0x100;
        c.eflags = FL_FIXED1 | f->eflags;
        if (f->regs[4])
            memcpy(c.regs, f->regs, sizeof(c.regs));
        c.g.base = CODE;
        c.g.len = hex_bytes(fixed_cases[i].bytes, c.g.code, CODE_MAX - 1);
        c.g.code[c.g.len++] = 0xf4;
        c.g.item_off[0] = 0;
        c.g.item_off[1] = c.g.len - 1;
        c.g.nitems = 1;
        case_result res;
        run_case(&c, &res, false);
        if (res.ndiff) {
            fprintf(stderr, "fixed case %zu (%s): MISMATCH\n", i, fixed_cases[i].what);
            run_case(&c, &res, true);
            disassemble(&c, &res.tr);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

int main(void)
{
    /* Keep the translator's large tables (tr_new per case) in fresh mmaps:
     * glibc would otherwise serve them from the heap and clear them. */
    mallopt(M_MMAP_THRESHOLD, 256 << 10);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
