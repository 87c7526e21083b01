/* viommu_vfio.c: the vIOMMU per-stream contract implemented over a VFIO cdev device (see viommu_vfio.h):
 * the machine gives each vSMMU stream these ops and its struct vfio_dev. */
#include "vmm/viommu_vfio.h"

static int stream_attach(void *dev, u32 pt_id, enum fail_report how)
{
	return vfio_dev_attach(dev, pt_id, how);
}

static int stream_detach(void *dev)
{
	return vfio_dev_detach(dev);
}

static const char *stream_last_err(void *dev)
{
	return ((struct vfio_dev *)dev)->last_err;
}

const struct viommu_stream_ops viommu_vfio_stream_ops = {
	.attach = stream_attach,
	.detach = stream_detach,
	.last_err = stream_last_err,
};

struct viommu_stream_config viommu_vfio_stream(const char *name, struct vfio_dev *dev, u32 vsid)
{
	return (struct viommu_stream_config){
		.name = name, .ops = &viommu_vfio_stream_ops, .dev = dev, .dev_id = dev->dev_id, .vsid = vsid,
	};
}
