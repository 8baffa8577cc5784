/*
 * Raising exceptions: the one fault path (exception.h).
 *
 * cpu_fault() records the vector and error code and unwinds to the
 * execution loop with longjmp; the loop rolls the instruction back and
 * delivers.  Longjmp keeps every handler free of error plumbing — the
 * same choice QEMU makes with cpu_loop_exit — and the only state that
 * must be restored is what a handler changed before faulting, which the
 * handler contract (checks and loads first, register updates last) keeps
 * to EIP and ESP.
 */
#include <stdio.h>

#include "cpu/exception.h"

bool cpu_vector_has_error(int vector)
{
    switch (vector) {
    case EXC_DF: case EXC_TS: case EXC_NP: case EXC_SS: case EXC_GP: case EXC_PF: case EXC_AC:
        return true;
    default:
        return false;
    }
}

_Noreturn void cpu_fault(cpu_state *cpu, int vector, uint32_t error_code)
{
    cpu->fault_vector = vector;
    cpu->fault_error = error_code;
    longjmp(cpu->fault_jmp, 1);
}

_Noreturn void cpu_page_fault(cpu_state *cpu, uint32_t lin, uint32_t pfec)
{
    cpu->fault_cr2 = lin;
    cpu->fault_vector = EXC_PF;
    cpu->fault_error = pfec;
    longjmp(cpu->fault_jmp, 1);
}

_Noreturn void cpu_triple_fault(cpu_state *cpu, const char *why)
{
    snprintf(cpu->diag, sizeof(cpu->diag), "triple fault at %04x:%08x: %s",
             cpu->seg[S_CS].selector, cpu->insn_eip, why);
    cpu->run_state = CPU_SHUTDOWN;
    cpu->fault_vector = -1;
    longjmp(cpu->fault_jmp, 1);
}
