/*
 * Segmentation: descriptor tables and segment-register loads (seg.h).
 *
 * Models SDM Vol. 3A §3.4-3.5 (selectors, descriptors, the hidden
 * descriptor caches), §5.4-5.6 (type and privilege checks on loads of
 * data and stack segments), and the load rules of MOV/POP Sreg (Vol. 2).
 * Far transfers, which load CS, are in far.c; task switches in task.c.
 */
#include "cpu/seg.h"

#include "cpu/exception.h"
#include "cpu/mem.h"

void cpu_update_stack_size(cpu_state *cpu)
{
    cpu->stack32 = (cpu->seg[S_SS].flags & SEGF_DB) != 0 && !cpu_v86(cpu);
}

void cpu_update_mode(cpu_state *cpu)
{
    if (!cpu_protected(cpu)) {
        cpu->cpl = 0;
        cpu->code32 = (cpu->seg[S_CS].flags & SEGF_DB) != 0;
    } else if (cpu_v86(cpu)) {
        cpu->cpl = 3;
        cpu->code32 = 0;
    } else {
        cpu->cpl = cpu->seg[S_CS].selector & 3;
        cpu->code32 = (cpu->seg[S_CS].flags & SEGF_DB) != 0;
    }
    cpu->stack32 = (cpu->seg[S_SS].flags & SEGF_DB) != 0 && !cpu_v86(cpu);
}

void cpu_seg_from_descriptor(cpu_segment *s, uint16_t selector, uint64_t desc)
{
    uint32_t lo = (uint32_t)desc, hi = (uint32_t)(desc >> 32);
    s->selector = selector;
    s->base = (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000u);
    uint32_t limit = (lo & 0xffff) | (hi & 0x000f0000u);
    s->flags = (uint16_t)((hi >> 8) & 0xf0ff);
    s->limit = (s->flags & SEGF_G) ? (limit << 12) | 0xfff : limit;
}

void cpu_load_seg_real(cpu_state *cpu, int sreg, uint16_t selector)
{
    cpu_segment *s = &cpu->seg[sreg];
    s->selector = selector;
    s->base = (uint32_t)selector << 4;
    if (cpu_v86(cpu)) {
        s->limit = 0xffff;
        s->flags = SEGF_P | SEGF_S | SEGF_RW | SEGF_ACCESSED | (3 << 5) |
                   (sreg == S_CS ? SEGF_CODE : 0);
    }
    if (sreg == S_CS)
        cpu_update_mode(cpu);
    else if (sreg == S_SS)
        cpu_update_stack_size(cpu);
}

bool cpu_fetch_descriptor(cpu_state *cpu, uint16_t selector, uint64_t *desc)
{
    uint32_t base, limit;
    if (selector & 4) {
        const cpu_segment *ldt = &cpu->seg[S_LDTR];
        if (!(ldt->flags & SEGF_P))
            return false;
        base = ldt->base;
        limit = ldt->limit;
    } else {
        base = cpu->gdtr.base;
        limit = cpu->gdtr.limit;
    }
    uint32_t off = selector & 0xfff8u;
    if (off + 7 > limit)
        return false;
    uint32_t lo = cpu_sys_read(cpu, base + off, 4);
    uint32_t hi = cpu_sys_read(cpu, base + off + 4, 4);
    *desc = lo | (uint64_t)hi << 32;
    return true;
}

uint64_t cpu_read_descriptor(cpu_state *cpu, uint16_t selector, int vector)
{
    uint64_t d;
    if (!cpu_fetch_descriptor(cpu, selector, &d))
        cpu_fault(cpu, vector, selector & 0xfffcu);
    return d;
}

void cpu_write_descriptor_high(cpu_state *cpu, uint16_t selector, uint32_t high)
{
    uint32_t base = (selector & 4) ? cpu->seg[S_LDTR].base : cpu->gdtr.base;
    cpu_sys_write(cpu, base + (selector & 0xfff8u) + 4, high, 4);
}

void cpu_set_accessed(cpu_state *cpu, uint16_t selector, uint64_t *desc)
{
    /* Only code and data descriptors have an accessed bit (type bit 0). */
    if (!desc_s(*desc) || (*desc & (1ull << 40)))
        return;
    *desc |= 1ull << 40;
    cpu_write_descriptor_high(cpu, selector, (uint32_t)(*desc >> 32));
}

void cpu_commit_seg(cpu_state *cpu, int sreg, uint16_t selector, uint64_t desc)
{
    cpu_seg_from_descriptor(&cpu->seg[sreg], selector, desc);
    if (sreg == S_CS)
        cpu_update_mode(cpu);
    else if (sreg == S_SS)
        cpu_update_stack_size(cpu);
}

void cpu_null_seg(cpu_state *cpu, int sreg, uint16_t selector)
{
    /* Base and limit are left as they were (they matter again only after a
     * return to real mode); with P clear every access raises #GP(0). */
    cpu->seg[sreg].selector = selector;
    cpu->seg[sreg].flags = 0;
}

/*
 * The checks of MOV/POP Sreg in protected mode (SDM Vol. 2 MOV, Vol. 3A
 * §5.5-5.6), with `bad` the vector for an unusable selector: #GP for an
 * instruction, #TS for a task switch.
 *
 *   SS:  not null; RPL = CPL; a writable data segment; DPL = CPL;
 *        present, else #SS(sel).
 *   DS, ES, FS, GS: null is allowed (the register becomes unusable);
 *        a data or readable code segment; for data and non-conforming
 *        code, DPL >= CPL and DPL >= RPL; present, else #NP(sel).
 */
static void load_protected(cpu_state *cpu, int sreg, uint16_t selector, int bad)
{
    uint32_t err = selector & 0xfffcu;
    unsigned rpl = selector & 3, cpl = cpu->cpl;
    uint64_t d;

    if (sreg == S_SS) {
        if ((selector & 0xfffcu) == 0)
            cpu_fault(cpu, bad, 0);
        if (rpl != cpl || !cpu_fetch_descriptor(cpu, selector, &d))
            cpu_fault(cpu, bad, err);
        if (!desc_writable_data(d) || desc_dpl(d) != cpl)
            cpu_fault(cpu, bad, err);
        if (!desc_present(d))
            cpu_fault(cpu, EXC_SS, err);
    } else {
        if ((selector & 0xfffcu) == 0) {
            cpu_null_seg(cpu, sreg, selector);
            return;
        }
        if (!cpu_fetch_descriptor(cpu, selector, &d))
            cpu_fault(cpu, bad, err);
        if (!desc_s(d) || !desc_readable(d))
            cpu_fault(cpu, bad, err);
        if (!desc_conforming(d) && (rpl > desc_dpl(d) || cpl > desc_dpl(d)))
            cpu_fault(cpu, bad, err);
        if (!desc_present(d))
            cpu_fault(cpu, EXC_NP, err);
    }
    cpu_set_accessed(cpu, selector, &d);
    cpu_commit_seg(cpu, sreg, selector, d);
}

void cpu_load_seg(cpu_state *cpu, int sreg, uint16_t selector)
{
    if (!cpu_protected(cpu) || cpu_v86(cpu))
        cpu_load_seg_real(cpu, sreg, selector);
    else
        load_protected(cpu, sreg, selector, EXC_GP);
    /* MOV SS and POP SS hold off interrupts and traps for one instruction
     * so that the ESP load that follows is atomic with it (§6.8.3). */
    if (sreg == S_SS)
        cpu->inhibit_irq = true;
}

void cpu_load_seg_task(cpu_state *cpu, int sreg, uint16_t selector)
{
    load_protected(cpu, sreg, selector, EXC_TS);
}
