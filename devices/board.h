/*
 * The board: the devices of a PC and the wires between them.
 *
 * The board owns the guest's physical memory and port spaces, the
 * virtual clock, and the ISA interrupt lines.  It knows nothing of the
 * CPU: the machine (frontend/machine.c) wires cpu_intr and the
 * interrupt-acknowledge callback to the CPU, keeping devices/ free of
 * cpu/ headers.
 */
#ifndef BTVM_DEVICES_BOARD_H
#define BTVM_DEVICES_BOARD_H

#include <stdbool.h>

#include "devices/chardev.h"
#include "devices/clock.h"
#include "devices/device.h"
#include "mmu/ioport.h"
#include "mmu/irq.h"
#include "mmu/phys.h"

#define BOARD_MAX_DEVICES 32
#define BOARD_MAX_SERIAL 4

typedef struct board_device {
    const device_type *type;
    void *state;
    char name[24];
} board_device;

struct board {
    phys_mem *mem;
    io_space *io;
    vclock *clock;

    /* Inputs of the interrupt controller; the PIC fills these in. */
    irq_line isa_irq[16];
    /* The CPU's INTR pin; the machine fills this in. */
    irq_line cpu_intr;
    /* Interrupt acknowledge: returns the vector; the PIC provides it. */
    int (*intr_ack)(void *opaque);
    void *intr_ack_opaque;

    chardev *serial[BOARD_MAX_SERIAL];

    /* Machine-level requests from devices (debug exit, reset through the
     * keyboard controller or port 0x92); the main loop acts on them. */
    bool exit_requested;
    int exit_status;
    bool reset_requested;
    void (*kick)(void *opaque); /* makes the CPU leave its loop soon */
    void *kick_opaque;

    board_device devices[BOARD_MAX_DEVICES];
    int ndevices;
};

void board_init(board *b, phys_mem *mem, io_space *io, vclock *clock);

/* Create a device and add it; 0, or -1 with a one-line reason in err. */
int board_add(board *b, const device_type *type, const device_config *cfg, char *err,
              size_t errlen);
/* The PC's standard devices, from the table in board.c. */
int board_add_pc_devices(board *b, char *err, size_t errlen);
const device_type *board_find_type(const char *name);
void *board_find_device(board *b, const char *name);

void board_reset(board *b);
void board_destroy(board *b);

/* For devices: end the machine with this host exit status. */
void board_request_exit(board *b, int status);
void board_request_reset(board *b);

#endif
