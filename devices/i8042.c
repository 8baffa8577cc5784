/*
 * Intel 8042 (UPI-41/42) keyboard controller as programmed by the IBM
 * PC/AT and PS/2 firmware, with an MF II keyboard and a PS/2 mouse.
 *
 * Modelled, by section of the IBM PS/2 Hardware Interface Technical
 * Reference ("Keyboard/Auxiliary Device Controller") and the IBM
 * "Keyboard and Auxiliary Device" chapters:
 *   - Status register (port 0x64 read): OBF, IBF (always 0: commands
 *     complete at once), SYS (from command byte bit 2), A2 (last write
 *     was a command), INH (1: keyboard not inhibited), AUXB (the output
 *     buffer holds auxiliary data); timeout and parity errors never occur.
 *   - Controller commands (port 0x64 write): 0x20-0x3F read and
 *     0x60-0x7F write the internal RAM (byte 0 is the command byte:
 *     KBDINT, AUXINT, SYS, KBDDIS, AUXDIS, XLATE); 0xA7/0xA8 disable and
 *     enable the auxiliary interface, 0xA9 and 0xAB interface tests
 *     (0x00: no error), 0xAA self test (0x55), 0xAD/0xAE disable and
 *     enable the keyboard interface, 0xC0 read input port, 0xD0/0xD1
 *     read and write the output port (bit 0 system reset, bit 1 A20
 *     gate, bits 4/5 the two IRQ outputs), 0xD2/0xD3 write the output
 *     buffer as if from the keyboard/auxiliary device, 0xD4 write to the
 *     auxiliary device, 0xDD/0xDF A20 off/on, 0xE0 read test inputs,
 *     0xF0-0xFF pulse output port bits 3-0 (a pulse of bit 0, e.g. 0xFE,
 *     resets the machine).  A new command cancels a pending data byte.
 *   - IRQ 1 follows "output buffer full with keyboard data" and IRQ 12
 *     "with auxiliary data", each gated by its command byte enable.
 *   - Scan code translation (command byte XLATE): each keyboard byte goes
 *     through the controller's set 2 -> set 1 table, and an 0xF0 prefix
 *     is swallowed and sets bit 7 of the next byte.  Bytes from 0xD2 are
 *     not translated.  A disabled interface keeps its device's bytes
 *     waiting in the device.
 *   - Keyboard commands: 0xED LEDs, 0xEE echo, 0xF0 get/set scan code
 *     set, 0xF2 identify (0xAB 0x83), 0xF3 typematic rate, 0xF4 enable,
 *     0xF5 disable (and defaults), 0xF6 defaults, 0xF7-0xFD (set 3 key
 *     types: acknowledged, no effect), 0xFE resend, 0xFF reset (0xFA
 *     0xAA); anything else gets 0xFE.  A 16-byte buffer, the overrun
 *     code 0x00 (0xFF in set 1) when it fills.
 *   - Mouse: a standard PS/2 mouse (device ID 0x00, no wheel: the
 *     IntelliMouse knock sequences leave the ID at 0, so Linux finds a
 *     "PS/2 Generic Mouse").  Commands 0xE6/0xE7 scaling, 0xE8
 *     resolution, 0xE9 status request, 0xEA stream mode, 0xEB read data,
 *     0xEC/0xEE wrap mode off/on, 0xF0 remote mode, 0xF2 identify, 0xF3
 *     sample rate (10-200), 0xF4/0xF5 enable/disable reporting, 0xF6
 *     defaults, 0xFE resend, 0xFF reset (0xFA 0xAA 0x00); invalid
 *     commands and arguments get 0xFE.  3-byte packets with sign and
 *     overflow bits; 2:1 scaling in stream mode.
 *
 * Departures: timing is instantaneous (reset's self test, the time a
 * byte takes on the wire); in scan code set 3 the keyboard still sends
 * set 2 codes; the typematic rate and sample rate are stored only (the
 * front end sends repeats and motion as it sees them).  The power-on
 * state is the one a BIOS leaves, for kernels booted without one:
 * command byte XLATE | SYS | KBDINT, keyboard enabled in set 2.
 * The A20 gate is shared with port 0x92, last writer wins (see
 * port92.c).  Unknown commands are logged once and ignored.
 */
