/*
 * x87, MMX, SSE and SSE2 run natively (cpu/fpu.c): results, the FXSAVE
 * image, EFLAGS and GPR operands, and the exceptions the checks raise
 * (#NM, #UD, #MF, #XM, #GP) delivered to handlers in guest memory.
 *
 * The snippets use FPU/SSE instructions with absolute memory operands
 * and end by instruction budget, so they need no other instruction
 * family.  Exception handlers are one MOVNTI each (no FPU checks), which
 * stores EAX at 0x3000 + 4 * vector.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/fpu.h"
#include "cpu/interp.h"
#include "harness.h"

#define DATA 0x20000u   /* operands */
#define OUT 0x21000u    /* results */
#define MARK 0x3000u    /* handler marks: MARK + 4 * vector */
#define IDT 0x2000u
#define HANDLERS 0x4000u /* offset of the handlers from the code start */
#define MARKER 0x600df00du

static const int vectors[] = { EXC_UD, EXC_NM, EXC_GP, EXC_MF, EXC_XM };

/* A CPU with the FPU usable: EM and TS clear, MP and NE set, OSFXSR and
 * OSXMMEXCPT set, and handlers for the vectors above. */
static harness *fpu_new(enum harness_mode mode)
{
    harness *h = harness_new(mode);
    h->cpu.cr0 = (h->cpu.cr0 & ~(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE;
    h->cpu.cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT;
    h->cpu.regs[R_EAX] = MARKER;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        int v = vectors[i];
        uint32_t off = HANDLERS + 16 * v;
        if (mode == HARNESS_FLAT32) {
            uint32_t target = HARNESS_CODE + off;
            uint32_t gate[2] = { (0x08u << 16) | (target & 0xffff),
                                 (target & 0xffff0000u) | 0x8e00 };
            harness_poke(h, IDT + 8 * v, gate, 8);
        } else {
            uint32_t ivt = (HARNESS_CODE >> 4) << 16 | off;
            harness_poke(h, 4 * v, &ivt, 4);
        }
    }
    if (mode == HARNESS_FLAT32)
        h->cpu.idtr = (cpu_dtr){ IDT, 0xff };
    else
        h->cpu.idtr = (cpu_dtr){ 0, 0x3ff };
    return h;
}

/* Assemble src followed by the handlers. */
static void fpu_asm(harness *h, const char *src)
{
    static char buf[32768];
    int n = snprintf(buf, sizeof(buf), "%s\n", src);
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        int v = vectors[i];
        n += snprintf(buf + n, sizeof(buf) - n,
                      "times 0x%x - ($ - $$) db 0xcc\nmovnti [0x%x], eax\n",
                      HANDLERS + 16 * v, MARK + 4 * v);
    }
    harness_asm(h, buf);
}

static void run(harness *h, uint64_t n)
{
    harness_run(h, n);
    if (h->cpu.run_state == CPU_SHUTDOWN)
        fail_msg("shutdown: %s", h->cpu.diag);
}

static void poke_f64(harness *h, uint32_t a, double v) { harness_poke(h, a, &v, 8); }
static void poke_f32(harness *h, uint32_t a, float v) { harness_poke(h, a, &v, 4); }
static void poke32(harness *h, uint32_t a, uint32_t v) { harness_poke(h, a, &v, 4); }

static void peek(harness *h, uint32_t a, void *dst, uint32_t len)
{
    assert_int_equal(phys_copy_from(&h->mem, a, dst, len), 0);
}

static double peek_f64(harness *h, uint32_t a)
{
    double v;
    peek(h, a, &v, 8);
    return v;
}

static float peek_f32(harness *h, uint32_t a)
{
    float v;
    peek(h, a, &v, 4);
    return v;
}

/* Which handler ran (-1: none); checks that exactly one did. */
static int taken(harness *h)
{
    int got = -1;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        if (harness_peek32(h, MARK + 4 * vectors[i]) == MARKER) {
            assert_int_equal(got, -1);
            got = vectors[i];
        }
    }
    return got;
}

