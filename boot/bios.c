/*
 * Firmware loader: see bios.h.
 *
 * A PC's firmware sits in a flash chip decoded just below 4 GiB; the
 * chipset also decodes its last 128 KiB at 0xe0000-0xfffff (the legacy
 * BIOS area, reachable from real mode).  The CPU leaves RESET at
 * CS.selector 0xf000, CS.base 0xffff0000, EIP 0xfff0 (SDM Vol. 3A §9.1.4),
 * i.e. at physical 0xfffffff0: the ROM's last 16 bytes.  The CPU state is
 * left as cpu_reset() made it.
 *
 * Any image size from 1 byte to 16 MiB is accepted; one that is not a
 * whole number of 4 KiB pages is padded with 0xff (erased flash) at the
 * front, so that its last byte is always at 0xffffffff.
 */
#include "boot/bios.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ROM_MAX         (16u << 20)
#define LEGACY_MAX      (128u << 10)
#define LEGACY_END      0x100000u

/* The regions are already in place (a reboot loads the boot images again). */
static bool already_mapped(const phys_mem *mem, uint32_t base, uint32_t size)
{
    const phys_region *r = phys_find_region(mem, base);
    return r && r->kind == PHYS_ROM && r->base == base && r->size == size && r->name &&
           strcmp(r->name, "bios") == 0;
}

int bios_load(cpu_state *cpu, phys_mem *mem, const char *path, char *err, size_t errlen)
{
    (void)cpu; /* the reset state is the entry state */
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open ROM image: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: ROM image is not a regular file", path);
        fclose(f);
        return -1;
    }
    if (st.st_size == 0) {
        snprintf(err, errlen, "%s: ROM image is empty", path);
        fclose(f);
        return -1;
    }
    if ((uint64_t)st.st_size > ROM_MAX) {
        snprintf(err, errlen, "%s: ROM image is too large (%llu bytes, at most 16 MiB)", path,
                 (unsigned long long)st.st_size);
        fclose(f);
        return -1;
    }
    uint32_t size = (uint32_t)st.st_size;
    uint32_t padded = (size + 0xfff) & ~0xfffu;
    uint32_t base = (uint32_t)((1ull << 32) - padded);
    uint32_t legacy = padded < LEGACY_MAX ? padded : LEGACY_MAX;
    uint32_t legacy_base = LEGACY_END - legacy;

    if (already_mapped(mem, base, padded) && already_mapped(mem, legacy_base, legacy)) {
        fclose(f);
        return 0;
    }

    uint8_t *img = malloc(padded);
    if (!img) {
        snprintf(err, errlen, "%s: out of memory for a %u-byte ROM image", path, size);
        fclose(f);
        return -1;
    }
    memset(img, 0xff, padded - size);
    if (fread(img + (padded - size), 1, size, f) != size) {
        snprintf(err, errlen, "%s: cannot read ROM image: %s", path,
                 ferror(f) ? strerror(errno) : "file shrank while reading");
        free(img);
        fclose(f);
        return -1;
    }
    fclose(f);

    if (phys_add_rom(mem, base, img, padded, "bios") < 0) {
        snprintf(err, errlen, "%s: cannot map the ROM at 0x%08x-0xffffffff (overlaps another "
                 "region)", path, base);
        free(img);
        return -1;
    }
    if (phys_add_rom(mem, legacy_base, img + (padded - legacy), legacy, "bios") < 0) {
        snprintf(err, errlen, "%s: cannot map the ROM's last %u KiB at 0x%05x (overlaps another "
                 "region)", path, legacy >> 10, legacy_base);
        free(img);
        return -1;
    }
    free(img);
    return 0;
}
