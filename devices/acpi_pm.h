/*
 * ACPI fixed hardware: the PM1a event and control registers and the PM
 * timer (ACPI 6.5 §4.8), so that an ACPI guest can power the machine off.
 * See acpi_pm.c.  boot/acpi.c describes the same ports in the FADT.
 */
#ifndef BTVM_DEVICES_ACPI_PM_H
#define BTVM_DEVICES_ACPI_PM_H

#include "devices/device.h"

/* The register block, at cfg->port (default ACPI_PM_BASE):
 *   +0 PM1a_EVT_BLK (4 bytes: PM1_STS, PM1_EN)
 *   +4 PM1a_CNT_BLK (2 bytes)
 *   +8 PM_TMR_BLK   (4 bytes) */
#define ACPI_PM_BASE   0x600
#define ACPI_PM_SIZE   12
/* The SLP_TYP value the DSDT's \_S5 names: writing it with SLP_EN to
 * PM1_CNT powers off (btvm exits with status 0). */
#define ACPI_SLP_TYP_S5 5

extern const device_type acpi_pm_type;

#endif
