/*
 * Port I/O from the CPU: the protected-mode permission check and the
 * accesses to the guest's port space (SDM Vol. 1 §19.5, Vol. 3A §20.2.8).
 *
 * IN/OUT (system.c) and INS/OUTS (string.c) call cpu_io_check first,
 * then cpu_io_in / cpu_io_out.
 */
#ifndef BTVM_CPU_IO_H
#define BTVM_CPU_IO_H

#include <stdint.h>

#include "cpu/cpu.h"

/*
 * In protected mode with CPL > IOPL, and always in v86 mode, every port
 * of the access must be allowed by the TSS I/O permission bitmap; else
 * #GP(0).  size is 1, 2 or 4.
 */
void cpu_io_check(cpu_state *cpu, uint16_t port, unsigned size);

/* The access itself (no check): io_read/io_write on cpu->io. */
uint32_t cpu_io_in(cpu_state *cpu, uint16_t port, unsigned size);
void cpu_io_out(cpu_state *cpu, uint16_t port, uint32_t value, unsigned size);

#endif
