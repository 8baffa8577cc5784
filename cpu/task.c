/*
 * Hardware task switching: see task.h.  Models SDM Vol. 3A §7.2 (TSS
 * layouts, TSS descriptors, task gates), §7.3 (the switch, steps 1-14),
 * §7.4 (nesting: NT, the back link, busy bits) and Table 7-1 (the checks
 * on the new task's state and the exceptions they raise).
 *
 * The switch has a commit point, as on hardware.  Before it, every fault
 * (a TSS too small, a page of either TSS or of the GDT entries not
 * present) is raised in the old task with nothing changed.  After it —
 * the old state saved, TR loaded, the new registers loaded — the checks
 * of the new segment registers raise their faults in the new task: the
 * fault context (insn_eip/insn_esp) is moved to the new task first, so
 * the loop's rollback keeps it there.
 *
 * 32-bit TSS (offsets): 0 link, 4 ESP0, 8 SS0, 0c ESP1, 10 SS1, 14 ESP2,
 *   18 SS2, 1c CR3, 20 EIP, 24 EFLAGS, 28-44 EAX..EDI, 48-5c ES CS SS DS
 *   FS GS, 60 LDT, 64 T (bit 0), 66 I/O map base.  Minimum limit 0x67.
 * 16-bit TSS: 0 link, 2-0c SP0 SS0 SP1 SS1 SP2 SS2, 0e IP, 10 FLAGS,
 *   12-20 AX..DI, 22-28 ES CS SS DS, 2a LDT.  Minimum limit 0x2b.
 */
#include "cpu/task.h"

#include "cpu/exception.h"
#include "cpu/mem.h"
#include "cpu/seg.h"

/* The state a TSS holds, in either format. */
typedef struct tss_image {
    uint32_t eip, eflags, cr3;
    uint32_t regs[8];
    uint16_t sreg[6]; /* S_ES..S_GS */
    uint16_t ldt;
    bool trap;
} tss_image;

static void read_tss(cpu_state *cpu, uint32_t base, bool is32, tss_image *t)
{
    if (is32) {
        t->cr3 = cpu_sys_read(cpu, base + 0x1c, 4);
        t->eip = cpu_sys_read(cpu, base + 0x20, 4);
        t->eflags = cpu_sys_read(cpu, base + 0x24, 4);
        for (int r = 0; r < 8; r++)
            t->regs[r] = cpu_sys_read(cpu, base + 0x28 + r * 4, 4);
        for (int s = 0; s < 6; s++)
            t->sreg[s] = (uint16_t)cpu_sys_read(cpu, base + 0x48 + s * 4, 2);
        t->ldt = (uint16_t)cpu_sys_read(cpu, base + 0x60, 2);
        t->trap = cpu_sys_read(cpu, base + 0x64, 2) & 1;
    } else {
        t->cr3 = 0;
        t->eip = cpu_sys_read(cpu, base + 0x0e, 2);
        /* Bits 16-31 of EFLAGS (VM, AC, RF...) do not exist in a 16-bit TSS. */
        t->eflags = cpu_sys_read(cpu, base + 0x10, 2);
        /* The upper halves of the registers are not in a 16-bit TSS: they
         * keep their values. */
        for (int r = 0; r < 8; r++)
            t->regs[r] = (cpu->regs[r] & 0xffff0000u) | cpu_sys_read(cpu, base + 0x12 + r * 2, 2);
        for (int s = 0; s < 4; s++)
            t->sreg[s] = (uint16_t)cpu_sys_read(cpu, base + 0x22 + s * 2, 2);
        t->sreg[S_FS] = t->sreg[S_GS] = 0;
        t->ldt = (uint16_t)cpu_sys_read(cpu, base + 0x2a, 2);
        t->trap = false;
    }
    t->eflags |= FL_FIXED1;
}

/* Translate [lin, lin+len) for writing so that later writes cannot fault. */
static void probe_write(cpu_state *cpu, uint32_t lin, uint32_t len)
{
    cpu_translate(cpu, lin, PG_WRITE, false);
    cpu_translate(cpu, lin + len - 1, PG_WRITE, false);
}

