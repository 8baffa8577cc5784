/* The guest's physical address space: see phys.h. */
#define _GNU_SOURCE
#include "mmu/phys.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int phys_init(phys_mem *pm, uint64_t ram_size)
{
    memset(pm, 0, sizeof(*pm));
    pm->memfd = -1;
    if (ram_size < PHYS_RAM_MIN || ram_size > PHYS_RAM_MAX || (ram_size & 0xfff)) {
        errno = EINVAL;
        return -1;
    }
    pm->memfd = memfd_create("btvm-ram", MFD_CLOEXEC);
    if (pm->memfd < 0)
        return -1;
    if (ftruncate(pm->memfd, (off_t)ram_size) < 0)
        goto fail;
    void *p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, pm->memfd, 0);
    if (p == MAP_FAILED)
        goto fail;
    pm->ram = p;
    pm->ram_size = (uint32_t)ram_size;
    pm->code_page = calloc(ram_size >> 12, 1);
    pm->page_gen = calloc(ram_size >> 12, sizeof(uint32_t));
    if (!pm->code_page || !pm->page_gen) {
        phys_destroy(pm);
        errno = ENOMEM;
        return -1;
    }
    pm->a20_mask = ~0u;
    return 0;
fail:;
    int e = errno;
    close(pm->memfd);
    pm->memfd = -1;
    errno = e;
    return -1;
}

void phys_destroy(phys_mem *pm)
{
    for (int i = 0; i < pm->nregions; i++)
        if (pm->regions[i].kind == PHYS_ROM)
            free((void *)pm->regions[i].rom);
    pm->nregions = 0;
    if (pm->ram)
        munmap(pm->ram, pm->ram_size);
    free(pm->code_page);
    free(pm->page_gen);
    pm->code_page = NULL;
    pm->page_gen = NULL;
    if (pm->memfd >= 0)
        close(pm->memfd);
    pm->ram = NULL;
    pm->memfd = -1;
}

static int add_region(phys_mem *pm, phys_region r)
{
    if (pm->nregions >= PHYS_MAX_REGIONS || r.size == 0 || (r.base & 0xfff) || (r.size & 0xfff) ||
        (uint64_t)r.base + r.size > (1ull << 32))
        return -1;
    for (int i = 0; i < pm->nregions; i++) {
        const phys_region *o = &pm->regions[i];
        if (r.base < (uint64_t)o->base + o->size && o->base < (uint64_t)r.base + r.size)
            return -1;
    }
    pm->regions[pm->nregions++] = r;
    pm->generation++;
    return 0;
}

int phys_add_rom(phys_mem *pm, uint32_t base, const uint8_t *data, uint32_t size, const char *name)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return -1;
    memcpy(copy, data, size);
    if (add_region(pm, (phys_region){ .kind = PHYS_ROM, .base = base, .size = size,
                                      .rom = copy, .name = name }) < 0) {
        free(copy);
        return -1;
    }
    return 0;
}

int phys_add_mmio(phys_mem *pm, uint32_t base, uint32_t size, const mmio_ops *ops, void *opaque,
                  const char *name)
{
    return add_region(pm, (phys_region){ .kind = PHYS_MMIO, .base = base, .size = size,
                                         .ops = ops, .opaque = opaque, .name = name });
}

void phys_set_a20(phys_mem *pm, bool enabled)
{
    uint32_t mask = enabled ? ~0u : ~(1u << 20);
    if (mask != pm->a20_mask) {
        pm->a20_mask = mask;
        pm->generation++;
    }
}

const phys_region *phys_find_region(const phys_mem *pm, uint32_t paddr)
{
    for (int i = 0; i < pm->nregions; i++) {
        const phys_region *r = &pm->regions[i];
        if (paddr - r->base < r->size)
            return r;
    }
    return NULL;
}

uint8_t *phys_page_ptr(phys_mem *pm, uint32_t paddr, bool write)
{
    const phys_region *r = phys_find_region(pm, paddr);
    if (r) {
        if (r->kind == PHYS_ROM && !write)
            return (uint8_t *)r->rom + ((paddr - r->base) & ~0xfffu);
        return NULL;
    }
    if (paddr < pm->ram_size) {
        if (write && pm->code_page[paddr >> 12])
            return NULL; /* writes to code pages take the slow path */
        return pm->ram + (paddr & ~0xfffu);
    }
    return NULL;
}