#include "devices/i8042.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/board.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT  0x64 /* data port + 4 */
#define QUEUE_SIZE      16

/* Status register */
#define STR_OBF  0x01
#define STR_IBF  0x02
#define STR_SYS  0x04
#define STR_A2   0x08
#define STR_INH  0x10 /* 1 = keyboard not inhibited */
#define STR_AUXB 0x20
/* Command byte (RAM byte 0) */
#define CCB_KBDINT 0x01
#define CCB_AUXINT 0x02
#define CCB_SYS    0x04
#define CCB_KBDDIS 0x10
#define CCB_AUXDIS 0x20
#define CCB_XLATE  0x40
/* Output port */
#define OUT_RESET  0x01 /* 0 = reset the CPU */
#define OUT_A20    0x02
#define OUT_IRQ1   0x10
#define OUT_IRQ12  0x20
/* Input port: keyboard not inhibited, no manufacturing jumper, 512K. */
#define INPUT_PORT 0xb0

/* Device replies */
#define ACK      0xfa
#define RESEND   0xfe
#define BAT_OK   0xaa
#define ECHO     0xee

/* Mouse packet byte 0 */
#define PKT_ALWAYS1 0x08
#define PKT_XSIGN   0x10
#define PKT_YSIGN   0x20
#define PKT_XOVF    0x40
#define PKT_YOVF    0x80

enum { SRC_KBD = 0, SRC_AUX = 1 };

typedef struct byte_queue {
    uint8_t data[QUEUE_SIZE];
    uint8_t src[QUEUE_SIZE]; /* for the controller's own queue */
    unsigned head, count;
} byte_queue;

typedef struct ps2_keyboard {
    byte_queue q;
    uint8_t arg_cmd;   /* command waiting for its argument, 0 = none */
    uint8_t last;      /* last byte sent, for 0xFE */
    uint8_t set;       /* scan code set 1-3 */
    uint8_t leds, typematic;
    bool scanning;
} ps2_keyboard;

typedef struct ps2_mouse {
    byte_queue q;
    uint8_t arg_cmd;
    uint8_t last;
    uint8_t rate, resolution, buttons;
    bool reporting, remote, wrap, scale21;
    int dx, dy;        /* movement not yet reported */
} ps2_mouse;

struct i8042_state {
    board *b;
    uint16_t port;      /* data port; the command/status port is port + 4 */
    int kbd_irq;
    uint8_t ram[32];    /* ram[0] is the command byte */
    uint8_t outport;
    uint8_t pending;    /* controller command waiting for a data byte */
    bool a2;
    byte_queue ctrl;    /* controller replies and 0xD2/0xD3 bytes */
    uint8_t ob;         /* output buffer */
    bool obf, ob_aux;
    bool xlate_break;   /* translator saw 0xF0 */
    bool irq1, irq12;   /* levels driven on the ISA lines */
    ps2_keyboard kbd;
    ps2_mouse aux;
    uint8_t warned[32]; /* controller commands logged as unknown */
    bool warned_kbd, warned_aux;
};

/*
 * The controller's set 2 -> set 1 translation table, bytes 0x00-0x7F, as
 * the 8042 firmware has it.  The keys: see the comments; entries without
 * a key are the table's fillers.  Bytes 0x80-0xFF pass unchanged but for
 * 0x83 (F7) and 0x84 (SysRq).
 */
