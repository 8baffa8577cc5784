/*
 * Intel 8254 programmable interval timer at 0x40-0x43, and the PC/AT's
 * system control port B at 0x61 (channel 2's gate and output, the
 * speaker enable, the refresh toggle).
 *
 * Modelled, by section of the 8254 datasheet (Intel 231164):
 *   - "Control Word Format": SC, RW (LSB, MSB, LSB then MSB), M2-M0
 *     (modes 6 and 7 alias 2 and 3), BCD.
 *   - "Operational Description": modes 0 (interrupt on terminal count),
 *     1 (hardware retriggerable one-shot), 2 (rate generator), 3 (square
 *     wave), 4 (software strobe), 5 (hardware strobe), with the gate
 *     rules of the "Gate Pin Operations Summary" table.
 *   - "Counter Latch Command" and "Read-Back Command" (count and status,
 *     with the status byte's OUT and NULL COUNT bits).
 *   - Mode 0's "writing the first byte disables counting".
 *
 * The counters are not ticked: each channel remembers the virtual time
 * its count started and computes CE and OUT from vclock_now() at a 1.193182
 * MHz input clock.  Channel 0 arms one vtimer for the next rising edge of
 * OUT0 and drives ISA IRQ 0 to OUT0's level; at a rising edge the line is
 * dropped and raised again, so OUT's brief low phases (one clock in mode
 * 2, the low half in mode 3) are not separate timer events.
 *
 * Departures: a new count is loaded at once (the chip loads it on the next
 * CLK, and in modes 2 and 3 only at the end of the current period); mode
 * 3 with an odd count reads back approximate CE values (OUT is exact); a
 * new count in modes 1 and 5 applies to the running one-shot.  Port 0x61's
 * refresh bit (4) flips on every read rather than every 15 us, which is
 * what delay loops that wait for it to change need.  Channel 1 (DRAM
 * refresh) counts but drives nothing.
 */
#include "devices/pit.h"

#include <stdio.h>
#include <stdlib.h>

#include "devices/board.h"

#define PIT_PORT    0x40
#define PORT_B      0x61
#define NS_PER_SEC  1000000000ull

/* Port B (0x61) bits */
#define PORTB_GATE2   0x01
#define PORTB_SPKR    0x02 /* speaker data enable: stored, no sound */
#define PORTB_WRITABLE 0x0f
#define PORTB_REFRESH 0x10
#define PORTB_OUT2    0x20

/* Control word */
#define CW_SC(v)  ((v) >> 6)
#define CW_RW(v)  (((v) >> 4) & 3)
#define CW_M(v)   (((v) >> 1) & 7)
#define CW_BCD    0x01
#define RB_COUNT  0x20 /* read-back: 0 = latch count */
#define RB_STATUS 0x10 /* read-back: 0 = latch status */

typedef struct pit_channel {
    uint8_t mode;       /* 0-5 */
    uint8_t mode_bits;  /* M2-M0 as written, for the status byte */
    uint8_t rw;         /* 1 LSB, 2 MSB, 3 LSB then MSB */
    bool bcd;
    uint16_t cr;        /* count register as written (BCD if bcd) */
    uint32_t n;         /* initial count in binary; 0 means the modulus */
    bool loaded;        /* a count is in CE */
    bool triggered;     /* modes 1 and 5: the gate has triggered */
    bool hold;          /* mode 0: first byte of a new count written */
    bool gate;
    bool null_count;
    uint64_t start_ns;  /* when counting last (re)started */
    uint64_t carried;   /* clocks counted before the gate last fell */
    bool write_msb;     /* RW = 3: the next write is the MSB */
    bool read_msb;      /* RW = 3: the next read is the MSB */
    bool count_latched;
    uint16_t ol;        /* output latch */
    bool status_latched;
    uint8_t status;
} pit_channel;

struct pit_state {
    pit_channel ch[3];
    board *b;
    int irq;            /* ISA IRQ of OUT0, or -1 */
    int irq_level;      /* level last driven on it */
    vtimer timer;       /* next rising edge of OUT0 */
    uint8_t port_b;     /* bits 0-3 of port 0x61 as written */
    bool refresh;
};

static uint64_t ns_to_ticks(uint64_t ns)
{
    return (uint64_t)((unsigned __int128)ns * PIT_HZ / NS_PER_SEC);
}

