/*
 * alu.c: results and flags of the arithmetic, logic, shift, multiply,
 * divide, BCD and bit instructions, in flat 32-bit protected mode and in
 * real mode, checked against values worked out from the SDM (undefined
 * flags are masked out of each comparison).  #DE is checked in real mode
 * through an IVT entry whose handler records the faulting IP.
 */
#include "insn_test.h"
#include "sys_test.h"

#define A FL_ARITH
#define NOAF (FL_ARITH & ~FL_AF)
#define CO (FL_CF | FL_OF)

typedef struct alu_case {
    enum harness_mode mode;
    uint32_t flags_in;
    const char *src;
    int reg;            /* register checked */
    uint32_t mask;      /* bits of it compared */
    uint32_t value;
    uint32_t fmask;     /* flags compared */
    uint32_t fvalue;
    int reg2;           /* second register, -1: none */
    uint32_t value2;
} alu_case;

#define F32 HARNESS_FLAT32
#define R16 HARNESS_REAL16
#define ALL 0xffffffffu

static const alu_case cases[] = {
    /* ADD ADC SUB SBB CMP */
    { F32, 0, "mov al,0x7f\nadd al,1", R_EAX, 0xff, 0x80, A, FL_OF | FL_SF | FL_AF, -1, 0 },
    { F32, 0, "mov eax,0xffffffff\nadd eax,1", R_EAX, ALL, 0, A, FL_CF | FL_ZF | FL_AF | FL_PF, -1, 0 },
    { F32, 0, "mov eax,0x12340005\nadd ax,-1", R_EAX, ALL, 0x12340004, A, FL_CF | FL_AF, -1, 0 },
    { F32, 0, "mov eax,0x10\nadd eax,byte -1", R_EAX, ALL, 0xf, A, FL_CF | FL_PF, -1, 0 },
    { F32, FL_CF, "mov eax,1\nadc eax,1", R_EAX, ALL, 3, A, FL_PF, -1, 0 },
    { F32, FL_CF, "mov eax,0\nsbb eax,0", R_EAX, ALL, 0xffffffff, A, FL_CF | FL_SF | FL_AF | FL_PF, -1, 0 },
    { F32, 0, "mov ax,0x8000\nsub ax,1", R_EAX, 0xffff, 0x7fff, A, FL_OF | FL_AF | FL_PF, -1, 0 },
    { F32, 0, "mov eax,5\ncmp eax,7", R_EAX, ALL, 5, A, FL_CF | FL_SF | FL_AF, -1, 0 },
    { F32, 0, "mov dword [0x20000],5\nlock add dword [0x20000],3\nmov eax,[0x20000]",
      R_EAX, ALL, 8, A, 0, -1, 0 },
    { F32, 0, "mov dword [0x20000],0x80\nsub byte [0x20000],1\nmov eax,[0x20000]",
      R_EAX, ALL, 0x7f, A, FL_OF | FL_AF, -1, 0 },
    /* AND OR XOR TEST: CF = OF = 0, AF undefined */
    { F32, FL_CF | FL_OF, "mov eax,0xf0f0\nand eax,0x0ff0", R_EAX, ALL, 0xf0, NOAF, FL_PF, -1, 0 },
    { F32, 0, "mov eax,5\nxor eax,eax", R_EAX, ALL, 0, NOAF, FL_ZF | FL_PF, -1, 0 },
    { F32, 0, "mov eax,0x80000000\ntest eax,eax", R_EAX, ALL, 0x80000000, NOAF, FL_SF | FL_PF, -1, 0 },
    { F32, 0, "mov eax,0x1200\nor ah,0x81", R_EAX, ALL, 0x9300, NOAF, FL_SF | FL_PF, -1, 0 },
    /* INC DEC keep CF; NEG; NOT touches no flag */
    { F32, FL_CF, "mov eax,0x7fffffff\ninc eax", R_EAX, ALL, 0x80000000, A,
      FL_OF | FL_SF | FL_AF | FL_CF | FL_PF, -1, 0 },
    { F32, 0, "mov ecx,1\ndec ecx", R_ECX, ALL, 0, A, FL_ZF | FL_PF, -1, 0 },
    { F32, 0, "mov eax,1\nneg eax", R_EAX, ALL, 0xffffffff, A, FL_CF | FL_SF | FL_AF | FL_PF, -1, 0 },
    { F32, FL_CF, "mov eax,0\nneg eax", R_EAX, ALL, 0, A, FL_ZF | FL_PF, -1, 0 },
    { F32, A, "mov eax,0x0f0f0f0f\nnot eax", R_EAX, ALL, 0xf0f0f0f0, A, A, -1, 0 },
    /* shifts and rotates */
    { F32, 0, "mov eax,0x80000001\nshl eax,1", R_EAX, ALL, 2, NOAF, FL_CF | FL_OF, -1, 0 },
    { F32, FL_CF | FL_ZF | FL_OF, "mov eax,5\nmov cl,0\nshl eax,cl", R_EAX, ALL, 5, A,
      FL_CF | FL_ZF | FL_OF, -1, 0 },
    { F32, FL_SF, "mov eax,5\nmov cl,32\nshl eax,cl", R_EAX, ALL, 5, A, FL_SF, -1, 0 },
    { F32, 0, "mov eax,3\nshr eax,1", R_EAX, ALL, 1, NOAF, FL_CF, -1, 0 },
    { F32, 0, "mov al,0x81\nsar al,1", R_EAX, 0xff, 0xc0, NOAF, FL_CF | FL_SF | FL_PF, -1, 0 },
    { F32, 0, "mov eax,0x80000000\nrol eax,1", R_EAX, ALL, 1, CO, FL_CF | FL_OF, -1, 0 },
    { F32, 0, "mov ax,1\nror ax,1", R_EAX, 0xffff, 0x8000, CO, FL_CF | FL_OF, -1, 0 },
    { F32, FL_CF, "mov al,0x80\nrcl al,1", R_EAX, 0xff, 0x01, CO, FL_CF | FL_OF, -1, 0 },
    { F32, FL_CF, "mov al,0x55\nmov cl,9\nrcr al,cl", R_EAX, 0xff, 0x55, FL_CF, FL_CF, -1, 0 },
    { F32, 0, "mov eax,0x12345678\nmov ebx,0x9abcdef0\nshld eax,ebx,8", R_EAX, ALL, 0x3456789a,
      FL_CF | FL_SF | FL_ZF | FL_PF, FL_PF, -1, 0 },
    { F32, 0, "mov ax,0x1234\nmov bx,0x5678\nshrd ax,bx,4", R_EAX, 0xffff, 0x8123,
      FL_CF | FL_SF | FL_ZF | FL_PF, FL_SF, -1, 0 },
    { F32, 0, "mov dword [0x20000],0x40000000\nshl dword [0x20000],2\nmov eax,[0x20000]",
      R_EAX, ALL, 0, FL_CF | FL_ZF, FL_CF | FL_ZF, -1, 0 },
    /* MUL IMUL */
    { F32, 0, "mov al,0x80\nmov bl,2\nmul bl", R_EAX, 0xffff, 0x100, CO, CO, -1, 0 },
    { F32, 0, "mov eax,0x10000\nmov ebx,0x10000\nmul ebx", R_EAX, ALL, 0, CO, CO, R_EDX, 1 },
    { F32, CO, "mov eax,7\nmov ecx,6\nmul ecx", R_EAX, ALL, 42, CO, 0, R_EDX, 0 },
    { F32, 0, "mov ax,-2\nmov bx,3\nimul bx", R_EAX, 0xffff, 0xfffa, CO, 0, R_EDX, 0xffff },
    { F32, 0, "mov ebx,-5\nimul eax,ebx,7", R_EAX, ALL, (uint32_t)-35, CO, 0, -1, 0 },
    { F32, 0, "mov eax,0x40000000\nmov ebx,4\nimul eax,ebx", R_EAX, ALL, 0, CO, CO, -1, 0 },
    { F32, 0, "mov al,-128\nmov cl,-1\nimul cl", R_EAX, 0xffff, 0x0080, CO, CO, -1, 0 },
    /* DIV IDIV */
    { F32, 0, "mov ax,1000\nmov bl,7\ndiv bl", R_EAX, 0xffff, 0x068e, 0, 0, -1, 0 },
    { F32, 0, "mov edx,1\nmov eax,0\nmov ecx,3\ndiv ecx", R_EAX, ALL, 0x55555555, 0, 0, R_EDX, 1 },
    { F32, 0, "mov dx,0xffff\nmov ax,-7\nmov bx,2\nidiv bx", R_EAX, 0xffff, 0xfffd, 0, 0, R_EDX, 0xffff },
    { F32, 0, "mov ax,-256\nmov bl,2\nidiv bl", R_EAX, 0xffff, 0x0080, 0, 0, -1, 0 },
    { F32, 0, "mov edx,-1\nmov eax,-100\nmov ecx,-7\nidiv ecx", R_EAX, ALL, 14, 0, 0, R_EDX, (uint32_t)-2 },
    /* BCD (SDM examples) */
    { F32, 0, "mov al,0x79\nadd al,0x35\ndaa", R_EAX, 0xff, 0x14, FL_CF | FL_AF | FL_SF | FL_ZF | FL_PF,
      FL_CF | FL_AF | FL_PF, -1, 0 },
    { F32, 0, "mov al,0x35\nsub al,0x47\ndas", R_EAX, 0xff, 0x88, FL_CF | FL_AF | FL_SF | FL_ZF | FL_PF,
      FL_CF | FL_AF | FL_SF | FL_PF, -1, 0 },
    { F32, 0, "mov ax,9\nadd al,8\naaa", R_EAX, 0xffff, 0x0107, FL_CF | FL_AF, FL_CF | FL_AF, -1, 0 },
    { F32, 0, "mov ax,0x00ff\naaa", R_EAX, 0xffff, 0x0205, FL_CF | FL_AF, FL_CF | FL_AF, -1, 0 },
    { F32, 0, "mov ax,3\nadd al,4\naaa", R_EAX, 0xffff, 0x0007, FL_CF | FL_AF, 0, -1, 0 },
    { F32, 0, "mov ax,0x0205\nsub al,8\naas", R_EAX, 0xffff, 0x0107, FL_CF | FL_AF, FL_CF | FL_AF, -1, 0 },
    { F32, 0, "mov al,79\naam", R_EAX, 0xffff, 0x0709, FL_SF | FL_ZF | FL_PF, FL_PF, -1, 0 },
    { F32, 0, "mov al,0x3f\naam 16", R_EAX, 0xffff, 0x030f, FL_SF | FL_ZF | FL_PF, FL_PF, -1, 0 },
    { F32, 0, "mov ax,0x0709\naad", R_EAX, 0xffff, 0x004f, FL_SF | FL_ZF | FL_PF, 0, -1, 0 },
    { F32, FL_CF, "mov eax,0x1234\nsalc", R_EAX, ALL, 0x12ff, A, FL_CF, -1, 0 },
    { F32, 0, "mov eax,0x1234\nsalc", R_EAX, ALL, 0x1200, A, 0, -1, 0 },
    /* BT BTS BTR BTC, register forms: offset modulo the width */
    { F32, 0, "mov eax,0x10\nbt eax,4", R_EAX, ALL, 0x10, FL_CF, FL_CF, -1, 0 },
    { F32, FL_CF, "mov eax,0\nmov ecx,33\nbts eax,ecx", R_EAX, ALL, 2, FL_CF, 0, -1, 0 },
    { F32, 0, "mov ax,0xffff\nbtr ax,15", R_EAX, 0xffff, 0x7fff, FL_CF, FL_CF, -1, 0 },
    { F32, 0, "mov eax,1\nbtc eax,0", R_EAX, ALL, 0, FL_CF, FL_CF, -1, 0 },
    /* memory bit strings: signed offsets reach beyond the operand */
    { F32, 0, "mov dword [0x20000],0\nmov dword [0x20004],0\nmov ecx,35\n"
              "bts dword [0x20000],ecx\nmov eax,[0x20004]", R_EAX, ALL, 8, FL_CF, 0, -1, 0 },
    { F32, 0, "mov dword [0x1fffc],0\nmov ecx,-1\nmov ebx,0x20000\nbts dword [ebx],ecx\n"
              "mov eax,[0x1fffc]", R_EAX, ALL, 0x80000000, FL_CF, 0, -1, 0 },
    { F32, 0, "mov dword [0x1fffc],0x80000000\nmov ecx,-1\nmov ebx,0x20000\nbt dword [ebx],ecx",
      R_EAX, 0, 0, FL_CF, FL_CF, -1, 0 },
    { F32, 0, "mov dword [0x1fffc],0\nmov cx,-1\nmov ebx,0x20000\nbts word [ebx],cx\n"
              "mov eax,[0x1fffc]", R_EAX, ALL, 0x80000000, FL_CF, 0, -1, 0 },
    { F32, 0, "mov dword [0x20000],0\nbts dword [0x20000],33\nmov eax,[0x20000]",
      R_EAX, ALL, 2, FL_CF, 0, -1, 0 },
    /* BSF BSR BSWAP */
    { F32, 0, "mov ebx,0x80\nbsf eax,ebx", R_EAX, ALL, 7, FL_ZF, 0, -1, 0 },
    { F32, 0, "mov ebx,0x80000001\nbsr eax,ebx", R_EAX, ALL, 31, FL_ZF, 0, -1, 0 },
    { F32, 0, "mov eax,0x1234\nmov ebx,0\nbsf eax,ebx", R_EAX, ALL, 0x1234, FL_ZF, FL_ZF, -1, 0 },
    { F32, 0, "mov eax,0x12345678\nbswap eax", R_EAX, ALL, 0x78563412, 0, 0, -1, 0 },
    /* F3 0F BC/BD run as BSF/BSR on an i686 (LZCNT would give 0 here) */
    { F32, 0, "mov ebx,0x80\ntzcnt eax,ebx", R_EAX, ALL, 7, FL_ZF, 0, -1, 0 },
    { F32, 0, "mov ebx,0x80000001\nlzcnt eax,ebx", R_EAX, ALL, 31, FL_ZF, 0, -1, 0 },
    /* SETcc CMOVcc */
    { F32, FL_ZF, "mov eax,0x12345678\nsetz al", R_EAX, ALL, 0x12345601, 0, 0, -1, 0 },
    { F32, FL_ZF, "mov eax,0x12345678\nsetnz al", R_EAX, ALL, 0x12345600, 0, 0, -1, 0 },
    { F32, FL_SF, "mov eax,0\nsetl al", R_EAX, ALL, 1, 0, 0, -1, 0 },
    { F32, FL_SF | FL_OF, "mov eax,0\nsetle al", R_EAX, ALL, 0, 0, 0, -1, 0 },
    { F32, 0, "mov eax,0\nseta al", R_EAX, ALL, 1, 0, 0, -1, 0 },
    { F32, FL_CF, "mov eax,0\nseta al", R_EAX, ALL, 0, 0, 0, -1, 0 },
    { F32, FL_PF, "mov eax,0\nsetp ah", R_EAX, ALL, 0x100, 0, 0, -1, 0 },
    { F32, FL_CF, "mov eax,1\nmov ebx,2\ncmovb eax,ebx", R_EAX, ALL, 2, 0, 0, -1, 0 },
    { F32, FL_CF, "mov eax,1\nmov ebx,2\ncmovnb eax,ebx", R_EAX, ALL, 1, 0, 0, -1, 0 },
    { F32, FL_ZF, "mov eax,1\nmov dword [0x20000],9\ncmovz ax,[0x20000]", R_EAX, ALL, 9, 0, 0, -1, 0 },
    /* CMPXCHG CMPXCHG8B XADD */
    { F32, 0, "mov eax,5\nmov ebx,5\nmov ecx,9\ncmpxchg ebx,ecx", R_EBX, ALL, 9, FL_ZF, FL_ZF, R_EAX, 5 },
    { F32, 0, "mov eax,5\nmov ebx,6\nmov ecx,9\ncmpxchg ebx,ecx", R_EAX, ALL, 6, FL_ZF | FL_CF, FL_CF,
      R_EBX, 6 },
    { F32, 0, "mov dword [0x20000],0x11\nmov al,0x11\nmov cl,0x22\nlock cmpxchg [0x20000],cl\n"
              "mov ebx,[0x20000]", R_EBX, ALL, 0x22, FL_ZF, FL_ZF, -1, 0 },
    { F32, 0, "mov dword [0x20000],1\nmov dword [0x20004],2\nmov eax,1\nmov edx,2\nmov ebx,3\n"
              "mov ecx,4\ncmpxchg8b [0x20000]\nmov esi,[0x20000]\nmov edi,[0x20004]",
      R_ESI, ALL, 3, FL_ZF, FL_ZF, R_EDI, 4 },
    { F32, FL_ZF, "mov dword [0x20000],1\nmov dword [0x20004],2\nmov eax,7\nmov edx,8\n"
              "cmpxchg8b [0x20000]", R_EAX, ALL, 1, FL_ZF, 0, R_EDX, 2 },
    { F32, 0, "mov eax,1\nmov ebx,2\nxadd eax,ebx", R_EAX, ALL, 3, A, FL_PF, R_EBX, 1 },
    { F32, 0, "mov eax,3\nxadd eax,eax", R_EAX, ALL, 6, 0, 0, -1, 0 },
    { F32, 0, "mov dword [0x20000],10\nmov ecx,5\nlock xadd [0x20000],ecx\nmov eax,[0x20000]",
      R_EAX, ALL, 15, 0, 0, R_ECX, 10 },
    /* real mode: 16-bit default, 32-bit by prefix */
    { R16, 0, "mov ax,0xffff\nadd ax,1", R_EAX, 0xffff, 0, A, FL_CF | FL_ZF | FL_AF | FL_PF, -1, 0 },
    { R16, 0, "mov eax,0x7fffffff\nadd eax,1", R_EAX, ALL, 0x80000000, A,
      FL_OF | FL_SF | FL_AF | FL_PF, -1, 0 },
    { R16, 0, "mov dx,0\nmov ax,100\nmov cx,7\ndiv cx", R_EAX, 0xffff, 14, 0, 0, R_EDX, 2 },
    { R16, 0, "mov ax,0x8000\nmov cl,4\nsar ax,cl", R_EAX, 0xffff, 0xf800, FL_SF | FL_CF, FL_SF, -1, 0 },
    { R16, 0, "mov word [0x600],0\nmov bx,0x600\nmov ax,17\nbts [bx],ax\nmov cx,[0x602]", R_ECX, 0xffff, 2,
      FL_CF, 0, -1, 0 },
    { R16, 0, "mov ax,0x1234\nmov bx,0x8000\nimul ax,bx,2", R_EAX, 0xffff, 0, CO, CO, -1, 0 },
};

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const alu_case *c = &cases[i];
        char src[512];
        snprintf(src, sizeof(src), "%s\nhlt", c->src);
        harness *h = run_snippet(c->mode, c->flags_in, src);
        uint32_t got = h->cpu.regs[c->reg] & c->mask;
        uint32_t gotf = h->cpu.eflags & c->fmask;
        if (got != c->value || gotf != c->fvalue ||
            (c->reg2 >= 0 && h->cpu.regs[c->reg2] != c->value2)) {
            fail_msg("case %zu (%s): reg %08x want %08x, flags %03x want %03x, reg2 %08x want %08x",
                     i, c->src, got, c->value, gotf, c->fvalue,
                     c->reg2 >= 0 ? h->cpu.regs[c->reg2] : 0, c->value2);
        }
        harness_free(h);
    }
}

