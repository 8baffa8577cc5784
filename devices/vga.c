/*
 * VGA adapter with Bochs VBE (DISPI) extensions on PCI: see vga.h.
 *
 * Modelled, from the IBM VGA technical reference as FreeVGA documents it
 * ("VGA/SVGA Video Programming", osdever.net/FreeVGA):
 *   - Ports: miscellaneous output (0x3C2 write, 0x3CC read), feature
 *     control, input status 0/1 (0x3C2/0x3DA read: reading 0x3DA also
 *     resets the attribute controller's flip-flop), sequencer
 *     0x3C4/0x3C5, graphics controller 0x3CE/0x3CF, CRT controller at
 *     0x3D4/0x3D5 or 0x3B4/0x3B5 by misc bit 0 (the other pair floats),
 *     CR11 bit 7 write-protecting CR00-CR07 (CR07 bit 4 excepted),
 *     attribute controller 0x3C0 (index/data flip-flop, index bit 5
 *     "palette address source") and 0x3C1, DAC 0x3C6-0x3C9 (pel mask,
 *     read/write index, three 6-bit components per entry).
 *   - Memory: the window at 0xA0000 selected by GR06 bits 3-2; chain-4
 *     (SR04 bit 3), odd/even (SR04 bit 2 clear: even addresses to planes
 *     0/2, odd to 1/3), otherwise planar through the map mask SR02; the
 *     four latches loaded by every read; write modes 0-3 (GR05 bits 1-0)
 *     with set/reset (GR00/GR01), rotate and logical function (GR03) and
 *     bit mask (GR08); read mode 0 through the read map select (GR04)
 *     and read mode 1 colour compare (GR02/GR07).
 *   - The retrace: input status 1 alternates display enable (bit 0) and
 *     reports vertical retrace (bit 3) on a few of every 16 reads, so
 *     polling loops end; there is no real beam.
 *
 * Bochs VBE, from Bochs' vbe.h and the DISPI interface as the Bochs and
 * QEMU VGA BIOSes and Linux's bochs-drm use it: index port 0x1CE, data
 * port 0x1CF (16-bit); ID (0xB0C0-0xB0C5), resolution, bpp (8, 15, 16,
 * 24, 32), enable with GETCAPS (XRES/YRES/BPP read the maxima), 8-bit
 * DAC, LFB and NOCLEARMEM bits, the 64 KiB bank at 0xA0000, the virtual
 * size and display offsets, and the video memory size in 64 KiB units.
 *
 * PCI: class 0x030000 (VGA-compatible display controller), IDs
 * 1234:1111 as QEMU's and Bochs' "stdvga", BAR 0 the 16 MiB prefetchable
 * linear framebuffer.  btvm runs no PCI BIOS, so reset places BAR 0 at
 * VGA_LFB_BASE as SeaBIOS would (memory decoding left to the driver); the
 * LFB is an MMIO region fixed there (phys_mem cannot move regions),
 * decoding while memory decoding is on and the BAR at that address.
 *
 * Departures: no CGA-compatible modes' shift interleave beyond storage,
 * no light pen, no split screen (line compare) or pel panning when
 * drawing, no VBE 4 bpp planar modes.  The state after reset is that of
 * a VGA BIOS that has set mode 3, with the font in plane 2: btvm boots
 * Linux without a BIOS, and vgacon expects a text mode to be set up.
 */
#include "devices/vga.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/board.h"
#include "devices/pci.h"
#include "devices/vga_font.h"

#define LEGACY_BASE 0xa0000u
#define LEGACY_SIZE 0x20000u
#define PLANE_SIZE  0x10000u

/* Sequencer */
#define SR_MAP_MASK  2
#define SR_CHARMAP   3
#define SR_MEM_MODE  4
#define SR4_CHAIN4   0x08
#define SR4_NO_ODDEVEN 0x04
/* Graphics controller */
#define GR_SET_RESET 0
#define GR_ENABLE_SR 1
#define GR_COLOR_CMP 2
#define GR_ROTATE    3
#define GR_READ_MAP  4
#define GR_MODE      5
#define GR_MISC      6
#define GR_DONT_CARE 7
#define GR_BIT_MASK  8

