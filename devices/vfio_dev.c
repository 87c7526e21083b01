/* vfio_dev.c: a VFIO cdev device (see vfio_dev.h): its life cycle (open through the cdev vfio_dev_sysfs.c
 * finds, bind, attach, close) and the typed wrappers over the backend ops (region info and its capability
 * chain, region access and mmap, irqs, reset), each failure one clear message. The real backend is
 * vfio_dev_kernel.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "devices/vfio_dev_internal.h"
#include "vmm/log.h"

/* Record one failure line "vfio BDF: WHAT: strerror[ (hint)]" in last_err and print it unless how is
 * FAIL_QUIET (the caller then reports it itself, rate-limited, because a guest drove the access); returns rc. */
static int __printf(5, 6) failq(struct vfio_dev *dev, enum fail_report how, int rc, const char *hint,
				const char *fmt, ...)
{
	char prefix[32];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "vfio %s", dev->bdf);
	va_start(ap, fmt);
	if (how == FAIL_QUIET)
		log_fail_format(dev->last_err, sizeof(dev->last_err), prefix, rc, hint, fmt, ap);
	else
		log_fail_into(dev->last_err, sizeof(dev->last_err), prefix, rc, hint, fmt, ap);
	va_end(ap);
	return rc;
}

#define failh(dev, rc, hint, ...) failq(dev, FAIL_PRINT, rc, hint, __VA_ARGS__)
#define fail(dev, rc, ...) failq(dev, FAIL_PRINT, rc, NULL, __VA_ARGS__)

/* ---- life cycle ---- */

void vfio_dev_init(struct vfio_dev *dev, const struct vfio_dev_ops *ops, void *priv, const char *bdf, int fd)
{
	memset(dev, 0, sizeof(*dev));
	dev->ops = ops;
	dev->priv = priv;
	dev->fd = fd;
	snprintf(dev->bdf, sizeof(dev->bdf), "%s", bdf);
}

int vfio_dev_open(struct vfio_dev *dev, const char *sysfs_root, const char *dev_root, const char *bdf)
{
	char path[sizeof(dev->cdev)], norm[16];
	int rc, fd;

	memset(dev, 0, sizeof(*dev));
	dev->fd = -1;
	snprintf(dev->bdf, sizeof(dev->bdf), "%.15s", bdf);
	rc = vfio_resolve_cdev(sysfs_root, dev_root, bdf, path, sizeof(path), dev->last_err, sizeof(dev->last_err));
	if (rc)
		return rc;
	rc = vfio_parse_bdf(bdf, norm, sizeof(norm));
	if (rc)
		return rc; /* cannot happen: resolve parsed it */
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		vfio_open_errmsg(norm, path, errno, dev->last_err, sizeof(dev->last_err));
		pr_err("%s", dev->last_err);
		return rc;
	}
	vfio_dev_init(dev, &vfio_dev_kernel_ops, NULL, norm, fd);
	snprintf(dev->cdev, sizeof(dev->cdev), "%s", path);
	return 0;
}

void vfio_dev_close(struct vfio_dev *dev)
{
	if (!dev->ops)
		return;
	if (dev->ops->close)
		dev->ops->close(dev);
	dev->ops = NULL;
	dev->fd = -1;
	dev->bound = dev->attached = dev->cfg_valid = false;
}

int vfio_dev_bind(struct vfio_dev *dev, int iommufd)
{
	int rc = dev->ops->bind_iommufd(dev, iommufd, &dev->dev_id);

	if (rc)
		return failh(dev, rc,
			     rc == -EBUSY ? "device in use through its legacy VFIO group" :
			     rc == -EINVAL ? "already bound: is the device in use by another VMM or process?" : NULL,
			     "VFIO_DEVICE_BIND_IOMMUFD (iommufd fd %d)", iommufd);
	dev->bound = true;
	return 0;
}

static int attach(struct vfio_dev *dev, u32 pt_id, enum fail_report how)
{
	u32 pt = pt_id;
	int rc = dev->ops->attach_pt(dev, &pt);

	if (rc)
		return failq(dev, how, rc, NULL, "VFIO_DEVICE_ATTACH_IOMMUFD_PT (dev %u, pt %u%s)", dev->dev_id,
			     pt_id, dev->attached ? ", replacing the current one" : "");
	dev->attached = true;
	dev->pt_id = pt;
	return 0;
}

int vfio_dev_attach(struct vfio_dev *dev, u32 pt_id, enum fail_report how)
{
	return attach(dev, pt_id, how);
}


