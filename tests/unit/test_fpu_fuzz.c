/*
 * A guest must never crash the host through the native FPU path
 * (cpu/fpu.c): random x87/MMX/SSE/SSE2 instructions, run one at a time
 * from random FPU states (unmasked x87 and SIMD exceptions, pending
 * exceptions, odd tags and control words), must neither raise SIGFPE,
 * SIGILL or SIGSEGV in the test process nor leave the host's own MXCSR
 * and x87 control word changed.  Exceptions the guest takes end in a
 * triple fault (the IDT is empty), which the test simply clears.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include <cmocka.h>

#include "cpu/fpu.h"
#include "cpu/interp.h"
#include "harness.h"

#define DATA 0x20000u

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static uint16_t host_fcw(void)
{
    uint16_t cw;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return cw;
}

/* One random instruction of the family at HARNESS_CODE; false if Zydis
 * says it is not x87/MMX/SSE/SSE2. */
static bool make_insn(const ZydisDecoder *dec, uint8_t *b, unsigned *len)
{
    unsigned n = 0;
    uint8_t modrm = (uint8_t)rnd();
    if (rnd() % 3 == 0) {
        b[n++] = (uint8_t)(0xd8 + rnd() % 8);
    } else {
        static const uint8_t pfx[] = { 0x66, 0xf2, 0xf3 };
        unsigned p = rnd() % 5;
        if (p < 3)
            b[n++] = pfx[p];
        b[n++] = 0x0f;
        b[n++] = (uint8_t)(0x10 + rnd() % 0xf0);
    }
    if ((modrm >> 6) != 3) {
        /* [disp32] inside the data area, any alignment */
        b[n++] = (uint8_t)((modrm & 0x38) | 0x05);
        uint32_t a = DATA + rnd() % 0xe00;
        memcpy(b + n, &a, 4);
        n += 4;
    } else {
        b[n++] = modrm;
    }
    b[n++] = (uint8_t)rnd(); /* an immediate, if it takes one */
    *len = n;
    ZydisDecodedInstruction z;
    ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(dec, b, n, &z, op)))
        return false;
    switch (z.meta.isa_ext) {
    case ZYDIS_ISA_EXT_X87: case ZYDIS_ISA_EXT_MMX: case ZYDIS_ISA_EXT_SSE: case ZYDIS_ISA_EXT_SSE2:
        return true;
    default:
        return false;
    }
}

/* Random but loadable FPU state: any x87 words and registers, an MXCSR
 * within the mask. */
static void random_state(cpu_state *cpu)
{
    for (unsigned i = 0; i < FX_SAVED; i++)
        cpu->fxsave[i] = (uint8_t)rnd();
    fx_put16(cpu->fxsave, FX_FCW, (uint16_t)rnd());
    if (rnd() & 1) /* no pending exception: let the instructions raise their own */
        fx_put16(cpu->fxsave, FX_FSW, fx_get16(cpu->fxsave, FX_FSW) & ~FSW_EXC);
    fx_put32(cpu->fxsave, FX_MXCSR, rnd() & 0xffff);
    fx_put32(cpu->fxsave, FX_MXCSR_MASK, 0xffff);
}

static void test_fuzz(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_FLAT32);
    cpu_state *c = &h->cpu;
    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    uint8_t data[0x1000];
    for (unsigned i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)rnd();
    harness_poke(h, DATA, data, sizeof(data));

    const uint32_t mxcsr0 = _mm_getcsr();
    const uint16_t fcw0 = host_fcw();
    unsigned ran = 0, faulted = 0;
    for (int iter = 0; iter < 200000; iter++) {
        uint8_t b[16];
        unsigned len;
        if (!make_insn(&dec, b, &len))
            continue;
        if (iter % 64 == 0)
            random_state(c);
        if (iter % 16 == 0) /* sometimes pretend an OS turned features off */
            c->cr0 = (c->cr0 & ~(CR0_EM | CR0_TS | CR0_MP | CR0_NE)) | (rnd() & (CR0_EM | CR0_TS | CR0_MP)) | CR0_NE;
        else
            c->cr0 &= ~(CR0_EM | CR0_TS);
        c->cr4 = (c->cr4 & ~(CR4_OSFXSR | CR4_OSXMMEXCPT)) | CR4_OSFXSR |
                 ((rnd() & 1) ? CR4_OSXMMEXCPT : 0);
        harness_poke(h, HARNESS_CODE, b, len);
        c->eip = HARNESS_CODE;
        c->regs[R_ESP] = HARNESS_STACK;
        c->run_state = CPU_RUNNING;
        uint64_t before = c->stats.instructions;
        cpu_exec(c, 1);
        if (c->stats.instructions == before)
            faulted++;
        ran++;
        assert_int_equal(_mm_getcsr(), mxcsr0);
        assert_int_equal(host_fcw(), fcw0);
        assert_int_equal(fx_get32(c->fxsave, FX_MXCSR) & ~0xffffu, 0);
    }
    print_message("%u instructions, %u faulted\n", ran, faulted);
    assert_true(ran > 50000);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
