/* vfio_pci_irq.c: interrupts of the vfio-pci model (see vfio_pci.h): the virtual MSI and MSI-X capabilities,
 * the emulated MSI-X table and PBA, and their translation into VFIO_DEVICE_SET_IRQS eventfds routed by the
 * hypervisor (irqfd_msi with the guest requester id as ITS device id, irqfd_spi with resample for INTx).
 *
 * Masking: a masked vector keeps its eventfd in VFIO but has no irqfd route, so the device's interrupt stays
 * in the eventfd counter. The pending bit (MSI Pending register, MSI-X PBA) is "the eventfd is readable";
 * unmasking re-creates the route and the hypervisor delivers the pending event (KVM's irqfd does on assign). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "boot/fdt.h"
#include "devices/vfio_pci.h"
#include "vmm/bits.h"
#include "vmm/log.h"

static u16 cfg16(const struct vfio_pci *vp, u32 off)
{
	return (u16)pci_cfg_get(&vp->cfg, off, 2);
}

static u32 cfg32(const struct vfio_pci *vp, u32 off)
{
	return pci_cfg_get(&vp->cfg, off, 4);
}

/* ---- capability setup ---- */

bool vfio_pci_msi_init(struct vfio_pci *vp, const u8 *raw, u8 off)
{
	struct vfio_irq_info ii;
	u16 flags = (u16)(raw[off + PCI_MSI_FLAGS] | raw[off + PCI_MSI_FLAGS + 1] << 8);
	unsigned int cap_vecs = 1u << FIELD_GET(PCI_MSI_FLAGS_QMASK, flags);
	struct pci_cfg *c = &vp->cfg;

	if (vfio_dev_irq_info(vp->vdev, VFIO_PCI_MSI_IRQ_INDEX, &ii) || !ii.count) {
		pr_info("%s: MSI capability hidden (VFIO offers no MSI)", vp->name);
		return false;
	}
	if (off + pci_msi_cap_len(flags) > PCI_CFG_SPACE_SIZE) {
		pr_warn("%s: MSI capability at 0x%02x runs past the config header: capability hidden", vp->name, off);
		return false;
	}
	vp->msi_present = true;
	vp->msi_cap = off;
	vp->msi_flags = flags & (PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT);
	vp->msi_max = MIN(MIN(cap_vecs, ii.count), (unsigned int)VFIO_PCI_MAX_MSI);
	/* Round down to a power of two: Multiple Message Capable is a log2. */
	while (vp->msi_max & (vp->msi_max - 1))
		vp->msi_max &= vp->msi_max - 1;

	u16 vflags = (u16)(vp->msi_flags | FIELD_PREP(PCI_MSI_FLAGS_QMASK, __builtin_ctz(vp->msi_max)));
	bool is64 = flags & PCI_MSI_FLAGS_64BIT;

	pci_cfg_set(c, off + PCI_CAP_LIST_ID, 1, PCI_CAP_ID_MSI);
	pci_cfg_set(c, off + PCI_MSI_FLAGS, 2, vflags);
	pci_cfg_set_wmask(c, off + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
	pci_cfg_set_wmask(c, off + PCI_MSI_ADDRESS_LO, 4, 0xfffffffc);
	if (is64)
		pci_cfg_set_wmask(c, off + PCI_MSI_ADDRESS_HI, 4, 0xffffffff);
	pci_cfg_set_wmask(c, off + (is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32), 2, 0xffff);
	if (flags & PCI_MSI_FLAGS_MASKBIT)
		pci_cfg_set_wmask(c, off + (is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32), 4,
				  (u32)(BIT(vp->msi_max) - 1));
	return true;
}

bool vfio_pci_msix_init(struct vfio_pci *vp, const u8 *raw, u8 off)
{
	struct vfio_irq_info ii;
	u16 flags = (u16)(raw[off + PCI_MSIX_FLAGS] | raw[off + PCI_MSIX_FLAGS + 1] << 8);
	u32 table, pba;
	unsigned int nvec = (flags & PCI_MSIX_FLAGS_QSIZE) + 1;
	struct pci_cfg *c = &vp->cfg;

	if (off + PCI_CAP_MSIX_SIZEOF > PCI_CFG_SPACE_SIZE) {
		pr_warn("%s: MSI-X capability at 0x%02x runs past the config header: capability hidden", vp->name, off);
		return false;
	}
	memcpy(&table, raw + off + PCI_MSIX_TABLE, 4);
	memcpy(&pba, raw + off + PCI_MSIX_PBA, 4);
	if (vfio_dev_irq_info(vp->vdev, VFIO_PCI_MSIX_IRQ_INDEX, &ii) || ii.count < nvec) {
		pr_info("%s: MSI-X capability hidden (VFIO offers %u of %u vectors)", vp->name, ii.count, nvec);
		return false;
	}
	u8 tbir = table & PCI_MSIX_TABLE_BIR, pbir = pba & PCI_MSIX_PBA_BIR;
	u32 toff = table & PCI_MSIX_TABLE_OFFSET, poff = pba & PCI_MSIX_PBA_OFFSET;

	if (tbir >= PCI_NUM_BARS || pbir >= PCI_NUM_BARS || !vp->bars[tbir].info.size || !vp->bars[pbir].info.size ||
	    (u64)toff + (u64)nvec * PCI_MSIX_ENTRY_SIZE > vp->bars[tbir].info.size ||
	    (u64)poff + ((nvec + 63) / 64) * 8 > vp->bars[pbir].info.size) {
		pr_warn("%s: MSI-X table (BAR%u+0x%x) or PBA (BAR%u+0x%x) outside its BAR: capability hidden",
			vp->name, tbir, toff, pbir, poff);
		return false;
	}
	vp->msix_table = calloc(nvec, sizeof(*vp->msix_table));
	if (!vp->msix_table) {
		pr_warn("%s: out of memory for the %u-entry MSI-X table: capability hidden", vp->name, nvec);
		return false;
	}
	for (unsigned int i = 0; i < nvec; i++)
		vp->msix_table[i].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;
	vp->msix_present = true;
	vp->msix_cap = off;
	vp->msix_nvec = nvec;
	vp->msix_table_bar = tbir;
	vp->msix_table_off = toff;
	vp->msix_pba_bar = pbir;
	vp->msix_pba_off = poff;
	pci_cfg_set(c, off + PCI_CAP_LIST_ID, 1, PCI_CAP_ID_MSIX);
	pci_cfg_set(c, off + PCI_MSIX_FLAGS, 2, flags & PCI_MSIX_FLAGS_QSIZE);
	pci_cfg_set_wmask(c, off + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	pci_cfg_set(c, off + PCI_MSIX_TABLE, 4, table);
	pci_cfg_set(c, off + PCI_MSIX_PBA, 4, pba);
	return true;
}

void vfio_pci_intx_init(struct vfio_pci *vp, const u8 *raw)
{
	struct vfio_irq_info ii;
	u8 pin = raw[PCI_INTERRUPT_PIN];

	vp->intx_ok = false;
	if (pin < 1 || pin > 4) {
		pci_cfg_set(&vp->cfg, PCI_INTERRUPT_PIN, 1, 0);
		return;
	}
	if (vfio_dev_irq_info(vp->vdev, VFIO_PCI_INTX_IRQ_INDEX, &ii) || !ii.count) {
		pr_info("%s: INTx not available through VFIO: pin hidden", vp->name);
		pci_cfg_set(&vp->cfg, PCI_INTERRUPT_PIN, 1, 0);
		return;
	}
	vp->intx_ok = true;
	vp->intx_spi = fdt_pci_intx_spi(vp->pdev.devfn >> 3, pin); /* as the FDT's interrupt-map says */
}

/* ---- vectors ---- */

static bool efd_pending(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void route_release(struct vfio_pci *vp, struct vfio_pci_vec *v)
{
	if (v->route < 0)
		return;
	int ret = vp->hv->ops->irqfd_release(vp->hv, v->route);

	if (ret)
		log_guest("%s: releasing irqfd route %d: %s", vp->name, v->route, strerror(-ret));
	v->route = -1;
}

/* The (addr, data, masked) the guest has programmed for vector i of the current mode. */
static void vector_target(const struct vfio_pci *vp, unsigned int i, u64 *addr, u32 *data, bool *masked)
{
	if (vp->mode == VFIO_PCI_IRQ_MSIX) {
		const struct vfio_pci_msix_entry *e = &vp->msix_table[i];

		*addr = (u64)e->addr_hi << 32 | e->addr_lo;
		*data = e->data;
		*masked = (e->ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT) ||
			  (cfg16(vp, vp->msix_cap + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_MASKALL);
		return;
	}
	u32 c = vp->msi_cap;
	bool is64 = vp->msi_flags & PCI_MSI_FLAGS_64BIT;
	u32 d = cfg16(vp, c + (is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32));

	*addr = cfg32(vp, c + PCI_MSI_ADDRESS_LO);
	if (is64)
		*addr |= (u64)cfg32(vp, c + PCI_MSI_ADDRESS_HI) << 32;
	/* Multiple Message Enable: the device puts the vector number in the low data bits. */
	*data = (d & ~(vp->nvecs - 1)) | i;
	*masked = (vp->msi_flags & PCI_MSI_FLAGS_MASKBIT) &&
		  (cfg32(vp, c + (is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32)) & BIT(i));
}

/* Many route changes as one for the hypervisor (one GSI table submission instead of one per vector, see
 * hv.h irqfd_batch); a backend without batching just applies each change at once. A failed end is the
 * backend's host error: it said so and retries at its next batch end. */
static void routes_batch(struct vfio_pci *vp, bool begin)
{
	if (vp->hv->ops->irqfd_batch && vp->hv->ops->irqfd_batch(vp->hv, begin) && begin)
		log_guest("%s: irqfd batch begin failed: routes are changed one by one", vp->name);
}

/* Routes follow the virtual state: unmasked vectors routed to their (addr, data), masked ones unrouted.
 * Runs on every MSI-X table write, so failures are summed into one rate-limited line. Batched: a vector
 * unmasked here with an event already waiting in its eventfd still gets it, because the backend assigns
 * a batched irqfd only once its route is committed (vmm/kvm.h, kvm_routes_add). */
static void routes_sync(struct vfio_pci *vp)
{
	if (vp->mode != VFIO_PCI_IRQ_MSI && vp->mode != VFIO_PCI_IRQ_MSIX)
		return;
	u32 devid = pci_dev_rid(&vp->pdev);
	unsigned int nfail = 0, first = 0;
	u64 first_addr = 0;
	u32 first_data = 0;
	int first_err = 0;

	routes_batch(vp, true);
	for (unsigned int i = 0; i < vp->nvecs; i++) {
		struct vfio_pci_vec *v = &vp->vecs[i];
		u64 addr;
		u32 data;
		bool masked;

		vector_target(vp, i, &addr, &data, &masked);
		/* Behind a vSMMU the guest's address is an IOVA of its own stage 1: KVM takes the doorbell GPA. */
		if (vp->msi_doorbell)
			addr = vp->msi_doorbell;
		if (v->route >= 0 && (masked || v->addr != addr || v->data != data))
			route_release(vp, v);
		if (masked || v->route >= 0)
			continue;
		int h = vp->hv->ops->irqfd_msi(vp->hv, v->efd, addr, data, devid);

		if (h < 0) {
			if (!nfail++) {
				first = i;
				first_addr = addr;
				first_data = data;
				first_err = h;
			}
			continue;
		}
		v->route = h;
		v->addr = addr;
		v->data = data;
	}
	routes_batch(vp, false);
	if (nfail)
		log_guest("%s: %u vector(s) unrouted, first %u (addr 0x%llx data 0x%x devid 0x%x): %s", vp->name,
			  nfail, first, (unsigned long long)first_addr, first_data, devid, strerror(-first_err));
}

static u32 mode_index(enum vfio_pci_irq_mode m)
{
	switch (m) {
	case VFIO_PCI_IRQ_INTX:
		return VFIO_PCI_INTX_IRQ_INDEX;
	case VFIO_PCI_IRQ_MSI:
		return VFIO_PCI_MSI_IRQ_INDEX;
	default:
		return VFIO_PCI_MSIX_IRQ_INDEX;
	}
}

static const char *mode_name(enum vfio_pci_irq_mode m)
{
	static const char *const names[] = { "none", "INTx", "MSI", "MSI-X" };

	return names[m];
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void mode_teardown(struct vfio_pci *vp)
{
	if (vp->mode == VFIO_PCI_IRQ_NONE)
		return;
	routes_batch(vp, true);
	for (unsigned int i = 0; i < vp->nvecs; i++)
		route_release(vp, &vp->vecs[i]);
	routes_batch(vp, false);
	if (vfio_dev_irq_disable(vp->vdev, mode_index(vp->mode), FAIL_QUIET))
		log_guest("%s: disabling %s in VFIO failed: %s", vp->name, mode_name(vp->mode), vp->vdev->last_err);
	for (unsigned int i = 0; i < vp->nvecs; i++)
		close_fd(&vp->vecs[i].efd);
	close_fd(&vp->intx_resample);
	vp->mode = VFIO_PCI_IRQ_NONE;
	vp->nvecs = 0;
}

static int mode_setup(struct vfio_pci *vp, enum vfio_pci_irq_mode mode, unsigned int n)
{
	u32 index = mode_index(mode);
	int *fds = calloc(n, sizeof(*fds));
	int ret;

	if (!fds) {
		log_guest("%s: out of memory for %u %s eventfds", vp->name, n, mode_name(mode));
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < n; i++) {
		vp->vecs[i].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->vecs[i].efd < 0) {
			ret = -errno;
			log_guest("%s: eventfd: %s", vp->name, strerror(errno));
			goto err_fds;
		}
		fds[i] = vp->vecs[i].efd;
	}
	vp->nvecs = n;
	ret = vfio_dev_irq_set_eventfds(vp->vdev, index, 0, n, fds, FAIL_QUIET);
	free(fds);
	fds = NULL;
	if (ret) {
		log_guest("%s: %s", vp->name, vp->vdev->last_err);
		goto err_fds;
	}
	vp->mode = mode;
	if (mode != VFIO_PCI_IRQ_INTX)
		return 0;

	vp->intx_resample = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vp->intx_resample < 0) {
		ret = -errno;
		log_guest("%s: eventfd: %s", vp->name, strerror(errno));
		goto err_teardown;
	}
	ret = vfio_dev_irq_unmask_eventfd(vp->vdev, index, 0, vp->intx_resample, FAIL_QUIET);
	if (ret) {
		log_guest("%s: %s", vp->name, vp->vdev->last_err);
		goto err_teardown;
	}
	ret = vp->hv->ops->irqfd_spi(vp->hv, vp->vecs[0].efd, vp->intx_resample, vp->intx_spi);
	if (ret < 0) {
		log_guest("%s: routing INTx to SPI %u: %s", vp->name, vp->intx_spi, strerror(-ret));
		goto err_teardown;
	}
	vp->vecs[0].route = ret;
	return 0;

err_teardown:
	mode_teardown(vp);
	return ret;
err_fds:
	free(fds);
	for (unsigned int i = 0; i < n; i++)
		close_fd(&vp->vecs[i].efd);
	vp->nvecs = 0;
	return ret;
}

void vfio_pci_irq_update(struct vfio_pci *vp)
{
	enum vfio_pci_irq_mode want = VFIO_PCI_IRQ_NONE;
	unsigned int n = 0;

	if (vp->msix_present && (cfg16(vp, vp->msix_cap + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_ENABLE)) {
		want = VFIO_PCI_IRQ_MSIX;
		n = vp->msix_nvec;
	} else if (vp->msi_present && (cfg16(vp, vp->msi_cap + PCI_MSI_FLAGS) & PCI_MSI_FLAGS_ENABLE)) {
		want = VFIO_PCI_IRQ_MSI;
		n = 1u << FIELD_GET(PCI_MSI_FLAGS_QSIZE, cfg16(vp, vp->msi_cap + PCI_MSI_FLAGS));
		if (n > vp->msi_max) {
			log_guest("%s: MSI Multiple Message Enable %u above the %u offered: using %u", vp->name, n,
				  vp->msi_max, vp->msi_max);
			n = vp->msi_max;
		}
	} else if (vp->intx_ok) {
		want = VFIO_PCI_IRQ_INTX;
		n = 1;
	}
	if (want != vp->mode || n != vp->nvecs) {
		mode_teardown(vp);
		if (want != VFIO_PCI_IRQ_NONE && mode_setup(vp, want, n))
			log_guest("%s: could not switch interrupts to %s: the device's interrupts are lost", vp->name,
				  mode_name(want));
		else
			pr_debug("%s: interrupts: %s, %u vector(s)", vp->name, mode_name(want), n);
	}
	routes_sync(vp);
}

void vfio_pci_irq_reset(struct vfio_pci *vp)
{
	mode_teardown(vp);
	for (unsigned int i = 0; vp->msix_table && i < vp->msix_nvec; i++)
		vp->msix_table[i] = (struct vfio_pci_msix_entry){ .ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT };
}

void vfio_pci_irq_fini(struct vfio_pci *vp)
{
	mode_teardown(vp);
	free(vp->msix_table);
	vp->msix_table = NULL;
	vp->msix_present = false;
}

static bool vector_pending(const struct vfio_pci *vp, unsigned int i)
{
	return i < vp->nvecs && vp->vecs[i].route < 0 && efd_pending(vp->vecs[i].efd);
}

u32 vfio_pci_msi_pending(struct vfio_pci *vp)
{
	u32 p = 0;

	if (vp->mode != VFIO_PCI_IRQ_MSI)
		return 0;
	for (unsigned int i = 0; i < vp->nvecs; i++)
		if (vector_pending(vp, i))
			p |= (u32)BIT(i);
	return p;
}

/* ---- MSI-X table and PBA ---- */

static bool in_table(const struct vfio_pci *vp, unsigned int bar, u64 off, u64 len)
{
	return vp->msix_present && bar == vp->msix_table_bar &&
	       off < vp->msix_table_off + (u64)vp->msix_nvec * PCI_MSIX_ENTRY_SIZE && vp->msix_table_off < off + len;
}

static bool in_pba(const struct vfio_pci *vp, unsigned int bar, u64 off, u64 len)
{
	return vp->msix_present && bar == vp->msix_pba_bar &&
	       off < vp->msix_pba_off + (u64)((vp->msix_nvec + 63) / 64) * 8 && vp->msix_pba_off < off + len;
}

bool vfio_pci_msix_overlaps(const struct vfio_pci *vp, unsigned int bar, u64 off, u64 len)
{
	return in_table(vp, bar, off, len) || in_pba(vp, bar, off, len);
}

static u32 *entry_word(struct vfio_pci *vp, u64 toff)
{
	struct vfio_pci_msix_entry *e = &vp->msix_table[toff / PCI_MSIX_ENTRY_SIZE];

	switch (toff % PCI_MSIX_ENTRY_SIZE) {
	case PCI_MSIX_ENTRY_LOWER_ADDR:
		return &e->addr_lo;
	case PCI_MSIX_ENTRY_UPPER_ADDR:
		return &e->addr_hi;
	case PCI_MSIX_ENTRY_DATA:
		return &e->data;
	default:
		return &e->ctrl;
	}
}

bool vfio_pci_msix_read(struct vfio_pci *vp, unsigned int bar, u64 off, unsigned int size, u64 *val)
{
	if (in_table(vp, bar, off, size)) {
		u64 toff = off - vp->msix_table_off;

		*val = 0;
		if ((size != 4 && size != 8) || (off & 3) || off < vp->msix_table_off ||
		    toff + size > (u64)vp->msix_nvec * PCI_MSIX_ENTRY_SIZE) {
			log_guest("%s: MSI-X table read of %u bytes at +0x%llx: not a dword/qword access", vp->name,
				  size, (unsigned long long)toff);
			return true;
		}
		for (unsigned int i = 0; i < size / 4; i++)
			*val |= (u64)*entry_word(vp, toff + 4 * i) << (32 * i);
		return true;
	}
	if (in_pba(vp, bar, off, size)) {
		*val = 0;
		for (unsigned int byte = 0; byte < size; byte++) {
			if (off + byte < vp->msix_pba_off)
				continue;
			u64 first = (off + byte - vp->msix_pba_off) * 8;

			for (unsigned int b = 0; b < 8; b++)
				if (vp->mode == VFIO_PCI_IRQ_MSIX && vector_pending(vp, (unsigned int)(first + b)))
					*val |= BIT(8 * byte + b);
		}
		return true;
	}
	return false;
}

bool vfio_pci_msix_write(struct vfio_pci *vp, unsigned int bar, u64 off, unsigned int size, u64 val)
{
	if (in_table(vp, bar, off, size)) {
		u64 toff = off - vp->msix_table_off;

		if ((size != 4 && size != 8) || (off & 3) || off < vp->msix_table_off ||
		    toff + size > (u64)vp->msix_nvec * PCI_MSIX_ENTRY_SIZE) {
			log_guest("%s: MSI-X table write of %u bytes at +0x%llx ignored: not a dword/qword access",
				  vp->name, size, (unsigned long long)toff);
			return true;
		}
		for (unsigned int i = 0; i < size / 4; i++) {
			u64 w = toff + 4 * i;
			u32 v = (u32)(val >> (32 * i));

			if (w % PCI_MSIX_ENTRY_SIZE == PCI_MSIX_ENTRY_VECTOR_CTRL)
				v &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
			*entry_word(vp, w) = v;
		}
		routes_sync(vp);
		return true;
	}
	if (in_pba(vp, bar, off, size)) {
		log_guest("%s: write to the MSI-X PBA ignored (read-only)", vp->name);
		return true;
	}
	return false;
}