int vfio_dev_detach(struct vfio_dev *dev)
{
	int rc = dev->ops->detach_pt(dev);

	if (rc)
		return fail(dev, rc, "VFIO_DEVICE_DETACH_IOMMUFD_PT (dev %u, pt %u)", dev->dev_id, dev->pt_id);
	dev->attached = false;
	dev->pt_id = 0;
	return 0;
}

int vfio_dev_get_info(struct vfio_dev *dev, struct vfio_device_info *info)
{
	int rc;

	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	rc = dev->ops->get_info(dev, info);
	if (rc)
		return fail(dev, rc, "VFIO_DEVICE_GET_INFO");
	return 0;
}

/* ---- regions ---- */

int vfio_parse_region_info(const void *buf, size_t buflen, struct vfio_region *out, char *err, size_t errlen)
{
	const unsigned char *b = buf;
	struct vfio_region_info info;
	size_t end, off, prev = 0;

	if (buflen < sizeof(info)) {
		snprintf(err, errlen, "region info reply of %zu bytes is shorter than its header", buflen);
		return -EPROTO;
	}
	memcpy(&info, b, sizeof(info));
	memset(out, 0, sizeof(*out));
	out->index = info.index;
	out->flags = info.flags;
	out->size = info.size;
	out->offset = info.offset;
	if (!(info.flags & VFIO_REGION_INFO_FLAG_CAPS) || !info.cap_offset)
		return 0;
	end = info.argsz < buflen ? info.argsz : buflen;
	for (off = info.cap_offset; off; ) {
		struct vfio_info_cap_header h;

		if (off <= prev || off < sizeof(info) || off > end || end - off < sizeof(h)) {
			snprintf(err, errlen, "region %u: capability at offset %zu is outside the reply or loops",
				 info.index, off);
			return -EPROTO;
		}
		memcpy(&h, b + off, sizeof(h));
		if (h.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
			struct vfio_region_info_cap_sparse_mmap sp;
			size_t need;

			if (end - off < sizeof(sp)) {
				snprintf(err, errlen, "region %u: sparse mmap capability truncated", info.index);
				return -EPROTO;
			}
			memcpy(&sp, b + off, sizeof(sp));
			need = sizeof(sp) + (size_t)sp.nr_areas * sizeof(struct vfio_region_sparse_mmap_area);
			if (end - off < need) {
				snprintf(err, errlen, "region %u: sparse mmap capability with %u areas truncated",
					 info.index, sp.nr_areas);
				return -EPROTO;
			}
			out->sparse = true;
			out->nr_areas = sp.nr_areas < VFIO_DEV_MAX_SPARSE ? sp.nr_areas : VFIO_DEV_MAX_SPARSE;
			/* Areas beyond our table are simply not mmapped (accesses there are trapped): safe. */
			memcpy(out->areas, b + off + sizeof(sp), out->nr_areas * sizeof(out->areas[0]));
		} else if (h.id == VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) {
			out->msix_mappable = true;
		}
		prev = off;
		off = h.next;
	}
	return 0;
}

int vfio_dev_region_info(struct vfio_dev *dev, u32 index, struct vfio_region *out)
{
	u32 len = sizeof(struct vfio_region_info) + 256;
	struct vfio_region_info *info = NULL;
	char why[160];
	int rc;

	for (int tries = 0; tries < 3; tries++) {
		struct vfio_region_info *n = realloc(info, len);

		if (!n) {
			rc = -ENOMEM;
			goto out_fail;
		}
		info = n;
		memset(info, 0, len);
		info->argsz = len;
		info->index = index;
		rc = dev->ops->get_region_info(dev, info, len);
		if (rc)
			goto out_fail;
		if (info->argsz <= len)
			break;
		len = info->argsz; /* the capability chain needs more room */
	}
	if (info->argsz > len) {
		rc = -EMSGSIZE;
		goto out_fail;
	}
	rc = vfio_parse_region_info(info, len, out, why, sizeof(why));
	free(info);
	if (rc)
		return fail(dev, rc, "VFIO_DEVICE_GET_REGION_INFO region %u: %s", index, why);
	return 0;
out_fail:
	free(info);
	return fail(dev, rc, "VFIO_DEVICE_GET_REGION_INFO region %u", index);
}

bool vfio_region_can_mmap(const struct vfio_region *r, u64 off, u64 len)
{
	if (!(r->flags & VFIO_REGION_INFO_FLAG_MMAP) || !len || off > r->size || len > r->size - off)
		return false;
	if (!r->sparse)
		return true;
	for (u32 i = 0; i < r->nr_areas; i++) {
		const struct vfio_region_sparse_mmap_area *a = &r->areas[i];

		if (off >= a->offset && off - a->offset <= a->size && len <= a->size - (off - a->offset))
			return true;
	}
	return false;
}

