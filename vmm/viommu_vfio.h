/* viommu_vfio.h: the machine's side of the vIOMMU per-stream contract (struct viommu_stream_ops,
 * iommu/viommu.h) over a VFIO cdev device (devices/vfio_dev.h): what a vIOMMU model asks of each device
 * behind it (attach to a HWPT, detach, the line of the last failure), so iommu/ needs nothing from devices/. */
#ifndef IVMM_VIOMMU_VFIO_H
#define IVMM_VIOMMU_VFIO_H

#include "devices/vfio_dev.h"
#include "iommu/viommu.h"

/* The ops over a struct vfio_dev (the stream's dev), bound to the vSMMU's iommufd: attach is
 * vfio_dev_attach, detach vfio_dev_detach, last_err the device's last_err. */
extern const struct viommu_stream_ops viommu_vfio_stream_ops;

/* A stream config for dev (bound: its dev_id is valid) named name, seen by the guest as StreamID vsid. */
struct viommu_stream_config viommu_vfio_stream(const char *name, struct vfio_dev *dev, u32 vsid);

#endif
