/*
 * Segmentation: descriptors, segment-register loads and their checks
 * (SDM Vol. 3A Chapter 3 and §5.1-5.8).
 */
#ifndef BTVM_CPU_SEG_H
#define BTVM_CPU_SEG_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"

/*
 * An 8-byte descriptor as read from a table (SDM Vol. 3A Figure 3-8):
 *   bits 0-15 limit 15:0      16-39 base 23:0     40-43 type   44 S
 *   45-46 DPL   47 P   48-51 limit 19:16   52 AVL  54 D/B  55 G  56-63 base 31:24
 * Gates (Figure 5-8, 6-2): 0-15 offset 15:0, 16-31 selector,
 *   32-36 parameter count (call gates), 48-63 offset 31:16.
 */
static inline unsigned desc_type(uint64_t d) { return (d >> 40) & 0xf; }
static inline bool desc_s(uint64_t d) { return (d >> 44) & 1; }
static inline unsigned desc_dpl(uint64_t d) { return (d >> 45) & 3; }
static inline bool desc_present(uint64_t d) { return (d >> 47) & 1; }
static inline bool desc_code(uint64_t d) { return desc_s(d) && (desc_type(d) & 8); }
static inline bool desc_conforming(uint64_t d) { return desc_code(d) && (desc_type(d) & 4); }
static inline bool desc_readable(uint64_t d) { return !desc_code(d) || (desc_type(d) & 2); }
static inline bool desc_writable_data(uint64_t d)
{
    return desc_s(d) && !(desc_type(d) & 8) && (desc_type(d) & 2);
}
static inline uint16_t gate_selector(uint64_t d) { return (uint16_t)(d >> 16); }
static inline uint32_t gate_offset(uint64_t d, bool gate32)
{
    uint32_t off = (uint32_t)d & 0xffff;
    return gate32 ? off | ((uint32_t)(d >> 32) & 0xffff0000u) : off;
}
static inline unsigned gate_params(uint64_t d) { return (d >> 32) & 0x1f; }

/* System descriptor types (S = 0), SDM Vol. 3A Table 3-2. */
enum {
    DT_TSS16_AVAIL = 1, DT_LDT = 2, DT_TSS16_BUSY = 3, DT_CALL16 = 4, DT_TASK = 5,
    DT_INT16 = 6, DT_TRAP16 = 7, DT_TSS32_AVAIL = 9, DT_TSS32_BUSY = 11, DT_CALL32 = 12,
    DT_INT32 = 14, DT_TRAP32 = 15,
};

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
 * The same checks for the loads of a task switch (SDM Vol. 3A §7.3 step
 * 13, Table 7-1): an invalid selector raises #TS(sel) instead of #GP.
 * CPL is the new task's (cpu->cpl, already set from its CS).
 */
void cpu_load_seg_task(cpu_state *cpu, int sreg, uint16_t selector);

/*
 * Read the descriptor for selector from the GDT or LDT.  If the selector
 * is outside the table, raises vector with error code (selector & ~3).
 */
uint64_t cpu_read_descriptor(cpu_state *cpu, uint16_t selector, int vector);
/* The same, returning false instead of faulting (LAR, LSL, VERR, VERW, and
 * callers that add the EXT bit to the error code).  A selector with TI=1
 * while LDTR is null is outside the table.  May still raise #PF. */
bool cpu_fetch_descriptor(cpu_state *cpu, uint16_t selector, uint64_t *desc);
/* Write back a descriptor's high dword (accessed bit, busy bit). */
void cpu_write_descriptor_high(cpu_state *cpu, uint16_t selector, uint32_t high);
/* Set the accessed bit in the table and in *desc if it is clear. */
void cpu_set_accessed(cpu_state *cpu, uint16_t selector, uint64_t *desc);

/* Load a segment register from a checked descriptor (no checks): CS or
 * SS changes also recompute the mode. */
void cpu_commit_seg(cpu_state *cpu, int sreg, uint16_t selector, uint64_t desc);
/* A null selector in a data segment register: any access faults. */
void cpu_null_seg(cpu_state *cpu, int sreg, uint16_t selector);

/* Recompute cpl, code32 and stack32 after CS, CR0 or EFLAGS.VM change. */
void cpu_update_mode(cpu_state *cpu);
/* Recompute stack32 alone after an SS load: CPL follows CS only, which
 * matters between setting CR0.PE and the far jump that loads CS. */
void cpu_update_stack_size(cpu_state *cpu);

#endif
