/*
 * System instructions (system.c, cr.c, msr.c, io.c): HLT, CPUID, MSRs,
 * control and debug registers, descriptor-table registers, LAR/LSL/VERR/
 * VERW/ARPL, CLI/STI, SYSENTER/SYSEXIT, and IN/OUT with the TSS I/O
 * permission bitmap.  Each test runs guest code in the environment of
 * sys_test.h and checks the state or the exception it ends in.
 */
#include "sys_test.h"

#include "cpu/sysops.h"

/* IRET to CPL 3 at label `user` with ESP 0x7f000, the given EFLAGS, and
 * DS = ES = the DPL-3 data segment (a DPL-0 one would be nulled). */
#define TO_USER(eflags)                                                     \
    "mov ax, 0x33\nmov ds, ax\nmov es, ax\n"                                \
    "push dword 0x33\npush dword 0x7f000\npush dword " eflags "\n"          \
    "push dword 0x2b\npush dword user\niretd\n"

static void test_hlt(void **state)
{
    (void)state;
    harness *h = sys_new();
    harness_asm(h, "mov eax, 1\nhlt\nmov eax, 2\nhlt");
    assert_int_equal(harness_run(h, 100), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.run_state, CPU_HALTED);
    assert_int_equal(h->cpu.regs[R_EAX], 1);
    assert_int_equal(h->cpu.eip, HARNESS_CODE + 6);
    /* Halted stays halted without an interrupt. */
    assert_int_equal(harness_run(h, 100), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.regs[R_EAX], 1);
    harness_free(h);

    /* HLT at CPL 3 is #GP(0). */
    h = sys_new();
    sys_expect(h, TO_USER("0x2") "user:\nfault: hlt", 13, 0);
    harness_free(h);
}

static void test_cpuid(void **state)
{
    (void)state;
    harness *h = sys_new();
    harness_asm(h, "xor eax, eax\ncpuid\nmov [0x7000], ebx\nmov [0x7004], edx\nmov [0x7008], ecx\n"
                   "mov [0x700c], eax\n"
                   "mov eax, 1\ncpuid\nmov [0x7010], eax\nmov [0x7014], edx\nmov [0x7018], ecx\n"
                   "mov eax, 0x80000000\ncpuid\nmov [0x701c], eax\n"
                   "mov eax, 0x80000002\ncpuid\nmov [0x7020], eax\nmov [0x7024], ebx\n"
                   "mov [0x7028], ecx\nmov [0x702c], edx\nhlt");
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    char vendor[13] = { 0 };
    phys_copy_from(&h->mem, 0x7000, vendor, 12);
    assert_string_equal(vendor, "GenuineIntel");
    assert_true(harness_peek32(h, 0x700c) >= 2);
    uint32_t sig = harness_peek32(h, 0x7010);
    assert_int_equal((sig >> 8) & 0xf, 6); /* family 6 */
    uint32_t edx = harness_peek32(h, 0x7014);
    /* FPU DE PSE TSC MSR CX8 SEP PGE CMOV MMX FXSR SSE SSE2 */
    uint32_t want = 1u << 0 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 8 | 1u << 11 |
                    1u << 13 | 1u << 15 | 1u << 23 | 1u << 24 | 1u << 25 | 1u << 26;
    assert_int_equal(edx & want, want);
    assert_int_equal(edx & (1u << 6 | 1u << 9 | 1u << 1), 0); /* no PAE, APIC, VME */
    assert_int_equal(harness_peek32(h, 0x7018), 0);             /* no SSE3 and later */
    assert_true(harness_peek32(h, 0x701c) >= 0x80000004u);
    char brand[17] = { 0 };
    phys_copy_from(&h->mem, 0x7020, brand, 16);
    assert_string_equal(brand, "btvm virtual CPU");
    harness_free(h);
}