/* --- video memory through the legacy window --- */

/* Offset into the window selected by GR06 bits 3-2, or -1 when the
 * address falls outside it (reads float, writes are lost). */
static int32_t window_offset(const vga_state *s, uint32_t off)
{
    switch ((s->gr[GR_MISC] >> 2) & 3) {
    case 0: return (int32_t)off;                                  /* A0000, 128 KiB */
    case 1: return off < 0x10000 ? (int32_t)off : -1;             /* A0000, 64 KiB */
    case 2: return off >= 0x10000 && off < 0x18000 ? (int32_t)(off - 0x10000) : -1; /* B0000 */
    default: return off >= 0x18000 ? (int32_t)(off - 0x18000) : -1; /* B8000, 32 KiB */
    }
}

static bool dispi_enabled(const vga_state *s)
{
    return s->dispi[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_ENABLED;
}

static void vram_write(vga_state *s, uint32_t index, uint8_t v)
{
    index &= VGA_VRAM_SIZE - 1;
    if (s->vram[index] != v) {
        s->vram[index] = v;
        vga_mark_dirty(s, index);
        if (index < 4 * PLANE_SIZE && (index & 3) == 2)
            s->font_gen++;
    }
}

uint8_t vga_mem_readb(vga_state *s, uint32_t offset)
{
    if (dispi_enabled(s)) {
        if (offset >= PLANE_SIZE)
            return 0xff;
        return s->vram[((uint32_t)s->dispi[VBE_DISPI_INDEX_BANK] * PLANE_SIZE + offset) &
                       (VGA_VRAM_SIZE - 1)];
    }
    int32_t w = window_offset(s, offset);
    if (w < 0)
        return 0xff;
    uint32_t a = (uint32_t)w;
    if (s->sr[SR_MEM_MODE] & SR4_CHAIN4)
        return s->vram[a & (4 * PLANE_SIZE - 1)];
    uint32_t plane_off;
    int read_plane;
    if (s->gr[GR_MODE] & 0x10) {
        /* Host odd/even read: bit 0 of the address picks plane 0/1 (or
         * 2/3 by the read map's bit 1). */
        read_plane = (s->gr[GR_READ_MAP] & 2) | (a & 1);
        plane_off = a & ~1u;
    } else {
        read_plane = s->gr[GR_READ_MAP] & 3;
        plane_off = a;
    }
    plane_off &= PLANE_SIZE - 1;
    for (int p = 0; p < 4; p++)
        s->latch[p] = s->vram[plane_off * 4 + p];
    if (!(s->gr[GR_MODE] & 0x08))
        return s->latch[read_plane];
    /* Read mode 1: a 1 where every plane enabled by colour don't care
     * matches its colour compare bit. */
    uint8_t differ = 0;
    for (int p = 0; p < 4; p++) {
        if (!(s->gr[GR_DONT_CARE] & (1u << p)))
            continue;
        uint8_t want = s->gr[GR_COLOR_CMP] & (1u << p) ? 0xff : 0x00;
        differ |= s->latch[p] ^ want;
    }
    return (uint8_t)~differ;
}

static uint8_t alu(const vga_state *s, uint8_t v, int p)
{
    switch ((s->gr[GR_ROTATE] >> 3) & 3) {
    case 1: return v & s->latch[p];
    case 2: return v | s->latch[p];
    case 3: return v ^ s->latch[p];
    default: return v;
    }
}

static uint8_t rotate(const vga_state *s, uint8_t v)
{
    unsigned n = s->gr[GR_ROTATE] & 7;
    return (uint8_t)((v >> n) | (v << ((8 - n) & 7)));
}

void vga_mem_writeb(vga_state *s, uint32_t offset, uint8_t value)
{
    if (dispi_enabled(s)) {
        if (offset < PLANE_SIZE)
            vram_write(s, (uint32_t)s->dispi[VBE_DISPI_INDEX_BANK] * PLANE_SIZE + offset, value);
        return;
    }
    int32_t w = window_offset(s, offset);
    if (w < 0)
        return;
    uint32_t a = (uint32_t)w;
    uint8_t planes = s->sr[SR_MAP_MASK] & 0x0f;
    if (s->sr[SR_MEM_MODE] & SR4_CHAIN4) {
        /* Chain-4: address bits 1-0 pick the plane; no write modes. */
        a &= 4 * PLANE_SIZE - 1;
        if (planes & (1u << (a & 3)))
            vram_write(s, a, value);
        return;
    }
    if (!(s->sr[SR_MEM_MODE] & SR4_NO_ODDEVEN)) {
        planes &= a & 1 ? 0x0a : 0x05;
        a &= ~1u;
    }
    a &= PLANE_SIZE - 1;

    uint8_t v[4], mask = s->gr[GR_BIT_MASK];
    switch (s->gr[GR_MODE] & 3) {
    case 0: {
        uint8_t r = rotate(s, value);
        for (int p = 0; p < 4; p++) {
            uint8_t x = s->gr[GR_ENABLE_SR] & (1u << p)
                            ? (s->gr[GR_SET_RESET] & (1u << p) ? 0xff : 0x00) : r;
            v[p] = alu(s, x, p);
        }
        break;
    }
    case 1:
        /* The latches as they are: screen-to-screen copies. */
        for (int p = 0; p < 4; p++)
            if (planes & (1u << p))
                vram_write(s, a * 4 + p, s->latch[p]);
        return;
    case 2:
        for (int p = 0; p < 4; p++)
            v[p] = alu(s, value & (1u << p) ? 0xff : 0x00, p);
        break;
    default:
        mask &= rotate(s, value);
        for (int p = 0; p < 4; p++)
            v[p] = alu(s, s->gr[GR_SET_RESET] & (1u << p) ? 0xff : 0x00, p);
        break;
    }
    for (int p = 0; p < 4; p++)
        if (planes & (1u << p))
            vram_write(s, a * 4 + p, (uint8_t)((v[p] & mask) | (s->latch[p] & ~mask)));
}

static uint32_t legacy_read(void *opaque, uint32_t offset, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)vga_mem_readb(opaque, (offset + i) & (LEGACY_SIZE - 1)) << (8 * i);
    return v;
}

