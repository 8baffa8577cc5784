/*
 * x87/SSE control instructions, emulated in C (SDM Vol. 1 §8.1.10 x87
 * environment, §8.3.12 control instructions, §10.5 FXSAVE, §10.2.3 MXCSR;
 * Vol. 2 FSTENV/FLDENV/FSAVE/FRSTOR/FXSAVE/FXRSTOR/LDMXCSR).
 *
 * Why not natively like the rest (fpu.c): FSTENV and FSAVE store
 * formats that depend on the guest's operand size and on real versus
 * protected mode (the host only knows protected mode), and they store
 * last-instruction pointers that must be the guest's, not the host's;
 * FXRSTOR, LDMXCSR and FLDCW load values the host must first be
 * protected from (reserved MXCSR bits fault on the host).  All of these
 * only move the FXSAVE image around, so C is short and exact.
 */
#include <stdio.h>

#include "cpu/exception.h"
#include "cpu/fpu.h"
#include "cpu/mem.h"
#include "cpu/operand.h"

/* The memory operand of a control instruction: always operand 0. */
static int mem_op(cpu_state *cpu, const cpu_insn *in, uint32_t *ea)
{
    if (in->op[0].type != ZYDIS_OPERAND_TYPE_MEMORY)
        cpu_fault(cpu, EXC_UD, 0);
    *ea = op_ea(cpu, in, 0);
    return op_sreg(in, 0);
}

void fpu_fwait(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    /* WAIT is #NM only with both TS and MP (SDM Vol. 3A Table 2-2). */
    if ((cpu->cr0 & (CR0_TS | CR0_MP)) == (CR0_TS | CR0_MP))
        cpu_fault(cpu, EXC_NM, 0);
    if (fpu_x87_pending(cpu->fxsave))
        cpu_fault(cpu, EXC_MF, 0);
}

static void x87_init(uint8_t *fx)
{
    /* FNINIT (Vol. 2): FCW 037F, FSW 0, all tags empty, pointers 0; the
     * registers themselves and MXCSR are kept. */
    fx_put16(fx, FX_FCW, FCW_INIT);
    fx_put16(fx, FX_FSW, 0);
    fx[FX_FTW] = 0;
    memset(fx + FX_FOP, 0, FX_MXCSR - FX_FOP);
}

void fpu_fninit(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    fpu_check(cpu, FPU_X87_NOWAIT);
    x87_init(cpu->fxsave);
}

void fpu_fnclex(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    fpu_check(cpu, FPU_X87_NOWAIT);
    /* clears PE UE OE ZE DE IE, SF, ES and B */
    fx_put16(cpu->fxsave, FX_FSW, fx_get16(cpu->fxsave, FX_FSW) & 0x7f00);
}

/* Reserved FCW bits: 6 reads as 1, 13-15 as 0 (as a P6/P4 stores them). */
static uint16_t fcw_clean(uint16_t v)
{
    return (uint16_t)((v & 0x1f3f) | 0x0040);
}

void fpu_fldcw(cpu_state *cpu, cpu_insn *in)
{
    uint32_t ea;
    fpu_check(cpu, FPU_X87);
    int s = mem_op(cpu, in, &ea);
    uint16_t v = (uint16_t)cpu_read(cpu, s, ea, 2);
    fx_put16(cpu->fxsave, FX_FCW, fcw_clean(v));
    /* Unmasking a raised flag makes it pending: ES set, #MF at the next
     * waiting instruction (Vol. 2 FLDCW). */
    fpu_sync_es(cpu->fxsave);
}

void fpu_fnstcw(cpu_state *cpu, cpu_insn *in)
{
    uint32_t ea;
    fpu_check(cpu, FPU_X87_NOWAIT);
    int s = mem_op(cpu, in, &ea);
    cpu_write(cpu, s, ea, fx_get16(cpu->fxsave, FX_FCW), 2);
}

