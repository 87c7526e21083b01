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

static const char *viommu_name(struct viommu *v)
{
	return to_vsmmu(v)->name;
}

static void viommu_stats(struct viommu *v, const struct viommu_out *out)
{
	vsmmu_stats_out(to_vsmmu(v), out);
}

static void viommu_dump(struct viommu *v, const struct viommu_out *out)
{
	vsmmu_dump(to_vsmmu(v), out);
}

static int viommu_inject(struct viommu *v, const struct viommu_inject *req, char *err, size_t errlen)
{
	return vsmmu_inject(to_vsmmu(v), req, err, errlen);
}

static int viommu_trace(struct viommu *v, bool on, const char *path, char *err, size_t errlen)
{
	return vsmmu_trace_set(to_vsmmu(v), on, path, err, errlen);
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
	.name = viommu_name,
	.stats_print = viommu_stats_print,
	.stats = viommu_stats,
	.dump = viommu_dump,
	.inject = viommu_inject,
	.trace = viommu_trace,
	.destroy = viommu_destroy,
};
