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
#include <string.h>

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

/*
 * Fast path for REP MOVS and REP STOS: a run of elements that stays
 * within one page on each side, within the segment limits and without
 * an address-size wrap is done on host memory in one go.  Only the
 * first element's checks can fault, and that element would fault in the
 * slow path too; anything unusual (MMIO, ROM, code pages, expand-down
 * segments, alignment checking, a straddling element) returns 0 and the
 * slow path does one element.  Returns the number of elements done.
 */
static bool range_ok(const cpu_state *cpu, int sreg, uint32_t lo, uint32_t hi)
{
    const cpu_segment *s = &cpu->seg[sreg];
    bool pm = cpu_protected(cpu) && !cpu_v86(cpu);
    if (pm && !(s->flags & SEGF_CODE) && (s->flags & SEGF_CONFORM))
        return false; /* expand-down */
    return hi <= s->limit && lo <= hi;
}

/* Elements of size from offset off (page-relative pg) in direction down
 * before a page boundary or the address-size wrap; 0 if the first one
 * straddles. */
static uint32_t run_length(uint32_t off, uint32_t pg, unsigned size, bool down, uint32_t amask)
{
    if (pg + size > 0x1000)
        return 0;
    if (down)
        return (pg < off ? pg : off) / size + 1;
    uint64_t to_page = (0x1000 - pg) / size;
    uint64_t to_wrap = ((uint64_t)amask - off + 1) / size;
    return (uint32_t)(to_page < to_wrap ? to_page : to_wrap);
}

static uint32_t fast_chunk(cpu_state *cpu, enum str_kind k, int src, unsigned size,
                           uint32_t amask, bool down, uint32_t max)
{
    if ((cpu->cr0 & CR0_AM) && (cpu->eflags & FL_AC) && cpu->cpl == 3)
        return 0;
    bool user = cpu->cpl == 3;
    uint32_t di = cpu->regs[R_EDI] & amask, si = cpu->regs[R_ESI] & amask;
    uint32_t dlin = cpu->seg[S_ES].base + di, slin = cpu->seg[src].base + si;
    uint32_t n = run_length(di, dlin & 0xfff, size, down, amask);
    if (k == K_MOVS) {
        uint32_t ns = run_length(si, slin & 0xfff, size, down, amask);
        n = ns < n ? ns : n;
    }
    n = n < max ? n : max;
    if (n < 2)
        return 0;
    uint32_t span = (n - 1) * size;
    uint32_t dlo = down ? di - span : di;
    if (!range_ok(cpu, S_ES, dlo, dlo + span + size - 1))
        return 0;
    uint8_t *sp = NULL;
    if (k == K_MOVS) {
        uint32_t slo = down ? si - span : si;
        if (!range_ok(cpu, src, slo, slo + span + size - 1))
            return 0;
        cpu_linear(cpu, src, si, size, false); /* type checks: faults as element 0 would */
        uint32_t sphys = cpu_translate(cpu, slin, PG_READ, user);
        sp = phys_page_ptr(cpu->mem, sphys, false);
        if (!sp)
            return 0;
        sp += (sphys & 0xfff) - (down ? span : 0);
    }
    cpu_linear(cpu, S_ES, di, size, true);
    uint32_t dphys = cpu_translate(cpu, dlin, PG_WRITE, user);
    uint8_t *dp = phys_page_ptr(cpu->mem, dphys, true);
    if (!dp)
        return 0;
    dp += (dphys & 0xfff) - (down ? span : 0);
    uint32_t len = span + size;

    if (k == K_STOS) {
        uint32_t v = cpu->regs[R_EAX];
        if (size == 1)
            memset(dp, (uint8_t)v, len);
        else
            for (uint32_t i = 0; i < len; i += size)
                memcpy(dp + i, &v, size);
    } else if (dp >= sp + len || sp >= dp + len) {
        memcpy(dp, sp, len);
    } else {
        /* Overlap: element by element in the guest's order, so that a
         * forward copy onto itself replicates as REP MOVS does. */
        if (down)
            for (uint32_t i = len; i > 0; i -= size)
                memmove(dp + i - size, sp + i - size, size);
        else
            for (uint32_t i = 0; i < len; i += size)
                memmove(dp + i, sp + i, size);
    }

    uint32_t step = down ? -(n * size) : n * size;
    index_step(cpu, R_EDI, amask, step);
    if (k == K_MOVS)
        index_step(cpu, R_ESI, amask, step);
    cpu->regs[R_ECX] = (cpu->regs[R_ECX] & ~amask) | ((cpu->regs[R_ECX] - n) & amask);
    return n;
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

    bool fast = rep && (k == K_MOVS || k == K_STOS) && budget > 1;

    if (k == K_INS || k == K_OUTS)
        cpu_io_check(cpu, port, size);

    for (unsigned n = 0;; n++) {
        if (rep) {
            uint32_t count = cpu->regs[R_ECX] & amask;
            if (count == 0)
                return;
            if (n >= budget) {
                cpu->eip = in->eip; /* the rest on the next pass */
                cpu->rep_unfinished = true;
                return;
            }
            if (fast) {
                uint32_t left = budget - n;
                uint32_t done = fast_chunk(cpu, k, src, size, amask, cpu->eflags & FL_DF,
                                           count < left ? count : left);
                if (done) {
                    n += done - 1;
                    continue;
                }
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
