/*
 * Drawing the VGA: see vga_render.h.
 *
 * The picture follows the registers as the VGA's CRT controller,
 * sequencer and attribute controller would scan memory (FreeVGA,
 * "CRT Controller Registers", "Attribute Controller Registers"):
 *   - size: horizontal display end CR01 + 1 characters of 8 or 9 dots
 *     (SR01 bit 0); vertical display end CR12 with overflow bits 8 and 9
 *     in CR07 bits 1 and 6; in graphics each memory line repeats
 *     max scan line (CR09 bits 4-0) + 1 times, twice more with double
 *     scan (CR09 bit 7); 256-colour mode (GR05 bit 6) halves the width.
 *   - memory: start address CR0C/CR0D; offset CR13 in units of 2 cells
 *     (text, word mode), 2 bytes per plane (planar, byte mode) or 8
 *     bytes of interleaved planes (256 colours).
 *   - text: character from plane 0, attribute from plane 1, glyph rows
 *     from plane 2 (32 bytes per character, character maps by SR03 and
 *     attribute bit 3); the 9th dot repeats the 8th for 0xC0-0xDF when
 *     AR10 bit 2 asks; attribute bit 7 blinks (AR10 bit 3) or is
 *     background intensity; the cursor (CR0A/CR0B/CR0E/CR0F) blinks
 *     every 16 frames and characters every 32, as the VGA does at 70 Hz.
 *   - colour: a 4-bit pixel goes through the palette AR00-AR0F (masked
 *     by colour plane enable AR12 in graphics), bits 5-4 or 7-4 from
 *     AR14 (AR10 bit 7), the pel mask, then the DAC's 6-bit components.
 *     Palette address source clear (AR index bit 5) or SR01 bit 5
 *     (screen off) blank the screen.
 *   - DISPI: the Bochs VBE modes read vram linearly from the display
 *     offsets with the virtual width as line length.
 */
#include "devices/vga_render.h"

#include <stdlib.h>
#include <string.h>

#define BLINK_CURSOR_NS 228571428ull /* 16 frames at 70 Hz */
#define BLINK_CHAR_NS   457142857ull /* 32 frames */
#define MAX_WIDTH  VBE_DISPI_MAX_XRES
#define MAX_HEIGHT VBE_DISPI_MAX_YRES