static uint32_t mxcsr(harness *h) { return fx_get32(h->cpu.fxsave, FX_MXCSR); }

static void test_fsqrt(void **state)
{
    (void)state;
    harness *h = fpu_new(HARNESS_FLAT32);
    poke_f64(h, DATA, 2.0);
    fpu_asm(h, "fninit\n fld qword [0x20000]\n fsqrt\n fstp qword [0x21000]\n");
    run(h, 4);
    assert_true(peek_f64(h, OUT) == sqrt(2.0));
    assert_int_equal(taken(h), -1);
    /* last x87 instruction: the FSTP (fninit 2 + fld 6 + fsqrt 2), its operand */
    assert_int_equal(fx_get32(h->cpu.fxsave, FX_FIP), HARNESS_CODE + 10);
    assert_int_equal(fx_get16(h->cpu.fxsave, FX_FCS), 0x08);
    assert_int_equal(fx_get32(h->cpu.fxsave, FX_FDP), OUT);
    assert_int_equal(fx_get16(h->cpu.fxsave, FX_FDS), 0x10);
    assert_int_equal(fx_get16(h->cpu.fxsave, FX_FOP), 0x51d); /* DD /3, modrm 1D */
    assert_int_equal(h->cpu.fxsave[FX_FTW], 0);                /* stack empty again */
    harness_free(h);
}

static void test_addps_mulsd(void **state)
{
    (void)state;
    harness *h = fpu_new(HARNESS_FLAT32);
    float a[4] = { 1, 2, 3, 4 }, b[4] = { 10, 20, 30, 40 };
    harness_poke(h, DATA, a, 16);
    harness_poke(h, DATA + 16, b, 16);
    poke_f64(h, DATA + 32, 1.5);
    poke_f64(h, DATA + 40, -4.0);
    fpu_asm(h, "movups xmm0, [0x20000]\n addps xmm0, [0x20010]\n movups [0x21000], xmm0\n"
               "movsd xmm7, [0x20020]\n mulsd xmm7, [0x20028]\n movsd [0x21010], xmm7\n");
    run(h, 6);
    float r[4];
    peek(h, OUT, r, 16);
    assert_true(r[0] == 11 && r[1] == 22 && r[2] == 33 && r[3] == 44);
    assert_true(peek_f64(h, OUT + 16) == -6.0);
    assert_int_equal(taken(h), -1);
    harness_free(h);
}

/* CVTSI2SD from memory and from a GPR, CVTTSD2SI into a GPR. */
static void test_cvt_gpr(void **state)
{
    (void)state;
    harness *h = fpu_new(HARNESS_FLAT32);
    poke32(h, DATA, (uint32_t)-7);
    poke_f64(h, DATA + 8, -3.75);
    h->cpu.regs[R_ESI] = 123456;
    fpu_asm(h, "cvtsi2sd xmm1, dword [0x20000]\n cvtsi2sd xmm2, esi\n"
               "movsd [0x21000], xmm1\n movsd [0x21008], xmm2\n"
               "cvttsd2si ecx, [0x20008]\n cvtsd2si edi, [0x20008]\n");
    run(h, 6);
    assert_true(peek_f64(h, OUT) == -7.0);
    assert_true(peek_f64(h, OUT + 8) == 123456.0);
    assert_int_equal(h->cpu.regs[R_ECX], (uint32_t)-3);
    assert_int_equal(h->cpu.regs[R_EDI], (uint32_t)-4);
    assert_int_equal(h->cpu.regs[R_ESI], 123456);
    assert_int_equal(h->cpu.regs[R_EAX], MARKER); /* the thunk's EAX is not the guest's */
    harness_free(h);
}

