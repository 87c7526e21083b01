/* host_check.c: `ivmm host-check` (see host_check.h): the argument parser, the checks and their lines. The
 * system is reached only through struct host_check_ops (real ones in host_check_arm64.c), the iommufd layer
 * (iommu/iommufd.h, on the context the ops open) and the VFIO device layer (devices/vfio_dev.h, on the device
 * the ops open). Every object a check creates is undone in reverse before the next check. */
#include <errno.h>
#include <limits.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include "boot/layout.h"
#include "devices/vfio_dev.h"
#include "iommu/iommufd.h"
#include "iommu/smmuv3_regs.h"
#include "iommu/vsmmu.h"
#include "vmm/config.h"
#include "vmm/config_parse.h"
#include "vmm/host_check.h"
#include "vmm/log.h"

/* The ARM SMMUv3 GET_HW_INFO flags ivmm knows (uapi enum iommu_hw_info_arm_smmuv3_flags). */
#define HC_SMMUV3_KNOWN_FLAGS ((u32)IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI)

enum hc_verdict { HC_OK, HC_MISSING, HC_WARNING };

struct hc {
	const struct host_check_ops *ops;
	void *ctx;
	FILE *out;
	unsigned int missing, warnings;
	bool skipped;          /* a check was left out because one it depends on is missing */
	bool iommufd_ok;       /* /dev/iommu opens: the per-device iommufd checks can run */
};

struct hc_args {
	unsigned int ndev;
	char bdf[IVMM_MAX_DEVICES][BDF_STR_LEN];
};

static const char *const verdict_name[] = { "ok", "missing", "warning" };

