/* Loading guests: see boot.h.  Chooses the loader for what was given. */
#include "boot/boot.h"

#include <stdio.h>

#include "boot/bios.h"
#include "boot/linux.h"
#include "boot/multiboot.h"

int boot_load(cpu_state *cpu, phys_mem *mem, const boot_params *p, char *err, size_t errlen)
{
    if (p->bios && bios_load(cpu, mem, p->bios, err, errlen) < 0)
        return -1;
    if (!p->kernel)
        return 0;
    /* A bzImage carries the real-mode boot sector signature and "HdrS";
     * a Multiboot kernel (ELF or a.out kludge) never does at those
     * offsets. */
    if (linux_is_bzimage(p->kernel))
        return linux_load(cpu, mem, p, err, errlen);
    return multiboot_load(cpu, mem, p, err, errlen);
}
