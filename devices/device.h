/*
 * The device interface.
 *
 * A device is a C struct of state plus a device_type: a table of
 * callbacks the board calls.  create() allocates the state, registers
 * the device's port ranges and MMIO regions on the board's address
 * spaces, takes its IRQ lines and arms its timers; reset() puts the chip
 * in its power-on state; destroy() frees it.  Adding a device to the PC
 * touches its own file and one line of the board table (board.c).
 */
#ifndef BTVM_DEVICES_DEVICE_H
#define BTVM_DEVICES_DEVICE_H

#include <stddef.h>
#include <stdint.h>

typedef struct board board;

typedef struct device_config {
    const char *name;  /* instance name, e.g. "com1" */
    uint16_t port;     /* base I/O port */
    int irq;           /* ISA IRQ number, or -1 */
    uint32_t mmio;     /* base physical address, if the device has MMIO */
    int index;         /* instance number among devices of this type */
    const char *opts;  /* "key=value,..." from -device, or NULL */
} device_config;

typedef struct device_type {
    const char *name;
    const char *description;
    /* Returns the device state, or NULL after writing a one-line reason to err. */
    void *(*create)(board *b, const device_config *cfg, char *err, size_t errlen);
    void (*reset)(void *dev);
    void (*destroy)(void *dev);
} device_type;

#endif
