/*
 * 8042 keyboard controller, PS/2 keyboard and mouse, and port 0x92:
 * programmed through ports 0x60/0x64/0x92 as a guest (Linux's i8042,
 * atkbd and psmouse drivers) would, with IRQ 1 and 12 watched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "devices/board.h"
#include "devices/i8042.h"
#include "devices/port92.h"

#define STR_OBF  0x01
#define STR_SYS  0x04
#define STR_A2   0x08
#define STR_AUXB 0x20

typedef struct fixture {
    io_space io;
    vclock clk;
    phys_mem mem; /* only the A20 mask is used */
    board b;
    i8042_state *kbc;
    int level[16];
    int rises[16];
} fixture;

static void watch_irq(void *opaque, int pin, int level)
{
    fixture *f = opaque;
    if (level && !f->level[pin])
        f->rises[pin]++;
    f->level[pin] = level;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char err[128];
    io_space_init(&f->io);
    vclock_init(&f->clk, true);
    f->mem.a20_mask = ~0u;
    board_init(&f->b, &f->mem, &f->io, &f->clk);
    for (int i = 0; i < 16; i++)
        f->b.isa_irq[i] = (irq_line){ .handler = watch_irq, .opaque = f, .pin = i };
    device_config kcfg = { .name = "i8042", .port = 0x60, .irq = 1 };
    device_config pcfg = { .name = "port92", .port = 0x92, .irq = -1 };
    assert_int_equal(board_add(&f->b, &i8042_type, &kcfg, err, sizeof(err)), 0);
    assert_int_equal(board_add(&f->b, &port92_type, &pcfg, err, sizeof(err)), 0);
    f->kbc = board_find_device(&f->b, "i8042");
    assert_non_null(f->kbc);
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

static uint8_t status(fixture *f)
{
    return (uint8_t)io_read(&f->io, 0x64, 1);
}

static void cmd(fixture *f, uint8_t c)
{
    io_write(&f->io, 0x64, c, 1);
}

static void data(fixture *f, uint8_t v)
{
    io_write(&f->io, 0x60, v, 1);
}

static uint8_t rd(fixture *f)
{
    assert_true(status(f) & STR_OBF);
    return (uint8_t)io_read(&f->io, 0x60, 1);
}

/* Read everything waiting; returns the count. */
static int drain(fixture *f, uint8_t *buf, int max)
{
    int n = 0;
    while ((status(f) & STR_OBF) && n < max)
        buf[n++] = (uint8_t)io_read(&f->io, 0x60, 1);
    return n;
}

static void expect(fixture *f, const uint8_t *want, int n)
{
    uint8_t got[32];
    int k = drain(f, got, 32);
    assert_int_equal(k, n);
    assert_memory_equal(got, want, (size_t)n);
}

#define EXPECT(f, ...) do { \
        const uint8_t w_[] = { __VA_ARGS__ }; \
        expect(f, w_, (int)sizeof(w_)); \
    } while (0)

static void set_ccb(fixture *f, uint8_t v)
{
    cmd(f, 0x60);
    data(f, v);
}

static void aux(fixture *f, uint8_t v)
{
    cmd(f, 0xd4);
    data(f, v);
}

static void test_self_tests(void **state)
{
    fixture *f = *state;
    assert_int_equal(status(f) & STR_OBF, 0);
    cmd(f, 0xaa);
    assert_int_equal(status(f) & (STR_OBF | STR_A2 | STR_AUXB), STR_OBF | STR_A2);
    assert_int_equal(rd(f), 0x55);
    assert_int_equal(status(f) & STR_OBF, 0);
    cmd(f, 0xab);
    EXPECT(f, 0x00);
    cmd(f, 0xa9);
    EXPECT(f, 0x00);
    cmd(f, 0xc0);
    EXPECT(f, 0xb0);
    /* Unknown commands are ignored (and logged once). */
    cmd(f, 0xa1);
    cmd(f, 0xa1);
    assert_int_equal(status(f) & STR_OBF, 0);
}

