/*
 * Adversarial: sweeps over the whole 4 GiB and wild jumps (run with -m 128).
 *
 * A host-safety test as much as a guest test: every access below lands in
 * the translator's window (or its guards) or the interpreter's slow path,
 * and btvm must come out of it running — the ctest passes only when the
 * guest exits through port 0xf4 with PASS (a host crash would end the run
 * with a signal status instead).
 *
 *   - a read of every 4 KiB page of the 4 GiB, paging off: unassigned
 *     space (beyond RAM, except the local APIC page) reads all ones;
 *   - the same through paging every 64 KiB, the linear space mapped with
 *     4 MiB pages onto the physical space shifted by 2 GiB;
 *   - a write to every MiB beyond RAM (not the APIC area): dropped;
 *   - 300 jumps to pseudo-random addresses in unassigned space: each
 *     fetches 0xff 0xff (FF /7, undefined) and raises #UD at the target.
 * QEMU reads unassigned space as zeros: there only the sweeps run (and
 * their values are not checked), not the jumps.
 */
#include "guest.h"

#define PTE_P  0x001u
#define PTE_W  0x002u
#define PDE_PS 0x080u
#define RAM_END 0x08000000u

static uint32_t pd[1024] __attribute__((aligned(4096)));

static int mmio_page(uint32_t pa)
{
    return (pa & ~0xfffu) == 0xfee00000u;   /* the local APIC */
}

static uint32_t rd(uint32_t a) { return *(volatile uint32_t *)a; }

void test_main(void)
{
    gprintf("adversarial_sweep: every page of 4 GiB read, unassigned space written, wild jumps\n");
    int q = under_qemu();

    uint32_t odd = 0, first_odd = 0, pages = 0;
    for (uint64_t a = 0; a < (1ull << 32); a += 0x1000) {
        uint32_t v = rd((uint32_t)a + 0xffc);
        pages++;
        if (a >= RAM_END && !mmio_page((uint32_t)a) && v != 0xffffffffu && !odd++)
            first_odd = (uint32_t)a;
    }
    check_eq("no paging: pages read", pages, 0x100000);
    if (!q)
        check(odd == 0, "no paging: unassigned pages read all ones (%u did not, first %08x)", odd,
              first_odd);

    for (uint32_t a = RAM_END; a < 0xfe000000u; a += 0x100000) {
        *(volatile uint32_t *)(a + 0x40) = a;
        *(volatile uint8_t *)(a + 0xfffff) = 0;
    }
    odd = 0;
    for (uint32_t a = RAM_END; a < 0xfe000000u; a += 0x100000)
        odd += rd(a + 0x40) != (q ? rd(a + 0x40) : 0xffffffffu);
    check_eq("writes to every MiB beyond RAM dropped: pages that changed", odd, 0);

    /* Paging: linear L -> physical L + 2 GiB (4 MiB pages), except the
     * first 32 MiB identity (this program, its stack). */
    for (uint32_t i = 0; i < 1024; i++)
        pd[i] = ((i + 512) & 1023) << 22 | PDE_PS | PTE_P | PTE_W;
    for (uint32_t i = 0; i < 8; i++)
        pd[i] = i << 22 | PDE_PS | PTE_P | PTE_W;
    write_cr4(read_cr4() | CR4_PSE);
    write_cr3((uint32_t)pd);
    write_cr0(read_cr0() | CR0_PG);
    odd = 0;
    pages = 0;
    for (uint64_t a = 0x02000000; a < (1ull << 32); a += 0x10000) {
        uint32_t pa = (uint32_t)a + 0x80000000u;
        uint32_t v = rd((uint32_t)a + 0x123);
        pages++;
        if (pa >= RAM_END && !mmio_page(pa) && v != 0xffffffffu && !odd++)
            first_odd = (uint32_t)a;
    }
    check(pages == 0xfe00, "paging: %u pages read", pages);
    if (!q)
        check(odd == 0, "paging: unassigned pages read all ones (%u did not, first linear %08x)",
              odd, first_odd);
    write_cr0(read_cr0() & ~CR0_PG);

    if (q) {
        gprintf("skip wild jumps (QEMU fetches zeros from unassigned space)\n");
        return;
    }
    uint32_t seed = 0x2545f491, bad = 0;
    for (int i = 0; i < 300; i++) {
        seed = seed * 1664525u + 1013904223u;
        uint32_t target = RAM_END + seed % (0xfec00000u - RAM_END - 16);
        if (i == 0)
            target = 0xfffffff0u;   /* the reset vector, no ROM with -kernel */
        exc_clear();
        __asm__ volatile(TRY_BEGIN "jmp *%0" TRY_END : : "r"(target) : "memory");
        if (last_exc.count != 1 || last_exc.vector != 6 || last_exc.eip != target) {
            if (!bad++)
                gprintf("  jump to %08x: %u exceptions, vector %u, eip %08x\n", target,
                        last_exc.count, last_exc.vector, last_exc.eip);
        }
    }
    check_eq("300 wild jumps into unassigned space: each #UD at its target, failures", bad, 0);
}
