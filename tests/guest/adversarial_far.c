/*
 * Adversarial: far transfers to selectors that mean something on the host.
 *
 * 0x33, 0x2b and 0x23 are the x86-64 Linux user CS, user SS/DS and 32-bit
 * user CS; 0x10 is its kernel CS.  In the guest they are just indexes into
 * the guest's GDT: a far JMP/CALL/RET/IRET to one of them must be checked
 * against the guest's descriptor there (SDM Vol. 2 JMP, CALL, RET, IRET;
 * Vol. 3A §5.8) and either fault with #GP(selector) or go to the guest's
 * own segment — never transfer anywhere outside the guest.
 *
 *   - null selector: #GP(0); index beyond the GDT limit (also after LGDT
 *     with a short limit): #GP(sel & ~3); TI = 1 with no LDT: #GP(sel & ~3);
 *   - a data segment, a null descriptor, a TSS with DPL < RPL, a DPL-3
 *     code segment from CPL 0, a DPL-0 code segment from CPL 3: #GP(sel);
 *   - a call gate whose target selector is a null descriptor: #GP(target);
 *   - a copy of the host's 64-bit code descriptors (L = 1, D = 0): a
 *     32-bit CPU has no long mode and ignores L, so they are 16-bit code
 *     segments — the target runs as 16-bit code, in the guest;
 *   - a near jump past the CS limit: #GP(0) at the jump.
 */
#include "guest.h"

struct __attribute__((packed)) farptr {
    uint32_t off;
    uint16_t sel;
};
volatile struct farptr fp;   /* named in asm */

/* Linux x86-64 GDT entries (arch/x86 GDT_ENTRY_INIT values, as data). */
#define HOST_KERNEL_CS64 0x00af9b000000ffffull   /* DPL 0, L = 1, D = 0 */
#define HOST_USER_CS64   0x00affb000000ffffull   /* DPL 3, L = 1, D = 0 */

#define LOW_CODE 0x7000u   /* 16-bit code below 64 KiB */

static void check_gp(const char *what, uint32_t error)
{
    check(last_exc.count == 1 && last_exc.vector == 13 && last_exc.error == error &&
              last_exc.eip == try_addr,
          "%s: #GP(%x) at the instruction (got %u exceptions, vector %u, error %x, eip %08x/%08x)",
          what, error, last_exc.count, last_exc.vector, last_exc.error, last_exc.eip, try_addr);
}

static void far_jmp(uint16_t sel, uint32_t off)
{
    fp.off = off;
    fp.sel = sel;
    TRY("ljmp *fp");
}

uint32_t esp_before, esp_after;   /* named in asm */

static void far_call(uint16_t sel, uint32_t off)
{
    fp.off = off;
    fp.sel = sel;
    TRY_MARK("movl %%esp, esp_before\n\t" TRY_AT "lcall *fp\n\t");
    __asm__ volatile("movl %%esp, esp_after" ::: "memory");
}

static void far_ret(uint16_t sel, uint32_t off)
{
    exc_clear();
    __asm__ volatile("movl %%esp, esp_before\n\t"
                     TRY_SETUP "pushl %0\n\tpushl %1\n\t" TRY_AT "lret" TRY_END
                     "movl esp_before, %%esp"
                     : : "r"((uint32_t)sel), "r"(off) : "memory", "cc");
}

static void far_iret(uint16_t sel, uint32_t off)
{
    exc_clear();
    __asm__ volatile("movl %%esp, esp_before\n\t"
                     TRY_SETUP "pushl $0x23\n\tpushl %%esp\n\t"   /* a valid outer SS:ESP */
                     "pushfl\n\tpushl %0\n\tpushl %1\n\t" TRY_AT "iret" TRY_END
                     "movl esp_before, %%esp"
                     : : "r"((uint32_t)sel), "r"(off) : "memory", "cc");
}

