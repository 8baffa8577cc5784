/*
 * The indirect-branch cache (translator-internal).
 *
 * Returns, indirect jumps and calls, and direct branches that leave
 * their guest page find their target block without leaving translated
 * code: a table indexed by the low 16 bits of the target EIP holds the
 * target's negated EIP and its host code.  Translated code compares and
 * jumps with flag-free instructions only (lea, jrcxz), because the guest's
 * arithmetic flags live in the host flags at a branch.  An empty slot
 * holds EIP 0 and the miss stub, which leaves to the dispatcher; the
 * dispatcher inserts every block it enters.
 *
 * An entry is a translation of linear address to code, so it is only as
 * good as the mapping and the code behind it: the engine keeps one table
 * for CPL 3 and one for CPL 0-2 (fetch rights differ), and flushes them
 * when the guest's page tables or its code change (engine.c).
 */
#ifndef BTVM_TRANSLATOR_JCACHE_H
#define BTVM_TRANSLATOR_JCACHE_H

#include <stdbool.h>
#include <stdint.h>

#define JCACHE_BITS 16
#define JCACHE_SLOTS (1u << JCACHE_BITS)
#define JCACHE_LOG_MAX JCACHE_SLOTS /* every slot in use is remembered: flushes cost what is used */

/* The layout translated code reads (engine.c's lookup stub). */
typedef struct jcache_slot {
    uint32_t neg_eip;    /* -eip (mod 2^32): eip + neg_eip == 0 on a hit */
    uint32_t unused;
    uintptr_t code;      /* host code of the block at eip */
} jcache_slot;

typedef struct tr_jcache {
    jcache_slot *slots;          /* JCACHE_SLOTS */
    uintptr_t miss;              /* the miss stub: what empty slots hold */
    uint16_t *log;               /* slots filled since the last flush */
    unsigned nlog;               /* > JCACHE_LOG_MAX: flush everything */
    uint16_t *local_log;         /* slots filled with non-global entries since the last CR3 write */
    unsigned nlocal;             /* > JCACHE_LOG_MAX: a CR3 write flushes everything */
    uint8_t *page_has;           /* per linear page: JCACHE_PAGE_* (some slot's eip is there) */
    uint8_t seg_allowed;         /* the TR_USES_* needs its blocks may have now */
    uint8_t seg_used;            /* the TR_USES_* needs of its blocks (since the last flush) */
    uint64_t inserts, flushes;
} tr_jcache;

/* page_has values: no entry, entries from global mappings only, others. */
enum { JCACHE_PAGE_NONE, JCACHE_PAGE_LOCAL, JCACHE_PAGE_GLOBAL };

/* 0, or -1 when out of memory. */
int jcache_init(tr_jcache *j, uintptr_t miss);
void jcache_destroy(tr_jcache *j);
/* global: eip's page is mapped global (CR4.PGE), so a CR3 write keeps it. */
void jcache_insert(tr_jcache *j, uint32_t eip, uintptr_t code, bool global);
void jcache_flush(tr_jcache *j);
/* A CR3 write: global TLB entries survive it (SDM Vol. 3A §4.10.4.1), and
 * so do the entries whose page is mapped global — for Linux, the
 * kernel's returns and indirect calls across a context switch. */
void jcache_flush_nonglobal(tr_jcache *j);
/* INVLPG of the page holding lin: flush if an entry lives there. */
void jcache_flush_page(tr_jcache *j, uint32_t lin);

#endif
