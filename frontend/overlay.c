/*
 * The teaching overlay: see overlay.h.
 *
 * What a student watches while a guest boots: how fast each engine runs
 * guest code, how often the translator translates, where control leaves
 * translated code (interpreter hand-offs, host traps, stop requests) and
 * why, how much shadow paging works, and how full the code cache is.
 * Rates are differences of machine_get_stats() snapshots over host time.
 */
#include "frontend/overlay.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "devices/vga_font.h"

#define PAD 4

static double rate(uint64_t a, uint64_t b, double secs)
{
    return secs > 0 && b >= a ? (double)(b - a) / secs : 0.0;
}

/* 1234567 -> "1.23M": fits a column whatever the magnitude. */
static void human(char *buf, size_t len, double v)
{
    if (v >= 1e9)
        snprintf(buf, len, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, len, "%.2fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, len, "%.1fk", v / 1e3);
    else
        snprintf(buf, len, "%.0f", v);
}

static void add(overlay_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(overlay_text *t, const char *fmt, ...)
{
    if (t->nlines >= OVERLAY_LINES)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->line[t->nlines++], OVERLAY_COLS + 1, fmt, ap);
    va_end(ap);
}

void overlay_format(const machine_stats *p, const machine_stats *c, overlay_text *t)
{
    memset(t, 0, sizeof(*t));
    double secs = c->time_ns > p->time_ns ? (c->time_ns - p->time_ns) / 1e9 : 0;
    char a[16], b[16], d[16];
#define R(field) rate(p->field, c->field, secs)
    double all = R(instructions), interp = R(insns_interpreted);
    double translated = c->bt && all > interp ? all - interp : 0;
    if (!c->bt)
        interp = all;
    add(t, "btvm monitor  (%s)   Ctrl-Alt-S hides", c->bt ? "-accel bt" : "-accel interp");
    human(a, sizeof(a), all);
    add(t, "guest insns/s      %9s", a);
    human(a, sizeof(a), translated);
    human(b, sizeof(b), interp);
    add(t, "  translated code  %9s", a);
    add(t, "  interpreter      %9s", b);
    if (c->bt) {
        human(a, sizeof(a), R(blocks_translated));
        human(b, sizeof(b), (double)c->blocks_translated);
        add(t, "translations/s     %9s  total %s", a, b);
        human(a, sizeof(a), R(block_runs));
        human(b, sizeof(b), R(chains));
        add(t, "block runs/s       %9s  chains %s", a, b);
        add(t, "exits/s by reason:");
        double callouts = R(insns_interpreted) - R(handoffs_mode);
        human(a, sizeof(a), callouts > 0 ? callouts : 0);
        human(b, sizeof(b), R(handoffs_mode));
        add(t, "  callout insn %7s  mode %8s", a, b);
        human(a, sizeof(a), R(traps));
        human(b, sizeof(b), R(kicks));
        add(t, "  host trap    %7s  kick %8s", a, b);
        human(a, sizeof(a), R(traps_code_write));
        human(b, sizeof(b), R(invalidations));
        add(t, "traced writes/s    %9s  inval %s", a, b);
        if (c->have_shadow) {
            human(a, sizeof(a), R(shadow_fills));
            human(b, sizeof(b), R(shadow_wipes));
            human(d, sizeof(d), R(shadow_emulated));
            add(t, "shadow fills/s %7s wipes %s emu %s", a, b, d);
        } else {
            add(t, "shadow fills/s         (not exported)");
        }
        if (c->have_code_cache && c->code_cache_size) {
            add(t, "code cache     %5.1f%% of %llu MiB, %llu flushes",
                100.0 * (double)c->code_cache_used / (double)c->code_cache_size,
                (unsigned long long)(c->code_cache_size >> 20),
                (unsigned long long)c->cache_flushes);
        } else {
            add(t, "code cache flushes %9llu", (unsigned long long)c->cache_flushes);
        }
    }
    human(a, sizeof(a), R(interrupts));
    human(b, sizeof(b), R(exceptions));
    add(t, "interrupts/s %7s  exceptions/s %s", a, b);
    human(a, sizeof(a), R(tlb_misses));
    human(b, sizeof(b), R(tlb_flushes));
    add(t, "tlb misses/s %7s  flushes/s %s", a, b);
    add(t, "run time %.1f s", c->time_ns / 1e9);
#undef R
}

void overlay_size(const overlay_text *t, int *width, int *height)
{
    int cols = 0;
    for (int i = 0; i < t->nlines; i++) {
        int n = (int)strlen(t->line[i]);
        if (n > cols)
            cols = n;
    }
    *width = cols * 8 + 2 * PAD;
    *height = t->nlines * 16 + 2 * PAD;
}

void overlay_draw(const overlay_text *t, uint32_t *pixels, int pitch)
{
    int w, h;
    overlay_size(t, &w, &h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            pixels[y * pitch + x] = 0xc0000000u; /* translucent black */
    for (int i = 0; i < t->nlines; i++) {
        uint32_t fg = i == 0 ? 0xffffff55u : 0xffe0e0e0u; /* a yellow title */
        for (int k = 0; t->line[i][k]; k++) {
            const uint8_t *g = vga_font8x16[(uint8_t)t->line[i][k]];
            for (int r = 0; r < 16; r++) {
                uint32_t *px = pixels + (PAD + i * 16 + r) * pitch + PAD + k * 8;
                for (int b = 0; b < 8; b++)
                    if (g[r] & (0x80 >> b))
                        px[b] = fg;
            }
        }
    }
}
