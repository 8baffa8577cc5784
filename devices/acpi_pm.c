/*
 * ACPI fixed hardware registers (ACPI 6.5 §4.8.3, "PM1 Event Grouping",
 * "PM1 Control Grouping", "Power Management Timer"), just enough for an
 * ACPI operating system to find a PM timer and to power off:
 *
 *   PM1_STS  (+0, 16 bits)  write 1 to clear.  Never set here: btvm has
 *                           no power button, no wake events, and the
 *                           timer-carry status (TMR_STS) is not modelled,
 *                           so the SCI (IRQ 9 in the FADT) never fires.
 *   PM1_EN   (+2, 16 bits)  read/write, no effect.
 *   PM1_CNT  (+4, 16 bits)  SCI_EN (bit 0) reads 1: with no SMI_CMD port
 *                           in the FADT the machine is always in ACPI
 *                           mode (§4.8.2.1).  SLP_TYP (bits 10-12) and
 *                           SLP_EN (bit 13, write-only): SLP_EN with the
 *                           \_S5 value powers off — btvm exits with
 *                           status 0.  Other sleep types are not offered
 *                           in the DSDT and are logged and ignored.
 *   PM_TMR   (+8, 32 bits)  read-only 24-bit counter at 3.579545 MHz
 *                           from the virtual clock (FADT TMR_VAL_EXT = 0).
 *
 * Accesses of any width within a register work (byte by byte).
 * Departure: PM1a only, no PM1b, no GPE blocks.
 */
#include "devices/acpi_pm.h"

#include <stdio.h>
#include <stdlib.h>

#include "devices/board.h"

#define PM1_STS        0
#define PM1_EN         2
#define PM1_CNT        4
#define PM_TMR         8

#define CNT_SCI_EN     0x0001
#define CNT_SLP_TYP_SHIFT 10
#define CNT_SLP_TYP    (7u << CNT_SLP_TYP_SHIFT)
#define CNT_SLP_EN     0x2000

#define PM_TIMER_HZ    3579545ull

typedef struct acpi_pm_state {
    board *b;
    uint16_t base;
    uint16_t sts, en, cnt;
    bool warned_sleep;
} acpi_pm_state;

static uint32_t pm_timer(acpi_pm_state *s)
{
    unsigned __int128 ticks = (unsigned __int128)vclock_now(s->b->clock) * PM_TIMER_HZ;
    return (uint32_t)(ticks / 1000000000u) & 0xffffff;
}

static uint8_t read_byte(acpi_pm_state *s, unsigned off)
{
    unsigned shift = 8 * (off & 1);
    switch (off & ~1u) {
    case PM1_STS: return (uint8_t)(s->sts >> shift);
    case PM1_EN:  return (uint8_t)(s->en >> shift);
    case PM1_CNT: return (uint8_t)((s->cnt & ~CNT_SLP_EN) >> shift);
    case PM_TMR:
    case PM_TMR + 2:
        return (uint8_t)(pm_timer(s) >> (8 * (off - PM_TMR)));
    default:      return 0xff;  /* the gap at +6..+7 */
    }
}

static void write_byte(acpi_pm_state *s, unsigned off, uint8_t v)
{
    unsigned shift = 8 * (off & 1);
    uint16_t mask = (uint16_t)(0xffu << shift);
    uint16_t val = (uint16_t)(v << shift);
    switch (off & ~1u) {
    case PM1_STS:
        s->sts &= ~val;
        break;
    case PM1_EN:
        s->en = (s->en & ~mask) | val;
        break;
    case PM1_CNT:
        s->cnt = ((s->cnt & ~mask) | val) | CNT_SCI_EN;
        if (s->cnt & CNT_SLP_EN) {
            s->cnt &= ~CNT_SLP_EN;
            unsigned typ = (s->cnt & CNT_SLP_TYP) >> CNT_SLP_TYP_SHIFT;
            if (typ == ACPI_SLP_TYP_S5) {
                board_request_exit(s->b, 0);
            } else if (!s->warned_sleep) {
                s->warned_sleep = true;
                fprintf(stderr, "btvm: acpi: sleep type %u not supported, ignored (logged once)\n",
                        typ);
            }
        }
        break;
    default:
        break;      /* the timer is read-only */
    }
}

static uint32_t acpi_pm_read(void *opaque, uint16_t port, unsigned size)
{
    acpi_pm_state *s = opaque;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)read_byte(s, (unsigned)(port - s->base) + i) << (8 * i);
    return v;
}

static void acpi_pm_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    acpi_pm_state *s = opaque;
    for (unsigned i = 0; i < size; i++)
        write_byte(s, (unsigned)(port - s->base) + i, (uint8_t)(value >> (8 * i)));
}

static const io_ops acpi_pm_ops = {
    .read = acpi_pm_read,
    .write = acpi_pm_write,
    .max_size = 4,
};

static void acpi_pm_reset(void *dev)
{
    acpi_pm_state *s = dev;
    s->sts = 0;
    s->en = 0;
    s->cnt = CNT_SCI_EN;
}

static void *acpi_pm_create(board *b, const device_config *cfg, char *err, size_t errlen)
{
    uint16_t base = cfg->port ? cfg->port : ACPI_PM_BASE;
    for (unsigned i = 0; i < ACPI_PM_SIZE; i++) {
        if (io_owner(b->io, (uint16_t)(base + i))) {
            snprintf(err, errlen, "acpi-pm: port 0x%x already in use", base + i);
            return NULL;
        }
    }
    acpi_pm_state *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "acpi-pm: out of memory");
        return NULL;
    }
    s->b = b;
    s->base = base;
    io_register(b->io, base, ACPI_PM_SIZE, &acpi_pm_ops, s, "acpi-pm");
    acpi_pm_reset(s);
    return s;
}

static void acpi_pm_destroy(void *dev)
{
    free(dev);
}

const device_type acpi_pm_type = {
    .name = "acpi-pm",
    .description = "ACPI PM1a event/control registers and PM timer (power off)",
    .create = acpi_pm_create,
    .reset = acpi_pm_reset,
    .destroy = acpi_pm_destroy,
};
