/* fake_vfio.c: the fake VFIO cdev device backend (see fake_vfio.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "iommu/smmuv3_regs.h"
#include "tests/unit/fake_iommufd.h"
#include "tests/unit/fake_vfio.h"

static struct fake_vfio *F(struct vfio_dev *dev)
{
	return dev->priv;
}

static int take(int *fail)
{
	int rc = *fail;

	*fail = 0;
	return rc;
}

static void mirror_attach(struct fake_vfio *f)
{
	if (f->iommufd && f->dev_id < FAKE_IOMMUFD_MAX_DEVS)
		f->iommufd->attached[f->dev_id] = f->attached_pt;
}

static int f_bind(struct vfio_dev *dev, int iommufd, u32 *out)
{
	struct fake_vfio *f = F(dev);
	int rc = take(&f->fail_bind);

	if (rc)
		return rc;
	if (f->bound)
		return -EINVAL; /* one device cannot be bound twice */
	f->bound = true;
	f->dev_id = f->next_dev_id;
	*out = f->dev_id;
	return 0;
}

/* What the kernel checks before attaching f's device to pt (only with a linked fake_iommufd; read from its
 * tables, so the fake needs no fake_iommufd code at link time). */
static int attach_rule(const struct fake_vfio *f, u32 pt)
{
	const struct fake_iommufd *fi = f->iommufd;
	const struct fake_iommufd_obj *o;

	if (!fi)
		return 0;
	if (!pt || pt >= FAKE_IOMMUFD_MAX_OBJS || !fi->objs[pt].live)
		return -ENOENT;
	o = &fi->objs[pt];
	switch (o->type) {
	case IOMMUFD_OBJ_IOAS:
	case IOMMUFD_OBJ_HWPT_PAGING:
		return 0;
	case IOMMUFD_OBJ_HWPT_NESTED:
		break;
	default:
		return -EINVAL; /* not something a device attaches to */
	}
	if (!(o->ste[0] & STE_0_V) || FIELD_GET(STE_0_CFG, o->ste[0]) != STE_CFG_S1_TRANS)
		return 0; /* abort / bypass: no vSID needed */
	for (u32 i = 1; i < fi->next_id && i < FAKE_IOMMUFD_MAX_OBJS; i++) {
		const struct fake_iommufd_obj *v = &fi->objs[i];

		if (v->live && v->type == IOMMUFD_OBJ_VDEVICE && v->parent == o->parent && v->dev_id == f->dev_id)
			return 0;
	}
	return -EINVAL; /* the kernel: iommufd_viommu_get_vdev_id() fails, the attach is refused */
}

static int f_attach(struct vfio_dev *dev, u32 *pt)
{
	struct fake_vfio *f = F(dev);
	int rc = f->fail_attach_n ? f->fail_attach : take(&f->fail_attach);

	if (f->fail_attach_n && !--f->fail_attach_n)
		f->fail_attach = 0;
	f->attach_calls++;
	if (rc)
		return rc;
	if (!f->bound)
		return -EINVAL;
	rc = attach_rule(f, *pt);
	if (rc)
		return rc;
	f->attached_pt = *pt;
	mirror_attach(f);
	return 0;
}

static int f_detach(struct vfio_dev *dev)
{
	struct fake_vfio *f = F(dev);
	int rc = take(&f->fail_detach);

	f->detach_calls++;
	if (rc)
		return rc;
	if (!f->bound)
		return -EINVAL;
	f->attached_pt = 0;
	mirror_attach(f);
	return 0;
}

static int f_get_info(struct vfio_dev *dev, struct vfio_device_info *info)
{
	struct fake_vfio *f = F(dev);
	int rc = take(&f->fail_get_info);

	if (rc)
		return rc;
	if (!f->bound)
		return -EINVAL;
	info->flags = f->info_flags;
	info->num_regions = FAKE_VFIO_NR_REGIONS;
	info->num_irqs = FAKE_VFIO_NR_IRQS;
	return 0;
}

