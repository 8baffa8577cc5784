/*
 * Instructions that keep trapping (translator-internal): adaptive
 * retranslation.
 *
 * Translated code that faults into the interpreter for a reason that will
 * come again — an access to MMIO or ROM, a division by zero — pays a host
 * signal every time.  The engine counts such traps per instruction
 * (guest physical address); at TR_HOT_THRESHOLD the instruction's page is
 * retranslated and the translator ends blocks before it, so the
 * dispatcher hands it to the interpreter without a fault.
 */
#ifndef BTVM_TRANSLATOR_HOT_H
#define BTVM_TRANSLATOR_HOT_H

#include <stdbool.h>
#include <stdint.h>

#define TR_HOT_THRESHOLD 8
#define TR_HOT_SLOTS 4096   /* a power of two; when full, new instructions are not counted */

typedef struct tr_hot {
    uint32_t key[TR_HOT_SLOTS];    /* paddr + 1, 0 = empty */
    uint16_t count[TR_HOT_SLOTS];
    unsigned used;
} tr_hot;

/* One more trap at paddr: returns the count so far (saturating). */
unsigned tr_hot_trapped(tr_hot *h, uint32_t paddr);
/* Should the translator leave the instruction at paddr to the interpreter? */
bool tr_hot_is_hot(const tr_hot *h, uint32_t paddr);

#endif
