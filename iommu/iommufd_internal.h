/* iommufd_internal.h: declarations shared by the iommu/iommufd*.c files only (not an API). */
#ifndef IVMM_IOMMU_IOMMUFD_INTERNAL_H
#define IVMM_IOMMU_IOMMUFD_INTERNAL_H

#include "iommu/iommufd.h"

/* The real backend: ioctls on ictx->fd (iommufd_kernel.c). */
extern const struct iommufd_ops iommufd_kernel_ops;

/* One HWPT_INVALIDATE ioctl of ARM SMMUv3 commands on a vIOMMU; *num in = commands, out = handled
 * (clamped to the input). Prints the failing command on error (iommufd.c). */
int iommufd_invalidate_raw(struct iommufd *ictx, u32 viommu_id,
			   const struct iommu_viommu_arm_smmuv3_invalidate *cmds, u32 *num);

#endif
