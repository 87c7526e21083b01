/* test_host_check.c: `ivmm host-check` (vmm/host_check.c) driven through struct host_check_ops by fakes: a
 * fake KVM probe session, a fake sysfs (links), the iommufd fake (tests/unit/fake_iommufd.h) and one VFIO
 * fake per device (tests/unit/fake_vfio.h). Every line is checked ok and in each of its missing/warning
 * forms with its text, the exit status of each, the argument errors (exit 2, touching nothing), --help, the
 * non-arm64 build (the real host_check_main on this x86 build too), and after every run that nothing is left:
 * no live iommufd object, every iommufd context closed, every device closed (unbound), the KVM session
 * closed once. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "iommu/smmuv3_regs.h"
#include "iommu/vsmmu.h"
#include "tests/unit/cr_stderr.h"
#include "tests/unit/fake_iommufd.h"
#include "tests/unit/fake_vfio.h"
#include "tests/unit/fe_util.h"
#include "vmm/host_check.h"

#define EDU "0000:00:01.0"
#define EDU2 "0000:00:02.0"
#define MAX_LINKS 24
#define MAX_DEVS 2

struct fake_link {
	char rel[128];
	char target[256];   /* "" with err */
	int err;            /* 0: a link to target; -EINVAL: exists, not a link; -ENOENT ... */
};

struct fake_dev {
	char bdf[16];
	struct fake_vfio fv;
	int resolve_err;    /* resolve_cdev's answer */
	int open_err;       /* open_vfio's answer (errno, positive, as open() gives it) */
	unsigned int opens;
};

struct fake_host {
	struct host_check_ops ops;
	/* KVM */
	int kvm_open_err, api, ipa_limit, create_vm_err;
	int test_err[2], create_err[2];   /* [0] vGICv3, [1] ITS */
	int cap_msi_devid, cap_resample;  /* what the probe VM answers (MSI_DEVID only once an ITS exists) */
	unsigned int kvm_opens, kvm_closes, vm_creates, vm_type_bits, dev_tests, dev_creates;
	bool vm, its_created;
	/* iommufd */
	struct fake_iommufd fi;
	struct iommufd_ops iwrap;
	void (*iclose)(struct iommufd *ictx);
	int iommufd_open_err[4];          /* the answer of the Nth open (0 = success) */
	unsigned int iommufd_opens, iommufd_closes;
	/* sysfs and devices */
	struct fake_link links[MAX_LINKS];
	unsigned int nlinks;
	struct fake_dev devs[MAX_DEVS];
	unsigned int ndevs;
	char *out;
};

static struct fake_host *H(void *ctx)
{
	return ctx;
}

/* ---- the fake ops ---- */

static int f_uname(void *ctx, char *machine, size_t mlen, char *release, size_t rlen)
{
	snprintf(machine, mlen, "aarch64");
	snprintf(release, rlen, "7.3.0-lab");
	return 0;
}

static int f_kvm_open(void *ctx, int *api)
{
	struct fake_host *f = H(ctx);

	f->kvm_opens++;
	*api = f->api;
	return f->kvm_open_err;
}

static int f_kvm_ipa_limit(void *ctx)
{
	return H(ctx)->ipa_limit;
}

static int f_kvm_create_vm(void *ctx, unsigned int ipa_bits)
{
	struct fake_host *f = H(ctx);

	f->vm_creates++;
	f->vm_type_bits = ipa_bits;
	f->vm = !f->create_vm_err;
	return f->create_vm_err;
}

static int f_kvm_device(void *ctx, u32 type, bool test)
{
	struct fake_host *f = H(ctx);
	int i = type == KVM_DEV_TYPE_ARM_VGIC_ITS ? 1 : 0;

	cr_assert(f->vm, "KVM_CREATE_DEVICE without a probe VM");
	cr_assert(type == KVM_DEV_TYPE_ARM_VGIC_V3 || type == KVM_DEV_TYPE_ARM_VGIC_ITS, "device type %u", type);
	if (test) {
		f->dev_tests++;
		return f->test_err[i];
	}
	f->dev_creates++;
	if (f->create_err[i])
		return f->create_err[i];
	if (i)
		f->its_created = true;
	return 0;
}

static int f_kvm_vm_cap(void *ctx, long cap)
{
	struct fake_host *f = H(ctx);

	cr_assert(f->vm, "KVM_CHECK_EXTENSION on a VM that does not exist");
	if (cap == KVM_CAP_MSI_DEVID)
		return f->its_created ? f->cap_msi_devid : 0; /* as KVM: only once the VM has an ITS */
	if (cap == KVM_CAP_IRQFD_RESAMPLE)
		return f->cap_resample;
	cr_assert_fail("unexpected capability %ld", cap);
	return 0;
}

static void f_kvm_close(void *ctx)
{
	struct fake_host *f = H(ctx);

	f->kvm_closes++;
	f->vm = f->its_created = false;
}

static void f_iommufd_close(struct iommufd *ictx)
{
	struct fake_host *f = container_of((struct fake_iommufd *)ictx->priv, struct fake_host, fi);

	f->iommufd_closes++;
	f->iclose(ictx);
}

static int f_open_iommufd(void *ctx, struct iommufd *ictx)
{
	struct fake_host *f = H(ctx);
	unsigned int n = f->iommufd_opens++;
	int err = n < ARRAY_SIZE(f->iommufd_open_err) ? f->iommufd_open_err[n] : 0;

	if (err) {
		memset(ictx, 0, sizeof(*ictx));
		ictx->fd = -1;
		snprintf(ictx->last_err, sizeof(ictx->last_err), "iommufd: cannot open /dev/iommu: %s", strerror(-err));
		return err;
	}
	fake_iommufd_attach_ctx(&f->fi, ictx);
	/* Count the closes: the fake's own ops with a counting close. */
	f->iwrap = *ictx->ops;
	f->iclose = f->iwrap.close;
	f->iwrap.close = f_iommufd_close;
	ictx->ops = &f->iwrap;
	return 0;
}

static int f_read_link(void *ctx, const char *rel, char *buf, size_t len)
{
	struct fake_host *f = H(ctx);

	for (unsigned int i = 0; i < f->nlinks; i++) {
		if (strcmp(f->links[i].rel, rel))
			continue;
		if (f->links[i].err)
			return f->links[i].err;
		snprintf(buf, len, "%s", f->links[i].target);
		return (int)strlen(buf);
	}
	return -ENOENT;
}

