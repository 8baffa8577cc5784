/*
 * User mode and back (SDM Vol. 3A §5.8 privilege transfers, §6.12 interrupt
 * and exception handling with a stack switch, §7.2 the TSS):
 *   - IRET to CPL 3, data segments with DPL < 3 nulled by that IRET;
 *   - INT 0x80 through a DPL-3 interrupt gate: stack switch to TSS.ESP0,
 *     the outer SS:ESP pushed, IF cleared; a DPL-3 trap gate keeps IF;
 *   - INT n through a DPL-0 gate from CPL 3: #GP(vector*8+2);
 *   - a call gate from CPL 3 to CPL 0 copying one parameter, and the far
 *     return with RET 4 back to CPL 3;
 *   - privileged instructions, I/O with IOPL 0 and loading a DPL-0 data
 *     segment at CPL 3: #GP;
 *   - user/supervisor paging: #PF error codes 4, 5, 7 (U/S bit set), and
 *     CR0.WP does not apply to user writes.
 * User code only computes and stores to memory (no output: IOPL is 0); the
 * kernel checks what it left behind.
 */
#include "guest.h"

#define USER_EFLAGS 0x00000202u  /* IF=1, IOPL=0 (the PIC is fully masked) */

/* --- the call gate's target and a user program, in assembly ------------- */
void callgate_target(void);
void user_nullds(void);

__asm__(
    ".text\n"
    /* The call gate's target, at CPL 0: record what the gate did. */
    ".globl callgate_target\n"
    "callgate_target:\n\t"
    "movl %cs, %eax\n\tmovl %eax, cg_cs\n\t"
    "movl %ss, %eax\n\tmovl %eax, cg_ss\n\t"
    "movl %esp, cg_esp\n\t"
    "movl 0(%esp), %eax\n\tmovl %eax, cg_ret_eip\n\t"
    "movl 4(%esp), %eax\n\tmovl %eax, cg_ret_cs\n\t"
    "movl 8(%esp), %eax\n\tmovl %eax, cg_param\n\t"
    "movl 12(%esp), %eax\n\tmovl %eax, cg_user_esp\n\t"
    "movl 16(%esp), %eax\n\tmovl %eax, cg_user_ss\n\t"
    "lret $4\n"
    /* Entered with DS=ES=0x10 at CPL 0: the IRET must have nulled them. */
    ".globl user_nullds\n"
    "user_nullds:\n\t"
    "xorl %eax, %eax\n\t"
    "movw %ds, %ax\n\t"
    "shll $16, %eax\n\t"
    "movw %es, %ax\n\t"
    "movw $0x23, %dx\n\tmovw %dx, %ds\n\tmovw %dx, %es\n\t"
    "int $0x81\n");

uint32_t cg_cs, cg_ss, cg_esp, cg_ret_eip, cg_ret_cs, cg_param, cg_user_esp, cg_user_ss;
uint32_t cg_esp_before, cg_esp_after, cg_cs_after __attribute__((used));

/* --- user programs ----------------------------------------------------- */

static void user_segments(void)
{
    uint32_t cs, ss;
    __asm__ volatile("xorl %0, %0; movw %%cs, %w0" : "=r"(cs));
    __asm__ volatile("xorl %0, %0; movw %%ss, %w0" : "=r"(ss));
    user_exit(cs | ss << 16);
}

/* int 0x80 through the DPL-3 interrupt gate. */
static volatile uint32_t h80_cs, h80_ss, h80_esp, h80_frame, h80_if, h80_cpl, h80_count;
static volatile uint32_t h82_if;
static volatile uint32_t u_esp_at_int;

static void isr80(struct frame *f)
{
    uint32_t cs;
    __asm__ volatile("xorl %0, %0; movw %%cs, %w0" : "=r"(cs));
    h80_cpl = cs & 3;
    h80_cs = f->cs;
    h80_ss = f->ss;
    h80_esp = f->esp;
    h80_frame = (uint32_t)f;
    h80_if = read_eflags() & EFL_IF;
    h80_count++;
    f->eax = f->eax * 3;   /* the syscall's result */
}

static void isr82(struct frame *f)
{
    (void)f;
    h82_if = read_eflags() & EFL_IF;
}

static void user_int80(void)
{
    uint32_t r;
    __asm__ volatile("movl %%esp, u_esp_at_int\n\tint $0x80" : "=a"(r) : "a"(14) : "memory");
    __asm__ volatile("int $0x82" ::: "memory");
    user_exit(r);
}

