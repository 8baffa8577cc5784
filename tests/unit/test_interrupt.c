/*
 * Interrupt and exception delivery (deliver.c), far transfers (far.c,
 * iret.c) and task switches (task.c): IDT gates with error codes and the
 * EXT/IDT bits, the CPL 3 -> 0 stack switch and IRET back, call gates with
 * parameters, JMP/CALL/INT to tasks and IRET through the back link, v86
 * mode entry and exit, the double fault and the triple fault.
 */
#include "sys_test.h"

#define TO_USER(eflags)                                                     \
    "mov ax, 0x33\nmov ds, ax\nmov es, ax\n"                                \
    "push dword 0x33\npush dword 0x7f000\npush dword " eflags "\n"          \
    "push dword 0x2b\npush dword user\niretd\n"

static void test_fault_error_code(void **state)
{
    (void)state;
    harness *h = sys_new();
    sys_expect(h, "mov ax, 0x1000\nfault: mov ds, ax", 13, 0x1000);
    assert_int_equal(sys_stack(h, 2), SEL_CODE0);
    assert_int_equal(sys_stack(h, 3) & FL_FIXED1, FL_FIXED1);
    assert_int_equal(h->cpu.regs[R_ESP], HARNESS_STACK - 16);
    harness_free(h);
}

static void test_gate_checks(void **state)
{
    (void)state;
    /* INT n through a DPL-0 gate from CPL 3: #GP(vector*8+2), no EXT. */
    harness *h = sys_new();
    sys_expect(h, TO_USER("0x2") "user:\nfault: int 0x40", 13, 0x40 * 8 + 2);
    assert_int_equal(sys_stack(h, 2), SEL_CODE3);
    harness_free(h);
    /* A not-present gate: #NP(vector*8+2) for INT n ... */
    h = sys_new();
    sys_put64(h, SYS_IDT + 0x50 * 8, sys_get64(h, SYS_IDT + 0x50 * 8) & ~(1ull << 47));
    sys_expect(h, "fault: int 0x50", 11, 0x50 * 8 + 2);
    harness_free(h);
    /* ... and with EXT for an exception (#UD through a not-present gate). */
    h = sys_new();
    sys_put64(h, SYS_IDT + 6 * 8, sys_get64(h, SYS_IDT + 6 * 8) & ~(1ull << 47));
    sys_expect(h, "fault: ud2", 11, 6 * 8 + 3);
    harness_free(h);
    /* Beyond the IDT limit. */
    h = sys_new();
    h->cpu.idtr.limit = 0x70 * 8 - 1;
    sys_expect(h, "fault: int 0x70", 13, 0x70 * 8 + 2);
    harness_free(h);
    /* A gate whose code segment is a data segment: #GP(selector). */
    h = sys_new();
    sys_idt_gate(h, 0x41, SEL_DATA0, 0, 14, 0);
    sys_expect(h, "fault: int 0x41", 13, SEL_DATA0);
    harness_free(h);
}

/*
 * CPL 3 -> CPL 0 through an interrupt gate: the stack switches to
 * SS0:ESP0 from the TSS, the frame holds SS, ESP, EFLAGS, CS, EIP; IRET
 * returns to CPL 3, and INT3 there shows CS 0x2b again.
 */