static struct fake_dev *dev_of(struct fake_host *f, const char *bdf)
{
	for (unsigned int i = 0; i < f->ndevs; i++)
		if (!strcmp(f->devs[i].bdf, bdf))
			return &f->devs[i];
	cr_assert_fail("no fake device %s", bdf);
	return NULL;
}

static int f_resolve_cdev(void *ctx, const char *bdf, char *path, size_t pathlen, char *err, size_t errlen)
{
	struct fake_dev *d = dev_of(H(ctx), bdf);

	if (d->resolve_err) {
		snprintf(err, errlen, "vfio %s: resolve failed: %s", bdf, strerror(-d->resolve_err));
		return d->resolve_err;
	}
	snprintf(path, pathlen, "/dev/vfio/devices/vfio%u", (unsigned int)(d - H(ctx)->devs));
	return 0;
}

static int f_open_vfio(void *ctx, struct vfio_dev *dev, const char *bdf)
{
	struct fake_dev *d = dev_of(H(ctx), bdf);
	char path[64];

	memset(dev, 0, sizeof(*dev));
	dev->fd = -1;
	if (d->open_err) {
		/* What vfio_dev_open leaves: the message in last_err, nothing open. */
		snprintf(path, sizeof(path), "/dev/vfio/devices/vfio%u", (unsigned int)(d - H(ctx)->devs));
		vfio_open_errmsg(bdf, path, d->open_err, dev->last_err, sizeof(dev->last_err));
		return -d->open_err;
	}
	d->opens++;
	fake_vfio_open(&d->fv, dev, bdf);
	return 0;
}

/* ---- setup ---- */

static void set_link(struct fake_host *f, const char *rel, const char *target, int err)
{
	struct fake_link *l = NULL;

	for (unsigned int i = 0; i < f->nlinks; i++)
		if (!strcmp(f->links[i].rel, rel))
			l = &f->links[i];
	if (!l) {
		cr_assert_lt(f->nlinks, MAX_LINKS);
		l = &f->links[f->nlinks++];
	}
	snprintf(l->rel, sizeof(l->rel), "%s", rel);
	snprintf(l->target, sizeof(l->target), "%s", target ? target : "");
	l->err = err;
}

static void set_dev_link(struct fake_host *f, const char *bdf, const char *sub, const char *target, int err)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "bus/pci/devices/%s%s%s", bdf, sub ? "/" : "", sub ? sub : "");
	set_link(f, rel, target, err);
}

/* A device ready for the vSMMU: on vfio-pci with a cdev, behind smmu3.0x0000000009050000. */
static void add_ready_dev(struct fake_host *f, const char *bdf)
{
	struct fake_dev *d = &f->devs[f->ndevs++];
	char t[256];

	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
	fake_vfio_init(&d->fv);
	d->fv.iommufd = &f->fi;
	d->fv.next_dev_id = f->ndevs;
	snprintf(t, sizeof(t), "../../../devices/pci0000:00/%s", bdf);
	set_dev_link(f, bdf, NULL, t, 0);
	set_dev_link(f, bdf, "driver", "../../../../bus/pci/drivers/vfio-pci", 0);
	set_dev_link(f, bdf, "iommu", "../../../../devices/platform/9050000.smmuv3/iommu/smmu3.0x0000000009050000", 0);
}

/* A host where everything is there: KVM with a 44-bit IPA, GICv3 + ITS, both caps, /dev/iommu, edu ready,
 * its SMMU nesting with S2FWB, RIL and the 4K/64K granules. */
static struct fake_host *ready_host(void)
{
	struct fake_host *f = calloc(1, sizeof(*f));

	cr_assert_not_null(f);
	f->ops = (struct host_check_ops){
		.arm64 = true,
		.uname = f_uname,
		.kvm_open = f_kvm_open,
		.kvm_ipa_limit = f_kvm_ipa_limit,
		.kvm_create_vm = f_kvm_create_vm,
		.kvm_device = f_kvm_device,
		.kvm_vm_cap = f_kvm_vm_cap,
		.kvm_close = f_kvm_close,
		.open_iommufd = f_open_iommufd,
		.read_link = f_read_link,
		.resolve_cdev = f_resolve_cdev,
		.open_vfio = f_open_vfio,
	};
	f->api = KVM_API_VERSION;
	f->ipa_limit = 44;
	f->cap_msi_devid = 1;
	f->cap_resample = 1;
	fake_iommufd_init(&f->fi);
	f->fi.hw_info.smmu.idr[3] = (u32)(IDR3_RIL | BIT(8) /* FWB */);
	f->fi.hw_info.smmu.idr[5] = (u32)(IDR5_GRAN4K | IDR5_GRAN64K | FIELD_PREP(IDR5_OAS, 5));
	f->fi.hw_info.smmu.iidr = 0x0000043b;
	f->fi.hw_info.smmu.aidr = 0x01;
	set_link(f, "bus/pci/drivers/vfio-pci", NULL, -EINVAL); /* a directory */
	add_ready_dev(f, EDU);
	return f;
}

/* Nothing left behind: no live iommufd object, every context closed, every device closed and unbound,
 * the KVM session closed exactly once if it was opened. */
static void assert_clean(struct fake_host *f)
{
	cr_expect_eq(fake_iommufd_live(&f->fi, IOMMUFD_OBJ_NR), 0, "%u iommufd objects left",
		     fake_iommufd_live(&f->fi, IOMMUFD_OBJ_NR));
	cr_expect_eq(f->iommufd_closes, f->iommufd_opens - (f->iommufd_open_err[0] != 0) -
		     (f->iommufd_open_err[1] != 0) - (f->iommufd_open_err[2] != 0) - (f->iommufd_open_err[3] != 0),
		     "iommufd: %u opens, %u closes", f->iommufd_opens, f->iommufd_closes);
	for (unsigned int i = 0; i < f->ndevs; i++) {
		struct fake_dev *d = &f->devs[i];

		cr_expect_eq(d->fv.closed, d->opens > 0, "device %s: opened %u, closed %d", d->bdf, d->opens,
			     d->fv.closed);
		cr_expect(!d->fv.bound, "device %s still bound", d->bdf);
		cr_expect_eq(d->fv.attach_calls, 0, "device %s was attached", d->bdf);
		cr_expect_eq(d->opens, d->opens ? 1u : 0u);
	}
	cr_expect_eq(f->kvm_closes, f->kvm_opens ? 1u : 0u, "KVM: %u opens, %u closes", f->kvm_opens, f->kvm_closes);
}

static void free_host(struct fake_host *f)
{
	for (unsigned int i = 0; i < f->ndevs; i++)
		fake_vfio_release(&f->devs[i].fv);
	fake_iommufd_release(&f->fi);
	free(f->out);
	free(f);
}

