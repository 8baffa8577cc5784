/*
 * Translating one guest superblock: straight-line guest code up to an
 * unconditional control transfer, an instruction left to the interpreter
 * or the end of the page, going on through conditional branches (their
 * taken edges leave from out-of-line exits, or jump within the block).
 *
 * Register assignment inside translated code (DESIGN.md "Binary
 * translator"): guest EAX, ECX, EDX, EBX, EBP, ESI, EDI live in the low
 * halves of the same host registers, so most instructions keep their
 * register encoding; guest ESP lives in R12D, because host RSP must stay
 * a valid host stack for signals.  R13 points at the cpu_state, R15 at
 * the window (host address of guest linear 0), R14D holds a computed
 * guest effective address, R10 counts guest instructions (the engine's
 * cpu.stats.instructions, stored back on exit), R8-R9 are scratch.  Guest arithmetic flags
 * are the host's own flags.
 *
 * Each guest instruction is one of:
 *   identical  - re-encoded for 64-bit mode by Zydis: ESP renamed to R12D,
 *                a memory operand [ea] becomes  lea r14d,[ea] ; [r15+r14]
 *                (the 32-bit lea wraps exactly as the guest's address
 *                arithmetic does);
 *   rewritten  - near control flow and 32-bit push/pop: a short sequence
 *                that does the memory access first and updates R12D last,
 *                so a fault leaves the guest state as before the
 *                instruction;
 *   ends the block - anything else (privileged, sensitive, string, x87,
 *                segment overrides other than the flat ones, 16-bit
 *                address size, ...): the block stops before it and the
 *                interpreter executes it.
 */
#include "translator/translate.h"

#include <stddef.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/operand.h"
#include "cpu/ops.h"
#include "translator/fpu_live.h"

#define R_STATE  ZYDIS_REGISTER_R13
#define R_WINDOW ZYDIS_REGISTER_R15
#define R_EA     ZYDIS_REGISTER_R14
#define R_EA32   ZYDIS_REGISTER_R14D
#define R_T32    ZYDIS_REGISTER_R8D
#define R_ESP32  ZYDIS_REGISTER_R12D
#define R_ESP64  ZYDIS_REGISTER_R12
#define R_ICOUNT ZYDIS_REGISTER_R10

#define EIP_OFF ((int64_t)offsetof(cpu_state, eip))
#define EXIT_OFF ((int64_t)offsetof(cpu_state, tr_exit))

/* A 32-bit immediate as the encoder wants it: Zydis refuses values above
 * INT32_MAX for 32-bit operands, so pass the same bits sign-extended. */
static int64_t imm32(uint64_t v)
{
    return (int32_t)(uint32_t)v;
}

/* A conditional branch's taken edge, emitted out of line after the block
 * (its jcc jumps there; the fall-through goes on in line). */
typedef struct tr_side_exit {
    uint8_t *jcc_end;    /* writable address just past the jcc's rel32 */
    uint8_t *count;      /* a forward jcc's in-line count moves (TR_COUNT_BYTES each), or NULL */
    uint32_t target;
    uint8_t n;           /* guest instructions done when it is taken */
} tr_side_exit;

/* lea r10, [r10 + disp32]: a count move whose displacement is patched
 * once the block is known (4D 8D 92 disp32), and the 7-byte NOP that
 * replaces it when it is not needed. */
#define TR_COUNT_BYTES 7
static const uint8_t count_lea[3] = { 0x4d, 0x8d, 0x92 };
static const uint8_t nop7[TR_COUNT_BYTES] = { 0x0f, 0x1f, 0x80, 0, 0, 0, 0 };

/* What the exits of the block being translated need to know. */
typedef struct tr_ctx {
    tr_emit *e;
    const tr_stubs *stubs;
    tr_block *b;
    uint32_t block_id;
    unsigned n;          /* guest instructions done when the current one completes */
    bool probed;         /* the current instruction has probed already */
    unsigned nside;
    tr_side_exit side_exits[TR_MAX_BLOCK_INSNS];
    const uint8_t *code; /* the page's bytes from the block's first */
    unsigned off, avail; /* the current instruction's offset in the page's bytes, their end */
    unsigned follow;     /* RW_FOLLOW: the offset translation goes on at */
} tr_ctx;

/* Room an out-of-line exit may take (probe-free: the jcc probed in line). */
#define TR_SIDE_EXIT_BYTES 40
/* A guest register with no 64-bit host counterpart (16-bit addressing). */
#define TR_NO_HOST_REG ZYDIS_REGISTER_MAX_VALUE

/* Host 64-bit register holding a guest 32-bit register (address bases). */
static ZydisRegister host64(ZydisRegister r)
{
    if (r == ZYDIS_REGISTER_NONE)
        return r;
    if (r == ZYDIS_REGISTER_ESP)
        return R_ESP64;
    if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_EDI)
        return ZYDIS_REGISTER_RAX + (r - ZYDIS_REGISTER_EAX);
    return TR_NO_HOST_REG; /* 16-bit addressing: not translated */
}

/* A guest register operand as the host names it. */
static ZydisRegister host_reg(ZydisRegister r)
{
    switch (r) {
    case ZYDIS_REGISTER_ESP: return R_ESP32;
    case ZYDIS_REGISTER_SP: return ZYDIS_REGISTER_R12W;
    default: return r;
    }
}

static bool is_gpr(ZydisRegister r)
{
    return (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_BH) ||
           (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_DI) ||
           (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_EDI);
}

/* Segments a translated access may use: DS, SS and ES are flat whenever
 * a block runs; FS and GS (Linux's per-CPU data and user TLS) may have
 * any base, and a block using them runs only while their limit is 4 GiB
 * (the engine checks, tr_block.seg_mask). */
static bool flat_segment(ZydisRegister s)
{
    return s == ZYDIS_REGISTER_DS || s == ZYDIS_REGISTER_SS || s == ZYDIS_REGISTER_ES ||
           s == ZYDIS_REGISTER_NONE || s == ZYDIS_REGISTER_FS || s == ZYDIS_REGISTER_GS;
}

/* A host memory operand standing for a guest one: window + host address. */
typedef struct tr_hostmem {
    ZydisRegister index;  /* with base R15 */
    int32_t disp;
} tr_hostmem;

/* Displacements added to a register without wrapping it first: an access
 * whose 32-bit sum would wrap lands in a guard region instead (window.h),
 * faults, and the interpreter does it with the wrap. */
#define TR_DIRECT_DISP_MAX ((int64_t)(1 << 29))

