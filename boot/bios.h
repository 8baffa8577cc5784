/*
 * Firmware: a ROM image mapped below 4 GiB with its last 128 KiB aliased
 * at 0xE0000-0xFFFFF, entered at the reset vector F000:FFF0.
 */
#ifndef BTVM_BOOT_BIOS_H
#define BTVM_BOOT_BIOS_H

#include "boot/boot.h"

int bios_load(cpu_state *cpu, phys_mem *mem, const char *path, char *err, size_t errlen);

#endif
