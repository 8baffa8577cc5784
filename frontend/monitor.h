/*
 * The monitor: a command line for the user beside the guest's console.
 *
 * On a terminal, Ctrl-A C switches stdin between the guest's serial port
 * and the monitor (as QEMU's -nographic does); the prompt is "(btvm) ".
 * Commands: help, screendump FILE (the screen as PNG), info stats (what
 * the engines did so far, as -stats prints at exit), quit.
 */
#ifndef BTVM_FRONTEND_MONITOR_H
#define BTVM_FRONTEND_MONITOR_H

#include <stdbool.h>

struct machine;

typedef struct monitor {
    struct machine *m;
    char line[256];
    int len;
    bool quit;         /* the quit command */
} monitor;

void monitor_init(monitor *mon, struct machine *m);
/* The user switched to the monitor: print the banner and prompt. */
void monitor_enter(monitor *mon);
/* One byte typed while the monitor has the terminal. */
void monitor_input(monitor *mon, unsigned char ch);

#endif
