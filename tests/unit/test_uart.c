/*
 * 16550A UART: programmed through its ports, with a fake serial back end
 * and a fake interrupt controller counting IRQ 4.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/board.h"
#include "devices/uart.h"

#define COM1 0x3f8
#define RBR (COM1 + 0)
#define THR (COM1 + 0)
#define DLL (COM1 + 0)
#define IER (COM1 + 1)
#define DLM (COM1 + 1)
#define IIR (COM1 + 2)
#define FCR (COM1 + 2)
#define LCR (COM1 + 3)
#define MCR (COM1 + 4)
#define LSR (COM1 + 5)
#define MSR (COM1 + 6)
#define SCR (COM1 + 7)

typedef struct fixture {
    io_space io;
    vclock clk;
    board b;
    chardev cd;
    uint8_t out[256];
    size_t nout;
    int level;
    int rises;
} fixture;

static void fake_write(chardev *cd, const uint8_t *buf, size_t len)
{
    fixture *f = cd->host;
    for (size_t i = 0; i < len && f->nout < sizeof(f->out); i++)
        f->out[f->nout++] = buf[i];
}

static void fake_irq(void *opaque, int pin, int level)
{
    fixture *f = opaque;
    (void)pin;
    if (level && !f->level)
        f->rises++;
    f->level = level;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char err[128];
    io_space_init(&f->io);
    vclock_init(&f->clk, true);
    board_init(&f->b, NULL, &f->io, &f->clk);
    f->cd.write = fake_write;
    f->cd.host = f;
    f->b.serial[0] = &f->cd;
    f->b.isa_irq[4] = (irq_line){ .handler = fake_irq, .opaque = f, .pin = 4 };
    device_config com1 = { .name = "com1", .port = COM1, .irq = 4, .index = 0 };
    device_config com2 = { .name = "com2", .port = 0x2f8, .irq = 3, .index = 1 };
    assert_int_equal(board_add(&f->b, &uart_type, &com1, err, sizeof(err)), 0);
    assert_int_equal(board_add(&f->b, &uart_type, &com2, err, sizeof(err)), 0);
    assert_ptr_equal(f->cd.dev, board_find_device(&f->b, "com1"));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    board_destroy(&f->b);
    assert_null(f->cd.dev);
    free(f);
    return 0;
}

static void outb(fixture *f, uint16_t port, uint8_t v)
{
    io_write(&f->io, port, v, 1);
}

static uint8_t inb(fixture *f, uint16_t port)
{
    return (uint8_t)io_read(&f->io, port, 1);
}

static void host_sends(fixture *f, uint8_t byte)
{
    f->cd.receive(f->cd.dev, byte);
}

static void test_reset_state_and_registers(void **state)
{
    fixture *f = *state;
    assert_int_equal(inb(f, IER), 0x00);
    assert_int_equal(inb(f, IIR), 0x01);
    assert_int_equal(inb(f, LCR), 0x00);
    assert_int_equal(inb(f, MCR), 0x00);
    assert_int_equal(inb(f, LSR), 0x60);
    assert_int_equal(inb(f, MSR), 0xb0);
    outb(f, SCR, 0x5a);
    assert_int_equal(inb(f, SCR), 0x5a);
    outb(f, LCR, 0x1b);
    assert_int_equal(inb(f, LCR), 0x1b);
    /* Only IER bits 3-0 exist (Linux's probe checks this). */
    outb(f, IER, 0xff);
    assert_int_equal(inb(f, IER), 0x0f);
    outb(f, IER, 0x00);
    /* An unclaimed port next to it still reads as open bus. */
    assert_int_equal(inb(f, 0x3f0), 0xff);
}

static void test_divisor_latch(void **state)
{
    fixture *f = *state;
    outb(f, LCR, 0x83);       /* DLAB, 8N1 */
    outb(f, DLL, 0x01);
    outb(f, DLM, 0x02);
    assert_int_equal(inb(f, DLL), 0x01);
    assert_int_equal(inb(f, DLM), 0x02);
    assert_int_equal(f->nout, 0);  /* DLL write is not a THR write */
    outb(f, LCR, 0x03);
    assert_int_equal(inb(f, IER), 0x00);
    outb(f, IER, 0x05);
    outb(f, LCR, 0x83);
    assert_int_equal(inb(f, DLM), 0x02);
    outb(f, LCR, 0x03);
    assert_int_equal(inb(f, IER), 0x05);
}

static void test_output_reaches_chardev(void **state)
{
    fixture *f = *state;
    const char *msg = "hello\n";
    for (const char *p = msg; *p; p++) {
        assert_int_equal(inb(f, LSR) & 0x60, 0x60);
        outb(f, THR, (uint8_t)*p);
    }
    assert_int_equal(f->nout, strlen(msg));
    assert_memory_equal(f->out, msg, strlen(msg));
    /* COM2 has no back end: its bytes are dropped quietly. */
    io_write(&f->io, 0x2f8, 'x', 1);
    assert_int_equal(f->nout, strlen(msg));
    assert_int_equal(io_read(&f->io, 0x2fd, 1) & 0x60, 0x60);
}

