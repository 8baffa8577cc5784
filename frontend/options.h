/* The command line: QEMU's option names where the meaning is the same. */
#ifndef BTVM_FRONTEND_OPTIONS_H
#define BTVM_FRONTEND_OPTIONS_H

#include <stdio.h>

#include "frontend/machine.h"

enum options_result { OPTIONS_RUN, OPTIONS_EXIT_OK, OPTIONS_ERROR };

/* Parse argv into cfg.  On error writes a one-line reason to err. */
enum options_result options_parse(int argc, char **argv, machine_config *cfg, char *err,
                                  size_t errlen);
void options_usage(FILE *out);

#endif