static void write_old_tss(cpu_state *cpu, uint32_t base, bool is32, uint32_t eip, uint32_t eflags)
{
    if (is32) {
        cpu_sys_write(cpu, base + 0x20, eip, 4);
        cpu_sys_write(cpu, base + 0x24, eflags, 4);
        for (int r = 0; r < 8; r++)
            cpu_sys_write(cpu, base + 0x28 + r * 4, cpu->regs[r], 4);
        for (int s = 0; s < 6; s++)
            cpu_sys_write(cpu, base + 0x48 + s * 4, cpu->seg[s].selector, 2);
    } else {
        cpu_sys_write(cpu, base + 0x0e, eip, 2);
        cpu_sys_write(cpu, base + 0x10, eflags, 2);
        for (int r = 0; r < 8; r++)
            cpu_sys_write(cpu, base + 0x12 + r * 2, cpu->regs[r], 2);
        for (int s = 0; s < 4; s++)
            cpu_sys_write(cpu, base + 0x22 + s * 2, cpu->seg[s].selector, 2);
    }
}

static uint32_t gdt_entry(const cpu_state *cpu, uint16_t sel)
{
    return cpu->gdtr.base + (sel & 0xfff8u);
}

/* LDTR of the new task (Table 7-1): #TS(ldt) for anything but a present
 * LDT descriptor in the GDT; null leaves LDTR unusable. */
static void load_task_ldt(cpu_state *cpu, uint16_t ldt)
{
    uint32_t err = ldt & 0xfffcu;
    uint64_t d;
    if ((ldt & 0xfffcu) == 0) {
        cpu->seg[S_LDTR].selector = ldt;
        cpu->seg[S_LDTR].flags = 0;
        return;
    }
    if ((ldt & 4) || !cpu_fetch_descriptor(cpu, ldt, &d))
        cpu_fault(cpu, EXC_TS, err);
    if (desc_s(d) || desc_type(d) != DT_LDT || !desc_present(d))
        cpu_fault(cpu, EXC_TS, err);
    cpu_seg_from_descriptor(&cpu->seg[S_LDTR], ldt, d);
}

/* CS of the new task (Table 7-1): its RPL is the new CPL. */
static void load_task_cs(cpu_state *cpu, uint16_t cs)
{
    uint32_t err = cs & 0xfffcu;
    uint64_t d;
    if ((cs & 0xfffcu) == 0 || !cpu_fetch_descriptor(cpu, cs, &d) || !desc_code(d))
        cpu_fault(cpu, EXC_TS, err);
    unsigned rpl = cs & 3;
    if (desc_conforming(d) ? desc_dpl(d) > rpl : desc_dpl(d) != rpl)
        cpu_fault(cpu, EXC_TS, err);
    if (!desc_present(d))
        cpu_fault(cpu, EXC_NP, err);
    cpu_set_accessed(cpu, cs, &d);
    cpu_commit_seg(cpu, S_CS, cs, d);
}

