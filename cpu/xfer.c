/*
 * Helpers for control transfers that switch CS, SS and the privilege
 * level: see xfer.h.  SDM Vol. 3A §5.8 (privilege checks on calls and
 * returns), §6.12.1 (interrupt stack switch), §7.2.1 (TSS layout).
 */
#include "cpu/xfer.h"

#include "cpu/exception.h"
#include "cpu/mem.h"
#include "cpu/seg.h"

bool seg_range_ok(const cpu_segment *s, uint32_t off, unsigned len)
{
    uint32_t last = len - 1;
    if ((s->flags & SEGF_S) && !(s->flags & SEGF_CODE) && (s->flags & SEGF_CONFORM)) {
        /* expand-down: valid offsets are limit+1 .. 0xffff or 0xffffffff */
        uint32_t upper = (s->flags & SEGF_DB) ? 0xffffffffu : 0xffffu;
        return off > s->limit && off <= upper && last <= upper - off;
    }
    return off <= s->limit && last <= s->limit - off;
}

void frame_init_current(cpu_state *cpu, cpu_frame *f)
{
    f->ss = cpu->seg[S_SS];
    f->big = cpu->stack32;
    f->sp = f->big ? cpu->regs[R_ESP] : (cpu->regs[R_ESP] & 0xffff);
    f->user = cpu->cpl == 3;
    f->vector = EXC_SS;
    f->error = 0;
    f->n = 0;
}

void frame_init_new(cpu_frame *f, const cpu_segment *ss, uint32_t esp, uint32_t error)
{
    f->ss = *ss;
    f->big = (ss->flags & SEGF_DB) != 0;
    f->sp = f->big ? esp : (esp & 0xffff);
    f->user = false;
    f->vector = EXC_SS;
    f->error = error;
    f->n = 0;
}

void frame_check(cpu_state *cpu, cpu_frame *f)
{
    uint32_t sp = f->sp;
    bool real = !cpu_protected(cpu);
    for (unsigned i = 0; i < f->n; i++) {
        sp -= f->size[i];
        if (!f->big)
            sp &= 0xffff;
        f->off[i] = sp;
        bool ok = real ? (sp <= f->ss.limit && f->size[i] - 1u <= f->ss.limit - sp)
                       : seg_range_ok(&f->ss, sp, f->size[i]);
        if (!ok)
            cpu_fault(cpu, f->vector, f->error);
    }
    /* Translate every page the frame touches before writing any byte. */
    for (unsigned i = 0; i < f->n; i++) {
        uint32_t lin = f->ss.base + f->off[i];
        cpu_translate(cpu, lin, PG_WRITE, f->user);
        cpu_translate(cpu, lin + f->size[i] - 1, PG_WRITE, f->user);
    }
}

void frame_write(cpu_state *cpu, cpu_frame *f)
{
    for (unsigned i = 0; i < f->n; i++) {
        uint32_t lin = f->ss.base + f->off[i];
        if (f->user)
            cpu_lin_write(cpu, lin, f->val[i], f->size[i]);
        else
            cpu_sys_write(cpu, lin, f->val[i], f->size[i]);
    }
    if (f->n)
        f->sp = f->off[f->n - 1];
}

void xfer_set_sp(cpu_state *cpu, uint32_t sp, bool big)
{
    if (big)
        cpu->regs[R_ESP] = sp;
    else
        cpu->regs[R_ESP] = (cpu->regs[R_ESP] & 0xffff0000u) | (sp & 0xffff);
}

void xfer_tss_stack(cpu_state *cpu, unsigned dpl, uint16_t *ss, uint32_t *esp, uint32_t ext)
{
    const cpu_segment *tr = &cpu->seg[S_TR];
    uint32_t err = (tr->selector & 0xfffcu) | ext;
    if (SEGF_TYPE(tr->flags) & 8) {
        uint32_t at = dpl * 8 + 4; /* ESPn at 4+8n, SSn at 8+8n */
        if (at + 5 > tr->limit)
            cpu_fault(cpu, EXC_TS, err);
        *esp = cpu_sys_read(cpu, tr->base + at, 4);
        *ss = (uint16_t)cpu_sys_read(cpu, tr->base + at + 4, 2);
    } else {
        uint32_t at = dpl * 4 + 2; /* SPn at 2+4n, SSn at 4+4n */
        if (at + 3 > tr->limit)
            cpu_fault(cpu, EXC_TS, err);
        *esp = cpu_sys_read(cpu, tr->base + at, 2);
        *ss = (uint16_t)cpu_sys_read(cpu, tr->base + at + 2, 2);
    }
}

uint64_t xfer_check_return_cs(cpu_state *cpu, uint16_t sel)
{
    uint32_t err = sel & 0xfffcu;
    unsigned rpl = sel & 3;
    uint64_t d;
    if ((sel & 0xfffcu) == 0)
        cpu_fault(cpu, EXC_GP, 0);
    if (!cpu_fetch_descriptor(cpu, sel, &d) || !desc_code(d) || rpl < cpu->cpl)
        cpu_fault(cpu, EXC_GP, err);
    if (desc_conforming(d) ? desc_dpl(d) > rpl : desc_dpl(d) != rpl)
        cpu_fault(cpu, EXC_GP, err);
    if (!desc_present(d))
        cpu_fault(cpu, EXC_NP, err);
    return d;
}

uint64_t xfer_check_return_ss(cpu_state *cpu, uint16_t ss, unsigned rpl)
{
    uint32_t err = ss & 0xfffcu;
    uint64_t d;
    if ((ss & 0xfffcu) == 0)
        cpu_fault(cpu, EXC_GP, 0);
    if (!cpu_fetch_descriptor(cpu, ss, &d) || (ss & 3) != rpl || !desc_writable_data(d) ||
        desc_dpl(d) != rpl)
        cpu_fault(cpu, EXC_GP, err);
    if (!desc_present(d))
        cpu_fault(cpu, EXC_SS, err);
    return d;
}

uint64_t xfer_check_inner_ss(cpu_state *cpu, uint16_t ss, unsigned dpl, uint32_t ext)
{
    uint32_t err = (ss & 0xfffcu) | ext;
    uint64_t d;
    if ((ss & 0xfffcu) == 0)
        cpu_fault(cpu, EXC_TS, ext);
    if (!cpu_fetch_descriptor(cpu, ss, &d))
        cpu_fault(cpu, EXC_TS, err);
    if ((ss & 3) != dpl || desc_dpl(d) != dpl || !desc_writable_data(d))
        cpu_fault(cpu, EXC_TS, err);
    if (!desc_present(d))
        cpu_fault(cpu, EXC_SS, err);
    return d;
}

uint32_t xfer_peek(cpu_state *cpu, uint32_t off, unsigned size)
{
    return cpu_stack_peek(cpu, off, size);
}

void xfer_null_outer_segs(cpu_state *cpu)
{
    static const int regs[] = { S_ES, S_DS, S_FS, S_GS };
    for (unsigned i = 0; i < 4; i++) {
        cpu_segment *s = &cpu->seg[regs[i]];
        bool conforming_code = (s->flags & SEGF_CODE) && (s->flags & SEGF_CONFORM);
        if ((s->flags & SEGF_P) && !conforming_code && SEGF_DPL(s->flags) < cpu->cpl)
            cpu_null_seg(cpu, regs[i], 0);
    }
}