static void legacy_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    for (unsigned i = 0; i < size; i++)
        vga_mem_writeb(opaque, (offset + i) & (LEGACY_SIZE - 1), (uint8_t)(value >> (8 * i)));
}

static const mmio_ops legacy_ops = { .read = legacy_read, .write = legacy_write };

/* The linear framebuffer: plain bytes of vram. */
static uint32_t lfb_read(void *opaque, uint32_t offset, unsigned size)
{
    vga_state *s = opaque;
    if (!s->lfb_decoding || offset + size > VGA_VRAM_SIZE)
        return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    uint32_t v = 0;
    memcpy(&v, s->vram + offset, size);
    return v;
}

static void lfb_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    vga_state *s = opaque;
    if (!s->lfb_decoding || offset + size > VGA_VRAM_SIZE)
        return;
    memcpy(s->vram + offset, &value, size);
    vga_mark_dirty(s, offset);
    vga_mark_dirty(s, offset + size - 1);
}

static const mmio_ops lfb_ops = { .read = lfb_read, .write = lfb_write };

/* --- DISPI --- */

static unsigned dispi_bytes_pp(unsigned bpp)
{
    return bpp == 15 ? 2 : (bpp + 7) / 8;
}

/* Enabling a mode (or changing it while enabled) recomputes the virtual
 * size as the Bochs VBE does: width at least xres, height what the
 * memory holds. */
static void dispi_apply(vga_state *s)
{
    uint16_t *d = s->dispi;
    unsigned bpp = dispi_bytes_pp(d[VBE_DISPI_INDEX_BPP]);
    if (d[VBE_DISPI_INDEX_VIRT_WIDTH] < d[VBE_DISPI_INDEX_XRES])
        d[VBE_DISPI_INDEX_VIRT_WIDTH] = d[VBE_DISPI_INDEX_XRES];
    unsigned line = d[VBE_DISPI_INDEX_VIRT_WIDTH] * bpp;
    unsigned vh = line ? VGA_VRAM_SIZE / line : 0;
    d[VBE_DISPI_INDEX_VIRT_HEIGHT] = (uint16_t)(vh > 0xffff ? 0xffff : vh);
    s->palette_gen++; /* a different picture: the renderer starts over */
}

