/* Guest memory as the CPU sees it: see mem.h. */
#include "cpu/mem.h"

#include <string.h>

#include "cpu/exception.h"

static inline uint32_t load_le(const uint8_t *p, unsigned size)
{
    switch (size) {
    case 1: return *p;
    case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
    default: { uint32_t v; memcpy(&v, p, 4); return v; }
    }
}

static inline void store_le(uint8_t *p, uint32_t v, unsigned size)
{
    switch (size) {
    case 1: *p = (uint8_t)v; break;
    case 2: { uint16_t w = (uint16_t)v; memcpy(p, &w, 2); break; }
    default: memcpy(p, &v, 4); break;
    }
}

void cpu_tlb_flush(cpu_state *cpu, bool keep_global)
{
    if (keep_global)
        tlb_flush_nonglobal(&cpu->tlb);
    else
        tlb_flush_all(&cpu->tlb);
    cpu->stats.tlb_flushes++;
    if (cpu->tlb_hook)
        cpu->tlb_hook(cpu->tlb_hook_opaque, keep_global ? TLB_FLUSH_NONGLOBAL : TLB_FLUSH_ALL, 0);
}

void cpu_tlb_flush_page(cpu_state *cpu, uint32_t lin)
{
    /* Entries are 4 KiB even for a 4 MiB page, so INVLPG of a large page
     * must drop all of its pieces: drop every entry of that 4 MiB range. */
    for (uint32_t p = lin & 0xffc00000u, n = 0; n < 1024; n++, p += 0x1000) {
        tlb_entry *e = tlb_slot(&cpu->tlb, p);
        if (e->tag == (p | 1) && (e->perm & TLB_LARGE))
            e->tag = 0;
    }
    tlb_flush_page(&cpu->tlb, lin);
    if (cpu->tlb_hook)
        cpu->tlb_hook(cpu->tlb_hook_opaque, TLB_FLUSH_PAGE, lin);
}

static inline bool perm_ok(const tlb_entry *e, pg_access acc, bool user)
{
    if (acc == PG_WRITE)
        return e->perm & (user ? TLB_USER_WRITE : TLB_SUP_WRITE);
    return !user || (e->perm & TLB_USER_READ);
}

static tlb_entry *tlb_fill(cpu_state *cpu, uint32_t lin, pg_access acc, bool user)
{
    phys_mem *pm = cpu->mem;
    if (cpu->tlb.phys_generation != pm->generation) {
        tlb_flush_all(&cpu->tlb);
        cpu->tlb.phys_generation = pm->generation;
    }
    cpu->stats.tlb_misses++;
    uint32_t paddr, perm;
    if (cpu->cr0 & CR0_PG) {
        pg_control pc = { cpu->cr0, cpu->cr3, cpu->cr4 };
        pg_translation t;
        uint32_t pfec;
        if (!pg_walk(pm, &pc, lin, acc, user, &t, &pfec))
            cpu_page_fault(cpu, lin, pfec);
        paddr = t.paddr & ~0xfffu;
        perm = 0;
        if (t.us)
            perm |= TLB_USER_READ;
        if (t.dirty) {
            if (t.rw || !(cpu->cr0 & CR0_WP))
                perm |= TLB_SUP_WRITE;
            if (t.rw && t.us)
                perm |= TLB_USER_WRITE;
        }
        if (t.global)
            perm |= TLB_GLOBAL;
        if (t.large)
            perm |= TLB_LARGE;
    } else {
        paddr = lin & ~0xfffu;
        perm = TLB_USER_READ | TLB_USER_WRITE | TLB_SUP_WRITE;
    }
    paddr &= pm->a20_mask;
    tlb_entry *e = tlb_slot(&cpu->tlb, lin);
    e->tag = (lin & ~0xfffu) | 1;
    e->paddr = paddr;
    e->perm = perm;
    e->host_r = phys_page_ptr(pm, paddr, false);
    e->host_w = phys_page_ptr(pm, paddr, true);
    return e;
}

static inline tlb_entry *tlb_get(cpu_state *cpu, uint32_t lin, pg_access acc, bool user)
{
    tlb_entry *e = tlb_slot(&cpu->tlb, lin);
    if (e->tag == ((lin & ~0xfffu) | 1) && perm_ok(e, acc, user) &&
        cpu->tlb.phys_generation == cpu->mem->generation)
        return e;
    return tlb_fill(cpu, lin, acc, user);
}

uint32_t cpu_translate(cpu_state *cpu, uint32_t lin, pg_access acc, bool user)
{
    return tlb_get(cpu, lin, acc, user)->paddr | (lin & 0xfff);
}

