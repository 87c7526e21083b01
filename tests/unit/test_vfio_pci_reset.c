/* test_vfio_pci_reset.c: the resets a guest is offered by the vfio-pci model (devices/vfio_pci_reset.c), on a
 * PCIe endpoint with FLR (an NVMe-like function: PM, MSI, an Advanced Features capability, MSI-X and PCI Express
 * capabilities; a 64-bit BAR holding the MSI-X table and a 32-bit BAR) over the fake VFIO and hv backends, driven
 * through the ECAM and the MMIO bus like a guest: a guest FLR is exactly one VFIO reset and reads back 0; the
 * config state after it (command, BARs, MSI/MSI-X, interrupt routes) is a reset function's and the guest can
 * restore it; FLR hidden in DevCap when VFIO cannot reset the device; a failed reset reported, rate-limited, with
 * the state still consistent; no PM reset offered (No_Soft_Reset) and the power state of a device that would
 * reset itself leaving D3hot kept by ivmm. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <string.h>
#include "boot/layout.h"
#include "devices/pci_host.h"
#include "devices/vfio_pci.h"
#include "tests/unit/cr_stderr.h"
#include "tests/unit/vfio_pci_rig.h"
#include "tests/unit/fake_hv.h"
#include "tests/unit/fake_vfio.h"
#include "vmm/bus.h"

#define RWM (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP)
#define PM_CAP 0x40
#define MSI_CAP 0x50
#define AF_CAP 0x68
#define MSIX_CAP 0x70
#define EXP_CAP 0x80
#define DEVCTL (EXP_CAP + PCI_EXP_DEVCTL)
#define PMCSR (PM_CAP + PCI_PM_CTRL)
#define MSIX_TABLE 0x2000
#define MSIX_PBA 0x3000
#define DEVCAP_OTHER (0x1 | PCI_EXP_DEVCAP_RBER) /* 256-byte max payload, role-based error reporting */
#define D0 0
#define D3HOT 3
#define DOORBELL 0x03010040ULL


static struct vfio_pci_rig rig;
/* Where ivmm placed BAR0 (64-bit, below 4 GiB) and BAR2. */
static u32 rig_bar0, rig_bar2;

