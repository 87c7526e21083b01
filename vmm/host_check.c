/* host_check.c: `ivmm host-check` (see host_check.h): the argument parser, the host-wide checks (the
 * architecture, KVM, /dev/iommu), the line format and the summary; the per-device checks are in
 * host_check_dev.c. The system is reached only through struct host_check_ops (real ones in
 * host_check_arm64.c) and the iommufd layer (iommu/iommufd.h, on the context the ops open). Every object a
 * check creates is undone in reverse before the next check. */
#include <errno.h>
#include <limits.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include "boot/layout.h"
#include "iommu/iommufd.h"
#include "vmm/config.h"
#include "vmm/config_parse.h"
#include "vmm/host_check_internal.h"
#include "vmm/log.h"

struct hc_args {
	unsigned int ndev;
	char bdf[IVMM_MAX_DEVICES][BDF_STR_LEN];
};

static const char *const verdict_name[] = { "ok", "missing", "warning" };

/* One line "host-check: [BDF ]WHAT: VERDICT: DETAIL", flushed (the layers' stderr lines stay in order). */
void hc_line(struct hc *hc, const char *bdf, const char *what, enum hc_verdict v, const char *fmt, ...)
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
		hc_line(hc, NULL, "architecture", HC_MISSING,
		     "this ivmm is built for %s, host-check needs an arm64 host (ivmm runs guests on arm64 KVM only): "
		     "on x86_64 run it in the lab's emulated arm64 host (make lab-shell, then ivmm host-check "
		     "--device 0000:00:01.0)", machine[0] ? machine : "another architecture");
		return false;
	}
	hc_line(hc, NULL, "architecture", HC_OK, "arm64 (%s, Linux %s)", machine[0] ? machine : "aarch64",
	     release[0] ? release : "unknown");
	return true;
}

/* ---- KVM ---- */

static void kvm_open_missing(struct hc *hc, int rc)
{
	if (rc == -ENOENT)
		hc_line(hc, NULL, "KVM", HC_MISSING,
		     "no /dev/kvm: KVM is not available: a kernel with CONFIG_KVM booted at EL2 is needed "
		     "(dmesg | grep -i kvm says why KVM did not start)");
	else if (rc == -EACCES || rc == -EPERM)
		hc_line(hc, NULL, "KVM", HC_MISSING, "/dev/kvm: %s: run as root or join the group that owns /dev/kvm",
		     strerror(-rc));
	else
		hc_line(hc, NULL, "KVM", HC_MISSING, "cannot open /dev/kvm: %s", strerror(-rc));
}