static uint32_t read_as(cpu_state *cpu, uint32_t lin, unsigned size, pg_access acc, bool user)
{
    if ((lin & 0xfff) + size <= 0x1000) {
        tlb_entry *e = tlb_get(cpu, lin, acc, user);
        if (e->host_r)
            return load_le(e->host_r + (lin & 0xfff), size);
        return phys_read(cpu->mem, e->paddr | (lin & 0xfff), size);
    }
    /* Straddles two pages: both must translate before any byte is read
     * (matters for MMIO reads with side effects). */
    unsigned first = 0x1000 - (lin & 0xfff);
    uint32_t p0 = cpu_translate(cpu, lin, acc, user);
    uint32_t p1 = cpu_translate(cpu, lin + first, acc, user);
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= phys_read(cpu->mem, i < first ? p0 + i : p1 + (i - first), 1) << (8 * i);
    return v;
}

static void write_as(cpu_state *cpu, uint32_t lin, uint32_t value, unsigned size, bool user)
{
    if ((lin & 0xfff) + size <= 0x1000) {
        tlb_entry *e = tlb_get(cpu, lin, PG_WRITE, user);
        if (e->host_w)
            store_le(e->host_w + (lin & 0xfff), value, size);
        else
            phys_write(cpu->mem, e->paddr | (lin & 0xfff), value, size);
        return;
    }
    unsigned first = 0x1000 - (lin & 0xfff);
    uint32_t p0 = cpu_translate(cpu, lin, PG_WRITE, user);
    uint32_t p1 = cpu_translate(cpu, lin + first, PG_WRITE, user);
    for (unsigned i = 0; i < size; i++)
        phys_write(cpu->mem, i < first ? p0 + i : p1 + (i - first), value >> (8 * i), 1);
}

uint32_t cpu_lin_read(cpu_state *cpu, uint32_t lin, unsigned size, pg_access acc)
{
    return read_as(cpu, lin, size, acc, cpu->cpl == 3);
}

void cpu_lin_write(cpu_state *cpu, uint32_t lin, uint32_t value, unsigned size)
{
    write_as(cpu, lin, value, size, cpu->cpl == 3);
}

uint32_t cpu_sys_read(cpu_state *cpu, uint32_t lin, unsigned size)
{
    return read_as(cpu, lin, size, PG_READ, false);
}

void cpu_sys_write(cpu_state *cpu, uint32_t lin, uint32_t value, unsigned size)
{
    write_as(cpu, lin, value, size, false);
}

/*
 * Segment checks (SDM Vol. 3A §5.3 limit, §5.4 type).  Real and v86
 * mode keep only the limit check.  A failing access through SS raises
 * #SS(0), any other #GP(0).
 */
uint32_t cpu_linear(cpu_state *cpu, int sreg, uint32_t offset, unsigned len, bool write)
{
    const cpu_segment *s = &cpu->seg[sreg];
    int vec = sreg == S_SS ? EXC_SS : EXC_GP;
    uint32_t last = len - 1;

    if (cpu_protected(cpu) && !cpu_v86(cpu)) {
        if (!(s->flags & SEGF_P))
            cpu_fault(cpu, vec, 0); /* null selector or unusable */
        if (s->flags & SEGF_CODE) {
            if (write || !(s->flags & SEGF_RW))
                cpu_fault(cpu, vec, 0);
        } else if (write && !(s->flags & SEGF_RW)) {
            cpu_fault(cpu, vec, 0);
        }
        if (!(s->flags & SEGF_CODE) && (s->flags & SEGF_CONFORM)) {
            /* expand-down: valid offsets are limit+1 .. 0xffff or 0xffffffff */
            uint32_t upper = (s->flags & SEGF_DB) ? 0xffffffffu : 0xffffu;
            if (offset <= s->limit || offset > upper || last > upper - offset)
                cpu_fault(cpu, vec, 0);
            return s->base + offset;
        }
    }
    if (offset > s->limit || last > s->limit - offset)
        cpu_fault(cpu, vec, 0);
    return s->base + offset;
}

/* Alignment check (SDM Vol. 3A §6.15 #AC): CPL 3 with CR0.AM and EFLAGS.AC. */
static inline void check_alignment(cpu_state *cpu, uint32_t lin, unsigned size)
{
    if (size > 1 && (lin & (size - 1)) && cpu->cpl == 3 && (cpu->cr0 & CR0_AM) &&
        (cpu->eflags & FL_AC))
        cpu_fault(cpu, EXC_AC, 0);
}

