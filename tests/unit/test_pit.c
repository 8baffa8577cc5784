/*
 * 8254 PIT and port 0x61: programmed through the ports, with virtual
 * time stepped by hand and IRQ 0 counted by a fake interrupt controller.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "devices/board.h"
#include "devices/pit.h"

typedef struct fixture {
    io_space io;
    vclock clk;
    board b;
    pit_state *pit;
    int level;   /* IRQ 0 as the PIC would see it */
    int rises;   /* 0 -> 1 transitions */
    uint64_t last_rise_ns;
} fixture;

static void fake_irq(void *opaque, int pin, int level)
{
    fixture *f = opaque;
    (void)pin;
    if (level && !f->level) {
        f->rises++;
        f->last_rise_ns = vclock_now(&f->clk);
    }
    f->level = level;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char err[128];
    io_space_init(&f->io);
    vclock_init(&f->clk, true);
    board_init(&f->b, NULL, &f->io, &f->clk);
    f->b.isa_irq[0] = (irq_line){ .handler = fake_irq, .opaque = f, .pin = 0 };
    device_config cfg = { .name = "pit", .port = 0x40, .irq = 0 };
    assert_int_equal(board_add(&f->b, &pit_type, &cfg, err, sizeof(err)), 0);
    f->pit = board_find_device(&f->b, "pit");
    assert_non_null(f->pit);
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

/* First nanosecond at which clock t (counted from time 0) has happened. */
static uint64_t tick_ns(uint64_t t)
{
    return (t * 1000000000ull + PIT_HZ - 1) / PIT_HZ;
}

/* Step time to clock t counted from base_ns (when a count was loaded or a
 * gate rose). */
static void advance_from(fixture *f, uint64_t base_ns, uint64_t t)
{
    uint64_t target = base_ns + tick_ns(t);
    assert_true(target >= vclock_now(&f->clk));
    vclock_advance(&f->clk, target - vclock_now(&f->clk));
}

static void advance_to_tick(fixture *f, uint64_t t)
{
    advance_from(f, 0, t);
}

static void program(fixture *f, int ch, uint8_t mode_rw, uint16_t count)
{
    outb(f, 0x43, (uint8_t)(ch << 6 | mode_rw));
    outb(f, (uint16_t)(0x40 + ch), count & 0xff);
    outb(f, (uint16_t)(0x40 + ch), count >> 8);
}

static uint16_t latched_count(fixture *f, int ch)
{
    outb(f, 0x43, (uint8_t)(ch << 6)); /* counter latch */
    uint16_t lo = inb(f, (uint16_t)(0x40 + ch));
    return (uint16_t)(lo | inb(f, (uint16_t)(0x40 + ch)) << 8);
}

static void test_mode2_rate(void **state)
{
    fixture *f = *state;
    program(f, 0, 0x34, 1193); /* mode 2, LSB then MSB */
    assert_int_equal(f->rises, 0);
    /* Step 100 ms in 1 ms steps: 100 ms / (1193 / 1193182 s) = 100.015. */
    for (int i = 0; i < 100; i++)
        vclock_advance(&f->clk, 1000000);
    assert_int_equal(f->rises, 100);
    /* Edges fall on exact multiples of the period. */
    assert_int_equal(f->last_rise_ns, tick_ns(100 * 1193));
    assert_int_equal(f->level, 1);

    /* Count runs N..1: half way through a period it reads N/2 or so. */
    advance_to_tick(f, 101 * 1193 + 600);
    assert_int_equal(latched_count(f, 0), 1193 - 600);
}

static void test_mode3_square_wave(void **state)
{
    fixture *f = *state;
    program(f, 0, 0x36, 1000); /* mode 3 */
    advance_to_tick(f, 499);
    assert_int_equal(pit_get_out(f->pit, 0), 1);
    assert_int_equal(latched_count(f, 0), 1000 - 2 * 499);
    advance_to_tick(f, 500);
    assert_int_equal(pit_get_out(f->pit, 0), 0);
    assert_int_equal(latched_count(f, 0), 1000);
    advance_to_tick(f, 999);
    assert_int_equal(pit_get_out(f->pit, 0), 0);
    assert_int_equal(f->rises, 0);
    advance_to_tick(f, 1000);
    assert_int_equal(pit_get_out(f->pit, 0), 1);
    assert_int_equal(f->rises, 1);
    /* 1 s at count 1000: 1193 full periods. */
    advance_to_tick(f, PIT_HZ);
    assert_int_equal(f->rises, PIT_HZ / 1000);

    /* Count 0 means 65536: 18.2 Hz. */
    program(f, 0, 0x36, 0);
    int before = f->rises;
    vclock_advance(&f->clk, 1000000000ull);
    assert_int_equal(f->rises - before, 18);
}

static void test_mode0_terminal_count(void **state)
{
    fixture *f = *state;
    program(f, 0, 0x30, 100); /* mode 0 */
    assert_int_equal(f->level, 0);
    advance_to_tick(f, 50);
    assert_int_equal(latched_count(f, 0), 50);
    advance_to_tick(f, 99);
    assert_int_equal(f->level, 0);
    advance_to_tick(f, 100);
    assert_int_equal(f->level, 1);
    assert_int_equal(f->rises, 1);
    assert_int_equal(f->last_rise_ns, tick_ns(100));
    /* The counter wraps and keeps counting; OUT stays high, no more edges. */
    advance_to_tick(f, 110);
    assert_int_equal(latched_count(f, 0), 0xfff6);
    vclock_advance(&f->clk, 100000000);
    assert_int_equal(f->rises, 1);

    /* Re-arming: the first byte of a new count drops OUT at once. */
    uint64_t t0 = vclock_now(&f->clk);
    outb(f, 0x40, 10);
    assert_int_equal(f->level, 0);
    outb(f, 0x40, 0);
    advance_from(f, t0, 9);
    assert_int_equal(f->rises, 1);
    advance_from(f, t0, 10);
    assert_int_equal(f->rises, 2);
}

static void test_mode0_two_byte_write_holds(void **state)
{
    fixture *f = *state;
    program(f, 0, 0x30, 1000);
    advance_to_tick(f, 100);
    outb(f, 0x40, 0x20);       /* first byte: counting stops, OUT low */
    assert_int_equal(latched_count(f, 0), 900);
    advance_to_tick(f, 2000);  /* would have expired */
    assert_int_equal(f->rises, 0);
    assert_int_equal(pit_get_out(f->pit, 0), 0);
    outb(f, 0x40, 0x00);       /* second byte: 0x0020 = 32 */
    uint64_t t0 = vclock_now(&f->clk);
    advance_from(f, t0, 31);
    assert_int_equal(f->rises, 0);
    advance_from(f, t0, 32);
    assert_int_equal(f->rises, 1);
}

static void test_mode4_strobe(void **state)
{
    fixture *f = *state;
    program(f, 0, 0x38, 50); /* mode 4 */
    advance_to_tick(f, 50);
    assert_int_equal(pit_get_out(f->pit, 0), 0);
    assert_int_equal(f->rises, 0);
    advance_to_tick(f, 51);
    assert_int_equal(f->rises, 1);
    advance_to_tick(f, 100000);
    assert_int_equal(f->rises, 1);
}

static void test_latch_holds_value(void **state)
{
    fixture *f = *state;
    program(f, 0, 0x34, 10000);
    advance_to_tick(f, 1000);
    outb(f, 0x43, 0x00); /* latch channel 0 */
    advance_to_tick(f, 3000);
    outb(f, 0x43, 0x00); /* a second latch before reading is ignored */
    uint16_t lo = inb(f, 0x40);
    uint16_t v = (uint16_t)(lo | inb(f, 0x40) << 8);
    assert_int_equal(v, 9000);
    /* Unlatched reads follow the counter. */
    lo = inb(f, 0x40);
    v = (uint16_t)(lo | inb(f, 0x40) << 8);
    assert_int_equal(v, 7000);
}

static void test_read_back(void **state)
{
    fixture *f = *state;
    outb(f, 0x43, 0xb4); /* channel 2, LSB/MSB, mode 2 */
    outb(f, 0x43, 0xe8); /* read-back status of channel 2 */
    /* OUT high, NULL COUNT set (no count yet), RW 3, mode 2 */
    assert_int_equal(inb(f, 0x42), 0xf4);
    outb(f, 0x42, 0x10);
    outb(f, 0x42, 0x27); /* 10000 */
    outb(f, 0x61, 0x01); /* gate 2 on */
    advance_to_tick(f, 1234);
    outb(f, 0x43, 0xc8); /* read-back count and status of channel 2 */
    assert_int_equal(inb(f, 0x42), 0x80 | 0x34); /* count loaded: no NULL COUNT */
    uint16_t lo = inb(f, 0x42);
    assert_int_equal(lo | inb(f, 0x42) << 8, 10000 - 1234);

    /* Channels 0 and 1 at once, count only. */
    uint64_t t0 = vclock_now(&f->clk);
    program(f, 0, 0x30, 500);
    program(f, 1, 0x74, 3000);
    advance_from(f, t0, 100);
    outb(f, 0x43, 0xd6);
    lo = inb(f, 0x40);
    assert_int_equal(lo | inb(f, 0x40) << 8, 400);
    lo = inb(f, 0x41);
    assert_int_equal(lo | inb(f, 0x41) << 8, 2900);
}

static void test_lsb_msb_only(void **state)
{
    fixture *f = *state;
    outb(f, 0x43, 0x10); /* channel 0, LSB only, mode 0 */
    outb(f, 0x40, 200);
    advance_to_tick(f, 20);
    assert_int_equal(inb(f, 0x40), 180);
    assert_int_equal(inb(f, 0x40), 180);
    outb(f, 0x43, 0x20); /* MSB only: count 0x0300 */
    uint64_t t0 = vclock_now(&f->clk);
    outb(f, 0x40, 0x03);
    advance_from(f, t0, 0x100);
    assert_int_equal(inb(f, 0x40), 0x02);
    assert_int_equal(inb(f, 0x40), 0x02);
    advance_from(f, t0, 0x2ff);
    assert_int_equal(f->rises, 0);
    advance_from(f, t0, 0x300);
    assert_int_equal(f->rises, 1);
}

static void test_bcd(void **state)
{
    fixture *f = *state;
    program(f, 0, 0x31, 0x1000); /* mode 0, BCD 1000 */
    advance_to_tick(f, 1);
    assert_int_equal(latched_count(f, 0), 0x0999);
    advance_to_tick(f, 1000);
    assert_int_equal(f->rises, 1);
    advance_to_tick(f, 1001);
    assert_int_equal(latched_count(f, 0), 0x9999);
}

static void test_port61_channel2(void **state)
{
    fixture *f = *state;
    /* What Linux's TSC calibration does. */
    outb(f, 0x61, (inb(f, 0x61) & ~0x02) | 0x01);
    outb(f, 0x43, 0xb0); /* channel 2, mode 0 */
    outb(f, 0x42, 0x00);
    outb(f, 0x42, 0x10); /* 4096 */
    assert_int_equal(inb(f, 0x61) & 0x21, 0x01);
    advance_to_tick(f, 4095);
    assert_int_equal(inb(f, 0x61) & 0x20, 0);
    advance_to_tick(f, 4096);
    assert_int_equal(inb(f, 0x61) & 0x20, 0x20);
    assert_int_equal(f->rises, 0); /* channel 2 drives no IRQ */

    /* Refresh bit toggles between reads; writable bits read back. */
    uint8_t a = inb(f, 0x61), b = inb(f, 0x61);
    assert_int_equal((a ^ b) & 0x10, 0x10);
    outb(f, 0x61, 0x03);
    assert_int_equal(inb(f, 0x61) & 0x0f, 0x03);

    /* Gate low stops mode 0; it continues when the gate rises. */
    outb(f, 0x61, 0x00);
    outb(f, 0x43, 0xb0);
    outb(f, 0x42, 100);
    outb(f, 0x42, 0);
    advance_to_tick(f, 5000);
    assert_int_equal(latched_count(f, 2), 100);
    uint64_t t0 = vclock_now(&f->clk);
    outb(f, 0x61, 0x01);
    advance_from(f, t0, 60);
    assert_int_equal(latched_count(f, 2), 40);
    outb(f, 0x61, 0x00);
    advance_to_tick(f, 6000);
    assert_int_equal(latched_count(f, 2), 40);
    assert_int_equal(inb(f, 0x61) & 0x20, 0);
}

static void test_gate_modes_1_and_2(void **state)
{
    fixture *f = *state;
    /* Mode 1 on channel 2: OUT low from the gate's rising edge for N. */
    outb(f, 0x43, 0xb2);
    outb(f, 0x42, 200);
    outb(f, 0x42, 0);
    advance_to_tick(f, 1000);
    assert_int_equal(pit_get_out(f->pit, 2), 1); /* not triggered */
    uint64_t t0 = vclock_now(&f->clk);
    outb(f, 0x61, 0x01);
    advance_from(f, t0, 100);
    assert_int_equal(pit_get_out(f->pit, 2), 0);
    assert_int_equal(latched_count(f, 2), 100);
    outb(f, 0x61, 0x00); /* the gate falling does not stop a one-shot */
    advance_from(f, t0, 150);
    assert_int_equal(latched_count(f, 2), 50);
    advance_from(f, t0, 199);
    assert_int_equal(pit_get_out(f->pit, 2), 0);
    advance_from(f, t0, 200);
    assert_int_equal(pit_get_out(f->pit, 2), 1);

    /* Mode 2: gate low forces OUT high and the count reloads on the rise. */
    outb(f, 0x61, 0x00);
    outb(f, 0x43, 0xb4);
    outb(f, 0x42, 50);
    outb(f, 0x42, 0);
    t0 = vclock_now(&f->clk);
    outb(f, 0x61, 0x01);
    advance_from(f, t0, 49);
    assert_int_equal(latched_count(f, 2), 1);
    assert_int_equal(pit_get_out(f->pit, 2), 0);
    outb(f, 0x61, 0x00);
    assert_int_equal(pit_get_out(f->pit, 2), 1);
    advance_from(f, t0, 80);
    assert_int_equal(latched_count(f, 2), 1); /* frozen */
    t0 = vclock_now(&f->clk);
    outb(f, 0x61, 0x01);
    advance_from(f, t0, 10);
    assert_int_equal(latched_count(f, 2), 40);
}

static void test_reprogram_stops_timer(void **state)
{
    fixture *f = *state;
    program(f, 0, 0x34, 100);
    advance_to_tick(f, 1000);
    assert_int_equal(f->rises, 10);
    outb(f, 0x43, 0x34); /* control word alone: counting stops */
    assert_int_equal(vclock_next_deadline(&f->clk), VCLOCK_NEVER);
    advance_to_tick(f, 5000);
    assert_int_equal(f->rises, 10);
    assert_int_equal(inb(f, 0x43), 0xff);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mode2_rate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode3_square_wave, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode0_terminal_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode0_two_byte_write_holds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode4_strobe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latch_holds_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lsb_msb_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bcd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port61_channel2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gate_modes_1_and_2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reprogram_stops_timer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
