/*
 * Handlers of the system family (system.c's table) that live in their own
 * files: control and debug registers (cr.c), CPUID, MSRs, the TSC and
 * SYSENTER/SYSEXIT (msr.c).
 */
#ifndef BTVM_CPU_SYSOPS_H
#define BTVM_CPU_SYSOPS_H

#include <stdbool.h>

#include "cpu/cpu.h"
#include "cpu/decode.h"

/* #GP(0) unless CPL 0 (always #GP in v86 mode, where CPL is 3). */
void sys_require_cpl0(cpu_state *cpu);

/* cr.c */
bool sys_is_mov_crdr(const cpu_insn *in);
void sys_op_mov_crdr(cpu_state *cpu, cpu_insn *in);
void sys_op_lmsw(cpu_state *cpu, cpu_insn *in);
void sys_op_smsw(cpu_state *cpu, cpu_insn *in);
void sys_op_clts(cpu_state *cpu, cpu_insn *in);
void sys_op_invlpg(cpu_state *cpu, cpu_insn *in);
/* MOV to CR0 and LMSW: validity checks, TLB flush, mode update. */
void cpu_write_cr0(cpu_state *cpu, uint32_t value);

/* msr.c */
void sys_op_cpuid(cpu_state *cpu, cpu_insn *in);
void sys_op_rdtsc(cpu_state *cpu, cpu_insn *in);
void sys_op_rdmsr(cpu_state *cpu, cpu_insn *in);
void sys_op_wrmsr(cpu_state *cpu, cpu_insn *in);
void sys_op_sysenter(cpu_state *cpu, cpu_insn *in);
void sys_op_sysexit(cpu_state *cpu, cpu_insn *in);

/* CPUID leaf for the guest, also used by the monitor and tests. */
void cpu_cpuid(const cpu_state *cpu, uint32_t leaf, uint32_t out[4]);
/* MSR access for the guest: false for an unknown MSR or a bad value. */
bool cpu_msr_read(cpu_state *cpu, uint32_t index, uint64_t *value);
bool cpu_msr_write(cpu_state *cpu, uint32_t index, uint64_t value);

#endif