/* One line "host-check: [BDF ]WHAT: VERDICT: DETAIL", flushed (the layers' stderr lines stay in order). */
static void __printf(5, 6) line(struct hc *hc, const char *bdf, const char *what, enum hc_verdict v,
				const char *fmt, ...)
{
	char detail[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (v == HC_MISSING)
		hc->missing++;
	else if (v == HC_WARNING)
		hc->warnings++;
	fprintf(hc->out, "host-check: %s%s%s: %s: %s\n", bdf ? bdf : "", bdf ? " " : "", what, verdict_name[v],
		detail);
	fflush(hc->out);
}


/* The real uname op, the same on every host (both host_check_arm64.c and host_check_other.c use it). */
int host_check_uname(void *ctx, char *machine, size_t mlen, char *release, size_t rlen)
{
	struct utsname u;

	if (uname(&u))
		return -errno;
	snprintf(machine, mlen, "%s", u.machine);
	snprintf(release, rlen, "%s", u.release);
	return 0;
}
/* ---- arguments ---- */

static void usage(FILE *out)
{
	fputs("Usage: ivmm host-check [--device BDF]...\n"
	      "\n"
	      "Inspects this host for what an ivmm guest with passthrough devices behind the emulated SMMUv3\n"
	      "(ivmm run --viommu smmuv3) needs, and prints one line per capability:\n"
	      "  host-check: WHAT: ok|missing|warning: DETAIL\n"
	      "where a missing or warning line says what to do, then a summary line. Checked: the architecture\n"
	      "(arm64); KVM: /dev/kvm, its API version, the IPA size ivmm's address map needs (40 bits), the vGICv3,\n"
	      "its ITS, KVM_CAP_MSI_DEVID, KVM_CAP_IRQFD_RESAMPLE; /dev/iommu; and for each --device: its sysfs\n"
	      "entry, its driver (vfio-pci), its VFIO cdev, its host IOMMU, a bind to a fresh iommufd, what\n"
	      "IOMMU_GET_HW_INFO says (SMMUv3, nesting, the ID registers the vSMMU would show the guest, S2FWB,\n"
	      "errata) and whether a vIOMMU can be allocated on it (tried, then destroyed).\n"
	      "\n"
	      "Options:\n"
	      "  --device BDF   a PCI device to check (DDDD:BB:DD.F or BB:DD.F); repeat it for more devices\n"
	      "  -h, --help     this text\n"
	      "\n"
	      "Nothing is left behind: no driver is bound or unbound, every iommufd object allocated on a device is\n"
	      "destroyed and every file closed (opening a device's VFIO cdev resets it, as for any VFIO user).\n"
	      "Run it as root, or with access to /dev/kvm, /dev/iommu and the devices' VFIO cdevs.\n"
	      "\n"
	      "Exit status:\n"
	      "  0 a vSMMU guest with these devices can run here (warnings allowed)\n"
	      "  1 something is missing (or this ivmm is not an arm64 build)\n"
	      "  2 bad arguments\n",
	      out);
}

static int add_device(struct hc_args *a, const char *val)
{
	char bdf[BDF_STR_LEN];
	const char *why = parse_bdf(val, bdf);

	if (why) {
		pr_err("host-check: --device '%s': %s", val, why);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < a->ndev; i++) {
		if (!strcmp(a->bdf[i], bdf)) {
			pr_err("host-check: --device %s given twice", bdf);
			return -EINVAL;
		}
	}
	if (a->ndev == IVMM_MAX_DEVICES) {
		pr_err("host-check: --device %s: at most %d devices", bdf, IVMM_MAX_DEVICES);
		return -EINVAL;
	}
	memcpy(a->bdf[a->ndev++], bdf, BDF_STR_LEN);
	return 0;
}

/* 0 to run, 1 after --help, -EINVAL after a message. argv[0] is "host-check". */
static int parse_args(int argc, char **argv, struct hc_args *a, FILE *out)
{
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		int rc;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			usage(out);
			return 1;
		}
		if (!strcmp(arg, "--device")) {
			if (i + 1 >= argc) {
				pr_err("host-check: option '--device' needs a value (--device BDF)");
				return -EINVAL;
			}
			rc = add_device(a, argv[++i]);
		} else if (!strncmp(arg, "--device=", 9)) {
			rc = add_device(a, arg + 9);
		} else if (arg[0] == '-') {
			pr_err("host-check: unknown option '%s' (try 'ivmm host-check --help')", arg);
			rc = -EINVAL;
		} else {
			pr_err("host-check: unexpected argument '%s' (devices are given as --device BDF)", arg);
			rc = -EINVAL;
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- the architecture ---- */

/* Returns true when the rest can run. */
static bool check_arch(struct hc *hc)
{
	char machine[65] = "", release[65] = "";

	if (hc->ops->uname && hc->ops->uname(hc->ctx, machine, sizeof(machine), release, sizeof(release)))
		machine[0] = release[0] = '\0';
	if (!hc->ops->arm64) {
		line(hc, NULL, "architecture", HC_MISSING,
		     "this ivmm is built for %s, host-check needs an arm64 host (ivmm runs guests on arm64 KVM only): "
		     "on x86_64 run it in the lab's emulated arm64 host (make lab-shell, then ivmm host-check "
		     "--device 0000:00:01.0)", machine[0] ? machine : "another architecture");
		return false;
	}
	line(hc, NULL, "architecture", HC_OK, "arm64 (%s, Linux %s)", machine[0] ? machine : "aarch64",
	     release[0] ? release : "unknown");
	return true;
}

/* ---- KVM ---- */

static void kvm_open_missing(struct hc *hc, int rc)
{
	if (rc == -ENOENT)
		line(hc, NULL, "KVM", HC_MISSING,
		     "no /dev/kvm: KVM is not available: a kernel with CONFIG_KVM booted at EL2 is needed "
		     "(dmesg | grep -i kvm says why KVM did not start)");
	else if (rc == -EACCES || rc == -EPERM)
		line(hc, NULL, "KVM", HC_MISSING, "/dev/kvm: %s: run as root or join the group that owns /dev/kvm",
		     strerror(-rc));
	else
		line(hc, NULL, "KVM", HC_MISSING, "cannot open /dev/kvm: %s", strerror(-rc));
}

/* The vGICv3 or its ITS, with KVM_CREATE_DEVICE_TEST. Returns true when KVM can create it. */
static bool check_kvm_device(struct hc *hc, u32 type, const char *what)
{
	int rc = hc->ops->kvm_device(hc->ctx, type, true);
	bool its = type == KVM_DEV_TYPE_ARM_VGIC_ITS;

	if (!rc)
		line(hc, NULL, what, HC_OK, "KVM can create one (KVM_CREATE_DEVICE with KVM_CREATE_DEVICE_TEST)");
	else if (rc == -ENODEV && !its)
		line(hc, NULL, what, HC_MISSING,
		     "KVM cannot emulate a GICv3 here (ENODEV): ivmm's guests need a host with a GICv3 "
		     "(a GICv2-only host cannot run them)");
	else if (rc == -ENODEV)
		line(hc, NULL, what, HC_MISSING,
		     "KVM cannot emulate an ITS here (ENODEV): a kernel whose KVM has the vGICv3 ITS is needed "
		     "(the MSIs of passthrough devices and of the vSMMU go through it)");
	else
		line(hc, NULL, what, HC_MISSING, "KVM_CREATE_DEVICE %s (test): %s", what, strerror(-rc));
	return !rc;
}

/* KVM_CAP_MSI_DEVID: KVM reports it only once the VM has an ITS, so one is created for real in the probe VM
 * (it goes with the VM at kvm_close). */
static void check_msi_devid(struct hc *hc)
{
	const struct host_check_ops *o = hc->ops;
	int rc = o->kvm_device(hc->ctx, KVM_DEV_TYPE_ARM_VGIC_V3, false);

	if (!rc)
		rc = o->kvm_device(hc->ctx, KVM_DEV_TYPE_ARM_VGIC_ITS, false);
	if (rc)
		line(hc, NULL, "KVM_CAP_MSI_DEVID", HC_MISSING,
		     "creating a vGICv3 and an ITS in the probe VM (KVM answers only once an ITS exists) failed: %s",
		     strerror(-rc));
	else if (o->kvm_vm_cap(hc->ctx, KVM_CAP_MSI_DEVID) > 0)
		line(hc, NULL, "KVM_CAP_MSI_DEVID", HC_OK, "MSIs carry the requester id to the vITS");
	else
		line(hc, NULL, "KVM_CAP_MSI_DEVID", HC_MISSING,
		     "KVM does not take device ids with MSIs (the MSIs of passthrough devices reach the vITS by "
		     "requester id): a newer kernel is needed");
}

static void check_kvm(struct hc *hc)
{
	const struct host_check_ops *o = hc->ops;
	unsigned int need = LAYOUT_MIN_IPA_BITS, max;
	int api = 0, rc, lim;
	bool gic, its;

	rc = o->kvm_open(hc->ctx, &api);
	if (rc) {
		kvm_open_missing(hc, rc);
		hc->skipped = true;
		goto out;
	}
	if (api != KVM_API_VERSION) {
		line(hc, NULL, "KVM", HC_MISSING, "/dev/kvm has KVM API version %d, ivmm speaks version %d", api,
		     KVM_API_VERSION);
		hc->skipped = true;
		goto out;
	}
	line(hc, NULL, "KVM", HC_OK, "/dev/kvm, API version %d", api);

	/* Without KVM_CAP_ARM_VM_IPA_SIZE every VM has a 40-bit IPA space and the VM type must be 0. */
	lim = o->kvm_ipa_limit(hc->ctx);
	max = lim > 0 ? (unsigned int)lim : 40;
	if (max < need) {
		line(hc, NULL, "KVM IPA size", HC_MISSING,
		     "KVM offers guest physical address spaces of up to %u bits, ivmm's address map needs %u "
		     "(boot/layout.h: the 64-bit PCI window ends below 1 << %u): this CPU or kernel cannot host it",
		     max, need, need);
		hc->skipped = true;
		goto out;
	}
	rc = o->kvm_create_vm(hc->ctx, lim > 0 ? need : 0);
	if (rc) {
		line(hc, NULL, "KVM IPA size", HC_MISSING, "KVM offers %u bits, but KVM_CREATE_VM of a %u-bit VM failed: %s",
		     max, need, strerror(-rc));
		hc->skipped = true;
		goto out;
	}
	if (lim > 0)
		line(hc, NULL, "KVM IPA size", HC_OK, "up to %u bits, ivmm's address map needs %u (a %u-bit probe VM "
		     "was created)", max, need, need);
	else
		line(hc, NULL, "KVM IPA size", HC_OK, "40 bits (KVM without KVM_CAP_ARM_VM_IPA_SIZE gives every VM 40), "
		     "ivmm's address map needs %u", need);

	gic = check_kvm_device(hc, KVM_DEV_TYPE_ARM_VGIC_V3, "vGICv3");
	its = check_kvm_device(hc, KVM_DEV_TYPE_ARM_VGIC_ITS, "vGICv3 ITS");
	if (gic && its)
		check_msi_devid(hc);
	else
		hc->skipped = true;
	if (o->kvm_vm_cap(hc->ctx, KVM_CAP_IRQFD_RESAMPLE) > 0)
		line(hc, NULL, "KVM_CAP_IRQFD_RESAMPLE", HC_OK, "level-triggered irqfds for the INTx of passthrough "
		     "devices");
	else
		line(hc, NULL, "KVM_CAP_IRQFD_RESAMPLE", HC_MISSING,
		     "KVM has no level-triggered irqfds (the INTx of passthrough devices needs them: any guest driver "
		     "may fall back to INTx): a newer kernel is needed");
out:
	o->kvm_close(hc->ctx);
}

/* ---- /dev/iommu ---- */

static void check_iommufd(struct hc *hc)
{
	struct iommufd ictx;
	int rc;

	memset(&ictx, 0, sizeof(ictx));
	ictx.fd = -1;
	rc = hc->ops->open_iommufd(hc->ctx, &ictx);
	if (!rc)
		line(hc, NULL, "/dev/iommu", HC_OK, "iommufd opens");
	else if (rc == -ENOENT)
		line(hc, NULL, "/dev/iommu", HC_MISSING,
		     "no /dev/iommu: the kernel lacks CONFIG_IOMMUFD: build it with CONFIG_IOMMUFD=y (and "
		     "CONFIG_ARM_SMMU_V3_IOMMUFD=y for the vSMMU's nesting)");
	else if (rc == -EACCES || rc == -EPERM)
		line(hc, NULL, "/dev/iommu", HC_MISSING, "/dev/iommu: %s: run as root (or with write access to "
		     "/dev/iommu)", strerror(-rc));
	else
		line(hc, NULL, "/dev/iommu", HC_MISSING, "cannot open /dev/iommu: %s", strerror(-rc));
	hc->iommufd_ok = !rc;
	iommufd_close(&ictx); /* safe on a context that did not open */
}

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
		line(hc, bdf, "driver", HC_OK, "vfio-pci");
		return true;
	}
	if (!sys_exists(hc->ops->read_link(hc->ctx, "bus/pci/drivers/vfio-pci", vfio_link, sizeof(vfio_link))))
		no_vfio_pci = " (no vfio-pci driver is registered: the kernel needs CONFIG_VFIO_PCI)";
	if (rc >= 0)
		line(hc, bdf, "driver", HC_MISSING,
		     "bound to %s, not vfio-pci: bind it with: echo %s > /sys/bus/pci/devices/%s/driver/unbind; "
		     "echo vfio-pci > /sys/bus/pci/devices/%s/driver_override; echo %s > /sys/bus/pci/drivers_probe%s",
		     drv, bdf, bdf, bdf, bdf, no_vfio_pci);
	else if (rc == -ENOENT)
		line(hc, bdf, "driver", HC_MISSING,
		     "no driver: bind it to vfio-pci with: echo vfio-pci > /sys/bus/pci/devices/%s/driver_override; "
		     "echo %s > /sys/bus/pci/drivers_probe%s", bdf, bdf, no_vfio_pci);
	else
		line(hc, bdf, "driver", HC_MISSING, "/sys/bus/pci/devices/%s/driver: %s", bdf, strerror(-rc));
	return false;
}