static uint64_t ticks_to_ns_ceil(uint64_t ticks)
{
    return (uint64_t)(((unsigned __int128)ticks * NS_PER_SEC + PIT_HZ - 1) / PIT_HZ);
}

static uint32_t modulus(const pit_channel *c)
{
    return c->bcd ? 10000 : 65536;
}

static uint16_t to_bcd(uint32_t v)
{
    return (uint16_t)((v % 10) | (v / 10 % 10) << 4 | (v / 100 % 10) << 8 | (v / 1000 % 10) << 12);
}

/* Digits above 9 are taken at face value, as the counter would count. */
static uint32_t from_bcd(uint16_t v)
{
    return (v & 15) + ((v >> 4) & 15) * 10 + ((v >> 8) & 15) * 100 + (v >> 12) * 1000u;
}

/* Does CE count?  Modes 0, 2, 3, 4 stop while the gate is low; modes 1
 * and 5 count once triggered, whatever the gate does afterwards. */
static bool running(const pit_channel *c)
{
    if (!c->loaded || c->hold)
        return false;
    if (c->mode == 1 || c->mode == 5)
        return c->triggered;
    return c->gate;
}

/* Clocks counted since the count was loaded (or the last reload). */
static uint64_t elapsed(const pit_channel *c, uint64_t now)
{
    uint64_t t = c->carried;
    if (running(c) && now > c->start_ns)
        t += ns_to_ticks(now - c->start_ns);
    return t;
}

static bool started(const pit_channel *c)
{
    if (!c->loaded)
        return false;
    return (c->mode == 1 || c->mode == 5) ? c->triggered : true;
}

/* CE, in binary. */
static uint32_t channel_count(const pit_channel *c, uint64_t now)
{
    uint32_t m = modulus(c), n = c->n ? c->n : m;
    if (!started(c))
        return n % m;
    uint64_t t = elapsed(c, now);
    uint32_t p;
    switch (c->mode) {
    case 2:
        return (n - (uint32_t)(t % n)) % m;
    case 3:
        p = (uint32_t)(t % n);
        if (p < (n + 1) / 2)
            return (n - 2 * p) % m;
        return (n - (n & 1) - 2 * (p - (n + 1) / 2)) % m;
    default: /* 0, 1, 4, 5: count down through zero and wrap */
        return (uint32_t)((n + m - t % m) % m);
    }
}

static int channel_out(const pit_channel *c, uint64_t now)
{
    uint32_t n = c->n ? c->n : modulus(c);
    if (c->mode == 0 && (!c->loaded || c->hold))
        return 0;
    if (!started(c))
        return 1;
    uint64_t t = elapsed(c, now);
    switch (c->mode) {
    case 0:
    case 1:
        return t >= n;
    case 2:
        return !c->gate || t % n != n - 1;
    case 3:
        return !c->gate || t % n < (n + 1) / 2;
    default: /* 4, 5: low for one clock when CE reaches zero */
        return t != n;
    }
}

/* Clock number (as elapsed() counts) of the next rising edge of OUT
 * after clock t, or UINT64_MAX if OUT will not rise by itself. */
static uint64_t next_rise(const pit_channel *c, uint64_t t)
{
    uint32_t n = c->n ? c->n : modulus(c);
    if (!running(c))
        return UINT64_MAX;
    switch (c->mode) {
    case 0:
    case 1:
        return t < n ? n : UINT64_MAX;
    case 2:
    case 3:
        return (t / n + 1) * n;
    default:
        return t < (uint64_t)n + 1 ? (uint64_t)n + 1 : UINT64_MAX;
    }
}

static void irq0_set(pit_state *s, int level)
{
    if (s->irq < 0 || level == s->irq_level)
        return;
    s->irq_level = level;
    irq_set(&s->b->isa_irq[s->irq], level);
}

/* After channel 0 changed: OUT0 to the IRQ line, timer to the next edge. */
static void channel0_update(pit_state *s, uint64_t now)
{
    pit_channel *c = &s->ch[0];
    irq0_set(s, channel_out(c, now));
    uint64_t t = elapsed(c, now);
    uint64_t rise = next_rise(c, t);
    if (rise == UINT64_MAX || s->irq < 0) {
        vtimer_cancel(s->b->clock, &s->timer);
        return;
    }
    vtimer_arm(s->b->clock, &s->timer, c->start_ns + ticks_to_ns_ceil(rise - c->carried));
}

