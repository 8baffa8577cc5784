/*
 * Host code for guest x87/MMX/SSE/SSE2 instructions (fpu.h).
 *
 * The guest and host are the same ISA, so the exact result of FSIN,
 * PMADDWD or CVTSD2SI — rounding, flags, the x87's 80-bit internals,
 * every corner the manual leaves to the implementation — is had by
 * running the instruction itself rather than re-deriving it in C.  Each
 * distinct instruction gets a thunk, a small host function:
 *
 *     fxsave  [rdx]         ; the host's own FPU state (SDM Vol. 1 §10.5)
 *     fxrstor [rsi]         ; the guest's image
 *     (pushfq/popfq)        ; FCMOVcc: guest CF/PF/ZF... in host RFLAGS
 *     (mov eax, [rcx+4])    ; a GPR source (MOVD mm, r32; CVTSI2SS)
 *     <guest instruction>   ; memory operand rewritten to [rdi]
 *     (mov [rcx+4], eax)    ; a GPR destination (PMOVMSKB, CVTSS2SI)
 *     (pushfq; mov [rcx])   ; FCOMI, COMISS: host flags out
 *     fxsave  [rsi]         ; the guest's image back
 *     fxrstor [rdx]         ; the host's state back: its control words,
 *     ret                   ; and an empty x87 stack as the ABI wants
 *
 * fpu.c re-encodes the guest instruction (prefixes 66/F2/F3, opcode,
 * ModRM with mod=00 rm=111, immediates); this file only wraps and caches.
 *
 * Thunks are cached by their instruction bytes in a per-process code
 * buffer: a memfd mapped twice, writable and executable, so no page is
 * ever writable and executable at once (without memfd: one mapping whose
 * protection is flipped around each write).  The buffer is shared by all
 * vCPUs of the process and guarded by a mutex held while a thunk runs,
 * so a flush of a full cache never pulls code from under a runner.
 */
#define _GNU_SOURCE
#include "cpu/fpu.h"

#include <pthread.h>
#include <stddef.h>
#include <sys/mman.h>
#include <unistd.h>

#define SLOT_SIZE 64
#define SLOTS 4096
#define HASH_SIZE 8192 /* power of two, at most half full */
#define KEY_SIZE (FPU_CODE_MAX + 1)

typedef struct thunk_entry {
    uint8_t key[KEY_SIZE];
    uint8_t len;        /* 0: empty */
    uint16_t slot;
} thunk_entry;

typedef void (*thunk_fn)(void *mem, void *fx, void *host_fx, fpu_io *io);

static struct {
    pthread_mutex_t lock;
    bool tried, ok;
    bool flip;          /* one mapping, mprotect flips (no memfd) */
    uint8_t *rw, *rx;
    unsigned used;
    thunk_entry table[HASH_SIZE];
} cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

static bool cache_init(void)
{
    const size_t size = (size_t)SLOTS * SLOT_SIZE;
    int fd = memfd_create("btvm-fpu-thunks", MFD_CLOEXEC);
    if (fd >= 0) {
        if (ftruncate(fd, (off_t)size) == 0) {
            void *rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            void *rx = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
            if (rw != MAP_FAILED && rx != MAP_FAILED) {
                close(fd);
                cache.rw = rw;
                cache.rx = rx;
                return true;
            }
            if (rw != MAP_FAILED)
                munmap(rw, size);
            if (rx != MAP_FAILED)
                munmap(rx, size);
        }
        close(fd);
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return false;
    cache.rw = cache.rx = p;
    cache.flip = true;
    return true;
}

/* Emit the thunk for n at slot s. */
static void emit(const fpu_native *n, unsigned s)
{
    uint8_t c[SLOT_SIZE];
    unsigned p = 0;
#define B(...) do { const uint8_t b_[] = { __VA_ARGS__ }; \
                    memcpy(c + p, b_, sizeof(b_)); p += sizeof(b_); } while (0)
    B(0x0f, 0xae, 0x02);                         /* fxsave [rdx] */
    B(0x0f, 0xae, 0x0e);                         /* fxrstor [rsi] */
    if (n->flags_in) {
        B(0x9c, 0x58);                           /* pushfq; pop rax */
        B(0x25, 0x2a, 0xf7, 0xff, 0xff);         /* and eax, ~0x8d5 (keep TF, DF...) */
        B(0x44, 0x8b, 0x01);                     /* mov r8d, [rcx] */
        B(0x41, 0x81, 0xe0, 0xd5, 0x08, 0, 0);   /* and r8d, 0x8d5 (CF PF AF ZF SF OF) */
        B(0x44, 0x09, 0xc0);                     /* or eax, r8d */
        B(0x50, 0x9d);                           /* push rax; popfq */
    }
    if (n->gpr_in)
        B(0x8b, 0x41, 0x04);                     /* mov eax, [rcx+4] */
    memcpy(c + p, n->code, n->len);
    p += n->len;
    if (n->gpr_out)
        B(0x89, 0x41, 0x04);                     /* mov [rcx+4], eax */
    if (n->flags_out)
        B(0x9c, 0x58, 0x89, 0x01);               /* pushfq; pop rax; mov [rcx], eax */
    B(0x0f, 0xae, 0x06);                         /* fxsave [rsi] */
    B(0x0f, 0xae, 0x0a);                         /* fxrstor [rdx] */
    B(0xc3);                                     /* ret */
#undef B
    uint8_t *dst = cache.rw + (size_t)s * SLOT_SIZE;
    if (cache.flip) {
        uint8_t *page = (uint8_t *)((uintptr_t)dst & ~(uintptr_t)4095);
        mprotect(page, 4096, PROT_READ | PROT_WRITE);
        memcpy(dst, c, p);
        mprotect(page, 4096, PROT_READ | PROT_EXEC);
    } else {
        memcpy(dst, c, p);
    }
}

