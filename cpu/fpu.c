/*
 * x87 FPU, MMX, SSE and SSE2 instructions (SDM Vol. 1 ch. 8-11; Vol. 3A
 * §2.5 and ch. 13 for the CR0/CR4 controls): run natively on the host.
 *
 * Why natively: the host is the same ISA (DESIGN.md "Interpreter"), and
 * an exact software model of the x87's 80-bit arithmetic, its
 * transcendental instructions and the SSE conversions would be thousands
 * of lines that could only approximate what the hardware does.  So each
 * instruction is checked here the way the CPU checks it before it
 * executes — #UD/#NM from CR0 and CR4, a pending x87 exception as #MF,
 * the memory operand's segment, alignment and paging faults — and then
 * re-encoded for 64-bit mode with its memory operand moved to a host
 * buffer and run with the guest's FXSAVE image loaded (fpu_thunk.c).
 *
 * What the host must never see: an unmasked SIMD exception (it would
 * trap as SIGFPE) — SSE instructions run with every MXCSR exception
 * masked and the flags they raise are compared with the guest's masks
 * afterwards (unmasked: the state is left as it was and #XM is raised);
 * and a pending unmasked x87 exception meeting a waiting instruction —
 * the guest gets #MF before the instruction ever reaches the host.
 * x87 exceptions are otherwise deferred by design (they only set
 * FSW.ES), so the thunk's trailing FXSAVE, which does not wait, collects
 * them safely.
 *
 * Control instructions whose memory formats depend on the guest's mode,
 * or whose operands must be validated before the host loads them, are
 * emulated in fpu_ctl.c.
 */
#include "cpu/fpu.h"

#include <stdio.h>

#include "cpu/exception.h"
#include "cpu/mem.h"
#include "cpu/operand.h"
#include "cpu/ops.h"

uint32_t fpu_mxcsr_mask(const cpu_state *cpu)
{
    return fx_get32(cpu->fxsave, FX_MXCSR_MASK) & fpu_host_mxcsr_mask();
}

void fpu_check(cpu_state *cpu, enum fpu_class cls)
{
    uint32_t cr0 = cpu->cr0;
    switch (cls) {
    case FPU_X87:
    case FPU_X87_NOWAIT:
    case FPU_FXSR:
        if (cr0 & (CR0_EM | CR0_TS))
            cpu_fault(cpu, EXC_NM, 0);
        break;
    case FPU_MMX:
        if (cr0 & CR0_EM)
            cpu_fault(cpu, EXC_UD, 0);
        if (cr0 & CR0_TS)
            cpu_fault(cpu, EXC_NM, 0);
        break;
    case FPU_SSE:
    case FPU_SSE_MMX:
        if ((cr0 & CR0_EM) || !(cpu->cr4 & CR4_OSFXSR))
            cpu_fault(cpu, EXC_UD, 0);
        if (cr0 & CR0_TS)
            cpu_fault(cpu, EXC_NM, 0);
        break;
    case FPU_NONE:
        return;
    }
    /*
     * A pending unmasked x87 exception is taken by the next waiting x87
     * instruction, and by MMX instructions, before they execute.  With
     * CR0.NE clear a PC would signal it through FERR# and IRQ 13
     * instead; btvm raises #MF in both cases (a departure, for DOS-era
     * guests only).
     */
    if ((cls == FPU_X87 || cls == FPU_MMX || cls == FPU_SSE_MMX) && fpu_x87_pending(cpu->fxsave))
        cpu_fault(cpu, EXC_MF, 0);
}

static bool is_reg_in(ZydisRegister r, ZydisRegister first, unsigned n)
{
    return r >= first && r < first + n;
}

/* The class of a natively run instruction, from its operands: an MMX
 * register makes it wait for x87 exceptions, an XMM register (or MXCSR)
 * makes it depend on CR4.OSFXSR. */
