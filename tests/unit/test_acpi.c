/*
 * ACPI power off: the tables boot/acpi.c writes (signatures, checksums,
 * the FADT's ports) and the acpi-pm device they describe (PM timer rate,
 * SCI_EN, SLP_EN with the \_S5 sleep type ends the machine with 0).
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "boot/acpi.h"
#include "devices/acpi_pm.h"
#include "devices/board.h"

typedef struct fixture {
    io_space io;
    vclock clk;
    board b;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char err[128];
    io_space_init(&f->io);
    vclock_init(&f->clk, true);
    board_init(&f->b, NULL, &f->io, &f->clk);
    device_config cfg = { .name = "acpi-pm", .port = ACPI_PM_BASE, .irq = 9 };
    assert_int_equal(board_add(&f->b, &acpi_pm_type, &cfg, err, sizeof(err)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    board_destroy(&f->b);
    free(f);
    return 0;
}

static void test_pm_timer_rate(void **state)
{
    fixture *f = *state;
    uint32_t t0 = io_read(&f->io, ACPI_PM_BASE + 8, 4);
    vclock_advance(&f->clk, 1000000000ull);     /* one second */
    uint32_t t1 = io_read(&f->io, ACPI_PM_BASE + 8, 4);
    assert_int_equal((t1 - t0) & 0xffffff, 3579545 & 0xffffff);
    assert_int_equal(t1 >> 24, 0);              /* 24-bit timer */
    /* Byte reads assemble the same counter. */
    uint32_t b = io_read(&f->io, ACPI_PM_BASE + 8, 1) | io_read(&f->io, ACPI_PM_BASE + 9, 1) << 8 |
                 io_read(&f->io, ACPI_PM_BASE + 10, 1) << 16;
    assert_int_equal(b, t1);
}

static void test_pm1_registers(void **state)
{
    fixture *f = *state;
    /* Always in ACPI mode: SCI_EN reads 1 even after writing 0. */
    assert_int_equal(io_read(&f->io, ACPI_PM_BASE + 4, 2) & 1, 1);
    io_write(&f->io, ACPI_PM_BASE + 4, 0, 2);
    assert_int_equal(io_read(&f->io, ACPI_PM_BASE + 4, 2) & 1, 1);
    /* PM1_EN is read/write, PM1_STS write-1-to-clear (and reads 0). */
    io_write(&f->io, ACPI_PM_BASE + 2, 0x0121, 2);
    assert_int_equal(io_read(&f->io, ACPI_PM_BASE + 2, 2), 0x0121);
    io_write(&f->io, ACPI_PM_BASE, 0xffff, 2);
    assert_int_equal(io_read(&f->io, ACPI_PM_BASE, 2), 0);
    /* A sleep type other than S5 does not end the machine. */
    io_write(&f->io, ACPI_PM_BASE + 4, (1u << 10) | 0x2000, 2);
    assert_false(f->b.exit_requested);
    /* SLP_EN is write-only. */
    assert_int_equal(io_read(&f->io, ACPI_PM_BASE + 4, 2) & 0x2000, 0);
}

static void test_s5_powers_off(void **state)
{
    fixture *f = *state;
    f->b.exit_status = 42;
    /* Linux writes SLP_TYP first, then SLP_TYP | SLP_EN (16-bit each). */
    io_write(&f->io, ACPI_PM_BASE + 4, ACPI_SLP_TYP_S5 << 10 | 1, 2);
    assert_false(f->b.exit_requested);
    io_write(&f->io, ACPI_PM_BASE + 4, ACPI_SLP_TYP_S5 << 10 | 0x2000 | 1, 2);
    assert_true(f->b.exit_requested);
    assert_int_equal(f->b.exit_status, 0);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    while (n--)
        s = (uint8_t)(s + *p++);
    return s;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void test_tables(void **state)
{
    (void)state;
    phys_mem mem;
    assert_int_equal(phys_init(&mem, 16u << 20), 0);
    uint32_t rsdp_addr = acpi_build_tables(&mem);
    assert_int_equal(rsdp_addr & 15, 0);
    assert_true(rsdp_addr >= 0xe0000 && rsdp_addr < 0x100000);
    const uint8_t *rsdp = mem.ram + rsdp_addr;
    assert_memory_equal(rsdp, "RSD PTR ", 8);
    assert_int_equal(sum(rsdp, 20), 0);
    const uint8_t *rsdt = mem.ram + rd32(rsdp + 16);
    assert_memory_equal(rsdt, "RSDT", 4);
    assert_int_equal(sum(rsdt, rd32(rsdt + 4)), 0);
    assert_int_equal(rd32(rsdt + 4), 40);
    const uint8_t *fadt = mem.ram + rd32(rsdt + 36);
    assert_memory_equal(fadt, "FACP", 4);
    assert_int_equal(sum(fadt, rd32(fadt + 4)), 0);
    assert_int_equal(rd32(fadt + 56), ACPI_PM_BASE);       /* PM1a_EVT_BLK */
    assert_int_equal(rd32(fadt + 64), ACPI_PM_BASE + 4);   /* PM1a_CNT_BLK */
    assert_int_equal(rd32(fadt + 76), ACPI_PM_BASE + 8);   /* PM_TMR_BLK */
    uint32_t facs = rd32(fadt + 36);
    assert_int_equal(facs & 63, 0);
    assert_memory_equal(mem.ram + facs, "FACS", 4);
    const uint8_t *dsdt = mem.ram + rd32(fadt + 40);
    assert_memory_equal(dsdt, "DSDT", 4);
    uint32_t len = rd32(dsdt + 4);
    assert_int_equal(sum(dsdt, len), 0);
    /* \_S5 names the sleep type the device powers off on. */
    const uint8_t *s5 = memmem(dsdt + 36, len - 36, "_S5_", 4);
    assert_non_null(s5);
    assert_int_equal(s5[4], 0x12);                          /* PackageOp */
    assert_int_equal(s5[7], 0x0a);
    assert_int_equal(s5[8], ACPI_SLP_TYP_S5);
    phys_destroy(&mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pm_timer_rate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pm1_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_s5_powers_off, setup, teardown),
        cmocka_unit_test(test_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