/* Real-mode #DE: IVT[0] points at a handler that stores the IP it finds
 * on the stack and a marker; the faulting instruction left AX alone. */
static const char *de_program =
    "mov word [0], de_handler\n"
    "mov word [2], 0x1000\n"
    "mov word [0x504], fault_at\n"
    "%s\n"
    "fault_at:\n"
    "%s\n"
    "mov word [0x500], 0x600d\n"
    "hlt\n"
    "de_handler:\n"
    "pop word [0x502]\n"
    "mov word [0x500], 0xdead\n"
    "hlt\n";

static void expect_de(const char *setup, const char *insn, bool faults)
{
    char src[1024];
    snprintf(src, sizeof(src), de_program, setup, insn);
    harness *h = run_snippet(HARNESS_REAL16, 0, src);
    uint16_t marker = peek16(h, 0x500);
    if (faults) {
        if (marker != 0xdead)
            fail_msg("%s / %s: no #DE (marker %04x)", setup, insn, marker);
        assert_int_equal(peek16(h, 0x502), peek16(h, 0x504));
    } else if (marker != 0x600d) {
        fail_msg("%s / %s: unexpected #DE", setup, insn);
    }
    harness_free(h);
}

static void test_divide_error(void **state)
{
    (void)state;
    expect_de("mov ax,0x1234\nmov bl,0", "div bl", true);
    expect_de("mov ax,0x1000\nmov bl,2", "div bl", true);          /* quotient 0x800 */
    expect_de("mov ax,0x0fff\nmov bl,0x10", "div bl", false);       /* quotient 0xff */
    expect_de("mov dx,1\nmov ax,0\nmov cx,1", "div cx", true);
    expect_de("mov ax,-256\nmov bl,1", "idiv bl", true);            /* -256 */
    expect_de("mov ax,-128\nmov bl,-1", "idiv bl", true);           /* +128 */
    expect_de("mov ax,-127\nmov bl,-1", "idiv bl", false);
    expect_de("mov edx,-1\nmov eax,0x80000000\nmov ecx,-1", "idiv ecx", true);
    expect_de("mov edx,0x80000000\nmov eax,0\nmov ecx,-1", "idiv ecx", true); /* INT64_MIN / -1 */
    expect_de("mov edx,0\nmov eax,5\nmov ecx,0", "idiv ecx", true);
    expect_de("mov al,5", "aam 0", true);
    expect_de("mov al,5", "aam 3", false);
}