/*
 * The host operand of a guest memory operand.  A lone register plus a
 * small displacement is used as it is (the register's upper half is zero:
 * every write to a guest register is a 32-bit or narrower one), saving
 * the lea; anything else goes through r14d = the wrapped 32-bit address.
 */
static bool emit_ea(tr_ctx *c, const ZydisDecodedOperandMem *m, tr_hostmem *out)
{
    tr_emit *e = c->e;
    ZydisRegister base = host64(m->base), index = host64(m->index);
    if (base == TR_NO_HOST_REG || index == TR_NO_HOST_REG)
        return false;
    bool seg_base = m->segment == ZYDIS_REGISTER_FS || m->segment == ZYDIS_REGISTER_GS;
    int64_t disp = (int32_t)m->disp.value;
    if (!seg_base && disp > -TR_DIRECT_DISP_MAX && disp < TR_DIRECT_DISP_MAX) {
        ZydisRegister lone = index == ZYDIS_REGISTER_NONE ? base :
                             base == ZYDIS_REGISTER_NONE && m->scale <= 1 ? index : TR_NO_HOST_REG;
        if (lone != TR_NO_HOST_REG && (lone != ZYDIS_REGISTER_NONE || disp >= 0)) {
            *out = (tr_hostmem){ .index = lone, .disp = (int32_t)disp };
            return true;
        }
    }
    if (base == ZYDIS_REGISTER_NONE && index == ZYDIS_REGISTER_NONE)
        emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(R_EA32), emit_imm(imm32(m->disp.value)));
    else
        emit2(e, ZYDIS_MNEMONIC_LEA, emit_reg(R_EA32),
              emit_mem(base, index, m->scale, (int32_t)m->disp.value, 8));
    if (seg_base) {
        /* linear = base + offset, wrapping at 4 GiB; the base is read at run
         * time, so the block survives segment reloads. */
        int sreg = m->segment == ZYDIS_REGISTER_FS ? S_FS : S_GS;
        emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(ZYDIS_REGISTER_R9D),
              emit_mem(R_STATE, ZYDIS_REGISTER_NONE, 0,
                       (int64_t)(offsetof(cpu_state, seg) + sreg * sizeof(cpu_segment) +
                                 offsetof(cpu_segment, base)), 4));
        emit2(e, ZYDIS_MNEMONIC_LEA, emit_reg(R_EA32),
              emit_mem(R_EA, ZYDIS_REGISTER_R9, 1, 0, 8));
        c->b->seg_mask |= sreg == S_FS ? TR_USES_FS : TR_USES_GS;
    }
    *out = (tr_hostmem){ .index = R_EA, .disp = 0 };
    return !e->failed;
}

static ZydisEncoderOperand host_mem(const tr_hostmem *h, unsigned size)
{
    return emit_mem(R_WINDOW, h->index == ZYDIS_REGISTER_NONE ? ZYDIS_REGISTER_NONE : h->index,
                    h->index == ZYDIS_REGISTER_NONE ? 0 : 1, h->disp, size);
}

/* The instruction count += n, without touching the flags (they are the
 * guest's).  R10 holds cpu.stats.instructions while translated code runs:
 * counting in memory made every loop iteration wait on a store-to-load
 * forwarding chain through the counter (~5 cycles). */
static void emit_count_by(tr_ctx *c, int n)
{
    emit2(c->e, ZYDIS_MNEMONIC_LEA, emit_reg(R_ICOUNT),
          emit_mem(R_ICOUNT, ZYDIS_REGISTER_NONE, 0, n, 8));
}

static void emit_count(tr_ctx *c)
{
    emit_count_by(c, (int)c->n);
}

/*
 * A direct exit to a known guest EIP:
 *       jmp stub          ; rel32 later patched to the target block (chaining)
 * stub: mov [eip], target ; mov [tr_exit], id ; jmp exit
 */
/*
 * The stop-request probe: mov r9, [r13 + tr_poll] ; mov r9b, [r9].  Chained
 * code runs until it reaches one, so every cycle of chained blocks must
 * hold one: chains stay within a page and a cycle there needs a branch
 * back to or before its block's start, so backward direct branches probe
 * (before the instruction changes anything: a stop there re-runs it), and
 * the indirect-branch lookup probes for everything else.  Blocks entered
 * from the dispatcher need none: it checks for stop requests itself.
 */
static void emit_probe(tr_ctx *c)
{
    emit_poll_probe(c->e, (int64_t)offsetof(cpu_state, tr_poll));
}

static bool backward(const tr_ctx *c, uint32_t target)
{
    return target <= c->b->eip;
}

static void emit_exit(tr_ctx *c, uint32_t target)
{
    tr_emit *e = c->e;
    tr_block *b = c->b;
    if (backward(c, target) && !c->probed)
        emit_probe(c);
    emit_count(c);
    if ((target ^ b->eip) & ~0xfffu) {
        /* Another page: its mapping may change under the chain, so the
         * branch goes through the indirect-branch cache, which the engine
         * flushes with the guest's TLB. */
        emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(R_T32), emit_imm(imm32(target)));
        emit_branch(e, ZYDIS_MNEMONIC_JMP, c->stubs->lookup);
        return;
    }
    if (b->nexits >= TR_MAX_EXITS) {
        /* no slot left to chain through: the indirect-branch cache */
        emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(R_T32), emit_imm(imm32(target)));
        emit_branch(e, ZYDIS_MNEMONIC_JMP, c->stubs->lookup);
        return;
    }
    uint8_t *site = e->p;
    emit_branch(e, ZYDIS_MNEMONIC_JMP, emit_rx_here(e) + 5);
    unsigned k = b->nexits++;
    b->exits[k] = (tr_exit_slot){ .patch_off = (uint16_t)(site + 1 - e->start), .target = target };
    emit2(e, ZYDIS_MNEMONIC_MOV, emit_mem(R_STATE, ZYDIS_REGISTER_NONE, 0, EIP_OFF, 4),
          emit_imm(imm32(target)));
    emit2(e, ZYDIS_MNEMONIC_MOV, emit_mem(R_STATE, ZYDIS_REGISTER_NONE, 0, EXIT_OFF, 4),
          emit_imm(imm32((c->block_id << TR_EXIT_BITS) | k)));
    emit_branch(e, ZYDIS_MNEMONIC_JMP, c->stubs->exit);
}

/* An indirect branch to the guest EIP in r8d: through the indirect-branch
 * cache, to the target block or out to the dispatcher. */
static void emit_exit_indirect(tr_ctx *c)
{
    emit_count(c);
    emit_branch(c->e, ZYDIS_MNEMONIC_JMP, c->stubs->lookup);
}

