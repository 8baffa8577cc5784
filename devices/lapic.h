/*
 * The local APIC of the one vCPU (Intel SDM Vol. 3A Chapter 10), at
 * 0xFEE00000.  It sits between the interrupt sources and the CPU's INTR
 * pin: create() takes over board->cpu_intr and board->intr_ack, and the
 * 8259A's output becomes its LINT0 input (virtual wire mode, ExtINT).
 */
#ifndef BTVM_DEVICES_LAPIC_H
#define BTVM_DEVICES_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"

typedef struct lapic lapic;

extern const device_type lapic_type;

#define LAPIC_DEFAULT_BASE 0xfee00000u
#define LAPIC_BUS_HZ 100000000ull /* the timer's input clock before the divider */

/* Interrupt acknowledge for the CPU (opaque: lapic). */
int lapic_intr_ack(void *opaque);

/* The IA32_APIC_BASE MSR: the CPU forwards writes here.  Bit 11 (global
 * enable) clear turns the APIC off: the PIC then drives INTR directly. */
void lapic_set_base_msr(void *opaque, uint64_t value);

/* Accept a fixed-mode interrupt (a self-IPI, later the I/O APIC). */
void lapic_accept(lapic *a, uint8_t vector, bool level);

/* For tests and the monitor. */
bool lapic_intr_asserted(const lapic *a);
uint32_t lapic_read(lapic *a, uint32_t offset);
void lapic_write(lapic *a, uint32_t offset, uint32_t value);

#endif