static const uint8_t xlate_low[128] = {
    /* 00    F9    --    F5    F3    F1    F2    F12 */
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58,
    /* F13   F10   F8    F6    F4    Tab   `     KP= */
    0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
    /* F14   LAlt  LShft Kana  LCtrl Q     1     -- */
    0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a,
    /* F15   --    Z     S     A     W     2     -- */
    0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
    /* F16   C     X     D     E     4     3     -- */
    0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c,
    /* F17   Space V     F     T     R     5     -- */
    0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
    /* F18   N     B     H     G     Y     6     -- */
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e,
    /* F19   --    M     J     U     7     8     -- */
    0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
    /* F20   ,     K     I     O     0     9     -- */
    0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60,
    /* F21   .     /     L     ;     P     -     -- */
    0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
    /* F22   Ro    '     --    [     =     --    F23 */
    0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e,
    /* Caps  RShft Enter ]     --    \     --    F24 */
    0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
    /* --    102nd --    --    Henk  --    BkSp  Muhen */
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b,
    /* --    KP1   Yen   KP4   KP7   KP,   --    -- */
    0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
    /* KP0   KP.   KP2   KP5   KP6   KP8   Esc   NumLk */
    0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45,
    /* F11   KP+   KP3   KP-   KP*   KP9   ScrLk -- */
    0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
};

static uint8_t xlate(uint8_t b)
{
    if (b < 0x80)
        return xlate_low[b];
    if (b == 0x83)
        return 0x41; /* F7 */
    if (b == 0x84)
        return 0x54; /* SysRq */
    return b;
}

/* --- queues ---------------------------------------------------------- */

static unsigned q_room(const byte_queue *q)
{
    return QUEUE_SIZE - q->count;
}

static bool q_push(byte_queue *q, uint8_t v, uint8_t src)
{
    if (q->count == QUEUE_SIZE)
        return false;
    unsigned i = (q->head + q->count++) % QUEUE_SIZE;
    q->data[i] = v;
    q->src[i] = src;
    return true;
}

static uint8_t q_pop(byte_queue *q, uint8_t *src)
{
    uint8_t v = q->data[q->head];
    if (src)
        *src = q->src[q->head];
    q->head = (q->head + 1) % QUEUE_SIZE;
    q->count--;
    return v;
}

static void q_clear(byte_queue *q)
{
    q->head = q->count = 0;
}

/* --- the controller's output buffer and IRQs ------------------------- */

static void update_irqs(i8042_state *s)
{
    bool irq1 = s->obf && !s->ob_aux && (s->ram[0] & CCB_KBDINT);
    bool irq12 = s->obf && s->ob_aux && (s->ram[0] & CCB_AUXINT);
    if (irq1 != s->irq1) {
        s->irq1 = irq1;
        if (s->kbd_irq >= 0)
            irq_set(&s->b->isa_irq[s->kbd_irq], irq1);
    }
    if (irq12 != s->irq12) {
        s->irq12 = irq12;
        irq_set(&s->b->isa_irq[I8042_AUX_IRQ], irq12);
    }
}

/* Fill an empty output buffer: controller bytes first, then the
 * keyboard's, then the mouse's, from the interfaces that are enabled. */
static void refill(i8042_state *s)
{
    while (!s->obf) {
        uint8_t src;
        if (s->ctrl.count) {
            s->ob = q_pop(&s->ctrl, &src);
            s->ob_aux = src == SRC_AUX;
        } else if (s->kbd.q.count && !(s->ram[0] & CCB_KBDDIS)) {
            uint8_t v = q_pop(&s->kbd.q, NULL);
            if (s->ram[0] & CCB_XLATE) {
                if (v == 0xf0) {
                    s->xlate_break = true;
                    continue;
                }
                v = xlate(v) | (s->xlate_break ? 0x80 : 0);
                s->xlate_break = false;
            }
            s->ob = v;
            s->ob_aux = false;
        } else if (s->aux.q.count && !(s->ram[0] & CCB_AUXDIS)) {
            s->ob = q_pop(&s->aux.q, NULL);
            s->ob_aux = true;
        } else {
            break;
        }
        s->obf = true;
    }
    update_irqs(s);
}

static void ctrl_reply(i8042_state *s, uint8_t v, uint8_t src)
{
    q_push(&s->ctrl, v, src);
    refill(s);
}

