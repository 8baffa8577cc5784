/*
 * Guest-test runtime, C half: descriptor tables, the interrupt dispatcher,
 * COM1 output, checks and the exit path.  See guest.h.
 */
#include "guest.h"

#define COM1 0x3f8
#define DEBUG_EXIT_PORT 0xf4

uint32_t mb_magic, mb_info, entry_eflags, entry_cr0;
int test_failures;
volatile struct exc_record last_exc;
volatile uint32_t exc_resume;
volatile uint32_t try_addr, try_end;
static isr_handler handlers[256];

/* Flat segments (SDM Vol. 3A §3.4.5): base 0, limit 0xfffff pages, G=1, D=1.
 * Access bytes: 0x9a code DPL0, 0x92 data DPL0, 0xfa code DPL3, 0xf2 data DPL3. */
uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(8))) = {
    0,
    0x00cf9a000000ffffull,
    0x00cf92000000ffffull,
    0x00cffa000000ffffull,
    0x00cff2000000ffffull,
};
uint64_t idt[256] __attribute__((aligned(8)));
struct tss32 tss0 __attribute__((aligned(128)));
static uint8_t ring0_stack[8192] __attribute__((aligned(16)));
extern uint8_t isr_stubs[];

uint64_t make_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags4)
{
    uint64_t d = (limit & 0xffff) | ((uint64_t)(base & 0xffffff) << 16);
    d |= (uint64_t)access << 40;
    d |= (uint64_t)((limit >> 16) & 0xf) << 48;
    d |= (uint64_t)(flags4 & 0xf) << 52;
    d |= (uint64_t)(base >> 24) << 56;
    return d;
}

void gdt_set(int index, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags4)
{
    gdt[index] = make_desc(base, limit, access, flags4);
}

void idt_set(int vector, uint32_t offset, uint16_t selector, uint8_t type_attr)
{
    idt[vector] = (offset & 0xffff) | ((uint64_t)selector << 16) |
                  ((uint64_t)type_attr << 40) | ((uint64_t)(offset >> 16) << 48);
}

uint32_t isr_stub(int vector)
{
    return (uint32_t)isr_stubs + 16u * (uint32_t)vector;
}

void set_handler(int vector, isr_handler h)
{
    handlers[vector] = h;
}

void exc_clear(void)
{
    last_exc.vector = 0xffffffffu;
    last_exc.error = 0xffffffffu;
    last_exc.eip = 0;
    last_exc.cs = 0;
    last_exc.eflags = 0;
    last_exc.cr2 = 0;
    last_exc.count = 0;
}

void tss_init(void)
{
    memset(&tss0, 0, sizeof(tss0));
    tss0.ss0 = SEL_DATA0;
    tss0.esp0 = (uint32_t)ring0_stack + sizeof(ring0_stack);
    tss0.iomap = sizeof(tss0);          /* no I/O bitmap */
    gdt_set(SEL_TSS >> 3, (uint32_t)&tss0, sizeof(tss0) - 1, 0x89, 0); /* available 32-bit TSS */
    __asm__ volatile("ltr %w0" : : "r"(SEL_TSS));
}

uint8_t user_stack[8192] __attribute__((aligned(16)));
uint32_t kernel_saved_esp __attribute__((used));
void user_exit_isr(void);

/* enter_user(eip, esp, eflags, dsel): IRET to CPL 3 with DS=ES=FS=GS=dsel
 * (left to the IRET to null if it is a DPL-0 selector, SDM Vol. 3A §6.12.1
 * / IRET).  user_exit_isr is INT 0x81: back on the ring-0 stack of
 * enter_user's caller, returning the user's EAX. */
__asm__(
    ".text\n"
    ".globl enter_user\n"
    "enter_user:\n\t"
    "pushl %ebp\n\tpushl %ebx\n\tpushl %esi\n\tpushl %edi\n\t"
    "movl %esp, kernel_saved_esp\n\t"
    "movl 20(%esp), %eax\n\t"
    "movl 24(%esp), %ecx\n\t"
    "movl 28(%esp), %edx\n\t"
    "movl 32(%esp), %ebx\n\t"
    "pushl $0x23\n\t"         /* SS */
    "pushl %ecx\n\t"          /* ESP */
    "pushl %edx\n\t"          /* EFLAGS */
    "pushl $0x1b\n\t"         /* CS */
    "pushl %eax\n\t"          /* EIP */
    "movw %bx, %ds\n\tmovw %bx, %es\n\tmovw %bx, %fs\n\tmovw %bx, %gs\n\t"
    "iretl\n"
    ".globl user_exit_isr\n"
    "user_exit_isr:\n\t"
    "movw $0x10, %cx\n\tmovw %cx, %ds\n\tmovw %cx, %es\n\tmovw %cx, %fs\n\tmovw %cx, %gs\n\t"
    "movl kernel_saved_esp, %esp\n\t"
    "popl %edi\n\tpopl %esi\n\tpopl %ebx\n\tpopl %ebp\n\t"
    "ret\n");

int under_qemu(void)
{
    const uint32_t *mi = (const uint32_t *)mb_info;
    if (mb_magic != 0x2badb002 || !(mi[0] & (1u << 9)))
        return 0;
    const char *name = (const char *)mi[16];
    return memcmp(name, "qemu", 5) == 0;
}

void user_mode_init(void)
{
    tss_init();
    idt_set(0x81, (uint32_t)user_exit_isr, SEL_CODE0, 0xee);   /* interrupt gate, DPL 3 */
}

