/*
 * The interpreter's decoded-instruction cache.
 *
 * Decoding with Zydis costs more than executing most instructions, so
 * decoded instructions are kept, keyed by the physical address of their
 * first byte and the decoder mode.  An entry stays valid while its
 * page's write generation (mmu/phys.h) is unchanged: a write to a code
 * page — self-modifying code, a loader, a DMA — invalidates it.
 * Instructions that may cross a page, or that sit in MMIO, are decoded
 * every time.
 */
#ifndef BTVM_CPU_ICACHE_H
#define BTVM_CPU_ICACHE_H

#include "cpu/cpu.h"
#include "cpu/decode.h"

typedef struct cpu_icache cpu_icache;

cpu_icache *cpu_icache_new(void);
void cpu_icache_free(cpu_icache *c);
void cpu_icache_clear(cpu_icache *c);

/* The decoded instruction at CS:EIP: cached, or decoded into the cache
 * (or into scratch when it cannot be cached).  Raises fetch faults. */
cpu_insn *cpu_icache_fetch(cpu_state *cpu, cpu_icache *c, const cpu_decoders *d,
                           cpu_insn *scratch);

#endif
