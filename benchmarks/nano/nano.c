/*
 * btvm nanobenchmarks: one Multiboot guest kernel with a table of
 * microbenchmarks modelled on Adams & Agesen (ASPLOS 2006, Table 2 /
 * Figure 4): each repeats one privileged or virtualization-sensitive
 * operation N times between two RDTSCs and prints, on COM1, one line
 *
 *   NANO name=NAME n=N cycles=TOTAL cyc_per_op=C.C ns_per_op=T.T check=ok|FAIL
 *
 * (after a line "NANO-BEGIN NAME" printed just before the timed loop and
 * "NANO-STOP" just after it, so the host can time the loop too:
 * benchmarks/run does, for every engine; three empty pairs named "null"
 * come first and measure what the markers themselves cost)
 * after a line "NANO-TSC khz=K" (the guest TSC rate, measured against PIT
 * channel 2 over 50 ms, the lowest of three, so ns/op is in the guest's
 * view of real time) and
 * before "NANO-END failures=F".  Then it exits through the debug-exit port
 * 0xf4 (status 1 if every check held).
 *
 * Kernel command line (Multiboot):
 *   bench=all | NAME[,NAME...]   which benchmarks (default all, in table order)
 *   scale=P                      N = the table's N * P / 100 (default 100, min N 1)
 *
 * One kernel with a table rather than one kernel per benchmark: the set-up
 * they share (paging, the TSC calibration, the user-mode and interrupt
 * plumbing, the output format) lives once, a single boot measures them all
 * (one process start per engine and repetition, which matters for the slow
 * engines and the smoke test), and the Bochs loader only has one image to
 * carry.  Every benchmark checks its own effect (a handler count, the data
 * read through a remapped page, ...) so a broken engine prints check=FAIL.
 *
 * Built like tests/guest (gcc -m32 -ffreestanding, the tests/guest/lib
 * runtime) by benchmarks/build.sh.  Paging is on for every benchmark:
 * 0-16 MiB identity-mapped with 4 KiB user-accessible pages; the test page
 * at TEST_VA is remapped by ptemod, and TEST_VA + 4 KiB is never present.
 */
#include "guest.h"

#define PIT_HZ 1193182u
#define PIC1 0x20
#define PIC2 0xa0
#define TEST_VA 0x01000000u         /* 16 MiB: its own page table */
#define FAULT_VA (TEST_VA + 0x1000u)

/* ---- shared state ------------------------------------------------------ */

volatile uint32_t nano_count;       /* incremented by every handler below */
volatile uint32_t nano_cr2;
uint32_t nano_sysenter_stack[1024] __attribute__((aligned(16)));

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt_low[4][1024] __attribute__((aligned(4096)));   /* 0-16 MiB */
static uint32_t pt_test[1024] __attribute__((aligned(4096)));     /* 16-20 MiB */
static uint32_t frame_a[1024] __attribute__((aligned(4096)));
static uint32_t frame_b[1024] __attribute__((aligned(4096)));

static uint32_t tsc_khz;
static int bochs;                   /* loaded by benchmarks/bochs/loader.asm */

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint32_t lo, uint32_t hi)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"(lo), "d"(hi));
}

/*
 * The handlers, in assembly so each benchmark measures the event and not a
 * C dispatcher: count, do the minimum the event needs, return.
 *   nano_int80     INT 0x80 from CPL 3 (DPL-3 interrupt gate): IRET
 *   nano_sysenter  SYSENTER entry: SYSEXIT (EDX = return EIP, ECX = ESP)
 *   nano_pf        #PF: record CR2, skip the 2-byte faulting "mov (%ebx),%eax"
 *   nano_de        #DE: skip the 2-byte "div %ecx"
 *   nano_irq0      IRQ 0 (vector 0x20): non-specific EOI to the master PIC
 *   nano_nop       the callee of call/ret: counts in EAX
 */
