/*
 * VGA adapter with the Bochs VBE extensions (DISPI), as a PCI display
 * controller 1234:1111 whose BAR 0 is the linear framebuffer.  See vga.c.
 *
 * The guest sees the VGA ports 0x3B0-0x3DF, the legacy memory window
 * 0xA0000-0xBFFFF, the DISPI index/data ports 0x1CE/0x1CF and the linear
 * framebuffer at VGA_LFB_BASE.  The front end reads the state below to
 * draw it (devices/vga_render.h); nothing here knows of any window
 * system.
 *
 * Video memory: one VGA_VRAM_SIZE buffer.  The four 64 KiB VGA planes
 * are interleaved in its first 256 KiB — byte o of plane p is
 * vram[o * 4 + p] — so chain-4 (mode 13h) host address a is simply
 * vram[a], and DISPI modes use the buffer linearly from offset 0.
 */
#ifndef BTVM_DEVICES_VGA_H
#define BTVM_DEVICES_VGA_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"

#define VGA_VRAM_SIZE  (16u << 20)
#define VGA_PAGE_SHIFT 12
#define VGA_LFB_BASE   0xe0000000u /* where the board's firmware role puts BAR 0 */
#define VGA_PCI_VENDOR 0x1234
#define VGA_PCI_DEVICE 0x1111

/* Bochs VBE "DISPI" registers (Bochs vbe.h; QEMU's and the Linux
 * bochs-drm driver's names), selected through port 0x1CE. */
enum {
    VBE_DISPI_INDEX_ID = 0,
    VBE_DISPI_INDEX_XRES,
    VBE_DISPI_INDEX_YRES,
    VBE_DISPI_INDEX_BPP,
    VBE_DISPI_INDEX_ENABLE,
    VBE_DISPI_INDEX_BANK,
    VBE_DISPI_INDEX_VIRT_WIDTH,
    VBE_DISPI_INDEX_VIRT_HEIGHT,
    VBE_DISPI_INDEX_X_OFFSET,
    VBE_DISPI_INDEX_Y_OFFSET,
    VBE_DISPI_INDEX_VIDEO_MEMORY_64K,
    VBE_DISPI_NUM_REGS,
};
#define VBE_DISPI_ID0        0xb0c0
#define VBE_DISPI_ID5        0xb0c5
#define VBE_DISPI_ENABLED    0x01
#define VBE_DISPI_GETCAPS    0x02
#define VBE_DISPI_8BIT_DAC   0x20
#define VBE_DISPI_LFB_ENABLED 0x40
#define VBE_DISPI_NOCLEARMEM 0x80
#define VBE_DISPI_MAX_XRES   2560
#define VBE_DISPI_MAX_YRES   1600
#define VBE_DISPI_MAX_BPP    32

typedef struct pci_function pci_function;
typedef struct board board;

typedef struct vga_state {
    board *b;
    uint8_t *vram;            /* VGA_VRAM_SIZE bytes */

    /* Registers, by the names of the IBM VGA technical reference. */
    uint8_t misc;             /* miscellaneous output (write 0x3C2, read 0x3CC) */
    uint8_t feature;          /* feature control (write 0x3DA/0x3BA, read 0x3CA) */
    uint8_t sr_index, sr[8];  /* sequencer */
    uint8_t gr_index, gr[16]; /* graphics controller */
    uint8_t cr_index, cr[32]; /* CRT controller */
    uint8_t ar_index;         /* attribute controller: index, with bit 5 PAS */
    bool ar_data_next;        /* the 0x3C0 flip-flop: next write is data */
    uint8_t ar[32];
    uint8_t dac[256][3];      /* 6-bit (8-bit with VBE_DISPI_8BIT_DAC) R, G, B */
    uint8_t dac_write, dac_read, dac_step; /* index registers, and which colour next */
    bool dac_reading;         /* DAC state (0x3C7): last index written was the read index */
    uint8_t pel_mask;
    uint8_t latch[4];
    uint32_t st01_reads;      /* input status 1 reads: drive the retrace bits */

    uint16_t dispi_index;
    uint16_t dispi[VBE_DISPI_NUM_REGS];

    pci_function *pci;
    bool lfb_decoding;        /* BAR 0 is at VGA_LFB_BASE with memory decoding on */

    /* For the renderer: pages of vram written since it last looked, and
     * generations of what affects every pixel. */
    uint8_t dirty[(VGA_VRAM_SIZE >> VGA_PAGE_SHIFT) / 8];
    uint32_t palette_gen;     /* DAC or attribute palette written */
    uint32_t font_gen;        /* plane 2 (the text font) written */
} vga_state;

extern const device_type vga_type;

/* The legacy window 0xA0000-0xBFFFF as the CPU sees it (offset from
 * 0xA0000): graphics-controller read and write modes, chain-4, odd/even,
 * the DISPI bank.  For tests; the guest goes through phys_mem. */
uint8_t vga_mem_readb(vga_state *s, uint32_t offset);
void vga_mem_writeb(vga_state *s, uint32_t offset, uint8_t value);

/* Put the registers in the state a VGA BIOS leaves after setting mode 3
 * (80x25 colour text, 9x16 cells, the 8x16 font in plane 2). */
void vga_set_mode3(vga_state *s);

static inline void vga_mark_dirty(vga_state *s, uint32_t vram_offset)
{
    uint32_t page = (vram_offset & (VGA_VRAM_SIZE - 1)) >> VGA_PAGE_SHIFT;
    s->dirty[page >> 3] |= (uint8_t)(1u << (page & 7));
}

static inline bool vga_page_dirty(const vga_state *s, uint32_t page)
{
    return s->dirty[page >> 3] & (1u << (page & 7));
}

#endif
