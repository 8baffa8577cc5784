/*
 * Event delivery (exception.h): real-mode through the IVT.
 * Protected mode: IDT gates, privilege changes, v86 — SDM Vol. 3A §6.12.
 */
#include "cpu/exception.h"
#include "cpu/mem.h"
#include "cpu/seg.h"

/* Real mode (SDM Vol. 3A §20.1.4): push FLAGS, CS, IP; clear IF, TF, AC. */
static void deliver_real(cpu_state *cpu, int vector, uint32_t return_eip)
{
    uint32_t entry = vector * 4;
    if (entry + 3 > cpu->idtr.limit)
        cpu_fault(cpu, EXC_GP, 0);
    uint32_t vec = cpu_sys_read(cpu, cpu->idtr.base + entry, 4);
    cpu_push(cpu, cpu->eflags & 0xffff, 2);
    cpu_push(cpu, cpu->seg[S_CS].selector, 2);
    cpu_push(cpu, return_eip & 0xffff, 2);
    cpu->eflags &= ~(FL_IF | FL_TF | FL_AC | FL_RF);
    cpu_load_seg_real(cpu, S_CS, (uint16_t)(vec >> 16));
    cpu->eip = vec & 0xffff;
}

void cpu_deliver_event(cpu_state *cpu, int vector, enum cpu_event_kind kind, bool has_error,
                       uint32_t error_code, uint32_t return_eip)
{
    cpu->exc_depth++;
    cpu->last_vector = kind == EV_EXCEPTION ? vector : -1;
    (void)has_error;
    (void)error_code;
    if (!cpu_protected(cpu)) {
        deliver_real(cpu, vector, return_eip);
        return;
    }
    cpu_triple_fault(cpu, "protected-mode event delivery is not built yet");
}
