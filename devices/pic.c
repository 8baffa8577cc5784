/*
 * Intel 8259A programmable interrupt controller, as the PC/AT pair:
 * master at 0x20/0x21, slave at 0xA0/0xA1 on the master's IR2, plus the
 * PIIX/ICH edge/level control registers (ELCR) at 0x4D0/0x4D1.
 *
 * Modelled, by section of the 8259A datasheet (Intel 231468):
 *   - "Interrupt Sequence": IRR -> priority resolver -> ISR, the two INTA
 *     cycles collapsed into one call (pic_intr_ack) returning the vector
 *     of an 8086-mode ICW2 (T7-T3 from ICW2, the IR number in bits 2-0).
 *   - "Initialization Command Words" ICW1-ICW4: LTIM, SNGL, IC4, ICW2
 *     base, ICW3 cascade bits, ICW4 AEOI and SFNM.  ADI, the 8080 mode and
 *     buffered mode are accepted and ignored (8080 mode is logged once).
 *   - "Operation Command Words": OCW1 (IMR); OCW2 non-specific and
 *     specific EOI, rotate on (non-)specific EOI, rotate in AEOI, set
 *     priority; OCW3 read IRR/ISR, poll, special mask mode.
 *   - "Edge and Level Triggered Modes", per pin through the ELCR (IRQ 0,
 *     1, 2, 8 and 13 are edge only, as on the PIIX) or per chip by LTIM.
 *   - "Spurious interrupts": an INTA with nothing to deliver returns IR7
 *     of the chip that was asked (IRQ7 or IRQ15), without setting ISR.
 *   - "Special Fully Nested Mode" on the master: the slave's ISR bit does
 *     not block higher-priority requests coming through the cascade.
 *
 * Departures: an edge request stays in IRR when its line falls before
 * INTA (the chip would forget it and answer IR7; devices here signal with
 * pulses, as QEMU's and Bochs's do).  The same holds for the cascade: the
 * slave's INT is an edge on the master's IR2, so a slave request that
 * vanishes (a level line dropped) after the master latched IR2 gives the
 * spurious IRQ15.  The slave's INT is taken as dropping during every
 * acknowledge (INTA or poll) of the slave, so a request still pending
 * afterwards (AEOI) is latched again.  ICW1 clears ISR and IRR (level
 * inputs that are high re-enter IRR at once).
 */
#include "devices/pic.h"

#include <stdio.h>
#include <stdlib.h>

#include "devices/board.h"

#define PIC_MASTER_PORT 0x20
#define PIC_SLAVE_PORT  0xa0
#define PIC_ELCR_PORT   0x4d0
#define PIC_CASCADE_IR  2

/* ICW1 (A0 = 0, D4 = 1) */
#define ICW1_IC4  0x01
#define ICW1_SNGL 0x02
#define ICW1_ADI  0x04
#define ICW1_LTIM 0x08
#define ICW1_SEL  0x10
/* ICW4 */
#define ICW4_UPM  0x01
#define ICW4_AEOI 0x02
#define ICW4_SFNM 0x10
/* OCW3 (A0 = 0, D4-D3 = 01) */
#define OCW3_SEL  0x08
#define OCW3_RIS  0x01
#define OCW3_RR   0x02
#define OCW3_P    0x04
#define OCW3_SMM  0x20
#define OCW3_ESMM 0x40

/* Things logged once per pair. */
enum { WARN_8080 = 1 };

typedef struct pic_chip {
    uint8_t irr, isr, imr;
    uint8_t elcr;       /* 1 = level triggered */
    uint8_t elcr_mask;  /* ELCR bits that may be set */
    uint8_t lines;      /* current level of each IR input */
    uint8_t icw2;       /* vector base, T7-T3 */
    uint8_t icw3;       /* master: IRs with a slave; slave: its ID */
    uint8_t lowest;     /* IR with the lowest priority (rotation) */
    uint8_t init_step;  /* next ICW expected on the odd port: 2, 3, 4; 0 = ready */
    bool ic4, sngl, ltim;
    bool aeoi, rotate_aeoi, sfnm;
    bool special_mask, poll, read_isr;
} pic_chip;

