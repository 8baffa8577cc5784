/*
 * The 8x16 text font: 256 glyphs in code page 437 order, 16 rows of 8
 * pixels each (bit 7 is the leftmost pixel), as a VGA BIOS loads it into
 * plane 2 for the 80x25 text modes.
 *
 * Generated at build time by devices/vgafont/gen-vga-font.c from
 * console-setup's Uni2-VGA16 console font (public domain as a console
 * font; its BDF source is Dmitry Bolkhovityanov's u_vga16, MIT-style
 * licence: see /usr/share/doc/console-setup-linux/copyright.fonts.gz),
 * each code page 437 character looked up through the font's Unicode
 * table.  No font is stored in the repository.
 */
#ifndef BTVM_DEVICES_VGA_FONT_H
#define BTVM_DEVICES_VGA_FONT_H

#include <stdint.h>

extern const uint8_t vga_font8x16[256][16];

#endif