/* Where a transfer that should have faulted would land. */
volatile uint32_t landed;
void far_landing(void);
__asm__(".text\n.globl far_landing\nfar_landing:\n\tmovl $1, landed\n\tcli\n\thlt\n");

static void lgdt(uint32_t base, uint16_t limit)
{
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } d = { limit, base };
    __asm__ volatile("lgdt %0" : : "m"(d) : "memory");
}

/* --- at CPL 3 ---------------------------------------------------------- */

struct ufault { uint32_t vector, error, count; };
static volatile struct ufault uf[8];

static void record(int i)
{
    uf[i].vector = last_exc.vector;
    uf[i].error = last_exc.error;
    uf[i].count = last_exc.count;
}

static void user_far(void)
{
    far_jmp(0x33, (uint32_t)far_landing);   /* null descriptor */
    record(0);
    far_jmp(0x2b, (uint32_t)far_landing);   /* the TSS, DPL 0 */
    record(1);
    far_jmp(0x23, (uint32_t)far_landing);   /* our DPL-3 data */
    record(2);
    far_jmp(0x08, (uint32_t)far_landing);   /* DPL-0 code from CPL 3 */
    record(3);
    far_call(0x10, (uint32_t)far_landing);  /* DPL-0 data */
    record(4);
    far_call(0x0f, (uint32_t)far_landing);  /* LDT, none loaded */
    record(5);
    user_exit(0);
}

/* 16-bit code at LOW_CODE: MOV AX, 0x1234 then, at CPL 3, INT 0x81 (user_exit);
 * at CPL 0, a 32-bit far jump back to 0x08:back16 (in test_main). */
void back16(void);
volatile uint32_t eax16;

static void put_16bit_code(int cpl3)
{
    volatile uint8_t *p = (volatile uint8_t *)LOW_CODE;
    p[0] = 0xb8;   /* 16-bit: MOV AX, 0x1234;  32/64-bit: MOV EAX, imm32 */
    p[1] = 0x34;
    p[2] = 0x12;
    if (cpl3) {
        p[3] = 0xcd;   /* INT 0x81 */
        p[4] = 0x81;
        p[5] = 0xcd;   /* in 32-bit code: MOV EAX, 0x81cd1234; INT 0x81 */
        p[6] = 0x81;
    } else {
        uint32_t b = (uint32_t)back16;
        p[3] = 0x66;   /* o32 JMP FAR 0x08:back16 */
        p[4] = 0xea;
        for (int i = 0; i < 4; i++)
            p[5 + i] = (uint8_t)(b >> (8 * i));
        p[9] = 0x08;
        p[10] = 0x00;
        p[11] = 0x0f;  /* UD2 if the jump was not taken */
        p[12] = 0x0b;
    }
}

static void user_host_cs64(void)
{
    fp.off = LOW_CODE;
    fp.sel = 0x3b;
    __asm__ volatile("movl $0xaaaa0000, %%eax\n\tljmp *fp" ::: "eax", "memory");
    user_exit(0xdead);
}

static void user_null_jmp(void)
{
    far_jmp(0x3, (uint32_t)far_landing);    /* null selector with RPL 3 */
    record(0);
    user_exit(0);
}

