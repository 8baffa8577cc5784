/*
 * The compute benchmark of issue 4: a sieve of Eratosthenes to 3 * 64 Mi
 * (201326592) over three separate 64 MiB byte arrays, then a checksum of
 * the primes found (their count, their 64-bit sum and a 32-bit hash).
 *
 * One source, built twice by benchmarks/compute/run.sh:
 *
 *  - natively for the host (x86-64, gcc -O2): the arrays come from malloc,
 *    the result goes to stdout;
 *  - with -DSIEVE_GUEST as a 32-bit Multiboot kernel linked with the
 *    runtime of tests/guest/lib: it builds page tables that identity-map
 *    the first 256 MiB with 4 KiB pages, turns paging on, places the three
 *    arrays at 16, 84 and 152 MiB (with gaps between them), runs the same
 *    sieve, prints the same line on COM1 and leaves through port 0xf4
 *    (status 1 under btvm and QEMU's isa-debug-exit).  It needs -m 256 or
 *    more.  SIEVE_PTE_FLAGS (below) picks the page-table entries' flags;
 *    run.sh builds the guest with the default and with
 *    -DSIEVE_PTE_FLAGS=0x3.
 *
 * The runner compares the two "sieve64:" lines.  All arithmetic is on
 * uint32_t/uint64_t so both builds compute the same values.
 */
#include <stdint.h>

#define SEG_SHIFT 26u
#define SEG_BYTES (1u << SEG_SHIFT)   /* 64 MiB per array */
#define NSEG 3u
#define LIMIT (NSEG * SEG_BYTES)      /* numbers 0 .. LIMIT-1 */

struct result {
    uint32_t count;   /* primes below LIMIT */
    uint64_t sum;     /* their sum */
    uint32_t hash;    /* h = h * 31 + p over the primes, in order */
};

/* composite[s][k] is 1 when s * 64 Mi + k is not prime. */
static void sieve(uint8_t *const seg[NSEG], struct result *r)
{
    for (uint32_t s = 0; s < NSEG; s++) {
        uint8_t *a = seg[s];
        for (uint32_t k = 0; k < SEG_BYTES; k++)
            a[k] = 0;
    }
    seg[0][0] = 1;
    seg[0][1] = 1;
    for (uint32_t p = 2; p * p < LIMIT; p++) {
        if (seg[p >> SEG_SHIFT][p & (SEG_BYTES - 1)])
            continue;
        for (uint32_t s = 0; s < NSEG; s++) {
            uint32_t base = s << SEG_SHIFT;
            uint32_t first = p * p;
            if (first < base)
                first = base + (p - base % p) % p;
            if (first >= base + SEG_BYTES)
                continue;
            uint8_t *a = seg[s];
            for (uint32_t k = first - base; k < SEG_BYTES; k += p)
                a[k] = 1;
        }
    }
    uint32_t count = 0, hash = 0;
    uint64_t sum = 0;
    for (uint32_t s = 0; s < NSEG; s++) {
        const uint8_t *a = seg[s];
        uint32_t base = s << SEG_SHIFT;
        for (uint32_t k = 0; k < SEG_BYTES; k++) {
            if (a[k])
                continue;
            count++;
            sum += base + k;
            hash = hash * 31u + base + k;
        }
    }
    r->count = count;
    r->sum = sum;
    r->hash = hash;
}

#ifdef SIEVE_GUEST

#include "guest.h"

/*
 * The flags of every page-table entry (4 KiB page).  The default, 0x63, is
 * present | writable | accessed | dirty: memory the kernel owns mapped the
 * way Linux maps it (__PAGE_KERNEL includes _PAGE_ACCESSED | _PAGE_DIRTY;
 * for user pages its fault handler sets A, and D on a write fault, when it
 * installs the PTE), so the CPU never has to write A or D back.
 *
 * -DSIEVE_PTE_FLAGS=0x3 (present | writable, A and D clear) is the variant
 * where the hardware sets A on the first access and D on the first write
 * of each page (SDM Vol. 3A, 4.8).  It costs real hardware next to nothing;
 * a virtualizer with shadow page tables must keep such a page unmapped
 * (or read-only) until its first write to set D at exactly that moment,
 * so the sieve's first pass over its 49,152 pages takes one host fault
 * per page there, where it otherwise maps 1024 pages per fault.
 * run.sh measures both variants; the result line is the same for both.
 *
 * The page directory entries stay 0x3 in both variants (64 of them: the
 * hardware sets their A bit on first use).
 */
#ifndef SIEVE_PTE_FLAGS
#define SIEVE_PTE_FLAGS 0x63u
#endif
#if ((SIEVE_PTE_FLAGS) & 0x3) != 0x3 || ((SIEVE_PTE_FLAGS) & ~0xfffu) != 0
#error "SIEVE_PTE_FLAGS must be flag bits (0..0xfff) with present and writable set"
#endif

#define MAPPED_MIB 256u
static uint32_t page_dir[1024] __attribute__((aligned(4096)));
static uint32_t page_tables[MAPPED_MIB / 4][1024] __attribute__((aligned(4096)));

/* Identity-map 0 .. 256 MiB with 4 KiB pages (flags SIEVE_PTE_FLAGS) and turn paging on. */
static void paging_on(void)
{
    for (uint32_t t = 0; t < MAPPED_MIB / 4; t++) {
        for (uint32_t i = 0; i < 1024; i++)
            page_tables[t][i] = ((t * 1024u + i) << 12) | (uint32_t)(SIEVE_PTE_FLAGS);
        page_dir[t] = (uint32_t)page_tables[t] | 0x3u;
    }
    write_cr3((uint32_t)page_dir);
    write_cr0(read_cr0() | CR0_PG);
}

void test_main(void)
{
    const uint32_t *mi = (const uint32_t *)mb_info;
    /* mem_upper (KiB above 1 MiB) must cover the last array. */
    uint32_t need_kib = (152u + 64u - 1u) * 1024u;
    if (mb_magic != 0x2badb002 || !(mi[0] & 1u) || mi[2] < need_kib) {
        gprintf("FAIL: sieve64 needs -m 256 or more\n");
        guest_exit(1);
    }
    paging_on();
    check((read_cr0() & CR0_PG) != 0, "paging on (4 KiB pages, 0-256 MiB identity-mapped)");
    uint8_t *const seg[NSEG] = {
        (uint8_t *)(16u << 20), (uint8_t *)(84u << 20), (uint8_t *)(152u << 20),
    };
    struct result r;
    sieve(seg, &r);
    gprintf("sieve64: limit=%u primes=%u sum=%x%08x hash=%08x\n", LIMIT, r.count,
            (uint32_t)(r.sum >> 32), (uint32_t)r.sum, r.hash);
}

#else /* native build */

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(void)
{
    uint8_t *seg[NSEG];
    for (uint32_t s = 0; s < NSEG; s++) {
        seg[s] = malloc(SEG_BYTES);
        if (!seg[s]) {
            perror("malloc");
            return 1;
        }
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct result r;
    sieve(seg, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("sieve64: limit=%u primes=%u sum=%x%08x hash=%08x\n", LIMIT, r.count,
           (uint32_t)(r.sum >> 32), (uint32_t)r.sum, r.hash);
    fprintf(stderr, "sieve64: %.3f s in the sieve\n",
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    for (uint32_t s = 0; s < NSEG; s++)
        free(seg[s]);
    return 0;
}

#endif
