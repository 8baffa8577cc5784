/* Multiboot v1 loader: see multiboot.h. */
#include "boot/multiboot.h"

#include <stdio.h>

int multiboot_load(cpu_state *cpu, phys_mem *mem, const boot_params *p, char *err, size_t errlen)
{
    (void)cpu; (void)mem;
    snprintf(err, errlen, "%s: Multiboot loading is not built yet", p->kernel);
    return -1;
}
