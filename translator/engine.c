/*
 * The translator's execution engine: block lookup, entering and leaving
 * translated code, host faults in translated code, and the hand-offs to
 * the interpreter.
 *
 * Flow of tr_exec(): between blocks it takes interrupts and requests like
 * the interpreter (it calls cpu_exec for one step when anything is
 * pending, or when the CPU is in a mode translated code does not cover).
 * Otherwise it finds or translates the block at EIP and enters it through
 * the "enter" trampoline, which loads the guest registers and arithmetic
 * flags into host registers; the block ends by storing the next EIP and
 * jumping to the "exit" trampoline, which stores them back.
 *
 * A host fault (SIGSEGV, SIGBUS, SIGFPE, SIGILL) in translated code is a
 * guest event: the side table names the guest instruction, the signal
 * context gives its registers, and a siglongjmp returns here, where the
 * interpreter executes that one instruction — raising #PF/#GP/#DE/#UD,
 * or doing an MMIO access, or a write to a page holding translations
 * (which invalidates them) — and translated execution resumes.
 *
 * Covered: 32-bit protected mode with flat CS/DS/ES/SS, with or without
 * paging.  Without paging, blocks run in the flat window (guest RAM at its
 * physical addresses); with paging, in the shadow windows of mmu/shadow.h
 * — a host fault there is first a shadow miss, filled in the signal
 * handler and retried, and only becomes a guest event when the guest's
 * tables refuse the access or it must be emulated.
 */
#define _GNU_SOURCE
#include "translator/tr.h"

#include <errno.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "cpu/interp.h"
#include "mmu/paging.h"
#include "mmu/shadow.h"
#include "mmu/window.h"
#include "translator/block.h"
#include "translator/codecache.h"
#include "translator/emit.h"
#include "translator/fpu_live.h"
#include "translator/hot.h"
#include "translator/jcache.h"
#include "translator/translate.h"
#include "translator/trace.h"

#define CODE_CACHE_SIZE (64u << 20)
#define HASH_BITS 18
#define MAX_BLOCKS (1u << 17)
#define MAX_BLOCK_HOST_BYTES 4096
#define TR_KICK_NS 1000000 /* 1 ms, the PIT's usual tick */
#define TR_KICK_SIGNAL (SIGRTMIN + 2)

typedef void (*tr_enter_fn)(cpu_state *cpu, uint8_t *window, const uint8_t *code,
                            jcache_slot *jcache);

/* cpu.tr_exit after a miss in the indirect-branch cache (block exits are >= TR_MAX_EXITS). */
#define TR_EXIT_LOOKUP 1

/* Indirect-branch caches: two for CPL 0-2, two for CPL 3 (current_jcache). */
#define TR_NJCACHE 4

struct tr_engine {
    cpu_state *cpu;
    tr_codecache cc;
    tr_stubs stubs;
    mmu_window window;    /* flat: guest RAM at physical addresses, for PG=0 */
    shadow_space shadow;  /* shadow windows, for PG=1 */
    mmu_window *cur;      /* the window the running block uses */
    int cur_shadow;       /* its shadow index, or -1 for the flat window */

    /* Linear to physical for instruction fetch under paging, kept in step
     * with the CPU's TLB through its flush hook. */
    struct { uint32_t tag, frame; bool global; } fetch[256];
    tr_block *hash[1u << HASH_BITS];
    /* Indirect-branch caches: TR_NJCACHE of them, each for CPL 0-2 or CPL 3
     * and one set of allowed block needs (current_jcache). */
    tr_jcache jcache[TR_NJCACHE];
    bool jcache_user[TR_NJCACHE];
    uint64_t jcache_used[TR_NJCACHE]; /* when it was last picked (LRU) */
    uint64_t jcache_clock;
    uint64_t code_epoch;  /* phys_mem.code_epoch they were last checked against */
    tr_block *blocks;     /* pool, in code-cache order */
    unsigned nblocks;
    tr_stats stats;
    FILE *trace;          /* trace mode: each new block is printed here (trace.c) */

    /* Stop requests: a host timer kicks translated code out every
     * TR_KICK_NS by pointing cpu.tr_poll at the poll page, so chained loops return to the
     * main loop (timers, devices, console) as the interpreter does. */
    timer_t kick_timer;
    bool have_timer;
    bool timer_armed;
    uint8_t poll_ok;      /* what cpu.tr_poll points at when no stop is requested */
    uint64_t entry_instructions; /* the count when translated code was last entered */
    uintptr_t lookup_probe_end;  /* the lookup stub's probe ends here (a stop between blocks) */

    /* A guest page fault raised from translated code, for the fill when the
     * guest comes back to the instruction (prefill_after_fault). */
    struct { bool armed; int win; uint32_t eip, lin, cr3; } pf;

    /* The signal path. */
    sigjmp_buf trap_jmp;
    volatile sig_atomic_t in_code;
    volatile uintptr_t trap_addr;
    volatile int trap_sig;
    volatile bool trap_repeatable; /* an emulated access or #DE: not the guest's paging */
    tr_hot hot;           /* instructions that keep trapping (adaptive retranslation) */
    struct sigaction old_segv, old_bus, old_fpe, old_ill, old_kick;
    stack_t old_altstack;
    void *altstack;
};

/* The engine whose translated code this thread is running, for the signal
 * handler: the one piece of per-thread state a handler cannot be passed. */
static __thread tr_engine *tls_engine;

/* --- trampolines, emitted at the start of the code cache --- */

static const ZydisRegister guest_host_regs[8] = {
    ZYDIS_REGISTER_EAX, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_EDX, ZYDIS_REGISTER_EBX,
    ZYDIS_REGISTER_R12D, ZYDIS_REGISTER_EBP, ZYDIS_REGISTER_ESI, ZYDIS_REGISTER_EDI,
};
static const ZydisRegister callee_saved[6] = {
    ZYDIS_REGISTER_RBX, ZYDIS_REGISTER_RBP, ZYDIS_REGISTER_R12,
    ZYDIS_REGISTER_R13, ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R15,
};

