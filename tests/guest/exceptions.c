/*
 * Every exception vector a 32-bit guest can raise on purpose, with its
 * error code and saved EIP (SDM Vol. 3A §6.15, Table 6-1; faults save the
 * faulting instruction, traps the next one):
 *   #DE div/idiv, #DB single step (TF), #BP int3, #OF into, #BR bound,
 *   #UD ud2/lock, #NM (CR0.TS), #DF (#GP through a not-present gate ->
 *   #NP -> #DF), #TS (IRET with NT to a non-TSS), #NP (segment, gate),
 *   #SS (not-present SS, limit), #GP with selector error codes, #PF,
 *   #MF (CR0.NE), #AC (CR0.AM + EFLAGS.AC at CPL 3), #XM (CR4.OSXMMEXCPT).
 */
#include "guest.h"

/* Test descriptors. */
#define SEL_NP_DATA   0x38   /* data, not present */
#define SEL_SS_LIMIT  0x40   /* data, limit 2 GiB - 1 */
#define SEL_XONLY     0x48   /* code, execute-only */
#define SEL_RO_DATA   0x50   /* data, read-only */
#define SEL_SMALL     0x58   /* data, limit 0xfff */
#define SEL_NP_CODE   0x60   /* code, not present */

static const char *const names[] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "9", "#TS", "#NP",
    "#SS", "#GP", "#PF", "15", "#MF", "#AC", "#MC", "#XM",
};

/* One exception, at the instruction TRY started with (fault) or at TRY's
 * end label (trap). */
static void expect(const char *what, uint32_t vector, uint32_t error, int trap)
{
    uint32_t eip = trap ? try_end : try_addr;
    check(last_exc.count == 1 && last_exc.vector == vector && last_exc.error == error &&
              last_exc.eip == eip,
          "%-40s %s (%u) error %x at %08x; got %u exception(s), vector %u error %x at %08x", what,
          names[vector], vector, error, eip, last_exc.count, last_exc.vector, last_exc.error,
          last_exc.eip);
}

/* As expect() without checking EIP (#DF saves an undefined CS:EIP). */
static void expect_any_eip(const char *what, uint32_t vector, uint32_t error)
{
    check(last_exc.count == 1 && last_exc.vector == vector && last_exc.error == error,
          "%-40s %s (%u) error %x; got %u exception(s), vector %u error %x", what, names[vector],
          vector, error, last_exc.count, last_exc.vector, last_exc.error);
}

static void no_exception(const char *what)
{
    check(last_exc.count == 0, "%-40s no exception (got vector %u)", what, last_exc.vector);
}

/* #DB: a handler of its own, since the trap must clear TF in the saved EFLAGS. */
static volatile uint32_t db_count, db_eip, db_dr6;
static void isr_db(struct frame *f)
{
    uint32_t dr6;
    __asm__ volatile("movl %%dr6, %0" : "=r"(dr6));
    db_count++;
    db_eip = f->eip;
    db_dr6 = dr6;
    f->eflags &= ~EFL_TF;
}

int bounds[2] __attribute__((used)) = { 0, 10 };
float one __attribute__((used)) = 1.0f, zero __attribute__((used)) = 0.0f;
uint8_t ac_buf[16] __attribute__((used, aligned(16)));
static volatile uint32_t db_expect_eip __attribute__((used));

static void user_ac(void)
{
    TRY("movl (ac_buf+1), %%eax");   /* misaligned dword */
    user_exit(last_exc.count << 24 | (last_exc.vector & 0xff) << 16 | (last_exc.error & 0xffff));
}

static void set_fs(uint16_t sel)
{
    __asm__ volatile("movw %0, %%fs" : : "r"(sel));
}

