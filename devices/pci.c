/*
 * PCI bus 0: configuration mechanism #1, the Intel 82441FX (440FX PMC)
 * host bridge and the 82371SB (PIIX3) PCI-to-ISA bridge, function 0.
 *
 * Modelled, by section of the PCI Local Bus Specification 2.1 and the
 * Intel datasheets 290549 (440FX) and 290550 (PIIX3):
 *   - PCI 2.1 3.7.4.1 "Configuration Mechanism #1": CONFADD at 0xCF8 is
 *     decoded only by 32-bit accesses (bit 31 enable, bus, device,
 *     function, register; bits 30-24 and 1-0 read 0); CONFDATA at
 *     0xCFC-0xCFF takes byte, word and dword accesses, the port's low two
 *     bits selecting the byte within the register.  With the enable bit
 *     clear, or for a bus other than 0, or an absent function, reads
 *     return all ones and writes are dropped (master abort).
 *   - PCI 2.1 6.1-6.2 "Configuration Space": the type 0 header, each
 *     byte with a write mask and a write-one-to-clear mask (status bits
 *     15-11 and 8); the command register's I/O and memory enables and
 *     INTx disable (PCI 2.3), and status bit 3 (interrupt status).
 *   - PCI 2.1 6.2.5 "Base Addresses": I/O and memory BARs and the
 *     expansion ROM BAR; writing all ones reads back the size mask; a
 *     change of address or of decode enable calls the owner's bar_map.
 *   - 440FX 3.2 (PCI configuration registers): IDs 8086:1237, class
 *     0x060000, PCICMD memory/master enables hardwired on, and the
 *     chipset registers 0x50-0x72 (PMCCFG, DRAM control, PAM0-6, DRB0-7,
 *     SMRAM) as plain storage.
 *   - PIIX3 2.2 (function 0 configuration): IDs 8086:7000, class
 *     0x060100, header type 0x80 (multi-function), IORT, XBCS, the PIRQ
 *     route control registers PIRQRC[A:D] at 0x60-0x63 (bit 7 IRQROUTEN#,
 *     bits 3-0 the ISA IRQ; 0-2, 8 and 13 are reserved and route
 *     nowhere), TOM, MBIRQ, MBDMA, PCSC, SMI registers, with their reset
 *     values; 2.3.1 the reset control register RC at I/O 0xCF9 (byte
 *     access only): a 0->1 transition of RCPU (bit 2) resets the machine.
 *   - PCI 2.1 2.2.6 interrupts: INTA#-INTD# are wired-OR level signals;
 *     device d's pin p reaches PIRQ[(d + p - 1) mod 4] (the usual
 *     swizzle), and a routed PIRQ drives its ISA IRQ line high while any
 *     function on it asserts.
 *
 * Departures: one bus, no PCI-to-PCI bridges; PAM and SMRAM are stored
 * but do not change the memory map (phys_mem has no shadowing); the
 * PIIX3's other functions (IDE, USB) are absent; non-dword accesses to
 * 0xCF8-0xCFB other than RC read all ones (configuration mechanism #2 is
 * not decoded); a BAR at address 0 counts as unmapped.
 */
#include "devices/pci.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/board.h"

#define PCI_CONFADD_PORT 0xcf8
#define PIIX_RC_PORT     0xcf9
#define PCI_CONFDATA_PORT 0xcfc

#define CONFADD_ENABLE   0x80000000u
#define CONFADD_MASK     0x80fffffcu

/* Type 0 header offsets */
#define PCI_VENDOR_ID    0x00
#define PCI_DEVICE_ID    0x02
#define PCI_COMMAND      0x04
#define PCI_STATUS       0x06
#define PCI_REVISION     0x08
#define PCI_CLASS_PROG   0x09
#define PCI_LATENCY      0x0d
#define PCI_HEADER_TYPE  0x0e
#define PCI_BAR0         0x10
#define PCI_ROM_ADDRESS  0x30
#define PCI_INT_LINE     0x3c
#define PCI_INT_PIN      0x3d

#define CMD_IO           0x0001
#define CMD_MEMORY       0x0002
#define CMD_MASTER       0x0004
#define CMD_PARITY       0x0040
#define CMD_SERR         0x0100
#define CMD_INTX_DISABLE 0x0400
#define STATUS_INTERRUPT 0x0008
#define STATUS_W1C       0xf900 /* parity/abort/SERR error bits */
#define HEADER_MULTIFUNCTION 0x80
#define ROM_ENABLE       0x01

