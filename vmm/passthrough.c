/* passthrough.c: the machine's passthrough assembly (see passthrough.h): the per-VM iommufd context, the
 * passthrough devices' life cycle, their vSMMUs built from the config, and the vSMMUs' counters for --stats. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "boot/layout.h"
#include "iommu/vsmmu.h"
#include "vmm/passthrough.h"
#include "vmm/log.h"
#include "vmm/sig.h"
#include "vmm/viommu_vfio.h"

static int open_iommufd(const struct passthrough_backend *be, struct iommufd *ictx)
{
	if (be)
		return be->open_iommufd(be->ctx, ictx);
	return iommufd_open(ictx, NULL);
}

static int open_vfio(const struct passthrough_backend *be, struct vfio_dev *dev, const char *bdf)
{
	if (be)
		return be->open_vfio(be->ctx, dev, bdf);
	return vfio_dev_open(dev, NULL, NULL, bdf);
}

/* Guest RAM at IOVA = GPA must lie in one allowed range of the IOAS. */
static int check_ram_iova(struct passthrough *pt, const struct guest_mem *ram)
{
	struct iommu_iova_range *ranges = NULL;
	size_t nr = 0;
	u64 align = 0;
	char why[192];
	int ret = iommufd_ioas_iova_ranges(&pt->ictx, pt->ioas_id, &ranges, &nr, &align);

	if (ret)
		return ret;
	ret = iommufd_check_iova(ranges, nr, ram->gpa, ram->size, why, sizeof(why));
	if (ret)
		pr_err("passthrough: guest RAM [0x%llx-0x%llx] cannot be mapped for DMA at IOVA = GPA: %s",
		       (unsigned long long)ram->gpa, (unsigned long long)(ram->gpa + ram->size - 1), why);
	else if (align && (!IS_ALIGNED(ram->gpa, align) || !IS_ALIGNED(ram->size, align))) {
		pr_err("passthrough: guest RAM [0x%llx, 0x%llx bytes] is not aligned to the IOMMU's 0x%llx",
		       (unsigned long long)ram->gpa, (unsigned long long)ram->size, (unsigned long long)align);
		ret = -EINVAL;
	}
	free(ranges);
	return ret;
}

/* One vSMMU per cfg->vsmmus entry, with the devices the config placed behind it, through the vIOMMU
 * contract (iommu/viommu.h): the vSMMU is the one model (--viommu smmuv3). */
static int create_vsmmus(struct passthrough *pt, const struct vm_config *cfg, const struct guest_mem *ram,
			 struct hv *hv, struct bus *bus, const struct passthrough_loop *loop)
{
	pt->viommu_ops = &vsmmu_viommu_ops;
	for (unsigned int k = 0; k < cfg->nvsmmus; k++) {
		struct viommu_config vc = {
			.name = cfg->vsmmus[k].name,
			.base = LAYOUT_VSMMU_FRAME(k),
			.spi_evtq = LAYOUT_SPI_VSMMU(k, LAYOUT_VSMMU_SPI_EVTQ),
			.spi_gerror = LAYOUT_SPI_VSMMU(k, LAYOUT_VSMMU_SPI_GERROR),
			.spi_sync = LAYOUT_SPI_VSMMU(k, LAYOUT_VSMMU_SPI_SYNC),
			.msi_devid = LAYOUT_VSMMU_DEVID(k),
			.msi_doorbell = LAYOUT_ITS_DOORBELL,
			.no_msi = !cfg->viommu_msi,
			.evtq_log2 = cfg->viommu_evtq_log2,
			.ictx = &pt->ictx,
			.ictx_lock = &pt->ictx_lock,
			.ioas_id = pt->ioas_id,
			.mem = ram,
			.hv = hv,
			.loop = loop ? loop->watcher : (struct loop_watcher){ 0 },
			.sev = loop ? loop->sev : NULL,
			.sev_ctx = loop ? loop->sev_ctx : NULL,
		};
		int ret = sig_stop_check();

		if (ret)
			return ret;
		for (unsigned int i = 0; i < pt->ndevs; i++) {
			const struct vm_device_config *dc = pt->devs[i].cfg;

			if (vm_device_vsmmu(cfg, dc) != (int)k)
				continue;
			vc.streams[vc.nstreams++] = viommu_vfio_stream(dc->id, &pt->devs[i].vdev, dc->vsid);
		}
		ret = pt->viommu_ops->create(&vc, &pt->viommus[k]);
		if (ret)
			return ret;
		pt->nviommus = k + 1;
		ret = bus_register(bus, pt->viommu_ops->region(pt->viommus[k]), NULL, 0);
		if (ret)
			return ret;
		pt->viommu_on_bus[k] = true;
	}
	return 0;
}

/* Guest RAM into the IOAS at IOVA = GPA, one PASSTHROUGH_RAM_CHUNK per IOAS_MAP, stopping between two when a
 * stop signal is pending; pt->ram_size says how much is mapped (unmap_ram undoes exactly that). */
static int map_ram(struct passthrough *pt, const struct guest_mem *ram)
{
	int ret;

	pt->ram_iova = ram->gpa;
	pt->ram_size = 0;
	while (pt->ram_size < ram->size) {
		u64 len = MIN(PASSTHROUGH_RAM_CHUNK, ram->size - pt->ram_size);

		ret = sig_stop_check();
		if (ret)
			return ret;
		ret = iommufd_ioas_map_fixed(&pt->ictx, pt->ioas_id, (u8 *)ram->host + pt->ram_size, len,
					     ram->gpa + pt->ram_size, true);
		if (ret)
			return ret;
		pt->ram_size += len;
	}
	return 0;
}

