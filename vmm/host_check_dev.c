/* host_check_dev.c: the per-device lines of `ivmm host-check` (see host_check.h): the device's sysfs entry,
 * its driver (vfio-pci), its VFIO cdev, its host IOMMU, then on a fresh iommufd its bind, GET_HW_INFO (the
 * SMMUv3 fields nesting and the vSMMU depend on) and a trial IOAS -> nest-parent HWPT -> vIOMMU, destroyed
 * again. It reaches the system only through struct host_check_ops and the iommufd and VFIO device layers;
 * every object a check creates is undone in reverse before the next check. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "devices/vfio_dev.h"
#include "iommu/iommufd.h"
#include "iommu/smmuv3_regs.h"
#include "iommu/vsmmu.h"
#include "vmm/host_check_internal.h"
#include "vmm/log.h"

/* The ARM SMMUv3 GET_HW_INFO flags ivmm knows (uapi enum iommu_hw_info_arm_smmuv3_flags). */
#define HC_SMMUV3_KNOWN_FLAGS ((u32)IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI)

/* ---- devices ---- */

static const char *basename_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* read_link of bus/pci/devices/BDF[/SUB]. */
static int dev_link(struct hc *hc, const char *bdf, const char *sub, char *buf, size_t len)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "bus/pci/devices/%s%s%s", bdf, sub ? "/" : "", sub ? sub : "");
	return hc->ops->read_link(hc->ctx, rel, buf, len);
}

static bool sys_exists(int read_link_rc)
{
	return read_link_rc >= 0 || read_link_rc == -EINVAL;
}

/* The driver line; true when it is vfio-pci. */
static bool check_driver(struct hc *hc, const char *bdf)
{
	char link[PATH_MAX], vfio_link[8];
	const char *drv, *no_vfio_pci = "";
	int rc = dev_link(hc, bdf, "driver", link, sizeof(link));

	if (rc >= 0 && !strcmp((drv = basename_of(link)), "vfio-pci")) {
		hc_line(hc, bdf, "driver", HC_OK, "vfio-pci");
		return true;
	}
	if (!sys_exists(hc->ops->read_link(hc->ctx, "bus/pci/drivers/vfio-pci", vfio_link, sizeof(vfio_link))))
		no_vfio_pci = " (no vfio-pci driver is registered: the kernel needs CONFIG_VFIO_PCI)";
	if (rc >= 0)
		hc_line(hc, bdf, "driver", HC_MISSING,
		     "bound to %s, not vfio-pci: bind it with: echo %s > /sys/bus/pci/devices/%s/driver/unbind; "
		     "echo vfio-pci > /sys/bus/pci/devices/%s/driver_override; echo %s > /sys/bus/pci/drivers_probe%s",
		     drv, bdf, bdf, bdf, bdf, no_vfio_pci);
	else if (rc == -ENOENT)
		hc_line(hc, bdf, "driver", HC_MISSING,
		     "no driver: bind it to vfio-pci with: echo vfio-pci > /sys/bus/pci/devices/%s/driver_override; "
		     "echo %s > /sys/bus/pci/drivers_probe%s", bdf, bdf, no_vfio_pci);
	else
		hc_line(hc, bdf, "driver", HC_MISSING, "/sys/bus/pci/devices/%s/driver: %s", bdf, strerror(-rc));
	return false;
}

/* The vfio cdev line: resolve and open it. true when dev is open. */
static bool check_cdev(struct hc *hc, const char *bdf, struct vfio_dev *dev)
{
	char path[sizeof(dev->cdev)], err[512];
	int rc = hc->ops->resolve_cdev(hc->ctx, bdf, path, sizeof(path), err, sizeof(err));

	if (rc == -ENOTSUP) {
		hc_line(hc, bdf, "vfio cdev", HC_MISSING,
		     "no VFIO cdev (/sys/bus/pci/devices/%s/vfio-dev/ is missing or empty): the kernel lacks "
		     "CONFIG_VFIO_DEVICE_CDEV (ivmm uses VFIO cdev + iommufd, not VFIO groups): build it with "
		     "CONFIG_VFIO_DEVICE_CDEV=y", bdf);
		return false;
	}
	if (rc) {
		hc_line(hc, bdf, "vfio cdev", HC_MISSING, "%s", err);
		return false;
	}
	rc = hc->ops->open_vfio(hc->ctx, dev, bdf);
	if (rc) {
		hc_line(hc, bdf, "vfio cdev", HC_MISSING, "%s", dev->last_err[0] ? dev->last_err : strerror(-rc));
		return false;
	}
	hc_line(hc, bdf, "vfio cdev", HC_OK, "%s (opened)", path);
	return true;
}

