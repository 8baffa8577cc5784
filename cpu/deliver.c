/*
 * Event delivery (exception.h): interrupts and exceptions through the
 * real-mode IVT (SDM Vol. 3A §20.1.4) or the protected-mode IDT (§6.10-
 * 6.14): interrupt and trap gates of 16 and 32 bits, task gates, the
 * DPL check of software interrupts, the stack switch to an inner level
 * from the TSS, exits from virtual-8086 mode (§20.3.1.1), and error codes
 * with the EXT bit (§6.13).
 *
 * Everything that can fault is done before anything changes: the gate,
 * the target code segment, the new stack and every page of the frame
 * are checked, the frame is written, and only then are CS, SS, ESP,
 * EFLAGS and the CPL committed.  A fault on the way unwinds to the loop
 * with cpu->exc_depth > 0, where the double-fault rules apply.
 */
#include "cpu/exception.h"
#include "cpu/mem.h"
#include "cpu/seg.h"
#include "cpu/task.h"
#include "cpu/xfer.h"

/* Real mode (SDM Vol. 3A §20.1.4): push FLAGS, CS, IP; clear IF, TF, AC. */
static void deliver_real(cpu_state *cpu, int vector, uint32_t return_eip)
{
    uint32_t entry = vector * 4;
    if (entry + 3 > cpu->idtr.limit)
        cpu_fault(cpu, EXC_GP, 0);
    uint32_t vec = cpu_sys_read(cpu, cpu->idtr.base + entry, 4);
    cpu_frame f;
    frame_init_current(cpu, &f);
    frame_push(&f, cpu->eflags & 0xffff, 2);
    frame_push(&f, cpu->seg[S_CS].selector, 2);
    frame_push(&f, return_eip & 0xffff, 2);
    frame_check(cpu, &f);
    frame_write(cpu, &f);
    xfer_set_sp(cpu, f.sp, f.big);
    cpu->eflags &= ~(FL_IF | FL_TF | FL_AC | FL_RF);
    cpu_load_seg_real(cpu, S_CS, (uint16_t)(vec >> 16));
    cpu->eip = vec & 0xffff;
}