static void test_msr(void **state)
{
    (void)state;
    harness *h = sys_new();
    harness_asm(h, "mov ecx, 0x174\nmov eax, 0x1008\nxor edx, edx\nwrmsr\n"
                   "mov ecx, 0x175\nmov eax, 0x12345678\nwrmsr\n"
                   "mov ecx, 0x174\nxor eax, eax\nrdmsr\nmov [0x7000], eax\n"
                   "mov ecx, 0xfe\nrdmsr\nmov [0x7004], eax\n"
                   "mov ecx, 0x277\nmov eax, 0x00070406\nmov edx, 0x00070106\nwrmsr\n"
                   "mov ecx, 0x10\nxor eax, eax\nmov edx, 0x10\nwrmsr\nrdmsr\nmov [0x7008], edx\n"
                   "hlt");
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.sysenter_cs, 0x1008);
    assert_int_equal(h->cpu.sysenter_esp, 0x12345678);
    assert_int_equal(harness_peek32(h, 0x7000), 0x1008);
    assert_int_equal(harness_peek32(h, 0x7004) & 0xff, 8); /* 8 variable MTRRs */
    assert_true(h->cpu.pat == 0x0007010600070406ull);
    assert_int_equal(harness_peek32(h, 0x7008), 0x10);     /* TSC was set */
    harness_free(h);

    /* Unknown MSR, read-only MTRRcap, a reserved PAT type: #GP(0). */
    h = sys_new();
    sys_expect(h, "mov ecx, 0x12345\nfault: rdmsr", 13, 0);
    harness_free(h);
    h = sys_new();
    sys_expect(h, "mov ecx, 0xfe\nxor eax, eax\nxor edx, edx\nfault: wrmsr", 13, 0);
    harness_free(h);
    h = sys_new();
    sys_expect(h, "mov ecx, 0x277\nmov eax, 2\nxor edx, edx\nfault: wrmsr", 13, 0);
    harness_free(h);
    /* RDMSR at CPL 3. */
    h = sys_new();
    sys_expect(h, TO_USER("0x2") "user:\nmov ecx, 0x10\nfault: rdmsr", 13, 0);
    harness_free(h);
}

static void test_rdtsc(void **state)
{
    (void)state;
    harness *h = sys_new();
    harness_asm(h, "rdtsc\nmov esi, eax\nmov edi, edx\nrdtsc\nhlt");
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    uint64_t t0 = h->cpu.regs[R_ESI] | (uint64_t)h->cpu.regs[R_EDI] << 32;
    uint64_t t1 = h->cpu.regs[R_EAX] | (uint64_t)h->cpu.regs[R_EDX] << 32;
    assert_true(t1 > t0);
    harness_free(h);
    /* CR4.TSD at CPL 3. */
    h = sys_new();
    h->cpu.cr4 |= CR4_TSD;
    sys_expect(h, TO_USER("0x2") "user:\nfault: rdtsc", 13, 0);
    harness_free(h);
}

static void test_control_registers(void **state)
{
    (void)state;
    harness *h = sys_new();
    harness_asm(h, "mov eax, cr0\nmov [0x7000], eax\n"
                   "mov eax, 0x90\nmov cr4, eax\nmov ebx, cr4\n"   /* PSE PGE */
                   "mov eax, 0x12345678\nmov cr2, eax\nmov ecx, cr2\n"
                   "mov eax, 0x00123018\nmov cr3, eax\nmov edx, cr3\n"
                   "mov eax, cr0\nor eax, 8\nmov cr0, eax\nclts\nmov esi, cr0\n"
                   "smsw edi\nhlt");
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    assert_int_equal(harness_peek32(h, 0x7000) & (CR0_PE | CR0_ET), CR0_PE | CR0_ET);
    assert_int_equal(h->cpu.regs[R_EBX], 0x90);
    assert_int_equal(h->cpu.regs[R_ECX], 0x12345678);
    assert_int_equal(h->cpu.regs[R_EDX], 0x00123018);
    assert_int_equal(h->cpu.regs[R_ESI] & CR0_TS, 0);
    assert_int_equal(h->cpu.regs[R_EDI], h->cpu.cr0);
    harness_free(h);

    /* CR4.PAE is not offered; PG without PE; NW without CD; CR0 at CPL 3. */
    h = sys_new();
    sys_expect(h, "mov eax, 0x20\nfault: mov cr4, eax", 13, 0);
    harness_free(h);
    h = sys_new();
    sys_expect(h, "mov eax, cr0\nand eax, ~1\nor eax, 0x80000000\nfault: mov cr0, eax", 13, 0);
    harness_free(h);
    h = sys_new();
    sys_expect(h, "mov eax, cr0\nand eax, ~0x40000000\nor eax, 0x20000000\nfault: mov cr0, eax",
               13, 0);
    harness_free(h);
    h = sys_new();
    sys_expect(h, TO_USER("0x2") "user:\nfault: mov eax, cr0", 13, 0);
    harness_free(h);
    /* LMSW sets PE but cannot clear it. */
    h = sys_new();
    harness_asm(h, "xor eax, eax\nlmsw ax\nmov ebx, cr0\nmov ax, 0xa\nlmsw ax\nmov ecx, cr0\nhlt");
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.regs[R_EBX] & 0xf, 1);
    assert_int_equal(h->cpu.regs[R_ECX] & 0xf, 0xb);
    harness_free(h);
}