static bool check_host_iommu(struct hc *hc, const char *bdf)
{
	char link[PATH_MAX];
	int rc = dev_link(hc, bdf, "iommu", link, sizeof(link));

	if (rc >= 0) {
		hc_line(hc, bdf, "host IOMMU", HC_OK, "%s", basename_of(link));
		return true;
	}
	if (rc == -ENOENT)
		hc_line(hc, bdf, "host IOMMU", HC_MISSING,
		     "no IOMMU translates it (/sys/bus/pci/devices/%s/iommu does not exist): the firmware describes "
		     "no SMMU for it or the SMMU driver did not probe (dmesg | grep -i smmu); the vSMMU needs the "
		     "device behind an SMMUv3", bdf);
	else
		hc_line(hc, bdf, "host IOMMU", HC_MISSING, "/sys/bus/pci/devices/%s/iommu: %s", bdf, strerror(-rc));
	return false;
}

static const char *hw_info_type_name(u32 type)
{
	switch (type) {
	case IOMMU_HW_INFO_TYPE_NONE:
		return "an IOMMU whose driver reports no hardware info";
	case IOMMU_HW_INFO_TYPE_INTEL_VTD:
		return "Intel VT-d";
	case IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV:
		return "NVIDIA Tegra241 CMDQV";
	case IOMMU_HW_INFO_TYPE_AMD:
		return "AMD IOMMU";
	default:
		return "an unknown IOMMU";
	}
}

static const char *ttendian_name(u32 v)
{
	static const char *const names[] = { "mixed", "reserved", "LE", "BE" };

	return names[v & 3];
}

/* The lines derived from GET_HW_INFO of an SMMUv3: nesting, the vSMMU's ID registers, S2FWB, errata. S1P,
 * S2P and FWB lie outside the fields the uAPI lets a VMM rely on: they are read here to explain, the vIOMMU
 * trial that follows is what decides. */