#define STATE_MEM(off) emit_mem(ZYDIS_REGISTER_R13, ZYDIS_REGISTER_NONE, 0, (off), 4)
#define R(x) emit_reg(ZYDIS_REGISTER_##x)
/* The instruction count lives in R10 inside translated code (translate.c). */
#define ICOUNT_MEM \
    emit_mem(ZYDIS_REGISTER_R13, ZYDIS_REGISTER_NONE, 0, offsetof(cpu_state, stats.instructions), 8)

/*
 * lookup: r8d = the guest EIP to go to, the instruction count done.
 * Find its block in the indirect-branch cache (R11 = the slots, see
 * jcache.h) without touching the flags: r9 = slot index * 2 (for a
 * 16-byte slot at scale 8), ecx = slot.neg_eip + eip is zero on a hit
 * (guest ECX waits in r14, free between instructions); jrcxz.
 */
static void emit_lookup_stub(tr_engine *t, tr_emit *e)
{
    const int64_t eip = offsetof(cpu_state, eip), tr_exit = offsetof(cpu_state, tr_exit);
    t->stubs.lookup = emit_rx_here(e);
    /* first the stop-request probe (translate.c), the guest state still whole */
    emit_poll_probe(e, (int64_t)offsetof(cpu_state, tr_poll));
    t->lookup_probe_end = emit_rx_here(e);
    emit2(e, ZYDIS_MNEMONIC_MOVZX, R(R9D), R(R8W));
    emit2(e, ZYDIS_MNEMONIC_LEA, R(R9), emit_mem(ZYDIS_REGISTER_R9, ZYDIS_REGISTER_R9, 1, 0, 8));
    emit2(e, ZYDIS_MNEMONIC_MOV, R(R14), R(RCX));
    emit2(e, ZYDIS_MNEMONIC_MOV, R(ECX), emit_mem(ZYDIS_REGISTER_R11, ZYDIS_REGISTER_R9, 8, 0, 4));
    emit2(e, ZYDIS_MNEMONIC_LEA, R(ECX), emit_mem(ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_R8, 1, 0, 8));
    uint8_t *jrcxz = e->p;
    emit_short_branch(e, ZYDIS_MNEMONIC_JRCXZ, emit_rx_here(e) + 2);
    emit2(e, ZYDIS_MNEMONIC_MOV, R(RCX), R(R14));
    /* miss: also where empty slots lead */
    t->stubs.miss = emit_rx_here(e);
    emit2(e, ZYDIS_MNEMONIC_MOV, STATE_MEM(eip), R(R8D));
    emit2(e, ZYDIS_MNEMONIC_MOV, STATE_MEM(tr_exit), emit_imm(TR_EXIT_LOOKUP));
    emit_branch(e, ZYDIS_MNEMONIC_JMP, t->stubs.exit);
    uintptr_t hit = emit_rx_here(e);
    emit2(e, ZYDIS_MNEMONIC_MOV, R(RCX), R(R14));
    emit1(e, ZYDIS_MNEMONIC_JMP, emit_mem(ZYDIS_REGISTER_R11, ZYDIS_REGISTER_R9, 8, 8, 8));
    uint8_t *end = e->p;
    e->p = jrcxz;
    emit_short_branch(e, ZYDIS_MNEMONIC_JRCXZ, hit);
    e->p = end;
}

static int emit_trampolines(tr_engine *t)
{
    tr_emit e = { .start = t->cc.rw, .p = t->cc.rw, .end = t->cc.rw + 4096,
                  .rx_delta = t->cc.rx - t->cc.rw };
    const int64_t regs = offsetof(cpu_state, regs), fl = offsetof(cpu_state, eflags);

    t->stubs.cache = emit_rx_here(&e);
    /* enter(rdi = cpu, rsi = window, rdx = code, rcx = indirect-branch cache) */
    t->stubs.enter = emit_rx_here(&e);
    for (int i = 0; i < 6; i++)
        emit1(&e, ZYDIS_MNEMONIC_PUSH, emit_reg(callee_saved[i]));
    emit2(&e, ZYDIS_MNEMONIC_SUB, R(RSP), emit_imm(8)); /* keep RSP 16-byte aligned */
    emit2(&e, ZYDIS_MNEMONIC_MOV, R(R13), R(RDI));
    emit2(&e, ZYDIS_MNEMONIC_MOV, R(R15), R(RSI));
    emit2(&e, ZYDIS_MNEMONIC_MOV, R(R9), R(RDX));
    emit2(&e, ZYDIS_MNEMONIC_MOV, R(R11), R(RCX));
    emit2(&e, ZYDIS_MNEMONIC_MOV, R(R8D), STATE_MEM(fl));
    emit2(&e, ZYDIS_MNEMONIC_AND, R(R8D), emit_imm(TR_HOST_FLAGS));
    emit1(&e, ZYDIS_MNEMONIC_PUSH, R(R8));
    emit0(&e, ZYDIS_MNEMONIC_POPFQ);
    for (int i = 0; i < 8; i++)
        emit2(&e, ZYDIS_MNEMONIC_MOV, emit_reg(guest_host_regs[i]), STATE_MEM(regs + 4 * i));
    emit2(&e, ZYDIS_MNEMONIC_MOV, R(R10), ICOUNT_MEM);
    emit1(&e, ZYDIS_MNEMONIC_JMP, R(R9));

    /* exit: the block has stored the next EIP */
    t->stubs.exit = emit_rx_here(&e);
    emit0(&e, ZYDIS_MNEMONIC_PUSHFQ);
    emit1(&e, ZYDIS_MNEMONIC_POP, R(R8));
    emit0(&e, ZYDIS_MNEMONIC_CLD); /* the C ABI's DF, back from the guest's */
    for (int i = 0; i < 8; i++)
        emit2(&e, ZYDIS_MNEMONIC_MOV, STATE_MEM(regs + 4 * i), emit_reg(guest_host_regs[i]));
    emit2(&e, ZYDIS_MNEMONIC_AND, R(R8D), emit_imm(TR_HOST_FLAGS));
    emit2(&e, ZYDIS_MNEMONIC_MOV, R(R9D), STATE_MEM(fl));
    emit2(&e, ZYDIS_MNEMONIC_AND, R(R9D), emit_imm((int32_t)~TR_HOST_FLAGS));
    emit2(&e, ZYDIS_MNEMONIC_OR, R(R9D), R(R8D));
    emit2(&e, ZYDIS_MNEMONIC_MOV, STATE_MEM(fl), R(R9D));
    fpu_live_emit_save(&e); /* the flags are stored: free to use */
    emit2(&e, ZYDIS_MNEMONIC_MOV, ICOUNT_MEM, R(R10));
    emit2(&e, ZYDIS_MNEMONIC_ADD, R(RSP), emit_imm(8));
    for (int i = 5; i >= 0; i--)
        emit1(&e, ZYDIS_MNEMONIC_POP, emit_reg(callee_saved[i]));
    emit0(&e, ZYDIS_MNEMONIC_RET);

    emit_lookup_stub(t, &e);
    t->stubs.fpu_load = emit_rx_here(&e);
    fpu_live_emit_load_stub(&e);
    if (e.failed)
        return -1;
    tr_codecache_commit(&t->cc, emit_size(&e));
    t->cc.reserved = t->cc.used;
    return 0;
}

