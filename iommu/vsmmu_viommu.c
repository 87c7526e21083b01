/* vsmmu_viommu.c: the vSMMU as a vIOMMU model (iommu/viommu.h): the ops table the machine drives it through,
 * each entry the vSMMU function of the same name (vsmmu.h) on the struct vsmmu that embeds the viommu. */
#include "iommu/vsmmu_internal.h"

static struct vsmmu *to_vsmmu(struct viommu *v)
{
	return container_of(v, struct vsmmu, viommu);
}

static int viommu_create(const struct viommu_config *cfg, struct viommu **out)
{
	struct vsmmu *vs;
	int rc = vsmmu_create(cfg, &vs);

	if (!rc)
		*out = &vs->viommu;
	return rc;
}

static struct mmio_region *viommu_region(struct viommu *v)
{
	return vsmmu_region(to_vsmmu(v));
}

static void viommu_stats_print(struct viommu *v)
{
	vsmmu_stats_print(to_vsmmu(v));
}

static void viommu_destroy(struct viommu *v)
{
	if (v)
		vsmmu_destroy(to_vsmmu(v));
}

const struct viommu_ops vsmmu_viommu_ops = {
	.kind = "smmuv3",
	.compatible = "arm,smmu-v3",
	.create = viommu_create,
	.region = viommu_region,
	.stats_print = viommu_stats_print,
	.destroy = viommu_destroy,
	.dump = NULL,
	.inject = NULL,
};
