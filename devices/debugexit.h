/*
 * QEMU's isa-debug-exit: a write of v to its port ends the machine with
 * host exit status (v << 1) | 1.  Guest tests report through it.
 */
#ifndef BTVM_DEVICES_DEBUGEXIT_H
#define BTVM_DEVICES_DEBUGEXIT_H

#include "devices/device.h"

extern const device_type debugexit_type;

#endif
