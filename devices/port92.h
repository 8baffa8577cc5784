/*
 * System control port A at 0x92 (the PS/2 "fast A20 and reset" port, as
 * the PIIX/ICH south bridges implement it).  See port92.c.
 */
#ifndef BTVM_DEVICES_PORT92_H
#define BTVM_DEVICES_PORT92_H

#include "devices/device.h"

extern const device_type port92_type;

#endif