static int region_check(struct vfio_dev *dev, enum fail_report how, const struct vfio_region *r, u64 off, size_t len,
			u32 need, const char *op)
{
	if (!(r->flags & need))
		return failq(dev, how, -EACCES, NULL, "region %u %s: region does not allow it", r->index, op);
	if (off > r->size || len > r->size - off)
		return failq(dev, how, -ERANGE, NULL,
			     "region %u %s at 0x%llx length %zu: outside the region (size 0x%llx)", r->index, op,
			     (unsigned long long)off, len, (unsigned long long)r->size);
	return 0;
}

/* Read (buf) or write (wbuf) [off, off+len) of a region: the full length or a failure line. */
static int region_rw(struct vfio_dev *dev, enum fail_report how, const struct vfio_region *r, u64 off, void *buf,
		     const void *wbuf, size_t len)
{
	const char *op = wbuf ? "write" : "read";
	ssize_t n;
	int rc = region_check(dev, how, r, off, len, wbuf ? VFIO_REGION_INFO_FLAG_WRITE : VFIO_REGION_INFO_FLAG_READ,
			      op);

	if (rc)
		return rc;
	n = wbuf ? dev->ops->pwrite(dev, wbuf, len, r->offset + off) : dev->ops->pread(dev, buf, len, r->offset + off);
	if (n < 0)
		return failq(dev, how, (int)n, NULL, "region %u %s at 0x%llx length %zu", r->index, op,
			     (unsigned long long)off, len);
	if ((size_t)n != len)
		return failq(dev, how, -EIO, NULL, "region %u %s at 0x%llx: short (%zd of %zu bytes)", r->index, op,
			     (unsigned long long)off, n, len);
	return 0;
}

int vfio_dev_region_read(struct vfio_dev *dev, const struct vfio_region *r, u64 off, void *buf, size_t len)
{
	return region_rw(dev, FAIL_PRINT, r, off, buf, NULL, len);
}

int vfio_dev_region_write(struct vfio_dev *dev, const struct vfio_region *r, u64 off, const void *buf, size_t len)
{
	return region_rw(dev, FAIL_PRINT, r, off, NULL, buf, len);
}

static int cfg_region(struct vfio_dev *dev)
{
	int rc;

	if (dev->cfg_valid)
		return 0;
	rc = vfio_dev_region_info(dev, VFIO_PCI_CONFIG_REGION_INDEX, &dev->cfg);
	if (!rc)
		dev->cfg_valid = true;
	return rc;
}

static int cfg_read(struct vfio_dev *dev, enum fail_report how, u32 off, u32 len, u32 *val)
{
	u8 b[4] = { 0 };
	int rc;

	if (len != 1 && len != 2 && len != 4)
		return failq(dev, how, -EINVAL, NULL, "config read at 0x%x: bad size %u", off, len);
	rc = cfg_region(dev);
	if (!rc)
		rc = region_rw(dev, how, &dev->cfg, off, b, NULL, len);
	if (rc)
		return rc;
	*val = (u32)b[0] | (u32)b[1] << 8 | (u32)b[2] << 16 | (u32)b[3] << 24;
	return 0;
}

static int cfg_write(struct vfio_dev *dev, enum fail_report how, u32 off, u32 len, u32 val)
{
	u8 b[4] = { (u8)val, (u8)(val >> 8), (u8)(val >> 16), (u8)(val >> 24) };
	int rc;

	if (len != 1 && len != 2 && len != 4)
		return failq(dev, how, -EINVAL, NULL, "config write at 0x%x: bad size %u", off, len);
	rc = cfg_region(dev);
	if (rc)
		return rc;
	return region_rw(dev, how, &dev->cfg, off, NULL, b, len);
}

int vfio_dev_cfg_read(struct vfio_dev *dev, u32 off, u32 len, u32 *val, enum fail_report how)
{
	return cfg_read(dev, how, off, len, val);
}

int vfio_dev_cfg_write(struct vfio_dev *dev, u32 off, u32 len, u32 val, enum fail_report how)
{
	return cfg_write(dev, how, off, len, val);
}



int vfio_dev_region_mmap(struct vfio_dev *dev, const struct vfio_region *r, u64 off, size_t len, int prot, void **out)
{
	int rc;

	if (!vfio_region_can_mmap(r, off, len))
		return fail(dev, -EPERM, "region %u mmap 0x%llx length 0x%zx: not an mmappable part of the region",
			    r->index, (unsigned long long)off, len);
	rc = dev->ops->mmap(dev, r->offset + off, len, prot, out);
	if (rc)
		return fail(dev, rc, "region %u mmap 0x%llx length 0x%zx", r->index, (unsigned long long)off, len);
	return 0;
}

