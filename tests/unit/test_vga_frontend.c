/*
 * The display's front-end pieces that need no window: screendumps
 * (frontend/screendump.c: the VGA screen to PNG and back), the statistics
 * overlay (frontend/overlay.c), and the -display / -screendump options.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/board.h"
#include "devices/vga.h"
#include "devices/vga_font.h"
#include "devices/vga_render.h"
#include "frontend/display.h"
#include "frontend/options.h"
#include "frontend/overlay.h"
#include "frontend/screendump.h"

static void test_screendump_round_trip(void **state)
{
    (void)state;
    io_space io;
    vclock clk;
    phys_mem mem;
    board b;
    char err[256];
    io_space_init(&io);
    vclock_init(&clk, true);
    assert_int_equal(phys_init(&mem, 2u << 20), 0);
    board_init(&b, &mem, &io, &clk);
    device_config cfg = { .name = "vga", .port = 0x3c0, .irq = -1, .mmio = 0xa0000 };
    assert_int_equal(board_add(&b, &vga_type, &cfg, err, sizeof(err)), 0);
    vga_state *vga = board_find_device(&b, "vga");
    io_write(&io, 0x3d4, 0x0a, 1);  /* cursor off: the dump's time is not the test's */
    io_write(&io, 0x3d5, 0x20, 1);
    const char *msg = "btvm screendump";
    for (int i = 0; msg[i]; i++)
        phys_write(&mem, 0xb8000 + 2 * (80 * 3 + i), 0x1e00u | (uint8_t)msg[i], 2);

    char path[] = "/tmp/btvm-test-dump-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(screendump_vga(vga, path, err, sizeof(err)), 0);

    uint32_t *px;
    int w, h;
    assert_int_equal(screendump_read_png(path, &px, &w, &h, err, sizeof(err)), 0);
    assert_int_equal(w, 720);
    assert_int_equal(h, 400);
    vga_frame f;
    vga_frame_init(&f);
    int y0, y1;
    assert_int_equal(vga_render(vga, &f, 0, true, &y0, &y1), 0);
    assert_memory_equal(px, f.pixels, (size_t)w * h * 4);
    /* 'b' on row 3, yellow (0x3e -> ff ff 55) on blue */
    for (int r = 0; r < 16; r++)
        for (int x = 0; x < 8; x++)
            assert_int_equal(px[(3 * 16 + r) * 720 + x],
                             vga_font8x16['b'][r] & (0x80 >> x) ? 0xffffff55u : 0xff0000aau);
    free(px);
    vga_frame_free(&f);
    remove(path);

    /* an unwritable place: one line of reason, no file */
    assert_int_equal(screendump_vga(vga, "/nonexistent-dir/x.png", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent-dir/x.png"));
    assert_null(strchr(err, '\n'));
    board_destroy(&b);
    phys_destroy(&mem);
}

static void test_overlay_text_and_pixels(void **state)
{
    (void)state;
    machine_stats a = { 0 }, b = { 0 };
    a.bt = b.bt = true;
    b.time_ns = 2000000000ull; /* two seconds later */
    b.instructions = 30000000;
    b.insns_interpreted = 10000000;
    b.handoffs_mode = 2000000;
    b.blocks_translated = 4000;
    b.traps_code_write = 600;
    overlay_text t;
    overlay_format(&a, &b, &t);
    assert_true(t.nlines > 8 && t.nlines <= OVERLAY_LINES);
    char all[OVERLAY_LINES * (OVERLAY_COLS + 2)] = "";
    for (int i = 0; i < t.nlines; i++) {
        assert_true(strlen(t.line[i]) <= OVERLAY_COLS);
        strcat(all, t.line[i]);
        strcat(all, "\n");
    }
    assert_non_null(strstr(all, "15.00M"));  /* guest instructions per second */
    assert_non_null(strstr(all, "10.00M"));  /* of which translated code */
    assert_non_null(strstr(all, "5.00M"));   /* and the interpreter */
    assert_non_null(strstr(all, "translations/s          2000"));
    assert_non_null(strstr(all, "4.00M"));   /* callouts: interpreted less mode hand-offs */
    assert_non_null(strstr(all, "traced writes/s          300"));
    assert_non_null(strstr(all, "not exported"));

    int w, h;
    overlay_size(&t, &w, &h);
    uint32_t *px = calloc((size_t)w * h, 4);
    overlay_draw(&t, px, w);
    /* the panel is translucent black, the text opaque */
    assert_int_equal(px[0], 0xc0000000u);
    int lit = 0;
    for (int i = 0; i < w * h; i++)
        lit += (px[i] >> 24) == 0xff;
    assert_true(lit > 100);
    free(px);
}

static void test_display_options(void **state)
{
    (void)state;
    machine_config cfg;
    char err[256];
    char *ok[] = { "btvm", "-display", "sdl", "-screendump", "/tmp/x.png", "-kernel", "k", NULL };
    assert_int_equal(options_parse(7, ok, &cfg, err, sizeof(err)), OPTIONS_RUN);
    assert_true(cfg.display_sdl);
    assert_string_equal(cfg.screendump, "/tmp/x.png");
    char *none[] = { "btvm", "-display", "sdl", "-display", "none", "-kernel", "k", NULL };
    assert_int_equal(options_parse(7, none, &cfg, err, sizeof(err)), OPTIONS_RUN);
    assert_false(cfg.display_sdl);
    char *nog[] = { "btvm", "-display", "sdl", "-nographic", "-kernel", "k", NULL };
    assert_int_equal(options_parse(6, nog, &cfg, err, sizeof(err)), OPTIONS_RUN);
    assert_false(cfg.display_sdl);
    char *bad[] = { "btvm", "-display", "gtk", "-kernel", "k", NULL };
    assert_int_equal(options_parse(5, bad, &cfg, err, sizeof(err)), OPTIONS_ERROR);
    assert_non_null(strstr(err, "unknown display 'gtk'"));
    char *empty[] = { "btvm", "-screendump", "", "-kernel", "k", NULL };
    assert_int_equal(options_parse(5, empty, &cfg, err, sizeof(err)), OPTIONS_ERROR);
}

/* Host keys to PS/2 set 2 (SDL scancodes are USB HID usages: A = 4,
 * Return = 40, Up = 82, Print Screen = 70, Pause = 72, Right Ctrl = 228). */
static void test_key_codes(void **state)
{
    (void)state;
    uint8_t b[8];
    assert_int_equal(display_ps2_set2(4, true, b), 1);
    assert_int_equal(b[0], 0x1c);
    assert_int_equal(display_ps2_set2(4, false, b), 2);
    assert_memory_equal(b, ((uint8_t[]){ 0xf0, 0x1c }), 2);
    assert_int_equal(display_ps2_set2(40, true, b), 1);
    assert_int_equal(b[0], 0x5a);
    assert_int_equal(display_ps2_set2(82, true, b), 2);
    assert_memory_equal(b, ((uint8_t[]){ 0xe0, 0x75 }), 2);
    assert_int_equal(display_ps2_set2(82, false, b), 3);
    assert_memory_equal(b, ((uint8_t[]){ 0xe0, 0xf0, 0x75 }), 3);
    assert_int_equal(display_ps2_set2(228, true, b), 2);
    assert_memory_equal(b, ((uint8_t[]){ 0xe0, 0x14 }), 2);
    assert_int_equal(display_ps2_set2(70, true, b), 4);
    assert_memory_equal(b, ((uint8_t[]){ 0xe0, 0x12, 0xe0, 0x7c }), 4);
    assert_int_equal(display_ps2_set2(72, true, b), 8);
    assert_int_equal(b[0], 0xe1);
    assert_int_equal(display_ps2_set2(72, false, b), 0);
    assert_int_equal(display_ps2_set2(0, true, b), 0);      /* unknown */
    assert_int_equal(display_ps2_set2(100000, true, b), 0); /* out of range */
}

/* Hot keys by the modifiers the key event carries (SDL_Keymod: LCTRL
 * 0x40, RCTRL 0x80, LALT 0x100, RALT 0x200, LSHIFT 0x1; scancodes G = 10,
 * S = 22, A = 4). */
static void test_hot_keys(void **state)
{
    (void)state;
    assert_int_equal(display_hot_key_of(22, 0x40 | 0x100), DISPLAY_HOT_OVERLAY);
    assert_int_equal(display_hot_key_of(22, 0x80 | 0x200 | 0x1), DISPLAY_HOT_OVERLAY);
    assert_int_equal(display_hot_key_of(10, 0x40 | 0x100), DISPLAY_HOT_GRAB);
    assert_int_equal(display_hot_key_of(22, 0x40), DISPLAY_HOT_NONE);
    assert_int_equal(display_hot_key_of(22, 0x100), DISPLAY_HOT_NONE);
    assert_int_equal(display_hot_key_of(4, 0x40 | 0x100), DISPLAY_HOT_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_screendump_round_trip),
        cmocka_unit_test(test_overlay_text_and_pixels),
        cmocka_unit_test(test_display_options),
        cmocka_unit_test(test_hot_keys),
        cmocka_unit_test(test_key_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