static void test_command_byte(void **state)
{
    fixture *f = *state;
    cmd(f, 0x20);
    assert_int_equal(rd(f), 0x45); /* XLATE, SYS, KBDINT */
    assert_true(status(f) & STR_SYS);
    set_ccb(f, 0x70);
    assert_int_equal(status(f) & (STR_SYS | STR_A2), 0);
    cmd(f, 0x20);
    EXPECT(f, 0x70);
    set_ccb(f, 0x07);
    assert_true(status(f) & STR_SYS);
    cmd(f, 0xa7);
    cmd(f, 0xad);
    cmd(f, 0x20);
    EXPECT(f, 0x37);
    cmd(f, 0xa8);
    cmd(f, 0x20);
    EXPECT(f, 0x17);
    cmd(f, 0xae);
    cmd(f, 0x20);
    EXPECT(f, 0x07);
    /* The rest of the RAM. */
    cmd(f, 0x65);
    data(f, 0x99);
    cmd(f, 0x25);
    EXPECT(f, 0x99);
    /* A command cancels a pending data byte: 0xF4 goes to the keyboard. */
    cmd(f, 0x60);
    cmd(f, 0x20);
    EXPECT(f, 0x07);
    data(f, 0xf4);
    EXPECT(f, 0xfa);
}

static void test_keyboard_commands(void **state)
{
    fixture *f = *state;
    set_ccb(f, 0x05); /* no translation */
    int irq1 = f->rises[1];
    data(f, 0xff);
    assert_int_equal(f->rises[1], irq1 + 1);
    assert_int_equal(f->level[1], 1);
    EXPECT(f, 0xfa, 0xaa);
    assert_int_equal(f->rises[1], irq1 + 2);
    assert_int_equal(f->level[1], 0);
    data(f, 0xf2);
    EXPECT(f, 0xfa, 0xab, 0x83);
    data(f, 0xee);
    EXPECT(f, 0xee);
    data(f, 0xed);
    EXPECT(f, 0xfa);
    data(f, 0x07);
    EXPECT(f, 0xfa);
    data(f, 0xf3);
    data(f, 0x20);
    EXPECT(f, 0xfa, 0xfa);
    data(f, 0xf0);
    data(f, 0x00);
    EXPECT(f, 0xfa, 0xfa, 0x02);
    data(f, 0xf0);
    data(f, 0x07);
    EXPECT(f, 0xfa, 0xfe);
    data(f, 0x01); /* not a command */
    EXPECT(f, 0xfe);
    data(f, 0xf6);
    EXPECT(f, 0xfa);
    data(f, 0xfe); /* resend */
    EXPECT(f, 0xfa);

    /* Through the translator the ID reads AB 41 and set 2 reads 0x41. */
    set_ccb(f, 0x45);
    data(f, 0xf2);
    EXPECT(f, 0xfa, 0xab, 0x41);
    data(f, 0xf0);
    data(f, 0x00);
    EXPECT(f, 0xfa, 0xfa, 0x41);
    /* No IRQ with KBDINT clear. */
    set_ccb(f, 0x44);
    irq1 = f->rises[1];
    data(f, 0xee);
    assert_int_equal(f->rises[1], irq1);
    EXPECT(f, 0xee);
}

