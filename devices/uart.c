/*
 * National Semiconductor PC16550D UART (the "16550A" of PC COM ports).
 *
 * Modelled, by section of the PC16550D datasheet:
 *   - "Registers" (Table II): RBR, THR, IER, IIR, FCR, LCR, MCR, LSR, MSR,
 *     SCR, and the divisor latch DLL/DLM behind LCR's DLAB.
 *   - "FIFO Interrupt Mode Operation": 16-byte receiver FIFO with trigger
 *     levels 1, 4, 8, 14 and the character timeout interrupt (no
 *     character in or out of a non-empty FIFO for four character times at
 *     the programmed divisor and frame format); FCR resets of either FIFO.
 *     Without FIFOs the receiver is a single holding register.
 *   - Interrupt priorities of Table IV: receiver line status, received
 *     data available, character timeout, THR empty, modem status, with
 *     their reset conditions (reading LSR, RBR, IIR, MSR; writing THR).
 *     THRE is raised when ETBEI goes from 0 to 1 with THR empty.
 *   - Overrun (LSR OE) when the receiver has no room.
 *   - "Loopback" (MCR bit 4): THR goes to the receiver, RTS/DTR/OUT1/OUT2
 *     appear as CTS/DSR/RI/DCD in MSR with their delta bits, and the serial
 *     input is disconnected.  Linux's 8250 probe checks MSR = 0x90 after
 *     writing MCR = 0x1A.
 *   - The PC wiring: the INTR pin reaches the ISA IRQ only while OUT2 is
 *     set; in loopback OUT2's pin is forced inactive, so no IRQ reaches the
 *     PIC (the interrupt is still visible in IIR).
 *
 * Departures: transmission is instantaneous (THR and the transmitter are
 * empty again as soon as a byte is written, so LSR THRE/TEMT always read
 * 1 and the transmit FIFO never fills); parity, framing and break errors
 * are never produced; outside loopback the modem inputs are those of a
 * null-modem cable (CTS, DSR and DCD on, RI off).  The UART reaches the
 * host through board->serial[index]; with no back end, output is dropped.
 */
#include "devices/uart.h"

#include <stdio.h>
#include <stdlib.h>

#include "devices/board.h"

#define UART_FIFO_SIZE 16
#define UART_CLOCK_HZ  1843200u

/* register offsets */
enum { UART_RBR = 0, UART_IER = 1, UART_IIR = 2, UART_LCR = 3, UART_MCR = 4,
       UART_LSR = 5, UART_MSR = 6, UART_SCR = 7 };

/* IER */
#define IER_ERBFI 0x01
#define IER_ETBEI 0x02
#define IER_ELSI  0x04
#define IER_EDSSI 0x08
/* IIR */
#define IIR_NO_INT  0x01
#define IIR_MS      0x00
#define IIR_THRE    0x02
#define IIR_RDA     0x04
#define IIR_RLS     0x06
#define IIR_TIMEOUT 0x0c
#define IIR_FIFOS   0xc0
/* FCR */
#define FCR_ENABLE    0x01
#define FCR_RX_RESET  0x02
#define FCR_TX_RESET  0x04
#define FCR_KEEP      0xc9 /* enable, DMA mode, trigger level */
/* LCR */
#define LCR_PEN  0x08
#define LCR_STB  0x04
#define LCR_DLAB 0x80
/* MCR */
#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
/* LSR */
#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_PE   0x04
#define LSR_FE   0x08
#define LSR_BI   0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_ERRS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)
/* MSR */
#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS  0x10
#define MSR_DSR  0x20
#define MSR_RI   0x40
#define MSR_DCD  0x80
#define MSR_DELTAS 0x0f

#define NULL_MODEM_INPUTS (MSR_CTS | MSR_DSR | MSR_DCD)

struct uart_state {
    board *b;
    int index;
    int irq;
    char name[16];

    uint8_t ier, fcr, lcr, mcr, lsr, msr, scr;
    uint16_t dl;                /* divisor latch */
    uint8_t rbr;                /* last character read */
    uint8_t rx[UART_FIFO_SIZE]; /* receiver FIFO (ring) */
    unsigned rx_head, rx_count;
    bool thr_ipending;          /* THRE interrupt not yet reset */
    bool timeout_ipending;      /* character timeout indication */
    int irq_level;
    vtimer rx_timer;            /* character timeout */
};

static bool fifo_on(const uart_state *u)
{
    return u->fcr & FCR_ENABLE;
}

static unsigned rx_trigger(const uart_state *u)
{
    static const unsigned level[4] = { 1, 4, 8, 14 };
    return fifo_on(u) ? level[u->fcr >> 6] : 1;
}

/* The pending interrupt of highest priority, as IIR bits 3-0. */
static uint8_t iir_id(const uart_state *u)
{
    if ((u->ier & IER_ELSI) && (u->lsr & LSR_ERRS))
        return IIR_RLS;
    if ((u->ier & IER_ERBFI) && u->rx_count >= rx_trigger(u))
        return IIR_RDA;
    if ((u->ier & IER_ERBFI) && u->timeout_ipending)
        return IIR_TIMEOUT;
    if ((u->ier & IER_ETBEI) && u->thr_ipending)
        return IIR_THRE;
    if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTAS))
        return IIR_MS;
    return IIR_NO_INT;
}