static void test_user_kernel_round_trip(void **state)
{
    (void)state;
    harness *h = sys_new();
    harness_asm(h, "jmp start\n"
                   "handler:\nmov esi, esp\nmov eax, [esp+4]\nmov [0x7000], eax\n"
                   "mov eax, [esp+16]\nmov [0x7004], eax\nmov eax, [esp+8]\nmov [0x7008], eax\n"
                   "mov ax, ss\nmov [0x700c], ax\npushfd\npop dword [0x7010]\niretd\n"
                   "start:\n"
                   "mov eax, handler\nmov [0x2000+0x80*8], ax\nshr eax, 16\n"
                   "mov [0x2000+0x80*8+6], ax\nmov word [0x2000+0x80*8+4], 0xee00\n"
                   TO_USER("0x202")
                   "user:\nmov ebx, 0x1234\nint 0x80\nint3");
    sys_run(h);
    assert_int_equal(sys_vector(h), 3);
    assert_int_equal(h->cpu.regs[R_ESI], SYS_ESP0 - 20);
    assert_int_equal(harness_peek32(h, 0x7000), SEL_CODE3);
    assert_int_equal(harness_peek32(h, 0x7004), SEL_DATA3);
    assert_true(harness_peek32(h, 0x7008) & FL_IF);           /* user EFLAGS pushed */
    assert_int_equal(harness_peek32(h, 0x700c) & 0xffff, SEL_DATA0);
    assert_int_equal(harness_peek32(h, 0x7010) & FL_IF, 0);   /* interrupt gate cleared IF */
    /* The INT3 frame: from CPL 3 again, with the user's ESP. */
    assert_int_equal(sys_stack(h, 1), SEL_CODE3);
    assert_int_equal(sys_stack(h, 3), 0x7f000);
    assert_int_equal(h->cpu.regs[R_EBX], 0x1234);
    harness_free(h);
}

/* A trap gate leaves IF set; a 16-bit interrupt gate pushes 16-bit words. */
static void test_trap_and_16bit_gates(void **state)
{
    (void)state;
    harness *h = sys_new();
    sys_idt_gate(h, 0x42, SEL_CODE0, SYS_STUBS + 0x42 * 16, 15, 0);
    harness_asm(h, "sti\nint 0x42");
    sys_run(h);
    assert_int_equal(sys_vector(h), 0x42);
    assert_true(h->cpu.eflags & FL_IF);
    harness_free(h);

    h = sys_new();
    sys_idt_gate(h, 0x43, SEL_CODE0, SYS_STUBS + 0x43 * 16, 6, 0);
    harness_asm(h, "int 0x43");
    sys_run(h);
    assert_int_equal(sys_vector(h), 0x43);
    assert_int_equal(h->cpu.regs[R_ESP], HARNESS_STACK - 6);
    assert_int_equal(sys_stack(h, 0), (SEL_CODE0 << 16) | ((HARNESS_CODE + 2) & 0xffff));
    harness_free(h);
}

/*
 * CALL through a 32-bit call gate from CPL 3 to CPL 0 copying two
 * parameters, and RETF 8 back to CPL 3, which nulls DS (a DPL-0 segment).
 */
static void test_call_gate(void **state)
{
    (void)state;
    harness *h = sys_new();
    harness_asm(h, "jmp start\n"
                   "kentry:\nmov esi, esp\nmov ax, cs\nmov [0x7000], ax\n"
                   "mov eax, [esp+8]\nmov [0x7004], eax\nmov eax, [esp+12]\nmov [0x7008], eax\n"
                   "mov eax, [esp+16]\nmov [0x700c], eax\nmov eax, [esp+20]\nmov [0x7010], eax\n"
                   "mov ax, 0x10\nmov ds, ax\nretf 8\n"
                   "start:\n"
                   "mov eax, kentry\nmov [0x1040], ax\nmov word [0x1042], 0x08\n"
                   "mov word [0x1044], 0xec02\nshr eax, 16\nmov [0x1046], ax\n"
                   TO_USER("0x2")
                   "user:\npush dword 0x11\npush dword 0x22\ncall 0x43:0\nmov edi, esp\nint3");
    sys_run(h);
    assert_int_equal(sys_vector(h), 3);
    assert_int_equal(h->cpu.regs[R_ESI], SYS_ESP0 - 24);
    assert_int_equal(harness_peek32(h, 0x7000) & 0xffff, SEL_CODE0);
    assert_int_equal(harness_peek32(h, 0x7004), 0x22);
    assert_int_equal(harness_peek32(h, 0x7008), 0x11);
    assert_int_equal(harness_peek32(h, 0x700c), 0x7f000 - 8);
    assert_int_equal(harness_peek32(h, 0x7010), SEL_DATA3);
    assert_int_equal(h->cpu.regs[R_EDI], 0x7f000);   /* RETF 8 dropped the parameters */
    assert_int_equal(h->cpu.seg[S_DS].selector, 0); /* nulled on the return to CPL 3 */
    assert_int_equal(sys_stack(h, 1), SEL_CODE3);
    harness_free(h);

    /* A call gate of DPL 0 from CPL 3: #GP(gate selector). */
    h = sys_new();
    sys_gate_desc(h, 0x40, SEL_CODE0, 0, 12, 0, 0);
    sys_expect(h, TO_USER("0x2") "user:\nfault: call 0x43:0", 13, 0x40);
    harness_free(h);
    /* A not-present code segment behind a gate: #NP(code selector). */
    h = sys_new();
    sys_desc(h, 0x48, 0, 0xfffff, 0x1a, FLG_32);
    sys_gate_desc(h, 0x40, 0x48, 0, 12, 0, 0);
    sys_expect(h, "fault: call 0x40:0", 11, 0x48);
    harness_free(h);
}

