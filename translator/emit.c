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

bool emit_poll_probe(tr_emit *e, uintptr_t poll_rx)
{
    /* REX.R (r9) 8A /r, ModRM 00 001 101 = [rip + disp32]: Zydis' encoder
     * wants RIP-relative operands as displacements, so this one is spelt
     * out. */
    if (e->failed || e->end - e->p < 7) {
        e->failed = true;
        return false;
    }
    int64_t disp = (int64_t)poll_rx - (int64_t)(emit_rx_here(e) + 7);
    if (disp < INT32_MIN || disp > INT32_MAX) {
        e->failed = true;
        return false;
    }
    int32_t d = (int32_t)disp;
    e->p[0] = 0x44;
    e->p[1] = 0x8a;
    e->p[2] = 0x0d;
    memcpy(e->p + 3, &d, 4);
    e->p += 7;
    return true;
}