struct pic_pair {
    pic_chip chip[2]; /* 0 master, 1 slave */
    board *b;
    bool intr;        /* level last driven on board->cpu_intr */
    unsigned warned;
    uint64_t spurious;
};

static void warn_once(pic_pair *p, unsigned what, const char *msg)
{
    if (p->warned & what)
        return;
    p->warned |= what;
    fprintf(stderr, "btvm: pic: %s (logged once)\n", msg);
}

static uint8_t level_mask(const pic_chip *c)
{
    return c->ltim ? 0xff : c->elcr;
}

/* Priority of an IR, 0 highest: the IR after 'lowest' comes first. */
static int prio(const pic_chip *c, int ir)
{
    return (ir - c->lowest - 1) & 7;
}

/* The highest-priority IR set in mask, or -1. */
static int highest(const pic_chip *c, uint8_t mask)
{
    for (int i = 1; i <= 8; i++) {
        int ir = (c->lowest + i) & 7;
        if (mask & (1u << ir))
            return ir;
    }
    return -1;
}

/* The priority resolver: the IR that INT would be raised for, or -1. */
static int chip_pending(const pic_chip *c, bool master)
{
    int req = highest(c, c->irr & ~c->imr);
    if (req < 0)
        return -1;
    uint8_t in = c->isr;
    if (c->special_mask)
        in &= ~c->imr;        /* masked levels do not inhibit others */
    if (master && c->sfnm)
        in &= ~c->icw3;       /* a slave may interrupt its own in-service level */
    int cur = highest(c, in);
    if (cur >= 0 && prio(c, cur) <= prio(c, req))
        return -1;
    return req;
}

static void chip_set_input(pic_chip *c, int ir, int level)
{
    uint8_t m = (uint8_t)(1u << ir);
    if (level) {
        if ((level_mask(c) & m) || !(c->lines & m))
            c->irr |= m;
        c->lines |= m;
    } else {
        if (level_mask(c) & m)
            c->irr &= ~m;
        c->lines &= ~m;
    }
}

/* First and second INTA (or a poll read) for one IR. */
static void chip_ack(pic_chip *c, int ir)
{
    uint8_t m = (uint8_t)(1u << ir);
    if (!(level_mask(c) & m))
        c->irr &= ~m;
    if (c->aeoi) {
        if (c->rotate_aeoi)
            c->lowest = (uint8_t)ir;
    } else {
        c->isr |= m;
    }
}

/* Recompute the slave's INT (the master's IR2) and the master's INT. */
static void update(pic_pair *p)
{
    pic_chip *m = &p->chip[0], *s = &p->chip[1];
    chip_set_input(m, PIC_CASCADE_IR, chip_pending(s, false) >= 0);

    bool intr = chip_pending(m, true) >= 0;
    if (intr != p->intr) {
        p->intr = intr;
        irq_set(&p->b->cpu_intr, intr);
    }
}

/* During an acknowledge of the slave its INT output falls; update() then
 * makes a new edge if the slave still has a request. */
static void slave_int_drops(pic_pair *p)
{
    p->chip[0].lines &= ~(1u << PIC_CASCADE_IR);
}

static void pic_set_irq(void *opaque, int pin, int level)
{
    pic_pair *p = opaque;
    if (pin < 0 || pin > 15 || pin == PIC_CASCADE_IR)
        return;
    chip_set_input(&p->chip[pin >> 3], pin & 7, level);
    update(p);
}

bool pic_intr_asserted(const pic_pair *p)
{
    return p->intr;
}

int pic_intr_ack(void *opaque)
{
    pic_pair *p = opaque;
    pic_chip *m = &p->chip[0], *s = &p->chip[1];
    int vec;
    int ir = chip_pending(m, true);
    if (ir < 0) {
        p->spurious++;
        vec = m->icw2 | 7;
    } else {
        chip_ack(m, ir);
        if (ir == PIC_CASCADE_IR && !m->sngl && (m->icw3 & (1u << ir))) {
            int sir = chip_pending(s, false);
            if (sir < 0) {
                p->spurious++;
                vec = s->icw2 | 7;
            } else {
                chip_ack(s, sir);
                vec = s->icw2 | sir;
            }
            slave_int_drops(p);
        } else {
            vec = m->icw2 | ir;
        }
    }
    update(p);
    return vec;
}