static void update_irq(uart_state *u)
{
    int level = iir_id(u) != IIR_NO_INT && (u->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;
    if (level == u->irq_level)
        return;
    u->irq_level = level;
    if (u->irq >= 0)
        irq_set(&u->b->isa_irq[u->irq], level);
}

/* One character time in ns at the current divisor and frame format. */
static uint64_t char_time_ns(const uart_state *u)
{
    unsigned bits = 1 + 5 + (u->lcr & 3) + ((u->lcr & LCR_PEN) ? 1 : 0) +
                    ((u->lcr & LCR_STB) ? 2 : 1);
    uint64_t dl = u->dl ? u->dl : 65536;
    return (uint64_t)bits * 16 * dl * 1000000000ull / UART_CLOCK_HZ;
}

static void rx_timer_restart(uart_state *u)
{
    vclock *clk = u->b->clock;
    if (fifo_on(u) && u->rx_count)
        vtimer_arm(clk, &u->rx_timer, vclock_now(clk) + 4 * char_time_ns(u));
    else
        vtimer_cancel(clk, &u->rx_timer);
}

static void rx_timeout(void *opaque, uint64_t now)
{
    uart_state *u = opaque;
    (void)now;
    if (fifo_on(u) && u->rx_count) {
        u->timeout_ipending = true;
        update_irq(u);
    }
}

static void rx_clear(uart_state *u)
{
    u->rx_head = 0;
    u->rx_count = 0;
    u->timeout_ipending = false;
    vtimer_cancel(u->b->clock, &u->rx_timer);
}

/* A character arrives from the serial input (or from THR in loopback). */
static void rx_push(uart_state *u, uint8_t byte)
{
    unsigned cap = fifo_on(u) ? UART_FIFO_SIZE : 1;
    if (u->rx_count >= cap) {
        u->lsr |= LSR_OE;
        if (!fifo_on(u))
            u->rx[u->rx_head] = byte; /* the holding register is overwritten */
    } else {
        u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = byte;
        u->rx_count++;
    }
    rx_timer_restart(u);
    update_irq(u);
}

static uint8_t rbr_read(uart_state *u)
{
    if (u->rx_count) {
        u->rbr = u->rx[u->rx_head];
        u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
        u->rx_count--;
    }
    u->timeout_ipending = false;
    rx_timer_restart(u);
    update_irq(u);
    return u->rbr;
}

static void thr_write(uart_state *u, uint8_t byte)
{
    if (u->mcr & MCR_LOOP)
        rx_push(u, byte);
    else if (u->index >= 0 && u->index < BOARD_MAX_SERIAL)
        chardev_write(u->b->serial[u->index], &byte, 1);
    /* The byte is gone at once: THR is empty again. */
    u->thr_ipending = true;
    update_irq(u);
}

/* New levels of the modem inputs (MSR bits 7-4), with their deltas. */
static void set_modem_inputs(uart_state *u, uint8_t in)
{
    uint8_t changed = (uint8_t)((u->msr ^ in) & 0xf0);
    if (changed & MSR_CTS)
        u->msr |= MSR_DCTS;
    if (changed & MSR_DSR)
        u->msr |= MSR_DDSR;
    if (changed & MSR_DCD)
        u->msr |= MSR_DDCD;
    if ((changed & MSR_RI) && !(in & MSR_RI))
        u->msr |= MSR_TERI; /* trailing edge of RI */
    u->msr = (uint8_t)((u->msr & MSR_DELTAS) | in);
}

static void mcr_write(uart_state *u, uint8_t v)
{
    u->mcr = v & 0x1f;
    if (u->mcr & MCR_LOOP) {
        uint8_t in = 0;
        if (u->mcr & MCR_RTS)
            in |= MSR_CTS;
        if (u->mcr & MCR_DTR)
            in |= MSR_DSR;
        if (u->mcr & MCR_OUT1)
            in |= MSR_RI;
        if (u->mcr & MCR_OUT2)
            in |= MSR_DCD;
        set_modem_inputs(u, in);
    } else {
        set_modem_inputs(u, NULL_MODEM_INPUTS);
    }
    update_irq(u);
}

static void fcr_write(uart_state *u, uint8_t v)
{
    if ((v ^ u->fcr) & FCR_ENABLE)
        rx_clear(u); /* changing FIFO mode resets both FIFOs */
    if (!(v & FCR_ENABLE)) {
        u->fcr = 0;
    } else {
        if (v & FCR_RX_RESET)
            rx_clear(u);
        /* FCR_TX_RESET: the transmit FIFO is always empty here. */
        u->fcr = v & FCR_KEEP;
        rx_timer_restart(u);
    }
    update_irq(u);
}

static uint32_t uart_io_read(void *opaque, uint16_t port, unsigned size)
{
    uart_state *u = opaque;
    uint8_t v;
    (void)size;
    switch (port & 7) {
    case UART_RBR:
        return (u->lcr & LCR_DLAB) ? (u->dl & 0xff) : rbr_read(u);
    case UART_IER:
        return (u->lcr & LCR_DLAB) ? (u->dl >> 8) : u->ier;
    case UART_IIR:
        v = iir_id(u);
        if (v == IIR_THRE) {
            u->thr_ipending = false; /* reading IIR resets the THRE source */
            update_irq(u);
        }
        return v | (fifo_on(u) ? IIR_FIFOS : 0);
    case UART_LCR:
        return u->lcr;
    case UART_MCR:
        return u->mcr;
    case UART_LSR:
        v = (uint8_t)(u->lsr | LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0));
        u->lsr &= ~LSR_ERRS;
        update_irq(u);
        return v;
    case UART_MSR:
        v = u->msr;
        u->msr &= ~MSR_DELTAS;
        update_irq(u);
        return v;
    default:
        return u->scr;
    }
}

