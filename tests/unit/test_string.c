/*
 * string.c: MOVS STOS LODS CMPS SCAS INS OUTS, with and without REP,
 * both directions, both address sizes, segment overrides on the source,
 * the restart after REP_BUDGET iterations, and a fault in mid-copy that
 * leaves (E)CX/(E)SI/(E)DI at the faulting element.
 */
#include "insn_test.h"
#include "sys_test.h"

#include "mmu/paging.h"

static void poke_str(harness *h, uint32_t addr, const char *s)
{
    harness_poke(h, addr, s, strlen(s) + 1);
}

static harness *run_with(enum harness_mode mode, uint32_t flags, const char *src,
                         uint32_t addr1, const char *s1, uint32_t addr2, const char *s2)
{
    harness *h = harness_new(mode);
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s\nhlt", src);
    harness_asm(h, buf);
    h->cpu.eflags = flags | FL_FIXED1;
    if (s1)
        poke_str(h, addr1, s1);
    if (s2)
        poke_str(h, addr2, s2);
    run_to_hlt(h, 100000);
    return h;
}

static void test_movs(void **state)
{
    (void)state;
    harness *h = run_with(HARNESS_FLAT32, 0,
                          "mov esi,0x20000\nmov edi,0x30000\nmov ecx,12\ncld\nrep movsb",
                          0x20000, "hello, world", 0, NULL);
    assert_memory_equal(h->mem.ram + 0x30000, "hello, world", 12);
    assert_int_equal(h->mem.ram[0x3000c], 0);
    assert_int_equal(h->cpu.regs[R_ECX], 0);
    assert_int_equal(h->cpu.regs[R_ESI], 0x2000c);
    assert_int_equal(h->cpu.regs[R_EDI], 0x3000c);
    harness_free(h);

    /* backwards, dwords */
    h = run_with(HARNESS_FLAT32, 0,
                 "std\nmov esi,0x2000c\nmov edi,0x3000c\nmov ecx,4\nrep movsd\ncld",
                 0x20000, "0123456789abcdef", 0, NULL);
    assert_memory_equal(h->mem.ram + 0x30000, "0123456789abcdef", 16);
    assert_int_equal(h->cpu.regs[R_ESI], 0x1fffc);
    assert_int_equal(h->cpu.regs[R_EDI], 0x2fffc);
    harness_free(h);

    /* no REP: one element; words */
    h = run_with(HARNESS_FLAT32, 0, "mov esi,0x20000\nmov edi,0x30000\nmov ecx,7\nmovsw",
                 0x20000, "abcd", 0, NULL);
    assert_memory_equal(h->mem.ram + 0x30000, "ab\0", 3);
    assert_int_equal(h->cpu.regs[R_ECX], 7);
    assert_int_equal(h->cpu.regs[R_ESI], 0x20002);
    harness_free(h);

    /* REP with a zero count does nothing */
    h = run_with(HARNESS_FLAT32, FL_CF, "mov esi,0x20000\nmov edi,0x30000\nmov ecx,0\nrep movsb",
                 0x20000, "x", 0, NULL);
    assert_int_equal(h->mem.ram[0x30000], 0);
    assert_int_equal(h->cpu.regs[R_ESI], 0x20000);
    harness_free(h);
}

/* The host-memory fast path must give the same bytes as element-by-element
 * execution: overlapping copies replicate, runs cross pages, elements may
 * straddle a page boundary, and both directions work. */
