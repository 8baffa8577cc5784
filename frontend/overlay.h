/*
 * The teaching overlay: live monitor statistics drawn over the guest's
 * screen with the VGA font.  See overlay.c.
 */
#ifndef BTVM_FRONTEND_OVERLAY_H
#define BTVM_FRONTEND_OVERLAY_H

#include <stdint.h>

#include "frontend/machine.h"

#define OVERLAY_COLS  44
#define OVERLAY_LINES 18

typedef struct overlay_text {
    char line[OVERLAY_LINES][OVERLAY_COLS + 1];
    int nlines;
} overlay_text;

/* The statistics as text: rates over the interval between two snapshots
 * (prev may equal cur: rates then read 0), totals from cur. */
void overlay_format(const machine_stats *prev, const machine_stats *cur, overlay_text *out);

/* Panel size in pixels for the text. */
void overlay_size(const overlay_text *t, int *width, int *height);
/* Draw the panel (translucent black, light text) into an 0xAARRGGBB
 * buffer of at least overlay_size() pixels, pitch in pixels. */
void overlay_draw(const overlay_text *t, uint32_t *pixels, int pitch);

#endif
