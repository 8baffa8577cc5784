/*
 * The binary translator on a bare CPU: that code is really translated
 * (not silently left to the interpreter), and the cases that once broke
 * it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"
#include "translator/hot.h"
#include "translator/tr.h"

static enum cpu_exit run_bt(tr_engine *t)
{
    enum cpu_exit e;
    do {
        e = tr_exec(t, 100000);
    } while (e == CPU_EXIT_REQUEST || e == CPU_EXIT_BUDGET);
    return e;
}

/* Run to HLT under the translator t, or under the interpreter when t is
 * NULL (the reference). */
static void run_to_halt(harness *h, tr_engine *t)
{
    if (t)
        assert_int_equal(run_bt(t), CPU_EXIT_HALT);
    else
        assert_int_equal(harness_run(h, 1u << 20), CPU_EXIT_HALT);
}

/* Run a loop that never ends until the kick timer stops it after some
 * work: on a loaded host the first kick may come before the first block
 * runs.  Returns the number of tr_exec() calls. */
static unsigned run_until_stopped(harness *h, tr_engine *t)
{
    unsigned calls = 0;
    enum cpu_exit e;
    do {
        e = tr_exec(t, 1u << 30);
        calls++;
    } while (e == CPU_EXIT_REQUEST && h->cpu.stats.instructions < 1000);
    assert_int_equal(e, CPU_EXIT_REQUEST);
    return calls;
}

/* Kernel-style addresses (above 2 GiB) in exits and pushed return
 * addresses: the encoder wants them as sign-extended 32-bit immediates. */
static void test_code_above_2g(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_FLAT32);
    harness_asm(h,
                "    mov ecx, 10\n"
                "again:\n"
                "    call f\n"
                "    dec ecx\n"
                "    jnz again\n"
                "    push 0xc1234567\n"
                "    pop edx\n"
                "    hlt\n"
                "f:  add eax, 3\n"
                "    ret\n");
    /* 4 MiB pages: linear 0 and 0xc0000000 both map physical 0. */
    uint32_t pde = 0x83;
    harness_poke(h, 0x20000, &pde, 4);
    harness_poke(h, 0x20000 + 0x300 * 4, &pde, 4);
    h->cpu.cr4 |= CR4_PSE;
    h->cpu.cr3 = 0x20000;
    h->cpu.cr0 |= CR0_PG;
    h->cpu.eip = 0xc0000000u + HARNESS_CODE;
    char err[128];
    tr_engine *t = tr_new(&h->cpu, err, sizeof(err));
    assert_non_null(t);
    assert_int_equal(run_bt(t), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.regs[R_EAX], 30);
    assert_int_equal(h->cpu.regs[R_EDX], 0xc1234567u);
    const tr_stats *s = tr_get_stats(t);
    /* call, ret, push and the branches ran as translated code; after the
     * first round the returns find their target in the indirect-branch
     * cache without leaving translated code */
    assert_true(s->insns_rewritten >= 5);
    assert_true(s->block_runs < 10);
    assert_true(s->lookups >= 1 && s->lookups < 5);
    tr_free(t);
    harness_free(h);
}

/* A chained loop has no exit of its own: the kick timer must stop it.  The
 * loop is longer than a block (TR_MAX_BLOCK_INSNS), so it runs as two
 * blocks chained to each other. */
static void test_chained_loop_is_interruptible(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_FLAT32);
    harness_asm(h, "spin:\n times 70 add eax, 1\n jmp spin\n");
    char err[128];
    tr_engine *t = tr_new(&h->cpu, err, sizeof(err));
    assert_non_null(t);
    run_until_stopped(h, t);
    assert_true(tr_get_stats(t)->chains >= 2);
    /* the guest state is exact at the stop: the backward jmp probes before
     * it runs, so EIP is at the jmp, EAX counts the adds done (whole
     * rounds of 70) and every round but the last was followed by its jmp */
    assert_int_equal(h->cpu.eip, HARNESS_CODE + 70 * 3);
    uint32_t adds = h->cpu.regs[R_EAX];
    assert_int_equal(adds % 70, 0);
    assert_int_equal((uint64_t)adds + adds / 70 - 1, h->cpu.stats.instructions);
    tr_free(t);
    harness_free(h);
}

