/*
 * Data movement and the stack: MOV (with moffs and segment-register
 * forms), MOVZX MOVSX MOVNTI, LEA, XCHG, XLAT, CBW CWDE CWD CDQ, PUSH POP
 * (registers, memory, immediates, segment registers), PUSHA(D) POPA(D),
 * ENTER LEAVE, LAHF SAHF, PUSHF(D) POPF(D), CLC STC CMC CLD STD, LDS LES
 * LFS LGS LSS, BOUND, and the instructions that do nothing (NOP, the
 * multi-byte NOP, PAUSE, PREFETCHh) or only fault (UD0/UD1/UD2).
 * SDM Vol. 1 §6.2-6.5 (stack), §7.3.1, §7.3.13 (flag control), Vol. 2
 * instruction pages, Vol. 3A §20.2.7 (POPF/PUSHF in v86 mode).
 *
 * Fault order (exception.h): every load, and every check of the stack
 * range a multi-push touches, happens before the first write; registers
 * change last.  The stack pointer is ESP or SP by SS.B (cpu->stack32),
 * independently of the operand size, which sets how much is pushed.
 */
#include "cpu/exception.h"
#include "cpu/mem.h"
#include "cpu/operand.h"
#include "cpu/ops.h"
#include "cpu/seg.h"

/* ---- stack-pointer helpers ------------------------------------------- */

static inline uint32_t sp_get(const cpu_state *cpu)
{
    return cpu->stack32 ? cpu->regs[R_ESP] : (cpu->regs[R_ESP] & 0xffff);
}

/* Offset sp + delta in the stack segment, wrapped to the stack width. */
static inline uint32_t sp_add(const cpu_state *cpu, uint32_t sp, uint32_t delta)
{
    return cpu->stack32 ? sp + delta : ((sp + delta) & 0xffff);
}

static inline void sp_set(cpu_state *cpu, bool stack32, uint32_t sp)
{
    cpu->regs[R_ESP] = stack32 ? sp : ((cpu->regs[R_ESP] & 0xffff0000u) | (sp & 0xffff));
}

static inline ZydisRegisterClass reg_class(ZydisRegister r)
{
    return ZydisRegisterGetClass(r);
}

