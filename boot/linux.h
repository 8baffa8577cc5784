/*
 * The Linux x86 boot protocol (Documentation/arch/x86/boot.rst, protocol
 * 2.15): bzImage kernels entered through the 32-bit boot protocol, with
 * an initrd and a command line.
 */
#ifndef BTVM_BOOT_LINUX_H
#define BTVM_BOOT_LINUX_H

#include <stdbool.h>

#include "boot/boot.h"

/* Whether the file at path looks like a Linux kernel with a real-mode
 * setup header: 0xAA55 at 0x1FE and "HdrS" at 0x202 (boot.rst, "The real-
 * mode kernel header").  False when it cannot be read. */
bool linux_is_bzimage(const char *path);

/* Load p->kernel (a bzImage), p->initrd and p->cmdline, build the zero
 * page and set the CPU to the 32-bit boot protocol's entry state.  0, or
 * -1 with a one-line reason in err. */
int linux_load(cpu_state *cpu, phys_mem *mem, const boot_params *p, char *err, size_t errlen);

#endif
