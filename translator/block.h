/*
 * Translated blocks and their side tables (translator-internal).
 *
 * A block is one guest superblock (translate.c), within one guest page, keyed by the
 * guest physical address of its first byte.  Its side table maps each
 * guest instruction to the offset of its host code, so a host fault in
 * the block names the guest instruction that faulted (precise
 * exceptions): every translation is fault-atomic, the guest state at a
 * fault is the state before that instruction.
 */
#ifndef BTVM_TRANSLATOR_BLOCK_H
#define BTVM_TRANSLATOR_BLOCK_H

#include <stdint.h>

#include "cpu/cpu.h"
#include "translator/codecache.h"
#include "translator/emit.h"

#define TR_MAX_BLOCK_INSNS 64

typedef struct tr_side {
    uint16_t guest_off;  /* from the block's first guest byte */
    uint16_t host_off;   /* from the block's first host byte */
} tr_side;

/* Direct exits that may chain: a block's fall-through or branch, and its
 * jccs' taken edges (block ids carry the exit number in TR_EXIT_BITS;
 * further exits go through the indirect-branch cache). */
#define TR_EXIT_BITS 3
#define TR_MAX_EXITS (1 << TR_EXIT_BITS)

/* The guest EFLAGS bits that live in the host's while translated code
 * runs: the arithmetic flags, and DF for the string instructions. */
#define TR_HOST_FLAGS (FL_ARITH | FL_DF)
#define TR_USES_FS 1
#define TR_USES_GS 2
#define TR_USES_SSE 4  /* runs only while SSE may execute (translate.c emit_sse) */
#define TR_USES_X87 8  /* runs only while x87 instructions may execute (translate.c emit_x87) */

/* A direct exit: its jmp rel32 can be patched to go straight to the
 * target block (chaining). */
typedef struct tr_exit_slot {
    uint16_t patch_off;  /* offset of the rel32 field from the block's code */
    uint32_t target;     /* guest EIP the exit leads to */
} tr_exit_slot;

typedef struct tr_block {
    uint32_t paddr;      /* guest physical address of the first byte */
    uint32_t eip;        /* guest EIP of the first byte */
    uint32_t gen;        /* page write generation it was translated from */
    uint16_t ninsns;
    uint8_t *code;       /* executable view */
    uint32_t code_len;
    uint8_t nexits;
    uint8_t seg_mask;    /* TR_USES_*: runs only while FS/GS are 4 GiB data, SSE or x87 may run */
    tr_exit_slot exits[TR_MAX_EXITS];
    tr_side side[TR_MAX_BLOCK_INSNS];
    struct tr_block *next;
} tr_block;

/* Offsets of the trampolines the blocks jump to (engine.c). */
typedef struct tr_stubs {
    uintptr_t enter;     /* void enter(cpu_state *, uint8_t *window, void *code) */
    uintptr_t exit;      /* blocks jump here after storing the next guest EIP */
    uintptr_t lookup;    /* r8d = target EIP: through the indirect-branch cache (jcache.h) */
    uintptr_t miss;      /* ... its way out to the dispatcher, where empty slots lead */
    uintptr_t fpu_load;  /* called before an x87 instruction: the guest's FPU state loaded (fpu_live.h) */
    uintptr_t cache;     /* the code cache's first byte: -d trace prints block offsets from it,
                          * the offsets perf reports in "memfd:btvm-code" */
} tr_stubs;

#endif
