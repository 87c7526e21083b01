/* vfio_dev.h: one host PCI device opened through its VFIO cdev (/dev/vfio/devices/vfioN) and bound to an
 * iommufd; no legacy container/group. The only place that issues VFIO device ioctls.
 *
 * The kernel operations sit behind a typed ops table (struct vfio_dev_ops): devices/vfio_dev.c holds the
 * real one, unit tests plug a fake (tests/unit/fake_vfio.h) so the PCI passthrough model is testable without
 * a kernel. The vfio_dev_* wrappers print one line on failure ("vfio BDF: OPERATION: strerror") and copy it
 * to dev->last_err.
 *
 * Life cycle: vfio_dev_open() (resolve BDF -> cdev, open) -> vfio_dev_bind() (VFIO_DEVICE_BIND_IOMMUFD,
 * gives dev_id for iommufd calls) -> vfio_dev_attach() (IOAS or HWPT id; again to replace) -> regions,
 * irqs... -> vfio_dev_close() (closing the fd unbinds and detaches). Before destroying the HWPT the device
 * is attached to, re-attach it to a safe one or detach it (iommufd.h).
 */
#ifndef IVMM_DEVICES_VFIO_DEV_H
#define IVMM_DEVICES_VFIO_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/vfio.h>
#include "vmm/compiler.h"
#include "vmm/log.h"

struct vfio_dev;

/* Kernel operations on an open device. Return 0 / byte count or -errno; must not print. */
struct vfio_dev_ops {
	const char *name;
	int (*bind_iommufd)(struct vfio_dev *dev, int iommufd, u32 *out_dev_id);
	/* *pt_id: in = IOAS or HWPT id, out = the HWPT actually attached (kernel-created for an IOAS). */
	int (*attach_pt)(struct vfio_dev *dev, u32 *pt_id);
	int (*detach_pt)(struct vfio_dev *dev);
	int (*get_info)(struct vfio_dev *dev, struct vfio_device_info *info);
	/* buf starts with a struct vfio_region_info (argsz = buflen, index set); the kernel fills it and its
	 * capability chain and may raise argsz above buflen (then call again with a bigger buffer). */
	int (*get_region_info)(struct vfio_dev *dev, struct vfio_region_info *buf, u32 buflen);
	int (*get_irq_info)(struct vfio_dev *dev, struct vfio_irq_info *info);
	/* set->argsz covers the trailing data. */
	int (*set_irqs)(struct vfio_dev *dev, const struct vfio_irq_set *set);
	int (*reset)(struct vfio_dev *dev);
	/* pread/pwrite on the device fd at an absolute fd offset (region offset + offset in region). */
	ssize_t (*pread)(struct vfio_dev *dev, void *buf, size_t len, u64 fd_off);
	ssize_t (*pwrite)(struct vfio_dev *dev, const void *buf, size_t len, u64 fd_off);
	/* mmap at an absolute fd offset; *out = address. */
	int (*mmap)(struct vfio_dev *dev, u64 fd_off, size_t len, int prot, void **out);
	int (*munmap)(struct vfio_dev *dev, void *addr, size_t len);
	void (*close)(struct vfio_dev *dev);
};

#define VFIO_DEV_MAX_SPARSE 8

/* A device region as ivmm uses it (VFIO_DEVICE_GET_REGION_INFO + capability chain decoded). */
struct vfio_region {
	u32 index;
	u32 flags;             /* VFIO_REGION_INFO_FLAG_* */
	u64 size;
	u64 offset;            /* fd offset of the region */
	bool sparse;           /* a SPARSE_MMAP capability was present: only areas[] may be mmapped */
	u32 nr_areas;          /* valid entries in areas (at most VFIO_DEV_MAX_SPARSE) */
	struct vfio_region_sparse_mmap_area areas[VFIO_DEV_MAX_SPARSE];
	bool msix_mappable;    /* MSIX_MAPPABLE capability: the MSI-X table page may be mmapped */
};

struct vfio_dev {
	const struct vfio_dev_ops *ops;
	void *priv;            /* backend state (fakes) */
	int fd;                /* the cdev fd, -1 when closed */
	char bdf[16];          /* "0000:00:01.0" */
	char cdev[64];         /* "/dev/vfio/devices/vfio0" */
	bool bound;
	u32 dev_id;            /* iommufd device id (valid when bound) */
	bool attached;
	u32 pt_id;             /* currently attached HWPT (valid when attached) */
	bool cfg_valid;        /* cfg holds the config region's info (fetched on first cfg access) */
	struct vfio_region cfg;
	char last_err[512];    /* the last failure line (printed or not), for callers and tests */
};

/* Errors: every function that fails records one line "vfio BDF: WHAT: strerror" in dev->last_err and prints
 * it. Those a guest can drive (a replacement through the vSMMU, live config accesses, MSI/MSI-X toggles, its
 * function level reset) take how: FAIL_QUIET records without printing, for a caller that reports it
 * rate-limited with log_guest() (vmm/log.h). */

/* Normalise a BDF: "00:01.0" or "0000:00:01.0" -> "0000:00:01.0" (lower case hex). -EINVAL if malformed. */
int __must_check vfio_parse_bdf(const char *in, char *out, size_t outlen);