static void check_smmu_fields(struct hc *hc, const char *bdf, const struct iommu_hw_info_arm_smmuv3 *s)
{
	u32 h0 = s->idr[0], idr[6], unknown = s->flags & ~HC_SMMUV3_KNOWN_FLAGS;
	unsigned int s1p = !!(h0 & IDR0_S1P), s2p = !!(h0 & IDR0_S2P);
	char gran[16] = "";

	if (s1p && s2p)
		hc_line(hc, bdf, "nesting", HC_OK, "IDR0 S1P=1 S2P=1: the guest's stage 1 over ivmm's stage 2");
	else
		hc_line(hc, bdf, "nesting", HC_MISSING,
		     "IDR0 S1P=%u S2P=%u: this SMMU cannot nest (the guest's stage 1 needs S1P, ivmm's stage 2 needs "
		     "S2P): the vSMMU needs an SMMUv3 with both stages", s1p, s2p);

	vsmmu_derive_idr(s, idr);
	if (idr[5] & IDR5_GRAN4K)
		strcat(gran, "4K,");
	if (idr[5] & IDR5_GRAN16K)
		strcat(gran, "16K,");
	if (idr[5] & IDR5_GRAN64K)
		strcat(gran, "64K,");
	if (gran[0])
		gran[strlen(gran) - 1] = '\0';
	else
		strcpy(gran, "none");
	hc_line(hc, bdf, "vSMMU IDRs", FIELD_GET(IDR0_TTENDIAN, h0) == 3 ? HC_MISSING : HC_OK,
	     "the guest would see IDR0 0x%08x IDR1 0x%08x IDR3 0x%08x IDR5 0x%08x (from the host: ASID16 %u, CD2L %u, "
	     "TERM_MODEL %u, TTENDIAN %s, RIL %u, BBML %u, granules %s, VAX %u, DS %u)%s",
	     idr[0], idr[1], idr[3], idr[5], !!(h0 & IDR0_ASID16), !!(h0 & IDR0_CD2L), !!(h0 & IDR0_TERM_MODEL),
	     ttendian_name((u32)FIELD_GET(IDR0_TTENDIAN, h0)), !!(s->idr[3] & IDR3_RIL),
	     (unsigned int)FIELD_GET(IDR3_BBML, s->idr[3]), gran, (unsigned int)FIELD_GET(IDR5_VAX, s->idr[5]),
	     !!(s->idr[5] & IDR5_DS),
	     FIELD_GET(IDR0_TTENDIAN, h0) == 3 ? ": the host SMMU walks big-endian tables only, a little-endian "
						  "guest's arm-smmu-v3 refuses it" : "");

	switch (FIELD_GET(IDR0_STALL_MODEL, h0)) {
	case IDR0_STALL_MODEL_STALL:
		hc_line(hc, bdf, "stall", HC_OK, "IDR0.STALL_MODEL=0b00: the SMMU can stall; the guest is told it cannot "
		     "and ivmm sets S1STALLD in every vSTE, so a guest's faults terminate instead of stalling");
		break;
	case IDR0_STALL_MODEL_FORCE:
		hc_line(hc, bdf, "stall", HC_MISSING, "IDR0.STALL_MODEL=0b10: the SMMU forces stalls, and a stalled DMA "
		     "would wait for a RESUME the vSMMU cannot offer: no vSMMU on this host");
		break;
	default:
		hc_line(hc, bdf, "stall", HC_OK, "IDR0.STALL_MODEL=0b%u%u: no stalls", (unsigned int)(FIELD_GET(
		     IDR0_STALL_MODEL, h0) >> 1), (unsigned int)(FIELD_GET(IDR0_STALL_MODEL, h0) & 1));
	}

	if (s->idr[3] & IDR3_FWB)
		hc_line(hc, bdf, "S2FWB", HC_OK, "IDR3.FWB=1: stage 2 forces write-back, so the kernel allows a vIOMMU "
		     "for any device behind this SMMU");
	else
		hc_line(hc, bdf, "S2FWB", HC_WARNING,
		     "IDR3.FWB=0: a stock kernel allows a vIOMMU here only for a device that firmware marks CANWBS "
		     "(ACPI IORT); the vIOMMU line says whether this one is allowed");

	if (s->flags & IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI)
		hc_line(hc, bdf, "errata", unknown ? HC_WARNING : HC_OK,
		     "IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI (erratum T264-SMMU-3): handled, the vSMMU "
		     "issues every invalidation batch (TLBI/CFGI with its CMD_SYNC) twice (inval-repeats in --stats)%s",
		     unknown ? "; and unknown flag bits too (a newer kernel's errata flags?)" : "");
	else if (unknown)
		hc_line(hc, bdf, "errata", HC_WARNING,
		     "GET_HW_INFO flags 0x%x has bits ivmm does not know (a newer kernel's errata flags?): see enum "
		     "iommu_hw_info_arm_smmuv3_flags in the kernel's uapi/linux/iommufd.h", s->flags);
	else
		hc_line(hc, bdf, "errata", HC_OK, "none reported (GET_HW_INFO flags 0)");
}

/* Try IOAS -> nest-parent HWPT -> vIOMMU on dev, then destroy them in reverse. */
static void check_viommu(struct hc *hc, const char *bdf, struct iommufd *ictx, u32 dev_id)
{
	u32 ioas = 0, s2 = 0, viommu = 0, ids[3];
	const char *step = "IOAS_ALLOC", *hint = "";
	char err[sizeof(ictx->last_err)] = "", cleanup[sizeof(ictx->last_err)] = "";
	int rc;

	rc = iommufd_ioas_alloc(ictx, &ioas, FAIL_QUIET);
	if (!rc) {
		step = "HWPT_ALLOC(NEST_PARENT)";
		rc = iommufd_hwpt_alloc_nest_parent(ictx, dev_id, ioas, &s2, FAIL_QUIET);
		if (rc == -EOPNOTSUPP)
			hint = ": the SMMU driver cannot make a nesting parent for it (see the nesting line)";
	}
	if (!rc) {
		step = "VIOMMU_ALLOC(ARM_SMMUV3)";
		rc = iommufd_viommu_alloc_smmuv3(ictx, dev_id, s2, &viommu, FAIL_QUIET);
		if (rc == -EOPNOTSUPP)
			hint = ": the kernel allows a vIOMMU only with nesting and, since VFIO does no cache "
			       "maintenance, stage-2 forced write-back (the S2FWB line) or a device that firmware "
			       "marks CANWBS (ACPI IORT); a kernel without CONFIG_ARM_SMMU_V3_IOMMUFD refuses it too";
	}
	if (rc)
		snprintf(err, sizeof(err), "%s", ictx->last_err[0] ? ictx->last_err : strerror(-rc));

	ids[0] = viommu;
	ids[1] = s2;
	ids[2] = ioas;
	for (unsigned int i = 0; i < ARRAY_SIZE(ids); i++)
		if (ids[i] && iommufd_destroy(ictx, ids[i], FAIL_QUIET) && !cleanup[0])
			snprintf(cleanup, sizeof(cleanup), "%s", ictx->last_err);

	if (rc)
		hc_line(hc, bdf, "vIOMMU", HC_MISSING, "%s failed: %s%s", step, err, hint);
	else
		hc_line(hc, bdf, "vIOMMU", HC_OK, "IOAS %u -> nest-parent HWPT %u -> vIOMMU %u (ARM_SMMUV3) allocated, %s",
		     ioas, s2, viommu, cleanup[0] ? "but not all destroyed (the cleanup line)" : "then destroyed");
	if (cleanup[0])
		hc_line(hc, bdf, "cleanup", HC_WARNING, "%s: closing the iommufd frees what is left", cleanup);
}