static void test_debug_registers(void **state)
{
    (void)state;
    harness *h = sys_new();
    harness_asm(h, "mov eax, 0x1000\nmov dr0, eax\nmov ebx, dr0\n"
                   "xor eax, eax\nmov dr6, eax\nmov ecx, dr4\n"  /* DR4 aliases DR6 */
                   "mov eax, 0x1\nmov dr5, eax\nmov edx, dr7\nhlt");
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.regs[R_EBX], 0x1000);
    assert_int_equal(h->cpu.regs[R_ECX], 0xffff0ff0u);
    assert_int_equal(h->cpu.regs[R_EDX], 0x401);
    harness_free(h);
    /* With CR4.DE, DR4 is #UD. */
    h = sys_new();
    sys_expect(h, "mov eax, 8\nmov cr4, eax\nfault: mov eax, dr4", 6, -1);
    harness_free(h);
    /* DR7.GD: the next DR access is a #DB fault with DR6.BD. */
    h = sys_new();
    sys_expect(h, "mov eax, 0x2000\nmov dr7, eax\nfault: mov eax, dr0", 1, -1);
    assert_true(h->cpu.dr[6] & 0x2000);
    assert_int_equal(h->cpu.dr[7] & 0x2000, 0);
    harness_free(h);
}

static void test_descriptor_table_registers(void **state)
{
    (void)state;
    harness *h = sys_new();
    harness_asm(h, "sgdt [0x7000]\nsidt [0x7010]\n"
                   "o16 sgdt [0x7020]\n"
                   "mov word [0x7030], 0x1234\nmov dword [0x7032], 0xabcdef12\n"
                   "o16 lidt [0x7030]\nsidt [0x7040]\n"
                   "lidt [0x7010]\nhlt");
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    assert_int_equal(harness_peek32(h, 0x7000) & 0xffff, SYS_GDT_ENTRIES * 8 - 1);
    assert_int_equal(harness_peek32(h, 0x7002), SYS_GDT);
    assert_int_equal(harness_peek32(h, 0x7012), SYS_IDT);
    assert_int_equal(harness_peek32(h, 0x7022), SYS_GDT); /* 24 bits and a zero byte */
    assert_int_equal(harness_peek32(h, 0x7040) & 0xffff, 0x1234);
    assert_int_equal(harness_peek32(h, 0x7042), 0x00cdef12);
    assert_int_equal(h->cpu.idtr.base, SYS_IDT);
    harness_free(h);
    /* LGDT at CPL 3; SGDT at CPL 3 is allowed. */
    h = sys_new();
    sys_expect(h, TO_USER("0x2") "user:\nsgdt [0x7000]\nfault: lgdt [0x7000]", 13, 0);
    harness_free(h);
}

