/*
 * The guest's I/O port space (64 KiB of 8-bit ports).
 *
 * Devices register port ranges with an owner name and the widest access
 * they handle; wider guest accesses are split into consecutive narrower
 * ones, as on the ISA bus.  Unclaimed ports read as all ones and ignore
 * writes (an open bus), as on a PC.
 */
#ifndef BTVM_MMU_IOPORT_H
#define BTVM_MMU_IOPORT_H

#include <stdint.h>

typedef struct io_ops {
    /* size is 1, 2 or 4 and never more than max_size */
    uint32_t (*read)(void *opaque, uint16_t port, unsigned size);
    void (*write)(void *opaque, uint16_t port, uint32_t value, unsigned size);
    unsigned max_size; /* 0 means 1 */
} io_ops;

#define IO_MAX_HANDLERS 255

typedef struct io_handler {
    const io_ops *ops;
    void *opaque;
    const char *name;
    uint16_t base;
    uint32_t count;
} io_handler;

typedef struct io_space {
    uint8_t map[65536]; /* handler index + 1, 0 = unclaimed */
    io_handler handlers[IO_MAX_HANDLERS];
    int nhandlers;
    uint64_t unclaimed_accesses; /* statistic; first one per port is logged */
} io_space;

void io_space_init(io_space *io);

/* Returns 0, or -1 if the range overlaps a claimed one or the table is full. */
int io_register(io_space *io, uint16_t base, uint32_t count, const io_ops *ops,
                void *opaque, const char *name);

uint32_t io_read(io_space *io, uint16_t port, unsigned size);
void io_write(io_space *io, uint16_t port, uint32_t value, unsigned size);

/* Owner name of a port, or NULL: for the monitor and traces. */
const char *io_owner(const io_space *io, uint16_t port);

#endif
