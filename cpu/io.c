/*
 * Port I/O from the CPU: see io.h.
 *
 * The I/O permission bitmap (SDM Vol. 1 §19.5.2) lives in the 32-bit TSS
 * at the offset held in the word at TSS+0x66; bit n set denies port n.
 * An access of size s checks bits port..port+s-1, which may straddle a
 * byte, so the processor always reads two bytes; both must lie within
 * the TSS limit, else the access is denied.  A 16-bit TSS has no bitmap.
 */
#include "cpu/io.h"

#include "cpu/exception.h"
#include "cpu/mem.h"

void cpu_io_check(cpu_state *cpu, uint16_t port, unsigned size)
{
    if (!cpu_protected(cpu))
        return;
    unsigned iopl = (cpu->eflags & FL_IOPL) >> 12;
    if (!cpu_v86(cpu) && cpu->cpl <= iopl)
        return;
    const cpu_segment *tr = &cpu->seg[S_TR];
    /* Only a (busy) 32-bit TSS carries a bitmap. */
    if (!(tr->flags & SEGF_P) || SEGF_TYPE(tr->flags) != 0xb || tr->limit < 0x67)
        cpu_fault(cpu, EXC_GP, 0);
    uint32_t base = cpu_sys_read(cpu, tr->base + 0x66, 2);
    uint32_t at = base + port / 8;
    if (at >= tr->limit) /* at and at+1 must both be within the limit */
        cpu_fault(cpu, EXC_GP, 0);
    uint32_t bits = cpu_sys_read(cpu, tr->base + at, 2);
    uint32_t mask = ((1u << size) - 1) << (port & 7);
    if (bits & mask)
        cpu_fault(cpu, EXC_GP, 0);
}

uint32_t cpu_io_in(cpu_state *cpu, uint16_t port, unsigned size)
{
    return io_read(cpu->io, port, size);
}

void cpu_io_out(cpu_state *cpu, uint16_t port, uint32_t value, unsigned size)
{
    io_write(cpu->io, port, value, size);
}
