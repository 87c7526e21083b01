/* passthrough.h: the per-VM PCI passthrough context, where the machine assembles its parts (devices/ holds
 * the device models, iommu/ the iommufd layer and the vSMMU; neither includes the other): one iommufd
 * (/dev/iommu), one IOAS holding all guest RAM at IOVA = GPA, the ECAM host bridge, a vfio-pci model per
 * configured device and the vSMMUs they sit behind, whose streams reach their devices through
 * vmm/viommu_vfio.h.
 *
 * passthrough_create() runs, in order: open /dev/iommu -> IOAS_ALLOC -> host bridge (ECAM on the bus) ->
 * per device: resolve BDF -> cdev, open, VFIO_DEVICE_BIND_IOMMUFD, attach to the IOAS -> check guest RAM
 * against the IOAS's allowed IOVA ranges (the host's reserved regions, e.g. the 0x08000000 sw_msi window,
 * become known once devices are attached) -> IOAS_MAP guest RAM at IOVA = GPA -> per device: the vfio-pci
 * model (reset, config space, BARs placed in the windows, interrupts). Any failure prints one message (the
 * layer that failed names the device and the cause) and undoes everything in reverse; so does
 * passthrough_destroy(). Devices the config puts behind a vSMMU are not attached to the IOAS: each vSMMU
 * (iommu/vsmmu.h, driven through iommu/viommu.h) builds its nest-parent HWPT on ioas_id, its vIOMMU and a vDEVICE per device, attaches its
 * devices itself and has its MMIO frame on the bus; their MSIs are routed to the vITS doorbell.
 *
 * RAM is mapped once: ivmm's guest RAM is one region fixed for the VM's life (no hotplug, no balloon, no
 * remapping), so the IOAS is never updated after create. It is mapped in chunks of PASSTHROUGH_RAM_CHUNK
 * (each IOAS_MAP pins its pages, seconds for a large VM) with a stop-signal check (vmm/sig.h) before each
 * device and each chunk: Ctrl-C during the setup unwinds with -EINTR within one chunk's pinning. Nothing here follows RAM layout changes; a feature
 * that changes guest RAM at run time must add IOAS_MAP/IOAS_UNMAP of the change here first. */
#ifndef IVMM_PASSTHROUGH_H
#define IVMM_PASSTHROUGH_H

#include <stdbool.h>
#include "devices/pci_host.h"
#include "devices/vfio_dev.h"
#include "devices/vfio_pci.h"
#include "iommu/iommufd.h"
#include "iommu/viommu.h"
#include "vmm/bus.h"
#include "vmm/compiler.h"
#include "vmm/config.h"
#include "vmm/guest_mem.h"
#include "vmm/hv.h"

/* Guest RAM goes into the IOAS this many bytes per IOAS_MAP (and comes out the same way). */
#define PASSTHROUGH_RAM_CHUNK (256 * SZ_1M)

/* How the iommufd and the devices are opened: NULL = the real kernel (/dev/iommu, sysfs + /dev/vfio).
 * Unit tests plug fakes here. */
struct passthrough_backend {
	int (*open_iommufd)(void *ctx, struct iommufd *ictx);
	int (*open_vfio)(void *ctx, struct vfio_dev *dev, const char *bdf);
	void *ctx;
};

struct passthrough_dev {
	const struct vm_device_config *cfg;
	struct vfio_dev vdev;
	bool open;
	struct vfio_pci *pci;
};

struct passthrough {
	struct iommufd ictx;
	bool ictx_open;
	pthread_mutex_t ictx_lock;     /* calls on ictx from vCPU threads (the vSMMUs) */
	bool lock_init;
	u32 ioas_id;
	u64 ram_iova;
	u64 ram_size;                  /* mapped so far, in PASSTHROUGH_RAM_CHUNK pieces (the last may be shorter) */
	struct pci_host host;
	bool host_up;
	unsigned int ndevs;
	struct passthrough_dev devs[IVMM_MAX_DEVICES];
	const struct viommu_ops *viommu_ops; /* the vIOMMU model of the vSMMUs (iommu/viommu.h) */
	unsigned int nviommus;         /* vSMMUs created so far (cfg->vsmmus order) */
	struct viommu *viommus[IVMM_MAX_VSMMUS];
	bool viommu_on_bus[IVMM_MAX_VSMMUS];
	struct bus *bus;
};

/* How the vSMMUs reach the VM: its main loop (vmm/loop.h) and its vCPUs; NULL: neither (unit tests). */
struct passthrough_loop {
	struct loop_watcher watcher;
	void (*sev)(void *ctx);    /* wake every vCPU waiting in WFE (may be NULL) */
	void *sev_ctx;
};

/* Set up passthrough for cfg->devices (cfg->ndevices > 0). pt is owned by the caller (zeroed or not).
 * Returns 0 or -errno after one message, or -EINTR without one when a stop signal is pending (vmm/sig.h); on
 * error nothing is left behind. */
int __must_check passthrough_create(struct passthrough *pt, const struct vm_config *cfg, const struct guest_mem *ram,
				    struct hv *hv, struct bus *bus, const struct passthrough_backend *be,
				    const struct passthrough_loop *loop);
/* Print the --stats counters of every vSMMU of pt (its viommu_ops->stats_print), or "stats: no vSMMU" when pt is NULL
 * or has none. */
void passthrough_stats_print(const struct passthrough *pt);
/* Undo passthrough_create() in reverse: vSMMU frames off the bus, device models (reset), vSMMUs (devices
 * detached, their objects freed), RAM unmap, devices closed (unbound and detached), bridge, iommufd objects,
 * /dev/iommu. Safe on a zeroed or already destroyed context. */
void passthrough_destroy(struct passthrough *pt);

#endif
