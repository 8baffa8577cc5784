/*
 * The system instruction family: descriptor-table registers (LGDT LIDT
 * SGDT SIDT LLDT SLDT LTR STR), segment inspection (LAR LSL VERR VERW
 * ARPL), interrupt-flag control (CLI STI), HLT, port I/O (IN OUT), cache
 * control (INVD WBINVD), and the table rows for the handlers in cr.c and
 * msr.c.  SDM Vol. 2 for each instruction; Vol. 3A §2.4 (system table
 * registers), §5.10 (pointer validation), §6.8.1 (IF and IOPL).
 *
 * Privilege: instructions that are privileged raise #GP(0) at CPL > 0 and
 * in v86 mode.  Those usable only in protected mode (LLDT, LTR, LAR...)
 * raise #UD in real and v86 mode.  SGDT, SIDT, SLDT, STR, SMSW run at any
 * CPL: they are the sensitive-but-unprivileged holes the translator must
 * rewrite (DESIGN.md).
 */
#include "cpu/exception.h"
#include "cpu/io.h"
#include "cpu/mem.h"
#include "cpu/operand.h"
#include "cpu/ops.h"
#include "cpu/seg.h"
#include "cpu/sysops.h"

static void require_protected(cpu_state *cpu)
{
    if (!cpu_protected(cpu) || cpu_v86(cpu))
        cpu_fault(cpu, EXC_UD, 0);
}

static void set_zf(cpu_state *cpu, bool z)
{
    if (z)
        cpu->eflags |= FL_ZF;
    else
        cpu->eflags &= ~FL_ZF;
}

/* ---- GDTR, IDTR: limit (16 bits) then base (32, or 24 with a 16-bit
 * operand size) ---- */

static void load_dtr(cpu_state *cpu, cpu_insn *in, cpu_dtr *dtr)
{
    sys_require_cpl0(cpu);
    if (in->op[0].type != ZYDIS_OPERAND_TYPE_MEMORY)
        cpu_fault(cpu, EXC_UD, 0);
    int s = op_sreg(in, 0);
    uint32_t ea = op_ea(cpu, in, 0);
    uint32_t ea2 = in->addrsize == 2 ? (ea + 2) & 0xffff : ea + 2;
    uint16_t limit = (uint16_t)cpu_read(cpu, s, ea, 2);
    uint32_t base = cpu_read(cpu, s, ea2, 4);
    if (in->opsize == 2)
        base &= 0x00ffffffu;
    dtr->limit = limit;
    dtr->base = base;
}

static void store_dtr(cpu_state *cpu, cpu_insn *in, const cpu_dtr *dtr)
{
    if (in->op[0].type != ZYDIS_OPERAND_TYPE_MEMORY)
        cpu_fault(cpu, EXC_UD, 0);
    int s = op_sreg(in, 0);
    uint32_t ea = op_ea(cpu, in, 0);
    uint32_t ea2 = in->addrsize == 2 ? (ea + 2) & 0xffff : ea + 2;
    cpu_check_access(cpu, s, ea, 2, true);
    cpu_check_access(cpu, s, ea2, 4, true);
    /* A 16-bit operand size stores 24 bits of base and a zero byte. */
    uint32_t base = in->opsize == 2 ? dtr->base & 0x00ffffffu : dtr->base;
    cpu_write(cpu, s, ea, dtr->limit, 2);
    cpu_write(cpu, s, ea2, base, 4);
}

static void op_lgdt(cpu_state *cpu, cpu_insn *in) { load_dtr(cpu, in, &cpu->gdtr); }
static void op_lidt(cpu_state *cpu, cpu_insn *in) { load_dtr(cpu, in, &cpu->idtr); }
static void op_sgdt(cpu_state *cpu, cpu_insn *in) { store_dtr(cpu, in, &cpu->gdtr); }
static void op_sidt(cpu_state *cpu, cpu_insn *in) { store_dtr(cpu, in, &cpu->idtr); }

/* ---- LDTR and TR ---- */

