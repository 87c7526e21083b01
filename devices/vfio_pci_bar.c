/* vfio_pci_bar.c: the vfio-pci model's BARs: probing their VFIO regions, placing them in the host bridge's
 * windows, mmapping what VFIO allows into memslot pieces (MSI-X table and PBA pages left trapped), and making
 * them decode where the guest's BAR registers and command register say (memslots plus a trap region on the
 * bus for the rest). Config space is in vfio_pci.c, interrupts in vfio_pci_irq.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "devices/vfio_pci.h"
#include "vmm/bits.h"
#include "vmm/log.h"

static const char *bar_kind(const struct pci_bar *b)
{
	if (b->is64)
		return b->prefetch ? "64-bit prefetchable" : "64-bit";
	return b->prefetch ? "32-bit prefetchable" : "32-bit";
}

/* ---- BAR trap (the parts that are not memslots) ---- */

static u64 bar_read(void *opaque, u64 off, unsigned int size)
{
	struct vfio_pci_bar *b = opaque;
	struct vfio_pci *vp = b->dev;
	u64 v = 0;

	if (vfio_pci_msix_overlaps(vp, b->idx, off, size)) {
		bool done;

		pthread_mutex_lock(&vp->lock);
		done = vfio_pci_msix_read(vp, b->idx, off, size, &v);
		pthread_mutex_unlock(&vp->lock);
		if (done)
			return v;
	}
	/* The raw op: a failure here is the guest's doing (e.g. decode off on the device), not worth an error. */
	ssize_t n = vp->vdev->ops->pread(vp->vdev, &v, size, b->region.offset + off);

	if (n != (ssize_t)size) {
		log_guest("%s: BAR%u read of %u bytes at 0x%llx failed", vp->name, b->idx, size,
			  (unsigned long long)off);
		return 0;
	}
	return v;
}

static void bar_write(void *opaque, u64 off, u64 val, unsigned int size)
{
	struct vfio_pci_bar *b = opaque;
	struct vfio_pci *vp = b->dev;

	if (vfio_pci_msix_overlaps(vp, b->idx, off, size)) {
		bool done;

		pthread_mutex_lock(&vp->lock);
		done = vfio_pci_msix_write(vp, b->idx, off, size, val);
		pthread_mutex_unlock(&vp->lock);
		if (done)
			return;
	}
	ssize_t n = vp->vdev->ops->pwrite(vp->vdev, &val, size, b->region.offset + off);

	if (n != (ssize_t)size)
		log_guest("%s: BAR%u write of %u bytes at 0x%llx failed", vp->name, b->idx, size,
			  (unsigned long long)off);
}

static const struct mmio_ops bar_ops = {
	.read = bar_read,
	.write = bar_write,
};

static void bar_unmap(struct vfio_pci *vp, struct vfio_pci_bar *b)
{
	if (b->gpa == VFIO_PCI_NO_ADDR)
		return;
	for (unsigned int i = 0; i < b->npieces; i++) {
		struct vfio_pci_piece *p = &b->pieces[i];

		if (!p->mapped)
			continue;
		int ret = vp->hv->ops->mem_unmap(vp->hv, b->gpa + p->off);

		if (ret)
			log_guest("%s: BAR%u: removing the memslot at 0x%llx: %s", vp->name, b->idx,
				  (unsigned long long)(b->gpa + p->off), strerror(-ret));
		p->mapped = false;
	}
	bus_unregister(vp->bus, &b->mmio);
	b->gpa = VFIO_PCI_NO_ADDR;
}

static void bar_map(struct vfio_pci *vp, struct vfio_pci_bar *b, u64 gpa)
{
	b->mmio = (struct mmio_region){
		.name = b->name,
		.base = gpa,
		.len = b->info.size,
		.sizes = MMIO_SZ_1 | MMIO_SZ_2 | MMIO_SZ_4 | MMIO_SZ_8,
		.ops = &bar_ops,
		.opaque = b,
	};
	char why[192];

	if (bus_register(vp->bus, &b->mmio, why, sizeof(why))) {
		/* Hardware gives no decode for the clash; a guest can do this at will: a rate-limited guest line. */
		log_guest("%s: BAR%u at 0x%llx is not decoded: %s", vp->name, b->idx, (unsigned long long)gpa, why);
		return;
	}
	b->gpa = gpa;
	if (!IS_ALIGNED(gpa, vp->page_size))
		return; /* below page granularity: every access is trapped */
	for (unsigned int i = 0; i < b->npieces; i++) {
		struct vfio_pci_piece *p = &b->pieces[i];
		int ret = vp->hv->ops->mem_map(vp->hv, gpa + p->off, p->len, p->host, false);

		if (ret) {
			log_guest("%s: BAR%u: memslot at 0x%llx (0x%llx bytes) failed (%s): trapped instead", vp->name,
				  b->idx, (unsigned long long)(gpa + p->off), (unsigned long long)p->len,
				  strerror(-ret));
			continue;
		}
		p->mapped = true;
	}
}

