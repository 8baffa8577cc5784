/*
 * Paging (SDM Vol. 3A Chapter 4, 32-bit paging §4.3, faults §4.7):
 * identity mapping with 4 KiB and 4 MiB (CR4.PSE) pages, aliases, #PF with
 * CR2 and the error code, accessed/dirty bits written by the CPU,
 * INVLPG, and CR0.WP for supervisor writes to read-only pages.
 */
#include "guest.h"

#define PTE_P   0x001u
#define PTE_W   0x002u
#define PTE_U   0x004u
#define PTE_A   0x020u
#define PTE_D   0x040u
#define PDE_PS  0x080u

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt_low[1024] __attribute__((aligned(4096)));  /* 0-4 MiB identity */
static uint32_t pt_test[1024] __attribute__((aligned(4096))); /* 0x40000000-0x403fffff */
static uint8_t frame_a[4096] __attribute__((aligned(4096)));
static uint8_t frame_b[4096] __attribute__((aligned(4096)));

#define TEST_VA   0x40000000u   /* pt_test[0]: 4 KiB page */
#define RO_VA     0x40001000u   /* pt_test[1]: read-only 4 KiB page */
#define NP_VA     0x40002000u   /* pt_test[2]: not present */
#define BIG_VA    0x40400000u   /* pd[0x101]: 4 MiB page -> physical 4 MiB */
#define NOPDE_VA  0x50000123u   /* pd[0x140]: not present */

static uint32_t read32(uint32_t va) { return *(volatile uint32_t *)va; }
static void write32(uint32_t va, uint32_t v) { *(volatile uint32_t *)va = v; }

static void check_pf_at(const char *what, uint32_t cr2, uint32_t error, uint32_t eip)
{
    check(last_exc.count == 1, "%s: one exception (got %u)", what, last_exc.count);
    check(last_exc.vector == 14, "%s: vector 14 (#PF), got %u", what, last_exc.vector);
    check(last_exc.cr2 == cr2, "%s: CR2 = %08x (got %08x)", what, cr2, last_exc.cr2);
    check(last_exc.error == error, "%s: error code %x (got %x)", what, error, last_exc.error);
    check(last_exc.eip == eip, "%s: saved EIP = %08x (got %08x)", what, eip, last_exc.eip);
}

/* The usual case: EIP is the faulting instruction. */
static void check_pf(const char *what, uint32_t cr2, uint32_t error)
{
    check_pf_at(what, cr2, error, try_addr);
}

static void fault_read(uint32_t va)
{
    exc_clear();
    uint32_t v;
    __asm__ volatile(TRY_BEGIN "movl (%1), %0" TRY_END : "=r"(v) : "r"(va) : "memory");
    (void)v;
}

static void fault_write(uint32_t va, uint32_t value)
{
    exc_clear();
    __asm__ volatile(TRY_BEGIN "movl %1, (%0)" TRY_END : : "r"(va), "r"(value) : "memory");
}

static void fault_jump(uint32_t va)
{
    exc_clear();
    __asm__ volatile(TRY_BEGIN "jmp *%0" TRY_END : : "r"(va) : "memory");
}

