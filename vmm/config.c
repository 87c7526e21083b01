/* config.c: struct vm_config life cycle (defaults, free), the checks that need the whole merged config
 * (kernel present, device ids and hosts unique) and the errno -> exit status rule of the front end. Parsing of single values lives in config_parse.c. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include "vmm/config.h"
#include "vmm/config_parse.h"
#include "vmm/log.h"

void vm_config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = IVMM_DEFAULT_MEM;
	cfg->ncpus = IVMM_DEFAULT_CPUS;
	cfg->viommu_msi = true;
	/* On allocation failure cmdline stays NULL and vm_config_finish() reports it. */
	cfg->cmdline = strdup(IVMM_DEFAULT_CMDLINE);
}

void vm_config_free(struct vm_config *cfg)
{
	free(cfg->kernel);
	free(cfg->initrd);
	free(cfg->cmdline);
	free(cfg->dump_dtb);
	free(cfg->api_socket);
	free(cfg->config_file);
	for (unsigned int i = 0; i < cfg->ndevices; i++) {
		free(cfg->devices[i].id);
		free(cfg->devices[i].host);
		free(cfg->devices[i].where);
		free(cfg->devices[i].viommu);
	}
	memset(cfg, 0, sizeof(*cfg));
}

int ivmm_exit_for_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return IVMM_EXIT_OK;
	case EINVAL:
	case ENOEXEC:
	case E2BIG:
	case ENOENT:
	case EACCES:
	case EISDIR:
	case ENOTDIR:
	case ELOOP:
	case ENAMETOOLONG:
		return IVMM_EXIT_USAGE;
	default:
		return IVMM_EXIT_RUNTIME;
	}
}

struct vm_device_config *vm_config_find_device(struct vm_config *cfg, const char *id)
{
	for (unsigned int i = 0; i < cfg->ndevices; i++)
		if (cfg->devices[i].id && !strcmp(cfg->devices[i].id, id))
			return &cfg->devices[i];
	return NULL;
}

/* Give a device without a name the first free "vfioN". */
static int name_device(struct vm_config *cfg, struct vm_device_config *d)
{
	char id[16];

	for (unsigned int n = 0;; n++) {
		snprintf(id, sizeof(id), "vfio%u", n);
		if (!vm_config_find_device(cfg, id))
			break;
	}
	d->id = strdup(id);
	return d->id ? 0 : -ENOMEM;
}

/* The host IOMMU instance a PCI device sits behind: the name of its sysfs iommu link ("" if none). */
static void host_iommu_of(const char *sysfs_root, const char *bdf, char *out, size_t len)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/iommu", sysfs_root, bdf);
	n = readlink(path, link, sizeof(link) - 1);
	out[0] = 0;
	if (n <= 0)
		return;
	link[n] = 0;
	const char *base = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	size_t blen = strnlen(base, len - 1);

	memcpy(out, base, blen);
	out[blen] = 0;
}

static int find_vsmmu(const struct vm_config *cfg, const char *name)
{
	for (unsigned int k = 0; k < cfg->nvsmmus; k++)
		if (!strcmp(cfg->vsmmus[k].name, name))
			return (int)k;
	return -1;
}

static int new_vsmmu(struct vm_config *cfg, const struct vm_device_config *d, const char *name,
		     const char *host_iommu)
{
	struct vm_vsmmu_config *v;

	if (cfg->nvsmmus == IVMM_MAX_VSMMUS) {
		pr_err("%s: device '%s' would need vSMMU %u, but a machine has at most %d", d->where, d->id,
		       cfg->nvsmmus + 1, IVMM_MAX_VSMMUS);
		return -1;
	}
	v = &cfg->vsmmus[cfg->nvsmmus];
	memset(v, 0, sizeof(*v));
	if (name)
		snprintf(v->name, sizeof(v->name), "%s", name);
	else
		for (unsigned int n = 0;; n++) {
			snprintf(v->name, sizeof(v->name), "vsmmu%u", n);
			if (find_vsmmu(cfg, v->name) < 0)
				break;
		}
	snprintf(v->host_iommu, sizeof(v->host_iommu), "%s", host_iommu);
	return (int)cfg->nvsmmus++;
}