static uint16_t dispi_read(vga_state *s)
{
    uint16_t i = s->dispi_index;
    if (i >= VBE_DISPI_NUM_REGS)
        return 0;
    if (s->dispi[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_GETCAPS) {
        switch (i) {
        case VBE_DISPI_INDEX_XRES: return VBE_DISPI_MAX_XRES;
        case VBE_DISPI_INDEX_YRES: return VBE_DISPI_MAX_YRES;
        case VBE_DISPI_INDEX_BPP: return VBE_DISPI_MAX_BPP;
        default: break;
        }
    }
    if (i == VBE_DISPI_INDEX_VIDEO_MEMORY_64K)
        return VGA_VRAM_SIZE >> 16;
    return s->dispi[i];
}

static void dispi_write(vga_state *s, uint16_t v)
{
    uint16_t *d = s->dispi;
    switch (s->dispi_index) {
    case VBE_DISPI_INDEX_ID:
        if (v >= VBE_DISPI_ID0 && v <= VBE_DISPI_ID5)
            d[VBE_DISPI_INDEX_ID] = v;
        break;
    case VBE_DISPI_INDEX_XRES:
    case VBE_DISPI_INDEX_YRES:
    case VBE_DISPI_INDEX_BPP:
        /* The Bochs VBE ignores geometry writes while a mode is on. */
        if (dispi_enabled(s))
            break;
        if (s->dispi_index == VBE_DISPI_INDEX_XRES && (v > VBE_DISPI_MAX_XRES || (v & 7)))
            break;
        if (s->dispi_index == VBE_DISPI_INDEX_YRES && v > VBE_DISPI_MAX_YRES)
            break;
        if (s->dispi_index == VBE_DISPI_INDEX_BPP) {
            if (v == 0)
                v = 8;
            if (v != 8 && v != 15 && v != 16 && v != 24 && v != 32)
                break;
        }
        d[s->dispi_index] = v;
        break;
    case VBE_DISPI_INDEX_BANK:
        if ((uint32_t)v * PLANE_SIZE < VGA_VRAM_SIZE)
            d[VBE_DISPI_INDEX_BANK] = v;
        break;
    case VBE_DISPI_INDEX_ENABLE: {
        bool was = dispi_enabled(s);
        d[VBE_DISPI_INDEX_ENABLE] = v & (VBE_DISPI_ENABLED | VBE_DISPI_GETCAPS |
                                         VBE_DISPI_8BIT_DAC | VBE_DISPI_LFB_ENABLED |
                                         VBE_DISPI_NOCLEARMEM);
        if ((v & VBE_DISPI_ENABLED) && !was) {
            unsigned line = d[VBE_DISPI_INDEX_XRES] * dispi_bytes_pp(d[VBE_DISPI_INDEX_BPP]);
            if (!d[VBE_DISPI_INDEX_XRES] || !d[VBE_DISPI_INDEX_YRES] ||
                (uint64_t)line * d[VBE_DISPI_INDEX_YRES] > VGA_VRAM_SIZE) {
                /* A mode that does not fit stays off, as in Bochs. */
                d[VBE_DISPI_INDEX_ENABLE] &= (uint16_t)~VBE_DISPI_ENABLED;
                break;
            }
            d[VBE_DISPI_INDEX_VIRT_WIDTH] = d[VBE_DISPI_INDEX_XRES];
            d[VBE_DISPI_INDEX_X_OFFSET] = d[VBE_DISPI_INDEX_Y_OFFSET] = 0;
            d[VBE_DISPI_INDEX_BANK] = 0;
            if (!(v & VBE_DISPI_NOCLEARMEM)) {
                memset(s->vram, 0, (size_t)line * d[VBE_DISPI_INDEX_YRES]);
                memset(s->dirty, 0xff, sizeof(s->dirty));
            }
            dispi_apply(s);
        }
        s->palette_gen++; /* on, off, or the DAC width changed: redraw all */
        break;
    }
    case VBE_DISPI_INDEX_VIRT_WIDTH:
        if (v >= d[VBE_DISPI_INDEX_XRES] && v <= 8192) {
            d[VBE_DISPI_INDEX_VIRT_WIDTH] = v;
            dispi_apply(s);
        }
        break;
    case VBE_DISPI_INDEX_X_OFFSET:
    case VBE_DISPI_INDEX_Y_OFFSET:
        d[s->dispi_index] = v;
        s->palette_gen++;
        break;
    default: /* VIRT_HEIGHT and VIDEO_MEMORY_64K are read-only */
        break;
    }
}

static uint32_t dispi_port_read(void *opaque, uint16_t port, unsigned size)
{
    vga_state *s = opaque;
    (void)size;
    return port == 0x1ce ? s->dispi_index : dispi_read(s);
}

static void dispi_port_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    vga_state *s = opaque;
    (void)size;
    if (port == 0x1ce)
        s->dispi_index = (uint16_t)value;
    else
        dispi_write(s, (uint16_t)value);
}