/* The function: devcap is its PCIe DevCap, pmcsr its PMCSR. */
static void device_image(u32 devcap, u16 pmcsr)
{
	struct fake_vfio *f = &rig.fv;

	memset(&rig, 0, sizeof(rig));
	fake_vfio_init(f);
	cr_assert_eq(fake_vfio_set_region(f, VFIO_PCI_CONFIG_REGION_INDEX, 4096,
					  VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE), 0);
	vpr_cfg_put(&rig, PCI_VENDOR_ID, 4, 0x00101b36);
	vpr_cfg_put(&rig, PCI_STATUS, 2, PCI_STATUS_CAP_LIST);
	vpr_cfg_put(&rig, PCI_CLASS_REVISION, 4, 0x01080202);
	vpr_cfg_put(&rig, PCI_BASE_ADDRESS_0, 4, PCI_BASE_ADDRESS_MEM_TYPE_64);
	vpr_cfg_put(&rig, PCI_CAPABILITY_LIST, 1, PM_CAP);
	vpr_cfg_put(&rig, PCI_INTERRUPT_PIN, 1, 1);
	vpr_cfg_put(&rig, PM_CAP, 2, PCI_CAP_ID_PM | MSI_CAP << 8);
	vpr_cfg_put(&rig, PM_CAP + PCI_PM_PMC, 2, 3);
	vpr_cfg_put(&rig, PMCSR, 2, pmcsr);
	vpr_cfg_put(&rig, MSI_CAP, 2, PCI_CAP_ID_MSI | AF_CAP << 8);
	vpr_cfg_put(&rig, MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT);
	vpr_cfg_put(&rig, AF_CAP, 2, PCI_CAP_ID_AF | MSIX_CAP << 8);
	vpr_cfg_put(&rig, AF_CAP + PCI_AF_LENGTH, 1, PCI_CAP_AF_SIZEOF);
	vpr_cfg_put(&rig, AF_CAP + PCI_AF_CAP, 1, PCI_AF_CAP_TP | PCI_AF_CAP_FLR);
	vpr_cfg_put(&rig, MSIX_CAP, 2, PCI_CAP_ID_MSIX | EXP_CAP << 8);
	vpr_cfg_put(&rig, MSIX_CAP + PCI_MSIX_FLAGS, 2, 4 - 1);
	vpr_cfg_put(&rig, MSIX_CAP + PCI_MSIX_TABLE, 4, MSIX_TABLE | 0);
	vpr_cfg_put(&rig, MSIX_CAP + PCI_MSIX_PBA, 4, MSIX_PBA | 0);
	vpr_cfg_put(&rig, EXP_CAP, 2, PCI_CAP_ID_EXP);
	vpr_cfg_put(&rig, EXP_CAP + PCI_EXP_FLAGS, 2, 2 | PCI_EXP_TYPE_ENDPOINT << 4);
	vpr_cfg_put(&rig, EXP_CAP + PCI_EXP_DEVCAP, 4, devcap);
	vpr_cfg_put(&rig, DEVCTL, 2, 0x2000 | PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_NOSNOOP_EN);
	cr_assert_eq(fake_vfio_set_region(f, VFIO_PCI_BAR0_REGION_INDEX, 0x4000, RWM), 0);
	cr_assert_eq(fake_vfio_set_region(f, VFIO_PCI_BAR2_REGION_INDEX, SZ_64K, RWM), 0);
	f->irqs[VFIO_PCI_INTX_IRQ_INDEX].count = 1;
	f->irqs[VFIO_PCI_INTX_IRQ_INDEX].flags = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE;
	f->irqs[VFIO_PCI_MSI_IRQ_INDEX].count = 1;
	f->irqs[VFIO_PCI_MSI_IRQ_INDEX].flags = VFIO_IRQ_INFO_EVENTFD;
	f->irqs[VFIO_PCI_MSIX_IRQ_INDEX].count = 4;
	f->irqs[VFIO_PCI_MSIX_IRQ_INDEX].flags = VFIO_IRQ_INFO_EVENTFD;
}

static int rig_create(void)
{
	int ret;

	ret = vpr_create(&rig, "0000:00:03.0", "nvme0");
	if (!ret) {
		rig_bar0 = vpr_cfgr(&rig, PCI_BASE_ADDRESS_0, 4) & (u32)PCI_BASE_ADDRESS_MEM_MASK;
		rig_bar2 = vpr_cfgr(&rig, PCI_BASE_ADDRESS_2, 4) & (u32)PCI_BASE_ADDRESS_MEM_MASK;
		cr_assert_eq(vpr_cfgr(&rig, PCI_BASE_ADDRESS_1, 4), 0);
	}
	return ret;
}

/* A function with FLR whose leaving D3hot keeps its state, VFIO able to reset it. */
static void rig_up(void)
{
	device_image(PCI_EXP_DEVCAP_FLR | DEVCAP_OTHER, PCI_PM_CTRL_NO_SOFT_RESET);
	cr_assert_eq(rig_create(), 0);
}

static unsigned int live_routes(bool msi)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FAKE_HV_MAX_IRQFDS; i++)
		n += rig.fh.irqfds[i].used && rig.fh.irqfds[i].msi == msi;
	return n;
}

/* What Linux's pcie_flr() does: set Initiate FLR in a read-modify-write of Device Control. */
static void guest_flr(void)
{
	vpr_cfgw(&rig, DEVCTL, 2, vpr_cfgr(&rig, DEVCTL, 2) | PCI_EXP_DEVCTL_BCR_FLR);
}