/* Fault-atomic 32-bit push of a host register or an immediate. */
static void emit_push(tr_emit *e, ZydisEncoderOperand value)
{
    emit2(e, ZYDIS_MNEMONIC_LEA, emit_reg(R_EA32), emit_mem(R_ESP64, ZYDIS_REGISTER_NONE, 0, -4, 8));
    emit2(e, ZYDIS_MNEMONIC_MOV, emit_mem(R_WINDOW, R_EA, 1, 0, 4), value);
    emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(R_ESP32), emit_reg(R_EA32));
}

/* r8d = the 32-bit value of a register or memory operand (a branch target). */
static bool emit_load_operand(tr_ctx *c, const ZydisDecodedOperand *o)
{
    tr_emit *e = c->e;
    if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
        if (o->reg.value < ZYDIS_REGISTER_EAX || o->reg.value > ZYDIS_REGISTER_EDI)
            return false;
        return emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(R_T32), emit_reg(host_reg(o->reg.value)));
    }
    if (o->type != ZYDIS_OPERAND_TYPE_MEMORY || !flat_segment(o->mem.segment) || o->size != 32)
        return false;
    tr_hostmem hm;
    return emit_ea(c, &o->mem, &hm) && emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(R_T32), host_mem(&hm, 4));
}

static bool is_relative_branch(const ZydisDecodedInstruction *z, const ZydisDecodedOperand *op)
{
    return z->operand_count_visible == 1 && op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
           op[0].imm.is_relative;
}

bool tr_identical_category(ZydisInstructionCategory c)
{
    switch (c) {
    case ZYDIS_CATEGORY_BINARY: case ZYDIS_CATEGORY_LOGICAL: case ZYDIS_CATEGORY_DATAXFER:
    case ZYDIS_CATEGORY_BITBYTE: case ZYDIS_CATEGORY_SHIFT: case ZYDIS_CATEGORY_ROTATE:
    case ZYDIS_CATEGORY_CMOV: case ZYDIS_CATEGORY_SETCC: case ZYDIS_CATEGORY_CONVERT:
    case ZYDIS_CATEGORY_NOP: case ZYDIS_CATEGORY_WIDENOP: case ZYDIS_CATEGORY_SEMAPHORE:
    case ZYDIS_CATEGORY_FLAGOP: case ZYDIS_CATEGORY_MISC:
        return true;
    default:
        return false;
    }
}


/* Can this instruction be copied?  (The translation-class column of the
 * instruction table, refined by what 64-bit mode can encode.) */
static bool can_copy(const ZydisDecodedInstruction *z, const ZydisDecodedOperand *op)
{
    const cpu_op_row *row = cpu_op_lookup(z->mnemonic);
    if (!row || row->tr_class != TR_IDENTICAL || !tr_identical_category(z->meta.category))
        return false;
    if (z->address_width != 32 || (z->attributes & ZYDIS_ATTRIB_HAS_SEGMENT_CS))
        return false;
    const ZydisAccessedFlags *f = z->cpu_flags;
    if (f && ((f->modified | f->set_0 | f->set_1 | f->undefined) & ~TR_COPYABLE_FLAGS))
        return false;
    unsigned mems = 0;
    for (unsigned i = 0; i < z->operand_count; i++) {
        const ZydisDecodedOperand *o = &op[i];
        bool hidden = i >= z->operand_count_visible;
        if (o->type == ZYDIS_OPERAND_TYPE_MEMORY) {
            if (hidden || !flat_segment(o->mem.segment))
                return false;
            if (o->mem.type == ZYDIS_MEMOP_TYPE_AGEN && z->mnemonic == ZYDIS_MNEMONIC_LEA)
                continue; /* address arithmetic only */
            if (o->mem.type != ZYDIS_MEMOP_TYPE_MEM)
                return false;
            mems++;
        } else if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
            ZydisRegister r = o->reg.value;
            if (r == ZYDIS_REGISTER_EFLAGS || r == ZYDIS_REGISTER_FLAGS)
                continue;
            if (!is_gpr(r) || (hidden && (r == ZYDIS_REGISTER_ESP || r == ZYDIS_REGISTER_SP)))
                return false;
        } else if (o->type == ZYDIS_OPERAND_TYPE_POINTER) {
            return false;
        }
    }
    return mems <= 1;
}

/*
 * AH, CH, DH and BH cannot be encoded next to a REX prefix, which every
 * rebased memory operand ([r15+...]) needs.  Such an instruction works on
 * R8B instead: the high byte is copied there first (xchg al,ah; mov
 * r8d,eax; xchg al,ah — no flags touched, nothing that can fault) and, if
 * the instruction writes it, copied back after it (xchg al,ah; mov al,r8b;
 * xchg al,ah).  A fault in the instruction itself leaves the guest's
 * registers as they were.  The index of the operand, or -1 if none.
 */
static int high_byte_operand(const ZydisDecodedInstruction *z, const ZydisDecodedOperand *op)
{
    int high = -1;
    bool mem = false;
    for (unsigned i = 0; i < z->operand_count_visible; i++) {
        if (op[i].type == ZYDIS_OPERAND_TYPE_MEMORY && op[i].mem.type == ZYDIS_MEMOP_TYPE_MEM)
            mem = true;
        else if (op[i].type == ZYDIS_OPERAND_TYPE_REGISTER && op[i].reg.value >= ZYDIS_REGISTER_AH &&
                 op[i].reg.value <= ZYDIS_REGISTER_BH)
            high = high < 0 ? (int)i : -2; /* two of them: not handled (-2) */
    }
    return mem ? high : -1;
}

static void emit_high_byte_swap(tr_emit *e, ZydisRegister high)
{
    emit2(e, ZYDIS_MNEMONIC_XCHG, emit_reg(high - 4), emit_reg(high)); /* AH -> AL, ... */
}

