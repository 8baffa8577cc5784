/*
 * Trace mode: a translated block printed beside its guest code.
 *
 * For each block: its guest EIP and physical address, then per guest
 * instruction its address, bytes and disassembly, the class of its
 * translation with the reason, and the host instructions produced for it
 * (offsets from the block's first host byte); then the fall-through exit
 * and why the block ended.  translate.c records only small codes
 * (tr_trace_rec); the words are here, in tables, and the finer reasons
 * (which segment, which kind of branch, why an instruction cannot be
 * copied) are read back from the decoded instruction.
 *
 * docs/architecture.md "Trace mode" shows real output.
 */
#include "translator/trace.h"

#include <capstone/capstone.h>
#include <stddef.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/ops.h"

/* The class column, per enum tr_how. */
static const char *const how_label[] = {
    [TR_HOW_IDENTICAL] = "identical",
    [TR_HOW_REWRITTEN] = "rewritten",
    [TR_HOW_ENDS] = "rewritten",
    [TR_HOW_FOLLOWED] = "rewritten",
};

/* Why a block ended, per enum tr_end. */
static const char *const end_reason[] = {
    [TR_END_BRANCH] = "ends with its control transfer",
    [TR_END_INSN] = "ends block: interpreted",
    [TR_END_EMIT] = "ends block: the host encoder refused it (interpreted)",
    [TR_END_DECODE] = "ends block: undefined or crosses the page end (the interpreter decides)",
    [TR_END_PAGE] = "ends at the end of the guest page",
    [TR_END_LIMIT] = "ends at the block size limit",
    [TR_END_HOT] = "ends block: interpreted (it kept trapping: adaptive retranslation)",
};

/* Why a rewritten instruction is rewritten, by mnemonic and form. */
enum form { ANY, REL, INDIRECT };
static const struct rewrite_reason {
    ZydisMnemonic mnemonic;
    enum form form;
    const char *why;
} rewrite_reasons[] = {
    { ZYDIS_MNEMONIC_JMP, REL, "direct jump: exit to the target (chained within the page, else through the indirect-branch cache)" },
    { ZYDIS_MNEMONIC_JMP, INDIRECT,
      "indirect jump: target loaded into r8d, through the indirect-branch cache" },
    { ZYDIS_MNEMONIC_CALL, REL,
      "near call pushes the return address (fault-atomic), exit to the target (chainable)" },
    { ZYDIS_MNEMONIC_CALL, INDIRECT,
      "indirect near call pushes the return address (fault-atomic), through the indirect-branch cache" },
    { ZYDIS_MNEMONIC_RET, ANY,
      "near return pops the target (fault-atomic), through the indirect-branch cache" },
    { ZYDIS_MNEMONIC_PUSH, ANY,
      "push stores below ESP first, updates ESP (R12D) last (fault-atomic)" },
    { ZYDIS_MNEMONIC_POP, ANY, "pop loads first, updates ESP (R12D) last (fault-atomic)" },
    { ZYDIS_MNEMONIC_LEAVE, ANY,
      "leave reads [EBP] before changing ESP and EBP (fault-atomic)" },
};
static const char cond_branch_reason[] =
    "conditional branch: the block goes on through the fall-through; the taken edge jumps "
    "within the block or leaves out of line (chainable)";

/* Why an instruction of the table's rewritten class was not rewritten. */
static const char *const rewrite_missing[] = {
    "string instruction with a CS/FS/GS source or 16-bit addressing",
    "far control transfer: segment checks",
    "sensitive: reads or writes system flags (IF, TF, IOPL, ...)",
    "16-bit operand or address size",
    "no rewrite for this form (memory destination, loop, jecxz, ...)",
};

/* Why an instruction the table calls innocuous was still not copied. */
static const char *const copy_refusal[] = {
    "16-bit addressing has no 64-bit form",
    "CS override",
    "reads or writes system flags (IF, TF, AC, ...)",
    "not a plain integer instruction (x87, SSE, system or I/O category)",
    "segment, control, debug or x87 register operand, or an implicit stack access",
    "not encodable in 64-bit mode",
};

static bool is_gpr(ZydisRegister r)
{
    return (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_BH) ||
           (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_DI) ||
           (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_EDI) ||
           r == ZYDIS_REGISTER_EFLAGS || r == ZYDIS_REGISTER_FLAGS;
}

