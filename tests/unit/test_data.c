/*
 * data.c: MOV and its segment-register forms, MOVZX/MOVSX, LEA, XCHG,
 * XLAT, the conversions, PUSH/POP in all their forms, PUSHA/POPA,
 * ENTER/LEAVE, LAHF/SAHF, PUSHF/POPF and its privilege rules, the flag
 * instructions, LxS, BOUND, the NOPs and UD2 — in flat 32-bit and real
 * mode, with faults captured through the real-mode IVT.
 */
#include "insn_test.h"
#include "sys_test.h"

typedef struct check {
    char kind;        /* 'r' register, 'm' physical dword, 's' selector, 'f' eflags, 0 end */
    int idx;          /* register, address or segment */
    uint32_t mask;
    uint32_t value;
} check;

typedef struct data_case {
    enum harness_mode mode;
    uint32_t flags_in;
    const char *src;
    check c[4];
} data_case;

#define F32 HARNESS_FLAT32
#define R16 HARNESS_REAL16
#define ALL 0xffffffffu
#define REG(r, v) { 'r', r, ALL, v }
#define REGM(r, m, v) { 'r', r, m, v }
#define MEM(a, v) { 'm', a, ALL, v }
#define SEL(s, v) { 's', s, 0xffff, v }
#define FLAGS(m, v) { 'f', 0, m, v }

