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
    s->dropping = calloc(1u << 20, 1);
    s->dropped = malloc((1u << 20) * sizeof(uint32_t));
    if (!s->rmap_head || !s->rmap || !s->dropping || !s->dropped)
        return -1;
    memset(s->rmap_head, 0xff, frames * sizeof(int32_t));
    for (int v = 0; v < 1 + SHADOW_SPACES; v++) {
        shadow_view *w = &s->view[v];
        w->frame_of = calloc(1u << 20, sizeof(uint32_t));
        w->writable = calloc(1u << 20, sizeof(bool));
        w->global = calloc(1u << 20, sizeof(bool));
        w->fills = malloc(s->fills_cap * sizeof(shadow_fill_rec));
        if (!w->frame_of || !w->writable || !w->global || !w->fills || window_init(&w->win, pm) < 0)
            return -1;
    }
    for (int i = 0; i < SHADOW_SPACES; i++)
        if (!(s->space[i].pte = malloc((1u << 20) * sizeof(uint32_t))))
            return -1;
    return 0;
}

void shadow_destroy(shadow_space *s)
{
    for (int v = 0; v < 1 + SHADOW_SPACES; v++) {
        shadow_view *w = &s->view[v];
        window_destroy(&w->win);
        free(w->frame_of);
        free(w->writable);
        free(w->global);
        free(w->fills);
    }
    for (int i = 0; i < SHADOW_SPACES; i++)
        free(s->space[i].pte);
    free(s->rmap_head);
    free(s->rmap);
    free(s->dropping);
    free(s->dropped);
    memset(s, 0, sizeof(*s));
}

static bool is_user_view(int v)
{
    return v != 0;
}

static void forget_range(shadow_space *s, int v, uint32_t lin, uint32_t len)
{
    shadow_view *w = &s->view[v];
    for (uint32_t p = lin >> 12; p < (lin >> 12) + (len >> 12); p++) {
        w->frame_of[p] = 0;
        w->writable[p] = false;
        w->global[p] = false;
    }
}

static void sum_vmas(shadow_space *s)
{
    s->vmas = 0;
    for (int v = 0; v < 1 + SHADOW_SPACES; v++)
        s->vmas += s->view[v].vmas;
}

/* Empty view v: one unmap; the bookkeeping in proportion to its fills. */
static void empty_view(shadow_space *s, int v)
{
    shadow_view *w = &s->view[v];
    if (w->nfills)
        window_clear(&w->win);
    for (uint32_t i = 0; i < w->nfills; i++) {
        const shadow_fill_rec *f = &w->fills[i];
        forget_range(s, v, f->lin, (uint32_t)f->pages << 12);
        if (f->large)
            w->large[f->lin >> 22] = 0;
    }
    w->nfills = 0;
    w->vmas = 0;
    sum_vmas(s);
}

/* Cost proportional to what was filled, not to the 4 GiB. */
void shadow_wipe(shadow_space *s)
{
    for (int v = 0; v < 1 + SHADOW_SPACES; v++)
        empty_view(s, v);
    for (uint32_t i = 0; i < s->rmap_used; i++)
        s->rmap_head[s->rmap[i].frame] = -1;
    s->rmap_used = 0;
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
static uint32_t frame_at(const shadow_view *w, uint32_t p)
{
    return p < (1u << 20) ? w->frame_of[p] : 0; /* the guards beyond are holes */
}

/* Is there a boundary between pages a and a + 1 (a may be -1)? */
static bool vma_edge(const shadow_view *w, uint32_t a)
{
    uint32_t fa = frame_at(w, a), fb = frame_at(w, a + 1);
    if (!fa || !fb)
        return !fa != !fb;
    return fb != fa + 1 || w->writable[a] != w->writable[a + 1];
}

/* The boundaries at the edges of and inside pages [first, end). */
static uint32_t vma_edges(const shadow_space *s, int v, uint32_t first, uint32_t end)
{
    uint32_t n = 0;
    for (uint32_t a = first - 1; a != end; a++)
        n += vma_edge(&s->view[v], a);
    return n;
}

static void count_vmas(shadow_space *s, int v, uint32_t before, uint32_t after)
{
    uint32_t *n = &s->view[v].vmas;
    if (after >= before)
        *n += after - before;
    else
        *n = *n > before - after ? *n - (before - after) : 0;
    sum_vmas(s);
}

/* The boundaries around the n pages in dropped[] (marked in dropping[])
 * of view v, each counted once. */
static uint32_t dropped_edges(const shadow_space *s, int v, uint32_t n)
{
    const shadow_view *w = &s->view[v];
    uint32_t e = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t p = s->dropped[i];
        e += vma_edge(w, p - 1);
        if (p + 1 == (1u << 20) || !s->dropping[p + 1])
            e += vma_edge(w, p);
    }
    return e;
}