static tr_engine *new_engine(harness *h)
{
    char err[128];
    tr_engine *t = tr_new(&h->cpu, err, sizeof(err));
    assert_non_null(t);
    return t;
}

/* One program run to HLT by the interpreter (ref) and by the translator. */
typedef struct engines {
    harness *ref, *h;
    tr_engine *t;
} engines;

static engines run_both(const char *program)
{
    engines e = { .ref = harness_new(HARNESS_FLAT32), .h = harness_new(HARNESS_FLAT32) };
    harness_asm(e.ref, program);
    run_to_halt(e.ref, NULL);
    harness_asm(e.h, program);
    e.t = new_engine(e.h);
    run_to_halt(e.h, e.t);
    return e;
}

static void engines_free(engines *e)
{
    tr_free(e->t);
    harness_free(e->h);
    harness_free(e->ref);
}

/* FS-relative accesses (Linux's per-CPU data) and LEAVE run translated. */
static void test_fs_base_and_leave(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_FLAT32);
    harness_asm(h,
                "    push ebp\n"
                "    mov ebp, esp\n"
                "    sub esp, 16\n"
                "    mov eax, [fs:0x10]\n"
                "    add eax, 1\n"
                "    mov [fs:0x14], eax\n"
                "    leave\n"
                "    hlt\n");
    uint32_t v = 41;
    harness_poke(h, 0x3010, &v, 4);
    h->cpu.seg[S_FS].base = 0x3000;
    h->cpu.regs[R_EBP] = 0x1234;
    uint32_t esp = h->cpu.regs[R_ESP];
    tr_engine *t = new_engine(h);
    assert_int_equal(run_bt(t), CPU_EXIT_HALT);
    assert_int_equal(harness_peek32(h, 0x3014), 42);
    assert_int_equal(h->cpu.regs[R_EBP], 0x1234);
    assert_int_equal(h->cpu.regs[R_ESP], esp);
    const tr_stats *s = tr_get_stats(t);
    /* all seven before the HLT were translated (push, leave rewritten) */
    assert_int_equal(s->insns_identical + s->insns_rewritten, 7);
    assert_true(s->insns_rewritten >= 2);
    tr_free(t);
    harness_free(h);
}

/* With a small FS limit the translated (unchecked) form must not run:
 * the access beyond the limit is a #GP, here a triple fault (no IDT). */
static void test_fs_limit_is_enforced(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_FLAT32);
    harness_asm(h, "    mov eax, [fs:0x2000]\n    hlt\n");
    h->cpu.seg[S_FS].base = 0x3000;
    h->cpu.seg[S_FS].limit = 0xfff;
    h->cpu.seg[S_FS].flags &= ~SEGF_G;
    tr_engine *t = new_engine(h);
    assert_int_equal(run_bt(t), CPU_EXIT_SHUTDOWN);
    tr_free(t);
    harness_free(h);
}

/* String code as Linux's memcpy/memset/strlen use it: the program below
 * under both engines must end in the same state, and under the
 * translator the string instructions run as host code. */
static const char string_program[] =
    "    cld\n"
    "    mov edi, 0x4000\n"
    "    mov ecx, 10000\n"             /* more than one interpreter pass */
    "    mov eax, 0x01020304\n"
    "    rep stosd\n"
    "    mov esi, 0x4000\n"
    "    mov edi, 0x20000\n"
    "    mov ecx, 40000\n"
    "    rep movsb\n"
    "    mov byte [0x20000 + 39990], 0\n"
    "    mov edi, 0x20000\n"
    "    mov ecx, -1\n"
    "    xor eax, eax\n"
    "    repne scasb\n"                /* strlen: ECX counts down to the NUL */
    "    mov ebx, ecx\n"
    "    std\n"                        /* backwards: DF lives in the host's flags */
    "    mov esi, 0x20003\n"
    "    lodsb\n"
    "    lodsw\n"
    "    cld\n"
    "    mov esi, 0x4000\n"
    "    mov edi, 0x20000\n"
    "    mov ecx, 100\n"
    "    repe cmpsd\n"
    "    hlt\n";

static void run_string_program(harness *h, tr_engine *t)
{
    harness_asm(h, string_program);
    run_to_halt(h, t);
}