static const data_case cases[] = {
    /* MOV, moffs, MOVZX/MOVSX, MOVNTI */
    { F32, 0, "mov dword [0x20000],0x11223344\nmov eax,[0x20000]\nmov [0x20005],al",
      { REG(R_EAX, 0x11223344), MEM(0x20004, 0x00004400) } },
    { F32, 0, "mov eax,0x12345678\nmov bl,0x80\nmovsx ecx,bl\nmovzx edx,bl\nmovsx ax,bl",
      { REG(R_ECX, 0xffffff80), REG(R_EDX, 0x80), REG(R_EAX, 0x1234ff80) } },
    { F32, 0, "mov bx,0x8000\nmovsx eax,bx\nmov word [0x20000],0xfffe\nmovzx ecx,word [0x20000]",
      { REG(R_EAX, 0xffff8000), REG(R_ECX, 0xfffe) } },
    { F32, 0, "mov ecx,5\nmovnti [0x20000],ecx\nmov eax,[0x20000]", { REG(R_EAX, 5) } },
    /* MOV with segment registers: 32-bit destination zero-extends */
    { F32, 0, "mov ax,0x10\nmov es,ax\nmov ebx,0xffffffff\nmov ebx,es\nmov ecx,0xffffffff\nmov cx,es",
      { SEL(S_ES, 0x10), REG(R_EBX, 0x10), REG(R_ECX, 0xffff0010) } },
    { R16, 0, "mov ax,0x1234\nmov es,ax\nmov word [0x600],0x4321\nmov fs,[0x600]\nmov bx,fs",
      { SEL(S_ES, 0x1234), SEL(S_FS, 0x4321), REGM(R_EBX, 0xffff, 0x4321) } },
    /* LEA: address-size wrap, operand-size truncation */
    { F32, 0, "mov ebx,0x1000\nmov esi,4\nlea eax,[ebx+esi*4+8]\nmov ecx,0xaaaaaaaa\nlea cx,[ebx+0x12345]",
      { REG(R_EAX, 0x1018), REG(R_ECX, 0xaaaa3345) } },
    { R16, 0, "mov bx,0xffff\nmov si,3\nlea ax,[bx+si]\nmov ecx,-1\nlea ecx,[bx+2]",
      { REGM(R_EAX, 0xffff, 2), REG(R_ECX, 1) } },
    /* XCHG, XLAT, conversions */
    { F32, 0, "mov eax,1\nmov ebx,2\nxchg eax,ebx\nmov dword [0x20000],7\nxchg [0x20000],ebx\nmov edx,[0x20000]",
      { REG(R_EAX, 2), REG(R_EBX, 7), REG(R_EDX, 1) } },
    { F32, 0, "mov dword [0x20000],0x44332211\nmov ebx,0x20000\nmov eax,0xffffff02\nxlatb",
      { REG(R_EAX, 0xffffff33) } },
    { F32, 0, "mov eax,0x12345680\ncbw\nmov ebx,eax\nmov eax,0x8000\ncwde\nmov ecx,eax\ncdq",
      { REG(R_EBX, 0x1234ff80), REG(R_ECX, 0xffff8000), REG(R_EDX, 0xffffffff) } },
    { F32, 0, "mov edx,0x12345678\nmov eax,0x7fff\ncwd\nmov ebx,edx\nmov ax,0x8000\ncwd",
      { REG(R_EBX, 0x12340000), REG(R_EDX, 0x1234ffff) } },
    /* PUSH / POP */
    { F32, 0, "push dword 0x12345678\npop eax\npush byte -1\npop ebx\npush word 0x1234\nmov ecx,esp\npop dx",
      { REG(R_EAX, 0x12345678), REG(R_EBX, 0xffffffff), REG(R_ECX, 0x7fffe), REG(R_ESP, 0x80000) } },
    { F32, 0, "mov ebx,esp\npush esp\npop eax", { REG(R_EAX, 0x80000) } },
    { F32, 0, "push dword 1\npush dword 2\npop dword [esp]\npop eax", { REG(R_EAX, 2), REG(R_ESP, 0x80000) } },
    { F32, 0, "push dword 0x70000\npop esp", { REG(R_ESP, 0x70000) } },
    { F32, 0, "mov dword [0x20000],0x55\npush dword [0x20000]\npop dword [0x20004]\nmov eax,[0x20004]",
      { REG(R_EAX, 0x55) } },
    /* PUSH sreg with a 32-bit operand size: a 16-bit store into a 4-byte slot */
    { F32, 0, "mov dword [0x7fffc],0xaaaa0000\npush ds\npop eax\npush fs\npop es",
      { REG(R_EAX, 0xaaaa0010), SEL(S_ES, 0x10), REG(R_ESP, 0x80000) } },
    { R16, 0, "push cs\npop ax\nmov bx,0x2000\npush bx\npop es",
      { REGM(R_EAX, 0xffff, 0x1000), SEL(S_ES, 0x2000), REG(R_ESP, 0xfff0) } },
    /* PUSHA / POPA */
    { F32, 0, "mov eax,1\nmov ecx,2\nmov edx,3\nmov ebx,4\nmov ebp,6\nmov esi,7\nmov edi,8\npushad\n"
              "mov eax,[esp+12]\nmov ebx,[esp+28]\nmov ecx,esp\nmov dword [esp+12],0x1111\npopad",
      { REG(R_EAX, 1), REG(R_EBX, 4), REG(R_ECX, 2), REG(R_ESP, 0x80000) } },
    { F32, 0, "mov eax,1\nmov ebx,4\npushad\nmov eax,[esp+12]\nmov ebx,esp\nmov dword [esp+16],0x2222\npopad\n"
              "mov [0x20000],eax\nmov [0x20004],ebx",
      { MEM(0x20000, 1), MEM(0x20004, 0x2222), REG(R_ESP, 0x80000) } },
    { F32, 0, "mov eax,9\npushad\nmov eax,[esp+12]\nmov ebx,[esp+28]\nadd esp,32",
      { REG(R_EAX, 0x80000), REG(R_EBX, 9) } },
    { R16, 0, "mov ax,1\nmov bx,0x77\nmov sp,0x100\npusha\nmov bx,[ss:0xfe]\nmov [0x600],bx\n"
              "mov bx,[ss:0xf6]\nmov [0x602],bx\npopa",
      { MEM(0x600, 0x01000001), REGM(R_EBX, 0xffff, 0x77), REGM(R_ESP, 0xffff, 0x100) } },
    /* ENTER / LEAVE */
    { F32, 0, "mov ebp,0x1234\nenter 16,0\nmov eax,ebp\nmov ebx,esp\nmov ecx,[ebp]\nleave",
      { REG(R_EAX, 0x7fffc), REG(R_EBX, 0x7ffec), REG(R_ECX, 0x1234), REG(R_EBP, 0x1234) } },
    { F32, 0, "mov ebp,0x7ff00\nmov dword [0x7fefc],0xabcd\nenter 8,2\nmov eax,[0x7fff8]\nmov ebx,[0x7fff4]",
      { REG(R_EAX, 0xabcd), REG(R_EBX, 0x7fffc), REG(R_EBP, 0x7fffc), REG(R_ESP, 0x7ffec) } },
    { R16, 0, "mov bp,0x5555\nenter 4,1\nmov ax,bp\nmov bx,sp\nmov cx,[bp-2]\nleave",
      { REGM(R_EAX, 0xffff, 0xffee), REGM(R_EBX, 0xffff, 0xffe8), REGM(R_ECX, 0xffff, 0xffee),
        REGM(R_EBP, 0xffff, 0x5555) } },
    /* LAHF SAHF, flag instructions */
    { F32, FL_CF | FL_ZF | FL_OF, "lahf", { REGM(R_EAX, 0xff00, 0x4300), FLAGS(ALL, 0x843) } },
    { F32, FL_OF, "mov ah,0xff\nsahf", { FLAGS(ALL, 0x8d7) } },
    { F32, 0, "stc\ncmc\ncmc\nstd\nmov eax,0\nsetc al", { REG(R_EAX, 1), FLAGS(FL_DF | FL_CF, FL_DF | FL_CF) } },
    { F32, FL_DF | FL_CF, "clc\ncld", { FLAGS(ALL, 2) } },
    /* PUSHF / POPF at CPL 0: every writable bit, never VM/RF/VIF/VIP */
    { F32, FL_CF, "pushfd\npop eax\npush dword 0xfffffeff\npopfd\npushfd\npop ebx",
      { REG(R_EAX, 0x3), REG(R_EBX, 0x247ed7), FLAGS(ALL, 0x247ed7) } },
    { F32, FL_AC | FL_CF, "push word 0\npopfw", { FLAGS(ALL, FL_AC | 2), REG(R_ESP, 0x80000) } },
    { R16, 0, "push word 0x3000\npopf\npushf\npop ax", { REGM(R_EAX, 0xffff, 0x3002) } },
    /* LxS */
    { F32, 0, "mov dword [0x20000],0xabcdef\nmov word [0x20004],0x10\nlfs eax,[0x20000]\nlgs bx,[0x20002]",
      { REG(R_EAX, 0xabcdef), SEL(S_FS, 0x10), REGM(R_EBX, 0xffff, 0xab), SEL(S_GS, 0x10) } },
    { R16, 0, "mov word [0x600],0x1234\nmov word [0x602],0x5678\nles si,[0x600]\nlss sp,[0x600]",
      { REGM(R_ESI, 0xffff, 0x1234), SEL(S_ES, 0x5678), SEL(S_SS, 0x5678), REGM(R_ESP, 0xffff, 0x1234) } },
    /* NOPs */
    { F32, 0, "mov eax,0\nnop\ndb 0x0f,0x1f,0x44,0,0\ndb 0x66,0x0f,0x1f,0x84,0,0,0,0,0\npause\n"
              "prefetchnta [eax]\nprefetcht0 [eax]\nmov eax,7", { REG(R_EAX, 7) } },
    /* hint NOPs that later CPUs gave meanings: ENDBR32, RDSSPD, BNDMK, CLDEMOTE */
    { F32, 0, "mov eax,3\ndb 0xf3,0x0f,0x1e,0xfb\ndb 0xf3,0x0f,0x1e,0xc8\ndb 0xf3,0x0f,0x1b,0x00\n"
              "db 0x0f,0x1c,0x00\ninc eax", { REG(R_EAX, 4) } },
};

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const data_case *dc = &cases[i];
        char src[1024];
        snprintf(src, sizeof(src), "%s\nhlt", dc->src);
        harness *h = run_snippet(dc->mode, dc->flags_in, src);
        for (int k = 0; k < 4 && dc->c[k].kind; k++) {
            const check *c = &dc->c[k];
            uint32_t got = 0;
            switch (c->kind) {
            case 'r': got = h->cpu.regs[c->idx]; break;
            case 'm': got = harness_peek32(h, (uint32_t)c->idx); break;
            case 's': got = h->cpu.seg[c->idx].selector; break;
            case 'f': got = h->cpu.eflags; break;
            }
            if ((got & c->mask) != c->value)
                fail_msg("case %zu check %d (%c %d): got %08x want %08x\n%s", i, k, c->kind, c->idx,
                         got & c->mask, c->value, dc->src);
        }
        harness_free(h);
    }
}