static bool emit_copy(tr_ctx *c, const ZydisDecodedInstruction *z, const ZydisDecodedOperand *op)
{
    tr_emit *e = c->e;
    ZydisEncoderRequest req;
    if (!ZYAN_SUCCESS(ZydisEncoderDecodedInstructionToEncoderRequest(z, op,
                                                                     z->operand_count_visible, &req)))
        return false;
    int high = high_byte_operand(z, op);
    if (high == -2)
        return false;
    ZydisRegister high_reg = high >= 0 ? op[high].reg.value : ZYDIS_REGISTER_NONE;
    if (high >= 0) {
        emit_high_byte_swap(e, high_reg);
        emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(R_T32),
              emit_reg(ZYDIS_REGISTER_EAX + (high_reg - ZYDIS_REGISTER_AH)));
        emit_high_byte_swap(e, high_reg);
    }
    bool lea = z->mnemonic == ZYDIS_MNEMONIC_LEA;
    for (unsigned i = 0; i < req.operand_count; i++) {
        ZydisEncoderOperand *o = &req.operands[i];
        if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
            o->reg.value = (int)i == high ? ZYDIS_REGISTER_R8B : host_reg(o->reg.value);
        } else if (o->type == ZYDIS_OPERAND_TYPE_MEMORY) {
            if (lea) {
                /* A 64-bit address computation truncated to the 32-bit
                 * destination is the guest's 32-bit wrap. */
                o->mem.base = host64(op[i].mem.base);
                o->mem.index = host64(op[i].mem.index);
                o->mem.displacement = (int32_t)op[i].mem.disp.value;
                o->mem.size = 8; /* Zydis sizes LEA's operand by the address width */
                if (o->mem.base == TR_NO_HOST_REG || o->mem.index == TR_NO_HOST_REG)
                    return false;
            } else {
                tr_hostmem hm;
                if (!emit_ea(c, &op[i].mem, &hm))
                    return false;
                o->mem.base = R_WINDOW;
                o->mem.index = hm.index;
                o->mem.scale = hm.index == ZYDIS_REGISTER_NONE ? 0 : 1;
                o->mem.displacement = hm.disp;
            }
        }
    }
    req.prefixes &= ~(ZYDIS_ATTRIB_HAS_SEGMENT | ZYDIS_ATTRIB_HAS_ADDRESSSIZE);
    req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_NONE;
    if (!emit_request(e, &req))
        return false;
    if (high >= 0 && (op[high].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) {
        emit_high_byte_swap(e, high_reg);
        emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(high_reg - 4), emit_reg(ZYDIS_REGISTER_R8B));
        emit_high_byte_swap(e, high_reg);
    }
    return !e->failed;
}

/* Rewritten instructions: near control flow (ends the block) and stack. */
enum rewrite { RW_NONE, RW_CONTINUE, RW_ENDS_BLOCK, RW_FOLLOW };

/*
 * String instructions run as the host's own, on host pointers: with the
 * window's base 4 GiB-aligned (window.h), rsi = r15 + esi is a host
 * pointer whose low half is still the guest's ESI, so whatever stops the
 * instruction — its end, a fault mid-way (the signal context holds the
 * progress), a retried shadow fill — leaves the guest registers exact,
 * and "mov esi, esi" takes the pointer back to the guest value.  ECX is
 * the count as it is; DF is the host's (engine.c keeps the guest's there).
 * An index that wraps past 4 GiB runs into a guard region and the
 * interpreter finishes the instruction.  Port strings stay interpreted.
 */
static enum rewrite emit_string(tr_ctx *c, const ZydisDecodedInstruction *z)
{
    static const struct { ZydisMnemonic m; uint8_t op; bool si, di; } forms[] = {
        { ZYDIS_MNEMONIC_MOVSB, 0xa4, true, true },  { ZYDIS_MNEMONIC_MOVSW, 0xa5, true, true },
        { ZYDIS_MNEMONIC_MOVSD, 0xa5, true, true },  { ZYDIS_MNEMONIC_CMPSB, 0xa6, true, true },
        { ZYDIS_MNEMONIC_CMPSW, 0xa7, true, true },  { ZYDIS_MNEMONIC_CMPSD, 0xa7, true, true },
        { ZYDIS_MNEMONIC_STOSB, 0xaa, false, true }, { ZYDIS_MNEMONIC_STOSW, 0xab, false, true },
        { ZYDIS_MNEMONIC_STOSD, 0xab, false, true }, { ZYDIS_MNEMONIC_LODSB, 0xac, true, false },
        { ZYDIS_MNEMONIC_LODSW, 0xad, true, false }, { ZYDIS_MNEMONIC_LODSD, 0xad, true, false },
        { ZYDIS_MNEMONIC_SCASB, 0xae, false, true }, { ZYDIS_MNEMONIC_SCASW, 0xaf, false, true },
        { ZYDIS_MNEMONIC_SCASD, 0xaf, false, true },
    };
    unsigned f = 0;
    while (f < sizeof(forms) / sizeof(forms[0]) && forms[f].m != z->mnemonic)
        f++;
    if (f == sizeof(forms) / sizeof(forms[0]) || z->address_width != 32)
        return RW_NONE;
    /* the source segment may be overridden: only to the flat ones */
    if (z->attributes & (ZYDIS_ATTRIB_HAS_SEGMENT_CS | ZYDIS_ATTRIB_HAS_SEGMENT_FS |
                         ZYDIS_ATTRIB_HAS_SEGMENT_GS))
        return RW_NONE;
    tr_emit *e = c->e;
    if (forms[f].si)
        emit2(e, ZYDIS_MNEMONIC_LEA, emit_reg(ZYDIS_REGISTER_RSI),
              emit_mem(R_WINDOW, ZYDIS_REGISTER_RSI, 1, 0, 8));
    if (forms[f].di)
        emit2(e, ZYDIS_MNEMONIC_LEA, emit_reg(ZYDIS_REGISTER_RDI),
              emit_mem(R_WINDOW, ZYDIS_REGISTER_RDI, 1, 0, 8));
    uint8_t insn[3];
    unsigned n = 0;
    if (z->operand_width == 16)
        insn[n++] = 0x66;
    if (z->attributes & ZYDIS_ATTRIB_HAS_REP)
        insn[n++] = 0xf3;
    else if (z->attributes & ZYDIS_ATTRIB_HAS_REPE)
        insn[n++] = 0xf3;
    else if (z->attributes & ZYDIS_ATTRIB_HAS_REPNE)
        insn[n++] = 0xf2;
    insn[n++] = forms[f].op;
    emit_bytes(e, insn, n);
    if (forms[f].si)
        emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(ZYDIS_REGISTER_ESI), emit_reg(ZYDIS_REGISTER_ESI));
    if (forms[f].di)
        emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(ZYDIS_REGISTER_EDI), emit_reg(ZYDIS_REGISTER_EDI));
    return RW_CONTINUE;
}

/* The instruction of this block that starts at guest eip, among the first
 * n translated; -1 if none. */
static int insn_at(const tr_ctx *c, uint32_t eip, unsigned n)
{
    uint32_t off = eip - c->b->eip;
    for (unsigned j = 0; j < n; j++)
        if (c->b->side[j].guest_off == off)
            return (int)j;
    return -1;
}

static uintptr_t insn_host_rx(const tr_ctx *c, int j)
{
    return (uintptr_t)(c->e->start + c->e->rx_delta) + c->b->side[j].host_off;
}

/* A branch back to instruction j of the block (a loop): probe for stop
 * requests, move R10 by the instructions it repeats (the count at j is
 * R10 + j), jump to j's host code. */