static void test_string_instructions(void **state)
{
    (void)state;
    harness *ref = harness_new(HARNESS_FLAT32);
    run_string_program(ref, NULL);
    harness *h = harness_new(HARNESS_FLAT32);
    tr_engine *t = new_engine(h);
    run_string_program(h, t);
    for (int r = 0; r < 8; r++)
        assert_int_equal(h->cpu.regs[r], ref->cpu.regs[r]);
    assert_int_equal(h->cpu.eflags, ref->cpu.eflags);
    assert_int_equal(h->cpu.regs[R_EBX], 0xffffffffu - 39991);
    assert_int_equal(harness_peek32(h, 0x20000 + 39996), 0x01020304);
    assert_int_equal(harness_peek32(h, 0x4000 + 39996), 0x01020304);
    /* a REP instruction is one instruction, however many passes the
     * interpreter takes over it */
    assert_int_equal(h->cpu.stats.instructions, ref->cpu.stats.instructions);
    assert_true(ref->cpu.stats.rep_passes > 0);
    const tr_stats *s = tr_get_stats(t);
    /* one block of all 24 before the HLT */
    assert_int_equal(s->insns_identical + s->insns_rewritten, 24);
    assert_int_equal(s->blocks_translated, 2);
    tr_free(t);
    harness_free(h);
    harness_free(ref);
}

/* An interrupt shadow (here STI's) covers one instruction: a chained loop
 * after STI, stopped by the kick timer, must not leave it in force — or
 * the loop never takes an interrupt (found by benchmarks/nano's
 * pit_irq_spin: deliveries came seconds late or never). */
static void test_sti_shadow_ends_in_chained_loop(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_FLAT32);
    /* The second STI leads straight into a loop chained during the first
     * pass, so no block returns normally (which ends a shadow) before the
     * kick timer stops it. */
    harness_asm(h,
                "    mov ecx, 100\n"
                "again: cli\n"
                "    sti\n"
                "warm: add eax, 1\n"
                "    pause\n"
                "    dec ecx\n"
                "    jnz warm\n"
                "    mov ecx, 0x7fffffff\n"
                "    jmp again\n");
    tr_engine *t = new_engine(h);
    while (h->cpu.regs[R_EAX] < 100000)
        assert_int_equal(tr_exec(t, 1u << 30), CPU_EXIT_REQUEST);
    assert_true(h->cpu.eflags & FL_IF);
    assert_false(h->cpu.inhibit_irq);
    tr_free(t);
    harness_free(h);
}

/* An instruction that keeps trapping into the interpreter (here a read of
 * unassigned physical memory, as MMIO) is retranslated out of its block
 * after a few traps: the rest of its runs cost no host signal. */
static void test_trapping_instruction_is_retranslated(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_FLAT32);
    harness_asm(h,
                "    mov ecx, 100\n"
                "l:  mov eax, [0xf0000000]\n"
                "    add ebx, eax\n"
                "    dec ecx\n"
                "    jnz l\n"
                "    hlt\n");
    tr_engine *t = new_engine(h);
    assert_int_equal(run_bt(t), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.regs[R_EBX], (uint32_t)-100); /* all ones, 100 times */
    const tr_stats *s = tr_get_stats(t);
    assert_int_equal(s->traps, TR_HOT_THRESHOLD);
    assert_int_equal(s->retranslations, 1);
    assert_true(s->insns_interpreted >= 100 - TR_HOT_THRESHOLD);
    tr_free(t);
    harness_free(h);
}

/*
 * Superblocks: a block goes on through its conditional branches.  A loop
 * back into the block and a forward branch over part of it jump within
 * the block's host code, moving R10 (the instruction count) by what they
 * skip; a trap in the middle (an MMIO read, emulated) must still see the
 * count and the registers exact.  Interpreter and translator must agree.
 */
static const char superblock_program[] =
    "    mov ecx, 1000\n"
    "    xor eax, eax\n"
    "    xor ebx, ebx\n"
    "    xor esi, esi\n"
    "outer:\n"
    "    test ecx, 1\n"
    "    jz even\n"                   /* forward, within the block */
    "    add eax, ecx\n"
    "    test ecx, 126\n"
    "    jnz even\n"
    "    add esi, [0xf0000000]\n"     /* unassigned: emulated, a trap */
    "even:\n"
    "    add ebx, ecx\n"
    "    dec ecx\n"
    "    jnz outer\n"                 /* backward, within the block */
    "    cmp eax, ebx\n"
    "    ja far_away\n"               /* out of the block, not taken */
    "    hlt\n"
    "far_away:\n"
    "    mov eax, 1\n"
    "    hlt\n";

