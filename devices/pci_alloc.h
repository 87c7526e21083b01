/* pci_alloc.h: placing BARs in the host bridge's MMIO windows (the 32-bit non-prefetchable window and the
 * 64-bit prefetchable one of boot/layout.h). A window is a bump allocator with natural alignment: a BAR of
 * size S lands on a multiple of S. pci_alloc_bars() places one device's BARs largest first (no alignment
 * waste inside a device) and is all-or-nothing; pci_windows_release() gives the space back (last in, first
 * out). */
#ifndef IVMM_DEVICES_PCI_ALLOC_H
#define IVMM_DEVICES_PCI_ALLOC_H

#include <stdbool.h>
#include "devices/pci_cfg.h"
#include "vmm/compiler.h"

struct pci_window {
	const char *name;
	u64 base;
	u64 size;
	u64 next;   /* first free address */
};

struct pci_windows {
	struct pci_window mmio32;   /* non-prefetchable, below 4 GiB */
	struct pci_window mmio64;   /* 64-bit prefetchable */
};

void pci_window_init(struct pci_window *w, const char *name, u64 base, u64 size);
/* Naturally aligned [*addr, *addr+size) in w; size a power of two. -ENOSPC if it does not fit, -EINVAL for
 * a bad size. */
int __must_check pci_window_alloc(struct pci_window *w, u64 size, u64 *addr);
bool pci_window_contains(const struct pci_window *w, u64 addr, u64 size);

/* The windows of boot/layout.h. */
void pci_windows_init_default(struct pci_windows *ws);

/* Place bars[0..PCI_NUM_BARS) (entries with size 0 or io are skipped and get address 0): 64-bit prefetchable
 * BARs go to mmio64, everything else to mmio32 (as Linux assigns them). On success addrs[i] is set for every
 * BAR. On -ENOSPC the windows are unchanged and *bad is the BAR index that did not fit (the caller names
 * the device and the size). */
int __must_check pci_alloc_bars(struct pci_windows *ws, const struct pci_bar *bars, u64 *addrs, int *bad);
/* Give back the space of one pci_alloc_bars() call: *before / *after are copies of ws taken just before and
 * just after it. A bump allocator can only give back its most recent allocation, so each window whose free
 * pointer is still where that call left it is rolled back to *before; a window something else was allocated
 * in since keeps the space used. True when everything was given back. Devices are destroyed in the reverse
 * order of creation (passthrough.c), so in ivmm every release is a rollback. */
bool pci_windows_release(struct pci_windows *ws, const struct pci_windows *before, const struct pci_windows *after);
/* Which window a BAR of this type belongs to. */
struct pci_window *pci_bar_window(struct pci_windows *ws, const struct pci_bar *b);

#endif
