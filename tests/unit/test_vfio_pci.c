/* test_vfio_pci.c: the vfio-pci device model against fake VFIO and hv backends, driven through the ECAM and
 * the MMIO bus like a guest: identity and header virtualisation, hidden ROM/I/O BARs and unknown capabilities,
 * BAR sizing and placement, memory decode -> memslots (MSI-X table/PBA pages left trapped) and remapping on
 * BAR moves, trapped BAR accesses, the command register, MSI (multi-message, per-vector masks and pending
 * bits), MSI-X table writes -> irqfd routes and masks with the PBA, INTx fallback with resample, reset at
 * start and teardown, and a BAR that cannot be placed. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "boot/fdt.h"
#include "boot/layout.h"
#include "devices/pci_host.h"
#include "devices/vfio_pci.h"
#include "tests/unit/fake_hv.h"
#include "tests/unit/fake_vfio.h"
#include "vmm/bus.h"
#include "tests/unit/cr_stderr.h"
#include "tests/unit/vfio_pci_rig.h"

#define RW (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE)
#define RWM (RW | VFIO_REGION_INFO_FLAG_MMAP)
#define MSI_CAP 0x40
#define PM_CAP 0x58
#define AF_CAP 0x60   /* a capability ivmm does not pass through (Advanced Features): hidden */
#define MSIX_CAP 0x70
#define VNDR_CAP 0x80
#define DOORBELL 0x03010040ULL


static struct vfio_pci_rig rig;

/* An edu-like function with more: BAR0 (32-bit, mmap), BAR1 I/O, BAR2/3 64-bit prefetchable 64 KiB (mmap)
 * holding the MSI-X table (8 vectors at 0) and PBA (at 0x8000); MSI (64-bit, per-vector mask, 4 vectors), PM,
 * an unknown capability, MSI-X and a vendor capability; INTA; an extended capability. */
static void device_image(u64 bar0_size)
{
	struct fake_vfio *f = &rig.fv;

	fake_vfio_init(f);
	cr_assert_eq(fake_vfio_set_region(f, VFIO_PCI_CONFIG_REGION_INDEX, 4096, RW), 0);
	vpr_cfg_put(&rig, PCI_VENDOR_ID, 2, 0x1234);
	vpr_cfg_put(&rig, PCI_DEVICE_ID, 2, 0x11e8);
	vpr_cfg_put(&rig, PCI_COMMAND, 2, PCI_COMMAND_MASTER); /* left over from the host: quiesced at start */
	vpr_cfg_put(&rig, PCI_STATUS, 2, PCI_STATUS_CAP_LIST | PCI_STATUS_INTERRUPT);
	vpr_cfg_put(&rig, PCI_REVISION_ID, 1, 0x10);
	vpr_cfg_put(&rig, PCI_CLASS_DEVICE, 2, 0x00ff);
	vpr_cfg_put(&rig, PCI_HEADER_TYPE, 1, 0x80);
	vpr_cfg_put(&rig, PCI_BASE_ADDRESS_1, 4, PCI_BASE_ADDRESS_SPACE_IO);
	vpr_cfg_put(&rig, PCI_BASE_ADDRESS_2, 4, PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
	vpr_cfg_put(&rig, PCI_SUBSYSTEM_VENDOR_ID, 2, 0x1af4);
	vpr_cfg_put(&rig, PCI_SUBSYSTEM_ID, 2, 0x1100);
	vpr_cfg_put(&rig, PCI_ROM_ADDRESS, 4, 0xfffe0001);
	vpr_cfg_put(&rig, PCI_CAPABILITY_LIST, 1, MSI_CAP);
	vpr_cfg_put(&rig, PCI_INTERRUPT_PIN, 1, 1);
	vpr_cfg_put(&rig, MSI_CAP, 2, PCI_CAP_ID_MSI | PM_CAP << 8);
	vpr_cfg_put(&rig, MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT | (2 << 1));
	vpr_cfg_put(&rig, PM_CAP, 2, PCI_CAP_ID_PM | AF_CAP << 8);
	vpr_cfg_put(&rig, PM_CAP + PCI_PM_CTRL, 2, 0x0008);
	vpr_cfg_put(&rig, AF_CAP, 2, PCI_CAP_ID_AF | MSIX_CAP << 8);
	vpr_cfg_put(&rig, MSIX_CAP, 2, PCI_CAP_ID_MSIX | VNDR_CAP << 8);
	vpr_cfg_put(&rig, MSIX_CAP + PCI_MSIX_FLAGS, 2, 8 - 1);
	vpr_cfg_put(&rig, MSIX_CAP + PCI_MSIX_TABLE, 4, 0x0 | 2);
	vpr_cfg_put(&rig, MSIX_CAP + PCI_MSIX_PBA, 4, 0x8000 | 2);
	vpr_cfg_put(&rig, VNDR_CAP, 2, PCI_CAP_ID_VNDR);
	vpr_cfg_put(&rig, VNDR_CAP + 2, 2, 0x5508); /* length 8, payload 0x55 */
	vpr_cfg_put(&rig, 0x100, 4, 0x00010001);
	cr_assert_eq(fake_vfio_set_region(f, VFIO_PCI_BAR0_REGION_INDEX, bar0_size, RWM), 0);
	cr_assert_eq(fake_vfio_set_region(f, VFIO_PCI_BAR1_REGION_INDEX, 256, RW), 0);
	cr_assert_eq(fake_vfio_set_region(f, VFIO_PCI_BAR2_REGION_INDEX, SZ_64K, RWM), 0);
	f->irqs[VFIO_PCI_INTX_IRQ_INDEX].count = 1;
	f->irqs[VFIO_PCI_INTX_IRQ_INDEX].flags = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE;
	f->irqs[VFIO_PCI_MSI_IRQ_INDEX].count = 4;
	f->irqs[VFIO_PCI_MSI_IRQ_INDEX].flags = VFIO_IRQ_INFO_EVENTFD;
	f->irqs[VFIO_PCI_MSIX_IRQ_INDEX].count = 8;
	f->irqs[VFIO_PCI_MSIX_IRQ_INDEX].flags = VFIO_IRQ_INFO_EVENTFD;
}

static int rig_create(void)
{
	return vpr_create(&rig, "0000:00:01.0", "edu0");
}

static void rig_up(void)
{
	memset(&rig, 0, sizeof(rig));
	device_image(SZ_1M);
	cr_assert_eq(rig_create(), 0);
}

/* The live irqfd route of an eventfd, or NULL. */
static const struct fake_hv_irqfd *route_of(int efd)
{
	for (unsigned int i = 0; i < FAKE_HV_MAX_IRQFDS; i++)
		if (rig.fh.irqfds[i].used && rig.fh.irqfds[i].eventfd == efd)
			return &rig.fh.irqfds[i];
	return NULL;
}

static unsigned int live_routes(void)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FAKE_HV_MAX_IRQFDS; i++)
		n += rig.fh.irqfds[i].used;
	return n;
}

