/*
 * Minimal ACPI tables (ACPI 6.5 chapter 5, written as ACPI 1.0 tables:
 * revision 0 RSDP, RSDT, revision 1 FADT), so that an ACPI guest — Linux
 * — can power off through the fixed hardware of devices/acpi_pm.c and
 * finds the PM timer.  What the guest sees:
 *
 *   RSDP   "RSD PTR ", revision 0, pointing at the RSDT       (§5.2.5)
 *   RSDT   one entry: the FADT                                (§5.2.7)
 *   FADT   SCI on IRQ 9, no SMI_CMD (always in ACPI mode), PM1a event
 *          block at 0x600 (4 bytes), PM1a control at 0x604 (2 bytes), PM
 *          timer at 0x608 (24 bits), no GPE blocks, C2/C3 not supported,
 *          RTC century at CMOS 0x32, no fixed power/sleep buttons (§5.2.9)
 *   FACS   64 bytes, no waking vector                         (§5.2.10)
 *   DSDT   \_S5 = {5, 5, 0, 0}: SLP_TYP 5 is soft off (§7.4.2), and
 *          \_SB.PCI0, the PCI host bridge on bus 0 (PNP0A03), so that
 *          Linux, which scans PCI through ACPI when ACPI is on, still
 *          finds bus 0                                        (§5.2.11.1)
 *
 * No MADT: the guest finds its interrupt controllers as on a pre-ACPI
 * PC (8259 PIC, local APIC from CPUID).  The ports must match the
 * acpi-pm device in devices/board.c (ACPI_PM_BASE in devices/acpi_pm.h);
 * boot/ does not include devices/ headers, so they are repeated here.
 */
#include "boot/acpi.h"

#include <string.h>

#define PM_BASE        0x600u  /* devices/acpi_pm.h ACPI_PM_BASE */
#define SLP_TYP_S5     5       /* devices/acpi_pm.h ACPI_SLP_TYP_S5 */
#define SCI_IRQ        9

/* Table offsets inside the 4 KiB area. */
#define RSDP_OFF       0x000
#define RSDT_OFF       0x040
#define FADT_OFF       0x080
#define FACS_OFF       0x100   /* 64-byte aligned (§5.2.10) */
#define DSDT_OFF       0x140

#define HDR_LEN        36

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, (uint16_t)v);
    wr16(p + 2, (uint16_t)(v >> 16));
}

static uint8_t checksum(const uint8_t *p, size_t len)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + p[i]);
    return (uint8_t)(0 - sum);
}

/* The common description header (§5.2.6); checksum filled in last. */
static void header(uint8_t *t, const char sig[4], uint32_t len, uint8_t rev)
{
    memcpy(t, sig, 4);
    wr32(t + 4, len);
    t[8] = rev;
    memcpy(t + 10, "BTVM  ", 6);        /* OEMID */
    memcpy(t + 16, "BTVMACPI", 8);      /* OEM table ID */
    wr32(t + 24, 1);                    /* OEM revision */
    memcpy(t + 28, "BTVM", 4);          /* creator ID */
    wr32(t + 32, 1);                    /* creator revision */
}

/*
 * The DSDT's AML (§20), assembled by hand:
 *
 *   Name (_S5, Package (4) { 5, 5, 0, 0 })
 *   Scope (\_SB) {
 *       Device (PCI0) {
 *           Name (_HID, EisaId ("PNP0A03"))
 *           Name (_UID, 0)
 *           Name (_BBN, 0)
 *       }
 *   }
 *
 * Encodings: NameOp 0x08, PackageOp 0x12, BytePrefix 0x0a, ZeroOp 0x00,
 * DWordPrefix 0x0c, ScopeOp 0x10, DeviceOp 0x5b 0x82, RootChar '\'; a
 * one-byte PkgLength counts itself and what follows (below 64 bytes).
 * EisaId("PNP0A03") is 0x41d0 ('P','N','P' in 5-bit letters) then 0x0a03,
 * stored big-endian.
 */