/* Where BAR idx should decode now, or VFIO_PCI_NO_ADDR (lock held). report: say why an address is refused. */
static u64 bar_want(struct vfio_pci *vp, unsigned int idx, bool report)
{
	struct vfio_pci_bar *b = &vp->bars[idx];
	u64 a;

	if (!b->info.size || !(pci_cfg_get(&vp->cfg, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY))
		return VFIO_PCI_NO_ADDR;
	a = pci_cfg_bar_addr(&vp->cfg, idx, &b->info);
	if (pci_host_window_ok(vp->host, a, b->info.size))
		return a;
	if (report)
		log_guest("%s: BAR%u at 0x%llx (0x%llx bytes) is outside the host bridge windows: not decoding", vp->name,
			  idx, (unsigned long long)a, (unsigned long long)b->info.size);
	return VFIO_PCI_NO_ADDR;
}

/* Make every BAR decode where the guest wants it (lock held); written is the BAR whose register the guest
 * wrote (-1: the command register). First every BAR that moves or stops decoding leaves, then the others are
 * placed: a BAR that was refused because it overlapped another one is retried on every update, so it decodes
 * again as soon as the other one moves away (as on hardware), not only when the guest rewrites it. */
void vfio_pci_bars_update(struct vfio_pci *vp, int written)
{
	u64 want[PCI_NUM_BARS];

	for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
		want[i] = bar_want(vp, i, written < 0 || (int)i == written);
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
		if (vp->bars[i].info.size && want[i] != vp->bars[i].gpa)
			bar_unmap(vp, &vp->bars[i]);
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
		if (vp->bars[i].info.size && want[i] != VFIO_PCI_NO_ADDR && want[i] != vp->bars[i].gpa)
			bar_map(vp, &vp->bars[i], want[i]);
}

/* Region info and type of every BAR; I/O BARs hidden; upper halves of 64-bit BARs skipped. */
int vfio_pci_bars_probe(struct vfio_pci *vp, const u8 *raw)
{
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++) {
		struct vfio_pci_bar *b = &vp->bars[i];
		u32 reg;
		int ret;

		b->dev = vp;
		b->idx = i;
		b->gpa = VFIO_PCI_NO_ADDR;
		snprintf(b->name, sizeof(b->name), "%s-bar%u", vp->name, i);
		ret = vfio_dev_region_info(vp->vdev, VFIO_PCI_BAR0_REGION_INDEX + i, &b->region);
		if (ret)
			return ret;
		if (!b->region.size)
			continue;
		memcpy(&reg, raw + PCI_BASE_ADDRESS_0 + 4 * i, 4);
		pci_bar_decode(reg, &b->info);
		if (b->info.io) {
			pr_info("%s: I/O BAR%u (%llu bytes) is not forwarded (ivmm has no I/O space)", vp->name, i,
				(unsigned long long)b->region.size);
			b->info = (struct pci_bar){ 0 };
			continue;
		}
		if (b->info.is64 && i + 1 >= PCI_NUM_BARS) {
			pr_err("%s: BAR%u claims to be 64-bit but is the last BAR", vp->name, i);
			return -EINVAL;
		}
		b->info.size = b->region.size;
		if (b->info.size < 16 || (b->info.size & (b->info.size - 1))) {
			pr_err("%s: BAR%u size 0x%llx is not a power of two >= 16", vp->name, i,
			       (unsigned long long)b->info.size);
			return -EINVAL;
		}
		if (!(b->region.flags & VFIO_REGION_INFO_FLAG_READ) || !(b->region.flags & VFIO_REGION_INFO_FLAG_WRITE))
			pr_warn("%s: BAR%u region is not read/write (flags 0x%x)", vp->name, i, b->region.flags);
		if (b->info.is64) {
			i++;
			vp->bars[i].dev = vp;
			vp->bars[i].idx = i;
			vp->bars[i].gpa = VFIO_PCI_NO_ADDR;
		}
	}
	return 0;
}

/* Give the space vfio_pci_bars_place() took back to the bridge's windows. */
void vfio_pci_bars_release(struct vfio_pci *vp)
{
	if (!pci_windows_release(&vp->host->windows, &vp->win_before, &vp->win_after))
		pr_debug("%s: BAR space stays used (a later device was placed after it)", vp->name);
}

int vfio_pci_bars_place(struct vfio_pci *vp)
{
	struct pci_bar infos[PCI_NUM_BARS];
	u64 addrs[PCI_NUM_BARS];
	int bad = -1, ret;

	for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
		infos[i] = vp->bars[i].info;
	vp->win_before = vp->host->windows;
	ret = pci_alloc_bars(&vp->host->windows, infos, addrs, &bad);
	if (ret) {
		const struct pci_window *w = pci_bar_window(&vp->host->windows, &infos[bad]);

		pr_err("%s (%s): BAR%d (%s, 0x%llx bytes) cannot be placed in the %s window [0x%llx-0x%llx] "
		       "(0x%llx bytes free)",
		       vp->name, vp->vdev->bdf, bad, bar_kind(&infos[bad]), (unsigned long long)infos[bad].size,
		       w->name, (unsigned long long)w->base, (unsigned long long)(w->base + w->size - 1),
		       (unsigned long long)(w->base + w->size - w->next));
		return -ENOSPC;
	}
	vp->win_after = vp->host->windows;
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++) {
		if (!infos[i].size)
			continue;
		ret = pci_cfg_bar_setup(&vp->cfg, i, &infos[i], addrs[i]);
		if (ret) {
			pr_err("%s: BAR%u cannot be emulated (size 0x%llx at 0x%llx)", vp->name, i,
			       (unsigned long long)infos[i].size, (unsigned long long)addrs[i]);
			vfio_pci_bars_release(vp);
			return ret;
		}
	}
	return 0;
}

