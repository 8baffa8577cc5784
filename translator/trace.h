/*
 * Trace mode (DESIGN.md "Teaching and tracing"): each translated block is
 * printed as it is made — the guest instructions (Zydis, Intel syntax)
 * beside the host code produced for each (Capstone), with the class of
 * each translation and the reason an instruction was rewritten or ended
 * the block.  Translator-internal; enabled through tr_set_trace().
 */
#ifndef BTVM_TRANSLATOR_TRACE_H
#define BTVM_TRANSLATOR_TRACE_H

#include <stdio.h>

#include "translator/block.h"
#include "translator/translate.h"

/*
 * Print block b, just translated from the guest bytes at guest (avail
 * bytes left in its page), using what translate.c recorded in rec.
 */
void tr_trace_block(FILE *out, const tr_block *b, const uint8_t *guest, unsigned avail,
                    const tr_trace_rec *rec, const tr_stubs *stubs);

#endif