static void op_lldt(cpu_state *cpu, cpu_insn *in)
{
    require_protected(cpu);
    sys_require_cpl0(cpu);
    uint16_t sel = (uint16_t)op_read(cpu, in, 0);
    uint32_t err = sel & 0xfffcu;
    uint64_t d;
    if ((sel & 0xfffcu) == 0) {
        /* A null LDT selector makes LDTR unusable: TI=1 selectors fault. */
        cpu->seg[S_LDTR].selector = sel;
        cpu->seg[S_LDTR].flags = 0;
        return;
    }
    if ((sel & 4) || !cpu_fetch_descriptor(cpu, sel, &d))
        cpu_fault(cpu, EXC_GP, err);
    if (desc_s(d) || desc_type(d) != DT_LDT)
        cpu_fault(cpu, EXC_GP, err);
    if (!desc_present(d))
        cpu_fault(cpu, EXC_NP, err);
    cpu_seg_from_descriptor(&cpu->seg[S_LDTR], sel, d);
}

/* LTR marks the TSS busy in the GDT as it loads TR. */
static void op_ltr(cpu_state *cpu, cpu_insn *in)
{
    require_protected(cpu);
    sys_require_cpl0(cpu);
    uint16_t sel = (uint16_t)op_read(cpu, in, 0);
    uint32_t err = sel & 0xfffcu;
    uint64_t d;
    if ((sel & 0xfffcu) == 0)
        cpu_fault(cpu, EXC_GP, 0);
    if ((sel & 4) || !cpu_fetch_descriptor(cpu, sel, &d))
        cpu_fault(cpu, EXC_GP, err);
    if (desc_s(d) || (desc_type(d) != DT_TSS16_AVAIL && desc_type(d) != DT_TSS32_AVAIL))
        cpu_fault(cpu, EXC_GP, err);
    if (!desc_present(d))
        cpu_fault(cpu, EXC_NP, err);
    d |= 2ull << 40;
    cpu_write_descriptor_high(cpu, sel, (uint32_t)(d >> 32));
    cpu_seg_from_descriptor(&cpu->seg[S_TR], sel, d);
}

static void op_sldt(cpu_state *cpu, cpu_insn *in)
{
    require_protected(cpu);
    op_write(cpu, in, 0, cpu->seg[S_LDTR].selector);
}

static void op_str(cpu_state *cpu, cpu_insn *in)
{
    require_protected(cpu);
    op_write(cpu, in, 0, cpu->seg[S_TR].selector);
}

/* ---- LAR, LSL, VERR, VERW, ARPL (§5.10.1-5.10.4): they never fault on
 * a bad selector; ZF says whether it was usable ---- */

/* The privilege rule of all four: DPL >= CPL and DPL >= RPL, except for
 * conforming code segments. */
static bool visible(const cpu_state *cpu, uint16_t sel, uint64_t d)
{
    return desc_conforming(d) || (desc_dpl(d) >= cpu->cpl && desc_dpl(d) >= (sel & 3u));
}

static bool fetch_visible(cpu_state *cpu, uint16_t sel, uint64_t *d)
{
    return (sel & 0xfffcu) != 0 && cpu_fetch_descriptor(cpu, sel, d) && visible(cpu, sel, *d);
}

static void op_lar(cpu_state *cpu, cpu_insn *in)
{
    require_protected(cpu);
    uint16_t sel = (uint16_t)op_read(cpu, in, 1);
    uint64_t d;
    bool ok = fetch_visible(cpu, sel, &d);
    if (ok && !desc_s(d)) {
        /* System types LAR reports: TSSs, LDT, call and task gates. */
        static const uint16_t valid = 1u << DT_TSS16_AVAIL | 1u << DT_LDT | 1u << DT_TSS16_BUSY |
                                      1u << DT_CALL16 | 1u << DT_TASK | 1u << DT_TSS32_AVAIL |
                                      1u << DT_TSS32_BUSY | 1u << DT_CALL32;
        ok = valid & (1u << desc_type(d));
    }
    set_zf(cpu, ok);
    if (ok)
        op_write(cpu, in, 0, (uint32_t)(d >> 32) & (op_size(in, 0) == 2 ? 0xff00u : 0x00ffff00u));
}

