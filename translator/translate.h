/*
 * Translating one guest basic block (translator-internal).
 */
#ifndef BTVM_TRANSLATOR_TRANSLATE_H
#define BTVM_TRANSLATOR_TRANSLATE_H

#include <stdint.h>

#include "translator/block.h"
#include "translator/tr.h"

/*
 * Translate the block at guest eip, whose bytes start at code (host
 * pointer) with avail bytes left in the guest page.  Emits into e and
 * fills b (ninsns, side table).  Returns the number of guest
 * instructions translated: 0 means the first instruction must go to the
 * interpreter.  *stop names the instruction the block stopped before
 * (ZYDIS_MNEMONIC_INVALID when it ended at a branch, the page end or the
 * size limit).  block_id is what the block's direct exits report in
 * cpu_state.tr_exit (with the exit's number in the low two bits).
 */
unsigned tr_translate(tr_block *b, tr_emit *e, const uint8_t *code, unsigned avail, uint32_t eip,
                      uint32_t block_id, const tr_stubs *stubs, ZydisMnemonic *stop, tr_stats *st);

#endif
