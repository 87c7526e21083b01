/* vfio_pci_reset.c: resets of a passed-through function (see vfio_pci.h): the reset at creation and at
 * destruction, and the reset methods the guest is offered. Every method the guest can see really resets the
 * device; one that cannot is not shown:
 *   - FLR (PCI Express Device Control, Initiate Function Level Reset) is offered as the device's DevCap has it,
 *     but only when VFIO can reset the device (VFIO_DEVICE_FLAGS_RESET); otherwise DevCap reads without FLR.
 *     The guest's FLR becomes VFIO_DEVICE_RESET (the host's vfio-pci resets the function with the method it
 *     has, saving and restoring the host's config space around it), and what the guest sees becomes what a
 *     function looks like after FLR (PCIe Base spec, "Function Level Reset": registers back to their defaults,
 *     sticky and HwInit ones excepted): ivmm's virtual registers as at creation (command 0: no decode, no bus
 *     mastering, INTx enabled; MSI and MSI-X disabled, MSI-X table entries masked; cache line size, latency
 *     timer and interrupt line 0) with BAR addresses 0: a BAR's address bits default to 0, QEMU's PCI core
 *     clears them on every device reset and its vfio post-reset writes 0 to the BARs too; Linux's
 *     pci_reset_function() saves the BARs before and restores them after. Interrupts are torn down before the
 *     reset as for a guest disabling MSI/MSI-X (QEMU's vfio_pci_pre_reset does the same) and INTx is set up
 *     again after it. Initiate FLR always reads 0. Registers read live (Status, DevCtl, DevSta, Link, PMCSR)
 *     read what the device has after its reset: the host's reset restores the values they had before it.
 *   - PM reset (D3hot -> D0 with No_Soft_Reset 0) is not offered: PMCSR reads No_Soft_Reset 1, so Linux never
 *     picks "pm". To keep that true for a device whose own No_Soft_Reset is 0 (leaving D3hot would reset it
 *     behind the guest's back), its power state is kept here and not forwarded: it stays in D0.
 *   - AF FLR is never offered: the Advanced Features capability is hidden (vfio_pci.c).
 * The guest waits for an FLR with a config write outstanding, so the reset runs under the device lock on the
 * vCPU that wrote it. A failed VFIO reset is a host error, reported rate-limited: the guest-visible state is
 * the post-FLR one all the same (consistent with what the guest restores next), and its next FLR tries again. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "devices/vfio_pci.h"
#include "vmm/log.h"

/* VFIO_DEVICE_RESET fails with EAGAIN while something on the host holds the device's lock
 * (pci_try_reset_function): a few tries, RESET_RETRY_US apart. */
#define RESET_TRIES 5
#define RESET_RETRY_US 20000

int vfio_pci_reset_begin(struct vfio_pci *vp, const struct vfio_device_info *info)
{
	vp->can_reset = info->flags & VFIO_DEVICE_FLAGS_RESET;
	if (!vp->can_reset) {
		pr_debug("%s (%s): no reset method; starting from its current state", vp->name, vp->vdev->bdf);
		return 0;
	}
	return vfio_dev_reset(vp->vdev, FAIL_PRINT);
}

/* A little-endian register of len bytes at off of the device's config header raw (bytes past it read 0). */
static u32 raw_get(const u8 *raw, u32 off, u32 len)
{
	u32 v = 0;

	for (u32 i = 0; i < len && off + i < PCI_CFG_SPACE_SIZE; i++)
		v |= (u32)raw[off + i] << (8 * i);
	return v;
}

bool vfio_pci_pm_forwarded(const u8 *raw, u8 off)
{
	return raw_get(raw, off + PCI_PM_CTRL, 2) & PCI_PM_CTRL_NO_SOFT_RESET;
}

void vfio_pci_reset_setup(struct vfio_pci *vp, const u8 *raw)
{
	if (vp->exp_cap) {
		bool has = raw_get(raw, vp->exp_cap + PCI_EXP_DEVCAP, 4) & PCI_EXP_DEVCAP_FLR;

		vp->flr = has && vp->can_reset;
		if (has && !vp->can_reset)
			pr_info("%s: FLR hidden from the guest: VFIO cannot reset the device", vp->name);
	}
	vp->pm_virtual = vp->pm_cap && !vfio_pci_pm_forwarded(raw, vp->pm_cap);
	vp->pm_state = 0; /* vfio-pci puts the device in D0 when it is opened */
	memcpy(vp->reset_cfg, vp->cfg.val, PCI_CFG_SPACE_SIZE);
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++) {
		const struct vfio_pci_bar *b = &vp->bars[i];
		u8 *reg = vp->reset_cfg + PCI_BASE_ADDRESS_0 + 4 * i;

		if (!b->info.size)
			continue;
		/* The type bits stay, the address goes (both halves of a 64-bit BAR). */
		reg[0] &= (u8)~PCI_BASE_ADDRESS_MEM_MASK;
		memset(reg + 1, 0, b->info.is64 ? 7 : 3);
	}
	pr_debug("%s: resets offered to the guest: %s; PM power state %s", vp->name, vp->flr ? "FLR" : "none",
		 vp->pm_cap ? (vp->pm_virtual ? "kept by ivmm" : "forwarded") : "absent");
}

