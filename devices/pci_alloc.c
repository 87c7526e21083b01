/* pci_alloc.c: natural-alignment bump allocation of BARs in the PCI MMIO windows (see pci_alloc.h). */
#include <errno.h>
#include "boot/layout.h"
#include "devices/pci_alloc.h"

void pci_window_init(struct pci_window *w, const char *name, u64 base, u64 size)
{
	w->name = name;
	w->base = base;
	w->size = size;
	w->next = base;
}

int pci_window_alloc(struct pci_window *w, u64 size, u64 *addr)
{
	if (!size || (size & (size - 1)))
		return -EINVAL;
	u64 end = w->base + w->size;
	u64 a = ALIGN_UP(w->next, size);

	if (a < w->next || a >= end || size > end - a)
		return -ENOSPC;
	*addr = a;
	w->next = a + size;
	return 0;
}

bool pci_window_contains(const struct pci_window *w, u64 addr, u64 size)
{
	return size && addr >= w->base && addr - w->base < w->size && size <= w->size - (addr - w->base);
}

void pci_windows_init_default(struct pci_windows *ws)
{
	pci_window_init(&ws->mmio32, "32-bit MMIO", LAYOUT_PCI_MMIO32_BASE, LAYOUT_PCI_MMIO32_SIZE);
	pci_window_init(&ws->mmio64, "64-bit prefetchable MMIO", LAYOUT_PCI_MMIO64_BASE, LAYOUT_PCI_MMIO64_SIZE);
}

static bool window_release(struct pci_window *w, const struct pci_window *before, const struct pci_window *after)
{
	if (w->next == after->next) {
		w->next = before->next;
		return true;
	}
	/* Nothing was taken here, or it is back already; otherwise something was placed after it. */
	return before->next == after->next || w->next == before->next;
}

bool pci_windows_release(struct pci_windows *ws, const struct pci_windows *before, const struct pci_windows *after)
{
	bool ok32 = window_release(&ws->mmio32, &before->mmio32, &after->mmio32);
	bool ok64 = window_release(&ws->mmio64, &before->mmio64, &after->mmio64);

	return ok32 && ok64;
}

struct pci_window *pci_bar_window(struct pci_windows *ws, const struct pci_bar *b)
{
	return b->is64 && b->prefetch ? &ws->mmio64 : &ws->mmio32;
}

int pci_alloc_bars(struct pci_windows *ws, const struct pci_bar *bars, u64 *addrs, int *bad)
{
	struct pci_windows saved = *ws;
	bool done[PCI_NUM_BARS] = { false };

	for (unsigned int i = 0; i < PCI_NUM_BARS; i++) {
		addrs[i] = 0;
		if (!bars[i].size || bars[i].io)
			done[i] = true;
	}
	for (;;) {
		int pick = -1;

		/* Largest first; ties in BAR order. */
		for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
			if (!done[i] && (pick < 0 || bars[i].size > bars[pick].size))
				pick = (int)i;
		if (pick < 0)
			return 0;
		int ret = pci_window_alloc(pci_bar_window(ws, &bars[pick]), bars[pick].size, &addrs[pick]);

		if (ret) {
			*ws = saved;
			for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
				addrs[i] = 0;
			if (bad)
				*bad = pick;
			return ret == -EINVAL ? -EINVAL : -ENOSPC;
		}
		done[pick] = true;
	}
}