/* MMX: PMADDWD, MOVD to a GPR, PMOVMSKB, PEXTRW/PINSRW, EMMS. */
static void test_mmx(void **state)
{
    (void)state;
    harness *h = fpu_new(HARNESS_FLAT32);
    int16_t a[4] = { 1, 2, 3, -4 }, b[4] = { 5, 6, 7, 8 };
    harness_poke(h, DATA, a, 8);
    harness_poke(h, DATA + 8, b, 8);
    h->cpu.regs[R_EBX] = 0xbeef;
    fpu_asm(h, "movq mm0, [0x20000]\n pmaddwd mm0, [0x20008]\n movq [0x21000], mm0\n"
               "movd edx, mm0\n pmovmskb ebp, mm0\n"
               "movq mm3, [0x20000]\n pinsrw mm3, ebx, 2\n pextrw ecx, mm3, 2\n"
               "movq [0x21008], mm3\n emms\n");
    run(h, 10);
    int32_t r[2];
    peek(h, OUT, r, 8);
    assert_int_equal(r[0], 1 * 5 + 2 * 6);
    assert_int_equal(r[1], 3 * 7 - 4 * 8);
    assert_int_equal(h->cpu.regs[R_EDX], 17);
    assert_int_equal(h->cpu.regs[R_EBP], 0xf0); /* r[1] = -11: top four bytes negative */
    assert_int_equal(h->cpu.regs[R_ECX], 0xbeef);
    int16_t m3[4];
    peek(h, OUT + 8, m3, 8);
    assert_int_equal((uint16_t)m3[2], 0xbeef);
    assert_int_equal(h->cpu.fxsave[FX_FTW], 0); /* EMMS */
    assert_int_equal(taken(h), -1);
    harness_free(h);
}

/* COMISS, FCOMI write ZF/PF/CF; FCMOVB reads CF. */
static void test_eflags(void **state)
{
    (void)state;
    harness *h = fpu_new(HARNESS_FLAT32);
    poke_f32(h, DATA, 1.0f);
    poke_f32(h, DATA + 4, 2.0f);
    fpu_asm(h, "movss xmm0, [0x20000]\n comiss xmm0, [0x20004]\n");
    h->cpu.eflags |= FL_ZF | FL_OF | FL_SF | FL_DF;
    run(h, 2);
    assert_int_equal(h->cpu.eflags & (FL_CF | FL_ZF | FL_PF | FL_OF | FL_SF), FL_CF);
    assert_true(h->cpu.eflags & FL_DF); /* not an arithmetic flag: kept */

    fpu_asm(h, "fninit\n fld dword [0x20000]\n fld dword [0x20000]\n fcomi st0, st1\n"
               "fld dword [0x20004]\n fcmovb st0, st1\n fstp dword [0x21000]\n"
               "fld dword [0x20004]\n fcmovnb st0, st1\n fstp dword [0x21004]\n");
    run(h, 4);
    assert_int_equal(h->cpu.eflags & (FL_CF | FL_ZF | FL_PF), FL_ZF);
    h->cpu.eflags |= FL_CF;
    run(h, 6);
    assert_true(peek_f32(h, OUT) == 1.0f);     /* CF set: moved */
    assert_true(peek_f32(h, OUT + 4) == 2.0f); /* not below: kept */
    harness_free(h);
}

static void test_fxsave_roundtrip(void **state)
{
    (void)state;
    harness *h = fpu_new(HARNESS_FLAT32);
    poke_f64(h, DATA, 3.25);
    float v[4] = { 5, 6, 7, 8 };
    harness_poke(h, DATA + 16, v, 16);
    poke32(h, DATA + 32, 0x1f80 | 0x6000); /* round toward zero */
    fpu_asm(h, "fninit\n fld qword [0x20000]\n fldpi\n movups xmm5, [0x20010]\n"
               "ldmxcsr [0x20020]\n fxsave [0x22000]\n"
               "fninit\n xorps xmm5, xmm5\n ldmxcsr [0x20024]\n" /* 0: default */
               "fxrstor [0x22000]\n fxsave [0x22200]\n fstp st0\n fstp qword [0x21000]\n");
    poke32(h, DATA + 36, 0x1f80);
    run(h, 13);
    uint8_t a[512], b[512];
    peek(h, 0x22000, a, 512);
    peek(h, 0x22200, b, 512);
    assert_memory_equal(a, b, 288);
    assert_int_equal(fx_get32(a, FX_MXCSR), 0x7f80);
    assert_int_equal(fx_get16(a, FX_FCW), FCW_INIT);
    assert_int_equal((fx_get16(a, FX_FSW) >> FSW_TOP_SHIFT) & 7, 6);
    assert_int_equal(a[FX_FTW], 0xc0);
    float x[4];
    memcpy(x, a + FX_XMM + 5 * 16, 16);
    assert_true(x[0] == 5 && x[3] == 8);
    assert_true(peek_f64(h, OUT) == 3.25);
    assert_int_equal(taken(h), -1);
    harness_free(h);
}

