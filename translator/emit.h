/*
 * Emitting x86-64 host code with Zydis' encoder.
 *
 * An emitter writes through the code cache's writable view while
 * computing branch targets against the executable view.  Every helper
 * records overflow instead of failing: the translator checks once per
 * guest instruction and flushes the cache when it is full.
 */
#ifndef BTVM_TRANSLATOR_EMIT_H
#define BTVM_TRANSLATOR_EMIT_H

#include <Zydis/Zydis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tr_emit {
    uint8_t *start;     /* writable view */
    uint8_t *p;
    uint8_t *end;
    intptr_t rx_delta;  /* executable address = writable address + rx_delta */
    bool failed;        /* out of room, or an encoding Zydis refused */
} tr_emit;

static inline uintptr_t emit_rx_here(const tr_emit *e)
{
    return (uintptr_t)(e->p + e->rx_delta);
}

static inline size_t emit_size(const tr_emit *e)
{
    return (size_t)(e->p - e->start);
}

/* Operand builders. */
ZydisEncoderOperand emit_reg(ZydisRegister r);
ZydisEncoderOperand emit_imm(int64_t v);
ZydisEncoderOperand emit_mem(ZydisRegister base, ZydisRegister index, uint8_t scale,
                             int64_t disp, unsigned size_bytes);

/* Encode a 64-bit-mode instruction; false (and e->failed) if refused. */
bool emit_insn(tr_emit *e, ZydisMnemonic m, unsigned nops, const ZydisEncoderOperand *ops);
/* Raw bytes (encodings the translator spells out). */
bool emit_bytes(tr_emit *e, const uint8_t *bytes, unsigned n);
/* Encode a request as is (machine mode set to 64-bit here). */
bool emit_request(tr_emit *e, ZydisEncoderRequest *req);

static inline bool emit0(tr_emit *e, ZydisMnemonic m)
{
    return emit_insn(e, m, 0, NULL);
}
static inline bool emit1(tr_emit *e, ZydisMnemonic m, ZydisEncoderOperand a)
{
    return emit_insn(e, m, 1, &a);
}
static inline bool emit2(tr_emit *e, ZydisMnemonic m, ZydisEncoderOperand a, ZydisEncoderOperand b)
{
    ZydisEncoderOperand ops[2] = { a, b };
    return emit_insn(e, m, 2, ops);
}

/* mov r9, [r13 + poll_ptr_off] ; mov r9b, [r9]: the block-entry probe.
 * A stop request points cpu.tr_poll at the unreadable poll page: no
 * system call (mprotect costs tens of microseconds on some hosts). */
bool emit_poll_probe(tr_emit *e, int64_t poll_ptr_off);

/* jmp/jcc with a 32-bit displacement to an absolute executable address. */
bool emit_branch(tr_emit *e, ZydisMnemonic m, uintptr_t target_rx);
/* The same with an 8-bit displacement (jrcxz has no other). */
bool emit_short_branch(tr_emit *e, ZydisMnemonic m, uintptr_t target_rx);

#endif