/* PIIX3 function 0 registers */
#define PIIX_PIRQRC      0x60
#define PIRQ_DISABLE     0x80
#define PIIX_RC_SRST     0x02
#define PIIX_RC_RCPU     0x04

#define NBARS 7

struct pci_function {
    pci_bus *bus;
    uint8_t devfn;
    uint8_t cfg[256];
    uint8_t wmask[256];
    uint8_t w1c[256];
    struct {
        uint32_t size;      /* 0 = not implemented */
        uint8_t flags;
        uint32_t base;      /* last reported to bar_map */
        bool enabled;
    } bar[NBARS];
    const pci_function_ops *ops;
    void *opaque;
    bool intx;              /* INTx# input from the device */
};

struct pci_bus {
    board *b;
    uint32_t confadd;
    uint8_t rc;
    uint16_t isa_levels;    /* ISA IRQ lines driven high by PIRQs */
    pci_function *fn[256];
    pci_function *host, *isa;
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static uint32_t get32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t command(const pci_function *f)
{
    return (uint16_t)(f->cfg[PCI_COMMAND] | f->cfg[PCI_COMMAND + 1] << 8);
}

static uint8_t bar_offset(int bar)
{
    return bar == PCI_ROM_BAR ? PCI_ROM_ADDRESS : (uint8_t)(PCI_BAR0 + 4 * bar);
}

/* Recompute PIRQA-D from every function and drive the routed ISA lines. */
static void route_irqs(pci_bus *bus)
{
    bool pirq[4] = { false };
    for (int i = 0; i < 256; i++) {
        pci_function *f = bus->fn[i];
        int pin = f ? f->cfg[PCI_INT_PIN] : 0;
        if (f && f->intx && pin >= 1 && pin <= 4 && !(command(f) & CMD_INTX_DISABLE))
            pirq[((f->devfn >> 3) + pin - 1) & 3] = true;
    }
    uint16_t levels = 0;
    for (int p = 0; p < 4; p++) {
        uint8_t r = bus->isa->cfg[PIIX_PIRQRC + p];
        int irq = r & 0x0f;
        bool reserved = irq < 3 || irq == 8 || irq == 13;
        if (pirq[p] && !(r & PIRQ_DISABLE) && !reserved)
            levels |= (uint16_t)(1u << irq);
    }
    uint16_t changed = levels ^ bus->isa_levels;
    bus->isa_levels = levels;
    for (int irq = 0; irq < 16; irq++)
        if (changed & (1u << irq))
            irq_set(&bus->b->isa_irq[irq], (levels >> irq) & 1);
}

/* Report BARs whose decoded address or enable changed. */
static void update_bars(pci_function *f)
{
    uint16_t cmd = command(f);
    for (int i = 0; i < NBARS; i++) {
        if (!f->bar[i].size)
            continue;
        uint32_t v = get32(&f->cfg[bar_offset(i)]);
        uint32_t base;
        bool on;
        if (i == PCI_ROM_BAR) {
            base = v & ~0x7ffu;
            on = (cmd & CMD_MEMORY) && (v & ROM_ENABLE);
        } else if (f->bar[i].flags & PCI_BAR_IO) {
            base = v & ~3u;
            on = cmd & CMD_IO;
        } else {
            base = v & ~15u;
            on = cmd & CMD_MEMORY;
        }
        on = on && base != 0;
        bool was_on = f->bar[i].enabled;
        if (base == f->bar[i].base && on == was_on)
            continue;
        f->bar[i].base = base;
        f->bar[i].enabled = on;
        if ((on || was_on) && f->ops && f->ops->bar_map)
            f->ops->bar_map(f->opaque, i, base, on);
    }
}

static uint32_t fn_read(pci_function *f, uint8_t off, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)f->cfg[(uint8_t)(off + i)] << (8 * i);
    return v;
}

static void fn_write(pci_function *f, uint8_t off, uint32_t value, unsigned size)
{
    for (unsigned i = 0; i < size; i++) {
        uint8_t o = (uint8_t)(off + i), b = (uint8_t)(value >> (8 * i));
        f->cfg[o] = (uint8_t)((f->cfg[o] & ~f->wmask[o]) | (b & f->wmask[o]));
        f->cfg[o] &= (uint8_t)~(b & f->w1c[o]);
    }
    if (off < PCI_ROM_ADDRESS + 4 && off + size > PCI_COMMAND)
        update_bars(f);
    if (f == f->bus->isa || (off <= PCI_COMMAND + 1 && off + size > PCI_COMMAND + 1))
        route_irqs(f->bus);
    if (f->ops && f->ops->config_write)
        f->ops->config_write(f->opaque, off, value, size);
}

