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
    s->dropping = calloc(1u << 20, 1);
    s->dropped = malloc((1u << 20) * sizeof(uint32_t));
    if (!s->rmap_head || !s->rmap || !s->fills || !s->dropping || !s->dropped)
        return -1;
    memset(s->rmap_head, 0xff, frames * sizeof(int32_t));
    for (int w = 0; w < 2; w++) {
        s->frame_of[w] = calloc(1u << 20, sizeof(uint32_t));
        s->writable[w] = calloc(1u << 20, sizeof(bool));
        s->global[w] = calloc(1u << 20, sizeof(bool));
        if (!s->frame_of[w] || !s->writable[w] || !s->global[w] || window_init(&s->win[w], pm) < 0)
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
        free(s->global[w]);
    }
    free(s->rmap_head);
    free(s->rmap);
    free(s->fills);
    free(s->dropping);
    free(s->dropped);
    memset(s, 0, sizeof(*s));
}

static void forget_range(shadow_space *s, int w, uint32_t lin, uint32_t len)
{
    for (uint32_t p = lin >> 12; p < (lin >> 12) + (len >> 12); p++) {
        s->frame_of[w][p] = 0;
        s->writable[w][p] = false;
        s->global[w][p] = false;
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
    s->vmas = s->win_vmas[0] = s->win_vmas[1] = 0;
    s->stats.wipes++;
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
static uint32_t frame_at(const shadow_space *s, int w, uint32_t p)
{
    return p < (1u << 20) ? s->frame_of[w][p] : 0; /* the guards beyond are holes */
}

/* Is there a boundary between pages a and a + 1 (a may be -1)? */
static bool vma_edge(const shadow_space *s, int w, uint32_t a)
{
    uint32_t fa = frame_at(s, w, a), fb = frame_at(s, w, a + 1);
    if (!fa || !fb)
        return !fa != !fb;
    return fb != fa + 1 || s->writable[w][a] != s->writable[w][a + 1];
}

/* The boundaries at the edges of and inside pages [first, end). */
static uint32_t vma_edges(const shadow_space *s, int w, uint32_t first, uint32_t end)
{
    uint32_t n = 0;
    for (uint32_t a = first - 1; a != end; a++)
        n += vma_edge(s, w, a);
    return n;
}

static void count_vmas(shadow_space *s, int w, uint32_t before, uint32_t after)
{
    uint32_t *v = &s->win_vmas[w];
    if (after >= before)
        *v += after - before;
    else
        *v = *v > before - after ? *v - (before - after) : 0;
    s->vmas = s->win_vmas[0] + s->win_vmas[1];
}

/* The boundaries around the n pages in dropped[] (marked in dropping[]),
 * each counted once. */
static uint32_t dropped_edges(const shadow_space *s, uint32_t n)
{
    const int w = SHADOW_SUPERVISOR;
    uint32_t e = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t p = s->dropped[i];
        e += vma_edge(s, w, p - 1);
        if (p + 1 == (1u << 20) || !s->dropping[p + 1])
            e += vma_edge(s, w, p);
    }
    return e;
}

/* Map the pages of a kept fill that are still global again after an
 * unmap that covered them: their frames and rights are still in
 * frame_of/writable.  (A page of the fill that INVLPG dropped and a
 * later fill mapped non-global is not the fill's any more.) */
static int remap(shadow_space *s, const shadow_fill_rec *f)
{
    int w = f->win;
    mmu_window *win = &s->win[w];
    uint32_t first = f->lin >> 12, end = first + f->pages;
    for (uint32_t p = first; p < end;) {
        uint32_t q = p + 1;
        while (q < end && s->frame_of[w][q] == s->frame_of[w][p] + (q - p) &&
               s->writable[w][q] == s->writable[w][p] && s->global[w][q] == s->global[w][p])
            q++;
        if (s->frame_of[w][p] && s->global[w][p] &&
            window_map(win, p << 12, (s->frame_of[w][p] - 1) << 12, (q - p) << 12, s->writable[w][p]) < 0)
            return -1;
        p = q;
    }
    return 0;
}

/* List (and mark) the pages a CR3 write takes from the supervisor window:
 * mapped, not global, in a non-global fill.  Returns their number. */
static uint32_t list_dropped(shadow_space *s)
{
    const int w = SHADOW_SUPERVISOR;
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->nfills; i++) {
        const shadow_fill_rec *f = &s->fills[i];
        if (f->win != w || f->global)
            continue;
        for (uint32_t p = f->lin >> 12; p < (f->lin >> 12) + f->pages; p++) {
            if (s->frame_of[w][p] && !s->global[w][p] && !s->dropping[p]) {
                s->dropping[p] = 1;
                s->dropped[n++] = p;
            }
        }
    }
    return n;
}