static void test_loopback(void **state)
{
    fixture *f = *state;
    /* Linux's autoconfig: MCR = LOOP | OUT2 | RTS gives CTS | DCD. */
    outb(f, MCR, 0x1a);
    assert_int_equal(inb(f, MSR) & 0xf0, 0x90);
    outb(f, MCR, 0x1f);
    uint8_t msr = inb(f, MSR);
    assert_int_equal(msr & 0xf0, 0xf0);
    assert_int_equal(msr & 0x0f, 0x02);        /* only DSR changed */
    outb(f, MCR, 0x1b);                        /* OUT1 (RI) falls */
    assert_int_equal(inb(f, MSR) & 0x0f, 0x04); /* TERI */
    assert_int_equal(inb(f, MSR) & 0x0f, 0x00); /* deltas clear on read */

    /* THR loops into RBR, not to the host; the host cannot send. */
    assert_false(f->cd.can_receive(f->cd.dev));
    outb(f, THR, 0xa5);
    assert_int_equal(f->nout, 0);
    assert_int_equal(inb(f, LSR) & 0x01, 0x01);
    assert_int_equal(inb(f, RBR), 0xa5);
    assert_int_equal(inb(f, LSR) & 0x01, 0x00);

    outb(f, MCR, 0x0b);
    assert_int_equal(inb(f, MSR) & 0xf0, 0xb0);
    assert_true(f->cd.can_receive(f->cd.dev));
    outb(f, THR, 'z');
    assert_int_equal(f->nout, 1);
}

static void test_overrun_without_fifo(void **state)
{
    fixture *f = *state;
    assert_true(f->cd.can_receive(f->cd.dev));
    host_sends(f, 'a');
    assert_false(f->cd.can_receive(f->cd.dev));
    assert_int_equal(inb(f, LSR), 0x61);
    host_sends(f, 'b'); /* overwrites the holding register */
    assert_int_equal(inb(f, LSR), 0x63);
    assert_int_equal(inb(f, LSR), 0x61); /* OE clears on read */
    assert_int_equal(inb(f, RBR), 'b');
    assert_int_equal(inb(f, LSR), 0x60);
}

static void test_fifo_trigger_level(void **state)
{
    fixture *f = *state;
    outb(f, FCR, 0xc7);      /* enable, reset both, trigger 14 */
    outb(f, IER, 0x01);
    outb(f, MCR, 0x08);      /* OUT2: IRQ reaches the PIC */
    assert_int_equal(inb(f, IIR), 0xc1);
    for (int i = 0; i < 13; i++)
        host_sends(f, (uint8_t)('A' + i));
    assert_int_equal(inb(f, IIR), 0xc1);
    assert_int_equal(f->level, 0);
    host_sends(f, 'N');
    assert_int_equal(inb(f, IIR), 0xc4);
    assert_int_equal(f->level, 1);
    host_sends(f, 'O');
    host_sends(f, 'P');
    assert_false(f->cd.can_receive(f->cd.dev));
    host_sends(f, 'Q'); /* no room: lost, OE */
    assert_int_equal(inb(f, LSR) & 0x03, 0x03);
    assert_int_equal(inb(f, RBR), 'A');
    assert_int_equal(inb(f, RBR), 'B');
    assert_int_equal(inb(f, RBR), 'C');
    assert_int_equal(inb(f, IIR), 0xc1); /* 13 left: below the trigger */
    assert_int_equal(f->level, 0);
    for (int i = 3; i < 16; i++)
        assert_int_equal(inb(f, RBR), 'A' + i);
    assert_int_equal(inb(f, LSR) & 0x01, 0);

    /* Trigger levels 1, 4, 8. */
    outb(f, FCR, 0x41);
    for (int i = 0; i < 3; i++)
        host_sends(f, 'x');
    assert_int_equal(inb(f, IIR), 0xc1);
    host_sends(f, 'x');
    assert_int_equal(inb(f, IIR), 0xc4);
    outb(f, FCR, 0x83); /* trigger 8, reset receiver */
    assert_int_equal(inb(f, LSR) & 0x01, 0);
    outb(f, FCR, 0x00); /* FIFOs off: IIR bits 7-6 clear */
    host_sends(f, 'y');
    assert_int_equal(inb(f, IIR), 0x04);
}