/* --- host faults in translated code --- */

static tr_block *block_at_rip(tr_engine *t, uintptr_t rip)
{
    /* Blocks are allocated in code-cache order (an empty block sits, with
     * no length, where the next one starts), so their start addresses
     * never decrease: find the last one starting at or below rip. */
    unsigned lo = 0, hi = t->nblocks;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if ((uintptr_t)t->blocks[mid].code <= rip)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    tr_block *b = &t->blocks[lo - 1];
    return rip < (uintptr_t)b->code + b->code_len ? b : NULL;
}

static const int greg_of[8] = { REG_RAX, REG_RCX, REG_RDX, REG_RBX,
                                REG_R12, REG_RBP, REG_RSI, REG_RDI };

/* Leave translated code from the signal handler: the guest state from the
 * signal context, at guest eip with `done` of the block's instructions
 * completed beyond R10's count; tr_exec() takes it from there. */
static void leave_code(tr_engine *t, const ucontext_t *uc, uint32_t eip, unsigned done,
                       uintptr_t addr, int sig, bool repeatable)
{
    cpu_state *cpu = t->cpu;
    const greg_t *g = uc->uc_mcontext.gregs;
    if (cpu->tr_fpu.live)
        fpu_live_from_frame(cpu, uc);
    for (int r = 0; r < 8; r++)
        cpu->regs[r] = (uint32_t)g[greg_of[r]];
    cpu->eflags = (cpu->eflags & ~TR_HOST_FLAGS) | ((uint32_t)g[REG_EFL] & TR_HOST_FLAGS);
    cpu->eip = eip;
    cpu->stats.instructions = (uint64_t)g[REG_R10] + done;
    t->trap_addr = addr;
    t->trap_sig = sig;
    t->trap_repeatable = repeatable;
    t->in_code = 0;
    siglongjmp(t->trap_jmp, 1);
}

static void on_host_fault(int sig, siginfo_t *si, void *ucv)
{
    tr_engine *t = tls_engine;
    ucontext_t *uc = ucv;
    greg_t *g = uc->uc_mcontext.gregs;
    uintptr_t rip = (uintptr_t)g[REG_RIP];
    tr_block *b = t && t->in_code ? block_at_rip(t, rip) : NULL;
    if (!b && t && t->in_code && rip >= t->stubs.lookup && rip < t->lookup_probe_end &&
        (uintptr_t)si->si_addr - (uintptr_t)t->cc.poll < 4096) {
        /* a stop met by the lookup stub's probe: between two instructions,
         * at the branch target in r8d, every count done */
        leave_code(t, uc, (uint32_t)g[REG_R8], 0, (uintptr_t)t->cc.poll, SIGSEGV, false);
    }
    if (!b) {
        /* Not the guest's: a bug in btvm itself.  Die the default way. */
        signal(sig, SIG_DFL);
        return;
    }
    /* The side table names the guest instruction; its state is the one
     * before it (every translation is fault-atomic). */
    uint16_t off = (uint16_t)(rip - (uintptr_t)b->code);
    unsigned i = 0;
    while (i + 1 < b->ninsns && b->side[i + 1].host_off <= off)
        i++;
    cpu_state *cpu = t->cpu;
    uintptr_t addr = (uintptr_t)si->si_addr;
    bool emulated = false;
    if (sig == SIGSEGV && t->cur_shadow >= 0 && addr - (uintptr_t)t->cur->base < (1ull << 32)) {
        /* A shadow miss: fill it from the guest tables and retry. */
        pg_control pc = { cpu->cr0, cpu->cr3, cpu->cr4 };
        bool write = g[REG_ERR] & 2;
        enum shadow_fill r = shadow_fill(&t->shadow, &pc, t->cur_shadow,
                                         (uint32_t)(addr - (uintptr_t)t->cur->base), write);
        if (r == SHADOW_MAPPED)
            return;
        emulated = r == SHADOW_EMULATE;
        if (r == SHADOW_GUEST_FAULT)
            t->pf = (typeof(t->pf)){ .armed = true, .win = t->cur_shadow, .cr3 = cpu->cr3,
                                     .lin = (uint32_t)(addr - (uintptr_t)t->cur->base),
                                     .eip = b->eip + b->side[i].guest_off };
    } else if (sig == SIGSEGV && t->cur_shadow < 0 && addr - (uintptr_t)t->cur->base < (1ull << 32)) {
        emulated = true; /* the flat window: ROM, MMIO, unassigned or a code page */
    }
    leave_code(t, uc, b->eip + b->side[i].guest_off, i, addr, sig, emulated || sig == SIGFPE);
}