/* The vfio cdev line: resolve and open it. true when dev is open. */
static bool check_cdev(struct hc *hc, const char *bdf, struct vfio_dev *dev)
{
	char path[sizeof(dev->cdev)], err[512];
	int rc = hc->ops->resolve_cdev(hc->ctx, bdf, path, sizeof(path), err, sizeof(err));

	if (rc == -ENOTSUP) {
		line(hc, bdf, "vfio cdev", HC_MISSING,
		     "no VFIO cdev (/sys/bus/pci/devices/%s/vfio-dev/ is missing or empty): the kernel lacks "
		     "CONFIG_VFIO_DEVICE_CDEV (ivmm uses VFIO cdev + iommufd, not VFIO groups): build it with "
		     "CONFIG_VFIO_DEVICE_CDEV=y", bdf);
		return false;
	}
	if (rc) {
		line(hc, bdf, "vfio cdev", HC_MISSING, "%s", err);
		return false;
	}
	rc = hc->ops->open_vfio(hc->ctx, dev, bdf);
	if (rc) {
		line(hc, bdf, "vfio cdev", HC_MISSING, "%s", dev->last_err[0] ? dev->last_err : strerror(-rc));
		return false;
	}
	line(hc, bdf, "vfio cdev", HC_OK, "%s (opened)", path);
	return true;
}

