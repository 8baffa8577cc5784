/* Shadow paging: see shadow.h. */
#define _GNU_SOURCE
#include "mmu/shadow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/*
 * VMAs are the scarce resource: the host refuses mmap past
 * vm.max_map_count (65530 by default) for the whole process.  A fill
 * that continues a neighbouring mapping (next linear page, next frame,
 * same rights) is merged into it by the host and costs no VMA; any other
 * splits the window's reservation and costs up to two.  The windows start
 * over when the estimate reaches two thirds of the host's limit (the
 * rest is the process's own: libraries, heap, code cache).
 */
#define SHADOW_VMA_FALLBACK 65530u
#define RMAP_CAP (1u << 18)

static uint32_t host_vma_budget(void)
{
    uint32_t max = SHADOW_VMA_FALLBACK;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        unsigned long v;
        if (fscanf(f, "%lu", &v) == 1 && v >= 4096 && v < (1ul << 31))
            max = (uint32_t)v;
        fclose(f);
    }
    return max - max / 3;
}

int shadow_init(shadow_space *s, phys_mem *pm)
{
    memset(s, 0, sizeof(*s));
    s->pm = pm;
    uint32_t frames = pm->ram_size >> 12;
    s->rmap_head = malloc(frames * sizeof(int32_t));
    s->rmap = malloc(RMAP_CAP * sizeof(shadow_rmap));
    s->rmap_cap = RMAP_CAP;
    s->vma_budget = host_vma_budget();
    s->fills_cap = s->vma_budget;
    s->fills = malloc(s->fills_cap * sizeof(shadow_fill_rec));
    if (!s->rmap_head || !s->rmap || !s->fills)
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
    free(s->fills);
    memset(s, 0, sizeof(*s));
}

static void forget_range(shadow_space *s, int w, uint32_t lin, uint32_t len)
{
    for (uint32_t p = lin >> 12; p < (lin >> 12) + (len >> 12); p++) {
        s->frame_of[w][p] = 0;
        s->writable[w][p] = false;
    }
}

/* Cost proportional to what was filled, not to the 4 GiB. */
void shadow_wipe(shadow_space *s)
{
    for (int w = 0; w < 2; w++)
        window_clear(&s->win[w]);
    s->user_filled = false;
    for (uint32_t i = 0; i < s->nfills; i++) {
        const shadow_fill_rec *f = &s->fills[i];
        forget_range(s, f->win, f->lin, (uint32_t)f->pages << 12);
        if (f->large)
            s->large[f->win][f->lin >> 22] = 0;
    }
    for (uint32_t i = 0; i < s->rmap_used; i++)
        s->rmap_head[s->rmap[i].frame] = -1;
    s->rmap_used = 0;
    s->nfills = 0;
    s->vmas = 0;
    s->stats.wipes++;
}

/* Map a kept fill again after an unmap that covered it: its pages'
 * frames and rights are still in frame_of/writable. */
static void remap(shadow_space *s, const shadow_fill_rec *f)
{
    mmu_window *win = &s->win[f->win];
    uint32_t first = f->lin >> 12, end = first + f->pages;
    for (uint32_t p = first; p < end;) {
        uint32_t q = p + 1;
        while (q < end && s->frame_of[f->win][q] == s->frame_of[f->win][p] + (q - p) &&
               s->writable[f->win][q] == s->writable[f->win][p])
            q++;
        if (s->frame_of[f->win][p])
            window_map(win, p << 12, (s->frame_of[f->win][p] - 1) << 12, (q - p) << 12,
                       s->writable[f->win][p]);
        p = q;
    }
}

/*
 * Global fills stay; the user window never holds any (its pages are
 * user pages, which a guest does not make global across processes —
 * and if it does, dropping them is still correct).
 *
 * Every unmap of a populated mapping costs the host a TLB flush, which
 * is dear (tens of microseconds where the host is itself virtualised),
 * so the non-global supervisor mappings go in one unmap of the span
 * they cover — for Linux, the user half the kernel touched — and the
 * global fills inside that span, if any, are mapped again.
 */