void isr_dispatch(struct frame *f)
{
    if (handlers[f->vector]) {
        handlers[f->vector](f);
        return;
    }
    if (exc_resume) {
        last_exc.vector = f->vector;
        last_exc.error = f->error;
        last_exc.eip = f->eip;
        last_exc.cs = f->cs;
        last_exc.eflags = f->eflags;
        last_exc.cr2 = read_cr2();
        last_exc.count++;
        f->eip = exc_resume;
        exc_resume = 0;
        return;
    }
    gprintf("FAIL: unexpected %s %u (error 0x%x) at %x:%08x, eflags %08x, cr2 %08x\n",
            f->vector < 32 ? "exception" : "interrupt", f->vector, f->error, f->cs, f->eip,
            f->eflags, read_cr2());
    guest_exit(1);
}

/* COM1: 115200 8N1, FIFOs on (PC16550D datasheet, Table II). */
static void serial_init(void)
{
    outb(COM1 + 1, 0x00);   /* IER: no interrupts */
    outb(COM1 + 3, 0x80);   /* LCR: DLAB */
    outb(COM1 + 0, 0x01);   /* DLL: divisor 1 = 115200 baud */
    outb(COM1 + 1, 0x00);   /* DLM */
    outb(COM1 + 3, 0x03);   /* LCR: 8N1 */
    outb(COM1 + 2, 0xc7);   /* FCR: enable and clear FIFOs */
    outb(COM1 + 4, 0x03);   /* MCR: DTR, RTS */
}

void putc_serial(char c)
{
    if (c == '\n')
        putc_serial('\r');
    /* Wait for THRE, but never forever: output must not hang a test. */
    for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
        ;
    outb(COM1, (uint8_t)c);
}

void puts_serial(const char *s)
{
    while (*s)
        putc_serial(*s++);
}

static void put_num(uint32_t v, unsigned base, int width, char pad, int neg)
{
    char buf[12];
    int n = 0;
    do {
        buf[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (neg)
        buf[n++] = '-';
    while (width-- > n)
        putc_serial(pad);
    while (n)
        putc_serial(buf[--n]);
}

/* printf with %c %s %d %u %x %p, a width (zero-padded with a leading 0, left-justified
 * with a leading -). */
void vgprintf(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            putc_serial(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, left = 0;
        if (*fmt == '-') {
            left = 1;
            fmt++;
        }
        if (*fmt == '0')
            pad = '0';
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        switch (*fmt) {
        case 'c': putc_serial((char)va_arg(ap, int)); break;
        case 's': {
            const char *str = va_arg(ap, const char *);
            int n = (int)strlen(str);
            for (; !left && width > n; width--)
                putc_serial(' ');
            puts_serial(str);
            for (; left && width > n; width--)
                putc_serial(' ');
            break;
        }
        case 'u': put_num(va_arg(ap, uint32_t), 10, width, pad, 0); break;
        case 'x': put_num(va_arg(ap, uint32_t), 16, width, pad, 0); break;
        case 'p': put_num((uint32_t)va_arg(ap, void *), 16, 8, '0', 0); break;
        case 'd': {
            int v = va_arg(ap, int);
            put_num(v < 0 ? -(uint32_t)v : (uint32_t)v, 10, width, pad, v < 0);
            break;
        }
        case '%': putc_serial('%'); break;
        case 0: return;
        default: putc_serial('%'); putc_serial(*fmt); break;
        }
    }
}

void gprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vgprintf(fmt, ap);
    va_end(ap);
}

int check(int ok, const char *fmt, ...)
{
    va_list ap;
    puts_serial(ok ? "  ok   " : "  FAIL ");
    va_start(ap, fmt);
    vgprintf(fmt, ap);
    va_end(ap);
    putc_serial('\n');
    if (!ok)
        test_failures++;
    return ok;
}

int check_eq(const char *what, uint32_t got, uint32_t want)
{
    if (got == want)
        return check(1, "%s = 0x%x", what, got);
    return check(0, "%s = 0x%x, expected 0x%x", what, got, want);
}

void guest_exit(int code)
{
    outb(DEBUG_EXIT_PORT, (uint8_t)code);
    for (;;)
        __asm__ volatile("cli; hlt");
}

void test_finish(void)
{
    if (test_failures) {
        gprintf("FAIL: %d check%s failed\n", test_failures, test_failures == 1 ? "" : "s");
        guest_exit(1);
    }
    puts_serial("PASS\n");
    guest_exit(0);
}

/* Called from _start with the Multiboot registers. */
void lib_start(uint32_t magic, uint32_t info) __attribute__((noreturn));
void lib_start(uint32_t magic, uint32_t info)
{
    mb_magic = magic;
    mb_info = info;
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } gdtr, idtr;
    gdtr.limit = sizeof(gdt) - 1;
    gdtr.base = (uint32_t)gdt;
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp $0x08, $1f\n"
                     "1:\n\t"
                     "movw $0x10, %%ax\n\t"
                     "movw %%ax, %%ds\n\t"
                     "movw %%ax, %%es\n\t"
                     "movw %%ax, %%fs\n\t"
                     "movw %%ax, %%gs\n\t"
                     "movw %%ax, %%ss"
                     : : "m"(gdtr) : "eax", "memory");
    for (int v = 0; v < 256; v++)
        idt_set(v, isr_stub(v), SEL_CODE0, 0x8e);
    idtr.limit = sizeof(idt) - 1;
    idtr.base = (uint32_t)idt;
    __asm__ volatile("lidt %0" : : "m"(idtr));
    exc_clear();
    serial_init();
    test_main();
    test_finish();
}

void *memset(void *d, int c, size_t n)
{
    uint8_t *p = d;
    while (n--)
        *p++ = (uint8_t)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    uint8_t *p = d;
    const uint8_t *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q)
            return *p < *q ? -1 : 1;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}
