/*
 * Adversarial: addresses that wrap past 4 GiB.
 *
 * A guest linear address is 32 bits: base + index * scale + displacement,
 * string pointers, ESP and EIP all wrap modulo 2^32 (SDM Vol. 1 §3.7.5,
 * Vol. 3A §3.4).  The translator runs guest accesses at window base + the
 * 32-bit address, so every case here, done naively in 64-bit host
 * arithmetic, would land in the guard regions around the window (or, with
 * BT's ±256 MiB bit offsets, beyond them) instead of at the low guest
 * addresses the guest meant.
 *
 * Flat segments have limit 0xffffffff.  An access that itself runs past
 * the top (a dword at 0xfffffffe, CMPXCHG8B at 0xfffffffc, an instruction
 * straddling 4 GiB) is different: the SDM (Vol. 3A §5.3) says that with an
 * effective limit of 0xffffffff such accesses "may or may not" raise
 * #GP(0) (#SS(0) through SS).  btvm raises the fault, QEMU wraps.  Those
 * checks accept either outcome but nothing in between: a fault must leave
 * memory and registers untouched, a wrap must put every byte where it
 * belongs.  Accesses that do not straddle (each string element, BT's
 * dword, [0xfffffffc + 8]) must simply wrap.
 *
 * Part 1, no paging (the translator's flat mode): only the low end of a
 * wrapping access is checked, because what sits at 0xfffffffe depends on
 * the board (unassigned on btvm with -kernel, the BIOS ROM under QEMU).
 * Part 2, paging: linear 0xfffff000 and 0x00000000 are mapped to RAM
 * frames, so both halves of every wrapping access are checked; EIP wraps
 * too, and fetches from not-present pages at the top fault with CR2.
 */
#include "guest.h"

#define PTE_P  0x001u
#define PTE_W  0x002u
#define PTE_U  0x004u
#define PDE_PS 0x080u

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt_low[1024] __attribute__((aligned(4096)));   /* 0-4 MiB: page 0 -> lowf */
static uint32_t pt_high[1024] __attribute__((aligned(4096)));  /* 0xffc00000-: last -> highf */
static uint8_t lowf[4096] __attribute__((aligned(4096)));
static uint8_t highf[4096] __attribute__((aligned(4096)));
static volatile uint8_t buf[64];

static uint32_t saved_esp __attribute__((used));
static volatile uint8_t *phys0;   /* physical (and, without paging, linear) 0 */

/*
 * After a TRY around an access that straddles 4 GiB: 1 if it wrapped (no
 * exception), 0 if it faulted as §5.3 allows (vector vec, error 0, EIP
 * the instruction); a wrong fault is a failed check.
 */
static int straddle(const char *what, uint32_t vec)
{
    if (last_exc.count == 0) {
        gprintf("  note %s: wraps\n", what);
        return 1;
    }
    check(last_exc.count == 1 && last_exc.vector == vec && last_exc.error == 0 &&
              last_exc.eip == try_addr,
          "%s: no wrap, so exactly one fault %u(0) at the instruction "
          "(got %u, vector %u, error %x, eip %08x / %08x)",
          what, vec, last_exc.count, last_exc.vector, last_exc.error, last_exc.eip, try_addr);
    return 0;
}

/*
 * PUSH with ESP = 2 runs at CPL 3: if it raises #SS(0), the handler gets
 * the ring-0 stack from the TSS instead of faulting on ESP = 2 again.
 */
uint32_t u_esp, u_val, u_esp_end;
void user_push2(void);
__asm__(".text\n"
        ".globl user_push2\n"
        "user_push2:\n\t"
        "movl $9f, exc_resume\n\tmovl $9f, try_end\n\tmovl $1f, try_addr\n"
        "1:\n\t"
        "pushl $0xaabbccdd\n\t"
        "movl %esp, u_esp\n\t"
        "popl %eax\n\t"
        "movl %eax, u_val\n"
        "9:\n\t"
        "movl $0, exc_resume\n\t"
        "movl %esp, u_esp_end\n\t"
        "int $0x81\n");

