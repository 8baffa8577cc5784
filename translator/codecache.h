/*
 * The code cache: host code produced by the translator.
 *
 * One memfd mapped twice — a writable view the translator emits into and
 * an executable view the CPU runs — so no page is ever writable and
 * executable at once (DESIGN.md "Code cache").  Allocation is a bump
 * pointer; when the cache is full it is flushed whole.
 *
 * The page just below the executable view is the poll page, never
 * readable: every block starts by reading the byte cpu.tr_poll points at
 * (no flags touched), and pointing it here stops translated code at the
 * next block boundary.
 */
#ifndef BTVM_TRANSLATOR_CODECACHE_H
#define BTVM_TRANSLATOR_CODECACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct tr_codecache {
    int fd;
    uint8_t *poll;      /* the poll page, just below the executable view */
    uint8_t *rw;        /* writable view */
    uint8_t *rx;        /* executable view, same bytes */
    size_t size;
    size_t used;
    size_t reserved;    /* bytes at the start kept across flushes (trampolines) */
    uint64_t flushes;
} tr_codecache;

/* 0, or -1 with errno set. */
int tr_codecache_init(tr_codecache *cc, size_t size);
void tr_codecache_destroy(tr_codecache *cc);

/* Room for at least len more bytes?  Returns the write position or NULL. */
uint8_t *tr_codecache_reserve(tr_codecache *cc, size_t len);
/* Commit len bytes written at the position reserve() returned. */
void tr_codecache_commit(tr_codecache *cc, size_t len);
/* Drop every block (keeps the reserved prefix). */
void tr_codecache_flush(tr_codecache *cc);

static inline uint8_t *tr_exec_addr(const tr_codecache *cc, const uint8_t *rw_ptr)
{
    return cc->rx + (rw_ptr - cc->rw);
}

static inline int tr_codecache_contains(const tr_codecache *cc, uintptr_t rip)
{
    return rip >= (uintptr_t)cc->rx && rip < (uintptr_t)cc->rx + cc->used;
}

#endif