/* The kick timer: ask translated code to stop at the next block entry. */
static void on_kick(int sig)
{
    (void)sig;
    tr_engine *t = tls_engine;
    if (!t)
        return;
    t->cpu->exit_request = 1;
    t->stats.kicks++;
    t->cpu->tr_poll = (uintptr_t)t->cc.poll;
}

static int install_handlers(tr_engine *t)
{
    t->altstack = malloc(SIGSTKSZ * 4);
    if (!t->altstack)
        return -1;
    stack_t ss = { .ss_sp = t->altstack, .ss_size = SIGSTKSZ * 4, .ss_flags = 0 };
    if (sigaltstack(&ss, &t->old_altstack) < 0)
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_host_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &t->old_segv);
    sigaction(SIGBUS, &sa, &t->old_bus);
    sigaction(SIGFPE, &sa, &t->old_fpe);
    sigaction(SIGILL, &sa, &t->old_ill);

    struct sigaction ka;
    memset(&ka, 0, sizeof(ka));
    ka.sa_handler = on_kick;
    ka.sa_flags = SA_RESTART;
    sigemptyset(&ka.sa_mask);
    sigaction(TR_KICK_SIGNAL, &ka, &t->old_kick);
    struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = TR_KICK_SIGNAL };
    sev._sigev_un._tid = gettid(); /* glibc 2.36 spells sigev_notify_thread_id so */
    if (timer_create(CLOCK_MONOTONIC, &sev, &t->kick_timer) < 0)
        return -1;
    t->have_timer = true;
    return 0;
}

/* --- blocks --- */

static unsigned hash_of(uint32_t paddr)
{
    return (paddr ^ (paddr >> HASH_BITS)) & ((1u << HASH_BITS) - 1);
}

static void flush_jcaches(tr_engine *t)
{
    for (int i = 0; i < TR_NJCACHE; i++)
        jcache_flush(&t->jcache[i]);
}

static void flush_all(tr_engine *t)
{
    flush_jcaches(t);
    memset(t->hash, 0, sizeof(t->hash));
    t->nblocks = 0;
    t->cpu->tr_exit = 0; /* the exiting block is gone: nothing to chain */
    tr_codecache_flush(&t->cc);
    t->stats.cache_flushes++;
}

/* The physical address of the code at eip, or false when the fetch would
 * fault (the interpreter then raises the #PF). */
static bool fetch_paddr(tr_engine *t, uint32_t eip, uint32_t *paddr)
{
    cpu_state *cpu = t->cpu;
    if (!(cpu->cr0 & CR0_PG)) {
        *paddr = eip;
        return true;
    }
    unsigned i = (eip >> 12) & 255;
    uint32_t tag = (eip & ~0xfffu) | (cpu->cpl == 3 ? 2 : 0) | 1;
    if (t->fetch[i].tag != tag) {
        pg_control pc = { cpu->cr0, cpu->cr3, cpu->cr4 };
        pg_translation tr;
        uint32_t pfec;
        if (!pg_walk(cpu->mem, &pc, eip, PG_FETCH, cpu->cpl == 3, &tr, &pfec))
            return false;
        t->fetch[i].tag = tag;
        t->fetch[i].frame = tr.paddr & ~0xfffu & cpu->mem->a20_mask;
        t->fetch[i].global = tr.global;
    }
    *paddr = t->fetch[i].frame | (eip & 0xfff);
    return true;
}

/* The CPU flushed its TLB: the shadow windows and the fetch cache follow. */
static void on_tlb_flush(void *opaque, enum cpu_tlb_flush kind, uint32_t lin)
{
    tr_engine *t = opaque;
    switch (kind) {
    case TLB_FLUSH_ALL:
        memset(t->fetch, 0, sizeof(t->fetch));
        shadow_wipe(&t->shadow);
        flush_jcaches(t);
        break;
    case TLB_FLUSH_NONGLOBAL:
        for (unsigned i = 0; i < 256; i++)
            if (!t->fetch[i].global)
                t->fetch[i].tag = 0;
        shadow_cr3_write(&t->shadow, &(pg_control){ t->cpu->cr0, t->cpu->cr3, t->cpu->cr4 });
        for (int i = 0; i < TR_NJCACHE; i++)
            jcache_flush_nonglobal(&t->jcache[i]);
        break;
    case TLB_FLUSH_PAGE:
        t->fetch[(lin >> 12) & 255].tag = 0;
        shadow_invlpg(&t->shadow, &(pg_control){ t->cpu->cr0, t->cpu->cr3, t->cpu->cr4 }, lin);
        for (int i = 0; i < TR_NJCACHE; i++)
            jcache_flush_page(&t->jcache[i], lin);
        break;
    }
}

/* A frame became code (or stopped being code): writes to it must trap. */
static void on_code_change(void *opaque, uint32_t paddr, bool is_code)
{
    tr_engine *t = opaque;
    window_protect_code(&t->window, paddr, is_code);
    if (is_code)
        shadow_frame_became_code(&t->shadow, paddr);
}