static void kbd_send(i8042_state *s, uint8_t v)
{
    s->kbd.last = v;
    q_push(&s->kbd.q, v, SRC_KBD);
}

static void aux_send(i8042_state *s, uint8_t v)
{
    s->aux.last = v;
    q_push(&s->aux.q, v, SRC_AUX);
}

/* --- keyboard -------------------------------------------------------- */

static void kbd_defaults(ps2_keyboard *k)
{
    k->typematic = 0x2b; /* 10.9 characters/s after 500 ms */
    k->set = 2;
    k->arg_cmd = 0;
}

static void kbd_write(i8042_state *s, uint8_t v)
{
    ps2_keyboard *k = &s->kbd;
    uint8_t cmd = k->arg_cmd;
    k->arg_cmd = 0;
    switch (cmd) { /* the argument of 0xED, 0xF3, 0xF0 */
    case 0xed: k->leds = v & 7; kbd_send(s, ACK); return;
    case 0xf3: k->typematic = v & 0x7f; kbd_send(s, ACK); return;
    case 0xf0:
        kbd_send(s, v > 3 ? RESEND : ACK);
        if (v == 0)
            kbd_send(s, k->set);
        else if (v <= 3)
            k->set = v;
        return;
    }
    switch (v) {
    case 0xed: case 0xf3: case 0xf0:
        k->arg_cmd = v;
        kbd_send(s, ACK);
        break;
    case 0xee: kbd_send(s, ECHO); break;
    case 0xf2:
        kbd_send(s, ACK);
        kbd_send(s, 0xab);
        kbd_send(s, 0x83);
        break;
    case 0xf4: case 0xf5: case 0xf6: /* enable; disable with defaults; defaults */
        q_clear(&k->q);
        if (v != 0xf4)
            kbd_defaults(k);
        if (v != 0xf6)
            k->scanning = v == 0xf4;
        kbd_send(s, ACK);
        break;
    case 0xf7: case 0xf8: case 0xf9: case 0xfa: case 0xfb: case 0xfc: case 0xfd:
        kbd_send(s, ACK);
        break;
    case 0xfe: q_push(&k->q, k->last, SRC_KBD); break;
    case 0xff:
        q_clear(&k->q);
        kbd_defaults(k);
        k->leds = 0;
        k->scanning = true;
        kbd_send(s, ACK);
        kbd_send(s, BAT_OK);
        break;
    default:
        if (!s->warned_kbd) {
            s->warned_kbd = true;
            fprintf(stderr, "btvm: i8042: unknown keyboard command 0x%02x (logged once)\n", v);
        }
        kbd_send(s, RESEND);
        break;
    }
}

void i8042_key_event(i8042_state *s, const uint8_t *set2, size_t n)
{
    ps2_keyboard *k = &s->kbd;
    if (!k->scanning || n == 0)
        return;
    if (q_room(&k->q) < n + 1) {
        /* The buffer's last slot holds the overrun code. */
        if (q_room(&k->q) == 1)
            q_push(&k->q, k->set == 1 ? 0xff : 0x00, SRC_KBD);
    } else if (k->set == 1) {
        bool brk = false;
        for (size_t i = 0; i < n; i++) {
            if (set2[i] == 0xf0) {
                brk = true;
                continue;
            }
            uint8_t v = set2[i] == 0xe0 || set2[i] == 0xe1 ? set2[i] : xlate(set2[i]);
            q_push(&k->q, (uint8_t)(v | (brk ? 0x80 : 0)), SRC_KBD);
            brk = false;
        }
    } else {
        for (size_t i = 0; i < n; i++)
            q_push(&k->q, set2[i], SRC_KBD);
    }
    refill(s);
}

/* --- mouse ----------------------------------------------------------- */

static void aux_defaults(ps2_mouse *m)
{
    m->rate = 100;
    m->resolution = 2;
    m->scale21 = false;
    m->remote = false;
    m->reporting = false;
    m->arg_cmd = 0;
    m->dx = m->dy = 0;
}