int vfio_dev_region_munmap(struct vfio_dev *dev, void *addr, size_t len)
{
	int rc = dev->ops->munmap(dev, addr, len);

	if (rc)
		return fail(dev, rc, "munmap %p length 0x%zx", addr, len);
	return 0;
}

/* ---- interrupts ---- */

static const char *irq_name(u32 index)
{
	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX: return "INTx";
	case VFIO_PCI_MSI_IRQ_INDEX: return "MSI";
	case VFIO_PCI_MSIX_IRQ_INDEX: return "MSI-X";
	case VFIO_PCI_ERR_IRQ_INDEX: return "ERR";
	case VFIO_PCI_REQ_IRQ_INDEX: return "REQ";
	default: return "irq";
	}
}

int vfio_dev_irq_info(struct vfio_dev *dev, u32 index, struct vfio_irq_info *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	out->argsz = sizeof(*out);
	out->index = index;
	rc = dev->ops->get_irq_info(dev, out);
	if (rc)
		return fail(dev, rc, "VFIO_DEVICE_GET_IRQ_INFO %s (index %u)", irq_name(index), index);
	return 0;
}

static int set_irqs(struct vfio_dev *dev, enum fail_report how, u32 flags, u32 index, u32 start, u32 count,
		    const void *data, size_t dlen, const char *what)
{
	struct vfio_irq_set *s;
	int rc;

	s = calloc(1, sizeof(*s) + dlen);
	if (!s)
		return failq(dev, how, -ENOMEM, NULL, "VFIO_DEVICE_SET_IRQS %s %s", irq_name(index), what);
	s->argsz = (u32)(sizeof(*s) + dlen);
	s->flags = flags;
	s->index = index;
	s->start = start;
	s->count = count;
	if (dlen)
		memcpy(s->data, data, dlen);
	rc = dev->ops->set_irqs(dev, s);
	free(s);
	if (rc)
		return failq(dev, how, rc, NULL, "VFIO_DEVICE_SET_IRQS %s %s (vectors %u..%u)", irq_name(index), what,
			     start, count ? start + count - 1 : start);
	return 0;
}

static int set_eventfds(struct vfio_dev *dev, enum fail_report how, u32 index, u32 start, u32 count, const int *fds)
{
	if (!count || count > 4096)
		return failq(dev, how, -EINVAL, NULL, "VFIO_DEVICE_SET_IRQS %s: bad vector count %u", irq_name(index),
			     count);
	return set_irqs(dev, how, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index, start, count, fds,
			(size_t)count * sizeof(int32_t), "trigger eventfds");
}

static int irq_disable(struct vfio_dev *dev, enum fail_report how, u32 index)
{
	return set_irqs(dev, how, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 0, NULL, 0,
			"disable");
}

static int unmask_eventfd(struct vfio_dev *dev, enum fail_report how, u32 index, u32 vector, int fd)
{
	int32_t v = fd;

	return set_irqs(dev, how, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, index, vector, 1, &v,
			sizeof(v), "unmask eventfd");
}

int vfio_dev_irq_set_eventfds(struct vfio_dev *dev, u32 index, u32 start, u32 count, const int *fds,
			      enum fail_report how)
{
	return set_eventfds(dev, how, index, start, count, fds);
}


int vfio_dev_irq_disable(struct vfio_dev *dev, u32 index, enum fail_report how)
{
	return irq_disable(dev, how, index);
}


int vfio_dev_irq_mask(struct vfio_dev *dev, u32 index, u32 vector, bool mask)
{
	return set_irqs(dev, FAIL_PRINT,
			VFIO_IRQ_SET_DATA_NONE | (mask ? VFIO_IRQ_SET_ACTION_MASK : VFIO_IRQ_SET_ACTION_UNMASK), index,
			vector, 1, NULL, 0, mask ? "mask" : "unmask");
}

int vfio_dev_irq_unmask_eventfd(struct vfio_dev *dev, u32 index, u32 vector, int fd, enum fail_report how)
{
	return unmask_eventfd(dev, how, index, vector, fd);
}


static int reset(struct vfio_dev *dev, enum fail_report how)
{
	int rc = dev->ops->reset(dev);

	if (rc)
		return failq(dev, how, rc, NULL, "VFIO_DEVICE_RESET");
	return 0;
}

int vfio_dev_reset(struct vfio_dev *dev, enum fail_report how)
{
	return reset(dev, how);
}