static tr_block *translate(tr_engine *t, uint32_t eip, uint32_t paddr)
{
    phys_mem *pm = t->cpu->mem;
    if (paddr >= pm->ram_size || phys_find_region(pm, paddr))
        return NULL;
    if (t->nblocks == MAX_BLOCKS || !tr_codecache_reserve(&t->cc, MAX_BLOCK_HOST_BYTES))
        flush_all(t);
    uint8_t *at = tr_codecache_reserve(&t->cc, MAX_BLOCK_HOST_BYTES);
    tr_emit e = { .start = at, .p = at, .end = at + MAX_BLOCK_HOST_BYTES,
                  .rx_delta = t->cc.rx - t->cc.rw };
    tr_block *b = &t->blocks[t->nblocks];
    /* Mark before reading the bytes: a write racing with translation then
     * bumps the generation and the block is simply stale. */
    phys_mark_code(pm, paddr);
    b->gen = phys_page_generation(pm, paddr);
    b->paddr = paddr;
    unsigned avail = 0x1000 - (paddr & 0xfff);
    ZydisMnemonic stop = ZYDIS_MNEMONIC_INVALID;
    tr_trace_rec rec;
    unsigned n = tr_translate(b, &e, pm->ram + paddr, avail, eip, t->nblocks + 1, &t->stubs, &stop,
                              &t->stats, &t->hot, t->trace ? &rec : NULL);
    t->stats.blocks_ended_by[stop & 2047]++;
    /* A block of no instructions remembers that the interpreter must run
     * the first one, so it is not retranslated at every visit. */
    b->code = tr_exec_addr(&t->cc, at);
    b->code_len = n ? (uint32_t)emit_size(&e) : 0;
    tr_codecache_commit(&t->cc, b->code_len);
    if (t->trace)
        tr_trace_block(t->trace, b, pm->ram + paddr, avail, &rec, &t->stubs);
    unsigned h = hash_of(paddr);
    b->next = t->hash[h];
    t->hash[h] = b;
    t->nblocks++;
    t->stats.blocks_translated++;
    return b;
}

/* Stale blocks (their page was written since) leave the chain as the
 * walk meets them, and a hit moves to the front: the chains stay short. */
static tr_block *lookup(tr_engine *t, uint32_t eip, uint32_t paddr)
{
    const phys_mem *pm = t->cpu->mem;
    tr_block **head = &t->hash[hash_of(paddr)];
    for (tr_block **link = head, *b; (b = *link);) {
        if (b->gen != phys_page_generation(pm, b->paddr)) {
            *link = b->next;
            continue;
        }
        if (b->paddr == paddr && b->eip == eip) {
            *link = b->next;
            b->next = *head;
            *head = b;
            return b;
        }
        link = &b->next;
    }
    return NULL;
}

/* --- the mode translated code covers --- */

static bool flat(const cpu_segment *s)
{
    return s->base == 0 && s->limit == 0xffffffffu && (s->flags & SEGF_P);
}

static bool translatable(const cpu_state *cpu)
{
    return (cpu->cr0 & CR0_PE) && !(cpu->eflags & (FL_VM | FL_TF)) && !(cpu->cr4 & CR4_PAE) &&
           cpu->code32 && cpu->stack32 && cpu->run_state == CPU_RUNNING &&
           cpu->mem->a20_mask == ~0u && flat(&cpu->seg[S_CS]) && flat(&cpu->seg[S_SS]) &&
           flat(&cpu->seg[S_DS]) && flat(&cpu->seg[S_ES]) &&
           !((cpu->cr0 & CR0_AM) && (cpu->eflags & FL_AC) && cpu->cpl == 3);
}

/* The block needs (TR_USES_* bits, tr_block.seg_mask) the CPU meets now.
 * FS/GS accesses are translated without limit or type checks, so the
 * segment must be present, writable, expand-up data of 4 GiB; SSE
 * instructions run natively, so they must not fault for the CPU's state
 * (#UD with CR0.EM set or CR4.OSFXSR clear, #NM with CR0.TS set:
 * cpu/fpu.c fpu_check). */
static uint8_t needs_met(const cpu_state *cpu)
{
    static const struct { int sreg; uint8_t bit; } segs[2] = { { S_FS, TR_USES_FS },
                                                               { S_GS, TR_USES_GS } };
    uint8_t met = 0;
    for (int i = 0; i < 2; i++) {
        const cpu_segment *s = &cpu->seg[segs[i].sreg];
        if ((s->flags & (SEGF_P | SEGF_S | SEGF_CODE | SEGF_CONFORM | SEGF_RW)) ==
                (SEGF_P | SEGF_S | SEGF_RW) && s->limit == 0xffffffffu)
            met |= segs[i].bit;
    }
    if (!(cpu->cr0 & (CR0_EM | CR0_TS)) && (cpu->cr4 & CR4_OSFXSR))
        met |= TR_USES_SSE;
    if (!(cpu->cr0 & (CR0_EM | CR0_TS)))
        met |= TR_USES_X87;
    return met;
}

/*
 * The indirect-branch cache translated code will use, made valid for
 * now.  Its entries were checked when inserted against the CPU state of
 * that time; page-table changes flush it through the TLB hook, but code
 * writes and segment loads happen in the interpreter, so they are caught
 * here, before translated code runs again.
 */
static tr_jcache *current_jcache(tr_engine *t)
{
    cpu_state *cpu = t->cpu;
    if (cpu->mem->code_epoch != t->code_epoch) {
        t->code_epoch = cpu->mem->code_epoch;
        flush_jcaches(t);
    }
    /*
     * A table holds blocks whose needs (FS/GS usable, SSE allowed) were met
     * when they were inserted.  Linux's kernel entry code runs with the
     * user's FS until it loads its per-CPU segment, so the kernel
     * alternates between two sets of allowed needs: each set gets its own
     * table (two per privilege class) instead of a flush at every entry.
     * A table whose needs are no longer met is flushed only if its blocks
     * used what was lost.
     */
    bool user = cpu->cpl == 3;
    uint8_t allowed = needs_met(cpu);
    int pick = -1, lru = -1;
    for (int i = 0; i < TR_NJCACHE && pick < 0; i++) {
        if (t->jcache_user[i] != user)
            continue;
        if (t->jcache[i].seg_allowed == allowed)
            pick = i;
        else if (lru < 0 || t->jcache_used[i] < t->jcache_used[lru])
            lru = i;
    }
    if (pick < 0) {
        tr_jcache *j = &t->jcache[pick = lru];
        if (j->seg_allowed & ~allowed & j->seg_used)
            jcache_flush(j);
        j->seg_allowed = allowed;
    }
    t->jcache_used[pick] = ++t->jcache_clock;
    return &t->jcache[pick];
}