void fpu_fnstsw(cpu_state *cpu, cpu_insn *in)
{
    fpu_check(cpu, FPU_X87_NOWAIT);
    uint16_t fsw = fx_get16(cpu->fxsave, FX_FSW);
    if (in->op[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
        cpu_reg_set(cpu, ZYDIS_REGISTER_AX, fsw);
        return;
    }
    uint32_t ea;
    int s = mem_op(cpu, in, &ea);
    cpu_write(cpu, s, ea, fsw, 2);
}

/*
 * The full tag word (Vol. 1 §8.1.7, Figure 8-7) from the abridged one:
 * two bits per physical register — 00 valid, 01 zero, 10 special (NaN,
 * infinity, denormal, unsupported), 11 empty.
 */
static uint16_t full_tag(const uint8_t *fx)
{
    unsigned top = (fx_get16(fx, FX_FSW) >> FSW_TOP_SHIFT) & 7;
    uint16_t tw = 0;
    for (unsigned p = 0; p < 8; p++) {
        unsigned tag = 3;
        if (fx[FX_FTW] & (1u << p)) {
            const uint8_t *r = fx + FX_ST + 16 * ((p - top) & 7);
            uint64_t mant;
            memcpy(&mant, r, 8);
            unsigned exp = fx_get16(r, 8) & 0x7fff;
            if (exp == 0x7fff)
                tag = 2;
            else if (exp == 0)
                tag = mant ? 2 : 1;
            else
                tag = (mant >> 63) ? 0 : 2; /* J bit clear: unnormal */
        }
        tw |= (uint16_t)(tag << (2 * p));
    }
    return tw;
}

static uint8_t abridged_tag(uint16_t tw)
{
    uint8_t t = 0;
    for (unsigned p = 0; p < 8; p++)
        if (((tw >> (2 * p)) & 3) != 3)
            t |= (uint8_t)(1u << p);
    return t;
}

/*
 * The x87 environment in memory (Vol. 1 §8.1.10, Figures 8-9 to 8-12):
 * 28 bytes with a 32-bit operand size, 14 with 16; in real and v86 mode
 * the pointers are 20-bit (32-bit operand: 32-bit) linear addresses
 * split around the opcode, in protected mode offsets and selectors.
 * The image keeps offsets and selectors; a real-mode pointer is
 * linear = selector * 16 + offset, and loads keep it with selector 0.
 */
static unsigned env_size(const cpu_insn *in)
{
    return in->opsize == 4 ? 28 : 14;
}

static void env_store(const cpu_state *cpu, const cpu_insn *in, uint8_t *m)
{
    const uint8_t *fx = cpu->fxsave;
    uint16_t fcw = fx_get16(fx, FX_FCW), fsw = fx_get16(fx, FX_FSW), ftw = full_tag(fx);
    uint32_t fip = fx_get32(fx, FX_FIP), fdp = fx_get32(fx, FX_FDP);
    uint16_t fcs = fx_get16(fx, FX_FCS), fds = fx_get16(fx, FX_FDS);
    uint16_t fop = fx_get16(fx, FX_FOP) & 0x7ff;
    bool real = !cpu_protected(cpu) || cpu_v86(cpu);
    if (real) {
        fip += (uint32_t)fcs << 4;
        fdp += (uint32_t)fds << 4;
    }
    if (in->opsize == 4) {
        /* reserved upper halves read as ones, as on Intel parts */
        fx_put32(m, 0, 0xffff0000u | fcw);
        fx_put32(m, 4, 0xffff0000u | fsw);
        fx_put32(m, 8, 0xffff0000u | ftw);
        if (real) {
            fx_put32(m, 12, 0xffff0000u | (fip & 0xffff));
            fx_put32(m, 16, (fip >> 16) << 12 | fop);
            fx_put32(m, 20, 0xffff0000u | (fdp & 0xffff));
            fx_put32(m, 24, (fdp >> 16) << 12);
        } else {
            fx_put32(m, 12, fip);
            fx_put32(m, 16, (uint32_t)fop << 16 | fcs);
            fx_put32(m, 20, fdp);
            fx_put32(m, 24, 0xffff0000u | fds);
        }
    } else {
        fx_put16(m, 0, fcw);
        fx_put16(m, 2, fsw);
        fx_put16(m, 4, ftw);
        if (real) {
            fx_put16(m, 6, (uint16_t)fip);
            fx_put16(m, 8, (uint16_t)(((fip >> 16) & 0xf) << 12 | fop));
            fx_put16(m, 10, (uint16_t)fdp);
            fx_put16(m, 12, (uint16_t)(((fdp >> 16) & 0xf) << 12));
        } else {
            fx_put16(m, 6, (uint16_t)fip);
            fx_put16(m, 8, fcs);
            fx_put16(m, 10, (uint16_t)fdp);
            fx_put16(m, 12, fds);
        }
    }
}

static void env_load(cpu_state *cpu, const cpu_insn *in, const uint8_t *m, uint8_t *fx)
{
    bool real = !cpu_protected(cpu) || cpu_v86(cpu);
    uint16_t fcw, fsw, ftw, fop = 0, fcs = 0, fds = 0;
    uint32_t fip, fdp;
    if (in->opsize == 4) {
        fcw = fx_get16(m, 0);
        fsw = fx_get16(m, 4);
        ftw = fx_get16(m, 8);
        if (real) {
            fip = fx_get16(m, 12) | (fx_get32(m, 16) >> 12 & 0xffff) << 16;
            fop = fx_get32(m, 16) & 0x7ff;
            fdp = fx_get16(m, 20) | (fx_get32(m, 24) >> 12 & 0xffff) << 16;
        } else {
            fip = fx_get32(m, 12);
            fcs = fx_get16(m, 16);
            fop = (fx_get32(m, 16) >> 16) & 0x7ff;
            fdp = fx_get32(m, 20);
            fds = fx_get16(m, 24);
        }
    } else {
        fcw = fx_get16(m, 0);
        fsw = fx_get16(m, 2);
        ftw = fx_get16(m, 4);
        if (real) {
            fip = fx_get16(m, 6) | (uint32_t)(fx_get16(m, 8) >> 12) << 16;
            fop = fx_get16(m, 8) & 0x7ff;
            fdp = fx_get16(m, 10) | (uint32_t)(fx_get16(m, 12) >> 12) << 16;
        } else {
            fip = fx_get16(m, 6);
            fcs = fx_get16(m, 8);
            fdp = fx_get16(m, 10);
            fds = fx_get16(m, 12);
        }
    }
    fx_put16(fx, FX_FCW, fcw_clean(fcw));
    fx_put16(fx, FX_FSW, fsw);
    fx[FX_FTW] = abridged_tag(ftw);
    fx_put16(fx, FX_FOP, fop);
    fx_put32(fx, FX_FIP, fip);
    fx_put32(fx, FX_FCS, fcs);
    fx_put32(fx, FX_FDP, fdp);
    fx_put32(fx, FX_FDS, fds);
    fpu_sync_es(fx);
}

void fpu_fnstenv(cpu_state *cpu, cpu_insn *in)
{
    uint32_t ea;
    uint8_t m[28];
    fpu_check(cpu, FPU_X87_NOWAIT);
    int s = mem_op(cpu, in, &ea);
    env_store(cpu, in, m);
    cpu_write_block(cpu, s, ea, m, env_size(in));
    /* then masks every x87 exception (Vol. 2 FSTENV) */
    fx_put16(cpu->fxsave, FX_FCW, fx_get16(cpu->fxsave, FX_FCW) | FCW_MASKS);
    fpu_sync_es(cpu->fxsave);
}

void fpu_fldenv(cpu_state *cpu, cpu_insn *in)
{
    uint32_t ea;
    uint8_t m[28];
    fpu_check(cpu, FPU_X87);
    int s = mem_op(cpu, in, &ea);
    cpu_read_block(cpu, s, ea, m, env_size(in));
    env_load(cpu, in, m, cpu->fxsave);
}

/* FSAVE: the environment, then ST(0)..ST(7) as 10-byte reals, then FNINIT. */
void fpu_fnsave(cpu_state *cpu, cpu_insn *in)
{
    uint32_t ea;
    uint8_t m[108];
    fpu_check(cpu, FPU_X87_NOWAIT);
    int s = mem_op(cpu, in, &ea);
    unsigned env = env_size(in);
    env_store(cpu, in, m);
    for (unsigned i = 0; i < 8; i++)
        memcpy(m + env + 10 * i, cpu->fxsave + FX_ST + 16 * i, 10);
    cpu_write_block(cpu, s, ea, m, env + 80);
    x87_init(cpu->fxsave);
}

void fpu_frstor(cpu_state *cpu, cpu_insn *in)
{
    uint32_t ea;
    uint8_t m[108];
    _Alignas(16) uint8_t fx[512];
    fpu_check(cpu, FPU_X87);
    int s = mem_op(cpu, in, &ea);
    unsigned env = env_size(in);
    cpu_read_block(cpu, s, ea, m, env + 80);
    memcpy(fx, cpu->fxsave, sizeof(fx));
    env_load(cpu, in, m, fx);
    for (unsigned i = 0; i < 8; i++) {
        memset(fx + FX_ST + 16 * i, 0, 16);
        memcpy(fx + FX_ST + 16 * i, m + env + 10 * i, 10);
    }
    memcpy(cpu->fxsave, fx, sizeof(fx));
}

/* FXSAVE/FXRSTOR: a 16-byte aligned m512 (#GP otherwise, whatever the
 * segment: Vol. 2 FXSAVE).  Bytes 288-463 are stored as zeros (XMM8-15
 * do not exist outside 64-bit mode), 464-511 are left to software. */
static int fx_operand(cpu_state *cpu, const cpu_insn *in, uint32_t *ea, bool write)
{
    int s = mem_op(cpu, in, ea);
    if (cpu_linear(cpu, s, *ea, 512, write) & 15)
        cpu_fault(cpu, EXC_GP, 0);
    return s;
}

void fpu_fxsave(cpu_state *cpu, cpu_insn *in)
{
    uint32_t ea;
    fpu_check(cpu, FPU_FXSR);
    int s = fx_operand(cpu, in, &ea, true);
    cpu_check_access(cpu, s, ea, 512, true);
    cpu_write_block(cpu, s, ea, cpu->fxsave, 464);
}

void fpu_fxrstor(cpu_state *cpu, cpu_insn *in)
{
    uint32_t ea;
    _Alignas(16) uint8_t m[512];
    fpu_check(cpu, FPU_FXSR);
    int s = fx_operand(cpu, in, &ea, false);
    cpu_read_block(cpu, s, ea, m, 512);
    if (fx_get32(m, FX_MXCSR) & ~fpu_mxcsr_mask(cpu))
        cpu_fault(cpu, EXC_GP, 0);
    memcpy(m + FX_MXCSR_MASK, cpu->fxsave + FX_MXCSR_MASK, 4);
    m[FX_FTW + 1] = 0;
    fx_put16(m, FX_FOP, fx_get16(m, FX_FOP) & 0x7ff);
    memset(m + FX_SAVED, 0, sizeof(m) - FX_SAVED);
    fpu_sync_es(m);
    memcpy(cpu->fxsave, m, sizeof(m));
}

void fpu_ldmxcsr(cpu_state *cpu, cpu_insn *in)
{
    uint32_t ea;
    fpu_check(cpu, FPU_SSE);
    int s = mem_op(cpu, in, &ea);
    uint32_t v = cpu_read(cpu, s, ea, 4);
    if (v & ~fpu_mxcsr_mask(cpu))
        cpu_fault(cpu, EXC_GP, 0);
    fx_put32(cpu->fxsave, FX_MXCSR, v);
}

void fpu_stmxcsr(cpu_state *cpu, cpu_insn *in)
{
    uint32_t ea;
    fpu_check(cpu, FPU_SSE);
    int s = mem_op(cpu, in, &ea);
    cpu_write(cpu, s, ea, fx_get32(cpu->fxsave, FX_MXCSR), 4);
}

/* SFENCE, LFENCE, MFENCE: the interpreter is one thread doing one access
 * at a time; a host fence orders them against device threads too. */
void fpu_fence(cpu_state *cpu, cpu_insn *in)
{
    (void)cpu;
    (void)in;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* PREFETCHh: a hint that never faults (Vol. 2 PREFETCHh). */
void fpu_prefetch(cpu_state *cpu, cpu_insn *in)
{
    (void)cpu;
    (void)in;
}

/* CLFLUSH: no caches to flush, but the access is checked like a one-byte
 * read (segment and page faults, Vol. 2 CLFLUSH). */
void fpu_clflush(cpu_state *cpu, cpu_insn *in)
{
    uint32_t ea;
    int s = mem_op(cpu, in, &ea);
    cpu_check_access(cpu, s, ea, 1, false);
}

/* MOVNTI m32, r32: an ordinary store here. */
void fpu_movnti(cpu_state *cpu, cpu_insn *in)
{
    uint32_t ea;
    int s = mem_op(cpu, in, &ea);
    cpu_write(cpu, s, ea, cpu_reg_get(cpu, in->op[1].reg.value), 4);
}
