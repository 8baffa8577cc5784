/*
 * Motorola MC146818A real-time clock plus RAM (the PC/AT "CMOS"), at
 * index port 0x70 and data port 0x71, interrupt on ISA IRQ 8.
 *
 * Modelled, by section of the MC146818A datasheet:
 *   - "Address Map": 14 clock and control bytes and 114 bytes of RAM,
 *     selected through the index port (bits 6-0).  Bit 7 of an index
 *     write is the PC's NMI mask (not the chip's): stored and reported
 *     by rtc_nmi_masked().
 *   - "Time, Calendar and Alarm Locations": seconds, minutes, hours, day
 *     of week, date, month, year, in BCD or binary (register B DM) and
 *     24- or 12-hour form (B 24/12; bit 7 of the hour is PM); the PC's
 *     century byte at 0x32 is kept with the year.  Alarm bytes with the
 *     two high bits set are "don't care".
 *   - "Register A": UIP, DV2-DV0 (010 = run on the 32.768 kHz crystal,
 *     11x = divider held in reset, the first update coming 500 ms after
 *     release), RS3-RS0 (periodic rate, Table 5).
 *   - "Register B": SET (stops updates; the time bytes then take writes
 *     and the new time counts from the next update when SET clears; SET
 *     also clears UIE), PIE, AIE, UIE, SQWE, DM, 24/12, DSE.
 *   - "Register C": IRQF, PF, AF, UF; read-only, cleared by reading,
 *     which also drops IRQ.  Flags are set whether or not their enable
 *     is, IRQF = PF.PIE + AF.AIE + UF.UIE.
 *   - "Register D": VRT, always 1 (the battery is fine).
 *   - "Update Cycle": once a second; UIP is 1 during the 244 us before
 *     each update.  UF is set and the alarm compared at each update.
 *   - "Periodic Interrupt": PF at the rate RS selects, counted from the
 *     divider's start, so the ticks keep their phase with the updates.
 *   - "RESET": board reset clears PIE, AIE, UIE, SQWE and register C.
 *
 * Time: the clock starts at the host's wall-clock time (UTC, or local
 * time with base=localtime) and then advances with virtual time, the
 * first update falling on the host's next second boundary.  A guest
 * setting the time moves the RTC away from the host by the difference.
 *
 * The PC's NVRAM layout (IBM AT Technical Reference, "CMOS RAM Address
 * Map"), filled in at power-on as a BIOS setup would leave it: 0x10
 * diskette types (none), 0x12 fixed disk types (none), 0x14 equipment
 * (coprocessor, VGA, no diskettes), 0x15/0x16 base memory 640 KiB,
 * 0x17/0x18 and 0x30/0x31 extended memory in KiB (at most 0xFFFF),
 * 0x34/0x35 memory above 16 MiB in 64 KiB units, 0x32 century, and the
 * checksum of 0x10-0x2D at 0x2E (high byte) and 0x2F.
 *
 * Departures: the time is kept as a count of seconds, so time bytes
 * hold valid values only: a byte written out of range is normalised
 * (31 February becomes 3 March), the day of week is always computed
 * from the date, and switching DM or 24/12 while SET is clear shows the
 * current time in the new format at once (the chip would keep the old
 * bytes until the next write).  The update cycle itself takes no time
 * (UIP covers only the 244 us before it).  DV values other than 010 and
 * 11x (other time bases) stop the clock.  DSE is stored but daylight
 * saving is never applied; SQWE has no pin.
 */
#define _GNU_SOURCE
#include "devices/rtc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/board.h"

#define RTC_PORT 0x70

/* Clock and control bytes */
enum { RTC_SECONDS = 0x00, RTC_SECONDS_ALARM = 0x01, RTC_MINUTES = 0x02,
       RTC_MINUTES_ALARM = 0x03, RTC_HOURS = 0x04, RTC_HOURS_ALARM = 0x05,
       RTC_DAY_OF_WEEK = 0x06, RTC_DATE = 0x07, RTC_MONTH = 0x08, RTC_YEAR = 0x09,
       RTC_REG_A = 0x0a, RTC_REG_B = 0x0b, RTC_REG_C = 0x0c, RTC_REG_D = 0x0d };