static void emit_branch_back(tr_ctx *c, ZydisMnemonic m, int j)
{
    emit_probe(c);
    emit_count_by(c, (int)c->n - j);
    emit_branch(c->e, m, insn_host_rx(c, j));
}

/*
 * Jcc rel: the block goes on through the fall-through edge (a superblock),
 * so a not-taken branch costs the host one not-taken jcc.
 *
 * A branch back into the block itself (a loop) jumps straight to the host
 * code of its target: it probes for stop requests first, like every
 * backward branch, and R10 moves by the instructions the jump skips back
 * over (the count at instruction j of a block is R10 + j), undone on the
 * fall-through.  lea leaves the guest's flags alone.
 *
 * Any other target leaves through an exit emitted after the block
 * (emit_side_exits); a backward one probes here in line, where a stop
 * re-runs the jcc with the side table naming it.  A forward one that
 * the block later reaches gets its count moves in line, around the jcc.
 */
static enum rewrite emit_jcc(tr_ctx *c, ZydisMnemonic m, uint32_t target)
{
    tr_emit *e = c->e;
    int j = target - c->b->eip < 0x1000u ? insn_at(c, target, c->n) : -1;
    if (j >= 0) {
        emit_branch_back(c, m, j);
        emit_count_by(c, j - (int)c->n); /* the fall-through: undone */
        return RW_CONTINUE;
    }
    if (c->nside == TR_MAX_BLOCK_INSNS)
        return RW_NONE;
    if (backward(c, target))
        emit_probe(c);
    /* A forward target in the page may turn out to be in the block: room
     * for its count moves around the jcc, so that the taken edge is one
     * host jcc (emit_side_exits patches them, or makes them NOPs). */
    uint32_t off = target - c->b->eip;
    uint8_t *count = NULL;
    if (off > c->off && off < c->avail) {
        count = e->p;
        emit_bytes(e, count_lea, 3);
        emit_bytes(e, nop7 + 3, 4);
    }
    emit_branch(e, m, emit_rx_here(e)); /* rel32 patched by emit_side_exits */
    uint8_t *jcc_end = e->p;
    if (count) {
        emit_bytes(e, count_lea, 3);
        emit_bytes(e, nop7 + 3, 4);
    }
    c->side_exits[c->nside++] = (tr_side_exit){ .jcc_end = jcc_end, .count = count,
                                                 .target = target, .n = (uint8_t)c->n };
    return e->failed ? RW_NONE : RW_CONTINUE;
}

/*
 * A direct jmp: back into the block, a jump to its target's host code
 * (probe and count as a loop's jcc); forward within the page, nothing at
 * all — translation goes on at the target (c->follow says where, and
 * R10 + i stays the count: i counts instructions in the order they run);
 * anywhere else, an exit.
 */
static enum rewrite emit_jmp(tr_ctx *c, uint32_t target)
{
    uint32_t off = target - c->b->eip;
    int j = off < 0x1000u ? insn_at(c, target, c->n) : -1;
    if (j >= 0) {
        emit_branch_back(c, ZYDIS_MNEMONIC_JMP, j);
        return RW_ENDS_BLOCK;
    }
    if (off > c->off && off < c->avail) {
        c->follow = off;
        return RW_FOLLOW;
    }
    emit_exit(c, target);
    return RW_ENDS_BLOCK;
}

/* The taken edges of the block's jccs, after its last exit: a target
 * inside the block (a forward branch over some of its instructions) is
 * reached directly, with R10 moved as in emit_jcc; any other is an exit. */
static void emit_side_exits(tr_ctx *c)
{
    tr_emit *e = c->e;
    unsigned ninsns = c->n;
    for (unsigned i = 0; i < c->nside; i++) {
        const tr_side_exit *x = &c->side_exits[i];
        int j = x->target - c->b->eip < 0x1000u ? insn_at(c, x->target, ninsns) : -1;
        uintptr_t to = j >= 0 && x->count ? insn_host_rx(c, j) : emit_rx_here(e);
        int32_t rel = (int32_t)((intptr_t)to - (intptr_t)(x->jcc_end + e->rx_delta));
        memcpy(x->jcc_end - 4, &rel, 4);
        if (x->count) {
            /* the moves around the jcc: R10 + j is the count at j */
            int32_t there = (int32_t)x->n - j, back = -there;
            if (j >= 0) {
                memcpy(x->count + 3, &there, 4);
                memcpy(x->jcc_end + 3, &back, 4);
                continue;
            }
            memcpy(x->count, nop7, TR_COUNT_BYTES);
            memcpy(x->jcc_end, nop7, TR_COUNT_BYTES);
        }
        if (j >= 0) {
            emit_count_by(c, (int)x->n - j);
            emit_branch(e, ZYDIS_MNEMONIC_JMP, insn_host_rx(c, j));
            continue;
        }
        c->n = x->n;
        c->probed = true;
        emit_exit(c, x->target);
    }
    c->n = ninsns;
}

/*
 * SSE and SSE2 instructions that neither read nor write MXCSR — moves,
 * logic, integer arithmetic, compares, shuffles, PMOVMSKB: what glibc's
 * string functions are made of — run as the host's own.  The guest's XMM
 * registers live in its FXSAVE image (cpu.fxsave, which the interpreter's
 * thunks load and store, cpu/fpu_thunk.c): the instruction's registers
 * are loaded into the same host XMM registers (scratch in translated
 * code: the trampolines are calls, and the C ABI keeps nothing in them),
 * the instruction runs with its memory operand rebased and GPRs renamed,
 * and the registers it writes are stored back.  A fault (a misaligned
 * 16-byte access, a page fault) comes before any store: fault-atomic.
 * Floating-point arithmetic and conversions (MXCSR: rounding, exception
 * masks and flags) and MMX (the x87 tag word) stay on the interpreter.  The block runs only while
 * SSE may execute (CR0.EM and CR0.TS clear, CR4.OSFXSR set: TR_USES_SSE).
 */
#define FX_XMM_OFF(n) ((int64_t)offsetof(cpu_state, fxsave) + 160 + 16 * (int64_t)(n))

/* The SSE/SSE2 instructions that do not depend on MXCSR (Zydis does not
 * list MXCSR among their operands, so the list is spelled out): moves,
 * bitwise logic, shuffles and unpacks, packed integer arithmetic. */