static void test_translation(void **state)
{
    fixture *f = *state;
    static const uint8_t a_make[] = { 0x1c }, a_break[] = { 0xf0, 0x1c };
    static const uint8_t up_make[] = { 0xe0, 0x75 }, up_break[] = { 0xe0, 0xf0, 0x75 };
    static const uint8_t f7[] = { 0x83 }, f7_break[] = { 0xf0, 0x83 };
    static const uint8_t esc[] = { 0x76 }, kp9[] = { 0x7d }, space[] = { 0x29 };
    i8042_key_event(f->kbc, a_make, 1);
    i8042_key_event(f->kbc, a_break, 2);
    i8042_key_event(f->kbc, up_make, 2);
    i8042_key_event(f->kbc, up_break, 3);
    EXPECT(f, 0x1e, 0x9e, 0xe0, 0x48, 0xe0, 0xc8);
    i8042_key_event(f->kbc, f7, 1);
    i8042_key_event(f->kbc, f7_break, 2);
    i8042_key_event(f->kbc, esc, 1);
    i8042_key_event(f->kbc, kp9, 1);
    i8042_key_event(f->kbc, space, 1);
    EXPECT(f, 0x41, 0xc1, 0x01, 0x49, 0x39);

    /* Translation off: set 2 as the keyboard sends it. */
    set_ccb(f, 0x05);
    i8042_key_event(f->kbc, up_break, 3);
    EXPECT(f, 0xe0, 0xf0, 0x75);

    /* Keyboard set 1 (keyboard-side conversion) without translation. */
    data(f, 0xf0);
    data(f, 0x01);
    EXPECT(f, 0xfa, 0xfa);
    i8042_key_event(f->kbc, a_break, 2);
    EXPECT(f, 0x9e);
    data(f, 0xf0);
    data(f, 0x02);
    EXPECT(f, 0xfa, 0xfa);

    /* A disabled interface holds the bytes back; a disabled keyboard drops them. */
    cmd(f, 0xad);
    i8042_key_event(f->kbc, a_make, 1);
    assert_int_equal(status(f) & STR_OBF, 0);
    cmd(f, 0xae);
    EXPECT(f, 0x1c);
    data(f, 0xf5);
    EXPECT(f, 0xfa);
    i8042_key_event(f->kbc, a_make, 1);
    assert_int_equal(status(f) & STR_OBF, 0);
    data(f, 0xf4);
    EXPECT(f, 0xfa);

    /* Overrun: 16 bytes of buffer, the last one the overrun code. */
    cmd(f, 0xad);
    for (int i = 0; i < 20; i++)
        i8042_key_event(f->kbc, a_make, 1);
    cmd(f, 0xae);
    uint8_t got[32];
    assert_int_equal(drain(f, got, 32), 16);
    assert_int_equal(got[14], 0x1c);
    assert_int_equal(got[15], 0x00);
}

static bool a20_on(fixture *f)
{
    return f->mem.a20_mask == ~0u;
}

static void test_a20(void **state)
{
    fixture *f = *state;
    cmd(f, 0xd0);
    assert_int_equal(rd(f) & 0x03, 0x03);
    cmd(f, 0xd1);
    data(f, 0xdd);
    assert_false(a20_on(f));
    assert_false(f->b.reset_requested);
    cmd(f, 0xd0);
    assert_int_equal(rd(f) & 0x03, 0x01);
    assert_int_equal(io_read(&f->io, 0x92, 1) & 0x02, 0x00);
    cmd(f, 0xd1);
    data(f, 0xdf);
    assert_true(a20_on(f));
    assert_int_equal(io_read(&f->io, 0x92, 1) & 0x02, 0x02);
    cmd(f, 0xdd);
    assert_false(a20_on(f));
    cmd(f, 0xdf);
    assert_true(a20_on(f));

    /* Output port bits 4/5 show the IRQ outputs (output buffer owner). */
    cmd(f, 0xd2);
    data(f, 0x12);
    cmd(f, 0xd0);
    assert_int_equal(rd(f), 0x12);
    assert_int_equal(rd(f) & 0x30, 0x10);

    /* Port 0x92 bit 1. */
    io_write(&f->io, 0x92, 0x00, 1);
    assert_false(a20_on(f));
    assert_int_equal(io_read(&f->io, 0x92, 1), 0x00);
    io_write(&f->io, 0x92, 0x02, 1);
    assert_true(a20_on(f));
    assert_int_equal(io_read(&f->io, 0x92, 1), 0x02);
    assert_false(f->b.reset_requested);
}

static void test_reset_requests(void **state)
{
    fixture *f = *state;
    cmd(f, 0xff); /* pulses nothing */
    assert_false(f->b.reset_requested);
    cmd(f, 0xfe);
    assert_true(f->b.reset_requested);
    f->b.reset_requested = false;
    cmd(f, 0xd1);
    data(f, 0x02); /* reset line low */
    assert_true(f->b.reset_requested);
    f->b.reset_requested = false;
    io_write(&f->io, 0x92, 0x03, 1);
    assert_true(f->b.reset_requested);
    f->b.reset_requested = false;
    io_write(&f->io, 0x92, 0x03, 1); /* no 0 -> 1 transition */
    assert_false(f->b.reset_requested);
    board_reset(&f->b);
    assert_int_equal(io_read(&f->io, 0x92, 1) & 0x01, 0);
    cmd(f, 0x20);
    EXPECT(f, 0x45);
}

