/* iommufd_kernel.c: the real iommufd backend, one ioctl on /dev/iommu per operation (struct iommufd_ops),
 * and iommufd_open(). Nothing here prints except iommufd_open(): the wrappers in iommufd.c report. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "iommu/iommufd_internal.h"
#include "vmm/log.h"

static int k_ioctl(struct iommufd *ictx, unsigned long req, void *arg)
{
	int rc;

	do {
		rc = ioctl(ictx->fd, req, arg);
	} while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : 0;
}

static int k_ioas_alloc(struct iommufd *ictx, u32 *out_ioas_id)
{
	struct iommu_ioas_alloc c = { .size = sizeof(c) };
	int rc = k_ioctl(ictx, IOMMU_IOAS_ALLOC, &c);

	if (!rc)
		*out_ioas_id = c.out_ioas_id;
	return rc;
}

static int k_ioas_map(struct iommufd *ictx, u32 ioas_id, void *va, u64 length, u64 *iova, u32 flags)
{
	struct iommu_ioas_map c = {
		.size = sizeof(c),
		.flags = flags,
		.ioas_id = ioas_id,
		.user_va = (uintptr_t)va,
		.length = length,
		.iova = *iova,
	};
	int rc = k_ioctl(ictx, IOMMU_IOAS_MAP, &c);

	if (!rc)
		*iova = c.iova;
	return rc;
}

static int k_ioas_unmap(struct iommufd *ictx, u32 ioas_id, u64 iova, u64 length)
{
	struct iommu_ioas_unmap c = { .size = sizeof(c), .ioas_id = ioas_id, .iova = iova, .length = length };

	return k_ioctl(ictx, IOMMU_IOAS_UNMAP, &c);
}

static int k_ioas_iova_ranges(struct iommufd *ictx, u32 ioas_id, struct iommu_iova_range *ranges, u32 *num,
			      u64 *out_alignment)
{
	struct iommu_ioas_iova_ranges c = {
		.size = sizeof(c),
		.ioas_id = ioas_id,
		.num_iovas = *num,
		.allowed_iovas = (uintptr_t)ranges,
	};
	int rc = k_ioctl(ictx, IOMMU_IOAS_IOVA_RANGES, &c);

	/* -EMSGSIZE: num_iovas holds the count needed. */
	if (!rc || rc == -EMSGSIZE)
		*num = c.num_iovas;
	if (!rc)
		*out_alignment = c.out_iova_alignment;
	return rc;
}

static int k_get_hw_info(struct iommufd *ictx, u32 dev_id, struct iommufd_hw_info *out)
{
	struct iommu_hw_info c = {
		.size = sizeof(c),
		.dev_id = dev_id,
		.data_len = sizeof(out->smmu),
		.data_uptr = (uintptr_t)&out->smmu,
	};
	int rc = k_ioctl(ictx, IOMMU_GET_HW_INFO, &c);

	if (!rc) {
		out->type = c.out_data_type;
		out->capabilities = c.out_capabilities;
		out->max_pasid_log2 = c.out_max_pasid_log2;
	}
	return rc;
}

static int k_hwpt_alloc(struct iommufd *ictx, u32 dev_id, u32 pt_id, u32 flags, u32 data_type, const void *data,
			u32 data_len, u32 *out_hwpt_id)
{
	struct iommu_hwpt_alloc c = {
		.size = sizeof(c),
		.flags = flags,
		.dev_id = dev_id,
		.pt_id = pt_id,
		.data_type = data_type,
		.data_len = data_len,
		.data_uptr = (uintptr_t)data,
	};
	int rc = k_ioctl(ictx, IOMMU_HWPT_ALLOC, &c);

	if (!rc)
		*out_hwpt_id = c.out_hwpt_id;
	return rc;
}

static int k_viommu_alloc(struct iommufd *ictx, u32 dev_id, u32 hwpt_id, u32 type, u32 *out_viommu_id)
{
	struct iommu_viommu_alloc c = { .size = sizeof(c), .type = type, .dev_id = dev_id, .hwpt_id = hwpt_id };
	int rc = k_ioctl(ictx, IOMMU_VIOMMU_ALLOC, &c);

	if (!rc)
		*out_viommu_id = c.out_viommu_id;
	return rc;
}

static int k_vdevice_alloc(struct iommufd *ictx, u32 viommu_id, u32 dev_id, u64 virt_id, u32 *out_vdevice_id)
{
	struct iommu_vdevice_alloc c = { .size = sizeof(c), .viommu_id = viommu_id, .dev_id = dev_id, .virt_id = virt_id };
	int rc = k_ioctl(ictx, IOMMU_VDEVICE_ALLOC, &c);

	if (!rc)
		*out_vdevice_id = c.out_vdevice_id;
	return rc;
}

static int k_veventq_alloc(struct iommufd *ictx, u32 viommu_id, u32 type, u32 depth, u32 *out_veventq_id, int *out_fd)
{
	struct iommu_veventq_alloc c = { .size = sizeof(c), .viommu_id = viommu_id, .type = type, .veventq_depth = depth };
	int rc = k_ioctl(ictx, IOMMU_VEVENTQ_ALLOC, &c);

	if (!rc) {
		*out_veventq_id = c.out_veventq_id;
		*out_fd = (int)c.out_veventq_fd;
	}
	return rc;
}

static int k_hwpt_invalidate(struct iommufd *ictx, u32 id, u32 data_type, const void *data, u32 entry_len, u32 *num)
{
	struct iommu_hwpt_invalidate c = {
		.size = sizeof(c),
		.hwpt_id = id,
		.data_uptr = (uintptr_t)data,
		.data_type = data_type,
		.entry_len = entry_len,
		.entry_num = *num,
	};
	int rc = k_ioctl(ictx, IOMMU_HWPT_INVALIDATE, &c);

	/* The kernel writes back entry_num (handled count) on success and on failure. */
	*num = c.entry_num;
	return rc;
}

static int k_destroy(struct iommufd *ictx, u32 id)
{
	struct iommu_destroy c = { .size = sizeof(c), .id = id };

	return k_ioctl(ictx, IOMMU_DESTROY, &c);
}

static void k_close(struct iommufd *ictx)
{
	if (ictx->fd >= 0)
		close(ictx->fd);
	ictx->fd = -1;
}

const struct iommufd_ops iommufd_kernel_ops = {
	.name = "kernel",
	.ioas_alloc = k_ioas_alloc,
	.ioas_map = k_ioas_map,
	.ioas_unmap = k_ioas_unmap,
	.ioas_iova_ranges = k_ioas_iova_ranges,
	.get_hw_info = k_get_hw_info,
	.hwpt_alloc = k_hwpt_alloc,
	.viommu_alloc = k_viommu_alloc,
	.vdevice_alloc = k_vdevice_alloc,
	.veventq_alloc = k_veventq_alloc,
	.hwpt_invalidate = k_hwpt_invalidate,
	.destroy = k_destroy,
	.close = k_close,
};

int iommufd_open(struct iommufd *ictx, const char *path)
{
	int fd;

	if (!path)
		path = "/dev/iommu";
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		memset(ictx, 0, sizeof(*ictx));
		ictx->fd = -1;
		snprintf(ictx->last_err, sizeof(ictx->last_err), "iommufd: cannot open %s: %s%s", path, strerror(e),
			 e == ENOENT ? " (kernel without CONFIG_IOMMUFD?)" : "");
		pr_err("%s", ictx->last_err);
		return -e;
	}
	iommufd_init(ictx, &iommufd_kernel_ops, NULL, fd);
	return 0;
}
