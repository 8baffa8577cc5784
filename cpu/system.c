/* Instruction family table: see ops.h. */
#include "cpu/ops.h"

const cpu_op_row cpu_ops_system[] = {
    { ZYDIS_MNEMONIC_INVALID, NULL, TR_IDENTICAL },
};
const cpu_op_form cpu_forms_system[] = {
    { NULL, { ZYDIS_MNEMONIC_INVALID, NULL, TR_IDENTICAL } },
};