void nano_int80(void), nano_sysenter(void), nano_pf(void), nano_de(void), nano_irq0(void);
void nano_nop(void);
__asm__(
    ".text\n"
    ".globl nano_int80\n"
    "nano_int80:\n\t"
    "incl %ss:nano_count\n\t"
    "iretl\n"
    ".globl nano_sysenter\n"
    "nano_sysenter:\n\t"
    "incl %ss:nano_count\n\t"
    "sysexit\n"
    ".globl nano_pf\n"
    "nano_pf:\n\t"
    "pushl %eax\n\t"
    "movl %cr2, %eax\n\t"
    "movl %eax, nano_cr2\n\t"
    "incl nano_count\n\t"
    "popl %eax\n\t"
    "addl $4, %esp\n\t"              /* the error code */
    "addl $2, (%esp)\n\t"            /* past mov (%ebx),%eax */
    "iretl\n"
    ".globl nano_de\n"
    "nano_de:\n\t"
    "incl nano_count\n\t"
    "addl $2, (%esp)\n\t"            /* past div %ecx */
    "iretl\n"
    ".globl nano_irq0\n"
    "nano_irq0:\n\t"
    "pushl %eax\n\t"
    "incl nano_count\n\t"
    "movb $0x20, %al\n\t"
    "outb %al, $0x20\n\t"
    "popl %eax\n\t"
    "iretl\n"
    ".globl nano_nop\n"
    "nano_nop:\n\t"
    "incl %eax\n\t"
    "ret\n");

/* ---- the benchmarks ---------------------------------------------------- */

/* Each runs n operations and returns the TSC cycles they took; *ok says
 * whether the operations had their architectural effect. */
typedef uint64_t (*bench_fn)(uint32_t n, int *ok);

/* User mode: the loop runs at CPL 3 and stores its TSC readings here. */
static volatile uint32_t user_n;
static volatile uint64_t user_t0, user_t1;

static void user_int80(void)
{
    uint32_t n = user_n;
    uint64_t t0 = rdtsc();
    __asm__ volatile("1:\n\tint $0x80\n\tdecl %0\n\tjnz 1b" : "+r"(n) : : "memory", "cc");
    uint64_t t1 = rdtsc();
    user_t0 = t0;
    user_t1 = t1;
    user_exit(0);
}

static void user_sysenter(void)
{
    uint32_t n = user_n;
    uint64_t t0 = rdtsc();
    __asm__ volatile("1:\n\t"
                     "movl %%esp, %%ecx\n\t"
                     "movl $2f, %%edx\n\t"
                     "sysenter\n"
                     "2:\n\t"
                     "decl %0\n\t"
                     "jnz 1b"
                     : "+b"(n) : : "ecx", "edx", "memory", "cc");
    uint64_t t1 = rdtsc();
    user_t0 = t0;
    user_t1 = t1;
    user_exit(0);
}

static uint64_t run_user(void (*fn)(void), uint32_t n)
{
    user_n = n;
    enter_user(fn, USER_STACK_TOP, 0x2, SEL_DATA3);
    return user_t1 - user_t0;
}

static uint64_t b_syscall_int80(uint32_t n, int *ok)
{
    idt_set(0x80, (uint32_t)nano_int80, SEL_CODE0, 0xee);
    nano_count = 0;
    uint64_t c = run_user(user_int80, n);
    *ok = nano_count == n;
    return c;
}

static uint64_t b_syscall_sysenter(uint32_t n, int *ok)
{
    wrmsr(0x174, SEL_CODE0, 0);
    wrmsr(0x175, (uint32_t)nano_sysenter_stack + sizeof(nano_sysenter_stack), 0);
    wrmsr(0x176, (uint32_t)nano_sysenter, 0);
    nano_count = 0;
    uint64_t c = run_user(user_sysenter, n);
    *ok = nano_count == n;
    return c;
}

/* IN from the master PIC's mask register (OCW1), an emulated device port. */
static uint64_t b_portio_in(uint32_t n, int *ok)
{
    uint8_t imr = inb(PIC1 + 1);
    uint32_t sum = 0, k = n;
    uint64_t t0 = rdtsc();
    __asm__ volatile("1:\n\t"
                     "inb $0x21, %%al\n\t"
                     "addl %%eax, %0\n\t"
                     "decl %1\n\t"
                     "jnz 1b"
                     : "+r"(sum), "+r"(k) : "a"(0) : "memory", "cc");
    uint64_t t1 = rdtsc();
    *ok = sum == n * imr;
    return t1 - t0;
}

/* MOV to CR3 with paging on (same page directory: a full TLB flush). */
static uint64_t b_cr3_write(uint32_t n, int *ok)
{
    uint32_t cr3 = read_cr3(), k = n;
    uint64_t t0 = rdtsc();
    __asm__ volatile("1:\n\t"
                     "movl %1, %%cr3\n\t"
                     "decl %0\n\t"
                     "jnz 1b"
                     : "+r"(k) : "r"(cr3) : "memory", "cc");
    uint64_t t1 = rdtsc();
    *ok = k == 0 && read_cr3() == cr3 && *(volatile uint32_t *)TEST_VA != 0;
    return t1 - t0;
}

