/*
 * Adversarial: page tables pointing at MMIO, at the legacy hole and beyond
 * RAM (run with -m 128: RAM ends at 0x08000000).
 *
 * A PTE names a physical frame; what the guest then reaches is whatever the
 * bus decodes at that address — device registers for the local APIC at
 * 0xfee00000 (version register 0x30 reads 0x00050014), all ones for reads
 * of unassigned space with writes dropped — exactly as if the address were
 * used with paging off.  It must never be host memory beyond the guest's
 * RAM.  The page walker reads paging structures the same way: a page
 * table in a frame beyond RAM reads as all-ones entries (present, frame
 * 0xfffff000: 32-bit paging has no reserved bits to fault on), and 4 MiB
 * pages may cover MMIO.
 *
 * QEMU reads unassigned space as zeros, not ones, and puts its BIOS ROM
 * at the top of 4 GiB and VGA at 0xa0000: the checks of values there are
 * skipped under QEMU; the APIC checks and the consistency checks run.
 */
#include "guest.h"

#define PTE_P  0x001u
#define PTE_W  0x002u
#define PTE_PCD 0x010u
#define PDE_PS 0x080u

#define RAM_END   0x08000000u
#define APIC      0xfee00000u
#define APIC_VER  0x30u
#define APIC_TPR  0x80u

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt[1024] __attribute__((aligned(4096)));
static uint32_t rep_dst[8];

#define VA 0x40000000u           /* pt: 4 KiB pages, one per case */
#define VA_APIC   (VA + 0x0000)  /* -> the local APIC page */
#define VA_BEYOND (VA + 0x1000)  /* -> 0x10000000, beyond RAM */
#define VA_HOLE   (VA + 0x2000)  /* -> 0xe0000000, the PCI hole */
#define VA_VGA    (VA + 0x3000)  /* -> 0xa0000 */
#define VA_EDGE   (VA + 0x4000)  /* -> the last RAM page; VA + 0x5000 -> the first page beyond */
#define VA_BIG    0x40400000u    /* 4 MiB page -> 0xfec00000 (IOAPIC, LAPIC) */
#define VA_TOP4M  0x40800000u    /* 4 MiB page -> 0xffc00000 */
#define VA_PTOUT  0x40c00000u    /* PDE -> a page table at 0x10000000 (beyond RAM) */

static uint32_t rd(uint32_t a) { return *(volatile uint32_t *)a; }
static void wr(uint32_t a, uint32_t v) { *(volatile uint32_t *)a = v; }

