/*
 * Hardware task switching (SDM Vol. 3A Chapter 7): JMP to a TSS
 * descriptor and back, CALL through a task gate in the GDT and INT through
 * a task gate in the IDT with the return by IRET with EFLAGS.NT set;
 * the TSS busy bits, the back link, CR0.TS, state saved and restored, and
 * #GP for a jump to a busy TSS.
 */
#include "guest.h"

#define SEL_TSS_B  0x68     /* GDT 13: task B's TSS */
#define SEL_GATE_B 0x70     /* GDT 14: task gate to task B */
#define VEC_GATE_B 0x90     /* IDT task gate to task B */

struct tss32 tss_b __attribute__((aligned(128)));
static uint8_t stack_b[4096] __attribute__((aligned(16)));

/* What task B saw, phase by phase. */
uint32_t b_tr[4], b_eflags[4], b_cr0[4], b_eax, b_ebx, b_esi, b_link[4], b_phase;
uint32_t main_ebx_after __attribute__((used));

void task_b_entry(void);
__asm__(
    ".text\n"
    ".globl task_b_entry\n"
    "task_b_entry:\n\t"
    /* phase 0: entered by JMP, registers from the TSS */
    "movl %eax, b_eax\n\t"
    "movl %ebx, b_ebx\n\t"
    "movl %esi, b_esi\n\t"
    "xorl %ecx, %ecx\n\t"
    "call record\n\t"
    "ljmp $0x28, $0\n\t"
    /* phase 1: entered by CALL through the GDT task gate */
    "movl $1, %ecx\n\t"
    "call record\n\t"
    "iretl\n\t"
    /* phase 2: entered by INT through the IDT task gate */
    "movl $2, %ecx\n\t"
    "call record\n\t"
    "iretl\n\t"
    "1: hlt\n\tjmp 1b\n"
    /* record(ecx = phase): TR, EFLAGS, CR0, the back link */
    "record:\n\t"
    "xorl %eax, %eax\n\t"
    "strw %ax\n\t"
    "movl %eax, b_tr(,%ecx,4)\n\t"
    "pushfl\n\tpopl %eax\n\t"
    "movl %eax, b_eflags(,%ecx,4)\n\t"
    "movl %cr0, %eax\n\t"
    "movl %eax, b_cr0(,%ecx,4)\n\t"
    "movzwl tss_b, %eax\n\t"
    "movl %eax, b_link(,%ecx,4)\n\t"
    "movl %ecx, b_phase\n\t"
    "ret\n");

static uint32_t desc_type(uint16_t sel)
{
    return (uint32_t)(gdt[sel >> 3] >> 40) & 0xf;
}

void test_main(void)
{
    gprintf("taskswitch: JMP/CALL/INT to tasks, IRET with NT, busy bits, back link\n");
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    tss_init();
    memset(&tss_b, 0, sizeof(tss_b));
    tss_b.eip = (uint32_t)task_b_entry;
    tss_b.esp = (uint32_t)stack_b + sizeof(stack_b);
    tss_b.eflags = 0x2;
    tss_b.cs = SEL_CODE0;
    tss_b.ds = tss_b.es = tss_b.fs = tss_b.gs = tss_b.ss = SEL_DATA0;
    tss_b.cr3 = read_cr3();
    tss_b.eax = 0x1111;
    tss_b.ebx = 0x2222;
    tss_b.esi = 0x3333;
    tss_b.iomap = sizeof(tss_b);
    gdt_set(SEL_TSS_B >> 3, (uint32_t)&tss_b, sizeof(tss_b) - 1, 0x89, 0);
    gdt[SEL_GATE_B >> 3] = (uint64_t)SEL_TSS_B << 16 | (uint64_t)0x85 << 40;
    idt[VEC_GATE_B] = (uint64_t)SEL_TSS_B << 16 | (uint64_t)0x85 << 40;
    b_phase = 0xff;

    check_eq("main TSS busy after LTR (type)", desc_type(SEL_TSS), 0xb);
    check_eq("task B available (type)", desc_type(SEL_TSS_B), 0x9);

    /* JMP to task B and, from there, JMP back. */
    __asm__ volatile("movl $0xabcd1234, %%ebx\n\t"
                     "ljmp $0x68, $0\n\t"
                     "movl %%ebx, main_ebx_after"
                     ::: "ebx", "memory");
    check_eq("task B ran (phase)", b_phase, 0);
    check_eq("task B: TR", b_tr[0], SEL_TSS_B);
    check_eq("task B: EAX from its TSS", b_eax, 0x1111);
    check_eq("task B: EBX from its TSS", b_ebx, 0x2222);
    check_eq("task B: ESI from its TSS", b_esi, 0x3333);
    check_eq("task B after JMP: EFLAGS.NT clear", b_eflags[0] & EFL_NT, 0);
    check_eq("task B after a task switch: CR0.TS set", b_cr0[0] & CR0_TS, CR0_TS);
    check_eq("main task: EBX restored from its TSS", main_ebx_after, 0xabcd1234);
    check_eq("main task saved EBX in its TSS", tss0.ebx, 0xabcd1234);
    check_eq("main task: TR back", read_tr(), SEL_TSS);
    check_eq("main task: CR0.TS set by the switch back", read_cr0() & CR0_TS, CR0_TS);
    __asm__ volatile("clts");
    check_eq("after JMP back: task B not busy (type)", desc_type(SEL_TSS_B), 0x9);
    check_eq("after JMP back: main TSS busy (type)", desc_type(SEL_TSS), 0xb);
    check(tss_b.eip > (uint32_t)task_b_entry && tss_b.eip < (uint32_t)task_b_entry + 64,
          "task B's EIP saved in its TSS (%08x, after its JMP)", tss_b.eip);

    /* CALL through the GDT task gate: NT set, back link = main; IRET returns. */
    __asm__ volatile("lcall $0x70, $0" ::: "memory");
    __asm__ volatile("clts");
    check_eq("task B ran (phase)", b_phase, 1);
    check_eq("task B after CALL: EFLAGS.NT set", b_eflags[1] & EFL_NT, EFL_NT);
    check_eq("task B after CALL: back link = main TSS", b_link[1], SEL_TSS);
    check_eq("main after IRET: EFLAGS.NT clear", read_eflags() & EFL_NT, 0);
    check_eq("after IRET: task B not busy (type)", desc_type(SEL_TSS_B), 0x9);
    check_eq("after IRET: main TSS busy (type)", desc_type(SEL_TSS), 0xb);

    /* INT through the IDT task gate. */
    __asm__ volatile("int $0x90" ::: "memory");
    __asm__ volatile("clts");
    check_eq("task B ran (phase)", b_phase, 2);
    check_eq("task B after INT: EFLAGS.NT set", b_eflags[2] & EFL_NT, EFL_NT);
    check_eq("task B after INT: back link = main TSS", b_link[2], SEL_TSS);
    check_eq("task B after INT: TR", b_tr[2], SEL_TSS_B);
    check_eq("after IRET: task B not busy (type)", desc_type(SEL_TSS_B), 0x9);

    /* Jumping to a busy TSS (ourselves) is #GP(selector). */
    TRY("ljmp $0x28, $0");
    check(last_exc.count == 1 && last_exc.vector == 13 && last_exc.error == SEL_TSS,
          "JMP to the busy main TSS: #GP(0x28) (got %u exception(s), vector %u, error %x)",
          last_exc.count, last_exc.vector, last_exc.error);
    check_eq("TR unchanged", read_tr(), SEL_TSS);
}
