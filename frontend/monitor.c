/* The monitor: see monitor.h. */
#include "frontend/monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/machine.h"

/* The terminal is raw: lines end in \r\n, and output goes out at once. */
static void say(const char *s)
{
    for (; *s; s++) {
        if (*s == '\n')
            fputc('\r', stdout);
        fputc(*s, stdout);
    }
    fflush(stdout);
}

static void prompt(void)
{
    say("(btvm) ");
}

void monitor_init(monitor *mon, struct machine *m)
{
    memset(mon, 0, sizeof(*mon));
    mon->m = m;
}

void monitor_enter(monitor *mon)
{
    mon->len = 0;
    say("\nbtvm monitor: help for the commands, Ctrl-A C back to the guest\n");
    prompt();
}

static void run(monitor *mon, char *line)
{
    char *cmd = strtok(line, " \t");
    char *arg = strtok(NULL, " \t");
    if (!cmd) {
        /* an empty line: just the prompt again */
    } else if (strcmp(cmd, "help") == 0) {
        say("help               this list\n"
            "screendump FILE    write the screen (the VGA) as a PNG\n"
            "info stats         what the engines did so far\n"
            "quit               end btvm\n"
            "Ctrl-A C           back to the guest\n");
    } else if (strcmp(cmd, "screendump") == 0) {
        char err[256];
        if (!arg)
            say("screendump: which file?\n");
        else if (machine_screendump(mon->m, arg, err, sizeof(err)) < 0)
            say(err), say("\n");
        else
            say("screen written to "), say(arg), say("\n");
    } else if (strcmp(cmd, "info") == 0 && arg && strcmp(arg, "stats") == 0) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (f) {
            machine_print_stats(mon->m, f);
            fclose(f);
            say(text);
            free(text);
        }
    } else if (strcmp(cmd, "quit") == 0 || strcmp(cmd, "q") == 0) {
        mon->quit = true;
        return;
    } else {
        say("unknown command: "), say(cmd), say(" (help lists them)\n");
    }
    prompt();
}

void monitor_input(monitor *mon, unsigned char ch)
{
    if (ch == '\r' || ch == '\n') {
        say("\n");
        mon->line[mon->len] = '\0';
        mon->len = 0;
        run(mon, mon->line);
    } else if (ch == 0x7f || ch == 0x08) {
        if (mon->len > 0) {
            mon->len--;
            say("\b \b");
        }
    } else if (ch >= 0x20 && ch < 0x7f && mon->len < (int)sizeof(mon->line) - 1) {
        mon->line[mon->len++] = (char)ch;
        char echo[2] = { (char)ch, 0 };
        say(echo);
    }
}
