/* A bare CPU for unit tests: see harness.h. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpu/interp.h"
#include "cpu/seg.h"

static void put_descriptor(harness *h, int index, uint32_t base, uint32_t limit, uint16_t flags)
{
    uint32_t lo = (limit & 0xffff) | (base << 16);
    uint32_t hi = ((base >> 16) & 0xff) | (base & 0xff000000u) | (limit & 0x000f0000u) |
                  ((uint32_t)flags << 8);
    uint32_t d[2] = { lo, hi };
    harness_poke(h, 0x1000 + index * 8, d, 8);
}

harness *harness_new(enum harness_mode mode)
{
    harness *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    assert_int_equal(phys_init(&h->mem, HARNESS_RAM), 0);
    io_space_init(&h->io);
    assert_int_equal(cpu_init(&h->cpu, &h->mem, &h->io), 0);
    h->mode = mode;
    cpu_state *c = &h->cpu;
    if (mode == HARNESS_REAL16) {
        for (int s = S_ES; s <= S_GS; s++)
            cpu_load_seg_real(c, s, 0);
        c->eip = HARNESS_CODE;
        c->regs[R_ESP] = 0xfff0;
        cpu_load_seg_real(c, S_SS, HARNESS_STACK >> 4);
        return h;
    }
    /* GDT: null, flat code (0x08), flat data (0x10), 16-bit code (0x18), 16-bit data (0x20) */
    uint16_t code = SEGF_P | SEGF_S | SEGF_CODE | SEGF_RW | SEGF_ACCESSED | SEGF_DB | SEGF_G;
    uint16_t data = SEGF_P | SEGF_S | SEGF_RW | SEGF_ACCESSED | SEGF_DB | SEGF_G;
    put_descriptor(h, 1, 0, 0xfffff, code);
    put_descriptor(h, 2, 0, 0xfffff, data);
    put_descriptor(h, 3, 0, 0xffff, code & ~(SEGF_DB | SEGF_G));
    put_descriptor(h, 4, 0, 0xffff, data & ~(SEGF_DB | SEGF_G));
    c->gdtr = (cpu_dtr){ 0x1000, 5 * 8 - 1 };
    c->idtr = (cpu_dtr){ 0, 0 };
    c->cr0 |= CR0_PE;
    uint32_t d[2];
    phys_copy_from(&h->mem, 0x1008, d, 8);
    cpu_seg_from_descriptor(&c->seg[S_CS], 0x08, d[0] | (uint64_t)d[1] << 32);
    phys_copy_from(&h->mem, 0x1010, d, 8);
    for (int s = S_ES; s <= S_GS; s++)
        if (s != S_CS)
            cpu_seg_from_descriptor(&c->seg[s], 0x10, d[0] | (uint64_t)d[1] << 32);
    cpu_update_mode(c);
    c->eip = HARNESS_CODE;
    c->regs[R_ESP] = HARNESS_STACK;
    return h;
}

void harness_free(harness *h)
{
    cpu_destroy(&h->cpu);
    phys_destroy(&h->mem);
    free(h);
}

void harness_poke(harness *h, uint32_t paddr, const void *bytes, size_t len)
{
    assert_int_equal(phys_copy_to(&h->mem, paddr, bytes, (uint32_t)len), 0);
}

uint32_t harness_peek32(harness *h, uint32_t paddr)
{
    uint32_t v;
    assert_int_equal(phys_copy_from(&h->mem, paddr, &v, 4), 0);
    return v;
}

void harness_asm(harness *h, const char *source)
{
    char src[] = "/tmp/btvm-harness-XXXXXX";
    int fd = mkstemp(src);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    /* Real mode runs the code at CS=HARNESS_CODE>>4, IP=0. */
    fprintf(f, "bits %d\norg 0x%x\n%s\n", h->mode == HARNESS_REAL16 ? 16 : 32,
            h->mode == HARNESS_REAL16 ? 0 : HARNESS_CODE, source);
    fclose(f);
    char bin[64], cmd[256];
    snprintf(bin, sizeof(bin), "%s.bin", src);
    snprintf(cmd, sizeof(cmd), "nasm -f bin -o %s %s", bin, src);
    int rc = system(cmd);
    unlink(src);
    if (rc != 0)
        fail_msg("nasm failed on:\n%s", source);
    FILE *b = fopen(bin, "rb");
    assert_non_null(b);
    static uint8_t buf[65536];
    size_t n = fread(buf, 1, sizeof(buf), b);
    fclose(b);
    unlink(bin);
    harness_poke(h, HARNESS_CODE, buf, n);
    h->cpu.run_state = CPU_RUNNING; /* a previous program may have ended in HLT */
    if (h->mode == HARNESS_REAL16) {
        cpu_load_seg_real(&h->cpu, S_CS, HARNESS_CODE >> 4);
        h->cpu.eip = 0;
    } else {
        h->cpu.eip = HARNESS_CODE;
    }
}

enum cpu_exit harness_run(harness *h, uint64_t budget)
{
    enum cpu_exit e;
    do {
        e = cpu_exec(&h->cpu, budget);
    } while (e == CPU_EXIT_REQUEST);
    return e;
}