/* Subtract holes (sorted, merged) from [off, off+len) into pieces. */
static void add_pieces(struct vfio_pci_bar *b, void *host, u64 off, u64 len, const u64 (*holes)[2],
		       unsigned int nholes)
{
	u64 cur = off, end = off + len;

	for (unsigned int h = 0; h <= nholes && cur < end; h++) {
		u64 hs = h < nholes ? holes[h][0] : end, he = h < nholes ? holes[h][1] : end;

		if (he <= cur)
			continue;
		u64 pe = MIN(hs, end);

		if (pe > cur && b->npieces < VFIO_PCI_MAX_PIECES) {
			b->pieces[b->npieces++] = (struct vfio_pci_piece){
				.off = cur, .len = pe - cur, .host = (u8 *)host + (cur - off),
			};
		}
		cur = MAX(cur, he);
	}
}

/* mmap what VFIO lets us and compute the memslot pieces (MSI-X table and PBA pages excluded). */
void vfio_pci_bars_mmap(struct vfio_pci *vp)
{
	const char *nommap = getenv("IVMM_VFIO_NO_MMAP");

	if (nommap && !strcmp(nommap, "1")) {
		pr_info("%s: IVMM_VFIO_NO_MMAP=1: every BAR access is trapped", vp->name);
		return;
	}
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++) {
		struct vfio_pci_bar *b = &vp->bars[i];
		const struct vfio_region *r = &b->region;
		u64 holes[2][2];
		unsigned int nholes = 0;

		if (!b->info.size || !(r->flags & VFIO_REGION_INFO_FLAG_MMAP))
			continue;
		if (vp->msix_present) {
			u64 ranges[2][2] = {
				{ vp->msix_table_bar == i ? vp->msix_table_off : ~0ULL,
				  (u64)vp->msix_nvec * PCI_MSIX_ENTRY_SIZE },
				{ vp->msix_pba_bar == i ? vp->msix_pba_off : ~0ULL,
				  (u64)((vp->msix_nvec + 63) / 64) * 8 },
			};
			for (unsigned int h = 0; h < 2; h++) {
				if (ranges[h][0] == ~0ULL)
					continue;
				holes[nholes][0] = ALIGN_DOWN(ranges[h][0], vp->page_size);
				holes[nholes][1] = ALIGN_UP(ranges[h][0] + ranges[h][1], vp->page_size);
				nholes++;
			}
			if (nholes == 2) {
				if (holes[1][0] < holes[0][0]) {
					u64 t0 = holes[0][0], t1 = holes[0][1];

					holes[0][0] = holes[1][0];
					holes[0][1] = holes[1][1];
					holes[1][0] = t0;
					holes[1][1] = t1;
				}
				if (holes[1][0] <= holes[0][1]) {
					holes[0][1] = MAX(holes[0][1], holes[1][1]);
					nholes = 1;
				}
			}
		}
		unsigned int nareas = r->sparse ? r->nr_areas : 1;

		for (unsigned int a = 0; a < nareas && b->nmaps < VFIO_DEV_MAX_SPARSE; a++) {
			u64 off = r->sparse ? r->areas[a].offset : 0, len = r->sparse ? r->areas[a].size : r->size;
			void *host;

			if (!len || !IS_ALIGNED(off, vp->page_size) || !IS_ALIGNED(len, vp->page_size))
				continue;
			if (vfio_dev_region_mmap(vp->vdev, r, off, len, PROT_READ | PROT_WRITE, &host)) {
				pr_warn("%s: BAR%u [0x%llx+0x%llx] cannot be mmapped: trapped instead", vp->name, i,
					(unsigned long long)off, (unsigned long long)len);
				continue;
			}
			b->maps[b->nmaps++] = (struct vfio_pci_mmap){ .addr = host, .off = off, .len = len };
			add_pieces(b, host, off, len, (const u64(*)[2])holes, nholes);
		}
		pr_debug("%s: BAR%u: %u mmap(s), %u memslot piece(s)", vp->name, i, b->nmaps, b->npieces);
	}
}

void vfio_pci_bars_munmap(struct vfio_pci *vp)
{
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++) {
		struct vfio_pci_bar *b = &vp->bars[i];

		for (unsigned int m = 0; m < b->nmaps; m++)
			vfio_dev_region_munmap(vp->vdev, b->maps[m].addr, b->maps[m].len);
		b->nmaps = 0;
		b->npieces = 0;
	}
}

void vfio_pci_bars_undecode(struct vfio_pci *vp)
{
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
		bar_unmap(vp, &vp->bars[i]);
}
