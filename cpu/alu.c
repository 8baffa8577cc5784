/*
 * Integer arithmetic and logic: ADD ADC SUB SBB AND OR XOR CMP TEST,
 * INC DEC NEG NOT, the shifts and rotates (SHL/SAL SHR SAR ROL ROR RCL
 * RCR SHLD SHRD), MUL IMUL DIV IDIV, the BCD adjustments (DAA DAS AAA AAS
 * AAM AAD), the bit instructions (BT BTS BTR BTC BSF BSR BSWAP), SETcc,
 * CMOVcc, CMPXCHG, CMPXCHG8B, XADD and SALC.
 * SDM Vol. 1 §7.3.2-7.3.7, Vol. 2A/2B instruction pages.
 *
 * Results and flags come from running the same instruction on the host
 * at the same width (hostflags.h): exact flags, including the ones the
 * manual calls undefined, without a C re-derivation per instruction.
 * The BCD instructions are invalid in 64-bit mode, so they are computed
 * here from the SDM pseudo-code.
 *
 * One handler per operation: the width (8/16/32) comes from the decoded
 * operand size, and the HOST_* macros below generate the three widths of
 * each host instruction in one place.  LOCK changes nothing on one vCPU:
 * the decoder has already rejected LOCK where it is not allowed (#UD).
 *
 * Fault order (exception.h): operands are read first, memory is written
 * next, registers and EFLAGS last.
 */
#include "cpu/exception.h"
#include "cpu/hostflags.h"
#include "cpu/mem.h"
#include "cpu/operand.h"
#include "cpu/ops.h"

typedef uint32_t (*host2_fn)(unsigned size, uint32_t d, uint32_t s, uint32_t *fl);
typedef uint32_t (*host1_fn)(unsigned size, uint32_t d, uint32_t *fl);

/* ---- host instructions, three widths each ---------------------------- */

/* d = d OP s: ADD ADC SUB SBB AND OR XOR (CMP and TEST discard d). */
#define HOST2(fn, mn)                                                                   \
    static uint32_t fn(unsigned size, uint32_t a, uint32_t b, uint32_t *fl)             \
    {                                                                                   \
        uint64_t f = hf_in(*fl);                                                        \
        if (size == 1) {                                                                \
            uint8_t d = (uint8_t)a, s = (uint8_t)b;                                     \
            __asm__(HF_ASM(mn "b %[s], %[d]") : [d] "+q"(d), [f] "+r"(f) : [s] "q"(s)  \
                    : "cc");                                                            \
            a = d;                                                                      \
        } else if (size == 2) {                                                         \
            uint16_t d = (uint16_t)a, s = (uint16_t)b;                                  \
            __asm__(HF_ASM(mn "w %[s], %[d]") : [d] "+r"(d), [f] "+r"(f) : [s] "r"(s)  \
                    : "cc");                                                            \
            a = d;                                                                      \
        } else {                                                                        \
            __asm__(HF_ASM(mn "l %[s], %[d]") : [d] "+r"(a), [f] "+r"(f) : [s] "r"(b)  \
                    : "cc");                                                            \
        }                                                                               \
        *fl = hf_out(*fl, f);                                                           \
        return a;                                                                       \
    }

/* d = OP d: INC DEC NEG (NOT touches no flags but goes the same way). */
#define HOST1(fn, mn)                                                                   \
    static uint32_t fn(unsigned size, uint32_t a, uint32_t *fl)                         \
    {                                                                                   \
        uint64_t f = hf_in(*fl);                                                        \
        if (size == 1) {                                                                \
            uint8_t d = (uint8_t)a;                                                     \
            __asm__(HF_ASM(mn "b %[d]") : [d] "+q"(d), [f] "+r"(f) : : "cc");           \
            a = d;                                                                      \
        } else if (size == 2) {                                                         \
            uint16_t d = (uint16_t)a;                                                   \
            __asm__(HF_ASM(mn "w %[d]") : [d] "+r"(d), [f] "+r"(f) : : "cc");           \
            a = d;                                                                      \
        } else {                                                                        \
            __asm__(HF_ASM(mn "l %[d]") : [d] "+r"(a), [f] "+r"(f) : : "cc");           \
        }                                                                               \
        *fl = hf_out(*fl, f);                                                           \
        return a;                                                                       \
    }

/* d = d SHIFT cl.  The count goes in unmasked: the host masks it exactly
 * as the guest does (& 0x1f; RCL/RCR of 8/16 bits then mod 9/17). */
