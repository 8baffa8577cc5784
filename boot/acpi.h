/*
 * Minimal ACPI tables for guests booted without firmware: RSDP, RSDT,
 * FADT, FACS and a DSDT with \_S5 (soft off) and the PCI host bridge.
 * See acpi.c.
 */
#ifndef BTVM_BOOT_ACPI_H
#define BTVM_BOOT_ACPI_H

#include <stdint.h>

#include "mmu/phys.h"

/* Where the tables go: the BIOS area, which the E820 map marks reserved;
 * the RSDP is at its start, where an OS scanning 0xe0000-0xfffff for
 * "RSD PTR " finds it (ACPI 6.5 §5.2.5.1). */
#define ACPI_TABLES_ADDR 0xf0000u
#define ACPI_TABLES_SIZE 0x1000u

/* Write the tables into guest RAM; returns the RSDP's address, or 0 when
 * that area is not RAM. */
uint32_t acpi_build_tables(phys_mem *mem);

#endif