void cpu_task_switch(cpu_state *cpu, uint16_t sel, uint64_t desc, enum task_reason why,
                     uint32_t return_eip, bool has_error, uint32_t error_code, uint32_t ext)
{
    cpu_segment *tr = &cpu->seg[S_TR];
    cpu_segment ntr;
    cpu_seg_from_descriptor(&ntr, sel, desc);
    bool new32 = desc_type(desc) & 8;
    bool old32 = SEGF_TYPE(tr->flags) & 8;

    /* Step 3: the new TSS must hold a whole TSS. */
    if (ntr.limit < (new32 ? 0x67u : 0x2bu))
        cpu_fault(cpu, EXC_TS, (sel & 0xfffcu) | ext);
    if (tr->limit < (old32 ? 0x5fu : 0x29u))
        cpu_fault(cpu, EXC_TS, (tr->selector & 0xfffcu) | ext);

    /* Step 5: everything the switch reads or writes must be present. */
    tss_image t;
    read_tss(cpu, ntr.base, new32, &t);
    uint64_t old_desc = 0;
    bool clear_old_busy = why == TASK_JMP || why == TASK_IRET;
    if (clear_old_busy) {
        old_desc = cpu_read_descriptor(cpu, tr->selector, EXC_TS);
        probe_write(cpu, gdt_entry(cpu, tr->selector) + 4, 4);
    }
    if (old32)
        probe_write(cpu, tr->base + 0x20, 0x40);
    else
        probe_write(cpu, tr->base + 0x0e, 0x1c);
    bool nest = why == TASK_CALL || why == TASK_INT;
    if (nest)
        probe_write(cpu, ntr.base, 2);
    if (why != TASK_IRET)
        probe_write(cpu, gdt_entry(cpu, sel) + 4, 4);

    /* Steps 6-10: the commit point.  Save the old task, move the busy
     * bits and the link. */
    uint32_t old_eflags = cpu->eflags;
    if (why == TASK_IRET)
        old_eflags &= ~FL_NT;
    write_old_tss(cpu, tr->base, old32, return_eip, old_eflags);
    if (clear_old_busy)
        cpu_write_descriptor_high(cpu, tr->selector,
                                  (uint32_t)(old_desc >> 32) & ~(2u << 8));
    if (nest) {
        cpu_sys_write(cpu, ntr.base, tr->selector, 2);
        t.eflags |= FL_NT;
    }
    if (why != TASK_IRET) {
        desc |= 2ull << 40; /* busy */
        cpu_write_descriptor_high(cpu, sel, (uint32_t)(desc >> 32));
    }

    /* Step 11: TR and CR0.TS. */
    cpu_seg_from_descriptor(tr, sel, desc | (2ull << 40));
    cpu->cr0 |= CR0_TS;

    /* Step 12: the new task's registers; CR3 only from a 32-bit TSS and
     * with paging on.  DR7's local breakpoint enables are per task. */
    if (new32 && (cpu->cr0 & CR0_PG)) {
        cpu->cr3 = t.cr3;
        cpu_tlb_flush(cpu, true);
    }
    cpu->dr[7] &= ~0x55u;
    cpu->eip = t.eip;
    cpu->eflags = t.eflags;
    for (int r = 0; r < 8; r++)
        cpu->regs[r] = t.regs[r];
    /* From here on faults belong to the new task. */
    cpu->insn_eip = t.eip;
    cpu->insn_esp = t.regs[R_ESP];
    cpu->exc_depth = 0;

    /* Step 13: segment registers.  The selectors are all loaded first, so
     * that a fault handler sees the new task's; the CPL is the new CS's RPL
     * (or 3 in a v86 task). */
    for (int s = S_ES; s <= S_GS; s++)
        cpu->seg[s].selector = t.sreg[s];
    cpu->seg[S_LDTR].selector = t.ldt;
    cpu_update_mode(cpu);
    load_task_ldt(cpu, t.ldt);
    if (cpu->eflags & FL_VM) {
        for (int s = S_ES; s <= S_GS; s++)
            cpu_load_seg_real(cpu, s, t.sreg[s]);
    } else {
        load_task_cs(cpu, t.sreg[S_CS]);
        cpu_load_seg_task(cpu, S_SS, t.sreg[S_SS]);
        cpu_load_seg_task(cpu, S_ES, t.sreg[S_ES]);
        cpu_load_seg_task(cpu, S_DS, t.sreg[S_DS]);
        cpu_load_seg_task(cpu, S_FS, t.sreg[S_FS]);
        cpu_load_seg_task(cpu, S_GS, t.sreg[S_GS]);
    }
    cpu_update_mode(cpu);

    /* An exception's error code goes on the new task's stack (§6.12.2). */
    if (has_error)
        cpu_push(cpu, error_code, new32 ? 4 : 2);
    if (cpu->eip > cpu->seg[S_CS].limit)
        cpu_fault(cpu, EXC_GP, 0);

    /* The T flag of the new TSS: a debug trap before its first instruction
     * (§17.3.1.5), with DR6.BT. */
    if (t.trap) {
        cpu->dr[6] |= 0x8000u;
        cpu->insn_eip = cpu->eip;
        cpu->insn_esp = cpu->regs[R_ESP];
        cpu_deliver_event(cpu, EXC_DB, EV_EXCEPTION, false, 0, cpu->eip);
        cpu->exc_depth = 0;
    }
}

void cpu_task_gate(cpu_state *cpu, uint16_t tss_sel, enum task_reason why, uint32_t return_eip,
                   bool has_error, uint32_t error_code, uint32_t ext)
{
    uint32_t err = (tss_sel & 0xfffcu) | ext;
    uint64_t d;
    if ((tss_sel & 4) || !cpu_fetch_descriptor(cpu, tss_sel, &d))
        cpu_fault(cpu, EXC_GP, err);
    if (desc_s(d) || (desc_type(d) != DT_TSS16_AVAIL && desc_type(d) != DT_TSS32_AVAIL))
        cpu_fault(cpu, EXC_GP, err);
    if (!desc_present(d))
        cpu_fault(cpu, EXC_NP, err);
    cpu_task_switch(cpu, tss_sel, d, why, return_eip, has_error, error_code, ext);
}
