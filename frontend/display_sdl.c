/*
 * The SDL2 window: see display.h.
 *
 * Drawing: the VGA is rendered into a pixel buffer by devices/vga_render.c
 * at the host display's refresh rate (60 Hz when SDL does not know it);
 * only the rows that changed are uploaded to a streaming texture, and the
 * window is presented only when something changed.  The texture is
 * scaled to the window keeping its aspect ratio (SDL_RenderSetLogicalSize).
 *
 * Input: host keys become PS/2 scan code set 2 sequences for the 8042
 * (devices/i8042.h), which translates them to set 1 when the guest asks;
 * the table below is keyed by SDL scancodes, which are USB HID usages
 * (positions, not characters), so the guest's own keymap applies.  A
 * click grabs the mouse (relative mode); motion and buttons then become
 * PS/2 mouse packets on the 8042's auxiliary port.
 *
 * Hot keys (Ctrl-Alt held, as QEMU's): G releases the mouse, S toggles
 * the statistics overlay (frontend/overlay.c).  They do not reach the
 * guest.  Window focus loss releases every key the guest saw pressed.
 */
#include "frontend/display.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <SDL.h>

#include "devices/i8042.h"
#include "devices/vga.h"
#include "devices/vga_render.h"
#include "frontend/overlay.h"

#define EVENT_POLL_NS   4000000ull   /* input latency bound while the guest runs */
#define OVERLAY_NS      500000000ull /* statistics refresh */
#define E0              0x100        /* in keymap: the extended-key prefix */
#define KEY_QUEUE       256          /* key events waiting for the guest */
/* Pacing: the 8042's buffers hold 16 bytes (five key events, five mouse
 * packets), and a burst of host events while the guest is not reading
 * them (host load, a long stretch with interrupts off, such as a printk
 * to the VGA console) would overflow them, losing key releases.  So input
 * waits here and goes to the 8042 one event at a time, the next once the
 * guest has evidently taken the last:
 *   - it went idle (HLT with nothing pending), or
 *   - it ran FEED_INSNS instructions and now has interrupts on and none
 *     pending (so IRQ 1/12 were served), FEED_QUIET_NS after the last, or
 *   - for guests that poll with interrupts off: FEED_INSNS instructions
 *     and FEED_POLL_NS after the last. */
#define FEED_INSNS      200000
#define FEED_QUIET_NS   2000000ull
#define FEED_POLL_NS    50000000ull
#define MOUSE_QUEUE     64

/* SDL scancode -> PS/2 set 2 make code (IBM PS/2 keyboard technical
 * reference, scan code set 2).  The break code is F0 before the last
 * byte.  Print Screen and Pause are special-cased in display_ps2_set2(). */