static void push_at_2(const char *what, volatile uint8_t *top2, volatile uint8_t *low2)
{
    /* top2: the bytes at linear 0xfffffffe, when the test can see them. */
    uint32_t top = top2 ? *(volatile uint16_t *)top2 : 0;
    uint32_t before = top | (uint32_t)*(volatile uint16_t *)low2 << 16;
    exc_clear();
    u_esp = u_val = 0;
    enter_user(user_push2, 2, 0x2, SEL_DATA3);
    if (straddle(what, 12)) {
        check_eq("PUSH at ESP = 2: ESP after", u_esp, 0xfffffffeu);
        check_eq("PUSH at ESP = 2: upper half at 0 and 1", *(volatile uint16_t *)low2, 0xaabb);
        if (top2)
            check_eq("PUSH at ESP = 2: lower half at the top", *(volatile uint16_t *)top2, 0xccdd);
        check_eq("POP at ESP = 0xfffffffe: upper half", u_val >> 16, 0xaabb);
        check_eq("POP: ESP back to 2", u_esp_end, 2);
    } else {
        check_eq("faulting PUSH left ESP at 2", u_esp_end, 2);
        top = top2 ? *(volatile uint16_t *)top2 : 0;
        check_eq("faulting PUSH wrote nothing", top | (uint32_t)*(volatile uint16_t *)low2 << 16,
                 before);
    }
}

/* --- part 1: no paging ----------------------------------------------- */

