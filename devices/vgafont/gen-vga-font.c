/*
 * gen-vga-font: PSF console font -> C array of 256 8x16 glyphs in code
 * page 437 order (devices/vga_font.h).  A build-time tool.
 *
 *   gen-vga-font FONT.psf OUT.c
 *
 * Reads PSF version 1 (magic 36 04, Unicode table of UCS-2 words, 0xFFFF
 * ends a glyph's list, 0xFFFE starts sequences) and version 2 (magic
 * 72 B5 4A 86, UTF-8 table, 0xFF ends, 0xFE starts sequences), as
 * documented by the kbd project's psf format notes.  The font must be
 * 8 pixels wide and 16 high and carry a Unicode table.  Each CP437 code
 * is mapped to Unicode by the table below (IBM code page 437 as printed
 * in the IBM PC technical reference; codes 0x00-0x1F and 0x7F as their
 * glyph symbols), then to the glyph whose Unicode list holds it; block
 * elements the font lacks are drawn here, other gaps stay blank.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint16_t cp437[256] = {
    0x0000, 0x263a, 0x263b, 0x2665, 0x2666, 0x2663, 0x2660, 0x2022,
    0x25d8, 0x25cb, 0x25d9, 0x2642, 0x2640, 0x266a, 0x266b, 0x263c,
    0x25ba, 0x25c4, 0x2195, 0x203c, 0x00b6, 0x00a7, 0x25ac, 0x21a8,
    0x2191, 0x2193, 0x2192, 0x2190, 0x221f, 0x2194, 0x25b2, 0x25bc,
    /* 0x20-0x7E: ASCII, filled in main(); 0x7F: the house symbol */
    [0x7f] = 0x2302,
    0x00c7, 0x00fc, 0x00e9, 0x00e2, 0x00e4, 0x00e0, 0x00e5, 0x00e7,
    0x00ea, 0x00eb, 0x00e8, 0x00ef, 0x00ee, 0x00ec, 0x00c4, 0x00c5,
    0x00c9, 0x00e6, 0x00c6, 0x00f4, 0x00f6, 0x00f2, 0x00fb, 0x00f9,
    0x00ff, 0x00d6, 0x00dc, 0x00a2, 0x00a3, 0x00a5, 0x20a7, 0x0192,
    0x00e1, 0x00ed, 0x00f3, 0x00fa, 0x00f1, 0x00d1, 0x00aa, 0x00ba,
    0x00bf, 0x2310, 0x00ac, 0x00bd, 0x00bc, 0x00a1, 0x00ab, 0x00bb,
    0x2591, 0x2592, 0x2593, 0x2502, 0x2524, 0x2561, 0x2562, 0x2556,
    0x2555, 0x2563, 0x2551, 0x2557, 0x255d, 0x255c, 0x255b, 0x2510,
    0x2514, 0x2534, 0x252c, 0x251c, 0x2500, 0x253c, 0x255e, 0x255f,
    0x255a, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550, 0x256c, 0x2567,
    0x2568, 0x2564, 0x2565, 0x2559, 0x2558, 0x2552, 0x2553, 0x256b,
    0x256a, 0x2518, 0x250c, 0x2588, 0x2584, 0x258c, 0x2590, 0x2580,
    0x03b1, 0x00df, 0x0393, 0x03c0, 0x03a3, 0x03c3, 0x00b5, 0x03c4,
    0x03a6, 0x0398, 0x03a9, 0x03b4, 0x221e, 0x03c6, 0x03b5, 0x2229,
    0x2261, 0x00b1, 0x2265, 0x2264, 0x2320, 0x2321, 0x00f7, 0x2248,
    0x00b0, 0x2219, 0x00b7, 0x221a, 0x207f, 0x00b2, 0x25a0, 0x00a0,
};

/* Second choices where fonts differ in which code point they list. */
static const uint16_t alt[][2] = {
    { 0x25ba, 0x25b6 }, { 0x25c4, 0x25c0 }, { 0x00a0, 0x0020 }, { 0x2219, 0x00b7 },
    { 0x00b5, 0x03bc }, { 0x03b2, 0x00df }, { 0x2022, 0x00b7 },
};

#define MAXGLYPHS 2048

static uint32_t map_cp[MAXGLYPHS * 8];
static uint16_t map_glyph[MAXGLYPHS * 8];
static size_t nmap;

static void add_map(uint32_t cp, unsigned glyph)
{
    if (nmap < sizeof(map_cp) / sizeof(map_cp[0])) {
        map_cp[nmap] = cp;
        map_glyph[nmap++] = (uint16_t)glyph;
    }
}

static int find_glyph(uint32_t cp)
{
    for (size_t i = 0; i < nmap; i++)
        if (map_cp[i] == cp)
            return map_glyph[i];
    return -1;
}