static int scale21(int d)
{
    static const int table[6] = { 0, 1, 1, 3, 6, 9 };
    int a = d < 0 ? -d : d;
    int r = a < 6 ? table[a] : 2 * a;
    return d < 0 ? -r : r;
}

/* Queue a movement packet from the accumulated counts; false if no room. */
static bool aux_packet(i8042_state *s, bool stream)
{
    ps2_mouse *m = &s->aux;
    if (q_room(&m->q) < 3)
        return false;
    int dx = m->dx, dy = m->dy;
    if (stream && m->scale21) {
        dx = scale21(dx);
        dy = scale21(dy);
    }
    uint8_t b0 = PKT_ALWAYS1 | (m->buttons & 7);
    if (dx > 255 || dx < -256) {
        b0 |= PKT_XOVF;
        dx = dx < 0 ? -256 : 255;
    }
    if (dy > 255 || dy < -256) {
        b0 |= PKT_YOVF;
        dy = dy < 0 ? -256 : 255;
    }
    if (dx < 0)
        b0 |= PKT_XSIGN;
    if (dy < 0)
        b0 |= PKT_YSIGN;
    aux_send(s, b0);
    aux_send(s, (uint8_t)dx);
    aux_send(s, (uint8_t)dy);
    m->dx = m->dy = 0;
    return true;
}

void i8042_mouse_event(i8042_state *s, int dx, int dy, unsigned buttons)
{
    ps2_mouse *m = &s->aux;
    m->dx += dx;
    m->dy += dy;
    /* Keep the counters in range while nobody collects them. */
    m->dx = m->dx > 4096 ? 4096 : m->dx < -4096 ? -4096 : m->dx;
    m->dy = m->dy > 4096 ? 4096 : m->dy < -4096 ? -4096 : m->dy;
    m->buttons = (uint8_t)(buttons & 7);
    if (m->reporting && !m->remote && !m->wrap) {
        aux_packet(s, true);
        refill(s);
    }
}

static bool valid_rate(uint8_t v)
{
    return v == 10 || v == 20 || v == 40 || v == 60 || v == 80 || v == 100 || v == 200;
}

static void aux_write(i8042_state *s, uint8_t v)
{
    ps2_mouse *m = &s->aux;
    if (m->wrap && v != 0xec && v != 0xff) {
        aux_send(s, v);
        return;
    }
    uint8_t cmd = m->arg_cmd;
    m->arg_cmd = 0;
    if (cmd == 0xf3 || cmd == 0xe8) {
        bool ok = cmd == 0xf3 ? valid_rate(v) : v <= 3;
        if (ok && cmd == 0xf3)
            m->rate = v;
        else if (ok)
            m->resolution = v;
        aux_send(s, ok ? ACK : RESEND);
        return;
    }
    switch (v) {
    case 0xe6: case 0xe7: m->scale21 = v == 0xe7; aux_send(s, ACK); break;
    case 0xe8: case 0xf3: m->arg_cmd = v; aux_send(s, ACK); break;
    case 0xe9: {
        /* Status byte: remote, enable, scaling, then left/middle/right. */
        uint8_t st = (uint8_t)((m->remote ? 0x40 : 0) | (m->reporting ? 0x20 : 0) |
                               (m->scale21 ? 0x10 : 0) |
                               ((m->buttons & I8042_BTN_LEFT) ? 0x04 : 0) |
                               ((m->buttons & I8042_BTN_MIDDLE) ? 0x02 : 0) |
                               ((m->buttons & I8042_BTN_RIGHT) ? 0x01 : 0));
        aux_send(s, ACK);
        aux_send(s, st);
        aux_send(s, m->resolution);
        aux_send(s, m->rate);
        break;
    }
    case 0xea: case 0xf0:
        m->remote = v == 0xf0;
        m->dx = m->dy = 0;
        aux_send(s, ACK);
        break;
    case 0xeb: aux_send(s, ACK); aux_packet(s, false); break;
    case 0xec: case 0xee:
        m->wrap = v == 0xee;
        m->dx = m->dy = 0;
        aux_send(s, ACK);
        break;
    case 0xf2:
        aux_send(s, ACK);
        aux_send(s, 0x00); /* standard PS/2 mouse */
        break;
    case 0xf4: case 0xf5:
        m->reporting = v == 0xf4;
        m->dx = m->dy = 0;
        aux_send(s, ACK);
        break;
    case 0xf6: aux_defaults(m); aux_send(s, ACK); break;
    case 0xfe: aux_send(s, m->last); break;
    case 0xff:
        q_clear(&m->q);
        aux_defaults(m);
        m->wrap = false;
        aux_send(s, ACK);
        aux_send(s, BAT_OK);
        aux_send(s, 0x00);
        break;
    default:
        if (!s->warned_aux) {
            s->warned_aux = true;
            fprintf(stderr, "btvm: i8042: unknown mouse command 0x%02x (logged once)\n", v);
        }
        aux_send(s, RESEND);
        break;
    }
}

