/*
 * VGA and Bochs VBE (devices/vga.c) and drawing them (devices/vga_render.c):
 * programmed through ports 0x3B0-0x3DF and 0x1CE/0x1CF and the memory
 * windows as a guest (a BIOS, Linux's vgacon, a DISPI driver) would, on a
 * board with the PCI bus.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/board.h"
#include "devices/pci.h"
#include "devices/vga.h"
#include "devices/vga_font.h"
#include "devices/vga_render.h"

typedef struct fixture {
    io_space io;
    vclock clk;
    phys_mem mem;
    board b;
    vga_state *vga;
    pci_bus *bus;
    vga_frame frame;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char err[128];
    io_space_init(&f->io);
    vclock_init(&f->clk, true);
    assert_int_equal(phys_init(&f->mem, 2u << 20), 0);
    board_init(&f->b, &f->mem, &f->io, &f->clk);
    device_config pcfg = { .name = "pci", .port = 0xcf8, .irq = -1 };
    device_config vcfg = { .name = "vga", .port = 0x3c0, .irq = -1, .mmio = 0xa0000 };
    assert_int_equal(board_add(&f->b, &pci_type, &pcfg, err, sizeof(err)), 0);
    assert_int_equal(board_add(&f->b, &vga_type, &vcfg, err, sizeof(err)), 0);
    f->vga = board_find_device(&f->b, "vga");
    f->bus = pci_find_bus(&f->b);
    assert_non_null(f->vga);
    vga_frame_init(&f->frame);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vga_frame_free(&f->frame);
    board_destroy(&f->b);
    phys_destroy(&f->mem);
    free(f);
    return 0;
}

static void outb(fixture *f, uint16_t port, uint8_t v) { io_write(&f->io, port, v, 1); }
static uint8_t inb(fixture *f, uint16_t port) { return (uint8_t)io_read(&f->io, port, 1); }
static void outw(fixture *f, uint16_t port, uint16_t v) { io_write(&f->io, port, v, 2); }
static uint16_t inw(fixture *f, uint16_t port) { return (uint16_t)io_read(&f->io, port, 2); }

static void wr_idx(fixture *f, uint16_t port, uint8_t idx, uint8_t v)
{
    outb(f, port, idx);
    outb(f, port + 1, v);
}

static uint8_t rd_idx(fixture *f, uint16_t port, uint8_t idx)
{
    outb(f, port, idx);
    return inb(f, port + 1);
}

static void wr_ar(fixture *f, uint8_t idx, uint8_t v)
{
    inb(f, 0x3da); /* reset the flip-flop to "index" */
    outb(f, 0x3c0, idx);
    outb(f, 0x3c0, v);
    outb(f, 0x3c0, 0x20); /* PAS on again */
}

/* A register set for a whole mode, as a BIOS's parameter table has it. */
static void set_mode(fixture *f, uint8_t misc, const uint8_t sr[5], const uint8_t cr[25],
                     const uint8_t gr[9], const uint8_t ar[21])
{
    outb(f, 0x3c2, misc);
    for (int i = 0; i < 5; i++)
        wr_idx(f, 0x3c4, (uint8_t)i, sr[i]);
    wr_idx(f, 0x3d4, 0x11, cr[0x11] & 0x7f); /* unprotect CR00-CR07 first */
    for (int i = 0; i < 25; i++)
        wr_idx(f, 0x3d4, (uint8_t)i, cr[i]);
    for (int i = 0; i < 9; i++)
        wr_idx(f, 0x3ce, (uint8_t)i, gr[i]);
    for (int i = 0; i < 21; i++)
        wr_ar(f, (uint8_t)i, ar[i]);
}

static const uint8_t m13_sr[5] = { 0x03, 0x01, 0x0f, 0x00, 0x0e };
static const uint8_t m13_cr[25] = { 0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0xbf, 0x1f, 0x00,
                                    0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x9c, 0x0e,
                                    0x8f, 0x28, 0x40, 0x96, 0xb9, 0xa3, 0xff };
static const uint8_t m13_gr[9] = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0f, 0xff };
static const uint8_t m13_ar[21] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                    0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x41, 0x00,
                                    0x0f, 0x00, 0x00 };
