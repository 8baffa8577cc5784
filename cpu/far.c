/*
 * Far control transfers: JMP FAR, CALL FAR, RET FAR and the software
 * interrupts INT n, INT3, INTO, INT1 (IRET is in iret.c).
 *
 * Real and virtual-8086 mode load CS as a paragraph.  Protected mode
 * follows SDM Vol. 3A §5.8 (privilege checks for far transfers: direct
 * to conforming and non-conforming code, call gates with their stack
 * switch and parameter copy, returns to an outer level), §7.3 (JMP/CALL
 * to a TSS or task gate) and Vol. 2's JMP/CALL/RET pseudocode for the
 * order of the checks and the error codes.
 *
 * Each handler checks and reads everything first (the target descriptor,
 * the new stack, every page of the frame, the EIP limit), then writes
 * memory (accessed bits, pushes), then commits CS, SS, ESP and EIP.
 */
#include "cpu/exception.h"
#include "cpu/mem.h"
#include "cpu/operand.h"
#include "cpu/ops.h"
#include "cpu/seg.h"
#include "cpu/task.h"
#include "cpu/xfer.h"

/* The far pointer of JMP/CALL: ptr16:16/32 immediate or m16:16/32. */
static void far_operand(cpu_state *cpu, const cpu_insn *in, uint16_t *sel, uint32_t *off)
{
    const ZydisDecodedOperand *o = &in->op[0];
    if (o->type == ZYDIS_OPERAND_TYPE_POINTER) {
        *sel = o->ptr.segment;
        *off = o->ptr.offset;
        return;
    }
    if (o->type != ZYDIS_OPERAND_TYPE_MEMORY)
        cpu_fault(cpu, EXC_UD, 0);
    unsigned w = in->opsize;
    int s = op_sreg(in, 0);
    uint32_t ea = op_ea(cpu, in, 0);
    *off = cpu_read(cpu, s, ea, w);
    uint32_t sea = ea + w;
    if (in->addrsize == 2)
        sea &= 0xffff;
    *sel = (uint16_t)cpu_read(cpu, s, sea, 2);
}

static void commit_sp(cpu_state *cpu, const cpu_frame *f)
{
    xfer_set_sp(cpu, f->sp, f->big);
}

/* Real and v86 mode: CS is a paragraph; the offset must be within the
 * (cached) CS limit. */
static void far_real(cpu_state *cpu, const cpu_insn *in, uint16_t sel, uint32_t off, bool call)
{
    if (in->opsize == 2)
        off &= 0xffff;
    if (off > (cpu_v86(cpu) ? 0xffffu : cpu->seg[S_CS].limit))
        cpu_fault(cpu, EXC_GP, 0);
    if (call) {
        cpu_frame f;
        frame_init_current(cpu, &f);
        frame_push(&f, cpu->seg[S_CS].selector, in->opsize);
        frame_push(&f, cpu->eip, in->opsize);
        frame_check(cpu, &f);
        frame_write(cpu, &f);
        commit_sp(cpu, &f);
    }
    cpu_load_seg_real(cpu, S_CS, sel);
    cpu->eip = off;
}

/* A direct transfer to a code segment at the same privilege (§5.8.1-2):
 * conforming with DPL <= CPL, or non-conforming with DPL = CPL and
 * RPL <= CPL.  CS.RPL becomes CPL. */
static void far_code(cpu_state *cpu, const cpu_insn *in, uint16_t sel, uint64_t d, uint32_t off,
                     bool call)
{
    uint32_t err = sel & 0xfffcu;
    if (desc_conforming(d) ? desc_dpl(d) > cpu->cpl
                           : ((sel & 3) > cpu->cpl || desc_dpl(d) != cpu->cpl))
        cpu_fault(cpu, EXC_GP, err);
    if (!desc_present(d))
        cpu_fault(cpu, EXC_NP, err);
    if (in->opsize == 2)
        off &= 0xffff;
    cpu_frame f;
    if (call) {
        frame_init_current(cpu, &f);
        frame_push(&f, cpu->seg[S_CS].selector, in->opsize);
        frame_push(&f, cpu->eip, in->opsize);
        frame_check(cpu, &f);
    }
    cpu_segment cs;
    cpu_seg_from_descriptor(&cs, sel, d);
    if (off > cs.limit)
        cpu_fault(cpu, EXC_GP, 0);
    cpu_set_accessed(cpu, sel, &d);
    if (call) {
        frame_write(cpu, &f);
        commit_sp(cpu, &f);
    }
    cpu_commit_seg(cpu, S_CS, (sel & 0xfffcu) | cpu->cpl, d);
    cpu->eip = off;
}

/*
 * Through a call gate (§5.8.3-5.8.5).  JMP only reaches the same level;
 * CALL to a more privileged non-conforming segment switches to the inner
 * stack from the TSS and copies the gate's parameter count of words or
 * dwords from the caller's stack.
 */