/* Place every device behind its vSMMU (or none) and give it its guest RID and StreamID. */
static int place_viommus(struct vm_config *cfg, const char *sysfs_root)
{
	cfg->nvsmmus = 0;
	for (unsigned int i = 0; i < cfg->ndevices; i++) {
		struct vm_device_config *d = &cfg->devices[i];
		int k = -1;

		d->guest_rid = LAYOUT_PCI_RID(i);
		if (d->viommu && strcmp(d->viommu, "off")) {
			/* viommu=NAME: that vSMMU, made for it if it is the first device to name it. */
			k = find_vsmmu(cfg, d->viommu);
			if (k < 0 && (k = new_vsmmu(cfg, d, d->viommu, "")) < 0)
				return -EINVAL;
		} else if (!d->viommu && cfg->viommu == VM_VIOMMU_SMMUV3) {
			/* One vSMMU per host IOMMU: the devices of one vIOMMU must share the physical SMMU. */
			char host[64];

			host_iommu_of(sysfs_root, d->host, host, sizeof(host));
			if (!host[0])
				snprintf(host, sizeof(host), "(unknown)");
			for (unsigned int j = 0; j < cfg->nvsmmus && k < 0; j++)
				if (!strcmp(cfg->vsmmus[j].host_iommu, host))
					k = (int)j;
			if (k < 0 && (k = new_vsmmu(cfg, d, NULL, host)) < 0)
				return -EINVAL;
		} else if (d->vsid_set) {
			pr_err("%s: device '%s' has vsid= but is not behind a vSMMU (give viommu=NAME or --viommu smmuv3)",
			       d->where, d->id);
			return -EINVAL;
		}
		d->vsmmu = k;
		if (k < 0)
			continue;
		if (!d->vsid_set)
			d->vsid = d->guest_rid;
		for (unsigned int j = 0; j < i; j++) {
			const struct vm_device_config *o = &cfg->devices[j];

			if (o->vsmmu == k && o->vsid == d->vsid) {
				pr_err("%s: device '%s' has StreamID 0x%x on %s, already given to device '%s' (%s)",
				       d->where, d->id, d->vsid, cfg->vsmmus[k].name, o->id, o->where);
				return -EINVAL;
			}
		}
		cfg->vsmmus[k].ndevices++;
	}
	return 0;
}

int vm_config_finish(struct vm_config *cfg)
{
	return vm_config_finish_at(cfg, NULL);
}

int vm_config_finish_at(struct vm_config *cfg, const char *sysfs_root)
{
	if (!cfg->cmdline) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	if (!cfg->kernel) {
		pr_err("no kernel given (--kernel or [boot] kernel)");
		return -EINVAL;
	}
	if (strlen(cfg->cmdline) > IVMM_MAX_CMDLINE) {
		pr_err("kernel command line is %zu characters, more than the %d an arm64 kernel accepts",
		       strlen(cfg->cmdline), IVMM_MAX_CMDLINE);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < cfg->ndevices; i++) {
		struct vm_device_config *d = &cfg->devices[i];

		if (!d->host) {
			pr_err("%s: device '%s' has no host (host = DDDD:BB:DD.F)", d->where, d->id);
			return -EINVAL;
		}
		if (!d->id && name_device(cfg, d)) {
			pr_err("out of memory");
			return -ENOMEM;
		}
		for (unsigned int j = 0; j < i; j++) {
			if (!strcmp(cfg->devices[j].host, d->host)) {
				pr_err("%s: device '%s' uses host %s, already given to device '%s' (%s)", d->where,
				       d->id, d->host, cfg->devices[j].id, cfg->devices[j].where);
				return -EINVAL;
			}
		}
	}
	return place_viommus(cfg, sysfs_root ? sysfs_root : "/sys");
}
