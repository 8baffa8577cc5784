/*
 * The PC's 8254 programmable interval timer at 0x40-0x43 (channel 0 on
 * ISA IRQ 0, channel 2 behind port 0x61) and system control port B at
 * 0x61.  See pit.c for what is modelled.
 */
#ifndef BTVM_DEVICES_PIT_H
#define BTVM_DEVICES_PIT_H

#include <stdbool.h>

#include "devices/device.h"

#define PIT_HZ 1193182u

typedef struct pit_state pit_state;

extern const device_type pit_type;

/* Level of a channel's OUT pin now (0 or 1), -1 for a bad channel. */
int pit_get_out(const pit_state *s, int channel);

#endif