void test_main(void)
{
    gprintf("adversarial_far: far JMP/CALL/RET/IRET to host-looking selectors stay in the guest\n");
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    user_mode_init();   /* TSS at 0x28 */
    gdt[6] = 0;         /* 0x30/0x33: null descriptor */
    /* No LDT.  (Out of reset LDTR has base 0 and limit 0xffff, SDM Vol. 3A
     * Table 9-1, and Multiboot leaves it alone: make "none" explicit.) */
    __asm__ volatile("lldt %w0" : : "r"(0));

    /* CPL 0. */
    far_jmp(0x33, (uint32_t)far_landing);
    check_gp("JMP FAR 0x33 (null descriptor)", 0x30);
    far_jmp(0x2b, (uint32_t)far_landing);
    check_gp("JMP FAR 0x2b (TSS with DPL 0 < RPL 3)", 0x28);
    far_jmp(0x23, (uint32_t)far_landing);
    check_gp("JMP FAR 0x23 (a data segment)", 0x20);
    far_jmp(0x10, (uint32_t)far_landing);
    check_gp("JMP FAR 0x10 (a data segment)", 0x10);
    far_jmp(0x00, (uint32_t)far_landing);
    check_gp("JMP FAR 0x00 (null selector)", 0);
    far_jmp(0x100, (uint32_t)far_landing);
    check_gp("JMP FAR 0x100 (beyond the GDT limit 0xff)", 0x100);
    far_jmp(0xfffb, (uint32_t)far_landing);
    check_gp("JMP FAR 0xfffb (the last GDT index)", 0xfff8);
    far_jmp(0x0c, (uint32_t)far_landing);
    check_gp("JMP FAR 0x0c (LDT, none loaded)", 0x0c);
    far_jmp(0x0f, (uint32_t)far_landing);
    check_gp("JMP FAR 0x0f (LDT, RPL 3)", 0x0c);

    far_call(0x33, (uint32_t)far_landing);
    check_gp("CALL FAR 0x33", 0x30);
    check_eq("faulting CALL FAR pushed nothing (ESP)", esp_after, esp_before);
    far_call(0x2b, (uint32_t)far_landing);
    check_gp("CALL FAR 0x2b (TSS)", 0x28);
    far_call(0x104, (uint32_t)far_landing);
    check_gp("CALL FAR 0x104 (beyond the GDT limit)", 0x104);

    far_ret(0x33, (uint32_t)far_landing);
    check_gp("RETF to 0x33 (null descriptor)", 0x30);
    far_ret(0x10, (uint32_t)far_landing);
    check_gp("RETF to 0x10 (data)", 0x10);
    far_ret(0x2b, (uint32_t)far_landing);
    check_gp("RETF to 0x2b (TSS)", 0x28);
    far_iret(0x33, (uint32_t)far_landing);
    check_gp("IRET to 0x33 (null descriptor)", 0x30);
    far_iret(0x0f, (uint32_t)far_landing);
    check_gp("IRET to 0x0f (LDT, none loaded)", 0x0c);

    /* The host's 64-bit user CS at 0x33: DPL 3, so #GP from CPL 0. */
    gdt[6] = HOST_USER_CS64;
    far_jmp(0x33, (uint32_t)far_landing);
    check_gp("JMP FAR to a DPL-3 L=1 code segment from CPL 0", 0x30);
    far_call(0x30, (uint32_t)far_landing);
    check_gp("CALL FAR to a DPL-3 L=1 code segment from CPL 0", 0x30);

    /* A call gate (DPL 0) whose target is a null descriptor. */
    gdt[6] = 0;
    uint32_t off = (uint32_t)far_landing;
    gdt[8] = (off & 0xffff) | (uint64_t)0x30 << 16 | (uint64_t)0x8c << 40 |
             (uint64_t)(off >> 16) << 48;
    far_call(0x40, 0);
    check_gp("CALL through a call gate to a null descriptor", 0x30);
    far_jmp(0x40, 0);
    check_gp("JMP through a call gate to a null descriptor", 0x30);
    gdt[8] = (off & 0xffff) | (uint64_t)0x233 << 16 | (uint64_t)0x8c << 40 |
             (uint64_t)(off >> 16) << 48;
    far_call(0x40, 0);
    check_gp("CALL through a call gate to a selector beyond the GDT", 0x230);
    gdt[8] = 0;

    /* A short GDT: 0x33 is then beyond the limit even with a valid entry. */
    gdt[6] = 0x00cf9a000000ffffull;   /* a flat ring-0 code segment */
    lgdt((uint32_t)gdt, 0x2f);
    far_jmp(0x30, (uint32_t)far_landing);
    check_gp("JMP FAR 0x30 with GDT limit 0x2f", 0x30);
    lgdt((uint32_t)gdt, sizeof(gdt) - 1);
    gdt[6] = 0;

    /* The host's 64-bit kernel CS (L = 1, D = 0) at 0x38: a 16-bit code
     * segment on a CPU without long mode. */
    gdt[7] = HOST_KERNEL_CS64;
    put_16bit_code(0);
    eax16 = 0;
    fp.off = LOW_CODE;
    fp.sel = 0x38;
    exc_clear();
    __asm__ volatile(TRY_BEGIN "movl $0xaaaa0000, %%eax\n\tljmp *fp\n"
                     ".globl back16\nback16:\n\t"
                     "movl %%eax, eax16" TRY_END ::: "eax", "ecx", "edx", "memory");
    check_eq("L=1 kernel code descriptor runs as 16-bit code (MOV AX only)", eax16, 0xaaaa1234);
    check_eq("... and raised nothing", last_exc.count, 0);

    /* A near jump past the CS limit: #GP(0) at the jump. CS 0x40: base 0,
     * limit 4 MiB - 1 (the kernel lies below 4 MiB).  QEMU's TCG does not
     * check the CS limit on jumps: it would run off into memory. */
    if (under_qemu()) {
        gprintf("skip near JMP past the CS limit (QEMU does not check it)\n");
        goto cpl3;
    }
    gdt_set(8, 0, 0x3ff, 0x9a, 0xc);
    exc_clear();
    __asm__ volatile("ljmp $0x40, $1f\n1:\n\t"
                     TRY_SETUP "movl $0x00400000, %%edx\n\t" TRY_AT "jmp *%%edx" TRY_END
                     "ljmp $0x08, $2f\n2:" ::: "edx", "memory");
    check_gp("near JMP past the CS limit", 0);
    check_eq("... taken in CS 0x40", last_exc.cs, 0x40);
    gdt[8] = 0;

    /* CPL 3. */
cpl3:
    gdt[6] = 0;
    enter_user(user_far, USER_STACK_TOP, 0x202, SEL_DATA3);
    static const struct { const char *what; uint32_t error; } u[] = {
        { "CPL 3: JMP FAR 0x33 (null descriptor)", 0x30 },
        { "CPL 3: JMP FAR 0x2b (TSS, DPL 0)", 0x28 },
        { "CPL 3: JMP FAR 0x23 (a data segment)", 0x20 },
        { "CPL 3: JMP FAR 0x08 (DPL-0 code)", 0x08 },
        { "CPL 3: CALL FAR 0x10 (DPL-0 data)", 0x10 },
        { "CPL 3: CALL FAR 0x0f (LDT, none loaded)", 0x0c },
    };
    for (unsigned i = 0; i < sizeof(u) / sizeof(u[0]); i++)
        check(uf[i].count == 1 && uf[i].vector == 13 && uf[i].error == u[i].error,
              "%s: #GP(%x) (got %u exceptions, vector %u, error %x)", u[i].what, u[i].error,
              uf[i].count, uf[i].vector, uf[i].error);
    enter_user(user_null_jmp, USER_STACK_TOP, 0x202, SEL_DATA3);
    check(uf[0].count == 1 && uf[0].vector == 13 && uf[0].error == 0,
          "CPL 3: JMP FAR 0x03 (null selector): #GP(0) (got %u, vector %u, error %x)", uf[0].count,
          uf[0].vector, uf[0].error);

    /* The host's 64-bit user CS (DPL 3, L = 1) at 0x38 from CPL 3: 16-bit code. */
    gdt[7] = HOST_USER_CS64;
    put_16bit_code(1);
    uint32_t r = enter_user(user_host_cs64, USER_STACK_TOP, 0x202, SEL_DATA3);
    check_eq("CPL 3: L=1 user code descriptor runs as 16-bit code", r, 0xaaaa1234);
    gdt[7] = 0;

    check_eq("no faulting transfer reached its target", landed, 0);
}
