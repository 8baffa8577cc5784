/*
 * isa-debug-exit, after QEMU's device of that name (not a chip: a test
 * hook).  A write of v, of any width, to one of its ports asks the board
 * to end the machine with exit status (v << 1) | 1, so a guest can never
 * produce status 0 by accident.  Reads return all ones, as an open bus.
 *
 * Configuration: cfg->port (0 means 0xf4); opts "iobase=N,iosize=N" as
 * QEMU's -device isa-debug-exit takes them (iosize 1-4, default 1).
 */
#include "devices/debugexit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/board.h"

#define DEBUGEXIT_PORT 0xf4

typedef struct debugexit_state {
    board *b;
} debugexit_state;

static uint32_t debugexit_read(void *opaque, uint16_t port, unsigned size)
{
    (void)opaque;
    (void)port;
    return size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

static void debugexit_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    debugexit_state *s = opaque;
    (void)port;
    (void)size;
    board_request_exit(s->b, (int)((value << 1) | 1));
}

static const io_ops debugexit_ops = {
    .read = debugexit_read,
    .write = debugexit_write,
    .max_size = 4,
};

/* Value of "key=N" in a "k=v,k=v" list, or -1 if absent or malformed. */
static long opt_number(const char *opts, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = opts; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
            char *end;
            long v = strtol(p + klen + 1, &end, 0);
            if (end == p + klen + 1 || (*end && *end != ','))
                return -1;
            return v;
        }
    }
    return -1;
}

static void *debugexit_create(board *b, const device_config *cfg, char *err, size_t errlen)
{
    long base = cfg->port ? cfg->port : DEBUGEXIT_PORT;
    long size = 1;
    if (cfg->opts && strstr(cfg->opts, "iobase="))
        base = opt_number(cfg->opts, "iobase");
    if (cfg->opts && strstr(cfg->opts, "iosize="))
        size = opt_number(cfg->opts, "iosize");
    if (base < 0 || size < 1 || size > 4 || base + size > 65536) {
        snprintf(err, errlen, "isa-debug-exit: bad iobase or iosize in '%s'",
                 cfg->opts ? cfg->opts : "");
        return NULL;
    }
    for (long p = base; p < base + size; p++) {
        if (io_owner(b->io, (uint16_t)p)) {
            snprintf(err, errlen, "isa-debug-exit: port 0x%lx already in use", p);
            return NULL;
        }
    }
    debugexit_state *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "isa-debug-exit: out of memory");
        return NULL;
    }
    s->b = b;
    io_register(b->io, (uint16_t)base, (uint32_t)size, &debugexit_ops, s, "isa-debug-exit");
    return s;
}

static void debugexit_destroy(void *dev)
{
    free(dev);
}

const device_type debugexit_type = {
    .name = "isa-debug-exit",
    .description = "write v to end the machine with status (v << 1) | 1 (iobase=, iosize=)",
    .create = debugexit_create,
    .reset = NULL,
    .destroy = debugexit_destroy,
};