static void test_superblock_matches_interpreter(void **state)
{
    (void)state;
    engines e = run_both(superblock_program);
    harness *h = e.h, *ref = e.ref;
    tr_engine *t = e.t;
    for (int r = 0; r < 8; r++)
        assert_int_equal(h->cpu.regs[r], ref->cpu.regs[r]);
    assert_int_equal(h->cpu.eip, ref->cpu.eip);
    assert_int_equal(h->cpu.eflags, ref->cpu.eflags);
    assert_int_equal(h->cpu.stats.instructions, ref->cpu.stats.instructions);
    assert_int_equal(h->cpu.regs[R_EAX], 250000);  /* the odd ones */
    assert_int_equal(h->cpu.regs[R_EBX], 500500);
    assert_int_equal(h->cpu.regs[R_ESI], (uint32_t)-8); /* ecx = 1 mod 128: 8 reads of all ones */
    const tr_stats *s = tr_get_stats(t);
    /* the loop runs inside its block: few entries from the dispatcher,
     * however many iterations (the trapping read is retranslated out
     * after TR_HOT_THRESHOLD traps, which splits the loop once) */
    assert_true(s->block_runs < 40 + 2 * s->kicks); /* kicks: a loaded host */
    engines_free(&e);
}

/* A loop inside one block is stopped by the kick timer at its backward
 * branch's probe, with the state exact: EIP at the jnz, whose add and
 * test have run as many times as EAX says. */
static void test_loop_within_block_is_interruptible(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_FLAT32);
    harness_asm(h, "spin: add eax, 1\n test eax, eax\n jnz spin\n hlt\n");
    tr_engine *t = new_engine(h);
    unsigned calls = run_until_stopped(h, t);
    assert_int_equal(h->cpu.eip, HARNESS_CODE + 5);
    assert_int_equal((uint64_t)h->cpu.regs[R_EAX] * 3 - 1, h->cpu.stats.instructions);
    /* the loop never leaves its block: a run or two per call (a call after
     * a stop starts at the jnz, a block of its own) */
    assert_true(tr_get_stats(t)->block_runs <= 2 * calls);
    tr_free(t);
    harness_free(h);
}

/* A jmp forward within the page is followed: the block goes on at its
 * target, with no host code for the jmp, and the count stays exact. */
static void test_forward_jmp_is_followed(void **state)
{
    (void)state;
    static const char program[] =
        "    mov ecx, 10\n"
        "    jmp a\n"
        "    times 100 db 0xcc\n"      /* int3: never run */
        "a:  add eax, ecx\n"
        "    jmp b\n"
        "    hlt\n"
        "b:  dec ecx\n"
        "    jnz a\n"                  /* back into the same block */
        "    hlt\n";
    harness *ref = harness_new(HARNESS_FLAT32);
    harness_asm(ref, program);
    assert_int_equal(harness_run(ref, 1u << 20), CPU_EXIT_HALT);
    harness *h = harness_new(HARNESS_FLAT32);
    harness_asm(h, program);
    tr_engine *t = new_engine(h);
    assert_int_equal(run_bt(t), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.regs[R_EAX], 55);
    assert_int_equal(h->cpu.eip, ref->cpu.eip);
    assert_int_equal(h->cpu.eflags, ref->cpu.eflags);
    assert_int_equal(h->cpu.stats.instructions, ref->cpu.stats.instructions);
    const tr_stats *s = tr_get_stats(t);
    /* all of it, then the hlt's (empty: interpreted) — unless a kick
     * stopped the loop, each stop adding a block at the jnz (loaded host) */
    assert_true(s->blocks_translated <= 2 + 2 * s->kicks);
    assert_true(s->block_runs <= 1 + 2 * s->kicks);
    tr_free(t);
    harness_free(h);
    harness_free(ref);
}

/* High-byte registers next to a memory operand (no REX encoding for them
 * beside [r15+...]): run through R8B, copied in and out around the
 * instruction; a trap in it (here MMIO, emulated) leaves them intact. */