static void uart_io_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    uart_state *u = opaque;
    uint8_t v = (uint8_t)value;
    (void)size;
    switch (port & 7) {
    case UART_RBR:
        if (u->lcr & LCR_DLAB)
            u->dl = (uint16_t)((u->dl & 0xff00) | v);
        else
            thr_write(u, v);
        break;
    case UART_IER:
        if (u->lcr & LCR_DLAB) {
            u->dl = (uint16_t)((u->dl & 0x00ff) | v << 8);
            break;
        }
        if ((v & IER_ETBEI) && !(u->ier & IER_ETBEI))
            u->thr_ipending = true; /* THR is always empty */
        u->ier = v & 0x0f;
        update_irq(u);
        break;
    case UART_IIR:
        fcr_write(u, v);
        break;
    case UART_LCR:
        u->lcr = v;
        break;
    case UART_MCR:
        mcr_write(u, v);
        break;
    case UART_SCR:
        u->scr = v;
        break;
    default: /* LSR and MSR: factory test writes, ignored */
        break;
    }
}

static const io_ops uart_ops = {
    .read = uart_io_read,
    .write = uart_io_write,
    .max_size = 1,
};

static bool uart_can_receive(void *dev)
{
    uart_state *u = dev;
    if (u->mcr & MCR_LOOP)
        return false;
    return u->rx_count < (fifo_on(u) ? UART_FIFO_SIZE : 1u);
}

static void uart_receive(void *dev, uint8_t byte)
{
    uart_state *u = dev;
    if (u->mcr & MCR_LOOP)
        return; /* the serial input is disconnected in loopback */
    rx_push(u, byte);
}

static void uart_reset(void *dev)
{
    uart_state *u = dev;
    rx_clear(u);
    u->ier = 0;
    u->fcr = 0;
    u->lcr = 0;
    u->mcr = 0;
    u->lsr = 0;
    u->msr = NULL_MODEM_INPUTS;
    u->scr = 0;
    u->dl = 12; /* 9600 baud; the datasheet leaves it undefined */
    u->rbr = 0;
    u->thr_ipending = false;
    update_irq(u);
}

static bool ports_free(const io_space *io, uint16_t base, unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        if (io_owner(io, (uint16_t)(base + i)))
            return false;
    return true;
}

static void *uart_create(board *b, const device_config *cfg, char *err, size_t errlen)
{
    const char *name = cfg->name ? cfg->name : "uart";
    if (cfg->irq > 15 || cfg->index < 0 || cfg->index >= BOARD_MAX_SERIAL ||
        (cfg->port & 7) || cfg->port > 0xfff8) {
        snprintf(err, errlen, "%s: bad port 0x%x, irq %d or index %d", name, cfg->port,
                 cfg->irq, cfg->index);
        return NULL;
    }
    if (!ports_free(b->io, cfg->port, 8)) {
        snprintf(err, errlen, "%s: ports 0x%x-0x%x already in use", name, cfg->port,
                 cfg->port + 7);
        return NULL;
    }
    uart_state *u = calloc(1, sizeof(*u));
    if (!u) {
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    u->b = b;
    u->index = cfg->index;
    u->irq = cfg->irq;
    snprintf(u->name, sizeof(u->name), "%s", name);
    vtimer_init(&u->rx_timer, rx_timeout, u);
    io_register(b->io, cfg->port, 8, &uart_ops, u, u->name);
    chardev *cd = b->serial[u->index];
    if (cd) {
        cd->can_receive = uart_can_receive;
        cd->receive = uart_receive;
        cd->dev = u;
    }
    u->irq_level = 0;
    uart_reset(u);
    return u;
}

static void uart_destroy(void *dev)
{
    uart_state *u = dev;
    chardev *cd = u->b->serial[u->index];
    if (cd && cd->dev == u) {
        cd->can_receive = NULL;
        cd->receive = NULL;
        cd->dev = NULL;
    }
    vtimer_cancel(u->b->clock, &u->rx_timer);
    free(u);
}

const device_type uart_type = {
    .name = "isa-serial",
    .description = "16550A UART (port=, irq=, index= of the serial back end)",
    .create = uart_create,
    .reset = uart_reset,
    .destroy = uart_destroy,
};
