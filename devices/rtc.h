/*
 * Motorola MC146818A real-time clock and CMOS RAM at 0x70/0x71, ISA
 * IRQ 8.  See rtc.c.
 *
 * Configuration: cfg->port (0 means 0x70), cfg->irq (8), opts
 * "base=utc" (default: the RTC holds UTC, as Linux expects) or
 * "base=localtime" (the host's local time, as DOS and Windows expect).
 * The NVRAM's memory-size bytes come from board->mem->ram_size.
 */
#ifndef BTVM_DEVICES_RTC_H
#define BTVM_DEVICES_RTC_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"

typedef struct rtc_state rtc_state;

extern const device_type rtc_type;

/* Bit 7 of the last index written to port 0x70: NMIs are masked. */
bool rtc_nmi_masked(const rtc_state *s);

/* A raw NVRAM byte (0x0E-0x7F), for the monitor and firmware code. */
uint8_t rtc_nvram_read(const rtc_state *s, uint8_t index);

#endif
