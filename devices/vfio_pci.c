/* vfio_pci.c: the vfio-pci device model: its creation and destruction, and config-space virtualisation (the
 * emulated header and capabilities, live registers read from the device, guest writes forwarded where safe).
 * See vfio_pci.h; BARs are in vfio_pci_bar.c, interrupts in vfio_pci_irq.c, resets in vfio_pci_reset.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "devices/vfio_pci.h"
#include "vmm/bits.h"
#include "vmm/log.h"

/* Command bits the guest controls on the real device. */
#define CMD_PASSTHROUGH (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE)
#define CMD_WRITABLE (CMD_PASSTHROUGH | PCI_COMMAND_PARITY | PCI_COMMAND_SERR)

/* Pass memory decode / bus mastering / INTx disable to the device, ordered so that no memslot is live
 * while the device's decode is off (lock held). */
void vfio_pci_cmd_update(struct vfio_pci *vp, u16 old)
{
	u16 cmd = (u16)pci_cfg_get(&vp->cfg, PCI_COMMAND, 2);
	u32 real;

	if (!((old ^ cmd) & CMD_PASSTHROUGH))
		return;
	if (!(cmd & PCI_COMMAND_MEMORY))
		vfio_pci_bars_update(vp, -1);
	/* Guest-driven: failures are reported rate-limited, not by the wrappers. */
	if (vfio_dev_cfg_read(vp->vdev, PCI_COMMAND, 2, &real, FAIL_QUIET) == 0) {
		real = (real & ~(u32)CMD_PASSTHROUGH) | (cmd & CMD_PASSTHROUGH);
		if (vfio_dev_cfg_write(vp->vdev, PCI_COMMAND, 2, real, FAIL_QUIET))
			log_guest("%s: could not update the device's command register: %s", vp->name,
				  vp->vdev->last_err);
	} else {
		log_guest("%s: could not read the device's command register: %s", vp->name, vp->vdev->last_err);
	}
	if (cmd & PCI_COMMAND_MEMORY)
		vfio_pci_bars_update(vp, -1);
}

/* ---- config space ---- */

#define STATUS_W1C                                                                                    \
	(PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |              \
	 PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)
#define DEVCTL_SAFE                                                                                   \
	(PCI_EXP_DEVCTL_CERE | PCI_EXP_DEVCTL_NFERE | PCI_EXP_DEVCTL_FERE | PCI_EXP_DEVCTL_URRE |     \
	 PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_NOSNOOP_EN)
#define DEVSTA_W1C (PCI_EXP_DEVSTA_CED | PCI_EXP_DEVSTA_NFED | PCI_EXP_DEVSTA_FED | PCI_EXP_DEVSTA_URD)

static void add_fwd(struct vfio_pci *vp, u32 off, u16 mask, u16 zero, bool w1c)
{
	if (vp->nfwd >= VFIO_PCI_MAX_FWD || off + 2 > PCI_CFG_SPACE_SIZE)
		return;
	vp->fwd[vp->nfwd++] = (struct vfio_pci_fwd){ .off = (u16)off, .mask = mask, .zero = zero, .w1c = w1c };
}

/* Forward the safe part of a guest write to live registers (lock held). */
static void forward_live(struct vfio_pci *vp, u32 off, u32 size, u32 val)
{
	for (unsigned int f = 0; f < vp->nfwd; f++) {
		const struct vfio_pci_fwd *r = &vp->fwd[f];
		u32 gval = 0, ben = 0, cur;

		if (!pci_cfg_overlaps(off, size, r->off, 2))
			continue;
		for (u32 i = 0; i < size; i++) {
			u32 o = off + i;

			if (o < r->off || o >= r->off + 2u)
				continue;
			gval |= ((val >> (8 * i)) & 0xff) << (8 * (o - r->off));
			ben |= 0xffu << (8 * (o - r->off));
		}
		u16 m = (u16)(ben & r->mask);

		if (!m)
			continue;
		if (r->w1c) {
			if (!(gval & m))
				continue;
			cur = gval & m;
		} else {
			if (vfio_dev_cfg_read(vp->vdev, r->off, 2, &cur, FAIL_QUIET)) {
				log_guest("%s: config write at 0x%x: %s", vp->name, r->off, vp->vdev->last_err);
				continue;
			}
			cur = ((cur & ~(u32)m & ~(u32)r->zero) | (gval & m)) & 0xffff;
		}
		if (vfio_dev_cfg_write(vp->vdev, r->off, 2, cur, FAIL_QUIET))
			log_guest("%s: config write at 0x%x: %s", vp->name, r->off, vp->vdev->last_err);
	}
}

