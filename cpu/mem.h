/*
 * Guest memory as the CPU sees it: logical (segment:offset) and linear
 * accesses, with segment checks (SDM Vol. 3A §5.3-5.4), paging through
 * the software TLB, and the faults they raise.
 *
 * Accesses of 1, 2, 4 and 8 bytes may be unaligned and may straddle a
 * page; a straddling access translates both pages before it touches
 * either, so a write never lands half-done.
 */
#ifndef BTVM_CPU_MEM_H
#define BTVM_CPU_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"
#include "mmu/paging.h"

/* Linear accesses at the current privilege (CPL 3 is a user access). */
uint32_t cpu_lin_read(cpu_state *cpu, uint32_t lin, unsigned size, pg_access acc);
void cpu_lin_write(cpu_state *cpu, uint32_t lin, uint32_t value, unsigned size);

/* Implicit supervisor accesses: descriptor tables, TSS, IDT (§5.2). */
uint32_t cpu_sys_read(cpu_state *cpu, uint32_t lin, unsigned size);
void cpu_sys_write(cpu_state *cpu, uint32_t lin, uint32_t value, unsigned size);

/* Logical accesses through segment register sreg (S_ES..S_GS). */
uint32_t cpu_read(cpu_state *cpu, int sreg, uint32_t offset, unsigned size);
void cpu_write(cpu_state *cpu, int sreg, uint32_t offset, uint32_t value, unsigned size);
uint64_t cpu_read64(cpu_state *cpu, int sreg, uint32_t offset);
void cpu_write64(cpu_state *cpu, int sreg, uint32_t offset, uint64_t value);

/* Copy len bytes (FPU/SSE operands, FXSAVE images: up to 512). */
void cpu_read_block(cpu_state *cpu, int sreg, uint32_t offset, void *dst, unsigned len);
void cpu_write_block(cpu_state *cpu, int sreg, uint32_t offset, const void *src, unsigned len);

/*
 * Checks without access: raise the fault the access would raise.  Used
 * to make multi-write instructions fault-atomic (check, then write).
 */
void cpu_check_access(cpu_state *cpu, int sreg, uint32_t offset, unsigned len, bool write);

/* Linear address of sreg:offset after the segment checks. */
uint32_t cpu_linear(cpu_state *cpu, int sreg, uint32_t offset, unsigned len, bool write);

/* Translate a linear address for an access, raising #PF; returns physical. */
uint32_t cpu_translate(cpu_state *cpu, uint32_t lin, pg_access acc, bool user);

/* Drop cached translations: after CR0/CR3/CR4 writes and INVLPG. */
void cpu_tlb_flush(cpu_state *cpu, bool keep_global);
void cpu_tlb_flush_page(cpu_state *cpu, uint32_t lin);

/* Stack: push/pop of 2 or 4 bytes through SS, honouring SS.B. */
void cpu_push(cpu_state *cpu, uint32_t value, unsigned size);
uint32_t cpu_pop(cpu_state *cpu, unsigned size);
/* Read the stack at ESP+offset without popping. */
uint32_t cpu_stack_peek(cpu_state *cpu, uint32_t offset, unsigned size);

#endif
