/*
 * x87, MMX, SSE and SSE2: internal interface of the fpu*.c files.
 *
 * The guest's x87/MMX/SSE state lives in cpu_state.fxsave, a 512-byte
 * FXSAVE image in the 32-bit ("non-64-bit mode") layout of SDM Vol. 1
 * §10.5.1, Table 10-2.  fpu.c checks and runs instructions natively
 * (fpu_thunk.c builds the host code); fpu_ctl.c emulates in C the
 * control instructions whose in-memory formats depend on the guest's
 * mode (FSTENV/FSAVE: SDM Vol. 1 §8.1.10) or whose effect must be
 * checked before it reaches the host (FXRSTOR, LDMXCSR, FLDCW).
 */
#ifndef BTVM_CPU_FPU_H
#define BTVM_CPU_FPU_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/decode.h"

/* Byte offsets in the FXSAVE image (SDM Vol. 1 Table 10-2, 32-bit format). */
enum {
    FX_FCW = 0,         /* 16 */
    FX_FSW = 2,         /* 16 */
    FX_FTW = 4,         /* 8: abridged tag, bit i = physical register i is not empty */
    FX_FOP = 6,         /* 11 bits */
    FX_FIP = 8,         /* 32 */
    FX_FCS = 12,        /* 16, then 2 reserved */
    FX_FDP = 16,        /* 32 */
    FX_FDS = 20,        /* 16, then 2 reserved */
    FX_MXCSR = 24,
    FX_MXCSR_MASK = 28,
    FX_ST = 32,         /* ST(i) at 32 + 16 * i, stack order, 10 bytes each */
    FX_XMM = 160,       /* XMMi at 160 + 16 * i */
    FX_SAVED = 288,     /* bytes 288..463 reserved (XMM8-15 in 64-bit mode),
                           464..511 available to software: not ours */
};

/* x87 status word (SDM Vol. 1 §8.1.3) */
#define FSW_IE 0x0001u
#define FSW_PE 0x0020u
#define FSW_EXC 0x003fu  /* IE DE ZE OE UE PE: the maskable flags */
#define FSW_SF 0x0040u
#define FSW_ES 0x0080u
#define FSW_TOP_SHIFT 11
#define FSW_B 0x8000u
/* x87 control word (§8.1.5): bits 0-5 masks, 8-9 PC, 10-11 RC, 12 X */
#define FCW_MASKS 0x003fu
#define FCW_INIT 0x037fu
/* MXCSR (§10.2.3): flags 0-5, DAZ 6, masks 7-12, RC 13-14, FZ 15 */
#define MXCSR_FLAGS 0x003fu
#define MXCSR_MASKS 0x1f80u

static inline uint16_t fx_get16(const uint8_t *fx, unsigned off)
{
    uint16_t v;
    memcpy(&v, fx + off, 2);
    return v;
}

static inline uint32_t fx_get32(const uint8_t *fx, unsigned off)
{
    uint32_t v;
    memcpy(&v, fx + off, 4);
    return v;
}

static inline void fx_put16(uint8_t *fx, unsigned off, uint16_t v) { memcpy(fx + off, &v, 2); }
static inline void fx_put32(uint8_t *fx, unsigned off, uint32_t v) { memcpy(fx + off, &v, 4); }

/* Unmasked x87 exception flags: what makes the next waiting instruction
 * raise #MF (§8.7).  ES and B are kept equal to "this is non-zero". */
static inline unsigned fpu_x87_pending(const uint8_t *fx)
{
    return fx_get16(fx, FX_FSW) & ~fx_get16(fx, FX_FCW) & FSW_EXC;
}

static inline void fpu_sync_es(uint8_t *fx)
{
    uint16_t fsw = fx_get16(fx, FX_FSW) & ~(FSW_ES | FSW_B);
    if (fpu_x87_pending(fx))
        fsw |= FSW_ES | FSW_B;
    fx_put16(fx, FX_FSW, fsw);
}

/* MXCSR bits the guest may set: the guest image's MXCSR_MASK, limited to
 * what the host's FXRSTOR accepts. */
