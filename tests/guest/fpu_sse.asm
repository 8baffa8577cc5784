; x87, MMX, SSE and SSE2 (SDM Vol. 1 Chapters 8-11): results stored to
; memory and compared with their IEEE 754 bit patterns.  Only exact
; operations (no transcendental functions), so any correct implementation
; gives the same bits.  Enables CR4.OSFXSR first (Vol. 3A §13.1).

%include "guest.inc"

bits 32
section .data
align 16
ps_a:   dd 1.0, 2.0, 3.0, 4.0
ps_b:   dd 10.0, 20.0, 30.0, 40.0
pd_a:   dq 1.5, 2.0
pd_b:   dq 2.25, 0.5
pi_a:   dd 1, 2, 3, 4
pi_b:   dd 5, 6, 7, 0x7fffffff
f_two:  dq 2.0
f_2_5:  dq 2.5
f_3_5:  dq 3.5
f_2_7:  dq 2.7
f_m2_7: dq -2.7
f_3_99: dq 3.99
f_s3:   dd 3.0
f_s1_5: dd 1.5
f_s2:   dd 2.0
f_s0:   dd 0.0
f_s2_7: dd 2.7
i_seven: dd 7
cw_trunc: dw 0x0f7f
mm_a:   dw 1, 2, 3, 0x7fff
mm_b:   dw 10, 20, 30, 1
mx_zero: dd 0x7f80            ; MXCSR: all masked, round toward zero
mx_default: dd 0x1f80

section .bss
align 16
out:    resb 64
fxarea: resb 512
cw:     resw 1
sw:     resw 1
mxcsr:  resd 1

section .text
global test_main
test_main:
    push ebx
    push esi
    push edi
    PRINT "fpu_sse: x87, MMX, SSE, SSE2 results against their bit patterns"

    mov eax, cr0
    and eax, ~(0x4 | 0x8)               ; EM = 0, TS = 0
    or eax, 0x2 | 0x20                  ; MP = 1, NE = 1
    mov cr0, eax

    ; ---------------- x87
    fninit
    fnstcw [cw]
    movzx eax, word [cw]
    CHECK_EQ "x87: FCW after FNINIT", eax, 0x037f
    fld1
    fadd st0, st0
    fstp dword [out]
    CHECK_EQ "x87: 1 + 1 (single)", dword [out], 0x40000000
    fld qword [f_two]
    fsqrt
    fstp qword [out]
    CHECK_EQ "x87: sqrt(2) (double, low)", dword [out], 0x667f3bcd
    CHECK_EQ "x87: sqrt(2) (double, high)", dword [out + 4], 0x3ff6a09e
    fld dword [f_s3]
    fmul dword [f_s1_5]
    fstp dword [out]
    CHECK_EQ "x87: 3 * 1.5 (single)", dword [out], 0x40900000
    fild dword [i_seven]
    fld1
    fdivp st1, st0                      ; 7 / 1
    fidiv dword [i_seven]               ; 1
    fstp qword [out]
    CHECK_EQ "x87: fild / fidiv (double, high)", dword [out + 4], 0x3ff00000
    fldpi
    fstp qword [out]
    CHECK_EQ "x87: fldpi (double, low)", dword [out], 0x54442d18
    CHECK_EQ "x87: fldpi (double, high)", dword [out + 4], 0x400921fb
    fld1
    fstp tword [out]
    CHECK_EQ "x87: 1.0 as 80-bit: significand high", dword [out + 4], 0x80000000
    movzx eax, word [out + 8]
    CHECK_EQ "x87: 1.0 as 80-bit: exponent", eax, 0x3fff
    fld qword [f_2_5]
    fistp dword [out]
    CHECK_EQ "x87: fistp 2.5 rounds to even", dword [out], 2
    fld qword [f_3_5]
    fistp dword [out]
    CHECK_EQ "x87: fistp 3.5 rounds to even", dword [out], 4
    fldcw [cw_trunc]
    fld qword [f_2_7]
    fistp dword [out]
    fld qword [f_m2_7]
    fistp dword [out + 4]
    fldcw [cw]
    CHECK_EQ "x87: fistp 2.7 with RC = truncate", dword [out], 2
    CHECK_EQ "x87: fistp -2.7 with RC = truncate", dword [out + 4], -2
    fld qword [f_two]
    fchs
    fabs
    fld1
    fxch
    fsubp st1, st0                      ; 1 - 2
    fstp dword [out]
    CHECK_EQ "x87: fchs, fabs, fxch, fsubp: 1 - 2", dword [out], 0xbf800000
    ; comparisons: FCOM sets C0/C2/C3 in FSW; FCOMI sets ZF/PF/CF
    fld qword [f_two]
    fld1
    fcom st1                            ; 1 < 2: C0
    fnstsw ax
    and eax, 0x4500
    CHECK_EQ "x87: fcom 1 < 2: C0 set, C2 C3 clear", eax, 0x0100
    fcomi st0, st1
    setc al
    setz ah
    movzx eax, ax
    CHECK_EQ "x87: fcomi 1 < 2: CF=1 ZF=0", eax, 1
    fcompp
    fldz
    fld dword [f_s0]
    fdiv st0, st1                       ; 0/0 = NaN (masked invalid)
    fucomip st0, st1
    setp al
    movzx eax, al
    CHECK_EQ "x87: fucomip with NaN: PF=1", eax, 1
    fstp st0
    fnstsw ax
    test eax, 0x1                       ; IE from 0/0
    setnz al
    movzx eax, al
    CHECK_EQ "x87: 0/0 raised IE (masked)", eax, 1
    mov eax, 0x3800                     ; TOP field
    fnstsw [sw]
    movzx ebx, word [sw]
    and ebx, eax
    CHECK_EQ "x87: stack empty again (TOP = 0)", ebx, 0
    fnclex

    ; ---------------- CPUID: what the rest needs
    mov eax, 1
    cpuid
    mov esi, edx
    test esi, 1 << 25
    jnz .have_sse
    PRINT "  no SSE in CPUID: SSE not tested"
    jmp .done