/* A conforming segment runs at the caller's CPL. */
static void test_conforming(void **state)
{
    (void)state;
    harness *h = sys_new();
    sys_desc(h, 0x40, 0, 0xfffff, 0x9e, FLG_32); /* conforming, DPL 0 */
    harness_asm(h, TO_USER("0x2") "user:\ncall 0x40:conf\nint3\nconf:\nmov ax, cs\nretf");
    /* RETF to the same level returns to CPL 3; INT3 comes from there. */
    sys_run(h);
    assert_int_equal(sys_vector(h), 3);
    assert_int_equal(h->cpu.regs[R_EAX] & 0xffff, 0x43);
    assert_int_equal(sys_stack(h, 1), SEL_CODE3);
    harness_free(h);
}

/* The second task's TSS at 0x6000, descriptor 0x48; the guest fills in EIP. */
#define TSS2 0x6000u
static harness *task_env(void)
{
    harness *h = sys_new();
    sys_tss32(h, TSS2, SEL_DATA0, 0x60000);
    sys_poke32(h, TSS2 + 0x24, 0x2);        /* EFLAGS */
    sys_poke32(h, TSS2 + 0x38, 0x50000);    /* ESP */
    sys_poke32(h, TSS2 + 0x28, 0xaaaa);     /* EAX */
    sys_poke32(h, TSS2 + 0x4c, SEL_CODE0);
    sys_poke32(h, TSS2 + 0x50, SEL_DATA0);
    sys_poke32(h, TSS2 + 0x48, SEL_DATA0);
    sys_poke32(h, TSS2 + 0x54, SEL_DATA0);
    sys_desc(h, 0x48, TSS2, 0x67, 0x89, 0);
    return h;
}

static unsigned desc_type_at(harness *h, uint16_t sel)
{
    return (unsigned)(sys_get64(h, SYS_GDT + sel) >> 40) & 0xf;
}

static void test_task_switch_jmp(void **state)
{
    (void)state;
    harness *h = task_env();
    harness_asm(h, "mov dword [0x7ff0], jump\nmov dword [0x6020], task2\nmov ebx, 0x5555\n"
                   "jump: jmp 0x48:0\n"
                   "task2:\nstr cx\nhlt");
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.regs[R_ECX] & 0xffff, 0x48);
    assert_int_equal(h->cpu.regs[R_EAX], 0xaaaa);
    assert_int_equal(h->cpu.regs[R_ESP], 0x50000);
    assert_true(h->cpu.cr0 & CR0_TS);
    assert_int_equal(h->cpu.eflags & FL_NT, 0);
    /* The old task was saved: EBX and the EIP after the JMP. */
    assert_int_equal(harness_peek32(h, SYS_TSS + 0x34), 0x5555);
    assert_int_equal(harness_peek32(h, SYS_TSS + 0x20), harness_peek32(h, SYS_FAULT_AT) + 7);
    assert_int_equal(desc_type_at(h, SEL_TSS), 9);  /* old: available */
    assert_int_equal(desc_type_at(h, 0x48), 0xb);   /* new: busy */
    harness_free(h);

    /* JMP to a busy TSS: #GP(selector). */
    h = sys_new();
    sys_expect(h, "fault: jmp 0x38:0", 13, 0x38);
    harness_free(h);
    /* A TSS below the minimum limit: #TS(selector). */
    h = task_env();
    sys_desc(h, 0x48, TSS2, 0x50, 0x89, 0);
    sys_expect(h, "fault: jmp 0x48:0", 10, 0x48);
    harness_free(h);
}