/* PC NVRAM bytes */
enum { NV_DISKETTE = 0x10, NV_FIXED_DISK = 0x12, NV_EQUIPMENT = 0x14, NV_BASE_LO = 0x15,
       NV_BASE_HI = 0x16, NV_EXT_LO = 0x17, NV_EXT_HI = 0x18, NV_CHECKSUM_HI = 0x2e,
       NV_CHECKSUM_LO = 0x2f, NV_EXT2_LO = 0x30, NV_EXT2_HI = 0x31, NV_CENTURY = 0x32,
       NV_HIGH_LO = 0x34, NV_HIGH_HI = 0x35 };

/* Register A */
#define REG_A_UIP     0x80
#define REG_A_DV      0x70
#define REG_A_DV_RUN  0x20
#define REG_A_DV_RESET 0x60 /* 11x */
#define REG_A_RS      0x0f
/* Register B */
#define REG_B_SET     0x80
#define REG_B_PIE     0x40
#define REG_B_AIE     0x20
#define REG_B_UIE     0x10
#define REG_B_SQWE    0x08
#define REG_B_DM      0x04 /* 1 = binary */
#define REG_B_24H     0x02
#define REG_B_DSE     0x01
/* Register C */
#define REG_C_IRQF    0x80
#define REG_C_PF      0x40
#define REG_C_AF      0x20
#define REG_C_UF      0x10
/* Register D */
#define REG_D_VRT     0x80

#define NS_PER_SEC    1000000000ll
#define HALF_SEC      500000000ll
#define UIP_NS        244140ll   /* 8 cycles of the 32.768 kHz time base */
#define XTAL_HZ       32768

struct rtc_state {
    board *b;
    int irq;
    uint8_t cmos[128];   /* registers A-D, RAM, and the time bytes while SET */
    uint8_t index;
    bool nmi_masked;
    bool irq_level;

    int64_t secs;        /* the RTC's time: seconds since 1970 in its own zone */
    int64_t synced_ns;   /* virtual time up to which secs counts the updates */
    int64_t div_origin;  /* virtual time the divider chain started: updates
                          * fall at div_origin + 0.5 s + k s, periodic ticks
                          * at div_origin + m * period */
    int64_t per_seen;    /* last periodic tick accounted for in PF */
    vtimer update_timer;
    vtimer periodic_timer;
};

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t now_ns(const rtc_state *s)
{
    return (int64_t)vclock_now(s->b->clock);
}

static bool divider_running(const rtc_state *s)
{
    return (s->cmos[RTC_REG_A] & REG_A_DV) == REG_A_DV_RUN;
}

static bool clock_running(const rtc_state *s)
{
    return divider_running(s) && !(s->cmos[RTC_REG_B] & REG_B_SET);
}

/* Index of the last update at or before t (updates are numbered from the
 * first one after the divider started). */
static int64_t update_index(const rtc_state *s, int64_t t)
{
    return floordiv(t - s->div_origin - HALF_SEC, NS_PER_SEC);
}

static int64_t next_update(const rtc_state *s, int64_t now)
{
    return s->div_origin + HALF_SEC + (update_index(s, now) + 1) * NS_PER_SEC;
}

/* Periodic interrupt period in 32.768 kHz cycles, 0 for none (Table 5). */
static unsigned period_cycles(const rtc_state *s)
{
    unsigned rs = s->cmos[RTC_REG_A] & REG_A_RS;
    if (rs == 0)
        return 0;
    return rs <= 2 ? 1u << (rs + 6) : 1u << (rs - 1);
}

