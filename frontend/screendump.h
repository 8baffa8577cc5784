/*
 * Screendumps: the VGA screen as a PNG file (libpng).  See screendump.c.
 */
#ifndef BTVM_FRONTEND_SCREENDUMP_H
#define BTVM_FRONTEND_SCREENDUMP_H

#include <stddef.h>
#include <stdint.h>

#include "devices/vga.h"

/* Write width x height pixels of 0xAARRGGBB, rows top down, as an RGB
 * PNG.  0, or -1 with a one-line reason in err. */
int screendump_write_png(const char *path, const uint32_t *pixels, int width, int height,
                         char *err, size_t errlen);

/* Draw the adapter's screen as it is now and write it to path. */
int screendump_vga(vga_state *vga, const char *path, char *err, size_t errlen);

/* Read an RGB or RGBA 8-bit PNG back into 0xAARRGGBB pixels (malloc'd):
 * for tests.  0, or -1 with a reason. */
int screendump_read_png(const char *path, uint32_t **pixels, int *width, int *height, char *err,
                        size_t errlen);

#endif
