/* pci_host.h: the PCIe host bridge: a pci-host-ecam-generic ECAM region on the MMIO bus (bus b, device d,
 * function f, register r at base + (b << 20 | d << 15 | f << 12 | r)), bus 0 device slots, and dispatch of
 * config reads/writes to the device models. Absent functions and other buses read as all-ones and ignore
 * writes, as a real root complex does (Master Abort). There is no host-bridge function at 00:00.0: Linux's
 * generic host driver does not need one, so passthrough device i sits at 00:(i+1).0. The bridge also owns the
 * MMIO windows (BAR allocation, and the check that a guest-programmed BAR lies inside a window). */
#ifndef IVMM_DEVICES_PCI_HOST_H
#define IVMM_DEVICES_PCI_HOST_H

#include <stdbool.h>
#include "devices/pci_alloc.h"
#include "vmm/bus.h"
#include "vmm/compiler.h"

#define PCI_HOST_SLOTS 32
#define PCI_DEVFN(slot, fn) ((u8)(((slot) << 3) | (fn)))

struct pci_dev;

/* Config access of a device model; off/size already checked with pci_cfg_access_ok(). Called from vCPU
 * threads concurrently: the model locks its own state. */
struct pci_dev_ops {
	u32 (*cfg_read)(struct pci_dev *d, u32 off, u32 size);
	void (*cfg_write)(struct pci_dev *d, u32 off, u32 size, u32 val);
};

struct pci_dev {
	const struct pci_dev_ops *ops;
	const char *name;
	u8 devfn;          /* on bus 0, set by pci_host_add() */
};

/* The requester id the device uses on the bus (bus 0): also its ITS device id (msi-map is identity). */
static inline u32 pci_dev_rid(const struct pci_dev *d)
{
	return d->devfn;
}

struct pci_host {
	struct bus *bus;
	struct mmio_region ecam;
	bool registered;
	unsigned int nr_buses;
	struct pci_windows windows;
	struct pci_dev *devs[PCI_HOST_SLOTS * 8]; /* bus 0, by devfn */
};

/* Decoded ECAM offset. */
struct pci_ecam_addr {
	u8 bus;
	u8 slot;
	u8 fn;
	u16 reg;
};
void pci_ecam_decode(u64 off, struct pci_ecam_addr *a);

/* Register the ECAM region [ecam_base, ecam_base + ecam_size) (a multiple of 1 MiB, at most 256 buses) on bus
 * and set up the default windows. */
int __must_check pci_host_init(struct pci_host *h, struct bus *bus, u64 ecam_base, u64 ecam_size);
void pci_host_destroy(struct pci_host *h);
/* Put d at 00:slot.0 (slot < 0: the first free slot from 1). -EBUSY if taken, -ENOSPC if no slot is free. */
int __must_check pci_host_add(struct pci_host *h, struct pci_dev *d, int slot);
void pci_host_remove(struct pci_host *h, struct pci_dev *d);
/* Is [addr, addr+size) inside one of the bridge's MMIO windows (where a BAR may decode)? */
bool pci_host_window_ok(const struct pci_host *h, u64 addr, u64 size);

/* The ECAM handlers, exported for tests: offset relative to the ECAM base. */
u64 pci_host_ecam_read(void *opaque, u64 off, unsigned int size);
void pci_host_ecam_write(void *opaque, u64 off, u64 val, unsigned int size);

#endif