u32 vfio_pci_cfg_read(struct vfio_pci *vp, u32 off, u32 size)
{
	u32 v;

	pthread_mutex_lock(&vp->lock);
	v = pci_cfg_get(&vp->cfg, off, size);
	if (off < PCI_CFG_SPACE_SIZE) {
		u32 live = 0;

		for (u32 i = 0; i < size; i++)
			if (vp->live[off + i])
				live |= 0xffu << (8 * i);
		if (live) {
			u32 dv;

			/* Every guest read comes here: a failing device must not flood stderr. */
			if (vfio_dev_cfg_read(vp->vdev, off, size, &dv, FAIL_QUIET) == 0)
				v = (v & ~live) | (dv & live);
			else
				log_guest("%s: config read at 0x%x: %s", vp->name, off, vp->vdev->last_err);
		}
		if (pci_cfg_overlaps(off, size, PCI_STATUS, 1)) {
			/* Whether there is a capability list is ours to say. */
			u32 sh = 8 * (PCI_STATUS - off);

			v = (v & ~((u32)PCI_STATUS_CAP_LIST << sh)) |
			    (pci_cfg_get(&vp->cfg, PCI_STATUS, 1) & PCI_STATUS_CAP_LIST) << sh;
		}
		if (vp->msi_present && (vp->msi_flags & PCI_MSI_FLAGS_MASKBIT)) {
			u32 pend = vp->msi_cap +
				   ((vp->msi_flags & PCI_MSI_FLAGS_64BIT) ? PCI_MSI_PENDING_64 : PCI_MSI_PENDING_32);

			if (pci_cfg_overlaps(off, size, pend, 4)) {
				u32 p = vfio_pci_msi_pending(vp);

				for (u32 i = 0; i < size; i++) {
					u32 o = off + i;

					if (o >= pend && o < pend + 4) {
						v &= ~(0xffu << (8 * i));
						v |= ((p >> (8 * (o - pend))) & 0xff) << (8 * i);
					}
				}
			}
		}
		v = vfio_pci_reset_cfg_read(vp, off, size, v);
	}
	pthread_mutex_unlock(&vp->lock);
	return v;
}

void vfio_pci_cfg_write(struct vfio_pci *vp, u32 off, u32 size, u32 val)
{
	pthread_mutex_lock(&vp->lock);
	u16 oldcmd = (u16)pci_cfg_get(&vp->cfg, PCI_COMMAND, 2);

	pci_cfg_write(&vp->cfg, off, size, val);
	if (off < PCI_CFG_SPACE_SIZE)
		forward_live(vp, off, size, val);
	if (pci_cfg_overlaps(off, size, PCI_COMMAND, 2))
		vfio_pci_cmd_update(vp, oldcmd);
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++) {
		const struct vfio_pci_bar *b = &vp->bars[i];

		if (b->info.size && pci_cfg_overlaps(off, size, PCI_BASE_ADDRESS_0 + 4 * i, b->info.is64 ? 8 : 4)) {
			vfio_pci_bars_update(vp, (int)i);
			break;
		}
	}
	if ((vp->msi_present && pci_cfg_overlaps(off, size, vp->msi_cap, pci_msi_cap_len(vp->msi_flags))) ||
	    (vp->msix_present && pci_cfg_overlaps(off, size, vp->msix_cap + PCI_MSIX_FLAGS, 2)))
		vfio_pci_irq_update(vp);
	if (off < PCI_CFG_SPACE_SIZE)
		vfio_pci_reset_cfg_write(vp, off, size, val);
	pthread_mutex_unlock(&vp->lock);
}

static u32 cfg_read_op(struct pci_dev *d, u32 off, u32 size)
{
	return vfio_pci_cfg_read(container_of(d, struct vfio_pci, pdev), off, size);
}

static void cfg_write_op(struct pci_dev *d, u32 off, u32 size, u32 val)
{
	vfio_pci_cfg_write(container_of(d, struct vfio_pci, pdev), off, size, val);
}

static const struct pci_dev_ops vfio_pci_dev_ops = {
	.cfg_read = cfg_read_op,
	.cfg_write = cfg_write_op,
};

static int read_raw_config(struct vfio_pci *vp, u8 *raw)
{
	for (u32 off = 0; off < PCI_CFG_SPACE_SIZE; off += 4) {
		u32 v;
		int ret = vfio_dev_cfg_read(vp->vdev, off, 4, &v, FAIL_PRINT);

		if (ret)
			return ret;
		memcpy(raw + off, &v, 4);
	}
	return 0;
}

static void copy_raw(struct vfio_pci *vp, const u8 *raw, u32 off, u32 len)
{
	memcpy(vp->cfg.val + off, raw + off, len);
}

