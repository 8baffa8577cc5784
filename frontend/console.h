/*
 * The serial console: COM1 on the host terminal.
 *
 * On a terminal, stdin goes raw and Ctrl-A is the escape key, as in
 * QEMU's -nographic: Ctrl-A X quits, Ctrl-A C switches between the guest
 * and the monitor (monitor.h), Ctrl-A Ctrl-A sends a Ctrl-A.  Without a terminal, stdin and
 * stdout are plain byte streams.
 */
#ifndef BTVM_FRONTEND_CONSOLE_H
#define BTVM_FRONTEND_CONSOLE_H

#include <stdbool.h>
#include <termios.h>

#include "devices/chardev.h"

typedef struct console {
    chardev cd;
    bool is_tty;
    bool raw;
    struct termios saved;
    bool escape;       /* Ctrl-A seen */
    bool quit;         /* Ctrl-A X */
    bool in_monitor;   /* Ctrl-A C: typed bytes go to the monitor */
    void (*monitor_enter)(void *opaque);
    void (*monitor_input)(void *opaque, unsigned char ch);
    void *monitor_opaque;
    bool stdin_eof;
    unsigned char pending[256];
    int npending, pending_pos;
    unsigned char out[4096];   /* guest output not yet written */
    size_t nout;
} console;

void console_open(console *c);
void console_close(console *c);
/* Write the guest's buffered output; read what stdin has without
 * blocking, and feed the guest what it can take.  Called once per run
 * slice (a millisecond at most). */
void console_poll(console *c);
/* Write the guest's buffered output now. */
void console_flush(console *c);
/* File descriptor to wait on for input, or -1 after EOF. */
int console_fd(const console *c);

#endif