static void flat_checks(void)
{
    uint32_t v;
    uint8_t cf;

    /* [ebx + esi*4 + 0xa] = 0xfffffff0 + 4 (0x100000004 wrapped) + 0xa = 0xfffffffe:
     * a wrapping store puts bytes 2 and 3 of the dword at physical 0 and 1. */
    for (int i = 0; i < 8; i++)
        phys0[i] = 0;
    exc_clear();
    __asm__ volatile(TRY_BEGIN "movl %0, 0xa(%1,%2,4)" TRY_END
                     : : "r"(0x11223344u), "r"(0xfffffff0u), "r"(0x40000001u) : "memory");
    if (straddle("flat: dword store at 0xfffffffe", 13)) {
        check_eq("flat: wrapped store: byte 2 at 0", phys0[0], 0x22);
        check_eq("flat: wrapped store: byte 3 at 1", phys0[1], 0x11);
    }
    check_eq("flat: dword store at 0xfffffffe: nothing else at 0..3",
             *(volatile uint32_t *)phys0 & (last_exc.count ? 0xffffffffu : 0xffff0000u), 0);

    phys0[0] = 0x55;
    phys0[1] = 0x66;
    v = 0x12345678;
    exc_clear();
    __asm__ volatile(TRY_BEGIN "movl -2(%1), %0" TRY_END : "+r"(v) : "r"(0u) : "memory");
    if (straddle("flat: dword load at 0xfffffffe", 13))
        check_eq("flat: wrapped load: upper half from 0 and 1", v >> 16, 0x6655);
    else
        check_eq("flat: faulting load left the register", v, 0x12345678);

    *(volatile uint32_t *)(phys0 + 4) = 0xcafef00d;
    __asm__ volatile("movl 8(%1), %0" : "=r"(v) : "r"(0xfffffffcu) : "memory");
    check_eq("flat: [0xfffffffc + 8] reads physical 4", v, 0xcafef00d);
    *(volatile uint32_t *)(phys0 + 0x800) = 0x00c0ffee;
    __asm__ volatile("movl -0x7ffff800(%1,%1), %0" : "=r"(v) : "r"(0xc0000000u) : "memory");
    check_eq("flat: [2 * 0xc0000000 - 0x7ffff800] wraps to 0x800", v, 0x00c0ffee);

    /* 16-bit addressing in 32-bit code wraps at 64 KiB: [bx+si+0x10] with
     * BX = SI = 0xffff is 0x000e. */
    *(volatile uint32_t *)(phys0 + 0xe) = 0x0b0e0e0e;
    __asm__ volatile("addr16 movl 0x10(%%bx,%%si), %0" : "=r"(v) : "b"(0xffffu), "S"(0xffffu) : "memory");
    check_eq("flat: 16-bit address [bx+si+0x10] wraps to 0xe", v, 0x0b0e0e0e);

    /* BT with a register bit offset addresses EA + 4 * (offset >> 5):
     * 0xfffffff0 + 4 * 8 wraps to 0x10 (SDM Vol. 2 BT). */
    phys0[0x10] = 0x20;
    __asm__ volatile("btl %2, (%1)\n\tsetc %0" : "=q"(cf) : "r"(0xfffffff0u), "r"(0x105u) : "memory", "cc");
    check_eq("flat: BT [0xfffffff0], 0x105 tests bit 5 at 0x10", cf, 1);
    __asm__ volatile("btl %2, (%1)\n\tsetc %0" : "=q"(cf) : "r"(0xfffffff0u), "r"(0x104u) : "memory", "cc");
    check_eq("flat: BT [0xfffffff0], 0x104 tests bit 4 at 0x10", cf, 0);

    /* The largest positive offset: EA + 0x0ffffffc, wrapped into buf. */
    uint32_t target = (uint32_t)&buf[32];
    buf[32] = buf[33] = buf[34] = buf[35] = 0;
    __asm__ volatile("btsl %2, (%1)\n\tsetc %0"
                     : "=q"(cf) : "r"(target - 0x0ffffffcu), "r"(0x7fffffe0u + 9) : "memory", "cc");
    check_eq("flat: BTS with bit offset 0x7fffffe9 from an EA near 4 GiB: old bit", cf, 0);
    check_eq("flat: BTS set bit 9 of the wrapped dword", buf[33], 0x02);
    /* The most negative offset: EA - 0x10000000. */
    __asm__ volatile("lock btrl %2, (%1)\n\tsetc %0"
                     : "=q"(cf) : "r"(target + 0x10000000u), "r"(0x80000000u + 9) : "memory", "cc");
    check_eq("flat: LOCK BTR with bit offset -2^31 + 9: old bit", cf, 1);
    check_eq("flat: BTR cleared it", buf[33], 0);

    /* REP STOSB from EDI = 0xfffffffe: 2 bytes at the top, 4 at 0..3. */
    for (int i = 0; i < 8; i++)
        phys0[i] = 0;
    uint32_t edi, ecx;
    __asm__ volatile("cld\n\trep stosb"
                     : "=D"(edi), "=c"(ecx) : "D"(0xfffffffeu), "c"(6u), "a"(0xabu) : "memory");
    check_eq("flat: REP STOSB wrapped: EDI", edi, 4);
    check_eq("flat: REP STOSB wrapped: ECX", ecx, 0);
    check_eq("flat: REP STOSB wrapped: bytes 0..3", *(volatile uint32_t *)phys0, 0xabababab);
    check_eq("flat: REP STOSB wrapped: byte 4 untouched", phys0[4], 0);

    /* REP MOVSB backwards from ESI = 2: reads 2, 1, 0, then the top. */
    phys0[0] = 0xa0;
    phys0[1] = 0xa1;
    phys0[2] = 0xa2;
    for (int i = 0; i < 8; i++)
        buf[i] = 0;
    uint32_t esi;
    __asm__ volatile("std\n\trep movsb\n\tcld"
                     : "=S"(esi), "=D"(edi), "=c"(ecx)
                     : "S"(2u), "D"((uint32_t)&buf[7]), "c"(5u) : "memory");
    check_eq("flat: REP MOVSB down through 0: ESI", esi, 0xfffffffdu);
    check_eq("flat: REP MOVSB down through 0: EDI", edi, (uint32_t)&buf[2]);
    check_eq("flat: REP MOVSB down through 0: bytes from 2, 1, 0",
             buf[7] | buf[6] << 8 | buf[5] << 16, 0xa0a1a2);

    /* PUSH with ESP = 2, at CPL 3 (see user_push2). */
    phys0[0] = phys0[1] = phys0[2] = 0;
    push_at_2("flat: PUSH at ESP = 2", NULL, phys0);
    check_eq("flat: nothing pushed at 2", phys0[2], 0);
}
/* --- part 2: paging, both ends mapped ---------------------------------- */

#define TOP 0xfffff000u

