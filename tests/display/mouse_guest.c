/*
 * The host mouse reaches the guest's PS/2 mouse: a bare guest enables
 * the 8042's auxiliary port and the mouse's data reporting (commands
 * 0xA8, 0xD4 0xF4), says MOUSE-READY on COM1, then polls for 3-byte
 * stream packets (byte 0: buttons, bit 3 always set, sign bits; bytes 1
 * and 2: X and Y movement) and prints each.  It ends, passing, once it
 * has seen movement to the right and down and the left button pressed
 * and released — what tests/display/run-mouse-test.sh does with xdotool
 * in the window after grabbing the mouse.  Polled with IF clear, so the
 * pacing of input by guest instructions (display_sdl.c) is exercised.
 */
#include "guest.h"

#define STATUS 0x64
#define DATA   0x60

static void wait_write(void)
{
    while (inb(STATUS) & 0x02)
        ;
}

static int read_aux(uint32_t spins)
{
    while (spins--) {
        uint8_t st = inb(STATUS);
        if ((st & 0x21) == 0x21)
            return inb(DATA);
        if (st & 0x01)
            (void)inb(DATA); /* a keyboard byte: not ours */
    }
    return -1;
}

void test_main(void)
{
    cli();
    wait_write();
    outb(STATUS, 0xa8); /* enable the auxiliary interface */
    wait_write();
    outb(STATUS, 0xd4); /* next data byte to the mouse */
    wait_write();
    outb(DATA, 0xf4);   /* enable data reporting */
    check_eq("mouse ACK", (uint32_t)read_aux(10000000), 0xfa);
    gprintf("MOUSE-READY\n");

    int right = 0, down = 0, pressed = 0, released = 0, packets = 0;
    while (!(right && down && pressed && released)) {
        int b0 = read_aux(0xffffffffu);
        if (b0 < 0 || !(b0 & 0x08))
            continue; /* resynchronise on a first byte */
        int b1 = read_aux(100000000), b2 = read_aux(100000000);
        if (b1 < 0 || b2 < 0)
            continue;
        int dx = b1 - (b0 & 0x10 ? 256 : 0), dy = b2 - (b0 & 0x20 ? 256 : 0);
        gprintf("packet %02x %02x %02x: dx %d dy %d buttons %d\n", b0, b1, b2, dx, dy, b0 & 7);
        packets++;
        right |= dx > 0;
        down |= dy < 0; /* PS/2: positive Y is up */
        if (b0 & 1)
            pressed = 1;
        else if (pressed)
            released = 1;
    }
    gprintf("mouse_guest: %d packets: moved right and down, left button pressed and released\n",
            packets);
    test_finish();
}
