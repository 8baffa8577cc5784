/*
 * Adversarial: writes to a page-table page from the instruction that uses it.
 *
 * TLB rules (SDM Vol. 3A §4.10.4): after a PTE changes, the old translation
 * may still be used until INVLPG (or a CR3 load) — so only what is defined
 * is checked:
 *   - the write itself goes through the translation in force when the
 *     instruction started (it lands in the page table);
 *   - after INVLPG the new mapping holds;
 *   - an entry changed from not present to present needs no invalidation
 *     (§4.10.4.3: nothing is cached from a not-present entry), so it holds
 *     at once — even for the rest of the same REP MOVSD;
 *   - INVLPG is serializing: the instruction after it is fetched through
 *     the new mapping of its own code page.
 *
 * Cases: MOV [EBX], EAX where EBX's page is the page table and the dword
 * written is that page's own PTE; PUSH onto a stack page that is the page
 * table, the pushed dword being the stack page's PTE; REP MOVSD whose
 * source runs onto a page made present by its own earlier iterations;
 * code that remaps its own code page and INVLPGs (or reloads CR3) there.
 */
#include "guest.h"

#define PTE_P  0x001u
#define PTE_W  0x002u
#define PTE_A  0x020u
#define PTE_D  0x040u
#define PDE_PS 0x080u

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt[1024] __attribute__((aligned(4096)));
static uint8_t f1[4096] __attribute__((aligned(4096)));
static uint8_t f2[4096] __attribute__((aligned(4096)));
static uint8_t f3[4096] __attribute__((aligned(4096)));

#define VA      0x40000000u     /* pt maps VA + 0x1000 * i */
#define K_SELF  5u              /* pt[5]: VA_SELF -> pt itself */
#define VA_SELF (VA + K_SELF * 0x1000)
#define K_SRC   8u              /* pt[8..9]: REP MOVSD source */
#define VA_SRC  (VA + K_SRC * 0x1000)
#define K_CODE  12u             /* pt[12]: code page remapped from inside */
#define VA_CODE (VA + K_CODE * 0x1000)

static uint32_t rd(uint32_t a) { return *(volatile uint32_t *)a; }
static uint32_t saved_esp __attribute__((used));

static uint32_t ptev(const void *frame) { return (uint32_t)frame | PTE_P | PTE_W; }