static void test_aux_loopback(void **state)
{
    fixture *f = *state;
    /* Linux's i8042_check_aux: loopback with the interfaces disabled and
     * their interrupts off, then with AUXINT on. */
    set_ccb(f, 0x74);
    cmd(f, 0xd3);
    data(f, 0x5a);
    assert_int_equal(status(f) & (STR_OBF | STR_AUXB), STR_OBF | STR_AUXB);
    assert_int_equal(f->rises[12], 0);
    assert_int_equal(rd(f), 0x5a);
    assert_int_equal(status(f) & (STR_OBF | STR_AUXB), 0);

    /* MUX probe: F0, 56, A4 come back unchanged (not a MUX). */
    static const uint8_t mux[] = { 0xf0, 0x56, 0xa4 };
    for (int i = 0; i < 3; i++) {
        cmd(f, 0xd3);
        data(f, mux[i]);
        EXPECT(f, mux[i]);
    }

    set_ccb(f, 0x56); /* AUXINT, keyboard disabled, aux enabled */
    cmd(f, 0xd3);
    data(f, 0xa5);
    assert_int_equal(f->rises[12], 1);
    assert_int_equal(f->level[1], 0);
    assert_int_equal(rd(f), 0xa5);
    assert_int_equal(f->level[12], 0);

    /* 0xD2: as if from the keyboard, on IRQ 1 when KBDINT. */
    set_ccb(f, 0x45);
    cmd(f, 0xd2);
    data(f, 0x1c); /* not translated */
    assert_int_equal(status(f) & (STR_OBF | STR_AUXB), STR_OBF);
    assert_int_equal(f->level[1], 1);
    EXPECT(f, 0x1c);
}

static void test_mouse_probe(void **state)
{
    fixture *f = *state;
    set_ccb(f, 0x47);
    aux(f, 0xff);
    assert_true(status(f) & STR_AUXB);
    assert_int_equal(f->level[12], 1);
    EXPECT(f, 0xfa, 0xaa, 0x00);
    aux(f, 0xf2);
    EXPECT(f, 0xfa, 0x00);
    aux(f, 0xe9);
    EXPECT(f, 0xfa, 0x00, 0x02, 0x64);
    /* IntelliMouse knock: stays a plain mouse. */
    static const uint8_t knock[] = { 200, 100, 80 };
    for (int i = 0; i < 3; i++) {
        aux(f, 0xf3);
        aux(f, knock[i]);
        EXPECT(f, 0xfa, 0xfa);
    }
    aux(f, 0xf2);
    EXPECT(f, 0xfa, 0x00);
    aux(f, 0xf3);
    aux(f, 7); /* not a rate */
    EXPECT(f, 0xfa, 0xfe);
    aux(f, 0xe8);
    aux(f, 0x03);
    aux(f, 0xe7);
    aux(f, 0xe9);
    EXPECT(f, 0xfa, 0xfa, 0xfa, 0xfa, 0x10, 0x03, 80);
    aux(f, 0xe8);
    aux(f, 0x04);
    EXPECT(f, 0xfa, 0xfe);
    aux(f, 0xe6);
    aux(f, 0xea);
    aux(f, 0x00); /* unknown */
    EXPECT(f, 0xfa, 0xfa, 0xfe);
    /* Synaptics "identify" knock: E8 00 x4, E9: no 0x47 in byte 2. */
    for (int i = 0; i < 4; i++) {
        aux(f, 0xe8);
        aux(f, 0x00);
    }
    aux(f, 0xe9);
    uint8_t got[32];
    assert_int_equal(drain(f, got, 32), 12);
    assert_int_not_equal(got[10], 0x47);
    /* Wrap mode echoes until EC. */
    aux(f, 0xee);
    aux(f, 0x12);
    aux(f, 0xf4);
    aux(f, 0xec);
    EXPECT(f, 0xfa, 0x12, 0xf4, 0xfa);
}