static const uint8_t dsdt_aml[] = {
    0x08, '_', 'S', '5', '_',
    0x12, 0x08, 0x04, 0x0a, SLP_TYP_S5, 0x0a, SLP_TYP_S5, 0x00, 0x00,
    0x10, 0x23, '\\', '_', 'S', 'B', '_',
    0x5b, 0x82, 0x1b, 'P', 'C', 'I', '0',
    0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03,
    0x08, '_', 'U', 'I', 'D', 0x00,
    0x08, '_', 'B', 'B', 'N', 0x00,
};

uint32_t acpi_build_tables(phys_mem *mem)
{
    uint8_t a[ACPI_TABLES_SIZE];
    memset(a, 0, sizeof(a));
    const uint32_t base = ACPI_TABLES_ADDR;

    /* DSDT */
    uint8_t *dsdt = a + DSDT_OFF;
    uint32_t dsdt_len = HDR_LEN + sizeof(dsdt_aml);
    header(dsdt, "DSDT", dsdt_len, 1);  /* revision 1: 32-bit integers */
    memcpy(dsdt + HDR_LEN, dsdt_aml, sizeof(dsdt_aml));
    dsdt[9] = checksum(dsdt, dsdt_len);

    /* FACS: no checksum; the hardware signature and vectors stay 0. */
    uint8_t *facs = a + FACS_OFF;
    memcpy(facs, "FACS", 4);
    wr32(facs + 4, 64);

    /* FADT, the ACPI 1.0 layout (116 bytes). */
    uint8_t *fadt = a + FADT_OFF;
    header(fadt, "FACP", 116, 1);
    wr32(fadt + 36, base + FACS_OFF);   /* FIRMWARE_CTRL */
    wr32(fadt + 40, base + DSDT_OFF);   /* DSDT */
    wr16(fadt + 46, SCI_IRQ);           /* SCI_INT */
    wr32(fadt + 48, 0);                 /* SMI_CMD: none, always in ACPI mode */
    wr32(fadt + 56, PM_BASE);           /* PM1a_EVT_BLK */
    wr32(fadt + 64, PM_BASE + 4);       /* PM1a_CNT_BLK */
    wr32(fadt + 76, PM_BASE + 8);       /* PM_TMR_BLK */
    fadt[88] = 4;                       /* PM1_EVT_LEN */
    fadt[89] = 2;                       /* PM1_CNT_LEN */
    fadt[91] = 4;                       /* PM_TMR_LEN */
    wr16(fadt + 96, 101);               /* P_LVL2_LAT > 100: no C2 */
    wr16(fadt + 98, 1001);              /* P_LVL3_LAT > 1000: no C3 */
    fadt[108] = 0x32;                   /* CENTURY: the PC's CMOS century byte */
    /* Flags: WBINVD works (bit 0), C1 via HLT (bit 2), power and sleep
     * buttons are not fixed hardware (bits 4, 5: there are none). */
    wr32(fadt + 112, (1u << 0) | (1u << 2) | (1u << 4) | (1u << 5));
    fadt[9] = checksum(fadt, 116);

    /* RSDT: one entry. */
    uint8_t *rsdt = a + RSDT_OFF;
    header(rsdt, "RSDT", HDR_LEN + 4, 1);
    wr32(rsdt + HDR_LEN, base + FADT_OFF);
    rsdt[9] = checksum(rsdt, HDR_LEN + 4);

    /* RSDP, revision 0 (20 bytes, checksum over all of them). */
    uint8_t *rsdp = a + RSDP_OFF;
    memcpy(rsdp, "RSD PTR ", 8);
    memcpy(rsdp + 9, "BTVM  ", 6);
    rsdp[15] = 0;
    wr32(rsdp + 16, base + RSDT_OFF);
    rsdp[8] = checksum(rsdp, 20);

    if (phys_copy_to(mem, base, a, sizeof(a)) < 0)
        return 0;
    return base + RSDP_OFF;
}