static void test_fxsave_faults(void **state)
{
    (void)state;
    /* misaligned m512 */
    harness *h = fpu_new(HARNESS_FLAT32);
    fpu_asm(h, "fxsave [0x22008]\n");
    run(h, 1);
    assert_int_equal(taken(h), EXC_GP);
    harness_free(h);
    /* reserved MXCSR bit in the image, and in LDMXCSR */
    h = fpu_new(HARNESS_FLAT32);
    uint8_t img[512] = { 0 };
    fx_put16(img, FX_FCW, FCW_INIT);
    fx_put32(img, FX_MXCSR, 0x1f80 | 0x10000);
    harness_poke(h, 0x22000, img, 512);
    fpu_asm(h, "fxrstor [0x22000]\n");
    run(h, 1);
    assert_int_equal(taken(h), EXC_GP);
    assert_int_equal(mxcsr(h), 0x1f80);
    harness_free(h);
    h = fpu_new(HARNESS_FLAT32);
    poke32(h, DATA, 0xffff1f80);
    fpu_asm(h, "ldmxcsr [0x20000]\n");
    run(h, 1);
    assert_int_equal(taken(h), EXC_GP);
    harness_free(h);
}

static void test_nm(void **state)
{
    (void)state;
    /* TS: x87 and SSE #NM; WAIT only with MP */
    harness *h = fpu_new(HARNESS_FLAT32);
    h->cpu.cr0 |= CR0_TS;
    fpu_asm(h, "fld1\n");
    run(h, 1);
    assert_int_equal(taken(h), EXC_NM);
    /* the return address is the faulting instruction */
    assert_int_equal(harness_peek32(h, h->cpu.regs[R_ESP]), HARNESS_CODE);
    harness_free(h);

    h = fpu_new(HARNESS_FLAT32);
    h->cpu.cr0 = (h->cpu.cr0 | CR0_TS) & ~CR0_MP;
    fpu_asm(h, "fwait\n addps xmm0, xmm1\n");
    run(h, 2);
    assert_int_equal(taken(h), EXC_NM);
    assert_int_equal(harness_peek32(h, h->cpu.regs[R_ESP]), HARNESS_CODE + 1);
    harness_free(h);

    /* EM: x87 #NM, MMX and SSE #UD; no OSFXSR: SSE #UD, MMX fine */
    h = fpu_new(HARNESS_FLAT32);
    h->cpu.cr0 |= CR0_EM;
    fpu_asm(h, "fldz\n");
    run(h, 1);
    assert_int_equal(taken(h), EXC_NM);
    harness_free(h);
    h = fpu_new(HARNESS_FLAT32);
    h->cpu.cr0 |= CR0_EM;
    fpu_asm(h, "paddb mm0, mm1\n");
    run(h, 1);
    assert_int_equal(taken(h), EXC_UD);
    harness_free(h);
    h = fpu_new(HARNESS_FLAT32);
    h->cpu.cr4 &= ~CR4_OSFXSR;
    fpu_asm(h, "paddb mm0, mm1\n emms\n addps xmm0, xmm1\n");
    run(h, 3);
    assert_int_equal(taken(h), EXC_UD);
    assert_int_equal(harness_peek32(h, h->cpu.regs[R_ESP]), HARNESS_CODE + 5);
    harness_free(h);
}

