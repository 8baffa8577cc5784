/*
 * The display: a window onto the guest's VGA, with its keyboard and
 * mouse.  The main loop (machine.c) calls display_poll() between CPU
 * slices and caps its idle sleep at DISPLAY_IDLE_MS while a display is
 * open; headless runs have no display and pay nothing.  The only kind
 * is SDL2 (display_sdl.c).
 */
#ifndef BTVM_FRONTEND_DISPLAY_H
#define BTVM_FRONTEND_DISPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frontend/machine.h"

typedef struct display display;

/* The longest the main loop may sleep while a window is open, so input
 * and redraws are not held up by an idle guest. */
#define DISPLAY_IDLE_MS 10

/* Open the SDL window for machine m (its board's "vga" and "i8042").
 * NULL with a one-line reason in err (no display to connect to, ...). */
display *display_sdl_create(machine *m, char *err, size_t errlen);

/* Handle pending window events and redraw when a refresh is due; cheap
 * when neither is.  guest_idle: the CPU just halted with nothing pending
 * (input is paced by it).  Returns true when the user closed the window. */
bool display_poll(display *d, bool guest_idle);

void display_destroy(display *d);

/* The PS/2 scan code set 2 bytes a keyboard sends when the key at SDL
 * scancode (a USB HID usage) goes down or up; 0 bytes for keys a PC
 * keyboard does not have.  For the window, and for tests. */
size_t display_ps2_set2(int scancode, bool down, uint8_t out[8]);

/* btvm's own keys, Ctrl-Alt-G (release the mouse) and Ctrl-Alt-S (the
 * statistics overlay): which one a key going down at SDL scancode is,
 * given the modifiers held with it (SDL_Keymod bits, as the key event
 * carries them).  For the window, and for tests. */
enum display_hot_key { DISPLAY_HOT_NONE, DISPLAY_HOT_GRAB, DISPLAY_HOT_OVERLAY };
enum display_hot_key display_hot_key_of(int scancode, unsigned mod);

#endif