/* Run host-check with args (NULL-terminated, after "host-check"); f->out gets stdout. Returns the status. */
static int run(struct fake_host *f, const char *const *args)
{
	char *argv[16] = { "host-check" };
	size_t len = 0;
	FILE *out;
	int argc = 1, st;

	for (; args && *args; args++)
		argv[argc++] = (char *)*args;
	free(f->out);
	f->out = NULL;
	out = open_memstream(&f->out, &len);
	cr_assert_not_null(out);
	st = host_check_run(&f->ops, f, out, argc, argv);
	fclose(out);
	return st;
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* The line "host-check: WHAT: ..." of out (malloc'd, without the newline), or NULL. */
static char *get_line(const char *out, const char *what)
{
	char prefix[128];
	const char *p = out;
	size_t n = (size_t)snprintf(prefix, sizeof(prefix), "host-check: %s: ", what);

	while (p && *p) {
		const char *e = strchr(p, '\n');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if (l >= n && !strncmp(p, prefix, n))
			return strndup(p, l);
		p = e ? e + 1 : NULL;
	}
	return NULL;
}

/* The line of WHAT exists, has VERDICT and contains every text given. */
#define expect_line(out, what, verdict, ...)                                                          \
	do {                                                                                            \
		char *l_ = get_line(out, what);                                                         \
		cr_expect_not_null(l_, "no '%s' line in:\n%s", what, out);                             \
		if (l_) {                                                                              \
			char v_[64];                                                                   \
			snprintf(v_, sizeof(v_), "host-check: %s: %s: ", what, verdict);              \
			cr_expect(!strncmp(l_, v_, strlen(v_)), "expected '%s', got:\n%s", v_, l_);    \
			for (const char *const *t_ = ARGS(__VA_ARGS__); *t_; t_++)                     \
				cr_expect(strstr(l_, *t_), "'%s' lacks '%s':\n%s", what, *t_, l_);    \
			free(l_);                                                                      \
		}                                                                                      \
	} while (0)

#define expect_no_line(out, what)                                                      \
	do {                                                                             \
		char *l_ = get_line(out, what);                                          \
		cr_expect_null(l_, "unexpected line: %s", l_ ? l_ : "");                \
		free(l_);                                                                \
	} while (0)

static unsigned int count_lines(const char *out)
{
	unsigned int n = 0;

	for (const char *p = out; *p; p++)
		n += *p == '\n';
	return n;
}

TestSuite(host_check, .init = cr_redirect_stderr);

/* ---- everything there ---- */

Test(host_check, ready_host_every_line_ok_in_order)
{
	struct fake_host *f = ready_host();
	static const char *const order[] = {
		"architecture", "KVM", "KVM IPA size", "vGICv3", "vGICv3 ITS", "KVM_CAP_MSI_DEVID",
		"KVM_CAP_IRQFD_RESAMPLE", "/dev/iommu", EDU " device", EDU " driver", EDU " vfio cdev",
		EDU " host IOMMU", EDU " iommufd bind", EDU " hw info", EDU " nesting", EDU " vSMMU IDRs", EDU " stall", EDU " S2FWB",
		EDU " errata", EDU " vIOMMU", "summary",
	};
	const char *p;

	cr_assert_eq(run(f, ARGS("--device", EDU)), 0, "%s", f->out);
	cr_expect_eq(count_lines(f->out), ARRAY_SIZE(order), "%s", f->out);
	p = f->out;
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		char prefix[96];

		snprintf(prefix, sizeof(prefix), "host-check: %s: ok: ", order[i]);
		cr_expect(!strncmp(p, prefix, strlen(prefix)), "line %zu: expected '%s...', got:\n%s", i, prefix, p);
		p = strchr(p, '\n');
		cr_assert_not_null(p);
		p++;
	}
	expect_line(f->out, "architecture", "ok", "arm64 (aarch64, Linux 7.3.0-lab)");
	expect_line(f->out, "KVM", "ok", "/dev/kvm, API version 12");
	expect_line(f->out, "KVM IPA size", "ok", "up to 44 bits, ivmm's address map needs 40 (a 40-bit probe VM");
	expect_line(f->out, "vGICv3", "ok", "KVM_CREATE_DEVICE_TEST");
	expect_line(f->out, "vGICv3 ITS", "ok", "KVM_CREATE_DEVICE_TEST");
	expect_line(f->out, "KVM_CAP_MSI_DEVID", "ok", "requester id");
	expect_line(f->out, "KVM_CAP_IRQFD_RESAMPLE", "ok", "INTx");
	expect_line(f->out, "/dev/iommu", "ok", "iommufd opens");
	expect_line(f->out, EDU " device", "ok", "/sys/bus/pci/devices/" EDU);
	expect_line(f->out, EDU " driver", "ok", "vfio-pci");
	expect_line(f->out, EDU " vfio cdev", "ok", "/dev/vfio/devices/vfio0 (opened)");
	expect_line(f->out, EDU " host IOMMU", "ok", "smmu3.0x0000000009050000");
	expect_line(f->out, EDU " iommufd bind", "ok", "dev_id 1 on a fresh iommufd");
	expect_line(f->out, EDU " hw info", "ok", "Arm SMMUv3.1 (AIDR 0x01, IIDR 0x0000043b)");
	expect_line(f->out, EDU " nesting", "ok", "IDR0 S1P=1 S2P=1");
	expect_line(f->out, EDU " S2FWB", "ok", "IDR3.FWB=1");
	expect_line(f->out, EDU " errata", "ok", "none reported (GET_HW_INFO flags 0)");
	expect_line(f->out, EDU " vIOMMU", "ok", "IOAS 1 -> nest-parent HWPT 2 -> vIOMMU 3 (ARM_SMMUV3) allocated, then "
		    "destroyed");
	expect_line(f->out, "summary", "ok", "a vSMMU guest with these devices can run here: ivmm run --viommu smmuv3 "
		    "--device vfio-pci,host=" EDU " ...");
	/* The probe VM: a 40-bit VM, both devices tested then created for real (for MSI_DEVID). */
	cr_expect_eq(f->vm_creates, 1);
	cr_expect_eq(f->vm_type_bits, 40);
	cr_expect_eq(f->dev_tests, 2);
	cr_expect_eq(f->dev_creates, 2);
	/* The vIOMMU chain in the kernel's order, destroyed in reverse. */
	cr_expect_lt(fake_iommufd_log_find(&f->fi, "ioas_alloc:1"), fake_iommufd_log_find(&f->fi, "hwpt_alloc:2"));
	cr_expect_lt(fake_iommufd_log_find(&f->fi, "hwpt_alloc:2"), fake_iommufd_log_find(&f->fi, "viommu_alloc:3"));
	cr_expect_eq(f->fi.nr_destroyed, 3);
	cr_expect_eq(f->fi.destroyed[0], 3);
	cr_expect_eq(f->fi.destroyed[1], 2);
	cr_expect_eq(f->fi.destroyed[2], 1);
	/* /dev/iommu once for its line, once for the device. */
	cr_expect_eq(f->iommufd_opens, 2);
	cr_expect(f->devs[0].fv.closed);
	assert_clean(f);
	free_host(f);
}

/* The vSMMU IDRs line shows what vsmmu_derive_idr gives the guest, and the host fields it kept. */
Test(host_check, vsmmu_idrs_are_vsmmu_derive_idr)
{
	struct fake_host *f = ready_host();
	u32 idr[6];
	char want[160];

	f->fi.hw_info.smmu.idr[3] |= (u32)FIELD_PREP(IDR3_BBML, 2);
	f->fi.hw_info.smmu.idr[5] |= (u32)(IDR5_DS | FIELD_PREP(IDR5_VAX, 1));
	vsmmu_derive_idr(&f->fi.hw_info.smmu, idr);
	snprintf(want, sizeof(want), "the guest would see IDR0 0x%08x IDR1 0x%08x IDR3 0x%08x IDR5 0x%08x", idr[0],
		 idr[1], idr[3], idr[5]);
	cr_assert_eq(run(f, ARGS("--device", EDU)), 0, "%s", f->out);
	expect_line(f->out, EDU " vSMMU IDRs", "ok", want, "ASID16 1, CD2L 0, TERM_MODEL 1, TTENDIAN LE, RIL 1, BBML 2, "
		    "granules 4K,64K, VAX 1, DS 1");
	assert_clean(f);
	free_host(f);
}

Test(host_check, no_devices_checks_kvm_and_iommufd)
{
	struct fake_host *f = ready_host();

	cr_assert_eq(run(f, NULL), 0, "%s", f->out);
	cr_expect_eq(count_lines(f->out), 9, "%s", f->out);
	expect_line(f->out, "summary", "ok", "KVM and iommufd are ready; name passthrough devices with --device BDF");
	cr_expect_eq(f->devs[0].opens, 0);
	assert_clean(f);
	free_host(f);
}

Test(host_check, short_bdf_and_equals_form)
{
	struct fake_host *f = ready_host();

	cr_assert_eq(run(f, ARGS("--device=00:01.0")), 0, "%s", f->out);
	expect_line(f->out, EDU " driver", "ok", "vfio-pci");
	expect_line(f->out, EDU " vIOMMU", "ok", "allocated, then destroyed");
	assert_clean(f);
	free_host(f);
}

/* Two devices: each on its own fresh iommufd, each closed; one missing makes the whole run exit 1. */
Test(host_check, two_devices_one_missing)
{
	struct fake_host *f = ready_host();

	add_ready_dev(f, EDU2);
	f->devs[1].open_err = EBUSY;
	cr_assert_eq(run(f, ARGS("--device", EDU, "--device", EDU2)), 1, "%s", f->out);
	expect_line(f->out, EDU " vIOMMU", "ok", "destroyed");
	expect_line(f->out, EDU2 " vfio cdev", "missing", "vfio " EDU2 ": cannot open /dev/vfio/devices/vfio1: "
		    "Device or resource busy (the device is in use: another VMM or process has it open)");
	expect_line(f->out, EDU2 " host IOMMU", "ok", "smmu3.");
	expect_no_line(f->out, EDU2 " iommufd bind");
	expect_line(f->out, "summary", "missing", "1 missing (checks that depend on them were skipped)",
		    "a vSMMU guest with these devices cannot run here");
	cr_expect_eq(f->iommufd_opens, 2); /* /dev/iommu line + edu; not the busy one */
	assert_clean(f);
	free_host(f);
}

Test(host_check, two_devices_both_ready_each_own_iommufd)
{
	struct fake_host *f = ready_host();

	add_ready_dev(f, EDU2);
	cr_assert_eq(run(f, ARGS("--device", EDU, "--device", "00:02.0")), 0, "%s", f->out);
	expect_line(f->out, EDU2 " vIOMMU", "ok", "IOAS 4 -> nest-parent HWPT 5 -> vIOMMU 6");
	expect_line(f->out, "summary", "ok", "--device vfio-pci,host=" EDU " --device vfio-pci,host=" EDU2 " ...");
	cr_expect_eq(f->iommufd_opens, 3);
	assert_clean(f);
	free_host(f);
}

/* ---- arguments ---- */

static void expect_usage_error(const char *const *args, const char *msg)
{
	struct fake_host *f = ready_host();

	cr_expect_eq(run(f, args), 2, "%s", args[0]);
	cr_expect_str_eq(f->out, "", "stdout: %s", f->out);
	cr_expect(cr_stderr_has(msg), "stderr lacks: %s", msg);
	cr_expect_eq(f->kvm_opens + f->iommufd_opens + f->devs[0].opens, 0, "something was touched");
	free_host(f);
}

Test(host_check, bad_arguments_exit_2_touching_nothing)
{
	expect_usage_error(ARGS("--frobnicate"),
			   "ivmm: error: host-check: unknown option '--frobnicate' (try 'ivmm host-check --help')\n");
	expect_usage_error(ARGS("--device"), "ivmm: error: host-check: option '--device' needs a value (--device BDF)\n");
	expect_usage_error(ARGS("--device", "00:20.0"),
			   "ivmm: error: host-check: --device '00:20.0': not a PCI address (DDDD:BB:DD.F or BB:DD.F)\n");
	expect_usage_error(ARGS("--device=edu"),
			   "ivmm: error: host-check: --device 'edu': not a PCI address (DDDD:BB:DD.F or BB:DD.F)\n");
	expect_usage_error(ARGS("--device", EDU, "--device", "00:01.0"),
			   "ivmm: error: host-check: --device " EDU " given twice\n");
	expect_usage_error(ARGS(EDU), "ivmm: error: host-check: unexpected argument '" EDU "' (devices are given as "
			   "--device BDF)\n");
	/* A bad argument after a good one is still refused before anything runs. */
	expect_usage_error(ARGS("--device", EDU, "-x"),
			   "ivmm: error: host-check: unknown option '-x' (try 'ivmm host-check --help')\n");
}

Test(host_check, too_many_devices)
{
	const char *args[2 * 17 + 1];
	char bdfs[17][16];

	for (int i = 0; i < 17; i++) {
		snprintf(bdfs[i], sizeof(bdfs[i]), "00:%02x.0", i + 1);
		args[2 * i] = "--device";
		args[2 * i + 1] = bdfs[i];
	}
	args[34] = NULL;
	/* run() takes at most 15 arguments: call host_check_run directly. */
	struct fake_host *f = ready_host();
	char *argv[36] = { "host-check" };
	FILE *out = fopen("/dev/null", "w");

	for (int i = 0; i < 34; i++)
		argv[i + 1] = (char *)args[i];
	cr_expect_eq(host_check_run(&f->ops, f, out, 35, argv), 2);
	fclose(out);
	cr_expect(cr_stderr_has("ivmm: error: host-check: --device 0000:00:11.0: at most 16 devices\n"));
	cr_expect_eq(f->kvm_opens, 0);
	free_host(f);
}

Test(host_check, help_prints_usage_and_runs_nothing)
{
	struct fake_host *f = ready_host();

	cr_assert_eq(run(f, ARGS("--device", EDU, "--help")), 0);
	cr_expect(strstr(f->out, "Usage: ivmm host-check [--device BDF]...\n"), "%s", f->out);
	for (const char *const *t = ARGS("host-check: WHAT: ok|missing|warning: DETAIL", "--device BDF", "-h, --help",
					 "\n  0 ", "\n  1 ", "\n  2 ", "no driver is bound or unbound");
	     *t; t++)
		cr_expect(strstr(f->out, *t), "help lacks '%s'", *t);
	cr_expect_eq(f->kvm_opens + f->iommufd_opens + f->devs[0].opens, 0);
	free(f->out);
	f->out = NULL;
	cr_assert_eq(run(f, ARGS("-h")), 0);
	cr_expect(strstr(f->out, "Usage: ivmm host-check"));
	free_host(f);
}

/* ---- the architecture ---- */

Test(host_check, not_arm64_one_line_exit_1)
{
	struct fake_host *f = ready_host();

	f->ops.arm64 = false;
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	cr_expect_eq(count_lines(f->out), 1, "%s", f->out);
	expect_line(f->out, "architecture", "missing", "this ivmm is built for aarch64, host-check needs an arm64 host",
		    "make lab-shell");
	cr_expect_eq(f->kvm_opens + f->iommufd_opens + f->devs[0].opens, 0);
	free_host(f);
}

/* The real entry point on this (x86) build: host_check_other.c's ops. */
Test(host_check, main_on_this_build)
{
	char *argv[] = { "host-check", "--device", EDU, NULL }, *out;
	char *bad[] = { "host-check", "--nope", NULL };
	struct capture c;

#if defined(__aarch64__)
	cr_skip_test("an arm64 build checks the real host");
#endif
	capture_begin(&c, 1);
	cr_expect_eq(host_check_main(3, argv), 1);
	out = capture_end(&c);
	cr_expect_eq(count_lines(out), 1, "%s", out);
	cr_expect(!strncmp(out, "host-check: architecture: missing: this ivmm is built for ", 58), "%s", out);
	cr_expect(strstr(out, "host-check needs an arm64 host"), "%s", out);
	free(out);
	capture_begin(&c, 1);
	cr_expect_eq(host_check_main(2, bad), 2);
	out = capture_end(&c);
	cr_expect_str_eq(out, "");
	free(out);
	cr_expect(cr_stderr_has("ivmm: error: host-check: unknown option '--nope'"));
}

/* ---- KVM ---- */

Test(host_check, kvm_missing)
{
	struct fake_host *f = ready_host();

	f->kvm_open_err = -ENOENT;
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, "KVM", "missing", "no /dev/kvm: KVM is not available: a kernel with CONFIG_KVM booted at EL2");
	for (const char *const *w = ARGS("KVM IPA size", "vGICv3", "vGICv3 ITS", "KVM_CAP_MSI_DEVID",
					 "KVM_CAP_IRQFD_RESAMPLE");
	     *w; w++)
		expect_no_line(f->out, *w);
	/* The rest still runs: the device is ready. */
	expect_line(f->out, EDU " vIOMMU", "ok", "destroyed");
	expect_line(f->out, "summary", "missing", "1 missing (checks that depend on them were skipped)");
	cr_expect_eq(f->vm_creates, 0);
	assert_clean(f);
	free_host(f);
}