/* The faulting instruction changes nothing: #DE leaves AX/DX as they were. */
static void test_divide_error_state(void **state)
{
    (void)state;
    char src[1024];
    snprintf(src, sizeof(src), de_program, "mov dx,0x1111\nmov ax,0x2222\nmov cx,0", "div cx");
    harness *h = run_snippet(HARNESS_REAL16, 0, src);
    assert_int_equal(peek16(h, 0x500), 0xdead);
    assert_int_equal(h->cpu.regs[R_EAX] & 0xffff, 0x2222);
    assert_int_equal(h->cpu.regs[R_EDX] & 0xffff, 0x1111);
    harness_free(h);
}

/* RCL/RCR by counts beyond the width rotate through CF mod 9 / 17. */
static void test_rotate_through_carry(void **state)
{
    (void)state;
    harness *h = run_snippet(HARNESS_FLAT32, 0,
                             "mov ax,0x8001\nmov cl,17\nrcl ax,cl\nmov bx,ax\n"
                             "stc\nmov al,1\nmov cl,10\nrcr al,cl\nhlt");
    assert_int_equal(h->cpu.regs[R_EBX] & 0xffff, 0x8001); /* 17 = identity for 16 bits */
    assert_int_equal(h->cpu.regs[R_EAX] & 0xff, 0x80);     /* 10 mod 9 = 1 */
    harness_free(h);
}

/* Protected mode: #DE through the IDT, EIP at the DIV, no error code. */
static void test_divide_error_pm(void **state)
{
    (void)state;
    harness *h = sys_new();
    sys_expect(h, "mov eax,1\nmov edx,0\nmov ecx,0\nfault: div ecx", EXC_DE, -1);
    assert_int_equal(h->cpu.regs[R_EAX], 1);
    harness_free(h);
    h = sys_new();
    sys_expect(h, "mov edx,0x80000000\nmov eax,0\nmov ecx,-1\nfault: idiv ecx", EXC_DE, -1);
    assert_int_equal(h->cpu.regs[R_EDX], 0x80000000);
    harness_free(h);
    h = sys_new();
    sys_expect(h, "mov ax,0x1234\nmov bl,0\nfault: div bl", EXC_DE, -1);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_divide_error),
        cmocka_unit_test(test_divide_error_state),
        cmocka_unit_test(test_divide_error_pm),
        cmocka_unit_test(test_rotate_through_carry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
