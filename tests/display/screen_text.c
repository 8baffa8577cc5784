/*
 * screen-text: read a btvm screendump of a VGA text screen (PNG) and
 * print the characters on it, one line per text row, trailing blanks
 * dropped.  For the display tests: a screendump shows the kernel's text
 * when this prints it.
 *
 *   screen-text FILE.png
 *
 * Each 8x16 glyph cell (9 pixels wide when the width is 720) is taken
 * apart into a foreground colour and a background colour and matched
 * exactly against the font btvm loads (devices/vga_font.h); printable
 * ASCII wins over look-alikes.  A cell whose lowest rows are the cursor
 * matches with those rows ignored.  Unknown cells print as '?'.
 * Exit status 0, or 1 when the file is unreadable or not a text screen.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/vga_font.h"
#include "frontend/screendump.h"

static int match(const uint8_t rows[16], int ignore_from)
{
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < 256; k++) {
            int c = pass == 0 ? 0x20 + k : k;
            if (pass == 0 && c > 0x7e)
                break;
            if (pass == 1 && c >= 0x20 && c <= 0x7e)
                continue;
            int r = 0;
            while (r < ignore_from && vga_font8x16[c][r] == rows[r])
                r++;
            if (r == ignore_from)
                return c;
        }
    }
    return -1;
}

static char cell_char(const uint32_t *px, int width, int x0, int y0)
{
    uint32_t colours[2];
    int n = 0;
    for (int y = 0; y < 16; y++) {
        for (int x = 0; x < 8; x++) {
            uint32_t c = px[(y0 + y) * width + x0 + x];
            if (n > 0 && c == colours[0])
                continue;
            if (n > 1 && c == colours[1])
                continue;
            if (n == 2)
                return '?'; /* three colours: not a glyph */
            colours[n++] = c;
        }
    }
    if (n == 1)
        return ' ';
    uint8_t rows[2][16];
    for (int f = 0; f < 2; f++) {
        for (int y = 0; y < 16; y++) {
            rows[f][y] = 0;
            for (int x = 0; x < 8; x++)
                if (px[(y0 + y) * width + x0 + x] == colours[f])
                    rows[f][y] |= (uint8_t)(0x80 >> x);
        }
    }
    /* An exact match with either colour as foreground, else one with
     * the cursor's rows (13-15 in vgacon's underline cursor) ignored. */
    int c = match(rows[0], 16);
    if (c < 0)
        c = match(rows[1], 16);
    if (c < 0)
        c = match(rows[0], 13);
    if (c < 0)
        c = match(rows[1], 13);
    if (c < 0)
        return '?';
    return c == 0 ? ' ' : c < 0x20 || c > 0x7e ? '?' : (char)c;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: screen-text FILE.png\n");
        return 1;
    }
    uint32_t *px;
    int w, h;
    char err[256];
    if (screendump_read_png(argv[1], &px, &w, &h, err, sizeof(err)) < 0) {
        fprintf(stderr, "screen-text: %s\n", err);
        return 1;
    }
    /* 80 columns: 720 pixels wide with 9-dot cells, 640 with 8 */
    int cw = w == 720 || (w % 9 == 0 && w % 8 != 0) ? 9 : 8;
    if (h % 16 != 0 || w % cw != 0) {
        fprintf(stderr, "screen-text: %dx%d is not a screen of 8x16 or 9x16 cells\n", w, h);
        free(px);
        return 1;
    }
    int cols = w / cw, rows = h / 16;
    char line[256];
    for (int r = 0; r < rows; r++) {
        int n = 0;
        for (int c = 0; c < cols && c < 255; c++)
            line[n++] = cell_char(px, w, c * cw, r * 16);
        while (n > 0 && line[n - 1] == ' ')
            n--;
        line[n] = 0;
        puts(line);
    }
    free(px);
    return 0;
}