/* INT through a DPL-0 gate, privileged instructions, I/O, DS loads. */
struct ufault { uint32_t vector, error, cs, count; };
static volatile struct ufault uf[8];

static void record(int i)
{
    uf[i].vector = last_exc.vector;
    uf[i].error = last_exc.error;
    uf[i].cs = last_exc.cs;
    uf[i].count = last_exc.count;
}

static void user_faults(void)
{
    TRY("int $0x40");
    record(0);
    TRY("cli");
    record(1);
    TRY("hlt");
    record(2);
    TRY("movl %%cr0, %%eax");
    record(3);
    TRY("inb $0x80, %%al");
    record(4);
    TRY("movw $0x10, %%ax\n\tmovw %%ax, %%fs");
    record(5);
    TRY("lgdt (0)");
    record(6);
    user_exit(0);
}

/* A call gate from CPL 3 to CPL 0 with one parameter. */
static void user_callgate(void)
{
    __asm__ volatile("movl %%esp, cg_esp_before\n\t"
                     "pushl $0x12345678\n\t"
                     "lcall $0x33, $0\n\t"
                     "movl %%esp, cg_esp_after\n\t"
                     "movl %%cs, %%eax\n\t"
                     "movl %%eax, cg_cs_after"
                     ::: "eax", "memory");
    user_exit(0);
}

/* User/supervisor paging. */
#define PTE_P 1u
#define PTE_W 2u
#define PTE_U 4u
#define PDE_PS 0x80u
static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt_test[1024] __attribute__((aligned(4096)));
static uint8_t frames[3][4096] __attribute__((aligned(4096)));
#define SUP_VA 0x40000000u    /* supervisor read/write */
#define URO_VA 0x40001000u    /* user read-only */
#define UNP_VA 0x40002000u    /* not present */
#define URW_VA 0x40003000u    /* user read/write */

static void user_paging(void)
{
    volatile uint32_t v;
    exc_clear();
    __asm__ volatile(TRY_BEGIN "movl (%1), %0" TRY_END : "=r"(v) : "r"(SUP_VA) : "memory");
    record(0);
    exc_clear();
    __asm__ volatile(TRY_BEGIN "movl %1, (%0)" TRY_END : : "r"(URO_VA), "r"(1) : "memory");
    record(1);
    exc_clear();
    __asm__ volatile(TRY_BEGIN "movl (%1), %0" TRY_END : "=r"(v) : "r"(UNP_VA) : "memory");
    record(2);
    exc_clear();
    __asm__ volatile(TRY_BEGIN "movl %1, (%0)" TRY_END : : "r"(URW_VA), "r"(0x600d) : "memory");
    record(3);
    v = *(volatile uint32_t *)URO_VA;
    user_exit(v);
}

static void check_fault(const char *what, int i, uint32_t vector, uint32_t error)
{
    check(uf[i].count == 1 && uf[i].vector == vector && uf[i].error == error && uf[i].cs == 0x1b,
          "%s: vector %u error %x from CS 0x1b (got %u exceptions, vector %u error %x cs %x)",
          what, vector, error, uf[i].count, uf[i].vector, uf[i].error, uf[i].cs);
}