uint32_t pci_config_read(pci_bus *bus, uint8_t devfn, uint8_t offset, unsigned size)
{
    pci_function *f = bus->fn[devfn];
    if (!f)
        return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    return fn_read(f, offset, size);
}

void pci_config_write(pci_bus *bus, uint8_t devfn, uint8_t offset, uint32_t value,
                      unsigned size)
{
    pci_function *f = bus->fn[devfn];
    if (f)
        fn_write(f, offset, value, size);
}

/* CONFDATA: the addressed function, or NULL (master abort). */
static pci_function *addressed(pci_bus *bus)
{
    uint32_t ca = bus->confadd;
    if (!(ca & CONFADD_ENABLE) || ((ca >> 16) & 0xff) != 0)
        return NULL;
    return bus->fn[(ca >> 8) & 0xff];
}

static uint32_t pci_io_read(void *opaque, uint16_t port, unsigned size)
{
    pci_bus *bus = opaque;
    if (port == PCI_CONFADD_PORT && size == 4)
        return bus->confadd;
    if (port == PIIX_RC_PORT && size == 1)
        return bus->rc;
    uint32_t v = size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    pci_function *f = port >= PCI_CONFDATA_PORT ? addressed(bus) : NULL;
    if (!f)
        return v;
    /* Bytes past the end of the dword are not ours: they read as ones. */
    unsigned first = port & 3u;
    for (unsigned i = 0; i < size && first + i < 4; i++) {
        uint8_t b = f->cfg[(bus->confadd & 0xfc) + first + i];
        v = (v & ~(0xffu << (8 * i))) | (uint32_t)b << (8 * i);
    }
    return v;
}

static void pci_io_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    pci_bus *bus = opaque;
    if (port == PCI_CONFADD_PORT && size == 4) {
        bus->confadd = value & CONFADD_MASK;
        return;
    }
    if (port == PIIX_RC_PORT && size == 1) {
        bool edge = (value & PIIX_RC_RCPU) && !(bus->rc & PIIX_RC_RCPU);
        bus->rc = (uint8_t)value & (PIIX_RC_SRST | PIIX_RC_RCPU);
        if (edge)
            board_request_reset(bus->b);
        return;
    }
    pci_function *f = port >= PCI_CONFDATA_PORT ? addressed(bus) : NULL;
    if (!f)
        return;
    unsigned first = port & 3u;
    unsigned n = first + size > 4 ? 4 - first : size;
    fn_write(f, (uint8_t)((bus->confadd & 0xfc) + first), value, n);
}

static const io_ops pci_ops = {
    .read = pci_io_read,
    .write = pci_io_write,
    .max_size = 4,
};

static void header_init(pci_function *f, uint16_t vendor, uint16_t device, uint32_t class_code,
                        uint8_t revision)
{
    memset(f->cfg, 0, sizeof(f->cfg));
    memset(f->wmask, 0, sizeof(f->wmask));
    memset(f->w1c, 0, sizeof(f->w1c));
    put16(&f->cfg[PCI_VENDOR_ID], vendor);
    put16(&f->cfg[PCI_DEVICE_ID], device);
    f->cfg[PCI_REVISION] = revision;
    f->cfg[PCI_CLASS_PROG] = (uint8_t)class_code;
    put16(&f->cfg[PCI_CLASS_PROG + 1], (uint16_t)(class_code >> 8));
    put16(&f->wmask[PCI_COMMAND], CMD_IO | CMD_MEMORY | CMD_MASTER | CMD_PARITY | CMD_SERR |
                                  CMD_INTX_DISABLE);
    put16(&f->w1c[PCI_STATUS], STATUS_W1C);
    f->wmask[PCI_LATENCY] = 0xff;
    f->wmask[PCI_LATENCY - 1] = 0xff; /* cache line size */
    f->wmask[PCI_INT_LINE] = 0xff;
}