/* CALL nests the task (NT, back link); IRET returns through the link. */
static void test_task_switch_call_iret(void **state)
{
    (void)state;
    harness *h = task_env();
    harness_asm(h, "mov dword [0x6020], task2\nmov ebx, 0x5555\ncall 0x48:0\n"
                   "mov esi, eax\nhlt\n"
                   "task2:\npushfd\npop dword [0x7000]\nmov word [0x7004], 0\nstr [0x7004]\n"
                   "mov ebx, 0x6666\nmov eax, 0x7777\niretd\n");
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    assert_true(harness_peek32(h, 0x7000) & FL_NT);
    assert_int_equal(harness_peek32(h, 0x7004) & 0xffff, 0x48);
    assert_int_equal(harness_peek32(h, TSS2), SEL_TSS);       /* back link */
    assert_int_equal(h->cpu.regs[R_EBX], 0x5555);              /* task 1's registers again */
    assert_int_equal(h->cpu.seg[S_TR].selector, SEL_TSS);
    assert_int_equal(desc_type_at(h, 0x48), 9);                /* IRET freed task 2 */
    assert_int_equal(desc_type_at(h, SEL_TSS), 0xb);
    assert_int_equal(harness_peek32(h, TSS2 + 0x34), 0x6666);  /* task 2 was saved */
    assert_int_equal(h->cpu.eflags & FL_NT, 0);
    harness_free(h);
}

/* An exception through a task gate: the error code lands on the new task's
 * stack. */
static void test_task_gate_exception(void **state)
{
    (void)state;
    harness *h = task_env();
    sys_put64(h, SYS_IDT + 13 * 8, sys_make_gate(0x48, 0, 5, 0, 0));
    harness_asm(h, "mov dword [0x6020], task2\nmov ax, 0x1234\nmov ds, ax\n"
                   "task2:\npop ecx\nhlt");
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.regs[R_ECX], 0x1234); /* TI=1, no LDT */
    assert_int_equal(h->cpu.seg[S_TR].selector, 0x48);
    assert_true(h->cpu.eflags & FL_NT);
    harness_free(h);
}

/* #GP whose gate is not present: the #NP raised while delivering it makes a
 * double fault (contributory after contributory), error code 0. */
static void test_double_fault(void **state)
{
    (void)state;
    harness *h = sys_new();
    sys_put64(h, SYS_IDT + 13 * 8, sys_get64(h, SYS_IDT + 13 * 8) & ~(1ull << 47));
    sys_expect(h, "mov ax, 0x1000\nfault: mov ds, ax", 8, 0);
    harness_free(h);
}

/* No IDT at all: #GP, then #GP delivering it (#DF), then a fault delivering
 * the #DF: shutdown. */
static void test_triple_fault(void **state)
{
    (void)state;
    harness *h = sys_new();
    h->cpu.idtr.limit = 0;
    harness_asm(h, "mov ax, 0x1000\nmov ds, ax\nhlt");
    assert_int_equal(harness_run(h, 1000), CPU_EXIT_SHUTDOWN);
    assert_int_equal(h->cpu.run_state, CPU_SHUTDOWN);
    harness_free(h);
}

static int ack_vector;
static int fake_ack(void *opaque)
{
    (void)opaque;
    return ack_vector;
}

/* An external interrupt wakes HLT and is delivered after it. */
static void test_hardware_interrupt(void **state)
{
    (void)state;
    harness *h = sys_new();
    h->cpu.intr_ack = fake_ack;
    ack_vector = 0x30;
    harness_asm(h, "sti\nhlt\nnop\nhlt");
    assert_int_equal(harness_run(h, 100), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.eip, HARNESS_CODE + 2);
    cpu_set_intr(&h->cpu, true);
    sys_run(h);
    assert_int_equal(sys_vector(h), 0x30);
    assert_int_equal(sys_stack(h, 0), HARNESS_CODE + 2);
    harness_free(h);
}

