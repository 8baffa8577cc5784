/*
 * The machine: CPU, board and front end put together, and the main loop.
 *
 * The loop runs the CPU in slices, fires expired timers between slices,
 * polls the console, and sleeps through HLT until the next timer
 * deadline or console input (DESIGN.md "Time and the main loop").
 */
#ifndef BTVM_FRONTEND_MACHINE_H
#define BTVM_FRONTEND_MACHINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "boot/boot.h"
#include "cpu/cpu.h"
#include "devices/board.h"
#include "frontend/console.h"

enum accel { ACCEL_INTERP, ACCEL_BT };

typedef struct machine_config {
    uint64_t ram_size;
    boot_params boot;
    enum accel accel;
    bool accel_explicit;  /* -accel given: no fallback to the interpreter */
    bool no_reboot;     /* triple fault: exit with a diagnostic instead of reset */
    bool nographic;
    bool stats;         /* print execution statistics on stderr at exit */
    bool trace;         /* -d trace: print each translated block (translator/trace.c) */
    const char *trace_file; /* -D FILE: the trace goes there instead of stderr */
} machine_config;

typedef struct machine {
    machine_config cfg;
    phys_mem mem;
    io_space io;
    vclock clock;
    board board;
    cpu_state cpu;
    console con;
    struct tr_engine *tr;   /* the binary translator, with -accel bt */
    FILE *trace;            /* -d trace output (closed at destroy unless stderr) */
    uint64_t start_ns;
} machine;

/* 0, or -1 with a one-line reason in err. */
int machine_create(machine *m, const machine_config *cfg, char *err, size_t errlen);
/* Run until the guest ends; returns btvm's exit status. */
int machine_run(machine *m);
/* Execution statistics, one "name value" per line. */
void machine_print_stats(machine *m, FILE *out);
void machine_destroy(machine *m);

/* Exit statuses besides the guest's own (debug-exit gives (v<<1)|1). */
#define EXIT_GUEST_STOPPED 2 /* triple fault under -no-reboot, or HLT with interrupts off */

#endif
