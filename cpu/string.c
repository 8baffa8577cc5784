/*
 * String instructions: MOVS STOS LODS CMPS SCAS INS OUTS in byte, word
 * and dword widths, with REP / REPE / REPNE.
 * SDM Vol. 1 §7.3.9, Vol. 2 "REP/REPE/REPZ/REPNE/REPNZ", "MOVS", "INS";
 * Vol. 3A §20.2.8 for the I/O permission of INS/OUTS.
 *
 * Source operands are seg:(E)SI with seg DS unless overridden; the
 * destination is always ES:(E)DI.  The address size (not the operand
 * size) picks SI/DI/CX or ESI/EDI/ECX, and the indexes wrap within it.
 * EFLAGS.DF picks the direction.
 *
 * A repeated instruction is interruptible (SDM Vol. 1 §7.3.9.2): each
 * iteration updates (E)CX/(E)SI/(E)DI as it completes, so a fault
 * mid-way leaves them pointing at the element that faulted and the
 * instruction restarts from there.  After REP_BUDGET iterations the
 * handler stops with EIP back at the instruction itself, so pending
 * interrupts are taken and the rest runs on the next pass.  Under TF
 * every iteration is its own pass, so each one traps, as on hardware.
 *
 * The F2 prefix on MOVS/STOS/LODS/INS/OUTS repeats like F3.
 */
#include "cpu/exception.h"
#include "cpu/hostflags.h"
#include "cpu/io.h"
#include "cpu/mem.h"
#include "cpu/operand.h"
#include "cpu/ops.h"

#define REP_BUDGET 4096

enum str_kind { K_MOVS, K_STOS, K_LODS, K_CMPS, K_SCAS, K_INS, K_OUTS };

/* The source segment: the override on the (E)SI memory operand, else DS. */
static int source_seg(const cpu_insn *in)
{
    for (int i = 0; i < in->z.operand_count; i++) {
        const ZydisDecodedOperand *o = &in->op[i];
        if (o->type == ZYDIS_OPERAND_TYPE_MEMORY &&
            (o->mem.base == ZYDIS_REGISTER_ESI || o->mem.base == ZYDIS_REGISTER_SI))
            return op_sreg(in, i);
    }
    return S_DS;
}

static inline void index_step(cpu_state *cpu, int reg, uint32_t amask, uint32_t step)
{
    cpu->regs[reg] = (cpu->regs[reg] & ~amask) | ((cpu->regs[reg] + step) & amask);
}

