/*
 * Arithmetic flags computed by the host CPU, and condition codes.
 *
 * The host is the same ISA as the guest, so the cheapest exact way to get
 * the flags of a guest ADD, SHL or IMUL is to run that ADD, SHL or IMUL
 * on the host with the guest's arithmetic flags loaded: the host then
 * also reproduces what the manual leaves undefined (flags after a
 * multiply, a shift by more than one, BSF of zero), preserves what the
 * manual preserves (CF across INC/DEC, every flag across a shift by 0),
 * and masks shift counts as the guest would (SDM Vol. 2B "SAL/SAR/SHL/
 * SHR": count & 0x1f for 8/16/32-bit operands, also in 64-bit mode).
 *
 * HF_ASM wraps one host instruction: load the guest's CF PF AF ZF SF OF
 * (and nothing else: TF, DF, AC stay clear on the host) with popfq, run
 * it, read the flags back with pushfq.  The pushes go below the 128-byte
 * red zone of the SysV ABI, which the compiler may be using around the
 * asm statement; operands are therefore registers only (an "m" operand
 * could be addressed relative to the moved RSP).
 */
#ifndef BTVM_CPU_HOSTFLAGS_H
#define BTVM_CPU_HOSTFLAGS_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"

#define HF_PRE  "add $-128, %%rsp\n\tpushq %[f]\n\tpopfq\n\t"
#define HF_POST "\n\tpushfq\n\tpopq %[f]\n\tsub $-128, %%rsp"
/* asm(HF_ASM("addl %[s], %[d]") : outputs incl. [f] "+r"(f) : inputs : "cc") */
#define HF_ASM(insn) HF_PRE insn HF_POST

/* Host RFLAGS image carrying the guest's arithmetic flags (bit 1 reserved set). */
static inline uint64_t hf_in(uint32_t eflags)
{
    return (eflags & FL_ARITH) | FL_FIXED1;
}

/* Merge the host's arithmetic flags back into the guest's EFLAGS. */
static inline uint32_t hf_out(uint32_t eflags, uint64_t host)
{
    return (eflags & ~FL_ARITH) | ((uint32_t)host & FL_ARITH);
}

/* Flags of CMP a, b at width size (1, 2, 4): for CMPS, SCAS and the
 * like outside alu.c. */
static inline uint32_t hf_cmp(unsigned size, uint32_t a, uint32_t b, uint32_t eflags)
{
    uint64_t f = hf_in(eflags);
    if (size == 1) {
        uint8_t x = (uint8_t)a, y = (uint8_t)b;
        __asm__(HF_ASM("cmpb %[y], %[x]") : [f] "+r"(f) : [x] "q"(x), [y] "q"(y) : "cc");
    } else if (size == 2) {
        uint16_t x = (uint16_t)a, y = (uint16_t)b;
        __asm__(HF_ASM("cmpw %[y], %[x]") : [f] "+r"(f) : [x] "r"(x), [y] "r"(y) : "cc");
    } else {
        __asm__(HF_ASM("cmpl %[y], %[x]") : [f] "+r"(f) : [x] "r"(a), [y] "r"(b) : "cc");
    }
    return hf_out(eflags, f);
}

/*
 * Condition code cc (the low nibble of Jcc/SETcc/CMOVcc opcodes: 70+cc,
 * 0F 80+cc, 0F 90+cc, 0F 40+cc) against EFLAGS (SDM Vol. 1 Appendix B,
 * Table B-1).  Odd codes are the negation of the even code below them.
 */
static inline bool cpu_cond(uint32_t fl, unsigned cc)
{
    bool r;
    switch ((cc >> 1) & 7) {
    case 0: r = fl & FL_OF; break;                                  /* O */
    case 1: r = fl & FL_CF; break;                                  /* B */
    case 2: r = fl & FL_ZF; break;                                  /* Z */
    case 3: r = fl & (FL_CF | FL_ZF); break;                        /* BE */
    case 4: r = fl & FL_SF; break;                                  /* S */
    case 5: r = fl & FL_PF; break;                                  /* P */
    case 6: r = !(fl & FL_SF) != !(fl & FL_OF); break;              /* L */
    default: r = (fl & FL_ZF) || !(fl & FL_SF) != !(fl & FL_OF); break; /* LE */
    }
    return r != (cc & 1);
}

#endif