static void test_fast_path(void **state)
{
    (void)state;
    harness *h = run_with(HARNESS_FLAT32, 0, "mov esi,0x20000\nmov edi,0x20001\nmov ecx,8\nrep movsb",
                          0x20000, "abcdefgh", 0, NULL);
    assert_memory_equal(h->mem.ram + 0x20000, "aaaaaaaaa", 9);
    harness_free(h);

    h = run_with(HARNESS_FLAT32, 0, "std\nmov esi,0x20006\nmov edi,0x20007\nmov ecx,7\nrep movsb\ncld",
                 0x20000, "abcdefgh", 0, NULL);
    assert_memory_equal(h->mem.ram + 0x20000, "aabcdefg", 8);
    harness_free(h);

    /* 3000 dwords from an address 0x801 into a page to one 0x3fe into another */
    h = harness_new(HARNESS_FLAT32);
    for (uint32_t i = 0; i < 12000; i++)
        h->mem.ram[0x20801 + i] = (uint8_t)(i * 7 + (i >> 8));
    harness_asm(h, "mov esi,0x20801\nmov edi,0x303fe\nmov ecx,3000\nrep movsd\n"
                   "mov edi,0x50fff\nmov ax,0x1234\nmov ecx,3000\nrep stosw\n"
                   "std\nmov edi,0x60ffe\nmov eax,0xa5a5a5a5\nmov ecx,2000\nrep stosd\ncld\nhlt");
    run_to_hlt(h, 100);
    assert_memory_equal(h->mem.ram + 0x303fe, h->mem.ram + 0x20801, 12000);
    assert_int_equal(h->mem.ram[0x303fe + 12000], 0);
    assert_int_equal(h->cpu.regs[R_ESI], 0x20801 + 12000);
    for (uint32_t i = 0; i < 3000; i++)
        assert_int_equal(peek16(h, 0x50fff + 2 * i), 0x1234);
    assert_int_equal(h->mem.ram[0x50fff + 6000], 0);
    assert_int_equal(h->mem.ram[0x50ffe], 0);
    for (uint32_t i = 0; i < 2000; i++)
        assert_int_equal(harness_peek32(h, 0x60ffe - 4 * i), 0xa5a5a5a5);
    assert_int_equal(harness_peek32(h, 0x60ffe - 4 * 2000), 0);
    assert_int_equal(h->cpu.regs[R_EDI], 0x60ffe - 4 * 2000);
    harness_free(h);
}

/* A 16-bit address size uses CX/SI/DI and wraps them within 64 KiB,
 * leaving the upper halves alone. */
static void test_addr16(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_FLAT32);
    harness_asm(h, "mov esi,0x1fffe\nmov edi,0x35000\nmov ecx,0x10003\na16 rep movsb\nhlt");
    harness_poke(h, 0xfffe, "AB", 2); /* no terminator: the code starts at 0x10000 */
    harness_poke(h, 0, "C", 1);
    run_to_hlt(h, 100);
    /* DS:FFFE, DS:FFFF, then SI wraps to DS:0000; DI is 5000 */
    assert_memory_equal(h->mem.ram + 0x5000, "ABC", 3);
    assert_int_equal(h->cpu.regs[R_ECX], 0x10000);
    assert_int_equal(h->cpu.regs[R_ESI], 0x10001);
    assert_int_equal(h->cpu.regs[R_EDI], 0x35003);
    harness_free(h);
}

/* Real mode: FS override on the source; the destination stays ES. */
static void test_override(void **state)
{
    (void)state;
    harness *h = run_with(HARNESS_REAL16, 0,
                          "mov ax,0x2000\nmov fs,ax\nmov ax,0x3000\nmov es,ax\nmov si,0x10\nmov di,0x20\n"
                          "mov cx,3\nrep fs movsb\nmov si,0x10\nfs lodsw",
                          0x20010, "xyz", 0, NULL);
    assert_memory_equal(h->mem.ram + 0x30020, "xyz", 3);
    assert_int_equal(h->cpu.regs[R_EAX] & 0xffff, 'x' | 'y' << 8);
    harness_free(h);
}

static void test_stos_lods(void **state)
{
    (void)state;
    harness *h = run_snippet(HARNESS_FLAT32, 0,
                             "mov edi,0x30000\nmov eax,0x11223344\nmov ecx,3\nrep stosd\n"
                             "mov al,0x55\nstosb\nmov esi,0x30000\nlodsw\nmov ebx,eax\nlodsd\nhlt");
    assert_int_equal(harness_peek32(h, 0x30000), 0x11223344);
    assert_int_equal(harness_peek32(h, 0x30008), 0x11223344);
    assert_int_equal(h->mem.ram[0x3000c], 0x55);
    assert_int_equal(h->cpu.regs[R_EBX], 0x11223344);
    assert_int_equal(h->cpu.regs[R_EAX], 0x33441122);
    assert_int_equal(h->cpu.regs[R_ESI], 0x30006);
    harness_free(h);
}

/* More than REP_BUDGET iterations: the instruction restarts (EIP back at
 * it) with the registers consistent, and finishes over several passes. */