static void far_call_gate(cpu_state *cpu, uint16_t gsel, uint64_t gate, bool call)
{
    uint32_t gerr = gsel & 0xfffcu;
    if (desc_dpl(gate) < cpu->cpl || desc_dpl(gate) < (gsel & 3u))
        cpu_fault(cpu, EXC_GP, gerr);
    if (!desc_present(gate))
        cpu_fault(cpu, EXC_NP, gerr);

    bool gate32 = desc_type(gate) == DT_CALL32;
    unsigned w = gate32 ? 4 : 2;
    uint16_t sel = gate_selector(gate);
    uint32_t off = gate_offset(gate, gate32);
    uint32_t err = sel & 0xfffcu;
    uint64_t d;
    if ((sel & 0xfffcu) == 0)
        cpu_fault(cpu, EXC_GP, 0);
    if (!cpu_fetch_descriptor(cpu, sel, &d) || !desc_code(d))
        cpu_fault(cpu, EXC_GP, err);
    if (call ? desc_dpl(d) > cpu->cpl
             : (desc_conforming(d) ? desc_dpl(d) > cpu->cpl : desc_dpl(d) != cpu->cpl))
        cpu_fault(cpu, EXC_GP, err);
    if (!desc_present(d))
        cpu_fault(cpu, EXC_NP, err);

    cpu_segment cs;
    cpu_seg_from_descriptor(&cs, sel, d);
    unsigned dpl = desc_conforming(d) ? cpu->cpl : desc_dpl(d);
    cpu_frame f;
    uint16_t new_ss = 0;
    uint64_t ss_desc = 0;
    bool inner = call && dpl < cpu->cpl;

    if (inner) {
        uint32_t new_esp;
        xfer_tss_stack(cpu, dpl, &new_ss, &new_esp, 0);
        ss_desc = xfer_check_inner_ss(cpu, new_ss, dpl, 0);
        cpu_segment ss;
        cpu_seg_from_descriptor(&ss, new_ss, ss_desc);
        frame_init_new(&f, &ss, new_esp, new_ss & 0xfffcu);
        frame_push(&f, cpu->seg[S_SS].selector, w);
        frame_push(&f, cpu->regs[R_ESP], w);
        /* Parameters keep their order: the deepest one is copied first. */
        for (unsigned i = gate_params(gate); i-- > 0;)
            frame_push(&f, cpu_stack_peek(cpu, i * w, w), w);
    } else {
        frame_init_current(cpu, &f);
    }
    if (call) {
        frame_push(&f, cpu->seg[S_CS].selector, w);
        frame_push(&f, cpu->eip, w);
        frame_check(cpu, &f);
    }
    if (off > cs.limit)
        cpu_fault(cpu, EXC_GP, 0);

    cpu_set_accessed(cpu, sel, &d);
    if (inner)
        cpu_set_accessed(cpu, new_ss, &ss_desc);
    if (call)
        frame_write(cpu, &f);
    if (inner)
        cpu_commit_seg(cpu, S_SS, new_ss, ss_desc);
    if (call)
        commit_sp(cpu, &f);
    cpu_commit_seg(cpu, S_CS, (sel & 0xfffcu) | dpl, d);
    cpu->eip = off;
}

static void far_transfer(cpu_state *cpu, cpu_insn *in, bool call)
{
    uint16_t sel;
    uint32_t off;
    far_operand(cpu, in, &sel, &off);
    if (!cpu_protected(cpu) || cpu_v86(cpu)) {
        far_real(cpu, in, sel, off, call);
        return;
    }
    uint32_t err = sel & 0xfffcu;
    uint64_t d;
    if ((sel & 0xfffcu) == 0)
        cpu_fault(cpu, EXC_GP, 0);
    if (!cpu_fetch_descriptor(cpu, sel, &d))
        cpu_fault(cpu, EXC_GP, err);
    if (desc_s(d)) {
        if (!desc_code(d))
            cpu_fault(cpu, EXC_GP, err);
        far_code(cpu, in, sel, d, off, call);
        return;
    }
    enum task_reason why = call ? TASK_CALL : TASK_JMP;
    switch (desc_type(d)) {
    case DT_CALL16:
    case DT_CALL32:
        far_call_gate(cpu, sel, d, call);
        return;
    case DT_TASK:
    case DT_TSS16_AVAIL:
    case DT_TSS32_AVAIL:
        if (desc_dpl(d) < cpu->cpl || desc_dpl(d) < (sel & 3u))
            cpu_fault(cpu, EXC_GP, err);
        if (!desc_present(d))
            cpu_fault(cpu, EXC_NP, err);
        if (desc_type(d) == DT_TASK)
            cpu_task_gate(cpu, gate_selector(d), why, cpu->eip, false, 0, 0);
        else
            cpu_task_switch(cpu, sel, d, why, cpu->eip, false, 0, 0);
        return;
    default: /* busy TSS, LDT, interrupt/trap gates */
        cpu_fault(cpu, EXC_GP, err);
    }
}

static void op_jmp_far(cpu_state *cpu, cpu_insn *in) { far_transfer(cpu, in, false); }
static void op_call_far(cpu_state *cpu, cpu_insn *in) { far_transfer(cpu, in, true); }

/*
 * RET FAR [imm16] (Vol. 2 RET, Vol. 3A §5.8.6).  A return to an outer
 * level also pops SS:ESP and clears the data segment registers the
 * outer level may not use.
 */