static void kick(int efd)
{
	u64 one = 1;

	cr_assert_eq(write(efd, &one, 8), 8);
}

/* All of the redirected stderr written so far (consumed: call once per test, after the actions). */
static const char *stderr_text(void)
{
	static char buf[65536];

	return cr_stderr_read(buf, sizeof(buf));
}

/* ---- identity, header, capabilities ---- */

Test(vfio_pci, header_virtualised, .init = cr_redirect_stderr)
{
	rig_up();
	cr_assert_eq(rig.vp->pdev.devfn, PCI_DEVFN(1, 0));
	cr_assert_eq(vpr_cfgr(&rig, PCI_VENDOR_ID, 4), 0x11e81234);
	cr_assert_eq(vpr_cfgr(&rig, PCI_CLASS_REVISION, 4), 0x00ff0010);
	cr_assert_eq(vpr_cfgr(&rig, PCI_HEADER_TYPE, 1), 0x00);        /* multi-function bit hidden */
	cr_assert_eq(vpr_cfgr(&rig, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x11001af4);
	cr_assert_eq(vpr_cfgr(&rig, PCI_INTERRUPT_PIN, 1), 1);
	/* Reset at start, and the host's leftover bus mastering cleared; the guest sees command 0. */
	cr_assert_eq(rig.fv.resets, 1);
	cr_assert_eq(vpr_real_cfg(&rig, PCI_COMMAND, 2) & PCI_COMMAND_MASTER, 0);
	cr_assert_eq(vpr_cfgr(&rig, PCI_COMMAND, 2), 0);
	/* Status is the device's (live), capability bit ours. */
	cr_assert_eq(vpr_cfgr(&rig, PCI_STATUS, 2), PCI_STATUS_CAP_LIST | PCI_STATUS_INTERRUPT);
	vpr_cfg_put(&rig, PCI_STATUS, 2, PCI_STATUS_CAP_LIST);
	cr_assert_eq(vpr_cfgr(&rig, PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
	/* Read-only identity: guest writes do nothing. */
	vpr_cfgw(&rig, PCI_VENDOR_ID, 4, 0);
	cr_assert_eq(vpr_cfgr(&rig, PCI_VENDOR_ID, 4), 0x11e81234);
	/* ROM BAR hidden: reads 0 and sizes to 0. */
	vpr_cfgw(&rig, PCI_ROM_ADDRESS, 4, 0xffffffff);
	cr_assert_eq(vpr_cfgr(&rig, PCI_ROM_ADDRESS, 4), 0);
	/* Interrupt line is scratch. */
	vpr_cfgw(&rig, PCI_INTERRUPT_LINE, 1, 0x2a);
	cr_assert_eq(vpr_cfgr(&rig, PCI_INTERRUPT_LINE, 1), 0x2a);
	/* Extended config space hidden. */
	cr_assert_eq(vpr_cfgr(&rig, 0x100, 4), 0);
	vpr_down(&rig);
	cr_assert_eq(rig.fv.resets, 2); /* and at teardown */
}

Test(vfio_pci, capability_list_filtered, .init = cr_redirect_stderr)
{
	u8 ids[8], offs[8];
	unsigned int n = 0;

	rig_up();
	for (u32 p = vpr_cfgr(&rig, PCI_CAPABILITY_LIST, 1); p && n < 8; p = vpr_cfgr(&rig, p + PCI_CAP_LIST_NEXT, 1)) {
		ids[n] = (u8)vpr_cfgr(&rig, p, 1);
		offs[n++] = (u8)p;
	}
	cr_assert_eq(n, 4);
	cr_assert_eq(ids[0], PCI_CAP_ID_MSI);
	cr_assert_eq(offs[0], MSI_CAP);
	cr_assert_eq(ids[1], PCI_CAP_ID_PM);
	cr_assert_eq(ids[2], PCI_CAP_ID_MSIX); /* AF skipped */
	cr_assert_eq(offs[2], MSIX_CAP);
	cr_assert_eq(ids[3], PCI_CAP_ID_VNDR);
	cr_assert_eq(vpr_cfgr(&rig, AF_CAP, 2), 0);      /* the hidden capability's bytes read 0 */
	/* Passed-through capabilities read the device live; only whitelisted bits of guest writes reach it
	 * (PMCSR power state yes, PME_En no; the vendor capability not at all). */
	cr_assert_eq(vpr_cfgr(&rig, PM_CAP + PCI_PM_CTRL, 2), 0x0008);
	vpr_cfg_put(&rig, PM_CAP + PCI_PM_CTRL, 2, 0x0003);
	cr_assert_eq(vpr_cfgr(&rig, PM_CAP + PCI_PM_CTRL, 2), 0x0003 | PCI_PM_CTRL_NO_SOFT_RESET); /* no PM reset offered */
	vpr_cfgw(&rig, PM_CAP + PCI_PM_CTRL, 2, PCI_PM_CTRL_PME_ENABLE);
	cr_assert_eq(vpr_real_cfg(&rig, PM_CAP + PCI_PM_CTRL, 2), 0x0000);
	cr_assert_eq(vpr_cfgr(&rig, VNDR_CAP + 3, 1), 0x55);
	vpr_cfgw(&rig, VNDR_CAP + 3, 1, 0xaa);
	cr_assert_eq(vpr_real_cfg(&rig, VNDR_CAP + 3, 1), 0x55);
	/* MSI: 64-bit, per-vector masking, 4 vectors capable (log2 2), disabled. */
	cr_assert_eq(vpr_cfgr(&rig, MSI_CAP + PCI_MSI_FLAGS, 2), PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT | (2 << 1));
	/* MSI-X: 8 entries, table/PBA registers as the device has them. */
	cr_assert_eq(vpr_cfgr(&rig, MSIX_CAP + PCI_MSIX_FLAGS, 2), 7);
	cr_assert_eq(vpr_cfgr(&rig, MSIX_CAP + PCI_MSIX_PBA, 4), 0x8002);
	vpr_down(&rig);
}

/* ---- BARs ---- */

static u32 size_bar(u32 reg)
{
	u32 saved = vpr_cfgr(&rig, reg, 4), v;

	vpr_cfgw(&rig, reg, 4, 0xffffffff);
	v = vpr_cfgr(&rig, reg, 4);
	vpr_cfgw(&rig, reg, 4, saved);
	return v;
}

Test(vfio_pci, bar_sizing_and_placement, .init = cr_redirect_stderr)
{
	rig_up();
	cr_assert_eq(vpr_cfgr(&rig, PCI_BASE_ADDRESS_0, 4), (u32)LAYOUT_PCI_MMIO32_BASE);
	cr_assert_eq(size_bar(PCI_BASE_ADDRESS_0), 0xfff00000);
	cr_assert_eq(size_bar(PCI_BASE_ADDRESS_1), 0);  /* I/O BAR hidden */
	cr_assert_eq(vpr_cfgr(&rig, PCI_BASE_ADDRESS_2, 4), (u32)LAYOUT_PCI_MMIO64_BASE | 0xc);
	cr_assert_eq(vpr_cfgr(&rig, PCI_BASE_ADDRESS_3, 4), (u32)(LAYOUT_PCI_MMIO64_BASE >> 32));
	cr_assert_eq(size_bar(PCI_BASE_ADDRESS_2), 0xffff000c);
	cr_assert_eq(size_bar(PCI_BASE_ADDRESS_3), 0xffffffff);
	cr_assert_eq(size_bar(PCI_BASE_ADDRESS_4), 0);
	/* Nothing decodes before the guest enables memory. */
	cr_assert_eq(vpr_live_maps(&rig), 0);
	vpr_down(&rig);
}

Test(vfio_pci, memory_decode_maps_bars_as_memslots, .init = cr_redirect_stderr)
{
	u64 b0 = LAYOUT_PCI_MMIO32_BASE, b2 = LAYOUT_PCI_MMIO64_BASE;
	const struct fake_hv_map *m;

	rig_up();
	vpr_cfgw(&rig, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cr_assert_eq(vpr_real_cfg(&rig, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY, PCI_COMMAND_MEMORY);
	m = vpr_map_at(&rig, b0);
	cr_assert_not_null(m);
	cr_assert_eq(m->size, SZ_1M);
	cr_assert_eq(m->host, rig.fv.regions[VFIO_PCI_BAR0_REGION_INDEX].data);
	cr_assert_not(m->readonly);
	/* BAR2: the MSI-X table page (0) and PBA page (0x8000) stay trapped. */
	cr_assert_null(vpr_map_at(&rig, b2));
	m = vpr_map_at(&rig, b2 + 0x1000);
	cr_assert_not_null(m);
	cr_assert_eq(m->size, 0x7000);
	cr_assert_eq(m->host, rig.fv.regions[VFIO_PCI_BAR2_REGION_INDEX].data + 0x1000);
	m = vpr_map_at(&rig, b2 + 0x9000);
	cr_assert_not_null(m);
	cr_assert_eq(m->size, 0x7000);
	cr_assert_eq(vpr_live_maps(&rig), 3);
	/* Trapped accesses reach the device (here through the bus for the whole BAR). */
	memcpy(rig.fv.regions[VFIO_PCI_BAR0_REGION_INDEX].data, "\xed\x00\x00\x01", 4);
	cr_assert_eq(vpr_mmio_read(&rig, b0, 4), 0x010000ed);
	vpr_mmio_write(&rig, b0 + 0x80, 0x1122334455667788ULL, 8);
	cr_assert_eq(memcmp(rig.fv.regions[VFIO_PCI_BAR0_REGION_INDEX].data + 0x80, "\x88\x77\x66\x55\x44\x33\x22\x11", 8), 0);

	/* The guest moves BAR0 while decoding: old memslot gone, new one at the new address. */
	vpr_cfgw(&rig, PCI_BASE_ADDRESS_0, 4, (u32)(b0 + 0x800000));
	cr_assert_null(vpr_map_at(&rig, b0));
	cr_assert_not_null(vpr_map_at(&rig, b0 + 0x800000));
	cr_assert_eq(vpr_mmio_read(&rig, b0 + 0x800000, 4), 0x010000ed);
	u8 d[4];

	cr_assert_eq(bus_access(&rig.bus, b0, d, 4, false), -ENOENT);
	/* Moved outside the windows (onto RAM): not decoded at all. */
	vpr_cfgw(&rig, PCI_BASE_ADDRESS_0, 4, (u32)LAYOUT_RAM_BASE);
	cr_assert_null(vpr_map_at(&rig, LAYOUT_RAM_BASE));
	cr_assert_eq(vpr_live_maps(&rig), 2);
	/* Memory decode off: every BAR memslot and trap goes, and the device's decode is off. */
	vpr_cfgw(&rig, PCI_BASE_ADDRESS_0, 4, (u32)b0);
	cr_assert_eq(vpr_live_maps(&rig), 3);
	vpr_cfgw(&rig, PCI_COMMAND, 2, 0);
	cr_assert_eq(vpr_live_maps(&rig), 0);
	cr_assert_eq(vpr_real_cfg(&rig, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY, 0);
	cr_assert_eq(bus_access(&rig.bus, b2 + 0x1000, d, 4, false), -ENOENT);
	/* Sizing with decode off does not map anything. */
	cr_assert_eq(size_bar(PCI_BASE_ADDRESS_0), 0xfff00000);
	cr_assert_eq(fake_hv_count(&rig.fh, FAKE_MEM_MAP), 3 + 1 + 1);
	vpr_down(&rig);
}

Test(vfio_pci, teardown_removes_memslots, .init = cr_redirect_stderr)
{
	rig_up();
	vpr_cfgw(&rig, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	cr_assert_eq(vpr_live_maps(&rig), 3);
	vfio_pci_destroy(rig.vp);
	rig.vp = NULL;
	cr_assert_eq(vpr_live_maps(&rig), 0);
	cr_assert_eq(vpr_real_cfg(&rig, PCI_COMMAND, 2) & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), 0);
	cr_assert_eq(live_routes(), 0);
	cr_assert_eq(pci_host_ecam_read(&rig.host, VPR_SLOT1, 4), 0xffffffff);
	vpr_down(&rig);
}

Test(vfio_pci, sparse_mmap_honoured, .init = cr_redirect_stderr)
{
	memset(&rig, 0, sizeof(rig));
	device_image(SZ_1M);
	struct fake_vfio_region *r = &rig.fv.regions[VFIO_PCI_BAR0_REGION_INDEX];

	r->sparse = true;
	r->nr_areas = 2;
	r->areas[0] = (struct vfio_region_sparse_mmap_area){ .offset = 0, .size = 0x4000 };
	r->areas[1] = (struct vfio_region_sparse_mmap_area){ .offset = 0x80000, .size = 0x80000 };
	cr_assert_eq(rig_create(), 0);
	vpr_cfgw(&rig, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	const struct fake_hv_map *m = vpr_map_at(&rig, LAYOUT_PCI_MMIO32_BASE);

	cr_assert_not_null(m);
	cr_assert_eq(m->size, 0x4000);
	m = vpr_map_at(&rig, LAYOUT_PCI_MMIO32_BASE + 0x80000);
	cr_assert_not_null(m);
	cr_assert_eq(m->size, 0x80000);
	cr_assert_eq(m->host, r->data + 0x80000);
	cr_assert_eq(vpr_live_maps(&rig), 2 + 2);
	/* The gap is trapped. */
	r->data[0x5000] = 0x5a;
	cr_assert_eq(vpr_mmio_read(&rig, LAYOUT_PCI_MMIO32_BASE + 0x5000, 1), 0x5a);
	vpr_down(&rig);
}

Test(vfio_pci, bar_that_cannot_be_placed, .init = cr_redirect_stderr)
{
	memset(&rig, 0, sizeof(rig));
	device_image(SZ_1G); /* a 1 GiB 32-bit BAR: the 512 MiB window cannot hold it */
	cr_assert_eq(rig_create(), -ENOSPC);
	cr_assert_null(rig.vp);
	/* Nothing left behind: slot free, no irq set up, no memslots. */
	cr_assert_eq(pci_host_ecam_read(&rig.host, VPR_SLOT1, 4), 0xffffffff);
	cr_assert_eq(rig.fv.nr_irq_calls, 0);
	cr_assert_eq(live_routes(), 0);
	cr_assert_eq(vpr_live_maps(&rig), 0);
	vpr_down(&rig);
	cr_assert(cr_stderr_has("ivmm: error: edu0 (0000:00:01.0): BAR0 (32-bit, 0x40000000 bytes) cannot be placed in "
			     "the 32-bit MMIO window [0x20000000-0x3fffffff] (0x20000000 bytes free)\n"));
}

/* ---- command register ---- */

Test(vfio_pci, bus_master_under_guest_control, .init = cr_redirect_stderr)
{
	rig_up();
	vpr_cfgw(&rig, PCI_COMMAND, 2, PCI_COMMAND_MASTER | PCI_COMMAND_IO);
	cr_assert_eq(vpr_cfgr(&rig, PCI_COMMAND, 2), PCI_COMMAND_MASTER); /* no I/O space */
	cr_assert_eq(vpr_real_cfg(&rig, PCI_COMMAND, 2) & PCI_COMMAND_MASTER, PCI_COMMAND_MASTER);
	vpr_cfgw(&rig, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE);
	cr_assert_eq(vpr_real_cfg(&rig, PCI_COMMAND, 2) & (PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE),
		     PCI_COMMAND_INTX_DISABLE);
	vpr_down(&rig);
}

/* ---- INTx ---- */

Test(vfio_pci, intx_fallback_with_resample, .init = cr_redirect_stderr)
{
	rig_up();
	int trig = rig.fv.trigger_fd[VFIO_PCI_INTX_IRQ_INDEX][0];
	int res = rig.fv.unmask_fd[VFIO_PCI_INTX_IRQ_INDEX][0];

	cr_assert_geq(trig, 0);
	cr_assert_geq(res, 0);
	const struct fake_hv_irqfd *r = route_of(trig);

	cr_assert_not_null(r);
	cr_assert_not(r->msi);
	cr_assert_eq(r->resamplefd, res);
	cr_assert_eq(r->spi, fdt_pci_intx_spi(1, 1));
	cr_assert_eq(r->spi, LAYOUT_SPI_PCI_INTX_BASE + 1); /* INTA of slot 1 swizzles to INTB's line */
	vpr_down(&rig);
	cr_assert_eq(rig.fv.enabled[VFIO_PCI_INTX_IRQ_INDEX], false);
	cr_assert_eq(live_routes(), 0);
}

/* ---- MSI ---- */

static void msi_program(u64 addr, u16 data, u16 flags)
{
	vpr_cfgw(&rig, MSI_CAP + PCI_MSI_ADDRESS_LO, 4, (u32)addr);
	vpr_cfgw(&rig, MSI_CAP + PCI_MSI_ADDRESS_HI, 4, (u32)(addr >> 32));
	vpr_cfgw(&rig, MSI_CAP + PCI_MSI_DATA_64, 2, data);
	vpr_cfgw(&rig, MSI_CAP + PCI_MSI_FLAGS, 2, flags);
}

Test(vfio_pci, msi_enable_routes_with_requester_id, .init = cr_redirect_stderr)
{
	rig_up();
	msi_program(DOORBELL, 0x20, PCI_MSI_FLAGS_ENABLE);
	/* INTx was torn down first, then one MSI vector set up in VFIO. */
	cr_assert_eq(rig.fv.enabled[VFIO_PCI_INTX_IRQ_INDEX], false);
	cr_assert(rig.fv.enabled[VFIO_PCI_MSI_IRQ_INDEX]);
	int efd = rig.fv.trigger_fd[VFIO_PCI_MSI_IRQ_INDEX][0];
	const struct fake_hv_irqfd *r = route_of(efd);

	cr_assert_not_null(r);
	cr_assert(r->msi);
	cr_assert_eq(r->addr, DOORBELL);
	cr_assert_eq(r->data, 0x20);
	cr_assert_eq(r->devid, 0x08); /* 00:01.0 */
	cr_assert_eq(live_routes(), 1);
	/* New data while enabled: the route follows. */
	vpr_cfgw(&rig, MSI_CAP + PCI_MSI_DATA_64, 2, 0x21);
	r = route_of(efd);
	cr_assert_not_null(r);
	cr_assert_eq(r->data, 0x21);
	cr_assert_eq(live_routes(), 1);
	/* Disable: MSI gone in VFIO and hv, INTx back. */
	vpr_cfgw(&rig, MSI_CAP + PCI_MSI_FLAGS, 2, 0);
	cr_assert_eq(rig.fv.enabled[VFIO_PCI_MSI_IRQ_INDEX], false);
	cr_assert(rig.fv.enabled[VFIO_PCI_INTX_IRQ_INDEX]);
	cr_assert_eq(live_routes(), 1);
	cr_assert_not(route_of(rig.fv.trigger_fd[VFIO_PCI_INTX_IRQ_INDEX][0])->msi);
	vpr_down(&rig);
}

Test(vfio_pci, msi_multi_message_mask_and_pending, .init = cr_redirect_stderr)
{
	rig_up();
	/* Ask for 8 (QSIZE 3): only the 4 offered are used. */
	msi_program(DOORBELL, 0x40, PCI_MSI_FLAGS_ENABLE | (2 << 4));
	cr_assert_eq(rig.vp->nvecs, 4);
	for (unsigned int i = 0; i < 4; i++) {
		const struct fake_hv_irqfd *r = route_of(rig.fv.trigger_fd[VFIO_PCI_MSI_IRQ_INDEX][i]);

		cr_assert_not_null(r);
		cr_assert_eq(r->data, 0x40 | i);
	}
	/* Mask vector 2: its route goes; an interrupt then is pending, not delivered. */
	int efd2 = rig.fv.trigger_fd[VFIO_PCI_MSI_IRQ_INDEX][2];

	vpr_cfgw(&rig, MSI_CAP + PCI_MSI_MASK_64, 4, 0x4);
	cr_assert_eq(vpr_cfgr(&rig, MSI_CAP + PCI_MSI_MASK_64, 4), 0x4);
	cr_assert_null(route_of(efd2));
	cr_assert_eq(live_routes(), 3);
	cr_assert_eq(vpr_cfgr(&rig, MSI_CAP + PCI_MSI_PENDING_64, 4), 0);
	kick(efd2);
	cr_assert_eq(vpr_cfgr(&rig, MSI_CAP + PCI_MSI_PENDING_64, 4), 0x4);
	/* Mask bits beyond the offered vectors are not writable. */
	vpr_cfgw(&rig, MSI_CAP + PCI_MSI_MASK_64, 4, 0xfffffff4);
	cr_assert_eq(vpr_cfgr(&rig, MSI_CAP + PCI_MSI_MASK_64, 4), 0x4);
	/* Unmask: route back (the hypervisor delivers what the eventfd holds), pending cleared from our view. */
	vpr_cfgw(&rig, MSI_CAP + PCI_MSI_MASK_64, 4, 0);
	cr_assert_not_null(route_of(efd2));
	cr_assert_eq(vpr_cfgr(&rig, MSI_CAP + PCI_MSI_PENDING_64, 4), 0);
	cr_assert_eq(live_routes(), 4);
	vpr_down(&rig);
	cr_assert_eq(live_routes(), 0);
}

/* ---- MSI-X ---- */

static u64 bar2(void)
{
	return LAYOUT_PCI_MMIO64_BASE;
}

static void msix_entry(unsigned int i, u64 addr, u32 data, u32 ctrl)
{
	u64 e = bar2() + 16 * i;

	vpr_mmio_write(&rig, e + PCI_MSIX_ENTRY_LOWER_ADDR, (u32)addr, 4);
	vpr_mmio_write(&rig, e + PCI_MSIX_ENTRY_UPPER_ADDR, (u32)(addr >> 32), 4);
	vpr_mmio_write(&rig, e + PCI_MSIX_ENTRY_DATA, data, 4);
	vpr_mmio_write(&rig, e + PCI_MSIX_ENTRY_VECTOR_CTRL, ctrl, 4);
}

Test(vfio_pci, msix_table_routes_and_masks, .init = cr_redirect_stderr)
{
	rig_up();
	vpr_cfgw(&rig, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	/* Linux: enable with function mask, program, then clear the function mask. */
	vpr_cfgw(&rig, MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	cr_assert(rig.fv.enabled[VFIO_PCI_MSIX_IRQ_INDEX]);
	cr_assert_eq(rig.fv.enabled[VFIO_PCI_INTX_IRQ_INDEX], false);
	cr_assert_eq(rig.vp->nvecs, 8);
	cr_assert_eq(live_routes(), 0);
	/* Entries read back as written; reset state is masked. */
	cr_assert_eq(vpr_mmio_read(&rig, bar2() + 16 * 5 + PCI_MSIX_ENTRY_VECTOR_CTRL, 4), 1);
	msix_entry(0, DOORBELL, 0x100, 0);
	msix_entry(3, DOORBELL, 0x103, 0);
	cr_assert_eq(vpr_mmio_read(&rig, bar2() + 16 * 3 + PCI_MSIX_ENTRY_DATA, 4), 0x103);
	cr_assert_eq(vpr_mmio_read(&rig, bar2() + 16 * 3, 8), DOORBELL);
	cr_assert_eq(live_routes(), 0); /* function masked */
	vpr_cfgw(&rig, MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	cr_assert_eq(live_routes(), 2);
	const struct fake_hv_irqfd *r = route_of(rig.fv.trigger_fd[VFIO_PCI_MSIX_IRQ_INDEX][3]);

	cr_assert_not_null(r);
	cr_assert_eq(r->addr, DOORBELL);
	cr_assert_eq(r->data, 0x103);
	cr_assert_eq(r->devid, 0x08);
	/* Mask entry 3 with a qword write of data + control; fire it: PBA bit 3. */
	vpr_mmio_write(&rig, bar2() + 16 * 3 + PCI_MSIX_ENTRY_DATA, (u64)1 << 32 | 0x103, 8);
	cr_assert_null(route_of(rig.fv.trigger_fd[VFIO_PCI_MSIX_IRQ_INDEX][3]));
	cr_assert_eq(vpr_mmio_read(&rig, bar2() + 0x8000, 8), 0);
	kick(rig.fv.trigger_fd[VFIO_PCI_MSIX_IRQ_INDEX][3]);
	cr_assert_eq(vpr_mmio_read(&rig, bar2() + 0x8000, 8), 0x8);
	cr_assert_eq(vpr_mmio_read(&rig, bar2() + 0x8000, 1), 0x8);
	vpr_mmio_write(&rig, bar2() + 0x8000, 0, 8); /* PBA is read-only */
	cr_assert_eq(vpr_mmio_read(&rig, bar2() + 0x8000, 8), 0x8);
	/* Unmask: routed again with the new data. */
	msix_entry(3, DOORBELL, 0x133, 0);
	r = route_of(rig.fv.trigger_fd[VFIO_PCI_MSIX_IRQ_INDEX][3]);
	cr_assert_not_null(r);
	cr_assert_eq(r->data, 0x133);
	/* A sub-dword table access is ignored (reads 0). */
	cr_assert_eq(vpr_mmio_read(&rig, bar2() + 16 * 3 + PCI_MSIX_ENTRY_DATA, 2), 0);
	/* The table does not reach the device's BAR memory. */
	cr_assert_eq(rig.fv.regions[VFIO_PCI_BAR2_REGION_INDEX].data[16 * 3 + PCI_MSIX_ENTRY_DATA], 0);
	/* Disable MSI-X: routes gone, INTx back. */
	vpr_cfgw(&rig, MSIX_CAP + PCI_MSIX_FLAGS, 2, 0);
	cr_assert_eq(rig.fv.enabled[VFIO_PCI_MSIX_IRQ_INDEX], false);
	cr_assert(rig.fv.enabled[VFIO_PCI_INTX_IRQ_INDEX]);
	cr_assert_eq(live_routes(), 1);
	vpr_down(&rig);
}

Test(vfio_pci, irq_failures_do_not_crash, .init = cr_redirect_stderr)
{
	rig_up();
	/* VFIO refuses MSI: the guest's interrupts are lost (message), nothing routed, state consistent. */
	rig.fv.irqs[VFIO_PCI_MSI_IRQ_INDEX].count = 0;
	msi_program(DOORBELL, 0x20, PCI_MSI_FLAGS_ENABLE);
	cr_assert_eq(rig.vp->mode, VFIO_PCI_IRQ_NONE);
	cr_assert_eq(live_routes(), 0);
	cr_assert(cr_stderr_has("edu0: could not switch interrupts to MSI"));
	rig.fv.irqs[VFIO_PCI_MSI_IRQ_INDEX].count = 4;
	/* The hypervisor refuses a route: vector left unrouted, retried on the next change. */
	vpr_cfgw(&rig, MSI_CAP + PCI_MSI_FLAGS, 2, 0);
	rig.fh.fail_irqfd_msi = -ENOSPC;
	vpr_cfgw(&rig, MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE);
	cr_assert_eq(rig.vp->mode, VFIO_PCI_IRQ_MSI);
	cr_assert_eq(live_routes(), 0);
	vpr_cfgw(&rig, MSI_CAP + PCI_MSI_DATA_64, 2, 0x22);
	cr_assert_eq(live_routes(), 1);
	/* A memslot the hypervisor refuses: the BAR stays usable, trapped. */
	rig.fh.fail_mem_map = -ENOMEM;
	vpr_cfgw(&rig, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cr_assert_null(vpr_map_at(&rig, LAYOUT_PCI_MMIO32_BASE));
	rig.fv.regions[VFIO_PCI_BAR0_REGION_INDEX].data[4] = 0x77;
	cr_assert_eq(vpr_mmio_read(&rig, LAYOUT_PCI_MMIO32_BASE + 4, 1), 0x77);
	vpr_down(&rig);
}

Test(vfio_pci, create_failures_unwind, .init = cr_redirect_stderr)
{
	memset(&rig, 0, sizeof(rig));
	device_image(SZ_1M);
	rig.fv.fail_reset = -EIO;
	cr_assert_lt(rig_create(), 0);
	cr_assert_null(rig.vp);
	cr_assert_eq(pci_host_ecam_read(&rig.host, VPR_SLOT1, 4), 0xffffffff);
	vpr_down(&rig);

	/* Not a PCI device. */
	memset(&rig, 0, sizeof(rig));
	device_image(SZ_1M);
	rig.fv.info_flags = VFIO_DEVICE_FLAGS_RESET;
	cr_assert_eq(rig_create(), -ENODEV);
	vpr_down(&rig);

	/* A bridge. */
	memset(&rig, 0, sizeof(rig));
	device_image(SZ_1M);
	vpr_cfg_put(&rig, PCI_HEADER_TYPE, 1, PCI_HEADER_TYPE_BRIDGE);
	cr_assert_eq(rig_create(), -ENOTSUP);
	vpr_down(&rig);

	/* A device without reset support still works, and is not reset. */
	memset(&rig, 0, sizeof(rig));
	device_image(SZ_1M);
	rig.fv.info_flags = VFIO_DEVICE_FLAGS_PCI;
	cr_assert_eq(rig_create(), 0);
	cr_assert_eq(rig.fv.resets, 0);
	vpr_down(&rig);
	cr_assert_eq(rig.fv.resets, 0);
}

Test(vfio_pci, no_mmap_knob_traps_everything, .init = cr_redirect_stderr)
{
	setenv("IVMM_VFIO_NO_MMAP", "1", 1);
	rig_up();
	vpr_cfgw(&rig, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cr_assert_eq(vpr_live_maps(&rig), 0);
	memcpy(rig.fv.regions[VFIO_PCI_BAR0_REGION_INDEX].data + 8, "\x78\x56\x34\x12", 4);
	cr_assert_eq(vpr_mmio_read(&rig, LAYOUT_PCI_MMIO32_BASE + 8, 4), 0x12345678);
	vpr_down(&rig);
	unsetenv("IVMM_VFIO_NO_MMAP");
	cr_assert(cr_stderr_has("edu0: IVMM_VFIO_NO_MMAP=1: every BAR access is trapped"));
}

Test(vfio_pci, overlapping_bars_do_not_decode_twice, .init = cr_redirect_stderr)
{
	rig_up();
	vpr_cfgw(&rig, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cr_assert_eq(vpr_live_maps(&rig), 3);
	/* The guest moves BAR2 (64-bit) onto BAR0: refused on the bus, BAR2 does not decode, BAR0 unaffected. */
	vpr_cfgw(&rig, PCI_BASE_ADDRESS_3, 4, 0);
	vpr_cfgw(&rig, PCI_BASE_ADDRESS_2, 4, (u32)LAYOUT_PCI_MMIO32_BASE);
	cr_assert_eq(vpr_live_maps(&rig), 1);
	cr_assert_not_null(vpr_map_at(&rig, LAYOUT_PCI_MMIO32_BASE));
	cr_assert_eq(vpr_map_at(&rig, LAYOUT_PCI_MMIO32_BASE)->size, SZ_1M);
	memcpy(rig.fv.regions[VFIO_PCI_BAR0_REGION_INDEX].data, "\xed\x00\x00\x01", 4);
	cr_assert_eq(vpr_mmio_read(&rig, LAYOUT_PCI_MMIO32_BASE, 4), 0x010000ed);
	/* Moved away again: decodes there. */
	vpr_cfgw(&rig, PCI_BASE_ADDRESS_2, 4, (u32)(LAYOUT_PCI_MMIO32_BASE + 0x1000000));
	cr_assert_eq(vpr_live_maps(&rig), 3);
	cr_assert_not_null(vpr_map_at(&rig, LAYOUT_PCI_MMIO32_BASE + 0x1000000 + 0x1000));
	/* A guest doing it over and over gets a rate-limited guest line, never a host error per access. */
	for (unsigned int i = 0; i < 200; i++) {
		vpr_cfgw(&rig, PCI_BASE_ADDRESS_2, 4, (u32)LAYOUT_PCI_MMIO32_BASE);
		vpr_cfgw(&rig, PCI_BASE_ADDRESS_2, 4, (u32)(LAYOUT_PCI_MMIO32_BASE + 0x1000000));
	}
	vpr_down(&rig);
	static char err[65536];
	const char *e = cr_stderr_read(err, sizeof(err));
	unsigned int lines = cr_text_count(e, "is not decoded");

	cr_assert(strstr(e, "BAR2 at 0x20000000 is not decoded: region edu0-bar2"), "%s", e);
	cr_assert(strstr(e, "overlaps edu0-bar0"), "%s", e);
	cr_assert_null(strstr(e, "ivmm: error"), "a guest's BAR clash is no host error:\n%s", e);
	cr_assert(lines >= 1 && lines <= 20, "%u lines for 201 clashes: rate limited", lines);
}

Test(vfio_pci, guest_driven_device_failures_are_rate_limited, .init = cr_redirect_stderr)
{
	rig_up();
	/* Every guest read of Status (live) fails on the device: the read falls back to the image, the failure
	 * is recorded in last_err, and stderr gets a rate-limited guest warning, not one error per read. */
	for (unsigned int i = 0; i < 50; i++) {
		rig.fv.fail_pread = -EIO;
		cr_assert_eq(vpr_cfgr(&rig, PCI_STATUS, 2), PCI_STATUS_CAP_LIST); /* only the bit that is ours */
	}
	cr_assert_eq(vpr_cfgr(&rig, PCI_STATUS, 2), PCI_STATUS_CAP_LIST | PCI_STATUS_INTERRUPT);
	cr_assert(strstr(rig.vdev.last_err, "region 7 read at 0x6") != NULL, "%s", rig.vdev.last_err);
	/* The command register update a guest write drives is quiet too. */
	for (unsigned int i = 0; i < 50; i++) {
		rig.fv.fail_pread = -EIO;
		vpr_cfgw(&rig, PCI_COMMAND, 2, i & 1 ? PCI_COMMAND_MASTER : 0);
	}
	/* VFIO refuses an interrupt change (here: turning INTx off) every time the guest toggles MSI. */
	for (unsigned int i = 0; i < 50; i++) {
		rig.fv.fail_set_irqs = -EINVAL;
		vpr_cfgw(&rig, MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE);
		vpr_cfgw(&rig, MSI_CAP + PCI_MSI_FLAGS, 2, 0);
	}
	cr_assert(strstr(rig.vdev.last_err, "VFIO_DEVICE_SET_IRQS") != NULL, "%s", rig.vdev.last_err);
	vpr_down(&rig);
	const char *err = stderr_text();
	unsigned int reads = cr_text_count(err, "guest: edu0: config read at 0x6");
	unsigned int cmds = cr_text_count(err, "guest: edu0: could not read the device's command register");
	unsigned int irqs = cr_text_count(err, "guest: edu0: disabling INTx in VFIO failed: vfio 0000:00:01.0: VFIO_DEVICE_SET_IRQS");

	cr_assert(reads >= 1 && reads <= 10, "%u config read warnings", reads);
	cr_assert(cmds >= 1 && cmds <= 10, "%u command warnings", cmds);
	cr_assert(irqs >= 1 && irqs <= 10, "%u SET_IRQS warnings", irqs);
	cr_assert_eq(cr_text_count(err, "error: vfio 0000:00:01.0"), 0, "%s", err);
}

Test(vfio_pci, bar_space_given_back_on_failure_and_destroy, .init = cr_redirect_stderr)
{
	/* pci_host_add fails (slot beyond the bus) after the BARs were placed: the windows are as before. */
	memset(&rig, 0, sizeof(rig));
	device_image(SZ_1M);
	fake_vfio_open(&rig.fv, &rig.vdev, "0000:00:01.0");
	cr_assert_eq(vfio_dev_bind(&rig.vdev, 3), 0);
	fake_hv_init(&rig.fh);
	cr_assert_eq(bus_init(&rig.bus), 0);
	cr_assert_eq(pci_host_init(&rig.host, &rig.bus, LAYOUT_ECAM_BASE, LAYOUT_ECAM_SIZE), 0);
	cr_assert_eq(vfio_pci_create(&rig.vp, "edu0", &rig.vdev, &rig.host, &rig.fh.hv, &rig.bus, PCI_HOST_SLOTS),
		     -EINVAL);
	cr_assert_null(rig.vp);
	cr_assert_eq(rig.host.windows.mmio32.next, LAYOUT_PCI_MMIO32_BASE);
	cr_assert_eq(rig.host.windows.mmio64.next, LAYOUT_PCI_MMIO64_BASE);
	/* Created, it takes space; destroyed, the space is back and a new device gets the same BARs. */
	cr_assert_eq(vfio_pci_create(&rig.vp, "edu0", &rig.vdev, &rig.host, &rig.fh.hv, &rig.bus, -1), 0);
	cr_assert_eq(rig.host.windows.mmio32.next, LAYOUT_PCI_MMIO32_BASE + SZ_1M);
	cr_assert_eq(rig.host.windows.mmio64.next, LAYOUT_PCI_MMIO64_BASE + SZ_64K);
	vfio_pci_destroy(rig.vp);
	cr_assert_eq(rig.host.windows.mmio32.next, LAYOUT_PCI_MMIO32_BASE);
	cr_assert_eq(rig.host.windows.mmio64.next, LAYOUT_PCI_MMIO64_BASE);
	cr_assert_eq(vfio_pci_create(&rig.vp, "edu0", &rig.vdev, &rig.host, &rig.fh.hv, &rig.bus, -1), 0);
	cr_assert_eq(vpr_cfgr(&rig, PCI_BASE_ADDRESS_0, 4), (u32)LAYOUT_PCI_MMIO32_BASE);
	vpr_down(&rig);
}

#define EXP_CAP 0x90

Test(vfio_pci, safe_writes_to_live_registers_reach_the_device, .init = cr_redirect_stderr)
{
	memset(&rig, 0, sizeof(rig));
	device_image(SZ_1M);
	/* Add a PCIe endpoint capability (v2) after the vendor one. */
	vpr_cfg_put(&rig, VNDR_CAP + PCI_CAP_LIST_NEXT, 1, EXP_CAP);
	vpr_cfg_put(&rig, EXP_CAP, 2, PCI_CAP_ID_EXP);
	vpr_cfg_put(&rig, EXP_CAP + PCI_EXP_FLAGS, 2, 2 | PCI_EXP_TYPE_ENDPOINT << 4);
	vpr_cfg_put(&rig, EXP_CAP + PCI_EXP_DEVCTL, 2, 0x2000 | PCI_EXP_DEVCTL_RELAX_EN); /* MRRS 512, relaxed ordering */
	vpr_cfg_put(&rig, EXP_CAP + PCI_EXP_DEVSTA, 2, PCI_EXP_DEVSTA_CED | PCI_EXP_DEVSTA_URD);
	vpr_cfg_put(&rig, EXP_CAP + PCI_EXP_LNKCTL, 2, 0x0040);
	cr_assert_eq(rig_create(), 0);

	/* Status: only the W1C error bits are forwarded, as written (a 1 clears on real hardware). */
	vpr_cfg_put(&rig, PCI_STATUS, 2, PCI_STATUS_CAP_LIST | PCI_STATUS_REC_MASTER_ABORT);
	vpr_cfgw(&rig, PCI_STATUS, 2, 0);
	cr_assert_eq(vpr_real_cfg(&rig, PCI_STATUS, 2), PCI_STATUS_CAP_LIST | PCI_STATUS_REC_MASTER_ABORT); /* no 1s: no write */
	vpr_cfgw(&rig, PCI_STATUS, 2, PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_CAP_LIST | PCI_STATUS_INTERRUPT);
	cr_assert_eq(vpr_real_cfg(&rig, PCI_STATUS, 2), PCI_STATUS_REC_MASTER_ABORT);
	/* A dword write at the command register carries Status in its upper half. */
	vpr_cfgw(&rig, PCI_COMMAND, 4, (u32)PCI_STATUS_DETECTED_PARITY << 16);
	cr_assert_eq(vpr_real_cfg(&rig, PCI_STATUS, 2), PCI_STATUS_DETECTED_PARITY);

	/* DevCtl: error reporting enables, relaxed ordering and no-snoop follow the guest; read request size and
	 * FLR do not. */
	vpr_cfgw(&rig, EXP_CAP + PCI_EXP_DEVCTL, 2,
	     PCI_EXP_DEVCTL_CERE | PCI_EXP_DEVCTL_NFERE | PCI_EXP_DEVCTL_FERE | PCI_EXP_DEVCTL_URRE |
		     PCI_EXP_DEVCTL_NOSNOOP_EN | 0x5000 | PCI_EXP_DEVCTL_BCR_FLR);
	cr_assert_eq(vpr_real_cfg(&rig, EXP_CAP + PCI_EXP_DEVCTL, 2), 0x2000 | 0x000f | PCI_EXP_DEVCTL_NOSNOOP_EN);
	cr_assert_eq(vpr_cfgr(&rig, EXP_CAP + PCI_EXP_DEVCTL, 2), 0x2000 | 0x000f | PCI_EXP_DEVCTL_NOSNOOP_EN);
	/* A byte write touches only that byte's bits. */
	vpr_cfgw(&rig, EXP_CAP + PCI_EXP_DEVCTL, 1, PCI_EXP_DEVCTL_RELAX_EN);
	cr_assert_eq(vpr_real_cfg(&rig, EXP_CAP + PCI_EXP_DEVCTL, 2), 0x2000 | PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_NOSNOOP_EN);
	/* DevSta: W1C error bits forwarded as the guest's 1s. */
	vpr_cfgw(&rig, EXP_CAP + PCI_EXP_DEVSTA, 2, PCI_EXP_DEVSTA_URD | 0x0010);
	cr_assert_eq(vpr_real_cfg(&rig, EXP_CAP + PCI_EXP_DEVSTA, 2), PCI_EXP_DEVSTA_URD);
	/* Link Control is not the guest's (ASPM, link disable, retrain act on the host's link). */
	vpr_cfgw(&rig, EXP_CAP + PCI_EXP_LNKCTL, 2, 0x0010);
	cr_assert_eq(vpr_real_cfg(&rig, EXP_CAP + PCI_EXP_LNKCTL, 2), 0x0040);

	/* PMCSR: the power state goes through; PME_Status (W1C) is written as 0 so it is not cleared. */
	vpr_cfg_put(&rig, PM_CAP + PCI_PM_CTRL, 2, PCI_PM_CTRL_PME_STATUS | PCI_PM_CTRL_NO_SOFT_RESET);
	vpr_cfgw(&rig, PM_CAP + PCI_PM_CTRL, 2, 3 | PCI_PM_CTRL_PME_STATUS);
	cr_assert_eq(vpr_real_cfg(&rig, PM_CAP + PCI_PM_CTRL, 2), PCI_PM_CTRL_NO_SOFT_RESET | 3);

	/* A device that fails the read-modify-write: nothing written, a rate-limited guest warning. */
	rig.fv.fail_pread = -EIO;
	vpr_cfgw(&rig, PM_CAP + PCI_PM_CTRL, 2, 0);
	cr_assert_eq(vpr_real_cfg(&rig, PM_CAP + PCI_PM_CTRL, 2), PCI_PM_CTRL_NO_SOFT_RESET | 3);
	vpr_down(&rig);
	cr_assert(cr_stderr_has("guest: edu0: config write at 0x5c"));
}

Test(vfio_pci, bar_refused_for_overlap_decodes_once_the_other_moves, .init = cr_redirect_stderr)
{
	rig_up();
	vpr_cfgw(&rig, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	/* BAR2 moved onto BAR0: refused. */
	vpr_cfgw(&rig, PCI_BASE_ADDRESS_3, 4, 0);
	vpr_cfgw(&rig, PCI_BASE_ADDRESS_2, 4, (u32)LAYOUT_PCI_MMIO32_BASE);
	cr_assert_eq(vpr_live_maps(&rig), 1);
	/* BAR0 moves away: BAR2 decodes where the guest put it, without being rewritten (as on hardware). */
	vpr_cfgw(&rig, PCI_BASE_ADDRESS_0, 4, (u32)(LAYOUT_PCI_MMIO32_BASE + 0x1000000));
	cr_assert_not_null(vpr_map_at(&rig, LAYOUT_PCI_MMIO32_BASE + 0x1000000));
	cr_assert_not_null(vpr_map_at(&rig, LAYOUT_PCI_MMIO32_BASE + 0x1000));
	cr_assert_not_null(vpr_map_at(&rig, LAYOUT_PCI_MMIO32_BASE + 0x9000));
	cr_assert_eq(vpr_live_maps(&rig), 3);
	rig.fv.regions[VFIO_PCI_BAR2_REGION_INDEX].data[0x1004] = 0x5a;
	cr_assert_eq(vpr_mmio_read(&rig, LAYOUT_PCI_MMIO32_BASE + 0x1004, 1), 0x5a);
	vpr_down(&rig);
}

/* Every irqfd route change of an MSI-X table write, a function unmask or a mode teardown happens inside an
 * irqfd_batch bracket (one GSI table submission per guest action, not one per vector), and the brackets
 * balance. */
Test(vfio_pci, route_changes_are_batched, .init = cr_redirect_stderr)
{
	int depth = 0;
	unsigned int in_bracket = 0, most = 0, changes = 0;

	rig_up();
	vpr_cfgw(&rig, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	vpr_cfgw(&rig, MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	for (unsigned int i = 0; i < 8; i++)
		msix_entry(i, DOORBELL, 0x100 + i, 0);
	vpr_cfgw(&rig, MSIX_CAP + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE); /* 8 routes at once */
	cr_assert_eq(live_routes(), 8);
	msix_entry(2, DOORBELL, 0x122, 0);                         /* one route moves */
	vpr_cfgw(&rig, MSIX_CAP + PCI_MSIX_FLAGS, 2, 0);                     /* teardown: 8 releases, INTx back */
	cr_assert_eq(live_routes(), 1);
	cr_assert_leq(rig.fh.ncalls, FAKE_HV_MAX_CALLS);
	for (unsigned int i = 0; i < rig.fh.ncalls; i++) {
		const struct fake_hv_call *c = &rig.fh.calls[i];

		if (c->op == FAKE_IRQFD_BATCH) {
			depth += c->level ? 1 : -1;
			cr_assert_geq(depth, 0, "call %u: batch end without a begin", i);
			if (!depth) {
				most = MAX(most, in_bracket);
				in_bracket = 0;
			}
		} else if (c->op == FAKE_IRQFD_MSI || c->op == FAKE_IRQFD_RELEASE) {
			changes++;
			in_bracket++;
			cr_assert_gt(depth, 0, "call %u (op %d): route change outside a batch", i, c->op);
		}
	}
	cr_assert_eq(depth, 0, "brackets balance");
	cr_assert_eq(rig.fh.batch_depth, 0);
	cr_assert_geq(changes, 8 + 2 + 8);
	cr_assert_eq(most, 8, "the function unmask and the teardown each change 8 routes in one batch");
	vpr_down(&rig);
}