static const uint8_t m12_sr[5] = { 0x03, 0x01, 0x0f, 0x00, 0x06 };
static const uint8_t m12_cr[25] = { 0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0x0b, 0x3e, 0x00,
                                    0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xea, 0x0c,
                                    0xdf, 0x28, 0x00, 0xe7, 0x04, 0xe3, 0xff };
static const uint8_t m12_gr[9] = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0f, 0xff };
static const uint8_t m12_ar[21] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38,
                                    0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x01, 0x00,
                                    0x0f, 0x00, 0x00 };

static uint32_t px(fixture *f, int x, int y)
{
    return f->frame.pixels[(size_t)y * f->frame.width + x];
}

static void render(fixture *f, int *y0, int *y1)
{
    assert_int_equal(vga_render(f->vga, &f->frame, 0, false, y0, y1), 0);
}

/* --- registers --- */

static void test_reset_is_mode3(void **state)
{
    fixture *f = *state;
    vga_mode m;
    vga_get_mode(f->vga, &m);
    assert_int_equal(m.kind, VGA_MODE_TEXT);
    assert_int_equal(m.cols, 80);
    assert_int_equal(m.rows, 25);
    assert_int_equal(m.cw, 9);
    assert_int_equal(m.ch, 16);
    assert_int_equal(m.width, 720);
    assert_int_equal(m.height, 400);
    assert_int_equal(inb(f, 0x3cc), 0x67);
    /* the font is in plane 2: 'A' row 5 */
    assert_int_equal(f->vga->vram[(('A' * 32) + 5) * 4 + 2], vga_font8x16['A'][5]);
    assert_int_not_equal(vga_font8x16['A'][5], 0);
}

static void test_index_data_registers(void **state)
{
    fixture *f = *state;
    wr_idx(f, 0x3c4, 2, 0x05);
    assert_int_equal(rd_idx(f, 0x3c4, 2), 0x05);
    wr_idx(f, 0x3ce, 8, 0x3c);
    assert_int_equal(rd_idx(f, 0x3ce, 8), 0x3c);
    wr_idx(f, 0x3d4, 0x0e, 0x12);
    assert_int_equal(rd_idx(f, 0x3d4, 0x0e), 0x12);
    /* a 16-bit OUT writes index then data, as vgacon's cursor updates do */
    outw(f, 0x3d4, 0x340f);
    assert_int_equal(rd_idx(f, 0x3d4, 0x0f), 0x34);
    /* colour addressing: the monochrome CRTC ports float */
    assert_int_equal(inb(f, 0x3b5), 0xff);
    outb(f, 0x3c2, 0x66); /* monochrome */
    assert_int_equal(rd_idx(f, 0x3b4, 0x0e), 0x12);
    assert_int_equal(inb(f, 0x3d5), 0xff);
}

static void test_crtc_protect(void **state)
{
    fixture *f = *state;
    wr_idx(f, 0x3d4, 0x11, 0x8e); /* bit 7: CR00-CR07 protected */
    uint8_t before = rd_idx(f, 0x3d4, 0x01);
    wr_idx(f, 0x3d4, 0x01, 0x27);
    assert_int_equal(rd_idx(f, 0x3d4, 0x01), before);
    uint8_t cr7 = rd_idx(f, 0x3d4, 0x07);
    wr_idx(f, 0x3d4, 0x07, (uint8_t)(cr7 ^ 0x11)); /* only the line compare bit 4 lands */
    assert_int_equal(rd_idx(f, 0x3d4, 0x07), cr7 ^ 0x10);
    wr_idx(f, 0x3d4, 0x11, 0x0e);
    wr_idx(f, 0x3d4, 0x01, 0x27);
    assert_int_equal(rd_idx(f, 0x3d4, 0x01), 0x27);
}