static void op_ret_far(cpu_state *cpu, cpu_insn *in)
{
    unsigned w = in->opsize;
    uint32_t imm = in->op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? (uint32_t)in->op[0].imm.value.u & 0xffff
                                                                  : 0;
    uint32_t eip = cpu_stack_peek(cpu, 0, w);
    uint16_t sel = (uint16_t)cpu_stack_peek(cpu, w, w);
    if (w == 2)
        eip &= 0xffff;
    bool big = cpu->stack32;
    uint32_t sp = big ? cpu->regs[R_ESP] : (cpu->regs[R_ESP] & 0xffff);

    if (!cpu_protected(cpu) || cpu_v86(cpu)) {
        if (eip > (cpu_v86(cpu) ? 0xffffu : cpu->seg[S_CS].limit))
            cpu_fault(cpu, EXC_GP, 0);
        cpu_load_seg_real(cpu, S_CS, sel);
        cpu->eip = eip;
        xfer_set_sp(cpu, sp + 2 * w + imm, big);
        return;
    }

    unsigned rpl = sel & 3;
    uint64_t d = xfer_check_return_cs(cpu, sel);
    cpu_segment cs;
    cpu_seg_from_descriptor(&cs, sel, d);

    if (rpl == cpu->cpl) {
        if (eip > cs.limit)
            cpu_fault(cpu, EXC_GP, 0);
        cpu_set_accessed(cpu, sel, &d);
        cpu_commit_seg(cpu, S_CS, sel, d);
        cpu->eip = eip;
        xfer_set_sp(cpu, sp + 2 * w + imm, big);
        return;
    }

    /* Outer level: SS:ESP sit above the parameters imm skips. */
    uint32_t esp = cpu_stack_peek(cpu, 2 * w + imm, w);
    uint16_t ss = (uint16_t)cpu_stack_peek(cpu, 3 * w + imm, w);
    uint64_t sd = xfer_check_return_ss(cpu, ss, rpl);
    if (eip > cs.limit)
        cpu_fault(cpu, EXC_GP, 0);

    cpu_set_accessed(cpu, sel, &d);
    cpu_set_accessed(cpu, ss, &sd);
    cpu_commit_seg(cpu, S_CS, sel, d);
    cpu_commit_seg(cpu, S_SS, ss, sd);
    cpu->eip = eip;
    if (w == 2)
        esp &= 0xffff;
    xfer_set_sp(cpu, esp + imm, cpu->stack32);
    xfer_null_outer_segs(cpu);
}

/* A software interrupt from an instruction: the return address is the next
 * instruction (cpu->eip already points there). */
static void soft_int(cpu_state *cpu, int vector, enum cpu_event_kind kind)
{
    cpu_deliver_event(cpu, vector, kind, false, 0, cpu->eip);
    cpu->exc_depth = 0;
}

/* INT n in v86 mode is IOPL-sensitive (§20.2.7); without CR4.VME, IOPL < 3
 * means #GP(0) to the monitor.  INT3 and INTO are not. */
static void op_int(cpu_state *cpu, cpu_insn *in)
{
    if (cpu_v86(cpu) && (cpu->eflags & FL_IOPL) != FL_IOPL)
        cpu_fault(cpu, EXC_GP, 0);
    soft_int(cpu, (int)(in->op[0].imm.value.u & 0xff), EV_SOFTWARE);
}

static void op_int3(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    soft_int(cpu, EXC_BP, EV_SOFTWARE);
}

static void op_into(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    if (cpu->eflags & FL_OF)
        soft_int(cpu, EXC_OF, EV_SOFTWARE);
}

/* INT1 (ICEBP, F1): a #DB trap without the gate DPL check. */
static void op_int1(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    soft_int(cpu, EXC_DB, EV_ICEBP);
}

static bool is_far(const cpu_insn *in)
{
    return in->z.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR;
}

const cpu_op_row cpu_ops_far[] = {
    { ZYDIS_MNEMONIC_INT, op_int, TR_CALLOUT },
    { ZYDIS_MNEMONIC_INT3, op_int3, TR_CALLOUT },
    { ZYDIS_MNEMONIC_INTO, op_into, TR_CALLOUT },
    { ZYDIS_MNEMONIC_INT1, op_int1, TR_CALLOUT },
    { ZYDIS_MNEMONIC_IRET, cpu_op_iret, TR_CALLOUT },
    { ZYDIS_MNEMONIC_IRETD, cpu_op_iret, TR_CALLOUT },
    { ZYDIS_MNEMONIC_INVALID, NULL, TR_IDENTICAL },
};

const cpu_op_form cpu_forms_far[] = {
    { is_far, { ZYDIS_MNEMONIC_JMP, op_jmp_far, TR_REWRITTEN } },
    { is_far, { ZYDIS_MNEMONIC_CALL, op_call_far, TR_REWRITTEN } },
    { is_far, { ZYDIS_MNEMONIC_RET, op_ret_far, TR_REWRITTEN } },
    { NULL, { ZYDIS_MNEMONIC_INVALID, NULL, TR_IDENTICAL } },
};