#define HOSTSH(fn, mn)                                                                  \
    static uint32_t fn(unsigned size, uint32_t a, uint32_t cnt, uint32_t *fl)           \
    {                                                                                   \
        uint64_t f = hf_in(*fl);                                                        \
        uint8_t c = (uint8_t)cnt;                                                       \
        if (size == 1) {                                                                \
            uint8_t d = (uint8_t)a;                                                     \
            __asm__(HF_ASM(mn "b %%cl, %[d]") : [d] "+q"(d), [f] "+r"(f) : "c"(c) : "cc"); \
            a = d;                                                                      \
        } else if (size == 2) {                                                         \
            uint16_t d = (uint16_t)a;                                                   \
            __asm__(HF_ASM(mn "w %%cl, %[d]") : [d] "+r"(d), [f] "+r"(f) : "c"(c) : "cc"); \
            a = d;                                                                      \
        } else {                                                                        \
            __asm__(HF_ASM(mn "l %%cl, %[d]") : [d] "+r"(a), [f] "+r"(f) : "c"(c) : "cc"); \
        }                                                                               \
        *fl = hf_out(*fl, f);                                                           \
        return a;                                                                       \
    }

/* 16/32-bit only (SHLD SHRD with a count; BT* BSF BSR IMUL r,r/m with s). */
#define HOST2W(fn, mn)                                                                  \
    static uint32_t fn(unsigned size, uint32_t a, uint32_t b, uint32_t *fl)             \
    {                                                                                   \
        uint64_t f = hf_in(*fl);                                                        \
        if (size == 2) {                                                                \
            uint16_t d = (uint16_t)a, s = (uint16_t)b;                                  \
            __asm__(HF_ASM(mn "w %[s], %[d]") : [d] "+r"(d), [f] "+r"(f) : [s] "r"(s)  \
                    : "cc");                                                            \
            a = d;                                                                      \
        } else {                                                                        \
            __asm__(HF_ASM(mn "l %[s], %[d]") : [d] "+r"(a), [f] "+r"(f) : [s] "r"(b)  \
                    : "cc");                                                            \
        }                                                                               \
        *fl = hf_out(*fl, f);                                                           \
        return a;                                                                       \
    }

#define HOSTDSH(fn, mn)                                                                 \
    static uint32_t fn(unsigned size, uint32_t a, uint32_t b, uint32_t cnt, uint32_t *fl) \
    {                                                                                   \
        uint64_t f = hf_in(*fl);                                                        \
        uint8_t c = (uint8_t)cnt;                                                       \
        if (size == 2) {                                                                \
            uint16_t d = (uint16_t)a, s = (uint16_t)b;                                  \
            __asm__(HF_ASM(mn "w %%cl, %[s], %[d]") : [d] "+r"(d), [f] "+r"(f)         \
                    : [s] "r"(s), "c"(c) : "cc");                                       \
            a = d;                                                                      \
        } else {                                                                        \
            __asm__(HF_ASM(mn "l %%cl, %[s], %[d]") : [d] "+r"(a), [f] "+r"(f)         \
                    : [s] "r"(b), "c"(c) : "cc");                                       \
        }                                                                               \
        *fl = hf_out(*fl, f);                                                           \
        return a;                                                                       \
    }

HOST2(host_add, "add")
HOST2(host_adc, "adc")
HOST2(host_sub, "sub")
HOST2(host_sbb, "sbb")
HOST2(host_and, "and")
HOST2(host_or, "or")
HOST2(host_xor, "xor")
HOST1(host_inc, "inc")
HOST1(host_dec, "dec")
HOST1(host_neg, "neg")
HOST1(host_not, "not")
HOSTSH(host_rol, "rol")
HOSTSH(host_ror, "ror")
HOSTSH(host_rcl, "rcl")
HOSTSH(host_rcr, "rcr")
HOSTSH(host_shl, "shl")
HOSTSH(host_shr, "shr")
HOSTSH(host_sar, "sar")
HOSTDSH(host_shld, "shld")
HOSTDSH(host_shrd, "shrd")
HOST2W(host_bt, "bt")
HOST2W(host_bts, "bts")
HOST2W(host_btr, "btr")
HOST2W(host_btc, "btc")
HOST2W(host_bsf, "bsf")
HOST2W(host_bsr, "bsr")
HOST2W(host_imul2, "imul")

/* ---- two-operand arithmetic and logic -------------------------------- */

