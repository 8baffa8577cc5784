/* Firmware loader: see bios.h. */
#include "boot/bios.h"

#include <stdio.h>

int bios_load(cpu_state *cpu, phys_mem *mem, const char *path, char *err, size_t errlen)
{
    (void)cpu; (void)mem;
    snprintf(err, errlen, "%s: ROM loading is not built yet", path);
    return -1;
}
