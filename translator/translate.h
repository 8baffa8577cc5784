/*
 * Translating one guest superblock (translator-internal).
 */
#ifndef BTVM_TRANSLATOR_TRANSLATE_H
#define BTVM_TRANSLATOR_TRANSLATE_H

#include <stdint.h>

#include "translator/block.h"
#include "translator/hot.h"
#include "translator/tr.h"

/* How one guest instruction was translated: the trace's class column. */
enum tr_how {
    TR_HOW_IDENTICAL,   /* copied (registers renamed, memory rebased) */
    TR_HOW_REWRITTEN,   /* rewritten, the block goes on (a jcc's taken edge leaves it) */
    TR_HOW_ENDS,        /* rewritten control flow: the block ends with it */
    TR_HOW_FOLLOWED,    /* a direct jmp forward in the page: the block goes on at its target */
};

/* Why a block ended. */
enum tr_end {
    TR_END_BRANCH,      /* at its last instruction, a rewritten branch */
    TR_END_INSN,        /* before an instruction the interpreter must run */
    TR_END_EMIT,        /* before an instruction the encoder refused */
    TR_END_DECODE,      /* before bytes that do not decode within the page */
    TR_END_PAGE,        /* at the end of the guest page */
    TR_END_LIMIT,       /* at TR_MAX_BLOCK_INSNS instructions */
    TR_END_HOT,         /* before an instruction that kept trapping (hot.h) */
};

/* Zydis categories whose instructions only touch GPRs, memory and flags:
 * the ones that may be copied (trace.c explains refusals with it too). */
bool tr_identical_category(ZydisInstructionCategory c);
/* The flags a copied instruction may change: the arithmetic ones, and DF
 * (the host's DF is the guest's in translated code). */
#define TR_COPYABLE_FLAGS (ZYDIS_CPUFLAG_CF | ZYDIS_CPUFLAG_PF | ZYDIS_CPUFLAG_AF | \
                           ZYDIS_CPUFLAG_ZF | ZYDIS_CPUFLAG_SF | ZYDIS_CPUFLAG_OF | ZYDIS_CPUFLAG_DF)

/* What trace mode records while translating (translate.c fills it). */
typedef struct tr_trace_rec {
    uint8_t how[TR_MAX_BLOCK_INSNS];  /* enum tr_how, per instruction */
    uint8_t end;                      /* enum tr_end */
    uint16_t tail_off;                /* host offset of the fall-through exit (or code end) */
    uint16_t side_off;                /* host offset of the jccs' out-of-line taken edges */
    uint16_t end_off;                 /* guest offset where the block stopped */
} tr_trace_rec;

/*
 * Translate the block at guest eip, whose bytes start at code (host
 * pointer) with avail bytes left in the guest page.  Emits into e and
 * fills b (ninsns, side table).  Returns the number of guest
 * instructions translated: 0 means the first instruction must go to the
 * interpreter.  *stop names the instruction the block stopped before
 * (ZYDIS_MNEMONIC_INVALID when it ended at a branch, the page end or the
 * size limit).  block_id is what the block's direct exits report in
 * cpu_state.tr_exit (with the exit's number in the low TR_EXIT_BITS bits).
 * Instructions in hot (by physical address: b->paddr + offset) are left
 * to the interpreter.  rec, when not NULL (trace mode), receives how each instruction was
 * translated and why the block ended (trace.c prints it).
 */
unsigned tr_translate(tr_block *b, tr_emit *e, const uint8_t *code, unsigned avail, uint32_t eip,
                      uint32_t block_id, const tr_stubs *stubs, ZydisMnemonic *stop, tr_stats *st,
                      const tr_hot *hot, tr_trace_rec *rec);

#endif
