/* The code cache: see codecache.h. */
#define _GNU_SOURCE
#include "translator/codecache.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int tr_codecache_init(tr_codecache *cc, size_t size)
{
    memset(cc, 0, sizeof(*cc));
    cc->fd = memfd_create("btvm-code", MFD_CLOEXEC);
    if (cc->fd < 0)
        return -1;
    if (ftruncate(cc->fd, (off_t)size) < 0)
        goto fail;
    /* Both views inside one reservation, so translated code can reach the
     * trampolines at the start with rel32 jumps. */
    cc->rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, cc->fd, 0);
    if (cc->rw == MAP_FAILED)
        goto fail;
    uint8_t *res = mmap(NULL, size + 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                        -1, 0);
    if (res == MAP_FAILED) {
        munmap(cc->rw, size);
        goto fail;
    }
    cc->poll = res;
    cc->rx = res + 4096;
    if (mmap(cc->rx, size, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED, cc->fd, 0) == MAP_FAILED) {
        munmap(res, size + 4096);
        munmap(cc->rw, size);
        goto fail;
    }
    cc->size = size;
    return 0;
fail:;
    int e = errno;
    close(cc->fd);
    cc->fd = -1;
    errno = e;
    return -1;
}

void tr_codecache_destroy(tr_codecache *cc)
{
    if (cc->rw && cc->rw != MAP_FAILED)
        munmap(cc->rw, cc->size);
    if (cc->poll)
        munmap(cc->poll, cc->size + 4096);
    if (cc->fd >= 0)
        close(cc->fd);
    memset(cc, 0, sizeof(*cc));
    cc->fd = -1;
}

uint8_t *tr_codecache_reserve(tr_codecache *cc, size_t len)
{
    if (cc->used + len > cc->size)
        return NULL;
    return cc->rw + cc->used;
}

void tr_codecache_commit(tr_codecache *cc, size_t len)
{
    cc->used += (len + 15) & ~(size_t)15;
}

void tr_codecache_flush(tr_codecache *cc)
{
    cc->used = cc->reserved;
    cc->flushes++;
}
