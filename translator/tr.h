/*
 * The binary translator: guest basic blocks become host x86-64 code.
 *
 * Public interface of translator/.  tr_exec() runs the guest like
 * cpu_exec() — same CPU state, same exits — translating what it can and
 * handing the rest to the interpreter one instruction at a time.
 */
#ifndef BTVM_TRANSLATOR_TR_H
#define BTVM_TRANSLATOR_TR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cpu/cpu.h"
#include "mmu/shadow.h"

typedef struct tr_engine tr_engine;

typedef struct tr_stats {
    uint64_t blocks_translated;
    uint64_t block_runs;
    uint64_t insns_identical;     /* translated by copying (renamed registers, rebased memory) */
    uint64_t insns_rewritten;     /* control flow and stack operations rewritten */
    uint64_t insns_interpreted;   /* handed to the interpreter (untranslatable, or mode) */
    uint64_t handoffs_mode;       /* interpreter steps because the mode is not translated */
    uint64_t traps;               /* host faults in translated code */
    uint64_t traps_code_write;    /* ... writes to pages holding translations */
    uint64_t invalidations;       /* code pages un-marked after a write */
    uint64_t retranslations;      /* pages retranslated around an instruction that keeps trapping */
    uint64_t cache_flushes;
    uint64_t chains;              /* direct exits patched to jump to their target block */
    uint64_t kicks;               /* stop requests from the kick timer */
    uint64_t lookups;             /* indirect and cross-page branches that missed the cache */
    uint64_t pf_prefills;         /* shadow fills made when the guest came back to a faulting
                                     instruction after its #PF handler (engine.c) */
    uint64_t blocks_ended_by[2048]; /* per Zydis mnemonic: the instruction a translation stopped at */
} tr_stats;

/* NULL with a one-line reason in err (out of memory, no address space). */
tr_engine *tr_new(cpu_state *cpu, char *err, size_t errlen);
void tr_free(tr_engine *t);

/* Run at most about budget guest instructions. */
enum cpu_exit tr_exec(tr_engine *t, uint64_t budget);

/* A device timer is due in ns: have translated code stop by then (the
 * kick timer's period, 1 ms, is otherwise the latency of a deadline that
 * falls while the guest spins in chained code). */
void tr_kick_within(tr_engine *t, uint64_t ns);
/* The guest is idle (HLT): stop the kick timer until the next tr_exec. */
void tr_idle(tr_engine *t);

/* Trace mode: print each block as it is translated, guest code beside
 * host code with the reason for each translation (NULL: off). */
void tr_set_trace(tr_engine *t, FILE *out);

const tr_stats *tr_get_stats(const tr_engine *t);
const shadow_stats *tr_get_shadow_stats(const tr_engine *t);
/* Bytes of the code cache in use, and its size. */
void tr_get_code_cache_use(const tr_engine *t, size_t *used, size_t *size);
void tr_print_stats(const tr_engine *t, FILE *out);

#endif
