/* The board: see board.h.  The PC's devices are the table below. */
#include "devices/board.h"

#include <stdio.h>
#include <string.h>

#include "devices/acpi_pm.h"
#include "devices/debugexit.h"
#include "devices/i8042.h"
#include "devices/pci.h"
#include "devices/lapic.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "devices/port92.h"
#include "devices/rtc.h"
#include "devices/uart.h"
#include "devices/vga.h"

/* One row per device of the standard PC, created in this order (the
 * interrupt controller first: others take its lines). */
static const struct pc_slot {
    const char *type;
    device_config cfg;
} pc_table[] = {
    { "i8259", { .name = "pic", .port = 0x20, .irq = -1 } },
    { "lapic", { .name = "lapic", .irq = -1, .mmio = 0xfee00000u } },
    { "pci", { .name = "pci", .port = 0xcf8, .irq = -1 } },
    { "mc146818", { .name = "rtc", .port = 0x70, .irq = 8 } },
    { "i8042", { .name = "i8042", .port = 0x60, .irq = 1 } }, /* and IRQ 12 for the mouse */
    { "port92", { .name = "port92", .port = 0x92, .irq = -1 } },
    { "i8254", { .name = "pit", .port = 0x40, .irq = 0 } },
    { "isa-serial", { .name = "com1", .port = 0x3f8, .irq = 4, .index = 0 } },
    { "isa-serial", { .name = "com2", .port = 0x2f8, .irq = 3, .index = 1 } },
    /* after the PCI bus: the VGA is also PCI function 1234:1111 */
    { "vga", { .name = "vga", .port = 0x3c0, .irq = -1, .mmio = 0xa0000 } },
    { "isa-debug-exit", { .name = "debugexit", .port = 0xf4, .irq = -1 } },
    /* ACPI power off; boot/acpi.c puts these ports and SCI IRQ 9 in the FADT */
    { "acpi-pm", { .name = "acpi-pm", .port = ACPI_PM_BASE, .irq = 9 } },
    { NULL, { 0 } },
};

/* Every device type btvm knows, for -device and board_find_type(). */
static const device_type *const known_types[] = {
    &pic_type,
    &lapic_type,
    &pit_type,
    &uart_type,
    &debugexit_type,
    &rtc_type,
    &i8042_type,
    &port92_type,
    &pci_type,
    &acpi_pm_type,
    &vga_type,
    NULL,
};

void board_init(board *b, phys_mem *mem, io_space *io, vclock *clock)
{
    memset(b, 0, sizeof(*b));
    b->mem = mem;
    b->io = io;
    b->clock = clock;
}

const device_type *board_find_type(const char *name)
{
    for (size_t i = 0; known_types[i]; i++)
        if (strcmp(known_types[i]->name, name) == 0)
            return known_types[i];
    return NULL;
}

void *board_find_device(board *b, const char *name)
{
    for (int i = 0; i < b->ndevices; i++)
        if (strcmp(b->devices[i].name, name) == 0)
            return b->devices[i].state;
    return NULL;
}

int board_add(board *b, const device_type *type, const device_config *cfg, char *err,
              size_t errlen)
{
    if (b->ndevices >= BOARD_MAX_DEVICES) {
        snprintf(err, errlen, "too many devices (at most %d)", BOARD_MAX_DEVICES);
        return -1;
    }
    void *state = type->create(b, cfg, err, errlen);
    if (!state)
        return -1;
    board_device *d = &b->devices[b->ndevices++];
    d->type = type;
    d->state = state;
    snprintf(d->name, sizeof(d->name), "%s", cfg->name ? cfg->name : type->name);
    return 0;
}

int board_add_pc_devices(board *b, char *err, size_t errlen)
{
    for (size_t i = 0; pc_table[i].type; i++) {
        const device_type *t = board_find_type(pc_table[i].type);
        if (!t) {
            snprintf(err, errlen, "internal error: unknown device type %s", pc_table[i].type);
            return -1;
        }
        if (board_add(b, t, &pc_table[i].cfg, err, errlen) < 0)
            return -1;
    }
    return 0;
}

void board_reset(board *b)
{
    for (int i = 0; i < b->ndevices; i++)
        if (b->devices[i].type->reset)
            b->devices[i].type->reset(b->devices[i].state);
    b->reset_requested = false;
}

void board_destroy(board *b)
{
    for (int i = b->ndevices - 1; i >= 0; i--)
        if (b->devices[i].type->destroy)
            b->devices[i].type->destroy(b->devices[i].state);
    b->ndevices = 0;
}

static void kick(board *b)
{
    if (b->kick)
        b->kick(b->kick_opaque);
}

void board_request_exit(board *b, int status)
{
    if (!b->exit_requested) {
        b->exit_requested = true;
        b->exit_status = status;
    }
    kick(b);
}

void board_request_reset(board *b)
{
    b->reset_requested = true;
    kick(b);
}
