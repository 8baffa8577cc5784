/*
 * Fetch and decode of one guest instruction with Zydis.
 *
 * The decoder mode follows the CPU: real mode (and v86) decode as 16-bit
 * real, protected mode by CS.D.  Bytes are fetched through CS with the
 * limit check and paging (a fetch fault is raised only for bytes the
 * instruction really has, as on hardware).
 */
#ifndef BTVM_CPU_DECODE_H
#define BTVM_CPU_DECODE_H

#include <Zydis/Zydis.h>
#include <stdint.h>

#include "cpu/cpu.h"

typedef struct cpu_insn {
    ZydisDecodedInstruction z;
    ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
    uint8_t bytes[16];
    uint32_t eip;       /* offset in CS of the first byte */
    uint32_t next_eip;  /* offset of the next instruction (wrapped to 16 bits in 16-bit code) */
    uint8_t opsize;     /* effective operand size in bytes: 2 or 4 */
    uint8_t addrsize;   /* effective address size in bytes: 2 or 4 */
    uint8_t rep;        /* 0, or 0xf3 (REP/REPE) or 0xf2 (REPNE) */
    uint8_t lock;
    const struct cpu_op_row *row; /* dispatch entry, resolved once per decode (ops.h) */
} cpu_insn;

typedef struct cpu_decoders {
    ZydisDecoder real16, prot16, prot32;
} cpu_decoders;

void cpu_decoders_init(cpu_decoders *d);

/*
 * Fetch and decode at CS:EIP.  Raises #GP/#PF for fetch faults and #UD
 * for undefined encodings (including LOCK where it is not allowed and
 * instructions longer than 15 bytes: #GP per SDM Vol. 2 §2.3.11).
 */
void cpu_decode(cpu_state *cpu, const cpu_decoders *d, cpu_insn *in);

#endif
