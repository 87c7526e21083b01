/* vfio_dev_internal.h: declarations shared by devices/vfio_dev*.c only (not an API). */
#ifndef IVMM_DEVICES_VFIO_DEV_INTERNAL_H
#define IVMM_DEVICES_VFIO_DEV_INTERNAL_H

#include "devices/vfio_dev.h"

/* The real backend: ioctls, pread/pwrite and mmap on dev->fd (vfio_dev_kernel.c). */
extern const struct vfio_dev_ops vfio_dev_kernel_ops;

#endif