static inline bool is_sreg_operand(const cpu_insn *in, int i)
{
    return in->op[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
           reg_class(in->op[i].reg.value) == ZYDIS_REGCLASS_SEGMENT;
}

/* ---- MOV family ------------------------------------------------------- */

/*
 * MOV, including A0-A3 (moffs: a memory operand with only a
 * displacement, which op_ea already handles) and 8C/8E.  MOV to CS is
 * #UD (SDM Vol. 2B "MOV": "If attempt is made to load the CS register").
 * MOV from a segment register to a 32-bit register zero-extends (all
 * processors since the Pentium Pro); to memory it always stores 16 bits.
 * MOV to/from CRn/DRn are system.c's form rows; should one reach here,
 * it is #UD rather than a silent no-op.
 */
static void op_mov(cpu_state *cpu, cpu_insn *in)
{
    for (int i = 0; i < 2; i++) {
        if (in->op[i].type == ZYDIS_OPERAND_TYPE_REGISTER) {
            ZydisRegisterClass c = reg_class(in->op[i].reg.value);
            if (c == ZYDIS_REGCLASS_CONTROL || c == ZYDIS_REGCLASS_DEBUG ||
                c == ZYDIS_REGCLASS_TEST)
                cpu_fault(cpu, EXC_UD, 0);
        }
    }
    if (is_sreg_operand(in, 0)) {
        int s = cpu_sreg_index(in->op[0].reg.value);
        if (s == S_CS)
            cpu_fault(cpu, EXC_UD, 0);
        uint16_t sel = (uint16_t)op_read(cpu, in, 1);
        cpu_load_seg(cpu, s, sel); /* MOV SS sets the interrupt shadow */
        return;
    }
    op_write(cpu, in, 0, op_read(cpu, in, 1));
}

/* MOVZX/MOVSX r, r/m8|r/m16. */
static void op_movzx(cpu_state *cpu, cpu_insn *in)
{
    op_write(cpu, in, 0, op_read(cpu, in, 1));
}

static void op_movsx(cpu_state *cpu, cpu_insn *in)
{
    uint32_t v = op_read(cpu, in, 1);
    op_write(cpu, in, 0, op_size(in, 1) == 1 ? (uint32_t)(int8_t)v : (uint32_t)(int16_t)v);
}

/* LEA r, m: the offset wrapped to the address size, then truncated to
 * the operand size by the register write.  No memory access. */
static void op_lea(cpu_state *cpu, cpu_insn *in)
{
    if (in->op[1].type != ZYDIS_OPERAND_TYPE_MEMORY)
        cpu_fault(cpu, EXC_UD, 0);
    op_write(cpu, in, 0, op_ea(cpu, in, 1));
}

/* XCHG: the memory side (if any) is written first, so a fault changes
 * nothing.  With memory it is implicitly locked: nothing to do here. */
static void op_xchg(cpu_state *cpu, cpu_insn *in)
{
    uint32_t a = op_read(cpu, in, 0);
    uint32_t b = op_read(cpu, in, 1);
    if (in->op[1].type == ZYDIS_OPERAND_TYPE_MEMORY) {
        op_write(cpu, in, 1, a);
        op_write(cpu, in, 0, b);
    } else {
        op_write(cpu, in, 0, b);
        op_write(cpu, in, 1, a);
    }
}

/* XLAT: AL = [seg:(E)BX + AL], DS overridable, (E)BX by address size. */
static void op_xlat(cpu_state *cpu, cpu_insn *in)
{
    uint32_t ea = cpu->regs[R_EBX] + (cpu->regs[R_EAX] & 0xff);
    if (in->addrsize == 2)
        ea &= 0xffff;
    uint32_t v = cpu_read(cpu, op_sreg(in, 0), ea, 1);
    cpu->regs[R_EAX] = (cpu->regs[R_EAX] & ~0xffu) | v;
}

/* CBW/CWDE: sign-extend the low half of the accumulator into all of it.
 * CWD/CDQ: sign-extend the accumulator into (E)DX. */
static void op_cbw(cpu_state *cpu, cpu_insn *in)
{
    uint32_t a = cpu->regs[R_EAX];
    if (in->opsize == 2)
        cpu->regs[R_EAX] = (a & 0xffff0000u) | (uint16_t)(int8_t)a;
    else
        cpu->regs[R_EAX] = (uint32_t)(int16_t)a;
}

static void op_cwd(cpu_state *cpu, cpu_insn *in)
{
    uint32_t a = cpu->regs[R_EAX];
    if (in->opsize == 2)
        cpu->regs[R_EDX] = (cpu->regs[R_EDX] & 0xffff0000u) | ((a & 0x8000) ? 0xffff : 0);
    else
        cpu->regs[R_EDX] = (a & 0x80000000u) ? 0xffffffffu : 0;
}

/* MOVNTI m, r: the non-temporal hint means nothing to an emulator. */
static void op_movnti(cpu_state *cpu, cpu_insn *in)
{
    op_write(cpu, in, 0, op_read(cpu, in, 1));
}

/* ---- PUSH / POP ------------------------------------------------------- */

/*
 * PUSH r/m, imm, sreg.  The operand size says how far ESP moves.  PUSH
 * ESP pushes the value before the decrement (the operand is read
 * first).  A segment register pushed with a 32-bit operand size is
 * written as a 16-bit store into the 4-byte slot, the upper half left
 * as it was — what current Intel processors do (SDM Vol. 2B "PUSH").
 */
static void op_push(cpu_state *cpu, cpu_insn *in)
{
    unsigned size = in->opsize;
    uint32_t v = op_read(cpu, in, 0);
    if (is_sreg_operand(in, 0)) {
        uint32_t sp = sp_add(cpu, sp_get(cpu), -size);
        cpu_write(cpu, S_SS, sp, v, 2);
        sp_set(cpu, cpu->stack32, sp);
        return;
    }
    cpu_push(cpu, v, size);
}

/*
 * POP r/m, sreg.  The value is read before anything changes.  For a
 * memory destination the address is computed with ESP already
 * incremented (SDM Vol. 2B "POP": POP [ESP+d]).  For POP SS the
 * increment uses the stack size of the old SS; cpu_load_seg() sets the
 * interrupt shadow.  POP CS does not decode.
 */
static void op_pop(cpu_state *cpu, cpu_insn *in)
{
    unsigned size = in->opsize;
    bool s32 = cpu->stack32;
    uint32_t sp = sp_get(cpu);
    uint32_t next = sp_add(cpu, sp, size);

    if (is_sreg_operand(in, 0)) {
        uint16_t sel = (uint16_t)cpu_read(cpu, S_SS, sp, 2);
        cpu_load_seg(cpu, cpu_sreg_index(in->op[0].reg.value), sel);
        sp_set(cpu, s32, next);
        return;
    }
    uint32_t v = cpu_read(cpu, S_SS, sp, size);
    /* ESP moves first so that POP [ESP+d] addresses past the popped
     * slot and POP ESP keeps the popped value; if the memory write
     * faults, the loop restores ESP. */
    sp_set(cpu, s32, next);
    op_write(cpu, in, 0, v);
}

/* PUSHA/PUSHAD: EAX ECX EDX EBX (original ESP) EBP ESI EDI.  All eight
 * slots are checked before the first store, so a fault on the last one
 * leaves memory untouched. */
static void op_pusha(cpu_state *cpu, cpu_insn *in)
{
    unsigned size = in->opsize;
    uint32_t sp = sp_get(cpu);
    uint32_t slot[8];
    for (int i = 0; i < 8; i++) {
        slot[i] = sp_add(cpu, sp, -(uint32_t)(size * (i + 1)));
        cpu_check_access(cpu, S_SS, slot[i], size, true);
    }
    for (int i = 0; i < 8; i++)
        cpu_write(cpu, S_SS, slot[i], cpu->regs[i], size);
    sp_set(cpu, cpu->stack32, slot[7]);
}

/* POPA/POPAD: the reverse, the saved ESP slot skipped; everything is
 * read before a register changes. */
static void op_popa(cpu_state *cpu, cpu_insn *in)
{
    unsigned size = in->opsize;
    uint32_t sp = sp_get(cpu);
    uint32_t v[8];
    for (int i = 0; i < 8; i++)
        v[7 - i] = cpu_read(cpu, S_SS, sp_add(cpu, sp, size * i), size);
    for (int i = 0; i < 8; i++) {
        if (i == R_ESP)
            continue;
        cpu->regs[i] = size == 4 ? v[i] : ((cpu->regs[i] & 0xffff0000u) | v[i]);
    }
    sp_set(cpu, cpu->stack32, sp_add(cpu, sp, size * 8));
}

/*
 * ENTER imm16, imm8 (SDM Vol. 2A "ENTER"): push (E)BP; for a nesting
 * level L > 0 copy L-1 frame pointers from the old frame and push the
 * new frame pointer; (E)BP = frame; (E)SP -= size.  Frame pointers are
 * read through SS at (E)BP by the stack size.  The reads and the checks
 * of every slot and of the final stack pointer (a #SS limit check)
 * come before the first store.
 */
static void op_enter(cpu_state *cpu, cpu_insn *in)
{
    unsigned size = in->opsize;
    uint32_t alloc = (uint32_t)in->op[0].imm.value.u & 0xffff;
    unsigned level = (unsigned)in->op[1].imm.value.u & 31;
    uint32_t sp = sp_get(cpu);
    uint32_t bp = cpu->stack32 ? cpu->regs[R_EBP] : (cpu->regs[R_EBP] & 0xffff);
    uint32_t vals[33], slots[33];
    unsigned n = 0;

    vals[n++] = cpu->regs[R_EBP];
    uint32_t frame = sp_add(cpu, sp, -size);
    if (level > 0) {
        for (unsigned i = 1; i < level; i++) {
            bp = sp_add(cpu, bp, -size);
            vals[n++] = cpu_read(cpu, S_SS, bp, size);
        }
        vals[n++] = frame;
    }
    for (unsigned i = 0; i < n; i++) {
        slots[i] = sp_add(cpu, sp, -(uint32_t)(size * (i + 1)));
        cpu_check_access(cpu, S_SS, slots[i], size, true);
    }
    uint32_t final = sp_add(cpu, slots[n - 1], -alloc);
    if (alloc)
        cpu_linear(cpu, S_SS, final, 1, true);
    for (unsigned i = 0; i < n; i++)
        cpu_write(cpu, S_SS, slots[i], vals[i], size);
    /* (E)BP takes the frame by the stack size, not the operand size */
    cpu->regs[R_EBP] = cpu->stack32 ? frame : ((cpu->regs[R_EBP] & 0xffff0000u) | frame);
    sp_set(cpu, cpu->stack32, final);
}

/* LEAVE: (E)SP = (E)BP by the stack size, then pop (E)BP by the operand size. */
static void op_leave(cpu_state *cpu, cpu_insn *in)
{
    unsigned size = in->opsize;
    uint32_t sp = cpu->stack32 ? cpu->regs[R_EBP] : (cpu->regs[R_EBP] & 0xffff);
    uint32_t v = cpu_read(cpu, S_SS, sp, size);
    sp_set(cpu, cpu->stack32, sp_add(cpu, sp, size));
    if (size == 4)
        cpu->regs[R_EBP] = v;
    else
        cpu->regs[R_EBP] = (cpu->regs[R_EBP] & 0xffff0000u) | v;
}

/* ---- flags ------------------------------------------------------------ */

#define FL_LAHF_MASK (FL_SF | FL_ZF | FL_AF | FL_PF | FL_CF)

static void op_lahf(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    uint32_t ah = (cpu->eflags & FL_LAHF_MASK) | FL_FIXED1;
    cpu->regs[R_EAX] = (cpu->regs[R_EAX] & 0xffff00ffu) | (ah << 8);
}

static void op_sahf(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    uint32_t ah = (cpu->regs[R_EAX] >> 8) & FL_LAHF_MASK;
    cpu->eflags = (cpu->eflags & ~FL_LAHF_MASK) | ah | FL_FIXED1;
}

/* In v86 mode with IOPL < 3, PUSHF/POPF fault to the v86 monitor.
 * CR4.VME (virtual interrupt flag, SDM Vol. 3A §20.3) is not supported,
 * so there is no VIF path here. */
static void v86_iopl_check(cpu_state *cpu)
{
    if (cpu_v86(cpu) && ((cpu->eflags & FL_IOPL) >> 12) < 3)
        cpu_fault(cpu, EXC_GP, 0);
}

/* PUSHF/PUSHFD: the image has VM and RF cleared (SDM Vol. 2B "PUSHF"). */
static void op_pushf(cpu_state *cpu, cpu_insn *in)
{
    v86_iopl_check(cpu);
    cpu_push(cpu, cpu->eflags & ~(FL_VM | FL_RF), in->opsize);
}

/*
 * POPF/POPFD (SDM Vol. 2B "POPF", Operation):
 *   - v86 with IOPL < 3: #GP(0) (above);
 *   - IOPL changes only at CPL 0 (real mode counts as CPL 0), never in v86;
 *   - IF changes only if CPL <= IOPL;
 *   - VM, VIP, VIF are never changed; RF is cleared;
 *   - a 16-bit POPF leaves bits 16-31 alone;
 *   - reserved bits stay 0, bit 1 stays 1; AC and ID are writable (a
 *     guest toggling ID finds CPUID).
 */
#define FL_POPF_WRITABLE (FL_ARITH | FL_TF | FL_IF | FL_DF | FL_IOPL | FL_NT | FL_AC | FL_ID)

static void op_popf(cpu_state *cpu, cpu_insn *in)
{
    v86_iopl_check(cpu);
    unsigned size = in->opsize;
    uint32_t v = cpu_stack_peek(cpu, 0, size);
    uint32_t mask = FL_POPF_WRITABLE;
    unsigned cpl = cpu_protected(cpu) ? cpu->cpl : 0;
    unsigned iopl = (cpu->eflags & FL_IOPL) >> 12;
    if (cpl > 0)
        mask &= ~FL_IOPL;
    if (cpl > iopl)
        mask &= ~FL_IF;
    if (size == 2)
        mask &= 0xffff;
    cpu_pop(cpu, size);
    cpu->eflags = ((cpu->eflags & ~mask) | (v & mask) | FL_FIXED1) & ~FL_RF;
}

static void op_clc(cpu_state *cpu, cpu_insn *in) { (void)in; cpu->eflags &= ~FL_CF; }
static void op_stc(cpu_state *cpu, cpu_insn *in) { (void)in; cpu->eflags |= FL_CF; }
static void op_cmc(cpu_state *cpu, cpu_insn *in) { (void)in; cpu->eflags ^= FL_CF; }
static void op_cld(cpu_state *cpu, cpu_insn *in) { (void)in; cpu->eflags &= ~FL_DF; }
static void op_std(cpu_state *cpu, cpu_insn *in) { (void)in; cpu->eflags |= FL_DF; }

/* ---- far pointers ----------------------------------------------------- */

/*
 * LDS/LES/LFS/LGS/LSS r, m16:16|m16:32: offset then selector in memory.
 * Both are read, then the segment load (which may fault) runs before the
 * general register is written.
 */
static void load_far(cpu_state *cpu, cpu_insn *in, int sreg)
{
    if (in->op[1].type != ZYDIS_OPERAND_TYPE_MEMORY)
        cpu_fault(cpu, EXC_UD, 0);
    unsigned size = in->opsize;
    int seg = op_sreg(in, 1);
    uint32_t ea = op_ea(cpu, in, 1);
    uint32_t off = cpu_read(cpu, seg, ea, size);
    uint32_t sel_ea = ea + size;
    if (in->addrsize == 2)
        sel_ea &= 0xffff;
    uint16_t sel = (uint16_t)cpu_read(cpu, seg, sel_ea, 2);
    cpu_load_seg(cpu, sreg, sel);
    /* only MOV SS and POP SS open an interrupt shadow, not LSS */
    if (sreg == S_SS)
        cpu->inhibit_irq = false;
    cpu_reg_set(cpu, in->op[0].reg.value, off);
}

static void op_lds(cpu_state *cpu, cpu_insn *in) { load_far(cpu, in, S_DS); }
static void op_les(cpu_state *cpu, cpu_insn *in) { load_far(cpu, in, S_ES); }
static void op_lfs(cpu_state *cpu, cpu_insn *in) { load_far(cpu, in, S_FS); }
static void op_lgs(cpu_state *cpu, cpu_insn *in) { load_far(cpu, in, S_GS); }
static void op_lss(cpu_state *cpu, cpu_insn *in) { load_far(cpu, in, S_SS); }

/* ---- the rest --------------------------------------------------------- */

/* BOUND r, m: #BR unless lower <= index <= upper, all signed. */
static void op_bound(cpu_state *cpu, cpu_insn *in)
{
    if (in->op[1].type != ZYDIS_OPERAND_TYPE_MEMORY)
        cpu_fault(cpu, EXC_UD, 0);
    unsigned size = in->opsize;
    int seg = op_sreg(in, 1);
    uint32_t ea = op_ea(cpu, in, 1);
    uint32_t hi_ea = ea + size;
    if (in->addrsize == 2)
        hi_ea &= 0xffff;
    uint32_t lo = cpu_read(cpu, seg, ea, size);
    uint32_t hi = cpu_read(cpu, seg, hi_ea, size);
    uint32_t idx = cpu_reg_get(cpu, in->op[0].reg.value);
    int32_t l = size == 2 ? (int16_t)lo : (int32_t)lo;
    int32_t h = size == 2 ? (int16_t)hi : (int32_t)hi;
    int32_t i = size == 2 ? (int16_t)idx : (int32_t)idx;
    if (i < l || i > h)
        cpu_fault(cpu, EXC_BR, 0);
}

/* NOP, 0F 1F /0 (its memory operand is never accessed), PAUSE, PREFETCHh. */
static void op_nop(cpu_state *cpu, cpu_insn *in)
{
    (void)cpu;
    (void)in;
}

static void op_ud(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    cpu_fault(cpu, EXC_UD, 0);
}

/* ---- tables ----------------------------------------------------------- */

#define ROW(m, h, c) { ZYDIS_MNEMONIC_##m, h, c }

const cpu_op_row cpu_ops_data[] = {
    /* MOV with a segment register is rewritten (a form row below) */
    ROW(MOV, op_mov, TR_IDENTICAL),
    ROW(MOVZX, op_movzx, TR_IDENTICAL),
    ROW(MOVSX, op_movsx, TR_IDENTICAL),
    ROW(MOVNTI, op_movnti, TR_IDENTICAL),
    ROW(LEA, op_lea, TR_IDENTICAL),
    ROW(XCHG, op_xchg, TR_IDENTICAL),
    ROW(XLAT, op_xlat, TR_IDENTICAL),
    ROW(CBW, op_cbw, TR_IDENTICAL),
    ROW(CWDE, op_cbw, TR_IDENTICAL),
    ROW(CWD, op_cwd, TR_IDENTICAL),
    ROW(CDQ, op_cwd, TR_IDENTICAL),
    ROW(PUSH, op_push, TR_REWRITTEN),
    ROW(POP, op_pop, TR_REWRITTEN),
    ROW(PUSHA, op_pusha, TR_REWRITTEN),
    ROW(PUSHAD, op_pusha, TR_REWRITTEN),
    ROW(POPA, op_popa, TR_REWRITTEN),
    ROW(POPAD, op_popa, TR_REWRITTEN),
    ROW(ENTER, op_enter, TR_REWRITTEN),
    ROW(LEAVE, op_leave, TR_REWRITTEN),
    ROW(LAHF, op_lahf, TR_IDENTICAL),
    ROW(SAHF, op_sahf, TR_IDENTICAL),
    ROW(PUSHF, op_pushf, TR_REWRITTEN),
    ROW(PUSHFD, op_pushf, TR_REWRITTEN),
    ROW(POPF, op_popf, TR_REWRITTEN),
    ROW(POPFD, op_popf, TR_REWRITTEN),
    ROW(CLC, op_clc, TR_IDENTICAL),
    ROW(STC, op_stc, TR_IDENTICAL),
    ROW(CMC, op_cmc, TR_IDENTICAL),
    /* DF is guest state the translated string code reads: rewritten */
    ROW(CLD, op_cld, TR_REWRITTEN),
    ROW(STD, op_std, TR_REWRITTEN),
    ROW(LDS, op_lds, TR_CALLOUT),
    ROW(LES, op_les, TR_CALLOUT),
    ROW(LFS, op_lfs, TR_CALLOUT),
    ROW(LGS, op_lgs, TR_CALLOUT),
    ROW(LSS, op_lss, TR_CALLOUT),
    ROW(BOUND, op_bound, TR_CALLOUT),
    ROW(NOP, op_nop, TR_IDENTICAL),
    ROW(PAUSE, op_nop, TR_IDENTICAL),
    ROW(PREFETCH, op_nop, TR_IDENTICAL),
    ROW(PREFETCHW, op_nop, TR_IDENTICAL),
    ROW(PREFETCHNTA, op_nop, TR_IDENTICAL),
    ROW(PREFETCHT0, op_nop, TR_IDENTICAL),
    ROW(PREFETCHT1, op_nop, TR_IDENTICAL),
    ROW(PREFETCHT2, op_nop, TR_IDENTICAL),
    /* 0F 18-1F are hint NOPs on CPUs without the later features that
     * reuse them (CET: ENDBR32, RDSSPD; MPX: BND*; CLDEMOTE); the guest's
     * CPUID advertises none of those */
    ROW(ENDBR32, op_nop, TR_IDENTICAL),
    ROW(ENDBR64, op_nop, TR_IDENTICAL),
    ROW(RDSSPD, op_nop, TR_IDENTICAL),
    ROW(CLDEMOTE, op_nop, TR_IDENTICAL),
    ROW(BNDCL, op_nop, TR_IDENTICAL),
    ROW(BNDCN, op_nop, TR_IDENTICAL),
    ROW(BNDCU, op_nop, TR_IDENTICAL),
    ROW(BNDLDX, op_nop, TR_IDENTICAL),
    ROW(BNDSTX, op_nop, TR_IDENTICAL),
    ROW(BNDMK, op_nop, TR_IDENTICAL),
    ROW(BNDMOV, op_nop, TR_IDENTICAL),
    ROW(UD0, op_ud, TR_CALLOUT),
    ROW(UD1, op_ud, TR_CALLOUT),
    ROW(UD2, op_ud, TR_CALLOUT),
    { ZYDIS_MNEMONIC_INVALID, NULL, TR_IDENTICAL },
};

/* MOV to or from a segment register: sensitive (DESIGN.md), rewritten. */
static bool match_mov_sreg(const cpu_insn *in)
{
    return is_sreg_operand(in, 0) || is_sreg_operand(in, 1);
}

const cpu_op_form cpu_forms_data[] = {
    { match_mov_sreg, ROW(MOV, op_mov, TR_REWRITTEN) },
    { NULL, { ZYDIS_MNEMONIC_INVALID, NULL, TR_IDENTICAL } },
};
