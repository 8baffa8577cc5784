/*
 * Virtual time and timers: deadline-driven, in nanoseconds.
 *
 * Devices arm timers with absolute deadlines; the main loop runs the CPU
 * until the earliest deadline and then fires what expired.  A clock in
 * manual mode does not follow the host: tests step it with
 * vclock_advance(), so device tests are exact and never sleep.
 */
#ifndef BTVM_DEVICES_CLOCK_H
#define BTVM_DEVICES_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define VCLOCK_NEVER UINT64_MAX

typedef struct vtimer vtimer;
typedef void (*vtimer_fn)(void *opaque, uint64_t now_ns);

struct vtimer {
    uint64_t deadline;
    vtimer_fn fn;
    void *opaque;
    bool armed;
    vtimer *next; /* in the clock's list, sorted by deadline */
};

typedef struct vclock {
    bool manual;
    uint64_t manual_now;
    uint64_t host_start;
    vtimer *head;
    /* Told when a timer armed while the CPU runs becomes the earliest, with
     * the time left until it: the main loop's CPU slice must end by then
     * (the translator arms its kick timer).  NULL: nobody to tell. */
    void (*earliest_hook)(void *opaque, uint64_t ns_left);
    void *earliest_opaque;
} vclock;

void vclock_init(vclock *clk, bool manual);
uint64_t vclock_now(const vclock *clk);

void vtimer_init(vtimer *t, vtimer_fn fn, void *opaque);
void vtimer_arm(vclock *clk, vtimer *t, uint64_t deadline_ns);
void vtimer_cancel(vclock *clk, vtimer *t);

/* Earliest armed deadline, or VCLOCK_NEVER. */
uint64_t vclock_next_deadline(const vclock *clk);
/* Fire every timer whose deadline is <= now; returns how many fired. */
int vclock_run(vclock *clk);
/* Manual mode only: move time forward, firing timers on the way in order. */
void vclock_advance(vclock *clk, uint64_t ns);

#endif
