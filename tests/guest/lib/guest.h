/*
 * Guest-test runtime: what every btvm guest test program links with.
 *
 * The program defines test_main(); the runtime (start.asm, guest.c) enters
 * from Multiboot, loads its own GDT and IDT, initialises COM1, runs
 * test_main(), then prints "PASS" (no check failed) or "FAIL: ..." and
 * leaves through the debug-exit port 0xf4 with 0 (pass) or 1 (fail), so
 * btvm exits with status 1 or 3.  Any exception or interrupt that no test
 * expected prints "FAIL: unexpected ..." and exits with 1.
 *
 * GDT (selectors):
 *   0x08 ring-0 code, 0x10 ring-0 data, 0x1b ring-3 code, 0x23 ring-3 data
 *   (all flat 4 GiB, 32-bit), 0x28 the main TSS (after tss_init()),
 *   entries 6..GDT_ENTRIES-1 (0x30...) free for tests: gdt_set().
 * IDT: 256 interrupt gates (DPL 0) to stubs that call isr_dispatch().
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define SEL_CODE0 0x08
#define SEL_DATA0 0x10
#define SEL_CODE3 0x1b
#define SEL_DATA3 0x23
#define SEL_TSS   0x28
#define GDT_ENTRIES 32

/* The interrupt frame, as isr_common builds it (lowest address first). */
struct frame {
    uint32_t edi, esi, ebp, esp_pushad, ebx, edx, ecx, eax;
    uint32_t gs, fs, es, ds;
    uint32_t vector, error;
    uint32_t eip, cs, eflags;
    uint32_t esp, ss;   /* only when the event came from an outer ring */
};

/* The last exception no handler claimed (see isr_dispatch in guest.c). */
struct exc_record {
    uint32_t vector, error, eip, cs, eflags, cr2, count;
};
extern volatile struct exc_record last_exc;

/*
 * Where an expected exception resumes: if non-zero when an exception with
 * no installed handler arrives, the event is recorded in last_exc, the
 * saved EIP is replaced by exc_resume, and exc_resume is cleared.
 */
extern volatile uint32_t exc_resume;

/*
 * Expecting an exception from a few instructions:
 *
 *     exc_clear();
 *     asm volatile(TRY_BEGIN "divl %%ecx" TRY_END : : "a"(1), "d"(0), "c"(0) : "memory", "cc");
 *     check_eq("#DE vector", last_exc.vector, 0);
 *     check_eq("#DE eip", last_exc.eip, try_addr);
 *
 * TRY_BEGIN stores the address of the first instruction in try_addr and
 * points exc_resume (and try_end) at TRY_END's label, so a fault anywhere
 * in between resumes after the instructions with the registers as they
 * were at the fault.  TRY("insns") is the form without operands; its
 * instructions may use EAX, ECX and EDX freely.  TRY_MARK("setup" TRY_AT
 * "insn") is TRY with try_addr at the instruction after TRY_AT instead.
 */
extern volatile uint32_t try_addr, try_end;
#define TRY_SETUP "movl $7702f, exc_resume\n\tmovl $7702f, try_end\n\tmovl $7701f, try_addr\n\t"
#define TRY_AT "\n7701:\n\t"
#define TRY_BEGIN TRY_SETUP TRY_AT
#define TRY_END "\n7702:\n\tmovl $0, exc_resume\n\t"
#define TRY_MARK(insns) \
    do { exc_clear(); __asm__ volatile(TRY_SETUP insns TRY_END ::: "memory", "cc", "eax", "ecx", "edx"); } while (0)
#define TRY(insns) TRY_MARK(TRY_AT insns)

typedef void (*isr_handler)(struct frame *f);

/* Install a handler for vector (NULL: back to recording/fail). */
void set_handler(int vector, isr_handler h);

/* Descriptor tables. */
extern uint64_t gdt[GDT_ENTRIES];
extern uint64_t idt[256];
uint64_t make_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags4);
void gdt_set(int index, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags4);
/* type_attr: 0x8e interrupt gate, 0x8f trap gate, 0x85 task gate; | 0x60 for DPL 3 */
void idt_set(int vector, uint32_t offset, uint16_t selector, uint8_t type_attr);
/* The stub address for vector (what idt[vector] points at by default). */
uint32_t isr_stub(int vector);
void exc_clear(void);

