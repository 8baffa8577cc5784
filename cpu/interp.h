/*
 * The reference interpreter: runs guest instructions one at a time.
 *
 * Each step: deliver a pending interrupt if one is allowed, fetch and
 * decode at CS:EIP, dispatch on the mnemonic through the instruction
 * table (ops.h).  Faults unwind to cpu_exec(), which rolls the
 * instruction back and delivers the exception (exception.h).
 */
#ifndef BTVM_CPU_INTERP_H
#define BTVM_CPU_INTERP_H

#include <stdint.h>

#include "cpu/cpu.h"

/* Run at most budget instructions; returns why it stopped. */
enum cpu_exit cpu_exec(cpu_state *cpu, uint64_t budget);

#endif