static void string_op(cpu_state *cpu, cpu_insn *in, enum str_kind k)
{
    unsigned size = in->z.operand_width / 8;
    uint32_t amask = size_mask(in->addrsize);
    uint32_t step = (cpu->eflags & FL_DF) ? -size : size;
    bool rep = in->rep != 0;
    bool cond = k == K_CMPS || k == K_SCAS; /* REPE/REPNE test ZF */
    int src = source_seg(in);
    uint16_t port = (uint16_t)cpu->regs[R_EDX];
    unsigned budget = (cpu->eflags & FL_TF) ? 1 : REP_BUDGET;

    if (k == K_INS || k == K_OUTS)
        cpu_io_check(cpu, port, size);

    for (unsigned n = 0;; n++) {
        if (rep) {
            if ((cpu->regs[R_ECX] & amask) == 0)
                return;
            if (n == budget) {
                cpu->eip = in->eip; /* the rest on the next pass */
                return;
            }
        }
        uint32_t si = cpu->regs[R_ESI] & amask, di = cpu->regs[R_EDI] & amask;
        uint32_t v, d;
        switch (k) {
        case K_MOVS:
            v = cpu_read(cpu, src, si, size);
            cpu_write(cpu, S_ES, di, v, size);
            index_step(cpu, R_ESI, amask, step);
            index_step(cpu, R_EDI, amask, step);
            break;
        case K_STOS:
            cpu_write(cpu, S_ES, di, cpu->regs[R_EAX], size);
            index_step(cpu, R_EDI, amask, step);
            break;
        case K_LODS:
            v = cpu_read(cpu, src, si, size);
            cpu_reg_set(cpu, size == 1 ? ZYDIS_REGISTER_AL : size == 2 ? ZYDIS_REGISTER_AX
                                                                       : ZYDIS_REGISTER_EAX, v);
            index_step(cpu, R_ESI, amask, step);
            break;
        case K_CMPS:
            v = cpu_read(cpu, src, si, size);
            d = cpu_read(cpu, S_ES, di, size);
            cpu->eflags = hf_cmp(size, v, d, cpu->eflags);
            index_step(cpu, R_ESI, amask, step);
            index_step(cpu, R_EDI, amask, step);
            break;
        case K_SCAS:
            d = cpu_read(cpu, S_ES, di, size);
            cpu->eflags = hf_cmp(size, cpu->regs[R_EAX] & size_mask(size), d, cpu->eflags);
            index_step(cpu, R_EDI, amask, step);
            break;
        case K_INS:
            /* check the destination first: a fault must not lose a port read */
            cpu_check_access(cpu, S_ES, di, size, true);
            v = cpu_io_in(cpu, port, size);
            cpu_write(cpu, S_ES, di, v, size);
            index_step(cpu, R_EDI, amask, step);
            break;
        case K_OUTS:
            v = cpu_read(cpu, src, si, size);
            cpu_io_out(cpu, port, v, size);
            index_step(cpu, R_ESI, amask, step);
            break;
        }
        if (!rep)
            return;
        cpu->regs[R_ECX] = (cpu->regs[R_ECX] & ~amask) | ((cpu->regs[R_ECX] - 1) & amask);
        /* REPE stops on ZF = 0, REPNE on ZF = 1 (after the count update) */
        if (cond && !(cpu->eflags & FL_ZF) == (in->rep == 0xf3))
            return;
    }
}

#define STRING_HANDLER(name, kind) \
    static void name(cpu_state *cpu, cpu_insn *in) { string_op(cpu, in, kind); }
STRING_HANDLER(op_movs, K_MOVS)
STRING_HANDLER(op_stos, K_STOS)
STRING_HANDLER(op_lods, K_LODS)
STRING_HANDLER(op_cmps, K_CMPS)
STRING_HANDLER(op_scas, K_SCAS)
STRING_HANDLER(op_ins, K_INS)
STRING_HANDLER(op_outs, K_OUTS)

#define ROW(m, h, c) { ZYDIS_MNEMONIC_##m, h, c }

const cpu_op_row cpu_ops_string[] = {
    /* MOVSD and CMPSD also name SSE2 instructions: fpu.c's form rows
     * claim those before these general rows are consulted */
    ROW(MOVSB, op_movs, TR_REWRITTEN), ROW(MOVSW, op_movs, TR_REWRITTEN),
    ROW(MOVSD, op_movs, TR_REWRITTEN),
    ROW(STOSB, op_stos, TR_REWRITTEN), ROW(STOSW, op_stos, TR_REWRITTEN),
    ROW(STOSD, op_stos, TR_REWRITTEN),
    ROW(LODSB, op_lods, TR_REWRITTEN), ROW(LODSW, op_lods, TR_REWRITTEN),
    ROW(LODSD, op_lods, TR_REWRITTEN),
    ROW(CMPSB, op_cmps, TR_REWRITTEN), ROW(CMPSW, op_cmps, TR_REWRITTEN),
    ROW(CMPSD, op_cmps, TR_REWRITTEN),
    ROW(SCASB, op_scas, TR_REWRITTEN), ROW(SCASW, op_scas, TR_REWRITTEN),
    ROW(SCASD, op_scas, TR_REWRITTEN),
    /* port I/O: privileged by IOPL and the TSS bitmap */
    ROW(INSB, op_ins, TR_CALLOUT), ROW(INSW, op_ins, TR_CALLOUT),
    ROW(INSD, op_ins, TR_CALLOUT),
    ROW(OUTSB, op_outs, TR_CALLOUT), ROW(OUTSW, op_outs, TR_CALLOUT),
    ROW(OUTSD, op_outs, TR_CALLOUT),
    { ZYDIS_MNEMONIC_INVALID, NULL, TR_IDENTICAL },
};