static void op_lsl(cpu_state *cpu, cpu_insn *in)
{
    require_protected(cpu);
    uint16_t sel = (uint16_t)op_read(cpu, in, 1);
    uint64_t d;
    bool ok = fetch_visible(cpu, sel, &d);
    if (ok && !desc_s(d)) {
        static const uint16_t valid = 1u << DT_TSS16_AVAIL | 1u << DT_LDT | 1u << DT_TSS16_BUSY |
                                      1u << DT_TSS32_AVAIL | 1u << DT_TSS32_BUSY;
        ok = valid & (1u << desc_type(d));
    }
    set_zf(cpu, ok);
    if (ok) {
        cpu_segment s;
        cpu_seg_from_descriptor(&s, sel, d);
        op_write(cpu, in, 0, s.limit);
    }
}

static void op_verr(cpu_state *cpu, cpu_insn *in)
{
    require_protected(cpu);
    uint16_t sel = (uint16_t)op_read(cpu, in, 0);
    uint64_t d;
    set_zf(cpu, fetch_visible(cpu, sel, &d) && desc_s(d) && desc_readable(d));
}

static void op_verw(cpu_state *cpu, cpu_insn *in)
{
    require_protected(cpu);
    uint16_t sel = (uint16_t)op_read(cpu, in, 0);
    uint64_t d;
    set_zf(cpu, fetch_visible(cpu, sel, &d) && desc_writable_data(d));
}

static void op_arpl(cpu_state *cpu, cpu_insn *in)
{
    require_protected(cpu);
    uint32_t dst = op_read(cpu, in, 0), src = op_read(cpu, in, 1);
    if ((dst & 3) < (src & 3)) {
        op_write(cpu, in, 0, (dst & ~3u) | (src & 3));
        set_zf(cpu, true);
    } else {
        set_zf(cpu, false);
    }
}

/* ---- IF, HLT ---- */

/* CLI/STI: allowed when CPL <= IOPL (protected), IOPL = 3 (v86; no VME),
 * always in real mode. */
static void check_if_change(cpu_state *cpu)
{
    if (!cpu_protected(cpu))
        return;
    unsigned iopl = (cpu->eflags & FL_IOPL) >> 12;
    if (cpu_v86(cpu) ? iopl != 3 : cpu->cpl > iopl)
        cpu_fault(cpu, EXC_GP, 0);
}

static void op_cli(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    check_if_change(cpu);
    cpu->eflags &= ~FL_IF;
}

/* STI delays interrupts by one instruction, but only when it sets IF
 * (STI; HLT then wakes on the next interrupt, §6.8.3). */
static void op_sti(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    check_if_change(cpu);
    if (!(cpu->eflags & FL_IF)) {
        cpu->eflags |= FL_IF;
        cpu->inhibit_irq = true;
    }
}

static void op_hlt(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    sys_require_cpl0(cpu);
    cpu->run_state = CPU_HALTED;
}

/* ---- port I/O ---- */

