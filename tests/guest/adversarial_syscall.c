/*
 * Adversarial: system-call instructions at CPL 3 reach the guest's own
 * handlers (or fault into them), never the host.
 *
 *   - INT 0x80 through the default DPL-0 gate: #GP(0x80 * 8 + 2); through a
 *     not-present DPL-3 gate: #NP(0x402); beyond the IDT limit: #GP(0x402);
 *     through a DPL-3 gate whose selector is a null descriptor, a data
 *     segment or beyond the GDT: #GP(selector); through a good DPL-3 gate:
 *     the guest's handler at CPL 0 with the TSS stack (SDM Vol. 2 INT n,
 *     Vol. 3A §6.12);
 *   - INT3 through a DPL-0 gate: #GP(0x1a); ICEBP (F1): #DB without the
 *     DPL check;
 *   - SYSCALL and SYSRET: #UD — the CPU is a 32-bit P6 and CPUID
 *     0x80000001:EDX.SYSCALL is clear (checked);
 *   - SYSENTER with IA32_SYSENTER_CS = 0: #GP(0); with it set: the guest's
 *     entry point at CPL 0, IF cleared, flat CS/SS from the MSR without
 *     reading the GDT, and SYSEXIT back to CPL 3 (SDM Vol. 2 SYSENTER).
 */
#include "guest.h"

#define USER_EFLAGS 0x00000202u

struct ufault { uint32_t vector, error, count, eip, tryaddr; };
static volatile struct ufault uf[8];

static void record(int i)
{
    uf[i].vector = last_exc.vector;
    uf[i].error = last_exc.error;
    uf[i].count = last_exc.count;
    uf[i].eip = last_exc.eip;
    uf[i].tryaddr = try_addr;
}

static void check_uf(const char *what, int i, uint32_t vector, uint32_t error)
{
    check(uf[i].count == 1 && uf[i].vector == vector && uf[i].error == error,
          "%s: vector %u error %x (got %u exceptions, vector %u, error %x)", what, vector, error,
          uf[i].count, uf[i].vector, uf[i].error);
}

static void wrmsr(uint32_t msr, uint32_t lo)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"(lo), "d"(0) : "memory");
}

/* --- INT 0x80 ---------------------------------------------------------- */

static volatile uint32_t h80_count, h80_cs, h80_cpl;

static void isr80(struct frame *f)
{
    uint32_t cs;
    __asm__ volatile("xorl %0, %0; movw %%cs, %w0" : "=r"(cs));
    h80_cpl = cs & 3;
    h80_cs = f->cs;
    h80_count++;
    f->eax = ~f->eax;
}

static void user_int80_once(void)
{
    TRY("int $0x80");
    record(0);
    user_exit(0);
}

static void user_int80_call(void)
{
    uint32_t r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(0x5a5a0000u) : "memory");
    user_exit(r);
}

static void user_traps(void)
{
    TRY("int3");
    record(0);
    TRY(".byte 0xf1");              /* ICEBP / INT1 */
    record(1);
    TRY("syscall");
    record(2);
    TRY("sysret");
    record(3);
    TRY("sysenter");                /* IA32_SYSENTER_CS = 0 */
    record(4);
    user_exit(0);
}

/* --- SYSENTER ---------------------------------------------------------- */

volatile uint32_t se_cs, se_ss, se_esp, se_eflags, se_count, u_cs_after, u_ss_after;
static uint8_t se_stack[1024] __attribute__((aligned(16)));
void sysenter_entry(void);
void user_sysenter(void);
__asm__(".text\n"
        ".globl sysenter_entry\n"
        "sysenter_entry:\n\t"
        "movl $0, se_cs\n\tmovw %cs, se_cs\n\t"
        "movl $0, se_ss\n\tmovw %ss, se_ss\n\t"
        "movl %esp, se_esp\n\t"
        "pushfl\n\tpopl se_eflags\n\t"
        "incl se_count\n\t"
        "notl %eax\n\t"                  /* the call's result */
        "sysexit\n"                      /* to EDX at CPL 3 with ESP = ECX */
        ".globl user_sysenter\n"
        "user_sysenter:\n\t"
        "movl %esp, %ecx\n\t"
        "movl $1f, %edx\n\t"
        "movl $0x00ff00ff, %eax\n\t"
        "sysenter\n"
        "1:\n\t"
        "movl $0, u_cs_after\n\tmovw %cs, u_cs_after\n\t"
        "movl $0, u_ss_after\n\tmovw %ss, u_ss_after\n\t"
        "int $0x81\n");                  /* user_exit(EAX) */

