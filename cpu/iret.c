/*
 * IRET/IRETD (SDM Vol. 2 IRET; Vol. 3A §6.12.1, §7.3, §20.3.1.3): real
 * mode; virtual-8086 mode (IOPL-sensitive without CR4.VME); protected
 * mode to the same level, to an outer level (popping SS:ESP and clearing
 * data segment registers the outer level may not use), and to v86 mode
 * from CPL 0; and, with EFLAGS.NT set, the return to the back-linked
 * task.
 *
 * Which EFLAGS bits the popped image may change depends on the operand
 * size, on CPL (IOPL, VIF, VIP only at CPL 0) and on CPL <= IOPL (IF),
 * with the CPL *before* the return.
 */
#include "cpu/exception.h"
#include "cpu/mem.h"
#include "cpu/operand.h"
#include "cpu/seg.h"
#include "cpu/task.h"
#include "cpu/xfer.h"

static void set_sp_after(cpu_state *cpu, uint32_t bytes)
{
    uint32_t sp = cpu->stack32 ? cpu->regs[R_ESP] : (cpu->regs[R_ESP] & 0xffff);
    xfer_set_sp(cpu, sp + bytes, cpu->stack32);
}

static void iret_real(cpu_state *cpu, unsigned w)
{
    uint32_t eip = cpu_stack_peek(cpu, 0, w);
    uint16_t cs = (uint16_t)cpu_stack_peek(cpu, w, w);
    uint32_t fl = cpu_stack_peek(cpu, 2 * w, w);
    if (eip > cpu->seg[S_CS].limit)
        cpu_fault(cpu, EXC_GP, 0);
    if (w == 4)
        /* VM, VIF, VIP cannot change from real mode. */
        cpu->eflags = (fl & 0x257fd5u) | (cpu->eflags & 0x1a0000u) | FL_FIXED1;
    else
        cpu->eflags = (cpu->eflags & 0xffff0000u) | (fl & 0x7fd5u) | FL_FIXED1;
    set_sp_after(cpu, 3 * w);
    cpu_load_seg_real(cpu, S_CS, cs);
    cpu->eip = eip;
}

static void iret_v86(cpu_state *cpu, unsigned w)
{
    if ((cpu->eflags & FL_IOPL) != FL_IOPL)
        cpu_fault(cpu, EXC_GP, 0);
    uint32_t eip = cpu_stack_peek(cpu, 0, w);
    uint16_t cs = (uint16_t)cpu_stack_peek(cpu, w, w);
    uint32_t fl = cpu_stack_peek(cpu, 2 * w, w);
    if (eip > 0xffff)
        cpu_fault(cpu, EXC_GP, 0);
    const uint32_t keep = FL_VM | FL_IOPL | FL_VIP | FL_VIF;
    if (w == 4)
        cpu->eflags = (fl & 0x3f7fd5u & ~keep) | (cpu->eflags & keep) | FL_FIXED1;
    else
        cpu->eflags = (cpu->eflags & (0xffff0000u | FL_IOPL)) | (fl & 0x4fd5u) | FL_FIXED1;
    set_sp_after(cpu, 3 * w);
    cpu_load_seg_real(cpu, S_CS, cs);
    cpu->eip = eip;
}

/* NT=1: back to the task in the current TSS's link field (§7.4). */
static void iret_task(cpu_state *cpu)
{
    uint16_t link = (uint16_t)cpu_sys_read(cpu, cpu->seg[S_TR].base, 2);
    uint32_t err = link & 0xfffcu;
    uint64_t d;
    if ((link & 4) || !cpu_fetch_descriptor(cpu, link, &d))
        cpu_fault(cpu, EXC_TS, err);
    if (desc_s(d) || (desc_type(d) != DT_TSS16_BUSY && desc_type(d) != DT_TSS32_BUSY))
        cpu_fault(cpu, EXC_TS, err);
    if (!desc_present(d))
        cpu_fault(cpu, EXC_NP, err);
    cpu_task_switch(cpu, link, d, TASK_IRET, cpu->eip, false, 0, 0);
}

/* From CPL 0 with VM set in the popped EFLAGS (§20.3.1.3): the frame also
 * holds ESP, SS, ES, DS, FS, GS, and everything loads as in v86 mode. */
