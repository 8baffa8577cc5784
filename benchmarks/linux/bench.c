/*
 * The macro workloads of benchmarks/run, one C source built twice: as a
 * static 32-bit program for the Debian i386 guest (gcc -m32 -static, in the
 * benchmark initramfs as /bench) and natively for the host (x86-64) for the
 * "native" column.
 *
 *   bench forkwait N   N x (fork; the child exits; waitpid)
 *   bench execloop N   N x (fork; the child execs "bench nop"; waitpid)
 *   bench sieve S      sieve of Eratosthenes over S MiB (one byte a number)
 *   bench matmul S     S x S matrix product of 32-bit integers
 *   bench lz S         LZ77 compression and decompression of S MiB of text
 *   bench nop          exits at once (what execloop execs)
 *
 * Each prints "BENCH-BEGIN NAME" when it starts the work and, when done,
 * "BENCH-END NAME arg=S check=HEX guest_ns=T": check is a checksum of the
 * result, computed in 32-bit arithmetic so the guest and the native build
 * must agree; guest_ns is the program's own clock_gettime view (the runner
 * times the two lines from the host instead, so a guest clock that drifts
 * cannot flatter an engine).  Exits non-zero when the work fails.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static uint32_t hash32(uint32_t h, uint32_t v)
{
    h ^= v;
    h *= 0x01000193u;
    return h ^ (h >> 15);
}

static uint32_t forkwait(uint32_t n)
{
    uint32_t ok = 0;
    for (uint32_t i = 0; i < n; i++) {
        pid_t p = fork();
        if (p < 0) {
            perror("fork");
            exit(2);
        }
        if (p == 0)
            _exit(7);
        int st;
        if (waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 7)
            ok++;
    }
    return ok;
}

static uint32_t execloop(uint32_t n)
{
    uint32_t ok = 0;
    for (uint32_t i = 0; i < n; i++) {
        pid_t p = fork();
        if (p < 0) {
            perror("fork");
            exit(2);
        }
        if (p == 0) {
            char *argv[] = { "bench", "nop", NULL };
            execv("/proc/self/exe", argv);
            _exit(99);
        }
        int st;
        if (waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 7)
            ok++;
    }
    return ok;
}

static uint32_t sieve(uint32_t mib)
{
    uint32_t n = mib << 20;
    uint8_t *composite = calloc(n, 1);
    if (!composite) {
        perror("calloc");
        exit(2);
    }
    for (uint32_t i = 2; (uint64_t)i * i < n; i++)
        if (!composite[i])
            for (uint32_t j = i * i; j < n; j += i)
                composite[j] = 1;
    uint32_t count = 0, h = 0x811c9dc5u;
    for (uint32_t i = 2; i < n; i++)
        if (!composite[i]) {
            count++;
            h = hash32(h, i);
        }
    free(composite);
    return hash32(h, count);
}

static uint32_t matmul(uint32_t s)
{
    uint32_t *a = malloc((size_t)s * s * 4), *b = malloc((size_t)s * s * 4),
             *c = calloc((size_t)s * s, 4);
    if (!a || !b || !c) {
        perror("malloc");
        exit(2);
    }
    uint32_t x = 12345;
    for (uint32_t i = 0; i < s * s; i++) {
        x = x * 1103515245u + 12345u;
        a[i] = x >> 16;
        x = x * 1103515245u + 12345u;
        b[i] = x >> 16;
    }
    for (uint32_t i = 0; i < s; i++)
        for (uint32_t k = 0; k < s; k++) {
            uint32_t aik = a[i * s + k];
            for (uint32_t j = 0; j < s; j++)
                c[i * s + j] += aik * b[k * s + j];
        }
    uint32_t h = 0x811c9dc5u;
    for (uint32_t i = 0; i < s * s; i++)
        h = hash32(h, c[i]);
    free(a);
    free(b);
    free(c);
    return h;
}

/* LZ77 with a 4096-entry hash of 3-byte prefixes and a 64 KiB window.
 * Tokens: a literal run (byte L < 128: L+1 literals follow) or a match
 * (byte 128 + len-3, len 3..130, then a 16-bit distance). */
