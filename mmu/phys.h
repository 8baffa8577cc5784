/*
 * The guest's physical address space: RAM, ROM and MMIO regions.
 *
 * RAM lives in a memfd so that later the translator's shadow windows can
 * map the same frames; one linear host mapping of the whole memfd serves
 * the interpreter and the loaders.  ROM and MMIO regions overlay RAM
 * (the BIOS area below 1 MiB, the local APIC page, the top-of-4-GiB BIOS
 * alias).  Unassigned addresses read as all ones and drop writes.
 *
 * A20: when the A20 gate is off, bit 20 of every physical address is
 * forced to zero (the 8086 wrap-around that real-mode code relies on).
 */
#ifndef BTVM_MMU_PHYS_H
#define BTVM_MMU_PHYS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct mmio_ops {
    uint32_t (*read)(void *opaque, uint32_t offset, unsigned size);
    void (*write)(void *opaque, uint32_t offset, uint32_t value, unsigned size);
} mmio_ops;

enum phys_region_kind { PHYS_ROM, PHYS_MMIO };

typedef struct phys_region {
    enum phys_region_kind kind;
    uint32_t base;
    uint32_t size;           /* bytes, a multiple of 4 KiB */
    const uint8_t *rom;      /* PHYS_ROM: backing bytes */
    const mmio_ops *ops;     /* PHYS_MMIO */
    void *opaque;
    const char *name;
} phys_region;

#define PHYS_MAX_REGIONS 32
#define PHYS_RAM_MIN (1u << 20)
#define PHYS_RAM_MAX 0xe0000000u /* 3.5 GiB: PCI/APIC/BIOS hole above */

typedef struct phys_mem {
    int memfd;
    uint8_t *ram;            /* linear host mapping of all RAM */
    uint32_t ram_size;
    uint32_t a20_mask;       /* ~0 with A20 on, ~(1 << 20) with it off */
    phys_region regions[PHYS_MAX_REGIONS];
    int nregions;
    uint64_t generation;     /* bumped when the map changes: TLBs must flush */

    /*
     * Code tracking for self-modifying code: a RAM page from which an
     * engine has cached decoded or translated instructions is a code
     * page; writes to it never take a host-pointer fast path, and each
     * one bumps the page's write generation, which invalidates what was
     * cached from it.
     */
    uint8_t *code_page;      /* one byte per RAM page: 1 = code */
    uint32_t *page_gen;      /* write generation per RAM page */
    uint64_t code_epoch;     /* bumped with any page's generation */
    /* Told when a page becomes code or stops being code: the translator
     * write-protects its shadow mappings of code pages. */
    void (*code_hook)(void *opaque, uint32_t paddr, bool is_code);
    void *code_hook_opaque;
} phys_mem;

/* Returns 0, or -1 with errno set (EINVAL for a size out of range). */
int phys_init(phys_mem *pm, uint64_t ram_size);
void phys_destroy(phys_mem *pm);

/* Regions must not overlap each other; they may overlay RAM.  0 or -1.
 * A ROM's bytes are copied; size must be a multiple of 4 KiB. */
int phys_add_rom(phys_mem *pm, uint32_t base, const uint8_t *data, uint32_t size,
                 const char *name);
int phys_add_mmio(phys_mem *pm, uint32_t base, uint32_t size, const mmio_ops *ops,
                  void *opaque, const char *name);

void phys_set_a20(phys_mem *pm, bool enabled);

/*
 * Host pointer to the page holding paddr (already A20-masked by the
 * caller) when it is plain RAM, or ROM for reads; NULL for MMIO,
 * unassigned space, or a write to ROM.  Valid for the whole 4 KiB page.
 */
uint8_t *phys_page_ptr(phys_mem *pm, uint32_t paddr, bool write);

/* Region covering paddr, or NULL for RAM / unassigned. */
const phys_region *phys_find_region(const phys_mem *pm, uint32_t paddr);

/* Slow-path accesses of 1, 2 or 4 bytes that may hit any region. */
uint32_t phys_read(phys_mem *pm, uint32_t paddr, unsigned size);
void phys_write(phys_mem *pm, uint32_t paddr, uint32_t value, unsigned size);

/* Everything cached from the code page holding paddr is out of date (its
 * generation moves on) though the page was not written: the translator
 * retranslates it differently. */
void phys_invalidate_code(phys_mem *pm, uint32_t paddr);
/* Mark the RAM page holding paddr as holding cached code (see above). */
void phys_mark_code(phys_mem *pm, uint32_t paddr);
/* The page stops being code: everything cached from it is invalidated
 * (its generation moves on) and writes to it are fast again. */
void phys_unmark_code(phys_mem *pm, uint32_t paddr);
static inline bool phys_is_code(const phys_mem *pm, uint32_t paddr)
{
    return paddr < pm->ram_size && pm->code_page[paddr >> 12];
}

static inline uint32_t phys_page_generation(const phys_mem *pm, uint32_t paddr)
{
    return paddr < pm->ram_size ? pm->page_gen[paddr >> 12] : 0;
}

/* Bulk copies for loaders; return -1 if any byte is not RAM. */
int phys_copy_to(phys_mem *pm, uint32_t paddr, const void *src, uint32_t len);
int phys_copy_from(phys_mem *pm, uint32_t paddr, void *dst, uint32_t len);

#endif