/* POPF above CPL 0: IOPL never changes; IF only when CPL <= IOPL. */
static uint32_t popf_at(unsigned cpl, uint32_t eflags, uint32_t pushed)
{
    harness *h = harness_new(HARNESS_FLAT32);
    char src[128];
    snprintf(src, sizeof(src), "push dword 0x%x\npopfd\nhlt", pushed);
    harness_asm(h, src);
    h->cpu.eflags = eflags | FL_FIXED1;
    h->cpu.cpl = (uint8_t)cpl;
    run_to_hlt(h, 10);
    uint32_t f = h->cpu.eflags;
    harness_free(h);
    return f;
}

static void test_popf_privilege(void **state)
{
    (void)state;
    /* CPL 3, IOPL 0: neither IF nor IOPL move; the arithmetic flags do */
    assert_int_equal(popf_at(3, FL_IF, 0x3000 | FL_CF), FL_IF | FL_CF | 2);
    assert_int_equal(popf_at(3, 0, FL_IF), 2);
    /* CPL 3, IOPL 3: IF moves, IOPL does not */
    assert_int_equal(popf_at(3, FL_IOPL | FL_IF, 0), FL_IOPL | 2);
    /* CPL 1, IOPL 1: IF moves, IOPL does not */
    assert_int_equal(popf_at(1, 0x1000, FL_IF), 0x1000 | FL_IF | 2);
    /* CPL 0: IOPL moves; VM, RF, VIF, VIP never set */
    assert_int_equal(popf_at(0, 0, 0x3000 | FL_VM | FL_RF | FL_VIF | FL_VIP), 0x3000 | 2);
}

