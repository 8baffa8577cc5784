/*
 * MC146818 RTC/CMOS: programmed through ports 0x70/0x71 as a guest
 * would, with a manual virtual clock and IRQ 8 watched by the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "devices/board.h"
#include "devices/rtc.h"

#define MS 1000000ull
#define US 1000ull

typedef struct fixture {
    io_space io;
    vclock clk;
    phys_mem mem; /* only ram_size is used by the RTC */
    board b;
    rtc_state *rtc;
    int irq8;      /* level of ISA IRQ 8 */
    int rises;     /* 0 -> 1 transitions */
} fixture;

static void watch_irq(void *opaque, int pin, int level)
{
    fixture *f = opaque;
    (void)pin;
    if (level && !f->irq8)
        f->rises++;
    f->irq8 = level;
}

static fixture *make(uint32_t ram_size, const char *opts)
{
    fixture *f = calloc(1, sizeof(*f));
    char err[128];
    io_space_init(&f->io);
    vclock_init(&f->clk, true);
    f->mem.ram_size = ram_size;
    f->mem.a20_mask = ~0u;
    board_init(&f->b, &f->mem, &f->io, &f->clk);
    f->b.isa_irq[8] = (irq_line){ .handler = watch_irq, .opaque = f, .pin = 8 };
    device_config cfg = { .name = "rtc", .port = 0x70, .irq = 8, .opts = opts };
    assert_int_equal(board_add(&f->b, &rtc_type, &cfg, err, sizeof(err)), 0);
    f->rtc = board_find_device(&f->b, "rtc");
    assert_non_null(f->rtc);
    return f;
}

static int setup(void **state)
{
    *state = make(64u << 20, NULL);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    board_destroy(&f->b);
    free(f);
    return 0;
}

static uint8_t rd(fixture *f, uint8_t index)
{
    io_write(&f->io, 0x70, index, 1);
    return (uint8_t)io_read(&f->io, 0x71, 1);
}

static void wr(fixture *f, uint8_t index, uint8_t v)
{
    io_write(&f->io, 0x70, index, 1);
    io_write(&f->io, 0x71, v, 1);
}

/* Hold the divider in reset, set the time with SET, and release the
 * divider: the first update comes exactly 500 ms after this returns. */
static void set_time_bcd(fixture *f, uint8_t cent, uint8_t yr, uint8_t mon, uint8_t day,
                         uint8_t h, uint8_t m, uint8_t s)
{
    wr(f, 0x0a, 0x76);
    wr(f, 0x0b, 0x82); /* SET, 24 h, BCD */
    wr(f, 0x32, cent);
    wr(f, 0x09, yr);
    wr(f, 0x08, mon);
    wr(f, 0x07, day);
    wr(f, 0x04, h);
    wr(f, 0x02, m);
    wr(f, 0x00, s);
    wr(f, 0x0b, 0x02);
    wr(f, 0x0a, 0x26);
}

static void test_power_on_registers(void **state)
{
    fixture *f = *state;
    assert_int_equal(rd(f, 0x0a) & 0x7f, 0x26);
    assert_int_equal(rd(f, 0x0b), 0x02);
    assert_int_equal(rd(f, 0x0c), 0x00);
    assert_int_equal(rd(f, 0x0d), 0x80);
    /* Registers C and D are read only. */
    wr(f, 0x0c, 0xff);
    wr(f, 0x0d, 0x00);
    assert_int_equal(rd(f, 0x0c), 0x00);
    assert_int_equal(rd(f, 0x0d), 0x80);
    /* The index port is write only; bit 7 of it masks NMIs. */
    assert_int_equal(io_read(&f->io, 0x70, 1), 0xff);
    assert_false(rtc_nmi_masked(f->rtc));
    io_write(&f->io, 0x70, 0x8f, 1);
    assert_true(rtc_nmi_masked(f->rtc));
    io_write(&f->io, 0x71, 0x5a, 1);
    assert_int_equal(rd(f, 0x0f), 0x5a);
    assert_false(rtc_nmi_masked(f->rtc));
}

static void test_host_time_is_plausible(void **state)
{
    fixture *f = *state;
    /* Century 20 and a BCD year, from the host's clock. */
    assert_int_equal(rd(f, 0x32), 0x20);
    uint8_t month = rd(f, 0x08);
    assert_true(month >= 0x01 && month <= 0x12 && (month & 0x0f) <= 9);
    uint8_t h = rd(f, 0x04);
    assert_true(h <= 0x23 && (h & 0x0f) <= 9);
}