static const io_ops dispi_io = { .read = dispi_port_read, .write = dispi_port_write, .max_size = 2 };

/* --- VGA ports --- */

/* Ports 0x3B4/0x3B5/0x3BA answer only in monochrome addressing (misc
 * bit 0 clear), 0x3D4/0x3D5/0x3DA only in colour addressing. */
static bool port_active(const vga_state *s, uint16_t port)
{
    if ((port & 0xfff0) == 0x3b0)
        return !(s->misc & 1);
    if ((port & 0xfff0) == 0x3d0)
        return s->misc & 1;
    return true;
}

static uint32_t vga_port_read(void *opaque, uint16_t port, unsigned size)
{
    vga_state *s = opaque;
    (void)size;
    if (!port_active(s, port))
        return 0xff;
    switch (port) {
    case 0x3c0: return s->ar_index;
    case 0x3c1: return s->ar[s->ar_index & 0x1f];
    case 0x3c2: return 0x10; /* input status 0: switch sense, as for a colour monitor */
    case 0x3c3: return 1;    /* video subsystem enable */
    case 0x3c4: return s->sr_index;
    case 0x3c5: return s->sr_index < 8 ? s->sr[s->sr_index] : 0xff;
    case 0x3c6: return s->pel_mask;
    case 0x3c7: return s->dac_reading ? 3 : 0;
    case 0x3c8: return s->dac_write;
    case 0x3c9: {
        uint8_t v = s->dac[s->dac_read][s->dac_step];
        if (++s->dac_step == 3) {
            s->dac_step = 0;
            s->dac_read++;
        }
        return v;
    }
    case 0x3ca: return s->feature;
    case 0x3cc: return s->misc;
    case 0x3ce: return s->gr_index;
    case 0x3cf: return s->gr_index < 16 ? s->gr[s->gr_index] : 0xff;
    case 0x3b4: case 0x3d4: return s->cr_index;
    case 0x3b5: case 0x3d5: return s->cr_index < 0x19 ? s->cr[s->cr_index] : 0xff;
    case 0x3ba: case 0x3da: {
        s->ar_data_next = false;
        uint32_t n = s->st01_reads++;
        uint8_t v = n & 1;                 /* display disabled (blanking) on odd reads */
        if ((n & 15) >= 12)
            v |= 0x09;                     /* vertical retrace, which also blanks */
        return v;
    }
    default: return 0xff;
    }
}