static void unlist_dropped(shadow_space *s, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        s->dropping[s->dropped[i]] = 0;
}

/* Forget the pages of a dropped fill that no later global fill took over. */
static void forget_nonglobal(shadow_space *s, const shadow_fill_rec *f)
{
    uint32_t first = f->lin >> 12, end = first + f->pages;
    for (uint32_t p = first; p < end; p++) {
        if (!s->global[f->win][p]) {
            s->frame_of[f->win][p] = 0;
            s->writable[f->win][p] = false;
        }
    }
    if (f->large && !s->global[f->win][first])
        s->large[f->win][f->lin >> 22] = 0;
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
 * global fills inside that span, if any, are mapped again.  Which page
 * is global is the page's own record (global[]), not its fill's: INVLPG
 * may have dropped a page of a global fill and a later fill mapped it
 * non-global (SDM Vol. 3A §4.10.4.1: only the current translation counts).
 */
void shadow_flush_nonglobal(shadow_space *s)
{
    if (s->user_filled) {
        window_clear(&s->win[SHADOW_USER]);
        s->user_filled = false;
    }
    s->win_vmas[SHADOW_USER] = 0;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint32_t i = 0; i < s->nfills; i++) {
        const shadow_fill_rec *f = &s->fills[i];
        if (f->win == SHADOW_SUPERVISOR && !f->global) {
            lo = f->lin < lo ? f->lin : lo;
            hi = f->lin + ((uint64_t)f->pages << 12) > hi ? f->lin + ((uint64_t)f->pages << 12) : hi;
        }
    }
    /* Only the pages dropped change the window's VMAs: the span's holes
     * stay holes and its global pages are mapped again as they were. */
    uint32_t ndropped = list_dropped(s);
    uint32_t before = dropped_edges(s, ndropped);
    if (hi > lo && window_unmap(&s->win[SHADOW_SUPERVISOR], (uint32_t)lo, (uint32_t)(hi - lo)) < 0)
        goto refused;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < s->nfills; i++) {
        shadow_fill_rec f = s->fills[i];
        uint32_t len = (uint32_t)f.pages << 12;
        if (f.win == SHADOW_SUPERVISOR && f.global) {
            if (f.lin + (uint64_t)len > lo && f.lin < hi && remap(s, &f) < 0)
                goto refused;
            s->fills[kept++] = f;
        } else if (f.win == SHADOW_USER) {
            forget_range(s, f.win, f.lin, len);
            if (f.large)
                s->large[f.win][f.lin >> 22] = 0;
        } else {
            forget_nonglobal(s, &f);
        }
    }
    count_vmas(s, SHADOW_SUPERVISOR, before, dropped_edges(s, ndropped));
    unlist_dropped(s, ndropped);
    s->nfills = kept;
    /* The reverse map may name dropped mappings: it is checked on use. */
    s->stats.cr3_flushes++;
    s->stats.kept_global += kept;
    return;
refused:
    /* The host refused an unmap or a mapping: start over, so that nothing
     * stays mapped that the bookkeeping does not know. */
    unlist_dropped(s, ndropped);
    shadow_wipe(s);
    s->stats.cr3_flushes++;
}

