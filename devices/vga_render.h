/*
 * Drawing the VGA: the adapter's state (devices/vga.h) becomes a buffer
 * of 32-bit pixels, 0xAARRGGBB (SDL's ARGB8888, PNG after a byte swap).
 * See vga_render.c.
 *
 * A vga_frame remembers what it drew, so a render redraws only what
 * changed: in text modes the cells whose character, attribute, cursor or
 * blink phase differ; in graphics modes the lines over video memory
 * pages written since the last render.  No window system here: the
 * front end puts the pixels on screen.
 */
#ifndef BTVM_DEVICES_VGA_RENDER_H
#define BTVM_DEVICES_VGA_RENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/vga.h"

enum vga_mode_kind {
    VGA_MODE_BLANK,   /* screen off, or timings that make no picture */
    VGA_MODE_TEXT,    /* alphanumeric: cells of cw x ch pixels */
    VGA_MODE_PLANAR,  /* 16 colours, four planes (modes 0Dh-12h) */
    VGA_MODE_256,     /* 256 colours, chain-4 (13h) or unchained */
    VGA_MODE_DISPI,   /* Bochs VBE linear modes */
};

/* What the registers say the screen is. */
typedef struct vga_mode {
    enum vga_mode_kind kind;
    int width, height;     /* pixels */
    int cols, rows;        /* text: cells */
    int cw, ch;            /* text: cell size */
    int line_div;          /* graphics: each memory line shown this many times */
    int bpp;               /* DISPI */
    uint32_t start;        /* text: cell; planar: plane offset; 256/DISPI: vram index */
    uint32_t stride;       /* per row (text) or memory line, in the same units */
} vga_mode;

void vga_get_mode(const vga_state *s, vga_mode *m);

typedef struct vga_frame {
    uint32_t *pixels;      /* width * height, rows top down, no padding */
    int width, height;
    /* What was drawn last (the render's memory). */
    vga_mode mode;
    uint32_t palette_gen, font_gen;
    uint32_t *cells;       /* text: per cell, its character, attribute and phases */
    bool valid;
} vga_frame;

void vga_frame_init(vga_frame *f);
void vga_frame_free(vga_frame *f);

/*
 * Draw s into f at host time now_ns (blinking).  The rows that changed
 * are y0 <= y < y1 (y0 == y1: none).  full redraws everything and
 * leaves the adapter's dirty pages for the incremental renderer (used by
 * screendumps); otherwise the dirty pages are consumed.  Returns 0, or
 * -1 when out of memory.
 */
int vga_render(vga_state *s, vga_frame *f, uint64_t now_ns, bool full, int *y0, int *y1);

/* The character and attribute of text cell (row, col) on screen now,
 * from the start address: for tests and screendump checks. */
uint16_t vga_text_cell(const vga_state *s, const vga_mode *m, int row, int col);

#endif