static void binop(cpu_state *cpu, cpu_insn *in, host2_fn fn, bool store)
{
    unsigned size = op_size(in, 0);
    uint32_t a = op_read(cpu, in, 0);
    uint32_t b = op_read(cpu, in, 1);
    uint32_t fl = cpu->eflags;
    uint32_t r = fn(size, a, b, &fl);
    if (store)
        op_write(cpu, in, 0, r);
    cpu->eflags = fl;
}

#define BINOP(name, fn, store) \
    static void name(cpu_state *cpu, cpu_insn *in) { binop(cpu, in, fn, store); }
BINOP(op_add, host_add, true)
BINOP(op_adc, host_adc, true)
BINOP(op_sub, host_sub, true)
BINOP(op_sbb, host_sbb, true)
BINOP(op_and, host_and, true)
BINOP(op_or, host_or, true)
BINOP(op_xor, host_xor, true)
BINOP(op_cmp, host_sub, false)
BINOP(op_test, host_and, false)

static void unop(cpu_state *cpu, cpu_insn *in, host1_fn fn)
{
    uint32_t fl = cpu->eflags;
    uint32_t r = fn(op_size(in, 0), op_read(cpu, in, 0), &fl);
    op_write(cpu, in, 0, r);
    cpu->eflags = fl;
}

#define UNOP(name, fn) \
    static void name(cpu_state *cpu, cpu_insn *in) { unop(cpu, in, fn); }
UNOP(op_inc, host_inc)
UNOP(op_dec, host_dec)
UNOP(op_neg, host_neg)
UNOP(op_not, host_not)

/* ---- shifts and rotates ---------------------------------------------- */

/* The count is op 1: CL, an imm8, or the implicit 1 of D0/D1 (Zydis
 * gives that as a hidden immediate). */
static void shift(cpu_state *cpu, cpu_insn *in, host2_fn fn)
{
    unsigned size = op_size(in, 0);
    uint32_t a = op_read(cpu, in, 0);
    uint32_t cnt = op_read(cpu, in, 1) & 0xff;
    uint32_t fl = cpu->eflags;
    uint32_t r = fn(size, a, cnt, &fl);
    /* A masked count of 0 writes nothing back; a memory operand still
     * needs a writable page on hardware, which the write below checks. */
    op_write(cpu, in, 0, r);
    cpu->eflags = fl;
}

#define SHIFT(name, fn) \
    static void name(cpu_state *cpu, cpu_insn *in) { shift(cpu, in, fn); }
SHIFT(op_rol, host_rol)
SHIFT(op_ror, host_ror)
SHIFT(op_rcl, host_rcl)
SHIFT(op_rcr, host_rcr)
SHIFT(op_shl, host_shl)
SHIFT(op_shr, host_shr)
SHIFT(op_sar, host_sar)

/* SHLD/SHRD r/m, r, imm8|CL.  A 16-bit count above 16 is undefined in
 * the SDM; the host's answer is taken. */
static void dshift(cpu_state *cpu, cpu_insn *in, bool left)
{
    unsigned size = op_size(in, 0);
    uint32_t a = op_read(cpu, in, 0);
    uint32_t b = op_read(cpu, in, 1);
    uint32_t cnt = op_read(cpu, in, 2) & 0xff;
    uint32_t fl = cpu->eflags;
    uint32_t r = (left ? host_shld : host_shrd)(size, a, b, cnt, &fl);
    op_write(cpu, in, 0, r);
    cpu->eflags = fl;
}

static void op_shld(cpu_state *cpu, cpu_insn *in) { dshift(cpu, in, true); }
static void op_shrd(cpu_state *cpu, cpu_insn *in) { dshift(cpu, in, false); }

/* ---- multiply and divide --------------------------------------------- */


/*
 * MUL/IMUL r/m (one operand): AX = AL * src, DX:AX = AX * src,
 * EDX:EAX = EAX * src.  CF = OF = upper half significant; SF ZF AF PF
 * undefined (host's values).
 */
