/*
 * Loading guests: kernels and firmware into guest memory, and the CPU
 * state each boot protocol promises at entry.
 */
#ifndef BTVM_BOOT_BOOT_H
#define BTVM_BOOT_BOOT_H

#include <stddef.h>

#include "cpu/cpu.h"
#include "mmu/phys.h"

typedef struct boot_params {
    const char *kernel;   /* -kernel: Linux bzImage or Multiboot v1 ELF */
    const char *initrd;   /* -initrd: Linux initrd or the Multiboot module */
    const char *cmdline;  /* -append */
    const char *bios;     /* -bios: ROM image started from the reset vector */
} boot_params;

/*
 * Load what p names and set the CPU up to run it.  Returns 0, or -1
 * with a one-line reason in err (missing file, not a Multiboot kernel,
 * segments outside RAM, ...).
 */
int boot_load(cpu_state *cpu, phys_mem *mem, const boot_params *p, char *err, size_t errlen);

#endif