Test(host_check, kvm_no_permission)
{
	struct fake_host *f = ready_host();

	f->kvm_open_err = -EACCES;
	cr_assert_eq(run(f, NULL), 1);
	expect_line(f->out, "KVM", "missing", "/dev/kvm: Permission denied: run as root or join the group that owns "
		    "/dev/kvm");
	assert_clean(f);
	free(f->out);
	f->out = NULL;
	f->kvm_open_err = -EIO;
	cr_assert_eq(run(f, NULL), 1);
	expect_line(f->out, "KVM", "missing", "cannot open /dev/kvm: Input/output error");
	free_host(f);
}

Test(host_check, kvm_api_version)
{
	struct fake_host *f = ready_host();

	f->api = 11;
	cr_assert_eq(run(f, NULL), 1);
	expect_line(f->out, "KVM", "missing", "/dev/kvm has KVM API version 11, ivmm speaks version 12");
	expect_no_line(f->out, "KVM IPA size");
	assert_clean(f);
	free_host(f);
}

Test(host_check, ipa_too_small)
{
	struct fake_host *f = ready_host();

	f->ipa_limit = 36;
	cr_assert_eq(run(f, NULL), 1);
	expect_line(f->out, "KVM IPA size", "missing", "KVM offers guest physical address spaces of up to 36 bits, "
		    "ivmm's address map needs 40", "this CPU or kernel cannot host it");
	expect_no_line(f->out, "vGICv3");
	cr_expect_eq(f->vm_creates, 0);
	assert_clean(f);
	free_host(f);
}