/* An unmasked x87 divide by zero is deferred: the next waiting
 * instruction takes #MF; FNSTSW (no-wait) does not.  The host never
 * sees it. */
static void test_mf(void **state)
{
    (void)state;
    harness *h = fpu_new(HARNESS_FLAT32);
    poke32(h, DATA, FCW_INIT & ~0x4u); /* ZM clear */
    fpu_asm(h, "fninit\n fldcw [0x20000]\n fld1\n fldz\n fdivp st1, st0\n"
               "fnstsw [0x21000]\n fld1\n");
    run(h, 6);
    assert_int_equal(taken(h), -1);
    uint16_t sw = (uint16_t)harness_peek32(h, OUT);
    assert_true(sw & 0x4);      /* ZE */
    assert_true(sw & FSW_ES);
    run(h, 1);
    assert_int_equal(taken(h), EXC_MF);
    /* FIP points at the FDIVP, the return address at the FLD1 */
    assert_int_equal(fx_get32(h->cpu.fxsave, FX_FIP), HARNESS_CODE + 2 + 6 + 2 + 2);
    assert_int_equal(harness_peek32(h, h->cpu.regs[R_ESP]), HARNESS_CODE + 2 + 6 + 2 + 2 + 2 + 6);
    harness_free(h);

    /* an MMX instruction takes it too; SSE on XMM does not */
    h = fpu_new(HARNESS_FLAT32);
    poke32(h, DATA, FCW_INIT & ~0x4u);
    fpu_asm(h, "fninit\n fldcw [0x20000]\n fld1\n fldz\n fdivp st1, st0\n"
               "addps xmm0, xmm1\n paddb mm0, mm1\n");
    run(h, 6);
    assert_int_equal(taken(h), -1);
    run(h, 1);
    assert_int_equal(taken(h), EXC_MF);
    harness_free(h);
}

/* An x87 store with an unmasked exception leaves memory alone. */
static void test_unmasked_store(void **state)
{
    (void)state;
    harness *h = fpu_new(HARNESS_FLAT32);
    poke32(h, DATA, FCW_INIT & ~0x1u); /* IM clear */
    poke_f64(h, DATA + 8, 1e10);
    poke32(h, OUT, 0xaaaaaaaa);
    fpu_asm(h, "fninit\n fldcw [0x20000]\n fld qword [0x20008]\n fist word [0x21000]\n"
               "fist dword [0x21000]\n");
    run(h, 4);
    assert_int_equal(harness_peek32(h, OUT), 0xaaaaaaaa);
    assert_true(fx_get16(h->cpu.fxsave, FX_FSW) & FSW_IE);
    assert_true(fx_get16(h->cpu.fxsave, FX_FSW) & FSW_ES);
    run(h, 1);
    assert_int_equal(taken(h), EXC_MF);
    assert_int_equal(harness_peek32(h, OUT), 0xaaaaaaaa);
    harness_free(h);
}

/* ... except for an unmasked precision exception alone: the rounded
 * result is stored all the same (SDM Vol. 1 §8.5.6), as the host's own
 * FIST does in translated code (found by the bt_diff fuzz). */
static void test_unmasked_precision_store(void **state)
{
    (void)state;
    harness *h = fpu_new(HARNESS_FLAT32);
    poke32(h, DATA, FCW_INIT & ~0x20u); /* PM clear */
    poke_f64(h, DATA + 8, 2.5);
    poke32(h, OUT, 0xaaaaaaaa);
    fpu_asm(h, "fninit\n fldcw [0x20000]\n fld qword [0x20008]\n fist dword [0x21000]\n");
    run(h, 4);
    assert_int_equal(harness_peek32(h, OUT), 2); /* round to nearest even */
    assert_true(fx_get16(h->cpu.fxsave, FX_FSW) & FSW_ES);
    harness_free(h);
}