pci_function *pci_add_function(pci_bus *bus, int devfn, uint16_t vendor, uint16_t device,
                               uint32_t class_code, uint8_t revision,
                               const pci_function_ops *ops, void *opaque)
{
    if (devfn < 0) {
        for (int d = 0; d < 32 && devfn < 0; d++)
            if (!bus->fn[PCI_DEVFN(d, 0)])
                devfn = PCI_DEVFN(d, 0);
    }
    if (devfn < 0 || devfn > 255 || bus->fn[devfn])
        return NULL;
    pci_function *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->bus = bus;
    f->devfn = (uint8_t)devfn;
    f->ops = ops;
    f->opaque = opaque;
    header_init(f, vendor, device, class_code, revision);
    bus->fn[devfn] = f;
    pci_function *f0 = bus->fn[devfn & ~7];
    if ((devfn & 7) && f0)
        f0->cfg[PCI_HEADER_TYPE] |= HEADER_MULTIFUNCTION;
    return f;
}

int pci_set_bar(pci_function *f, int bar, uint32_t size, unsigned flags)
{
    bool io = flags & PCI_BAR_IO;
    uint32_t min = bar == PCI_ROM_BAR ? 2048 : io ? 4 : 16;
    if (bar < 0 || bar >= NBARS || size < min || (size & (size - 1)) ||
        (bar == PCI_ROM_BAR && io))
        return -1;
    uint8_t off = bar_offset(bar);
    uint32_t mask = ~(size - 1);
    uint8_t low = bar == PCI_ROM_BAR ? 0 : io ? PCI_BAR_IO : (flags & PCI_BAR_PREFETCH);
    if (bar == PCI_ROM_BAR)
        mask = (mask & ~0x7ffu) | ROM_ENABLE;
    else
        mask &= io ? ~3u : ~15u;
    f->bar[bar].size = size;
    f->bar[bar].flags = low;
    put32(&f->wmask[off], mask);
    put32(&f->cfg[off], low);
    return 0;
}

void pci_set_intx_pin(pci_function *f, int pin)
{
    f->cfg[PCI_INT_PIN] = pin >= 0 && pin <= 4 ? (uint8_t)pin : 0;
}

void pci_set_irq(pci_function *f, int level)
{
    f->intx = level != 0;
    if (f->intx)
        f->cfg[PCI_STATUS] |= STATUS_INTERRUPT;
    else
        f->cfg[PCI_STATUS] &= (uint8_t)~STATUS_INTERRUPT;
    route_irqs(f->bus);
}

uint8_t *pci_config(pci_function *f)
{
    return f->cfg;
}

void pci_set_wmask(pci_function *f, uint8_t offset, uint8_t mask)
{
    f->wmask[offset] = mask;
}

uint32_t pci_bar_address(const pci_function *f, int bar)
{
    return bar >= 0 && bar < NBARS ? f->bar[bar].base : 0;
}

uint8_t pci_devfn(const pci_function *f)
{
    return f->devfn;
}

pci_bus *pci_find_bus(board *b)
{
    for (int i = 0; i < b->ndevices; i++)
        if (b->devices[i].type == &pci_type)
            return b->devices[i].state;
    return NULL;
}

/* 82441FX power-on configuration (440FX datasheet 3.2). */
static void host_bridge_reset(pci_function *f)
{
    header_init(f, 0x8086, 0x1237, 0x060000, 0x02);
    put16(&f->cfg[PCI_COMMAND], CMD_MEMORY | CMD_MASTER); /* hardwired on */
    put16(&f->wmask[PCI_COMMAND], CMD_PARITY | CMD_SERR);
    put16(&f->cfg[PCI_STATUS], 0x0280); /* fast back-to-back, medium DEVSEL */
    f->wmask[PCI_INT_LINE] = 0;
    memset(&f->wmask[0x50], 0xff, 0x72 - 0x50); /* PMCCFG .. CLT, PAM, DRB */
    f->cfg[0x72] = 0x02;                         /* SMRAM: C_BASE_SEG = 010 */
    f->wmask[0x72] = 0x78;
}