/* The 32-bit TSS (SDM Vol. 3A Figure 8-2). */
struct tss32 {
    uint16_t link, r0;
    uint32_t esp0;
    uint16_t ss0, r1;
    uint32_t esp1;
    uint16_t ss1, r2;
    uint32_t esp2;
    uint16_t ss2, r3;
    uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint16_t es, r4, cs, r5, ss, r6, ds, r7, fs, r8, gs, r9, ldt, r10;
    uint16_t trap, iomap;
} __attribute__((packed));
extern struct tss32 tss0;
/* Main TSS: ESP0 = a ring-0 stack of its own, SS0 = 0x10; loads TR = 0x28. */
void tss_init(void);

/*
 * Running code at CPL 3.  user_mode_init() calls tss_init() and installs
 * the DPL-3 gate INT 0x81 that user_exit() uses.  enter_user() IRETs to
 * eip at CPL 3 (CS 0x1b, SS 0x23, ESP esp, EFLAGS eflags, DS/ES/FS/GS
 * dsel) and returns the value the user code passes to user_exit(v).
 * User code must not print (IOPL is 0): store results, check them after.
 */
void user_mode_init(void);
uint32_t enter_user(void (*eip)(void), uint32_t esp, uint32_t eflags, uint32_t dsel);
static inline __attribute__((noreturn)) void user_exit(uint32_t v)
{
    __asm__ volatile("int $0x81" : : "a"(v) : "memory");
    __builtin_unreachable();
}
extern uint8_t user_stack[8192];
#define USER_STACK_TOP ((uint32_t)user_stack + sizeof(user_stack))

/* Multiboot values the loader passed; EFLAGS and CR0 at entry. */
extern uint32_t mb_magic, mb_info, entry_eflags, entry_cr0;

/*
 * The Multiboot loader called itself "qemu": run under QEMU to check the
 * tests themselves (GUEST_VM=qemu).  QEMU's TCG leaves out a few checks
 * that real CPUs (and btvm) make — data-segment limits and types, #AC,
 * #XM —; tests skip those checks there and say so.
 */
int under_qemu(void);

/* Output on COM1. */
void putc_serial(char c);
void puts_serial(const char *s);
void gprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vgprintf(const char *fmt, va_list ap);

/* Checks: print "ok   what" or "FAIL what", count failures. */
int check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int check_eq(const char *what, uint32_t got, uint32_t want);
extern int test_failures;

/* Debug-exit: btvm / QEMU exit with status (code << 1) | 1. */
void guest_exit(int code) __attribute__((noreturn));
/* Print PASS or FAIL and exit. */
void test_finish(void) __attribute__((noreturn));

/* What each program defines. */
void test_main(void);

/* Freestanding C still needs these. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Port I/O and system registers. */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

#define DEF_CR(n)                                                                           \
    static inline uint32_t read_cr##n(void) { uint32_t v; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; } \
    static inline void write_cr##n(uint32_t v) { __asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory"); }
DEF_CR(0)
DEF_CR(2)
DEF_CR(3)
DEF_CR(4)
#undef DEF_CR

static inline uint32_t read_eflags(void) { uint32_t v; __asm__ volatile("pushfl; popl %0" : "=r"(v)); return v; }
static inline void write_eflags(uint32_t v) { __asm__ volatile("pushl %0; popfl" : : "r"(v) : "memory", "cc"); }
static inline void invlpg(uint32_t a) { __asm__ volatile("invlpg (%0)" : : "r"(a) : "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline uint16_t read_tr(void) { uint16_t v; __asm__ volatile("str %0" : "=r"(v)); return v; }
static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

#define CR0_PE 0x00000001u
#define CR0_MP 0x00000002u
#define CR0_EM 0x00000004u
#define CR0_TS 0x00000008u
#define CR0_NE 0x00000020u
#define CR0_WP 0x00010000u
#define CR0_AM 0x00040000u
#define CR0_PG 0x80000000u
#define CR4_PSE 0x00000010u
#define CR4_OSFXSR 0x00000200u
#define CR4_OSXMMEXCPT 0x00000400u
#define EFL_CF 0x00000001u
#define EFL_TF 0x00000100u
#define EFL_IF 0x00000200u
#define EFL_DF 0x00000400u
#define EFL_OF 0x00000800u
#define EFL_IOPL 0x00003000u
#define EFL_NT 0x00004000u
#define EFL_RF 0x00010000u
#define EFL_VM 0x00020000u
#define EFL_AC 0x00040000u

#endif
