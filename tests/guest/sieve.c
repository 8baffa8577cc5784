/*
 * A compute-bound C guest: a sieve of Eratosthenes to one million, a
 * table-driven CRC-32 over 1 MiB of xorshift32 output, recursive
 * Fibonacci (call/ret heavy) and 64-bit arithmetic through libgcc.  Each
 * result is checked against the value computed on the host.
 *
 * It is also the loop-heavy workload for measuring execution speed:
 * -append "scale=N" repeats everything N times (default 1); the program
 * prints the TSC cycles each round took.
 */
#include "guest.h"

#define SIEVE_N 1000000u
#define CRC_BYTES (1u << 20)

static uint8_t composite[SIEVE_N];
static uint8_t data[CRC_BYTES];
static uint32_t crc_table[256];

static uint32_t sieve(uint64_t *sum)
{
    memset(composite, 0, sizeof(composite));
    uint32_t count = 0;
    uint64_t s = 0;
    for (uint32_t i = 2; i < SIEVE_N; i++) {
        if (composite[i])
            continue;
        count++;
        s += i;
        for (uint32_t j = i * 2; j < SIEVE_N; j += i)
            composite[j] = 1;
    }
    *sum = s;
    return count;
}

static uint32_t xorshift_fill(uint32_t x)
{
    for (uint32_t i = 0; i < CRC_BYTES; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data[i] = (uint8_t)x;
    }
    return x;
}

static uint32_t crc32(const uint8_t *p, uint32_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--)
        c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static uint32_t fib(uint32_t n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

/* "scale=N" from the Multiboot command line, else 1. */
static uint32_t scale_from_cmdline(void)
{
    const uint32_t *mi = (const uint32_t *)mb_info;
    if (mb_magic != 0x2badb002 || !(mi[0] & (1u << 2)))
        return 1;
    const char *s = (const char *)mi[4];
    for (; *s; s++) {
        if (memcmp(s, "scale=", 6) == 0) {
            uint32_t v = 0;
            for (s += 6; *s >= '0' && *s <= '9'; s++)
                v = v * 10 + (uint32_t)(*s - '0');
            return v ? v : 1;
        }
    }
    return 1;
}

void test_main(void)
{
    uint32_t scale = scale_from_cmdline();
    gprintf("sieve: primes below 10^6, CRC-32 of 1 MiB, fib(25), 64-bit division; %u round%s\n",
            scale, scale == 1 ? "" : "s");
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    for (uint32_t round = 1; round <= scale; round++) {
        uint64_t t0 = rdtsc();
        uint64_t sum;
        uint32_t count = sieve(&sum);
        uint32_t last = xorshift_fill(0x12345678);
        uint32_t crc = crc32(data, CRC_BYTES);
        uint32_t f = fib(25);
        uint64_t t1 = rdtsc();
        int quiet = round > 1 && round < scale;
        if (quiet) {
            if (count != 78498 || sum != 37550402023ull || crc != 0xe6568d53u || f != 75025)
                check(0, "round %u: results differ", round);
            continue;
        }
        gprintf("round %u: %u thousand TSC cycles\n", round, (uint32_t)((t1 - t0) / 1000));
        check_eq("primes below 10^6", count, 78498);
        check(sum == 37550402023ull, "sum of primes below 10^6 = 37550402023 (got %x%08x)",
              (uint32_t)(sum >> 32), (uint32_t)sum);
        check_eq("sum mod 1000003 (64-bit remainder)", (uint32_t)(sum % 1000003u), 289373);
        check_eq("sum / 7919 (64-bit quotient)", (uint32_t)(sum / 7919u), 4741811);
        check_eq("last xorshift32 state", last, 0xc99ffa61);
        check_eq("CRC-32 of the 1 MiB stream", crc, 0xe6568d53);
        check_eq("fib(25)", f, 75025);
    }
}