static void test_bcd_binary_12h(void **state)
{
    fixture *f = *state;
    set_time_bcd(f, 0x20, 0x24, 0x02, 0x29, 0x23, 0x59, 0x58);
    assert_int_equal(rd(f, 0x00), 0x58);
    assert_int_equal(rd(f, 0x02), 0x59);
    assert_int_equal(rd(f, 0x04), 0x23);
    assert_int_equal(rd(f, 0x07), 0x29);
    assert_int_equal(rd(f, 0x08), 0x02);
    assert_int_equal(rd(f, 0x09), 0x24);
    assert_int_equal(rd(f, 0x06), 0x05); /* 2024-02-29 was a Thursday */

    wr(f, 0x0b, 0x06); /* binary, 24 h */
    assert_int_equal(rd(f, 0x04), 23);
    assert_int_equal(rd(f, 0x02), 59);
    assert_int_equal(rd(f, 0x09), 24);
    wr(f, 0x0b, 0x04); /* binary, 12 h */
    assert_int_equal(rd(f, 0x04), 0x80 | 11);
    wr(f, 0x0b, 0x00); /* BCD, 12 h */
    assert_int_equal(rd(f, 0x04), 0x91);
    wr(f, 0x0b, 0x02);

    /* Updates: 58 -> 59 after 500 ms, then through the leap day. */
    vclock_advance(&f->clk, 500 * MS);
    assert_int_equal(rd(f, 0x00), 0x59);
    vclock_advance(&f->clk, 1000 * MS);
    assert_int_equal(rd(f, 0x00), 0x00);
    assert_int_equal(rd(f, 0x02), 0x00);
    assert_int_equal(rd(f, 0x04), 0x00);
    assert_int_equal(rd(f, 0x07), 0x01);
    assert_int_equal(rd(f, 0x08), 0x03);
    assert_int_equal(rd(f, 0x06), 0x06);
}

static void test_twelve_hour_write_and_century(void **state)
{
    fixture *f = *state;
    wr(f, 0x0a, 0x76);
    wr(f, 0x0b, 0x84); /* SET, binary, 12 h */
    wr(f, 0x32, 19);
    wr(f, 0x09, 99);
    wr(f, 0x08, 12);
    wr(f, 0x07, 31);
    wr(f, 0x04, 0x80 | 11); /* 11 PM */
    wr(f, 0x02, 59);
    wr(f, 0x00, 59);
    /* While SET is on, the bytes hold still as written. */
    vclock_advance(&f->clk, 3000 * MS);
    assert_int_equal(rd(f, 0x00), 59);
    wr(f, 0x0b, 0x04); /* run, binary, 12 h */
    assert_int_equal(rd(f, 0x04), 0x80 | 11);
    wr(f, 0x0b, 0x06); /* binary, 24 h */
    assert_int_equal(rd(f, 0x04), 23);
    wr(f, 0x0a, 0x26);
    vclock_advance(&f->clk, 500 * MS);
    assert_int_equal(rd(f, 0x09), 0);
    assert_int_equal(rd(f, 0x32), 20);
    assert_int_equal(rd(f, 0x08), 1);
    assert_int_equal(rd(f, 0x07), 1);
    assert_int_equal(rd(f, 0x04), 0);
}

static void test_uip_window(void **state)
{
    fixture *f = *state;
    set_time_bcd(f, 0x20, 0x25, 0x06, 0x15, 0x12, 0x00, 0x00);
    assert_int_equal(rd(f, 0x0a), 0x26);
    vclock_advance(&f->clk, 500 * MS - 244141);
    assert_int_equal(rd(f, 0x0a), 0x26);
    vclock_advance(&f->clk, 1);
    assert_int_equal(rd(f, 0x0a), 0xa6);
    assert_int_equal(rd(f, 0x00), 0x00);
    vclock_advance(&f->clk, 244139);
    assert_int_equal(rd(f, 0x0a), 0xa6);
    assert_int_equal(rd(f, 0x00), 0x00);
    vclock_advance(&f->clk, 1); /* the update */
    assert_int_equal(rd(f, 0x0a), 0x26);
    assert_int_equal(rd(f, 0x00), 0x01);
    /* Next second, same phase. */
    vclock_advance(&f->clk, 1000 * MS - 200 * US);
    assert_int_equal(rd(f, 0x0a) & 0x80, 0x80);
    /* SET clears UIP and stops the update. */
    wr(f, 0x0b, 0x82);
    assert_int_equal(rd(f, 0x0a) & 0x80, 0x00);
    vclock_advance(&f->clk, 400 * US);
    assert_int_equal(rd(f, 0x00), 0x01);
    wr(f, 0x0b, 0x02);
    /* The divider kept its phase: the skipped update is not made up, the
     * next one comes 1 s after it. */
    vclock_advance(&f->clk, 1000 * MS - 201 * US);
    assert_int_equal(rd(f, 0x00), 0x01);
    vclock_advance(&f->clk, 1 * US);
    assert_int_equal(rd(f, 0x00), 0x02);
}