static void iret_to_v86(cpu_state *cpu, uint32_t eip, uint16_t cs, uint32_t fl)
{
    uint32_t esp = cpu_stack_peek(cpu, 12, 4);
    uint16_t sreg[6];
    sreg[S_SS] = (uint16_t)cpu_stack_peek(cpu, 16, 4);
    sreg[S_ES] = (uint16_t)cpu_stack_peek(cpu, 20, 4);
    sreg[S_DS] = (uint16_t)cpu_stack_peek(cpu, 24, 4);
    sreg[S_FS] = (uint16_t)cpu_stack_peek(cpu, 28, 4);
    sreg[S_GS] = (uint16_t)cpu_stack_peek(cpu, 32, 4);
    sreg[S_CS] = cs;
    if ((eip & 0xffff) != eip)
        cpu_fault(cpu, EXC_GP, 0);
    cpu->eflags = (fl & 0x3f7fd5u) | FL_FIXED1;
    for (int s = S_ES; s <= S_GS; s++)
        cpu_load_seg_real(cpu, s, sreg[s]);
    cpu->regs[R_ESP] = esp;
    cpu->eip = eip;
    cpu_update_mode(cpu);
}

static uint32_t merge_eflags(const cpu_state *cpu, uint32_t fl, unsigned w)
{
    uint32_t mask = FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_TF | FL_DF | FL_OF | FL_NT;
    unsigned iopl = (cpu->eflags & FL_IOPL) >> 12;
    if (w == 4)
        mask |= FL_RF | FL_AC | FL_ID;
    if (cpu->cpl <= iopl)
        mask |= FL_IF;
    if (cpu->cpl == 0) {
        mask |= FL_IOPL;
        if (w == 4)
            mask |= FL_VIF | FL_VIP;
    }
    return (cpu->eflags & ~mask) | (fl & mask) | FL_FIXED1;
}

static void iret_protected(cpu_state *cpu, unsigned w)
{
    uint32_t eip = cpu_stack_peek(cpu, 0, w);
    uint16_t sel = (uint16_t)cpu_stack_peek(cpu, w, w);
    uint32_t fl = cpu_stack_peek(cpu, 2 * w, w);

    if (w == 4 && (fl & FL_VM) && cpu->cpl == 0) {
        iret_to_v86(cpu, eip, sel, fl);
        return;
    }

    unsigned rpl = sel & 3;
    uint64_t d = xfer_check_return_cs(cpu, sel);
    cpu_segment cs;
    cpu_seg_from_descriptor(&cs, sel, d);

    uint32_t new_flags = merge_eflags(cpu, fl, w);
    if (rpl == cpu->cpl) {
        if (eip > cs.limit)
            cpu_fault(cpu, EXC_GP, 0);
        cpu_set_accessed(cpu, sel, &d);
        cpu->eflags = new_flags;
        cpu_commit_seg(cpu, S_CS, sel, d);
        cpu->eip = eip;
        set_sp_after(cpu, 3 * w);
        return;
    }

    /* Outer level: SS:ESP follow in the frame. */
    uint32_t esp = cpu_stack_peek(cpu, 3 * w, w);
    uint16_t ss = (uint16_t)cpu_stack_peek(cpu, 4 * w, w);
    uint64_t sd = xfer_check_return_ss(cpu, ss, rpl);
    if (eip > cs.limit)
        cpu_fault(cpu, EXC_GP, 0);

    cpu_set_accessed(cpu, sel, &d);
    cpu_set_accessed(cpu, ss, &sd);
    cpu->eflags = new_flags;
    cpu_commit_seg(cpu, S_CS, sel, d);
    cpu_commit_seg(cpu, S_SS, ss, sd);
    cpu->eip = eip;
    xfer_set_sp(cpu, w == 2 ? esp & 0xffff : esp, cpu->stack32);
    xfer_null_outer_segs(cpu);
}

void cpu_op_iret(cpu_state *cpu, cpu_insn *in)
{
    unsigned w = in->opsize;
    if (!cpu_protected(cpu))
        iret_real(cpu, w);
    else if (cpu_v86(cpu))
        iret_v86(cpu, w);
    else if (cpu->eflags & FL_NT)
        iret_task(cpu);
    else
        iret_protected(cpu, w);
}