static int f_region_info(struct vfio_dev *dev, struct vfio_region_info *buf, u32 buflen)
{
	struct fake_vfio *f = F(dev);
	struct fake_vfio_region *r;
	u8 chain[1024];
	u32 clen = 0, prev_next = 0; /* offset (within chain) of the previous header's next field + 1 */
	int rc = take(&f->fail_region_info);

	f->region_info_calls++;
	if (rc)
		return rc;
	if (!f->bound || buf->index >= FAKE_VFIO_NR_REGIONS)
		return -EINVAL;
	r = &f->regions[buf->index];
	buf->flags = r->flags;
	buf->size = r->size;
	buf->offset = (u64)buf->index << FAKE_VFIO_REGION_SHIFT;
	buf->cap_offset = 0;

	/* Build the chain; "next" offsets are relative to the start of the info buffer. */
#define LINK(at)                                                                          \
	do {                                                                              \
		if (prev_next) {                                                          \
			u32 nx = (u32)sizeof(*buf) + (at);                                \
			memcpy(chain + prev_next - 1, &nx, 4);                            \
		}                                                                         \
		prev_next = (at) + offsetof(struct vfio_info_cap_header, next) + 1;      \
	} while (0)
	if (r->sparse) {
		struct vfio_region_info_cap_sparse_mmap sp = {
			.header = { .id = VFIO_REGION_INFO_CAP_SPARSE_MMAP, .version = 1 },
			.nr_areas = r->nr_areas,
		};
		LINK(clen);
		memcpy(chain + clen, &sp, sizeof(sp));
		memcpy(chain + clen + sizeof(sp), r->areas, r->nr_areas * sizeof(r->areas[0]));
		clen += (u32)(sizeof(sp) + r->nr_areas * sizeof(r->areas[0]));
	}
	if (f->extra_cap_len >= sizeof(struct vfio_info_cap_header) && f->extra_cap_len <= 512 && (r->sparse || r->msix_mappable)) {
		struct vfio_info_cap_header h = { .id = 0x7f, .version = 1 };

		LINK(clen);
		memset(chain + clen, 0xee, f->extra_cap_len);
		memcpy(chain + clen, &h, sizeof(h));
		clen += f->extra_cap_len;
	}
	if (r->msix_mappable) {
		struct vfio_info_cap_header h = { .id = VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, .version = 1 };

		LINK(clen);
		memcpy(chain + clen, &h, sizeof(h));
		clen += sizeof(h);
	}
#undef LINK
	if (!clen) {
		buf->argsz = sizeof(*buf);
		return 0;
	}
	buf->flags |= VFIO_REGION_INFO_FLAG_CAPS;
	if (buflen < sizeof(*buf) + clen) {
		buf->argsz = (u32)sizeof(*buf) + clen; /* too small: say how much, no chain */
		return 0;
	}
	buf->argsz = (u32)sizeof(*buf) + clen;
	buf->cap_offset = sizeof(*buf);
	memcpy((u8 *)buf + sizeof(*buf), chain, clen);
	return 0;
}

static int f_irq_info(struct vfio_dev *dev, struct vfio_irq_info *info)
{
	struct fake_vfio *f = F(dev);
	int rc = take(&f->fail_irq_info);

	if (rc)
		return rc;
	if (!f->bound || info->index >= FAKE_VFIO_NR_IRQS)
		return -EINVAL;
	info->flags = f->irqs[info->index].flags;
	info->count = f->irqs[info->index].count;
	return 0;
}

static int f_set_irqs(struct vfio_dev *dev, const struct vfio_irq_set *s)
{
	struct fake_vfio *f = F(dev);
	u32 data = s->flags & VFIO_IRQ_SET_DATA_TYPE_MASK, action = s->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	int rc = take(&f->fail_set_irqs);

	if (rc)
		return rc;
	if (!f->bound || s->index >= FAKE_VFIO_NR_IRQS || __builtin_popcount(data) != 1 ||
	    __builtin_popcount(action) != 1)
		return -EINVAL;
	if (s->start + s->count > f->irqs[s->index].count || s->start + s->count > FAKE_VFIO_MAX_VECTORS ||
	    (s->count == 0 && !(data == VFIO_IRQ_SET_DATA_NONE && action == VFIO_IRQ_SET_ACTION_TRIGGER)))
		return -EINVAL;
	if (data == VFIO_IRQ_SET_DATA_EVENTFD && s->argsz < sizeof(*s) + s->count * sizeof(int32_t))
		return -EINVAL;
	if (f->nr_irq_calls < FAKE_VFIO_MAX_IRQ_CALLS) {
		struct fake_vfio_irq_call *c = &f->irq_calls[f->nr_irq_calls];

		*c = (struct fake_vfio_irq_call){ s->flags, s->index, s->start, s->count, { 0 } };
		for (u32 i = 0; data == VFIO_IRQ_SET_DATA_EVENTFD && i < s->count && i < 8; i++)
			memcpy(&c->fds[i], s->data + 4 * i, 4);
	}
	f->nr_irq_calls++;
	if (action == VFIO_IRQ_SET_ACTION_TRIGGER && data == VFIO_IRQ_SET_DATA_NONE && s->count == 0) {
		f->enabled[s->index] = false;
		for (int v = 0; v < FAKE_VFIO_MAX_VECTORS; v++)
			f->trigger_fd[s->index][v] = -1;
		return 0;
	}
	for (u32 i = 0; i < s->count; i++) {
		u32 v = s->start + i;
		int32_t fd = -1;

		if (data == VFIO_IRQ_SET_DATA_EVENTFD)
			memcpy(&fd, s->data + 4 * i, 4);
		if (action == VFIO_IRQ_SET_ACTION_TRIGGER && data == VFIO_IRQ_SET_DATA_EVENTFD) {
			f->trigger_fd[s->index][v] = fd;
			f->enabled[s->index] = true;
		} else if (action == VFIO_IRQ_SET_ACTION_MASK) {
			f->masked[s->index][v] = true;
		} else if (action == VFIO_IRQ_SET_ACTION_UNMASK && data == VFIO_IRQ_SET_DATA_EVENTFD) {
			f->unmask_fd[s->index][v] = fd;
		} else if (action == VFIO_IRQ_SET_ACTION_UNMASK) {
			f->masked[s->index][v] = false;
		}
	}
	return 0;
}