void test_main(void)
{
    gprintf("adversarial_ptwrite: instructions writing the page table they translate through\n");
    for (int i = 0; i < 32; i++)
        pd[i] = (uint32_t)i << 22 | PDE_PS | PTE_P | PTE_W;
    pd[VA >> 22] = ptev(pt);
    pt[K_SELF] = ptev(pt);
    write_cr4(read_cr4() | CR4_PSE);
    write_cr3((uint32_t)pd);
    write_cr0(read_cr0() | CR0_PG);

    /* MOV [EBX], EAX: EBX = the PTE of EBX's own page, seen through that page. */
    *(volatile uint32_t *)&f1[K_SELF * 4] = 0xf1f1f1f1;
    check_eq("self-mapped page table readable through itself", rd(VA_SELF + K_SELF * 4) & ~(PTE_A | PTE_D),
             ptev(pt));
    __asm__ volatile("movl %0, (%1)" : : "r"(ptev(f1)), "r"(VA_SELF + K_SELF * 4) : "memory");
    check_eq("MOV [EBX], EAX through the PTE it overwrites: the write landed in the page table",
             pt[K_SELF] & ~(PTE_A | PTE_D), ptev(f1));
    invlpg(VA_SELF);
    check_eq("after INVLPG the page reads the new frame", rd(VA_SELF + K_SELF * 4), 0xf1f1f1f1);
    pt[K_SELF] = ptev(pt);
    invlpg(VA_SELF);

    /* The same with a locked read-modify-write: XCHG swaps in the new PTE and
     * returns the old one, read through the old translation. */
    uint32_t old = ptev(f2);
    __asm__ volatile("xchgl %0, (%1)" : "+r"(old) : "r"(VA_SELF + K_SELF * 4) : "memory");
    check_eq("XCHG on its own PTE returned the old entry", old & ~(PTE_A | PTE_D), ptev(pt));
    check_eq("... and stored the new one", pt[K_SELF], ptev(f2));
    invlpg(VA_SELF);
    *(volatile uint32_t *)&f2[0x10] = 0xf2f2f2f2;
    check_eq("... after INVLPG the page is the new frame", rd(VA_SELF + 0x10), 0xf2f2f2f2);
    pt[K_SELF] = ptev(pt);
    invlpg(VA_SELF);

    /* PUSH onto the page table: ESP just above the stack page's own PTE. */
    *(volatile uint32_t *)&f3[K_SELF * 4] = 0x13572468;
    uint32_t esp_after, popped;
    __asm__ volatile("movl %%esp, saved_esp\n\t"
                     "movl %2, %%esp\n\t"
                     "pushl %3\n\t"
                     "invlpg (%4)\n\t"
                     "movl %%esp, %0\n\t"
                     "popl %1\n\t"
                     "movl saved_esp, %%esp"
                     : "=&r"(esp_after), "=&r"(popped)
                     : "r"(VA_SELF + K_SELF * 4 + 4), "r"(ptev(f3)), "r"(VA_SELF)
                     : "memory");
    check_eq("PUSH onto its own PTE: ESP", esp_after, VA_SELF + K_SELF * 4);
    check_eq("... the pushed dword is the new PTE", pt[K_SELF] & ~(PTE_A | PTE_D), ptev(f3));
    check_eq("... after INVLPG, POP reads the new frame", popped, 0x13572468);
    pt[K_SELF] = ptev(pt);
    invlpg(VA_SELF);

    /* REP MOVSD: the last two dwords of the source's first page are PTEs for
     * pt[K_SRC + 1] (the source's second page, not present) and the next
     * entry; the copy goes to pt[K_SRC + 1...], so its third and fourth
     * reads go through an entry its first write made present. */
    pt[K_SRC] = ptev(f1);
    pt[K_SRC + 1] = 0;
    pt[K_SRC + 2] = 0;
    invlpg(VA_SRC + 0x1000);
    *(volatile uint32_t *)&f1[0xff8] = ptev(f2);
    *(volatile uint32_t *)&f1[0xffc] = ptev(f3);
    *(volatile uint32_t *)&f2[0] = 0xaaaa0001;
    *(volatile uint32_t *)&f2[4] = 0xaaaa0002;
    uint32_t esi = VA_SRC + 0xff8, edi = (uint32_t)&pt[K_SRC + 1], ecx = 4;
    __asm__ volatile("cld\n\trep movsl" : "+S"(esi), "+D"(edi), "+c"(ecx) : : "memory");
    check_eq("REP MOVSD made the source's next page present: first PTE", pt[K_SRC + 1] & ~(PTE_A | PTE_D),
             ptev(f2));
    check_eq("... second PTE", pt[K_SRC + 2], ptev(f3));
    check_eq("... then read through it (0 -> 1 needs no INVLPG)", pt[K_SRC + 3], 0xaaaa0001);
    check_eq("... and on", pt[K_SRC + 4], 0xaaaa0002);
    pt[K_SRC + 3] = pt[K_SRC + 4] = 0;

    /* A not-present PTE made present by a MOV is used by the very next load. */
    pt[K_SRC + 5] = 0;
    invlpg(VA_SRC + 0x5000);
    *(volatile uint32_t *)&f3[0x20] = 0x0f3f3f3f;
    uint32_t v;
    __asm__ volatile("movl %2, (%1)\n\t"
                     "movl (%3), %0"
                     : "=&r"(v) : "r"(&pt[K_SRC + 5]), "r"(ptev(f3)), "r"(VA_SRC + 0x5020)
                     : "memory");
    check_eq("PTE made present, next instruction reads through it", v, 0x0f3f3f3f);

    /* Code that remaps its own code page, then INVLPG: the next instruction
     * comes from the new frame.  Both frames start with the same prologue:
     *   0: mov [edx], ecx     (edx = &pt[K_CODE], ecx = the new PTE)
     *   2: invlpg [ebx]       (ebx = VA_CODE)
     *   5: mov eax, imm32 ; ret   (1 in f1, 2 in f2) */
    static const uint8_t prologue[] = { 0x89, 0x0a, 0x0f, 0x01, 0x3b };
    for (unsigned i = 0; i < sizeof(prologue); i++)
        f1[i] = f2[i] = prologue[i];
    static const uint8_t ret1[] = { 0xb8, 1, 0, 0, 0, 0xc3 }, ret2[] = { 0xb8, 2, 0, 0, 0, 0xc3 };
    for (unsigned i = 0; i < sizeof(ret1); i++) {
        f1[5 + i] = ret1[i];
        f2[5 + i] = ret2[i];
    }
    uint32_t bad = 0;
    for (int i = 0; i < 20; i++) {
        uint32_t from = (i & 1) ? ptev(f2) : ptev(f1), to = (i & 1) ? ptev(f1) : ptev(f2);
        pt[K_CODE] = from;
        invlpg(VA_CODE);
        __asm__ volatile("call *%1" : "=a"(v) : "r"(VA_CODE), "d"(&pt[K_CODE]), "c"(to), "b"(VA_CODE)
                         : "memory");
        bad += v != ((i & 1) ? 1u : 2u);
    }
    check_eq("code remapping its own page then INVLPG runs on in the new frame: mismatches", bad, 0);

    /* The same with a CR3 reload (mov cr3, esi; at 2, three bytes). */
    f1[2] = f2[2] = 0x0f;
    f1[3] = f2[3] = 0x22;
    f1[4] = f2[4] = 0xde;   /* mov cr3, esi */
    bad = 0;
    for (int i = 0; i < 20; i++) {
        uint32_t from = (i & 1) ? ptev(f2) : ptev(f1), to = (i & 1) ? ptev(f1) : ptev(f2);
        pt[K_CODE] = from;
        invlpg(VA_CODE);
        __asm__ volatile("call *%1" : "=a"(v) : "r"(VA_CODE), "d"(&pt[K_CODE]), "c"(to), "S"(pd)
                         : "memory");
        bad += v != ((i & 1) ? 1u : 2u);
    }
    check_eq("code remapping its own page then reloading CR3: mismatches", bad, 0);

    write_cr0(read_cr0() & ~CR0_PG);
}