/* The vGICv3 or its ITS, with KVM_CREATE_DEVICE_TEST. Returns true when KVM can create it. */
static bool check_kvm_device(struct hc *hc, u32 type, const char *what)
{
	int rc = hc->ops->kvm_device(hc->ctx, type, true);
	bool its = type == KVM_DEV_TYPE_ARM_VGIC_ITS;

	if (!rc)
		hc_line(hc, NULL, what, HC_OK, "KVM can create one (KVM_CREATE_DEVICE with KVM_CREATE_DEVICE_TEST)");
	else if (rc == -ENODEV && !its)
		hc_line(hc, NULL, what, HC_MISSING,
		     "KVM cannot emulate a GICv3 here (ENODEV): ivmm's guests need a host with a GICv3 "
		     "(a GICv2-only host cannot run them)");
	else if (rc == -ENODEV)
		hc_line(hc, NULL, what, HC_MISSING,
		     "KVM cannot emulate an ITS here (ENODEV): a kernel whose KVM has the vGICv3 ITS is needed "
		     "(the MSIs of passthrough devices and of the vSMMU go through it)");
	else
		hc_line(hc, NULL, what, HC_MISSING, "KVM_CREATE_DEVICE %s (test): %s", what, strerror(-rc));
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
		hc_line(hc, NULL, "KVM_CAP_MSI_DEVID", HC_MISSING,
		     "creating a vGICv3 and an ITS in the probe VM (KVM answers only once an ITS exists) failed: %s",
		     strerror(-rc));
	else if (o->kvm_vm_cap(hc->ctx, KVM_CAP_MSI_DEVID) > 0)
		hc_line(hc, NULL, "KVM_CAP_MSI_DEVID", HC_OK, "MSIs carry the requester id to the vITS");
	else
		hc_line(hc, NULL, "KVM_CAP_MSI_DEVID", HC_MISSING,
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
		hc_line(hc, NULL, "KVM", HC_MISSING, "/dev/kvm has KVM API version %d, ivmm speaks version %d", api,
		     KVM_API_VERSION);
		hc->skipped = true;
		goto out;
	}
	hc_line(hc, NULL, "KVM", HC_OK, "/dev/kvm, API version %d", api);

	/* Without KVM_CAP_ARM_VM_IPA_SIZE every VM has a 40-bit IPA space and the VM type must be 0. */
	lim = o->kvm_ipa_limit(hc->ctx);
	max = lim > 0 ? (unsigned int)lim : 40;
	if (max < need) {
		hc_line(hc, NULL, "KVM IPA size", HC_MISSING,
		     "KVM offers guest physical address spaces of up to %u bits, ivmm's address map needs %u "
		     "(boot/layout.h: the 64-bit PCI window ends below 1 << %u): this CPU or kernel cannot host it",
		     max, need, need);
		hc->skipped = true;
		goto out;
	}
	rc = o->kvm_create_vm(hc->ctx, lim > 0 ? need : 0);
	if (rc) {
		hc_line(hc, NULL, "KVM IPA size", HC_MISSING, "KVM offers %u bits, but KVM_CREATE_VM of a %u-bit VM failed: %s",
		     max, need, strerror(-rc));
		hc->skipped = true;
		goto out;
	}
	if (lim > 0)
		hc_line(hc, NULL, "KVM IPA size", HC_OK, "up to %u bits, ivmm's address map needs %u (a %u-bit probe VM "
		     "was created)", max, need, need);
	else
		hc_line(hc, NULL, "KVM IPA size", HC_OK, "40 bits (KVM without KVM_CAP_ARM_VM_IPA_SIZE gives every VM 40), "
		     "ivmm's address map needs %u", need);

	gic = check_kvm_device(hc, KVM_DEV_TYPE_ARM_VGIC_V3, "vGICv3");
	its = check_kvm_device(hc, KVM_DEV_TYPE_ARM_VGIC_ITS, "vGICv3 ITS");
	if (gic && its)
		check_msi_devid(hc);
	else
		hc->skipped = true;
	if (o->kvm_vm_cap(hc->ctx, KVM_CAP_IRQFD_RESAMPLE) > 0)
		hc_line(hc, NULL, "KVM_CAP_IRQFD_RESAMPLE", HC_OK, "level-triggered irqfds for the INTx of passthrough "
		     "devices");
	else
		hc_line(hc, NULL, "KVM_CAP_IRQFD_RESAMPLE", HC_MISSING,
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
		hc_line(hc, NULL, "/dev/iommu", HC_OK, "iommufd opens");
	else if (rc == -ENOENT)
		hc_line(hc, NULL, "/dev/iommu", HC_MISSING,
		     "no /dev/iommu: the kernel lacks CONFIG_IOMMUFD: build it with CONFIG_IOMMUFD=y (and "
		     "CONFIG_ARM_SMMU_V3_IOMMUFD=y for the vSMMU's nesting)");
	else if (rc == -EACCES || rc == -EPERM)
		hc_line(hc, NULL, "/dev/iommu", HC_MISSING, "/dev/iommu: %s: run as root (or with write access to "
		     "/dev/iommu)", strerror(-rc));
	else
		hc_line(hc, NULL, "/dev/iommu", HC_MISSING, "cannot open /dev/iommu: %s", strerror(-rc));
	hc->iommufd_ok = !rc;
	iommufd_close(&ictx); /* safe on a context that did not open */
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
		hc_line(hc, NULL, "summary", HC_MISSING,
		     "%u missing%s%s: a vSMMU guest%s cannot run here until the missing lines are fixed",
		     hc->missing, hc->skipped ? " (checks that depend on them were skipped)" : "", warn,
		     a->ndev ? " with these devices" : "");
	else if (a->ndev)
		hc_line(hc, NULL, "summary", HC_OK, "a vSMMU guest with these devices can run here%s: ivmm run --viommu "
		     "smmuv3%s ...", warn, devs);
	else
		hc_line(hc, NULL, "summary", HC_OK, "KVM and iommufd are ready%s; name passthrough devices with --device "
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
		hc_check_device(&hc, a.bdf[i]);
	summary(&hc, &a);
	return hc.missing ? IVMM_EXIT_RUNTIME : IVMM_EXIT_OK;
}

int host_check_main(int argc, char **argv)
{
	struct host_check_sys sys;
	const struct host_check_ops *ops = host_check_sys_ops(&sys);

	return host_check_run(ops, &sys, stdout, argc, argv);
}