uint32_t cpu_read(cpu_state *cpu, int sreg, uint32_t offset, unsigned size)
{
    uint32_t lin = cpu_linear(cpu, sreg, offset, size, false);
    check_alignment(cpu, lin, size);
    return cpu_lin_read(cpu, lin, size, PG_READ);
}

void cpu_write(cpu_state *cpu, int sreg, uint32_t offset, uint32_t value, unsigned size)
{
    uint32_t lin = cpu_linear(cpu, sreg, offset, size, true);
    check_alignment(cpu, lin, size);
    cpu_lin_write(cpu, lin, value, size);
}

uint64_t cpu_read64(cpu_state *cpu, int sreg, uint32_t offset)
{
    uint32_t lin = cpu_linear(cpu, sreg, offset, 8, false);
    check_alignment(cpu, lin, 8);
    /* translate both halves before reading either */
    cpu_translate(cpu, lin + 7, PG_READ, cpu->cpl == 3);
    uint32_t lo = cpu_lin_read(cpu, lin, 4, PG_READ);
    uint32_t hi = cpu_lin_read(cpu, lin + 4, 4, PG_READ);
    return lo | (uint64_t)hi << 32;
}

void cpu_write64(cpu_state *cpu, int sreg, uint32_t offset, uint64_t value)
{
    uint32_t lin = cpu_linear(cpu, sreg, offset, 8, true);
    check_alignment(cpu, lin, 8);
    cpu_translate(cpu, lin, PG_WRITE, cpu->cpl == 3);
    cpu_translate(cpu, lin + 7, PG_WRITE, cpu->cpl == 3);
    cpu_lin_write(cpu, lin, (uint32_t)value, 4);
    cpu_lin_write(cpu, lin + 4, (uint32_t)(value >> 32), 4);
}

void cpu_check_access(cpu_state *cpu, int sreg, uint32_t offset, unsigned len, bool write)
{
    uint32_t lin = cpu_linear(cpu, sreg, offset, len, write);
    bool user = cpu->cpl == 3;
    pg_access acc = write ? PG_WRITE : PG_READ;
    for (uint32_t p = lin & ~0xfffu;; p += 0x1000) {
        cpu_translate(cpu, p < lin ? lin : p, acc, user);
        if (((lin + len - 1) & ~0xfffu) == p)
            break;
    }
}

void cpu_read_block(cpu_state *cpu, int sreg, uint32_t offset, void *dst, unsigned len)
{
    cpu_check_access(cpu, sreg, offset, len, false);
    uint32_t lin = cpu->seg[sreg].base + offset;
    uint8_t *d = dst;
    for (unsigned i = 0; i < len; i++)
        d[i] = (uint8_t)cpu_lin_read(cpu, lin + i, 1, PG_READ);
}

void cpu_write_block(cpu_state *cpu, int sreg, uint32_t offset, const void *src, unsigned len)
{
    cpu_check_access(cpu, sreg, offset, len, true);
    uint32_t lin = cpu->seg[sreg].base + offset;
    const uint8_t *s = src;
    for (unsigned i = 0; i < len; i++)
        cpu_lin_write(cpu, lin + i, s[i], 1);
}

static inline uint32_t stack_pointer(const cpu_state *cpu)
{
    return cpu->stack32 ? cpu->regs[R_ESP] : (cpu->regs[R_ESP] & 0xffff);
}

static inline void set_stack_pointer(cpu_state *cpu, uint32_t sp)
{
    if (cpu->stack32)
        cpu->regs[R_ESP] = sp;
    else
        cpu->regs[R_ESP] = (cpu->regs[R_ESP] & 0xffff0000u) | (sp & 0xffff);
}

void cpu_push(cpu_state *cpu, uint32_t value, unsigned size)
{
    uint32_t sp = stack_pointer(cpu) - size;
    if (!cpu->stack32)
        sp &= 0xffff;
    cpu_write(cpu, S_SS, sp, value, size);
    set_stack_pointer(cpu, sp);
}

uint32_t cpu_pop(cpu_state *cpu, unsigned size)
{
    uint32_t sp = stack_pointer(cpu);
    uint32_t v = cpu_read(cpu, S_SS, sp, size);
    set_stack_pointer(cpu, sp + size);
    return v;
}

uint32_t cpu_stack_peek(cpu_state *cpu, uint32_t offset, unsigned size)
{
    uint32_t sp = stack_pointer(cpu) + offset;
    if (!cpu->stack32)
        sp &= 0xffff;
    return cpu_read(cpu, S_SS, sp, size);
}