/* Resolve a BDF to its VFIO cdev path under dev_root ("/dev" -> "/dev/vfio/devices/vfioN") by reading
 * sysfs_root ("/sys"). Errors (message in err, also printed):
 *   -EINVAL  malformed BDF
 *   -ENODEV  "no PCI device BDF (SYSFS/bus/pci/devices/BDF does not exist)"
 *   -EPERM   not bound to vfio-pci: names the current driver (or "no driver") and how to bind it
 *   -ENOTSUP bound to vfio-pci but no vfio-dev cdev ("kernel without CONFIG_VFIO_DEVICE_CDEV?")
 * The exact texts are in vfio_dev.c and asserted by tests/unit/test_vfio_dev.c. */
int __must_check vfio_resolve_cdev(const char *sysfs_root, const char *dev_root, const char *bdf, char *path,
				   size_t pathlen, char *err, size_t errlen);

/* Format the message for a failed open() of the cdev (EBUSY: in use by another process/VMM; ENOENT: no
 * device node; EACCES/EPERM: permissions). Pure, for the real open path and tests. */
void vfio_open_errmsg(const char *bdf, const char *path, int err, char *buf, size_t len);

/* Resolve and open a device with the real ops. sysfs_root/dev_root NULL = "/sys", "/dev". */
int __must_check vfio_dev_open(struct vfio_dev *dev, const char *sysfs_root, const char *dev_root, const char *bdf);
/* Use a custom backend (fakes); the device counts as open with the given fd (may be -1). */
void vfio_dev_init(struct vfio_dev *dev, const struct vfio_dev_ops *ops, void *priv, const char *bdf, int fd);
/* Close (unbinds and detaches in the kernel). Safe on a closed device. */
void vfio_dev_close(struct vfio_dev *dev);

int __must_check vfio_dev_bind(struct vfio_dev *dev, int iommufd);
/* Attach or replace: pt_id is an IOAS or HWPT id. dev->pt_id = the HWPT the kernel reports. */
int __must_check vfio_dev_attach(struct vfio_dev *dev, u32 pt_id, enum fail_report how);
int __must_check vfio_dev_detach(struct vfio_dev *dev);

int __must_check vfio_dev_get_info(struct vfio_dev *dev, struct vfio_device_info *info);
/* Region info with its capability chain decoded. */
int __must_check vfio_dev_region_info(struct vfio_dev *dev, u32 index, struct vfio_region *out);
/* Decode a GET_REGION_INFO reply (buf of buflen bytes, as returned by the kernel) into out. Validates the
 * chain: every cap inside the buffer, offsets strictly increasing (no loops). -EPROTO with a message in
 * err on a malformed chain. Pure, for tests. */
int __must_check vfio_parse_region_info(const void *buf, size_t buflen, struct vfio_region *out, char *err,
					size_t errlen);
/* Is [off, off+len) of the region mmappable (MMAP flag, and inside one sparse area if sparse)? */
bool vfio_region_can_mmap(const struct vfio_region *r, u64 off, u64 len);

/* Access inside a region (offset relative to the region; checked against its size). Full length or -errno. */
int __must_check vfio_dev_region_read(struct vfio_dev *dev, const struct vfio_region *r, u64 off, void *buf,
				      size_t len);
int __must_check vfio_dev_region_write(struct vfio_dev *dev, const struct vfio_region *r, u64 off,
				       const void *buf, size_t len);
/* PCI config space helpers (VFIO_PCI_CONFIG_REGION_INDEX, info fetched on first use): len 1, 2 or 4,
 * value little-endian as on the bus. */
int __must_check vfio_dev_cfg_read(struct vfio_dev *dev, u32 off, u32 len, u32 *val, enum fail_report how);
int __must_check vfio_dev_cfg_write(struct vfio_dev *dev, u32 off, u32 len, u32 val, enum fail_report how);
/* mmap [off, off+len) of a region; refuses ranges vfio_region_can_mmap() rejects (-EPERM). */
int __must_check vfio_dev_region_mmap(struct vfio_dev *dev, const struct vfio_region *r, u64 off, size_t len,
				      int prot, void **out);
int vfio_dev_region_munmap(struct vfio_dev *dev, void *addr, size_t len);

/* IRQs (index VFIO_PCI_INTX/MSI/MSIX_IRQ_INDEX). */
int __must_check vfio_dev_irq_info(struct vfio_dev *dev, u32 index, struct vfio_irq_info *out);
/* Trigger eventfds for vectors [start, start+count) (fds[i] = -1: leave/deassign that vector). */
int __must_check vfio_dev_irq_set_eventfds(struct vfio_dev *dev, u32 index, u32 start, u32 count, const int *fds,
					   enum fail_report how);
/* Disable the whole index (DATA_NONE|ACTION_TRIGGER, count 0). */
int __must_check vfio_dev_irq_disable(struct vfio_dev *dev, u32 index, enum fail_report how);
/* Mask / unmask one vector (DATA_NONE|ACTION_MASK/UNMASK). */
int __must_check vfio_dev_irq_mask(struct vfio_dev *dev, u32 index, u32 vector, bool mask);
/* INTx: eventfd that unmasks the line when signalled (DATA_EVENTFD|ACTION_UNMASK, e.g. KVM resamplefd). */
int __must_check vfio_dev_irq_unmask_eventfd(struct vfio_dev *dev, u32 index, u32 vector, int fd,
					     enum fail_report how);

int __must_check vfio_dev_reset(struct vfio_dev *dev, enum fail_report how);

#endif
