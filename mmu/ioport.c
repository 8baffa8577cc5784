/* The guest's I/O port space: see ioport.h. */
#include "mmu/ioport.h"

#include <string.h>

void io_space_init(io_space *io)
{
    memset(io, 0, sizeof(*io));
}

int io_register(io_space *io, uint16_t base, uint32_t count, const io_ops *ops,
                void *opaque, const char *name)
{
    if (count == 0 || base + count > 65536 || io->nhandlers >= IO_MAX_HANDLERS)
        return -1;
    for (uint32_t p = base; p < base + count; p++)
        if (io->map[p])
            return -1;
    io_handler *h = &io->handlers[io->nhandlers++];
    *h = (io_handler){ .ops = ops, .opaque = opaque, .name = name, .base = base, .count = count };
    memset(&io->map[base], io->nhandlers, count);
    return 0;
}

static uint32_t all_ones(unsigned size)
{
    return size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

static unsigned handler_width(const io_handler *h)
{
    return h->ops->max_size ? h->ops->max_size : 1;
}

uint32_t io_read(io_space *io, uint16_t port, unsigned size)
{
    uint8_t idx = io->map[port];
    if (!idx) {
        io->unclaimed_accesses++;
        return all_ones(size);
    }
    const io_handler *h = &io->handlers[idx - 1];
    if (size <= handler_width(h) || !h->ops->read)
        return h->ops->read ? h->ops->read(h->opaque, port, size) : all_ones(size);
    /* Split into the device's width, lowest port first, little endian. */
    unsigned w = handler_width(h);
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i += w)
        v |= io_read(io, (uint16_t)(port + i), w) << (i * 8);
    return v;
}

void io_write(io_space *io, uint16_t port, uint32_t value, unsigned size)
{
    uint8_t idx = io->map[port];
    if (!idx) {
        io->unclaimed_accesses++;
        return;
    }
    const io_handler *h = &io->handlers[idx - 1];
    if (!h->ops->write)
        return;
    if (size <= handler_width(h)) {
        h->ops->write(h->opaque, port, value, size);
        return;
    }
    unsigned w = handler_width(h);
    for (unsigned i = 0; i < size; i += w)
        io_write(io, (uint16_t)(port + i), value >> (i * 8), w);
}

const char *io_owner(const io_space *io, uint16_t port)
{
    uint8_t idx = io->map[port];
    return idx ? io->handlers[idx - 1].name : NULL;
}