static enum fpu_class classify(const cpu_insn *in)
{
    if (in->z.meta.isa_ext == ZYDIS_ISA_EXT_X87)
        return FPU_X87;
    bool mmx = in->z.mnemonic == ZYDIS_MNEMONIC_EMMS, xmm = false;
    for (unsigned i = 0; i < in->z.operand_count; i++) {
        if (in->op[i].type != ZYDIS_OPERAND_TYPE_REGISTER)
            continue;
        ZydisRegister r = in->op[i].reg.value;
        mmx |= is_reg_in(r, ZYDIS_REGISTER_MM0, 8);
        xmm |= is_reg_in(r, ZYDIS_REGISTER_XMM0, 8) || r == ZYDIS_REGISTER_MXCSR;
    }
    return xmm ? (mmx ? FPU_SSE_MMX : FPU_SSE) : FPU_MMX;
}

/* x87, MMX, SSE, SSE2 and nothing later (a P4 has no SSE3). */
static bool isa_supported(const cpu_insn *in)
{
    switch (in->z.meta.isa_ext) {
    case ZYDIS_ISA_EXT_X87:
    case ZYDIS_ISA_EXT_MMX:
    case ZYDIS_ISA_EXT_SSE:
    case ZYDIS_ISA_EXT_SSE2:
        return in->z.encoding == ZYDIS_INSTRUCTION_ENCODING_LEGACY;
    default:
        return false;
    }
}

/* 16-byte memory operands of legacy SSE must be aligned, except for
 * these (SDM Vol. 1 §11.4.1.1, §11.6.7; Vol. 2 "Exceptions Type 4"). */
static bool unaligned_ok(ZydisMnemonic m)
{
    return m == ZYDIS_MNEMONIC_MOVUPS || m == ZYDIS_MNEMONIC_MOVUPD ||
           m == ZYDIS_MNEMONIC_MOVDQU || m == ZYDIS_MNEMONIC_MASKMOVDQU;
}

static bool is_gpr(ZydisRegister r)
{
    ZydisRegisterClass c = ZydisRegisterGetClass(r);
    return c == ZYDIS_REGCLASS_GPR32 || c == ZYDIS_REGCLASS_GPR16 || c == ZYDIS_REGCLASS_GPR8;
}

/*
 * Re-encode for 64-bit mode from Zydis' raw fields rather than with
 * Zydis' encoder: the guest's bytes are already a valid encoding, and
 * copying them keeps exactly the mandatory-prefix and opcode choice the
 * guest made (the encoder picks its own) with nothing to rename but the
 * ModRM.  Without a REX prefix, registers 0-7 mean the same in 64-bit
 * mode.  Segment, address-size and LOCK prefixes are dropped (LOCK
 * never decodes here); mod=00 rm=111 addresses [rdi]; a GPR operand is
 * renamed to EAX, loaded and stored by the thunk.
 */
static void reencode(const cpu_insn *in, int gpr_op, fpu_native *n)
{
    const ZydisDecodedInstruction *z = &in->z;
    unsigned p = 0;
    for (unsigned i = 0; i < z->raw.prefix_count; i++) {
        uint8_t v = z->raw.prefixes[i].value;
        if (v == 0x66 || v == 0xf2 || v == 0xf3)
            n->code[p++] = v;
    }
    bool has_modrm = z->attributes & ZYDIS_ATTRIB_HAS_MODRM;
    unsigned tail = z->raw.imm[0].size ? z->raw.imm[0].offset : z->length;
    unsigned opc_end = has_modrm ? z->raw.modrm.offset : tail;
    for (unsigned i = z->raw.prefix_count; i < opc_end; i++)
        n->code[p++] = in->bytes[i];
    if (has_modrm) {
        unsigned mod = z->raw.modrm.mod, reg = z->raw.modrm.reg, rm = z->raw.modrm.rm;
        if (gpr_op >= 0) {
            if (in->op[gpr_op].encoding == ZYDIS_OPERAND_ENCODING_MODRM_REG)
                reg = 0;
            else
                rm = 0;
        }
        n->code[p++] = mod == 3 ? (uint8_t)(0xc0 | reg << 3 | rm) : (uint8_t)(reg << 3 | 7);
    }
    for (unsigned i = tail; i < z->length; i++)
        n->code[p++] = in->bytes[i];
    n->len = (uint8_t)p;
}

/* The bytes of MMX or XMM register r in the image (MMi is physical
 * register i, found at ST((i - TOP) & 7)). */