void vfio_pci_quiesce(struct vfio_pci *vp)
{
	u32 cmd;

	if (vfio_dev_cfg_read(vp->vdev, PCI_COMMAND, 2, &cmd, FAIL_PRINT) == 0 &&
	    (cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) != 0) {
		cmd &= ~(u32)(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
		if (vfio_dev_cfg_write(vp->vdev, PCI_COMMAND, 2, cmd, FAIL_PRINT))
			pr_warn("%s: could not clear the device's command register", vp->name);
	}
}

void vfio_pci_reset_end(struct vfio_pci *vp)
{
	vfio_pci_quiesce(vp);
	if (vp->can_reset && vfio_dev_reset(vp->vdev, FAIL_PRINT))
		pr_warn("%s: reset at teardown failed", vp->name);
}

/* v with, in the bytes of the access (size bytes at off) that belong to the register of len bytes at reg, the
 * register's bits clr cleared and then set set. */
static u32 patch(u32 off, u32 size, u32 v, u32 reg, u32 len, u32 clr, u32 set)
{
	for (u32 i = 0; i < size; i++) {
		u32 o = off + i, sh;

		if (o < reg || o >= reg + len)
			continue;
		sh = 8 * (o - reg);
		v &= ~(((clr >> sh) & 0xffu) << (8 * i));
		v |= ((set >> sh) & 0xffu) << (8 * i);
	}
	return v;
}

u32 vfio_pci_reset_cfg_read(const struct vfio_pci *vp, u32 off, u32 size, u32 v)
{
	if (vp->exp_cap) {
		v = patch(off, size, v, vp->exp_cap + PCI_EXP_DEVCAP, 4, vp->flr ? 0 : PCI_EXP_DEVCAP_FLR, 0);
		v = patch(off, size, v, vp->exp_cap + PCI_EXP_DEVCTL, 2, PCI_EXP_DEVCTL_BCR_FLR, 0);
	}
	if (vp->pm_cap)
		v = patch(off, size, v, vp->pm_cap + PCI_PM_CTRL, 2, vp->pm_virtual ? PCI_PM_CTRL_STATE_MASK : 0,
			  PCI_PM_CTRL_NO_SOFT_RESET | (vp->pm_virtual ? vp->pm_state : 0));
	return v;
}

/* The byte a guest write (size bytes of val at off) puts at config offset at, or -1 if it does not reach it. */
static int written_byte(u32 off, u32 size, u32 val, u32 at)
{
	if (at < off || at >= off + size)
		return -1;
	return (int)((val >> (8 * (at - off))) & 0xff);
}

void vfio_pci_reset_cfg_write(struct vfio_pci *vp, u32 off, u32 size, u32 val)
{
	int b;

	if (vp->pm_virtual) {
		b = written_byte(off, size, val, vp->pm_cap + PCI_PM_CTRL);
		if (b >= 0)
			vp->pm_state = (u8)(b & PCI_PM_CTRL_STATE_MASK);
	}
	if (!vp->exp_cap)
		return;
	/* Initiate FLR is bit 15: the high byte of Device Control. */
	b = written_byte(off, size, val, vp->exp_cap + PCI_EXP_DEVCTL + 1);
	if (b < 0 || !(b & (PCI_EXP_DEVCTL_BCR_FLR >> 8)))
		return;
	if (vp->flr)
		vfio_pci_flr(vp);
	else
		log_guest("%s: Initiate FLR written, but the function offers no FLR (DevCap): ignored", vp->name);
}

static int reset_device(struct vfio_pci *vp)
{
	int ret = -EAGAIN;

	for (unsigned int t = 0; t < RESET_TRIES && ret == -EAGAIN; t++) {
		if (t)
			usleep(RESET_RETRY_US);
		ret = vfio_dev_reset(vp->vdev, FAIL_QUIET);
	}
	return ret;
}

void vfio_pci_flr(struct vfio_pci *vp)
{
	u16 oldcmd = (u16)pci_cfg_get(&vp->cfg, PCI_COMMAND, 2);
	int ret;

	/* The function's registers to their defaults: decode and bus mastering go off on the device (memslots
	 * first), MSI/MSI-X off in VFIO and the hypervisor, then the device itself is reset. */
	memcpy(vp->cfg.val, vp->reset_cfg, PCI_CFG_SPACE_SIZE);
	vp->pm_state = 0;
	vfio_pci_cmd_update(vp, oldcmd);
	vfio_pci_irq_reset(vp);
	ret = reset_device(vp);
	if (ret) {
		vp->flr_failures++;
		pr_err_ratelimited("%s: the guest's function level reset failed: %s: the device was not reset, its "
				   "config space reads as reset (%u failed)",
				   vp->name, vp->vdev->last_err, vp->flr_failures);
	} else {
		vp->flrs++;
		pr_debug("%s: the guest's function level reset: device reset (%u so far)", vp->name, vp->flrs);
	}
	vfio_pci_irq_update(vp);
}