/* Count interrupts over a span, reading C whenever IRQ 8 is up; C must
 * have the expected bits (other flags may be set beside them). */
static int count_irqs(fixture *f, uint64_t span, uint64_t step, uint8_t expect_c)
{
    int n = 0;
    for (uint64_t t = 0; t < span; t += step) {
        vclock_advance(&f->clk, step);
        if (f->irq8) {
            assert_int_equal(rd(f, 0x0c) & expect_c, expect_c);
            assert_int_equal(f->irq8, 0);
            n++;
        }
    }
    return n;
}

static void test_periodic_rates(void **state)
{
    fixture *f = *state;
    wr(f, 0x0a, 0x70);
    wr(f, 0x0a, 0x26);          /* 1024 Hz */
    wr(f, 0x0b, 0x42);          /* PIE */
    assert_int_equal(count_irqs(f, 1000 * MS, 50 * US, 0xc0), 1024);
    wr(f, 0x0a, 0x2f);          /* 2 Hz */
    rd(f, 0x0c);
    assert_int_equal(count_irqs(f, 2000 * MS, 1 * MS, 0xc0), 4);
    wr(f, 0x0a, 0x23);          /* 8192 Hz */
    rd(f, 0x0c);
    assert_int_equal(count_irqs(f, 100 * MS, 10 * US, 0xc0), 819);
    wr(f, 0x0a, 0x21);          /* RS = 1: 256 Hz, as RS = 8 */
    rd(f, 0x0c);
    assert_int_equal(count_irqs(f, 1000 * MS, 100 * US, 0xc0), 256);

    /* No interrupt without a flag read: one edge only, the line stays up. */
    int before = f->rises;
    vclock_advance(&f->clk, 100 * MS);
    assert_int_equal(f->rises, before + 1);
    assert_int_equal(f->irq8, 1);
    assert_int_equal(rd(f, 0x0c), 0xc0);
    assert_int_equal(rd(f, 0x0c), 0x00);

    /* PF is set with PIE off, without IRQF and without an interrupt. */
    wr(f, 0x0b, 0x02);
    rd(f, 0x0c);
    before = f->rises;
    vclock_advance(&f->clk, 5 * MS);
    assert_int_equal(rd(f, 0x0c), 0x40);
    assert_int_equal(f->rises, before);
    /* RS = 0 stops it. */
    wr(f, 0x0a, 0x20);
    rd(f, 0x0c);
    vclock_advance(&f->clk, 10 * MS);
    assert_int_equal(rd(f, 0x0c), 0x00);
}

static void test_periodic_pending_then_enabled(void **state)
{
    fixture *f = *state;
    wr(f, 0x0a, 0x26);
    rd(f, 0x0c);
    vclock_advance(&f->clk, 2 * MS);
    assert_int_equal(f->irq8, 0);
    wr(f, 0x0b, 0x42); /* PF already set: IRQF at once */
    assert_int_equal(f->irq8, 1);
    assert_int_equal(rd(f, 0x0c), 0xc0);
    assert_int_equal(f->irq8, 0);
}

static void test_update_ended_and_alarm(void **state)
{
    fixture *f = *state;
    set_time_bcd(f, 0x20, 0x25, 0x01, 0x01, 0x08, 0x30, 0x00);
    wr(f, 0x0a, 0x20); /* no periodic flag: C shows exactly UF/AF */
    wr(f, 0x0b, 0x12); /* UIE */
    rd(f, 0x0c);
    vclock_advance(&f->clk, 499 * MS);
    assert_int_equal(f->irq8, 0);
    vclock_advance(&f->clk, 1 * MS);
    assert_int_equal(f->irq8, 1);
    assert_int_equal(rd(f, 0x0c), 0x90);
    assert_int_equal(count_irqs(f, 3000 * MS, 10 * MS, 0x90), 3);

    /* Alarm at 08:30:07; the flag comes with that update. */
    wr(f, 0x01, 0x07);
    wr(f, 0x03, 0x30);
    wr(f, 0x05, 0x08);
    wr(f, 0x0b, 0x22); /* AIE only */
    rd(f, 0x0c);
    vclock_advance(&f->clk, 2000 * MS); /* 08:30:06 */
    assert_int_equal(f->irq8, 0);
    assert_int_equal(rd(f, 0x0c), 0x10); /* UF, no IRQF */
    vclock_advance(&f->clk, 1000 * MS);
    assert_int_equal(f->irq8, 1);
    assert_int_equal(rd(f, 0x0c), 0xb0);
    vclock_advance(&f->clk, 1000 * MS);
    assert_int_equal(f->irq8, 0);

    /* "Don't care" in all three bytes: an alarm each second. */
    wr(f, 0x01, 0xc0);
    wr(f, 0x03, 0xff);
    wr(f, 0x05, 0xd5);
    rd(f, 0x0c);
    assert_int_equal(count_irqs(f, 3000 * MS, 10 * MS, 0xb0), 3);
}

