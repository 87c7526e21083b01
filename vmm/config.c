/* config.c: struct vm_config life cycle (defaults, free), the checks that need the whole merged config
 * (kernel present, device ids and hosts unique) and the errno -> exit status rule of the front end. Parsing of single values lives in config_parse.c. */
#include <errno.h>
#include <stdio.h>
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
	/* On allocation failure cmdline stays NULL and vm_config_finish() reports it. */
	cfg->cmdline = strdup(IVMM_DEFAULT_CMDLINE);
}

void vm_config_free(struct vm_config *cfg)
{
	free(cfg->kernel);
	free(cfg->initrd);
	free(cfg->cmdline);
	free(cfg->dump_dtb);
	free(cfg->config_file);
	for (unsigned int i = 0; i < cfg->ndevices; i++) {
		free(cfg->devices[i].id);
		free(cfg->devices[i].host);
		free(cfg->devices[i].where);
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

int vm_config_finish(struct vm_config *cfg)
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
	return 0;
}