void test_main(void)
{
    gprintf("adversarial_mmio: PTEs and 4 MiB pages onto the APIC, the holes and beyond RAM\n");
    int q = under_qemu();

    /* Paging off first: the reference values. */
    check_eq("no paging: APIC version register", rd(APIC + APIC_VER), 0x00050014);
    if (!q) {
        check_eq("no paging: beyond RAM reads all ones", rd(0x10000000), 0xffffffffu);
        wr(0x10000000, 0x12345678);
        check_eq("no paging: a write beyond RAM is dropped", rd(0x10000000), 0xffffffffu);
        check_eq("no paging: the first byte beyond RAM", *(volatile uint8_t *)RAM_END, 0xff);
    }

    for (int i = 0; i < 32; i++)   /* identity for RAM, 4 MiB pages */
        pd[i] = (uint32_t)i << 22 | PDE_PS | PTE_P | PTE_W;
    pd[APIC >> 22] = (APIC & 0xffc00000u) | PDE_PS | PTE_P | PTE_W | PTE_PCD;   /* identity */
    pd[VA >> 22] = (uint32_t)pt | PTE_P | PTE_W;
    pt[0] = APIC | PTE_P | PTE_W | PTE_PCD;
    pt[1] = 0x10000000u | PTE_P | PTE_W;
    pt[2] = 0xe0000000u | PTE_P | PTE_W;
    pt[3] = 0x000a0000u | PTE_P | PTE_W;
    pt[4] = (RAM_END - 0x1000) | PTE_P | PTE_W;
    pt[5] = RAM_END | PTE_P | PTE_W;
    pd[VA_BIG >> 22] = 0xfec00000u | PDE_PS | PTE_P | PTE_W | PTE_PCD;
    pd[VA_TOP4M >> 22] = 0xffc00000u | PDE_PS | PTE_P | PTE_W;
    pd[VA_PTOUT >> 22] = 0x10000000u | PTE_P | PTE_W;      /* the page table is beyond RAM */
    write_cr4(read_cr4() | CR4_PSE);
    write_cr3((uint32_t)pd);
    write_cr0(read_cr0() | CR0_PG);

    /* The local APIC through a 4 KiB PTE and through a 4 MiB page. */
    check_eq("PTE -> APIC: version register", rd(VA_APIC + APIC_VER), 0x00050014);
    check_eq("4 MiB page over 0xfec00000: APIC version", rd(VA_BIG + 0x200000 + APIC_VER),
             0x00050014);
    uint32_t tpr = rd(APIC + APIC_TPR);
    wr(VA_APIC + APIC_TPR, 0x20);
    check_eq("a TPR write through the PTE reaches the APIC", rd(APIC + APIC_TPR) & 0xff, 0x20);
    wr(VA_BIG + 0x200000 + APIC_TPR, 0x30);
    check_eq("a TPR write through the 4 MiB page", rd(VA_APIC + APIC_TPR) & 0xff, 0x30);
    wr(APIC + APIC_TPR, tpr);
    uint32_t n = 4, esi = VA_APIC + APIC_VER, edi = (uint32_t)rep_dst;
    __asm__ volatile("cld\n\trep movsl" : "+S"(esi), "+D"(edi), "+c"(n) : : "memory");
    check_eq("REP MOVSD from the APIC through the PTE: version dword", rep_dst[0], 0x00050014);

    /* Beyond RAM and the PCI hole. */
    if (!q) {
        check_eq("PTE -> beyond RAM reads all ones", rd(VA_BEYOND + 0x10), 0xffffffffu);
        wr(VA_BEYOND + 0x10, 0x5555aaaa);
        check_eq("... a write there is dropped", rd(VA_BEYOND + 0x10), 0xffffffffu);
        check_eq("PTE -> 0xe0000000 reads all ones", rd(VA_HOLE + 0xffc), 0xffffffffu);
        check_eq("4 MiB page -> 0xffc00000 reads all ones", rd(VA_TOP4M + 0x100000), 0xffffffffu);
        /* A dword across the end of RAM: the low half is RAM, the high half ones. */
        *(volatile uint16_t *)(RAM_END - 2) = 0x1234;
        check_eq("dword across the end of RAM (PTEs to the last RAM page and beyond)",
                 rd(VA_EDGE + 0xffe), 0xffff1234u);
        uint32_t ecx = 4;
        edi = VA_EDGE + 0xff8;
        __asm__ volatile("cld\n\trep stosl" : "+D"(edi), "+c"(ecx) : "a"(0x77777777u) : "memory");
        check_eq("REP STOSD across the end of RAM: RAM part written", rd(RAM_END - 4), 0x77777777);
        check_eq("REP STOSD across the end of RAM: beyond still ones", rd(VA_EDGE + 0x1004),
                 0xffffffffu);
    } else {
        gprintf("skip values of unassigned space (QEMU reads zeros)\n");
    }

    /* The legacy hole at 0xa0000: the PTE reaches what the physical address
     * does (RAM on btvm without a VGA, VGA memory under QEMU). */
    uint32_t ident = rd(0xa0000 + 0x40), via = rd(VA_VGA + 0x40);
    check_eq("PTE -> 0xa0000 reads what the identity address reads", via, ident);
    wr(VA_VGA + 0x44, 0x600dcafe);
    check_eq("a write through the PTE -> 0xa0000 seen at the identity address",
             rd(0xa0000 + 0x44), rd(VA_VGA + 0x44));

    /* A page table in a frame beyond RAM: its entries read as 0xffffffff:
     * present, writable, user, frame 0xfffff000. */
    if (!q) {
        exc_clear();
        uint32_t v = 0;
        __asm__ volatile(TRY_BEGIN "movl (%1), %0" TRY_END : "+r"(v) : "r"(VA_PTOUT + 0x123) : "memory");
        check_eq("PDE -> page table beyond RAM: no fault (all-ones PTEs are present)", last_exc.count,
                 0);
        check_eq("... the access reads frame 0xfffff000: all ones", v, 0xffffffffu);
        exc_clear();
        __asm__ volatile(TRY_BEGIN "movl %0, (%1)" TRY_END : : "r"(0x1u), "r"(VA_PTOUT + 0x2000) : "memory");
        check_eq("... a write through it: no fault, dropped", last_exc.count, 0);
        /* Executing there: fetched bytes are 0xff 0xff, FF /7: #UD at the target. */
        exc_clear();
        __asm__ volatile(TRY_BEGIN "jmp *%0" TRY_END : : "r"(VA_PTOUT + 0x3000) : "memory");
        check(last_exc.count == 1 && last_exc.vector == 6 && last_exc.eip == VA_PTOUT + 0x3000,
              "jump into a page from a page table beyond RAM: #UD at the target "
              "(got %u, vector %u, eip %08x)", last_exc.count, last_exc.vector, last_exc.eip);
        exc_clear();
        __asm__ volatile(TRY_BEGIN "jmp *%0" TRY_END : : "r"(VA_BEYOND + 0x800) : "memory");
        check(last_exc.count == 1 && last_exc.vector == 6 && last_exc.eip == VA_BEYOND + 0x800,
              "jump through a PTE to beyond RAM: #UD at the target (got %u, vector %u, eip %08x)",
              last_exc.count, last_exc.vector, last_exc.eip);
    } else {
        /* QEMU's walker reads zeros there: not present. */
        exc_clear();
        uint32_t v = 0;
        __asm__ volatile(TRY_BEGIN "movl (%1), %0" TRY_END : "+r"(v) : "r"(VA_PTOUT + 0x123) : "memory");
        gprintf("skip page table beyond RAM (QEMU: %u exceptions, vector %u)\n", last_exc.count,
                last_exc.vector);
    }

    write_cr0(read_cr0() & ~CR0_PG);
    check_eq("paging off again: APIC version", rd(APIC + APIC_VER), 0x00050014);
}
