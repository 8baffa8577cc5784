/*
 * PCI configuration mechanism #1 with the 440FX/PIIX3 bridges and a test
 * function with BARs: config cycles through ports 0xCF8/0xCFC as a guest
 * (Linux's pci_check_type1 and BAR sizing) makes them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "devices/board.h"
#include "devices/pci.h"

typedef struct fixture {
    io_space io;
    vclock clk;
    board b;
    pci_bus *bus;
    int level[16];
    /* last bar_map call */
    int maps, map_bar;
    uint32_t map_base;
    bool map_on;
    int cfg_writes;
} fixture;

static void watch_irq(void *opaque, int pin, int level)
{
    fixture *f = opaque;
    f->level[pin] = level;
}

static void bar_map(void *opaque, int bar, uint32_t base, bool enabled)
{
    fixture *f = opaque;
    f->maps++;
    f->map_bar = bar;
    f->map_base = base;
    f->map_on = enabled;
}

static void config_write(void *opaque, uint8_t offset, uint32_t value, unsigned size)
{
    fixture *f = opaque;
    (void)offset;
    (void)value;
    (void)size;
    f->cfg_writes++;
}

static const pci_function_ops test_ops = { .bar_map = bar_map, .config_write = config_write };

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char err[128];
    io_space_init(&f->io);
    vclock_init(&f->clk, true);
    board_init(&f->b, NULL, &f->io, &f->clk);
    for (int i = 0; i < 16; i++)
        f->b.isa_irq[i] = (irq_line){ .handler = watch_irq, .opaque = f, .pin = i };
    device_config cfg = { .name = "pci", .port = 0xcf8, .irq = -1 };
    assert_int_equal(board_add(&f->b, &pci_type, &cfg, err, sizeof(err)), 0);
    f->bus = pci_find_bus(&f->b);
    assert_non_null(f->bus);
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

static uint32_t addr(int dev, int fn, int reg)
{
    return 0x80000000u | (uint32_t)dev << 11 | (uint32_t)fn << 8 | (uint32_t)reg;
}

static uint32_t cfg_read(fixture *f, int dev, int fn, int reg, unsigned size)
{
    io_write(&f->io, 0xcf8, addr(dev, fn, reg & 0xfc), 4);
    return io_read(&f->io, (uint16_t)(0xcfc + (reg & 3)), size);
}

static void cfg_write(fixture *f, int dev, int fn, int reg, uint32_t v, unsigned size)
{
    io_write(&f->io, 0xcf8, addr(dev, fn, reg & 0xfc), 4);
    io_write(&f->io, (uint16_t)(0xcfc + (reg & 3)), v, size);
}

static void test_bridge_ids(void **state)
{
    fixture *f = *state;
    assert_int_equal(cfg_read(f, 0, 0, 0x00, 4), 0x12378086u);
    assert_int_equal(cfg_read(f, 0, 0, 0x08, 4), 0x06000002u);
    assert_int_equal(cfg_read(f, 0, 0, 0x0a, 2), 0x0600);
    assert_int_equal(cfg_read(f, 0, 0, 0x0e, 1), 0x00);
    assert_int_equal(cfg_read(f, 0, 0, 0x04, 2), 0x0006);
    assert_int_equal(cfg_read(f, 1, 0, 0x00, 4), 0x70008086u);
    assert_int_equal(cfg_read(f, 1, 0, 0x08, 4) >> 8, 0x060100u);
    assert_int_equal(cfg_read(f, 1, 0, 0x0e, 1), 0x80);
    assert_int_equal(cfg_read(f, 1, 0, 0x60, 4), 0x80808080u);
    assert_int_equal(cfg_read(f, 1, 0, 0x4c, 1), 0x4d);
    assert_int_equal(pci_config_read(f->bus, PCI_DEVFN(1, 0), 0x02, 2), 0x7000);
}

