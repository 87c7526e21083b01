/* vfio_dev_kernel.c: the real VFIO cdev backend (struct vfio_dev_ops): one ioctl / pread / pwrite / mmap
 * on the device fd per operation. Nothing here prints: the wrappers in vfio_dev.c report. */
#include <errno.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "devices/vfio_dev_internal.h"

static int k_ioctl(struct vfio_dev *dev, unsigned long req, void *arg)
{
	int rc;

	do {
		rc = ioctl(dev->fd, req, arg);
	} while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : 0;
}

static int k_bind(struct vfio_dev *dev, int iommufd, u32 *out_dev_id)
{
	struct vfio_device_bind_iommufd b = { .argsz = sizeof(b), .iommufd = iommufd };
	int rc = k_ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &b);

	if (!rc)
		*out_dev_id = b.out_devid;
	return rc;
}

static int k_attach(struct vfio_dev *dev, u32 *pt_id)
{
	struct vfio_device_attach_iommufd_pt a = { .argsz = sizeof(a), .pt_id = *pt_id };
	int rc = k_ioctl(dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a);

	if (!rc)
		*pt_id = a.pt_id;
	return rc;
}

static int k_detach(struct vfio_dev *dev)
{
	struct vfio_device_detach_iommufd_pt d = { .argsz = sizeof(d) };

	return k_ioctl(dev, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d);
}

static int k_get_info(struct vfio_dev *dev, struct vfio_device_info *info)
{
	return k_ioctl(dev, VFIO_DEVICE_GET_INFO, info);
}

static int k_get_region_info(struct vfio_dev *dev, struct vfio_region_info *buf, u32 buflen)
{
	buf->argsz = buflen;
	return k_ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, buf);
}

static int k_get_irq_info(struct vfio_dev *dev, struct vfio_irq_info *info)
{
	return k_ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, info);
}

static int k_set_irqs(struct vfio_dev *dev, const struct vfio_irq_set *set)
{
	return k_ioctl(dev, VFIO_DEVICE_SET_IRQS, (void *)set);
}

static int k_reset(struct vfio_dev *dev)
{
	return k_ioctl(dev, VFIO_DEVICE_RESET, NULL);
}

static ssize_t k_pread(struct vfio_dev *dev, void *buf, size_t len, u64 fd_off)
{
	ssize_t n;

	do {
		n = pread(dev->fd, buf, len, (off_t)fd_off);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static ssize_t k_pwrite(struct vfio_dev *dev, const void *buf, size_t len, u64 fd_off)
{
	ssize_t n;

	do {
		n = pwrite(dev->fd, buf, len, (off_t)fd_off);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static int k_mmap(struct vfio_dev *dev, u64 fd_off, size_t len, int prot, void **out)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, dev->fd, (off_t)fd_off);

	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

static int k_munmap(struct vfio_dev *dev, void *addr, size_t len)
{
	return munmap(addr, len) ? -errno : 0;
}

static void k_close(struct vfio_dev *dev)
{
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
}

const struct vfio_dev_ops vfio_dev_kernel_ops = {
	.name = "kernel",
	.bind_iommufd = k_bind,
	.attach_pt = k_attach,
	.detach_pt = k_detach,
	.get_info = k_get_info,
	.get_region_info = k_get_region_info,
	.get_irq_info = k_get_irq_info,
	.set_irqs = k_set_irqs,
	.reset = k_reset,
	.pread = k_pread,
	.pwrite = k_pwrite,
	.mmap = k_mmap,
	.munmap = k_munmap,
	.close = k_close,
};