/* A KVM without KVM_CAP_ARM_VM_IPA_SIZE: 40 bits, VM type 0. */
Test(host_check, ipa_without_the_capability)
{
	struct fake_host *f = ready_host();

	f->ipa_limit = 0;
	cr_assert_eq(run(f, NULL), 0, "%s", f->out);
	expect_line(f->out, "KVM IPA size", "ok", "40 bits (KVM without KVM_CAP_ARM_VM_IPA_SIZE gives every VM 40)");
	cr_expect_eq(f->vm_type_bits, 0);
	assert_clean(f);
	free_host(f);
}

Test(host_check, create_vm_fails)
{
	struct fake_host *f = ready_host();

	f->create_vm_err = -ENOMEM;
	cr_assert_eq(run(f, NULL), 1);
	expect_line(f->out, "KVM IPA size", "missing", "KVM offers 44 bits, but KVM_CREATE_VM of a 40-bit VM failed: "
		    "Cannot allocate memory");
	expect_no_line(f->out, "vGICv3");
	expect_no_line(f->out, "KVM_CAP_IRQFD_RESAMPLE");
	assert_clean(f);
	free_host(f);
}

Test(host_check, no_vgic_v3)
{
	struct fake_host *f = ready_host();

	f->test_err[0] = -ENODEV;
	cr_assert_eq(run(f, NULL), 1);
	expect_line(f->out, "vGICv3", "missing", "KVM cannot emulate a GICv3 here (ENODEV)", "GICv2-only");
	expect_line(f->out, "vGICv3 ITS", "ok", "KVM_CREATE_DEVICE_TEST");
	expect_no_line(f->out, "KVM_CAP_MSI_DEVID"); /* needs both */
	expect_line(f->out, "KVM_CAP_IRQFD_RESAMPLE", "ok", "INTx");
	cr_expect_eq(f->dev_creates, 0);
	assert_clean(f);
	free_host(f);
}

