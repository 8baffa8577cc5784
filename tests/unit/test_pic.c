/*
 * 8259A pair: programmed through its ports as a guest would, with the
 * CPU's INTR pin and INTA replaced by the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "devices/board.h"
#include "devices/pic.h"
#include "devices/pit.h"

typedef struct fixture {
    io_space io;
    vclock clk;
    board b;
    pic_pair *pic;
    int intr;          /* level of the fake CPU's INTR pin */
    int intr_changes;
} fixture;

static void fake_intr(void *opaque, int pin, int level)
{
    fixture *f = opaque;
    (void)pin;
    if (level != f->intr)
        f->intr_changes++;
    f->intr = level;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char err[128];
    io_space_init(&f->io);
    vclock_init(&f->clk, true);
    board_init(&f->b, NULL, &f->io, &f->clk);
    f->b.cpu_intr = (irq_line){ .handler = fake_intr, .opaque = f, .pin = 0 };
    device_config cfg = { .name = "pic", .port = 0x20, .irq = -1 };
    assert_int_equal(board_add(&f->b, &pic_type, &cfg, err, sizeof(err)), 0);
    f->pic = board_find_device(&f->b, "pic");
    assert_non_null(f->pic);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    board_destroy(&f->b);
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

static void raise_irq(fixture *f, int irq, int level)
{
    irq_set(&f->b.isa_irq[irq], level);
}

/* The usual PC programming: edge, cascade, 8086 mode, vectors 0x20/0x28. */
static void init_pair(fixture *f, uint8_t icw4)
{
    outb(f, 0x20, 0x11);
    outb(f, 0x21, 0x20);
    outb(f, 0x21, 0x04);
    outb(f, 0x21, icw4);
    outb(f, 0xa0, 0x11);
    outb(f, 0xa1, 0x28);
    outb(f, 0xa1, 0x02);
    outb(f, 0xa1, icw4);
}

static void test_init_raise_ack_eoi(void **state)
{
    fixture *f = *state;
    init_pair(f, 0x01);
    outb(f, 0x21, 0xf8); /* IRQ 0-2 unmasked */
    outb(f, 0xa1, 0xff);
    assert_int_equal(inb(f, 0x21), 0xf8);
    assert_false(pic_intr_asserted(f->pic));

    raise_irq(f, 1, 1);
    assert_true(pic_intr_asserted(f->pic));
    assert_int_equal(f->intr, 1);
    assert_int_equal(inb(f, 0x20), 0x02); /* IRR by default after ICW1 */

    assert_int_equal(pic_intr_ack(f->pic), 0x21);
    assert_false(pic_intr_asserted(f->pic));
    assert_int_equal(f->intr, 0);
    outb(f, 0x20, 0x0b); /* OCW3: read ISR */
    assert_int_equal(inb(f, 0x20), 0x02);
    outb(f, 0x20, 0x0a); /* OCW3: read IRR */
    assert_int_equal(inb(f, 0x20), 0x00);

    outb(f, 0x20, 0x20); /* non-specific EOI */
    assert_int_equal(pic_get_isr(f->pic), 0);
    /* The line is still high but edge triggered: nothing new. */
    assert_false(pic_intr_asserted(f->pic));
    raise_irq(f, 1, 0);
    raise_irq(f, 1, 1);
    assert_true(pic_intr_asserted(f->pic));
    assert_int_equal(f->b.intr_ack(f->b.intr_ack_opaque), 0x21);
}

static void test_mask(void **state)
{
    fixture *f = *state;
    init_pair(f, 0x01);
    outb(f, 0x21, 0xff);
    irq_pulse(&f->b.isa_irq[3]);
    assert_false(pic_intr_asserted(f->pic));
    assert_int_equal(pic_get_irr(f->pic), 0x0008); /* latched though masked */
    outb(f, 0x21, 0xf7);
    assert_true(pic_intr_asserted(f->pic));
    outb(f, 0x21, 0xff);
    assert_false(pic_intr_asserted(f->pic));
    assert_int_equal(f->intr_changes, 2);
}

static void test_priority_and_nesting(void **state)
{
    fixture *f = *state;
    init_pair(f, 0x01);
    outb(f, 0x21, 0x00);
    irq_pulse(&f->b.isa_irq[3]);
    irq_pulse(&f->b.isa_irq[1]);
    assert_int_equal(pic_intr_ack(f->pic), 0x21);
    /* IRQ3 is lower priority than IRQ1 in service. */
    assert_false(pic_intr_asserted(f->pic));
    irq_pulse(&f->b.isa_irq[0]);
    assert_true(pic_intr_asserted(f->pic));
    assert_int_equal(pic_intr_ack(f->pic), 0x20);
    assert_int_equal(pic_get_isr(f->pic), 0x0003);
    outb(f, 0x20, 0x20); /* clears IR0, the highest in service */
    assert_int_equal(pic_get_isr(f->pic), 0x0002);
    assert_false(pic_intr_asserted(f->pic));
    outb(f, 0x20, 0x61); /* specific EOI of IR1 */
    assert_int_equal(pic_get_isr(f->pic), 0);
    assert_true(pic_intr_asserted(f->pic));
    assert_int_equal(pic_intr_ack(f->pic), 0x23);
}

static void test_level_vs_edge(void **state)
{
    fixture *f = *state;
    init_pair(f, 0x01);
    outb(f, 0x21, 0xfb);
    outb(f, 0xa1, 0x00);
    outb(f, 0x4d1, 0xff);
    assert_int_equal(inb(f, 0x4d1), 0xde); /* IRQ 8 and 13 stay edge */
    outb(f, 0x4d0, 0xff);
    assert_int_equal(inb(f, 0x4d0), 0xf8);
    outb(f, 0x4d0, 0x00);
    outb(f, 0x4d1, 0x04); /* IRQ10 level */

    raise_irq(f, 10, 1);
    assert_true(pic_intr_asserted(f->pic));
    assert_int_equal(pic_intr_ack(f->pic), 0x2a);
    outb(f, 0xa0, 0x20);
    outb(f, 0x20, 0x20);
    /* Still high: a level input asks again. */
    assert_true(pic_intr_asserted(f->pic));
    assert_int_equal(pic_intr_ack(f->pic), 0x2a);
    raise_irq(f, 10, 0);
    outb(f, 0xa0, 0x20);
    outb(f, 0x20, 0x20);
    assert_false(pic_intr_asserted(f->pic));
    assert_int_equal(pic_get_irr(f->pic) & 0x0400, 0);

    /* A level request that goes away before INTA leaves nothing. */
    raise_irq(f, 10, 1);
    raise_irq(f, 10, 0);
    assert_int_equal(pic_get_irr(f->pic) & 0x0400, 0);

    /* The same pin made edge again keeps a pulse. */
    outb(f, 0x4d1, 0x00);
    irq_pulse(&f->b.isa_irq[10]);
    assert_int_equal(pic_get_irr(f->pic) & 0x0400, 0x0400);
}

static void test_cascade(void **state)
{
    fixture *f = *state;
    init_pair(f, 0x01);
    outb(f, 0x21, 0xfb);
    outb(f, 0xa1, 0xef); /* only IRQ12 */
    irq_pulse(&f->b.isa_irq[12]);
    assert_true(pic_intr_asserted(f->pic));
    assert_int_equal(pic_intr_ack(f->pic), 0x2c);
    assert_int_equal(pic_get_isr(f->pic), 0x1004);
    outb(f, 0xa0, 0x0b);
    assert_int_equal(inb(f, 0xa0), 0x10);
    outb(f, 0xa0, 0x20);
    outb(f, 0x20, 0x20);
    assert_int_equal(pic_get_isr(f->pic), 0);
    assert_false(pic_intr_asserted(f->pic));

    /* Two slave requests in one go: the second comes after the EOIs. */
    outb(f, 0xa1, 0x00);
    irq_pulse(&f->b.isa_irq[9]);
    irq_pulse(&f->b.isa_irq[14]);
    assert_int_equal(pic_intr_ack(f->pic), 0x29);
    assert_false(pic_intr_asserted(f->pic));
    outb(f, 0xa0, 0x20);
    assert_false(pic_intr_asserted(f->pic)); /* master IR2 still in service */
    outb(f, 0x20, 0x20);
    assert_true(pic_intr_asserted(f->pic));
    assert_int_equal(pic_intr_ack(f->pic), 0x2e);
}

static void test_auto_eoi_and_slave_backlog(void **state)
{
    fixture *f = *state;
    init_pair(f, 0x03); /* AEOI on both */
    outb(f, 0x21, 0x00);
    outb(f, 0xa1, 0x00);
    irq_pulse(&f->b.isa_irq[4]);
    assert_int_equal(pic_intr_ack(f->pic), 0x24);
    assert_int_equal(pic_get_isr(f->pic), 0);
    /* The slave keeps its INT up across the acknowledge. */
    irq_pulse(&f->b.isa_irq[8]);
    irq_pulse(&f->b.isa_irq[11]);
    assert_int_equal(pic_intr_ack(f->pic), 0x28);
    assert_true(pic_intr_asserted(f->pic));
    assert_int_equal(pic_intr_ack(f->pic), 0x2b);
    assert_false(pic_intr_asserted(f->pic));
    assert_int_equal(pic_get_isr(f->pic), 0);
}

static void test_spurious(void **state)
{
    fixture *f = *state;
    init_pair(f, 0x01);
    outb(f, 0x21, 0x00);
    outb(f, 0xa1, 0x00);
    /* Nothing pending: the master answers IR7 and sets no ISR bit. */
    assert_int_equal(pic_intr_ack(f->pic), 0x27);
    assert_int_equal(pic_get_isr(f->pic), 0);

    /* A level slave request that vanishes after the master latched IR2. */
    outb(f, 0x4d1, 0x08); /* IRQ11 level */
    raise_irq(f, 11, 1);
    assert_true(pic_intr_asserted(f->pic));
    raise_irq(f, 11, 0);
    assert_int_equal(pic_intr_ack(f->pic), 0x2f);
    assert_int_equal(pic_get_isr(f->pic), 0x0004); /* master only */
    outb(f, 0xa0, 0x0b);
    assert_int_equal(inb(f, 0xa0), 0x00);
    outb(f, 0x20, 0x20);
    assert_int_equal(pic_get_isr(f->pic), 0);
    assert_false(pic_intr_asserted(f->pic));
}

static void test_poll(void **state)
{
    fixture *f = *state;
    init_pair(f, 0x01);
    outb(f, 0x21, 0x00);
    outb(f, 0x20, 0x0c); /* OCW3 poll */
    assert_int_equal(inb(f, 0x20), 0x00);
    irq_pulse(&f->b.isa_irq[5]);
    irq_pulse(&f->b.isa_irq[6]);
    outb(f, 0x20, 0x0c);
    assert_int_equal(inb(f, 0x20), 0x85);
    assert_int_equal(pic_get_isr(f->pic), 0x0020);
    /* The poll is one read only; then the IRR comes back. */
    assert_int_equal(inb(f, 0x20), 0x40);
    outb(f, 0x20, 0x20);
    outb(f, 0x20, 0x0c);
    assert_int_equal(inb(f, 0x20), 0x86);
}

static void test_rotation_and_set_priority(void **state)
{
    fixture *f = *state;
    init_pair(f, 0x01);
    outb(f, 0x21, 0x00);
    outb(f, 0x20, 0xc4); /* set priority: IR4 lowest, IR5 highest */
    irq_pulse(&f->b.isa_irq[0]);
    irq_pulse(&f->b.isa_irq[6]);
    assert_int_equal(pic_intr_ack(f->pic), 0x26);
    outb(f, 0x20, 0xa0); /* rotate on non-specific EOI: IR6 lowest */
    assert_int_equal(pic_intr_ack(f->pic), 0x20);
    outb(f, 0x20, 0x20);
    irq_pulse(&f->b.isa_irq[6]);
    irq_pulse(&f->b.isa_irq[7]);
    assert_int_equal(pic_intr_ack(f->pic), 0x27); /* IR7 now highest */
    outb(f, 0x20, 0x20);
    assert_int_equal(pic_intr_ack(f->pic), 0x26);
}

static void test_special_mask_mode(void **state)
{
    fixture *f = *state;
    init_pair(f, 0x01);
    outb(f, 0x21, 0x00);
    irq_pulse(&f->b.isa_irq[1]);
    assert_int_equal(pic_intr_ack(f->pic), 0x21);
    irq_pulse(&f->b.isa_irq[5]);
    assert_false(pic_intr_asserted(f->pic));
    outb(f, 0x21, 0x02);  /* mask the level in service */
    outb(f, 0x20, 0x68);  /* OCW3: set special mask mode */
    assert_true(pic_intr_asserted(f->pic));
    assert_int_equal(pic_intr_ack(f->pic), 0x25);
    outb(f, 0x20, 0x48);  /* reset special mask mode */
    assert_int_equal(pic_get_isr(f->pic), 0x0022);
}

static void test_reinit_clears(void **state)
{
    fixture *f = *state;
    init_pair(f, 0x01);
    outb(f, 0x21, 0x00);
    irq_pulse(&f->b.isa_irq[3]);
    assert_int_equal(pic_intr_ack(f->pic), 0x23);
    irq_pulse(&f->b.isa_irq[4]);
    outb(f, 0x20, 0x11); /* ICW1 again, then new base 0x08 */
    outb(f, 0x21, 0x08);
    outb(f, 0x21, 0x04);
    outb(f, 0x21, 0x01);
    assert_int_equal(pic_get_isr(f->pic) & 0xff, 0);
    assert_int_equal(pic_get_irr(f->pic) & 0xff, 0);
    assert_int_equal(inb(f, 0x21), 0x00);
    irq_pulse(&f->b.isa_irq[4]);
    assert_int_equal(pic_intr_ack(f->pic), 0x0c);
}

/* The PC table: PIT channel 0 reaches INTR through the PIC; debug exit. */
static void test_pc_board(void **state)
{
    (void)state;
    io_space *io = calloc(1, sizeof(*io));
    phys_mem mem;
    vclock clk;
    board b;
    char err[128];
    io_space_init(io);
    vclock_init(&clk, true);
    assert_int_equal(phys_init(&mem, 1u << 20), 0); /* the APIC and CMOS need memory */
    board_init(&b, &mem, io, &clk);
    assert_int_equal(board_add_pc_devices(&b, err, sizeof(err)), 0);
    assert_string_equal(io_owner(io, 0x3f8), "com1");
    assert_string_equal(io_owner(io, 0x2fd), "com2");
    assert_non_null(board_find_device(&b, "pit"));
    pic_pair *pic = board_find_device(&b, "pic");

    io_write(io, 0x20, 0x11, 1);
    io_write(io, 0x21, 0x20, 1);
    io_write(io, 0x21, 0x04, 1);
    io_write(io, 0x21, 0x01, 1);
    io_write(io, 0x21, 0xfe, 1);
    io_write(io, 0x43, 0x34, 1); /* channel 0, mode 2 */
    io_write(io, 0x40, 0x9c, 1); /* 11932: 100 Hz */
    io_write(io, 0x40, 0x2e, 1);
    assert_false(pic_intr_asserted(pic));
    vclock_advance(&clk, 9999000);
    assert_false(pic_intr_asserted(pic));
    vclock_advance(&clk, 2000);
    assert_true(pic_intr_asserted(pic));
    assert_int_equal(b.intr_ack(b.intr_ack_opaque), 0x20);

    assert_int_equal(io_read(io, 0xf4, 1), 0xff);
    assert_false(b.exit_requested);
    io_write(io, 0xf4, 0x10, 1);
    assert_true(b.exit_requested);
    assert_int_equal(b.exit_status, 0x21);
    board_destroy(&b);
    phys_destroy(&mem);
    free(io);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_init_raise_ack_eoi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_priority_and_nesting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_vs_edge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auto_eoi_and_slave_backlog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spurious, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_and_set_priority, setup, teardown),
        cmocka_unit_test_setup_teardown(test_special_mask_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reinit_clears, setup, teardown),
        cmocka_unit_test(test_pc_board),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
