/*
 * Intel 8042 keyboard controller at 0x60/0x64 with a PS/2 keyboard on
 * ISA IRQ 1 and a PS/2 mouse on the auxiliary port, ISA IRQ 12.  See
 * i8042.c.
 *
 * Configuration: cfg->port (0 means 0x60), cfg->irq (1, the keyboard's);
 * the mouse always uses IRQ 12.  Machine reset through the controller
 * (command 0xFE, output port bit 0) calls board_request_reset; the A20
 * gate (output port bit 1) calls phys_set_a20.
 */
#ifndef BTVM_DEVICES_I8042_H
#define BTVM_DEVICES_I8042_H

#include <stddef.h>
#include <stdint.h>

#include "devices/device.h"

typedef struct i8042_state i8042_state;

extern const device_type i8042_type;

#define I8042_AUX_IRQ 12

/* Mouse buttons, as in the first byte of a PS/2 packet. */
#define I8042_BTN_LEFT   0x01
#define I8042_BTN_RIGHT  0x02
#define I8042_BTN_MIDDLE 0x04

/*
 * A key went down or up: the bytes a keyboard sends for it in scan code
 * set 2 (e.g. {0x1c} for A down, {0xf0, 0x1c} for A up, {0xe0, 0x75} for
 * Up).  The controller translates them to set 1 when its command byte
 * asks.  Dropped while the keyboard is disabled (command 0xF5).
 */
void i8042_key_event(i8042_state *s, const uint8_t *set2, size_t n);

/*
 * The mouse moved by dx, dy counts (dy > 0 is away from the user, "up",
 * as PS/2 reports it) with these buttons held.  Sent as a 3-byte packet
 * when the mouse is in stream mode with reporting enabled.
 */
void i8042_mouse_event(i8042_state *s, int dx, int dy, unsigned buttons);

#endif