/* An interrupt or NMI to take now — or one to take after the single
 * instruction an interrupt shadow (STI, MOV SS) covers: the interpreter
 * runs that one, since a translated block could loop until the next kick
 * before the dispatcher looked again (up to 1 ms late). */
static bool events_pending(const cpu_state *cpu)
{
    return cpu->nmi_pending || (cpu->intr && (cpu->eflags & FL_IF));
}

/* --- running --- */

/* One step of the interpreter; returns false when it stopped for a reason
 * the caller must report. */
static bool interp_step(tr_engine *t, enum cpu_exit *why)
{
    t->stats.insns_interpreted++;
    t->cpu->tr_exit = 0;
    enum cpu_exit r = cpu_exec(t->cpu, 1);
    if (r != CPU_EXIT_BUDGET) {
        *why = r;
        return false;
    }
    return true;
}

static void handle_trap(tr_engine *t)
{
    t->stats.traps++;
    uintptr_t a = t->trap_addr;
    if (t->trap_sig == SIGSEGV && a - (uintptr_t)t->cur->base < (1ull << 32)) {
        uint32_t lin = (uint32_t)(a - (uintptr_t)t->cur->base), paddr = lin;
        if (t->cur_shadow >= 0) {
            uint32_t f = shadow_view_of(&t->shadow, t->cur_shadow)->frame_of[lin >> 12];
            paddr = f ? ((f - 1) << 12) | (lin & 0xfff) : 0xffffffffu;
        }
        if (phys_is_code(t->cpu->mem, paddr)) {
            /* A write to a page holding translations: drop them and make
             * the page writable again (it is marked anew if code is
             * translated from it later). */
            t->stats.traps_code_write++;
            t->stats.invalidations++;
            phys_unmark_code(t->cpu->mem, paddr);
            return;
        }
    }
    /*
     * Adaptive retranslation: an instruction that keeps trapping for the
     * same reason (MMIO, ROM, a division by zero) costs a host signal each
     * time, some microseconds; the interpreter does it in a fraction of
     * one.  Past a few traps its page is retranslated with the block
     * ending before it, so the dispatcher hands it to the interpreter.
     * Guest page faults are not counted: they come and go with the
     * guest's paging, and the instruction is usually hot when they don't.
     */
    uint32_t insn;
    if (t->trap_repeatable && fetch_paddr(t, t->cpu->eip, &insn) &&
        tr_hot_trapped(&t->hot, insn) == TR_HOT_THRESHOLD) {
        t->stats.retranslations++;
        phys_invalidate_code(t->cpu->mem, insn);
    }
}

/*
 * A guest page fault from translated code costs two host signals: the
 * first access's (its walk fails: the guest takes #PF), and the retry's
 * after the guest's handler has mapped the page (the window is filled
 * then).  When the guest comes back to the faulting instruction in the
 * same address space, the page is filled before the block runs, with a
 * read walk: it sets the accessed bit a moment before the retry would —
 * as a processor may for a translation it caches ahead of use (SDM Vol. 3A
 * §4.10.2.3) — and never the dirty bit, which Linux's handler sets itself
 * for a write fault on an anonymous page (the mapping is then writable).
 */
static void prefill_after_fault(tr_engine *t)
{
    cpu_state *cpu = t->cpu;
    if (cpu->eip != t->pf.eip)
        return;
    t->pf.armed = false;
    if (cpu->cr3 != t->pf.cr3 || t->cur_shadow != t->pf.win)
        return;
    pg_control pc = { cpu->cr0, cpu->cr3, cpu->cr4 };
    if (shadow_fill(&t->shadow, &pc, t->pf.win, t->pf.lin, false) == SHADOW_MAPPED)
        t->stats.pf_prefills++;
}

/*
 * Chaining: the block that just left by direct exit k jumps straight to
 * next from now on.  Only within one guest page: the running block's page
 * is mapped to its frame, so a target in the same page always translates
 * to the same frame, whatever the guest later does to its page tables;
 * and when the page is written both blocks go stale together.
 */
static void chain(tr_engine *t, uint32_t exit_id, const tr_block *next)
{
    unsigned idx = (exit_id >> TR_EXIT_BITS) - 1, k = exit_id & (TR_MAX_EXITS - 1);
    if (idx >= t->nblocks)
        return;
    tr_block *prev = &t->blocks[idx];
    /* next may rely on FS/GS only where prev did (checked when it was entered). */
    if (k >= prev->nexits || prev->exits[k].target != next->eip || (next->seg_mask & ~prev->seg_mask) ||
        ((prev->eip ^ next->eip) & ~0xfffu) || ((prev->paddr ^ next->paddr) & ~0xfffu))
        return;
    uint8_t *site = t->cc.rw + (prev->code - t->cc.rx) + prev->exits[k].patch_off;
    int32_t rel = (int32_t)((intptr_t)next->code - (intptr_t)(prev->code + prev->exits[k].patch_off + 4));
    memcpy(site, &rel, 4);
    t->stats.chains++;
}

static void clear_stop_request(tr_engine *t)
{
    t->cpu->tr_poll = (uintptr_t)&t->poll_ok;
}

enum cpu_exit tr_exec(tr_engine *t, uint64_t budget)
{
    cpu_state *cpu = t->cpu;
    const uint64_t end = cpu->stats.instructions + cpu->stats.rep_passes + budget; /* as cpu_exec */
    enum cpu_exit why = CPU_EXIT_BUDGET;
    tls_engine = t;
    if (cpu->tr_poll != (uintptr_t)t->cc.poll)
        clear_stop_request(t); /* another engine's, or none yet */
    if (!t->timer_armed) {
        /* Periodic, and left running between calls: re-arming it every
         * slice cost two system calls per millisecond.  tr_idle() stops it. */
        timer_settime(t->kick_timer, 0, &(struct itimerspec){ .it_interval = { 0, TR_KICK_NS },
                                                              .it_value = { 0, TR_KICK_NS } },
                      NULL);
        t->timer_armed = true;
    }