static int f_reset(struct vfio_dev *dev)
{
	struct fake_vfio *f = F(dev);
	int rc = take(&f->fail_reset);

	if (rc)
		return rc;
	f->resets++;
	return 0;
}

/* The region and offset inside it for an fd offset, or NULL if out of range. */
static u8 *locate(struct fake_vfio *f, u64 fd_off, size_t len, u32 need)
{
	u64 idx = fd_off >> FAKE_VFIO_REGION_SHIFT, off = fd_off & ((1ULL << FAKE_VFIO_REGION_SHIFT) - 1);
	struct fake_vfio_region *r;

	if (idx >= FAKE_VFIO_NR_REGIONS)
		return NULL;
	r = &f->regions[idx];
	if (!r->data || !(r->flags & need) || off > r->size || len > r->size - off)
		return NULL;
	return r->data + off;
}

static ssize_t f_pread(struct vfio_dev *dev, void *buf, size_t len, u64 fd_off)
{
	struct fake_vfio *f = F(dev);
	int rc = take(&f->fail_pread);
	u8 *p;

	if (rc)
		return rc;
	p = locate(f, fd_off, len, VFIO_REGION_INFO_FLAG_READ);
	if (!f->bound || !p)
		return -EINVAL;
	memcpy(buf, p, len);
	return (ssize_t)len;
}

static ssize_t f_pwrite(struct vfio_dev *dev, const void *buf, size_t len, u64 fd_off)
{
	struct fake_vfio *f = F(dev);
	int rc = take(&f->fail_pwrite);
	u8 *p;

	if (rc)
		return rc;
	p = locate(f, fd_off, len, VFIO_REGION_INFO_FLAG_WRITE);
	if (!f->bound || !p)
		return -EINVAL;
	memcpy(p, buf, len);
	return (ssize_t)len;
}

static int f_mmap(struct vfio_dev *dev, u64 fd_off, size_t len, int prot, void **out)
{
	struct fake_vfio *f = F(dev);
	int rc = take(&f->fail_mmap);
	u8 *p;

	if (rc)
		return rc;
	p = locate(f, fd_off, len, VFIO_REGION_INFO_FLAG_MMAP);
	if (!f->bound || !p)
		return -EINVAL;
	*out = p;
	f->live_mmaps++;
	return 0;
}

static int f_munmap(struct vfio_dev *dev, void *addr, size_t len)
{
	F(dev)->live_mmaps--;
	return 0;
}

static void f_close(struct vfio_dev *dev)
{
	struct fake_vfio *f = F(dev);

	/* Closing the cdev unbinds and detaches. */
	f->closed = true;
	f->bound = false;
	f->attached_pt = 0;
	mirror_attach(f);
}

static const struct vfio_dev_ops fake_ops = {
	.name = "fake",
	.bind_iommufd = f_bind,
	.attach_pt = f_attach,
	.detach_pt = f_detach,
	.get_info = f_get_info,
	.get_region_info = f_region_info,
	.get_irq_info = f_irq_info,
	.set_irqs = f_set_irqs,
	.reset = f_reset,
	.pread = f_pread,
	.pwrite = f_pwrite,
	.mmap = f_mmap,
	.munmap = f_munmap,
	.close = f_close,
};

int fake_vfio_set_region(struct fake_vfio *f, u32 index, u64 size, u32 flags)
{
	struct fake_vfio_region *r;
	u8 *d = NULL;

	if (index >= FAKE_VFIO_NR_REGIONS)
		return -EINVAL;
	if (size && !(d = calloc(1, size)))
		return -ENOMEM;
	r = &f->regions[index];
	free(r->data);
	memset(r, 0, sizeof(*r));
	r->data = d;
	r->size = size;
	r->flags = flags;
	return 0;
}

void fake_vfio_init(struct fake_vfio *f)
{
	memset(f, 0, sizeof(*f));
	f->info_flags = VFIO_DEVICE_FLAGS_RESET | VFIO_DEVICE_FLAGS_PCI;
	f->next_dev_id = 1;
	for (int i = 0; i < FAKE_VFIO_NR_IRQS; i++) {
		f->irqs[i].index = (u32)i;
		for (int v = 0; v < FAKE_VFIO_MAX_VECTORS; v++)
			f->trigger_fd[i][v] = f->unmask_fd[i][v] = -1;
	}
	(void)fake_vfio_set_region(f, VFIO_PCI_CONFIG_REGION_INDEX, 256,
				   VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);
}

void fake_vfio_open(struct fake_vfio *f, struct vfio_dev *dev, const char *bdf)
{
	vfio_dev_init(dev, &fake_ops, f, bdf, -1);
}

void fake_vfio_release(struct fake_vfio *f)
{
	for (int i = 0; i < FAKE_VFIO_NR_REGIONS; i++) {
		free(f->regions[i].data);
		f->regions[i].data = NULL;
	}
}