static const uint16_t keymap[SDL_NUM_SCANCODES] = {
    [SDL_SCANCODE_A] = 0x1c, [SDL_SCANCODE_B] = 0x32, [SDL_SCANCODE_C] = 0x21,
    [SDL_SCANCODE_D] = 0x23, [SDL_SCANCODE_E] = 0x24, [SDL_SCANCODE_F] = 0x2b,
    [SDL_SCANCODE_G] = 0x34, [SDL_SCANCODE_H] = 0x33, [SDL_SCANCODE_I] = 0x43,
    [SDL_SCANCODE_J] = 0x3b, [SDL_SCANCODE_K] = 0x42, [SDL_SCANCODE_L] = 0x4b,
    [SDL_SCANCODE_M] = 0x3a, [SDL_SCANCODE_N] = 0x31, [SDL_SCANCODE_O] = 0x44,
    [SDL_SCANCODE_P] = 0x4d, [SDL_SCANCODE_Q] = 0x15, [SDL_SCANCODE_R] = 0x2d,
    [SDL_SCANCODE_S] = 0x1b, [SDL_SCANCODE_T] = 0x2c, [SDL_SCANCODE_U] = 0x3c,
    [SDL_SCANCODE_V] = 0x2a, [SDL_SCANCODE_W] = 0x1d, [SDL_SCANCODE_X] = 0x22,
    [SDL_SCANCODE_Y] = 0x35, [SDL_SCANCODE_Z] = 0x1a,
    [SDL_SCANCODE_1] = 0x16, [SDL_SCANCODE_2] = 0x1e, [SDL_SCANCODE_3] = 0x26,
    [SDL_SCANCODE_4] = 0x25, [SDL_SCANCODE_5] = 0x2e, [SDL_SCANCODE_6] = 0x36,
    [SDL_SCANCODE_7] = 0x3d, [SDL_SCANCODE_8] = 0x3e, [SDL_SCANCODE_9] = 0x46,
    [SDL_SCANCODE_0] = 0x45,
    [SDL_SCANCODE_RETURN] = 0x5a, [SDL_SCANCODE_ESCAPE] = 0x76,
    [SDL_SCANCODE_BACKSPACE] = 0x66, [SDL_SCANCODE_TAB] = 0x0d, [SDL_SCANCODE_SPACE] = 0x29,
    [SDL_SCANCODE_MINUS] = 0x4e, [SDL_SCANCODE_EQUALS] = 0x55,
    [SDL_SCANCODE_LEFTBRACKET] = 0x54, [SDL_SCANCODE_RIGHTBRACKET] = 0x5b,
    [SDL_SCANCODE_BACKSLASH] = 0x5d, [SDL_SCANCODE_NONUSHASH] = 0x5d,
    [SDL_SCANCODE_SEMICOLON] = 0x4c, [SDL_SCANCODE_APOSTROPHE] = 0x52,
    [SDL_SCANCODE_GRAVE] = 0x0e, [SDL_SCANCODE_COMMA] = 0x41, [SDL_SCANCODE_PERIOD] = 0x49,
    [SDL_SCANCODE_SLASH] = 0x4a, [SDL_SCANCODE_CAPSLOCK] = 0x58,
    [SDL_SCANCODE_NONUSBACKSLASH] = 0x61,
    [SDL_SCANCODE_F1] = 0x05, [SDL_SCANCODE_F2] = 0x06, [SDL_SCANCODE_F3] = 0x04,
    [SDL_SCANCODE_F4] = 0x0c, [SDL_SCANCODE_F5] = 0x03, [SDL_SCANCODE_F6] = 0x0b,
    [SDL_SCANCODE_F7] = 0x83, [SDL_SCANCODE_F8] = 0x0a, [SDL_SCANCODE_F9] = 0x01,
    [SDL_SCANCODE_F10] = 0x09, [SDL_SCANCODE_F11] = 0x78, [SDL_SCANCODE_F12] = 0x07,
    [SDL_SCANCODE_SCROLLLOCK] = 0x7e,
    [SDL_SCANCODE_INSERT] = E0 | 0x70, [SDL_SCANCODE_HOME] = E0 | 0x6c,
    [SDL_SCANCODE_PAGEUP] = E0 | 0x7d, [SDL_SCANCODE_DELETE] = E0 | 0x71,
    [SDL_SCANCODE_END] = E0 | 0x69, [SDL_SCANCODE_PAGEDOWN] = E0 | 0x7a,
    [SDL_SCANCODE_RIGHT] = E0 | 0x74, [SDL_SCANCODE_LEFT] = E0 | 0x6b,
    [SDL_SCANCODE_DOWN] = E0 | 0x72, [SDL_SCANCODE_UP] = E0 | 0x75,
    [SDL_SCANCODE_NUMLOCKCLEAR] = 0x77, [SDL_SCANCODE_KP_DIVIDE] = E0 | 0x4a,
    [SDL_SCANCODE_KP_MULTIPLY] = 0x7c, [SDL_SCANCODE_KP_MINUS] = 0x7b,
    [SDL_SCANCODE_KP_PLUS] = 0x79, [SDL_SCANCODE_KP_ENTER] = E0 | 0x5a,
    [SDL_SCANCODE_KP_1] = 0x69, [SDL_SCANCODE_KP_2] = 0x72, [SDL_SCANCODE_KP_3] = 0x7a,
    [SDL_SCANCODE_KP_4] = 0x6b, [SDL_SCANCODE_KP_5] = 0x73, [SDL_SCANCODE_KP_6] = 0x74,
    [SDL_SCANCODE_KP_7] = 0x6c, [SDL_SCANCODE_KP_8] = 0x75, [SDL_SCANCODE_KP_9] = 0x7d,
    [SDL_SCANCODE_KP_0] = 0x70, [SDL_SCANCODE_KP_PERIOD] = 0x71,
    [SDL_SCANCODE_APPLICATION] = E0 | 0x2f,
    [SDL_SCANCODE_LCTRL] = 0x14, [SDL_SCANCODE_LSHIFT] = 0x12, [SDL_SCANCODE_LALT] = 0x11,
    [SDL_SCANCODE_LGUI] = E0 | 0x1f, [SDL_SCANCODE_RCTRL] = E0 | 0x14,
    [SDL_SCANCODE_RSHIFT] = 0x59, [SDL_SCANCODE_RALT] = E0 | 0x11,
    [SDL_SCANCODE_RGUI] = E0 | 0x27,
};