static void test_absent_and_disabled(void **state)
{
    fixture *f = *state;
    assert_int_equal(cfg_read(f, 2, 0, 0x00, 4), 0xffffffffu);
    assert_int_equal(cfg_read(f, 1, 1, 0x00, 4), 0xffffffffu);
    assert_int_equal(cfg_read(f, 31, 7, 0x00, 2), 0xffff);
    /* Bus 1 does not exist. */
    io_write(&f->io, 0xcf8, 0x80010000u, 4);
    assert_int_equal(io_read(&f->io, 0xcfc, 4), 0xffffffffu);
    /* Enable bit clear: no config cycle. */
    io_write(&f->io, 0xcf8, 0x00000000u, 4);
    assert_int_equal(io_read(&f->io, 0xcfc, 4), 0xffffffffu);
    io_write(&f->io, 0xcf8, 0x00000860u, 4);
    io_write(&f->io, 0xcfc, 0x0b0b0b0bu, 4);
    assert_int_equal(cfg_read(f, 1, 0, 0x60, 4), 0x80808080u);
    /* Writes to an absent function go nowhere. */
    cfg_write(f, 2, 0, 0x04, 0xffff, 2);
    assert_int_equal(cfg_read(f, 2, 0, 0x04, 2), 0xffff);
}

static void test_confadd(void **state)
{
    fixture *f = *state;
    /* Linux's pci_check_type1. */
    io_write(&f->io, 0xcfb, 0x01, 1);
    uint32_t saved = io_read(&f->io, 0xcf8, 4);
    io_write(&f->io, 0xcf8, 0x80000000u, 4);
    assert_int_equal(io_read(&f->io, 0xcf8, 4), 0x80000000u);
    io_write(&f->io, 0xcf8, saved, 4);
    assert_int_equal(io_read(&f->io, 0xcf8, 4), saved);
    /* Reserved bits read 0. */
    io_write(&f->io, 0xcf8, 0xffffffffu, 4);
    assert_int_equal(io_read(&f->io, 0xcf8, 4), 0x80fffffcu);
    /* Byte and word accesses at 0xCF8 do not touch it. */
    io_write(&f->io, 0xcf8, 0x12, 1);
    io_write(&f->io, 0xcfa, 0x3456, 2);
    assert_int_equal(io_read(&f->io, 0xcf8, 4), 0x80fffffcu);
    assert_int_equal(io_read(&f->io, 0xcf8, 1), 0xff);
}

static void test_byte_word_accesses(void **state)
{
    fixture *f = *state;
    io_write(&f->io, 0xcf8, addr(0, 0, 0x00), 4);
    assert_int_equal(io_read(&f->io, 0xcfc, 1), 0x86);
    assert_int_equal(io_read(&f->io, 0xcfd, 1), 0x80);
    assert_int_equal(io_read(&f->io, 0xcfe, 1), 0x37);
    assert_int_equal(io_read(&f->io, 0xcff, 1), 0x12);
    assert_int_equal(io_read(&f->io, 0xcfc, 2), 0x8086);
    assert_int_equal(io_read(&f->io, 0xcfe, 2), 0x1237);
    /* Read-only IDs. */
    io_write(&f->io, 0xcfc, 0, 4);
    assert_int_equal(io_read(&f->io, 0xcfc, 4), 0x12378086u);

    /* PIRQ route registers, one byte at a time. */
    cfg_write(f, 1, 0, 0x61, 0x0b, 1);
    cfg_write(f, 1, 0, 0x62, 0x0a, 1);
    assert_int_equal(cfg_read(f, 1, 0, 0x60, 4), 0x800a0b80u);
    assert_int_equal(cfg_read(f, 1, 0, 0x62, 2), 0x800a);
    assert_int_equal(cfg_read(f, 1, 0, 0x61, 1), 0x0b);
    cfg_write(f, 1, 0, 0x60, 0xffffffffu, 4); /* bits 6-4 reserved */
    assert_int_equal(cfg_read(f, 1, 0, 0x60, 4), 0x8f8f8f8fu);
    cfg_write(f, 1, 0, 0x62, 0x0509, 2);
    assert_int_equal(cfg_read(f, 1, 0, 0x60, 4), 0x05098f8fu);

    /* Host bridge: PAM registers are storage; the command bits hardwired. */
    cfg_write(f, 0, 0, 0x59, 0x30, 1);
    assert_int_equal(cfg_read(f, 0, 0, 0x59, 1), 0x30);
    cfg_write(f, 0, 0, 0x04, 0xffff, 2);
    assert_int_equal(cfg_read(f, 0, 0, 0x04, 2), 0x0146);

    /* A word at 0xCFF: the byte past the dword is not config space. */
    io_write(&f->io, 0xcf8, addr(0, 0, 0x00), 4);
    assert_int_equal(io_read(&f->io, 0xcff, 2), 0xff12);

    /* Board reset restores the power-on values. */
    board_reset(&f->b);
    assert_int_equal(cfg_read(f, 1, 0, 0x60, 4), 0x80808080u);
    assert_int_equal(cfg_read(f, 0, 0, 0x59, 1), 0x00);
}