/* The type-0 header, except BARs and the capability pointer. */
static void setup_header(struct vfio_pci *vp, const u8 *raw)
{
	struct pci_cfg *c = &vp->cfg;

	copy_raw(vp, raw, PCI_VENDOR_ID, 4);
	pci_cfg_set(c, PCI_COMMAND, 2, 0);
	pci_cfg_set_wmask(c, PCI_COMMAND, 2, CMD_WRITABLE);
	vp->live[PCI_STATUS] = vp->live[PCI_STATUS + 1] = 1;
	add_fwd(vp, PCI_STATUS, STATUS_W1C, 0, true);
	copy_raw(vp, raw, PCI_REVISION_ID, 4);
	pci_cfg_set_wmask(c, PCI_CACHE_LINE_SIZE, 1, 0xff);
	pci_cfg_set_wmask(c, PCI_LATENCY_TIMER, 1, 0xff);
	pci_cfg_set(c, PCI_HEADER_TYPE, 1, raw[PCI_HEADER_TYPE] & 0x7f); /* one function shown */
	copy_raw(vp, raw, PCI_SUBSYSTEM_VENDOR_ID, 4);
	pci_cfg_set(c, PCI_INTERRUPT_LINE, 1, 0);
	pci_cfg_set_wmask(c, PCI_INTERRUPT_LINE, 1, 0xff);
	copy_raw(vp, raw, PCI_INTERRUPT_PIN, 3);
	/* ROM BAR, CardBus CIS, BIST: hidden (read 0, not writable). */
}

/* A capability passed through read-only: header bytes are ours (list linkage), the body is read live. */
static void passthrough_cap(struct vfio_pci *vp, const u8 *raw, u8 off, u32 len)
{
	len = MIN(len, (u32)PCI_CFG_SPACE_SIZE - off);
	copy_raw(vp, raw, off, len);
	for (u32 i = 2; i < len; i++)
		vp->live[off + i] = 1;
}