static void paged_checks(void)
{
    uint32_t v, esp, edi, esi, ecx;

    memset(lowf, 0, sizeof(lowf));
    memset(highf, 0, sizeof(highf));

    exc_clear();
    __asm__ volatile(TRY_BEGIN "movl %0, 0xa(%1,%2,4)" TRY_END
                     : : "r"(0x11223344u), "r"(0xfffffff0u), "r"(0x40000001u) : "memory");
    if (straddle("paged: dword store at 0xfffffffe", 13)) {
        check_eq("paged: wrapped store: low half at the top", *(volatile uint16_t *)&highf[0xffe],
                 0x3344);
        check_eq("paged: wrapped store: high half at 0", *(volatile uint16_t *)&lowf[0], 0x1122);
    } else {
        check_eq("paged: faulting store wrote nothing at the top",
                 *(volatile uint16_t *)&highf[0xffe], 0);
        check_eq("paged: faulting store wrote nothing at 0", *(volatile uint16_t *)&lowf[0], 0);
    }
    *(volatile uint16_t *)&highf[0xffe] = 0x3344;
    *(volatile uint16_t *)&lowf[0] = 0x1122;
    v = 0x12345678;
    exc_clear();
    __asm__ volatile(TRY_BEGIN "movl -2(%1), %0" TRY_END : "+r"(v) : "r"(0u) : "memory");
    if (straddle("paged: dword load at 0xfffffffe", 13))
        check_eq("paged: wrapped dword load", v, 0x11223344);
    else
        check_eq("paged: faulting load left the register", v, 0x12345678);
    v = 0x12345678;
    exc_clear();
    __asm__ volatile(TRY_BEGIN "movzwl (%1), %0" TRY_END : "+r"(v) : "r"(0xffffffffu) : "memory");
    if (straddle("paged: word load at 0xffffffff", 13))
        check_eq("paged: wrapped word load", v, 0x2233);
    __asm__ volatile("movzbl (%1), %0" : "=r"(v) : "r"(0xffffffffu) : "memory");
    check_eq("paged: byte load at 0xffffffff (no straddle)", v, 0x33);
    __asm__ volatile("movl 8(%1), %0" : "=r"(v) : "r"(0xfffffff8u) : "memory");
    check_eq("paged: [0xfffffff8 + 8] is linear 0", v, 0x1122);

    /* CMPXCHG8B at 0xfffffffc: four bytes at the top, four at 0. */
    *(volatile uint32_t *)&highf[0xffc] = 0x01020304;
    *(volatile uint32_t *)&lowf[0] = 0x05060708;
    uint32_t lo, hi;
    uint8_t zf = 2;
    exc_clear();
    __asm__ volatile(TRY_BEGIN "lock cmpxchg8b (%5)\n\tsetz %2" TRY_END
                     : "=a"(lo), "=d"(hi), "+m"(zf)
                     : "a"(0x01020304u), "d"(0x05060708u), "r"(0xfffffffcu), "b"(0xa1a2a3a4u),
                       "c"(0xb1b2b3b4u)
                     : "memory", "cc");
    if (straddle("paged: LOCK CMPXCHG8B at 0xfffffffc", 13)) {
        check_eq("paged: CMPXCHG8B across 4 GiB compared equal", zf, 1);
        check_eq("paged: CMPXCHG8B stored the low dword at the top",
                 *(volatile uint32_t *)&highf[0xffc], 0xa1a2a3a4);
        check_eq("paged: CMPXCHG8B stored the high dword at 0", *(volatile uint32_t *)&lowf[0],
                 0xb1b2b3b4);
    } else {
        check_eq("paged: faulting CMPXCHG8B left the top", *(volatile uint32_t *)&highf[0xffc],
                 0x01020304);
        check_eq("paged: faulting CMPXCHG8B left 0", *(volatile uint32_t *)&lowf[0], 0x05060708);
    }
    (void)lo;
    (void)hi;

    /* BT with negative offset from 0x10: -253 = -8 dwords + bit 3 -> 0xfffffff0 bit 3. */
    uint8_t cf;
    highf[0xff0] = 0x08;
    __asm__ volatile("btl %2, (%1)\n\tsetc %0" : "=q"(cf) : "r"(0x10u), "r"(-253) : "memory", "cc");
    check_eq("paged: BT [0x10], -253 tests bit 3 of 0xfffffff0", cf, 1);
    __asm__ volatile("btsl %2, (%1)\n\tsetc %0" : "=q"(cf) : "r"(0x10u), "r"(-252) : "memory", "cc");
    check_eq("paged: BTS [0x10], -252 sets bit 4 of 0xfffffff0", highf[0xff0], 0x18);

    /* Strings: each element on its own side of 4 GiB. */
    __asm__ volatile("cld\n\trep stosl"
                     : "=D"(edi), "=c"(ecx) : "D"(0xfffffff8u), "c"(4u), "a"(0x5a5a5a5au) : "memory");
    check_eq("paged: REP STOSD from 0xfffffff8: EDI", edi, 8);
    check_eq("paged: REP STOSD: top dwords", *(volatile uint32_t *)&highf[0xff8] &
                                                 *(volatile uint32_t *)&highf[0xffc], 0x5a5a5a5a);
    check_eq("paged: REP STOSD: dwords at 0 and 4", *(volatile uint32_t *)&lowf[0] &
                                                        *(volatile uint32_t *)&lowf[4], 0x5a5a5a5a);
    highf[0xffe] = 0xee;
    highf[0xfff] = 0xff;
    lowf[0] = 0x00;
    lowf[1] = 0x11;
    for (int i = 0; i < 8; i++)
        buf[i] = 0;
    __asm__ volatile("cld\n\trep movsb"
                     : "=S"(esi), "=D"(edi), "=c"(ecx)
                     : "S"(0xfffffffeu), "D"((uint32_t)&buf[0]), "c"(4u) : "memory");
    check_eq("paged: REP MOVSB from 0xfffffffe: ESI", esi, 2);
    check_eq("paged: REP MOVSB from 0xfffffffe: bytes", *(volatile uint32_t *)&buf[0], 0x1100ffee);
    __asm__ volatile("std\n\tlodsw\n\tlodsw\n\tcld" : "=S"(esi), "=a"(v) : "S"(2u), "a"(0u) : "memory");
    check_eq("paged: LODSW twice down from 2: ESI", esi, 0xfffffffeu);
    check_eq("paged: LODSW at 0: AX", v & 0xffff, 0x1100);

    /* The stack: PUSH at ESP = 2 (CPL 3), CALL at ESP = 0. */
    *(volatile uint16_t *)&highf[0xffe] = 0;
    *(volatile uint16_t *)&lowf[0] = 0;
    push_at_2("paged: PUSH at ESP = 2", &highf[0xffe], &lowf[0]);
    __asm__ volatile("movl %%esp, saved_esp\n\t"
                     "xorl %%esp, %%esp\n\t"
                     "call 1f\n"
                     "1:\n\t"
                     "movl %%esp, %0\n\t"
                     "popl %1\n\t"
                     "movl saved_esp, %%esp"
                     : "=&r"(esp), "=&r"(v) : : "memory");
    check_eq("paged: CALL at ESP = 0 leaves ESP = 0xfffffffc", esp, 0xfffffffcu);
    check(*(volatile uint32_t *)&highf[0xffc] == v && v > 0x100000,
          "paged: return address at 0xfffffffc (%08x, popped %08x)",
          *(volatile uint32_t *)&highf[0xffc], v);

    /* EIP wraps: MOV EAX, imm32 at 0xfffffffe runs into 0..2; JMP ECX at 3. */
    static const uint8_t tail[] = { 0x22, 0x33, 0x44, 0xff, 0xe1 };
    highf[0xffe] = 0xb8;
    highf[0xfff] = 0x11;
    memcpy(lowf, tail, sizeof(tail));
    v = 0x12345678;
    exc_clear();
    __asm__ volatile(TRY_SETUP "movl $7702f, %%ecx\n\tmovl $0xfffffffe, %%edx\n\t" TRY_AT
                     "jmp *%%edx" TRY_END
                     : "+a"(v) : : "ecx", "edx", "memory");
    /* A fault here is taken on the straddling instruction, not the JMP. */
    if (last_exc.count == 0) {
        gprintf("  note paged: instruction fetch across 4 GiB: wraps\n");
        check_eq("paged: MOV EAX, imm32 fetched across 4 GiB", v, 0x44332211);
    } else {
        check(last_exc.count == 1 && last_exc.vector == 13 && last_exc.error == 0 &&
                  last_exc.eip == 0xfffffffeu && v == 0x12345678,
              "paged: instruction across 4 GiB: no wrap, so #GP(0) at fffffffe "
              "(got %u, vector %u, error %x, eip %08x, eax %08x)",
              last_exc.count, last_exc.vector, last_exc.error, last_exc.eip, v);
    }

    /* The same jump with page 0 not present: if the fetch wraps, #PF with CR2 = 0. */
    pt_low[0] = 0;
    invlpg(0);
    exc_clear();
    __asm__ volatile(TRY_BEGIN "movl $0xfffffffe, %%edx\n\tjmp *%%edx" TRY_END ::: "edx", "memory");
    check(last_exc.count == 1 && last_exc.eip == 0xfffffffeu &&
              ((last_exc.vector == 14 && last_exc.cr2 == 0 && last_exc.error == 0) ||
               (last_exc.vector == 13 && last_exc.error == 0)),
          "paged: fetch across 4 GiB into a not-present page: #PF CR2 0 (or #GP(0)) at fffffffe "
          "(got %u exceptions, vector %u, cr2 %08x, eip %08x, error %x)",
          last_exc.count, last_exc.vector, last_exc.cr2, last_exc.eip, last_exc.error);
    pt_low[0] = (uint32_t)lowf | PTE_P | PTE_W | PTE_U;
    invlpg(0);

    /* A jump to the reset-vector region with nothing mapped there. */
    pt_high[1023] = 0;
    invlpg(TOP);
    exc_clear();
    __asm__ volatile(TRY_BEGIN "movl $0xfffffff0, %%edx\n\tjmp *%%edx" TRY_END ::: "edx", "memory");
    check(last_exc.count == 1 && last_exc.vector == 14 && last_exc.cr2 == 0xfffffff0u &&
              last_exc.eip == 0xfffffff0u && last_exc.error == 0,
          "paged: jump to 0xfffffff0, not present: #PF at the target "
          "(got %u exceptions, vector %u, cr2 %08x, eip %08x, error %x)",
          last_exc.count, last_exc.vector, last_exc.cr2, last_exc.eip, last_exc.error);
    /* A load at 0xfffffff8 + 8 wraps to 0 and does not touch the top page. */
    __asm__ volatile("movl 8(%1), %0" : "=r"(v) : "r"(0xfffffff8u) : "memory");
    check_eq("paged: [0xfffffff8 + 8] with the top not present", v, 0xff443322);
    pt_high[1023] = (uint32_t)highf | PTE_P | PTE_W | PTE_U;
    invlpg(TOP);
}

void test_main(void)
{
    gprintf("adversarial_wrap: linear addresses, strings, the stack and EIP wrapping past 4 GiB\n");
    __asm__ volatile("xorl %0, %0" : "=r"(phys0));   /* a null pointer gcc cannot see */
    user_mode_init();
    flat_checks();

    for (int i = 0; i < 1024; i++)
        pt_low[i] = (uint32_t)i << 12 | PTE_P | PTE_W | PTE_U;
    pt_low[0] = (uint32_t)lowf | PTE_P | PTE_W | PTE_U;
    pt_high[1023] = (uint32_t)highf | PTE_P | PTE_W | PTE_U;
    pd[0] = (uint32_t)pt_low | PTE_P | PTE_W | PTE_U;
    for (int i = 1; i < 32; i++)
        pd[i] = (uint32_t)i << 22 | PDE_PS | PTE_P | PTE_W | PTE_U;
    pd[1023] = (uint32_t)pt_high | PTE_P | PTE_W | PTE_U;
    write_cr4(read_cr4() | CR4_PSE);
    write_cr3((uint32_t)pd);
    write_cr0(read_cr0() | CR0_PG);
    paged_checks();
    write_cr0(read_cr0() & ~CR0_PG);
}
