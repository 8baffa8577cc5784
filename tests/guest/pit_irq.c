/*
 * Timer interrupts: the 8254 PIT (channel 0, mode 2, 1000 Hz) through the
 * 8259A PIC pair (ICW1-ICW4, OCW1 mask, OCW2 EOI, OCW3 IRR/ISR reads) to
 * the CPU, woken from HLT with IF=1.  Counts 50 ticks.
 */
#include "guest.h"

#define PIC1 0x20
#define PIC2 0xa0
#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define PIT_HZ 1193182u
#define TICKS 50

static volatile uint32_t ticks, isr_if, isr_in_service, isr_vector_ok = 1;

static void isr_timer(struct frame *f)
{
    if (f->vector != 0x20)
        isr_vector_ok = 0;
    isr_if |= read_eflags() & EFL_IF;
    outb(PIC1, 0x0b);                   /* OCW3: read ISR */
    if (inb(PIC1) & 1)
        isr_in_service++;
    ticks++;
    outb(PIC1, 0x20);                   /* OCW2: non-specific EOI */
}

static void pic_init(void)
{
    outb(PIC1, 0x11);       /* ICW1: edge, cascade, ICW4 needed */
    outb(PIC2, 0x11);
    outb(PIC1 + 1, 0x20);   /* ICW2: master vectors 0x20-0x27 */
    outb(PIC2 + 1, 0x28);   /*       slave 0x28-0x2f */
    outb(PIC1 + 1, 0x04);   /* ICW3: slave on IR2 */
    outb(PIC2 + 1, 0x02);   /*       slave identity 2 */
    outb(PIC1 + 1, 0x01);   /* ICW4: 8086 mode */
    outb(PIC2 + 1, 0x01);
    outb(PIC1 + 1, 0xff);   /* OCW1: everything masked for now */
    outb(PIC2 + 1, 0xff);
}

static uint16_t pit_read(void)
{
    outb(PIT_CMD, 0x00);    /* counter latch, channel 0 */
    uint8_t lo = inb(PIT_CH0);
    uint8_t hi = inb(PIT_CH0);
    return (uint16_t)(hi << 8 | lo);
}

/* Wait until the PIT counter has wrapped n times (a read going up). */
static int pit_wait_wraps(int n)
{
    uint16_t prev = pit_read();
    for (long i = 0; i < 50000000 && n > 0; i++) {
        uint16_t now = pit_read();
        if (now > prev)
            n--;
        prev = now;
    }
    return n == 0;
}

/* Poll IRR bit 0 for up to 100 timer periods. */
static int irr_wait(void)
{
    for (int i = 0; i < 100; i++) {
        outb(PIC1, 0x0a);   /* OCW3: read IRR */
        if (inb(PIC1) & 1)
            return 1;
        pit_wait_wraps(1);
    }
    return 0;
}

void test_main(void)
{
    gprintf("pit_irq: PIT channel 0 at 1000 Hz through the PIC, woken from HLT\n");
    cli();
    pic_init();
    set_handler(0x20, isr_timer);
    uint16_t divisor = (PIT_HZ + 500) / 1000;
    outb(PIT_CMD, 0x34);    /* channel 0, lobyte/hibyte, mode 2, binary */
    outb(PIT_CH0, divisor & 0xff);
    outb(PIT_CH0, divisor >> 8);

    uint16_t c1 = pit_read();
    check(c1 >= 1 && c1 <= divisor, "latched count %u within 1..%u", c1, divisor);
    check(pit_wait_wraps(3), "the counter counts down and reloads");

    check(irr_wait(), "IRR bit 0 set while IRQ 0 is masked");
    check_eq("IMR read back", inb(PIC1 + 1), 0xff);
    check_eq("no interrupt while masked", ticks, 0);

    outb(PIC1 + 1, 0xfe);   /* unmask IRQ 0 only */
    check_eq("IMR read back after unmasking", inb(PIC1 + 1), 0xfe);
    uint32_t wakeups = 0;
    while (ticks < TICKS && wakeups < 10 * TICKS) {
        __asm__ volatile("sti\n\thlt\n\tcli" ::: "memory");
        wakeups++;
    }
    check(ticks >= TICKS, "%u timer interrupts in %u HLTs", ticks, wakeups);
    check(wakeups <= ticks + 1, "each HLT woke on an interrupt (%u HLTs, %u ticks)", wakeups,
          ticks);
    check(isr_vector_ok, "IRQ 0 arrived as vector 0x20 (ICW2)");
    check_eq("IF clear in the handler (interrupt gate)", isr_if, 0);
    check_eq("ISR bit 0 set in the handler before the EOI, every time", isr_in_service, ticks);
    outb(PIC1, 0x0b);
    check_eq("ISR empty after the EOIs", inb(PIC1), 0);

    /* Masked again: no more interrupts even with IF=1. */
    outb(PIC1 + 1, 0xff);
    uint32_t before = ticks;
    sti();
    pit_wait_wraps(3);
    cli();
    check_eq("no interrupts with IRQ 0 masked and IF=1", ticks - before, 0);

    /* Unmasking delivers the request pending in IRR at once.  Wait for IRR,
     * then slow the PIT to its longest period (count 0 = 65536, ~55 ms) so
     * that no new edge comes while we look. */
    check(irr_wait(), "IRR bit 0 set again while masked");
    outb(PIT_CMD, 0x34);
    outb(PIT_CH0, 0);
    outb(PIT_CH0, 0);
    uint16_t prev = pit_read();
    int wrapped = 0;
    long spins = 0;
    sti();
    outb(PIC1 + 1, 0xfe);
    for (; spins < 1000 && ticks == before && !wrapped; spins++) {
        uint16_t now = pit_read();
        wrapped = now > prev;
        prev = now;
    }
    cli();
    check(ticks - before == 1 && !wrapped,
          "the request pending in IRR arrives on unmasking (%u interrupt(s) after %u reads%s)",
          ticks - before, (uint32_t)spins, wrapped ? ", after a new period" : "");
    outb(PIC1 + 1, 0xff);
}
