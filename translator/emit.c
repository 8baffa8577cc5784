/* Emitting x86-64 host code: see emit.h. */
#include "translator/emit.h"

#include <string.h>

ZydisEncoderOperand emit_reg(ZydisRegister r)
{
    ZydisEncoderOperand o;
    memset(&o, 0, sizeof(o));
    o.type = ZYDIS_OPERAND_TYPE_REGISTER;
    o.reg.value = r;
    return o;
}

ZydisEncoderOperand emit_imm(int64_t v)
{
    ZydisEncoderOperand o;
    memset(&o, 0, sizeof(o));
    o.type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
    o.imm.s = v;
    return o;
}

ZydisEncoderOperand emit_mem(ZydisRegister base, ZydisRegister index, uint8_t scale, int64_t disp,
                             unsigned size_bytes)
{
    ZydisEncoderOperand o;
    memset(&o, 0, sizeof(o));
    o.type = ZYDIS_OPERAND_TYPE_MEMORY;
    o.mem.base = base;
    o.mem.index = index;
    o.mem.scale = index == ZYDIS_REGISTER_NONE ? 0 : scale;
    o.mem.displacement = disp;
    o.mem.size = (ZyanU16)size_bytes;
    return o;
}

bool emit_request(tr_emit *e, ZydisEncoderRequest *req)
{
    if (e->failed)
        return false;
    req->machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
    ZyanUSize len = (ZyanUSize)(e->end - e->p);
    if (len < ZYDIS_MAX_INSTRUCTION_LENGTH ||
        !ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(req, e->p, &len))) {
        e->failed = true;
        return false;
    }
    e->p += len;
    return true;
}

bool emit_insn(tr_emit *e, ZydisMnemonic m, unsigned nops, const ZydisEncoderOperand *ops)
{
    ZydisEncoderRequest req;
    memset(&req, 0, sizeof(req));
    req.mnemonic = m;
    req.operand_count = (ZyanU8)nops;
    for (unsigned i = 0; i < nops; i++)
        req.operands[i] = ops[i];
    return emit_request(e, &req);
}

static bool encode_branch(tr_emit *e, ZydisMnemonic m, uintptr_t target_rx, ZydisBranchType type,
                          ZydisBranchWidth width)
{
    if (e->failed)
        return false;
    ZydisEncoderRequest req;
    memset(&req, 0, sizeof(req));
    req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
    req.mnemonic = m;
    req.branch_type = type;
    req.branch_width = width;
    req.operand_count = 1;
    req.operands[0] = emit_imm((int64_t)target_rx);
    ZyanUSize len = (ZyanUSize)(e->end - e->p);
    if (len < ZYDIS_MAX_INSTRUCTION_LENGTH ||
        !ZYAN_SUCCESS(ZydisEncoderEncodeInstructionAbsolute(&req, e->p, &len, emit_rx_here(e)))) {
        e->failed = true;
        return false;
    }
    e->p += len;
    return true;
}

bool emit_branch(tr_emit *e, ZydisMnemonic m, uintptr_t target_rx)
{
    return encode_branch(e, m, target_rx, ZYDIS_BRANCH_TYPE_NEAR, ZYDIS_BRANCH_WIDTH_32);
}

bool emit_short_branch(tr_emit *e, ZydisMnemonic m, uintptr_t target_rx)
{
    return encode_branch(e, m, target_rx, ZYDIS_BRANCH_TYPE_SHORT, ZYDIS_BRANCH_WIDTH_8);
}

bool emit_bytes(tr_emit *e, const uint8_t *bytes, unsigned n)
{
    if (e->failed || e->end - e->p < (ptrdiff_t)n) {
        e->failed = true;
        return false;
    }
    memcpy(e->p, bytes, n);
    e->p += n;
    return true;
}

bool emit_poll_probe(tr_emit *e, int64_t poll_ptr_off)
{
    emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(ZYDIS_REGISTER_R9),
          emit_mem(ZYDIS_REGISTER_R13, ZYDIS_REGISTER_NONE, 0, poll_ptr_off, 8));
    return emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(ZYDIS_REGISTER_R9B),
                 emit_mem(ZYDIS_REGISTER_R9, ZYDIS_REGISTER_NONE, 0, 0, 1));
}