static void test_ldtr_tr(void **state)
{
    (void)state;
    harness *h = sys_new();
    /* An LDT at 0x6000 holding one DPL-0 data segment with base 0x100000. */
    sys_desc(h, 0x40, 0x6000, 0xf, 0x82, 0);
    sys_put64(h, 0x6008, sys_make_desc(0x100000, 0xffff, ACC_DATA, 0));
    /* An available TSS for LTR. */
    sys_tss32(h, 0x5000, SEL_DATA0, 0x60000);
    sys_desc(h, 0x48, 0x5000, 0x67, 0x89, 0);
    sys_poke32(h, 0x100010, 0xfeedf00d);
    harness_asm(h, "mov ax, 0x40\nlldt ax\nmov ax, 0x0c\nmov es, ax\nmov eax, [es:0x10]\n"
                   "sldt ebx\nmov cx, 0x48\nltr cx\nstr edx\nhlt");
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.regs[R_EAX], 0xfeedf00d);
    assert_int_equal(h->cpu.regs[R_EBX], 0x40);
    assert_int_equal(h->cpu.regs[R_EDX], 0x48);
    assert_int_equal(h->cpu.seg[S_TR].base, 0x5000);
    /* LTR marked the descriptor busy. */
    assert_int_equal((sys_get64(h, SYS_GDT + 0x48) >> 40) & 0xf, 0xb);
    harness_free(h);

    /* LTR of a busy TSS, LLDT of a non-LDT, LTR of null. */
    h = sys_new();
    sys_expect(h, "mov ax, 0x38\nfault: ltr ax", 13, 0x38);
    harness_free(h);
    h = sys_new();
    sys_expect(h, "mov ax, 0x10\nfault: lldt ax", 13, 0x10);
    harness_free(h);
    h = sys_new();
    sys_expect(h, "xor eax, eax\nfault: ltr ax", 13, 0);
    harness_free(h);
    /* A selector with TI=1 while LDTR is null. */
    h = sys_new();
    sys_expect(h, "xor eax, eax\nlldt ax\nmov ax, 0x0c\nfault: mov ds, ax", 13, 0x0c);
    harness_free(h);
}

static void test_lar_lsl_verr_verw_arpl(void **state)
{
    (void)state;
    harness *h = sys_new();
    sys_gate_desc(h, 0x40, SEL_CODE0, 0, 14, 0, 0);        /* interrupt gate: not for LAR */
    sys_desc(h, 0x48, 0, 0xfffff, 0x98, FLG_32);           /* execute-only code */
    harness_asm(h, "mov ax, 0x2b\nlar ebx, eax\nsetz [0x7000]\n"
                   "mov ax, 0x10\nlsl ecx, eax\nsetz [0x7001]\n"
                   "mov ax, 0x38\nlar edx, eax\nsetz [0x7002]\n"
                   "mov ax, 0x40\nlar esi, eax\nsetz [0x7003]\n"
                   "xor eax, eax\nlar esi, eax\nsetz [0x7004]\n"
                   "mov ax, 0x48\nverr ax\nsetz [0x7005]\n"
                   "mov ax, 0x08\nverr ax\nsetz [0x7006]\n"
                   "mov ax, 0x08\nverw ax\nsetz [0x7007]\n"
                   "mov ax, 0x13\nverw ax\nsetz [0x7008]\n"
                   "mov ax, 0x1000\nlsl edi, eax\nsetz [0x7009]\n"
                   "mov ax, 0x10\nmov bp, 0x13\narpl ax, bp\nsetz [0x700a]\nmov [0x700c], ax\n"
                   "arpl ax, bp\nsetz [0x700b]\n"
                   "mov ax, 0x38\nlsl edi, eax\nhlt");
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    assert_int_equal(harness_peek32(h, 0x7000), 0x00010101);
    assert_int_equal(h->cpu.regs[R_EBX], 0x00cffa00);
    assert_int_equal(h->cpu.regs[R_ECX], 0xffffffff);
    assert_int_equal(h->cpu.regs[R_EDX], 0x00008b00);
    /* interrupt gate, null: ZF=0; VERR exec-only: 0; VERR code/read: 1 */
    assert_int_equal(harness_peek32(h, 0x7004), 0x00010000);
    /* VERW code: 0; VERW data at RPL 3 > DPL 0: 0; LSL beyond GDT: 0 */
    assert_int_equal(harness_peek32(h, 0x7008) & 0xff, 0);
    assert_int_equal(harness_peek32(h, 0x7009) & 0xff, 0);
    assert_int_equal(harness_peek32(h, 0x7004) >> 24, 0);
    assert_int_equal(harness_peek32(h, 0x7008) >> 8 & 0xff, 0);
    assert_int_equal(harness_peek32(h, 0x7008) >> 16 & 0xff, 1); /* ARPL raised RPL */
    assert_int_equal(harness_peek32(h, 0x7008) >> 24, 0);        /* second ARPL: no change */
    assert_int_equal(harness_peek32(h, 0x700c) & 0xffff, 0x13);
    assert_int_equal(h->cpu.regs[R_EDI], SYS_TSS_LIMIT);
    harness_free(h);
    /* LAR is #UD in real mode. */
    h = harness_new(HARNESS_REAL16);
    uint32_t ivt6 = 0x0500, hlt = 0xf4;
    harness_poke(h, 6 * 4, &ivt6, 4);
    harness_poke(h, 0x500, &hlt, 1);
    harness_asm(h, "lar ax, bx\nhlt");
    assert_int_equal(harness_run(h, 10), CPU_EXIT_HALT);
    assert_int_equal(h->cpu.seg[S_CS].base + h->cpu.eip, 0x501);
    harness_free(h);
}

