/*
 * Local APIC (Intel SDM Vol. 3A Chapter 10), the xAPIC of a P6-class CPU
 * with one processor.
 *
 * Modelled:
 *   - Registers of Table 10-1: ID, version, TPR, APR, PPR, EOI, LDR, DFR,
 *     SVR, ISR/TMR/IRR, ESR, ICR, the LVT (timer, thermal, performance,
 *     LINT0, LINT1, error), timer initial/current count and divide
 *     configuration.
 *   - Priorities (§10.8.3): PPR from TPR and the highest in-service
 *     vector; an IRR vector is delivered only when its class is above the
 *     PPR class; EOI retires the highest ISR bit (§10.8.5).
 *   - The timer (§10.5.4): one-shot and periodic, the divider, counts
 *     computed from virtual time with a LAPIC_BUS_HZ input clock.
 *   - LINT0 in ExtINT mode (virtual wire, §10.5.1): the 8259A's INTR
 *     passes to the CPU and the acknowledge goes to the 8259A.  As after a
 *     BIOS, LINT0 of the bootstrap processor starts in ExtINT mode, so a
 *     guest that never touches the APIC sees a plain PC.
 *   - Self-IPIs through the ICR (fixed delivery to self or to this APIC's
 *     own ID), which Linux uses for irq_work.
 *   - IA32_APIC_BASE bit 11: with the APIC globally disabled the 8259A
 *     drives INTR directly.
 *
 * Departures: no relocation of the register page (a new base is logged
 * once and ignored); LINT1 (NMI), thermal, performance and error
 * interrupts are never raised; INIT/SIPI/NMI IPIs are ignored (one CPU);
 * the TSC-deadline timer mode is not offered.
 */
#include "devices/lapic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/board.h"

/* Register offsets (SDM Vol. 3A Table 10-1) */
enum {
    APIC_ID = 0x20, APIC_VERSION = 0x30, APIC_TPR = 0x80, APIC_APR = 0x90, APIC_PPR = 0xa0,
    APIC_EOI = 0xb0, APIC_RRD = 0xc0, APIC_LDR = 0xd0, APIC_DFR = 0xe0, APIC_SVR = 0xf0,
    APIC_ISR = 0x100, APIC_TMR = 0x180, APIC_IRR = 0x200, APIC_ESR = 0x280,
    APIC_ICR_LO = 0x300, APIC_ICR_HI = 0x310, APIC_LVT_TIMER = 0x320, APIC_LVT_ERROR = 0x370,
    APIC_TIMER_ICR = 0x380, APIC_TIMER_CCR = 0x390, APIC_TIMER_DCR = 0x3e0,
};
enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };

#define LVT_MASKED     0x00010000u
#define LVT_PERIODIC   0x00020000u
#define LVT_DM_MASK    0x00000700u
#define LVT_DM_EXTINT  0x00000700u
#define SVR_ENABLE     0x00000100u
#define BASE_ENABLE    0x00000800u
#define BASE_BSP       0x00000100u

/* Version 0x14 (integrated APIC), max LVT entry 5 (Figure 10-7). */
#define APIC_VERSION_VALUE 0x00050014u

/* Writable bits of each LVT entry (Figure 10-8). */
static const uint32_t lvt_mask[LVT_COUNT] = {
    [LVT_TIMER] = 0x000310ffu, [LVT_THERMAL] = 0x000117ffu, [LVT_PERF] = 0x000117ffu,
    [LVT_LINT0] = 0x0001a7ffu, [LVT_LINT1] = 0x0001a7ffu, [LVT_ERROR] = 0x000100ffu,
};

struct lapic {
    board *b;
    irq_line cpu_pin;           /* the CPU's INTR pin, taken from the board */
    int (*pic_ack)(void *);     /* the 8259A's acknowledge (ExtINT source) */
    void *pic_opaque;
    bool pic_intr;              /* level of the 8259A's INTR output on LINT0 */
    bool out;                   /* level driven on the CPU's pin */
    unsigned warned;

    uint64_t base_msr;
    uint32_t id, tpr, ldr, dfr, svr, esr, icr_lo, icr_hi;
    uint32_t lvt[LVT_COUNT];
    uint32_t irr[8], isr[8], tmr[8];