.have_sse:
    mov eax, cr4
    or eax, 0x200 | 0x400               ; OSFXSR, OSXMMEXCPT
    mov cr4, eax

    ; ---------------- MMX
    movq mm0, [mm_a]
    paddw mm0, [mm_b]                   ; wraps: 0x7fff + 1 = 0x8000
    movq [out], mm0
    CHECK_EQ "mmx: paddw, words 0-1", dword [out], 0x0016000b
    CHECK_EQ "mmx: paddw, words 2-3 (wrap)", dword [out + 4], 0x80000021
    movq mm1, [mm_a]
    paddsw mm1, [mm_b]                  ; saturates: 0x7fff
    movq [out], mm1
    CHECK_EQ "mmx: paddsw saturates", dword [out + 4], 0x7fff0021
    emms

    ; ---------------- SSE
    ldmxcsr [mx_default]
    movaps xmm0, [ps_a]
    addps xmm0, [ps_b]
    movups [out], xmm0
    CHECK_EQ "sse: addps lane 0 (11)", dword [out], 0x41300000
    CHECK_EQ "sse: addps lane 1 (22)", dword [out + 4], 0x41b00000
    CHECK_EQ "sse: addps lane 2 (33)", dword [out + 8], 0x42040000
    CHECK_EQ "sse: addps lane 3 (44)", dword [out + 12], 0x42300000
    movaps xmm1, [ps_a]
    mulps xmm1, xmm1
    shufps xmm1, xmm1, 0x1b             ; reverse the lanes
    movups [out], xmm1
    CHECK_EQ "sse: mulps + shufps: lane 0 = 16", dword [out], 0x41800000
    CHECK_EQ "sse: mulps + shufps: lane 3 = 1", dword [out + 12], 0x3f800000
    movss xmm2, [f_s2]
    sqrtss xmm2, xmm2
    movss [out], xmm2
    CHECK_EQ "sse: sqrtss 2", dword [out], 0x3fb504f3
    movss xmm3, [f_s1_5]
    comiss xmm3, [f_s2]
    setc al
    setz ah
    movzx eax, ax
    CHECK_EQ "sse: comiss 1.5 < 2: CF=1 ZF=0", eax, 1
    movss xmm4, [f_s2_7]
    cvttss2si eax, xmm4
    CHECK_EQ "sse: cvttss2si 2.7", eax, 2
    cvtss2si eax, xmm4
    CHECK_EQ "sse: cvtss2si 2.7 (round to nearest)", eax, 3
    ldmxcsr [mx_zero]
    cvtss2si eax, xmm4
    ldmxcsr [mx_default]
    CHECK_EQ "sse: cvtss2si 2.7 with MXCSR.RC = toward zero", eax, 2
    movss xmm5, [f_s2]
    divss xmm5, [f_s0]                  ; masked divide by zero: +inf, ZE
    movss [out], xmm5
    stmxcsr [mxcsr]
    CHECK_EQ "sse: 2/0 = +inf (masked)", dword [out], 0x7f800000
    mov eax, [mxcsr]
    and eax, 0x3f
    CHECK_EQ "sse: MXCSR flags after 2/0: ZE only", eax, 0x4
    ldmxcsr [mx_default]

    ; ---------------- FXSAVE / FXRSTOR
    fninit
    movaps xmm0, [ps_b]
    fxsave [fxarea]
    movzx eax, word [fxarea]
    CHECK_EQ "fxsave: FCW", eax, 0x037f
    CHECK_EQ "fxsave: MXCSR", dword [fxarea + 24], 0x1f80
    CHECK_EQ "fxsave: XMM0 lane 0", dword [fxarea + 160], 0x41200000
    xorps xmm0, xmm0
    fxrstor [fxarea]
    movups [out], xmm0
    CHECK_EQ "fxrstor: XMM0 lane 3 back", dword [out + 12], 0x42200000

    ; ---------------- SSE2
    test esi, 1 << 26
    jnz .have_sse2
    PRINT "  no SSE2 in CPUID: SSE2 not tested"
    jmp .done