static pci_function *add_test_function(fixture *f)
{
    pci_function *fn = pci_add_function(f->bus, -1, 0x1234, 0x5678, 0x020000, 0x01, &test_ops, f);
    assert_non_null(fn);
    assert_int_equal(pci_devfn(fn), PCI_DEVFN(2, 0));
    assert_int_equal(pci_set_bar(fn, 0, 32, PCI_BAR_IO), 0);
    assert_int_equal(pci_set_bar(fn, 1, 4096, PCI_BAR_MEM), 0);
    assert_int_equal(pci_set_bar(fn, 2, 1u << 24, PCI_BAR_MEM | PCI_BAR_PREFETCH), 0);
    assert_int_equal(pci_set_bar(fn, PCI_ROM_BAR, 65536, PCI_BAR_MEM), 0);
    assert_int_equal(pci_set_bar(fn, 3, 24, PCI_BAR_MEM), -1);
    assert_int_equal(pci_set_bar(fn, 3, 2, PCI_BAR_IO), -1);
    assert_int_equal(pci_set_bar(fn, 7, 16, PCI_BAR_MEM), -1);
    return fn;
}

static void test_bar_sizing(void **state)
{
    fixture *f = *state;
    add_test_function(f);
    assert_int_equal(cfg_read(f, 2, 0, 0x00, 4), 0x56781234u);
    assert_int_equal(cfg_read(f, 2, 0, 0x10, 4), 0x00000001u);
    assert_int_equal(cfg_read(f, 2, 0, 0x14, 4), 0x00000000u);
    assert_int_equal(cfg_read(f, 2, 0, 0x18, 4), 0x00000008u);
    /* Sizing as Linux does it: all ones, read, restore. */
    static const struct { int reg; uint32_t size_mask; } bars[] = {
        { 0x10, 0xffffffe1u }, { 0x14, 0xfffff000u }, { 0x18, 0xff000008u },
        { 0x1c, 0x00000000u }, { 0x24, 0x00000000u }, { 0x30, 0xffff0001u },
    };
    for (size_t i = 0; i < sizeof(bars) / sizeof(bars[0]); i++) {
        uint32_t orig = cfg_read(f, 2, 0, bars[i].reg, 4);
        cfg_write(f, 2, 0, bars[i].reg, 0xffffffffu, 4);
        assert_int_equal(cfg_read(f, 2, 0, bars[i].reg, 4), bars[i].size_mask);
        cfg_write(f, 2, 0, bars[i].reg, orig, 4);
        assert_int_equal(cfg_read(f, 2, 0, bars[i].reg, 4), orig);
    }
    /* Low bits of an address are not writable. */
    cfg_write(f, 2, 0, 0x10, 0xc01f, 4);
    assert_int_equal(cfg_read(f, 2, 0, 0x10, 4), 0xc001u);
    cfg_write(f, 2, 0, 0x16, 0xfebf, 2);
    assert_int_equal(cfg_read(f, 2, 0, 0x14, 4), 0xfebf0000u);
    assert_true(f->cfg_writes >= 14);
    /* Two-byte interrupt line / pin: line writable, pin not. */
    cfg_write(f, 2, 0, 0x3c, 0xffff, 2);
    assert_int_equal(cfg_read(f, 2, 0, 0x3c, 2), 0x00ff);
}