static void pit_timer_fire(void *opaque, uint64_t now)
{
    pit_state *s = opaque;
    /* A rising edge of OUT0: the PIC latches it even if OUT's low phase
     * was never shown on the line. */
    irq0_set(s, 0);
    irq0_set(s, 1);
    channel0_update(s, now);
}

static void channel_changed(pit_state *s, int i, uint64_t now)
{
    if (i == 0)
        channel0_update(s, now);
}

static void set_gate(pit_state *s, int i, bool gate, uint64_t now)
{
    pit_channel *c = &s->ch[i];
    if (gate == c->gate)
        return;
    if (!gate) {
        if (c->mode != 1 && c->mode != 5)
            c->carried = elapsed(c, now);  /* CE stops (modes 0, 2, 3, 4) */
        c->gate = false;
    } else {
        c->gate = true;
        c->start_ns = now;
        if (c->loaded && c->mode != 0 && c->mode != 4) {
            /* modes 2, 3 reload; modes 1, 5 trigger */
            c->carried = 0;
            if (c->mode == 1 || c->mode == 5) {
                c->triggered = true;
                c->null_count = false;
            }
        }
    }
    channel_changed(s, i, now);
}

static void latch_count(pit_channel *c, uint64_t now)
{
    if (c->count_latched)
        return;
    uint32_t v = channel_count(c, now);
    c->ol = c->bcd ? to_bcd(v) : (uint16_t)v;
    c->count_latched = true;
}

static void latch_status(pit_channel *c, uint64_t now)
{
    if (c->status_latched)
        return;
    c->status = (uint8_t)(channel_out(c, now) << 7 | c->null_count << 6 | c->rw << 4 |
                          c->mode_bits << 1 | c->bcd);
    c->status_latched = true;
}

static void write_control(pit_state *s, uint8_t v, uint64_t now)
{
    if (CW_SC(v) == 3) { /* read-back */
        for (int i = 0; i < 3; i++) {
            if (!(v & (2u << i)))
                continue;
            if (!(v & RB_STATUS))
                latch_status(&s->ch[i], now);
            if (!(v & RB_COUNT))
                latch_count(&s->ch[i], now);
        }
        return;
    }
    pit_channel *c = &s->ch[CW_SC(v)];
    if (CW_RW(v) == 0) {
        latch_count(c, now);
        return;
    }
    c->rw = (uint8_t)CW_RW(v);
    c->mode_bits = (uint8_t)CW_M(v);
    c->mode = c->mode_bits > 5 ? (uint8_t)(c->mode_bits - 4) : c->mode_bits;
    c->bcd = v & CW_BCD;
    c->loaded = false;
    c->triggered = false;
    c->hold = false;
    c->null_count = true;
    c->carried = 0;
    c->write_msb = false;
    c->read_msb = false;
    c->count_latched = false;
    c->status_latched = false;
    channel_changed(s, CW_SC(v), now);
}

static void load_count(pit_state *s, int i, uint64_t now)
{
    pit_channel *c = &s->ch[i];
    c->n = c->bcd ? from_bcd(c->cr) : c->cr;
    c->hold = false;
    c->loaded = true;
    if (c->mode != 1 && c->mode != 5) {
        c->null_count = false;
        c->carried = 0;
        c->start_ns = now;
    }
    channel_changed(s, i, now);
}

static void write_count(pit_state *s, int i, uint8_t v, uint64_t now)
{
    pit_channel *c = &s->ch[i];
    switch (c->rw) {
    case 1:
        c->cr = v;
        break;
    case 2:
        c->cr = (uint16_t)(v << 8);
        break;
    default:
        if (!c->write_msb) {
            c->cr = (uint16_t)((c->cr & 0xff00) | v);
            c->write_msb = true;
            if (c->mode == 0 && c->loaded) {
                c->carried = elapsed(c, now);
                c->hold = true;
                channel_changed(s, i, now);
            }
            return;
        }
        c->cr = (uint16_t)((c->cr & 0x00ff) | v << 8);
        c->write_msb = false;
        break;
    }
    c->null_count = true;
    load_count(s, i, now);
}