static int64_t tick_index(const rtc_state *s, int64_t t)
{
    unsigned p = period_cycles(s);
    __int128 num = (__int128)(t - s->div_origin) * XTAL_HZ;
    __int128 den = (__int128)p * NS_PER_SEC;
    __int128 q = num / den;
    if (num % den != 0 && num < 0)
        q--;
    return (int64_t)q;
}

static int64_t tick_time(const rtc_state *s, int64_t m)
{
    __int128 cyc = (__int128)m * period_cycles(s);
    return s->div_origin + (int64_t)((cyc * NS_PER_SEC + XTAL_HZ - 1) / XTAL_HZ);
}

/* Count the updates that happened up to now; returns how many. */
static int64_t sync_time(rtc_state *s, int64_t now)
{
    int64_t n = 0;
    if (clock_running(s) && now > s->synced_ns) {
        n = update_index(s, now) - update_index(s, s->synced_ns);
        s->secs += n;
    }
    s->synced_ns = now;
    return n;
}

static void periodic_catch_up(rtc_state *s, int64_t now)
{
    if (!divider_running(s) || !period_cycles(s))
        return;
    int64_t idx = tick_index(s, now);
    if (idx > s->per_seen) {
        s->cmos[RTC_REG_C] |= REG_C_PF;
        s->per_seen = idx;
    }
}

static void restart_periodic(rtc_state *s, int64_t now)
{
    s->per_seen = period_cycles(s) ? tick_index(s, now) : 0;
}

static void update_irq(rtc_state *s)
{
    uint8_t *c = &s->cmos[RTC_REG_C];
    bool irqf = *c & s->cmos[RTC_REG_B] & (REG_C_PF | REG_C_AF | REG_C_UF);
    if (irqf)
        *c |= REG_C_IRQF;
    if (irqf != s->irq_level) {
        s->irq_level = irqf;
        if (s->irq >= 0)
            irq_set(&s->b->isa_irq[s->irq], irqf);
    }
}

static void arm_timers(rtc_state *s, int64_t now)
{
    vclock *clk = s->b->clock;
    if (clock_running(s))
        vtimer_arm(clk, &s->update_timer, (uint64_t)next_update(s, now));
    else
        vtimer_cancel(clk, &s->update_timer);
    if (divider_running(s) && period_cycles(s) && (s->cmos[RTC_REG_B] & REG_B_PIE))
        vtimer_arm(clk, &s->periodic_timer, (uint64_t)tick_time(s, s->per_seen + 1));
    else
        vtimer_cancel(clk, &s->periodic_timer);
}

/* --- time bytes ------------------------------------------------------ */

static uint8_t to_reg(const rtc_state *s, int v)
{
    if (s->cmos[RTC_REG_B] & REG_B_DM)
        return (uint8_t)v;
    return (uint8_t)((v / 10) << 4 | v % 10);
}