    uint32_t timer_initial;
    uint32_t timer_dcr;
    uint64_t timer_start;       /* virtual ns when the current period began */
    bool timer_running;
    vtimer timer;
};

enum { WARN_RELOCATE = 1, WARN_IPI = 2 };

static void warn_once(lapic *a, unsigned what, const char *msg)
{
    if (a->warned & what)
        return;
    a->warned |= what;
    fprintf(stderr, "btvm: lapic: %s (logged once)\n", msg);
}

/* Highest vector set in a 256-bit register, or -1. */
static int highest(const uint32_t r[8])
{
    for (int i = 7; i >= 0; i--)
        if (r[i])
            return i * 32 + 31 - __builtin_clz(r[i]);
    return -1;
}

static uint32_t ppr(const lapic *a)
{
    int isrv = highest(a->isr);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
    return (a->tpr & 0xf0) >= isr_class ? a->tpr & 0xff : isr_class;
}

static bool hw_enabled(const lapic *a)
{
    return a->base_msr & BASE_ENABLE;
}

/* A vector the APIC itself would deliver now, or -1. */
static int deliverable_vector(const lapic *a)
{
    if (!hw_enabled(a) || !(a->svr & SVR_ENABLE))
        return -1;
    int v = highest(a->irr);
    if (v < 0 || ((uint32_t)v & 0xf0) <= (ppr(a) & 0xf0))
        return -1;
    return v;
}

static bool extint_passes(const lapic *a)
{
    if (!hw_enabled(a))
        return a->pic_intr;
    uint32_t l = a->lvt[LVT_LINT0];
    return a->pic_intr && !(l & LVT_MASKED) && (l & LVT_DM_MASK) == LVT_DM_EXTINT;
}

static void update(lapic *a)
{
    bool level = deliverable_vector(a) >= 0 || extint_passes(a);
    if (level != a->out) {
        a->out = level;
        irq_set(&a->cpu_pin, level);
    }
}

bool lapic_intr_asserted(const lapic *a)
{
    return a->out;
}

void lapic_accept(lapic *a, uint8_t vector, bool level)
{
    if (vector < 16) {
        a->esr |= 0x40; /* received illegal vector (§10.5.3) */
        return;
    }
    a->irr[vector / 32] |= 1u << (vector % 32);
    if (level)
        a->tmr[vector / 32] |= 1u << (vector % 32);
    else
        a->tmr[vector / 32] &= ~(1u << (vector % 32));
    update(a);
}

int lapic_intr_ack(void *opaque)
{
    lapic *a = opaque;
    int v = deliverable_vector(a);
    if (v >= 0) {
        a->irr[v / 32] &= ~(1u << (v % 32));
        a->isr[v / 32] |= 1u << (v % 32);
        update(a);
        return v;
    }
    if (extint_passes(a) && a->pic_ack) {
        int pv = a->pic_ack(a->pic_opaque);
        update(a);
        return pv;
    }
    /* The request went away between INTR and the acknowledge (§10.9). */
    update(a);
    return a->svr & 0xff;
}

/* LINT0: the 8259A's INTR output. */
static void lint0_set(void *opaque, int pin, int level)
{
    (void)pin;
    lapic *a = opaque;
    a->pic_intr = level != 0;
    update(a);
}

/* --- the timer (§10.5.4) --- */

static uint64_t timer_period_ns(const lapic *a)
{
    uint32_t d = (a->timer_dcr & 3) | ((a->timer_dcr >> 1) & 4);
    uint64_t divisor = d == 7 ? 1 : 2u << d;
    return (uint64_t)a->timer_initial * divisor * (1000000000ull / LAPIC_BUS_HZ);
}

static void timer_arm(lapic *a)
{
    vtimer_arm(a->b->clock, &a->timer, a->timer_start + timer_period_ns(a));
}

static void timer_fire(void *opaque, uint64_t now)
{
    lapic *a = opaque;
    (void)now;
    if (!a->timer_running)
        return;
    uint32_t lvt = a->lvt[LVT_TIMER];
    if (!(lvt & LVT_MASKED))
        lapic_accept(a, lvt & 0xff, false);
    if (lvt & LVT_PERIODIC) {
        a->timer_start += timer_period_ns(a);
        timer_arm(a);
    } else {
        a->timer_running = false;
    }
}

