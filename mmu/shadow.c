/* Shadow paging: see shadow.h. */
#define _GNU_SOURCE
#include "mmu/shadow.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* VMAs are the scarce resource (vm.max_map_count is 65530 by default):
 * past this many mapped pages the windows start over. */
#define SHADOW_PAGE_BUDGET 24000u
#define RMAP_CAP (1u << 18)

int shadow_init(shadow_space *s, phys_mem *pm)
{
    memset(s, 0, sizeof(*s));
    s->pm = pm;
    uint32_t frames = pm->ram_size >> 12;
    s->rmap_head = malloc(frames * sizeof(int32_t));
    s->rmap = malloc(RMAP_CAP * sizeof(shadow_rmap));
    s->rmap_cap = RMAP_CAP;
    if (!s->rmap_head || !s->rmap)
        return -1;
    memset(s->rmap_head, 0xff, frames * sizeof(int32_t));
    for (int w = 0; w < 2; w++) {
        s->frame_of[w] = calloc(1u << 20, sizeof(uint32_t));
        s->writable[w] = calloc(1u << 20, sizeof(bool));
        if (!s->frame_of[w] || !s->writable[w] || window_init(&s->win[w], pm) < 0)
            return -1;
    }
    return 0;
}

void shadow_destroy(shadow_space *s)
{
    for (int w = 0; w < 2; w++) {
        window_destroy(&s->win[w]);
        free(s->frame_of[w]);
        free(s->writable[w]);
    }
    free(s->rmap_head);
    free(s->rmap);
    memset(s, 0, sizeof(*s));
}

void shadow_wipe(shadow_space *s)
{
    for (int w = 0; w < 2; w++) {
        window_clear(&s->win[w]);
        memset(s->frame_of[w], 0, (1u << 20) * sizeof(uint32_t));
        memset(s->writable[w], 0, (1u << 20) * sizeof(bool));
        memset(s->large[w], 0, sizeof(s->large[w]));
    }
    memset(s->rmap_head, 0xff, (s->pm->ram_size >> 12) * sizeof(int32_t));
    s->rmap_used = 0;
    s->mapped = 0;
    s->stats.wipes++;
}

static void forget_range(shadow_space *s, int w, uint32_t lin, uint32_t len)
{
    for (uint32_t p = lin >> 12; p < (lin >> 12) + (len >> 12); p++) {
        if (s->frame_of[w][p])
            s->mapped--;
        s->frame_of[w][p] = 0;
        s->writable[w][p] = false;
    }
}

void shadow_invlpg(shadow_space *s, uint32_t lin)
{
    s->stats.invlpgs++;
    for (int w = 0; w < 2; w++) {
        uint32_t region = lin >> 22;
        if (s->large[w][region]) {
            /* Filled as a 4 MiB page: the whole page goes. */
            window_unmap(&s->win[w], region << 22, 1u << 22);
            forget_range(s, w, region << 22, 1u << 22);
            s->large[w][region] = 0;
        } else if (s->frame_of[w][lin >> 12]) {
            window_unmap(&s->win[w], lin & ~0xfffu, 0x1000);
            forget_range(s, w, lin & ~0xfffu, 0x1000);
        }
    }
}

/* The caller made room (shadow_fill wipes first when the map is full). */
static void rmap_add(shadow_space *s, uint32_t frame, int w, uint32_t lin)
{
    int32_t i = (int32_t)s->rmap_used++;
    s->rmap[i] = (shadow_rmap){ .lin_page = lin >> 12, .win = (uint8_t)w,
                                .next = s->rmap_head[frame >> 12] };
    s->rmap_head[frame >> 12] = i;
}

void shadow_frame_became_code(shadow_space *s, uint32_t paddr)
{
    uint32_t frame = paddr & ~0xfffu;
    if (frame >= s->pm->ram_size)
        return;
    for (int32_t i = s->rmap_head[frame >> 12]; i >= 0; i = s->rmap[i].next) {
        const shadow_rmap *r = &s->rmap[i];
        /* Records are not removed when a mapping goes: check it is current. */
        if (s->frame_of[r->win][r->lin_page] != (frame >> 12) + 1 || !s->writable[r->win][r->lin_page])
            continue;
        mprotect(s->win[r->win].base + ((uintptr_t)r->lin_page << 12), 0x1000, PROT_READ);
        s->writable[r->win][r->lin_page] = false;
        s->stats.downgrades++;
    }
    s->rmap_head[frame >> 12] = -1;
}

static bool ram_frames(const phys_mem *pm, uint32_t frame, uint32_t len)
{
    if ((uint64_t)frame + len > pm->ram_size)
        return false;
    for (int i = 0; i < pm->nregions; i++) {
        const phys_region *r = &pm->regions[i];
        if (frame < (uint64_t)r->base + r->size && r->base < (uint64_t)frame + len)
            return false;
    }
    return true;
}

/* Map [lin, lin+len) to [frame, frame+len) with code frames read-only. */
static int map_run(shadow_space *s, int w, uint32_t lin, uint32_t frame, uint32_t len, bool writable)
{
    if (window_map(&s->win[w], lin, frame, len, writable) < 0)
        return -1;
    for (uint32_t off = 0; off < len; off += 0x1000) {
        uint32_t p = (lin + off) >> 12;
        bool wr = writable;
        if (wr && phys_is_code(s->pm, frame + off)) {
            mprotect(s->win[w].base + lin + off, 0x1000, PROT_READ);
            wr = false;
        }
        if (!s->frame_of[w][p])
            s->mapped++;
        s->frame_of[w][p] = ((frame + off) >> 12) + 1;
        s->writable[w][p] = wr;
        if (wr)
            rmap_add(s, frame + off, w, lin + off);
    }
    s->stats.fill_pages += len >> 12;
    return 0;
}

enum shadow_fill shadow_fill(shadow_space *s, const pg_control *pc, int w, uint32_t lin,
                             bool write)
{
    bool user = w == SHADOW_USER;
    pg_translation t;
    uint32_t pfec;
    if (!pg_walk(s->pm, pc, lin, write ? PG_WRITE : PG_READ, user, &t, &pfec))
        return SHADOW_GUEST_FAULT;
    uint32_t paddr = t.paddr & s->pm->a20_mask;
    uint32_t frame = paddr & ~0xfffu;
    if (!ram_frames(s->pm, frame, 0x1000) || (write && phys_is_code(s->pm, frame))) {
        s->stats.emulated++;
        return SHADOW_EMULATE;
    }
    /* Writable now only when a write would not need the walker (D set). */
    bool wp = pc->cr0 & 0x00010000u;
    bool writable = t.dirty && (user ? (t.rw && t.us) : (t.rw || !wp));
    if (s->mapped + 1024 > SHADOW_PAGE_BUDGET || s->rmap_used + 1024 > s->rmap_cap)
        shadow_wipe(s); /* rare: start over rather than grow */
    s->stats.fills++;
    if (t.large) {
        uint32_t lin4 = lin & ~0x3fffffu, frame4 = paddr & ~0x3fffffu;
        if (ram_frames(s->pm, frame4, 1u << 22)) {
            if (map_run(s, w, lin4, frame4, 1u << 22, writable) < 0)
                return SHADOW_EMULATE;
            s->large[w][lin4 >> 22] = 1;
            s->stats.large_fills++;
            return SHADOW_MAPPED;
        }
    }
    if (map_run(s, w, lin & ~0xfffu, frame, 0x1000, writable) < 0)
        return SHADOW_EMULATE;
    return SHADOW_MAPPED;
}