uint16_t pic_get_irr(const pic_pair *p)
{
    return (uint16_t)(p->chip[0].irr | p->chip[1].irr << 8);
}

uint16_t pic_get_isr(const pic_pair *p)
{
    return (uint16_t)(p->chip[0].isr | p->chip[1].isr << 8);
}

uint16_t pic_get_imr(const pic_pair *p)
{
    return (uint16_t)(p->chip[0].imr | p->chip[1].imr << 8);
}

/* Poll command: the next read returns I (bit 7) and W2-W0 and acts as INTA.
 * Polling the slave consumes the master's latched IR2 as an INTA would. */
static uint8_t chip_poll(pic_pair *p, int idx)
{
    pic_chip *c = &p->chip[idx];
    c->poll = false;
    int ir = chip_pending(c, idx == 0);
    if (ir < 0)
        return 0;
    chip_ack(c, ir);
    if (idx == 1) {
        p->chip[0].irr &= ~(1u << PIC_CASCADE_IR);
        slave_int_drops(p);
    }
    update(p);
    return (uint8_t)(0x80 | ir);
}

static void write_icw1(pic_chip *c, uint8_t v)
{
    c->ic4 = v & ICW1_IC4;
    c->sngl = v & ICW1_SNGL;
    c->ltim = v & ICW1_LTIM;
    /* ADI and A7-A5 only matter in 8080 mode. */
    c->imr = 0;
    c->isr = 0;
    c->irr = c->lines & level_mask(c);
    c->lowest = 7;
    c->special_mask = false;
    c->read_isr = false;
    c->poll = false;
    c->rotate_aeoi = false;
    if (!c->ic4) {
        c->aeoi = false;
        c->sfnm = false;
    }
    c->init_step = 2;
}

static void write_ocw2(pic_chip *c, uint8_t v)
{
    int l = v & 7;
    uint8_t in = c->special_mask ? (uint8_t)(c->isr & ~c->imr) : c->isr;
    int ir;
    switch (v >> 5) {          /* R, SL, EOI */
    case 0: /* rotate in AEOI mode (clear) */
        c->rotate_aeoi = false;
        break;
    case 4: /* rotate in AEOI mode (set) */
        c->rotate_aeoi = true;
        break;
    case 1: /* non-specific EOI */
    case 5: /* rotate on non-specific EOI */
        ir = highest(c, in);
        if (ir >= 0) {
            c->isr &= ~(1u << ir);
            if (v & 0x80)
                c->lowest = (uint8_t)ir;
        }
        break;
    case 3: /* specific EOI */
    case 7: /* rotate on specific EOI */
        c->isr &= ~(1u << l);
        if (v & 0x80)
            c->lowest = (uint8_t)l;
        break;
    case 6: /* set priority */
        c->lowest = (uint8_t)l;
        break;
    default: /* 2: no operation */
        break;
    }
}

static void write_ocw3(pic_chip *c, uint8_t v)
{
    if (v & OCW3_ESMM)
        c->special_mask = v & OCW3_SMM;
    c->poll = v & OCW3_P;
    if (v & OCW3_RR)
        c->read_isr = v & OCW3_RIS;
}

static void chip_write(pic_pair *p, int idx, bool a0, uint8_t v)
{
    pic_chip *c = &p->chip[idx];
    if (!a0) {
        if (v & ICW1_SEL)
            write_icw1(c, v);
        else if (v & OCW3_SEL)
            write_ocw3(c, v);
        else
            write_ocw2(c, v);
    } else {
        switch (c->init_step) {
        case 2: /* ICW2 */
            c->icw2 = v & 0xf8;
            c->init_step = c->sngl ? (c->ic4 ? 4 : 0) : 3;
            break;
        case 3: /* ICW3 */
            c->icw3 = v;
            c->init_step = c->ic4 ? 4 : 0;
            break;
        case 4: /* ICW4 */
            if (!(v & ICW4_UPM))
                warn_once(p, WARN_8080, "ICW4 selects 8080 mode; vectors stay 8086-style");
            c->aeoi = v & ICW4_AEOI;
            c->sfnm = v & ICW4_SFNM;
            c->init_step = 0;
            break;
        default: /* OCW1 */
            c->imr = v;
            break;
        }
    }
    update(p);
}

