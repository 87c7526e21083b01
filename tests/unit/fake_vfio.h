/* fake_vfio.h: a fake VFIO cdev device (struct vfio_dev_ops) for unit tests of anything built on
 * devices/vfio_dev.h (the PCI passthrough model). Regions are plain memory buffers at fd offset
 * index << 40 (as vfio-pci lays them out): pread/pwrite copy, mmap returns a pointer into the buffer;
 * GET_REGION_INFO builds a real capability chain (sparse mmap areas, an optional unknown capability of
 * extra_cap_len bytes, MSI-X mappable) and answers a too-small buffer like the kernel: argsz raised, no chain. SET_IRQS is decoded into
 * per-vector state (trigger eventfd, masked) and logged. Live mmaps are counted (mmap +1, munmap -1). Attach/detach update a linked fake_iommufd's
 * attachment table so HWPT destruction order is checked end to end. With a linked fake_iommufd, attach also
 * applies the kernel's rules: the id must name a live IOAS or HWPT (-ENOENT / -EINVAL otherwise), and a
 * nested HWPT whose vSTE translates (V=1, Config = S1) needs a live vDEVICE of this device on the HWPT's
 * vIOMMU (-EINVAL, as Linux 7.3 fails when iommufd_viommu_get_vdev_id() finds none); abort and bypass nested
 * HWPTs attach without one. A refused attach leaves the current attachment as it was.
 * One-shot failure injection: set fail_<op> = -errno; the next call of that op returns it and clears it. */
#ifndef IVMM_TEST_FAKE_VFIO_H
#define IVMM_TEST_FAKE_VFIO_H

#include <stdbool.h>
#include "devices/vfio_dev.h"

struct fake_iommufd;

#define FAKE_VFIO_NR_REGIONS (VFIO_PCI_CONFIG_REGION_INDEX + 1)
#define FAKE_VFIO_NR_IRQS (VFIO_PCI_REQ_IRQ_INDEX + 1)
#define FAKE_VFIO_MAX_VECTORS 64
#define FAKE_VFIO_MAX_IRQ_CALLS 64
#define FAKE_VFIO_REGION_SHIFT 40

struct fake_vfio_region {
	u32 flags;            /* VFIO_REGION_INFO_FLAG_READ/WRITE/MMAP (CAPS is added when caps exist) */
	u64 size;
	u8 *data;             /* size bytes, owned by the fake */
	bool sparse;
	u32 nr_areas;
	struct vfio_region_sparse_mmap_area areas[VFIO_DEV_MAX_SPARSE];
	bool msix_mappable;
};

struct fake_vfio_irq_call {
	u32 flags, index, start, count;
	int fds[8];           /* first eventfds of a DATA_EVENTFD call */
};

struct fake_vfio {
	struct fake_vfio_region regions[FAKE_VFIO_NR_REGIONS];
	struct vfio_irq_info irqs[FAKE_VFIO_NR_IRQS]; /* flags and count per index */
	u32 info_flags;       /* GET_INFO flags (default RESET|PCI) */
	struct fake_iommufd *iommufd; /* optional: attach/detach are mirrored into its table */
	u32 next_dev_id;      /* BIND answers this (default 1) */
	bool bound;
	u32 dev_id;
	u32 attached_pt;      /* 0 = detached */
	unsigned int attach_calls, detach_calls, resets, region_info_calls;
	int live_mmaps;       /* successful mmaps not yet munmapped (a leak check) */
	u32 extra_cap_len;    /* >= 8: insert an unknown capability (id 0x7f) of this many bytes in every chain */
	int trigger_fd[FAKE_VFIO_NR_IRQS][FAKE_VFIO_MAX_VECTORS];  /* -1 = none */
	bool masked[FAKE_VFIO_NR_IRQS][FAKE_VFIO_MAX_VECTORS];
	int unmask_fd[FAKE_VFIO_NR_IRQS][FAKE_VFIO_MAX_VECTORS];   /* ACTION_UNMASK eventfd, -1 = none */
	bool enabled[FAKE_VFIO_NR_IRQS];
	struct fake_vfio_irq_call irq_calls[FAKE_VFIO_MAX_IRQ_CALLS];
	unsigned int nr_irq_calls;
	bool closed;
	int fail_bind, fail_attach, fail_detach, fail_get_info, fail_region_info, fail_irq_info, fail_set_irqs,
		fail_reset, fail_pread, fail_pwrite, fail_mmap;
	unsigned int fail_attach_n; /* fail_attach holds for this many attaches (0: one-shot) */
};

/* A PCI function with a 256-byte config region (readable, writable) and no BARs or irqs. */
void fake_vfio_init(struct fake_vfio *f);
/* Add (or replace) a region of size bytes, zero filled. Returns 0 or -ENOMEM. */
int fake_vfio_set_region(struct fake_vfio *f, u32 index, u64 size, u32 flags);
/* Make dev a device on this fake (already "open"). */
void fake_vfio_open(struct fake_vfio *f, struct vfio_dev *dev, const char *bdf);
/* Free region buffers. */
void fake_vfio_release(struct fake_vfio *f);

#endif
