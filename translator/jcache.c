/* The indirect-branch cache: see jcache.h. */
#include "translator/jcache.h"

#include <stdlib.h>
#include <string.h>

/* page_has may stay set for a page whose slots were taken over by others:
 * an INVLPG there then flushes needlessly, never too little. */
static void clear_slot(tr_jcache *j, unsigned i)
{
    uint32_t eip = -j->slots[i].neg_eip;
    j->page_has[eip >> 12] = 0;
    j->slots[i] = (jcache_slot){ .neg_eip = 0, .code = j->miss };
}

int jcache_init(tr_jcache *j, uintptr_t miss)
{
    memset(j, 0, sizeof(*j));
    j->miss = miss;
    j->slots = malloc(JCACHE_SLOTS * sizeof(jcache_slot));
    j->log = malloc(JCACHE_LOG_MAX * sizeof(uint16_t));
    j->local_log = malloc(JCACHE_LOG_MAX * sizeof(uint16_t));
    j->page_has = calloc(1u << 20, 1);
    if (!j->slots || !j->log || !j->local_log || !j->page_has)
        return -1;
    for (unsigned i = 0; i < JCACHE_SLOTS; i++)
        j->slots[i] = (jcache_slot){ .neg_eip = 0, .code = miss };
    return 0;
}

void jcache_destroy(tr_jcache *j)
{
    free(j->slots);
    free(j->log);
    free(j->local_log);
    free(j->page_has);
    memset(j, 0, sizeof(*j));
}

void jcache_insert(tr_jcache *j, uint32_t eip, uintptr_t code, bool global)
{
    unsigned i = eip & (JCACHE_SLOTS - 1);
    jcache_slot *s = &j->slots[i];
    if (s->code == code && s->neg_eip == -eip)
        return;
    if (s->code == j->miss) {
        /* a new slot in use: remember it for the flush */
        if (j->nlog < JCACHE_LOG_MAX)
            j->log[j->nlog] = (uint16_t)i;
        j->nlog++;
    }
    *s = (jcache_slot){ .neg_eip = -eip, .code = code };
    /* a page with any entry from a non-global mapping counts as non-global */
    uint8_t *has = &j->page_has[eip >> 12];
    *has = global && *has != JCACHE_PAGE_LOCAL ? JCACHE_PAGE_GLOBAL : JCACHE_PAGE_LOCAL;
    if (*has == JCACHE_PAGE_LOCAL) {
        /* what a CR3 write must drop: remembered apart, so that the
         * kernel's global entries cost it nothing */
        if (j->nlocal < JCACHE_LOG_MAX)
            j->local_log[j->nlocal] = (uint16_t)i;
        j->nlocal++;
    }
    j->inserts++;
}

/* Cost proportional to the slots used since the last flush. */
void jcache_flush(tr_jcache *j)
{
    if (j->nlog == 0)
        return;
    if (j->nlog > JCACHE_LOG_MAX) {
        for (unsigned i = 0; i < JCACHE_SLOTS; i++)
            if (j->slots[i].code != j->miss)
                clear_slot(j, i);
    } else {
        for (unsigned k = 0; k < j->nlog; k++)
            if (j->slots[j->log[k]].code != j->miss)
                clear_slot(j, j->log[k]);
    }
    j->nlog = 0;
    j->nlocal = 0;
    j->seg_used = 0;
    j->flushes++;
}

void jcache_flush_nonglobal(tr_jcache *j)
{
    if (j->nlocal > JCACHE_LOG_MAX) {
        jcache_flush(j);
        return;
    }
    for (unsigned k = 0; k < j->nlocal; k++) {
        unsigned i = j->local_log[k];
        if (j->slots[i].code != j->miss &&
            j->page_has[(uint32_t)-j->slots[i].neg_eip >> 12] != JCACHE_PAGE_GLOBAL)
            clear_slot(j, i);
    }
    if (j->nlocal)
        j->flushes++;
    j->nlocal = 0;
}

void jcache_flush_page(tr_jcache *j, uint32_t lin)
{
    if (j->page_has[lin >> 12])
        jcache_flush(j);
}
