/* host_check_arm64.c: the real struct host_check_ops of `ivmm host-check` on arm64 hosts (see host_check.h):
 * uname, a KVM probe session (/dev/kvm, a throwaway VM and the devices created in it, all closed by
 * kvm_close, which KVM frees with the VM), /dev/iommu through iommufd_open, VFIO devices through
 * vfio_resolve_cdev/vfio_dev_open, and readlink under /sys. Nothing here prints: host_check.c does. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "devices/vfio_dev.h"
#include "iommu/iommufd.h"
#include "vmm/host_check.h"

static struct host_check_sys *S(void *ctx)
{
	return ctx;
}

static int sys_kvm_open(void *ctx, int *api)
{
	struct host_check_sys *s = S(ctx);

	s->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (s->kvm_fd < 0)
		return -errno;
	*api = ioctl(s->kvm_fd, KVM_GET_API_VERSION, 0);
	if (*api < 0)
		return -errno;
	return 0;
}

static int sys_kvm_ipa_limit(void *ctx)
{
	int r = ioctl(S(ctx)->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_VM_IPA_SIZE);

	return r > 0 ? r : 0;
}

static int sys_kvm_create_vm(void *ctx, unsigned int ipa_bits)
{
	struct host_check_sys *s = S(ctx);

	s->vm_fd = ioctl(s->kvm_fd, KVM_CREATE_VM, ipa_bits ? KVM_VM_TYPE_ARM_IPA_SIZE(ipa_bits) : 0UL);
	return s->vm_fd < 0 ? -errno : 0;
}

static int sys_kvm_device(void *ctx, u32 type, bool test)
{
	struct host_check_sys *s = S(ctx);
	struct kvm_create_device cd = { .type = type, .flags = test ? KVM_CREATE_DEVICE_TEST : 0 };

	if (!test && s->ndev == ARRAY_SIZE(s->dev_fd))
		return -ENOSPC;
	if (ioctl(s->vm_fd, KVM_CREATE_DEVICE, &cd) < 0)
		return -errno;
	if (!test)
		s->dev_fd[s->ndev++] = (int)cd.fd;
	return 0;
}

static int sys_kvm_vm_cap(void *ctx, long cap)
{
	int r = ioctl(S(ctx)->vm_fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

static void sys_kvm_close(void *ctx)
{
	struct host_check_sys *s = S(ctx);

	while (s->ndev)
		close(s->dev_fd[--s->ndev]);
	if (s->vm_fd >= 0)
		close(s->vm_fd);
	if (s->kvm_fd >= 0)
		close(s->kvm_fd);
	s->vm_fd = s->kvm_fd = -1;
}

static int sys_open_iommufd(void *ctx, struct iommufd *ictx)
{
	return iommufd_open(ictx, NULL);
}

static int sys_read_link(void *ctx, const char *rel, char *buf, size_t len)
{
	char path[512];
	ssize_t n;

	if ((size_t)snprintf(path, sizeof(path), "/sys/%s", rel) >= sizeof(path))
		return -ENAMETOOLONG;
	n = readlink(path, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (int)n;
}

static int sys_resolve_cdev(void *ctx, const char *bdf, char *path, size_t pathlen, char *err, size_t errlen)
{
	return vfio_resolve_cdev(NULL, NULL, bdf, path, pathlen, err, errlen);
}

static int sys_open_vfio(void *ctx, struct vfio_dev *dev, const char *bdf)
{
	return vfio_dev_open(dev, NULL, NULL, bdf);
}

static const struct host_check_ops sys_ops = {
	.arm64 = true,
	.uname = host_check_uname,
	.kvm_open = sys_kvm_open,
	.kvm_ipa_limit = sys_kvm_ipa_limit,
	.kvm_create_vm = sys_kvm_create_vm,
	.kvm_device = sys_kvm_device,
	.kvm_vm_cap = sys_kvm_vm_cap,
	.kvm_close = sys_kvm_close,
	.open_iommufd = sys_open_iommufd,
	.read_link = sys_read_link,
	.resolve_cdev = sys_resolve_cdev,
	.open_vfio = sys_open_vfio,
};

const struct host_check_ops *host_check_sys_ops(struct host_check_sys *sys)
{
	memset(sys, 0, sizeof(*sys));
	sys->kvm_fd = sys->vm_fd = -1;
	return &sys_ops;
}