static bool check_host_iommu(struct hc *hc, const char *bdf)
{
	char link[PATH_MAX];
	int rc = dev_link(hc, bdf, "iommu", link, sizeof(link));

	if (rc >= 0) {
		line(hc, bdf, "host IOMMU", HC_OK, "%s", basename_of(link));
		return true;
	}
	if (rc == -ENOENT)
		line(hc, bdf, "host IOMMU", HC_MISSING,
		     "no IOMMU translates it (/sys/bus/pci/devices/%s/iommu does not exist): the firmware describes "
		     "no SMMU for it or the SMMU driver did not probe (dmesg | grep -i smmu); the vSMMU needs the "
		     "device behind an SMMUv3", bdf);
	else
		line(hc, bdf, "host IOMMU", HC_MISSING, "/sys/bus/pci/devices/%s/iommu: %s", bdf, strerror(-rc));
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
		line(hc, bdf, "nesting", HC_OK, "IDR0 S1P=1 S2P=1: the guest's stage 1 over ivmm's stage 2");
	else
		line(hc, bdf, "nesting", HC_MISSING,
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
	line(hc, bdf, "vSMMU IDRs", FIELD_GET(IDR0_TTENDIAN, h0) == 3 ? HC_MISSING : HC_OK,
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
		line(hc, bdf, "stall", HC_OK, "IDR0.STALL_MODEL=0b00: the SMMU can stall; the guest is told it cannot "
		     "and ivmm sets S1STALLD in every vSTE, so a guest's faults terminate instead of stalling");
		break;
	case IDR0_STALL_MODEL_FORCE:
		line(hc, bdf, "stall", HC_MISSING, "IDR0.STALL_MODEL=0b10: the SMMU forces stalls, and a stalled DMA "
		     "would wait for a RESUME the vSMMU cannot offer: no vSMMU on this host");
		break;
	default:
		line(hc, bdf, "stall", HC_OK, "IDR0.STALL_MODEL=0b%u%u: no stalls", (unsigned int)(FIELD_GET(
		     IDR0_STALL_MODEL, h0) >> 1), (unsigned int)(FIELD_GET(IDR0_STALL_MODEL, h0) & 1));
	}

	if (s->idr[3] & IDR3_FWB)
		line(hc, bdf, "S2FWB", HC_OK, "IDR3.FWB=1: stage 2 forces write-back, so the kernel allows a vIOMMU "
		     "for any device behind this SMMU");
	else
		line(hc, bdf, "S2FWB", HC_WARNING,
		     "IDR3.FWB=0: a stock kernel allows a vIOMMU here only for a device that firmware marks CANWBS "
		     "(ACPI IORT); the vIOMMU line says whether this one is allowed");

	if (s->flags & IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI)
		line(hc, bdf, "errata", unknown ? HC_WARNING : HC_OK,
		     "IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI (erratum T264-SMMU-3): handled, the vSMMU "
		     "issues every invalidation batch (TLBI/CFGI with its CMD_SYNC) twice (inval-repeats in --stats)%s",
		     unknown ? "; and unknown flag bits too (a newer kernel's errata flags?)" : "");
	else if (unknown)
		line(hc, bdf, "errata", HC_WARNING,
		     "GET_HW_INFO flags 0x%x has bits ivmm does not know (a newer kernel's errata flags?): see enum "
		     "iommu_hw_info_arm_smmuv3_flags in the kernel's uapi/linux/iommufd.h", s->flags);
	else
		line(hc, bdf, "errata", HC_OK, "none reported (GET_HW_INFO flags 0)");
}

/* Try IOAS -> nest-parent HWPT -> vIOMMU on dev, then destroy them in reverse. */
static void check_viommu(struct hc *hc, const char *bdf, struct iommufd *ictx, u32 dev_id)
{
	u32 ioas = 0, s2 = 0, viommu = 0, ids[3];
	const char *step = "IOAS_ALLOC", *hint = "";
	char err[sizeof(ictx->last_err)] = "", cleanup[sizeof(ictx->last_err)] = "";
	int rc;

	rc = iommufd_ioas_alloc(ictx, &ioas);
	if (!rc) {
		step = "HWPT_ALLOC(NEST_PARENT)";
		rc = iommufd_hwpt_alloc_nest_parent(ictx, dev_id, ioas, &s2);
		if (rc == -EOPNOTSUPP)
			hint = ": the SMMU driver cannot make a nesting parent for it (see the nesting line)";
	}
	if (!rc) {
		step = "VIOMMU_ALLOC(ARM_SMMUV3)";
		rc = iommufd_viommu_alloc_smmuv3(ictx, dev_id, s2, &viommu);
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
		if (ids[i] && iommufd_destroy(ictx, ids[i]) && !cleanup[0])
			snprintf(cleanup, sizeof(cleanup), "%s", ictx->last_err);

	if (rc)
		line(hc, bdf, "vIOMMU", HC_MISSING, "%s failed: %s%s", step, err, hint);
	else
		line(hc, bdf, "vIOMMU", HC_OK, "IOAS %u -> nest-parent HWPT %u -> vIOMMU %u (ARM_SMMUV3) allocated, %s",
		     ioas, s2, viommu, cleanup[0] ? "but not all destroyed (the cleanup line)" : "then destroyed");
	if (cleanup[0])
		line(hc, bdf, "cleanup", HC_WARNING, "%s: closing the iommufd frees what is left", cleanup);
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
		line(hc, bdf, "iommufd bind", HC_MISSING, "%s", ictx.last_err[0] ? ictx.last_err : strerror(-rc));
		hc->skipped = true;
		goto out;
	}
	ictx.quiet = true; /* the lines below carry the failures */
	rc = vfio_dev_bind(dev, iommufd_fd(&ictx));
	if (rc) {
		line(hc, bdf, "iommufd bind", HC_MISSING, "%s", dev->last_err);
		hc->skipped = true;
		goto out;
	}
	line(hc, bdf, "iommufd bind", HC_OK, "dev_id %u on a fresh iommufd (unbound again when the device is closed)",
	     dev->dev_id);

	memset(&hw, 0, sizeof(hw));
	rc = iommufd_get_hw_info(&ictx, dev->dev_id, &hw);
	if (rc) {
		line(hc, bdf, "hw info", HC_MISSING, "%s", ictx.last_err);
		hc->skipped = true;
		goto out;
	}
	if (hw.type != IOMMU_HW_INFO_TYPE_ARM_SMMUV3) {
		line(hc, bdf, "hw info", HC_MISSING,
		     "IOMMU_GET_HW_INFO says %s (type %u), not an Arm SMMUv3: ivmm's vSMMU nests only on an SMMUv3",
		     hw_info_type_name(hw.type), hw.type);
		hc->skipped = true;
		goto out;
	}
	line(hc, bdf, "hw info", HC_OK, "Arm SMMUv3.%u (AIDR 0x%02x, IIDR 0x%08x)", hw.smmu.aidr & 0xf,
	     hw.smmu.aidr & 0xff, hw.smmu.iidr);
	check_smmu_fields(hc, bdf, &hw.smmu);
	check_viommu(hc, bdf, &ictx, dev->dev_id);
out:
	/* The device first (closing it unbinds it from the iommufd), then the iommufd. */
	vfio_dev_close(dev);
	iommufd_close(&ictx);
}

static void check_device(struct hc *hc, const char *bdf)
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
			line(hc, bdf, "device", HC_MISSING, "no PCI device %s (/sys/bus/pci/devices/%s does not exist): "
			     "check the address with lspci -D", bdf, bdf);
		else
			line(hc, bdf, "device", HC_MISSING, "/sys/bus/pci/devices/%s: %s", bdf, strerror(-rc));
		hc->skipped = true;
		return;
	}
	line(hc, bdf, "device", HC_OK, "/sys/bus/pci/devices/%s", bdf);
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