static void mul1(cpu_state *cpu, cpu_insn *in, bool sign)
{
    unsigned size = op_size(in, 0);
    uint32_t s = op_read(cpu, in, 0);
    uint64_t f = hf_in(cpu->eflags);
    uint32_t eax = cpu->regs[R_EAX], edx = cpu->regs[R_EDX];
    if (size == 1) {
        uint16_t ax = (uint16_t)eax & 0xff;
        uint8_t s8 = (uint8_t)s;
        if (sign)
            __asm__(HF_ASM("imulb %[s]") : "+a"(ax), [f] "+r"(f) : [s] "q"(s8) : "cc");
        else
            __asm__(HF_ASM("mulb %[s]") : "+a"(ax), [f] "+r"(f) : [s] "q"(s8) : "cc");
        eax = (eax & 0xffff0000u) | ax;
    } else if (size == 2) {
        uint16_t ax = (uint16_t)eax, dx, s16 = (uint16_t)s;
        if (sign)
            __asm__(HF_ASM("imulw %[s]") : "+a"(ax), "=d"(dx), [f] "+r"(f) : [s] "r"(s16) : "cc");
        else
            __asm__(HF_ASM("mulw %[s]") : "+a"(ax), "=d"(dx), [f] "+r"(f) : [s] "r"(s16) : "cc");
        eax = (eax & 0xffff0000u) | ax;
        edx = (edx & 0xffff0000u) | dx;
    } else {
        if (sign)
            __asm__(HF_ASM("imull %[s]") : "+a"(eax), "=d"(edx), [f] "+r"(f) : [s] "r"(s) : "cc");
        else
            __asm__(HF_ASM("mull %[s]") : "+a"(eax), "=d"(edx), [f] "+r"(f) : [s] "r"(s) : "cc");
    }
    cpu->regs[R_EAX] = eax;
    cpu->regs[R_EDX] = edx;
    cpu->eflags = hf_out(cpu->eflags, f);
}

static void op_mul(cpu_state *cpu, cpu_insn *in) { mul1(cpu, in, false); }

/* IMUL r/m; IMUL r, r/m; IMUL r, r/m, imm (the last two: truncated
 * product, CF = OF = truncation changed the signed value). */
static void op_imul(cpu_state *cpu, cpu_insn *in)
{
    if (in->z.operand_count_visible == 1) {
        mul1(cpu, in, true);
        return;
    }
    int src = in->z.operand_count_visible == 3 ? 1 : 0;
    unsigned size = op_size(in, 0);
    uint32_t a = op_read(cpu, in, src);
    uint32_t b = op_read(cpu, in, src + 1);
    uint32_t fl = cpu->eflags;
    uint32_t r = host_imul2(size, a, b, &fl);
    op_write(cpu, in, 0, r);
    cpu->eflags = fl;
}

/*
 * DIV/IDIV r/m: #DE when the divisor is 0 or the quotient does not fit
 * the destination (SDM Vol. 2A "DIV", "IDIV").  Checked here in C, so
 * the host division below can never trap (it would SIGFPE the monitor);
 * the host then gives the results and its undefined flags.
 */
static void div1(cpu_state *cpu, cpu_insn *in, bool sign)
{
    unsigned size = op_size(in, 0);
    uint32_t s = op_read(cpu, in, 0) & size_mask(size);
    uint32_t eax = cpu->regs[R_EAX], edx = cpu->regs[R_EDX];
    unsigned bits = size * 8;
    uint64_t dividend = size == 1 ? (eax & 0xffff)
                        : ((uint64_t)(edx & size_mask(size)) << bits) | (eax & size_mask(size));
    if (s == 0)
        cpu_fault(cpu, EXC_DE, 0);
    if (sign) {
        /* Sign-extend the 2*bits dividend and the divisor. */
        int64_t n = (int64_t)(dividend << (64 - 2 * bits)) >> (64 - 2 * bits);
        int64_t d = (int64_t)((uint64_t)s << (64 - bits)) >> (64 - bits);
        int64_t lo = -((int64_t)1 << (bits - 1)), hi = ((int64_t)1 << (bits - 1)) - 1;
        if (d == -1 ? (n == INT64_MIN || -n < lo || -n > hi) : (n / d < lo || n / d > hi))
            cpu_fault(cpu, EXC_DE, 0);
    } else if (dividend / s > size_mask(size)) {
        cpu_fault(cpu, EXC_DE, 0);
    }

    uint64_t f = hf_in(cpu->eflags);
    if (size == 1) {
        uint16_t ax = (uint16_t)eax;
        uint8_t s8 = (uint8_t)s;
        if (sign)
            __asm__(HF_ASM("idivb %[s]") : "+a"(ax), [f] "+r"(f) : [s] "q"(s8) : "cc");
        else
            __asm__(HF_ASM("divb %[s]") : "+a"(ax), [f] "+r"(f) : [s] "q"(s8) : "cc");
        eax = (eax & 0xffff0000u) | ax;
    } else if (size == 2) {
        uint16_t ax = (uint16_t)eax, dx = (uint16_t)edx, s16 = (uint16_t)s;
        if (sign)
            __asm__(HF_ASM("idivw %[s]") : "+a"(ax), "+d"(dx), [f] "+r"(f) : [s] "r"(s16) : "cc");
        else
            __asm__(HF_ASM("divw %[s]") : "+a"(ax), "+d"(dx), [f] "+r"(f) : [s] "r"(s16) : "cc");
        eax = (eax & 0xffff0000u) | ax;
        edx = (edx & 0xffff0000u) | dx;
    } else {
        if (sign)
            __asm__(HF_ASM("idivl %[s]") : "+a"(eax), "+d"(edx), [f] "+r"(f) : [s] "r"(s) : "cc");
        else
            __asm__(HF_ASM("divl %[s]") : "+a"(eax), "+d"(edx), [f] "+r"(f) : [s] "r"(s) : "cc");
    }
    cpu->regs[R_EAX] = eax;
    cpu->regs[R_EDX] = edx;
    cpu->eflags = hf_out(cpu->eflags, f);
}

