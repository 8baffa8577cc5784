/* The reference interpreter: see interp.h. */
#include "cpu/interp.h"

#include <pthread.h>

#include "cpu/decode.h"
#include "cpu/exception.h"
#include "cpu/icache.h"
#include "cpu/ops.h"

/*
 * The dispatch array and the decoders are built once and never written
 * again: shared read-only tables, not state (every piece of state is in
 * cpu_state).
 */
static const cpu_op_row *dispatch[ZYDIS_MNEMONIC_MAX_VALUE + 1];
/* Form rows, tried in order before dispatch[] (ops.h). */
#define MAX_FORMS 4
static const cpu_op_form *forms[ZYDIS_MNEMONIC_MAX_VALUE + 1][MAX_FORMS];
static cpu_decoders decoders;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static const cpu_op_row *const families[] = {
    cpu_ops_alu, cpu_ops_data, cpu_ops_branch, cpu_ops_string, cpu_ops_system, cpu_ops_fpu,
    cpu_ops_far,
};
static const cpu_op_form *const form_tables[] = { cpu_forms_far, cpu_forms_system, cpu_forms_data,
                                                   cpu_forms_fpu };

static void build_tables(void)
{
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++)
        for (const cpu_op_row *r = families[f]; r->handler; r++)
            dispatch[r->mnemonic] = r;
    for (size_t f = 0; f < sizeof(form_tables) / sizeof(form_tables[0]); f++) {
        for (const cpu_op_form *r = form_tables[f]; r->match; r++) {
            for (int i = 0; i < MAX_FORMS; i++) {
                if (!forms[r->row.mnemonic][i]) {
                    forms[r->row.mnemonic][i] = r;
                    break;
                }
            }
        }
    }
    cpu_decoders_init(&decoders);
}

const cpu_op_row *cpu_op_lookup(ZydisMnemonic m)
{
    pthread_once(&tables_once, build_tables);
    return (unsigned)m <= ZYDIS_MNEMONIC_MAX_VALUE ? dispatch[m] : NULL;
}

const cpu_op_row *cpu_op_find(const cpu_insn *in)
{
    ZydisMnemonic m = in->z.mnemonic;
    for (int i = 0; i < MAX_FORMS && forms[m][i]; i++)
        if (forms[m][i]->match(in))
            return &forms[m][i]->row;
    return dispatch[m];
}

/* Exception classes for the double-fault rules (SDM Vol. 3A Table 6-4). */
static bool contributory(int v)
{
    return v == EXC_DE || v == EXC_TS || v == EXC_NP || v == EXC_SS || v == EXC_GP;
}

/* Roll the faulting instruction back and deliver its exception (Table 6-5). */
static void deliver_fault(cpu_state *cpu)
{
    int vec = cpu->fault_vector;
    uint32_t err = cpu->fault_error;
    cpu->eip = cpu->insn_eip;
    cpu->regs[R_ESP] = cpu->insn_esp;
    cpu->stats.exceptions++;
    /* A page fault loads CR2 even when it turns into a double fault. */
    if (vec == EXC_PF)
        cpu->cr2 = cpu->fault_cr2;

    if (cpu->exc_depth > 0) {
        int prev = cpu->last_vector;
        if (prev == EXC_DF)
            cpu_triple_fault(cpu, "fault while delivering a double fault");
        if ((contributory(prev) && contributory(vec)) ||
            (prev == EXC_PF && (contributory(vec) || vec == EXC_PF))) {
            vec = EXC_DF;
            err = 0;
        }
    }
    cpu_deliver_event(cpu, vec, EV_EXCEPTION, cpu_vector_has_error(vec), err, cpu->insn_eip);
}

static inline bool intr_deliverable(const cpu_state *cpu)
{
    return cpu->intr && (cpu->eflags & FL_IF) && !cpu->inhibit_irq && cpu->intr_ack;
}

static void deliver_hardware_interrupt(cpu_state *cpu)
{
    cpu->insn_eip = cpu->eip;
    cpu->insn_esp = cpu->regs[R_ESP];
    int vector = cpu->intr_ack(cpu->intr_ack_opaque);
    cpu->run_state = CPU_RUNNING;
    cpu->stats.interrupts++;
    cpu_deliver_event(cpu, vector & 0xff, EV_HARDWARE, false, 0, cpu->eip);
    cpu->exc_depth = 0;
}

enum cpu_exit cpu_exec(cpu_state *cpu, uint64_t budget)
{
    pthread_once(&tables_once, build_tables);
    /* The budget counts passes: an unfinished pass of a long REP string
     * instruction (string.c) is work, but not a guest instruction — it is
     * one however many passes it takes, as under the translator. */
    const uint64_t end = cpu->stats.instructions + cpu->stats.rep_passes + budget;
    cpu_insn scratch;

    if (cpu->run_state == CPU_SHUTDOWN)
        return CPU_EXIT_SHUTDOWN;
    if (setjmp(cpu->fault_jmp)) {
        /* A fault unwound here: deliver it.  A fault during delivery lands
         * here again with exc_depth > 0. */
        if (cpu->run_state == CPU_SHUTDOWN)
            return CPU_EXIT_SHUTDOWN;
        deliver_fault(cpu);
        cpu->exc_depth = 0;
        cpu->trap_pending = false;
    }

    while (cpu->stats.instructions + cpu->stats.rep_passes < end) {
        if (cpu->exit_request) {
            cpu->exit_request = 0;
            return CPU_EXIT_REQUEST;
        }
        if (intr_deliverable(cpu))
            deliver_hardware_interrupt(cpu);
        if (cpu->run_state == CPU_HALTED)
            return CPU_EXIT_HALT;

        cpu->insn_eip = cpu->eip;
        cpu->insn_esp = cpu->regs[R_ESP];
        cpu->inhibit_irq = false;
        bool single_step = cpu->eflags & FL_TF;

        cpu_insn *in = cpu_icache_fetch(cpu, cpu->icache, &decoders, &scratch);
        const cpu_op_row *row = in->row;
        if (!row)
            cpu_fault(cpu, EXC_UD, 0);
        cpu->eip = in->next_eip;
        row->handler(cpu, in);
        if (cpu->rep_unfinished) {
            cpu->rep_unfinished = false;
            cpu->stats.rep_passes++;
        } else {
            cpu->stats.instructions++;
        }

        /* Single-step trap after the instruction (SDM Vol. 3A §17.3.1.4). */
        if (single_step && !cpu->inhibit_irq) {
            cpu->dr[6] |= 0x4000; /* BS */
            cpu->insn_eip = cpu->eip;
            cpu->insn_esp = cpu->regs[R_ESP];
            cpu_deliver_event(cpu, EXC_DB, EV_EXCEPTION, false, 0, cpu->eip);
            cpu->exc_depth = 0;
        }
    }
    return CPU_EXIT_BUDGET;
}