void phys_mark_code(phys_mem *pm, uint32_t paddr)
{
    if (paddr < pm->ram_size && !pm->code_page[paddr >> 12]) {
        pm->code_page[paddr >> 12] = 1;
        pm->generation++; /* drop cached write pointers to the page */
        if (pm->code_hook)
            pm->code_hook(pm->code_hook_opaque, paddr & ~0xfffu, true);
    }
}

void phys_invalidate_code(phys_mem *pm, uint32_t paddr)
{
    if (paddr < pm->ram_size && pm->code_page[paddr >> 12]) {
        pm->page_gen[paddr >> 12]++;
        pm->code_epoch++;
    }
}

void phys_unmark_code(phys_mem *pm, uint32_t paddr)
{
    if (paddr < pm->ram_size && pm->code_page[paddr >> 12]) {
        pm->page_gen[paddr >> 12]++;
        pm->code_epoch++;
        pm->code_page[paddr >> 12] = 0;
        pm->generation++; /* writes may take host pointers again */
        if (pm->code_hook)
            pm->code_hook(pm->code_hook_opaque, paddr & ~0xfffu, false);
    }
}

static void note_ram_write(phys_mem *pm, uint32_t paddr, uint32_t len)
{
    for (uint32_t p = paddr >> 12; p <= (paddr + len - 1) >> 12 && p < (pm->ram_size >> 12); p++)
        if (pm->code_page[p]) {
            pm->page_gen[p]++;
            pm->code_epoch++;
        }
}

static uint32_t load_le(const uint8_t *p, unsigned size)
{
    switch (size) {
    case 1: return p[0];
    case 2: return p[0] | (uint32_t)p[1] << 8;
    default: return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    }
}

uint32_t phys_read(phys_mem *pm, uint32_t paddr, unsigned size)
{
    /* An access that crosses a page is done bytewise: regions are page-granular. */
    if ((paddr & 0xfff) + size > 0x1000) {
        uint32_t v = 0;
        for (unsigned i = 0; i < size; i++)
            v |= phys_read(pm, paddr + i, 1) << (8 * i);
        return v;
    }
    const phys_region *r = phys_find_region(pm, paddr);
    if (r && r->kind == PHYS_MMIO)
        return r->ops->read ? r->ops->read(r->opaque, paddr - r->base, size) : 0xffffffffu;
    uint8_t *page = phys_page_ptr(pm, paddr, false);
    if (!page)
        return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    return load_le(page + (paddr & 0xfff), size);
}

void phys_write(phys_mem *pm, uint32_t paddr, uint32_t value, unsigned size)
{
    if ((paddr & 0xfff) + size > 0x1000) {
        for (unsigned i = 0; i < size; i++)
            phys_write(pm, paddr + i, value >> (8 * i), 1);
        return;
    }
    const phys_region *r = phys_find_region(pm, paddr);
    if (r && r->kind == PHYS_MMIO) {
        if (r->ops->write)
            r->ops->write(r->opaque, paddr - r->base, value, size);
        return;
    }
    uint8_t *page;
    if (paddr < pm->ram_size && !r) {
        page = pm->ram + (paddr & ~0xfffu);
        note_ram_write(pm, paddr, size);
    } else if (!(page = phys_page_ptr(pm, paddr, true))) {
        return; /* ROM or unassigned: the write is dropped, as on the bus */
    }
    uint8_t *p = page + (paddr & 0xfff);
    for (unsigned i = 0; i < size; i++)
        p[i] = (uint8_t)(value >> (8 * i));
}

int phys_copy_to(phys_mem *pm, uint32_t paddr, const void *src, uint32_t len)
{
    if ((uint64_t)paddr + len > pm->ram_size)
        return -1;
    memcpy(pm->ram + paddr, src, len);
    if (len)
        note_ram_write(pm, paddr, len);
    return 0;
}

int phys_copy_from(phys_mem *pm, uint32_t paddr, void *dst, uint32_t len)
{
    if ((uint64_t)paddr + len > pm->ram_size)
        return -1;
    memcpy(dst, pm->ram + paddr, len);
    return 0;
}