void test_main(void)
{
    gprintf("adversarial_syscall: INT 0x80, INT3, ICEBP, SYSCALL, SYSRET, SYSENTER at CPL 3\n");
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    user_mode_init();

    uint32_t a, b, c, d;
    cpuid(0x80000000u, &a, &b, &c, &d);
    uint32_t ext_edx = 0;
    if (a >= 0x80000001u)
        cpuid(0x80000001u, &a, &b, &c, &ext_edx);
    check((ext_edx & (1u << 11)) == 0, "CPUID 0x80000001: no SYSCALL/SYSRET (edx %08x)", ext_edx);
    cpuid(1, &a, &b, &c, &d);
    check((d & (1u << 11)) != 0, "CPUID 1: SEP (SYSENTER/SYSEXIT) offered (edx %08x)", d);

    /* INT 0x80 through the runtime's DPL-0 gate. */
    enter_user(user_int80_once, USER_STACK_TOP, USER_EFLAGS, SEL_DATA3);
    check_uf("CPL 3: INT 0x80, DPL-0 gate", 0, 13, 0x402);
    /* A not-present DPL-3 gate. */
    idt_set(0x80, isr_stub(0x80), SEL_CODE0, 0x6e);
    enter_user(user_int80_once, USER_STACK_TOP, USER_EFLAGS, SEL_DATA3);
    check_uf("CPL 3: INT 0x80, not-present DPL-3 gate", 0, 11, 0x402);
    /* DPL-3 gates to selectors that are not the guest's code. */
    gdt[6] = 0;
    idt_set(0x80, isr_stub(0x80), 0x33, 0xee);
    enter_user(user_int80_once, USER_STACK_TOP, USER_EFLAGS, SEL_DATA3);
    check_uf("CPL 3: INT 0x80, gate to 0x33 (null descriptor)", 0, 13, 0x30);
    idt_set(0x80, isr_stub(0x80), 0x23, 0xee);
    enter_user(user_int80_once, USER_STACK_TOP, USER_EFLAGS, SEL_DATA3);
    check_uf("CPL 3: INT 0x80, gate to 0x23 (data)", 0, 13, 0x20);
    idt_set(0x80, isr_stub(0x80), 0x2b, 0xee);
    enter_user(user_int80_once, USER_STACK_TOP, USER_EFLAGS, SEL_DATA3);
    check_uf("CPL 3: INT 0x80, gate to 0x2b (the TSS)", 0, 13, 0x28);
    idt_set(0x80, isr_stub(0x80), 0x800, 0xee);
    enter_user(user_int80_once, USER_STACK_TOP, USER_EFLAGS, SEL_DATA3);
    check_uf("CPL 3: INT 0x80, gate to 0x800 (beyond the GDT)", 0, 13, 0x800);
    /* The real thing. */
    idt_set(0x80, isr_stub(0x80), SEL_CODE0, 0xee);
    set_handler(0x80, isr80);
    uint32_t r = enter_user(user_int80_call, USER_STACK_TOP, USER_EFLAGS, SEL_DATA3);
    check_eq("CPL 3: INT 0x80, DPL-3 gate: the guest's handler ran once", h80_count, 1);
    check_eq("... at CPL 0", h80_cpl, 0);
    check_eq("... interrupted CS 0x1b", h80_cs, SEL_CODE3);
    check_eq("... and its result came back", r, 0xa5a5ffffu);
    set_handler(0x80, NULL);

    /* INT 0x80 beyond the IDT limit (CPL 0: user_exit's INT 0x81 would be too). */
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } idtr = { 0x80 * 8 - 1, (uint32_t)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));
    TRY("int $0x80");
    idtr.limit = sizeof(idt) - 1;
    __asm__ volatile("lidt %0" : : "m"(idtr));
    check(last_exc.count == 1 && last_exc.vector == 13 && last_exc.error == 0x402,
          "INT 0x80 beyond the IDT limit: #GP(0x402) (got %u, vector %u, error %x)", last_exc.count,
          last_exc.vector, last_exc.error);

    /* INT3, ICEBP, SYSCALL, SYSRET, SYSENTER without an entry point. */
    wrmsr(0x174, 0);
    enter_user(user_traps, USER_STACK_TOP, USER_EFLAGS, SEL_DATA3);
    check_uf("CPL 3: INT3 through a DPL-0 gate", 0, 13, 3 * 8 + 2);
    if (under_qemu()) {
        gprintf("skip ICEBP (QEMU 7.2 raises #UD for F1)\n");
    } else {
        check_uf("CPL 3: ICEBP (no DPL check): #DB", 1, 1, 0);
        check(uf[1].eip == uf[1].tryaddr + 1,
              "... a trap: EIP after the instruction (%08x, insn %08x)", uf[1].eip, uf[1].tryaddr);
    }
    check_uf("CPL 3: SYSCALL", 2, 6, 0);
    check(uf[2].eip == uf[2].tryaddr, "... #UD at the instruction");
    check_uf("CPL 3: SYSRET", 3, 6, 0);
    check_uf("CPL 3: SYSENTER with IA32_SYSENTER_CS = 0", 4, 13, 0);
    TRY("syscall");
    check(last_exc.count == 1 && last_exc.vector == 6, "CPL 0: SYSCALL: #UD (got %u, vector %u)",
          last_exc.count, last_exc.vector);

    /* SYSENTER into the guest's entry point and SYSEXIT back. */
    wrmsr(0x174, SEL_CODE0);
    wrmsr(0x175, (uint32_t)se_stack + sizeof(se_stack));
    wrmsr(0x176, (uint32_t)sysenter_entry);
    r = enter_user(user_sysenter, USER_STACK_TOP, USER_EFLAGS, SEL_DATA3);
    check_eq("SYSENTER: the guest's entry point ran once", se_count, 1);
    check_eq("SYSENTER: CS = IA32_SYSENTER_CS", se_cs, SEL_CODE0);
    check_eq("SYSENTER: SS = IA32_SYSENTER_CS + 8", se_ss, SEL_DATA0);
    check_eq("SYSENTER: ESP = IA32_SYSENTER_ESP", se_esp, (uint32_t)se_stack + sizeof(se_stack));
    check_eq("SYSENTER: IF cleared", se_eflags & EFL_IF, 0);
    check_eq("SYSEXIT: back at CPL 3 in CS = IA32_SYSENTER_CS + 16 | 3", u_cs_after, SEL_CODE3);
    check_eq("SYSEXIT: SS = IA32_SYSENTER_CS + 24 | 3", u_ss_after, SEL_DATA3);
    check_eq("SYSENTER/SYSEXIT: the call's result", r, 0xff00ff00u);

    /* IA32_SYSENTER_CS = 0x30: a null GDT entry.  SYSENTER does not read
     * the GDT: CS 0x30 and SS 0x38 are loaded flat, still the guest's. */
    gdt[6] = gdt[7] = 0;
    wrmsr(0x174, 0x30);
    se_count = 0;
    r = enter_user(user_sysenter, USER_STACK_TOP, USER_EFLAGS, SEL_DATA3);
    check_eq("SYSENTER with CS MSR 0x30: the guest's entry point ran once", se_count, 1);
    check_eq("... in CS 0x30", se_cs, 0x30);
    check_eq("... with SS 0x38", se_ss, 0x38);
    check_eq("SYSEXIT: CS 0x43", u_cs_after, 0x43);
    check_eq("SYSEXIT: SS 0x4b", u_ss_after, 0x4b);
    check_eq("... and the call's result", r, 0xff00ff00u);
    wrmsr(0x174, 0);
}
