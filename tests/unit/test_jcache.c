/*
 * The indirect-branch cache (translator/jcache.c): what a CR3 write keeps
 * and what it drops.  Global TLB entries survive a CR3 write (SDM Vol. 3A
 * §4.10.4.1), so entries whose page is mapped global stay; every other
 * entry goes, however the slots were reused in between.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "translator/jcache.h"

#define MISS 0x1000u

static bool holds(const tr_jcache *j, uint32_t eip, uintptr_t code)
{
    const jcache_slot *s = &j->slots[eip & (JCACHE_SLOTS - 1)];
    return s->neg_eip == (uint32_t)-eip && s->code == code;
}

static void test_cr3_write_keeps_global_entries(void **state)
{
    (void)state;
    tr_jcache j;
    assert_int_equal(jcache_init(&j, MISS), 0);
    jcache_insert(&j, 0xc1001000u, 0x2000, true);   /* kernel text, global */
    jcache_insert(&j, 0xc1002040u, 0x3000, true);
    jcache_insert(&j, 0x08048000u, 0x4000, false);  /* user text */
    jcache_flush_nonglobal(&j);
    assert_true(holds(&j, 0xc1001000u, 0x2000));
    assert_true(holds(&j, 0xc1002040u, 0x3000));
    assert_false(holds(&j, 0x08048000u, 0x4000));
    assert_int_equal(j.slots[0x08048000u & (JCACHE_SLOTS - 1)].code, MISS);
    /* a full flush still drops everything, the survivors included */
    jcache_flush(&j);
    assert_false(holds(&j, 0xc1001000u, 0x2000));
    assert_false(holds(&j, 0xc1002040u, 0x3000));
    jcache_destroy(&j);
}

/* A slot holding a global entry, taken over by a non-global one of the
 * same low bits: the CR3 write must drop it. */
static void test_reused_slot_is_dropped(void **state)
{
    (void)state;
    tr_jcache j;
    assert_int_equal(jcache_init(&j, MISS), 0);
    jcache_insert(&j, 0xc1231234u, 0x2000, true);
    jcache_flush_nonglobal(&j);
    jcache_insert(&j, 0x00231234u, 0x5000, false);  /* same slot */
    jcache_flush_nonglobal(&j);
    assert_false(holds(&j, 0x00231234u, 0x5000));
    /* a non-global entry in a page whose others are global goes; the
     * global ones may stay, as a TLB may keep a global translation that
     * the guest has since mapped differently (§4.10.4.1) */
    jcache_insert(&j, 0xc1400000u, 0x6000, true);
    jcache_insert(&j, 0xc1400010u, 0x7000, false);
    jcache_flush_nonglobal(&j);
    assert_false(holds(&j, 0xc1400010u, 0x7000));
    jcache_destroy(&j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cr3_write_keeps_global_entries),
        cmocka_unit_test(test_reused_slot_is_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