static void test_budget(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_FLAT32);
    harness_asm(h, "mov edi,0x40000\nmov eax,0xdeadbeef\nmov ecx,10000\nrep stosd\nhlt");
    int steps = run_to_hlt(h, 100);
    assert_int_equal(steps, 3 + 3); /* 10000 = 4096 + 4096 + 1808 */
    assert_int_equal(h->cpu.regs[R_ECX], 0);
    assert_int_equal(h->cpu.regs[R_EDI], 0x40000 + 40000);
    assert_int_equal(harness_peek32(h, 0x40000 + 39996), 0xdeadbeef);
    assert_int_equal(harness_peek32(h, 0x40000 + 40000), 0);
    harness_free(h);

    h = harness_new(HARNESS_FLAT32);
    harness_asm(h, "mov edi,0x40000\nmov eax,1\nmov ecx,5000\nrep stosb\nhlt");
    for (int i = 0; i < 4; i++) /* three movs and one pass */
        assert_int_equal(cpu_exec(&h->cpu, 1), CPU_EXIT_BUDGET);
    assert_int_equal(h->cpu.regs[R_ECX], 5000 - 4096);
    assert_int_equal(h->cpu.eip, HARNESS_CODE + 15); /* back at the REP STOSB */
    harness_free(h);
}

static void test_scas_cmps(void **state)
{
    (void)state;
    /* strlen: REPNE SCASB stops on the terminator */
    harness *h = run_with(HARNESS_FLAT32, 0, "mov edi,0x20000\nmov al,0\nmov ecx,-1\nrepne scasb",
                          0x20000, "hello", 0, NULL);
    assert_int_equal(h->cpu.regs[R_ECX], 0xfffffff9);
    assert_int_equal(h->cpu.regs[R_EDI], 0x20006);
    assert_true(h->cpu.eflags & FL_ZF);
    harness_free(h);

    /* REPE CMPSB stops at the first difference: 'c' - 'z' borrows */
    h = run_with(HARNESS_FLAT32, 0, "mov esi,0x20000\nmov edi,0x30000\nmov ecx,4\nrepe cmpsb",
                 0x20000, "abcd", 0x30000, "abzd");
    assert_int_equal(h->cpu.regs[R_ECX], 1);
    assert_int_equal(h->cpu.regs[R_ESI], 0x20003);
    assert_int_equal(h->cpu.eflags & (FL_ZF | FL_CF | FL_SF), FL_CF | FL_SF);
    harness_free(h);

    /* equal strings run the count out with ZF set */
    h = run_with(HARNESS_FLAT32, 0, "mov esi,0x20000\nmov edi,0x30000\nmov ecx,4\nrepe cmpsb",
                 0x20000, "abcd", 0x30000, "abcd");
    assert_int_equal(h->cpu.regs[R_ECX], 0);
    assert_true(h->cpu.eflags & FL_ZF);
    harness_free(h);

    /* CMPSD subtracts ES:EDI from DS:ESI */
    h = run_snippet(HARNESS_FLAT32, 0,
                    "mov dword [0x20000],1\nmov dword [0x30000],2\nmov esi,0x20000\nmov edi,0x30000\n"
                    "cmpsd\nhlt");
    assert_int_equal(h->cpu.eflags & (FL_ZF | FL_CF | FL_SF), FL_CF | FL_SF);
    harness_free(h);

    /* REPNE SCASW with 16-bit words in real mode */
    h = run_with(HARNESS_REAL16, 0, "mov ax,0x3000\nmov es,ax\nmov di,0\nmov ax,0x6463\nmov cx,8\n"
                                    "cld\nrepne scasw",
                 0x30000, "abcdefgh", 0, NULL);
    assert_int_equal(h->cpu.regs[R_EDI] & 0xffff, 4);
    assert_int_equal(h->cpu.regs[R_ECX] & 0xffff, 6);
    harness_free(h);
}

/* A fault in mid-copy: the third word straddles the DS limit in real
 * mode (#GP).  Two words were copied and the registers say so; the IP
 * pushed is the REP MOVSW itself. */
static void test_fault_midway(void **state)
{
    (void)state;
    harness *h = rm_fault_run("mov ax,0x3000\nmov es,ax\nmov si,0xfffb\nmov di,0\nmov cx,5\n"
                              "fault_at: rep movsw");
    assert_int_equal(peek16(h, RM_FAULT_VECTOR), EXC_GP);
    assert_int_equal(peek16(h, RM_FAULT_IP), peek16(h, RM_FAULT_AT));
    assert_int_equal(h->cpu.regs[R_ECX] & 0xffff, 3);
    assert_int_equal(h->cpu.regs[R_ESI] & 0xffff, 0xffff);
    assert_int_equal(h->cpu.regs[R_EDI] & 0xffff, 4);
    harness_free(h);
}