void test_main(void)
{
    gprintf("exceptions: every vector with its error code and saved EIP\n");
    outb(0x21, 0xff);   /* no hardware interrupts */
    outb(0xa1, 0xff);
    gdt_set(SEL_NP_DATA >> 3, 0, 0xfffff, 0x12, 0xc);    /* P=0 */
    gdt_set(SEL_SS_LIMIT >> 3, 0, 0x7ffff, 0x92, 0xc);   /* limit 0x7fffffff */
    gdt_set(SEL_XONLY >> 3, 0, 0xfffff, 0x98, 0xc);      /* code, execute-only */
    gdt_set(SEL_RO_DATA >> 3, 0, 0xfffff, 0x90, 0xc);    /* data, read-only */
    gdt_set(SEL_SMALL >> 3, 0, 0xfff, 0x92, 0x4);        /* byte granular, limit 0xfff */
    gdt_set(SEL_NP_CODE >> 3, 0, 0xfffff, 0x1a, 0xc);    /* code, P=0 */
    user_mode_init();

    /* #DE (0): fault. */
    TRY_MARK("movl $1, %%eax\n\txorl %%edx, %%edx\n\txorl %%ecx, %%ecx" TRY_AT "divl %%ecx");
    expect("DIV by zero", 0, 0, 0);
    TRY_MARK("movl $0x80000000, %%eax\n\tcltd\n\tmovl $-1, %%ecx" TRY_AT "idivl %%ecx");
    expect("IDIV overflow (INT_MIN / -1)", 0, 0, 0);
    TRY_MARK("movw $0x100, %%ax\n\tmovb $1, %%cl" TRY_AT "divb %%cl");
    expect("DIV r/m8: quotient does not fit AL", 0, 0, 0);

    /* #DB (1): single step is a trap after the instruction following the POPF
     * that set TF; DR6.BS (bit 14) reports it. */
    set_handler(1, isr_db);
    __asm__ volatile("movl $0, %%eax\n\tmovl %%eax, %%dr6\n\t"
                     "pushfl\n\torl $0x100, (%%esp)\n\tpopfl\n\t"
                     "nop\n"
                     "7710:\n\t"
                     "movl $7710b, db_expect_eip"
                     ::: "eax", "memory", "cc");
    set_handler(1, 0);
    check(db_count == 1 && db_eip == db_expect_eip && (db_dr6 & 0x4000),
          "%-40s #DB (1) after one instruction at %08x, DR6.BS; got %u, at %08x, DR6 %08x",
          "single step (TF)", db_expect_eip, db_count, db_eip, db_dr6);
    check((read_eflags() & EFL_TF) == 0, "TF cleared again");

    /* #BP (3) and #OF (4): traps; INTO without OF does nothing. */
    TRY("int3");
    expect("INT3", 3, 0, 1);
    TRY("movb $0x7f, %%al\n\taddb $1, %%al\n\tinto");
    expect("INTO with OF=1", 4, 0, 1);
    TRY("xorl %%eax, %%eax\n\tinto");
    no_exception("INTO with OF=0");

    /* #BR (5): fault. */
    TRY_MARK("movl $20, %%eax" TRY_AT "boundl %%eax, bounds");
    expect("BOUND out of range", 5, 0, 0);
    TRY("movl $10, %%eax\n\tboundl %%eax, bounds");
    no_exception("BOUND at the upper bound");

    /* #UD (6). */
    TRY("ud2");
    expect("UD2", 6, 0, 0);
    TRY(".byte 0xf0, 0x90");            /* LOCK NOP */
    expect("LOCK on a non-lockable instruction", 6, 0, 0);
    TRY(".byte 0xf0\n\taddl %%eax, %%ecx"); /* LOCK ADD with a register destination */
    expect("LOCK ADD r32, r32", 6, 0, 0);

    /* #NM (7): x87 with CR0.TS; WAIT with TS and MP. */
    write_cr0((read_cr0() & ~CR0_EM) | CR0_MP | CR0_NE);
    __asm__ volatile("fninit");
    write_cr0(read_cr0() | CR0_TS);
    TRY("fld1");
    expect("FLD1 with CR0.TS=1", 7, 0, 0);
    TRY("fwait");
    expect("FWAIT with CR0.TS=1, CR0.MP=1", 7, 0, 0);
    __asm__ volatile("clts");
    TRY("fld1\n\tfstp %%st(0)");
    no_exception("FLD1 after CLTS");

    /* #NP (11) and #SS (12), #GP (13) from segment loads. */
    TRY_MARK("movw $0x38, %%ax" TRY_AT "movw %%ax, %%fs");
    expect("MOV FS, not-present data segment", 11, SEL_NP_DATA, 0);
    TRY_MARK("movw %%ss, %%dx\n\tmovw $0x38, %%ax" TRY_AT "movw %%ax, %%ss\n\tmovw %%dx, %%ss");
    expect("MOV SS, not-present data segment", 12, SEL_NP_DATA, 0);
    TRY_MARK("movw $0xfff8, %%ax" TRY_AT "movw %%ax, %%fs");
    expect("MOV FS, selector beyond the GDT limit", 13, 0xfff8, 0);
    TRY_MARK("movw $0x48, %%ax" TRY_AT "movw %%ax, %%fs");
    expect("MOV FS, execute-only code segment", 13, SEL_XONLY, 0);
    TRY_MARK("movw %%ss, %%dx\n\tmovw $0x50, %%ax" TRY_AT "movw %%ax, %%ss\n\tmovw %%dx, %%ss");
    expect("MOV SS, read-only data segment", 13, SEL_RO_DATA, 0);
    TRY_MARK("movw %%ss, %%dx\n\txorl %%eax, %%eax" TRY_AT "movw %%ax, %%ss\n\tmovw %%dx, %%ss");
    expect("MOV SS, null selector", 13, 0, 0);
    __asm__ volatile("lldt %w0" : : "r"(0));
    TRY_MARK("movw $0x0c, %%ax" TRY_AT "movw %%ax, %%fs");
    expect("MOV FS, LDT selector with a null LDTR", 13, 0x0c, 0);
    TRY_MARK("movw $0x13, %%ax" TRY_AT "movw %%ax, %%fs");
    expect("MOV FS, RPL 3 > DPL 0 data segment", 13, 0x10, 0);
    TRY("ljmp $0x10, $0");
    expect("JMP FAR to a data segment", 13, 0x10, 0);
    TRY("ljmp $0x60, $0");
    expect("JMP FAR to a not-present code segment", 11, SEL_NP_CODE, 0);

    /* #GP(0) from accesses: a write through a read-only segment, a limit,
     * a null segment; #SS(0) from an SS limit.  (QEMU's TCG does not check
     * data-segment limits and types.) */
    if (under_qemu()) {
        gprintf("  skip segment limit/type checks on accesses: QEMU does not make them\n");
        goto segments_done;
    }
    set_fs(SEL_RO_DATA);
    TRY("movl $1, %%fs:0x1000");
    expect("write through a read-only data segment", 13, 0, 0);
    set_fs(SEL_SMALL);
    TRY("movl %%fs:0xffd, %%eax");
    expect("dword read crossing the segment limit", 13, 0, 0);
    TRY("movl %%fs:0xffc, %%eax");
    no_exception("dword read ending at the segment limit");
    set_fs(0);
    TRY("movl %%fs:0, %%eax");
    expect("access through a null FS", 13, 0, 0);
    set_fs(SEL_DATA0);

    /* #SS(0) from an SS limit violation (EBP-based addressing uses SS). */
    TRY_MARK("movw %%ss, %%dx\n\tmovw $0x40, %%ax\n\tmovw %%ax, %%ss\n\t"
             "movl $0x80000000, %%ecx" TRY_AT
             "movl 0(%%ebp,%%ecx,1), %%eax\n\t"
             "movw %%dx, %%ss");
    __asm__ volatile("movw %0, %%ss" : : "r"((uint16_t)SEL_DATA0));
    expect("EBP-based read beyond the SS limit", 12, 0, 0);
segments_done:

    /* #NP for a not-present IDT gate: error code = vector * 8 + 2 (IDT). */
    idt[0x50] &= ~(1ull << 47);
    TRY("int $0x50");
    expect("INT 0x50 through a not-present gate", 11, 0x50 * 8 + 2, 0);
    /* #GP for a vector beyond the IDT limit. */
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } idtr = {
        0x60 * 8 - 1, (uint32_t)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));
    TRY("int $0x70");
    expect("INT 0x70 beyond the IDT limit", 13, 0x70 * 8 + 2, 0);
    idtr.limit = 256 * 8 - 1;
    __asm__ volatile("lidt %0" : : "m"(idtr));

    /* #DF (8): #GP whose gate is not present -> #NP while delivering it ->
     * two contributory exceptions: double fault, error code 0. */
    idt[13] &= ~(1ull << 47);
    TRY("movw $0xfff8, %%ax\n\tmovw %%ax, %%fs");
    idt[13] |= 1ull << 47;
    expect_any_eip("#GP through a not-present #GP gate", 8, 0);

    /* #TS (10): IRET with NT=1 returns to the TSS in the link field; a
     * data segment there is an invalid TSS: #TS(link selector). */
    tss0.link = SEL_DATA0;
    exc_clear();
    __asm__ volatile("movl %%esp, %%esi\n\t"
                     "pushfl\n\torl $0x4000, (%%esp)\n\tpopfl\n\t"
                     "pushfl\n\tpushl %%cs\n\tpushl $7706f\n\t"
                     TRY_BEGIN "iretl\n"
                     "7706:" TRY_END
                     "movl %%esi, %%esp\n\t"
                     "pushfl\n\tandl $~0x4000, (%%esp)\n\tpopfl"
                     ::: "esi", "memory", "cc");
    expect("IRET with NT=1, link to a data segment", 10, SEL_DATA0, 0);
    tss0.link = 0;

    /* #PF (14): identity 4 MiB pages, nothing at 1 GiB. */
    static uint32_t pd[1024] __attribute__((aligned(4096)));
    for (int i = 0; i < 4; i++)
        pd[i] = (uint32_t)i << 22 | 0x87;      /* PS, U, W, P */
    write_cr4(read_cr4() | CR4_PSE);
    write_cr3((uint32_t)pd);
    write_cr0(read_cr0() | CR0_PG);
    TRY("movl $1, 0x40000004");
    expect("write to a not-present page", 14, 2, 0);
    check_eq("CR2", last_exc.cr2, 0x40000004);
    write_cr0(read_cr0() & ~CR0_PG);

    /* #MF (16): an unmasked x87 exception is reported at the next waiting
     * x87 instruction (CR0.NE=1: native error reporting). */
    static uint16_t fcw = 0x037b;               /* ZM (bit 2) clear: divide-by-zero unmasked */
    __asm__ volatile("fninit\n\tfldcw %0\n\tfld1\n\tfldz\n\tfdivrp" : : "m"(fcw));
    uint16_t fsw;
    __asm__ volatile("fnstsw %0" : "=m"(fsw));
    check((fsw & 0x84) == 0x84, "%-40s FSW.ZE and FSW.ES set (FSW %04x)", "1/0 pending", fsw);
    TRY("fwait");
    expect("FWAIT with an unmasked pending x87 error", 16, 0, 0);
    __asm__ volatile("fnclex\n\tfninit");

    /* #XM (19) and #UD for SSE. */
    uint32_t a, b, c, d;
    cpuid(1, &a, &b, &c, &d);
    if (d & (1u << 25)) {
        static uint32_t mxcsr;
        write_cr4(read_cr4() & ~(CR4_OSFXSR | CR4_OSXMMEXCPT));
        TRY("movss one, %%xmm0");
        expect("SSE with CR4.OSFXSR=0", 6, 0, 0);
        write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
        mxcsr = 0x1f80 & ~0x200;                /* ZM clear */
        __asm__ volatile("ldmxcsr %0\n\tmovss one, %%xmm0" : : "m"(mxcsr));
        if (under_qemu()) {
            gprintf("  skip #XM: QEMU does not raise SIMD floating-point exceptions\n");
        } else {
            TRY("divss zero, %%xmm0");
            expect("DIVSS by zero, unmasked, OSXMMEXCPT=1", 19, 0, 0);
            write_cr4(read_cr4() & ~CR4_OSXMMEXCPT);
            TRY("divss zero, %%xmm0");
            expect("DIVSS by zero, unmasked, OSXMMEXCPT=0", 6, 0, 0);
        }
        mxcsr = 0x1f80;
        __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
    } else {
        gprintf("  (no SSE: #XM not tested)\n");
    }

    /* #AC (17): alignment checking at CPL 3 with CR0.AM and EFLAGS.AC. */
    if (under_qemu()) {
        gprintf("  skip #AC: QEMU does not check alignment\n");
        return;
    }
    write_cr0(read_cr0() | CR0_AM);
    uint32_t r = enter_user(user_ac, USER_STACK_TOP, 0x00040002u, SEL_DATA3);
    check(r == (1u << 24 | 17u << 16), "%-40s #AC (17) error 0; got %u exception(s), vector %u "
          "error %x", "misaligned dword at CPL 3, AM and AC set", r >> 24, (r >> 16) & 0xff,
          r & 0xffff);
    r = enter_user(user_ac, USER_STACK_TOP, 0x00000002u, SEL_DATA3);
    check(r >> 24 == 0, "%-40s no exception", "misaligned dword at CPL 3, AC clear");
    write_cr0(read_cr0() & ~CR0_AM);
    r = enter_user(user_ac, USER_STACK_TOP, 0x00040002u, SEL_DATA3);
    check(r >> 24 == 0, "%-40s no exception", "misaligned dword at CPL 3, AM clear");
}
