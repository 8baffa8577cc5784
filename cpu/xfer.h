/*
 * Helpers shared by the control transfers that change CS, and maybe SS
 * and the privilege level: event delivery (deliver.c), far JMP/CALL/RET
 * and IRET (far.c, iret.c), task switches (task.c).
 *
 * They all follow the handler contract (exception.h): a transfer stages
 * the values it will push in a cpu_frame, checks the frame (segment
 * limit, then paging: #SS or #PF with nothing written), runs its other
 * checks, writes the frame, and only then commits CS, SS, ESP, EFLAGS.
 */
#ifndef BTVM_CPU_XFER_H
#define BTVM_CPU_XFER_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"

#define FRAME_MAX 16

typedef struct cpu_frame {
    cpu_segment ss;      /* the stack the frame goes to (maybe not loaded yet) */
    uint32_t sp;         /* stack pointer before the pushes, then after them */
    bool big;            /* SS.B: ESP, else SP wrapping at 64 KiB */
    bool user;           /* the writes are CPL 3 accesses */
    int vector;          /* fault for a push outside the segment: #SS */
    uint32_t error;
    unsigned n;
    uint32_t val[FRAME_MAX];
    uint8_t size[FRAME_MAX];
    uint32_t off[FRAME_MAX];
} cpu_frame;

/* A frame on the current stack: an overflow is #SS(0). */
void frame_init_current(cpu_state *cpu, cpu_frame *f);
/* A frame on a new stack at privilege cpl < 3: an overflow is #SS(error). */
void frame_init_new(cpu_frame *f, const cpu_segment *ss, uint32_t esp, uint32_t error);
static inline void frame_push(cpu_frame *f, uint32_t value, unsigned size)
{
    f->val[f->n] = value;
    f->size[f->n] = (uint8_t)size;
    f->n++;
}
/* Check every push against the limit and the page tables. */
void frame_check(cpu_state *cpu, cpu_frame *f);
/* Write the checked frame; f->sp becomes the final stack pointer. */
void frame_write(cpu_state *cpu, cpu_frame *f);

/* Set ESP (or SP, for a 16-bit stack) to sp. */
void xfer_set_sp(cpu_state *cpu, uint32_t sp, bool big);

/* Is [off, off+len) inside the segment's limit (expand-down aware)? */
bool seg_range_ok(const cpu_segment *s, uint32_t off, unsigned len);

/*
 * The inner stack for privilege level dpl from the current TSS (SDM
 * Vol. 3A §6.12.1, §5.8.5): SSn:ESPn of a 32-bit TSS, SSn:SPn of a
 * 16-bit one.  #TS(TR selector | ext) if they are beyond the TSS limit.
 */
void xfer_tss_stack(cpu_state *cpu, unsigned dpl, uint16_t *ss, uint32_t *esp, uint32_t ext);

/*
 * Check the new stack segment of a privilege change to dpl: #TS(sel|ext)
 * unless a present-or-not writable data segment with RPL = DPL = dpl;
 * #SS(sel|ext) if not present.  Returns its descriptor.
 */
uint64_t xfer_check_inner_ss(cpu_state *cpu, uint16_t ss, unsigned dpl, uint32_t ext);

/*
 * The code segment RET FAR and IRET return to (SDM Vol. 2 RET, IRET):
 * #GP(0) for a null selector; #GP(sel) unless a code segment with
 * RPL >= CPL and DPL = RPL (<= RPL if conforming); #NP(sel) if not
 * present.  Returns its descriptor.
 */
uint64_t xfer_check_return_cs(cpu_state *cpu, uint16_t sel);

/*
 * The stack segment RET FAR and IRET load when returning to the outer
 * level rpl: #GP(0) for a null selector; #GP(sel) unless writable data
 * with RPL = DPL = rpl; #SS(sel) if not present.  Returns its descriptor.
 */
uint64_t xfer_check_return_ss(cpu_state *cpu, uint16_t ss, unsigned rpl);

/* Stack reads for RET/IRET: peek at SS:(sp + off) with the current stack
 * size; #SS(0) if outside the limit. */
uint32_t xfer_peek(cpu_state *cpu, uint32_t off, unsigned size);

/* Clear DS, ES, FS, GS if the new (outer) CPL may not use them: data and
 * non-conforming code segments with DPL < CPL (RET/IRET to an outer level,
 * SDM Vol. 3A §5.8.6). */
void xfer_null_outer_segs(cpu_state *cpu);

/* IRET/IRETD, in iret.c; listed in far.c's table. */
struct cpu_insn;
void cpu_op_iret(cpu_state *cpu, struct cpu_insn *in);

#endif