static void unmap_ram(struct passthrough *pt)
{
	bool failed = false;

	for (u64 off = 0; off < pt->ram_size; off += PASSTHROUGH_RAM_CHUNK)
		failed |= iommufd_ioas_unmap(&pt->ictx, pt->ioas_id, pt->ram_iova + off,
					     MIN(PASSTHROUGH_RAM_CHUNK, pt->ram_size - off)) != 0;
	if (failed)
		pr_warn("passthrough: unmapping guest RAM from the IOAS failed");
	pt->ram_size = 0;
}

void passthrough_stats_print(const struct passthrough *pt)
{
	if (!pt || !pt->nviommus) {
		pr_info("stats: no vSMMU");
		return;
	}
	for (unsigned int k = 0; k < pt->nviommus; k++)
		pt->viommu_ops->stats_print(pt->viommus[k]);
}

void passthrough_destroy(struct passthrough *pt)
{
	for (unsigned int k = pt->nviommus; k-- > 0;) {
		if (pt->viommu_on_bus[k])
			bus_unregister(pt->bus, pt->viommu_ops->region(pt->viommus[k]));
		pt->viommu_on_bus[k] = false;
	}
	for (unsigned int i = pt->ndevs; i-- > 0;) {
		vfio_pci_destroy(pt->devs[i].pci);
		pt->devs[i].pci = NULL;
	}
	for (unsigned int k = pt->nviommus; k-- > 0;) {
		pt->viommu_ops->destroy(pt->viommus[k]);
		pt->viommus[k] = NULL;
	}
	pt->nviommus = 0;
	unmap_ram(pt);
	for (unsigned int i = pt->ndevs; i-- > 0;) {
		if (pt->devs[i].open)
			vfio_dev_close(&pt->devs[i].vdev); /* unbinds and detaches */
		pt->devs[i].open = false;
	}
	pt->ndevs = 0;
	if (pt->host_up)
		pci_host_destroy(&pt->host);
	pt->host_up = false;
	if (pt->ictx_open)
		iommufd_close(&pt->ictx); /* destroys the IOAS (and anything else still tracked), closes /dev/iommu */
	pt->ictx_open = false;
	if (pt->lock_init)
		pthread_mutex_destroy(&pt->ictx_lock);
	pt->lock_init = false;
}

int passthrough_create(struct passthrough *pt, const struct vm_config *cfg, const struct guest_mem *ram,
		       struct hv *hv, struct bus *bus, const struct passthrough_backend *be,
		       const struct passthrough_loop *loop)
{
	int ret;

	memset(pt, 0, sizeof(*pt));
	pt->bus = bus;
	ret = -pthread_mutex_init(&pt->ictx_lock, NULL);
	if (ret) {
		pr_err("passthrough: mutex init: %s", strerror(-ret));
		return ret;
	}
	pt->lock_init = true;
	ret = open_iommufd(be, &pt->ictx);
	if (ret)
		goto err;
	pt->ictx_open = true;
	ret = iommufd_ioas_alloc(&pt->ictx, &pt->ioas_id, FAIL_PRINT);
	if (ret)
		goto err;
	ret = pci_host_init(&pt->host, bus, LAYOUT_ECAM_BASE, LAYOUT_ECAM_SIZE);
	if (ret)
		goto err;
	pt->host_up = true;

	for (unsigned int i = 0; i < cfg->ndevices; i++) {
		const struct vm_device_config *dc = &cfg->devices[i];
		struct passthrough_dev *d = &pt->devs[i];

		ret = sig_stop_check();
		if (ret)
			goto err;
		if (dc->driver != VM_DEV_VFIO_PCI) {
			pr_err("passthrough: device %s: unsupported driver", dc->id);
			ret = -EINVAL;
			goto err;
		}
		for (unsigned int j = 0; j < i; j++) {
			if (!strcmp(cfg->devices[j].host, dc->host)) {
				pr_err("passthrough: device %s: host %s is already given to device %s", dc->id, dc->host,
				       cfg->devices[j].id);
				ret = -EBUSY;
				goto err;
			}
		}
		d->cfg = dc;
		ret = open_vfio(be, &d->vdev, dc->host);
		if (ret)
			goto err;
		d->open = true;
		pt->ndevs = i + 1;
		ret = vfio_dev_bind(&d->vdev, iommufd_fd(&pt->ictx));
		if (ret)
			goto err;
		if (vm_device_vsmmu(cfg, dc) >= 0)
			continue; /* its vSMMU attaches it */
		ret = vfio_dev_attach(&d->vdev, pt->ioas_id, FAIL_PRINT);
		if (ret)
			goto err;
	}
	ret = create_vsmmus(pt, cfg, ram, hv, bus, loop);
	if (ret)
		goto err;

	ret = check_ram_iova(pt, ram);
	if (ret)
		goto err;
	ret = map_ram(pt, ram);
	if (ret)
		goto err;

	for (unsigned int i = 0; i < pt->ndevs; i++) {
		struct passthrough_dev *d = &pt->devs[i];

		ret = sig_stop_check();
		if (ret)
			goto err;
		ret = vfio_pci_create(&d->pci, d->cfg->id, &d->vdev, &pt->host, hv, bus, (int)LAYOUT_PCI_SLOT(i));
		if (ret)
			goto err;
		if (vm_device_vsmmu(cfg, d->cfg) >= 0)
			d->pci->msi_doorbell = LAYOUT_ITS_DOORBELL;
		pr_debug("passthrough: %s (%s) is guest 00:%02x.0", d->cfg->id, d->cfg->host, d->pci->pdev.devfn >> 3);
	}
	return 0;

err:
	passthrough_destroy(pt);
	return ret;
}