/* A read of a not-present page at CPL 0: #PF, the handler reads CR2 and
 * resumes after the instruction. */
static uint64_t b_pagefault(uint32_t n, int *ok)
{
    idt_set(14, (uint32_t)nano_pf, SEL_CODE0, 0x8e);
    nano_count = 0;
    nano_cr2 = 0;
    uint32_t k = n;
    uint64_t t0 = rdtsc();
    __asm__ volatile("1:\n\t"
                     ".byte 0x8b, 0x03\n\t"      /* movl (%%ebx), %%eax: 2 bytes */
                     "decl %0\n\t"
                     "jnz 1b"
                     : "+r"(k) : "b"(FAULT_VA) : "eax", "memory", "cc");
    uint64_t t1 = rdtsc();
    idt_set(14, isr_stub(14), SEL_CODE0, 0x8e);
    *ok = nano_count == n && nano_cr2 == FAULT_VA;
    return t1 - t0;
}

static uint64_t b_callret(uint32_t n, int *ok)
{
    uint32_t k = n, calls = 0;
    uint64_t t0 = rdtsc();
    __asm__ volatile("1:\n\t"
                     "call nano_nop\n\t"
                     "decl %0\n\t"
                     "jnz 1b"
                     : "+r"(k), "+a"(calls) : : "memory", "cc");
    uint64_t t1 = rdtsc();
    *ok = calls == n;
    return t1 - t0;
}

/* DIV by zero: #DE, the handler resumes after the instruction. */
static uint64_t b_divzero(uint32_t n, int *ok)
{
    idt_set(0, (uint32_t)nano_de, SEL_CODE0, 0x8e);
    nano_count = 0;
    uint32_t k = n;
    uint64_t t0 = rdtsc();
    __asm__ volatile("1:\n\t"
                     "movl $1, %%eax\n\t"
                     "xorl %%edx, %%edx\n\t"
                     ".byte 0xf7, 0xf1\n\t"      /* divl %%ecx: 2 bytes */
                     "decl %0\n\t"
                     "jnz 1b"
                     : "+r"(k) : "c"(0) : "eax", "edx", "memory", "cc");
    uint64_t t1 = rdtsc();
    idt_set(0, isr_stub(0), SEL_CODE0, 0x8e);
    *ok = nano_count == n;
    return t1 - t0;
}

/* Rewrite the test page's PTE (alternately frame A and frame B), INVLPG it,
 * read through it: the sum of the reads says every remap took effect. */
static uint64_t b_ptemod(uint32_t n, int *ok)
{
    volatile uint32_t *pte = &pt_test[0];
    uint32_t ea = (uint32_t)frame_a | 7, eb = (uint32_t)frame_b | 7;
    uint32_t sum = 0;
    uint64_t t0 = rdtsc();
    for (uint32_t i = 0; i < n; i++) {
        *pte = (i & 1) ? eb : ea;
        invlpg(TEST_VA);
        sum += *(volatile uint32_t *)TEST_VA;
    }
    uint64_t t1 = rdtsc();
    *pte = ea;
    invlpg(TEST_VA);
    *ok = sum == (n + 1) / 2 * 1u + n / 2 * 2u;
    return t1 - t0;
}

/* PIT channel 0 armed as a one-shot (mode 0, count 2: ~1.7 us), then a
 * wait until the IRQ 0 handler has run: the time from arming the timer to
 * the interrupt having been delivered and returned from.
 *   pit_irq       waits with STI; HLT (as an idle OS waits for its tick):
 *                 the engine may sleep until the timer is due
 *   pit_irq_spin  busy-waits with IF=1 on the handler's count: how soon the
 *                 engine notices an interrupt while it runs a tight loop.
 *                 It found a translator bug (an STI shadow left in force
 *                 by a stopped chained loop: deliveries came 40-130 ms late
 *                 or never, check=FAIL), fixed in 8a3c2cb; the smoke test
 *                 keeps it fixed. */