static const char high_byte_program[] =
    "    mov eax, 0x11223344\n"
    "    mov ebx, 0x55667788\n"
    "    mov ecx, 0x99aabbcc\n"
    "    mov edx, 0xddeeff00\n"
    "    mov esi, 0x20000\n"
    "    mov dword [esi], 0x01020304\n"
    "    mov [esi+1], ah\n"              /* store */
    "    add ch, [esi]\n"                /* read-modify a high byte */
    "    xchg [esi+2], bh\n"             /* both */
    "    push edx\n"
    "    sub dh, [esp]\n"                /* ESP-relative */
    "    pop edi\n"
    "    mov [0xf0000000], ah\n"         /* MMIO: a trap, then the interpreter */
    "    mov bh, [0xf0000000]\n"
    "    mov ebp, [esi]\n"
    "    hlt\n";

static void test_high_byte_registers_with_memory(void **state)
{
    (void)state;
    engines e = run_both(high_byte_program);
    harness *h = e.h, *ref = e.ref;
    tr_engine *t = e.t;
    for (int r = 0; r < 8; r++)
        assert_int_equal(h->cpu.regs[r], ref->cpu.regs[r]);
    assert_int_equal(h->cpu.eflags, ref->cpu.eflags);
    assert_int_equal(harness_peek32(h, 0x20000), harness_peek32(ref, 0x20000));
    assert_int_equal(h->cpu.regs[R_EBP], 0x01773304u); /* AH stored, BH swapped in */
    /* they were translated: the block ran past them */
    assert_true(tr_get_stats(t)->insns_identical >= 10);
    engines_free(&e);
}

/* Integer SSE2 (glibc's string functions are made of it) runs natively on
 * the guest's XMM registers, loaded from and stored to its FXSAVE image;
 * the floating-point ones (MXCSR) stay interpreted.  Same registers,
 * flags and memory as the interpreter. */
static const char sse_program[] =
    "    mov esi, 0x20000\n"
    "    mov dword [esi], 0x64636261\n"      /* \"abcd\" then NULs */
    "    mov dword [esi+4], 0\n"
    "    mov dword [esi+8], 0\n"
    "    mov dword [esi+12], 0\n"
    "    pxor xmm0, xmm0\n"
    "    movdqa xmm1, [esi]\n"
    "    pcmpeqb xmm1, xmm0\n"              /* strlen's probe */
    "    pmovmskb eax, xmm1\n"
    "    bsf ecx, eax\n"                     /* the length: 4 */
    "    movd xmm2, ecx\n"
    "    pshufd xmm3, xmm2, 0\n"
    "    paddd xmm3, xmm3\n"
    "    punpcklbw xmm4, xmm1\n"
    "    movdqu [esi+16], xmm3\n"
    "    mov ebx, 2\n"
    "    cvtsi2ss xmm5, ebx\n"              /* MXCSR: interpreted */
    "    movd edx, xmm5\n"
    "    hlt\n";

static void run_sse_program(harness *h, tr_engine *t)
{
    harness_asm(h, sse_program);
    h->cpu.cr4 |= CR4_OSFXSR;
    run_to_halt(h, t);
}

static void test_sse_integer_instructions(void **state)
{
    (void)state;
    harness *ref = harness_new(HARNESS_FLAT32);
    run_sse_program(ref, NULL);
    harness *h = harness_new(HARNESS_FLAT32);
    tr_engine *t = new_engine(h);
    run_sse_program(h, t);
    for (int r = 0; r < 8; r++)
        assert_int_equal(h->cpu.regs[r], ref->cpu.regs[r]);
    assert_int_equal(h->cpu.eflags, ref->cpu.eflags);
    assert_memory_equal(h->cpu.fxsave + 160, ref->cpu.fxsave + 160, 8 * 16); /* XMM0-7 */
    for (uint32_t a = 0x20000; a < 0x20020; a += 4)
        assert_int_equal(harness_peek32(h, a), harness_peek32(ref, a));
    assert_int_equal(h->cpu.regs[R_ECX], 4);
    assert_int_equal(harness_peek32(h, 0x20010), 8);
    assert_int_equal(h->cpu.regs[R_EDX], 0x40000000); /* 2.0f */
    /* all but cvtsi2ss (and the hlt) translated: 16 before it, one after */
    const tr_stats *s = tr_get_stats(t);
    assert_int_equal(s->insns_identical + s->insns_rewritten, 16 + 1);
    tr_free(t);
    harness_free(h);
    harness_free(ref);
}

