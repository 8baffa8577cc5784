/* The command line: see options.h. */
#include "frontend/options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifndef BTVM_VERSION
#define BTVM_VERSION "unknown"
#endif

void options_usage(FILE *out)
{
    fprintf(out,
            "usage: btvm [options]\n"
            "  -kernel FILE     boot a Linux bzImage or a Multiboot v1 ELF kernel\n"
            "  -append STRING   kernel command line\n"
            "  -initrd FILE     initial ramdisk (Linux initrd, or Multiboot module)\n"
            "  -bios FILE       start a ROM image from the reset vector\n"
            "  -m SIZE          guest RAM, in MiB or with a K/M/G suffix (default 256M)\n"
            "  -nographic       serial console on the terminal (the default display)\n"
            "  -display sdl     a window showing the VGA screen; keys and mouse go to the\n"
            "                   guest (click grabs the mouse, Ctrl-Alt-G releases it;\n"
            "                   Ctrl-Alt-S shows live statistics); COM1 stays on the terminal\n"
            "  -display none    no window (the default)\n"
            "  -screendump FILE write the VGA screen to FILE as PNG at exit and on SIGUSR1\n"
            "  -accel ENGINE    bt: the binary translator (default; 32-bit protected-mode code\n"
            "                   runs translated, the rest on the interpreter);\n"
            "                   interp: the reference interpreter alone\n"
            "  -no-reboot       exit when the guest resets (status 0; a triple fault: 2)\n"
            "  -stats           print execution statistics on stderr at exit\n"
            "  -d trace         print each translated block, guest code beside host code\n"
            "                   with the reason for each rewrite (on stderr; -accel bt)\n"
            "  -D FILE          write the -d output to FILE instead of stderr\n"
            "  --help           this text\n"
            "  --version        version\n"
            "Exit status: the guest's debug-exit value v gives (v<<1)|1; 0 on a normal end;\n"
            "1 for an error; 2 when the guest stops (triple fault with -no-reboot, HLT with IF=0).\n");
}

/* Sizes as QEMU's -m: a plain number is MiB; K, M, G suffixes. */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-')
        return -1;
    uint64_t mul = 1ull << 20;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': mul = 1ull << 10; break;
        case 'm': case 'M': mul = 1ull << 20; break;
        case 'g': case 'G': mul = 1ull << 30; break;
        default: return -1;
        }
        if (end[1] && !(end[1] == 'B' && !end[2]) && !(end[1] == 'i' && end[2] == 'B' && !end[3]))
            return -1;
    }
    if (v > (1ull << 40) / mul)
        return -1;
    *out = v * mul;
    return 0;
}

enum options_result options_parse(int argc, char **argv, machine_config *cfg, char *err,
                                  size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->ram_size = 256ull << 20;
    cfg->accel = ACCEL_BT;
    cfg->nographic = true;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        /* Accept QEMU's single dash and the GNU double dash alike. */
        const char *name = a[0] == '-' && a[1] == '-' ? a + 1 : a;
        if (!strcmp(name, "-help") || !strcmp(name, "-h")) {
            options_usage(stdout);
            return OPTIONS_EXIT_OK;
        }
        if (!strcmp(name, "-version")) {
            printf("btvm %s\n", BTVM_VERSION);
            return OPTIONS_EXIT_OK;
        }
        if (!strcmp(name, "-nographic")) {
            cfg->nographic = true;
            cfg->display_sdl = false; /* as QEMU: no window */
            continue;
        }
        if (!strcmp(name, "-no-reboot")) {
            cfg->no_reboot = true;
            continue;
        }
        if (!strcmp(name, "-stats")) {
            cfg->stats = true;
            continue;
        }
        static const char *const with_arg[] = { "-kernel", "-append", "-initrd", "-bios", "-m",
                                                "-accel", "-display", "-d", "-D", "-screendump",
                                                NULL };
        int k = -1;
        for (int j = 0; with_arg[j]; j++)
            if (!strcmp(name, with_arg[j]))
                k = j;
        if (k < 0) {
            snprintf(err, errlen, "unknown option '%s' (try --help)", a);
            return OPTIONS_ERROR;
        }
        if (i + 1 >= argc) {
            snprintf(err, errlen, "option '%s' needs an argument", a);
            return OPTIONS_ERROR;
        }
        const char *v = argv[++i];
        switch (k) {
        case 0: cfg->boot.kernel = v; break;
        case 1: cfg->boot.cmdline = v; break;
        case 2: cfg->boot.initrd = v; break;
        case 3: cfg->boot.bios = v; break;
        case 4:
            if (parse_size(v, &cfg->ram_size) < 0) {
                snprintf(err, errlen, "invalid RAM size '%s'", v);
                return OPTIONS_ERROR;
            }
            if (cfg->ram_size < PHYS_RAM_MIN || cfg->ram_size > PHYS_RAM_MAX ||
                (cfg->ram_size & 0xfff)) {
                snprintf(err, errlen, "RAM size '%s' out of range (1 MiB to 3584 MiB, whole pages)", v);
                return OPTIONS_ERROR;
            }
            break;
        case 5:
            cfg->accel_explicit = true;
            if (strcmp(v, "interp") == 0) {
                cfg->accel = ACCEL_INTERP;
            } else if (strcmp(v, "bt") == 0) {
                cfg->accel = ACCEL_BT;
            } else {
                snprintf(err, errlen, "unknown accelerator '%s' (available: interp, bt)", v);
                return OPTIONS_ERROR;
            }
            break;
        case 6:
            if (strcmp(v, "sdl") == 0) {
                cfg->display_sdl = true;
            } else if (strcmp(v, "none") == 0) {
                cfg->display_sdl = false;
            } else {
                snprintf(err, errlen, "unknown display '%s' (available: sdl, none)", v);
                return OPTIONS_ERROR;
            }
            break;
        case 7:
            if (strcmp(v, "trace") != 0) {
                snprintf(err, errlen, "unknown -d item '%s' (available: trace)", v);
                return OPTIONS_ERROR;
            }
            cfg->trace = true;
            break;
        case 8: cfg->trace_file = v; break;
        case 9:
            if (!*v) {
                snprintf(err, errlen, "-screendump needs a file name");
                return OPTIONS_ERROR;
            }
            cfg->screendump = v;
            break;
        }
    }
    if (!cfg->boot.kernel && !cfg->boot.bios) {
        snprintf(err, errlen, "nothing to boot: give -kernel FILE or -bios FILE (try --help)");
        return OPTIONS_ERROR;
    }
    if (cfg->boot.initrd && !cfg->boot.kernel) {
        snprintf(err, errlen, "-initrd needs -kernel");
        return OPTIONS_ERROR;
    }
    return OPTIONS_RUN;
}