static const uint8_t *vec_reg(const uint8_t *fx, ZydisRegister r)
{
    if (is_reg_in(r, ZYDIS_REGISTER_XMM0, 8))
        return fx + FX_XMM + 16 * (r - ZYDIS_REGISTER_XMM0);
    unsigned top = (fx_get16(fx, FX_FSW) >> FSW_TOP_SHIFT) & 7;
    return fx + FX_ST + 16 * ((r - ZYDIS_REGISTER_MM0 - top) & 7);
}

/* SIMD floating-point exception flags an unmasked exception leaves in
 * MXCSR (SDM Vol. 1 §11.5.2): with an unmasked pre-computation
 * exception (IE, DE, ZE) the post-computation ones are not evaluated. */
static uint32_t xm_flags(uint32_t raised, uint32_t unmasked)
{
    return (unmasked & 0x7) ? (raised & 0x7) : raised;
}

static void fpu_run_native(cpu_state *cpu, cpu_insn *in)
{
    if (!isa_supported(in))
        cpu_fault(cpu, EXC_UD, 0);
    enum fpu_class cls = classify(in);
    fpu_check(cpu, cls);

    /* The memory operand (explicit, or MASKMOVQ's implicit [EDI]) and
     * the general register operand, if any. */
    int mi = -1, gi = -1;
    for (int i = 0; i < in->z.operand_count; i++) {
        const ZydisDecodedOperand *o = &in->op[i];
        if (o->type == ZYDIS_OPERAND_TYPE_MEMORY && mi < 0)
            mi = i;
        else if (o->type == ZYDIS_OPERAND_TYPE_REGISTER && is_gpr(o->reg.value) &&
                 (o->encoding == ZYDIS_OPERAND_ENCODING_MODRM_REG ||
                  o->encoding == ZYDIS_OPERAND_ENCODING_MODRM_RM))
            gi = i;
    }

    fpu_native n = { .len = 0 };
    reencode(in, gi, &n);
    const ZydisAccessedFlags *fl = in->z.cpu_flags;
    uint32_t fl_out = fl ? (fl->modified | fl->set_0 | fl->set_1 | fl->undefined) & FL_ARITH : 0;
    n.flags_in = fl && (fl->tested & FL_ARITH);
    n.flags_out = fl_out != 0;
    fpu_io io = { .eflags = cpu->eflags, .gpr = 0 };
    if (gi >= 0) {
        n.gpr_in = in->op[gi].actions & ZYDIS_OPERAND_ACTION_MASK_READ;
        n.gpr_out = in->op[gi].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE;
        io.gpr = cpu_reg_get(cpu, in->op[gi].reg.value);
    }

    /* Memory: every fault before anything runs, so a fault leaves the
     * FPU state untouched. */
    _Alignas(16) uint8_t buf[16];
    memset(buf, 0, sizeof(buf));
    int sreg = 0;
    uint32_t ea = 0;
    unsigned msize = 0;
    bool mwrite = false;
    if (mi >= 0) {
        const ZydisDecodedOperand *o = &in->op[mi];
        sreg = op_sreg(in, mi);
        ea = op_ea(cpu, in, mi);
        msize = o->size / 8;
        if (msize == 0 || msize > sizeof(buf))
            cpu_fault(cpu, EXC_UD, 0); /* no such native form */
        mwrite = o->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE;
        if (msize == 16 && cls != FPU_X87 && !unaligned_ok(in->z.mnemonic) &&
            (cpu_linear(cpu, sreg, ea, msize, mwrite) & 15))
            cpu_fault(cpu, EXC_GP, 0);
        if (o->actions & ZYDIS_OPERAND_ACTION_MASK_READ)
            cpu_read_block(cpu, sreg, ea, buf, msize);
        if (mwrite)
            cpu_check_access(cpu, sreg, ea, msize, true);
    }

    /* Run on a copy of the image: all SIMD exceptions masked, flags
     * cleared so that those this instruction raises can be told apart. */
    _Alignas(16) uint8_t fx[512];
    memcpy(fx, cpu->fxsave, sizeof(fx));
    fpu_sync_es(fx);
    /* (the image's MXCSR was validated when loaded; masking it again
     * keeps a reserved bit from ever making the host's FXRSTOR fault) */
    uint32_t mxcsr = fx_get32(fx, FX_MXCSR) & fpu_mxcsr_mask(cpu);
    fx_put32(fx, FX_MXCSR, (mxcsr | MXCSR_MASKS) & ~MXCSR_FLAGS);
    if (!fpu_thunk_run(&n, buf, fx, &io)) {
        snprintf(cpu->diag, sizeof(cpu->diag), "no executable memory for FPU thunks");
        cpu_fault(cpu, EXC_UD, 0);
    }

    uint32_t raised = fx_get32(fx, FX_MXCSR) & MXCSR_FLAGS;
    uint32_t unmasked = raised & ~(mxcsr >> 7) & MXCSR_FLAGS;
    if (unmasked) {
        /* #XM (or #UD without CR4.OSXMMEXCPT): no result stored, only
         * the flags (SDM Vol. 1 §11.5.1). */
        fx_put32(cpu->fxsave, FX_MXCSR, mxcsr | xm_flags(raised, unmasked));
        cpu_fault(cpu, (cpu->cr4 & CR4_OSXMMEXCPT) ? EXC_XM : EXC_UD, 0);
    }
    fx_put32(fx, FX_MXCSR, mxcsr | raised);
    memcpy(fx + FX_MXCSR_MASK, cpu->fxsave + FX_MXCSR_MASK, 4);
    memcpy(fx + FX_SAVED, cpu->fxsave + FX_SAVED, sizeof(fx) - FX_SAVED);

    /*
     * Last-instruction pointers (SDM Vol. 1 §8.1.8-8.1.9): the host wrote
     * its own.  An x87 instruction records its CS:EIP, opcode and, with a
     * memory operand, DS:offset; MMX and SSE instructions leave them.
     */
    memcpy(fx + FX_FOP, cpu->fxsave + FX_FOP, FX_MXCSR - FX_FOP);
    if (cls == FPU_X87) {
        /* D8-DF and the next byte, prefixes skipped */
        unsigned o = in->z.raw.prefix_count;
        fx_put16(fx, FX_FOP, (uint16_t)((in->bytes[o] & 7) << 8 | in->bytes[o + 1]));
        fx_put32(fx, FX_FIP, in->eip);
        fx_put32(fx, FX_FCS, cpu->seg[S_CS].selector);
        if (mi >= 0) {
            fx_put32(fx, FX_FDP, ea);
            fx_put32(fx, FX_FDS, cpu->seg[sreg].selector);
        }
    }

    /* An x87 store that raised an unmasked exception stores nothing
     * (Vol. 1 §8.5: "the destination is not modified") — except for the
     * precision exception alone, whose rounded result is stored (§8.5.6);
     * it was pending-free before it ran (fpu_check), so anything pending
     * is its own. */
    if (cls == FPU_X87 && (fpu_x87_pending(fx) & ~FSW_PE))
        mwrite = false;

    /* Commit: memory first (checked above), then registers. */
    if (mwrite) {
        ZydisMnemonic m = in->z.mnemonic;
        if (m == ZYDIS_MNEMONIC_MASKMOVQ || m == ZYDIS_MNEMONIC_MASKMOVDQU) {
            /* Only the bytes the mask selects are written (the others may
             * be device memory); the mask is the second operand. */
            const uint8_t *mask = vec_reg(fx, in->op[1].reg.value);
            for (unsigned i = 0; i < msize; i++)
                if (mask[i] & 0x80)
                    cpu_write(cpu, sreg, ea + i, buf[i], 1);
        } else {
            cpu_write_block(cpu, sreg, ea, buf, msize);
        }
    }
    memcpy(cpu->fxsave, fx, sizeof(fx));
    if (n.gpr_out)
        cpu_reg_set(cpu, in->op[gi].reg.value, io.gpr);
    if (fl_out)
        cpu->eflags = (cpu->eflags & ~fl_out) | (io.eflags & fl_out);
}