static void rmap_add(shadow_space *s, uint32_t frame, int w, uint32_t lin)
{
    int32_t i = (int32_t)s->rmap_used++;
    s->rmap[i] = (shadow_rmap){ .lin_page = lin >> 12, .frame = frame >> 12, .win = (uint8_t)w,
                                .next = s->rmap_head[frame >> 12] };
    s->rmap_head[frame >> 12] = i;
}

/* Pages [first, end) of window w, mapped, get the rights given, with one
 * mprotect.  0, or -1 with nothing changed. */
static int protect_run(shadow_space *s, int w, uint32_t first, uint32_t end, bool writable)
{
    uint32_t before = vma_edges(s, w, first, end);
    if (mprotect(s->win[w].base + ((uintptr_t)first << 12), (size_t)(end - first) << 12,
                 PROT_READ | (writable ? PROT_WRITE : 0)) < 0)
        return -1;
    for (uint32_t p = first; p < end; p++)
        s->writable[w][p] = writable;
    count_vmas(s, w, before, vma_edges(s, w, first, end));
    return 0;
}

/* Pages [first, end) of window w, mapped read-only to frames that are not
 * code, become writable.  0 or -1 (nothing changed). */
static int upgrade_run(shadow_space *s, int w, uint32_t first, uint32_t end)
{
    if (protect_run(s, w, first, end, true) < 0)
        return -1;
    s->stats.upgrades++;
    s->stats.upgraded_pages += end - first;
    return 0;
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
        if (protect_run(s, r->win, r->lin_page, r->lin_page + 1, false) < 0) {
            shadow_wipe(s); /* the host refused: no writable mapping may stay */
            return;
        }
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
            if (!s->writable[w][lin >> 12])
                continue;
            if (protect_run(s, w, lin >> 12, (lin >> 12) + 1, false) < 0) {
                shadow_wipe(s);
                return;
            }
            s->stats.downgrades++;
        }
    }
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

/* Map [lin, lin+len) to [frame, frame+len) with code frames read-only,
 * over whatever the window held there. */
static int map_run(shadow_space *s, int w, uint32_t lin, uint32_t frame, uint32_t len, bool writable,
                   bool global, bool large)
{
    uint32_t first = lin >> 12, end = first + (len >> 12);
    uint32_t before = vma_edges(s, w, first, end);
    if (window_map(&s->win[w], lin, frame, len, writable) < 0)
        goto refused; /* the host may have unmapped what was there */
    if (w == SHADOW_USER)
        s->user_filled = true;
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
        s->frame_of[w][p] = ((frame + off) >> 12) + 1;
        s->global[w][p] = global;
        if (wr && phys_is_code(s->pm, frame + off)) {
            if (mprotect(s->win[w].base + lin + off, 0x1000, PROT_READ) < 0)
                goto refused;
            wr = false;
        }
        s->writable[w][p] = wr;
        if (wr && !large)
            rmap_add(s, frame + off, w, lin + off);
    }
    count_vmas(s, w, before, vma_edges(s, w, first, end));
    if (large) {
        s->large[w][lin >> 22] = (frame >> 12) + 1;
        s->large_writable[w][lin >> 22] = writable;
    }
    s->stats.fill_pages += len >> 12;
    return 0;
refused:
    /* Nothing may stay mapped that the bookkeeping does not know, and no
     * code frame writable: take the run out. */
    if (window_unmap(&s->win[w], lin, len) < 0) {
        shadow_wipe(s);
        return -1;
    }
    forget_range(s, w, lin, len);
    if (large)
        s->large[w][lin >> 22] = 0;
    count_vmas(s, w, before, vma_edges(s, w, first, end));
    return -1;
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

/* Mapped writable only when a write would not need the walker: D set,
 * and the rights allow it (SDM Vol. 3A §4.6.1: CR0.WP=0 lets the
 * supervisor write read-only pages). */
static bool fill_writable(const pg_control *pc, const pg_translation *t, bool user)
{
    bool wp = pc->cr0 & 0x00010000u;
    return t->dirty && (user ? (t->rw && t->us) : (t->rw || !wp));
}