Test(host_check, no_its)
{
	struct fake_host *f = ready_host();

	f->test_err[1] = -ENODEV;
	cr_assert_eq(run(f, NULL), 1);
	expect_line(f->out, "vGICv3", "ok", "KVM_CREATE_DEVICE_TEST");
	expect_line(f->out, "vGICv3 ITS", "missing", "KVM cannot emulate an ITS here (ENODEV)");
	expect_no_line(f->out, "KVM_CAP_MSI_DEVID");
	assert_clean(f);
	free(f->out);
	f->out = NULL;
	f->test_err[1] = -EINVAL;
	cr_assert_eq(run(f, NULL), 1);
	expect_line(f->out, "vGICv3 ITS", "missing", "KVM_CREATE_DEVICE vGICv3 ITS (test): Invalid argument");
	free_host(f);
}

Test(host_check, no_msi_devid)
{
	struct fake_host *f = ready_host();

	f->cap_msi_devid = 0;
	cr_assert_eq(run(f, NULL), 1);
	expect_line(f->out, "KVM_CAP_MSI_DEVID", "missing", "KVM does not take device ids with MSIs");
	assert_clean(f);
	free(f->out);
	f->out = NULL;
	/* The ITS that makes KVM answer cannot be created. */
	f->cap_msi_devid = 1;
	f->create_err[1] = -ENOMEM;
	cr_assert_eq(run(f, NULL), 1);
	expect_line(f->out, "KVM_CAP_MSI_DEVID", "missing", "creating a vGICv3 and an ITS in the probe VM (KVM answers "
		    "only once an ITS exists) failed: Cannot allocate memory");
	free_host(f);
}

Test(host_check, no_irqfd_resample)
{
	struct fake_host *f = ready_host();

	f->cap_resample = 0;
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, "KVM_CAP_IRQFD_RESAMPLE", "missing", "KVM has no level-triggered irqfds", "INTx");
	expect_line(f->out, "summary", "missing", "1 missing: a vSMMU guest with these devices cannot run here");
	assert_clean(f);
	free_host(f);
}

/* ---- /dev/iommu ---- */

Test(host_check, no_dev_iommu)
{
	struct fake_host *f = ready_host();

	f->iommufd_open_err[0] = -ENOENT;
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, "/dev/iommu", "missing", "no /dev/iommu: the kernel lacks CONFIG_IOMMUFD: build it with "
		    "CONFIG_IOMMUFD=y");
	/* The device's sysfs side is still reported; nothing needs the iommufd after that. */
	expect_line(f->out, EDU " vfio cdev", "ok", "(opened)");
	expect_line(f->out, EDU " host IOMMU", "ok", "smmu3.");
	expect_no_line(f->out, EDU " iommufd bind");
	expect_no_line(f->out, EDU " vIOMMU");
	cr_expect_eq(f->iommufd_opens, 1);
	assert_clean(f);
	free_host(f);

	f = ready_host();
	f->iommufd_open_err[0] = -EACCES;
	cr_assert_eq(run(f, NULL), 1);
	expect_line(f->out, "/dev/iommu", "missing", "/dev/iommu: Permission denied: run as root");
	assert_clean(f);
	free_host(f);
}

/* /dev/iommu opened once, but the device's own iommufd does not. */
Test(host_check, device_iommufd_open_fails)
{
	struct fake_host *f = ready_host();

	f->iommufd_open_err[1] = -EMFILE;
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, EDU " iommufd bind", "missing", "iommufd: cannot open /dev/iommu: Too many open files");
	expect_no_line(f->out, EDU " hw info");
	assert_clean(f);
	free_host(f);
}

/* ---- the device's sysfs side ---- */

Test(host_check, no_such_device)
{
	struct fake_host *f = ready_host();

	cr_assert_eq(run(f, ARGS("--device", "0000:00:1f.0")), 1);
	expect_line(f->out, "0000:00:1f.0 device", "missing", "no PCI device 0000:00:1f.0 (/sys/bus/pci/devices/"
		    "0000:00:1f.0 does not exist): check the address with lspci -D");
	expect_no_line(f->out, "0000:00:1f.0 driver");
	expect_no_line(f->out, "0000:00:1f.0 host IOMMU");
	expect_line(f->out, "summary", "missing", "1 missing (checks that depend on them were skipped)");
	assert_clean(f);
	free_host(f);
}

/* A device that exists as a plain directory (not a link) is there. */
Test(host_check, device_entry_not_a_link)
{
	struct fake_host *f = ready_host();

	set_dev_link(f, EDU, NULL, NULL, -EINVAL);
	cr_assert_eq(run(f, ARGS("--device", EDU)), 0, "%s", f->out);
	expect_line(f->out, EDU " device", "ok", "/sys/bus/pci/devices/" EDU);
	assert_clean(f);
	free_host(f);
}

Test(host_check, no_driver)
{
	struct fake_host *f = ready_host();

	set_dev_link(f, EDU, "driver", NULL, -ENOENT);
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, EDU " driver", "missing", "no driver: bind it to vfio-pci with: echo vfio-pci > "
		    "/sys/bus/pci/devices/" EDU "/driver_override; echo " EDU " > /sys/bus/pci/drivers_probe");
	expect_no_line(f->out, EDU " vfio cdev");
	expect_line(f->out, EDU " host IOMMU", "ok", "smmu3.0x0000000009050000");
	expect_no_line(f->out, EDU " iommufd bind");
	cr_expect_eq(f->devs[0].opens, 0);
	assert_clean(f);
	free_host(f);
}