static void test_attribute_flipflop(void **state)
{
    fixture *f = *state;
    inb(f, 0x3da);             /* flip-flop to index */
    outb(f, 0x3c0, 0x01);      /* index 1 (PAS clear: screen blanks) */
    outb(f, 0x3c0, 0x3f);      /* data */
    assert_int_equal(inb(f, 0x3c1), 0x3f);
    outb(f, 0x3c0, 0x20);      /* index again, PAS set */
    assert_int_equal(inb(f, 0x3c0), 0x20);
    /* a half-written pair is discarded by reading input status 1 */
    outb(f, 0x3c0, 0x02);
    inb(f, 0x3da);
    outb(f, 0x3c0, 0x22);      /* an index, not data for register 2 */
    assert_int_equal(inb(f, 0x3c0), 0x22);
    assert_int_equal(f->vga->ar[2], 0x02);
    /* input status 1 shows retrace now and then, so polling ends */
    int retrace = 0, enable_toggles = 0;
    uint8_t last = inb(f, 0x3da);
    for (int i = 0; i < 64; i++) {
        uint8_t v = inb(f, 0x3da);
        retrace += (v & 8) != 0;
        enable_toggles += (v ^ last) & 1;
        last = v;
    }
    assert_true(retrace > 0 && retrace < 64);
    assert_true(enable_toggles > 0);
}

static void test_dac(void **state)
{
    fixture *f = *state;
    outb(f, 0x3c8, 10);
    outb(f, 0x3c9, 0x3f);
    outb(f, 0x3c9, 0x20);
    outb(f, 0x3c9, 0x41);   /* 6 bits kept */
    outb(f, 0x3c9, 0x01);   /* auto-increment: entry 11 */
    outb(f, 0x3c9, 0x02);
    outb(f, 0x3c9, 0x03);
    assert_int_equal(inb(f, 0x3c8), 12);
    outb(f, 0x3c7, 10);
    assert_int_equal(inb(f, 0x3c7), 3); /* DAC state: reading */
    assert_int_equal(inb(f, 0x3c9), 0x3f);
    assert_int_equal(inb(f, 0x3c9), 0x20);
    assert_int_equal(inb(f, 0x3c9), 0x01);
    assert_int_equal(inb(f, 0x3c9), 0x01);
    assert_int_equal(inb(f, 0x3c9), 0x02);
    assert_int_equal(inb(f, 0x3c9), 0x03);
}

/* --- memory --- */

static void test_text_memory_odd_even(void **state)
{
    fixture *f = *state;
    phys_write(&f->mem, 0xb8000 + 2 * 81, 0x1f41, 2); /* 'A', white on blue, row 1 col 1 */
    assert_int_equal(phys_read(&f->mem, 0xb8000 + 2 * 81, 2), 0x1f41);
    /* character in plane 0 and attribute in plane 1, both at offset 2 * cell */
    assert_int_equal(f->vga->vram[(2 * 81) * 4 + 0], 0x41);
    assert_int_equal(f->vga->vram[(2 * 81) * 4 + 1], 0x1f);
    /* the 0xA0000 window is not mapped in mode 3 (GR06: B8000, 32 KiB) */
    assert_int_equal(phys_read(&f->mem, 0xa0000, 1), 0xff);
    vga_mode m;
    vga_get_mode(f->vga, &m);
    assert_int_equal(vga_text_cell(f->vga, &m, 1, 1), 0x1f41);
}