/* The reason the block stopped before z (TR_END_INSN). */
static void print_stop_reason(FILE *out, const ZydisDecodedInstruction *z,
                              const ZydisDecodedOperand *op)
{
    const cpu_op_row *row = cpu_op_lookup(z->mnemonic);
    if (!row) {
        fprintf(out, "no handler, the interpreter raises #UD");
        return;
    }
    if (row->tr_class == TR_CALLOUT) {
        fprintf(out, "privileged or sensitive: the instruction table's callout class");
        return;
    }
    const ZydisAccessedFlags *f = z->cpu_flags;
    bool system_flags = f && ((f->tested | f->modified | f->set_0 | f->set_1 | f->undefined) &
                              ~TR_COPYABLE_FLAGS);
    if (row->tr_class == TR_REWRITTEN) {
        unsigned r = 4;
        if (z->meta.category == ZYDIS_CATEGORY_STRINGOP)
            r = 0;
        else if (z->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
            r = 1;
        else if (system_flags)
            r = 2;
        else if (z->operand_width != 32 || z->address_width != 32)
            r = 3;
        fprintf(out, "%s", rewrite_missing[r]);
        return;
    }
    unsigned k = 5;
    if (z->address_width != 32)
        k = 0;
    else if (z->attributes & ZYDIS_ATTRIB_HAS_SEGMENT_CS)
        k = 1;
    else if (system_flags)
        k = 2;
    else if (!tr_identical_category(z->meta.category))
        k = 3;
    for (unsigned i = 0; k == 5 && i < z->operand_count; i++) {
        bool hidden = i >= z->operand_count_visible;
        if ((op[i].type == ZYDIS_OPERAND_TYPE_REGISTER && !is_gpr(op[i].reg.value)) ||
            (hidden && op[i].type == ZYDIS_OPERAND_TYPE_MEMORY))
            k = 4;
    }
    fprintf(out, "%s", copy_refusal[k]);
}

/* The reason column of a translated instruction. */
static void print_reason(FILE *out, enum tr_how how, const ZydisDecodedInstruction *z,
                         const ZydisDecodedOperand *op)
{
    fprintf(out, "%s: ", how_label[how]);
    if (how == TR_HOW_FOLLOWED) {
        fprintf(out, "direct jump forward in the page: the block goes on at its target (no host code)");
        return;
    }
    if (how != TR_HOW_IDENTICAL) {
        if (z->meta.category == ZYDIS_CATEGORY_COND_BR) {
            fprintf(out, "%s", cond_branch_reason);
            return;
        }
        bool rel = z->operand_count_visible == 1 && op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
                   op[0].imm.is_relative;
        if (z->meta.isa_ext == ZYDIS_ISA_EXT_X87 || z->mnemonic == ZYDIS_MNEMONIC_FWAIT) {
            const cpu_op_row *row = cpu_op_lookup(z->mnemonic);
            fprintf(out, "x87 on the guest's registers in the host FPU (loaded by the first x87 "
                         "instruction, saved on the way back to C)%s",
                    row && row->tr_class == TR_IDENTICAL
                        ? "; then the guest's last-instruction pointers" : "");
            return;
        }
        if (z->meta.isa_ext == ZYDIS_ISA_EXT_SSE || z->meta.isa_ext == ZYDIS_ISA_EXT_SSE2) {
            fprintf(out, "SSE on the guest's XMM registers, loaded from and stored to its FXSAVE "
                         "image");
            return;
        }
        for (size_t i = 0; i < sizeof(rewrite_reasons) / sizeof(rewrite_reasons[0]); i++) {
            const struct rewrite_reason *r = &rewrite_reasons[i];
            if (r->mnemonic == z->mnemonic &&
                (r->form == ANY || (r->form == REL) == rel)) {
                fprintf(out, "%s", r->why);
                return;
            }
        }
        fprintf(out, "%s", ZydisMnemonicGetString(z->mnemonic));
        return;
    }
    const char *seg = NULL;
    bool mem = false, esp = false;
    for (unsigned i = 0; i < z->operand_count_visible; i++) {
        if (op[i].type == ZYDIS_OPERAND_TYPE_MEMORY) {
            if (op[i].mem.base == ZYDIS_REGISTER_ESP || op[i].mem.index == ZYDIS_REGISTER_ESP)
                esp = true;
            if (z->mnemonic == ZYDIS_MNEMONIC_LEA)
                continue;
            mem = true;
            if (op[i].mem.segment == ZYDIS_REGISTER_FS)
                seg = "FS";
            else if (op[i].mem.segment == ZYDIS_REGISTER_GS)
                seg = "GS";
        } else if (op[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
                   (op[i].reg.value == ZYDIS_REGISTER_ESP || op[i].reg.value == ZYDIS_REGISTER_SP)) {
            esp = true;
        }
    }
    if (!mem && !esp)
        fprintf(out, "same encoding, registers kept");
    if (esp)
        fprintf(out, "ESP renamed to R12D%s", mem ? "; " : "");
    if (mem)
        fprintf(out, "memory operand rebased onto the window (r15)");
    if (seg)
        fprintf(out, ", segment base added (%s)", seg);
}

/* The cpu_state fields translated code addresses through R13, named in
 * the host listing. */
static const struct state_field {
    size_t off;
    const char *name;
} state_fields[] = {
    { offsetof(cpu_state, eip), "cpu.eip" },
    { offsetof(cpu_state, tr_exit), "cpu.tr_exit: the exit taken" },
    { offsetof(cpu_state, stats.instructions), "cpu.stats.instructions" },
    { offsetof(cpu_state, tr_poll), "cpu.tr_poll: the stop-request probe" },
    { offsetof(cpu_state, tr_fpu.live), "cpu.tr_fpu.live: guest FPU registers loaded" },
    { offsetof(cpu_state, tr_fpu.ptrs) + 6, "guest x87 FOP" },
    { offsetof(cpu_state, tr_fpu.ptrs) + 8, "guest x87 FIP" },
    { offsetof(cpu_state, tr_fpu.ptrs) + 16, "guest x87 FDP" },
    { offsetof(cpu_state, tr_fpu.ip_set), "FCS := CS selector" },
    { offsetof(cpu_state, tr_fpu.dp_sreg), "FDS := selector of segment n - 1" },
    { offsetof(cpu_state, seg) + S_FS * sizeof(cpu_segment) + offsetof(cpu_segment, base),
      "FS base" },
    { offsetof(cpu_state, seg) + S_GS * sizeof(cpu_segment) + offsetof(cpu_segment, base),
      "GS base" },
};

/* A note on a host instruction: what its R13-relative operand is. */
static const char *state_note(const cs_insn *hi)
{
    const cs_x86 *x = &hi->detail->x86;
    for (unsigned i = 0; i < x->op_count; i++) {
        if (x->operands[i].type != X86_OP_MEM || x->operands[i].mem.base != X86_REG_R13)
            continue;
        for (size_t k = 0; k < sizeof(state_fields) / sizeof(state_fields[0]); k++)
            if ((int64_t)state_fields[k].off == x->operands[i].mem.disp)
                return state_fields[k].name;
    }
    return NULL;
}

/* Host code [from, to) of the block, one instruction a line.  Addresses
 * are offsets from the block's first host byte; a jump out of the block
 * is named by its target. */
static void print_host(FILE *out, csh cs, const tr_block *b, unsigned from, unsigned to,
                       const tr_stubs *stubs)
{
    if (to <= from)
        return;
    cs_insn *hi;
    size_t n = cs_disasm(cs, b->code + from, to - from, from, 0, &hi);
    for (size_t i = 0; i < n; i++) {
        unsigned off = (unsigned)hi[i].address;
        char bytes[3 * 16 + 1] = "", ops[160];
        for (unsigned j = 0; j < hi[i].size && j < 10; j++)
            snprintf(bytes + 3 * j, sizeof(bytes) - 3 * j, "%02x ", hi[i].bytes[j]);
        snprintf(ops, sizeof(ops), "%s", hi[i].op_str);
        const cs_x86 *x = &hi[i].detail->x86;
        bool branch = cs_insn_group(cs, &hi[i], CS_GRP_JUMP) || cs_insn_group(cs, &hi[i], CS_GRP_CALL);
        const char *note = NULL;
        if (branch && x->op_count == 1 && x->operands[0].type == X86_OP_IMM) {
            uint64_t rel = (uint64_t)x->operands[0].imm;
            if ((uintptr_t)b->code + rel == stubs->exit)
                snprintf(ops, sizeof(ops), "<exit trampoline>");
            else if ((uintptr_t)b->code + rel == stubs->lookup)
                snprintf(ops, sizeof(ops), "<indirect-branch cache lookup>");
            else if ((uintptr_t)b->code + rel == stubs->fpu_load)
                snprintf(ops, sizeof(ops), "<load the guest's FPU registers>");
            else if (rel < b->code_len)
                snprintf(ops, sizeof(ops), "+%03x", (unsigned)rel);
        } else {
            note = state_note(&hi[i]);
        }
        fprintf(out, "              +%03x  %-30s %s %s", off, bytes, hi[i].mnemonic, ops);
        if (note)
            fprintf(out, "   ; %s", note);
        for (unsigned k = 0; k < b->nexits; k++)
            if (off + 1 == b->exits[k].patch_off)
                fprintf(out, "   ; exit %u to %08x, patched when chained", k, b->exits[k].target);
        fprintf(out, "\n");
    }
    if (n)
        cs_free(hi, n);
    else
        fprintf(out, "              +%03x  (not disassembled)\n", from);
}

/* A guest instruction's address, bytes and Intel-syntax text. */
static void print_guest(FILE *out, const ZydisFormatter *fmt, uint32_t eip, const uint8_t *bytes,
                        const ZydisDecodedInstruction *z, const ZydisDecodedOperand *op)
{
    char hex[3 * 15 + 1] = "", text[96];
    for (unsigned j = 0; j < z->length; j++)
        snprintf(hex + 3 * j, sizeof(hex) - 3 * j, "%02x ", bytes[j]);
    if (!ZYAN_SUCCESS(ZydisFormatterFormatInstruction(fmt, z, op, z->operand_count_visible, text,
                                                      sizeof(text), eip, NULL)))
        snprintf(text, sizeof(text), "?");
    fprintf(out, "  %08x  %-24s %s\n", eip, hex, text);
}

void tr_trace_block(FILE *out, const tr_block *b, const uint8_t *guest, unsigned avail,
                    const tr_trace_rec *rec, const tr_stubs *stubs)
{
    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    ZydisFormatter fmt;
    ZydisFormatterInit(&fmt, ZYDIS_FORMATTER_STYLE_INTEL);
    csh cs;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
        fprintf(out, "trace: capstone unavailable\n");
        return;
    }
    cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
    ZydisDecodedInstruction z;
    ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];

    if (b->ninsns == 0)
        fprintf(out, "block eip=%08x paddr=%08x: not translated\n", b->eip, b->paddr);
    else
        fprintf(out, "block eip=%08x paddr=%08x: %u guest insns, %u host bytes at code cache +%#lx\n",
                b->eip, b->paddr, b->ninsns, b->code_len,
                (unsigned long)((uintptr_t)b->code - stubs->cache));
    unsigned off = 0;
    for (unsigned i = 0; i < b->ninsns; i++) {
        off = b->side[i].guest_off;
        if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, guest + off, avail - off, &z, op)))
            break; /* it decoded when translated: the bytes changed since */
        print_guest(out, &fmt, b->eip + off, guest + off, &z, op);
        fprintf(out, "            ");
        print_reason(out, (enum tr_how)rec->how[i], &z, op);
        fprintf(out, "\n");
        unsigned end = i + 1 < b->ninsns ? b->side[i + 1].host_off : rec->tail_off;
        print_host(out, cs, b, b->side[i].host_off, end, stubs);
    }
    off = rec->end_off; /* after the last instruction, or the target of a followed jmp */
    if (b->ninsns && rec->tail_off < rec->side_off) {
        fprintf(out, "  fall-through exit to %08x\n", b->eip + off);
        print_host(out, cs, b, rec->tail_off, rec->side_off, stubs);
    }
    if (b->ninsns && rec->side_off < b->code_len) {
        fprintf(out, "  taken edges of the conditional branches (out of line)\n");
        print_host(out, cs, b, rec->side_off, b->code_len, stubs);
    }
    if (rec->end == TR_END_INSN || rec->end == TR_END_EMIT || rec->end == TR_END_HOT) {
        if (ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, guest + off, avail - off, &z, op))) {
            print_guest(out, &fmt, b->eip + off, guest + off, &z, op);
            fprintf(out, "            %s", end_reason[rec->end]);
            if (rec->end == TR_END_INSN) {
                fprintf(out, " (");
                print_stop_reason(out, &z, op);
                fprintf(out, ")");
            }
            fprintf(out, "\n");
        }
    } else if (rec->end != TR_END_BRANCH) {
        fprintf(out, "  %08x  %s\n", b->eip + off, end_reason[rec->end]);
    }
    fprintf(out, "\n");
    cs_close(&cs);
}