static void deliver_protected(cpu_state *cpu, int vector, enum cpu_event_kind kind, bool has_error,
                              uint32_t error_code, uint32_t return_eip)
{
    /* EXT: the event did not come from the program's INT n/INT3/INTO. */
    uint32_t ext = kind == EV_SOFTWARE ? 0 : 1;
    uint32_t idt_err = vector * 8 + 2 + ext; /* bit 1 (IDT): the index is an IDT vector */

    if ((uint32_t)vector * 8 + 7 > cpu->idtr.limit)
        cpu_fault(cpu, EXC_GP, idt_err);
    uint64_t gate = cpu_sys_read(cpu, cpu->idtr.base + vector * 8, 4);
    gate |= (uint64_t)cpu_sys_read(cpu, cpu->idtr.base + vector * 8 + 4, 4) << 32;

    unsigned type = desc_type(gate);
    if (desc_s(gate) || !(type == DT_TASK || type == DT_INT16 || type == DT_TRAP16 ||
                          type == DT_INT32 || type == DT_TRAP32))
        cpu_fault(cpu, EXC_GP, idt_err);
    /* INT n, INT3, INTO may only use gates of DPL >= CPL (§6.12.1.1). */
    if (kind == EV_SOFTWARE && desc_dpl(gate) < cpu->cpl)
        cpu_fault(cpu, EXC_GP, vector * 8 + 2);
    if (!desc_present(gate))
        cpu_fault(cpu, EXC_NP, idt_err);

    if (type == DT_TASK) {
        cpu_task_gate(cpu, gate_selector(gate), TASK_INT, return_eip, has_error, error_code, ext);
        return;
    }

    bool gate32 = type & 8;
    unsigned w = gate32 ? 4 : 2;
    uint16_t sel = gate_selector(gate);
    uint32_t target = gate_offset(gate, gate32);
    uint32_t sel_err = (sel & 0xfffcu) | ext;
    uint64_t cs;

    if ((sel & 0xfffcu) == 0)
        cpu_fault(cpu, EXC_GP, ext);
    if (!cpu_fetch_descriptor(cpu, sel, &cs))
        cpu_fault(cpu, EXC_GP, sel_err);
    if (!desc_code(cs) || desc_dpl(cs) > cpu->cpl)
        cpu_fault(cpu, EXC_GP, sel_err);
    if (!desc_present(cs))
        cpu_fault(cpu, EXC_NP, sel_err);

    unsigned dpl = desc_conforming(cs) ? cpu->cpl : desc_dpl(cs);
    bool from_v86 = cpu_v86(cpu);
    bool inner = dpl < cpu->cpl;
    /* v86 code may only enter a non-conforming ring-0 handler (§20.3.1.1). */
    if (from_v86 && (!inner || dpl != 0))
        cpu_fault(cpu, EXC_GP, sel_err);

    cpu_frame f;
    uint16_t new_ss = 0;
    uint64_t ss_desc = 0;
    if (inner) {
        uint32_t new_esp;
        xfer_tss_stack(cpu, dpl, &new_ss, &new_esp, ext);
        ss_desc = xfer_check_inner_ss(cpu, new_ss, dpl, ext);
        cpu_segment ss_cache;
        cpu_seg_from_descriptor(&ss_cache, new_ss, ss_desc);
        frame_init_new(&f, &ss_cache, new_esp, (new_ss & 0xfffcu) | ext);
        if (from_v86) {
            frame_push(&f, cpu->seg[S_GS].selector, w);
            frame_push(&f, cpu->seg[S_FS].selector, w);
            frame_push(&f, cpu->seg[S_DS].selector, w);
            frame_push(&f, cpu->seg[S_ES].selector, w);
        }
        frame_push(&f, cpu->seg[S_SS].selector, w);
        frame_push(&f, cpu->regs[R_ESP], w);
    } else {
        frame_init_current(cpu, &f);
        f.error = ext;
    }
    frame_push(&f, cpu->eflags, w);
    frame_push(&f, cpu->seg[S_CS].selector, w);
    frame_push(&f, return_eip, w);
    if (has_error)
        frame_push(&f, error_code, w);
    frame_check(cpu, &f);

    cpu_segment cs_cache;
    cpu_seg_from_descriptor(&cs_cache, sel, cs);
    if (target > cs_cache.limit)
        cpu_fault(cpu, EXC_GP, ext);

    /* Every check passed: write, then commit. */
    cpu_set_accessed(cpu, sel, &cs);
    if (inner)
        cpu_set_accessed(cpu, new_ss, &ss_desc);
    frame_write(cpu, &f);

    if (from_v86) {
        for (int s = S_ES; s <= S_GS; s++)
            if (s != S_CS && s != S_SS)
                cpu_null_seg(cpu, s, 0);
    }
    cpu->eflags &= ~(FL_TF | FL_NT | FL_RF | FL_VM);
    if (!(type & 1)) /* interrupt gate (6, 14), not trap gate */
        cpu->eflags &= ~FL_IF;
    if (inner)
        cpu_commit_seg(cpu, S_SS, new_ss, ss_desc);
    cpu_commit_seg(cpu, S_CS, (sel & 0xfffcu) | dpl, cs);
    xfer_set_sp(cpu, f.sp, f.big);
    cpu->eip = target;
}

void cpu_deliver_event(cpu_state *cpu, int vector, enum cpu_event_kind kind, bool has_error,
                       uint32_t error_code, uint32_t return_eip)
{
    cpu->exc_depth++;
    cpu->last_vector = kind == EV_EXCEPTION ? vector : -1;
    if (!cpu_protected(cpu)) {
        /* Real mode pushes no error code (§20.1.4). */
        deliver_real(cpu, vector, return_eip);
        return;
    }
    deliver_protected(cpu, vector, kind, has_error, error_code, return_eip);
}
