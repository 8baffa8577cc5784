/*
 * The instruction table: what the CPU knows about each instruction.
 *
 * Decoding is Zydis' job; this table maps each decoded mnemonic to its
 * interpreter handler and to its translation class (how the binary
 * translator treats it: copied, rewritten, or called out to the
 * handler below).  Each family file (alu.c, string.c, system.c, ...)
 * holds the rows for its own instructions; interp.c builds the dispatch
 * array from all of them at start-up.
 */
#ifndef BTVM_CPU_OPS_H
#define BTVM_CPU_OPS_H

#include <stdbool.h>

#include "cpu/cpu.h"
#include "cpu/decode.h"

typedef void (*cpu_handler)(cpu_state *cpu, cpu_insn *in);

/* How the translator will treat an instruction (DESIGN.md "Binary translator"). */
enum cpu_tr_class {
    TR_IDENTICAL,  /* innocuous: copied with registers and memory operands renamed */
    TR_REWRITTEN,  /* control flow, stack, string, sensitive-unprivileged */
    TR_CALLOUT,    /* privileged or rare: calls this table's handler */
};

typedef struct cpu_op_row {
    ZydisMnemonic mnemonic;
    cpu_handler handler;
    enum cpu_tr_class tr_class;
} cpu_op_row;

/*
 * One mnemonic may be handled in several families: Zydis names near and
 * far JMP/CALL/RET alike, and MOV to a control register is MOV too.  A
 * form row claims only the decoded forms its `match` accepts and is
 * tried before the mnemonic's general row.
 */
typedef struct cpu_op_form {
    bool (*match)(const cpu_insn *in);
    cpu_op_row row;
} cpu_op_form;

/* Family tables, each terminated by a row with a NULL handler. */
extern const cpu_op_row cpu_ops_alu[];      /* alu.c: arithmetic, logic, shifts, bits, BCD, mul/div */
extern const cpu_op_row cpu_ops_data[];     /* data.c: mov family, xchg, stack, flags, conversions */
extern const cpu_op_row cpu_ops_branch[];   /* branch.c: near jmp/jcc/call/ret/loop */
extern const cpu_op_row cpu_ops_string[];   /* string.c: movs/stos/lods/cmps/scas, ins/outs */
extern const cpu_op_row cpu_ops_system[];   /* system.c: privileged and system instructions */
extern const cpu_op_row cpu_ops_fpu[];      /* fpu.c: x87, MMX, SSE, SSE2 run natively */
extern const cpu_op_row cpu_ops_far[];      /* far.c: int n/int3/into/int1, iret */

/* Form tables, terminated by a row with a NULL match. */
extern const cpu_op_form cpu_forms_far[];    /* far.c: far jmp/call/ret */
extern const cpu_op_form cpu_forms_system[]; /* system.c: mov to/from CRn/DRn */
extern const cpu_op_form cpu_forms_fpu[];    /* fpu.c: SSE2 movsd/cmpsd (string mnemonics) */
extern const cpu_op_form cpu_forms_data[];   /* data.c: mov to/from a segment register */

/* The general dispatch entry for a mnemonic, or NULL (the instruction raises #UD). */
const cpu_op_row *cpu_op_lookup(ZydisMnemonic m);
/* The entry for a decoded instruction: a matching form row, else the general one. */
const cpu_op_row *cpu_op_find(const cpu_insn *in);

#endif