static bool dispi_on(const vga_state *s)
{
    return s->dispi[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_ENABLED;
}

void vga_get_mode(const vga_state *s, vga_mode *m)
{
    memset(m, 0, sizeof(*m));
    if (dispi_on(s)) {
        const uint16_t *d = s->dispi;
        unsigned bpp = d[VBE_DISPI_INDEX_BPP];
        unsigned bytes = bpp == 15 ? 2 : (bpp + 7) / 8;
        m->kind = VGA_MODE_DISPI;
        m->width = d[VBE_DISPI_INDEX_XRES];
        m->height = d[VBE_DISPI_INDEX_YRES];
        m->bpp = (int)bpp;
        m->stride = d[VBE_DISPI_INDEX_VIRT_WIDTH] * bytes;
        m->start = d[VBE_DISPI_INDEX_Y_OFFSET] * m->stride + d[VBE_DISPI_INDEX_X_OFFSET] * bytes;
        m->line_div = 1;
        if (m->width <= 0 || m->height <= 0 ||
            (uint64_t)m->start + (uint64_t)m->stride * m->height > VGA_VRAM_SIZE)
            goto blank;
        return;
    }
    int hchars = s->cr[0x01] + 1;
    int vdisp = (s->cr[0x12] | (s->cr[0x07] & 0x02) << 7 | (s->cr[0x07] & 0x40) << 3) + 1;
    uint32_t start = (uint32_t)s->cr[0x0c] << 8 | s->cr[0x0d];
    if (!(s->gr[0x06] & 1)) {
        m->kind = VGA_MODE_TEXT;
        m->cw = s->sr[1] & 1 ? 8 : 9;
        m->ch = (s->cr[0x09] & 0x1f) + 1;
        m->cols = hchars;
        m->rows = vdisp / m->ch;
        m->width = m->cols * m->cw;
        m->height = m->rows * m->ch;
        m->start = start;
        m->stride = s->cr[0x13] * 2u;
    } else {
        m->line_div = ((s->cr[0x09] & 0x1f) + 1) * (s->cr[0x09] & 0x80 ? 2 : 1);
        m->width = hchars * 8;
        m->height = vdisp / m->line_div;
        if (s->gr[0x05] & 0x40) {
            m->kind = VGA_MODE_256;
            m->width /= 2;
            m->start = start * 4;
            m->stride = s->cr[0x13] * 8u;
        } else {
            m->kind = VGA_MODE_PLANAR;
            m->start = start;
            m->stride = s->cr[0x13] * 2u;
        }
    }
    if (m->width <= 0 || m->height <= 0 || m->width > MAX_WIDTH || m->height > MAX_HEIGHT)
        goto blank;
    return;
blank:
    memset(m, 0, sizeof(*m));
    m->kind = VGA_MODE_BLANK;
    m->width = 640;
    m->height = 480;
}

void vga_frame_init(vga_frame *f)
{
    memset(f, 0, sizeof(*f));
}

void vga_frame_free(vga_frame *f)
{
    free(f->pixels);
    free(f->cells);
    memset(f, 0, sizeof(*f));
}

static uint32_t dac_argb(const vga_state *s, uint8_t index)
{
    const uint8_t *c = s->dac[index & s->pel_mask];
    if (s->dispi[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_8BIT_DAC)
        return 0xff000000u | (uint32_t)c[0] << 16 | (uint32_t)c[1] << 8 | c[2];
    /* 6 bits to 8: replicate the top bits into the bottom, so 63 is 255 */
    uint32_t r = (uint32_t)(c[0] << 2 | c[0] >> 4), g = (uint32_t)(c[1] << 2 | c[1] >> 4),
             b = (uint32_t)(c[2] << 2 | c[2] >> 4);
    return 0xff000000u | r << 16 | g << 8 | b;
}

/* A 4-bit attribute-controller input to the DAC index it selects. */
static uint8_t ar_to_dac(const vga_state *s, unsigned pixel)
{
    uint8_t p = s->ar[pixel & 0x0f];
    if (s->ar[0x10] & 0x80)
        return (uint8_t)((p & 0x0f) | (s->ar[0x14] & 0x0f) << 4);
    return (uint8_t)((p & 0x3f) | (s->ar[0x14] & 0x0c) << 4);
}

uint16_t vga_text_cell(const vga_state *s, const vga_mode *m, int row, int col)
{
    uint32_t cell = (m->start + (uint32_t)row * m->stride + (uint32_t)col) * 2 & 0xffff;
    return (uint16_t)(s->vram[cell * 4] | s->vram[cell * 4 + 1] << 8);
}

static bool blanked(const vga_state *s)
{
    return !(s->ar_index & 0x20) || (s->sr[1] & 0x20);
}

static void fill(vga_frame *f, uint32_t argb)
{
    for (size_t i = 0; i < (size_t)f->width * f->height; i++)
        f->pixels[i] = argb;
}

/* Text: returns the changed rows through y0/y1. */
static void draw_text(vga_state *s, vga_frame *f, const vga_mode *m, uint64_t now, bool full,
                      int *y0, int *y1)
{
    static const uint32_t font_base[8] = { 0x0000, 0x4000, 0x8000, 0xc000,
                                           0x2000, 0x6000, 0xa000, 0xe000 };
    uint8_t sr3 = s->sr[3];
    uint32_t map_a = font_base[((sr3 >> 5) & 1) << 2 | ((sr3 >> 2) & 3)];
    uint32_t map_b = font_base[((sr3 >> 4) & 1) << 2 | (sr3 & 3)];
    bool blink_attr = s->ar[0x10] & 0x08;
    bool line_graphics = s->ar[0x10] & 0x04;
    bool cursor_phase = (now / BLINK_CURSOR_NS) & 1;
    bool char_phase = (now / BLINK_CHAR_NS) & 1;
    uint32_t cursor = ((uint32_t)s->cr[0x0e] << 8 | s->cr[0x0f]);
    int cur_start = s->cr[0x0a] & 0x1f, cur_end = s->cr[0x0b] & 0x1f;
    bool cursor_on = !(s->cr[0x0a] & 0x20) && cursor_phase && cur_start <= cur_end;
    uint32_t pal[16];
    for (int i = 0; i < 16; i++)
        pal[i] = dac_argb(s, ar_to_dac(s, (unsigned)i));

    for (int row = 0; row < m->rows; row++) {
        for (int col = 0; col < m->cols; col++) {
            uint32_t addr = (m->start + (uint32_t)row * m->stride + (uint32_t)col) & 0xffff;
            uint16_t ca = vga_text_cell(s, m, row, col);
            uint8_t ch = (uint8_t)ca, attr = (uint8_t)(ca >> 8);
            bool has_cursor = cursor_on && addr == (cursor & 0xffff);
            bool blinks = blink_attr && (attr & 0x80);
            uint32_t key = ca | (uint32_t)has_cursor << 16 | (uint32_t)(blinks && char_phase) << 17 |
                           1u << 31;
            uint32_t *k = &f->cells[row * m->cols + col];
            if (!full && *k == key)
                continue;
            *k = key;
            uint32_t fg = pal[attr & 0x0f];
            uint32_t bg = pal[blinks ? (attr >> 4) & 7 : attr >> 4];
            if (blinks && char_phase)
                fg = bg;
            uint32_t glyph = (attr & 0x08 ? map_a : map_b) + ch * 32u;
            bool ninth = line_graphics && ch >= 0xc0 && ch <= 0xdf;
            for (int y = 0; y < m->ch; y++) {
                uint8_t bits = y < 32 ? s->vram[((glyph + (uint32_t)y) & 0xffff) * 4 + 2] : 0;
                if (has_cursor && y >= cur_start && y <= cur_end)
                    bits = 0xff;
                uint32_t *px = f->pixels + (size_t)(row * m->ch + y) * f->width + col * m->cw;
                for (int x = 0; x < 8; x++)
                    px[x] = bits & (0x80 >> x) ? fg : bg;
                if (m->cw == 9)
                    px[8] = (ninth || (has_cursor && y >= cur_start && y <= cur_end)) && (bits & 1)
                                ? fg : bg;
            }
            int top = row * m->ch, bottom = top + m->ch;
            if (*y0 == *y1) {
                *y0 = top;
                *y1 = bottom;
            } else {
                if (top < *y0)
                    *y0 = top;
                if (bottom > *y1)
                    *y1 = bottom;
            }
        }
    }
}

static bool range_dirty(const vga_state *s, uint32_t from, uint32_t len)
{
    if (len == 0)
        return false;
    uint32_t first = (from & (VGA_VRAM_SIZE - 1)) >> VGA_PAGE_SHIFT;
    uint32_t last = ((from + len - 1) & (VGA_VRAM_SIZE - 1)) >> VGA_PAGE_SHIFT;
    if (last < first) /* wraps around the end of video memory */
        return true;
    for (uint32_t p = first; p <= last; p++)
        if (vga_page_dirty(s, p))
            return true;
    return false;
}

static void draw_line(const vga_state *s, const vga_mode *m, const uint32_t *pal, uint32_t line,
                      uint32_t *px)
{
    const uint8_t *v = s->vram;
    switch (m->kind) {
    case VGA_MODE_PLANAR: {
        uint32_t base = m->start + line * m->stride;
        uint8_t plane_mask = s->ar[0x12] & 0x0f;
        for (int x = 0; x < m->width; x += 8) {
            uint32_t o = ((base + (uint32_t)x / 8) & 0xffff) * 4;
            uint8_t p0 = v[o], p1 = v[o + 1], p2 = v[o + 2], p3 = v[o + 3];
            for (int b = 0; b < 8 && x + b < m->width; b++) {
                unsigned sh = 7 - (unsigned)b;
                unsigned c = ((p0 >> sh) & 1) | ((p1 >> sh) & 1) << 1 | ((p2 >> sh) & 1) << 2 |
                             ((p3 >> sh) & 1) << 3;
                px[x + b] = pal[c & plane_mask];
            }
        }
        break;
    }
    case VGA_MODE_256: {
        uint32_t base = m->start + line * m->stride;
        for (int x = 0; x < m->width; x++)
            px[x] = pal[v[(base + (uint32_t)x) & 0x3ffff]];
        break;
    }
    case VGA_MODE_DISPI: {
        const uint8_t *p = v + m->start + (size_t)line * m->stride;
        for (int x = 0; x < m->width; x++) {
            uint32_t r, g, b;
            switch (m->bpp) {
            case 8: px[x] = pal[p[x]]; continue;
            case 15: {
                uint32_t w = p[2 * x] | p[2 * x + 1] << 8;
                r = (w >> 10) & 31; g = (w >> 5) & 31; b = w & 31;
                r = r << 3 | r >> 2; g = g << 3 | g >> 2; b = b << 3 | b >> 2;
                break;
            }
            case 16: {
                uint32_t w = p[2 * x] | p[2 * x + 1] << 8;
                r = (w >> 11) & 31; g = (w >> 5) & 63; b = w & 31;
                r = r << 3 | r >> 2; g = g << 2 | g >> 4; b = b << 3 | b >> 2;
                break;
            }
            case 24: b = p[3 * x]; g = p[3 * x + 1]; r = p[3 * x + 2]; break;
            default: b = p[4 * x]; g = p[4 * x + 1]; r = p[4 * x + 2]; break;
            }
            px[x] = 0xff000000u | r << 16 | g << 8 | b;
        }
        break;
    }
    default:
        break;
    }
}

/* The bytes of vram one memory line of a graphics mode reads. */
static void line_span(const vga_mode *m, uint32_t line, uint32_t *from, uint32_t *len)
{
    switch (m->kind) {
    case VGA_MODE_PLANAR:
        *from = ((m->start + line * m->stride) & 0xffff) * 4;
        *len = (uint32_t)(m->width + 7) / 8 * 4;
        break;
    case VGA_MODE_256:
        *from = (m->start + line * m->stride) & 0x3ffff;
        *len = (uint32_t)m->width;
        break;
    default:
        *from = m->start + line * m->stride;
        *len = m->stride;
        break;
    }
}

int vga_render(vga_state *s, vga_frame *f, uint64_t now_ns, bool full, int *y0, int *y1)
{
    vga_mode m;
    vga_get_mode(s, &m);
    *y0 = *y1 = 0;
    bool one_off = full;
    bool blank = blanked(s) && m.kind != VGA_MODE_DISPI;
    if (blank)
        m.kind = VGA_MODE_BLANK;
    if (!f->valid || memcmp(&m, &f->mode, sizeof(m)) != 0 || f->palette_gen != s->palette_gen ||
        f->font_gen != s->font_gen)
        full = true;
    if (!f->pixels || f->width != m.width || f->height != m.height) {
        uint32_t *p = malloc((size_t)m.width * m.height * sizeof(uint32_t));
        if (!p)
            return -1;
        free(f->pixels);
        f->pixels = p;
        f->width = m.width;
        f->height = m.height;
        full = true;
    }
    if (m.kind == VGA_MODE_TEXT) {
        size_t n = (size_t)m.cols * m.rows;
        if (full || !f->cells) {
            uint32_t *c = realloc(f->cells, (n ? n : 1) * sizeof(uint32_t));
            if (!c)
                return -1;
            f->cells = c;
            memset(f->cells, 0, n * sizeof(uint32_t));
        }
    }
    switch (m.kind) {
    case VGA_MODE_BLANK:
        if (full) {
            fill(f, 0xff000000u);
            *y1 = f->height;
        }
        break;
    case VGA_MODE_TEXT:
        draw_text(s, f, &m, now_ns, full, y0, y1);
        break;
    default: {
        uint32_t pal[256];
        if (m.kind == VGA_MODE_PLANAR)
            for (int i = 0; i < 16; i++)
                pal[i] = dac_argb(s, ar_to_dac(s, (unsigned)i));
        else
            for (int i = 0; i < 256; i++)
                pal[i] = dac_argb(s, (uint8_t)i);
        int first = -1, last = -1;
        for (int y = 0; y < m.height; y++) {
            uint32_t line = (uint32_t)y, from, len; /* line_div is folded into the height */
            line_span(&m, line, &from, &len);
            if (!full && !range_dirty(s, from, len))
                continue;
            draw_line(s, &m, pal, line, f->pixels + (size_t)y * f->width);
            if (first < 0)
                first = y;
            last = y;
        }
        if (first >= 0) {
            *y0 = first;
            *y1 = last + 1;
        }
        break;
    }
    }
    if (!one_off) /* the incremental renderer owns the dirty pages */
        memset(s->dirty, 0, sizeof(s->dirty));
    f->mode = m;
    f->palette_gen = s->palette_gen;
    f->font_gen = s->font_gen;
    f->valid = true;
    return 0;
}