static void test_cli_sti(void **state)
{
    (void)state;
    /* STI opens a one-instruction interrupt shadow only when IF was 0. */
    harness *h = sys_new();
    harness_asm(h, "cli\nsti\nnop\nsti\nhlt");
    cpu_exec(&h->cpu, 2);
    assert_true(h->cpu.eflags & FL_IF);
    assert_true(h->cpu.inhibit_irq);
    cpu_exec(&h->cpu, 2);
    assert_false(h->cpu.inhibit_irq);
    harness_free(h);
    /* CPL 3 with IOPL 0: #GP(0); with IOPL 3: allowed. */
    h = sys_new();
    sys_expect(h, TO_USER("0x202") "user:\nfault: cli", 13, 0);
    harness_free(h);
    h = sys_new();
    harness_asm(h, TO_USER("0x3202") "user:\ncli\nmov eax, 5\nint3");
    sys_run(h);
    assert_int_equal(sys_vector(h), 3);
    assert_int_equal(h->cpu.regs[R_EAX], 5);
    assert_int_equal(sys_stack(h, 2) & FL_IF, 0); /* EFLAGS pushed by INT3 */
    harness_free(h);
}

/* SYSENTER_CS = 0x08: ring 0 at 0x08/0x10, ring 3 at 0x1b/0x23 (flat,
 * whatever the GDT says). */
static void test_sysenter_sysexit(void **state)
{
    (void)state;
    harness *h = sys_new();
    harness_asm(h, "mov ecx, 0x174\nmov eax, 0x08\nxor edx, edx\nwrmsr\n"
                   "mov ecx, 0x175\nmov eax, 0x60000\nwrmsr\n"
                   "mov ecx, 0x176\nmov eax, kernel\nwrmsr\n"
                   "mov ecx, 0x7f000\nmov edx, user\nsysexit\n"
                   "user:\nmov ax, cs\nmov [0x7000], ax\nmov ax, ss\nmov [0x7002], ax\n"
                   "mov [0x7004], esp\nmov ebp, 0x77\nsysenter\n"
                   "kernel:\nhlt");
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    assert_int_equal(harness_peek32(h, 0x7000), 0x0023001b);
    assert_int_equal(harness_peek32(h, 0x7004), 0x7f000);
    assert_int_equal(h->cpu.cpl, 0);
    assert_int_equal(h->cpu.seg[S_CS].selector, 0x08);
    assert_int_equal(h->cpu.seg[S_SS].selector, 0x10);
    assert_int_equal(h->cpu.regs[R_ESP], 0x60000);
    assert_int_equal(h->cpu.regs[R_EBP], 0x77);
    harness_free(h);
    /* SYSENTER with SYSENTER_CS = 0; SYSEXIT at CPL 3. */
    h = sys_new();
    sys_expect(h, "fault: sysenter", 13, 0);
    harness_free(h);
    h = sys_new();
    h->cpu.sysenter_cs = 0x08;
    sys_expect(h, TO_USER("0x2") "user:\nfault: sysexit", 13, 0);
    harness_free(h);
}

