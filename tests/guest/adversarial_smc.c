/*
 * Adversarial: code that modifies itself and its neighbours.
 *
 * On a P6-class CPU a store to an instruction that is about to execute
 * takes effect before it runs, even without a jump in between (SDM Vol. 3A
 * §8.1.3: the processor snoops its prefetch queue and caches); whatever an
 * engine cached (decoded instructions, translations, the host code itself)
 * must never run in place of the guest's current bytes.
 *
 *   - a loop that rewrites the immediate of its next instruction on every
 *     iteration, and one that flips the next opcode between INC and DEC;
 *   - a function rewritten in the same page as the writer, and one at the
 *     start of the next page;
 *   - a store straddling two code pages, into an instruction that itself
 *     straddles them, with functions on both pages run before and after;
 *   - REP MOVSB copying code over code that has run, then calling it;
 *   - jumps into the middle of an instruction (two decodings of one byte
 *     sequence, interleaved);
 *   - paging: one frame mapped at two linear addresses and the identity
 *     address; code run through one, rewritten through another.
 */
#include "guest.h"

#define PTE_P  0x001u
#define PTE_W  0x002u
#define PDE_PS 0x080u

uint32_t smc_loop(void);
uint32_t smc_toggle(void);
uint32_t nb_patch_same(uint32_t v);
uint32_t nb_patch_next(uint32_t v);
uint32_t nb_same(void);
uint32_t nb_next(void);
uint32_t st_w(void);
uint32_t st_x(void);
uint32_t st_y(void);
void st_patch(uint32_t v);

__asm__(".text\n"
        /* smc_loop: for i in 0..999 store i into the imm32 of the next MOV, run
         * it, count the iterations where EAX != i.  Returns the count. */
        ".p2align 6\n"
        ".globl smc_loop\n"
        "smc_loop:\n\t"
        "xorl %ecx, %ecx\n\t"
        "xorl %edx, %edx\n"
        "1:\n\t"
        "movl %ecx, 2f+1\n"
        "2:\n\t"
        "movl $0xdeadbeef, %eax\n\t"
        "cmpl %ecx, %eax\n\t"
        "je 3f\n\t"
        "incl %edx\n"
        "3:\n\t"
        "incl %ecx\n\t"
        "cmpl $1000, %ecx\n\t"
        "jne 1b\n\t"
        "movl %edx, %eax\n\t"
        "ret\n"
        /* smc_toggle: for i in 0..299 write INC EAX (0x40) when i % 3 == 0,
         * else DEC EAX (0x48), at the next instruction, and run it. */
        ".globl smc_toggle\n"
        "smc_toggle:\n\t"
        "xorl %eax, %eax\n\t"
        "xorl %ecx, %ecx\n\t"
        "movl $0, %edx\n"
        "1:\n\t"
        "movb $0x48, %dl\n\t"
        "testl $0xff00, %edx\n\t"   /* EDX bits 8..15: i % 3 */
        "jnz 4f\n\t"
        "movb $0x40, %dl\n"
        "4:\n\t"
        "movb %dl, 2f\n"
        "2:\n\t"
        "nop\n\t"
        "andl $0xff00, %edx\n\t"
        "addl $0x100, %edx\n\t"
        "cmpl $0x300, %edx\n\t"
        "jb 5f\n\t"
        "xorl %edx, %edx\n"
        "5:\n\t"
        "incl %ecx\n\t"
        "cmpl $300, %ecx\n\t"
        "jne 1b\n\t"
        "ret\n"
        /* Neighbours: the writer and nb_same share a page; nb_next starts the next. */
        ".p2align 12\n"
        ".globl nb_patch_same\n"
        "nb_patch_same:\n\t"
        "movl 4(%esp), %eax\n\t"
        "movl %eax, nb_same+1\n\t"
        "call nb_same\n\t"
        "ret\n"
        ".globl nb_same\n"
        "nb_same:\n\t"
        "movl $1, %eax\n\t"
        "ret\n"
        ".globl nb_patch_next\n"
        "nb_patch_next:\n\t"
        "movl 4(%esp), %eax\n\t"
        "movl %eax, nb_next+1\n\t"
        "call nb_next\n\t"
        "ret\n"
        ".p2align 12\n"
        ".globl nb_next\n"
        "nb_next:\n\t"
        "movl $2, %eax\n\t"
        "ret\n"
        /* Straddling: st_w ends 4 bytes before a page boundary B, st_x's
         * MOV EAX, imm32 runs from B-3 to B+2 (imm32 at B-2..B+1), st_y at B+3. */
        ".p2align 12\n"
        ".skip 4096 - 9, 0xcc\n"
        ".globl st_w\n"
        "st_w:\n\t"
        "movl $0x33333333, %eax\n\t"
        "ret\n"
        ".globl st_x\n"
        "st_x:\n\t"
        "movl $0x11111111, %eax\n\t"
        "ret\n"
        ".globl st_y\n"
        "st_y:\n\t"
        "movl $0x22222222, %eax\n\t"
        "ret\n"
        ".globl st_patch\n"
        "st_patch:\n\t"
        "movl 4(%esp), %eax\n\t"
        "movl %eax, st_x+1\n\t"     /* B-2..B+1: across the page boundary */
        "ret\n");

