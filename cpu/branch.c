/*
 * Near control transfers: JMP and CALL (relative, register, memory),
 * Jcc, JCXZ/JECXZ, LOOP LOOPE LOOPNE, RET near (with imm16).
 * SDM Vol. 1 §6.3 (near calls and returns), §7.3.8; Vol. 2 "JMP",
 * "CALL", "Jcc", "LOOP/LOOPcc", "RET".
 *
 * The loop has already set cpu->eip to the next instruction; a taken
 * branch overwrites it.  Targets are wrapped to the operand size (a
 * 16-bit JMP wraps within 64 KiB) and must lie within the CS limit,
 * else #GP(0) before anything changes — the check real hardware makes
 * in every mode, real mode included.
 *
 * Far JMP/CALL/RET, INT and IRET share mnemonics with the near forms;
 * far.c claims them through form rows tried before these (ops.h).
 */
#include "cpu/exception.h"
#include "cpu/hostflags.h"
#include "cpu/mem.h"
#include "cpu/operand.h"
#include "cpu/ops.h"

static inline void check_target(cpu_state *cpu, uint32_t target)
{
    if (target > cpu->seg[S_CS].limit)
        cpu_fault(cpu, EXC_GP, 0);
}

/* Near target of op 0: relative (wrapped by op_branch_target) or an
 * absolute offset in a register or memory, truncated to the operand size. */
static uint32_t near_target(cpu_state *cpu, cpu_insn *in)
{
    if (in->z.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
        cpu_fault(cpu, EXC_UD, 0); /* far forms belong to far.c */
    if (in->op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
        return op_branch_target(in, 0);
    return op_read(cpu, in, 0) & size_mask(in->opsize);
}

static void op_jmp(cpu_state *cpu, cpu_insn *in)
{
    uint32_t t = near_target(cpu, in);
    check_target(cpu, t);
    cpu->eip = t;
}

/* CALL: target read and checked, then the return address pushed. */
static void op_call(cpu_state *cpu, cpu_insn *in)
{
    uint32_t t = near_target(cpu, in);
    check_target(cpu, t);
    cpu_push(cpu, in->next_eip, in->opsize);
    cpu->eip = t;
}

/* Jcc rel: the condition is the opcode's low nibble (70+cc, 0F 80+cc). */
static void op_jcc(cpu_state *cpu, cpu_insn *in)
{
    if (!cpu_cond(cpu->eflags, in->z.opcode & 0x0f))
        return;
    uint32_t t = op_branch_target(in, 0);
    check_target(cpu, t);
    cpu->eip = t;
}

/* The count register of JCXZ/LOOP is CX or ECX by the address size. */
static inline uint32_t count_get(const cpu_state *cpu, const cpu_insn *in)
{
    return in->addrsize == 2 ? (cpu->regs[R_ECX] & 0xffff) : cpu->regs[R_ECX];
}

static void op_jcxz(cpu_state *cpu, cpu_insn *in)
{
    if (count_get(cpu, in) != 0)
        return;
    uint32_t t = op_branch_target(in, 0);
    check_target(cpu, t);
    cpu->eip = t;
}

/*
 * LOOP/LOOPE/LOOPNE: decrement the count (no flags change), branch if it
 * is non-zero and, for LOOPE/LOOPNE, ZF is 1/0.  The count is written
 * after the target check so that a #GP leaves ECX as it was.
 */
static void op_loop(cpu_state *cpu, cpu_insn *in)
{
    uint32_t c = (count_get(cpu, in) - 1) & size_mask(in->addrsize);
    bool zf = cpu->eflags & FL_ZF;
    bool taken = c != 0;
    if (in->z.mnemonic == ZYDIS_MNEMONIC_LOOPE)
        taken = taken && zf;
    else if (in->z.mnemonic == ZYDIS_MNEMONIC_LOOPNE)
        taken = taken && !zf;
    uint32_t t = 0;
    if (taken) {
        t = op_branch_target(in, 0);
        check_target(cpu, t);
    }
    if (in->addrsize == 2)
        cpu->regs[R_ECX] = (cpu->regs[R_ECX] & 0xffff0000u) | c;
    else
        cpu->regs[R_ECX] = c;
    if (taken)
        cpu->eip = t;
}

/* RET near [imm16]: pop the operand-size return address, check it, then
 * release imm16 more bytes (by the stack size). */
static void op_ret(cpu_state *cpu, cpu_insn *in)
{
    if (in->z.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
        cpu_fault(cpu, EXC_UD, 0);
    unsigned size = in->opsize;
    uint32_t t = cpu_stack_peek(cpu, 0, size);
    check_target(cpu, t);
    uint32_t release = size;
    if (in->z.operand_count_visible > 0)
        release += (uint32_t)in->op[0].imm.value.u & 0xffff;
    if (cpu->stack32)
        cpu->regs[R_ESP] += release;
    else
        cpu->regs[R_ESP] = (cpu->regs[R_ESP] & 0xffff0000u) | ((cpu->regs[R_ESP] + release) & 0xffff);
    cpu->eip = t;
}

#define ROW(m, h) { ZYDIS_MNEMONIC_##m, h, TR_REWRITTEN }

const cpu_op_row cpu_ops_branch[] = {
    ROW(JMP, op_jmp), ROW(CALL, op_call), ROW(RET, op_ret),
    ROW(JO, op_jcc), ROW(JNO, op_jcc), ROW(JB, op_jcc), ROW(JNB, op_jcc),
    ROW(JZ, op_jcc), ROW(JNZ, op_jcc), ROW(JBE, op_jcc), ROW(JNBE, op_jcc),
    ROW(JS, op_jcc), ROW(JNS, op_jcc), ROW(JP, op_jcc), ROW(JNP, op_jcc),
    ROW(JL, op_jcc), ROW(JNL, op_jcc), ROW(JLE, op_jcc), ROW(JNLE, op_jcc),
    ROW(JCXZ, op_jcxz), ROW(JECXZ, op_jcxz),
    ROW(LOOP, op_loop), ROW(LOOPE, op_loop), ROW(LOOPNE, op_loop),
    { ZYDIS_MNEMONIC_INVALID, NULL, TR_IDENTICAL },
};