static void vga_port_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    vga_state *s = opaque;
    uint8_t v = (uint8_t)value;
    (void)size;
    if (!port_active(s, port))
        return;
    switch (port) {
    case 0x3c0:
        if (!s->ar_data_next) {
            s->ar_index = v & 0x3f;
        } else {
            unsigned i = s->ar_index & 0x1f;
            if (i < 0x15 && s->ar[i] != v) {
                s->ar[i] = v;
                s->palette_gen++;
            }
        }
        s->ar_data_next = !s->ar_data_next;
        break;
    case 0x3c2: s->misc = v; s->palette_gen++; break;
    case 0x3c4: s->sr_index = v & 7; break;
    case 0x3c5: s->sr[s->sr_index & 7] = v; s->palette_gen++; break;
    case 0x3c6: s->pel_mask = v; s->palette_gen++; break;
    case 0x3c7: s->dac_read = v; s->dac_step = 0; s->dac_reading = true; break;
    case 0x3c8: s->dac_write = v; s->dac_step = 0; s->dac_reading = false; break;
    case 0x3c9: {
        bool wide = s->dispi[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_8BIT_DAC;
        s->dac[s->dac_write][s->dac_step] = wide ? v : v & 0x3f;
        if (++s->dac_step == 3) {
            s->dac_step = 0;
            s->dac_write++;
        }
        s->palette_gen++;
        break;
    }
    case 0x3ce: s->gr_index = v & 0x0f; break;
    case 0x3cf: s->gr[s->gr_index & 0x0f] = v; break;
    case 0x3b4: case 0x3d4: s->cr_index = v & 0x1f; break;
    case 0x3b5: case 0x3d5: {
        unsigned i = s->cr_index;
        if (i >= 0x19)
            break;
        /* CR11 bit 7 protects CR00-CR07, except the line compare bit. */
        if ((s->cr[0x11] & 0x80) && i <= 7) {
            if (i == 7)
                s->cr[7] = (uint8_t)((s->cr[7] & ~0x10) | (v & 0x10));
            break;
        }
        s->cr[i] = v;
        break;
    }
    case 0x3ba: case 0x3da: s->feature = v; break;
    default: break;
    }
}

static const io_ops vga_io = { .read = vga_port_read, .write = vga_port_write, .max_size = 1 };

/* --- reset: the state a VGA BIOS leaves after INT 10h AX=0003h --- */

/* The IBM VGA's mode 3 parameters (80x25 text, 720x400, 70 Hz). */
static const uint8_t mode3_sr[5] = { 0x03, 0x00, 0x03, 0x00, 0x02 };
static const uint8_t mode3_gr[9] = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff };
static const uint8_t mode3_cr[25] = {
    0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00,
    0x00, 0x00, 0x00, 0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff,
};
static const uint8_t mode3_ar[21] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a,
    0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x0c, 0x00, 0x0f, 0x08, 0x00,
};

void vga_set_mode3(vga_state *s)
{
    s->misc = 0x67;
    memset(s->sr, 0, sizeof(s->sr));
    memset(s->gr, 0, sizeof(s->gr));
    memset(s->cr, 0, sizeof(s->cr));
    memset(s->ar, 0, sizeof(s->ar));
    memcpy(s->sr, mode3_sr, sizeof(mode3_sr));
    memcpy(s->gr, mode3_gr, sizeof(mode3_gr));
    memcpy(s->cr, mode3_cr, sizeof(mode3_cr));
    memcpy(s->ar, mode3_ar, sizeof(mode3_ar));
    s->ar_index = 0x20; /* palette address source: the screen is on */
    s->ar_data_next = false;
    s->pel_mask = 0xff;
    /* The default DAC: entries 0-63 are the EGA's 64 colours (bits
     * 0-2 blue/green/red at 2/3 intensity, bits 3-5 at 1/3), repeated. */
    for (int i = 0; i < 256; i++) {
        int c = i & 63;
        s->dac[i][0] = (uint8_t)((c >> 2 & 1) * 0x2a + (c >> 5 & 1) * 0x15);
        s->dac[i][1] = (uint8_t)((c >> 1 & 1) * 0x2a + (c >> 4 & 1) * 0x15);
        s->dac[i][2] = (uint8_t)((c & 1) * 0x2a + (c >> 3 & 1) * 0x15);
    }
    /* The 8x16 font into plane 2, 32 bytes per character (map 0). */
    memset(s->vram, 0, 4 * PLANE_SIZE);
    for (int c = 0; c < 256; c++)
        for (int r = 0; r < 16; r++)
            s->vram[(c * 32 + r) * 4 + 2] = vga_font8x16[c][r];
    /* An empty screen: spaces, light grey on black. */
    for (uint32_t i = 0; i < 80 * 25; i++) {
        s->vram[(2 * i) * 4 + 0] = ' ';
        s->vram[(2 * i) * 4 + 1] = 0x07;
    }
    memset(s->dirty, 0xff, sizeof(s->dirty));
    s->palette_gen++;
    s->font_gen++;
}

