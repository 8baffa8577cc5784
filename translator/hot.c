/* Instructions that keep trapping: see hot.h. */
#include "translator/hot.h"

/* Open addressing, linear probing; never deleted from (the set of
 * trapping instructions of a guest is small and stable). */
static int slot_of(const tr_hot *h, uint32_t paddr, bool insert)
{
    uint32_t k = paddr + 1;
    unsigned i = (paddr * 2654435761u) >> (32 - 12);
    for (unsigned n = 0; n < TR_HOT_SLOTS; n++, i = (i + 1) & (TR_HOT_SLOTS - 1)) {
        if (h->key[i] == k)
            return (int)i;
        if (h->key[i] == 0)
            return insert && h->used < TR_HOT_SLOTS * 3 / 4 ? (int)i : -1;
    }
    return -1;
}

unsigned tr_hot_trapped(tr_hot *h, uint32_t paddr)
{
    int i = slot_of(h, paddr, true);
    if (i < 0)
        return 0;
    if (h->key[i] == 0) {
        h->key[i] = paddr + 1;
        h->used++;
    }
    if (h->count[i] < UINT16_MAX)
        h->count[i]++;
    return h->count[i];
}

bool tr_hot_is_hot(const tr_hot *h, uint32_t paddr)
{
    int i = slot_of(h, paddr, false);
    return i >= 0 && h->count[i] >= TR_HOT_THRESHOLD;
}