static uint64_t pit_irq(uint32_t n, int *ok, int spin)
{
    outb(PIC1, 0x11); outb(PIC2, 0x11);         /* ICW1 */
    outb(PIC1 + 1, 0x20); outb(PIC2 + 1, 0x28); /* ICW2: IRQ 0 = vector 0x20 */
    outb(PIC1 + 1, 0x04); outb(PIC2 + 1, 0x02); /* ICW3 */
    outb(PIC1 + 1, 0x01); outb(PIC2 + 1, 0x01); /* ICW4 */
    outb(PIC2 + 1, 0xff);
    outb(PIC1 + 1, 0xfe);                       /* only IRQ 0 */
    idt_set(0x20, (uint32_t)nano_irq0, SEL_CODE0, 0x8e);
    nano_count = 0;
    int lost = 0;
    uint64_t t0 = rdtsc();
    for (uint32_t i = 0; i < n && !lost; i++) {
        uint32_t want = i + 1, spins = 0;
        outb(0x43, 0x30);                       /* channel 0, lo/hi, mode 0 */
        outb(0x40, 2);
        outb(0x40, 0);
        if (spin) {
            sti();
            while (nano_count != want && !lost) {
                lost = ++spins == 100000000u;
                __asm__ volatile("pause" ::: "memory");
            }
            cli();
        } else {
            while (nano_count != want && !lost) {
                lost = ++spins == 1000000u;
                __asm__ volatile("sti\n\thlt\n\tcli" ::: "memory");
            }
        }
    }
    uint64_t t1 = rdtsc();
    outb(PIC1 + 1, 0xff);
    idt_set(0x20, isr_stub(0x20), SEL_CODE0, 0x8e);
    *ok = !lost && nano_count == n;
    return t1 - t0;
}

static uint64_t b_pit_irq(uint32_t n, int *ok)
{
    return pit_irq(n, ok, 0);
}

static uint64_t b_pit_irq_spin(uint32_t n, int *ok)
{
    return pit_irq(n, ok, 1);
}

struct bench {
    const char *name;
    uint32_t n;          /* at scale=100: ~0.1-0.5 s under btvm -accel bt */
    bench_fn fn;
    int by_name_only;    /* not part of bench=all */
};

static const struct bench benches[] = {
    { "syscall_int80", 200000, b_syscall_int80, 0 },
    { "syscall_sysenter", 200000, b_syscall_sysenter, 0 },
    { "portio_in", 200000, b_portio_in, 0 },
    { "cr3_write", 100000, b_cr3_write, 0 },
    { "pagefault", 100000, b_pagefault, 0 },
    { "callret", 10000000, b_callret, 0 },
    { "divzero", 100000, b_divzero, 0 },
    { "ptemod", 100000, b_ptemod, 0 },
    { "pit_irq", 500, b_pit_irq, 0 },
    { "pit_irq_spin", 500, b_pit_irq_spin, 0 },
};
#define NBENCH (sizeof(benches) / sizeof(benches[0]))

/* ---- set-up, calibration, output -------------------------------------- */

static void paging_init(void)
{
    for (uint32_t t = 0; t < 4; t++) {
        for (uint32_t i = 0; i < 1024; i++)
            pt_low[t][i] = ((t * 1024 + i) << 12) | 7;      /* P, W, U */
        pd[t] = (uint32_t)pt_low[t] | 7;
    }
    pt_test[0] = (uint32_t)frame_a | 7;                     /* TEST_VA; FAULT_VA absent */
    pd[TEST_VA >> 22] = (uint32_t)pt_test | 7;
    frame_a[0] = 1;
    frame_b[0] = 2;
    write_cr3((uint32_t)pd);
    write_cr0(read_cr0() | CR0_PG | CR0_WP);
}

/* The TSC against PIT channel 2 (gated by port 0x61 bit 0, OUT2 readable as
 * bit 5) counting 59659 ticks (50 ms) in mode 0.  A late look at OUT2 can
 * only lengthen the interval, so the lowest of three is the estimate. */
static uint32_t calibrate_tsc_khz_once(void)
{
    const uint32_t ticks = 59659;
    outb(0x61, (inb(0x61) & ~0x02) | 0x01);
    outb(0x43, 0xb0);                           /* channel 2, lo/hi, mode 0 */
    outb(0x42, ticks & 0xff);
    outb(0x42, ticks >> 8);
    uint64_t t0 = rdtsc();
    uint32_t spins = 0;
    while (!(inb(0x61) & 0x20) && ++spins < 500000000u)
        ;
    uint64_t t1 = rdtsc();
    outb(0x61, inb(0x61) & ~0x01);
    return (uint32_t)((t1 - t0) * PIT_HZ / ticks / 1000);
}

static uint32_t calibrate_tsc_khz(void)
{
    uint32_t best = 0xffffffffu;
    for (int i = 0; i < 3; i++) {
        uint32_t k = calibrate_tsc_khz_once();
        if (k < best)
            best = k;
    }
    return best;
}