Test(host_check, other_driver)
{
	struct fake_host *f = ready_host();
	char *l;

	set_dev_link(f, EDU, "driver", "../../../../bus/pci/drivers/nvme", 0);
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, EDU " driver", "missing", "bound to nvme, not vfio-pci: bind it with: echo " EDU
		    " > /sys/bus/pci/devices/" EDU "/driver/unbind; echo vfio-pci > /sys/bus/pci/devices/" EDU
		    "/driver_override; echo " EDU " > /sys/bus/pci/drivers_probe");
	l = get_line(f->out, EDU " driver");
	cr_expect(l && !strstr(l, "CONFIG_VFIO_PCI"), "%s", l);
	free(l);
	assert_clean(f);
	free_host(f);
}

Test(host_check, no_vfio_pci_driver_in_the_kernel)
{
	struct fake_host *f = ready_host();

	set_dev_link(f, EDU, "driver", NULL, -ENOENT);
	set_link(f, "bus/pci/drivers/vfio-pci", NULL, -ENOENT);
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, EDU " driver", "missing", "no driver: bind it", "(no vfio-pci driver is registered: the "
		    "kernel needs CONFIG_VFIO_PCI)");
	assert_clean(f);
	free_host(f);
}

Test(host_check, no_vfio_cdev)
{
	struct fake_host *f = ready_host();

	f->devs[0].resolve_err = -ENOTSUP;
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, EDU " vfio cdev", "missing", "no VFIO cdev (/sys/bus/pci/devices/" EDU "/vfio-dev/ is "
		    "missing or empty): the kernel lacks CONFIG_VFIO_DEVICE_CDEV", "CONFIG_VFIO_DEVICE_CDEV=y");
	expect_line(f->out, EDU " host IOMMU", "ok", "smmu3.");
	expect_no_line(f->out, EDU " iommufd bind");
	cr_expect_eq(f->devs[0].opens, 0);
	assert_clean(f);
	free(f->out);
	f->out = NULL;
	/* Any other resolve failure: its own message. */
	f->devs[0].resolve_err = -ENAMETOOLONG;
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, EDU " vfio cdev", "missing", "vfio " EDU ": resolve failed: File name too long");
	free_host(f);
}

Test(host_check, cdev_no_permission)
{
	struct fake_host *f = ready_host();

	f->devs[0].open_err = EACCES;
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, EDU " vfio cdev", "missing", "cannot open /dev/vfio/devices/vfio0: Permission denied (need "
		    "root or write access to the VFIO cdev)");
	assert_clean(f);
	free_host(f);
}

Test(host_check, no_iommu_link)
{
	struct fake_host *f = ready_host();

	set_dev_link(f, EDU, "iommu", NULL, -ENOENT);
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, EDU " host IOMMU", "missing", "no IOMMU translates it (/sys/bus/pci/devices/" EDU "/iommu "
		    "does not exist)", "dmesg | grep -i smmu");
	expect_no_line(f->out, EDU " iommufd bind");
	/* It was opened for the cdev line, and closed. */
	cr_expect_eq(f->devs[0].opens, 1);
	assert_clean(f);
	free_host(f);
}

/* ---- on the iommufd ---- */

Test(host_check, bind_fails)
{
	struct fake_host *f = ready_host();

	f->devs[0].fv.fail_bind = -EINVAL;
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, EDU " iommufd bind", "missing", "vfio " EDU ": VFIO_DEVICE_BIND_IOMMUFD", "Invalid argument",
		    "already bound: is the device in use by another VMM or process?");
	expect_no_line(f->out, EDU " hw info");
	assert_clean(f);
	free_host(f);
}

Test(host_check, hw_info_fails)
{
	struct fake_host *f = ready_host();

	f->fi.fail_hw_info = -EOPNOTSUPP;
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, EDU " hw info", "missing", "iommufd: GET_HW_INFO dev 1: Operation not supported");
	expect_no_line(f->out, EDU " nesting");
	expect_no_line(f->out, EDU " vIOMMU");
	assert_clean(f);
	free_host(f);
}

Test(host_check, hw_info_not_smmuv3)
{
	struct fake_host *f = ready_host();

	f->fi.hw_info.type = IOMMU_HW_INFO_TYPE_INTEL_VTD;
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, EDU " hw info", "missing", "IOMMU_GET_HW_INFO says Intel VT-d (type 1), not an Arm SMMUv3");
	expect_no_line(f->out, EDU " nesting");
	expect_no_line(f->out, EDU " vIOMMU");
	assert_clean(f);
	free_host(f);
}

/* No stage 2: the nesting line says so, and the kernel's verdict comes from the trial. */
Test(host_check, no_nesting)
{
	struct fake_host *f = ready_host();

	f->fi.hw_info.smmu.idr[0] &= ~(u32)IDR0_S2P;
	f->fi.fail_hwpt_alloc = -EOPNOTSUPP;
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, EDU " nesting", "missing", "IDR0 S1P=1 S2P=0: this SMMU cannot nest");
	expect_line(f->out, EDU " vIOMMU", "missing", "HWPT_ALLOC(NEST_PARENT) failed: iommufd: HWPT_ALLOC nest-parent",
		    "Operation not supported", "cannot make a nesting parent");
	cr_expect_eq(f->fi.nr_destroyed, 1); /* the IOAS */
	assert_clean(f);
	free_host(f);
}

Test(host_check, viommu_refused)
{
	struct fake_host *f = ready_host();

	f->fi.hw_info.smmu.idr[3] &= ~(u32)BIT(8);
	f->fi.fail_viommu_alloc = -EOPNOTSUPP;
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, EDU " S2FWB", "warning", "IDR3.FWB=0: a stock kernel allows a vIOMMU here only for a device "
		    "that firmware marks CANWBS");
	expect_line(f->out, EDU " vIOMMU", "missing", "VIOMMU_ALLOC(ARM_SMMUV3) failed: iommufd: VIOMMU_ALLOC",
		    "stage-2 forced write-back (the S2FWB line) or a device that firmware marks CANWBS",
		    "CONFIG_ARM_SMMU_V3_IOMMUFD");
	expect_line(f->out, "summary", "missing", "1 missing (1 warning above): a vSMMU guest with these devices cannot run");
	/* The S2 HWPT and the IOAS were destroyed, in that order. */
	cr_expect_eq(f->fi.nr_destroyed, 2);
	cr_expect_eq(f->fi.destroyed[0], 2);
	cr_expect_eq(f->fi.destroyed[1], 1);
	assert_clean(f);
	free_host(f);
}