static int from_reg(const rtc_state *s, uint8_t v)
{
    if (s->cmos[RTC_REG_B] & REG_B_DM)
        return v;
    return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t hour_to_reg(const rtc_state *s, int h)
{
    if (s->cmos[RTC_REG_B] & REG_B_24H)
        return to_reg(s, h);
    int h12 = h % 12 ? h % 12 : 12;
    return (uint8_t)(to_reg(s, h12) | (h >= 12 ? 0x80 : 0));
}

static int hour_from_reg(const rtc_state *s, uint8_t v)
{
    if (s->cmos[RTC_REG_B] & REG_B_24H)
        return from_reg(s, v);
    return from_reg(s, v & 0x7f) % 12 + ((v & 0x80) ? 12 : 0);
}

static bool is_time_byte(uint8_t index)
{
    return (index <= RTC_YEAR && index != RTC_SECONDS_ALARM && index != RTC_MINUTES_ALARM &&
            index != RTC_HOURS_ALARM) || index == NV_CENTURY;
}

/* Write the time bytes for s->secs into cmos[]. */
static void materialize(rtc_state *s)
{
    time_t t = (time_t)s->secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        memset(&tm, 0, sizeof(tm));
    int year = tm.tm_year + 1900;
    s->cmos[RTC_SECONDS] = to_reg(s, tm.tm_sec);
    s->cmos[RTC_MINUTES] = to_reg(s, tm.tm_min);
    s->cmos[RTC_HOURS] = hour_to_reg(s, tm.tm_hour);
    s->cmos[RTC_DAY_OF_WEEK] = to_reg(s, tm.tm_wday + 1);
    s->cmos[RTC_DATE] = to_reg(s, tm.tm_mday);
    s->cmos[RTC_MONTH] = to_reg(s, tm.tm_mon + 1);
    s->cmos[RTC_YEAR] = to_reg(s, year % 100);
    s->cmos[NV_CENTURY] = to_reg(s, year / 100 % 100);
}

/* Read the time bytes of cmos[] back into s->secs. */
static void parse_time(rtc_state *s)
{
    struct tm tm = {
        .tm_sec = from_reg(s, s->cmos[RTC_SECONDS]),
        .tm_min = from_reg(s, s->cmos[RTC_MINUTES]),
        .tm_hour = hour_from_reg(s, s->cmos[RTC_HOURS]),
        .tm_mday = from_reg(s, s->cmos[RTC_DATE]),
        .tm_mon = from_reg(s, s->cmos[RTC_MONTH]) - 1,
        .tm_year = from_reg(s, s->cmos[NV_CENTURY]) * 100 + from_reg(s, s->cmos[RTC_YEAR]) -
                   1900,
    };
    time_t t = timegm(&tm);
    if (t != (time_t)-1)
        s->secs = t;
}

static bool alarm_byte_matches(const rtc_state *s, uint8_t alarm, uint8_t now)
{
    (void)s;
    return (alarm & 0xc0) == 0xc0 || alarm == now;
}

static bool alarm_matches(const rtc_state *s, int64_t t)
{
    int64_t sod = t - floordiv(t, 86400) * 86400;
    int h = (int)(sod / 3600), m = (int)(sod / 60 % 60), sec = (int)(sod % 60);
    return alarm_byte_matches(s, s->cmos[RTC_SECONDS_ALARM], to_reg(s, sec)) &&
           alarm_byte_matches(s, s->cmos[RTC_MINUTES_ALARM], to_reg(s, m)) &&
           alarm_byte_matches(s, s->cmos[RTC_HOURS_ALARM], hour_to_reg(s, h));
}

/* --- timers ---------------------------------------------------------- */

static void update_fire(void *opaque, uint64_t now)
{
    rtc_state *s = opaque;
    int64_t n = sync_time(s, (int64_t)now);
    if (n > 0) {
        s->cmos[RTC_REG_C] |= REG_C_UF;
        /* Each second that went by gets its alarm compare (a day at most). */
        for (int64_t i = n > 86400 ? 86400 : n; i > 0; i--) {
            if (alarm_matches(s, s->secs - i + 1)) {
                s->cmos[RTC_REG_C] |= REG_C_AF;
                break;
            }
        }
    }
    update_irq(s);
    arm_timers(s, (int64_t)now);
}

static void periodic_fire(void *opaque, uint64_t now)
{
    rtc_state *s = opaque;
    periodic_catch_up(s, (int64_t)now);
    update_irq(s);
    arm_timers(s, (int64_t)now);
}

/* --- registers ------------------------------------------------------- */

static uint8_t reg_read(rtc_state *s, uint8_t index)
{
    int64_t now = now_ns(s);
    uint8_t v;
    switch (index) {
    case RTC_REG_A:
        v = s->cmos[RTC_REG_A] & ~REG_A_UIP;
        if (clock_running(s) && next_update(s, now) - now <= UIP_NS)
            v |= REG_A_UIP;
        return v;
    case RTC_REG_C:
        periodic_catch_up(s, now);
        update_irq(s);
        v = s->cmos[RTC_REG_C];
        s->cmos[RTC_REG_C] = 0;
        update_irq(s);
        arm_timers(s, now);
        return v;
    case RTC_REG_D:
        return REG_D_VRT;
    default:
        if (is_time_byte(index) && !(s->cmos[RTC_REG_B] & REG_B_SET)) {
            sync_time(s, now);
            materialize(s);
        }
        return s->cmos[index];
    }
}

static void write_reg_a(rtc_state *s, uint8_t v, int64_t now)
{
    bool was_running = divider_running(s);
    unsigned old_rs = s->cmos[RTC_REG_A] & REG_A_RS;
    sync_time(s, now);
    s->cmos[RTC_REG_A] = v & ~REG_A_UIP;
    if (divider_running(s) && !was_running) {
        /* Out of reset: the first update comes half a second later. */
        s->div_origin = now;
        s->synced_ns = now;
        restart_periodic(s, now);
    } else if ((v & REG_A_RS) != old_rs) {
        restart_periodic(s, now);
    }
    arm_timers(s, now);
}

static void write_reg_b(rtc_state *s, uint8_t v, int64_t now)
{
    uint8_t old = s->cmos[RTC_REG_B];
    sync_time(s, now);
    periodic_catch_up(s, now);
    if (v & REG_B_SET) {
        v &= ~REG_B_UIE;
        if (!(old & REG_B_SET))
            materialize(s); /* the time bytes now hold still */
    }
    s->cmos[RTC_REG_B] = v;
    if ((old & REG_B_SET) && !(v & REG_B_SET)) {
        parse_time(s);  /* counts on from the next update */
        s->synced_ns = now;
    }
    update_irq(s);
    arm_timers(s, now);
}

static void reg_write(rtc_state *s, uint8_t index, uint8_t v)
{
    int64_t now = now_ns(s);
    switch (index) {
    case RTC_REG_A:
        write_reg_a(s, v, now);
        break;
    case RTC_REG_B:
        write_reg_b(s, v, now);
        break;
    case RTC_REG_C:
    case RTC_REG_D:
        break; /* read only */
    default:
        if (is_time_byte(index) && !(s->cmos[RTC_REG_B] & REG_B_SET)) {
            sync_time(s, now);
            materialize(s);
            s->cmos[index] = v;
            parse_time(s);
            arm_timers(s, now);
        } else {
            s->cmos[index] = v;
        }
        break;
    }
}

static uint32_t rtc_io_read(void *opaque, uint16_t port, unsigned size)
{
    rtc_state *s = opaque;
    (void)size;
    if (!(port & 1))
        return 0xff; /* the index register is write only */
    return reg_read(s, s->index);
}

static void rtc_io_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    rtc_state *s = opaque;
    (void)size;
    if (!(port & 1)) {
        s->index = value & 0x7f;
        s->nmi_masked = value & 0x80;
    } else {
        reg_write(s, s->index, (uint8_t)value);
    }
}