/* Bind to a fresh iommufd, GET_HW_INFO and what follows from it. dev is open. */
static void check_on_iommufd(struct hc *hc, const char *bdf, struct vfio_dev *dev)
{
	struct iommufd ictx;
	struct iommufd_hw_info hw;
	int rc;

	memset(&ictx, 0, sizeof(ictx));
	ictx.fd = -1;
	rc = hc->ops->open_iommufd(hc->ctx, &ictx);
	if (rc) {
		hc_line(hc, bdf, "iommufd bind", HC_MISSING, "%s", ictx.last_err[0] ? ictx.last_err : strerror(-rc));
		hc->skipped = true;
		goto out;
	}
	rc = vfio_dev_bind(dev, iommufd_fd(&ictx));
	if (rc) {
		hc_line(hc, bdf, "iommufd bind", HC_MISSING, "%s", dev->last_err);
		hc->skipped = true;
		goto out;
	}
	hc_line(hc, bdf, "iommufd bind", HC_OK, "dev_id %u on a fresh iommufd (unbound again when the device is closed)",
	     dev->dev_id);

	memset(&hw, 0, sizeof(hw));
	rc = iommufd_get_hw_info(&ictx, dev->dev_id, &hw, FAIL_QUIET);
	if (rc) {
		hc_line(hc, bdf, "hw info", HC_MISSING, "%s", ictx.last_err);
		hc->skipped = true;
		goto out;
	}
	if (hw.type != IOMMU_HW_INFO_TYPE_ARM_SMMUV3) {
		hc_line(hc, bdf, "hw info", HC_MISSING,
		     "IOMMU_GET_HW_INFO says %s (type %u), not an Arm SMMUv3: ivmm's vSMMU nests only on an SMMUv3",
		     hw_info_type_name(hw.type), hw.type);
		hc->skipped = true;
		goto out;
	}
	hc_line(hc, bdf, "hw info", HC_OK, "Arm SMMUv3.%u (AIDR 0x%02x, IIDR 0x%08x)", hw.smmu.aidr & 0xf,
	     hw.smmu.aidr & 0xff, hw.smmu.iidr);
	check_smmu_fields(hc, bdf, &hw.smmu);
	check_viommu(hc, bdf, &ictx, dev->dev_id);
out:
	/* The device first (closing it unbinds it from the iommufd), then the iommufd. */
	vfio_dev_close(dev);
	iommufd_close(&ictx);
}

void hc_check_device(struct hc *hc, const char *bdf)
{
	struct vfio_dev dev;
	char link[PATH_MAX];
	bool drv_ok, cdev_ok = false, iommu_ok;
	int rc;

	memset(&dev, 0, sizeof(dev));
	dev.fd = -1;
	rc = dev_link(hc, bdf, NULL, link, sizeof(link));
	if (!sys_exists(rc)) {
		if (rc == -ENOENT)
			hc_line(hc, bdf, "device", HC_MISSING, "no PCI device %s (/sys/bus/pci/devices/%s does not exist): "
			     "check the address with lspci -D", bdf, bdf);
		else
			hc_line(hc, bdf, "device", HC_MISSING, "/sys/bus/pci/devices/%s: %s", bdf, strerror(-rc));
		hc->skipped = true;
		return;
	}
	hc_line(hc, bdf, "device", HC_OK, "/sys/bus/pci/devices/%s", bdf);
	drv_ok = check_driver(hc, bdf);
	if (drv_ok)
		cdev_ok = check_cdev(hc, bdf, &dev);
	iommu_ok = check_host_iommu(hc, bdf);
	if (!drv_ok || !cdev_ok || !iommu_ok || !hc->iommufd_ok) {
		hc->skipped = true;
		vfio_dev_close(&dev); /* safe when it did not open */
		return;
	}
	check_on_iommufd(hc, bdf, &dev);
}
