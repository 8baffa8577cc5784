/* The serial console: see console.h. */
#include "frontend/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * Guest output is buffered and written at most once per run slice
 * (console_poll) or when the buffer fills: a write(2) per byte the guest
 * sends cost some microseconds each — most of a boot's system calls.
 * A terminal that will not take more (EAGAIN: stdin's O_NONBLOCK is
 * shared with stdout on a tty) makes the writer wait; nothing is dropped
 * unless stdout is gone.
 */
void console_flush(console *c)
{
    size_t done = 0;
    while (done < c->nout) {
        ssize_t n = write(STDOUT_FILENO, c->out + done, c->nout - done);
        if (n >= 0) {
            done += (size_t)n;
        } else if (errno == EAGAIN) {
            struct pollfd pfd = { .fd = STDOUT_FILENO, .events = POLLOUT };
            poll(&pfd, 1, 100);
        } else if (errno != EINTR) {
            break; /* stdout gone: the guest's output is dropped, as on a disconnected line */
        }
    }
    c->nout = 0;
}

static void console_write(chardev *cd, const uint8_t *buf, size_t len)
{
    console *c = cd->host;
    while (len > 0) {
        if (c->nout == sizeof(c->out))
            console_flush(c);
        size_t n = sizeof(c->out) - c->nout < len ? sizeof(c->out) - c->nout : len;
        memcpy(c->out + c->nout, buf, n);
        c->nout += n;
        buf += n;
        len -= n;
    }
}

void console_open(console *c)
{
    memset(c, 0, sizeof(*c));
    c->cd.write = console_write;
    c->cd.host = c;
    c->is_tty = isatty(STDIN_FILENO);
    if (c->is_tty && tcgetattr(STDIN_FILENO, &c->saved) == 0) {
        struct termios raw = c->saved;
        cfmakeraw(&raw);
        raw.c_oflag |= OPOST; /* keep \n -> \r\n on output */
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
            c->raw = true;
    }
    int fl = fcntl(STDIN_FILENO, F_GETFL);
    if (fl >= 0)
        fcntl(STDIN_FILENO, F_SETFL, fl | O_NONBLOCK);
}

void console_close(console *c)
{
    console_flush(c);
    if (c->raw)
        tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
    c->raw = false;
    int fl = fcntl(STDIN_FILENO, F_GETFL);
    if (fl >= 0)
        fcntl(STDIN_FILENO, F_SETFL, fl & ~O_NONBLOCK);
}

int console_fd(const console *c)
{
    return c->stdin_eof ? -1 : STDIN_FILENO;
}

/* Ctrl-A escapes on a terminal (QEMU's -nographic keys). */
static bool filter_escape(console *c, unsigned char ch, unsigned char *out)
{
    if (!c->is_tty)
        return *out = ch, true;
    if (c->escape) {
        c->escape = false;
        switch (ch) {
        case 'x': case 'X': c->quit = true; return false;
        case 'c': case 'C':
            if (c->monitor_input) {
                c->in_monitor = !c->in_monitor;
                if (c->in_monitor && c->monitor_enter)
                    c->monitor_enter(c->monitor_opaque);
            }
            return false;
        case 0x01: *out = 0x01; return true;
        default: return false;
        }
    }
    if (ch == 0x01) {
        c->escape = true;
        return false;
    }
    *out = ch;
    return true;
}

void console_poll(console *c)
{
    console_flush(c);
    if (c->pending_pos >= c->npending && !c->stdin_eof) {
        c->npending = c->pending_pos = 0;
        ssize_t n = read(STDIN_FILENO, c->pending, sizeof(c->pending));
        if (n > 0)
            c->npending = (int)n;
        else if (n == 0 || (errno != EAGAIN && errno != EINTR))
            c->stdin_eof = true;
    }
    while (c->pending_pos < c->npending) {
        if (!c->in_monitor && c->cd.can_receive && !c->cd.can_receive(c->cd.dev))
            return;
        unsigned char ch;
        if (!filter_escape(c, c->pending[c->pending_pos++], &ch))
            continue;
        if (c->in_monitor)
            c->monitor_input(c->monitor_opaque, ch);
        else if (c->cd.receive)
            c->cd.receive(c->cd.dev, ch);
    }
}