static void op_div(cpu_state *cpu, cpu_insn *in) { div1(cpu, in, false); }
static void op_idiv(cpu_state *cpu, cpu_insn *in) { div1(cpu, in, true); }

/* ---- BCD adjustments (SDM Vol. 2A DAA DAS AAA AAS AAM AAD) ----------- */

/*
 * These are #UD on a 64-bit host, so they follow the SDM pseudo-code.
 * Flags the SDM leaves undefined: DAA/DAS OF, AAA/AAS OF SF ZF PF, AAM
 * OF AF CF are given a fixed, documented choice here — OF cleared, and
 * SF ZF PF from the final AL (what Bochs and QEMU also do for AAA/AAS
 * on recent CPUs).  AAD's flags are those of the 8-bit add it performs,
 * which is what hardware reports.
 */
static inline uint32_t szp8(uint8_t v)
{
    uint32_t f = 0;
    if (v == 0)
        f |= FL_ZF;
    if (v & 0x80)
        f |= FL_SF;
    if (!__builtin_parity(v))
        f |= FL_PF;
    return f;
}

static void set_al(cpu_state *cpu, uint8_t al)
{
    cpu->regs[R_EAX] = (cpu->regs[R_EAX] & ~0xffu) | al;
}

static void op_daa(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    uint32_t fl = cpu->eflags;
    uint8_t al = (uint8_t)cpu->regs[R_EAX], old_al = al;
    bool old_cf = fl & FL_CF, cf = false, af = false;
    if ((al & 0x0f) > 9 || (fl & FL_AF)) {
        cf = old_cf || al > 0xf9;
        al += 6;
        af = true;
    }
    if (old_al > 0x99 || old_cf) {
        al += 0x60;
        cf = true;
    } else {
        cf = false;
    }
    set_al(cpu, al);
    cpu->eflags = (fl & ~FL_ARITH) | szp8(al) | (cf ? FL_CF : 0) | (af ? FL_AF : 0);
}

static void op_das(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    uint32_t fl = cpu->eflags;
    uint8_t al = (uint8_t)cpu->regs[R_EAX], old_al = al;
    bool old_cf = fl & FL_CF, cf = false, af = false;
    if ((al & 0x0f) > 9 || (fl & FL_AF)) {
        cf = old_cf || al < 6;
        al -= 6;
        af = true;
    }
    if (old_al > 0x99 || old_cf) {
        al -= 0x60;
        cf = true;
    }
    set_al(cpu, al);
    cpu->eflags = (fl & ~FL_ARITH) | szp8(al) | (cf ? FL_CF : 0) | (af ? FL_AF : 0);
}

/* AAA/AAS: the modern form adjusts AX as a whole (AX + 106h), so a carry
 * out of AL reaches AH (SDM Vol. 2A "AAA"). */
static void aa_adjust(cpu_state *cpu, bool sub)
{
    uint32_t fl = cpu->eflags;
    uint16_t ax = (uint16_t)cpu->regs[R_EAX];
    bool adj = (ax & 0x0f) > 9 || (fl & FL_AF);
    if (adj)
        ax = sub ? (uint16_t)(((ax - 6) & 0xff) | (((ax >> 8) - 1 - ((ax & 0xff) < 6)) << 8))
                 : (uint16_t)(ax + 0x106);
    ax &= 0xff0f;
    cpu->regs[R_EAX] = (cpu->regs[R_EAX] & 0xffff0000u) | ax;
    cpu->eflags = (fl & ~FL_ARITH) | szp8((uint8_t)ax) | (adj ? FL_AF | FL_CF : 0);
}