/* Code bytes for the copy tests. */
static const uint8_t code_a[] = { 0xb8, 0x11, 0x00, 0x00, 0x00, 0xc3 };   /* mov eax, 0x11; ret */
static const uint8_t code_b[] = { 0xb8, 0x22, 0x00, 0x00, 0x00, 0xc3 };   /* mov eax, 0x22; ret */
/* Overlapping: at 0 "mov eax, 0x01eb4040; ret"; at 1 "inc eax; inc eax; jmp +1; ret". */
static const uint8_t code_ov[] = { 0xb8, 0x40, 0x40, 0xeb, 0x01, 0xc3, 0xc3 };

static uint8_t code_buf[64] __attribute__((aligned(64)));

typedef uint32_t (*fn0)(void);

static uint32_t call_eax0(uint32_t addr)
{
    uint32_t r;
    __asm__ volatile("call *%1" : "=a"(r) : "r"(addr), "a"(0) : "ecx", "edx", "memory", "cc");
    return r;
}

static void copy_rep_movsb(void *dst, const void *src, uint32_t n)
{
    __asm__ volatile("cld\n\trep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

/* --- paging: aliases ---------------------------------------------------- */

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt[1024] __attribute__((aligned(4096)));
static uint8_t alias_frame[4096] __attribute__((aligned(4096)));
#define VA_W 0x40000000u   /* writer's alias */
#define VA_X 0x40001000u   /* executor's alias */

static void smc_checks(const char *mode)
{
    check_eq("loop rewriting its next MOV's immediate: mismatches", smc_loop(), 0);
    check_eq("loop flipping its next opcode INC/DEC: EAX (100 INC, 200 DEC)", smc_toggle(),
             (uint32_t)-100);

    /* Neighbours, each run before being patched (the second round starts
     * from the values the first left). */
    *(volatile uint32_t *)((uint32_t)nb_same + 1) = 1;
    *(volatile uint32_t *)((uint32_t)nb_next + 1) = 2;
    check_eq("neighbour in the same page, before", nb_same(), 1);
    check_eq("neighbour at the start of the next page, before", nb_next(), 2);
    uint32_t bad_same = 0, bad_next = 0;
    for (uint32_t i = 0; i < 200; i++) {
        bad_same += nb_patch_same(0x1000 + i) != 0x1000 + i;
        bad_next += nb_patch_next(0x2000 + i) != 0x2000 + i;
    }
    check_eq("neighbour in the same page patched 200 times: mismatches", bad_same, 0);
    check_eq("neighbour in the next page patched 200 times: mismatches", bad_next, 0);

    /* A store across two code pages. */
    uint32_t bad = 0;
    for (uint32_t i = 0; i < 50; i++) {
        bad += st_w() != 0x33333333 || st_y() != 0x22222222;
        st_patch(0xa0b0c0d0 + i * 0x01010101u);
        bad += st_x() != 0xa0b0c0d0 + i * 0x01010101u;
    }
    check_eq("store across two code pages into a straddling MOV: mismatches", bad, 0);
    check_eq("... the function ending before the boundary intact", st_w(), 0x33333333);
    check_eq("... the function after the boundary intact", st_y(), 0x22222222);

    /* REP MOVSB of code over code. */
    bad = 0;
    for (int i = 0; i < 40; i++) {
        copy_rep_movsb(code_buf, (i & 1) ? code_b : code_a, sizeof(code_a));
        bad += ((fn0)code_buf)() != ((i & 1) ? 0x22u : 0x11u);
    }
    check_eq("REP MOVSB code over code, then call, 40 times: mismatches", bad, 0);

    /* Two decodings of one byte sequence. */
    copy_rep_movsb(code_buf, code_ov, sizeof(code_ov));
    bad = 0;
    for (int i = 0; i < 20; i++) {
        bad += call_eax0((uint32_t)code_buf) != 0x01eb4040u;
        bad += call_eax0((uint32_t)code_buf + 1) != 2;
    }
    check_eq("jumping into the middle of an instruction, interleaved: mismatches", bad, 0);
    gprintf("  (%s)\n", mode);
}

void test_main(void)
{
    gprintf("adversarial_smc: self-modifying code, neighbours, page-straddling stores, aliases\n");
    smc_checks("no paging");

    /* Paging: identity 4 MiB pages, and VA_W, VA_X -> alias_frame. */
    for (int i = 0; i < 32; i++)
        pd[i] = (uint32_t)i << 22 | PDE_PS | PTE_P | PTE_W;
    pd[VA_W >> 22] = (uint32_t)pt | PTE_P | PTE_W;
    pt[0] = (uint32_t)alias_frame | PTE_P | PTE_W;
    pt[1] = (uint32_t)alias_frame | PTE_P | PTE_W;
    write_cr4(read_cr4() | CR4_PSE);
    write_cr3((uint32_t)pd);
    write_cr0(read_cr0() | CR0_PG);

    smc_checks("paging, identity");

    volatile uint8_t *w = (volatile uint8_t *)VA_W;
    for (unsigned i = 0; i < sizeof(code_a); i++)
        w[i] = code_a[i];
    check_eq("alias: code written through one mapping runs through the other",
             ((fn0)VA_X)(), 0x11);
    uint32_t bad = 0;
    for (uint32_t i = 0; i < 100; i++) {
        volatile uint8_t *via = (i % 3 == 2) ? alias_frame : w;   /* also the identity address */
        *(volatile uint32_t *)(via + 1) = i * 0x01000193u;
        bad += ((fn0)VA_X)() != i * 0x01000193u;
    }
    check_eq("alias: rewritten through another mapping, 100 times: mismatches", bad, 0);
    /* The executing alias rewrites itself through the writer alias: the
     * code at VA_X stores into VA_W + 1 (its own immediate), then runs on. */
    static const uint8_t self[] = {
        0xc7, 0x05, 0x1b, 0x00, 0x00, 0x40, 0x78, 0x56, 0x34, 0x12,   /* +0x10: mov dword [VA_W+0x1b], 0x12345678 */
        0xb8, 0x00, 0x00, 0x00, 0x00,                                 /* +0x1a: mov eax, imm32 (at +0x1b) */
        0xc3,                                                         /* +0x1f: ret */
    };
    for (unsigned i = 0; i < sizeof(self); i++)
        w[0x10 + i] = self[i];
    check_eq("alias: code at one mapping rewrites its next instruction through the other",
             ((fn0)(VA_X + 0x10))(), 0x12345678);

    write_cr0(read_cr0() & ~CR0_PG);
}