static void test_rx_timeout(void **state)
{
    fixture *f = *state;
    outb(f, LCR, 0x83);
    outb(f, DLL, 0x01);       /* 115200 baud */
    outb(f, DLM, 0x00);
    outb(f, LCR, 0x03);       /* 8N1: 10 bits, 86.8 us a character */
    outb(f, FCR, 0x81);       /* trigger 8 */
    outb(f, IER, 0x01);
    outb(f, MCR, 0x08);
    host_sends(f, '1');
    host_sends(f, '2');
    host_sends(f, '3');
    vclock_advance(&f->clk, 340000);
    assert_int_equal(inb(f, IIR), 0xc1);
    assert_int_equal(f->level, 0);
    vclock_advance(&f->clk, 10000); /* 4 character times: 347 us */
    assert_int_equal(inb(f, IIR), 0xcc);
    assert_int_equal(f->level, 1);
    assert_int_equal(inb(f, RBR), '1');
    assert_int_equal(inb(f, IIR), 0xc1);
    assert_int_equal(f->level, 0);
    vclock_advance(&f->clk, 350000);
    assert_int_equal(inb(f, IIR), 0xcc);
    assert_int_equal(inb(f, RBR), '2');
    assert_int_equal(inb(f, RBR), '3');
    vclock_advance(&f->clk, 10000000);
    assert_int_equal(inb(f, IIR), 0xc1); /* empty: no timeout */
    assert_int_equal(vclock_next_deadline(&f->clk), VCLOCK_NEVER);
}

static void test_iir_priorities(void **state)
{
    fixture *f = *state;
    outb(f, MCR, 0x10);       /* loopback, to make modem status changes */
    assert_int_equal(inb(f, MSR), 0x0b); /* CTS, DSR, DCD fell */
    outb(f, MCR, 0x11);       /* DTR -> DSR: DDSR */
    host_sends(f, 'q');       /* ignored: input disconnected */
    outb(f, THR, 'a');
    outb(f, THR, 'b');        /* overrun of the holding register */
    outb(f, IER, 0x0f);
    assert_int_equal(inb(f, IIR), 0x06); /* receiver line status */
    assert_int_equal(inb(f, IIR), 0x06);
    assert_int_equal(inb(f, LSR) & 0x03, 0x03);
    assert_int_equal(inb(f, IIR), 0x04); /* received data */
    assert_int_equal(inb(f, RBR), 'b');
    assert_int_equal(inb(f, IIR), 0x02); /* THR empty; reading IIR resets it */
    assert_int_equal(inb(f, IIR), 0x00); /* modem status */
    assert_int_equal(inb(f, MSR) & 0x0f, 0x02);
    assert_int_equal(inb(f, IIR), 0x01);
}

static void test_thre_interrupt(void **state)
{
    fixture *f = *state;
    outb(f, MCR, 0x0b);       /* DTR, RTS, OUT2 */
    assert_int_equal(f->rises, 0);
    outb(f, IER, 0x02);       /* ETBEI with THR empty: interrupt */
    assert_int_equal(f->level, 1);
    assert_int_equal(f->rises, 1);
    assert_int_equal(inb(f, IIR), 0x02);
    assert_int_equal(f->level, 0);
    assert_int_equal(inb(f, IIR), 0x01);
    outb(f, IER, 0x02);       /* no change of ETBEI: nothing new */
    assert_int_equal(f->level, 0);
    outb(f, THR, 'x');        /* sent at once: THR empty again */
    assert_int_equal(f->level, 1);
    assert_int_equal(f->rises, 2);
    outb(f, IER, 0x00);
    assert_int_equal(f->level, 0);
    assert_int_equal(inb(f, IIR), 0x01);
    outb(f, IER, 0x02);
    assert_int_equal(f->rises, 3);
    outb(f, THR, 'y');        /* resets the source, which comes back at once */
    assert_int_equal(inb(f, IIR), 0x02);
    assert_memory_equal(f->out, "xy", 2);
}

static void test_irq_gated_by_out2(void **state)
{
    fixture *f = *state;
    outb(f, IER, 0x01);
    host_sends(f, 'k');
    assert_int_equal(inb(f, IIR), 0x04);
    assert_int_equal(f->level, 0);       /* OUT2 off: no IRQ */
    outb(f, MCR, 0x08);
    assert_int_equal(f->level, 1);
    outb(f, MCR, 0x18);                  /* loopback forces OUT2 inactive */
    assert_int_equal(f->level, 0);
    assert_int_equal(inb(f, IIR), 0x04);
    outb(f, MCR, 0x08);
    assert_int_equal(f->level, 1);
    assert_int_equal(inb(f, RBR), 'k');
    assert_int_equal(f->level, 0);
}

static void test_reset(void **state)
{
    fixture *f = *state;
    outb(f, FCR, 0x01);
    outb(f, IER, 0x03);
    outb(f, MCR, 0x08);
    host_sends(f, 'r');
    assert_int_equal(f->level, 1);
    board_reset(&f->b);
    assert_int_equal(f->level, 0);
    assert_int_equal(inb(f, IIR), 0x01);
    assert_int_equal(inb(f, LSR), 0x60);
    assert_int_equal(inb(f, IER), 0x00);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reset_state_and_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_divisor_latch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_reaches_chardev, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overrun_without_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_trigger_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iir_priorities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thre_interrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_irq_gated_by_out2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