static uint32_t timer_current(const lapic *a)
{
    if (!a->timer_running)
        return 0;
    uint64_t period = timer_period_ns(a);
    uint64_t elapsed = vclock_now(a->b->clock) - a->timer_start;
    if (elapsed >= period)
        return (a->lvt[LVT_TIMER] & LVT_PERIODIC) ? a->timer_initial : 0;
    return (uint32_t)((period - elapsed) * a->timer_initial / period);
}

static void timer_start(lapic *a, uint32_t count)
{
    a->timer_initial = count;
    vtimer_cancel(a->b->clock, &a->timer);
    a->timer_running = count != 0;
    if (a->timer_running) {
        a->timer_start = vclock_now(a->b->clock);
        timer_arm(a);
    }
}

/* --- registers --- */

uint32_t lapic_read(lapic *a, uint32_t offset)
{
    offset &= 0xff0;
    if (offset >= APIC_ISR && offset < APIC_ISR + 0x80)
        return a->isr[(offset - APIC_ISR) / 16];
    if (offset >= APIC_TMR && offset < APIC_TMR + 0x80)
        return a->tmr[(offset - APIC_TMR) / 16];
    if (offset >= APIC_IRR && offset < APIC_IRR + 0x80)
        return a->irr[(offset - APIC_IRR) / 16];
    if (offset >= APIC_LVT_TIMER && offset <= APIC_LVT_ERROR)
        return a->lvt[(offset - APIC_LVT_TIMER) / 16];
    switch (offset) {
    case APIC_ID: return a->id << 24;
    case APIC_VERSION: return APIC_VERSION_VALUE;
    case APIC_TPR: return a->tpr;
    case APIC_APR: return 0;
    case APIC_PPR: return ppr(a);
    case APIC_LDR: return a->ldr;
    case APIC_DFR: return a->dfr;
    case APIC_SVR: return a->svr;
    case APIC_ESR: return a->esr;
    case APIC_ICR_LO: return a->icr_lo;
    case APIC_ICR_HI: return a->icr_hi;
    case APIC_TIMER_ICR: return a->timer_initial;
    case APIC_TIMER_CCR: return timer_current(a);
    case APIC_TIMER_DCR: return a->timer_dcr;
    default: return 0;
    }
}

static void eoi(lapic *a)
{
    int v = highest(a->isr);
    if (v >= 0)
        a->isr[v / 32] &= ~(1u << (v % 32));
    update(a);
}

/* ICR (§10.6.1): only fixed-mode interrupts to this processor matter. */
static void send_ipi(lapic *a)
{
    uint32_t mode = (a->icr_lo >> 8) & 7;
    uint32_t shorthand = (a->icr_lo >> 18) & 3;
    bool to_self = shorthand == 1 || shorthand == 2 ||
                   (shorthand == 0 && (a->icr_hi >> 24) == a->id);
    if (mode != 0) {
        warn_once(a, WARN_IPI, "only fixed-mode IPIs are delivered (one CPU)");
        return;
    }
    if (to_self)
        lapic_accept(a, a->icr_lo & 0xff, (a->icr_lo >> 15) & 1);
}

void lapic_write(lapic *a, uint32_t offset, uint32_t v)
{
    offset &= 0xff0;
    if (offset >= APIC_LVT_TIMER && offset <= APIC_LVT_ERROR) {
        int i = (offset - APIC_LVT_TIMER) / 16;
        /* While software-disabled every LVT entry stays masked (§10.4.7.2). */
        a->lvt[i] = (v & lvt_mask[i]) | ((a->svr & SVR_ENABLE) ? 0 : LVT_MASKED);
        if (i == LVT_TIMER && a->timer_running) {
            vtimer_cancel(a->b->clock, &a->timer);
            timer_arm(a);
        }
        update(a);
        return;
    }
    switch (offset) {
    case APIC_ID: a->id = v >> 24; break;
    case APIC_TPR: a->tpr = v & 0xff; update(a); break;
    case APIC_EOI: eoi(a); break;
    case APIC_LDR: a->ldr = v & 0xff000000u; break;
    case APIC_DFR: a->dfr = v | 0x0fffffffu; break;
    case APIC_SVR:
        a->svr = v & 0x3ff;
        if (!(a->svr & SVR_ENABLE))
            for (int i = 0; i < LVT_COUNT; i++)
                a->lvt[i] |= LVT_MASKED;
        update(a);
        break;
    case APIC_ESR: a->esr = 0; break; /* a write latches (and here clears) the errors */
    case APIC_ICR_HI: a->icr_hi = v & 0xff000000u; break;
    case APIC_ICR_LO: a->icr_lo = v & 0x000ccfffu; send_ipi(a); break;
    case APIC_TIMER_ICR: timer_start(a, v); break;
    case APIC_TIMER_DCR:
        a->timer_dcr = v & 0xb;
        if (a->timer_running)
            timer_start(a, a->timer_initial);
        break;
    default: break; /* read-only or reserved: ignored, as the hardware does */
    }
}

