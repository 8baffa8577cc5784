/* Reading and writing decoded operands: see operand.h. */
#include "cpu/operand.h"

#include "cpu/exception.h"
#include "cpu/mem.h"

uint32_t cpu_reg_get(const cpu_state *cpu, ZydisRegister r)
{
    if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_EDI)
        return cpu->regs[r - ZYDIS_REGISTER_EAX];
    if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_DI)
        return cpu->regs[r - ZYDIS_REGISTER_AX] & 0xffff;
    if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_BL)
        return cpu->regs[r - ZYDIS_REGISTER_AL] & 0xff;
    if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH)
        return (cpu->regs[r - ZYDIS_REGISTER_AH] >> 8) & 0xff;
    int s = cpu_sreg_index(r);
    if (s >= 0)
        return cpu->seg[s].selector;
    return 0;
}

void cpu_reg_set(cpu_state *cpu, ZydisRegister r, uint32_t v)
{
    if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_EDI) {
        cpu->regs[r - ZYDIS_REGISTER_EAX] = v;
    } else if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_DI) {
        uint32_t *p = &cpu->regs[r - ZYDIS_REGISTER_AX];
        *p = (*p & 0xffff0000u) | (v & 0xffff);
    } else if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_BL) {
        uint32_t *p = &cpu->regs[r - ZYDIS_REGISTER_AL];
        *p = (*p & 0xffffff00u) | (v & 0xff);
    } else if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) {
        uint32_t *p = &cpu->regs[r - ZYDIS_REGISTER_AH];
        *p = (*p & 0xffff00ffu) | ((v & 0xff) << 8);
    }
}

int cpu_sreg_index(ZydisRegister r)
{
    switch (r) {
    case ZYDIS_REGISTER_ES: return S_ES;
    case ZYDIS_REGISTER_CS: return S_CS;
    case ZYDIS_REGISTER_SS: return S_SS;
    case ZYDIS_REGISTER_DS: return S_DS;
    case ZYDIS_REGISTER_FS: return S_FS;
    case ZYDIS_REGISTER_GS: return S_GS;
    default: return -1;
    }
}

int op_sreg(const cpu_insn *in, int i)
{
    int s = cpu_sreg_index(in->op[i].mem.segment);
    return s >= 0 ? s : S_DS;
}

uint32_t op_ea(const cpu_state *cpu, const cpu_insn *in, int i)
{
    const ZydisDecodedOperandMem *m = &in->op[i].mem;
    uint32_t ea = (uint32_t)m->disp.value;
    if (m->base != ZYDIS_REGISTER_NONE)
        ea += cpu_reg_get(cpu, m->base);
    if (m->index != ZYDIS_REGISTER_NONE)
        ea += cpu_reg_get(cpu, m->index) * (m->scale ? m->scale : 1);
    return in->addrsize == 2 ? (ea & 0xffff) : ea;
}

uint32_t op_read(cpu_state *cpu, const cpu_insn *in, int i)
{
    const ZydisDecodedOperand *o = &in->op[i];
    unsigned size = o->size / 8;
    switch (o->type) {
    case ZYDIS_OPERAND_TYPE_REGISTER:
        return cpu_reg_get(cpu, o->reg.value);
    case ZYDIS_OPERAND_TYPE_MEMORY:
        return cpu_read(cpu, op_sreg(in, i), op_ea(cpu, in, i), size);
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        /* Zydis gives the immediate's encoded size (8 for `add eax, -1`
         * as 83 /0 ib) with the value already sign-extended to 64 bits
         * when the encoding sign-extends: mask to the instruction's
         * operand width, not the immediate's own size. */
        size = in->z.operand_width / 8;
        return (uint32_t)o->imm.value.u & size_mask(size ? size : 4);
    default:
        cpu_fault(cpu, EXC_UD, 0);
    }
}

void op_write(cpu_state *cpu, const cpu_insn *in, int i, uint32_t v)
{
    const ZydisDecodedOperand *o = &in->op[i];
    switch (o->type) {
    case ZYDIS_OPERAND_TYPE_REGISTER:
        cpu_reg_set(cpu, o->reg.value, v);
        return;
    case ZYDIS_OPERAND_TYPE_MEMORY:
        cpu_write(cpu, op_sreg(in, i), op_ea(cpu, in, i), v, o->size / 8);
        return;
    default:
        cpu_fault(cpu, EXC_UD, 0);
    }
}

uint32_t op_branch_target(const cpu_insn *in, int i)
{
    uint32_t t = in->next_eip + (uint32_t)in->op[i].imm.value.s;
    return in->opsize == 2 ? (t & 0xffff) : t;
}