struct display {
    machine *m;
    vga_state *vga;
    i8042_state *kbd;
    SDL_Window *win;
    SDL_Renderer *ren;
    SDL_Texture *tex;
    int tex_w, tex_h;
    SDL_Texture *ov_tex;
    int ov_w, ov_h;
    vga_frame frame;
    uint64_t refresh_ns, next_refresh, next_events, next_overlay;
    bool need_present;
    bool grabbed;
    bool overlay_on;
    machine_stats ov_prev;
    unsigned buttons;
    /* input waiting for the guest (see FEED_INSNS) */
    uint8_t kq[KEY_QUEUE][8];
    uint8_t kq_len[KEY_QUEUE];
    unsigned kq_head, kq_count;
    bool key_idle;               /* the guest idled since the last key event */
    uint64_t key_insns, key_ns;  /* guest instructions and host time at the last key event */
    struct { int dx, dy; unsigned buttons; } mq[MOUSE_QUEUE]; /* packets not yet sent */
    unsigned mq_head, mq_count;
    bool mouse_idle;
    uint64_t mouse_insns, mouse_ns;
    bool pressed[SDL_NUM_SCANCODES]; /* make codes the guest has seen without a break */
    bool swallow[SDL_NUM_SCANCODES]; /* hot keys: their release is not the guest's */
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void set_title(display *d)
{
    SDL_SetWindowTitle(d->win, d->grabbed ? "btvm - Ctrl-Alt-G releases the mouse"
                                          : "btvm - click to grab the mouse, Ctrl-Alt-S statistics");
}

size_t display_ps2_set2(int scancode, bool down, uint8_t out[8])
{
    static const uint8_t prtsc_make[] = { 0xe0, 0x12, 0xe0, 0x7c };
    static const uint8_t prtsc_break[] = { 0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12 };
    /* Pause sends make and break together, and nothing on release. */
    static const uint8_t pause[] = { 0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77 };
    if (scancode == SDL_SCANCODE_PRINTSCREEN) {
        memcpy(out, down ? prtsc_make : prtsc_break, down ? sizeof(prtsc_make) : sizeof(prtsc_break));
        return down ? sizeof(prtsc_make) : sizeof(prtsc_break);
    }
    if (scancode == SDL_SCANCODE_PAUSE) {
        if (!down)
            return 0;
        memcpy(out, pause, sizeof(pause));
        return sizeof(pause);
    }
    uint16_t code = scancode >= 0 && scancode < SDL_NUM_SCANCODES ? keymap[scancode] : 0;
    if (!code)
        return 0;
    size_t n = 0;
    if (code & E0)
        out[n++] = 0xe0;
    if (!down)
        out[n++] = 0xf0;
    out[n++] = (uint8_t)code;
    return n;
}

/* Key down or up, to the keyboard. */
static void send_key(display *d, SDL_Scancode sc, bool down)
{
    uint8_t b[8];
    size_t n = display_ps2_set2((int)sc, down, b);
    if (n && d->kq_count < KEY_QUEUE) {
        unsigned i = (d->kq_head + d->kq_count++) % KEY_QUEUE;
        memcpy(d->kq[i], b, n);
        d->kq_len[i] = (uint8_t)n;
    }
    if (sc < SDL_NUM_SCANCODES)
        d->pressed[sc] = down && n && sc != SDL_SCANCODE_PAUSE;
}

static void release_all_keys(display *d)
{
    for (int sc = 0; sc < SDL_NUM_SCANCODES; sc++)
        if (d->pressed[sc])
            send_key(d, (SDL_Scancode)sc, false);
}

static void set_grab(display *d, bool on)
{
    d->grabbed = on;
    SDL_SetRelativeMouseMode(on ? SDL_TRUE : SDL_FALSE);
    SDL_SetWindowGrab(d->win, on ? SDL_TRUE : SDL_FALSE);
    set_title(d);
}

/* Motion joins the last waiting packet while the buttons stay the same;
 * a button change is a packet of its own, so no click is lost. */
static void mouse_motion(display *d, int dx, int dy)
{
    if (d->mq_count) {
        unsigned last = (d->mq_head + d->mq_count - 1) % MOUSE_QUEUE;
        if (d->mq[last].buttons == d->buttons) {
            d->mq[last].dx += dx;
            d->mq[last].dy += dy;
            return;
        }
    }
    if (d->mq_count == MOUSE_QUEUE)
        return;
    unsigned i = (d->mq_head + d->mq_count++) % MOUSE_QUEUE;
    d->mq[i].dx = dx;
    d->mq[i].dy = dy;
    d->mq[i].buttons = d->buttons;
}

/* May the next event go, the last one having gone at (insns, ns)? */
static bool may_feed(const display *d, bool idle, uint64_t insns, uint64_t ns, uint64_t now)
{
    if (idle)
        return true;
    const cpu_state *cpu = &d->m->cpu;
    if (cpu->stats.instructions - insns < FEED_INSNS)
        return false;
    if ((cpu->eflags & FL_IF) && !cpu->intr)
        return now - ns >= FEED_QUIET_NS;
    return now - ns >= FEED_POLL_NS;
}

/* Hand the guest the next key event and mouse packet when it has taken
 * the last ones (see FEED_INSNS). */
static void feed_input(display *d, bool guest_idle, uint64_t now)
{
    uint64_t insns = d->m->cpu.stats.instructions;
    if (d->kq_count) {
        d->key_idle |= guest_idle;
        if (may_feed(d, d->key_idle, d->key_insns, d->key_ns, now)) {
            i8042_key_event(d->kbd, d->kq[d->kq_head], d->kq_len[d->kq_head]);
            d->kq_head = (d->kq_head + 1) % KEY_QUEUE;
            d->kq_count--;
            d->key_idle = false;
            d->key_insns = insns;
            d->key_ns = now;
        }
    }
    if (d->mq_count) {
        d->mouse_idle |= guest_idle;
        if (may_feed(d, d->mouse_idle, d->mouse_insns, d->mouse_ns, now)) {
            /* PS/2 deltas are 9-bit: big moves go in steps. */
            int *dx = &d->mq[d->mq_head].dx, *dy = &d->mq[d->mq_head].dy;
            int sx = *dx > 255 ? 255 : *dx < -255 ? -255 : *dx;
            int sy = *dy > 255 ? 255 : *dy < -255 ? -255 : *dy;
            i8042_mouse_event(d->kbd, sx, sy, d->mq[d->mq_head].buttons);
            *dx -= sx;
            *dy -= sy;
            if (!*dx && !*dy) {
                d->mq_head = (d->mq_head + 1) % MOUSE_QUEUE;
                d->mq_count--;
            }
            d->mouse_idle = false;
            d->mouse_insns = insns;
            d->mouse_ns = now;
        }
    }
}

static unsigned ps2_button(uint8_t sdl_button)
{
    switch (sdl_button) {
    case SDL_BUTTON_LEFT: return I8042_BTN_LEFT;
    case SDL_BUTTON_RIGHT: return I8042_BTN_RIGHT;
    case SDL_BUTTON_MIDDLE: return I8042_BTN_MIDDLE;
    default: return 0;
    }
}

enum display_hot_key display_hot_key_of(int scancode, unsigned mod)
{
    if (!(mod & KMOD_CTRL) || !(mod & KMOD_ALT))
        return DISPLAY_HOT_NONE;
    switch (scancode) {
    case SDL_SCANCODE_G: return DISPLAY_HOT_GRAB;
    case SDL_SCANCODE_S: return DISPLAY_HOT_OVERLAY;
    default: return DISPLAY_HOT_NONE;
    }
}

/*
 * Returns true for a hot key (handled here, not the guest's).  The
 * modifiers are the ones the event carries: SDL_GetModState() is the
 * state after every event pumped so far, and when Ctrl and Alt were
 * released before this key's event was handled (a loaded host, typed
 * input) it said "none", so Ctrl-Alt-S reached the guest — where the
 * console took Ctrl-S as XOFF and stopped all output (the display test's
 * "typed keys never show", one run in five to ten).
 */
static bool hot_key(display *d, const SDL_KeyboardEvent *k)
{
    switch (display_hot_key_of(k->keysym.scancode, k->keysym.mod)) {
    case DISPLAY_HOT_GRAB:
        if (d->grabbed)
            set_grab(d, false);
        return true;
    case DISPLAY_HOT_OVERLAY:
        d->overlay_on = !d->overlay_on;
        d->next_overlay = 0;
        if (d->overlay_on)
            machine_get_stats(d->m, &d->ov_prev);
        d->need_present = true;
        return true;
    default:
        return false;
    }
}

static bool handle_events(display *d)
{
    SDL_Event ev;
    bool quit = false;
    while (SDL_PollEvent(&ev)) {
        switch (ev.type) {
        case SDL_QUIT:
            quit = true;
            break;
        case SDL_WINDOWEVENT:
            if (ev.window.event == SDL_WINDOWEVENT_FOCUS_LOST)
                release_all_keys(d);
            d->need_present = true;
            break;
        case SDL_KEYDOWN:
        case SDL_KEYUP: {
            SDL_Scancode sc = ev.key.keysym.scancode;
            if (ev.type == SDL_KEYDOWN && hot_key(d, &ev.key)) {
                d->swallow[sc] = true;
                break;
            }
            if (ev.type == SDL_KEYUP && d->swallow[sc]) {
                d->swallow[sc] = false;
                break;
            }
            /* Host auto-repeat arrives as repeated downs: the typematic
             * repeat of a PS/2 keyboard is exactly that. */
            send_key(d, sc, ev.type == SDL_KEYDOWN);
            break;
        }
        case SDL_MOUSEBUTTONDOWN:
        case SDL_MOUSEBUTTONUP:
            if (!d->grabbed) {
                if (ev.type == SDL_MOUSEBUTTONDOWN && ev.button.button == SDL_BUTTON_LEFT)
                    set_grab(d, true);
                break;
            }
            if (ev.type == SDL_MOUSEBUTTONDOWN)
                d->buttons |= ps2_button(ev.button.button);
            else
                d->buttons &= ~ps2_button(ev.button.button);
            mouse_motion(d, 0, 0); /* a packet with the new buttons */
            break;
        case SDL_MOUSEMOTION:
            if (d->grabbed && (ev.motion.xrel || ev.motion.yrel))
                mouse_motion(d, ev.motion.xrel, -ev.motion.yrel); /* PS/2: up is positive */
            break;
        default:
            break;
        }
    }
    return quit;
}

/* A new guest resolution: a texture of that size, and the window sized
 * to show it 1:1 (twice for the small modes such as 320x200). */
static int resize(display *d, int w, int h)
{
    if (d->tex)
        SDL_DestroyTexture(d->tex);
    d->tex = SDL_CreateTexture(d->ren, SDL_PIXELFORMAT_ARGB8888, SDL_TEXTUREACCESS_STREAMING, w, h);
    if (!d->tex)
        return -1;
    d->tex_w = w;
    d->tex_h = h;
    SDL_RenderSetLogicalSize(d->ren, w, h);
    int scale = w < 640 ? 2 : 1;
    SDL_SetWindowSize(d->win, w * scale, h * scale);
    return 0;
}

static void draw_overlay(display *d, uint64_t now)
{
    if (now < d->next_overlay && d->ov_tex)
        return;
    d->next_overlay = now + OVERLAY_NS;
    machine_stats cur;
    machine_get_stats(d->m, &cur);
    overlay_text t;
    overlay_format(&d->ov_prev, &cur, &t);
    d->ov_prev = cur;
    int w, h;
    overlay_size(&t, &w, &h);
    if (!d->ov_tex || w != d->ov_w || h != d->ov_h) {
        if (d->ov_tex)
            SDL_DestroyTexture(d->ov_tex);
        d->ov_tex = SDL_CreateTexture(d->ren, SDL_PIXELFORMAT_ARGB8888,
                                      SDL_TEXTUREACCESS_STREAMING, w, h);
        if (!d->ov_tex)
            return;
        SDL_SetTextureBlendMode(d->ov_tex, SDL_BLENDMODE_BLEND);
        d->ov_w = w;
        d->ov_h = h;
    }
    void *pixels;
    int pitch;
    if (SDL_LockTexture(d->ov_tex, NULL, &pixels, &pitch) == 0) {
        overlay_draw(&t, pixels, pitch / 4);
        SDL_UnlockTexture(d->ov_tex);
    }
    d->need_present = true;
}

static void refresh(display *d, uint64_t now)
{
    int y0, y1;
    if (vga_render(d->vga, &d->frame, now, false, &y0, &y1) < 0)
        return;
    if (d->frame.width != d->tex_w || d->frame.height != d->tex_h) {
        if (resize(d, d->frame.width, d->frame.height) < 0)
            return;
        y0 = 0;
        y1 = d->frame.height;
    }
    if (y1 > y0) {
        SDL_Rect r = { 0, y0, d->frame.width, y1 - y0 };
        SDL_UpdateTexture(d->tex, &r, d->frame.pixels + (size_t)y0 * d->frame.width,
                          d->frame.width * 4);
        d->need_present = true;
    }
    if (d->overlay_on)
        draw_overlay(d, now);
    if (!d->need_present)
        return;
    d->need_present = false;
    SDL_SetRenderDrawColor(d->ren, 0, 0, 0, 255);
    SDL_RenderClear(d->ren);
    SDL_RenderCopy(d->ren, d->tex, NULL, NULL);
    if (d->overlay_on && d->ov_tex) {
        /* Top left, shrunk to fit the small modes. */
        double k = 1.0;
        if (d->ov_w + 8 > d->tex_w)
            k = (double)(d->tex_w - 8) / d->ov_w;
        if (d->ov_h * k + 8 > d->tex_h)
            k = (double)(d->tex_h - 8) / d->ov_h;
        SDL_Rect dst = { 4, 4, (int)(d->ov_w * k), (int)(d->ov_h * k) };
        SDL_RenderCopy(d->ren, d->ov_tex, NULL, &dst);
    }
    SDL_RenderPresent(d->ren);
}

bool display_poll(display *d, bool guest_idle)
{
    uint64_t now = mono_ns();
    feed_input(d, guest_idle, now);
    bool quit = false;
    if (now >= d->next_events) {
        d->next_events = now + EVENT_POLL_NS;
        quit = handle_events(d);
    }
    if (now >= d->next_refresh) {
        /* Keep the cadence, but never try to catch up missed frames. */
        d->next_refresh += d->refresh_ns;
        if (d->next_refresh <= now)
            d->next_refresh = now + d->refresh_ns;
        refresh(d, now);
    }
    return quit;
}

display *display_sdl_create(machine *m, char *err, size_t errlen)
{
    vga_state *vga = board_find_device(&m->board, "vga");
    i8042_state *kbd = board_find_device(&m->board, "i8042");
    if (!vga || !kbd) {
        snprintf(err, errlen, "-display sdl needs the board's vga and i8042");
        return NULL;
    }
    /* Without a display server SDL would try other back ends (and
     * libwayland prints its own complaints): say it in one line. */
    const char *x = getenv("DISPLAY"), *wl = getenv("WAYLAND_DISPLAY");
    if ((!x || !*x) && (!wl || !*wl) && !getenv("SDL_VIDEODRIVER")) {
        snprintf(err, errlen, "-display sdl: no display to open a window on (DISPLAY is not set)");
        return NULL;
    }
    if ((!wl || !*wl) && !getenv("SDL_VIDEODRIVER"))
        SDL_SetHint(SDL_HINT_VIDEODRIVER, "x11");
    /* The main loop handles SIGINT/SIGTERM itself. */
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
    SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "nearest");
    if (SDL_Init(SDL_INIT_VIDEO) < 0) {
        snprintf(err, errlen, "-display sdl: cannot open a window: %s", SDL_GetError());
        return NULL;
    }
    display *d = calloc(1, sizeof(*d));
    if (!d) {
        SDL_Quit();
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->m = m;
    d->vga = vga;
    d->kbd = kbd;
    vga_frame_init(&d->frame);
    d->win = SDL_CreateWindow("btvm", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED, 720, 400,
                              SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI);
    if (d->win)
        d->ren = SDL_CreateRenderer(d->win, -1, 0);
    if (!d->win || !d->ren) {
        snprintf(err, errlen, "-display sdl: cannot open a window: %s", SDL_GetError());
        display_destroy(d);
        return NULL;
    }
    SDL_DisplayMode dm;
    int hz = SDL_GetCurrentDisplayMode(SDL_GetWindowDisplayIndex(d->win), &dm) == 0 &&
                     dm.refresh_rate > 0 ? dm.refresh_rate : 60;
    d->refresh_ns = 1000000000ull / (uint64_t)hz;
    set_title(d);
    return d;
}

void display_destroy(display *d)
{
    if (!d)
        return;
    if (d->kbd)
        release_all_keys(d);
    if (d->ov_tex)
        SDL_DestroyTexture(d->ov_tex);
    if (d->tex)
        SDL_DestroyTexture(d->tex);
    if (d->ren)
        SDL_DestroyRenderer(d->ren);
    if (d->win)
        SDL_DestroyWindow(d->win);
    vga_frame_free(&d->frame);
    free(d);
    SDL_Quit();
}
