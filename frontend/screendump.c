/*
 * Screendumps: see screendump.h.  The screen is drawn afresh into a
 * private frame (devices/vga_render.c, "one-off" mode, so the window's
 * incremental redraw keeps its dirty pages) and written with libpng's
 * simplified API (png.h, "Simplified API", libpng 1.6).
 */
#include "frontend/screendump.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <png.h>

#include "devices/vga_render.h"

int screendump_write_png(const char *path, const uint32_t *pixels, int width, int height,
                         char *err, size_t errlen)
{
    uint8_t *rgb = malloc((size_t)width * height * 3);
    if (!rgb) {
        snprintf(err, errlen, "screendump: out of memory");
        return -1;
    }
    for (size_t i = 0; i < (size_t)width * height; i++) {
        rgb[3 * i] = (uint8_t)(pixels[i] >> 16);
        rgb[3 * i + 1] = (uint8_t)(pixels[i] >> 8);
        rgb[3 * i + 2] = (uint8_t)pixels[i];
    }
    /* Write next to the target and rename, so a reader polling the file
     * (a test, a viewer) never sees half a PNG. */
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        free(rgb);
        snprintf(err, errlen, "screendump: path too long");
        return -1;
    }
    png_image img;
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)width;
    img.height = (png_uint_32)height;
    img.format = PNG_FORMAT_RGB;
    int ok = png_image_write_to_file(&img, tmp, 0, rgb, width * 3, NULL);
    free(rgb);
    if (!ok) {
        snprintf(err, errlen, "cannot write screendump '%s': %s", path, img.message);
        png_image_free(&img);
        remove(tmp);
        return -1;
    }
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "cannot write screendump '%s': %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

int screendump_vga(vga_state *vga, const char *path, char *err, size_t errlen)
{
    vga_frame f;
    vga_frame_init(&f);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int y0, y1;
    int r = vga_render(vga, &f, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, true,
                       &y0, &y1);
    if (r == 0)
        r = screendump_write_png(path, f.pixels, f.width, f.height, err, errlen);
    else
        snprintf(err, errlen, "screendump: out of memory");
    vga_frame_free(&f);
    return r;
}

int screendump_read_png(const char *path, uint32_t **pixels, int *width, int *height, char *err,
                        size_t errlen)
{
    png_image img;
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) {
        snprintf(err, errlen, "cannot read '%s': %s", path, img.message);
        return -1;
    }
    img.format = PNG_FORMAT_BGRA; /* little-endian 0xAARRGGBB words */
    uint32_t *buf = malloc(PNG_IMAGE_SIZE(img));
    if (!buf || !png_image_finish_read(&img, NULL, buf, 0, NULL)) {
        snprintf(err, errlen, "cannot read '%s': %s", path, buf ? img.message : "out of memory");
        free(buf);
        png_image_free(&img);
        return -1;
    }
    *pixels = buf;
    *width = (int)img.width;
    *height = (int)img.height;
    return 0;
}