/* --- controller ------------------------------------------------------ */

static void set_a20(i8042_state *s, bool on)
{
    s->outport = (uint8_t)((s->outport & ~OUT_A20) | (on ? OUT_A20 : 0));
    if (s->b->mem)
        phys_set_a20(s->b->mem, on);
}

static void write_outport(i8042_state *s, uint8_t v)
{
    s->outport = v;
    set_a20(s, v & OUT_A20);
    if (!(v & OUT_RESET))
        board_request_reset(s->b);
}

static uint8_t read_outport(const i8042_state *s)
{
    return (uint8_t)((s->outport & ~(OUT_IRQ1 | OUT_IRQ12)) |
                     (s->obf && !s->ob_aux ? OUT_IRQ1 : 0) |
                     (s->obf && s->ob_aux ? OUT_IRQ12 : 0));
}

static void set_ccb_bits(i8042_state *s, uint8_t set, uint8_t clear)
{
    s->ram[0] = (uint8_t)((s->ram[0] | set) & ~clear);
    refill(s);
}

/* The data byte of a command that takes one. */
static void command_data(i8042_state *s, uint8_t cmd, uint8_t v)
{
    if (cmd >= 0x60 && cmd <= 0x7f) {
        s->ram[cmd & 0x1f] = v;
        if (cmd == 0x60)
            refill(s);
        return;
    }
    switch (cmd) {
    case 0xd1: write_outport(s, v); break;
    case 0xd2: ctrl_reply(s, v, SRC_KBD); break;
    case 0xd3: ctrl_reply(s, v, SRC_AUX); break;
    case 0xd4: aux_write(s, v); refill(s); break;
    }
}

static void command(i8042_state *s, uint8_t cmd)
{
    s->pending = 0;
    if (cmd >= 0x20 && cmd <= 0x3f) {
        ctrl_reply(s, s->ram[cmd & 0x1f], SRC_KBD);
        return;
    }
    if ((cmd >= 0x60 && cmd <= 0x7f) || (cmd >= 0xd1 && cmd <= 0xd4)) {
        s->pending = cmd;
        return;
    }
    if (cmd >= 0xf0) {
        /* Pulse the output port bits whose command bit is 0. */
        if (!(cmd & OUT_RESET))
            board_request_reset(s->b);
        return;
    }
    switch (cmd) {
    case 0xa7: set_ccb_bits(s, CCB_AUXDIS, 0); break;
    case 0xa8: set_ccb_bits(s, 0, CCB_AUXDIS); break;
    case 0xa9: ctrl_reply(s, 0x00, SRC_KBD); break;
    case 0xaa: ctrl_reply(s, 0x55, SRC_KBD); break;
    case 0xab: ctrl_reply(s, 0x00, SRC_KBD); break;
    case 0xad: set_ccb_bits(s, CCB_KBDDIS, 0); break;
    case 0xae: set_ccb_bits(s, 0, CCB_KBDDIS); break;
    case 0xc0: ctrl_reply(s, INPUT_PORT, SRC_KBD); break;
    case 0xd0: ctrl_reply(s, read_outport(s), SRC_KBD); break;
    case 0xdd: set_a20(s, false); break;
    case 0xdf: set_a20(s, true); break;
    case 0xe0: ctrl_reply(s, 0x00, SRC_KBD); break;
    default:
        if (!(s->warned[cmd >> 3] & (1u << (cmd & 7)))) {
            s->warned[cmd >> 3] |= (uint8_t)(1u << (cmd & 7));
            fprintf(stderr, "btvm: i8042: unknown controller command 0x%02x (logged once)\n",
                    cmd);
        }
        break;
    }
}