static void test_planar_write_modes(void **state)
{
    fixture *f = *state;
    set_mode(f, 0xe3, m12_sr, m12_cr, m12_gr, m12_ar);
    vga_state *v = f->vga;
    /* write mode 0 with set/reset: colour 0x5 to all 8 pixels */
    wr_idx(f, 0x3ce, 0, 0x05);
    wr_idx(f, 0x3ce, 1, 0x0f);
    phys_write(&f->mem, 0xa0000 + 3, 0x00, 1);
    assert_int_equal(v->vram[3 * 4 + 0], 0xff);
    assert_int_equal(v->vram[3 * 4 + 1], 0x00);
    assert_int_equal(v->vram[3 * 4 + 2], 0xff);
    assert_int_equal(v->vram[3 * 4 + 3], 0x00);
    wr_idx(f, 0x3ce, 1, 0x00);
    /* bit mask keeps the latched pixels: read to load latches, then write */
    (void)phys_read(&f->mem, 0xa0000 + 3, 1);
    wr_idx(f, 0x3ce, 8, 0x0f);
    wr_idx(f, 0x3ce, 5, 0x02); /* write mode 2: colour 0xa to the low 4 pixels */
    phys_write(&f->mem, 0xa0000 + 3, 0x0a, 1);
    assert_int_equal(v->vram[3 * 4 + 0], 0xf0);
    assert_int_equal(v->vram[3 * 4 + 1], 0x0f);
    assert_int_equal(v->vram[3 * 4 + 2], 0xf0);
    assert_int_equal(v->vram[3 * 4 + 3], 0x0f);
    /* read mode 1: which pixels have colour 0xa */
    wr_idx(f, 0x3ce, 5, 0x08);
    wr_idx(f, 0x3ce, 2, 0x0a);
    wr_idx(f, 0x3ce, 7, 0x0f);
    assert_int_equal(phys_read(&f->mem, 0xa0000 + 3, 1), 0x0f);
    /* read mode 0 through the read map select */
    wr_idx(f, 0x3ce, 5, 0x00);
    wr_idx(f, 0x3ce, 4, 0x01);
    assert_int_equal(phys_read(&f->mem, 0xa0000 + 3, 1), 0x0f);
    /* write mode 1 copies the latches (screen-to-screen) */
    wr_idx(f, 0x3ce, 5, 0x01);
    phys_write(&f->mem, 0xa0000 + 100, 0x00, 1);
    for (int p = 0; p < 4; p++)
        assert_int_equal(v->vram[100 * 4 + p], v->vram[3 * 4 + p]);
    /* write mode 3: set/reset colour through rotated data AND bit mask */
    wr_idx(f, 0x3ce, 5, 0x03);
    wr_idx(f, 0x3ce, 8, 0xff);
    wr_idx(f, 0x3ce, 0, 0x0c);
    (void)phys_read(&f->mem, 0xa0000 + 201, 1);
    phys_write(&f->mem, 0xa0000 + 201, 0x81, 1);
    assert_int_equal(v->vram[201 * 4 + 0], 0x00);
    assert_int_equal(v->vram[201 * 4 + 2], 0x81);
    assert_int_equal(v->vram[201 * 4 + 3], 0x81);
    /* the map mask limits the planes written */
    wr_idx(f, 0x3ce, 5, 0x00);
    wr_idx(f, 0x3c4, 2, 0x02);
    phys_write(&f->mem, 0xa0000 + 301, 0x5a, 1);
    assert_int_equal(v->vram[301 * 4 + 0], 0x00);
    assert_int_equal(v->vram[301 * 4 + 1], 0x5a);
}

/* --- drawing --- */

static void test_render_text(void **state)
{
    fixture *f = *state;
    int y0, y1;
    render(f, &y0, &y1);
    assert_int_equal(f->frame.width, 720);
    assert_int_equal(f->frame.height, 400);
    assert_int_equal(y0, 0);
    assert_int_equal(y1, 400);
    /* 'H' white on blue at row 2, col 3 */
    phys_write(&f->mem, 0xb8000 + 2 * (2 * 80 + 3), 0x1f48, 2);
    render(f, &y0, &y1);
    assert_int_equal(y0, 32); /* only that text row changed */
    assert_int_equal(y1, 48);
    uint32_t blue = 0xff0000aau, white = 0xffffffffu;
    for (int r = 0; r < 16; r++)
        for (int b = 0; b < 8; b++)
            assert_int_equal(px(f, 3 * 9 + b, 32 + r),
                             vga_font8x16['H'][r] & (0x80 >> b) ? white : blue);
    /* the 9th column is background for letters */
    assert_int_equal(px(f, 3 * 9 + 8, 32 + 5), blue);
    /* nothing changed: nothing redrawn */
    render(f, &y0, &y1);
    assert_int_equal(y0, y1);
}

static void test_render_cursor_and_scroll(void **state)
{
    fixture *f = *state;
    int y0, y1;
    wr_idx(f, 0x3d4, 0x0a, 0x0e); /* cursor scan lines 14-15 */
    wr_idx(f, 0x3d4, 0x0b, 0x0f);
    wr_idx(f, 0x3d4, 0x0e, 0x00);
    wr_idx(f, 0x3d4, 0x0f, 81);   /* row 1, col 1 */
    /* cursor phase on at 228 ms .. 457 ms */
    assert_int_equal(vga_render(f->vga, &f->frame, 300000000ull, false, &y0, &y1), 0);
    assert_int_equal(px(f, 9 + 2, 16 + 15), 0xffaaaaaau); /* light grey cursor */
    assert_int_equal(px(f, 9 + 2, 16 + 3), 0xff000000u);
    /* phase off: the cursor goes, one row redrawn */
    assert_int_equal(vga_render(f->vga, &f->frame, 500000000ull, false, &y0, &y1), 0);
    assert_int_equal(px(f, 9 + 2, 16 + 15), 0xff000000u);
    assert_int_equal(y0, 16);
    assert_int_equal(y1, 32);
    /* hardware scroll: the start address moves a row down */
    phys_write(&f->mem, 0xb8000 + 2 * 80, 0x0758, 2); /* 'X' at row 1, col 0 */
    wr_idx(f, 0x3d4, 0x0c, 0);
    wr_idx(f, 0x3d4, 0x0d, 80);
    render(f, &y0, &y1);
    vga_mode m;
    vga_get_mode(f->vga, &m);
    assert_int_equal(vga_text_cell(f->vga, &m, 0, 0), 0x0758);
    assert_int_equal(px(f, 1, 3), vga_font8x16['X'][3] & 0x40 ? 0xffaaaaaau : 0xff000000u);
}