/* FWAIT takes a pending exception too, also with CR0.NE clear (where a
 * PC would use IRQ 13: btvm raises #MF regardless). */
static void test_mf_fwait(void **state)
{
    (void)state;
    harness *h = fpu_new(HARNESS_FLAT32);
    h->cpu.cr0 &= ~CR0_NE;
    poke32(h, DATA, FCW_INIT & ~0x1u); /* IM clear */
    fpu_asm(h, "fninit\n fldcw [0x20000]\n fldz\n fldz\n fdivp st1, st0\n fwait\n");
    run(h, 5);
    assert_int_equal(taken(h), -1);
    assert_true(fx_get16(h->cpu.fxsave, FX_FSW) & FSW_IE);
    run(h, 1);
    assert_int_equal(taken(h), EXC_MF);
    harness_free(h);
}

/* Real mode, 16-bit addressing: SSE, MOVD to a GPR, FNSTSW AX. */
static void test_real_mode(void **state)
{
    (void)state;
    harness *h = fpu_new(HARNESS_REAL16);
    float a[4] = { 1, 2, 3, 4 };
    harness_poke(h, 0x2000, a, 16);
    harness_poke(h, 0x2010, a, 16);
    h->cpu.regs[R_EBX] = 0x2000;
    fpu_asm(h, "movups xmm1, [bx]\n addps xmm1, [bx+0x10]\n movups [0x2100], xmm1\n"
               "movd ecx, xmm1\n fninit\n fld1\n fldz\n fcom st1\n fnstsw ax\n");
    run(h, 9);
    float r[4];
    peek(h, 0x2100, r, 16);
    assert_true(r[0] == 2 && r[3] == 8);
    float two = 2;
    uint32_t two_bits;
    memcpy(&two_bits, &two, 4);
    assert_int_equal(h->cpu.regs[R_ECX], two_bits);
    /* TOP 6, C0 (0 < 1); EAX's upper half untouched */
    assert_int_equal(h->cpu.regs[R_EAX], (MARKER & 0xffff0000u) | 0x3100);
    assert_int_equal(taken(h), -1);
    harness_free(h);
}

/* Segment bases and overrides apply to the memory operand. */
static void test_segment_base(void **state)
{
    (void)state;
    harness *h = fpu_new(HARNESS_FLAT32);
    poke_f32(h, DATA + 0x1000, 9.5f);
    h->cpu.seg[S_ES].base = 0x1000;
    h->cpu.seg[S_FS].base = 0x2000;
    fpu_asm(h, "movss xmm0, [es:0x20000]\n movss [fs:0x20000], xmm0\n"
               "fld dword [es:0x20000]\n fstp dword [fs:0x20004]\n");
    run(h, 4);
    assert_true(peek_f32(h, DATA + 0x2000) == 9.5f);
    assert_true(peek_f32(h, DATA + 0x2004) == 9.5f);
    harness_free(h);
}

/* An unmasked SIMD divide by zero: #XM, destination unchanged, ZE set;
 * without CR4.OSXMMEXCPT, #UD. */
static void test_xm(void **state)
{
    (void)state;
    for (int os = 1; os >= 0; os--) {
        harness *h = fpu_new(HARNESS_FLAT32);
        if (!os)
            h->cpu.cr4 &= ~CR4_OSXMMEXCPT;
        poke32(h, DATA, 0x1f80 & ~0x200u); /* ZM clear */
        poke_f32(h, DATA + 4, 3.0f);
        poke_f32(h, DATA + 8, 0.0f);
        fpu_asm(h, "ldmxcsr [0x20000]\n movss xmm0, [0x20004]\n divss xmm0, [0x20008]\n");
        run(h, 3);
        assert_int_equal(taken(h), os ? EXC_XM : EXC_UD);
        assert_int_equal(mxcsr(h), (0x1f80 & ~0x200u) | 0x4);
        float x0;
        memcpy(&x0, h->cpu.fxsave + FX_XMM, 4);
        assert_true(x0 == 3.0f);
        harness_free(h);
    }
    /* masked: the flag is set and the result is infinity */
    harness *h = fpu_new(HARNESS_FLAT32);
    poke_f32(h, DATA + 4, 3.0f);
    poke_f32(h, DATA + 8, 0.0f);
    fpu_asm(h, "movss xmm0, [0x20004]\n divss xmm0, [0x20008]\n movss [0x21000], xmm0\n");
    run(h, 3);
    assert_int_equal(taken(h), -1);
    assert_true(isinf(peek_f32(h, OUT)));
    assert_int_equal(mxcsr(h), 0x1f80 | 0x4);
    harness_free(h);
}