static bool sse_mxcsr_free(ZydisMnemonic m)
{
#define M(x) ZYDIS_MNEMONIC_##x
    static const ZydisMnemonic ok[] = {
        M(MOVAPS), M(MOVUPS), M(MOVAPD), M(MOVUPD), M(MOVDQA), M(MOVDQU), M(MOVD), M(MOVQ),
        M(MOVSS), M(MOVLPS), M(MOVHPS), M(MOVHLPS), M(MOVLHPS), M(MOVLPD), M(MOVHPD),
        M(MOVMSKPS), M(MOVMSKPD), M(MOVNTPS), M(MOVNTPD), M(MOVNTDQ),
        M(ANDPS), M(ANDNPS), M(ORPS), M(XORPS), M(ANDPD), M(ANDNPD), M(ORPD), M(XORPD),
        M(SHUFPS), M(SHUFPD), M(UNPCKHPS), M(UNPCKLPS), M(UNPCKHPD), M(UNPCKLPD),
        M(PAND), M(PANDN), M(POR), M(PXOR),
        M(PADDB), M(PADDW), M(PADDD), M(PADDQ), M(PADDSB), M(PADDSW), M(PADDUSB), M(PADDUSW),
        M(PSUBB), M(PSUBW), M(PSUBD), M(PSUBQ), M(PSUBSB), M(PSUBSW), M(PSUBUSB), M(PSUBUSW),
        M(PCMPEQB), M(PCMPEQW), M(PCMPEQD), M(PCMPGTB), M(PCMPGTW), M(PCMPGTD),
        M(PMADDWD), M(PMULHW), M(PMULLW), M(PMULHUW), M(PMULUDQ),
        M(PSLLW), M(PSLLD), M(PSLLQ), M(PSRLW), M(PSRLD), M(PSRLQ), M(PSRAW), M(PSRAD),
        M(PSLLDQ), M(PSRLDQ),
        M(PUNPCKHBW), M(PUNPCKHWD), M(PUNPCKHDQ), M(PUNPCKHQDQ),
        M(PUNPCKLBW), M(PUNPCKLWD), M(PUNPCKLDQ), M(PUNPCKLQDQ),
        M(PACKSSWB), M(PACKSSDW), M(PACKUSWB), M(PAVGB), M(PAVGW), M(PEXTRW), M(PINSRW),
        M(PMAXSW), M(PMAXUB), M(PMINSW), M(PMINUB), M(PMOVMSKB), M(PSADBW),
        M(PSHUFD), M(PSHUFHW), M(PSHUFLW),
    };
#undef M
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (ok[i] == m)
            return true;
    return false;
}

static bool sse_copyable(const ZydisDecodedInstruction *z, const ZydisDecodedOperand *op)
{
    const cpu_op_row *row = cpu_op_lookup(z->mnemonic);
    if (!sse_mxcsr_free(z->mnemonic) || !row || row->tr_class != TR_IDENTICAL ||
        z->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY ||
        z->address_width != 32 || (z->attributes & ZYDIS_ATTRIB_HAS_SEGMENT_CS))
        return false;
    const ZydisAccessedFlags *f = z->cpu_flags;
    if (f && ((f->modified | f->set_0 | f->set_1 | f->undefined) & ~TR_COPYABLE_FLAGS))
        return false;
    unsigned mems = 0, xmms = 0;
    for (unsigned i = 0; i < z->operand_count; i++) {
        const ZydisDecodedOperand *o = &op[i];
        bool hidden = i >= z->operand_count_visible;
        if (o->type == ZYDIS_OPERAND_TYPE_MEMORY) {
            if (hidden || o->mem.type != ZYDIS_MEMOP_TYPE_MEM || !flat_segment(o->mem.segment))
                return false;
            mems++;
        } else if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
            ZydisRegister r = o->reg.value;
            if (r >= ZYDIS_REGISTER_XMM0 && r <= ZYDIS_REGISTER_XMM7)
                xmms++;
            else if (!is_gpr(r) || hidden || r == ZYDIS_REGISTER_ESP || r == ZYDIS_REGISTER_SP)
                return false; /* MXCSR, MMX, or an implicit register */
        } else if (o->type != ZYDIS_OPERAND_TYPE_IMMEDIATE) {
            return false;
        }
    }
    return mems <= 1 && xmms > 0;
}

