/* Loading guests: see boot.h.  Chooses the loader for what was given. */
#include "boot/boot.h"

#include <stdio.h>

#include "boot/bios.h"
#include "boot/multiboot.h"

int boot_load(cpu_state *cpu, phys_mem *mem, const boot_params *p, char *err, size_t errlen)
{
    if (p->bios && bios_load(cpu, mem, p->bios, err, errlen) < 0)
        return -1;
    if (p->kernel)
        return multiboot_load(cpu, mem, p, err, errlen);
    return 0;
}