/*
 * A #PF in the middle of a REP with paging on (identity map of 0-4 MiB
 * with the page at 0x200000 absent): the elements before the absent page
 * are done, (E)CX/(E)SI/(E)DI point at the faulting element, CR2 at its
 * address, and the saved EIP at the instruction.  Both the host-memory
 * fast path (whole pages) and the element path end in the same state.
 */
static harness *paged_env(void)
{
    harness *h = sys_new();
    static uint32_t table[1024];
    for (uint32_t i = 0; i < 1024; i++)
        table[i] = (i << 12) | PTE_P | PTE_RW | PTE_US;
    table[0x200] = 0;
    harness_poke(h, 0x101000, table, sizeof(table));
    static const uint32_t zero[1024];
    harness_poke(h, 0x100000, zero, sizeof(zero));
    sys_poke32(h, 0x100000, 0x101000 | PTE_P | PTE_RW | PTE_US);
    return h;
}

#define PAGING_ON "mov eax, 0x100000\nmov cr3, eax\nmov eax, cr0\nor eax, 0x80000000\nmov cr0, eax\n"

static void test_page_fault_midway(void **state)
{
    (void)state;
    harness *h = paged_env();
    sys_expect(h, PAGING_ON "mov edi,0x1ff000\nmov eax,0x5a5a5a5a\nmov ecx,0x800\nfault: rep stosd",
               EXC_PF, 2);
    assert_int_equal(h->cpu.cr2, 0x200000);
    assert_int_equal(h->cpu.regs[R_ECX], 0x400);
    assert_int_equal(h->cpu.regs[R_EDI], 0x200000);
    assert_int_equal(harness_peek32(h, 0x1ffffc), 0x5a5a5a5a);
    harness_free(h);

    h = paged_env();
    sys_expect(h, PAGING_ON "mov esi,0x1fff01\nmov edi,0x30000\nmov ecx,0x200\nfault: rep movsb",
               EXC_PF, 0);
    assert_int_equal(h->cpu.cr2, 0x200000);
    assert_int_equal(h->cpu.regs[R_ECX], 0x200 - 0xff);
    assert_int_equal(h->cpu.regs[R_ESI], 0x200000);
    assert_int_equal(h->cpu.regs[R_EDI], 0x300ff);
    harness_free(h);

    /* a dword straddling into the absent page: nothing of it is written */
    h = paged_env();
    sys_expect(h, PAGING_ON "mov edi,0x1ffff6\nmov eax,-1\nmov ecx,8\nfault: rep stosd", EXC_PF, 2);
    assert_int_equal(h->cpu.regs[R_ECX], 6);
    assert_int_equal(h->cpu.regs[R_EDI], 0x1ffffe);
    assert_int_equal(peek16(h, 0x1ffffe), 0);
    harness_free(h);
}

/* INS/OUTS against a fake port. */
typedef struct fake_port {
    uint8_t out[64];
    unsigned nout;
    uint8_t next_in;
} fake_port;

static uint32_t fake_read(void *opaque, uint16_t port, unsigned size)
{
    fake_port *f = opaque;
    (void)port;
    (void)size;
    return f->next_in++;
}

static void fake_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    fake_port *f = opaque;
    (void)port;
    (void)size;
    if (f->nout < sizeof(f->out))
        f->out[f->nout++] = (uint8_t)value;
}

static const io_ops fake_ops = { fake_read, fake_write, 1 };

static void test_ins_outs(void **state)
{
    (void)state;
    fake_port fp = { .next_in = 0x40 };
    harness *h = harness_new(HARNESS_FLAT32);
    assert_int_equal(io_register(&h->io, 0x3f8, 1, &fake_ops, &fp, "fake"), 0);
    harness_asm(h, "mov dx,0x3f8\nmov esi,0x20000\nmov ecx,5\nrep outsb\n"
                   "mov edi,0x30000\nmov ecx,3\nrep insb\nhlt");
    poke_str(h, 0x20000, "btvm!");
    run_to_hlt(h, 100);
    assert_int_equal(fp.nout, 5);
    assert_memory_equal(fp.out, "btvm!", 5);
    assert_memory_equal(h->mem.ram + 0x30000, "\x40\x41\x42", 3);
    assert_int_equal(h->cpu.regs[R_EDI], 0x30003);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_movs),
        cmocka_unit_test(test_fast_path),
        cmocka_unit_test(test_addr16),
        cmocka_unit_test(test_override),
        cmocka_unit_test(test_stos_lods),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_scas_cmps),
        cmocka_unit_test(test_fault_midway),
        cmocka_unit_test(test_page_fault_midway),
        cmocka_unit_test(test_ins_outs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