static void pci_bar_map(void *opaque, int bar, uint32_t base, bool enabled)
{
    vga_state *s = opaque;
    if (bar != 0)
        return;
    bool on = enabled && base == VGA_LFB_BASE;
    if (enabled && base != VGA_LFB_BASE)
        fprintf(stderr, "btvm: vga: the guest moved the framebuffer BAR to 0x%08x; "
                        "btvm serves it only at 0x%08x\n", base, VGA_LFB_BASE);
    s->lfb_decoding = on;
}

static const pci_function_ops vga_pci_ops = { .bar_map = pci_bar_map };

static void vga_reset(void *dev)
{
    vga_state *s = dev;
    memset(s->dispi, 0, sizeof(s->dispi));
    s->dispi[VBE_DISPI_INDEX_ID] = VBE_DISPI_ID5;
    s->dispi[VBE_DISPI_INDEX_BPP] = 8;
    s->dispi_index = 0;
    vga_set_mode3(s);
    if (s->pci) {
        /* Part of the firmware's job (SeaBIOS pciinit): BAR 0 gets its
         * address, which Linux keeps ("firmware assignment").  Memory
         * decoding stays off until a driver enables the device, so a
         * guest that does not know the card sees unassigned space there
         * (all ones, writes lost), as tests/guest/adversarial_sweep
         * expects of everything above RAM but the local APIC. */
        pci_config_write(pci_find_bus(s->b), pci_devfn(s->pci), 0x10, VGA_LFB_BASE, 4);
    } else {
        s->lfb_decoding = true; /* no bus (tests): the LFB is simply there */
    }
}

static void *vga_create(board *b, const device_config *cfg, char *err, size_t errlen)
{
    (void)cfg;
    vga_state *s = calloc(1, sizeof(*s));
    if (s)
        s->vram = calloc(1, VGA_VRAM_SIZE);
    if (!s || !s->vram) {
        if (s)
            free(s);
        snprintf(err, errlen, "vga: out of memory");
        return NULL;
    }
    s->b = b;
    if (io_register(b->io, 0x3b0, 0x30, &vga_io, s, "vga") < 0 ||
        io_register(b->io, 0x1ce, 2, &dispi_io, s, "vga-dispi") < 0) {
        snprintf(err, errlen, "vga: ports 0x3b0-0x3df or 0x1ce-0x1cf already in use");
        goto fail;
    }
    if (phys_add_mmio(b->mem, LEGACY_BASE, LEGACY_SIZE, &legacy_ops, s, "vga") < 0 ||
        phys_add_mmio(b->mem, VGA_LFB_BASE, VGA_VRAM_SIZE, &lfb_ops, s, "vga-lfb") < 0) {
        snprintf(err, errlen, "vga: memory at 0xa0000 or 0x%08x already in use", VGA_LFB_BASE);
        goto fail;
    }
    pci_bus *bus = pci_find_bus(b);
    if (bus) {
        s->pci = pci_add_function(bus, -1, VGA_PCI_VENDOR, VGA_PCI_DEVICE, 0x030000, 2,
                                  &vga_pci_ops, s);
        if (!s->pci || pci_set_bar(s->pci, 0, VGA_VRAM_SIZE, PCI_BAR_MEM | PCI_BAR_PREFETCH) < 0) {
            snprintf(err, errlen, "vga: no free PCI slot");
            goto fail;
        }
    }
    vga_reset(s);
    return s;
fail:
    free(s->vram);
    free(s);
    return NULL;
}

static void vga_destroy(void *dev)
{
    vga_state *s = dev;
    free(s->vram);
    free(s);
}

const device_type vga_type = {
    .name = "vga",
    .description = "VGA with Bochs VBE extensions (PCI 1234:1111, LFB at 0xe0000000)",
    .create = vga_create,
    .reset = vga_reset,
    .destroy = vga_destroy,
};