static void test_render_mode13(void **state)
{
    fixture *f = *state;
    set_mode(f, 0x63, m13_sr, m13_cr, m13_gr, m13_ar);
    vga_mode m;
    vga_get_mode(f->vga, &m);
    assert_int_equal(m.kind, VGA_MODE_256);
    assert_int_equal(m.width, 320);
    assert_int_equal(m.height, 200);
    for (uint32_t a = 0; a < 0x10000; a += 4) /* clear what text mode left */
        phys_write(&f->mem, 0xa0000 + a, 0, 4);
    outb(f, 0x3c8, 0x42);
    outb(f, 0x3c9, 0x3f);
    outb(f, 0x3c9, 0x00);
    outb(f, 0x3c9, 0x15);
    phys_write(&f->mem, 0xa0000 + 10 * 320 + 7, 0x42, 1); /* chain-4: linear pixels */
    assert_int_equal(f->vga->vram[10 * 320 + 7], 0x42);
    int y0, y1;
    render(f, &y0, &y1);
    assert_int_equal(px(f, 7, 10), 0xffff0055u);
    assert_int_equal(px(f, 8, 10), 0xff000000u);
    /* one more pixel: only its line is redrawn */
    phys_write(&f->mem, 0xa0000 + 150 * 320 + 1, 0x42, 1);
    render(f, &y0, &y1);
    assert_true(y0 <= 150 && y1 > 150 && y1 - y0 < 20);
}

static void test_render_mode12_planar(void **state)
{
    fixture *f = *state;
    set_mode(f, 0xe3, m12_sr, m12_cr, m12_gr, m12_ar);
    vga_mode m;
    vga_get_mode(f->vga, &m);
    assert_int_equal(m.kind, VGA_MODE_PLANAR);
    assert_int_equal(m.width, 640);
    assert_int_equal(m.height, 480);
    /* colour 14 (yellow: AR0E = 0x3e) in the first pixel of line 2 */
    wr_idx(f, 0x3ce, 0, 0x0e);
    wr_idx(f, 0x3ce, 1, 0x0f);
    wr_idx(f, 0x3ce, 8, 0x80);
    (void)phys_read(&f->mem, 0xa0000 + 2 * 80, 1);
    phys_write(&f->mem, 0xa0000 + 2 * 80, 0xff, 1);
    int y0, y1;
    render(f, &y0, &y1);
    assert_int_equal(px(f, 0, 2), 0xffffff55u);
    assert_int_equal(px(f, 1, 2), 0xff000000u);
}

static void test_blanked_screen(void **state)
{
    fixture *f = *state;
    phys_write(&f->mem, 0xb8000, 0x7fdb, 2); /* a full block, white */
    inb(f, 0x3da);
    outb(f, 0x3c0, 0x00); /* PAS clear: the attribute controller blanks */
    int y0, y1;
    render(f, &y0, &y1);
    assert_int_equal(px(f, 2, 2), 0xff000000u);
    outb(f, 0x3c0, 0x00);
    outb(f, 0x3c0, 0x20);
    render(f, &y0, &y1);
    assert_int_equal(px(f, 2, 2), 0xffffffffu);
}

/* --- Bochs VBE --- */

static void dispi_w(fixture *f, uint16_t idx, uint16_t v)
{
    outw(f, 0x1ce, idx);
    outw(f, 0x1cf, v);
}