static void op_aaa(cpu_state *cpu, cpu_insn *in) { (void)in; aa_adjust(cpu, false); }
static void op_aas(cpu_state *cpu, cpu_insn *in) { (void)in; aa_adjust(cpu, true); }

static void op_aam(cpu_state *cpu, cpu_insn *in)
{
    uint8_t base = (uint8_t)in->op[0].imm.value.u;
    if (base == 0)
        cpu_fault(cpu, EXC_DE, 0);
    uint8_t al = (uint8_t)cpu->regs[R_EAX];
    uint8_t ah = al / base;
    al %= base;
    cpu->regs[R_EAX] = (cpu->regs[R_EAX] & 0xffff0000u) | ((uint32_t)ah << 8) | al;
    cpu->eflags = (cpu->eflags & ~FL_ARITH) | szp8(al);
}

static void op_aad(cpu_state *cpu, cpu_insn *in)
{
    uint8_t base = (uint8_t)in->op[0].imm.value.u;
    uint32_t eax = cpu->regs[R_EAX];
    uint8_t prod = (uint8_t)(((eax >> 8) & 0xff) * base);
    uint32_t fl = cpu->eflags;
    uint8_t al = (uint8_t)host_add(1, eax & 0xff, prod, &fl);
    cpu->regs[R_EAX] = (eax & 0xffff0000u) | al;
    cpu->eflags = fl;
}

/* SALC (D6, undocumented): AL = CF ? FFh : 0, flags unchanged. */
static void op_salc(cpu_state *cpu, cpu_insn *in)
{
    (void)in;
    set_al(cpu, (cpu->eflags & FL_CF) ? 0xff : 0);
}

/* ---- bit instructions ------------------------------------------------ */

/*
 * BT/BTS/BTR/BTC.  With a register operand or an immediate offset the
 * offset is taken modulo the width.  With a memory operand and a
 * register offset the operand is a bit string: the offset is signed
 * (-2^15..2^15-1 or -2^31..2^31-1) and selects the word or dword at
 * EA + (offset >> 4) * 2 or EA + (offset >> 5) * 4, wrapped to the
 * address size (SDM Vol. 2A "BT", Table 3-2 note).
 */