/*
 * MOVSD and CMPSD name both the string instructions (A5, A7) and the
 * SSE2 scalar-double ones (F2 0F 10/11, F2 0F C2): the SSE2 forms are
 * claimed by form rows, the string family keeps the mnemonic's row.
 */
static bool match_sse2(const cpu_insn *in)
{
    return in->z.meta.isa_ext == ZYDIS_ISA_EXT_SSE2;
}

const cpu_op_form cpu_forms_fpu[] = {
    { match_sse2, { ZYDIS_MNEMONIC_MOVSD, fpu_run_native, TR_IDENTICAL } },
    { match_sse2, { ZYDIS_MNEMONIC_CMPSD, fpu_run_native, TR_IDENTICAL } },
    { NULL, { ZYDIS_MNEMONIC_INVALID, NULL, TR_IDENTICAL } },
};

#define N(m) { ZYDIS_MNEMONIC_##m, fpu_run_native, TR_IDENTICAL }
#define C(m, h) { ZYDIS_MNEMONIC_##m, h, TR_CALLOUT }

const cpu_op_row cpu_ops_fpu[] = {
    /* x87 control: emulated (fpu_ctl.c) */
    C(FWAIT, fpu_fwait), C(FNINIT, fpu_fninit), C(FNCLEX, fpu_fnclex),
    C(FLDCW, fpu_fldcw), C(FNSTCW, fpu_fnstcw), C(FNSTSW, fpu_fnstsw),
    C(FLDENV, fpu_fldenv), C(FNSTENV, fpu_fnstenv), C(FRSTOR, fpu_frstor), C(FNSAVE, fpu_fnsave),
    C(FXSAVE, fpu_fxsave), C(FXRSTOR, fpu_fxrstor),
    C(LDMXCSR, fpu_ldmxcsr), C(STMXCSR, fpu_stmxcsr),
    C(SFENCE, fpu_fence), C(LFENCE, fpu_fence), C(MFENCE, fpu_fence),
    C(PREFETCHNTA, fpu_prefetch), C(PREFETCHT0, fpu_prefetch), C(PREFETCHT1, fpu_prefetch),
    C(PREFETCHT2, fpu_prefetch), C(CLFLUSH, fpu_clflush), C(MOVNTI, fpu_movnti),

    /* x87: loads, stores, constants */
    N(FLD), N(FST), N(FSTP), N(FSTPNCE), N(FILD), N(FIST), N(FISTP), N(FBLD), N(FBSTP),
    N(FXCH), N(FCMOVB), N(FCMOVE), N(FCMOVBE), N(FCMOVU), N(FCMOVNB), N(FCMOVNE),
    N(FCMOVNBE), N(FCMOVNU), N(FLD1), N(FLDZ), N(FLDPI), N(FLDL2E), N(FLDL2T), N(FLDLG2),
    N(FLDLN2),
    /* x87: arithmetic */
    N(FADD), N(FADDP), N(FIADD), N(FSUB), N(FSUBP), N(FISUB), N(FSUBR), N(FSUBRP), N(FISUBR),
    N(FMUL), N(FMULP), N(FIMUL), N(FDIV), N(FDIVP), N(FIDIV), N(FDIVR), N(FDIVRP), N(FIDIVR),
    N(FPREM), N(FPREM1), N(FABS), N(FCHS), N(FRNDINT), N(FSCALE), N(FSQRT), N(FXTRACT),
    /* x87: comparisons, transcendentals, the rest */
    N(FCOM), N(FCOMP), N(FCOMPP), N(FUCOM), N(FUCOMP), N(FUCOMPP), N(FICOM), N(FICOMP),
    N(FCOMI), N(FCOMIP), N(FUCOMI), N(FUCOMIP), N(FTST), N(FXAM),
    N(FSIN), N(FCOS), N(FSINCOS), N(FPTAN), N(FPATAN), N(F2XM1), N(FYL2X), N(FYL2XP1),
    N(FINCSTP), N(FDECSTP), N(FFREE), N(FFREEP), N(FNOP),
    N(FDISI8087_NOP), N(FENI8087_NOP), N(FSETPM287_NOP),

    /* MMX */
    N(EMMS), N(MOVD), N(MOVQ),
    N(PACKSSDW), N(PACKSSWB), N(PACKUSWB),
    N(PADDB), N(PADDW), N(PADDD), N(PADDQ), N(PADDSB), N(PADDSW), N(PADDUSB), N(PADDUSW),
    N(PSUBB), N(PSUBW), N(PSUBD), N(PSUBQ), N(PSUBSB), N(PSUBSW), N(PSUBUSB), N(PSUBUSW),
    N(PAND), N(PANDN), N(POR), N(PXOR),
    N(PCMPEQB), N(PCMPEQW), N(PCMPEQD), N(PCMPGTB), N(PCMPGTW), N(PCMPGTD),
    N(PMADDWD), N(PMULHW), N(PMULLW), N(PMULHUW), N(PMULUDQ),
    N(PSLLW), N(PSLLD), N(PSLLQ), N(PSRLW), N(PSRLD), N(PSRLQ), N(PSRAW), N(PSRAD),
    N(PUNPCKHBW), N(PUNPCKHWD), N(PUNPCKHDQ), N(PUNPCKLBW), N(PUNPCKLWD), N(PUNPCKLDQ),
    /* SSE integer additions on MMX and XMM registers */
    N(PAVGB), N(PAVGW), N(PEXTRW), N(PINSRW), N(PMAXSW), N(PMAXUB), N(PMINSW), N(PMINUB),
    N(PMOVMSKB), N(PSADBW), N(PSHUFW), N(MASKMOVQ), N(MOVNTQ),

    /* SSE */
    N(MOVAPS), N(MOVUPS), N(MOVSS), N(MOVLPS), N(MOVHPS), N(MOVHLPS), N(MOVLHPS),
    N(MOVMSKPS), N(MOVNTPS),
    N(ADDPS), N(ADDSS), N(SUBPS), N(SUBSS), N(MULPS), N(MULSS), N(DIVPS), N(DIVSS),
    N(SQRTPS), N(SQRTSS), N(MAXPS), N(MAXSS), N(MINPS), N(MINSS),
    N(RCPPS), N(RCPSS), N(RSQRTPS), N(RSQRTSS),
    N(CMPPS), N(CMPSS), N(COMISS), N(UCOMISS),
    N(ANDPS), N(ANDNPS), N(ORPS), N(XORPS), N(SHUFPS), N(UNPCKHPS), N(UNPCKLPS),
    N(CVTPI2PS), N(CVTPS2PI), N(CVTTPS2PI), N(CVTSI2SS), N(CVTSS2SI), N(CVTTSS2SI),

    /* SSE2 (MOVSD and CMPSD: cpu_forms_fpu) */
    N(MOVAPD), N(MOVUPD), N(MOVLPD), N(MOVHPD), N(MOVMSKPD), N(MOVNTPD),
    N(MOVDQA), N(MOVDQU), N(MOVNTDQ), N(MOVDQ2Q), N(MOVQ2DQ), N(MASKMOVDQU),
    N(ADDPD), N(ADDSD), N(SUBPD), N(SUBSD), N(MULPD), N(MULSD), N(DIVPD), N(DIVSD),
    N(SQRTPD), N(SQRTSD), N(MAXPD), N(MAXSD), N(MINPD), N(MINSD),
    N(CMPPD), N(COMISD), N(UCOMISD),
    N(ANDPD), N(ANDNPD), N(ORPD), N(XORPD), N(SHUFPD), N(UNPCKHPD), N(UNPCKLPD),
    N(CVTDQ2PD), N(CVTDQ2PS), N(CVTPD2DQ), N(CVTPD2PI), N(CVTPD2PS), N(CVTPI2PD),
    N(CVTPS2DQ), N(CVTPS2PD), N(CVTSD2SI), N(CVTSD2SS), N(CVTSI2SD), N(CVTSS2SD),
    N(CVTTPD2DQ), N(CVTTPD2PI), N(CVTTPS2DQ), N(CVTTSD2SI),
    N(PSHUFD), N(PSHUFHW), N(PSHUFLW), N(PSLLDQ), N(PSRLDQ), N(PUNPCKHQDQ), N(PUNPCKLQDQ),

    { ZYDIS_MNEMONIC_INVALID, NULL, TR_IDENTICAL },
};
