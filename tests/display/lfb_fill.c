/*
 * The Bochs VBE from a bare guest, as a DISPI driver programs it: find
 * the VGA (1234:1111) on PCI bus 0, turn on its memory decoding, set
 * 640x480x32 through ports 0x1CE/0x1CF, fill the linear framebuffer at
 * BAR 0 and read it back; then the same for the 80x25 text buffer, which
 * still has its font (the DISPI mode kept clear of the VGA planes).
 * Prints the host TSC cycles each full-screen fill took: every access is
 * MMIO (a host fault and one interpreted instruction under -accel bt),
 * so this is the cost of a full-screen redraw by the guest.
 */
#include "guest.h"

/* Small enough that the translator's fault-per-access path stays within
 * seconds (a frame here is what 1024x768 costs, divided by 2.56). */
#define W 640
#define H 480

static uint32_t pci_read(uint32_t devfn, uint32_t off)
{
    outl(0xcf8, 0x80000000u | devfn << 8 | off);
    return inl(0xcfc);
}

static void pci_write(uint32_t devfn, uint32_t off, uint32_t v)
{
    outl(0xcf8, 0x80000000u | devfn << 8 | off);
    outl(0xcfc, v);
}

static uint16_t inw16(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static void dispi(uint16_t index, uint16_t v)
{
    outw(0x1ce, index);
    outw(0x1cf, v);
}

static uint64_t tsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

void test_main(void)
{
    gprintf("lfb_fill: Bochs VBE %dx%dx32 through PCI BAR 0, and the text buffer\n", W, H);
    int devfn = -1;
    for (uint32_t d = 0; d < 32 && devfn < 0; d++)
        if (pci_read(d << 3, 0) == 0x11111234u)
            devfn = (int)(d << 3);
    if (!check(devfn >= 0, "VGA 1234:1111 on PCI bus 0"))
        test_finish();
    uint32_t bar = pci_read((uint32_t)devfn, 0x10) & ~0xfu;
    check_eq("BAR 0", bar, 0xe0000000u);
    check_eq("class", pci_read((uint32_t)devfn, 0x08) >> 8, 0x030000);
    pci_write((uint32_t)devfn, 0x04, pci_read((uint32_t)devfn, 0x04) | 2); /* memory decoding */

    outw(0x1ce, 0);
    check_eq("DISPI ID", inw16(0x1cf), 0xb0c5);
    dispi(1, W);
    dispi(2, H);
    dispi(3, 32);
    /* Video memory is shared: the VGA planes (with the text font in plane
     * 2) are its first 256 KiB.  Keep them: no clearing on enable, and
     * the picture shown from line 128 of the virtual screen on. */
    dispi(4, 0x41 | 0x80); /* enabled, LFB, NOCLEARMEM */
    dispi(9, 128);         /* Y offset */
    outw(0x1ce, 4);
    check_eq("DISPI enabled", inw16(0x1cf) & 1, 1);

    volatile uint32_t *lfb = (volatile uint32_t *)bar + 128 * W;
    for (int frame = 0; frame < 1; frame++) {
        uint64_t t0 = tsc();
        for (uint32_t i = 0; i < W * H; i++)
            lfb[i] = i * 2654435761u + (uint32_t)frame;
        uint64_t t1 = tsc();
        gprintf("lfb_fill: full %dx%dx32 frame %d: %u M host cycles (%u cycles per pixel)\n", W, H,
                frame, (uint32_t)((t1 - t0) / 1000000), (uint32_t)((t1 - t0) / (W * H)));
    }
    uint32_t bad = 0;
    for (uint32_t i = 0; i < W * H; i += 997)
        bad += lfb[i] != i * 2654435761u;
    check_eq("framebuffer read back, mismatches", bad, 0);

    dispi(4, 0); /* back to VGA text mode */
    volatile uint16_t *text = (volatile uint16_t *)0xb8000;
    uint64_t t0 = tsc();
    for (int i = 0; i < 80 * 25; i++)
        text[i] = (uint16_t)(0x1f00 | ('A' + i % 26));
    uint64_t t1 = tsc();
    gprintf("lfb_fill: full 80x25 text screen: %u k host cycles (%u per cell)\n",
            (uint32_t)((t1 - t0) / 1000), (uint32_t)((t1 - t0) / 2000));
    check_eq("text cell read back", text[1999], 0x1f00 | ('A' + 1999 % 26));
    test_finish();
}