static uint16_t dispi_r(fixture *f, uint16_t idx)
{
    outw(f, 0x1ce, idx);
    return inw(f, 0x1cf);
}

static void test_dispi_registers(void **state)
{
    fixture *f = *state;
    assert_int_equal(dispi_r(f, VBE_DISPI_INDEX_ID), VBE_DISPI_ID5);
    dispi_w(f, VBE_DISPI_INDEX_ID, 0xb0c2);
    assert_int_equal(dispi_r(f, VBE_DISPI_INDEX_ID), 0xb0c2);
    dispi_w(f, VBE_DISPI_INDEX_ID, 0x1234); /* not a DISPI version: ignored */
    assert_int_equal(dispi_r(f, VBE_DISPI_INDEX_ID), 0xb0c2);
    assert_int_equal(dispi_r(f, VBE_DISPI_INDEX_VIDEO_MEMORY_64K), VGA_VRAM_SIZE >> 16);
    dispi_w(f, VBE_DISPI_INDEX_ENABLE, VBE_DISPI_GETCAPS);
    assert_int_equal(dispi_r(f, VBE_DISPI_INDEX_XRES), VBE_DISPI_MAX_XRES);
    assert_int_equal(dispi_r(f, VBE_DISPI_INDEX_YRES), VBE_DISPI_MAX_YRES);
    assert_int_equal(dispi_r(f, VBE_DISPI_INDEX_BPP), VBE_DISPI_MAX_BPP);
    dispi_w(f, VBE_DISPI_INDEX_ENABLE, 0);
    dispi_w(f, VBE_DISPI_INDEX_BPP, 12); /* unsupported depth: ignored */
    assert_int_equal(dispi_r(f, VBE_DISPI_INDEX_BPP), 8);
    /* resolutions beyond the maxima are refused; a mode without a
     * resolution does not turn on */
    dispi_w(f, VBE_DISPI_INDEX_XRES, 4096);
    assert_int_equal(dispi_r(f, VBE_DISPI_INDEX_XRES), 0);
    dispi_w(f, VBE_DISPI_INDEX_BPP, 32);
    dispi_w(f, VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED);
    assert_int_equal(dispi_r(f, VBE_DISPI_INDEX_ENABLE) & VBE_DISPI_ENABLED, 0);
    dispi_w(f, VBE_DISPI_INDEX_ENABLE, 0);
    /* 1024x768x32 does, with the virtual size derived */
    dispi_w(f, VBE_DISPI_INDEX_XRES, 1024);
    dispi_w(f, VBE_DISPI_INDEX_YRES, 768);
    dispi_w(f, VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED);
    assert_int_equal(dispi_r(f, VBE_DISPI_INDEX_ENABLE) & VBE_DISPI_ENABLED, VBE_DISPI_ENABLED);
    assert_int_equal(dispi_r(f, VBE_DISPI_INDEX_VIRT_WIDTH), 1024);
    assert_int_equal(dispi_r(f, VBE_DISPI_INDEX_VIRT_HEIGHT), VGA_VRAM_SIZE / (1024 * 4));
    /* geometry is frozen while enabled */
    dispi_w(f, VBE_DISPI_INDEX_XRES, 800);
    assert_int_equal(dispi_r(f, VBE_DISPI_INDEX_XRES), 1024);
}