    if (sigsetjmp(t->trap_jmp, 0)) {
        /* A host fault in translated code: the guest state is synced to the
         * faulting instruction.  A stop request just returns; otherwise the
         * interpreter executes that instruction.  Either way, once an
         * instruction has completed since the block was entered, an
         * interrupt shadow (STI, MOV SS) has been used up. */
        if (cpu->stats.instructions != t->entry_instructions)
            cpu->inhibit_irq = false;
        if (t->trap_addr - (uintptr_t)t->cc.poll >= 4096) {
            handle_trap(t);
            if (!interp_step(t, &why))
                goto out;
        }
    }
    while (cpu->stats.instructions + cpu->stats.rep_passes < end) {
        if (cpu->exit_request) {
            cpu->exit_request = 0;
            why = CPU_EXIT_REQUEST;
            goto out;
        }
        if (!translatable(cpu) || events_pending(cpu)) {
            t->stats.handoffs_mode++;
            if (!interp_step(t, &why))
                goto out;
            continue;
        }
        uint32_t paddr;
        tr_block *b = NULL;
        if (fetch_paddr(t, cpu->eip, &paddr)) {
            b = lookup(t, cpu->eip, paddr);
            if (!b)
                b = translate(t, cpu->eip, paddr);
        }
        if (!b || !b->ninsns || (b->seg_mask & ~needs_met(cpu))) {
            if (!interp_step(t, &why))
                goto out;
            continue;
        }
        if (cpu->tr_exit == TR_EXIT_LOOKUP)
            t->stats.lookups++;
        else if (cpu->tr_exit)
            chain(t, cpu->tr_exit, b);
        tr_jcache *jc = current_jcache(t);
        jcache_insert(jc, cpu->eip, (uintptr_t)b->code,
                      (cpu->cr0 & CR0_PG) && t->fetch[(cpu->eip >> 12) & 255].global);
        jc->seg_used |= b->seg_mask;
        if (cpu->cr0 & CR0_PG) {
            t->cur_shadow = cpu->cpl == 3 ? SHADOW_USER : SHADOW_SUPERVISOR;
            t->cur = &shadow_view_of(&t->shadow, t->cur_shadow)->win;
            if (t->pf.armed)
                prefill_after_fault(t);
        } else {
            t->cur_shadow = -1;
            t->cur = &t->window;
        }
        t->stats.block_runs++;
        cpu->tr_exit = 0;
        t->entry_instructions = cpu->stats.instructions;
        t->in_code = 1;
        if (cpu->exit_request) {
            /* a kick between the check above and in_code: honour it */
            t->in_code = 0;
            continue;
        }
        ((tr_enter_fn)t->stubs.enter)(cpu, t->cur->base, b->code, jc->slots);
        t->in_code = 0;
        if (cpu->tr_fpu.live)
            fpu_live_commit(cpu);
        cpu->inhibit_irq = false; /* the shadow covered the block's first instruction */
    }
out:
    /* Chaining needs the block that exited and the next one found without
     * anything in between. */
    cpu->tr_exit = 0;
    clear_stop_request(t);
    return why;
}

void tr_kick_within(tr_engine *t, uint64_t ns)
{
    if (!t->have_timer || ns >= TR_KICK_NS)
        return;
    struct itimerspec it = { .it_interval = { 0, TR_KICK_NS }, .it_value = { 0, ns ? (long)ns : 1 } };
    timer_settime(t->kick_timer, 0, &it, NULL);
    t->timer_armed = true;
}

void tr_idle(tr_engine *t)
{
    if (t->timer_armed) {
        timer_settime(t->kick_timer, 0, &(struct itimerspec){ 0 }, NULL);
        t->timer_armed = false;
    }
    t->cpu->exit_request = 0; /* a kick that came after the last slice */
    clear_stop_request(t);
}

tr_engine *tr_new(cpu_state *cpu, char *err, size_t errlen)
{
    tr_engine *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "translator: out of memory");
        return NULL;
    }
    t->cpu = cpu;
    cpu->tr_fpu.host_mxcsr = __builtin_ia32_stmxcsr();
    t->blocks = calloc(MAX_BLOCKS, sizeof(tr_block));
    if (!t->blocks || tr_codecache_init(&t->cc, CODE_CACHE_SIZE) < 0) {
        snprintf(err, errlen, "translator: cannot allocate the code cache: %s", strerror(errno));
        goto fail;
    }
    if (window_init_flat(&t->window, cpu->mem) < 0 || shadow_init(&t->shadow, cpu->mem) < 0) {
        snprintf(err, errlen, "translator: cannot reserve the guest windows: %s", strerror(errno));
        goto fail;
    }
    t->cur = &t->window;
    t->cur_shadow = -1;
    cpu->mem->code_hook = on_code_change;
    cpu->mem->code_hook_opaque = t;
    cpu->tlb_hook = on_tlb_flush;
    cpu->tlb_hook_opaque = t;
    if (emit_trampolines(t) < 0) {
        snprintf(err, errlen, "translator: cannot encode the trampolines");
        goto fail;
    }
    for (int i = 0; i < TR_NJCACHE; i++) {
        t->jcache_user[i] = i >= TR_NJCACHE / 2;
        if (jcache_init(&t->jcache[i], t->stubs.miss) < 0) {
            snprintf(err, errlen, "translator: out of memory");
            goto fail;
        }
    }
    t->code_epoch = cpu->mem->code_epoch;
    clear_stop_request(t);
    if (install_handlers(t) < 0) {
        snprintf(err, errlen, "translator: cannot install signal handlers: %s", strerror(errno));
        goto fail;
    }
    return t;
fail:
    tr_free(t);
    return NULL;
}

