/* Instruction family table: see ops.h. */
#include "cpu/ops.h"

const cpu_op_row cpu_ops_string[] = {
    { ZYDIS_MNEMONIC_INVALID, NULL, TR_IDENTICAL },
};
