/*
 * Local APIC: the 8259A behind it in virtual-wire mode, priorities,
 * EOI, the timer on a stepped clock, self-IPIs and the global disable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "devices/board.h"
#include "devices/lapic.h"
#include "devices/pic.h"

typedef struct fixture {
    phys_mem mem;
    io_space io;
    vclock clk;
    board b;
    lapic *apic;
    int intr;
} fixture;

static void fake_intr(void *opaque, int pin, int level)
{
    (void)pin;
    ((fixture *)opaque)->intr = level;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char err[128];
    assert_int_equal(phys_init(&f->mem, 1u << 20), 0);
    io_space_init(&f->io);
    vclock_init(&f->clk, true);
    board_init(&f->b, &f->mem, &f->io, &f->clk);
    f->b.cpu_intr = (irq_line){ .handler = fake_intr, .opaque = f, .pin = 0 };
    device_config pic = { .name = "pic", .port = 0x20, .irq = -1 };
    assert_int_equal(board_add(&f->b, &pic_type, &pic, err, sizeof(err)), 0);
    device_config apic = { .name = "lapic", .irq = -1, .mmio = LAPIC_DEFAULT_BASE };
    assert_int_equal(board_add(&f->b, &lapic_type, &apic, err, sizeof(err)), 0);
    f->apic = board_find_device(&f->b, "lapic");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    board_destroy(&f->b);
    phys_destroy(&f->mem);
    free(f);
    return 0;
}

/* Program the 8259A pair as Linux does: vectors 0x30/0x38, all unmasked. */
static void init_pic(fixture *f)
{
    io_write(&f->io, 0x20, 0x11, 1);
    io_write(&f->io, 0x21, 0x30, 1);
    io_write(&f->io, 0x21, 0x04, 1);
    io_write(&f->io, 0x21, 0x01, 1);
    io_write(&f->io, 0xa0, 0x11, 1);
    io_write(&f->io, 0xa1, 0x38, 1);
    io_write(&f->io, 0xa1, 0x02, 1);
    io_write(&f->io, 0xa1, 0x01, 1);
    io_write(&f->io, 0x21, 0x00, 1);
    io_write(&f->io, 0xa1, 0x00, 1);
}

static uint32_t rd(fixture *f, uint32_t off)
{
    return phys_read(&f->mem, LAPIC_DEFAULT_BASE + off, 4);
}

static void wr(fixture *f, uint32_t off, uint32_t v)
{
    phys_write(&f->mem, LAPIC_DEFAULT_BASE + off, v, 4);
}

static void test_virtual_wire_passes_the_pic(void **state)
{
    fixture *f = *state;
    init_pic(f);
    irq_pulse(&f->b.isa_irq[3]);
    assert_int_equal(f->intr, 1);
    assert_int_equal(f->b.intr_ack(f->b.intr_ack_opaque), 0x33);
    assert_int_equal(f->intr, 0);
    /* Masking LINT0 cuts the wire. */
    wr(f, 0xf0, 0x1ff);
    wr(f, 0x350, 0x10700);
    io_write(&f->io, 0x20, 0x20, 1); /* EOI */
    irq_pulse(&f->b.isa_irq[4]);
    assert_int_equal(f->intr, 0);
}

static void test_registers_after_reset(void **state)
{
    fixture *f = *state;
    assert_int_equal(rd(f, 0x30), 0x00050014);
    assert_int_equal(rd(f, 0xf0), 0xff);
    assert_int_equal(rd(f, 0xe0), 0xffffffffu);
    assert_int_equal(rd(f, 0x320) & 0x10000, 0x10000);
    assert_int_equal(rd(f, 0x350), 0x700);
}