/* With CR0.TS set an SSE or x87 instruction raises #NM: a block holding
 * one must not run translated (the dispatcher hands it to the
 * interpreter), and the guest gets the #NM where the interpreter raises it. */
static void assert_block_waits_for_cr0_ts(const char *program, uint32_t cr4)
{
    harness *ref = harness_new(HARNESS_FLAT32);
    harness_asm(ref, program);
    ref->cpu.cr4 |= cr4;
    ref->cpu.cr0 |= CR0_TS;
    enum cpu_exit want = harness_run(ref, 1000);
    harness *h = harness_new(HARNESS_FLAT32);
    harness_asm(h, program);
    h->cpu.cr4 |= cr4;
    h->cpu.cr0 |= CR0_TS;
    tr_engine *t = new_engine(h);
    assert_int_equal(run_bt(t), want);
    assert_int_equal(h->cpu.eip, ref->cpu.eip);
    assert_int_equal(h->cpu.stats.exceptions, ref->cpu.stats.exceptions);
    assert_true(ref->cpu.stats.exceptions >= 1); /* the #NM */
    tr_free(t);
    harness_free(h);
    harness_free(ref);
}

static void test_sse_block_waits_for_cr0_ts(void **state)
{
    (void)state;
    assert_block_waits_for_cr0_ts("pxor xmm0, xmm0\n hlt\n", CR4_OSFXSR);
}

/* x87 code runs natively on the guest's registers, loaded into the host
 * FPU by the first x87 instruction and saved when translated code
 * returns (translator/fpu_live.h): same registers, flags, memory and
 * FXSAVE image — last-instruction pointers included — as the
 * interpreter, which runs each instruction in a thunk. */
static const char x87_program[] =
    "    mov esi, 0x20000\n"
    "    mov dword [esi], 0x54442d18\n"      /* pi as a double */
    "    mov dword [esi+4], 0x400921fb\n"
    "    mov dword [esi+16], -7\n"
    "    fninit\n"                          /* interpreted: ends the block */
    "    fld1\n"
    "    fldpi\n"
    "    faddp st1, st0\n"
    "    fld qword [esi]\n"
    "    fmul st0, st1\n"
    "    fstp qword [esi+8]\n"
    "    fild dword [esi+16]\n"
    "    fistp dword [esi+20]\n"
    "    fnstcw [esi+24]\n"                 /* (int) of a double, as gcc -m32 does it */
    "    movzx eax, word [esi+24]\n"
    "    or ah, 0x0c\n"
    "    mov [esi+26], ax\n"
    "    fldcw [esi+26]\n"
    "    fld qword [esi+8]\n"
    "    fistp dword [esi+28]\n"
    "    fldcw [esi+24]\n"
    "    fldz\n"
    "    fcomip st0, st1\n"
    "    setb cl\n"
    "    fnstsw ax\n"
    "    fld dword [esp-64]\n"             /* SS: FDS is SS's selector */
    "    fxch st1\n"
    "    hlt\n";


static void assert_same_machine(harness *h, harness *ref)
{
    for (int r = 0; r < 8; r++)
        assert_int_equal(h->cpu.regs[r], ref->cpu.regs[r]);
    assert_int_equal(h->cpu.eip, ref->cpu.eip);
    assert_int_equal(h->cpu.eflags, ref->cpu.eflags);
    assert_int_equal(h->cpu.stats.exceptions, ref->cpu.stats.exceptions);
    assert_memory_equal(h->cpu.fxsave, ref->cpu.fxsave, 288);
    for (uint32_t a = 0x20000; a < 0x20200; a += 4)
        assert_int_equal(harness_peek32(h, a), harness_peek32(ref, a));
    for (uint32_t a = HARNESS_STACK - 64; a < HARNESS_STACK; a += 4)
        assert_int_equal(harness_peek32(h, a), harness_peek32(ref, a));
}