static const io_ops rtc_ops = {
    .read = rtc_io_read,
    .write = rtc_io_write,
    .max_size = 1,
};

bool rtc_nmi_masked(const rtc_state *s)
{
    return s->nmi_masked;
}

uint8_t rtc_nvram_read(const rtc_state *s, uint8_t index)
{
    return s->cmos[index & 0x7f];
}

/* --- power-on -------------------------------------------------------- */

static void put_word(rtc_state *s, uint8_t lo, unsigned v)
{
    s->cmos[lo] = (uint8_t)v;
    s->cmos[lo + 1] = (uint8_t)(v >> 8);
}

static void nvram_init(rtc_state *s, uint32_t ram_size)
{
    uint32_t kib = ram_size >> 10;
    uint32_t ext = kib > 1024 ? kib - 1024 : 0;
    uint32_t high = ram_size > (16u << 20) ? (ram_size - (16u << 20)) >> 16 : 0;
    s->cmos[NV_DISKETTE] = 0x00;
    s->cmos[NV_FIXED_DISK] = 0x00;
    s->cmos[NV_EQUIPMENT] = 0x02; /* coprocessor; VGA; no diskette */
    put_word(s, NV_BASE_LO, 640);
    put_word(s, NV_EXT_LO, ext > 0xffff ? 0xffff : ext);
    put_word(s, NV_EXT2_LO, ext > 0xffff ? 0xffff : ext);
    put_word(s, NV_HIGH_LO, high > 0xffff ? 0xffff : high);
    unsigned sum = 0;
    for (int i = NV_DISKETTE; i < NV_CHECKSUM_HI; i++)
        sum += s->cmos[i];
    s->cmos[NV_CHECKSUM_HI] = (uint8_t)(sum >> 8);
    s->cmos[NV_CHECKSUM_LO] = (uint8_t)sum;
}