static void test_priority_and_eoi(void **state)
{
    fixture *f = *state;
    wr(f, 0xf0, 0x1ff);
    lapic_accept(f->apic, 0x41, false);
    lapic_accept(f->apic, 0x62, false);
    assert_int_equal(f->intr, 1);
    assert_int_equal(lapic_intr_ack(f->apic), 0x62);
    /* 0x41 is in a lower class than the in-service 0x62: held. */
    assert_int_equal(f->intr, 0);
    assert_int_equal(rd(f, 0xa0), 0x60);
    wr(f, 0xb0, 0);
    assert_int_equal(f->intr, 1);
    /* TPR at class 4 blocks 0x41 too. */
    wr(f, 0x80, 0x40);
    assert_int_equal(f->intr, 0);
    wr(f, 0x80, 0x30);
    assert_int_equal(lapic_intr_ack(f->apic), 0x41);
    assert_int_equal(rd(f, 0x100 + 0x20) & 0x2, 0x2); /* ISR bit 0x41 */
    wr(f, 0xb0, 0);
    assert_int_equal(rd(f, 0x100 + 0x20), 0);
    /* Nothing pending: the acknowledge gives the spurious vector. */
    assert_int_equal(lapic_intr_ack(f->apic), 0xff);
}

static void test_periodic_timer(void **state)
{
    fixture *f = *state;
    wr(f, 0xf0, 0x1ff);
    wr(f, 0x3e0, 0xb);          /* divide by 1 */
    wr(f, 0x320, 0x20040);      /* periodic, vector 0x40 */
    wr(f, 0x380, 1000);         /* 1000 bus clocks = 10 us */
    vclock_advance(&f->clk, 2500);
    uint32_t ccr = rd(f, 0x390);
    assert_true(ccr < 1000 && ccr > 700);
    assert_int_equal(f->intr, 0);
    vclock_advance(&f->clk, 8000);
    assert_int_equal(f->intr, 1);
    assert_int_equal(lapic_intr_ack(f->apic), 0x40);
    wr(f, 0xb0, 0);
    vclock_advance(&f->clk, 10000);
    assert_int_equal(lapic_intr_ack(f->apic), 0x40);
    wr(f, 0xb0, 0);
    /* One-shot stops at zero. */
    wr(f, 0x320, 0x00041);
    wr(f, 0x380, 100);
    vclock_advance(&f->clk, 5000);
    assert_int_equal(lapic_intr_ack(f->apic), 0x41);
    assert_int_equal(rd(f, 0x390), 0);
}

static void test_divider(void **state)
{
    fixture *f = *state;
    wr(f, 0xf0, 0x1ff);
    wr(f, 0x3e0, 0x3);          /* divide by 16 */
    wr(f, 0x320, 0x00050);
    wr(f, 0x380, 100);          /* 100 * 16 * 10 ns = 16 us */
    vclock_advance(&f->clk, 15000);
    assert_int_equal(f->intr, 0);
    vclock_advance(&f->clk, 1000);
    assert_int_equal(f->intr, 1);
}

static void test_self_ipi(void **state)
{
    fixture *f = *state;
    wr(f, 0xf0, 0x1ff);
    wr(f, 0x300, 0x40000 | 0xf3); /* shorthand self, fixed, vector 0xf3 */
    assert_int_equal(lapic_intr_ack(f->apic), 0xf3);
}

static void test_global_disable(void **state)
{
    fixture *f = *state;
    init_pic(f);
    wr(f, 0xf0, 0x1ff);
    wr(f, 0x350, 0x10700); /* LINT0 masked: the wire is cut ... */
    lapic_set_base_msr(f->apic, LAPIC_DEFAULT_BASE); /* ... until the APIC is off */
    irq_pulse(&f->b.isa_irq[1]);
    assert_int_equal(f->intr, 1);
    assert_int_equal(f->b.intr_ack(f->b.intr_ack_opaque), 0x31);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_virtual_wire_passes_the_pic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registers_after_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_priority_and_eoi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_periodic_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_divider, setup, teardown),
        cmocka_unit_test_setup_teardown(test_self_ipi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_global_disable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