/* Memory decode and bus mastering on, MSI-X enabled with vector 0 routed. */
static void guest_uses_msix(void)
{
	u64 e = rig_bar0 + MSIX_TABLE;

	vpr_cfgw(&rig, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	vpr_cfgw(&rig, MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	vpr_mmio_write(&rig, e + PCI_MSIX_ENTRY_LOWER_ADDR, (u32)DOORBELL, 4);
	vpr_mmio_write(&rig, e + PCI_MSIX_ENTRY_UPPER_ADDR, 0, 4);
	vpr_mmio_write(&rig, e + PCI_MSIX_ENTRY_DATA, 0x30, 4);
	vpr_mmio_write(&rig, e + PCI_MSIX_ENTRY_VECTOR_CTRL, 0, 4);
	vpr_cfgw(&rig, MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	cr_assert(rig.fv.enabled[VFIO_PCI_MSIX_IRQ_INDEX]);
	cr_assert_eq(live_routes(true), 1);
	cr_assert_gt(vpr_live_maps(&rig), 0);
}

/* The state of a function just reset: nothing decodes, no MSI/MSI-X, INTx back in VFIO and routed. */
static void assert_reset_state(void)
{
	cr_assert_eq(vpr_cfgr(&rig, PCI_COMMAND, 2), 0);
	cr_assert_eq(vpr_real_cfg(&rig, PCI_COMMAND, 2) & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE), 0);
	cr_assert_eq(vpr_live_maps(&rig), 0);
	cr_assert_eq(vpr_cfgr(&rig, PCI_BASE_ADDRESS_0, 4), PCI_BASE_ADDRESS_MEM_TYPE_64);
	cr_assert_eq(vpr_cfgr(&rig, PCI_BASE_ADDRESS_1, 4), 0);
	cr_assert_eq(vpr_cfgr(&rig, PCI_BASE_ADDRESS_2, 4), 0);
	cr_assert_eq(vpr_cfgr(&rig, MSIX_CAP + PCI_MSIX_FLAGS, 2), 4 - 1);
	cr_assert_eq(vpr_cfgr(&rig, MSI_CAP + PCI_MSI_FLAGS, 2), PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT);
	cr_assert_eq(vpr_cfgr(&rig, MSI_CAP + PCI_MSI_ADDRESS_LO, 4), 0);
	cr_assert_eq(vpr_cfgr(&rig, MSI_CAP + PCI_MSI_DATA_64, 2), 0);
	cr_assert_eq(vpr_cfgr(&rig, MSI_CAP + PCI_MSI_MASK_64, 4), 0);
	cr_assert_not(rig.fv.enabled[VFIO_PCI_MSIX_IRQ_INDEX]);
	cr_assert_not(rig.fv.enabled[VFIO_PCI_MSI_IRQ_INDEX]);
	cr_assert(rig.fv.enabled[VFIO_PCI_INTX_IRQ_INDEX]);
	cr_assert_eq(live_routes(true), 0);
	cr_assert_eq(live_routes(false), 1);
	cr_assert_eq(rig.vp->mode, VFIO_PCI_IRQ_INTX);
}

Test(vfio_pci_reset, guest_flr_is_one_vfio_reset, .init = cr_redirect_stderr)
{
	rig_up();
	cr_assert_eq(rig.fv.resets, 1); /* at creation */
	cr_assert_eq(vpr_cfgr(&rig, EXP_CAP + PCI_EXP_DEVCAP, 4), PCI_EXP_DEVCAP_FLR | DEVCAP_OTHER); /* FLR offered */
	guest_flr();
	cr_assert_eq(rig.fv.resets, 2);
	cr_assert_eq(rig.vp->flrs, 1);
	/* Initiate FLR reads 0 and never reaches the device's register; the rest of DevCtl is the device's. */
	cr_assert_eq(vpr_cfgr(&rig, DEVCTL, 2), 0x2000 | PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_NOSNOOP_EN);
	cr_assert_eq(vpr_real_cfg(&rig, DEVCTL, 2) & PCI_EXP_DEVCTL_BCR_FLR, 0);
	vpr_cfg_put(&rig, DEVCTL, 2, 0x2000 | PCI_EXP_DEVCTL_BCR_FLR); /* even a device that shows it */
	cr_assert_eq(vpr_cfgr(&rig, DEVCTL, 2), 0x2000);
	cr_assert_eq(vpr_cfgr(&rig, DEVCTL + 1, 1), 0x20);
	vpr_cfg_put(&rig, DEVCTL, 2, 0x2000);
	/* A DevCtl write without the bit resets nothing. */
	vpr_cfgw(&rig, DEVCTL, 2, PCI_EXP_DEVCTL_RELAX_EN);
	cr_assert_eq(rig.fv.resets, 2);
	/* A byte write of DevCtl's high byte and a dword write covering DevCtl and DevSta are one reset each. */
	vpr_cfgw(&rig, DEVCTL + 1, 1, PCI_EXP_DEVCTL_BCR_FLR >> 8);
	cr_assert_eq(rig.fv.resets, 3);
	vpr_cfgw(&rig, DEVCTL, 4, PCI_EXP_DEVCTL_BCR_FLR);
	cr_assert_eq(rig.fv.resets, 4);
	/* AF FLR is not offered: the Advanced Features capability is not in the guest's list. */
	for (u32 p = vpr_cfgr(&rig, PCI_CAPABILITY_LIST, 1), n = 0; p && n < 8; p = vpr_cfgr(&rig, p + PCI_CAP_LIST_NEXT, 1), n++)
		cr_assert_neq(vpr_cfgr(&rig, p, 1), PCI_CAP_ID_AF, "AF capability at 0x%x", p);
	vpr_down(&rig);
	cr_assert_eq(rig.fv.resets, 5); /* and at teardown */
}

Test(vfio_pci_reset, flr_leaves_a_reset_function_the_guest_restores, .init = cr_redirect_stderr)
{
	rig_up();
	guest_uses_msix();
	vpr_cfgw(&rig, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	vpr_cfgw(&rig, PCI_CACHE_LINE_SIZE, 1, 0x10);
	vpr_cfgw(&rig, PCI_LATENCY_TIMER, 1, 0x20);
	vpr_cfgw(&rig, PCI_INTERRUPT_LINE, 1, 0x2a);
	cr_assert_eq(vpr_real_cfg(&rig, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY, PCI_COMMAND_MEMORY);

	guest_flr();
	cr_assert_eq(rig.fv.resets, 2);
	assert_reset_state();
	cr_assert_eq(vpr_cfgr(&rig, PCI_CACHE_LINE_SIZE, 1), 0);
	cr_assert_eq(vpr_cfgr(&rig, PCI_LATENCY_TIMER, 1), 0);
	cr_assert_eq(vpr_cfgr(&rig, PCI_INTERRUPT_LINE, 1), 0);
	/* The BARs still size. */
	vpr_cfgw(&rig, PCI_BASE_ADDRESS_2, 4, 0xffffffff);
	cr_assert_eq(vpr_cfgr(&rig, PCI_BASE_ADDRESS_2, 4), 0xffff0000);

	/* What pci_restore_state() does: BARs, then the command register: decodes where it did. */
	vpr_cfgw(&rig, PCI_BASE_ADDRESS_0, 4, rig_bar0 | PCI_BASE_ADDRESS_MEM_TYPE_64);
	vpr_cfgw(&rig, PCI_BASE_ADDRESS_1, 4, 0);
	vpr_cfgw(&rig, PCI_BASE_ADDRESS_2, 4, rig_bar2);
	vpr_cfgw(&rig, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	cr_assert_gt(vpr_live_maps(&rig), 0);
	rig.fv.regions[VFIO_PCI_BAR2_REGION_INDEX].data[0x10] = 0x5a;
	cr_assert_eq(vpr_mmio_read(&rig, rig_bar2 + 0x10, 1), 0x5a);
	/* The MSI-X table was reset: entries masked, address and data 0. */
	cr_assert_eq(vpr_mmio_read(&rig, rig_bar0 + MSIX_TABLE + PCI_MSIX_ENTRY_VECTOR_CTRL, 4), PCI_MSIX_ENTRY_CTRL_MASKBIT);
	cr_assert_eq(vpr_mmio_read(&rig, rig_bar0 + MSIX_TABLE + PCI_MSIX_ENTRY_LOWER_ADDR, 8), 0);
	cr_assert_eq(vpr_mmio_read(&rig, rig_bar0 + MSIX_TABLE + PCI_MSIX_ENTRY_DATA, 4), 0);
	guest_uses_msix();

	/* MSI enabled (with its mask bit) before an FLR: disabled and cleared after it. */
	vpr_cfgw(&rig, MSIX_CAP + PCI_MSIX_FLAGS, 2, 0);
	vpr_cfgw(&rig, MSI_CAP + PCI_MSI_ADDRESS_LO, 4, (u32)DOORBELL);
	vpr_cfgw(&rig, MSI_CAP + PCI_MSI_DATA_64, 2, 0x41);
	vpr_cfgw(&rig, MSI_CAP + PCI_MSI_MASK_64, 4, 1);
	vpr_cfgw(&rig, MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE);
	cr_assert(rig.fv.enabled[VFIO_PCI_MSI_IRQ_INDEX]);
	guest_flr();
	cr_assert_eq(rig.fv.resets, 3);
	assert_reset_state();
	vpr_down(&rig);
	cr_assert_eq(live_routes(false) + live_routes(true), 0);
}

Test(vfio_pci_reset, flr_hidden_unless_vfio_can_reset, .init = cr_redirect_stderr)
{
	/* FLR in the device's DevCap, but VFIO has no reset for it: the guest's DevCap has no FLR, its FLR write
	 * is a guest mistake that changes nothing. */
	device_image(PCI_EXP_DEVCAP_FLR | DEVCAP_OTHER, PCI_PM_CTRL_NO_SOFT_RESET);
	rig.fv.info_flags = VFIO_DEVICE_FLAGS_PCI;
	cr_assert_eq(rig_create(), 0);
	cr_assert_eq(vpr_cfgr(&rig, EXP_CAP + PCI_EXP_DEVCAP, 4), DEVCAP_OTHER);
	cr_assert_eq(vpr_cfgr(&rig, EXP_CAP + PCI_EXP_DEVCAP + 3, 1), 0); /* FLR is bit 28 */
	vpr_cfgw(&rig, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	guest_flr();
	cr_assert_eq(rig.fv.resets, 0);
	cr_assert_eq(vpr_cfgr(&rig, PCI_COMMAND, 2), PCI_COMMAND_MEMORY);
	cr_assert_eq(vpr_cfgr(&rig, PCI_BASE_ADDRESS_2, 4), rig_bar2);
	vpr_down(&rig);
	cr_assert_eq(rig.fv.resets, 0);
	cr_assert(cr_stderr_has("guest: nvme0: Initiate FLR written, but the function offers no FLR (DevCap): ignored"));

	/* No FLR in the device's DevCap: none offered even though VFIO could reset it. */
	device_image(DEVCAP_OTHER, PCI_PM_CTRL_NO_SOFT_RESET);
	cr_assert_eq(rig_create(), 0);
	cr_assert_eq(vpr_cfgr(&rig, EXP_CAP + PCI_EXP_DEVCAP, 4), DEVCAP_OTHER);
	guest_flr();
	cr_assert_eq(rig.fv.resets, 1);
	vpr_down(&rig);
}

Test(vfio_pci_reset, failed_reset_is_reported_and_state_stays_consistent, .init = cr_redirect_stderr)
{
	rig_up();
	guest_uses_msix();
	rig.fv.fail_reset = -EIO;
	guest_flr();
	cr_assert_eq(rig.fv.resets, 1);
	cr_assert_eq(rig.vp->flr_failures, 1);
	assert_reset_state(); /* what the guest restores next matches what it sees */
	/* The next FLR resets the device; one VFIO says EAGAIN for (its device lock taken) is retried. */
	guest_flr();
	cr_assert_eq(rig.fv.resets, 2);
	rig.fv.fail_reset = -EAGAIN;
	guest_flr();
	cr_assert_eq(rig.fv.resets, 3);
	cr_assert_eq(rig.vp->flr_failures, 1);
	/* A guest resetting in a loop on a device that never resets: a bounded number of error lines. */
	for (unsigned int i = 0; i < 50; i++) {
		rig.fv.fail_reset = -EIO;
		guest_flr();
	}
	cr_assert_eq(rig.fv.resets, 3);
	cr_assert_eq(rig.vp->flr_failures, 51);
	assert_reset_state();
	vpr_down(&rig);
	char buf[65536];
	const char *err = cr_stderr_read(buf, sizeof(buf));
	unsigned int n = cr_text_count(err, "ivmm: error: nvme0: the guest's function level reset failed: vfio "
				       "0000:00:03.0: VFIO_DEVICE_RESET: Input/output error: the device was not reset");

	cr_assert(n >= 2 && n <= 11, "%u error lines:\n%s", n, err);
	cr_assert_eq(cr_text_count(err, "Resource temporarily unavailable"), 0, "%s", err);
}

Test(vfio_pci_reset, no_pm_reset_offered, .init = cr_redirect_stderr)
{
	/* A device whose No_Soft_Reset is 0 (D3hot -> D0 would reset it): the guest reads No_Soft_Reset 1 and the
	 * power state it writes; the device stays in D0. */
	device_image(PCI_EXP_DEVCAP_FLR, 0);
	cr_assert_eq(rig_create(), 0);
	cr_assert_eq(vpr_cfgr(&rig, PMCSR, 2), PCI_PM_CTRL_NO_SOFT_RESET);
	vpr_cfgw(&rig, PMCSR, 2, D3HOT);
	cr_assert_eq(vpr_real_cfg(&rig, PMCSR, 2), 0);
	cr_assert_eq(vpr_cfgr(&rig, PMCSR, 2), PCI_PM_CTRL_NO_SOFT_RESET | D3HOT);
	cr_assert_eq(vpr_cfgr(&rig, PMCSR, 1), PCI_PM_CTRL_NO_SOFT_RESET | D3HOT);
	vpr_cfgw(&rig, PMCSR, 2, D0);
	cr_assert_eq(vpr_cfgr(&rig, PMCSR, 2), PCI_PM_CTRL_NO_SOFT_RESET);
	cr_assert_eq(rig.fv.resets, 1); /* nothing reset along the way */
	/* An FLR puts the power state back to D0. */
	vpr_cfgw(&rig, PMCSR, 2, D3HOT);
	guest_flr();
	cr_assert_eq(vpr_cfgr(&rig, PMCSR, 2), PCI_PM_CTRL_NO_SOFT_RESET);
	vpr_down(&rig);

	/* A device that keeps its state leaving D3hot: its power state is forwarded and read live. */
	rig_up();
	vpr_cfgw(&rig, PMCSR, 2, D3HOT);
	cr_assert_eq(vpr_real_cfg(&rig, PMCSR, 2), PCI_PM_CTRL_NO_SOFT_RESET | D3HOT);
	vpr_cfg_put(&rig, PMCSR, 2, PCI_PM_CTRL_NO_SOFT_RESET | D0);
	cr_assert_eq(vpr_cfgr(&rig, PMCSR, 2), PCI_PM_CTRL_NO_SOFT_RESET);
	vpr_down(&rig);
}