void test_main(void)
{
    gprintf("paging: 4 KiB and 4 MiB pages, #PF, A/D bits, INVLPG, CR0.WP\n");

    for (int i = 0; i < 1024; i++)
        pt_low[i] = (uint32_t)i << 12 | PTE_P | PTE_W;
    pd[0] = (uint32_t)pt_low | PTE_P | PTE_W;
    pd[1] = 0x00400000u | PDE_PS | PTE_P | PTE_W;             /* 4-8 MiB identity, 4 MiB page */
    pd[TEST_VA >> 22] = (uint32_t)pt_test | PTE_P | PTE_W;
    pd[BIG_VA >> 22] = 0x00400000u | PDE_PS | PTE_P | PTE_W;  /* alias of 4-8 MiB */
    pt_test[0] = (uint32_t)frame_a | PTE_P | PTE_W;
    pt_test[1] = (uint32_t)frame_b | PTE_P;                   /* read-only */
    pt_test[2] = (uint32_t)frame_b | PTE_W;                   /* not present */
    check((uint32_t)&pd[1024] <= 0x400000, "page tables lie in the first 4 MiB");

    memset(frame_a, 0, sizeof(frame_a));
    *(volatile uint32_t *)frame_a = 0x11223344;
    *(volatile uint32_t *)(frame_b + 8) = 0x55667788;
    *(volatile uint32_t *)0x00500010 = 0xa5a5a5a5;           /* physical 5 MiB */

    write_cr4(read_cr4() | CR4_PSE);
    write_cr3((uint32_t)pd);
    write_cr0(read_cr0() | CR0_PG);
    check((read_cr0() & CR0_PG) != 0, "CR0.PG set, still running (identity map)");
    check_eq("CR3", read_cr3(), (uint32_t)pd);

    /* Translations. */
    check_eq("read through a 4 KiB alias", read32(TEST_VA), 0x11223344);
    write32(TEST_VA + 4, 0xdeadbeef);
    check_eq("write through the alias lands in the frame", *(volatile uint32_t *)(frame_a + 4),
             0xdeadbeef);
    check_eq("read through the 4 MiB identity page", read32(0x00500010), 0xa5a5a5a5);
    check_eq("read through a 4 MiB alias", read32(BIG_VA + 0x100010), 0xa5a5a5a5);
    write32(BIG_VA + 0x100014, 0x0badf00d);
    check_eq("write through the 4 MiB alias", read32(0x00500014), 0x0badf00d);
    check_eq("read-only page is readable", read32(RO_VA + 8), 0x55667788);

    /* Accessed and dirty bits (§4.8). */
    pt_test[0] &= ~(PTE_A | PTE_D);
    pd[TEST_VA >> 22] &= ~PTE_A;
    invlpg(TEST_VA);
    (void)read32(TEST_VA);
    check((pt_test[0] & PTE_A) != 0, "read sets the PTE accessed bit");
    check((pt_test[0] & PTE_D) == 0, "read leaves the PTE dirty bit clear");
    check((pd[TEST_VA >> 22] & PTE_A) != 0, "read sets the PDE accessed bit");
    write32(TEST_VA + 8, 1);
    check((pt_test[0] & PTE_D) != 0, "write sets the PTE dirty bit");
    pd[BIG_VA >> 22] &= ~(PTE_A | PTE_D);
    invlpg(BIG_VA);
    (void)read32(BIG_VA);
    check((pd[BIG_VA >> 22] & (PTE_A | PTE_D)) == PTE_A, "read of a 4 MiB page sets only A");
    write32(BIG_VA + 0x100018, 2);
    check((pd[BIG_VA >> 22] & PTE_D) != 0, "write to a 4 MiB page sets the PDE dirty bit");

    /* INVLPG makes a changed PTE visible; reloading CR3 too. */
    pt_test[0] = (uint32_t)frame_b | PTE_P | PTE_W;
    invlpg(TEST_VA);
    check_eq("after remapping and INVLPG the alias reads the new frame", read32(TEST_VA + 8),
             0x55667788);
    pt_test[0] = (uint32_t)frame_a | PTE_P | PTE_W;
    write_cr3(read_cr3());
    check_eq("after remapping and a CR3 reload the alias reads the old frame",
             read32(TEST_VA), 0x11223344);

    /* #PF error code (§4.7): bit 0 P (protection vs not present), bit 1 W/R,
     * bit 2 U/S; CR2 = the linear address; EIP = the faulting instruction. */
    fault_read(NP_VA + 0x10);
    check_pf("read of a not-present PTE", NP_VA + 0x10, 0x0);
    fault_write(NP_VA + 0x14, 5);
    check_pf("write to a not-present PTE", NP_VA + 0x14, 0x2);
    fault_read(NOPDE_VA);
    check_pf("read under a not-present PDE", NOPDE_VA, 0x0);
    fault_jump(NOPDE_VA);
    check_pf_at("instruction fetch from a not-present page (EIP = the target)", NOPDE_VA, 0x0,
                NOPDE_VA);
    /* Neither fault may have set A/D in a not-present entry. */
    check_eq("not-present PTE left unchanged", pt_test[2], (uint32_t)frame_b | PTE_W);

    /* A page-crossing access faults on the second page with CR2 there. */
    fault_read(RO_VA + 0xffe);
    check_pf("read straddling into a not-present page", NP_VA, 0x0);

    /* CR0.WP (§4.6): supervisor writes to read-only pages. */
    write_cr0(read_cr0() & ~CR0_WP);
    fault_write(RO_VA + 12, 0x12345678);
    check(last_exc.count == 0, "WP=0: supervisor write to a read-only page succeeds");
    check_eq("WP=0: the write landed", *(volatile uint32_t *)(frame_b + 12), 0x12345678);
    write_cr0(read_cr0() | CR0_WP);
    fault_write(RO_VA + 16, 0x9abcdef0);
    check_pf("WP=1: supervisor write to a read-only page", RO_VA + 16, 0x3);
    check(*(volatile uint32_t *)(frame_b + 16) != 0x9abcdef0, "WP=1: the write did not land");

    /* A write straddling a writable and a read-only page must not land half. */
    *(volatile uint32_t *)(frame_a + 4092) = 0;
    fault_write(TEST_VA + 4094, 0xffffffff);
    check_pf("write straddling into a read-only page", RO_VA, 0x3);
    check_eq("straddling write left the first page untouched",
             *(volatile uint16_t *)(frame_a + 4094), 0);

    write_cr0(read_cr0() & ~(CR0_PG | CR0_WP));
    check((read_cr0() & CR0_PG) == 0, "paging off again");
}