static void test_bar_map_callback(void **state)
{
    fixture *f = *state;
    pci_function *fn = add_test_function(f);
    cfg_write(f, 2, 0, 0x10, 0xc000, 4);
    assert_int_equal(f->maps, 0); /* I/O decode still off */
    cfg_write(f, 2, 0, 0x04, 0x0001, 2);
    assert_int_equal(f->maps, 1);
    assert_int_equal(f->map_bar, 0);
    assert_int_equal(f->map_base, 0xc000);
    assert_true(f->map_on);
    assert_int_equal(pci_bar_address(fn, 0), 0xc000);
    cfg_write(f, 2, 0, 0x10, 0xc100, 4);
    assert_int_equal(f->maps, 2);
    assert_int_equal(f->map_base, 0xc100);
    cfg_write(f, 2, 0, 0x14, 0xfebf0000u, 4); /* memory decode off: no call */
    assert_int_equal(f->maps, 2);
    cfg_write(f, 2, 0, 0x04, 0x0003, 2);
    assert_int_equal(f->maps, 3);
    assert_int_equal(f->map_bar, 1);
    assert_int_equal(f->map_base, 0xfebf0000u);
    /* The ROM needs its enable bit as well. */
    cfg_write(f, 2, 0, 0x30, 0xfeb00000u, 4);
    assert_int_equal(f->maps, 3);
    cfg_write(f, 2, 0, 0x30, 0xfeb00001u, 4);
    assert_int_equal(f->maps, 4);
    assert_int_equal(f->map_bar, PCI_ROM_BAR);
    /* Reset turns decoding off and clears the BARs. */
    board_reset(&f->b);
    assert_false(f->map_on);
    assert_int_equal(cfg_read(f, 2, 0, 0x10, 4), 0x00000001u);
    assert_int_equal(cfg_read(f, 2, 0, 0x04, 2), 0x0000);
    assert_int_equal(cfg_read(f, 2, 0, 0x00, 4), 0x56781234u);
}

static void test_intx_routing(void **state)
{
    fixture *f = *state;
    pci_function *fn = add_test_function(f); /* device 2 */
    pci_set_intx_pin(fn, 1);
    assert_int_equal(cfg_read(f, 2, 0, 0x3d, 1), 1);
    /* Device 2, INTA# -> PIRQC (0x62). */
    pci_set_irq(fn, 1);
    for (int i = 0; i < 16; i++)
        assert_int_equal(f->level[i], 0); /* not routed */
    assert_int_equal(cfg_read(f, 2, 0, 0x06, 2) & 0x0008, 0x0008);
    cfg_write(f, 1, 0, 0x62, 0x0b, 1);
    assert_int_equal(f->level[11], 1);
    cfg_write(f, 1, 0, 0x62, 0x0a, 1);
    assert_int_equal(f->level[11], 0);
    assert_int_equal(f->level[10], 1);
    cfg_write(f, 2, 0, 0x04, 0x0400, 2); /* INTx disable */
    assert_int_equal(f->level[10], 0);
    cfg_write(f, 2, 0, 0x04, 0x0000, 2);
    assert_int_equal(f->level[10], 1);
    pci_set_irq(fn, 0);
    assert_int_equal(f->level[10], 0);
    assert_int_equal(cfg_read(f, 2, 0, 0x06, 2) & 0x0008, 0);
    /* Reserved IRQ numbers and the disable bit route nowhere. */
    pci_set_irq(fn, 1);
    cfg_write(f, 1, 0, 0x62, 0x08, 1);
    assert_int_equal(f->level[8], 0);
    cfg_write(f, 1, 0, 0x62, 0x8a, 1);
    assert_int_equal(f->level[10], 0);
    /* A second function's pin B on device 2 lands on PIRQD. */
    pci_function *fn1 = pci_add_function(f->bus, PCI_DEVFN(2, 1), 0x1234, 0x0001, 0x0c0300, 0,
                                         NULL, NULL);
    assert_non_null(fn1);
    assert_int_equal(cfg_read(f, 2, 0, 0x0e, 1), 0x80); /* now multi-function */
    assert_null(pci_add_function(f->bus, PCI_DEVFN(2, 1), 1, 1, 0, 0, NULL, NULL));
    pci_set_intx_pin(fn1, 2);
    cfg_write(f, 1, 0, 0x63, 0x05, 1);
    pci_set_irq(fn1, 1);
    assert_int_equal(f->level[5], 1);
}

static void test_reset_control(void **state)
{
    fixture *f = *state;
    io_write(&f->io, 0xcf9, 0x02, 1);
    assert_false(f->b.reset_requested);
    assert_int_equal(io_read(&f->io, 0xcf9, 1), 0x02);
    io_write(&f->io, 0xcf9, 0x06, 1);
    assert_true(f->b.reset_requested);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bridge_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absent_and_disabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_confadd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_byte_word_accesses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bar_sizing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bar_map_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intx_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_control, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
