/*
 * Segmentation: descriptors, segment-register loads and their checks
 * (SDM Vol. 3A Chapter 3 and §5.1-5.8).
 */
#ifndef BTVM_CPU_SEG_H
#define BTVM_CPU_SEG_H

#include <stdint.h>

#include "cpu/cpu.h"

/* Fill a segment cache from an 8-byte descriptor. */
void cpu_seg_from_descriptor(cpu_segment *s, uint16_t selector, uint64_t desc);

/* Real-mode and v86 load: base = selector << 4, limit and attributes kept
 * (real mode) or forced to a 64 KiB writable data segment (v86). */
void cpu_load_seg_real(cpu_state *cpu, int sreg, uint16_t selector);

/*
 * MOV/POP/LxS to a data or stack segment register, in any mode, with
 * every protected-mode check: #GP(sel), #SS(sel), #NP(sel).  Sets the
 * descriptor's accessed bit.  Loading SS also sets the interrupt shadow.
 */
void cpu_load_seg(cpu_state *cpu, int sreg, uint16_t selector);

/*
 * Read the descriptor for selector from the GDT or LDT.  If the selector
 * is outside the table, raises vector with error code (selector & ~3).
 */
uint64_t cpu_read_descriptor(cpu_state *cpu, uint16_t selector, int vector);
/* Write back a descriptor's high dword (accessed bit, busy bit). */
void cpu_write_descriptor_high(cpu_state *cpu, uint16_t selector, uint32_t high);

/* Recompute cpl, code32 and stack32 after CS, SS, CR0 or EFLAGS.VM change. */
void cpu_update_mode(cpu_state *cpu);

#endif