/* Faults, captured through the real-mode IVT. */
static void test_faults(void **state)
{
    (void)state;
    rm_expect_fault("fault_at: ud2", EXC_UD);
    rm_expect_fault("fault_at: db 0x8e, 0xc8", EXC_UD);                   /* mov cs, ax */
    rm_expect_fault("mov word [0x600],2\nmov word [0x602],5\nmov ax,1\nfault_at: bound ax,[0x600]",
                    EXC_BR);
    rm_expect_fault("mov word [0x600],2\nmov word [0x602],5\nmov ax,6\nfault_at: bound ax,[0x600]",
                    EXC_BR);
    rm_expect_fault("mov word [0x600],-2\nmov word [0x602],5\nmov ax,-2\nfault_at: bound ax,[0x600]\n"
                    "mov ax,5\nbound ax,[0x600]", -1);
    rm_expect_fault("mov dword [0x600],-2\nmov dword [0x604],5\nmov eax,-3\nfault_at: bound eax,[0x600]",
                    EXC_BR);
    rm_expect_fault("fault_at: mov ax,[0xffff]", EXC_GP);                 /* straddles the limit */
}

/* PUSHA checks every slot before it stores any: SP = 9 puts the fifth
 * slot at FFFF, beyond the limit, so the fourth (BX at SS:1) must not
 * have been written.  (The #SS delivery itself overwrites SS:3..7.) */
static void test_pusha_atomic(void **state)
{
    (void)state;
    harness *h = rm_fault_run("mov word [ss:1],0xbeef\nmov bx,0x1234\n"
                              "mov sp,9\nfault_at: pusha");
    assert_int_equal(peek16(h, RM_FAULT_VECTOR), EXC_SS);
    assert_int_equal(peek16(h, HARNESS_STACK + 1), 0xbeef);
    harness_free(h);
}

/* POPA reads every slot before it writes a register. */
static void test_popa_atomic(void **state)
{
    (void)state;
    harness *h = rm_fault_run("mov ax,0x1111\nmov bx,0x2222\nmov sp,0xfff3\nfault_at: popa");
    assert_int_equal(peek16(h, RM_FAULT_VECTOR), EXC_SS);
    assert_int_equal(h->cpu.regs[R_EAX] & 0xffff, 0x1111);
    assert_int_equal(h->cpu.regs[R_EBX] & 0xffff, 0x2222);
    harness_free(h);
}

