/* host_check.h: `ivmm host-check [--device BDF]...`, which inspects the host and says whether an ivmm guest
 * with those passthrough devices behind the emulated SMMUv3 (--viommu smmuv3) can run on it. One line per
 * capability on stdout:
 *
 *   host-check: WHAT: ok|missing|warning: DETAIL
 *
 * a missing or warning line saying what to do, then a `summary` line. Checked, in order: the architecture
 * (a non-arm64 build prints one line and stops); KVM (/dev/kvm and its API version, the IPA size against
 * LAYOUT_MIN_IPA_BITS on a probe VM, vGICv3 and ITS with KVM_CREATE_DEVICE_TEST, KVM_CAP_MSI_DEVID once an ITS
 * exists, KVM_CAP_IRQFD_RESAMPLE); /dev/iommu; per device: its sysfs entry, its driver (vfio-pci), its VFIO
 * cdev, its host IOMMU (the sysfs iommu link), a bind to a fresh iommufd, IOMMU_GET_HW_INFO (SMMUv3, nesting
 * from IDR0 S1P/S2P, the ID registers vsmmu_derive_idr would give the guest, IDR3.FWB as S2FWB, the uAPI's
 * erratum flags) and a trial IOAS -> nest-parent HWPT -> vIOMMU, destroyed again. A check whose
 * prerequisite is missing is skipped (the summary says so). Nothing is left behind: no driver is bound or
 * unbound, every iommufd object is destroyed, every fd closed (opening a VFIO cdev resets the function, as it
 * does for any VFIO user).
 *
 * Exit status: 0 no line is missing (warnings allowed), 1 something is missing or the build is not arm64,
 * 2 bad arguments (message on stderr). --help prints the usage on stdout, status 0.
 *
 * The checks (host_check.c, host_check_dev.c) reach the system only through struct host_check_ops, so unit
 * tests drive every line with fakes (tests/unit/test_host_check.c); the real ops are in host_check_arm64.c
 * (host_check_other.c on other hosts, which only reports the architecture). The iommufd and VFIO layers print their own error
 * line on stderr when a call fails; the host-check line on stdout repeats it with what to do. */
#ifndef IVMM_HOST_CHECK_H
#define IVMM_HOST_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "vmm/compiler.h"

struct iommufd;
struct vfio_dev;

/* How host-check reaches the system. Every call returns 0 (or a length) or -errno and prints nothing. */
struct host_check_ops {
	bool arm64;    /* the build runs guests (arm64); false: the architecture line is missing, nothing else runs */
	/* uname(2): the machine ("aarch64") and the kernel release, for the architecture line. */
	int (*uname)(void *ctx, char *machine, size_t mlen, char *release, size_t rlen);

	/* KVM, one probe session. kvm_open: open /dev/kvm and read KVM_GET_API_VERSION into *api. kvm_ipa_limit:
	 * KVM_CAP_ARM_VM_IPA_SIZE on /dev/kvm (bits, 0 when KVM lacks the capability). kvm_create_vm: a probe VM
	 * with an ipa_bits IPA space (0: the default VM type, for a KVM without the capability). kvm_device:
	 * KVM_CREATE_DEVICE of a KVM_DEV_TYPE_* in the probe VM, with KVM_CREATE_DEVICE_TEST if test (nothing is
	 * created), else for real (it lives until kvm_close). kvm_vm_cap: KVM_CHECK_EXTENSION on the probe VM,
	 * > 0 present. kvm_close: close whatever the session opened (called once after any kvm_open). */
	int (*kvm_open)(void *ctx, int *api);
	int (*kvm_ipa_limit)(void *ctx);
	int (*kvm_create_vm)(void *ctx, unsigned int ipa_bits);
	int (*kvm_device)(void *ctx, u32 type, bool test);
	int (*kvm_vm_cap)(void *ctx, long cap);
	void (*kvm_close)(void *ctx);

	/* A fresh iommufd context (iommufd_open(ictx, NULL), or a fake through iommufd_init); the caller
	 * iommufd_close()s it. On failure ictx->last_err may hold the reason. */
	int (*open_iommufd)(void *ctx, struct iommufd *ictx);
	/* readlink of /sys/REL (REL like "bus/pci/devices/0000:00:01.0/driver") into buf (NUL-terminated):
	 * the target's length, -EINVAL when REL exists but is not a link, -ENOENT when it does not exist. */
	int (*read_link)(void *ctx, const char *rel, char *buf, size_t len);
	/* vfio_resolve_cdev(): the cdev path of a device bound to vfio-pci, or -errno with the reason in err. */
	int (*resolve_cdev)(void *ctx, const char *bdf, char *path, size_t pathlen, char *err, size_t errlen);
	/* vfio_dev_open(): open the device's cdev (reason in dev->last_err on failure); vfio_dev_close()d by
	 * the caller. */
	int (*open_vfio)(void *ctx, struct vfio_dev *dev, const char *bdf);
};

/* Parse argv (argv[0] = "host-check"), run the checks through ops/ctx, print the lines to out. Returns the
 * exit status (0, 1, 2; above). */
int host_check_run(const struct host_check_ops *ops, void *ctx, FILE *out, int argc, char **argv);

/* The real system's ops (host_check_arm64.c, host_check_other.c) and their state. */
struct host_check_sys {
	int kvm_fd;        /* /dev/kvm */
	int vm_fd;         /* the probe VM */
	int dev_fd[4];     /* devices created for real in the probe VM */
	unsigned int ndev;
};
/* uname(2) as the uname op wants it (shared by the real ops of every host). */
int host_check_uname(void *ctx, char *machine, size_t mlen, char *release, size_t rlen);
const struct host_check_ops *host_check_sys_ops(struct host_check_sys *sys);

/* `ivmm host-check ...`: main() calls host_check_main(argc - 1, argv + 1) when argv[1] is "host-check";
 * returns the exit status. */
int host_check_main(int argc, char **argv);

#endif
