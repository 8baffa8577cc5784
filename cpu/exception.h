/*
 * Exceptions and interrupts: raising them and delivering them.
 *
 * Raising: cpu_fault() abandons the current instruction (a longjmp back
 * into the execution loop, which rolls EIP and ESP back to the
 * instruction's start) and delivers the exception — the one fault path.
 * Handlers therefore do every check and load before they change
 * registers, and memory writes that can fault before register updates.
 *
 * Delivery (SDM Vol. 3A §6.12-6.15): through the IVT in real mode, the
 * IDT's interrupt/trap/task gates in protected mode, with the privilege
 * and stack switch, the v86 exit, the error code, and the double-fault
 * and triple-fault rules of Table 6-5.
 */
#ifndef BTVM_CPU_EXCEPTION_H
#define BTVM_CPU_EXCEPTION_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"

enum cpu_event_kind {
    EV_EXCEPTION,  /* a fault or trap raised by the CPU */
    EV_SOFTWARE,   /* INT n, INT3, INTO: gate DPL is checked against CPL */
    EV_HARDWARE,   /* INTR or NMI */
    EV_ICEBP,      /* INT1 (F1): delivered like a trap, no DPL check */
};

/* Does this exception vector push an error code? (SDM Vol. 3A Table 6-1) */
bool cpu_vector_has_error(int vector);

/* Abandon the current instruction and deliver vector.  The error code is
 * pushed only for the vectors that have one. */
_Noreturn void cpu_fault(cpu_state *cpu, int vector, uint32_t error_code);

/* #PF: sets CR2, then as cpu_fault. */
_Noreturn void cpu_page_fault(cpu_state *cpu, uint32_t lin, uint32_t pfec);

/*
 * Deliver an event now, with return_eip as the EIP saved on the stack.
 * May itself fault (a bad gate, a stack that is not present): that
 * fault unwinds to the execution loop like any other, which applies the
 * double-fault rules using cpu->exc_depth.
 */
void cpu_deliver_event(cpu_state *cpu, int vector, enum cpu_event_kind kind,
                       bool has_error, uint32_t error_code, uint32_t return_eip);

/* Enter shutdown (triple fault): the machine resets or btvm exits. */
_Noreturn void cpu_triple_fault(cpu_state *cpu, const char *why);

#endif
