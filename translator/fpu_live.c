/*
 * The guest's x87 registers in the host FPU (fpu_live.h).
 */
#include "translator/fpu_live.h"

#include <stddef.h>
#include <string.h>

#include "cpu/fpu.h"

#define R(x) emit_reg(ZYDIS_REGISTER_##x)
#define STATE(off, size) emit_mem(ZYDIS_REGISTER_R13, ZYDIS_REGISTER_NONE, 0, (int64_t)(off), (size))
#define FX(off) ((int64_t)offsetof(cpu_state, fxsave) + (off))
#define PTRS(off) ((int64_t)offsetof(cpu_state, tr_fpu.ptrs) + (off))
#define LIVE ((int64_t)offsetof(cpu_state, tr_fpu.live))
#define IP_SET ((int64_t)offsetof(cpu_state, tr_fpu.ip_set))
#define DP_SREG ((int64_t)offsetof(cpu_state, tr_fpu.dp_sreg))
#define HOST_MXCSR ((int64_t)offsetof(cpu_state, tr_fpu.host_mxcsr))

_Static_assert(offsetof(cpu_state, tr_fpu.dp_sreg) == offsetof(cpu_state, tr_fpu.ip_set) + 1,
               "the load routine clears ip_set and dp_sreg with one store");
_Static_assert(offsetof(cpu_state, fxsave) % 16 == 0, "FXRSTOR wants 16-byte alignment");

void fpu_live_emit_load_stub(tr_emit *e)
{
    emit1(e, ZYDIS_MNEMONIC_FXRSTOR, STATE(FX(0), 512));
    for (int off = 8; off < 32; off += 8) {
        emit2(e, ZYDIS_MNEMONIC_MOV, R(R8), STATE(FX(off), 8));
        emit2(e, ZYDIS_MNEMONIC_MOV, STATE(PTRS(off), 8), R(R8));
    }
    emit2(e, ZYDIS_MNEMONIC_MOVZX, R(R8D), STATE(FX(FX_FOP), 2));
    emit2(e, ZYDIS_MNEMONIC_MOV, STATE(PTRS(FX_FOP), 2), R(R8W));
    emit2(e, ZYDIS_MNEMONIC_MOV, STATE(IP_SET, 2), emit_imm(0));
    emit2(e, ZYDIS_MNEMONIC_MOV, STATE(LIVE, 1), emit_imm(1));
    emit0(e, ZYDIS_MNEMONIC_RET);
}

void fpu_live_emit_ensure(tr_emit *e, uintptr_t load_stub_rx)
{
    /* ecx = live - 1 is zero exactly when live: jrcxz over the call */
    emit2(e, ZYDIS_MNEMONIC_MOV, R(R9), R(RCX));
    emit2(e, ZYDIS_MNEMONIC_MOVZX, R(ECX), STATE(LIVE, 1));
    emit2(e, ZYDIS_MNEMONIC_LEA, R(ECX), emit_mem(ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_NONE, 0, -1, 8));
    uint8_t *jrcxz = e->p;
    emit_short_branch(e, ZYDIS_MNEMONIC_JRCXZ, emit_rx_here(e) + 2);
    emit_branch(e, ZYDIS_MNEMONIC_CALL, load_stub_rx);
    uint8_t *end = e->p;
    if (!e->failed) {
        e->p = jrcxz;
        emit_short_branch(e, ZYDIS_MNEMONIC_JRCXZ, (uintptr_t)(end + e->rx_delta));
        e->p = end;
    }
    emit2(e, ZYDIS_MNEMONIC_MOV, R(RCX), R(R9));
}

void fpu_live_emit_pointers(tr_emit *e, uint16_t fop, uint32_t fip, ZydisRegister off, int sreg)
{
    emit2(e, ZYDIS_MNEMONIC_MOV, STATE(PTRS(FX_FOP), 2), emit_imm(fop));
    emit2(e, ZYDIS_MNEMONIC_MOV, STATE(PTRS(FX_FIP), 4), emit_imm((int32_t)fip));
    emit2(e, ZYDIS_MNEMONIC_MOV, STATE(IP_SET, 1), emit_imm(1));
    if (off == ZYDIS_REGISTER_NONE)
        return;
    emit2(e, ZYDIS_MNEMONIC_MOV, STATE(PTRS(FX_FDP), 4), emit_reg(off));
    emit2(e, ZYDIS_MNEMONIC_MOV, STATE(DP_SREG, 1), emit_imm(sreg + 1));
}

void fpu_live_emit_save(tr_emit *e)
{
    emit2(e, ZYDIS_MNEMONIC_CMP, STATE(LIVE, 1), emit_imm(0));
    uint8_t *je = e->p;
    emit_short_branch(e, ZYDIS_MNEMONIC_JZ, emit_rx_here(e) + 2);
    emit1(e, ZYDIS_MNEMONIC_FXSAVE, STATE(FX(0), 512));
    emit0(e, ZYDIS_MNEMONIC_FNINIT);
    emit1(e, ZYDIS_MNEMONIC_LDMXCSR, STATE(HOST_MXCSR, 4));
    uint8_t *end = e->p;
    if (!e->failed) {
        e->p = je;
        emit_short_branch(e, ZYDIS_MNEMONIC_JZ, (uintptr_t)(end + e->rx_delta));
        e->p = end;
    }
}

void fpu_live_commit(cpu_state *cpu)
{
    uint8_t *fx = cpu->fxsave;
    const uint8_t *p = cpu->tr_fpu.ptrs;
    memcpy(fx + FX_FOP, p + FX_FOP, FX_MXCSR - FX_FOP);
    memcpy(fx + FX_MXCSR_MASK, p + FX_MXCSR_MASK, 4);
    if (cpu->tr_fpu.ip_set)
        fx_put32(fx, FX_FCS, cpu->seg[S_CS].selector);
    if (cpu->tr_fpu.dp_sreg)
        fx_put32(fx, FX_FDS, cpu->seg[cpu->tr_fpu.dp_sreg - 1].selector);
    cpu->tr_fpu.live = 0;
}

void fpu_live_from_frame(cpu_state *cpu, const ucontext_t *uc)
{
    /* The frame holds the legacy FXSAVE region (64-bit layout, the same as
     * the 32-bit one outside the pointers, which commit replaces); the
     * kernel writes it with XSAVE, not XSAVEOPT, so it is complete even
     * for registers in their initial state. */
    const uint8_t *h = (const uint8_t *)uc->uc_mcontext.fpregs;
    uint8_t *fx = cpu->fxsave;
    if (h) {
        memcpy(fx, h, FX_FOP);                    /* FCW, FSW, FTW */
        memcpy(fx + FX_MXCSR, h + FX_MXCSR, 4);
        memcpy(fx + FX_ST, h + FX_ST, FX_SAVED - FX_ST); /* ST0-7, XMM0-7 */
    }
    fpu_live_commit(cpu);
}