static int setup_caps(struct vfio_pci *vp, const u8 *raw)
{
	struct pci_cap caps[PCI_CAP_MAX], keep[PCI_CAP_MAX];
	unsigned int nkeep = 0;
	int n = pci_cap_walk(raw, PCI_CFG_SPACE_SIZE, caps, PCI_CAP_MAX);

	if (n < 0) {
		pr_warn("%s: malformed capability list (%s): hiding all capabilities", vp->name, strerror(-n));
		n = 0;
	}
	for (int i = 0; i < n; i++) {
		u8 off = caps[i].off;
		bool kept = true;

		switch (caps[i].id) {
		case PCI_CAP_ID_MSI:
			kept = !vp->msi_present && vfio_pci_msi_init(vp, raw, off);
			break;
		case PCI_CAP_ID_MSIX:
			kept = !vp->msix_present && vfio_pci_msix_init(vp, raw, off);
			break;
		case PCI_CAP_ID_PM:
			passthrough_cap(vp, raw, off, PCI_PM_SIZEOF);
			vp->pm_cap = vp->pm_cap ? vp->pm_cap : off;
			/* D-state changes go to the device (the kernel's vfio-pci handles them) unless leaving D3hot
			 * resets it (vfio_pci_reset.c); PME_Status is W1C, so a read-modify-write writes it as 0. */
			if (vfio_pci_pm_forwarded(raw, off))
				add_fwd(vp, off + PCI_PM_CTRL, PCI_PM_CTRL_STATE_MASK, PCI_PM_CTRL_PME_STATUS, false);
			break;
		case PCI_CAP_ID_EXP: {
			u16 flags = (u16)(raw[off + PCI_EXP_FLAGS] | raw[off + PCI_EXP_FLAGS + 1] << 8);

			passthrough_cap(vp, raw, off,
					(flags & PCI_EXP_FLAGS_VERS) >= 2 ? PCI_CAP_EXP_ENDPOINT_SIZEOF_V2 :
									    PCI_CAP_EXP_ENDPOINT_SIZEOF_V1);
			vp->exp_cap = vp->exp_cap ? vp->exp_cap : off;
			add_fwd(vp, off + PCI_EXP_DEVCTL, DEVCTL_SAFE, 0, false);
			add_fwd(vp, off + PCI_EXP_DEVSTA, DEVSTA_W1C, 0, true);
			break;
		}
		case PCI_CAP_ID_VNDR:
			passthrough_cap(vp, raw, off, MAX(raw[off + PCI_CAP_FLAGS], 3));
			break;
		default:
			kept = false;
			break;
		}
		if (kept)
			keep[nkeep++] = caps[i];
		else
			pr_debug("%s: capability 0x%02x at 0x%02x hidden", vp->name, caps[i].id, off);
	}
	pci_cfg_link_caps(&vp->cfg, keep, nkeep);
	return 0;
}
int vfio_pci_create(struct vfio_pci **out, const char *name, struct vfio_dev *vdev, struct pci_host *host,
		    struct hv *hv, struct bus *bus, int slot)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	u8 raw[PCI_CFG_SPACE_SIZE];
	struct vfio_pci *vp;
	long ps = sysconf(_SC_PAGESIZE);
	int ret;

	vp = calloc(1, sizeof(*vp));
	if (!vp) {
		pr_err("%s (%s): out of memory for the vfio-pci model (%zu bytes)", name, vdev->bdf, sizeof(*vp));
		return -ENOMEM;
	}
	snprintf(vp->name, sizeof(vp->name), "%s", name);
	vp->pdev = (struct pci_dev){ .ops = &vfio_pci_dev_ops, .name = vp->name };
	vp->vdev = vdev;
	vp->hv = hv;
	vp->bus = bus;
	vp->host = host;
	vp->page_size = ps > 0 ? (u64)ps : SZ_4K;
	vp->intx_resample = -1;
	for (unsigned int i = 0; i < VFIO_PCI_MAX_MSIX; i++)
		vp->vecs[i] = (struct vfio_pci_vec){ .efd = -1, .route = -1 };
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
		vp->bars[i].gpa = VFIO_PCI_NO_ADDR;
	pci_cfg_init(&vp->cfg);
	ret = -pthread_mutex_init(&vp->lock, NULL);
	if (ret) {
		pr_err("%s (%s): creating the device lock: %s", name, vdev->bdf, strerror(-ret));
		goto err_free;
	}

	ret = vfio_dev_get_info(vdev, &info);
	if (ret)
		goto err_mutex;
	if (!(info.flags & VFIO_DEVICE_FLAGS_PCI)) {
		pr_err("%s (%s): not a PCI device (VFIO flags 0x%x)", name, vdev->bdf, info.flags);
		ret = -ENODEV;
		goto err_mutex;
	}
	ret = vfio_pci_reset_begin(vp, &info);
	if (ret)
		goto err_mutex;
	ret = read_raw_config(vp, raw);
	if (ret)
		goto err_mutex;
	if (raw[0] == 0xff && raw[1] == 0xff) {
		pr_err("%s (%s): config space reads all-ones (device gone?)", name, vdev->bdf);
		ret = -ENODEV;
		goto err_mutex;
	}
	if ((raw[PCI_HEADER_TYPE] & 0x7f) != PCI_HEADER_TYPE_NORMAL) {
		pr_err("%s (%s): header type 0x%02x: only endpoints (type 0) can be passed through", name, vdev->bdf,
		       raw[PCI_HEADER_TYPE] & 0x7f);
		ret = -ENOTSUP;
		goto err_mutex;
	}
	vfio_pci_quiesce(vp);
	setup_header(vp, raw);
	ret = vfio_pci_bars_probe(vp, raw);
	if (ret)
		goto err_mutex;
	ret = vfio_pci_bars_place(vp);
	if (ret)
		goto err_mutex;
	ret = setup_caps(vp, raw);
	if (ret)
		goto err_caps;
	vfio_pci_bars_mmap(vp);
	ret = pci_host_add(host, &vp->pdev, slot);
	if (ret)
		goto err_unmap;
	vfio_pci_intx_init(vp, raw);
	vfio_pci_reset_setup(vp, raw);
	pthread_mutex_lock(&vp->lock);
	vfio_pci_irq_update(vp);
	pthread_mutex_unlock(&vp->lock);
	pr_debug("%s (%s) at 00:%02x.%u", name, vdev->bdf, vp->pdev.devfn >> 3, vp->pdev.devfn & 7);
	*out = vp;
	return 0;

err_unmap:
	vfio_pci_bars_munmap(vp);
err_caps:
	vfio_pci_irq_fini(vp);
	vfio_pci_bars_release(vp);
err_mutex:
	pthread_mutex_destroy(&vp->lock);
err_free:
	free(vp);
	return ret;
}

void vfio_pci_destroy(struct vfio_pci *vp)
{
	if (!vp)
		return;
	pthread_mutex_lock(&vp->lock);
	vfio_pci_bars_undecode(vp);
	vfio_pci_irq_fini(vp);
	pthread_mutex_unlock(&vp->lock);
	vfio_pci_reset_end(vp);
	pci_host_remove(vp->host, &vp->pdev);
	vfio_pci_bars_munmap(vp);
	vfio_pci_bars_release(vp);
	pthread_mutex_destroy(&vp->lock);
	free(vp);
}