/* Map the pages of a kept supervisor fill that are still global again
 * after an unmap that covered them: their frames and rights are still in
 * frame_of/writable.  (A page of the fill that INVLPG dropped and a later
 * fill mapped non-global is not the fill's any more.) */
static int remap(shadow_space *s, const shadow_fill_rec *f)
{
    shadow_view *w = &s->view[0];
    uint32_t first = f->lin >> 12, end = first + f->pages;
    for (uint32_t p = first; p < end;) {
        uint32_t q = p + 1;
        while (q < end && w->frame_of[q] == w->frame_of[p] + (q - p) &&
               w->writable[q] == w->writable[p] && w->global[q] == w->global[p])
            q++;
        if (w->frame_of[p] && w->global[p] &&
            window_map(&w->win, p << 12, (w->frame_of[p] - 1) << 12, (q - p) << 12, w->writable[p],
                       false) < 0)
            return -1;
        p = q;
    }
    return 0;
}

/* List (and mark) the pages a CR3 write takes from the supervisor window:
 * mapped, not global, in a non-global fill.  Returns their number. */
static uint32_t list_dropped(shadow_space *s)
{
    const shadow_view *w = &s->view[0];
    uint32_t n = 0;
    for (uint32_t i = 0; i < w->nfills; i++) {
        const shadow_fill_rec *f = &w->fills[i];
        if (f->global)
            continue;
        for (uint32_t p = f->lin >> 12; p < (f->lin >> 12) + f->pages; p++) {
            if (w->frame_of[p] && !w->global[p] && !s->dropping[p]) {
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
    shadow_view *w = &s->view[0];
    uint32_t first = f->lin >> 12, end = first + f->pages;
    for (uint32_t p = first; p < end; p++) {
        if (!w->global[p]) {
            w->frame_of[p] = 0;
            w->writable[p] = false;
        }
    }
    if (f->large && !w->global[first])
        w->large[f->lin >> 22] = 0;
}

/*
 * The supervisor window at a CR3 write: global fills stay.
 *
 * Every unmap of a populated mapping costs the host a TLB flush, which
 * is dear (tens of microseconds where the host is itself virtualised),
 * so the non-global mappings go in one unmap of the span they cover —
 * for Linux, the user half the kernel touched — and the global fills
 * inside that span, if any, are mapped again.  Which page is global is
 * the page's own record (global[]), not its fill's: INVLPG may have
 * dropped a page of a global fill and a later fill mapped it non-global
 * (SDM Vol. 3A §4.10.4.1: only the current translation counts).
 */
static void flush_supervisor(shadow_space *s)
{
    shadow_view *w = &s->view[0];
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint32_t i = 0; i < w->nfills; i++) {
        const shadow_fill_rec *f = &w->fills[i];
        if (!f->global) {
            lo = f->lin < lo ? f->lin : lo;
            hi = f->lin + ((uint64_t)f->pages << 12) > hi ? f->lin + ((uint64_t)f->pages << 12) : hi;
        }
    }
    /* Only the pages dropped change the window's VMAs: the span's holes
     * stay holes and its global pages are mapped again as they were. */
    uint32_t ndropped = list_dropped(s);
    uint32_t before = dropped_edges(s, 0, ndropped);
    if (hi > lo && window_unmap(&w->win, (uint32_t)lo, (uint32_t)(hi - lo)) < 0)
        goto refused;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < w->nfills; i++) {
        shadow_fill_rec f = w->fills[i];
        if (f.global) {
            if (f.lin + ((uint64_t)f.pages << 12) > lo && f.lin < hi && remap(s, &f) < 0)
                goto refused;
            w->fills[kept++] = f;
        } else {
            forget_nonglobal(s, &f);
        }
    }
    count_vmas(s, 0, before, dropped_edges(s, 0, ndropped));
    unlist_dropped(s, ndropped);
    w->nfills = kept;
    /* The reverse map may name dropped mappings: it is checked on use. */
    s->stats.kept_global += kept;
    return;
refused:
    /* The host refused an unmap or a mapping: start over, so that nothing
     * stays mapped that the bookkeeping does not know. */
    unlist_dropped(s, ndropped);
    shadow_wipe(s);
}

/* Pages [first, end) of view v, mapped, get the rights given, with one
 * mprotect.  0, or -1 with nothing changed. */
static int protect_run(shadow_space *s, int v, uint32_t first, uint32_t end, bool writable)
{
    shadow_view *w = &s->view[v];
    uint32_t before = vma_edges(s, v, first, end);
    if (mprotect(w->win.base + ((uintptr_t)first << 12), (size_t)(end - first) << 12,
                 PROT_READ | (writable ? PROT_WRITE : 0)) < 0)
        return -1;
    for (uint32_t p = first; p < end; p++)
        w->writable[p] = writable;
    count_vmas(s, v, before, vma_edges(s, v, first, end));
    return 0;
}

/* Unmap pages [first, end) of view v and forget them.  0, or -1 after a
 * wipe (the host refused). */
static int unmap_run(shadow_space *s, int v, uint32_t first, uint32_t end)
{
    uint32_t before = vma_edges(s, v, first, end);
    if (window_unmap(&s->view[v].win, first << 12, (end - first) << 12) < 0) {
        shadow_wipe(s); /* nothing may stay mapped that the bookkeeping does not know */
        return -1;
    }
    forget_range(s, v, first << 12, (end - first) << 12);
    count_vmas(s, v, before, vma_edges(s, v, first, end));
    return 0;
}

/*
 * A kept user window comes back: each page it maps is checked against the
 * guest's tables as they are now (read without setting A or D).  Entries
 * equal to the ones it was mapped from: kept.  Same frame, still present,
 * accessed and user, but the write right or D gone (Linux's fork
 * write-protects for copy-on-write; writeback cleans): write-protected, so
 * the next write faults and sets D through the walker.  Anything else — a
 * new frame, not present, A cleared (the guest ages pages by clearing it:
 * the next access must set it again) — dropped, in runs.  What stays is
 * what an empty TLB would refill from these tables.
 */
static void check_space(shadow_space *s, int i, const pg_control *pc)
{
    phys_mem *pm = s->pm;
    const int v = 1 + i;
    shadow_view *w = &s->view[v];
    shadow_space_tag *sp = &s->space[i];
    uint32_t pd = pc->cr3 & ~0xfffu;
    for (uint32_t k = 0; k < w->nfills; k++) {
        const shadow_fill_rec *f = &w->fills[k];
        uint32_t first = f->lin >> 12, end = first + f->pages;
        if (f->large) {
            uint32_t r = f->lin >> 22;
            if (!w->large[r])
                continue;
            s->stats.checked_pages += 1024;
            if (phys_read(pm, (pd + r * 4) & pm->a20_mask, 4) != sp->pde[r]) {
                w->large[r] = 0;
                s->stats.checked_drops++;
                if (unmap_run(s, v, first, end) < 0)
                    return;
            }
            continue;
        }
        uint32_t region = UINT32_MAX, pde = 0, run = 0;
        bool pde_ok = false;
        const uint8_t *pt = NULL; /* the page table, when it is RAM */
        for (uint32_t p = first; p <= end; p++) {
            bool drop_p = false;
            if (p < end && w->frame_of[p]) {
                s->stats.checked_pages++;
                if (p >> 10 != region) {
                    region = p >> 10;
                    pde = phys_read(pm, (pd + region * 4) & pm->a20_mask, 4);
                    pde_ok = pde == sp->pde[region];
                    pt = pde_ok ? phys_page_ptr(pm, pde & ~0xfffu & pm->a20_mask, false) : NULL;
                }
                uint32_t pte = 0;
                if (pt)
                    memcpy(&pte, pt + (p & 1023) * 4, 4);
                else if (pde_ok)
                    pte = phys_read(pm, ((pde & ~0xfffu) + (p & 1023) * 4) & pm->a20_mask, 4);
                if (!pde_ok) {
                    drop_p = true;
                } else if (pte != sp->pte[p]) {
                    const uint32_t need = PTE_P | PTE_A | PTE_US;
                    if ((pte & need) != need || (pte & ~0xfffu) != (w->frame_of[p] - 1) << 12) {
                        drop_p = true;
                    } else {
                        if (w->writable[p] && (pte & (PTE_RW | PTE_D)) != (PTE_RW | PTE_D)) {
                            if (protect_run(s, v, p, p + 1, false) < 0) {
                                shadow_wipe(s);
                                return;
                            }
                            s->stats.checked_downgrades++;
                        }
                        sp->pte[p] = pte;
                    }
                }
            }
            if (drop_p) {
                run++;
                s->stats.checked_drops++;
                continue;
            }
            if (run && unmap_run(s, v, p - run, p) < 0)
                return;
            run = 0;
        }
    }
    /* Fills none of whose pages is still mapped go from the list. */
    uint32_t kept = 0;
    for (uint32_t k = 0; k < w->nfills; k++) {
        const shadow_fill_rec *f = &w->fills[k];
        bool mapped = f->large && w->large[f->lin >> 22];
        for (uint32_t p = f->lin >> 12; !mapped && p < (f->lin >> 12) + f->pages; p++)
            mapped = w->frame_of[p] != 0;
        if (mapped)
            w->fills[kept++] = *f;
    }
    w->nfills = kept;
}

void shadow_cr3_write(shadow_space *s, const pg_control *pc)
{
    flush_supervisor(s);
    uint32_t cr3 = pc->cr3 & ~0xfffu;
    int pick = -1, lru = -1;
    for (int i = 0; i < SHADOW_SPACES; i++) {
        const shadow_space_tag *sp = &s->space[i];
        if (sp->tagged && sp->cr3 == cr3)
            pick = i;
        /* an unused one first, else the least recently used */
        if (lru < 0 || (!sp->tagged && s->space[lru].tagged) ||
            (sp->tagged == s->space[lru].tagged && sp->used < s->space[lru].used))
            lru = i;
    }
    if (pick >= 0) {
        s->cur = pick;
        s->stats.spaces_kept++;
        check_space(s, pick, pc);
    } else {
        s->cur = lru;
        if (s->view[1 + lru].nfills) {
            empty_view(s, 1 + lru);
            s->stats.spaces_evicted++;
        }
        s->space[lru].tagged = true;
        s->space[lru].cr3 = cr3;
    }
    s->space[s->cur].used = ++s->clock;
    s->stats.cr3_flushes++;
}

static void rmap_add(shadow_space *s, uint32_t frame, int v, uint32_t lin)
{
    int32_t i = (int32_t)s->rmap_used++;
    s->rmap[i] = (shadow_rmap){ .lin_page = lin >> 12, .frame = frame >> 12, .view = (uint8_t)v,
                                .next = s->rmap_head[frame >> 12] };
    s->rmap_head[frame >> 12] = i;
}

/* Pages [first, end) of view v, mapped read-only to frames that are not
 * code, become writable.  0 or -1 (nothing changed). */
static int upgrade_run(shadow_space *s, int v, uint32_t first, uint32_t end)
{
    if (protect_run(s, v, first, end, true) < 0)
        return -1;
    s->stats.upgrades++;
    s->stats.upgraded_pages += end - first;
    return 0;
}

/* Every window — the user windows of the address spaces not running
 * too, which come back without a fill. */
void shadow_frame_became_code(shadow_space *s, uint32_t paddr)
{
    uint32_t frame = paddr & ~0xfffu;
    if (frame >= s->pm->ram_size)
        return;
    for (int32_t i = s->rmap_head[frame >> 12]; i >= 0; i = s->rmap[i].next) {
        const shadow_rmap *r = &s->rmap[i];
        const shadow_view *w = &s->view[r->view];
        /* Records are not removed when a mapping goes: check it is current. */
        if (w->frame_of[r->lin_page] != (frame >> 12) + 1 || !w->writable[r->lin_page])
            continue;
        if (protect_run(s, r->view, r->lin_page, r->lin_page + 1, false) < 0) {
            shadow_wipe(s); /* the host refused: no writable mapping may stay */
            return;
        }
        s->stats.downgrades++;
    }
    s->rmap_head[frame >> 12] = -1;
    /* Writable 4 MiB fills of the frame's large frame are not in the rmap. */
    for (int v = 0; v < 1 + SHADOW_SPACES; v++) {
        shadow_view *w = &s->view[v];
        for (uint32_t region = 0; region < 1024; region++) {
            uint32_t f4 = w->large[region];
            if (!f4 || !w->large_writable[region] || ((f4 - 1) << 12) != (frame & ~0x3fffffu))
                continue;
            uint32_t lin = (region << 22) | (frame & 0x3ff000u);
            if (!w->writable[lin >> 12])
                continue;
            if (protect_run(s, v, lin >> 12, (lin >> 12) + 1, false) < 0) {
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

/*
 * Map [lin, lin+len) of view v to [frame, frame+len) with code frames
 * read-only, over whatever the window held there.
 *
 * A run of 4 KiB pages is populated: the guest has used each of them (A
 * set), and a host page fault per page at its next touch is the dearest
 * part of a fill on a paravirtualised host (the compute benchmark's
 * batched runs of 1024 pages cost 49,000 of them, 18% of its time).  A
 * guest 4 MiB page is not: it is rarely touched all over, and populating
 * shmem allocates its frames.
 */
static int map_run(shadow_space *s, int v, uint32_t lin, uint32_t frame, uint32_t len, bool writable,
                   bool global, bool large)
{
    shadow_view *w = &s->view[v];
    uint32_t first = lin >> 12, end = first + (len >> 12);
    uint32_t before = vma_edges(s, v, first, end);
    if (window_map(&w->win, lin, frame, len, writable, !large) < 0)
        goto refused; /* the host may have unmapped what was there */
    shadow_fill_rec *last = w->nfills ? &w->fills[w->nfills - 1] : NULL;
    if (last && !large && !last->large && last->global == global &&
        last->lin + ((uint64_t)last->pages << 12) == lin && last->pages + (len >> 12) <= (1u << 19))
        last->pages += len >> 12;
    else
        w->fills[w->nfills++] = (shadow_fill_rec){ .lin = lin, .pages = len >> 12, .large = large,
                                                   .global = global };
    for (uint32_t off = 0; off < len; off += 0x1000) {
        uint32_t p = (lin + off) >> 12;
        bool wr = writable;
        w->frame_of[p] = ((frame + off) >> 12) + 1;
        w->global[p] = global;
        if (wr && phys_is_code(s->pm, frame + off)) {
            if (mprotect(w->win.base + lin + off, 0x1000, PROT_READ) < 0)
                goto refused;
            wr = false;
        }
        w->writable[p] = wr;
        if (wr && !large)
            rmap_add(s, frame + off, v, lin + off);
    }
    count_vmas(s, v, before, vma_edges(s, v, first, end));
    if (large) {
        w->large[lin >> 22] = (frame >> 12) + 1;
        w->large_writable[lin >> 22] = writable;
    }
    s->stats.fill_pages += len >> 12;
    return 0;
refused:
    /* Nothing may stay mapped that the bookkeeping does not know, and no
     * code frame writable: take the run out. */
    if (window_unmap(&w->win, lin, len) < 0) {
        shadow_wipe(s);
        return -1;
    }
    forget_range(s, v, lin, len);
    if (large)
        w->large[lin >> 22] = 0;
    count_vmas(s, v, before, vma_edges(s, v, first, end));
    return -1;
}

/* A user window records the entries it maps pages [first, end] from, as
 * the fill's walk left them (A, D set), for check_space. */
static void record_entries(shadow_space *s, int v, const pg_control *pc, uint32_t first, uint32_t last,
                           bool large)
{
    phys_mem *pm = s->pm;
    shadow_space_tag *sp = &s->space[v - 1];
    uint32_t region = first >> 10;
    uint32_t pde = phys_read(pm, ((pc->cr3 & ~0xfffu) + region * 4) & pm->a20_mask, 4);
    sp->pde[region] = pde;
    if (large)
        return;
    for (uint32_t p = first; p <= last; p++)
        sp->pte[p] = phys_read(pm, ((pde & ~0xfffu) + (p & 1023) * 4) & pm->a20_mask, 4);
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

static void batch_neighbours(shadow_space *s, const pg_control *pc, int v, uint32_t lin,
                             uint32_t frame, bool writable, uint32_t *first, uint32_t *last)
{
    phys_mem *pm = s->pm;
    const shadow_view *w = &s->view[v];
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
            if (w->frame_of[p])
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
static bool upgrade(shadow_space *s, int v, uint32_t lin, uint32_t paddr, bool large)
{
    shadow_view *w = &s->view[v];
    uint32_t p = lin >> 12, region = lin >> 22;
    uint32_t frame4 = paddr & ~0x3fffffu;
    if (w->frame_of[p] != (paddr >> 12) + 1 || w->writable[p] || phys_is_code(s->pm, paddr))
        return false;
    if (large && w->large[region] == (frame4 >> 12) + 1 && !w->large_writable[region]) {
        uint32_t first = region << 10, end = first + 1024;
        /* frame_became_code finds writable pages of large fills by region:
         * set first, for the pages made writable before any refusal */
        w->large_writable[region] = true;
        for (uint32_t q = first; q < end;) {
            uint32_t r = q;
            while (r < end && w->frame_of[r] == (frame4 >> 12) + (r - first) + 1 &&
                   !w->writable[r] && !phys_is_code(s->pm, frame4 + ((r - first) << 12)))
                r++;
            if (r > q && upgrade_run(s, v, q, r) < 0)
                return false; /* the pages done are writable and recorded */
            q = r > q ? r : q + 1;
        }
        return true;
    }
    if (upgrade_run(s, v, p, p + 1) < 0)
        return false;
    if (w->large[region])
        w->large_writable[region] = true;
    else
        rmap_add(s, paddr & ~0xfffu, v, lin);
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

/* Room for a fill of up to pages writable pages in view v's bookkeeping. */
static bool room_for(const shadow_space *s, int v, uint32_t pages)
{
    return s->vmas + 4 < s->vma_budget && s->view[v].nfills < s->fills_cap &&
           s->rmap_used + pages <= s->rmap_cap;
}

static enum shadow_fill fill(shadow_space *s, const pg_control *pc, int v, uint32_t lin,
                             const pg_translation *t)
{
    uint32_t paddr = t->paddr & s->pm->a20_mask;
    uint32_t frame = paddr & ~0xfffu;
    bool user = is_user_view(v);
    bool writable = fill_writable(pc, t, user);
    if (writable && upgrade(s, v, lin, paddr, t->large)) {
        if (user)
            record_entries(s, v, pc, lin >> 12, lin >> 12, t->large);
        return SHADOW_MAPPED;
    }
    s->stats.fills++;
    if (t->large) {
        uint32_t lin4 = lin & ~0x3fffffu, frame4 = paddr & ~0x3fffffu;
        if (ram_frames(s->pm, frame4, 1u << 22)) {
            if (map_run(s, v, lin4, frame4, 1u << 22, writable, t->global, true) < 0)
                return SHADOW_EMULATE;
            if (user)
                record_entries(s, v, pc, lin4 >> 12, (lin4 >> 12) + 1023, true);
            s->stats.large_fills++;
            return SHADOW_MAPPED;
        }
    }
    uint32_t first = lin >> 12, last = lin >> 12;
    batch_neighbours(s, pc, v, lin, frame, writable, &first, &last);
    if (last > first)
        s->stats.batched_fills++;
    uint32_t run_frame = frame - ((lin >> 12) - first) * 0x1000u;
    if (map_run(s, v, first << 12, run_frame, (last - first + 1) << 12, writable, t->global, false) < 0)
        return SHADOW_EMULATE;
    if (user)
        record_entries(s, v, pc, first, last, false);
    return SHADOW_MAPPED;
}

enum shadow_fill shadow_fill(shadow_space *s, const pg_control *pc, int win, uint32_t lin,
                             bool write)
{
    int v = win == SHADOW_USER ? 1 + s->cur : 0;
    pg_translation t;
    uint32_t pfec;
    if (!pg_walk(s->pm, pc, lin, write ? PG_WRITE : PG_READ, v != 0, &t, &pfec))
        return SHADOW_GUEST_FAULT;
    uint32_t frame = t.paddr & s->pm->a20_mask & ~0xfffu;
    if (!ram_frames(s->pm, frame, 0x1000) || (write && phys_is_code(s->pm, frame))) {
        s->stats.emulated++;
        return SHADOW_EMULATE;
    }
    if (!room_for(s, v, 1024))
        shadow_wipe(s); /* rare: start over rather than grow */
    return fill(s, pc, v, lin, &t);
}

/* Drop page p of view v from the host, or its whole 4 MiB fill. */
static void drop(shadow_space *s, int v, uint32_t p)
{
    shadow_view *w = &s->view[v];
    uint32_t first = p, end = p + 1;
    if (w->large[p >> 10]) {
        first = p & ~1023u, end = first + 1024;
        w->large[p >> 10] = 0;
    } else if (!w->frame_of[p]) {
        return;
    }
    if (unmap_run(s, v, first, end) == 0)
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
 * INVLPG drops the page from the supervisor window and the current user
 * window (all of a 4 MiB fill).  Where the supervisor window maps the
 * page and the guest's new entry is one it has used (above), the mapping
 * is brought up to date instead: kept when it maps the same frame with
 * the same rights, re-protected when only the rights changed, replaced by
 * one mmap when the frame changed — where an unmap, the host fault of the
 * next access and a fill would cost three kernel entries.  (The user
 * windows of other address spaces are checked when they come back.)
 *
 * A page the window does not map stays unmapped until the guest uses it,
 * though its new entry may be one the guest used already.  Mapping such
 * pages at INVLPG was measured slower: Linux's early_memremap maps runs
 * of 1 to 16 fixmap pages with an INVLPG each (~35,000 a boot), where
 * the first access's fault maps the whole run with one mmap.
 */
void shadow_invlpg(shadow_space *s, const pg_control *pc, uint32_t lin)
{
    shadow_view *w = &s->view[0];
    uint32_t p = lin >> 12, frame;
    bool writable, global;
    s->stats.invlpgs++;
    drop(s, 1 + s->cur, p);
    if (!w->frame_of[p] || w->large[p >> 10] ||
        !prefetch(s, pc, lin, &frame, &writable, &global) || !room_for(s, 0, 1)) {
        drop(s, 0, p);
        return;
    }
    if (w->frame_of[p] == (frame >> 12) + 1 && w->global[p] == global) {
        if (w->writable[p] == writable) {
            s->stats.invlpg_kept++;
            return;
        }
        if (protect_run(s, 0, p, p + 1, writable) == 0) {
            if (writable)
                rmap_add(s, frame, 0, lin);
            s->stats.invlpg_kept++;
            return;
        }
    }
    if (map_run(s, 0, lin & ~0xfffu, frame, 0x1000, writable, global, false) < 0) {
        drop(s, 0, p);
        return;
    }
    s->stats.invlpg_replaced++;
}
