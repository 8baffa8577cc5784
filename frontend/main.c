/* btvm: a binary-translation x86 virtualizer.  Entry point. */
#include <stdio.h>

#include "frontend/machine.h"
#include "frontend/options.h"

int main(int argc, char **argv)
{
    machine_config cfg;
    char err[256];
    switch (options_parse(argc, argv, &cfg, err, sizeof(err))) {
    case OPTIONS_EXIT_OK:
        return 0;
    case OPTIONS_ERROR:
        fprintf(stderr, "btvm: %s\n", err);
        return 1;
    case OPTIONS_RUN:
        break;
    }
    static machine m; /* large (FXSAVE image, TLB): keep it off the stack */
    if (machine_create(&m, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "btvm: %s\n", err);
        return 1;
    }
    int status = machine_run(&m);
    if (cfg.screendump && machine_screendump(&m, cfg.screendump, err, sizeof(err)) < 0) {
        fprintf(stderr, "btvm: %s\n", err);
        if (status == 0)
            status = 1;
    }
    if (cfg.stats)
        machine_print_stats(&m, stderr);
    machine_destroy(&m);
    return status;
}