static enum rewrite emit_sse(tr_ctx *c, const ZydisDecodedInstruction *z,
                             const ZydisDecodedOperand *op)
{
    if (!sse_copyable(z, op))
        return RW_NONE;
    tr_emit *e = c->e;
    unsigned loaded = 0, written = 0;
    for (unsigned i = 0; i < z->operand_count_visible; i++) {
        if (op[i].type != ZYDIS_OPERAND_TYPE_REGISTER)
            continue;
        unsigned n = op[i].reg.value - ZYDIS_REGISTER_XMM0;
        if (n >= 8)
            continue;
        if (!(loaded & (1u << n)))
            emit2(e, ZYDIS_MNEMONIC_MOVDQU, emit_reg(ZYDIS_REGISTER_XMM0 + n),
                  emit_mem(R_STATE, ZYDIS_REGISTER_NONE, 0, FX_XMM_OFF(n), 16));
        loaded |= 1u << n;
        if (op[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)
            written |= 1u << n;
    }
    if (!emit_copy(c, z, op))
        return RW_NONE;
    for (unsigned n = 0; n < 8; n++)
        if (written & (1u << n))
            emit2(e, ZYDIS_MNEMONIC_MOVDQU,
                  emit_mem(R_STATE, ZYDIS_REGISTER_NONE, 0, FX_XMM_OFF(n), 16),
                  emit_reg(ZYDIS_REGISTER_XMM0 + n));
    c->b->seg_mask |= TR_USES_SSE;
    return e->failed ? RW_NONE : RW_CONTINUE;
}

/*
 * x87 instructions run as the host's own on the guest's registers, loaded
 * into the host FPU by the first one met and kept there until translated
 * code returns to C (fpu_live.h).  Those the interpreter runs natively
 * (cpu/fpu.c: arithmetic, loads and stores, compares, transcendentals)
 * then record the guest's last-instruction pointers; of the control
 * instructions, those that only read or write the live registers (FWAIT,
 * FLDCW, FNSTCW, FNSTSW) are copied too.  The rest — FNINIT, FNCLEX and
 * the environment loads and stores, whose formats depend on the guest's
 * mode — stay on the interpreter.  The block runs only while CR0.EM and
 * CR0.TS are clear (TR_USES_X87): no #NM to raise.
 */
static bool x87_operands_ok(const ZydisDecodedInstruction *z, const ZydisDecodedOperand *op)
{
    for (unsigned i = 0; i < z->operand_count; i++) {
        const ZydisDecodedOperand *o = &op[i];
        if (o->type == ZYDIS_OPERAND_TYPE_MEMORY) {
            if (i >= z->operand_count_visible || o->mem.type != ZYDIS_MEMOP_TYPE_MEM ||
                !flat_segment(o->mem.segment))
                return false;
        } else if (o->type == ZYDIS_OPERAND_TYPE_REGISTER) {
            ZydisRegister r = o->reg.value;
            if (!(r >= ZYDIS_REGISTER_ST0 && r <= ZYDIS_REGISTER_ST7) && r != ZYDIS_REGISTER_AX &&
                r != ZYDIS_REGISTER_X87CONTROL && r != ZYDIS_REGISTER_X87STATUS &&
                r != ZYDIS_REGISTER_X87TAG && r != ZYDIS_REGISTER_EFLAGS &&
                r != ZYDIS_REGISTER_FLAGS)
                return false;
        } else if (o->type != ZYDIS_OPERAND_TYPE_IMMEDIATE) {
            return false;
        }
    }
    return true;
}

static enum rewrite emit_x87(tr_ctx *c, const ZydisDecodedInstruction *z,
                             const ZydisDecodedOperand *op, uint32_t eip)
{
    bool control;
    switch (z->mnemonic) {
    case ZYDIS_MNEMONIC_FWAIT: case ZYDIS_MNEMONIC_FLDCW: case ZYDIS_MNEMONIC_FNSTCW:
    case ZYDIS_MNEMONIC_FNSTSW:
        control = true;
        break;
    default: {
        const cpu_op_row *row = cpu_op_lookup(z->mnemonic);
        if (!row || row->tr_class != TR_IDENTICAL || z->meta.isa_ext != ZYDIS_ISA_EXT_X87)
            return RW_NONE;
        control = false;
    }
    }
    if (z->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY || z->address_width != 32 ||
        (z->attributes & ZYDIS_ATTRIB_HAS_SEGMENT_CS) || !x87_operands_ok(z, op))
        return RW_NONE;
    tr_emit *e = c->e;
    fpu_live_emit_ensure(e, c->stubs->fpu_load);
    if (!emit_copy(c, z, op))
        return RW_NONE;
    if (!control) {
        /* FOP: the low 3 bits of the D8-DF opcode and the ModRM byte */
        const uint8_t *bytes = c->code + c->off + z->raw.prefix_count;
        uint16_t fop = (uint16_t)((bytes[0] & 7) << 8 | bytes[1]);
        ZydisRegister off = ZYDIS_REGISTER_NONE;
        int sreg = 0;
        for (unsigned i = 0; i < z->operand_count_visible; i++) {
            const ZydisDecodedOperandMem *m = &op[i].mem;
            if (op[i].type != ZYDIS_OPERAND_TYPE_MEMORY)
                continue;
            /* the offset again (the instruction changes no GPR it uses) */
            off = R_T32;
            if (m->base == ZYDIS_REGISTER_NONE && m->index == ZYDIS_REGISTER_NONE)
                emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(off), emit_imm(imm32(m->disp.value)));
            else
                emit2(e, ZYDIS_MNEMONIC_LEA, emit_reg(off),
                      emit_mem(host64(m->base), host64(m->index), m->scale,
                               (int32_t)m->disp.value, 8));
            sreg = cpu_sreg_index(m->segment);
            if (sreg < 0)
                sreg = S_DS;
        }
        fpu_live_emit_pointers(e, fop, eip, off, sreg);
    }
    c->b->seg_mask |= TR_USES_X87;
    return e->failed ? RW_NONE : RW_CONTINUE;
}

static enum rewrite emit_rewrite(tr_ctx *c, const ZydisDecodedInstruction *z,
                                 const ZydisDecodedOperand *op, uint32_t eip)
{
    tr_emit *e = c->e;
    uint32_t next = eip + z->length;
    bool op32 = z->operand_width == 32 && z->address_width == 32;
    switch (z->mnemonic) {
    case ZYDIS_MNEMONIC_JMP:
        if (z->meta.branch_type != ZYDIS_BRANCH_TYPE_SHORT && z->meta.branch_type != ZYDIS_BRANCH_TYPE_NEAR)
            return RW_NONE;
        if (is_relative_branch(z, op)) {
            if (z->operand_width != 32)
                return RW_NONE;
            return emit_jmp(c, next + (uint32_t)op[0].imm.value.s);
        }
        if (!op32 || !emit_load_operand(c, &op[0]))
            return RW_NONE;
        emit_exit_indirect(c);
        return RW_ENDS_BLOCK;
    case ZYDIS_MNEMONIC_CALL:
        if (z->meta.branch_type != ZYDIS_BRANCH_TYPE_NEAR || !op32)
            return RW_NONE;
        if (is_relative_branch(z, op)) {
            uint32_t target = next + (uint32_t)op[0].imm.value.s;
            if (backward(c, target)) {
                emit_probe(c); /* before the push: a stop re-runs the call */
                c->probed = true;
            }
            emit_push(e, emit_imm(imm32(next)));
            emit_exit(c, target);
            return RW_ENDS_BLOCK;
        }
        if (!emit_load_operand(c, &op[0]))
            return RW_NONE;
        emit_push(e, emit_imm(imm32(next)));
        emit_exit_indirect(c);
        return RW_ENDS_BLOCK;
    case ZYDIS_MNEMONIC_RET:
        if (z->meta.branch_type != ZYDIS_BRANCH_TYPE_NEAR || !op32)
            return RW_NONE;
        emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(R_EA32), emit_reg(R_ESP32));
        emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(R_T32), emit_mem(R_WINDOW, R_EA, 1, 0, 4));
        emit2(e, ZYDIS_MNEMONIC_LEA, emit_reg(R_ESP32),
              emit_mem(R_ESP64, ZYDIS_REGISTER_NONE, 0,
                       4 + (z->operand_count_visible ? (int64_t)op[0].imm.value.u : 0), 8));
        emit_exit_indirect(c);
        return RW_ENDS_BLOCK;
    case ZYDIS_MNEMONIC_PUSH:
        if (!op32 || z->operand_count_visible != 1)
            return RW_NONE;
        if (op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
            emit_push(e, emit_imm((int32_t)op[0].imm.value.s));
        } else {
            if (!emit_load_operand(c, &op[0]))
                return RW_NONE;
            emit_push(e, emit_reg(R_T32));
        }
        return RW_CONTINUE;
    case ZYDIS_MNEMONIC_LEAVE:
        /* ESP = EBP + 4 and EBP = [EBP], reading first. */
        if (z->operand_width != 32)
            return RW_NONE;
        emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(R_EA32), emit_reg(ZYDIS_REGISTER_EBP));
        emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(R_T32), emit_mem(R_WINDOW, R_EA, 1, 0, 4));
        emit2(e, ZYDIS_MNEMONIC_LEA, emit_reg(R_ESP32),
              emit_mem(ZYDIS_REGISTER_RBP, ZYDIS_REGISTER_NONE, 0, 4, 8));
        emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(ZYDIS_REGISTER_EBP), emit_reg(R_T32));
        return RW_CONTINUE;
    case ZYDIS_MNEMONIC_POP:
        if (!op32 || op[0].type != ZYDIS_OPERAND_TYPE_REGISTER || op[0].reg.value < ZYDIS_REGISTER_EAX ||
            op[0].reg.value > ZYDIS_REGISTER_EDI)
            return RW_NONE;
        emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(R_EA32), emit_reg(R_ESP32));
        emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(R_T32), emit_mem(R_WINDOW, R_EA, 1, 0, 4));
        emit2(e, ZYDIS_MNEMONIC_LEA, emit_reg(R_ESP32), emit_mem(R_ESP64, ZYDIS_REGISTER_NONE, 0, 4, 8));
        emit2(e, ZYDIS_MNEMONIC_MOV, emit_reg(host_reg(op[0].reg.value)), emit_reg(R_T32));
        return RW_CONTINUE;
    case ZYDIS_MNEMONIC_LFENCE: case ZYDIS_MNEMONIC_MFENCE: case ZYDIS_MNEMONIC_SFENCE:
    case ZYDIS_MNEMONIC_PAUSE:
        /* no guest-visible state: the host's own */
        return emit_copy(c, z, op) ? RW_CONTINUE : RW_NONE;
    case ZYDIS_MNEMONIC_CLD: case ZYDIS_MNEMONIC_STD:
        /* the host's DF is the guest's while translated code runs */
        return emit_copy(c, z, op) ? RW_CONTINUE : RW_NONE;
    default:
        if (z->meta.category == ZYDIS_CATEGORY_STRINGOP)
            return emit_string(c, z);
        if (z->meta.isa_ext == ZYDIS_ISA_EXT_SSE || z->meta.isa_ext == ZYDIS_ISA_EXT_SSE2)
            return emit_sse(c, z, op);
        if (z->meta.isa_ext == ZYDIS_ISA_EXT_X87 || z->mnemonic == ZYDIS_MNEMONIC_FWAIT)
            return emit_x87(c, z, op, eip);
        break;
    }
    if (z->meta.category == ZYDIS_CATEGORY_COND_BR && is_relative_branch(z, op) &&
        z->operand_width == 32 && z->mnemonic != ZYDIS_MNEMONIC_JCXZ &&
        z->mnemonic != ZYDIS_MNEMONIC_JECXZ && z->mnemonic != ZYDIS_MNEMONIC_LOOP &&
        z->mnemonic != ZYDIS_MNEMONIC_LOOPE && z->mnemonic != ZYDIS_MNEMONIC_LOOPNE)
        return emit_jcc(c, z->mnemonic, next + (uint32_t)op[0].imm.value.s);
    return RW_NONE;
}

