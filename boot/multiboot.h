/*
 * Multiboot v1 (the GNU Multiboot Specification 0.6.96): ELF kernels
 * with a Multiboot header in their first 8 KiB.
 */
#ifndef BTVM_BOOT_MULTIBOOT_H
#define BTVM_BOOT_MULTIBOOT_H

#include "boot/boot.h"

/* Load p->kernel (with p->cmdline, p->initrd as module) and set the CPU
 * to the Multiboot entry state.  0, or -1 with a reason in err. */
int multiboot_load(cpu_state *cpu, phys_mem *mem, const boot_params *p, char *err, size_t errlen);

#endif