static uint8_t chip_read(pic_pair *p, int idx, bool a0)
{
    pic_chip *c = &p->chip[idx];
    if (c->poll)
        return chip_poll(p, idx);
    if (a0)
        return c->imr;
    return c->read_isr ? c->isr : c->irr;
}

static uint32_t pic_io_read(void *opaque, uint16_t port, unsigned size)
{
    pic_pair *p = opaque;
    (void)size;
    if (port >= PIC_ELCR_PORT)
        return p->chip[port & 1].elcr;
    return chip_read(p, port >= PIC_SLAVE_PORT, port & 1);
}

static void pic_io_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    pic_pair *p = opaque;
    (void)size; /* always 1: the bus splits wider accesses */
    if (port >= PIC_ELCR_PORT) {
        pic_chip *c = &p->chip[port & 1];
        c->elcr = (uint8_t)value & c->elcr_mask;
        /* Pins now level triggered follow their line at once. */
        c->irr = (uint8_t)((c->irr & ~c->elcr) | (c->lines & c->elcr));
        update(p);
        return;
    }
    chip_write(p, port >= PIC_SLAVE_PORT, port & 1, (uint8_t)value);
}

static const io_ops pic_ops = {
    .read = pic_io_read,
    .write = pic_io_write,
    .max_size = 1,
};

static void pic_reset(void *dev)
{
    pic_pair *p = dev;
    for (int i = 0; i < 2; i++) {
        pic_chip *c = &p->chip[i];
        uint8_t lines = c->lines, mask = c->elcr_mask;
        *c = (pic_chip){ .lines = lines, .elcr_mask = mask, .lowest = 7 };
    }
    p->chip[0].lines &= ~(1u << PIC_CASCADE_IR);
    p->intr = false;
    irq_set(&p->b->cpu_intr, 0);
    update(p);
}

static bool ports_free(const io_space *io, uint16_t base, unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        if (io_owner(io, (uint16_t)(base + i)))
            return false;
    return true;
}

static void *pic_create(board *b, const device_config *cfg, char *err, size_t errlen)
{
    (void)cfg; /* the AT's ports are fixed */
    if (!ports_free(b->io, PIC_MASTER_PORT, 2) || !ports_free(b->io, PIC_SLAVE_PORT, 2) ||
        !ports_free(b->io, PIC_ELCR_PORT, 2)) {
        snprintf(err, errlen, "pic: ports 0x20, 0xa0 or 0x4d0 already in use");
        return NULL;
    }
    pic_pair *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "pic: out of memory");
        return NULL;
    }
    p->b = b;
    p->chip[0].elcr_mask = 0xf8; /* IRQ 0, 1, 2 are edge only */
    p->chip[1].elcr_mask = 0xde; /* IRQ 8, 13 are edge only */
    io_register(b->io, PIC_MASTER_PORT, 2, &pic_ops, p, "pic-master");
    io_register(b->io, PIC_SLAVE_PORT, 2, &pic_ops, p, "pic-slave");
    io_register(b->io, PIC_ELCR_PORT, 2, &pic_ops, p, "elcr");
    for (int i = 0; i < 16; i++) {
        /* IRQ2 is the cascade: nothing on the ISA bus reaches it. */
        if (i == PIC_CASCADE_IR)
            b->isa_irq[i] = (irq_line){ 0 };
        else
            b->isa_irq[i] = (irq_line){ .handler = pic_set_irq, .opaque = p, .pin = i };
    }
    b->intr_ack = pic_intr_ack;
    b->intr_ack_opaque = p;
    pic_reset(p);
    return p;
}

static void pic_destroy(void *dev)
{
    pic_pair *p = dev;
    board *b = p->b;
    for (int i = 0; i < 16; i++)
        if (b->isa_irq[i].opaque == p)
            b->isa_irq[i] = (irq_line){ 0 };
    if (b->intr_ack_opaque == p) {
        b->intr_ack = NULL;
        b->intr_ack_opaque = NULL;
    }
    free(p);
}

const device_type pic_type = {
    .name = "i8259",
    .description = "8259A interrupt controller pair with ELCR (0x20, 0xa0, 0x4d0)",
    .create = pic_create,
    .reset = pic_reset,
    .destroy = pic_destroy,
};
