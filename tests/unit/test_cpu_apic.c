/*
 * The CPU side of the local APIC: CPUID.1:EDX.APIC follows the APIC's
 * presence and IA32_APIC_BASE's global enable, and WRMSR to the base
 * reaches the device.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"

static uint64_t written;
static int writes;

static void fake_apic_base(void *opaque, uint64_t v)
{
    (void)opaque;
    written = v;
    writes++;
}

static uint32_t cpuid1_edx(harness *h)
{
    harness_asm(h, "mov eax, 1\ncpuid\nhlt\n");
    assert_int_equal(harness_run(h, 10), CPU_EXIT_HALT);
    return h->cpu.regs[R_EDX];
}

static void test_no_apic_no_bit(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_FLAT32);
    assert_int_equal(cpuid1_edx(h) & (1u << 9), 0);
    harness_free(h);
}

static void test_apic_bit_and_base_msr(void **state)
{
    (void)state;
    harness *h = harness_new(HARNESS_FLAT32);
    h->cpu.apic_write_base = fake_apic_base;
    assert_int_equal(cpuid1_edx(h) & (1u << 9), 1u << 9);
    /* Globally disable the APIC: the device hears it, CPUID drops the bit. */
    harness_asm(h, "mov ecx, 0x1b\nrdmsr\nand eax, ~0x800\nwrmsr\nhlt\n");
    assert_int_equal(harness_run(h, 10), CPU_EXIT_HALT);
    assert_int_equal(writes, 1);
    assert_int_equal(written & 0x800, 0);
    assert_int_equal(written & ~0xfffull, 0xfee00000u);
    assert_int_equal(cpuid1_edx(h) & (1u << 9), 0);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_apic_no_bit),
        cmocka_unit_test(test_apic_bit_and_base_msr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