/* A fault on the memory operand leaves the FPU state as it was: a store
 * past the segment limit does not pop, a misaligned ADDPS does not add. */
static void test_fault_atomic(void **state)
{
    (void)state;
    harness *h = fpu_new(HARNESS_FLAT32);
    poke_f64(h, DATA, 42.0);
    fpu_asm(h, "fninit\n fld qword [0x20000]\n fstp qword [es:0x1fffc]\n");
    run(h, 2);
    h->cpu.seg[S_ES].limit = 0xffff;
    uint8_t before[512];
    memcpy(before, h->cpu.fxsave, 512);
    run(h, 1);
    assert_int_equal(taken(h), EXC_GP);
    assert_memory_equal(before, h->cpu.fxsave, 512);
    harness_free(h);

    h = fpu_new(HARNESS_FLAT32);
    fpu_asm(h, "addps xmm1, [0x20008]\n");
    memcpy(before, h->cpu.fxsave, 512);
    run(h, 1);
    assert_int_equal(taken(h), EXC_GP);
    assert_memory_equal(before, h->cpu.fxsave, 512);
    harness_free(h);
}

/* FNSTENV/FLDENV and FNSAVE/FRSTOR formats: 32-bit protected, 16-bit
 * protected, and real mode. */
static void test_env_formats(void **state)
{
    (void)state;
    harness *h = fpu_new(HARNESS_FLAT32);
    poke_f64(h, DATA, 1.0);
    fpu_asm(h, "fninit\n fld qword [0x20000]\n fnstenv [0x21000]\n o16 fnstenv [0x21100]\n"
               "fldenv [0x21000]\n fnsave [0x21200]\n frstor [0x21200]\n fstp qword [0x21400]\n");
    run(h, 3);
    uint8_t e[28];
    peek(h, 0x21000, e, 28);
    assert_int_equal(fx_get16(e, 0), FCW_INIT);
    assert_int_equal((fx_get16(e, 4) >> FSW_TOP_SHIFT) & 7, 7);
    assert_int_equal(fx_get16(e, 8), 0x3fff);          /* R7 valid, others empty */
    assert_int_equal(fx_get32(e, 12), HARNESS_CODE + 2); /* FLD */
    assert_int_equal(fx_get16(e, 16), 0x08);
    assert_int_equal(fx_get32(e, 16) >> 16, 0x505);     /* DD /0, modrm 05 */
    assert_int_equal(fx_get32(e, 20), DATA);
    assert_int_equal(fx_get16(e, 24), 0x10);
    assert_int_equal(fx_get16(h->cpu.fxsave, FX_FCW), FCW_INIT | 0x3f); /* masked all */
    run(h, 1);
    peek(h, 0x21100, e, 14);
    assert_int_equal(fx_get16(e, 6), (HARNESS_CODE + 2) & 0xffff);
    assert_int_equal(fx_get16(e, 8), 0x08);
    assert_int_equal(fx_get16(e, 10), DATA & 0xffff);
    run(h, 4);
    assert_true(peek_f64(h, 0x21400) == 1.0);
    uint8_t s[108];
    peek(h, 0x21200, s, 108);
    assert_int_equal(fx_get16(s, 28 + 8), 0x3fff); /* 1.0 as an 80-bit real: exponent */
    assert_int_equal(taken(h), -1);
    harness_free(h);

    /* real mode: 20-bit linear pointers */
    h = fpu_new(HARNESS_REAL16);
    poke_f64(h, 0x2000, 1.0);
    fpu_asm(h, "fninit\n fld qword [0x2000]\n fnstenv [0x2100]\n o32 fnstenv [0x2200]\n");
    run(h, 4);
    peek(h, 0x2100, e, 14);
    assert_int_equal(fx_get16(e, 6), (HARNESS_CODE + 2) & 0xffff);
    assert_int_equal(fx_get16(e, 8), ((HARNESS_CODE + 2) >> 16) << 12 | 0x506);
    assert_int_equal(fx_get16(e, 10), 0x2000);
    peek(h, 0x2200, e, 28);
    assert_int_equal(fx_get16(e, 12), (HARNESS_CODE + 2) & 0xffff);
    assert_int_equal(fx_get32(e, 16), ((HARNESS_CODE + 2) >> 16) << 12 | 0x506);
    harness_free(h);
}