static uint8_t read_count(pit_channel *c, uint64_t now)
{
    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    uint16_t v = c->ol;
    if (!c->count_latched) {
        uint32_t cnt = channel_count(c, now);
        v = c->bcd ? to_bcd(cnt) : (uint16_t)cnt;
    }
    bool last = true;
    uint8_t r;
    if (c->rw == 2) {
        r = (uint8_t)(v >> 8);
    } else if (c->rw == 3 && c->read_msb) {
        r = (uint8_t)(v >> 8);
        c->read_msb = false;
    } else {
        r = (uint8_t)v;
        if (c->rw == 3) {
            c->read_msb = true;
            last = false;
        }
    }
    if (last)
        c->count_latched = false;
    return r;
}

int pit_get_out(const pit_state *s, int channel)
{
    if (channel < 0 || channel > 2)
        return -1;
    return channel_out(&s->ch[channel], vclock_now(s->b->clock));
}

static uint32_t pit_io_read(void *opaque, uint16_t port, unsigned size)
{
    pit_state *s = opaque;
    uint64_t now = vclock_now(s->b->clock);
    (void)size;
    if (port == PORT_B) {
        s->refresh = !s->refresh;
        return s->port_b | (s->refresh ? PORTB_REFRESH : 0) |
               (channel_out(&s->ch[2], now) ? PORTB_OUT2 : 0);
    }
    if (port == PIT_PORT + 3)
        return 0xff; /* the control word register is write only */
    return read_count(&s->ch[port - PIT_PORT], now);
}

static void pit_io_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    pit_state *s = opaque;
    uint64_t now = vclock_now(s->b->clock);
    uint8_t v = (uint8_t)value;
    (void)size; /* always 1: the bus splits wider accesses */
    if (port == PORT_B) {
        s->port_b = v & PORTB_WRITABLE;
        set_gate(s, 2, v & PORTB_GATE2, now);
    } else if (port == PIT_PORT + 3) {
        write_control(s, v, now);
    } else {
        write_count(s, port - PIT_PORT, v, now);
    }
}

static const io_ops pit_ops = {
    .read = pit_io_read,
    .write = pit_io_write,
    .max_size = 1,
};

static void pit_reset(void *dev)
{
    pit_state *s = dev;
    /* Power-on state is undefined; here every counter waits for a control
     * word in mode 3 (OUT high), so programming mode 2 makes no edge. */
    for (int i = 0; i < 3; i++)
        s->ch[i] = (pit_channel){ .mode = 3, .mode_bits = 3, .rw = 3, .gate = i != 2,
                                  .null_count = true };
    s->port_b = 0;
    s->refresh = false;
    /* OUT0 is high; the line is left alone so that reset makes no edge
     * (edges are always sent as a drop and a raise). */
    s->irq_level = 1;
    vtimer_cancel(s->b->clock, &s->timer);
}

static bool ports_free(const io_space *io, uint16_t base, unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        if (io_owner(io, (uint16_t)(base + i)))
            return false;
    return true;
}

static void *pit_create(board *b, const device_config *cfg, char *err, size_t errlen)
{
    if (cfg->irq > 15) {
        snprintf(err, errlen, "pit: bad irq %d", cfg->irq);
        return NULL;
    }
    if (!ports_free(b->io, PIT_PORT, 4) || !ports_free(b->io, PORT_B, 1)) {
        snprintf(err, errlen, "pit: ports 0x40-0x43 or 0x61 already in use");
        return NULL;
    }
    pit_state *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "pit: out of memory");
        return NULL;
    }
    s->b = b;
    s->irq = cfg->irq;
    vtimer_init(&s->timer, pit_timer_fire, s);
    io_register(b->io, PIT_PORT, 4, &pit_ops, s, "pit");
    io_register(b->io, PORT_B, 1, &pit_ops, s, "port-b");
    pit_reset(s);
    return s;
}

static void pit_destroy(void *dev)
{
    pit_state *s = dev;
    vtimer_cancel(s->b->clock, &s->timer);
    free(s);
}

const device_type pit_type = {
    .name = "i8254",
    .description = "8254 interval timer (0x40-0x43) and system control port B (0x61)",
    .create = pit_create,
    .reset = pit_reset,
    .destroy = pit_destroy,
};