/* Print v / d with one decimal. */
static void print_ratio(uint64_t v, uint64_t d)
{
    if (d == 0) {
        puts_serial("0.0");
        return;
    }
    uint64_t tenths = (v * 10 + d / 2) / d;
    gprintf("%u.%u", (uint32_t)(tenths / 10), (uint32_t)(tenths % 10));
}

static const char *cmdline(void)
{
    const uint32_t *mi = (const uint32_t *)mb_info;
    if (mb_magic == 0x2badb002 && mi && (mi[0] & 4) && mi[4])
        return (const char *)mi[4];
    return "";
}

/* The value of "key=" in the command line, or NULL. */
static const char *arg(const char *cl, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = cl; *p; p++) {
        if ((p == cl || p[-1] == ' ') && memcmp(p, key, kl) == 0 && p[kl] == '=')
            return p + kl + 1;
    }
    return NULL;
}

/* Is NAME in the comma-separated list at sel (ending at a space or NUL)? */
static int named(const char *sel, const char *name)
{
    if (!sel)
        return 0;
    size_t nl = strlen(name);
    const char *p = sel;
    while (*p && *p != ' ') {
        const char *e = p;
        while (*e && *e != ' ' && *e != ',')
            e++;
        if ((size_t)(e - p) == nl && memcmp(p, name, nl) == 0)
            return 1;
        p = *e == ',' ? e + 1 : e;
    }
    return 0;
}

static int selected(const char *sel, const char *name)
{
    return !sel || memcmp(sel, "all", 3) == 0 || named(sel, name);
}

static uint32_t parse_u32(const char *s, uint32_t dflt)
{
    if (!s || *s < '0' || *s > '9')
        return dflt;
    uint32_t v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (uint32_t)(*s++ - '0');
    return v;
}

/* Under Bochs there is no isa-debug-exit: its "Shutdown" port ends the run. */
static void bochs_shutdown(void)
{
    for (const char *s = "Shutdown"; *s; s++)
        outb(0x8900, (uint8_t)*s);
}

void test_main(void)
{
    const uint32_t *mi = (const uint32_t *)mb_info;
    if (mb_magic == 0x2badb002 && (mi[0] & (1u << 9)) && mi[16])
        bochs = memcmp((const char *)mi[16], "btvm-bochs-loader", 18) == 0;
    const char *cl = cmdline();
    const char *sel = arg(cl, "bench");
    uint32_t scale = parse_u32(arg(cl, "scale"), 100);

    cli();
    outb(PIC1 + 1, 0xff);
    outb(PIC2 + 1, 0xff);
    user_mode_init();
    paging_init();
    tsc_khz = calibrate_tsc_khz();
    gprintf("NANO-TSC khz=%u\n", tsc_khz);
    /* Empty BEGIN/STOP pairs: what the markers alone cost a host-timed
     * measurement (the runner subtracts the lowest). */
    for (int i = 0; i < 3; i++)
        puts_serial("NANO-BEGIN null\nNANO-STOP\n");

    int ran = 0;
    for (uint32_t i = 0; i < NBENCH; i++) {
        const struct bench *b = &benches[i];
        if (!selected(sel, b->name) || (b->by_name_only && !named(sel, b->name)))
            continue;
        uint32_t n = (uint32_t)((uint64_t)b->n * scale / 100);
        if (n < 2)
            n = 2;
        int ok = 0, warm_ok = 0;
        b->fn(n / 10 + 1, &warm_ok);            /* warm-up: translations, fills */
        gprintf("NANO-BEGIN %s\n", b->name);
        uint64_t c = b->fn(n, &ok);
        puts_serial("NANO-STOP\n");
        ok = ok && warm_ok;
        gprintf("NANO name=%s n=%u cycles=", b->name, n);
        /* 64-bit decimal without a 64-bit printf */
        char buf[24];
        int len = 0;
        uint64_t v = c;
        do {
            buf[len++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        while (len)
            putc_serial(buf[--len]);
        puts_serial(" cyc_per_op=");
        print_ratio(c, n);
        puts_serial(" ns_per_op=");
        print_ratio(c * 1000000, (uint64_t)n * tsc_khz);
        gprintf(" check=%s\n", ok ? "ok" : "FAIL");
        if (!ok)
            test_failures++;
        ran++;
    }
    if (!ran) {
        gprintf("NANO no benchmark selected by bench=\n");
        test_failures++;
    }
    gprintf("NANO-END failures=%d\n", test_failures);
    if (bochs)
        bochs_shutdown();
}