static uint16_t port_operand(cpu_state *cpu, const cpu_insn *in, int i)
{
    const ZydisDecodedOperand *o = &in->op[i];
    if (o->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
        return (uint16_t)(o->imm.value.u & 0xff);
    return (uint16_t)cpu->regs[R_EDX];
}

static void op_in(cpu_state *cpu, cpu_insn *in)
{
    unsigned size = op_size(in, 0);
    uint16_t port = port_operand(cpu, in, 1);
    cpu_io_check(cpu, port, size);
    cpu_reg_set(cpu, in->op[0].reg.value, cpu_io_in(cpu, port, size));
}

static void op_out(cpu_state *cpu, cpu_insn *in)
{
    unsigned size = op_size(in, 1);
    uint16_t port = port_operand(cpu, in, 0);
    cpu_io_check(cpu, port, size);
    cpu_io_out(cpu, port, cpu_reg_get(cpu, in->op[1].reg.value), size);
}

/* ---- cache control and the undefined ones ---- */

/* No caches are modelled: only the privilege check remains. */
static void op_cache(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    sys_require_cpl0(cpu);
}

/* UD0, UD1, UD2, and RSM outside SMM (btvm has no SMM). */
static void op_ud(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    cpu_fault(cpu, EXC_UD, 0);
}

const cpu_op_row cpu_ops_system[] = {
    { ZYDIS_MNEMONIC_LGDT, op_lgdt, TR_CALLOUT },
    { ZYDIS_MNEMONIC_LIDT, op_lidt, TR_CALLOUT },
    { ZYDIS_MNEMONIC_SGDT, op_sgdt, TR_REWRITTEN },
    { ZYDIS_MNEMONIC_SIDT, op_sidt, TR_REWRITTEN },
    { ZYDIS_MNEMONIC_LLDT, op_lldt, TR_CALLOUT },
    { ZYDIS_MNEMONIC_LTR, op_ltr, TR_CALLOUT },
    { ZYDIS_MNEMONIC_SLDT, op_sldt, TR_REWRITTEN },
    { ZYDIS_MNEMONIC_STR, op_str, TR_REWRITTEN },
    { ZYDIS_MNEMONIC_LMSW, sys_op_lmsw, TR_CALLOUT },
    { ZYDIS_MNEMONIC_SMSW, sys_op_smsw, TR_REWRITTEN },
    { ZYDIS_MNEMONIC_CLTS, sys_op_clts, TR_CALLOUT },
    { ZYDIS_MNEMONIC_INVLPG, sys_op_invlpg, TR_CALLOUT },
    { ZYDIS_MNEMONIC_INVD, op_cache, TR_CALLOUT },
    { ZYDIS_MNEMONIC_WBINVD, op_cache, TR_CALLOUT },
    { ZYDIS_MNEMONIC_LAR, op_lar, TR_REWRITTEN },
    { ZYDIS_MNEMONIC_LSL, op_lsl, TR_REWRITTEN },
    { ZYDIS_MNEMONIC_VERR, op_verr, TR_REWRITTEN },
    { ZYDIS_MNEMONIC_VERW, op_verw, TR_REWRITTEN },
    { ZYDIS_MNEMONIC_ARPL, op_arpl, TR_REWRITTEN },
    { ZYDIS_MNEMONIC_CLI, op_cli, TR_CALLOUT },
    { ZYDIS_MNEMONIC_STI, op_sti, TR_CALLOUT },
    { ZYDIS_MNEMONIC_HLT, op_hlt, TR_CALLOUT },
    { ZYDIS_MNEMONIC_IN, op_in, TR_CALLOUT },
    { ZYDIS_MNEMONIC_OUT, op_out, TR_CALLOUT },
    { ZYDIS_MNEMONIC_CPUID, sys_op_cpuid, TR_CALLOUT },
    { ZYDIS_MNEMONIC_RDTSC, sys_op_rdtsc, TR_CALLOUT },
    { ZYDIS_MNEMONIC_RDMSR, sys_op_rdmsr, TR_CALLOUT },
    { ZYDIS_MNEMONIC_WRMSR, sys_op_wrmsr, TR_CALLOUT },
    { ZYDIS_MNEMONIC_SYSENTER, sys_op_sysenter, TR_CALLOUT },
    { ZYDIS_MNEMONIC_SYSEXIT, sys_op_sysexit, TR_CALLOUT },
    { ZYDIS_MNEMONIC_RSM, op_ud, TR_CALLOUT },
    { ZYDIS_MNEMONIC_UD0, op_ud, TR_CALLOUT },
    { ZYDIS_MNEMONIC_UD1, op_ud, TR_CALLOUT },
    { ZYDIS_MNEMONIC_UD2, op_ud, TR_CALLOUT },
    { ZYDIS_MNEMONIC_INVALID, NULL, TR_IDENTICAL },
};

const cpu_op_form cpu_forms_system[] = {
    { sys_is_mov_crdr, { ZYDIS_MNEMONIC_MOV, sys_op_mov_crdr, TR_CALLOUT } },
    { NULL, { ZYDIS_MNEMONIC_INVALID, NULL, TR_IDENTICAL } },
};