/* The block elements some console fonts lack are pure geometry: the
 * dark shade (every pixel but one in four set) and the four half blocks. */
static int block_element(unsigned c, uint8_t rows[16])
{
    for (unsigned r = 0; r < 16; r++) {
        switch (c) {
        case 0xb2: rows[r] = r & 1 ? 0x77 : 0xdd; break;
        case 0xdc: rows[r] = r >= 8 ? 0xff : 0x00; break;
        case 0xdd: rows[r] = 0xf0; break;
        case 0xde: rows[r] = 0x0f; break;
        case 0xdf: rows[r] = r < 8 ? 0xff : 0x00; break;
        default: return 0;
        }
    }
    return 1;
}

static int fail(const char *msg)
{
    fprintf(stderr, "gen-vga-font: %s\n", msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return fail("usage: gen-vga-font FONT.psf OUT.c");
    FILE *f = fopen(argv[1], "rb");
    if (!f)
        return fail("cannot open the font");
    static uint8_t buf[1 << 20];
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);

    unsigned nglyphs, charsize, height, width;
    const uint8_t *glyphs, *p, *end = buf + len;
    int psf2;
    if (len >= 4 && buf[0] == 0x36 && buf[1] == 0x04) {
        psf2 = 0;
        nglyphs = buf[2] & 1 ? 512 : 256;
        if (!(buf[2] & 2))
            return fail("the font has no Unicode table");
        charsize = height = buf[3];
        width = 8;
        glyphs = buf + 4;
    } else if (len >= 32 && buf[0] == 0x72 && buf[1] == 0xb5 && buf[2] == 0x4a && buf[3] == 0x86) {
        psf2 = 1;
        uint32_t h[8];
        memcpy(h, buf, sizeof(h));
        if (!(h[3] & 1))
            return fail("the font has no Unicode table");
        nglyphs = h[4];
        charsize = h[5];
        height = h[6];
        width = h[7];
        glyphs = buf + h[2];
    } else {
        return fail("not a PSF font");
    }
    if (width != 8 || height != 16 || charsize != 16 || nglyphs > MAXGLYPHS)
        return fail("the font is not 8x16");
    p = glyphs + (size_t)nglyphs * charsize;
    if (p > end)
        return fail("truncated font");

    /* The Unicode table: for each glyph, its code points, then optional
     * sequences (ignored), then a terminator. */
    for (unsigned g = 0; g < nglyphs && p < end; g++) {
        int in_seq = 0;
        for (;;) {
            if (p >= end)
                return fail("truncated Unicode table");
            uint32_t cp;
            if (!psf2) {
                if (p + 2 > end)
                    return fail("truncated Unicode table");
                cp = p[0] | p[1] << 8;
                p += 2;
                if (cp == 0xffff)
                    break;
                if (cp == 0xfffe) {
                    in_seq = 1;
                    continue;
                }
            } else {
                uint8_t c = *p++;
                if (c == 0xff)
                    break;
                if (c == 0xfe) {
                    in_seq = 1;
                    continue;
                }
                int n = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
                cp = n ? c & (0x3f >> n) : c;
                for (int k = 0; k < n && p < end; k++)
                    cp = cp << 6 | (*p++ & 0x3f);
            }
            if (!in_seq)
                add_map(cp, g);
        }
    }

    FILE *out = fopen(argv[2], "w");
    if (!out)
        return fail("cannot write the output");
    fprintf(out, "/* Generated by devices/vgafont/gen-vga-font.c from %s: do not edit. */\n",
            argv[1]);
    fprintf(out, "#include \"devices/vga_font.h\"\n\nconst uint8_t vga_font8x16[256][16] = {\n");
    int missing = 0;
    for (unsigned c = 0; c < 256; c++) {
        uint32_t u = c >= 0x20 && c < 0x7f ? c : cp437[c];
        int g = u ? find_glyph(u) : -1;
        for (size_t k = 0; g < 0 && u && k < sizeof(alt) / sizeof(alt[0]); k++)
            if (alt[k][0] == u)
                g = find_glyph(alt[k][1]);
        uint8_t rows[16] = { 0 };
        if (g >= 0)
            memcpy(rows, glyphs + (size_t)g * charsize, 16);
        else if (!block_element(c, rows) && u)
            missing++;
        fprintf(out, "    [0x%02x] = {", c);
        for (unsigned r = 0; r < 16; r++)
            fprintf(out, "0x%02x%s", rows[r], r < 15 ? "," : "");
        fprintf(out, "},\n");
    }
    fprintf(out, "};\n");
    if (fclose(out) != 0)
        return fail("cannot write the output");
    if (missing)
        fprintf(stderr, "gen-vga-font: %d code page 437 characters have no glyph (left blank)\n",
                missing);
    return 0;
}
