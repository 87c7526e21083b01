/* iommufd_internal.h: declarations shared by the iommu/iommufd*.c files only (not an API). */
#ifndef IVMM_IOMMU_IOMMUFD_INTERNAL_H
#define IVMM_IOMMU_IOMMUFD_INTERNAL_H

#include "iommu/iommufd.h"

/* The real backend: ioctls on ictx->fd (iommufd_kernel.c). */
extern const struct iommufd_ops iommufd_kernel_ops;

#endif