/* MASKMOVQ writes only the selected bytes at [EDI]. */
static void test_maskmov(void **state)
{
    (void)state;
    harness *h = fpu_new(HARNESS_FLAT32);
    uint8_t val[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, mask[8] = { 0x80, 0, 0xff, 0, 0, 0, 0, 0x80 };
    uint8_t old[8] = { 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa };
    harness_poke(h, DATA, val, 8);
    harness_poke(h, DATA + 8, mask, 8);
    harness_poke(h, OUT, old, 8);
    h->cpu.regs[R_EDI] = OUT;
    fpu_asm(h, "movq mm1, [0x20000]\n movq mm2, [0x20008]\n maskmovq mm1, mm2\n");
    run(h, 3);
    uint8_t r[8];
    peek(h, OUT, r, 8);
    uint8_t want[8] = { 1, 0xaa, 3, 0xaa, 0xaa, 0xaa, 0xaa, 8 };
    assert_memory_equal(r, want, 8);
    harness_free(h);
}

/* Many distinct instructions (PSHUFD with every immediate) through the
 * thunk cache, and the same instruction from two addressing forms. */
static void test_many_thunks(void **state)
{
    (void)state;
    harness *h = fpu_new(HARNESS_FLAT32);
    uint32_t v[4] = { 0x11, 0x22, 0x33, 0x44 };
    harness_poke(h, DATA, v, 16);
    char src[16384];
    int n = 0;
    for (int i = 0; i < 256; i++)
        n += snprintf(src + n, sizeof(src) - n,
                      "pshufd xmm%d, [0x20000], %d\n movdqa [0x%x], xmm%d\n", i & 7, i,
                      0x30000 + 16 * i, i & 7);
    fpu_asm(h, src);
    run(h, 512);
    for (int i = 0; i < 256; i++) {
        uint32_t r[4];
        peek(h, 0x30000 + 16 * i, r, 16);
        for (int k = 0; k < 4; k++)
            assert_int_equal(r[k], v[(i >> (2 * k)) & 3]);
    }
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fsqrt),
        cmocka_unit_test(test_addps_mulsd),
        cmocka_unit_test(test_cvt_gpr),
        cmocka_unit_test(test_mmx),
        cmocka_unit_test(test_eflags),
        cmocka_unit_test(test_fxsave_roundtrip),
        cmocka_unit_test(test_fxsave_faults),
        cmocka_unit_test(test_nm),
        cmocka_unit_test(test_mf),
        cmocka_unit_test(test_mf_fwait),
        cmocka_unit_test(test_unmasked_store),
        cmocka_unit_test(test_unmasked_precision_store),
        cmocka_unit_test(test_real_mode),
        cmocka_unit_test(test_segment_base),
        cmocka_unit_test(test_xm),
        cmocka_unit_test(test_fault_atomic),
        cmocka_unit_test(test_env_formats),
        cmocka_unit_test(test_maskmov),
        cmocka_unit_test(test_many_thunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