/* Room for a fill of up to pages writable pages in the bookkeeping. */
static bool room_for(const shadow_space *s, uint32_t pages)
{
    return s->vmas + 4 < s->vma_budget && s->nfills < s->fills_cap &&
           s->rmap_used + pages <= s->rmap_cap;
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
    bool writable = fill_writable(pc, &t, user);
    if (!room_for(s, 1024))
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

/* Drop page p of window w from the host, or its whole 4 MiB fill. */
static void drop(shadow_space *s, int w, uint32_t p)
{
    uint32_t first = p, end = p + 1;
    if (s->large[w][p >> 10]) {
        first = p & ~1023u, end = first + 1024;
        s->large[w][p >> 10] = 0;
    } else if (!s->frame_of[w][p]) {
        return;
    }
    uint32_t before = vma_edges(s, w, first, end);
    if (window_unmap(&s->win[w], first << 12, (end - first) << 12) < 0) {
        shadow_wipe(s); /* the host refused: nothing may stay mapped */
        return;
    }
    forget_range(s, w, first << 12, (end - first) << 12);
    count_vmas(s, w, before, vma_edges(s, w, first, end));
    s->stats.invlpg_drops++;
}

/*
 * The supervisor window's mapping of lin after an INVLPG, when the guest
 * has used the page already: present with A set at both levels, a 4 KiB
 * page of RAM.  Mapping it then is a TLB prefetch (SDM Vol. 3A
 * §4.10.2.3), which changes nothing the guest sees: nothing is written
 * to its tables (pg_peek), and a page whose A bit is clear waits for the
 * guest's access, whose walk sets it.
 */
static bool prefetch(shadow_space *s, const pg_control *pc, uint32_t lin, uint32_t *frame,
                     bool *writable, bool *global)
{
    pg_translation t;
    uint32_t pfec;
    if (!pg_peek(s->pm, pc, lin, PG_READ, false, &t, &pfec) || !t.accessed || t.large)
        return false;
    *frame = t.paddr & s->pm->a20_mask & ~0xfffu;
    if (!ram_frames(s->pm, *frame, 0x1000))
        return false;
    *writable = fill_writable(pc, &t, false) && !phys_is_code(s->pm, *frame);
    *global = t.global;
    return true;
}

/*
 * INVLPG drops the page from both windows (all of a 4 MiB fill).  Where
 * the supervisor window maps the page and the guest's new entry is one it
 * has used (above), the mapping is brought up to date instead: kept when
 * it maps the same frame with the same rights, re-protected when only
 * the rights changed, replaced by one mmap when the frame changed — where
 * an unmap, the host fault of the next access and a fill would cost three
 * kernel entries.
 *
 * A page the window does not map stays unmapped until the guest uses it,
 * though its new entry may be one the guest used already.  Mapping such
 * pages at INVLPG was measured slower: Linux's early_memremap maps runs
 * of 1 to 16 fixmap pages with an INVLPG each (~35,000 a boot), where
 * the first access's fault maps the whole run with one mmap.
 */
void shadow_invlpg(shadow_space *s, const pg_control *pc, uint32_t lin)
{
    const int w = SHADOW_SUPERVISOR;
    uint32_t p = lin >> 12, frame;
    bool writable, global;
    s->stats.invlpgs++;
    drop(s, SHADOW_USER, p);
    if (!s->frame_of[w][p] || s->large[w][p >> 10] ||
        !prefetch(s, pc, lin, &frame, &writable, &global) || !room_for(s, 1)) {
        drop(s, w, p);
        return;
    }
    if (s->frame_of[w][p] == (frame >> 12) + 1 && s->global[w][p] == global) {
        if (s->writable[w][p] == writable) {
            s->stats.invlpg_kept++;
            return;
        }
        if (protect_run(s, w, p, p + 1, writable) == 0) {
            if (writable)
                rmap_add(s, frame, w, lin);
            s->stats.invlpg_kept++;
            return;
        }
    }
    if (map_run(s, w, lin & ~0xfffu, frame, 0x1000, writable, global, false) < 0) {
        drop(s, w, p);
        return;
    }
    s->stats.invlpg_replaced++;
}
