/*
 * Reading and writing decoded operands: registers, memory, immediates.
 *
 * One width-generic path for every handler: operand sizes come from the
 * decoder, so `add` is one handler for its 8/16/32-bit and reg/mem forms.
 */
#ifndef BTVM_CPU_OPERAND_H
#define BTVM_CPU_OPERAND_H

#include <stdint.h>

#include "cpu/cpu.h"
#include "cpu/decode.h"

/* Operand i's size in bytes. */
static inline unsigned op_size(const cpu_insn *in, int i)
{
    return in->op[i].size / 8;
}

static inline uint32_t size_mask(unsigned bytes)
{
    return bytes >= 4 ? 0xffffffffu : (1u << (bytes * 8)) - 1;
}

/* General registers by Zydis name (8/16/32-bit, AH..BH included). */
uint32_t cpu_reg_get(const cpu_state *cpu, ZydisRegister r);
void cpu_reg_set(cpu_state *cpu, ZydisRegister r, uint32_t v);
/* S_ES..S_GS for a segment register name, or -1. */
int cpu_sreg_index(ZydisRegister r);

/* Memory operand: segment register index and offset (address-size wrapped). */
int op_sreg(const cpu_insn *in, int i);
uint32_t op_ea(const cpu_state *cpu, const cpu_insn *in, int i);

/* Any operand, zero-extended to 32 bits (immediates sign-extended to the
 * operand size first, as the encoding says). */
uint32_t op_read(cpu_state *cpu, const cpu_insn *in, int i);
void op_write(cpu_state *cpu, const cpu_insn *in, int i, uint32_t v);

/* Branch target of a relative operand, wrapped to the operand size. */
uint32_t op_branch_target(const cpu_insn *in, int i);

#endif