/*
 * Into v86 mode with IRETD from CPL 0, back out through INT n (IOPL 3):
 * the ring-0 frame holds GS FS DS ES SS ESP EFLAGS(VM) CS IP, and the data
 * segment registers are nulled.  With IOPL 0, INT n is #GP(0).
 */
static const char v86_src[] =
    "mov dword [0x7ff0], intn\npush dword 0x0\npush dword 0x0\npush dword 0x1234\npush dword 0x2345\n" /* GS FS DS ES */
    "push dword 0x3000\npush dword 0xfff0\n"                                   /* SS SP */
    "push dword 0x%x\npush dword 0x1000\npush dword v86 - 0x10000\niretd\n"
    "bits 16\nv86:\nmov bx, ds\nintn: int 0x21\n";

static void test_v86(void **state)
{
    (void)state;
    char src[512];
    harness *h = sys_new();
    sys_idt_gate(h, 0x21, SEL_CODE0, SYS_STUBS + 0x21 * 16, 14, 3);
    snprintf(src, sizeof(src), v86_src, FL_VM | FL_IOPL | FL_FIXED1);
    sys_expect(h, src, 0x21, -1);
    assert_int_equal(h->cpu.regs[R_EBX] & 0xffff, 0x1234);
    assert_int_equal(h->cpu.regs[R_ESP], SYS_ESP0 - 36);
    assert_int_equal(sys_stack(h, 0), harness_peek32(h, SYS_FAULT_AT) - 0x10000 + 2);
    assert_int_equal(sys_stack(h, 1), 0x1000);                /* CS */
    assert_true(sys_stack(h, 2) & FL_VM);
    assert_int_equal(sys_stack(h, 3), 0xfff0);                 /* SP */
    assert_int_equal(sys_stack(h, 4), 0x3000);                 /* SS */
    assert_int_equal(sys_stack(h, 5), 0x2345);                 /* ES */
    assert_int_equal(sys_stack(h, 6), 0x1234);                 /* DS */
    assert_int_equal(h->cpu.seg[S_DS].selector, 0);
    assert_int_equal(h->cpu.seg[S_DS].flags & SEGF_P, 0);
    assert_int_equal(h->cpu.eflags & FL_VM, 0);
    assert_int_equal(h->cpu.cpl, 0);
    harness_free(h);

    h = sys_new();
    sys_idt_gate(h, 0x21, SEL_CODE0, SYS_STUBS + 0x21 * 16, 14, 3);
    snprintf(src, sizeof(src), v86_src, FL_VM | FL_FIXED1);
    sys_expect(h, src, 13, 0);
    assert_int_equal(sys_stack(h, 1), harness_peek32(h, SYS_FAULT_AT) - 0x10000);
    harness_free(h);
}

/* Real mode: INT n through the IVT and IRET back. */
static void test_real_mode_int(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_REAL16);
    harness_asm(h, "mov word [0x21*4], handler\nmov [0x21*4+2], cs\n"
                   "mov sp, 0x100\nsti\nint 0x21\nmov cx, sp\nhlt\n"
                   "handler:\nmov bx, sp\npushf\npop dx\niret");
    assert_int_equal(harness_run(h, 100), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.regs[R_EBX] & 0xffff, 0x100 - 6);
    assert_int_equal(h->cpu.regs[R_EDX] & FL_IF, 0);
    assert_int_equal(h->cpu.regs[R_ECX] & 0xffff, 0x100);
    assert_true(h->cpu.eflags & FL_IF);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_error_code),
        cmocka_unit_test(test_gate_checks),
        cmocka_unit_test(test_user_kernel_round_trip),
        cmocka_unit_test(test_trap_and_16bit_gates),
        cmocka_unit_test(test_call_gate),
        cmocka_unit_test(test_conforming),
        cmocka_unit_test(test_task_switch_jmp),
        cmocka_unit_test(test_task_switch_call_iret),
        cmocka_unit_test(test_task_gate_exception),
        cmocka_unit_test(test_double_fault),
        cmocka_unit_test(test_triple_fault),
        cmocka_unit_test(test_hardware_interrupt),
        cmocka_unit_test(test_v86),
        cmocka_unit_test(test_real_mode_int),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