void shadow_flush_nonglobal(shadow_space *s)
{
    if (s->user_filled) {
        window_clear(&s->win[SHADOW_USER]);
        s->user_filled = false;
    }
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint32_t i = 0; i < s->nfills; i++) {
        const shadow_fill_rec *f = &s->fills[i];
        if (f->win == SHADOW_SUPERVISOR && !f->global) {
            lo = f->lin < lo ? f->lin : lo;
            hi = f->lin + ((uint64_t)f->pages << 12) > hi ? f->lin + ((uint64_t)f->pages << 12) : hi;
        }
    }
    if (hi > lo)
        window_unmap(&s->win[SHADOW_SUPERVISOR], (uint32_t)lo, (uint32_t)(hi - lo));
    uint32_t kept = 0;
    for (uint32_t i = 0; i < s->nfills; i++) {
        shadow_fill_rec f = s->fills[i];
        uint32_t len = (uint32_t)f.pages << 12;
        if (f.win == SHADOW_SUPERVISOR && f.global) {
            if (f.lin + (uint64_t)len > lo && f.lin < hi)
                remap(s, &f);
            s->fills[kept++] = f;
            continue;
        }
        forget_range(s, f.win, f.lin, len);
        if (f.large)
            s->large[f.win][f.lin >> 22] = 0;
    }
    s->nfills = kept;
    s->vmas = 2 * kept + 1;
    /* The reverse map may name dropped mappings: it is checked on use. */
    s->stats.cr3_flushes++;
    s->stats.kept_global += kept;
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
            s->vmas += 2;
        }
    }
}

static void rmap_add(shadow_space *s, uint32_t frame, int w, uint32_t lin)
{
    int32_t i = (int32_t)s->rmap_used++;
    s->rmap[i] = (shadow_rmap){ .lin_page = lin >> 12, .frame = frame >> 12, .win = (uint8_t)w,
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
        s->vmas += 2;
        s->writable[r->win][r->lin_page] = false;
        s->stats.downgrades++;
    }
    s->rmap_head[frame >> 12] = -1;
    /* Writable 4 MiB fills of the frame's large frame are not in the rmap. */
    for (int w = 0; w < 2; w++) {
        for (uint32_t region = 0; region < 1024; region++) {
            uint32_t f4 = s->large[w][region];
            if (!f4 || !s->large_writable[w][region] || ((f4 - 1) << 12) != (frame & ~0x3fffffu))
                continue;
            uint32_t lin = (region << 22) | (frame & 0x3ff000u);
            if (s->writable[w][lin >> 12]) {
                mprotect(s->win[w].base + lin, 0x1000, PROT_READ);
                s->vmas += 2;
                s->writable[w][lin >> 12] = false;
                s->stats.downgrades++;
            }
        }
    }
}

/*
 * Host VMA boundaries, counted exactly: pages a and a+1 of a window share
 * a VMA when both are unmapped (the reservation's anonymous PROT_NONE
 * mapping, which the host merges with any anonymous unmap beside it) or
 * when both are mapped and the second continues the first (next frame,
 * same rights: the host merges such file mappings on mmap and mprotect).
 * The VMAs a change to pages [first, end) adds is the difference of the
 * boundaries around them counted before and after it.
 */
static bool same_vma(const shadow_space *s, int w, uint32_t a)
{
    uint32_t fa = s->frame_of[w][a], fb = s->frame_of[w][a + 1];
    if (!fa || !fb)
        return !fa && !fb;
    return fb == fa + 1 && s->writable[w][a] == s->writable[w][a + 1];
}

static uint32_t vma_edges(const shadow_space *s, int w, uint32_t first, uint32_t end)
{
    uint32_t lo = first ? first - 1 : 0, hi = end < (1u << 20) ? end : (1u << 20) - 1;
    uint32_t n = 0;
    for (uint32_t a = lo; a < hi; a++)
        n += !same_vma(s, w, a);
    return n;
}

static void count_vmas(shadow_space *s, uint32_t before, uint32_t after)
{
    if (after >= before)
        s->vmas += after - before;
    else
        s->vmas = s->vmas > before - after ? s->vmas - (before - after) : 0;
}

/* Pages [first, end) of window w, mapped read-only to frames that are not
 * code, become writable with one mprotect.  0 or -1 (nothing changed). */
static int upgrade_run(shadow_space *s, int w, uint32_t first, uint32_t end)
{
    uint32_t before = vma_edges(s, w, first, end);
    if (mprotect(s->win[w].base + ((uintptr_t)first << 12), (size_t)(end - first) << 12,
                 PROT_READ | PROT_WRITE) < 0)
        return -1;
    for (uint32_t p = first; p < end; p++)
        s->writable[w][p] = true;
    count_vmas(s, before, vma_edges(s, w, first, end));
    s->stats.upgrades++;
    s->stats.upgraded_pages += end - first;
    return 0;
}