.have_sse2:
    movapd xmm0, [pd_a]
    mulpd xmm0, [pd_b]                  ; 1.5 * 2.25 = 3.375, 2 * 0.5 = 1
    movupd [out], xmm0
    CHECK_EQ "sse2: mulpd lane 0 high (3.375)", dword [out + 4], 0x400b0000
    CHECK_EQ "sse2: mulpd lane 1 high (1.0)", dword [out + 12], 0x3ff00000
    movsd xmm1, [pd_a]
    mulsd xmm1, [pd_b]
    movsd [out], xmm1
    CHECK_EQ "sse2: mulsd 1.5 * 2.25 (low)", dword [out], 0
    CHECK_EQ "sse2: mulsd 1.5 * 2.25 (high)", dword [out + 4], 0x400b0000
    mov eax, 7
    cvtsi2sd xmm2, eax
    movsd [out], xmm2
    CHECK_EQ "sse2: cvtsi2sd 7", dword [out + 4], 0x401c0000
    cvttsd2si eax, [f_3_99]
    CHECK_EQ "sse2: cvttsd2si 3.99", eax, 3
    cvtsd2si eax, [f_2_5]
    CHECK_EQ "sse2: cvtsd2si 2.5 rounds to even", eax, 2
    cvtss2sd xmm3, [f_s1_5]
    movsd [out], xmm3
    CHECK_EQ "sse2: cvtss2sd 1.5", dword [out + 4], 0x3ff80000
    movdqa xmm4, [pi_a]
    paddd xmm4, [pi_b]
    movdqu [out], xmm4
    CHECK_EQ "sse2: paddd lane 0", dword [out], 6
    CHECK_EQ "sse2: paddd lane 3 wraps", dword [out + 12], 0x80000003
    pxor xmm5, xmm5
    pcmpeqd xmm5, xmm5
    movd eax, xmm5
    CHECK_EQ "sse2: pcmpeqd of equal registers", eax, 0xffffffff

.done:
    pop edi
    pop esi
    pop ebx
    ret
