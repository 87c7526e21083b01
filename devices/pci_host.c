/* pci_host.c: ECAM decode and config dispatch to bus 0 device models (see pci_host.h). */
#include <errno.h>
#include <string.h>
#include "devices/pci_cfg.h"
#include "devices/pci_host.h"
#include "vmm/bits.h"
#include "vmm/log.h"

#define ECAM_BUS GENMASK(27, 20)
#define ECAM_SLOT GENMASK(19, 15)
#define ECAM_FN GENMASK(14, 12)
#define ECAM_REG GENMASK(11, 0)

void pci_ecam_decode(u64 off, struct pci_ecam_addr *a)
{
	a->bus = (u8)FIELD_GET(ECAM_BUS, off);
	a->slot = (u8)FIELD_GET(ECAM_SLOT, off);
	a->fn = (u8)FIELD_GET(ECAM_FN, off);
	a->reg = (u16)FIELD_GET(ECAM_REG, off);
}

static struct pci_dev *lookup(struct pci_host *h, const struct pci_ecam_addr *a)
{
	if (a->bus != 0)
		return NULL;
	return h->devs[PCI_DEVFN(a->slot, a->fn)];
}

u64 pci_host_ecam_read(void *opaque, u64 off, unsigned int size)
{
	struct pci_host *h = opaque;
	struct pci_ecam_addr a;
	u64 ones = size >= 8 ? ~0ULL : BIT(8 * size) - 1;

	pci_ecam_decode(off, &a);
	struct pci_dev *d = lookup(h, &a);

	if (!d)
		return ones;
	if (!pci_cfg_access_ok(a.reg, size)) {
		log_guest("pci %s: unaligned %u-byte config read at 0x%x", d->name, size, a.reg);
		return ones;
	}
	return d->ops->cfg_read(d, a.reg, size);
}

void pci_host_ecam_write(void *opaque, u64 off, u64 val, unsigned int size)
{
	struct pci_host *h = opaque;
	struct pci_ecam_addr a;

	pci_ecam_decode(off, &a);
	struct pci_dev *d = lookup(h, &a);

	if (!d)
		return;
	if (!pci_cfg_access_ok(a.reg, size)) {
		log_guest("pci %s: unaligned %u-byte config write at 0x%x ignored", d->name, size, a.reg);
		return;
	}
	d->ops->cfg_write(d, a.reg, size, (u32)val);
}

static const struct mmio_ops ecam_ops = {
	.read = pci_host_ecam_read,
	.write = pci_host_ecam_write,
};

int pci_host_init(struct pci_host *h, struct bus *bus, u64 ecam_base, u64 ecam_size)
{
	memset(h, 0, sizeof(*h));
	if (!ecam_size || !IS_ALIGNED(ecam_size, SZ_1M) || ecam_size > 256 * SZ_1M) {
		pr_err("pci: ECAM size 0x%llx is not 1..256 buses of 1 MiB", (unsigned long long)ecam_size);
		return -EINVAL;
	}
	h->bus = bus;
	h->nr_buses = (unsigned int)(ecam_size / SZ_1M);
	pci_windows_init_default(&h->windows);
	h->ecam = (struct mmio_region){
		.name = "pci-ecam",
		.base = ecam_base,
		.len = ecam_size,
		.sizes = MMIO_SZ_1 | MMIO_SZ_2 | MMIO_SZ_4,
		.ops = &ecam_ops,
		.opaque = h,
	};
	if (bus) {
		int ret = bus_register(bus, &h->ecam, NULL, 0);

		if (ret) {
			pr_err("pci: cannot register the ECAM at 0x%llx: %s", (unsigned long long)ecam_base,
			       strerror(-ret));
			return ret;
		}
		h->registered = true;
	}
	return 0;
}

void pci_host_destroy(struct pci_host *h)
{
	if (h->registered)
		bus_unregister(h->bus, &h->ecam);
	h->registered = false;
	memset(h->devs, 0, sizeof(h->devs));
}

int pci_host_add(struct pci_host *h, struct pci_dev *d, int slot)
{
	if (slot < 0) {
		for (int s = 1; s < PCI_HOST_SLOTS; s++) {
			if (!h->devs[PCI_DEVFN(s, 0)]) {
				slot = s;
				break;
			}
		}
		if (slot < 0) {
			pr_err("pci: no free slot on bus 0 for %s", d->name);
			return -ENOSPC;
		}
	}
	if (slot >= PCI_HOST_SLOTS) {
		pr_err("pci: slot %d for %s is beyond the last slot (%d)", slot, d->name, PCI_HOST_SLOTS - 1);
		return -EINVAL;
	}
	if (h->devs[PCI_DEVFN(slot, 0)]) {
		pr_err("pci: slot 00:%02x.0 for %s is taken by %s", slot, d->name, h->devs[PCI_DEVFN(slot, 0)]->name);
		return -EBUSY;
	}
	d->devfn = PCI_DEVFN(slot, 0);
	h->devs[d->devfn] = d;
	return 0;
}

void pci_host_remove(struct pci_host *h, struct pci_dev *d)
{
	if (h->devs[d->devfn] == d)
		h->devs[d->devfn] = NULL;
}

bool pci_host_window_ok(const struct pci_host *h, u64 addr, u64 size)
{
	return pci_window_contains(&h->windows.mmio32, addr, size) ||
	       pci_window_contains(&h->windows.mmio64, addr, size);
}