void lapic_set_base_msr(void *opaque, uint64_t value)
{
    lapic *a = opaque;
    if ((value & 0xfffff000u) != LAPIC_DEFAULT_BASE)
        warn_once(a, WARN_RELOCATE, "relocating the APIC page is not supported");
    a->base_msr = (value & ~0xfffull) | (value & BASE_ENABLE) | BASE_BSP;
    update(a);
}

static uint32_t mmio_read(void *opaque, uint32_t offset, unsigned size)
{
    uint32_t v = lapic_read(opaque, offset & ~3u);
    return size >= 4 ? v : (v >> ((offset & 3) * 8)) & ((1u << (size * 8)) - 1);
}

static void mmio_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    /* Registers are written as whole dwords (§10.4.1); narrower writes are
     * undefined on hardware and dropped here. */
    if (size == 4 && !(offset & 3))
        lapic_write(opaque, offset, value);
}

static const mmio_ops lapic_mmio = { .read = mmio_read, .write = mmio_write };

/* Power-on state (§10.4.7.1), with LINT0 in virtual-wire mode as a BIOS leaves it. */
static void lapic_reset(void *dev)
{
    lapic *a = dev;
    vtimer_cancel(a->b->clock, &a->timer);
    a->timer_running = false;
    a->timer_initial = 0;
    a->timer_dcr = 0;
    a->base_msr = LAPIC_DEFAULT_BASE | BASE_ENABLE | BASE_BSP;
    a->id = 0;
    a->tpr = a->ldr = a->esr = a->icr_lo = a->icr_hi = 0;
    a->dfr = 0xffffffffu;
    a->svr = 0xff;
    memset(a->irr, 0, sizeof(a->irr));
    memset(a->isr, 0, sizeof(a->isr));
    memset(a->tmr, 0, sizeof(a->tmr));
    for (int i = 0; i < LVT_COUNT; i++)
        a->lvt[i] = LVT_MASKED;
    a->lvt[LVT_LINT0] = LVT_DM_EXTINT;
    update(a);
}

static void *lapic_create(board *b, const device_config *cfg, char *err, size_t errlen)
{
    (void)cfg;
    if (!b->intr_ack) {
        snprintf(err, errlen, "lapic: needs the 8259A created first");
        return NULL;
    }
    lapic *a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(err, errlen, "lapic: out of memory");
        return NULL;
    }
    a->b = b;
    if (phys_add_mmio(b->mem, LAPIC_DEFAULT_BASE, 0x1000, &lapic_mmio, a, "lapic") < 0) {
        snprintf(err, errlen, "lapic: 0x%08x is already in use", LAPIC_DEFAULT_BASE);
        free(a);
        return NULL;
    }
    vtimer_init(&a->timer, timer_fire, a);
    /* Step between the 8259A and the CPU. */
    a->cpu_pin = b->cpu_intr;
    a->pic_ack = b->intr_ack;
    a->pic_opaque = b->intr_ack_opaque;
    b->cpu_intr = (irq_line){ .handler = lint0_set, .opaque = a, .pin = 0 };
    b->intr_ack = lapic_intr_ack;
    b->intr_ack_opaque = a;
    lapic_reset(a);
    return a;
}

static void lapic_destroy(void *dev)
{
    lapic *a = dev;
    vtimer_cancel(a->b->clock, &a->timer);
    free(a);
}

const device_type lapic_type = {
    .name = "lapic",
    .description = "local APIC of the vCPU at 0xfee00000, timer and virtual-wire LINT0",
    .create = lapic_create,
    .reset = lapic_reset,
    .destroy = lapic_destroy,
};