static void test_x87_instructions(void **state)
{
    (void)state;
    engines e = run_both(x87_program);
    harness *h = e.h;
    tr_engine *t = e.t;
    assert_same_machine(h, e.ref);
    assert_int_equal(harness_peek32(h, 0x20014), (uint32_t)-7);
    assert_int_equal(harness_peek32(h, 0x2001c), 13); /* (int)((1 + pi) * pi), truncated */
    assert_int_equal(h->cpu.regs[R_ECX] & 0xff, 1);   /* 0 < 1 + pi */
    /* the pointers name the last x87 instruction with a memory operand */
    assert_int_not_equal(h->cpu.fxsave[8] | h->cpu.fxsave[16], 0);
    /* everything but fninit (and the hlt) translated: 4 before, 22 after */
    const tr_stats *s = tr_get_stats(t);
    assert_int_equal(s->insns_identical + s->insns_rewritten, 4 + 22);
    engines_free(&e);
}

/* A host fault in the middle of x87 code leaves translated code with the
 * registers the host FPU held (from the signal frame): here an operand in
 * unassigned physical memory, which the interpreter reads (all ones). */
static void test_x87_state_survives_a_fault(void **state)
{
    (void)state;
    static const char program[] =
        "    fld1\n"
        "    fadd st0, st0\n"
        "    fld qword [0x0ff00000]\n"
        "    fstp qword [0x20000]\n"
        "    fstp qword [0x20008]\n"
        "    hlt\n";
    engines e = run_both(program);
    harness *h = e.h;
    tr_engine *t = e.t;
    assert_same_machine(h, e.ref);
    assert_int_equal(harness_peek32(h, 0x2000c), 0x40000000); /* 2.0 */
    assert_true(tr_get_stats(t)->traps >= 1);
    engines_free(&e);
}

/* An unmasked x87 exception is taken by the next waiting x87 instruction:
 * in translated code the host raises it (SIGFPE) at that instruction, and
 * the guest's #MF comes from the same place with the same state. */
static void test_x87_unmasked_exception_is_mf(void **state)
{
    (void)state;
    static const char program[] =
        "    lidt [idtr]\n"
        "    mov word [0x20000], 0x037b\n"     /* ZE unmasked */
        "    fninit\n"
        "    fldcw [0x20000]\n"
        "    fld1\n"
        "    fldz\n"
        "    fdivp st1, st0\n"                 /* ZE: pending */
        "    fld1\n"                           /* #MF before this one */
        "    hlt\n"
        "mf: mov dword [0x20100], 16\n"
        "    hlt\n"
        "align 8\n"
        "idt: times 16 dq 0\n"
        "    dw ((mf - $$) + 0x10000) & 0xffff, 0x08, 0x8e00, ((mf - $$) + 0x10000) >> 16\n"
        "idtr: dw 17 * 8 - 1\n"
        "    dd idt\n";
    engines e = run_both(program);
    assert_same_machine(e.h, e.ref);
    assert_int_equal(harness_peek32(e.h, 0x20100), 16);
    assert_int_equal(e.ref->cpu.stats.exceptions, 1);
    engines_free(&e);
}

static void test_x87_block_waits_for_cr0_ts(void **state)
{
    (void)state;
    assert_block_waits_for_cr0_ts("fld1\n hlt\n", 0);
}

/* A guest page fault from translated code whose handler maps the page:
 * back at the faulting instruction, the page is filled before the block
 * runs (one host fault, not two), with the same end state as the
 * interpreter's — the accessed bit included. */
static const char pf_program[] =
    "    lidt [idtr]\n"
    "    mov eax, 0x30000\n"
    "    mov cr3, eax\n"
    "    mov eax, cr0\n"
    "    or eax, 0x80000000\n"
    "    mov cr0, eax\n"
    "    jmp .paged\n"
    ".paged:\n"
    "    mov ebx, 0x200000\n"
    "    mov eax, [ebx]\n"                     /* #PF: not present */
    "    mov [0x20100], eax\n"
    "    hlt\n"
    "pf: mov dword [0x31000 + 0x200 * 4], 0x201003\n" /* map it to frame 0x201000 */
    "    add esp, 4\n"
    "    iret\n"
    "align 8\n"
    "idt: times 14 dq 0\n"
    "    dw ((pf - $$) + 0x10000) & 0xffff, 0x08, 0x8e00, ((pf - $$) + 0x10000) >> 16\n"
    "idtr: dw 15 * 8 - 1\n"
    "    dd idt\n";