#define LZ_HASH 4096
static uint32_t lz_compress(const uint8_t *in, uint32_t n, uint8_t *out)
{
    static uint32_t table[LZ_HASH];
    memset(table, 0xff, sizeof(table));
    uint32_t i = 0, o = 0, lit_start = 0;
    while (i + 3 <= n) {
        uint32_t h = ((uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2]) * 2654435761u >> 20;
        uint32_t cand = table[h];
        table[h] = i;
        uint32_t len = 0;
        if (cand != 0xffffffffu && i - cand <= 65535)
            while (len < 130 && i + len < n && in[cand + len] == in[i + len])
                len++;
        if (len >= 3) {
            while (lit_start < i) {
                uint32_t run = i - lit_start > 128 ? 128 : i - lit_start;
                out[o++] = (uint8_t)(run - 1);
                memcpy(out + o, in + lit_start, run);
                o += run;
                lit_start += run;
            }
            out[o++] = (uint8_t)(128 + len - 3);
            out[o++] = (uint8_t)((i - cand) & 0xff);
            out[o++] = (uint8_t)((i - cand) >> 8);
            i += len;
            lit_start = i;
        } else {
            i++;
        }
    }
    while (lit_start < n) {
        uint32_t run = n - lit_start > 128 ? 128 : n - lit_start;
        out[o++] = (uint8_t)(run - 1);
        memcpy(out + o, in + lit_start, run);
        o += run;
        lit_start += run;
    }
    return o;
}

static uint32_t lz_decompress(const uint8_t *in, uint32_t n, uint8_t *out)
{
    uint32_t i = 0, o = 0;
    while (i < n) {
        uint8_t t = in[i++];
        if (t < 128) {
            memcpy(out + o, in + i, t + 1u);
            i += t + 1u;
            o += t + 1u;
        } else {
            uint32_t len = t - 128u + 3u, dist = in[i] | (uint32_t)in[i + 1] << 8;
            i += 2;
            for (uint32_t k = 0; k < len; k++, o++)
                out[o] = out[o - dist];
        }
    }
    return o;
}

static uint32_t lz(uint32_t mib)
{
    uint32_t n = mib << 20;
    uint8_t *text = malloc(n), *packed = malloc(n + n / 64 + 16), *back = malloc(n);
    if (!text || !packed || !back) {
        perror("malloc");
        exit(2);
    }
    /* Words from a small vocabulary, picked by an LCG: compressible text. */
    static const char *words[] = { "the ", "quick ", "brown ", "fox ", "jumps ", "over ",
                                   "lazy ", "dog ", "binary ", "translation ", "of ",
                                   "x86 ", "guest ", "code ", "shadow ", "page ", "tables ",
                                   "\n", "interrupt ", "virtual " };
    uint32_t x = 42, p = 0;
    while (p < n) {
        x = x * 1103515245u + 12345u;
        const char *w = words[(x >> 16) % 20];
        while (*w && p < n)
            text[p++] = (uint8_t)*w++;
        if (((x >> 8) & 7) == 0 && p < n)
            text[p++] = (uint8_t)('0' + (x >> 24) % 10);
    }
    uint32_t csize = lz_compress(text, n, packed);
    uint32_t dsize = lz_decompress(packed, csize, back);
    if (dsize != n || memcmp(text, back, n) != 0) {
        fprintf(stderr, "lz: round trip failed\n");
        exit(3);
    }
    uint32_t h = 0x811c9dc5u;
    for (uint32_t i = 0; i < csize; i += 64)
        h = hash32(h, packed[i]);
    free(text);
    free(packed);
    free(back);
    return hash32(h, csize);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "nop") == 0)
        return 7;
    if (argc != 3) {
        fprintf(stderr, "usage: bench forkwait|execloop|sieve|matmul|lz N\n");
        return 2;
    }
    const char *name = argv[1];
    uint32_t arg = (uint32_t)strtoul(argv[2], NULL, 10);
    uint32_t (*fn)(uint32_t);
    if (strcmp(name, "forkwait") == 0)
        fn = forkwait;
    else if (strcmp(name, "execloop") == 0)
        fn = execloop;
    else if (strcmp(name, "sieve") == 0)
        fn = sieve;
    else if (strcmp(name, "matmul") == 0)
        fn = matmul;
    else if (strcmp(name, "lz") == 0)
        fn = lz;
    else {
        fprintf(stderr, "bench: unknown workload %s\n", name);
        return 2;
    }
    printf("BENCH-BEGIN %s\n", name);
    fflush(stdout);
    uint64_t t0 = now_ns();
    uint32_t check = fn(arg);
    uint64_t t1 = now_ns();
    printf("BENCH-END %s arg=%u check=%08x guest_ns=%llu\n", name, arg, check,
           (unsigned long long)(t1 - t0));
    fflush(stdout);
    /* forkwait and execloop check themselves: every child must have exited right. */
    if ((fn == forkwait || fn == execloop) && check != arg)
        return 1;
    return 0;
}
