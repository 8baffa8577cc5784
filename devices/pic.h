/*
 * The PC's pair of 8259A interrupt controllers (master at 0x20, slave at
 * 0xA0 cascaded on IR2) and the PIIX edge/level control registers at
 * 0x4D0/0x4D1.  See pic.c for what is modelled.
 *
 * create() fills the board's isa_irq[0..15] with lines into the pair and
 * sets board->intr_ack; the pair drives board->cpu_intr.
 */
#ifndef BTVM_DEVICES_PIC_H
#define BTVM_DEVICES_PIC_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"

typedef struct pic_pair pic_pair;

extern const device_type pic_type;

/* True while the master's INT output (the CPU's INTR pin) is asserted. */
bool pic_intr_asserted(const pic_pair *p);

/* Interrupt acknowledge (the two INTA cycles): returns the vector and moves
 * the request from IRR to ISR.  With nothing pending it returns the
 * spurious vector of IR7 (or IR15 through the cascade).  opaque: pic_pair. */
int pic_intr_ack(void *opaque);

/* Registers for the monitor and tests: bits 0-7 master, 8-15 slave. */
uint16_t pic_get_irr(const pic_pair *p);
uint16_t pic_get_isr(const pic_pair *p);
uint16_t pic_get_imr(const pic_pair *p);

#endif