/* A port device at 0x80-0x83 that remembers the last write. */
static uint32_t port_last;
static uint32_t port_read(void *opaque, uint16_t port, unsigned size)
{
    (void)opaque;
    (void)size;
    return 0xa0 + (port & 3);
}
static void port_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    (void)opaque;
    port_last = (uint32_t)port << 16 | (value & ((1u << (8 * size)) - 1));
}
static const io_ops port_ops = { port_read, port_write, 1 };

static void test_io_permission(void **state)
{
    (void)state;
    /* CPL 0 with IOPL 0: no bitmap check. */
    harness *h = sys_new();
    io_register(&h->io, 0x80, 4, &port_ops, NULL, "test");
    harness_asm(h, "mov al, 0x55\nout 0x80, al\nin al, 0x81\nmov dx, 0x82\nin al, dx\n"
                   "mov ebx, eax\nhlt");
    port_last = 0;
    assert_int_equal(sys_run(h), CPU_EXIT_HALT);
    assert_int_equal(port_last, 0x800055);
    assert_int_equal(h->cpu.regs[R_EBX] & 0xff, 0xa2);
    harness_free(h);

    /* CPL 3, IOPL 0: the bitmap allows 0x80 only. */
    h = sys_new();
    io_register(&h->io, 0x80, 4, &port_ops, NULL, "test");
    uint8_t allow = 0xfe;
    harness_poke(h, SYS_TSS + 0x68 + 0x80 / 8, &allow, 1);
    sys_expect(h, TO_USER("0x2") "user:\nmov al, 0x66\nout 0x80, al\nin al, 0x80\n"
                  "mov ebx, eax\nmov dx, 0x80\nfault: in ax, dx", 13, 0);
    assert_int_equal(port_last, 0x800066);
    assert_int_equal(h->cpu.regs[R_EBX] & 0xff, 0xa0);
    harness_free(h);

    /* CPL 3, IOPL 3: allowed whatever the bitmap says. */
    h = sys_new();
    io_register(&h->io, 0x80, 4, &port_ops, NULL, "test");
    harness_asm(h, TO_USER("0x3002") "user:\nmov al, 0x77\nout 0x83, al\nint3");
    sys_run(h);
    assert_int_equal(sys_vector(h), 3);
    assert_int_equal(port_last, 0x830077);
    harness_free(h);

    /* A bitmap beyond the TSS limit denies. */
    h = sys_new();
    sys_poke16(h, SYS_TSS + 0x66, 0x3000);
    sys_expect(h, TO_USER("0x2") "user:\nfault: in al, 0x80", 13, 0);
    harness_free(h);
}

static void test_undefined(void **state)
{
    (void)state;
    harness *h = sys_new();
    sys_expect(h, "fault: ud2", 6, -1);
    harness_free(h);
    h = sys_new();
    sys_expect(h, "fault: rsm", 6, -1);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hlt),
        cmocka_unit_test(test_cpuid),
        cmocka_unit_test(test_msr),
        cmocka_unit_test(test_rdtsc),
        cmocka_unit_test(test_control_registers),
        cmocka_unit_test(test_debug_registers),
        cmocka_unit_test(test_descriptor_table_registers),
        cmocka_unit_test(test_ldtr_tr),
        cmocka_unit_test(test_lar_lsl_verr_verw_arpl),
        cmocka_unit_test(test_cli_sti),
        cmocka_unit_test(test_sysenter_sysexit),
        cmocka_unit_test(test_io_permission),
        cmocka_unit_test(test_undefined),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