static void rtc_reset(void *dev)
{
    rtc_state *s = dev;
    int64_t now = now_ns(s);
    sync_time(s, now);
    periodic_catch_up(s, now);
    s->cmos[RTC_REG_B] &= ~(REG_B_PIE | REG_B_AIE | REG_B_UIE | REG_B_SQWE);
    s->cmos[RTC_REG_C] = 0;
    update_irq(s);
    arm_timers(s, now);
}

static void *rtc_create(board *b, const device_config *cfg, char *err, size_t errlen)
{
    uint16_t port = cfg->port ? cfg->port : RTC_PORT;
    bool localtime = false;
    if (cfg->opts && strstr(cfg->opts, "base=localtime"))
        localtime = true;
    else if (cfg->opts && strstr(cfg->opts, "base=") && !strstr(cfg->opts, "base=utc")) {
        snprintf(err, errlen, "rtc: base must be utc or localtime in '%s'", cfg->opts);
        return NULL;
    }
    if (cfg->irq > 15 || io_owner(b->io, port) || io_owner(b->io, (uint16_t)(port + 1))) {
        snprintf(err, errlen, "rtc: bad irq %d or ports 0x%x-0x%x in use", cfg->irq, port,
                 port + 1);
        return NULL;
    }
    rtc_state *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "rtc: out of memory");
        return NULL;
    }
    s->b = b;
    s->irq = cfg->irq;
    vtimer_init(&s->update_timer, update_fire, s);
    vtimer_init(&s->periodic_timer, periodic_fire, s);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->secs = ts.tv_sec;
    if (localtime) {
        struct tm tm;
        time_t t = ts.tv_sec;
        if (localtime_r(&t, &tm))
            s->secs += tm.tm_gmtoff;
    }
    int64_t now = now_ns(s);
    s->synced_ns = now;
    /* The next update on the host's next second boundary. */
    s->div_origin = now - ts.tv_nsec - HALF_SEC;
    s->cmos[RTC_REG_A] = REG_A_DV_RUN | 0x06; /* 32.768 kHz, 1024 Hz */
    s->cmos[RTC_REG_B] = REG_B_24H;           /* BCD, 24-hour */
    s->cmos[RTC_REG_D] = REG_D_VRT;
    materialize(s);
    nvram_init(s, b->mem ? b->mem->ram_size : 0);
    restart_periodic(s, now);
    io_register(b->io, port, 2, &rtc_ops, s, "rtc");
    arm_timers(s, now);
    return s;
}

static void rtc_destroy(void *dev)
{
    rtc_state *s = dev;
    vtimer_cancel(s->b->clock, &s->update_timer);
    vtimer_cancel(s->b->clock, &s->periodic_timer);
    free(s);
}

const device_type rtc_type = {
    .name = "mc146818",
    .description = "MC146818 real-time clock and CMOS RAM (0x70/0x71, IRQ 8; base=utc|localtime)",
    .create = rtc_create,
    .reset = rtc_reset,
    .destroy = rtc_destroy,
};
