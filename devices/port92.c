/*
 * System control port A (port 0x92), as in the Intel PIIX3 datasheet
 * (290550), "Port 92h" (PS/2 fast A20 and fast reset):
 *   bit 0  ALT_RST   a 0->1 transition resets the CPU (board_request_reset)
 *   bit 1  ALT_A20   1 = A20 gate open (phys_set_a20)
 *   bit 3  password security lock: read/write, no effect here
 *   bits 7-6 (activity LEDs on PS/2 machines): read/write, no effect
 *
 * Reads return the last value written, except bit 1, which shows the
 * A20 gate as phys_mem has it (the 8042's output port drives the same
 * gate).  Departure: on a PIIX the two A20 sources are ORed; here each
 * write of either one sets the gate, so the last writer wins (guests
 * use one or the other).  Reset: all bits 0 and A20 left to the board.
 */
#include "devices/port92.h"

#include <stdio.h>
#include <stdlib.h>

#include "devices/board.h"

#define PORT92          0x92
#define PORT92_ALT_RST  0x01
#define PORT92_ALT_A20  0x02

typedef struct port92_state {
    board *b;
    uint8_t value;
} port92_state;

static uint32_t port92_read(void *opaque, uint16_t port, unsigned size)
{
    port92_state *s = opaque;
    (void)port;
    (void)size;
    uint8_t v = s->value & ~PORT92_ALT_A20;
    bool a20 = s->b->mem ? s->b->mem->a20_mask == ~0u : (s->value & PORT92_ALT_A20);
    return v | (a20 ? PORT92_ALT_A20 : 0);
}

static void port92_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    port92_state *s = opaque;
    uint8_t v = (uint8_t)value;
    (void)port;
    (void)size;
    bool rst_edge = (v & PORT92_ALT_RST) && !(s->value & PORT92_ALT_RST);
    s->value = v;
    if (s->b->mem)
        phys_set_a20(s->b->mem, v & PORT92_ALT_A20);
    if (rst_edge)
        board_request_reset(s->b);
}

static const io_ops port92_ops = {
    .read = port92_read,
    .write = port92_write,
    .max_size = 1,
};

static void port92_reset(void *dev)
{
    port92_state *s = dev;
    s->value = 0;
}

static void *port92_create(board *b, const device_config *cfg, char *err, size_t errlen)
{
    uint16_t port = cfg->port ? cfg->port : PORT92;
    if (io_owner(b->io, port)) {
        snprintf(err, errlen, "port92: port 0x%x already in use", port);
        return NULL;
    }
    port92_state *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "port92: out of memory");
        return NULL;
    }
    s->b = b;
    io_register(b->io, port, 1, &port92_ops, s, "port92");
    port92_reset(s);
    return s;
}

static void port92_destroy(void *dev)
{
    free(dev);
}

const device_type port92_type = {
    .name = "port92",
    .description = "system control port A at 0x92 (fast A20 gate, fast reset)",
    .create = port92_create,
    .reset = port92_reset,
    .destroy = port92_destroy,
};