static void test_dispi_lfb_and_bank(void **state)
{
    fixture *f = *state;
    uint8_t devfn = pci_devfn(f->vga->pci);
    assert_int_equal(pci_config_read(f->bus, devfn, 0x00, 4), 0x11111234u);
    assert_int_equal(pci_config_read(f->bus, devfn, 0x08, 4) >> 8, 0x030000u);
    assert_int_equal(pci_config_read(f->bus, devfn, 0x10, 4), VGA_LFB_BASE | 0x08);
    /* memory decoding is off until the driver enables it */
    assert_int_equal(phys_read(&f->mem, VGA_LFB_BASE, 4), 0xffffffffu);
    pci_config_write(f->bus, devfn, 0x04, 0x0002, 2);

    dispi_w(f, VBE_DISPI_INDEX_XRES, 640);
    dispi_w(f, VBE_DISPI_INDEX_YRES, 480);
    dispi_w(f, VBE_DISPI_INDEX_BPP, 32);
    dispi_w(f, VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED);
    phys_write(&f->mem, VGA_LFB_BASE + (5 * 640 + 9) * 4, 0x00123456, 4);
    assert_int_equal(phys_read(&f->mem, VGA_LFB_BASE + (5 * 640 + 9) * 4, 4), 0x00123456);
    int y0, y1;
    render(f, &y0, &y1);
    assert_int_equal(f->frame.width, 640);
    assert_int_equal(f->frame.height, 480);
    assert_int_equal(px(f, 9, 5), 0xff123456u);
    /* only the written line is redrawn next time */
    phys_write(&f->mem, VGA_LFB_BASE + (400 * 640 + 1) * 4, 0x00ff0000, 4);
    render(f, &y0, &y1);
    assert_true(y0 <= 400 && y1 > 400 && y1 - y0 <= 2);
    assert_int_equal(px(f, 1, 400), 0xffff0000u);
    /* the 64 KiB bank at 0xA0000 reaches the same memory */
    dispi_w(f, VBE_DISPI_INDEX_BANK, 1);
    phys_write(&f->mem, 0xa0000 + 4, 0x0000ff00, 4); /* vram 0x10004: pixel 16385 */
    render(f, &y0, &y1);
    assert_int_equal(px(f, 16385 % 640, 16385 / 640), 0xff00ff00u);
    /* 16 bpp, 5:6:5 */
    dispi_w(f, VBE_DISPI_INDEX_ENABLE, 0);
    dispi_w(f, VBE_DISPI_INDEX_BPP, 16);
    dispi_w(f, VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED);
    phys_write(&f->mem, VGA_LFB_BASE + 2 * 3, 0xf800, 2);
    render(f, &y0, &y1);
    assert_int_equal(px(f, 3, 0), 0xffff0000u);
    /* disabled: back to the VGA text mode */
    dispi_w(f, VBE_DISPI_INDEX_ENABLE, 0);
    render(f, &y0, &y1);
    assert_int_equal(f->frame.width, 720);
}

/* A guest can never kill the monitor: random register and memory
 * writes, each followed by a render (run under ASan by scripts/test). */
static void test_random_programming_is_safe(void **state)
{
    fixture *f = *state;
    uint32_t x = 12345;
    pci_config_write(f->bus, pci_devfn(f->vga->pci), 0x04, 0x0002, 2);
    for (int i = 0; i < 3000; i++) {
        x = x * 1103515245u + 12345u;
        uint32_t r = x >> 8;
        switch (r % 7) {
        case 0: wr_idx(f, 0x3d4, (uint8_t)(r >> 3), (uint8_t)(r >> 11)); break;
        case 1: wr_idx(f, 0x3c4, (uint8_t)(r >> 3), (uint8_t)(r >> 11)); break;
        case 2: wr_idx(f, 0x3ce, (uint8_t)(r >> 3), (uint8_t)(r >> 11)); break;
        case 3: wr_ar(f, (uint8_t)(r >> 3), (uint8_t)(r >> 11)); break;
        case 4: dispi_w(f, (uint16_t)((r >> 3) % 12), (uint16_t)(r >> 7)); break;
        case 5: phys_write(&f->mem, 0xa0000 + (r >> 3) % 0x20000, r, 1 << ((r >> 1) % 3)); break;
        default: phys_write(&f->mem, VGA_LFB_BASE + (r >> 3) % VGA_VRAM_SIZE, r, 1); break;
        }
        if (i % 7 == 0)
            outb(f, 0x3c2, (uint8_t)r);
        int y0, y1;
        assert_int_equal(vga_render(f->vga, &f->frame, (uint64_t)i * 50000000ull, i % 11 == 0,
                                    &y0, &y1), 0);
        assert_true(y0 >= 0 && y0 <= y1 && y1 <= f->frame.height);
        (void)phys_read(&f->mem, 0xa0000 + (r >> 5) % 0x20000, 2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reset_is_mode3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_data_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crtc_protect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attribute_flipflop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dac, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_memory_odd_even, setup, teardown),
        cmocka_unit_test_setup_teardown(test_planar_write_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_render_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_render_cursor_and_scroll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_render_mode13, setup, teardown),
        cmocka_unit_test_setup_teardown(test_render_mode12_planar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blanked_screen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispi_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispi_lfb_and_bank, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_programming_is_safe, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