static void bitop(cpu_state *cpu, cpu_insn *in, host2_fn fn, bool store)
{
    unsigned size = op_size(in, 0);
    unsigned bits = size * 8;
    uint32_t off = op_read(cpu, in, 1);
    uint32_t bit = off & (bits - 1);
    uint32_t fl = cpu->eflags;

    if (in->op[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
        uint32_t r = fn(size, cpu_reg_get(cpu, in->op[0].reg.value), bit, &fl);
        if (store)
            cpu_reg_set(cpu, in->op[0].reg.value, r);
        cpu->eflags = fl;
        return;
    }
    uint32_t ea = op_ea(cpu, in, 0);
    if (in->op[1].type == ZYDIS_OPERAND_TYPE_REGISTER) {
        int32_t soff = size == 2 ? (int16_t)off : (int32_t)off;
        ea += (uint32_t)((soff >> (size == 2 ? 4 : 5)) * (int32_t)size);
        if (in->addrsize == 2)
            ea &= 0xffff;
    }
    int seg = op_sreg(in, 0);
    uint32_t v = cpu_read(cpu, seg, ea, size);
    uint32_t r = fn(size, v, bit, &fl);
    if (store)
        cpu_write(cpu, seg, ea, r, size);
    cpu->eflags = fl;
}

static void op_bt(cpu_state *cpu, cpu_insn *in) { bitop(cpu, in, host_bt, false); }
static void op_bts(cpu_state *cpu, cpu_insn *in) { bitop(cpu, in, host_bts, true); }
static void op_btr(cpu_state *cpu, cpu_insn *in) { bitop(cpu, in, host_btr, true); }
static void op_btc(cpu_state *cpu, cpu_insn *in) { bitop(cpu, in, host_btc, true); }

/* BSF/BSR: a zero source sets ZF and leaves the destination unchanged
 * (AMD documents it, Intel CPUs do it): the host runs with the old value
 * preloaded, so whatever it does is what the guest sees. */
static void bitscan(cpu_state *cpu, cpu_insn *in, host2_fn fn)
{
    unsigned size = op_size(in, 0);
    uint32_t s = op_read(cpu, in, 1);
    uint32_t fl = cpu->eflags;
    uint32_t r = fn(size, cpu_reg_get(cpu, in->op[0].reg.value), s, &fl);
    cpu_reg_set(cpu, in->op[0].reg.value, r);
    cpu->eflags = fl;
}

static void op_bsf(cpu_state *cpu, cpu_insn *in) { bitscan(cpu, in, host_bsf); }
static void op_bsr(cpu_state *cpu, cpu_insn *in) { bitscan(cpu, in, host_bsr); }

/* BSWAP r32; with a 66 prefix the result is undefined in the SDM and is
 * 0 in the low word on Intel and AMD parts: model that. */
static void op_bswap(cpu_state *cpu, cpu_insn *in)
{
    ZydisRegister r = in->op[0].reg.value;
    uint32_t v = cpu_reg_get(cpu, r);
    cpu_reg_set(cpu, r, op_size(in, 0) == 2 ? 0 : __builtin_bswap32(v));
}

/* ---- conditionals ---------------------------------------------------- */

/* SETcc r/m8: the condition is the low nibble of the opcode (0F 90+cc). */
static void op_setcc(cpu_state *cpu, cpu_insn *in)
{
    op_write(cpu, in, 0, cpu_cond(cpu->eflags, in->z.opcode & 0x0f));
}

/* CMOVcc r, r/m (0F 40+cc): the source is read, and may fault, even
 * when the condition is false (SDM Vol. 2A "CMOVcc"). */
static void op_cmovcc(cpu_state *cpu, cpu_insn *in)
{
    uint32_t v = op_read(cpu, in, 1);
    if (cpu_cond(cpu->eflags, in->z.opcode & 0x0f))
        op_write(cpu, in, 0, v);
}

/* ---- exchanges ------------------------------------------------------- */

static ZydisRegister accumulator(unsigned size)
{
    return size == 1 ? ZYDIS_REGISTER_AL : size == 2 ? ZYDIS_REGISTER_AX : ZYDIS_REGISTER_EAX;
}

/*
 * CMPXCHG r/m, r: flags of CMP accumulator, dest.  Equal: dest = src.
 * Not equal: accumulator = dest, and a memory dest is written with its
 * own value — the locked cycle always writes (SDM Vol. 2A "CMPXCHG"), so
 * a read-only page faults either way.
 */
static void op_cmpxchg(cpu_state *cpu, cpu_insn *in)
{
    unsigned size = op_size(in, 0);
    ZydisRegister acc = accumulator(size);
    uint32_t d = op_read(cpu, in, 0);
    uint32_t s = op_read(cpu, in, 1);
    uint32_t fl = cpu->eflags;
    host_sub(size, cpu_reg_get(cpu, acc), d, &fl);
    bool eq = fl & FL_ZF;
    if (eq || in->op[0].type == ZYDIS_OPERAND_TYPE_MEMORY)
        op_write(cpu, in, 0, eq ? s : d);
    if (!eq)
        cpu_reg_set(cpu, acc, d);
    cpu->eflags = fl;
}

/* CMPXCHG8B m64: EDX:EAX against m64; equal: m64 = ECX:EBX, else
 * EDX:EAX = m64 (and the old value is written back).  Only ZF changes. */
static void op_cmpxchg8b(cpu_state *cpu, cpu_insn *in)
{
    if (in->op[0].type != ZYDIS_OPERAND_TYPE_MEMORY)
        cpu_fault(cpu, EXC_UD, 0);
    int seg = op_sreg(in, 0);
    uint32_t ea = op_ea(cpu, in, 0);
    uint64_t m = cpu_read64(cpu, seg, ea);
    uint64_t cmp = (uint64_t)cpu->regs[R_EDX] << 32 | cpu->regs[R_EAX];
    bool eq = m == cmp;
    cpu_write64(cpu, seg, ea, eq ? ((uint64_t)cpu->regs[R_ECX] << 32 | cpu->regs[R_EBX]) : m);
    if (!eq) {
        cpu->regs[R_EAX] = (uint32_t)m;
        cpu->regs[R_EDX] = (uint32_t)(m >> 32);
    }
    cpu->eflags = eq ? cpu->eflags | FL_ZF : cpu->eflags & ~FL_ZF;
}

/* XADD r/m, r: TEMP = SRC + DEST; SRC = DEST; DEST = TEMP.  With two
 * registers the destination is written last, so XADD EAX, EAX leaves
 * the sum. */
static void op_xadd(cpu_state *cpu, cpu_insn *in)
{
    unsigned size = op_size(in, 0);
    uint32_t d = op_read(cpu, in, 0);
    uint32_t s = op_read(cpu, in, 1);
    uint32_t fl = cpu->eflags;
    uint32_t sum = host_add(size, d, s, &fl);
    if (in->op[0].type == ZYDIS_OPERAND_TYPE_MEMORY) {
        op_write(cpu, in, 0, sum);
        op_write(cpu, in, 1, d);
    } else {
        op_write(cpu, in, 1, d);
        op_write(cpu, in, 0, sum);
    }
    cpu->eflags = fl;
}

/* ---- the family table ------------------------------------------------ */

#define ROW(m, h) { ZYDIS_MNEMONIC_##m, h, TR_IDENTICAL }

const cpu_op_row cpu_ops_alu[] = {
    ROW(ADD, op_add), ROW(ADC, op_adc), ROW(SUB, op_sub), ROW(SBB, op_sbb),
    ROW(AND, op_and), ROW(OR, op_or), ROW(XOR, op_xor), ROW(CMP, op_cmp),
    ROW(TEST, op_test),
    ROW(INC, op_inc), ROW(DEC, op_dec), ROW(NEG, op_neg), ROW(NOT, op_not),
    /* SAL (D0-D3 /6 as well as /4) decodes as SHL */
    ROW(ROL, op_rol), ROW(ROR, op_ror), ROW(RCL, op_rcl), ROW(RCR, op_rcr),
    ROW(SHL, op_shl), ROW(SHR, op_shr), ROW(SAR, op_sar),
    ROW(SHLD, op_shld), ROW(SHRD, op_shrd),
    ROW(MUL, op_mul), ROW(IMUL, op_imul), ROW(DIV, op_div), ROW(IDIV, op_idiv),
    /* BCD and SALC are #UD on the 64-bit host: the translator must call out */
    { ZYDIS_MNEMONIC_DAA, op_daa, TR_CALLOUT },
    { ZYDIS_MNEMONIC_DAS, op_das, TR_CALLOUT },
    { ZYDIS_MNEMONIC_AAA, op_aaa, TR_CALLOUT },
    { ZYDIS_MNEMONIC_AAS, op_aas, TR_CALLOUT },
    { ZYDIS_MNEMONIC_AAM, op_aam, TR_CALLOUT },
    { ZYDIS_MNEMONIC_AAD, op_aad, TR_CALLOUT },
    { ZYDIS_MNEMONIC_SALC, op_salc, TR_CALLOUT },
    ROW(BT, op_bt), ROW(BTS, op_bts), ROW(BTR, op_btr), ROW(BTC, op_btc),
    ROW(BSF, op_bsf), ROW(BSR, op_bsr), ROW(BSWAP, op_bswap),
    /* F3 0F BC/BD: an i686 without BMI1/ABM ignores the F3 and runs BSF/BSR
     * (compilers emit "rep bsf" as a TZCNT that old CPUs also run) */
    ROW(TZCNT, op_bsf), ROW(LZCNT, op_bsr),
    ROW(SETO, op_setcc), ROW(SETNO, op_setcc), ROW(SETB, op_setcc), ROW(SETNB, op_setcc),
    ROW(SETZ, op_setcc), ROW(SETNZ, op_setcc), ROW(SETBE, op_setcc), ROW(SETNBE, op_setcc),
    ROW(SETS, op_setcc), ROW(SETNS, op_setcc), ROW(SETP, op_setcc), ROW(SETNP, op_setcc),
    ROW(SETL, op_setcc), ROW(SETNL, op_setcc), ROW(SETLE, op_setcc), ROW(SETNLE, op_setcc),
    ROW(CMOVO, op_cmovcc), ROW(CMOVNO, op_cmovcc), ROW(CMOVB, op_cmovcc),
    ROW(CMOVNB, op_cmovcc), ROW(CMOVZ, op_cmovcc), ROW(CMOVNZ, op_cmovcc),
    ROW(CMOVBE, op_cmovcc), ROW(CMOVNBE, op_cmovcc), ROW(CMOVS, op_cmovcc),
    ROW(CMOVNS, op_cmovcc), ROW(CMOVP, op_cmovcc), ROW(CMOVNP, op_cmovcc),
    ROW(CMOVL, op_cmovcc), ROW(CMOVNL, op_cmovcc), ROW(CMOVLE, op_cmovcc),
    ROW(CMOVNLE, op_cmovcc),
    ROW(CMPXCHG, op_cmpxchg), ROW(CMPXCHG8B, op_cmpxchg8b), ROW(XADD, op_xadd),
    { ZYDIS_MNEMONIC_INVALID, NULL, TR_IDENTICAL },
};
