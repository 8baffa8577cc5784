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
#include "frontend/monitor.h"

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
    bool display_sdl;   /* -display sdl: a window (frontend/display.h) */
    const char *screendump; /* -screendump FILE: PNG of the screen at exit and on SIGUSR1 */
} machine_config;

struct display;

typedef struct machine {
    machine_config cfg;
    phys_mem mem;
    io_space io;
    vclock clock;
    board board;
    cpu_state cpu;
    console con;
    monitor mon;            /* Ctrl-A C on the terminal */
    struct tr_engine *tr;   /* the binary translator, with -accel bt */
    FILE *trace;            /* -d trace output (closed at destroy unless stderr) */
    struct display *disp;   /* the window, with -display sdl */
    uint64_t start_ns;
} machine;

/* 0, or -1 with a one-line reason in err. */
int machine_create(machine *m, const machine_config *cfg, char *err, size_t errlen);
/* Run until the guest ends; returns btvm's exit status. */
int machine_run(machine *m);
/* Execution statistics, one "name value" per line. */
void machine_print_stats(machine *m, FILE *out);

/* The same counters as numbers (cumulative since the run started), for
 * the display's statistics overlay: take two snapshots for rates. */
typedef struct machine_stats {
    uint64_t time_ns;            /* host time since the run started */
    bool bt;                     /* the binary translator runs (else the interpreter alone) */
    uint64_t instructions;       /* guest instructions, every engine */
    uint64_t insns_interpreted;  /* of which run by the interpreter (all of them without bt) */
    uint64_t handoffs_mode;      /* ... because the mode is not translated */
    uint64_t blocks_translated, block_runs, chains, kicks;
    uint64_t traps, traps_code_write, invalidations, cache_flushes;
    uint64_t exceptions, interrupts, tlb_misses, tlb_flushes, unclaimed_io;
    bool have_shadow;            /* the translator exports its shadow-paging counters */
    uint64_t shadow_fills, shadow_fill_pages, shadow_wipes, shadow_cr3_flushes, shadow_emulated;
    bool have_code_cache;        /* the translator exports its code-cache use */
    uint64_t code_cache_used, code_cache_size;
} machine_stats;
void machine_get_stats(machine *m, machine_stats *st);

/* Write the VGA screen as a PNG (frontend/screendump.h).  0, or -1 with
 * a one-line reason in err. */
int machine_screendump(machine *m, const char *path, char *err, size_t errlen);
void machine_destroy(machine *m);

/* Exit statuses besides the guest's own (debug-exit gives (v<<1)|1). */
#define EXIT_GUEST_STOPPED 2 /* triple fault under -no-reboot, or HLT with interrupts off */

#endif
