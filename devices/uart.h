/*
 * A 16550A UART on the ISA bus (the PC's COM ports).  See uart.c.
 *
 * Configuration: cfg->port (base of 8 ports), cfg->irq (ISA IRQ),
 * cfg->index (which board->serial[] back end carries its bytes).
 */
#ifndef BTVM_DEVICES_UART_H
#define BTVM_DEVICES_UART_H

#include "devices/device.h"

typedef struct uart_state uart_state;

extern const device_type uart_type;

#endif
