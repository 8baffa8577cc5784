/*
 * PCI bus 0 behind configuration mechanism #1 (0xCF8/0xCFC), with the
 * Intel 440FX host bridge at 00:00.0 and the PIIX3 PCI-to-ISA bridge at
 * 00:01.0.  See pci.c.
 *
 * Other devices add a function with pci_add_function() after the bus
 * exists (the bus comes early in the board table), declare BARs with
 * pci_set_bar(), and learn where the guest put them through ops->bar_map.
 * A function's INTx pin (config 0x3D, set with pci_set_intx_pin) reaches
 * an ISA IRQ through the PIIX3's PIRQ route registers 0x60-0x63.
 */
#ifndef BTVM_DEVICES_PCI_H
#define BTVM_DEVICES_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"

typedef struct pci_bus pci_bus;
typedef struct pci_function pci_function;

#define PCI_DEVFN(dev, fn) ((uint8_t)(((dev) << 3) | (fn)))
#define PCI_ROM_BAR 6 /* expansion ROM base address (config 0x30) */

/* pci_set_bar() flags */
#define PCI_BAR_MEM      0x00
#define PCI_BAR_IO       0x01
#define PCI_BAR_PREFETCH 0x08

typedef struct pci_function_ops {
    /* A BAR started or stopped decoding, or moved while decoding: base is
     * its address, enabled says whether the command register (and for the
     * ROM its enable bit) lets it decode at a non-zero address.  May be
     * NULL. */
    void (*bar_map)(void *opaque, int bar, uint32_t base, bool enabled);
    /* Called after every guest write to config space, once the standard
     * registers are updated; for device-specific registers.  May be NULL. */
    void (*config_write)(void *opaque, uint8_t offset, uint32_t value, unsigned size);
} pci_function_ops;

extern const device_type pci_type;

/* The board's PCI bus, or NULL if it has none. */
pci_bus *pci_find_bus(board *b);

/*
 * Add a function at devfn (-1: function 0 of the first free device
 * number).  class_code is the 24-bit base/sub/interface.  Returns NULL if
 * the slot is taken or out of memory.  The bus owns the function.
 */
pci_function *pci_add_function(pci_bus *bus, int devfn, uint16_t vendor, uint16_t device,
                               uint32_t class_code, uint8_t revision,
                               const pci_function_ops *ops, void *opaque);

/* Declare BAR 0-5 or PCI_ROM_BAR; size a power of two (>= 16 for memory,
 * >= 4 for I/O, >= 2048 for the ROM).  0, or -1 for bad arguments. */
int pci_set_bar(pci_function *f, int bar, uint32_t size, unsigned flags);
/* INTx pin: 1 = INTA# ... 4 = INTD#, 0 = none. */
void pci_set_intx_pin(pci_function *f, int pin);
/* Drive the function's INTx# (level, active while level != 0). */
void pci_set_irq(pci_function *f, int level);

/* The function's config bytes, for its own registers; bytes a guest may
 * write need pci_set_wmask.  Reset clears every writable bit. */
uint8_t *pci_config(pci_function *f);
void pci_set_wmask(pci_function *f, uint8_t offset, uint8_t mask);
/* Current address of a BAR (the flag bits masked off). */
uint32_t pci_bar_address(const pci_function *f, int bar);
uint8_t pci_devfn(const pci_function *f);

/* Config cycles on bus 0, as the guest would make them (tests, monitor):
 * absent functions read all ones. */
uint32_t pci_config_read(pci_bus *bus, uint8_t devfn, uint8_t offset, unsigned size);
void pci_config_write(pci_bus *bus, uint8_t devfn, uint8_t offset, uint32_t value,
                      unsigned size);

#endif
