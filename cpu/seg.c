/* Segmentation: see seg.h. */
#include "cpu/seg.h"

#include "cpu/exception.h"
#include "cpu/mem.h"

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
    if (sreg == S_CS || sreg == S_SS)
        cpu_update_mode(cpu);
}