Test(host_check, ioas_alloc_fails)
{
	struct fake_host *f = ready_host();

	f->fi.fail_ioas_alloc = -ENOMEM;
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, EDU " vIOMMU", "missing", "IOAS_ALLOC failed: iommufd: IOAS_ALLOC: Cannot allocate memory");
	cr_expect_eq(f->fi.nr_destroyed, 0);
	assert_clean(f);
	free_host(f);
}

/* No S2FWB but the vIOMMU is allowed (a CANWBS device, or the lab's kernel): a warning, exit 0. */
Test(host_check, no_s2fwb_is_a_warning)
{
	struct fake_host *f = ready_host();

	f->fi.hw_info.smmu.idr[3] &= ~(u32)BIT(8);
	cr_assert_eq(run(f, ARGS("--device", EDU)), 0, "%s", f->out);
	expect_line(f->out, EDU " S2FWB", "warning", "IDR3.FWB=0", "the vIOMMU line says whether this one is allowed");
	expect_line(f->out, EDU " vIOMMU", "ok", "allocated, then destroyed");
	expect_line(f->out, "summary", "ok", "a vSMMU guest with these devices can run here (1 warning above): ivmm run");
	assert_clean(f);
	free_host(f);
}

Test(host_check, erratum_repeat_tlbi_cfgi_is_handled)
{
	struct fake_host *f = ready_host();

	f->fi.hw_info.smmu.flags = IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI;
	cr_assert_eq(run(f, ARGS("--device", EDU)), 0, "%s", f->out);
	expect_line(f->out, EDU " errata", "ok", "IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI (erratum "
		    "T264-SMMU-3): handled", "issues every invalidation batch");
	expect_line(f->out, EDU " vIOMMU", "ok", "destroyed");
	assert_clean(f);
	free(f->out);
	f->out = NULL;
	f->fi.hw_info.smmu.flags = IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI | 0x80;
	cr_assert_eq(run(f, ARGS("--device", EDU)), 0, "%s", f->out);
	expect_line(f->out, EDU " errata", "warning", "handled", "unknown flag bits too");
	free_host(f);
}

Test(host_check, stall_models)
{
	static const struct {
		u32 model;
		int status;
		const char *verdict, *text;
	} t[] = {
		{ IDR0_STALL_MODEL_NONE, 0, "ok", "IDR0.STALL_MODEL=0b01: no stalls" },
		{ IDR0_STALL_MODEL_STALL, 0, "ok", "ivmm sets S1STALLD in every vSTE" },
		{ IDR0_STALL_MODEL_FORCE, 1, "missing", "forces stalls" },
	};
	struct fake_host *f = ready_host();
	u32 idr0 = f->fi.hw_info.smmu.idr[0] & ~(u32)IDR0_STALL_MODEL;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		f->fi.hw_info.smmu.idr[0] = idr0 | (u32)FIELD_PREP(IDR0_STALL_MODEL, t[i].model);
		cr_assert_eq(run(f, ARGS("--device", EDU)), t[i].status, "%s", f->out);
		expect_line(f->out, EDU " stall", t[i].verdict, t[i].text);
	}
	free_host(f);
}

Test(host_check, unknown_flags_are_a_warning)
{
	struct fake_host *f = ready_host();

	f->fi.hw_info.smmu.flags = 0x6;
	cr_assert_eq(run(f, ARGS("--device", EDU)), 0, "%s", f->out);
	expect_line(f->out, EDU " errata", "warning", "GET_HW_INFO flags 0x6 has bits ivmm does not know");
	assert_clean(f);
	free_host(f);
}

Test(host_check, big_endian_only_smmu)
{
	struct fake_host *f = ready_host();

	f->fi.hw_info.smmu.idr[0] = (f->fi.hw_info.smmu.idr[0] & ~(u32)IDR0_TTENDIAN) |
				    (u32)FIELD_PREP(IDR0_TTENDIAN, 3);
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, EDU " vSMMU IDRs", "missing", "TTENDIAN BE", "the host SMMU walks big-endian tables only");
	assert_clean(f);
	free_host(f);
}

/* A DESTROY the kernel refuses: a warning, and closing the iommufd still frees everything. */
Test(host_check, destroy_failure_is_a_cleanup_warning)
{
	struct fake_host *f = ready_host();

	f->fi.fail_destroy = -EBUSY;
	f->fi.fail_destroy_id = 3;
	cr_assert_eq(run(f, ARGS("--device", EDU)), 0, "%s", f->out);
	expect_line(f->out, EDU " vIOMMU", "ok", "allocated, but not all destroyed (the cleanup line)");
	expect_line(f->out, EDU " cleanup", "warning", "iommufd: DESTROY vIOMMU 3: Device or resource busy: closing the "
		    "iommufd frees what is left");
	assert_clean(f);
	free_host(f);
}

/* sysfs answers other than "absent": each names the path and the error. */
Test(host_check, sysfs_errors_name_the_path)
{
	struct fake_host *f = ready_host();

	set_dev_link(f, EDU, NULL, NULL, -EACCES);
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, EDU " device", "missing", "/sys/bus/pci/devices/" EDU ": Permission denied");
	expect_no_line(f->out, EDU " driver");
	assert_clean(f);
	free_host(f);

	f = ready_host();
	set_dev_link(f, EDU, "driver", NULL, -EIO);
	set_dev_link(f, EDU, "iommu", NULL, -EIO);
	cr_assert_eq(run(f, ARGS("--device", EDU)), 1);
	expect_line(f->out, EDU " driver", "missing", "/sys/bus/pci/devices/" EDU "/driver: Input/output error");
	expect_line(f->out, EDU " host IOMMU", "missing", "/sys/bus/pci/devices/" EDU "/iommu: Input/output error");
	expect_line(f->out, "summary", "missing", "2 missing");
	assert_clean(f);
	free_host(f);
}

Test(host_check, vgic_other_error)
{
	struct fake_host *f = ready_host();

	f->test_err[0] = -EBUSY;
	cr_assert_eq(run(f, NULL), 1);
	expect_line(f->out, "vGICv3", "missing", "KVM_CREATE_DEVICE vGICv3 (test): Device or resource busy");
	assert_clean(f);
	free_host(f);
}