void test_main(void)
{
    gprintf("usermode: IRET to CPL 3, INT gates with stack switch, call gate, #GP, U/S paging\n");
    outb(0x21, 0xff);   /* mask every PIC input: user code runs with IF=1 */
    outb(0xa1, 0xff);
    user_mode_init();
    check_eq("TR after LTR", read_tr(), SEL_TSS);
    idt_set(0x80, isr_stub(0x80), SEL_CODE0, 0xee);             /* interrupt gate, DPL 3 */
    idt_set(0x82, isr_stub(0x82), SEL_CODE0, 0xef);             /* trap gate, DPL 3 */
    set_handler(0x80, isr80);
    set_handler(0x82, isr82);
    /* Call gate, DPL 3, one dword parameter, to 0x08:callgate_target (Figure 5-8). */
    uint32_t off = (uint32_t)callgate_target;
    gdt[6] = (off & 0xffff) | (uint64_t)SEL_CODE0 << 16 | (uint64_t)1 << 32 |
             (uint64_t)0xec << 40 | (uint64_t)(off >> 16) << 48;

    uint32_t r = enter_user(user_segments, USER_STACK_TOP, USER_EFLAGS, SEL_DATA3);
    check_eq("CS at CPL 3", r & 0xffff, SEL_CODE3);
    check_eq("SS at CPL 3", r >> 16, SEL_DATA3);

    r = enter_user(user_nullds, USER_STACK_TOP, USER_EFLAGS, SEL_DATA0);
    check_eq("IRET to CPL 3 nulls DS and ES holding DPL-0 selectors", r, 0);

    r = enter_user(user_int80, USER_STACK_TOP, USER_EFLAGS, SEL_DATA3);
    check_eq("INT 0x80 handler ran once", h80_count, 1);
    check_eq("INT 0x80 result in EAX back at CPL 3", r, 42);
    check_eq("handler runs at CPL 0", h80_cpl, 0);
    check_eq("pushed CS is the user's", h80_cs, SEL_CODE3);
    check_eq("pushed SS is the user's", h80_ss, SEL_DATA3);
    check_eq("pushed ESP is the user's", h80_esp, u_esp_at_int);
    check_eq("frame ends at TSS.ESP0 (stack switched)", h80_frame + sizeof(struct frame),
             tss0.esp0);
    check_eq("interrupt gate cleared IF", h80_if, 0);
    check_eq("trap gate kept IF", h82_if, EFL_IF);

    r = enter_user(user_faults, USER_STACK_TOP, USER_EFLAGS, SEL_DATA3);
    check_fault("INT 0x40 through a DPL-0 gate", 0, 13, 0x40 * 8 + 2);
    check_fault("CLI at CPL 3, IOPL 0", 1, 13, 0);
    check_fault("HLT at CPL 3", 2, 13, 0);
    check_fault("MOV from CR0 at CPL 3", 3, 13, 0);
    check_fault("IN at CPL 3, IOPL 0, no I/O bitmap", 4, 13, 0);
    check_fault("loading a DPL-0 data segment at CPL 3", 5, 13, 0x10);
    check_fault("LGDT at CPL 3", 6, 13, 0);

    r = enter_user(user_callgate, USER_STACK_TOP, USER_EFLAGS, SEL_DATA3);
    check_eq("call gate target runs in CS 0x08", cg_cs, SEL_CODE0);
    check_eq("call gate switched SS to TSS.SS0", cg_ss, SEL_DATA0);
    check_eq("call gate switched ESP to TSS.ESP0 - 20", cg_esp, tss0.esp0 - 20);
    check_eq("pushed return CS", cg_ret_cs, SEL_CODE3);
    check_eq("parameter copied to the inner stack", cg_param, 0x12345678);
    check_eq("pushed outer ESP (below the parameter)", cg_user_esp, cg_esp_before - 4);
    check_eq("pushed outer SS", cg_user_ss, SEL_DATA3);
    check_eq("RET 4 back at CPL 3", cg_cs_after & 0xffff, SEL_CODE3);
    check_eq("RET 4 released the parameter from the outer stack", cg_esp_after, cg_esp_before);

    /* Paging: everything user read/write through 4 MiB pages, except the test pages. */
    for (int i = 0; i < 4; i++)
        pd[i] = (uint32_t)i << 22 | PDE_PS | PTE_U | PTE_W | PTE_P;
    pd[SUP_VA >> 22] = (uint32_t)pt_test | PTE_U | PTE_W | PTE_P;
    pt_test[0] = (uint32_t)frames[0] | PTE_W | PTE_P;
    pt_test[1] = (uint32_t)frames[1] | PTE_U | PTE_P;
    pt_test[2] = 0;
    pt_test[3] = (uint32_t)frames[2] | PTE_U | PTE_W | PTE_P;
    *(volatile uint32_t *)frames[1] = 0x5eed;
    write_cr4(read_cr4() | CR4_PSE);
    write_cr3((uint32_t)pd);
    write_cr0(read_cr0() | CR0_PG);     /* WP clear: user writes must still fault */
    r = enter_user(user_paging, USER_STACK_TOP, USER_EFLAGS, SEL_DATA3);
    check_fault("user read of a supervisor page", 0, 14, 5);
    check_fault("user write to a read-only page (CR0.WP=0)", 1, 14, 7);
    check_fault("user read of a not-present page", 2, 14, 4);
    check_eq("user write to a user read/write page: no fault", uf[3].count, 0);
    check_eq("user write landed", *(volatile uint32_t *)frames[2], 0x600d);
    check_eq("user read of a user read-only page", r, 0x5eed);
    *(volatile uint32_t *)SUP_VA = 7;
    check_eq("supervisor write to a supervisor page", *(volatile uint32_t *)frames[0], 7);
    write_cr0(read_cr0() & ~CR0_PG);
}