static void test_mouse_packets(void **state)
{
    fixture *f = *state;
    set_ccb(f, 0x47);
    /* Not reporting yet: nothing. */
    i8042_mouse_event(f->kbc, 1, 1, 0);
    assert_int_equal(status(f) & STR_OBF, 0);
    aux(f, 0xf4);
    EXPECT(f, 0xfa);
    i8042_mouse_event(f->kbc, 5, -3, I8042_BTN_LEFT);
    EXPECT(f, 0x29, 0x05, 0xfd);
    i8042_mouse_event(f->kbc, -1, 2, I8042_BTN_RIGHT | I8042_BTN_MIDDLE);
    EXPECT(f, 0x1e, 0xff, 0x02);
    i8042_mouse_event(f->kbc, 300, -400, 0);
    EXPECT(f, 0xe8, 0xff, 0x00);
    /* 2:1 scaling in stream mode. */
    aux(f, 0xe7);
    EXPECT(f, 0xfa);
    i8042_mouse_event(f->kbc, 4, -5, 0);
    EXPECT(f, 0x28, 0x06, 0xf7);
    i8042_mouse_event(f->kbc, 10, 2, 0);
    EXPECT(f, 0x08, 20, 1);
    aux(f, 0xe6);
    EXPECT(f, 0xfa);
    /* Held back while the aux interface is disabled. */
    cmd(f, 0xa7);
    i8042_mouse_event(f->kbc, 1, 0, 0);
    assert_int_equal(status(f) & STR_OBF, 0);
    assert_int_equal(f->level[12], 0);
    cmd(f, 0xa8);
    assert_int_equal(f->level[12], 1);
    EXPECT(f, 0x08, 0x01, 0x00);
    /* Remote mode: movement accumulates until read with EB. */
    aux(f, 0xf0);
    i8042_mouse_event(f->kbc, 3, 0, 0);
    i8042_mouse_event(f->kbc, 4, 1, I8042_BTN_LEFT);
    EXPECT(f, 0xfa);
    aux(f, 0xeb);
    EXPECT(f, 0xfa, 0x09, 0x07, 0x01);
    aux(f, 0xe9);
    EXPECT(f, 0xfa, 0x64, 0x02, 0x64); /* remote, enabled, left */
    /* F5 stops reporting. */
    aux(f, 0xea);
    aux(f, 0xf5);
    EXPECT(f, 0xfa, 0xfa);
    i8042_mouse_event(f->kbc, 1, 1, 0);
    assert_int_equal(status(f) & STR_OBF, 0);
}

/* The PC board: all four new devices are in the table and claim ports. */
static void test_pc_board_rows(void **state)
{
    (void)state;
    io_space *io = calloc(1, sizeof(*io));
    phys_mem mem;
    vclock clk;
    board b;
    char err[128];
    io_space_init(io);
    vclock_init(&clk, true);
    assert_int_equal(phys_init(&mem, 32u << 20), 0);
    board_init(&b, &mem, io, &clk);
    assert_int_equal(board_add_pc_devices(&b, err, sizeof(err)), 0);
    assert_string_equal(io_owner(io, 0x60), "i8042");
    assert_string_equal(io_owner(io, 0x64), "i8042");
    assert_string_equal(io_owner(io, 0x71), "rtc");
    assert_string_equal(io_owner(io, 0x92), "port92");
    assert_string_equal(io_owner(io, 0xcfc), "pci");
    assert_non_null(board_find_type("mc146818"));
    /* Both A20 gates reach the board's memory; the CMOS knows its size. */
    io_write(io, 0x92, 0x00, 1);
    assert_int_equal(mem.a20_mask, ~(1u << 20));
    io_write(io, 0x64, 0xdf, 1);
    assert_int_equal(mem.a20_mask, ~0u);
    io_write(io, 0x70, 0x35, 1);
    assert_int_equal(io_read(io, 0x71, 1), 0x01); /* 16 MiB above 16 MiB */
    io_write(io, 0xcf8, 0x80000000u, 4);
    assert_int_equal(io_read(io, 0xcfc, 4), 0x12378086u);
    board_destroy(&b);
    phys_destroy(&mem);
    free(io);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_self_tests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyboard_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_translation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a20, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aux_loopback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mouse_probe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mouse_packets, setup, teardown),
        cmocka_unit_test(test_pc_board_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
