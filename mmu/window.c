/* A host window onto guest memory: see window.h. */
#define _GNU_SOURCE
#include "mmu/window.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

void window_protect_code(mmu_window *w, uint32_t paddr, bool is_code)
{
    if (paddr >= w->pm->ram_size || phys_find_region(w->pm, paddr))
        return; /* emulated, never mapped */
    if (mprotect(w->base + paddr, 0x1000, is_code ? PROT_READ : PROT_READ | PROT_WRITE) < 0)
        perror("btvm: window mprotect"); /* the page keeps its old protection */
}

int window_init(mmu_window *w, phys_mem *pm)
{
    memset(w, 0, sizeof(*w));
    w->pm = pm;
    /* 4 GiB more than the window needs, for the alignment of its base */
    size_t want = WINDOW_GUARD + (1ull << 32) + WINDOW_GUARD;
    size_t size = want + (1ull << 32);
    uint8_t *r = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return -1;
    uintptr_t base = ((uintptr_t)r + WINDOW_GUARD + WINDOW_BASE_ALIGN - 1) & ~(WINDOW_BASE_ALIGN - 1);
    uint8_t *start = (uint8_t *)(base - WINDOW_GUARD);
    /* keep only [start, start + want) */
    if (start > r)
        munmap(r, (size_t)(start - r));
    if (r + size > start + want)
        munmap(start + want, (size_t)(r + size - (start + want)));
    w->reservation = start;
    w->reservation_size = want;
    w->base = (uint8_t *)base;
    return 0;
}

int window_clear(mmu_window *w)
{
    return window_unmap(w, 0, 0);
}

int window_unmap(mmu_window *w, uint32_t lin, uint32_t len)
{
    size_t n = len ? len : (size_t)1 << 32; /* 0: the whole window */
    return mmap(w->base + lin, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
                -1, 0) == MAP_FAILED ? -1 : 0;
}

int window_map(mmu_window *w, uint32_t lin, uint32_t frame, uint32_t len, bool writable,
               bool populate)
{
    int flags = MAP_SHARED | MAP_FIXED | (populate ? MAP_POPULATE : 0);
    return mmap(w->base + lin, len, PROT_READ | (writable ? PROT_WRITE : 0), flags, w->pm->memfd,
                frame) == MAP_FAILED ? -1 : 0;
}

int window_init_flat(mmu_window *w, phys_mem *pm)
{
    if (window_init(w, pm) < 0)
        return -1;
    if (mmap(w->base, pm->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, pm->memfd, 0) ==
        MAP_FAILED)
        goto fail;
    /* Regions overlaying RAM are emulated: punch them out. */
    for (int i = 0; i < pm->nregions; i++) {
        const phys_region *rg = &pm->regions[i];
        if (rg->base >= pm->ram_size)
            continue;
        uint32_t len = rg->base + rg->size > pm->ram_size ? pm->ram_size - rg->base : rg->size;
        if (mmap(w->base + rg->base, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
                 0) == MAP_FAILED)
            goto fail;
    }
    for (uint32_t p = 0; p < pm->ram_size; p += 0x1000)
        if (phys_is_code(pm, p) && !phys_find_region(pm, p))
            mprotect(w->base + p, 0x1000, PROT_READ);
    return 0;
fail:;
    int e = errno;
    munmap(w->reservation, w->reservation_size);
    w->reservation = NULL;
    errno = e;
    return -1;
}

void window_destroy(mmu_window *w)
{
    if (w->reservation)
        munmap(w->reservation, w->reservation_size);
    memset(w, 0, sizeof(*w));
}
