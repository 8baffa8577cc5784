/*
 * A bare CPU for unit tests: RAM, an I/O space, a CPU in real mode or flat
 * 32-bit protected mode, and guest code assembled from nasm source at
 * test time.  No devices: tests that need them register their own ports.
 */
#ifndef BTVM_TESTS_HARNESS_H
#define BTVM_TESTS_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "cpu/cpu.h"
#include "mmu/ioport.h"
#include "mmu/phys.h"

enum harness_mode { HARNESS_REAL16, HARNESS_FLAT32 };

#define HARNESS_RAM (16u << 20)
#define HARNESS_CODE 0x10000u   /* where harness_asm puts code */
#define HARNESS_STACK 0x80000u  /* initial ESP */

typedef struct harness {
    phys_mem mem;
    io_space io;
    cpu_state cpu;
    enum harness_mode mode;
} harness;

/* Flat mode: CS=0x08 (32-bit code, base 0, 4 GiB), DS/ES/SS/FS/GS=0x10, CPL 0,
 * a GDT at 0x1000 with those descriptors, IDT empty (limit 0). */
harness *harness_new(enum harness_mode mode);
void harness_free(harness *h);

/* Assemble nasm source ("bits 32" or "bits 16" is prepended) at
 * HARNESS_CODE and point EIP at it.  Fails the test on an assembly error. */
void harness_asm(harness *h, const char *source);

/* Copy raw bytes into guest RAM. */
void harness_poke(harness *h, uint32_t paddr, const void *bytes, size_t len);
uint32_t harness_peek32(harness *h, uint32_t paddr);

/* Run until the guest executes HLT (or budget instructions); returns the exit. */
enum cpu_exit harness_run(harness *h, uint64_t budget);

#endif