/*
 * v86 mode (entered with IRETD, left through INT 0x21 whose gate has DPL
 * 3): with IOPL < 3, PUSHF and POPF raise #GP(0); with IOPL 3 they run,
 * and POPF cannot change IOPL.  (CR4.VME is not supported.)
 */
static const char v86_entry[] =
    "mov dword [0x7ff4], here - 0x10000\n"
    "push dword 0\npush dword 0\npush dword 0\npush dword 0\n" /* GS FS DS ES */
    "push dword 0x3000\npush dword 0xfff0\n"                      /* SS SP */
    "push dword 0x%x\npush dword 0x1000\npush dword v86 - 0x10000\niretd\n"
    "bits 16\nv86:\n%s\n";

static harness *run_v86(uint32_t eflags, const char *body)
{
    char src[1024];
    harness *h = sys_new();
    sys_idt_gate(h, 0x21, SEL_CODE0, SYS_STUBS + 0x21 * 16, 14, 3);
    snprintf(src, sizeof(src), v86_entry, eflags | FL_VM | FL_FIXED1, body);
    harness_asm(h, src);
    sys_run(h);
    return h;
}

static void test_pushf_popf_v86(void **state)
{
    (void)state;
    harness *h = run_v86(0, "here: pushf");
    assert_int_equal(sys_vector(h), EXC_GP);
    assert_int_equal(sys_stack(h, 0), 0);
    assert_int_equal(sys_stack(h, 1), harness_peek32(h, 0x7ff4));
    harness_free(h);

    h = run_v86(0x1000, "push word 0\nhere: popf");
    assert_int_equal(sys_vector(h), EXC_GP);
    assert_int_equal(sys_stack(h, 1), harness_peek32(h, 0x7ff4));
    harness_free(h);

    /* IOPL 3: PUSHF shows no VM; POPF clears CF and keeps IOPL and VM */
    h = run_v86(FL_IOPL | FL_CF, "here: pushfd\npop eax\npop edx\npush dword 0\npopfd\nint 0x21");
    assert_int_equal(sys_vector(h), 0x21);
    assert_int_equal(h->cpu.regs[R_EAX], FL_IOPL | FL_CF | FL_FIXED1);
    assert_int_equal(sys_stack(h, 2), FL_VM | FL_IOPL | FL_FIXED1); /* saved EFLAGS */
    harness_free(h);
}

/* Ring 3 entered with IRETD; POPFD there, then INT3 (DPL-3 gate) back. */
static uint32_t popf_ring3(uint32_t eflags, uint32_t pushed)
{
    char src[512];
    harness *h = sys_new();
    snprintf(src, sizeof(src),
             "push dword 0x33\npush dword 0x60000\npush dword 0x%x\npush dword 0x2b\n"
             "push dword r3\niretd\nr3: push dword 0x%x\npopfd\npushfd\npop ebx\nint3",
             eflags | FL_FIXED1, pushed);
    harness_asm(h, src);
    sys_run(h);
    assert_int_equal(sys_vector(h), EXC_BP);
    uint32_t f = h->cpu.regs[R_EBX];
    harness_free(h);
    return f;
}

static void test_popf_ring3(void **state)
{
    (void)state;
    /* IOPL 0 < CPL 3: IF and IOPL stay, the rest moves */
    assert_int_equal(popf_ring3(FL_IF, FL_IOPL | FL_CF | FL_DF), FL_IF | FL_CF | FL_DF | 2);
    /* IOPL 3 = CPL: IF moves, IOPL stays */
    assert_int_equal(popf_ring3(FL_IF | FL_IOPL, 0), FL_IOPL | 2);
    /* AC and ID are writable at CPL 3 */
    assert_int_equal(popf_ring3(0, FL_AC | FL_ID), FL_AC | FL_ID | 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_popf_privilege),
        cmocka_unit_test(test_pushf_popf_v86),
        cmocka_unit_test(test_popf_ring3),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_pusha_atomic),
        cmocka_unit_test(test_popa_atomic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
