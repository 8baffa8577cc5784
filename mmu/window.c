/* A host window onto guest memory: see window.h. */
#define _GNU_SOURCE
#include "mmu/window.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

/* Re-protect one page of the window when it becomes (or stops being) code. */
static void on_code_change(void *opaque, uint32_t paddr, bool is_code)
{
    mmu_window *w = opaque;
    if (phys_find_region(w->pm, paddr))
        return; /* emulated, never mapped */
    if (mprotect(w->base + paddr, 0x1000, is_code ? PROT_READ : PROT_READ | PROT_WRITE) < 0)
        perror("btvm: window mprotect"); /* the page keeps its old protection */
}

int window_init_flat(mmu_window *w, phys_mem *pm)
{
    memset(w, 0, sizeof(*w));
    w->pm = pm;
    w->reservation_size = WINDOW_GUARD + (1ull << 32) + WINDOW_GUARD;
    void *r = mmap(NULL, w->reservation_size, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return -1;
    w->reservation = r;
    w->base = w->reservation + WINDOW_GUARD;
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
    pm->code_hook = on_code_change;
    pm->code_hook_opaque = w;
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
    if (w->pm && w->pm->code_hook_opaque == w) {
        w->pm->code_hook = NULL;
        w->pm->code_hook_opaque = NULL;
    }
    if (w->reservation)
        munmap(w->reservation, w->reservation_size);
    memset(w, 0, sizeof(*w));
}
