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

#include "frontend/machine.h"

typedef struct display display;

/* The longest the main loop may sleep while a window is open, so input
 * and redraws are not held up by an idle guest. */
#define DISPLAY_IDLE_MS 10

/* Open the SDL window for machine m (its board's "vga" and "i8042").
 * NULL with a one-line reason in err (no display to connect to, ...). */
display *display_sdl_create(machine *m, char *err, size_t errlen);

/* Handle pending window events and redraw when a refresh is due; cheap
 * when neither is.  Returns true when the user closed the window. */
bool display_poll(display *d);

void display_destroy(display *d);

#endif
