/*
 * Hardware task switching (SDM Vol. 3A Chapter 7): JMP and CALL to a TSS
 * descriptor or task gate, interrupts and exceptions through a task
 * gate, and IRET with EFLAGS.NT set.
 */
#ifndef BTVM_CPU_TASK_H
#define BTVM_CPU_TASK_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"

enum task_reason {
    TASK_JMP,   /* old task's busy bit cleared; no link */
    TASK_CALL,  /* new task nested: NT set, back link written */
    TASK_INT,   /* as CALL, and an error code may be pushed on the new stack */
    TASK_IRET,  /* return to the back-linked task: old busy cleared, NT cleared */
};

/*
 * Switch to the task of TSS selector sel whose descriptor desc the caller
 * has read and checked for type (available for JMP/CALL/INT, busy for
 * IRET), privilege and presence.  return_eip is saved as the old task's
 * EIP.  ext is the EXT bit for error codes of faults raised before the
 * switch commits.  Faults after the commit point (loading the new task's
 * segments) are raised in the new task's context, as on hardware.
 */
void cpu_task_switch(cpu_state *cpu, uint16_t sel, uint64_t desc, enum task_reason why,
                     uint32_t return_eip, bool has_error, uint32_t error_code, uint32_t ext);

/*
 * Through a task gate whose own checks (DPL, present) passed: look up the
 * TSS descriptor the gate names and switch.  #GP(tss|ext) if it is not
 * an available TSS in the GDT, #NP(tss|ext) if not present.
 */
void cpu_task_gate(cpu_state *cpu, uint16_t tss_sel, enum task_reason why, uint32_t return_eip,
                   bool has_error, uint32_t error_code, uint32_t ext);

#endif
