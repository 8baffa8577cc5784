/* Virtual time and timers: see clock.h. */
#include "devices/clock.h"

#include <stddef.h>
#include <time.h>

static uint64_t host_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void vclock_init(vclock *clk, bool manual)
{
    clk->manual = manual;
    clk->manual_now = 0;
    clk->host_start = host_ns();
    clk->head = NULL;
    clk->earliest_hook = NULL;
    clk->earliest_opaque = NULL;
}

uint64_t vclock_now(const vclock *clk)
{
    return clk->manual ? clk->manual_now : host_ns() - clk->host_start;
}

void vtimer_init(vtimer *t, vtimer_fn fn, void *opaque)
{
    *t = (vtimer){ .deadline = VCLOCK_NEVER, .fn = fn, .opaque = opaque };
}

void vtimer_cancel(vclock *clk, vtimer *t)
{
    if (!t->armed)
        return;
    for (vtimer **pp = &clk->head; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    t->armed = false;
    t->next = NULL;
}

void vtimer_arm(vclock *clk, vtimer *t, uint64_t deadline_ns)
{
    vtimer_cancel(clk, t);
    t->deadline = deadline_ns;
    vtimer **pp = &clk->head;
    while (*pp && (*pp)->deadline <= deadline_ns)
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
    t->armed = true;
    if (clk->head == t && clk->earliest_hook) {
        uint64_t now = vclock_now(clk);
        clk->earliest_hook(clk->earliest_opaque, deadline_ns > now ? deadline_ns - now : 0);
    }
}

uint64_t vclock_next_deadline(const vclock *clk)
{
    return clk->head ? clk->head->deadline : VCLOCK_NEVER;
}

static int fire_until(vclock *clk, uint64_t now)
{
    int n = 0;
    while (clk->head && clk->head->deadline <= now) {
        vtimer *t = clk->head;
        clk->head = t->next;
        t->armed = false;
        t->next = NULL;
        /* A manual clock shows each callback its own deadline, so periodic
         * timers re-arm from exact times. */
        if (clk->manual)
            clk->manual_now = t->deadline > clk->manual_now ? t->deadline : clk->manual_now;
        t->fn(t->opaque, clk->manual ? clk->manual_now : now);
        n++;
    }
    return n;
}

int vclock_run(vclock *clk)
{
    return fire_until(clk, vclock_now(clk));
}

void vclock_advance(vclock *clk, uint64_t ns)
{
    uint64_t target = clk->manual_now + ns;
    fire_until(clk, target);
    clk->manual_now = target;
}