static void test_set_clears_uie_and_reset(void **state)
{
    fixture *f = *state;
    wr(f, 0x0b, 0x7a);
    assert_int_equal(rd(f, 0x0b), 0x7a);
    wr(f, 0x0b, 0xfa);
    assert_int_equal(rd(f, 0x0b), 0xea);
    wr(f, 0x0b, 0x72);
    vclock_advance(&f->clk, 5 * MS);
    assert_int_equal(f->irq8, 1);
    board_reset(&f->b);
    assert_int_equal(f->irq8, 0);
    assert_int_equal(rd(f, 0x0b), 0x02); /* PIE, AIE, UIE, SQWE cleared */
    assert_int_equal(rd(f, 0x0c), 0x00);
    assert_int_equal(rd(f, 0x0a) & 0x7f, 0x26);
}

static void test_guest_time_keeps_offset(void **state)
{
    fixture *f = *state;
    set_time_bcd(f, 0x19, 0x80, 0x05, 0x17, 0x10, 0x20, 0x30);
    vclock_advance(&f->clk, 60500 * MS);
    assert_int_equal(rd(f, 0x02), 0x21);
    assert_int_equal(rd(f, 0x00), 0x31);
    assert_int_equal(rd(f, 0x09), 0x80);
    assert_int_equal(rd(f, 0x32), 0x19);
    /* A single byte written while running keeps the others. */
    wr(f, 0x04, 0x15);
    assert_int_equal(rd(f, 0x04), 0x15);
    assert_int_equal(rd(f, 0x02), 0x21);
    assert_int_equal(rd(f, 0x07), 0x17);
}

static uint16_t word(fixture *f, uint8_t lo)
{
    return (uint16_t)(rd(f, lo) | rd(f, lo + 1) << 8);
}

static void check_checksum(fixture *f)
{
    unsigned sum = 0;
    for (int i = 0x10; i <= 0x2d; i++)
        sum += rd(f, (uint8_t)i);
    assert_int_equal(rd(f, 0x2e), (sum >> 8) & 0xff);
    assert_int_equal(rd(f, 0x2f), sum & 0xff);
}

static void test_nvram_memory_sizes(void **state)
{
    (void)state;
    static const struct { uint32_t ram; uint16_t ext, high; } cases[] = {
        { 8u << 20, 7 * 1024, 0 },
        { 32u << 20, 31 * 1024, 256 },
        { 64u << 20, 63 * 1024, 768 },
        { 128u << 20, 0xffff, 1792 },
        { 0xe0000000u, 0xffff, 0xdf00 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fixture *f = make(cases[i].ram, NULL);
        assert_int_equal(word(f, 0x15), 640);
        assert_int_equal(word(f, 0x17), cases[i].ext);
        assert_int_equal(word(f, 0x30), cases[i].ext);
        assert_int_equal(word(f, 0x34), cases[i].high);
        assert_int_equal(rd(f, 0x10), 0x00);
        assert_int_equal(rd(f, 0x14) & 0x31, 0x00); /* VGA, no diskette */
        check_checksum(f);
        assert_int_equal(rtc_nvram_read(f->rtc, 0x15), 0x80);
        board_destroy(&f->b);
        free(f);
    }
}

static void test_bad_options(void **state)
{
    (void)state;
    io_space *io = calloc(1, sizeof(*io));
    vclock clk;
    board b;
    char err[128];
    io_space_init(io);
    vclock_init(&clk, true);
    board_init(&b, NULL, io, &clk);
    device_config cfg = { .name = "rtc", .port = 0x70, .irq = 8, .opts = "base=mars" };
    assert_int_equal(board_add(&b, &rtc_type, &cfg, err, sizeof(err)), -1);
    cfg.opts = "base=localtime";
    assert_int_equal(board_add(&b, &rtc_type, &cfg, err, sizeof(err)), 0);
    /* No RAM on the board: the sizes are 0 but the checksum still holds. */
    io_write(io, 0x70, 0x17, 1);
    assert_int_equal(io_read(io, 0x71, 1), 0);
    board_destroy(&b);
    free(io);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_power_on_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_time_is_plausible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bcd_binary_12h, setup, teardown),
        cmocka_unit_test_setup_teardown(test_twelve_hour_write_and_century, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uip_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_periodic_rates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_periodic_pending_then_enabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_ended_and_alarm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_clears_uie_and_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_time_keeps_offset, setup, teardown),
        cmocka_unit_test(test_nvram_memory_sizes),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