static void rmap_add(shadow_space *s, uint32_t frame, int w, uint32_t lin);

/*
 * A write fault on a page mapped read-only — mapped while its D bit was
 * clear, or while its frame held translated code — that the walk now lets
 * the guest write: its mapping is right but for the rights, so one
 * mprotect does, where a fill would re-map the whole run (for a 4 MiB
 * page, zap 1024 host PTEs and write-protect its code frames again).
 * A 4 MiB page mapped read-only as a whole is dirty as a whole now (its D
 * bit is the PDE's, SDM Vol. 3A §4.8): all of it but its code frames
 * becomes writable, a run between code frames at a time.  False when
 * this is no such fault (or the host refused): fill it the usual way.
 */
static bool upgrade(shadow_space *s, int w, uint32_t lin, uint32_t paddr, bool large)
{
    uint32_t p = lin >> 12, region = lin >> 22;
    uint32_t frame4 = paddr & ~0x3fffffu;
    if (s->frame_of[w][p] != (paddr >> 12) + 1 || s->writable[w][p] || phys_is_code(s->pm, paddr))
        return false;
    if (large && s->large[w][region] == (frame4 >> 12) + 1 && !s->large_writable[w][region]) {
        uint32_t first = region << 10, end = first + 1024;
        /* frame_became_code finds writable pages of large fills by region:
         * set first, for the pages made writable before any refusal */
        s->large_writable[w][region] = true;
        for (uint32_t q = first; q < end;) {
            uint32_t r = q;
            while (r < end && s->frame_of[w][r] == (frame4 >> 12) + (r - first) + 1 &&
                   !s->writable[w][r] && !phys_is_code(s->pm, frame4 + ((r - first) << 12)))
                r++;
            if (r > q && upgrade_run(s, w, q, r) < 0)
                return false; /* the pages done are writable and recorded */
            q = r > q ? r : q + 1;
        }
        return true;
    }
    if (upgrade_run(s, w, p, p + 1) < 0)
        return false;
    if (s->large[w][region])
        s->large_writable[w][region] = true;
    else
        rmap_add(s, paddr & ~0xfffu, w, lin);
    return true;
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

/*
 * The host VMAs a new mapping of [lin, lin+len) adds (or removes) in a
 * window: one of its own, plus one when it splits the reservation (empty
 * pages on both sides), minus one when it fills a gap (mapped pages on
 * both sides), minus one for each neighbour the host merges it with
 * (mm/mmap.c merges file mappings that continue each other).
 */
static int vma_delta(const shadow_space *s, int w, uint32_t lin, uint32_t frame, uint32_t len,
                     bool writable)
{
    uint32_t p = lin >> 12, n = len >> 12;
    uint32_t left = p > 0 ? s->frame_of[w][p - 1] : 0;
    uint32_t right = p + n < (1u << 20) ? s->frame_of[w][p + n] : 0;
    int delta = 1 + (!left && !right) - (left && right);
    if (left && left == (frame >> 12) && s->writable[w][p - 1] == writable)
        delta--;
    if (right && right == (frame >> 12) + n + 1 && s->writable[w][p + n] == writable)
        delta--;
    return delta;
}

/* Map [lin, lin+len) to [frame, frame+len) with code frames read-only. */
static int map_run(shadow_space *s, int w, uint32_t lin, uint32_t frame, uint32_t len, bool writable,
                   bool global, bool large)
{
    if (window_map(&s->win[w], lin, frame, len, writable) < 0)
        return -1;
    if (w == SHADOW_USER)
        s->user_filled = true;
    int delta = vma_delta(s, w, lin, frame, len, writable);
    s->vmas = delta < 0 && s->vmas < (uint32_t)-delta ? 0 : s->vmas + (uint32_t)delta;
    shadow_fill_rec *last = s->nfills ? &s->fills[s->nfills - 1] : NULL;
    if (last && !large && !last->large && last->win == w && last->global == global &&
        last->lin + ((uint64_t)last->pages << 12) == lin && last->pages + (len >> 12) <= (1u << 19))
        last->pages += len >> 12;
    else
        s->fills[s->nfills++] = (shadow_fill_rec){ .lin = lin, .pages = len >> 12,
                                                   .win = (uint8_t)w, .large = large,
                                                   .global = global };
    for (uint32_t off = 0; off < len; off += 0x1000) {
        uint32_t p = (lin + off) >> 12;
        bool wr = writable;
        if (wr && phys_is_code(s->pm, frame + off)) {
            mprotect(s->win[w].base + lin + off, 0x1000, PROT_READ);
            s->vmas += 2;
            wr = false;
        }
        s->frame_of[w][p] = ((frame + off) >> 12) + 1;
        s->writable[w][p] = wr;
        if (wr && !large)
            rmap_add(s, frame + off, w, lin + off);
    }
    if (large) {
        s->large[w][lin >> 22] = (frame >> 12) + 1;
        s->large_writable[w][lin >> 22] = writable;
    }
    s->stats.fill_pages += len >> 12;
    return 0;
}

/*
 * Batched fills: the page-table entries around the faulting one that map
 * the following (preceding) frames with the same rights join the fill, so
 * a guest's contiguous mapping costs one mmap and one VMA instead of one
 * per page.  Only entries the guest has already used (accessed bit set)
 * join, so batching changes nothing the guest can see — a hardware TLB
 * may prefetch and set A (SDM Vol. 3A §4.10.2.3), but the interpreter
 * does not, and the differential test compares them exactly; a run kept
 * writable needs the dirty bit set on each entry.  The run stays in the
 * faulting entry's page table.
 */
#define BATCH_RIGHTS (PTE_P | PTE_RW | PTE_US | PTE_PWT | PTE_PCD | PTE_G)

static void batch_neighbours(shadow_space *s, const pg_control *pc, int w, uint32_t lin,
                             uint32_t frame, bool writable, uint32_t *first, uint32_t *last)
{
    phys_mem *pm = s->pm;
    uint32_t pde = phys_read(pm, ((pc->cr3 & ~0xfffu) | ((lin >> 20) & 0xffc)) & pm->a20_mask, 4);
    uint32_t pt = pde & ~0xfffu;
    uint32_t idx = (lin >> 12) & 1023;
    uint32_t pte0 = phys_read(pm, (pt + idx * 4) & pm->a20_mask, 4);
    for (int dir = -1; dir <= 1; dir += 2) {
        for (int32_t j = (int32_t)idx + dir; j >= 0 && j < 1024; j += dir) {
            uint32_t at = (pt + (uint32_t)j * 4) & pm->a20_mask;
            uint32_t pte = phys_read(pm, at, 4);
            uint32_t want = frame + (uint32_t)(j - (int32_t)idx) * 0x1000u;
            if ((pte & BATCH_RIGHTS) != (pte0 & BATCH_RIGHTS) || (pte & ~0xfffu) != want ||
                !(pte & PTE_A) || (writable && !(pte & PTE_D)) || !ram_frames(pm, want, 0x1000))
                break;
            uint32_t p = ((lin >> 22) << 10) | (uint32_t)j;
            if (s->frame_of[w][p])
                break; /* mapped already: re-mapping it would only cost */
            if (dir < 0)
                *first = p;
            else
                *last = p;
        }
    }
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
    if (s->vmas + 4 >= s->vma_budget || s->nfills >= s->fills_cap ||
        s->rmap_used + 1024 > s->rmap_cap)
        shadow_wipe(s); /* rare: start over rather than grow */
    if (writable && upgrade(s, w, lin, paddr, t.large))
        return SHADOW_MAPPED;
    s->stats.fills++;
    if (t.large) {
        uint32_t lin4 = lin & ~0x3fffffu, frame4 = paddr & ~0x3fffffu;
        if (ram_frames(s->pm, frame4, 1u << 22)) {
            if (map_run(s, w, lin4, frame4, 1u << 22, writable, t.global, true) < 0)
                return SHADOW_EMULATE;
            s->stats.large_fills++;
            return SHADOW_MAPPED;
        }
    }
    uint32_t first = lin >> 12, last = lin >> 12;
    batch_neighbours(s, pc, w, lin, frame, writable, &first, &last);
    if (last > first)
        s->stats.batched_fills++;
    uint32_t run_frame = frame - ((lin >> 12) - first) * 0x1000u;
    if (map_run(s, w, first << 12, run_frame, (last - first + 1) << 12, writable, t.global, false) < 0)
        return SHADOW_EMULATE;
    return SHADOW_MAPPED;
}