unsigned tr_translate(tr_block *b, tr_emit *e, const uint8_t *code, unsigned avail, uint32_t eip,
                      uint32_t block_id, const tr_stubs *stubs, ZydisMnemonic *stop, tr_stats *st,
                      const tr_hot *hot, tr_trace_rec *rec)
{
    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    ZydisDecodedInstruction z;
    ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
    tr_ctx c = { .e = e, .stubs = stubs, .b = b, .block_id = block_id, .n = 0, .code = code };
    unsigned off = 0;
    bool ended_by_branch = false;
    b->eip = eip;
    b->nexits = 0;
    b->seg_mask = 0;

    while (c.n < TR_MAX_BLOCK_INSNS && off < avail) {
        if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, code + off, avail - off, &z, op))) {
            if (rec)
                rec->end = TR_END_DECODE;
            break; /* undefined, or runs into the next page: the interpreter decides */
        }
        if (tr_hot_is_hot(hot, b->paddr + off)) {
            *stop = z.mnemonic;
            if (rec)
                rec->end = TR_END_HOT;
            break;
        }
        if ((size_t)(e->end - e->p) < (c.nside + 1) * TR_SIDE_EXIT_BYTES + 512) {
            if (rec)
                rec->end = TR_END_LIMIT;
            break; /* keep room for the exits */
        }
        tr_emit before = *e;
        uint8_t exits_before = b->nexits;
        unsigned nside_before = c.nside;
        b->side[c.n] = (tr_side){ .guest_off = (uint16_t)off, .host_off = (uint16_t)emit_size(e) };
        c.n++;
        c.probed = false;
        c.off = off;
        c.avail = avail;
        enum rewrite rw = emit_rewrite(&c, &z, op, eip + off);
        if (rw == RW_NONE) {
            *e = before;
            b->nexits = exits_before;
            c.nside = nside_before;
            if (!can_copy(&z, op) || !emit_copy(&c, &z, op)) {
                *e = before;
                *stop = z.mnemonic;
                c.n--;
                if (rec)
                    rec->end = TR_END_INSN;
                break;
            }
        }
        if (e->failed) {
            *e = before;
            b->nexits = exits_before;
            c.nside = nside_before;
            *stop = z.mnemonic;
            c.n--;
            if (rec)
                rec->end = TR_END_EMIT;
            break;
        }
        if (rec)
            rec->how[c.n - 1] = rw == RW_NONE ? TR_HOW_IDENTICAL :
                                rw == RW_CONTINUE ? TR_HOW_REWRITTEN :
                                rw == RW_FOLLOW ? TR_HOW_FOLLOWED : TR_HOW_ENDS;
        if (rw == RW_NONE)
            st->insns_identical++;
        else
            st->insns_rewritten++;
        off = rw == RW_FOLLOW ? c.follow : off + z.length;
        if (rw == RW_ENDS_BLOCK) {
            ended_by_branch = true;
            if (rec)
                rec->end = TR_END_BRANCH;
            break;
        }
    }
    if (rec) {
        rec->end_off = (uint16_t)off;
        if (c.n == TR_MAX_BLOCK_INSNS && !ended_by_branch)
            rec->end = TR_END_LIMIT;
        else if (off >= avail && !ended_by_branch)
            rec->end = TR_END_PAGE;
        rec->tail_off = (uint16_t)emit_size(e);
    }
    if (c.n > 0 && !ended_by_branch)
        emit_exit(&c, eip + off);
    if (rec)
        rec->side_off = (uint16_t)emit_size(e);
    emit_side_exits(&c);
    if (e->failed)
        c.n = 0;
    b->ninsns = (uint16_t)c.n;
    return c.n;
}