static void run_pf_program(harness *h, tr_engine *t)
{
    harness_asm(h, pf_program);
    uint32_t pde = 0x31000 | 3, marker = 0xcafe1234;
    harness_poke(h, 0x30000, &pde, 4);
    for (uint32_t i = 0; i < 1024; i++) {
        uint32_t pte = i == 0x200 ? 0 : (i << 12) | 3;
        harness_poke(h, 0x31000 + i * 4, &pte, 4);
    }
    harness_poke(h, 0x201000, &marker, 4);
    run_to_halt(h, t);
}

static void test_page_fault_handler_return_fills_the_page(void **state)
{
    (void)state;
    harness *ref = harness_new(HARNESS_FLAT32);
    run_pf_program(ref, NULL);
    harness *h = harness_new(HARNESS_FLAT32);
    tr_engine *t = new_engine(h);
    run_pf_program(h, t);
    assert_int_equal(harness_peek32(h, 0x20100), 0xcafe1234);
    assert_int_equal(h->cpu.regs[R_EAX], ref->cpu.regs[R_EAX]);
    assert_int_equal(h->cpu.eip, ref->cpu.eip);
    assert_int_equal(h->cpu.stats.exceptions, 1);
    assert_int_equal(harness_peek32(h, 0x31800), harness_peek32(ref, 0x31800)); /* A set */
    assert_int_equal(harness_peek32(h, 0x31800), 0x201023);
    assert_int_equal(tr_get_stats(t)->pf_prefills, 1);
    tr_free(t);
    harness_free(h);
    harness_free(ref);
}

/* An interrupt pending when STI's shadow ends is taken after the one
 * instruction the shadow covers, not when the kick timer next stops the
 * loop that follows (1 ms later: benchmarks/nano's pit_irq_spin took
 * 0.5-0.9 ms an interrupt in some runs). */
static int ack_vector_0x30(void *opaque)
{
    (void)opaque;
    return 0x30;
}

static void test_interrupt_after_sti_shadow_is_taken_at_once(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_FLAT32);
    harness_asm(h,
                "    lidt [idtr]\n"
                "    sti\n"
                "spin: add eax, 1\n"
                "    pause\n"
                "    jmp spin\n"
                "irq: mov dword [0x20100], 0x30\n"
                "    hlt\n"
                "align 8\n"
                "idt: times 0x30 dq 0\n"
                "    dw ((irq - $$) + 0x10000) & 0xffff, 0x08, 0x8e00, ((irq - $$) + 0x10000) >> 16\n"
                "idtr: dw 0x31 * 8 - 1\n"
                "    dd idt\n");
    h->cpu.eflags &= ~FL_IF;
    h->cpu.intr = true;
    h->cpu.intr_ack = ack_vector_0x30;
    tr_engine *t = new_engine(h);
    assert_int_equal(run_bt(t), CPU_EXIT_HALT);
    assert_int_equal(harness_peek32(h, 0x20100), 0x30);
    assert_int_equal(h->cpu.regs[R_EAX], 1); /* the instruction in the shadow, once */
    tr_free(t);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_code_above_2g),
        cmocka_unit_test(test_chained_loop_is_interruptible),
        cmocka_unit_test(test_fs_base_and_leave),
        cmocka_unit_test(test_fs_limit_is_enforced),
        cmocka_unit_test(test_string_instructions),
        cmocka_unit_test(test_sti_shadow_ends_in_chained_loop),
        cmocka_unit_test(test_interrupt_after_sti_shadow_is_taken_at_once),
        cmocka_unit_test(test_trapping_instruction_is_retranslated),
        cmocka_unit_test(test_superblock_matches_interpreter),
        cmocka_unit_test(test_loop_within_block_is_interruptible),
        cmocka_unit_test(test_forward_jmp_is_followed),
        cmocka_unit_test(test_high_byte_registers_with_memory),
        cmocka_unit_test(test_sse_integer_instructions),
        cmocka_unit_test(test_sse_block_waits_for_cr0_ts),
        cmocka_unit_test(test_x87_instructions),
        cmocka_unit_test(test_x87_state_survives_a_fault),
        cmocka_unit_test(test_x87_unmasked_exception_is_mf),
        cmocka_unit_test(test_x87_block_waits_for_cr0_ts),
        cmocka_unit_test(test_page_fault_handler_return_fills_the_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