/* ---- entry points ---- */

static void summary(struct hc *hc, const struct hc_args *a)
{
	char devs[IVMM_MAX_DEVICES * 32] = "", warn[32] = "";
	size_t n = 0;

	for (unsigned int i = 0; i < a->ndev; i++)
		n += (size_t)snprintf(devs + n, sizeof(devs) - n, " --device vfio-pci,host=%s", a->bdf[i]);
	if (hc->warnings)
		snprintf(warn, sizeof(warn), " (%u warning%s above)", hc->warnings, hc->warnings == 1 ? "" : "s");
	if (hc->missing)
		line(hc, NULL, "summary", HC_MISSING,
		     "%u missing%s%s: a vSMMU guest%s cannot run here until the missing lines are fixed",
		     hc->missing, hc->skipped ? " (checks that depend on them were skipped)" : "", warn,
		     a->ndev ? " with these devices" : "");
	else if (a->ndev)
		line(hc, NULL, "summary", HC_OK, "a vSMMU guest with these devices can run here%s: ivmm run --viommu "
		     "smmuv3%s ...", warn, devs);
	else
		line(hc, NULL, "summary", HC_OK, "KVM and iommufd are ready%s; name passthrough devices with --device "
		     "BDF to check them for the vSMMU", warn);
}

int host_check_run(const struct host_check_ops *ops, void *ctx, FILE *out, int argc, char **argv)
{
	struct hc hc = { .ops = ops, .ctx = ctx, .out = out };
	struct hc_args a;
	int rc = parse_args(argc, argv, &a, out);

	if (rc < 0)
		return IVMM_EXIT_USAGE;
	if (rc > 0)
		return IVMM_EXIT_OK;
	if (!check_arch(&hc))
		return IVMM_EXIT_RUNTIME;
	check_kvm(&hc);
	check_iommufd(&hc);
	for (unsigned int i = 0; i < a.ndev; i++)
		check_device(&hc, a.bdf[i]);
	summary(&hc, &a);
	return hc.missing ? IVMM_EXIT_RUNTIME : IVMM_EXIT_OK;
}

int host_check_main(int argc, char **argv)
{
	struct host_check_sys sys;
	const struct host_check_ops *ops = host_check_sys_ops(&sys);

	return host_check_run(ops, &sys, stdout, argc, argv);
}
