/* Far transfers: see below. */
#include "cpu/ops.h"

const cpu_op_row cpu_ops_far[] = {
    { ZYDIS_MNEMONIC_INVALID, NULL, TR_IDENTICAL },
};
const cpu_op_form cpu_forms_far[] = {
    { NULL, { ZYDIS_MNEMONIC_INVALID, NULL, TR_IDENTICAL } },
};