uint32_t fpu_mxcsr_mask(const cpu_state *cpu);

/*
 * The device-not-available and pending-exception checks every
 * instruction of the family makes first, by class (SDM Vol. 3A §2.5
 * Table 2-2 for EM/MP/TS, §13.1 for CR4.OSFXSR; Vol. 1 §8.7 for the
 * pending x87 exception, which MMX instructions take too but SSE
 * instructions on XMM registers do not, §9.5 and §11.6.7).
 */
enum fpu_class {
    FPU_X87,        /* x87 waiting instruction: #NM on EM or TS, then #MF */
    FPU_X87_NOWAIT, /* FNINIT, FNCLEX, FNSTSW, FNSTCW, FNSTENV, FNSAVE: no #MF */
    FPU_FXSR,       /* FXSAVE/FXRSTOR: #NM on EM or TS */
    FPU_MMX,        /* MMX register operands: #UD on EM, #NM on TS, then #MF */
    FPU_SSE,        /* XMM or MXCSR: #UD on EM or !OSFXSR, #NM on TS */
    FPU_SSE_MMX,    /* both (CVTPI2PS xmm, mm ...): SSE checks, then #MF */
    FPU_NONE,       /* fences, prefetches, CLFLUSH, MOVNTI: no FPU checks */
};
void fpu_check(cpu_state *cpu, enum fpu_class cls);

/* --- fpu_thunk.c: host code for one re-encoded guest instruction --- */

#define FPU_CODE_MAX 15

typedef struct fpu_native {
    uint8_t code[FPU_CODE_MAX]; /* the instruction for 64-bit mode: memory at [rdi], GPR = eax */
    uint8_t len;
    bool flags_in;   /* load the guest's arithmetic flags first (FCMOVcc) */
    bool flags_out;  /* capture the host's arithmetic flags after (FCOMI, COMISS) */
    bool gpr_in;     /* load EAX from io->gpr first */
    bool gpr_out;    /* store EAX to io->gpr after */
} fpu_native;

typedef struct fpu_io {
    uint32_t eflags;
    uint32_t gpr;
} fpu_io;

/*
 * FXRSTOR fx, run n with its memory operand at mem (16-byte aligned) and
 * FXSAVE into fx again; the host's own FPU state is saved and restored
 * around it.  Returns false if no executable memory can be had.
 */
bool fpu_thunk_run(const fpu_native *n, void *mem, void *fx, fpu_io *io);

/* The host's MXCSR_MASK (SDM Vol. 1 §11.6.6). */
uint32_t fpu_host_mxcsr_mask(void);

/* --- fpu_ctl.c: control instructions emulated in C --- */
void fpu_fwait(cpu_state *cpu, cpu_insn *in);
void fpu_fninit(cpu_state *cpu, cpu_insn *in);
void fpu_fnclex(cpu_state *cpu, cpu_insn *in);
void fpu_fldcw(cpu_state *cpu, cpu_insn *in);
void fpu_fnstcw(cpu_state *cpu, cpu_insn *in);
void fpu_fnstsw(cpu_state *cpu, cpu_insn *in);
void fpu_fldenv(cpu_state *cpu, cpu_insn *in);
void fpu_fnstenv(cpu_state *cpu, cpu_insn *in);
void fpu_frstor(cpu_state *cpu, cpu_insn *in);
void fpu_fnsave(cpu_state *cpu, cpu_insn *in);
void fpu_fxsave(cpu_state *cpu, cpu_insn *in);
void fpu_fxrstor(cpu_state *cpu, cpu_insn *in);
void fpu_ldmxcsr(cpu_state *cpu, cpu_insn *in);
void fpu_stmxcsr(cpu_state *cpu, cpu_insn *in);
void fpu_fence(cpu_state *cpu, cpu_insn *in);
void fpu_prefetch(cpu_state *cpu, cpu_insn *in);
void fpu_clflush(cpu_state *cpu, cpu_insn *in);
void fpu_movnti(cpu_state *cpu, cpu_insn *in);

#endif
