/* The machine and its main loop: see machine.h. */
#include "frontend/machine.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpu/interp.h"
#include "devices/lapic.h"
#include "frontend/display.h"
#include "frontend/screendump.h"
#include "mmu/shadow.h"
#include "translator/tr.h"

/* Instructions per slice: at ~10 M instructions/s a slice is well under a
 * millisecond, so timers fire late by less than the PIT's 1 ms tick. */
#define SLICE_INSNS 4096

/* SIGINT/SIGTERM end the run cleanly (terminal restored, statistics
 * printed): the handler only records the signal; the main loop acts. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

/* SIGUSR1 with -screendump: write the screen now (in the main loop). */
static volatile sig_atomic_t dump_signal;

static void on_dump_signal(int sig)
{
    (void)sig;
    dump_signal = 1;
}

/* -screendump FILE must be writable before the guest runs, not at exit. */
static int check_writable(const char *path, char *err, size_t errlen)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir ? 1 : 0] = 0;
    else
        snprintf(dir, sizeof(dir), ".");
    if (access(path, F_OK) == 0 ? access(path, W_OK) < 0 : access(dir, W_OK) < 0) {
        snprintf(err, errlen, "cannot write screendump '%s': %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void wire_intr(void *opaque, int pin, int level)
{
    (void)pin;
    cpu_set_intr(opaque, level != 0);
}

static void kick_cpu(void *opaque)
{
    ((cpu_state *)opaque)->exit_request = 1;
}

static void kick_translator(void *opaque, uint64_t ns_left)
{
    tr_kick_within(opaque, ns_left);
}

static void enter_monitor(void *opaque)
{
    monitor_enter(opaque);
}

static void monitor_byte(void *opaque, unsigned char ch)
{
    monitor_input(opaque, ch);
}

int machine_create(machine *m, const machine_config *cfg, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    m->cfg = *cfg;
    if (phys_init(&m->mem, cfg->ram_size) < 0) {
        snprintf(err, errlen, "cannot allocate %llu MiB of guest RAM: %s",
                 (unsigned long long)(cfg->ram_size >> 20), strerror(errno));
        return -1;
    }
    io_space_init(&m->io);
    vclock_init(&m->clock, false);
    board_init(&m->board, &m->mem, &m->io, &m->clock);
    if (cpu_init(&m->cpu, &m->mem, &m->io) < 0) {
        snprintf(err, errlen, "out of memory");
        phys_destroy(&m->mem);
        return -1;
    }
    m->cpu.exit_on_triple_fault = cfg->no_reboot;

    console_open(&m->con);
    monitor_init(&m->mon, m);
    m->con.monitor_enter = enter_monitor;
    m->con.monitor_input = monitor_byte;
    m->con.monitor_opaque = &m->mon;
    m->board.serial[0] = &m->con.cd;
    m->board.cpu_intr = (irq_line){ wire_intr, &m->cpu, 0 };
    m->board.kick = kick_cpu;
    m->board.kick_opaque = &m->cpu;
    if (board_add_pc_devices(&m->board, err, errlen) < 0)
        goto fail;
    m->cpu.intr_ack = m->board.intr_ack;
    m->cpu.intr_ack_opaque = m->board.intr_ack_opaque;
    void *apic = board_find_device(&m->board, "lapic");
    if (apic) {
        m->cpu.apic_write_base = lapic_set_base_msr;
        m->cpu.apic_opaque = apic;
    }
    if (boot_load(&m->cpu, &m->mem, &cfg->boot, err, errlen) < 0)
        goto fail;
    /* The translator's window maps RAM around the ROM and MMIO regions the
     * board and loaders registered: create it last. */
    if (cfg->accel == ACCEL_BT && !(m->tr = tr_new(&m->cpu, err, errlen))) {
        if (cfg->accel_explicit)
            goto fail;
        /* The default engine needs address space for its windows (a tight
         * ulimit -v refuses it): the interpreter runs any guest too. */
        fprintf(stderr, "btvm: %s; running on the interpreter\n", err);
    }
    if (m->tr) {
        /* A device timer armed from translated code's callouts (a PIT
         * one-shot, say) must not wait for the next periodic kick. */
        m->clock.earliest_hook = kick_translator;
        m->clock.earliest_opaque = m->tr;
    }
    if (cfg->trace && !m->tr)
        fprintf(stderr, "btvm: -d trace traces the binary translator; the interpreter runs untraced\n");
    if (cfg->trace && m->tr) {
        m->trace = cfg->trace_file ? fopen(cfg->trace_file, "w") : stderr;
        if (!m->trace) {
            snprintf(err, errlen, "cannot open trace file '%s'", cfg->trace_file);
            goto fail;
        }
        tr_set_trace(m->tr, m->trace);
    }
    if (cfg->screendump) {
        if (check_writable(cfg->screendump, err, errlen) < 0)
            goto fail;
        /* From here on, so a SIGUSR1 sent early never kills btvm. */
        struct sigaction su = { .sa_handler = on_dump_signal };
        sigemptyset(&su.sa_mask);
        sigaction(SIGUSR1, &su, NULL);
    }
    if (cfg->display_sdl && !(m->disp = display_sdl_create(m, err, errlen)))
        goto fail;
    return 0;
fail:
    machine_destroy(m);
    return -1;
}

void machine_destroy(machine *m)
{
    display_destroy(m->disp);
    m->disp = NULL;
    tr_free(m->tr);
    m->tr = NULL;
    if (m->trace && m->trace != stderr)
        fclose(m->trace);
    m->trace = NULL;
    board_destroy(&m->board);
    console_close(&m->con);
    cpu_destroy(&m->cpu);
    phys_destroy(&m->mem);
}

static int reboot(machine *m)
{
    char err[200];
    board_reset(&m->board);
    cpu_reset(&m->cpu);
    phys_set_a20(&m->mem, true);
    if (boot_load(&m->cpu, &m->mem, &m->cfg.boot, err, sizeof(err)) < 0) {
        fprintf(stderr, "btvm: reset: %s\n", err);
        return -1;
    }
    return 0;
}

/* Sleep until the next timer deadline or console input. */
static void wait_for_event(machine *m)
{
    uint64_t deadline = vclock_next_deadline(&m->clock);
    uint64_t now = vclock_now(&m->clock);
    int timeout_ms = -1;
    if (deadline != VCLOCK_NEVER)
        timeout_ms = deadline <= now ? 0 : (int)((deadline - now + 999999) / 1000000);
    /* A window's input and redraws must not wait for the guest's timers. */
    if (m->disp && (timeout_ms < 0 || timeout_ms > DISPLAY_IDLE_MS))
        timeout_ms = DISPLAY_IDLE_MS;
    struct pollfd pfd = { .fd = console_fd(&m->con), .events = POLLIN };
    poll(&pfd, pfd.fd >= 0 ? 1 : 0, timeout_ms);
}

void machine_print_stats(machine *m, FILE *out)
{
    const cpu_stats *st = &m->cpu.stats;
    double secs = (vclock_now(&m->clock) - m->start_ns) / 1e9;
    fprintf(out, "btvm statistics (engine: %s)\n", m->tr ? "bt" : "interp");
    fprintf(out, "  run time            %.3f s\n", secs);
    fprintf(out, "  guest instructions  %llu\n", (unsigned long long)st->instructions);
    fprintf(out, "  instructions/s      %.0f\n", secs > 0 ? st->instructions / secs : 0.0);
    fprintf(out, "  exceptions          %llu\n", (unsigned long long)st->exceptions);
    fprintf(out, "  interrupts          %llu\n", (unsigned long long)st->interrupts);
    fprintf(out, "  tlb misses          %llu\n", (unsigned long long)st->tlb_misses);
    fprintf(out, "  tlb flushes         %llu\n", (unsigned long long)st->tlb_flushes);
    fprintf(out, "  unclaimed port I/O  %llu\n", (unsigned long long)m->io.unclaimed_accesses);
    if (m->tr)
        tr_print_stats(m->tr, out);
}

void machine_get_stats(machine *m, machine_stats *st)
{
    memset(st, 0, sizeof(*st));
    const cpu_stats *c = &m->cpu.stats;
    st->time_ns = vclock_now(&m->clock) - m->start_ns;
    st->bt = m->tr != NULL;
    st->instructions = c->instructions;
    st->insns_interpreted = c->instructions;
    st->exceptions = c->exceptions;
    st->interrupts = c->interrupts;
    st->tlb_misses = c->tlb_misses;
    st->tlb_flushes = c->tlb_flushes;
    st->unclaimed_io = m->io.unclaimed_accesses;
    if (!m->tr)
        return;
    const tr_stats *t = tr_get_stats(m->tr);
    st->insns_interpreted = t->insns_interpreted;
    st->handoffs_mode = t->handoffs_mode;
    st->blocks_translated = t->blocks_translated;
    st->block_runs = t->block_runs;
    st->chains = t->chains;
    st->kicks = t->kicks;
    st->traps = t->traps;
    st->traps_code_write = t->traps_code_write;
    st->invalidations = t->invalidations;
    st->cache_flushes = t->cache_flushes;
    {
        const shadow_stats *ss = tr_get_shadow_stats(m->tr);
        st->have_shadow = true;
        st->shadow_fills = ss->fills;
        st->shadow_fill_pages = ss->fill_pages;
        st->shadow_wipes = ss->wipes;
        st->shadow_cr3_flushes = ss->cr3_flushes;
        st->shadow_emulated = ss->emulated;
    }
    {
        size_t used, size;
        tr_get_code_cache_use(m->tr, &used, &size);
        st->have_code_cache = true;
        st->code_cache_used = used;
        st->code_cache_size = size;
    }
}

int machine_screendump(machine *m, const char *path, char *err, size_t errlen)
{
    vga_state *vga = board_find_device(&m->board, "vga");
    if (!vga) {
        snprintf(err, errlen, "screendump: the board has no VGA");
        return -1;
    }
    return screendump_vga(vga, path, err, errlen);
}

static int run_until_exit(machine *m)
{
    cpu_state *cpu = &m->cpu;
    m->start_ns = vclock_now(&m->clock);
    struct sigaction sa = { .sa_handler = on_stop_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    for (;;) {
        enum cpu_exit why = m->tr ? tr_exec(m->tr, SLICE_INSNS) : cpu_exec(cpu, SLICE_INSNS);
        vclock_run(&m->clock);
        console_poll(&m->con);
        if (m->disp && display_poll(m->disp, why == CPU_EXIT_HALT && !cpu->intr)) {
            fprintf(stderr, "\r\nbtvm: window closed\n");
            return 0;
        }
        if (dump_signal) {
            char err[256];
            dump_signal = 0;
            if (machine_screendump(m, m->cfg.screendump, err, sizeof(err)) < 0)
                fprintf(stderr, "\r\nbtvm: %s\n", err);
        }

        if (m->board.exit_requested)
            return m->board.exit_status;
        if (stop_signal) {
            fprintf(stderr, "\r\nbtvm: terminated by signal %d\n", (int)stop_signal);
            return 128 + stop_signal;
        }
        if (m->mon.quit) {
            fprintf(stderr, "\r\nbtvm: quit from the monitor\n");
            return 0;
        }
        if (m->con.quit) {
            fprintf(stderr, "\r\nbtvm: terminated by Ctrl-A X\n");
            return 0;
        }
        if (m->board.reset_requested) {
            if (m->cfg.no_reboot)
                return 0; /* as QEMU's -no-reboot: a guest reboot ends the run */
            if (reboot(m) < 0)
                return 1;
        }

        if (why == CPU_EXIT_SHUTDOWN) {
            if (cpu->exit_on_triple_fault) {
                fprintf(stderr, "btvm: %s\n", cpu->diag);
                return EXIT_GUEST_STOPPED;
            }
            if (reboot(m) < 0)
                return 1;
        } else if (why == CPU_EXIT_HALT) {
            bool can_wake = (cpu->eflags & FL_IF) || cpu->nmi_pending;
            if (!can_wake) {
                fprintf(stderr, "btvm: guest halted with interrupts disabled at %04x:%08x\n",
                        cpu->seg[S_CS].selector, cpu->eip);
                return EXIT_GUEST_STOPPED;
            }
            if (!cpu->intr) {
                if (m->tr)
                    tr_idle(m->tr);
                wait_for_event(m);
            }
        }
    }
}

int machine_run(machine *m)
{
    int status = run_until_exit(m);
    console_flush(&m->con); /* the guest's last words before anything btvm prints */
    return status;
}