static void make_key(const fpu_native *n, uint8_t *key, uint8_t *len)
{
    memset(key, 0, KEY_SIZE);
    memcpy(key, n->code, n->len);
    /* the flag bits are derived from the bytes, but keep the key honest */
    key[FPU_CODE_MAX] = (uint8_t)(n->flags_in | n->flags_out << 1 | n->gpr_in << 2 |
                                  n->gpr_out << 3);
    *len = n->len;
}

static uint32_t hash(const uint8_t *key)
{
    uint32_t h = 2166136261u;
    for (unsigned i = 0; i < KEY_SIZE; i++)
        h = (h ^ key[i]) * 16777619u;
    return h;
}

/* The thunk for n, built on first use.  Called with the lock held. */
static thunk_fn lookup(const fpu_native *n)
{
    uint8_t key[KEY_SIZE], len;
    make_key(n, key, &len);
    uint32_t h = hash(key);
    for (;;) {
        for (uint32_t i = h;; i++) {
            thunk_entry *e = &cache.table[i & (HASH_SIZE - 1)];
            if (e->len == 0) {
                if (cache.used == SLOTS)
                    break; /* full: flush below */
                memcpy(e->key, key, KEY_SIZE);
                e->len = len;
                e->slot = (uint16_t)cache.used++;
                emit(n, e->slot);
                return (thunk_fn)(void *)(cache.rx + (size_t)e->slot * SLOT_SIZE);
            }
            if (e->len == len && memcmp(e->key, key, KEY_SIZE) == 0)
                return (thunk_fn)(void *)(cache.rx + (size_t)e->slot * SLOT_SIZE);
        }
        /* Thousands of distinct FPU instructions: start over.  No thunk
         * is running (we hold the lock). */
        memset(cache.table, 0, sizeof(cache.table));
        cache.used = 0;
    }
}

bool fpu_thunk_run(const fpu_native *n, void *mem, void *fx, fpu_io *io)
{
    _Alignas(16) uint8_t host_fx[512];
    pthread_mutex_lock(&cache.lock);
    if (!cache.tried) {
        cache.tried = true;
        cache.ok = cache_init();
    }
    if (!cache.ok) {
        pthread_mutex_unlock(&cache.lock);
        return false;
    }
    thunk_fn f = lookup(n);
    f(mem, fx, host_fx, io);
    pthread_mutex_unlock(&cache.lock);
    return true;
}

uint32_t fpu_host_mxcsr_mask(void)
{
    static uint32_t mask; /* a property of the host, not state */
    uint32_t m = __atomic_load_n(&mask, __ATOMIC_RELAXED);
    if (m)
        return m;
    _Alignas(16) uint8_t fx[512];
    memset(fx, 0, sizeof(fx));
    __asm__ volatile("fxsave %0" : "=m"(fx));
    m = fx_get32(fx, FX_MXCSR_MASK);
    if (m == 0)
        m = 0xffbf; /* SDM Vol. 1 §11.6.6: zero means the default mask */
    __atomic_store_n(&mask, m, __ATOMIC_RELAXED);
    return m;
}