/* 82371SB function 0 power-on configuration (PIIX3 datasheet 2.2). */
static void isa_bridge_reset(pci_function *f)
{
    static const struct { uint8_t off, value; } defaults[] = {
        { 0x4c, 0x4d },                                  /* IORT */
        { 0x4e, 0x03 },                                  /* XBCS */
        { 0x60, 0x80 }, { 0x61, 0x80 }, { 0x62, 0x80 }, { 0x63, 0x80 }, /* PIRQRC */
        { 0x69, 0x02 },                                  /* TOM */
        { 0x70, 0x80 }, { 0x71, 0x80 },                  /* MBIRQ0-1 */
        { 0x76, 0x0c }, { 0x77, 0x0c },                  /* MBDMA0-1 */
        { 0x78, 0x02 },                                  /* PCSC */
        { 0xa0, 0x08 },                                  /* SMICNTL */
        { 0xa8, 0x0f },                                  /* FTMR */
    };
    header_init(f, 0x8086, 0x7000, 0x060100, 0x00);
    f->cfg[PCI_HEADER_TYPE] = HEADER_MULTIFUNCTION;
    put16(&f->cfg[PCI_COMMAND], CMD_IO | CMD_MEMORY | CMD_MASTER);
    put16(&f->wmask[PCI_COMMAND], CMD_SERR);
    put16(&f->cfg[PCI_STATUS], 0x0200); /* medium DEVSEL */
    f->wmask[PCI_INT_LINE] = 0;
    f->wmask[PCI_LATENCY] = f->wmask[PCI_LATENCY - 1] = 0;
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        f->cfg[defaults[i].off] = defaults[i].value;
        f->wmask[defaults[i].off] = 0xff;
    }
    for (int p = 0; p < 4; p++)
        f->wmask[PIIX_PIRQRC + p] = PIRQ_DISABLE | 0x0f;
    f->wmask[0x4f] = 0x02; /* XBCS high byte */
    memset(&f->wmask[0x6a], 0xff, 2); /* MSTAT */
    f->wmask[0x79] = 0xff;            /* PCSC high byte */
    f->wmask[0x80] = 0x7f;            /* APICBASE */
    f->wmask[0x82] = 0x0f;            /* DLC */
    memset(&f->wmask[0xa2], 0xff, 2); /* SMIEN */
    memset(&f->wmask[0xa4], 0xff, 4); /* SEE */
    memset(&f->wmask[0xaa], 0xff, 2); /* SMIREQ */
    f->wmask[0xac] = f->wmask[0xae] = 0xff; /* CTLTMR, CTHTMR */
}

static void pci_reset(void *dev)
{
    pci_bus *bus = dev;
    bus->confadd = 0;
    bus->rc = 0;
    for (int i = 0; i < 256; i++) {
        pci_function *f = bus->fn[i];
        if (!f || f == bus->host || f == bus->isa)
            continue;
        for (int o = 0; o < 256; o++)
            f->cfg[o] &= (uint8_t)~(f->wmask[o] | f->w1c[o]);
        update_bars(f);
    }
    host_bridge_reset(bus->host);
    isa_bridge_reset(bus->isa);
    route_irqs(bus);
}

static void *pci_create(board *b, const device_config *cfg, char *err, size_t errlen)
{
    (void)cfg;
    for (uint16_t p = PCI_CONFADD_PORT; p < PCI_CONFADD_PORT + 8; p++) {
        if (io_owner(b->io, p)) {
            snprintf(err, errlen, "pci: port 0x%x already in use", p);
            return NULL;
        }
    }
    pci_bus *bus = calloc(1, sizeof(*bus));
    if (!bus) {
        snprintf(err, errlen, "pci: out of memory");
        return NULL;
    }
    bus->b = b;
    bus->host = pci_add_function(bus, PCI_DEVFN(0, 0), 0x8086, 0x1237, 0x060000, 0x02,
                                 NULL, NULL);
    bus->isa = pci_add_function(bus, PCI_DEVFN(1, 0), 0x8086, 0x7000, 0x060100, 0x00,
                                NULL, NULL);
    if (!bus->host || !bus->isa) {
        free(bus->host);
        free(bus->isa);
        free(bus);
        snprintf(err, errlen, "pci: out of memory");
        return NULL;
    }
    io_register(b->io, PCI_CONFADD_PORT, 8, &pci_ops, bus, "pci");
    pci_reset(bus);
    return bus;
}

static void pci_destroy(void *dev)
{
    pci_bus *bus = dev;
    for (int i = 0; i < 256; i++)
        free(bus->fn[i]);
    free(bus);
}

const device_type pci_type = {
    .name = "pci",
    .description = "PCI bus 0, configuration mechanism #1: 440FX host bridge, PIIX3 ISA bridge",
    .create = pci_create,
    .reset = pci_reset,
    .destroy = pci_destroy,
};
