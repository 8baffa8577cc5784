/*
 * The guest's x87 registers live in the host FPU while translated code
 * runs x87 instructions (translator-internal).
 *
 * The interpreter runs each x87 instruction in a thunk that loads the
 * guest's FXSAVE image, runs it and saves the image again, around a save
 * and restore of the host's own state (cpu/fpu_thunk.c): ~160 ns an
 * instruction before decoding and dispatch.  Translated code instead
 * loads the image once (FXRSTOR), on the first x87 instruction it meets,
 * and leaves it loaded — "live" — across instructions and chained blocks
 * until control goes back to C: the exit trampoline saves it (FXSAVE,
 * then FNINIT and the host's MXCSR, so C code gets the empty x87 stack
 * the ABI wants), and a signal that leaves translated code takes it from
 * the signal frame, where the kernel saved the interrupted state.
 *
 * What the host's FXSAVE gets wrong for the guest is kept apart: the
 * last-instruction pointers (FOP, FIP, FCS, FDP, FDS; SDM Vol. 1
 * §8.1.8-8.1.9) would be host addresses, so each translated x87
 * instruction stores the guest's into cpu.tr_fpu.ptrs, and MXCSR_MASK is
 * the guest's, not the host's.  Exceptions stay the hardware's: an
 * unmasked x87 exception raised in translated code is a host #MF
 * (SIGFPE) at the next waiting x87 instruction, exactly where the guest
 * takes it; the handler leaves translated code and the interpreter runs
 * that instruction, raising the guest's #MF from the saved image.
 */
#ifndef BTVM_TRANSLATOR_FPU_LIVE_H
#define BTVM_TRANSLATOR_FPU_LIVE_H

#include <stdint.h>
#include <ucontext.h>

#include "cpu/cpu.h"
#include "translator/emit.h"

/* The shared load routine, called from translated code: FXRSTOR the
 * image, note its pointers, mark it live.  Touches only r8. */
void fpu_live_emit_load_stub(tr_emit *e);
/* Before a translated x87 instruction: call the load routine unless the
 * state is live already (flag-free: the flags are the guest's; guest
 * ECX waits in r9). */
void fpu_live_emit_ensure(tr_emit *e, uintptr_t load_stub_rx);
/* After one that updates the pointers: its FOP and FIP, and when it has a
 * memory operand, its offset (in the 32-bit register off) and segment. */
void fpu_live_emit_pointers(tr_emit *e, uint16_t fop, uint32_t fip, ZydisRegister off, int sreg);
/* In the exit trampoline, after the guest's flags are stored: FXSAVE,
 * FNINIT and the host's MXCSR if live (cpu.tr_fpu.live stays set for
 * fpu_live_commit). */
void fpu_live_emit_save(tr_emit *e);

/* After translated code returned with the state saved: the image's
 * pointers and MXCSR_MASK made the guest's, live cleared. */
void fpu_live_commit(cpu_state *cpu);
/* From a signal handler leaving translated code while live: the image
 * from the interrupted state in the signal frame, then committed. */
void fpu_live_from_frame(cpu_state *cpu, const ucontext_t *uc);

#endif