static uint32_t i8042_io_read(void *opaque, uint16_t port, unsigned size)
{
    i8042_state *s = opaque;
    (void)size;
    if (port != s->port) {
        return (s->obf ? STR_OBF : 0) | (s->obf && s->ob_aux ? STR_AUXB : 0) |
               (s->ram[0] & CCB_SYS ? STR_SYS : 0) | (s->a2 ? STR_A2 : 0) | STR_INH;
    }
    uint8_t v = s->ob;
    /* The IRQ output falls with OBF; the next byte makes a new edge. */
    s->obf = false;
    update_irqs(s);
    refill(s);
    return v;
}

static void i8042_io_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    i8042_state *s = opaque;
    uint8_t v = (uint8_t)value;
    (void)size;
    if (port != s->port) {
        s->a2 = true;
        command(s, v);
        return;
    }
    s->a2 = false;
    if (s->pending) {
        uint8_t cmd = s->pending;
        s->pending = 0;
        command_data(s, cmd, v);
    } else {
        kbd_write(s, v);
        refill(s);
    }
}

static const io_ops i8042_ops = {
    .read = i8042_io_read,
    .write = i8042_io_write,
    .max_size = 1,
};

static void i8042_reset(void *dev)
{
    i8042_state *s = dev;
    memset(s->ram, 0, sizeof(s->ram));
    s->ram[0] = CCB_XLATE | CCB_SYS | CCB_KBDINT;
    s->outport = 0xc0 | OUT_A20 | OUT_RESET | 0x0c;
    s->pending = 0;
    s->a2 = false;
    s->obf = false;
    s->ob_aux = false;
    s->xlate_break = false;
    q_clear(&s->ctrl);
    q_clear(&s->kbd.q);
    kbd_defaults(&s->kbd);
    s->kbd.leds = 0;
    s->kbd.scanning = true;
    q_clear(&s->aux.q);
    aux_defaults(&s->aux);
    s->aux.wrap = false;
    s->aux.buttons = 0;
    update_irqs(s);
}

static void *i8042_create(board *b, const device_config *cfg, char *err, size_t errlen)
{
    uint16_t port = cfg->port ? cfg->port : I8042_DATA_PORT;
    if (cfg->irq > 15 || io_owner(b->io, port) || io_owner(b->io, (uint16_t)(port + 4))) {
        snprintf(err, errlen, "i8042: bad irq %d or port 0x%x/0x%x in use", cfg->irq, port,
                 port + 4);
        return NULL;
    }
    i8042_state *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "i8042: out of memory");
        return NULL;
    }
    s->b = b;
    s->port = port;
    s->kbd_irq = cfg->irq;
    io_register(b->io, port, 1, &i8042_ops, s, "i8042");
    io_register(b->io, (uint16_t)(port + 4), 1, &i8042_ops, s, "i8042");
    i8042_reset(s);
    return s;
}

static void i8042_destroy(void *dev)
{
    free(dev);
}

const device_type i8042_type = {
    .name = "i8042",
    .description = "8042 keyboard controller (0x60/0x64) with PS/2 keyboard (IRQ 1) and mouse "
                   "(IRQ 12)",
    .create = i8042_create,
    .reset = i8042_reset,
    .destroy = i8042_destroy,
};