void tr_free(tr_engine *t)
{
    if (!t)
        return;
    if (t->altstack) {
        sigaction(SIGSEGV, &t->old_segv, NULL);
        sigaction(SIGBUS, &t->old_bus, NULL);
        sigaction(SIGFPE, &t->old_fpe, NULL);
        sigaction(SIGILL, &t->old_ill, NULL);
        if (t->have_timer)
            timer_delete(t->kick_timer);
        sigaction(TR_KICK_SIGNAL, &t->old_kick, NULL);
        sigaltstack(&t->old_altstack, NULL);
        free(t->altstack);
    }
    if (t->cpu->mem->code_hook_opaque == t) {
        t->cpu->mem->code_hook = NULL;
        t->cpu->mem->code_hook_opaque = NULL;
    }
    if (t->cpu->tlb_hook_opaque == t) {
        t->cpu->tlb_hook = NULL;
        t->cpu->tlb_hook_opaque = NULL;
    }
    for (int i = 0; i < TR_NJCACHE; i++)
        jcache_destroy(&t->jcache[i]);
    shadow_destroy(&t->shadow);
    window_destroy(&t->window);
    tr_codecache_destroy(&t->cc);
    free(t->blocks);
    if (tls_engine == t)
        tls_engine = NULL;
    free(t);
}

void tr_set_trace(tr_engine *t, FILE *out)
{
    t->trace = out;
}

const tr_stats *tr_get_stats(const tr_engine *t)
{
    return &t->stats;
}

const shadow_stats *tr_get_shadow_stats(const tr_engine *t)
{
    return &t->shadow.stats;
}

void tr_get_code_cache_use(const tr_engine *t, size_t *used, size_t *size)
{
    *used = t->cc.used;
    *size = t->cc.size;
}

void tr_print_stats(const tr_engine *t, FILE *out)
{
    const tr_stats *s = &t->stats;
    fprintf(out, "  blocks translated   %llu\n", (unsigned long long)s->blocks_translated);
    fprintf(out, "  block runs          %llu\n", (unsigned long long)s->block_runs);
    fprintf(out, "  insns identical     %llu (translated)\n", (unsigned long long)s->insns_identical);
    fprintf(out, "  insns rewritten     %llu (translated)\n", (unsigned long long)s->insns_rewritten);
    fprintf(out, "  insns interpreted   %llu (of which mode hand-offs %llu)\n",
            (unsigned long long)s->insns_interpreted, (unsigned long long)s->handoffs_mode);
    fprintf(out, "  host traps          %llu (code-page writes %llu); pages filled on the return "
            "from a guest #PF %llu\n",
            (unsigned long long)s->traps, (unsigned long long)s->traps_code_write,
            (unsigned long long)s->pf_prefills);
    fprintf(out, "  code invalidations  %llu, retranslations of trapping code %llu\n",
            (unsigned long long)s->invalidations, (unsigned long long)s->retranslations);
    fprintf(out, "  code cache flushes  %llu\n", (unsigned long long)s->cache_flushes);
    fprintf(out, "  chained exits       %llu, stop requests %llu\n", (unsigned long long)s->chains,
            (unsigned long long)s->kicks);
    uint64_t inserts = 0, flushes = 0;
    for (int i = 0; i < TR_NJCACHE; i++) {
        inserts += t->jcache[i].inserts;
        flushes += t->jcache[i].flushes;
    }
    fprintf(out, "  indirect branches   %llu cache misses, %llu inserts, %llu flushes\n",
            (unsigned long long)s->lookups, (unsigned long long)inserts,
            (unsigned long long)flushes);
    /* The six instructions translations stop at most often (not
     * counting control flow, which ends blocks by design). */
    unsigned top[6] = { 0 }; /* 0 (INVALID) counts blocks ended by a branch: left out */
    for (unsigned m = 1; m < 2048; m++) {
        for (int k = 0; k < 6; k++) {
            if (s->blocks_ended_by[m] > (top[k] ? s->blocks_ended_by[top[k]] : 0)) {
                memmove(&top[k + 1], &top[k], (5 - k) * sizeof(top[0]));
                top[k] = m;
                break;
            }
        }
    }
    fprintf(out, "  blocks stop at     ");
    for (int k = 0; k < 6 && top[k]; k++)
        fprintf(out, " %s:%llu", ZydisMnemonicGetString((ZydisMnemonic)top[k]),
                (unsigned long long)s->blocks_ended_by[top[k]]);
    fprintf(out, "\n");
    const shadow_stats *ss = &t->shadow.stats;
    fprintf(out, "  shadow fills        %llu (%llu pages, %llu as 4 MiB, %llu batched runs)\n",
            (unsigned long long)ss->fills, (unsigned long long)ss->fill_pages,
            (unsigned long long)ss->large_fills, (unsigned long long)ss->batched_fills);
    fprintf(out, "  shadow CR3 writes   %llu (global fills kept %llu); user windows kept %llu,"
            " emptied for another %llu\n",
            (unsigned long long)ss->cr3_flushes, (unsigned long long)ss->kept_global,
            (unsigned long long)ss->spaces_kept, (unsigned long long)ss->spaces_evicted);
    fprintf(out, "  kept windows        %llu pages checked, %llu dropped, %llu write-protected\n",
            (unsigned long long)ss->checked_pages, (unsigned long long)ss->checked_drops,
            (unsigned long long)ss->checked_downgrades);
    fprintf(out, "  shadow wipes        %llu, invlpg %llu, code downgrades %llu, emulated %llu\n",
            (unsigned long long)ss->wipes, (unsigned long long)ss->invlpgs,
            (unsigned long long)ss->downgrades, (unsigned long long)ss->emulated);
    fprintf(out, "  shadow upgrades     %llu (%llu pages made writable in place); invlpg unmapped %llu,"
            " re-mapped %llu, kept %llu\n",
            (unsigned long long)ss->upgrades, (unsigned long long)ss->upgraded_pages,
            (unsigned long long)ss->invlpg_drops, (unsigned long long)ss->invlpg_replaced,
            (unsigned long long)ss->invlpg_kept);
}
