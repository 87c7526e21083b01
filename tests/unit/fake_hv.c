/* fake_hv.c: the recording fake hypervisor used by device unit tests (see fake_hv.h). */
#include <errno.h>
#include <string.h>
#include "tests/unit/fake_hv.h"

static struct fake_hv_call *record(struct fake_hv *f, enum fake_hv_op op)
{
	struct fake_hv_call *c = f->ncalls < FAKE_HV_MAX_CALLS ? &f->calls[f->ncalls] : &f->overflow;

	f->ncalls++;
	memset(c, 0, sizeof(*c));
	c->op = op;
	c->eventfd = c->resamplefd = c->handle = -1;
	return c;
}

static int take_fail(int *fail)
{
	int r = *fail;

	*fail = 0;
	return r;
}

static int fake_mem_map(struct hv *hv, u64 gpa, u64 size, void *host, bool readonly)
{
	struct fake_hv *f = to_fake_hv(hv);
	struct fake_hv_call *c = record(f, FAKE_MEM_MAP);

	c->gpa = gpa;
	c->size = size;
	c->host = host;
	c->readonly = readonly;
	c->ret = take_fail(&f->fail_mem_map);
	if (c->ret)
		return c->ret;
	for (unsigned int i = 0; i < FAKE_HV_MAX_MAPS; i++) {
		struct fake_hv_map *m = &f->maps[i];

		if (m->used && gpa < m->gpa + m->size && m->gpa < gpa + size)
			return c->ret = -EEXIST;
	}
	for (unsigned int i = 0; i < FAKE_HV_MAX_MAPS; i++) {
		if (!f->maps[i].used) {
			f->maps[i] = (struct fake_hv_map){ true, gpa, size, host, readonly };
			return 0;
		}
	}
	return c->ret = -ENOSPC;
}

static int fake_mem_unmap(struct hv *hv, u64 gpa)
{
	struct fake_hv *f = to_fake_hv(hv);
	struct fake_hv_call *c = record(f, FAKE_MEM_UNMAP);

	c->gpa = gpa;
	c->ret = take_fail(&f->fail_mem_unmap);
	if (c->ret)
		return c->ret;
	for (unsigned int i = 0; i < FAKE_HV_MAX_MAPS; i++) {
		if (f->maps[i].used && f->maps[i].gpa == gpa) {
			f->maps[i].used = false;
			return 0;
		}
	}
	return c->ret = -ENOENT;
}

static int fake_irq_line(struct hv *hv, u32 spi, bool level)
{
	struct fake_hv *f = to_fake_hv(hv);
	struct fake_hv_call *c = record(f, FAKE_IRQ_LINE);

	c->spi = spi;
	c->level = level;
	c->ret = take_fail(&f->fail_irq_line);
	if (c->ret)
		return c->ret;
	if (spi >= FAKE_HV_MAX_SPIS)
		return c->ret = -EINVAL;
	if (level && !f->spi_level[spi])
		f->spi_raises[spi]++;
	f->spi_level[spi] = level;
	return 0;
}

static int fake_signal_msi(struct hv *hv, u64 addr, u32 data, u32 devid)
{
	struct fake_hv *f = to_fake_hv(hv);
	struct fake_hv_call *c = record(f, FAKE_SIGNAL_MSI);

	c->addr = addr;
	c->data = data;
	c->devid = devid;
	return c->ret = take_fail(&f->fail_signal_msi);
}

static int new_irqfd(struct fake_hv *f, const struct fake_hv_irqfd *r)
{
	for (unsigned int i = 0; i < FAKE_HV_MAX_IRQFDS; i++) {
		if (f->irqfds[i].used && f->irqfds[i].eventfd == r->eventfd)
			return -EBUSY;
	}
	for (unsigned int i = 0; i < FAKE_HV_MAX_IRQFDS; i++) {
		if (!f->irqfds[i].used) {
			f->irqfds[i] = *r;
			f->irqfds[i].used = true;
			return (int)i;
		}
	}
	return -ENOSPC;
}

static int fake_irqfd_msi(struct hv *hv, int eventfd, u64 addr, u32 data, u32 devid)
{
	struct fake_hv *f = to_fake_hv(hv);
	struct fake_hv_call *c = record(f, FAKE_IRQFD_MSI);

	c->eventfd = eventfd;
	c->addr = addr;
	c->data = data;
	c->devid = devid;
	c->ret = take_fail(&f->fail_irqfd_msi);
	if (c->ret)
		return c->ret;
	c->ret = new_irqfd(f, &(struct fake_hv_irqfd){ .msi = true, .eventfd = eventfd, .resamplefd = -1,
						       .addr = addr, .data = data, .devid = devid });
	c->handle = c->ret;
	return c->ret;
}

static int fake_irqfd_spi(struct hv *hv, int eventfd, int resamplefd, u32 spi)
{
	struct fake_hv *f = to_fake_hv(hv);
	struct fake_hv_call *c = record(f, FAKE_IRQFD_SPI);

	c->eventfd = eventfd;
	c->resamplefd = resamplefd;
	c->spi = spi;
	c->ret = take_fail(&f->fail_irqfd_spi);
	if (c->ret)
		return c->ret;
	c->ret = new_irqfd(f, &(struct fake_hv_irqfd){ .eventfd = eventfd, .resamplefd = resamplefd, .spi = spi });
	c->handle = c->ret;
	return c->ret;
}

static int fake_irqfd_release(struct hv *hv, int handle)
{
	struct fake_hv *f = to_fake_hv(hv);
	struct fake_hv_call *c = record(f, FAKE_IRQFD_RELEASE);

	c->handle = handle;
	c->ret = take_fail(&f->fail_irqfd_release);
	if (c->ret)
		return c->ret;
	if (handle < 0 || handle >= FAKE_HV_MAX_IRQFDS || !f->irqfds[handle].used)
		return c->ret = -ENOENT;
	f->irqfds[handle].used = false;
	return 0;
}

static int fake_irqfd_batch(struct hv *hv, bool begin)
{
	struct fake_hv *f = to_fake_hv(hv);
	struct fake_hv_call *c = record(f, FAKE_IRQFD_BATCH);

	c->level = begin;
	if (!begin && !f->batch_depth)
		return c->ret = -EINVAL; /* an end without a begin is a caller bug */
	f->batch_depth += begin ? 1 : -1;
	c->ret = begin ? 0 : take_fail(&f->fail_irqfd_batch);
	return c->ret;
}

static const struct hv_ops fake_hv_ops = {
	.mem_map = fake_mem_map,
	.mem_unmap = fake_mem_unmap,
	.irq_line = fake_irq_line,
	.signal_msi = fake_signal_msi,
	.irqfd_msi = fake_irqfd_msi,
	.irqfd_spi = fake_irqfd_spi,
	.irqfd_release = fake_irqfd_release,
	.irqfd_batch = fake_irqfd_batch,
};

void fake_hv_init(struct fake_hv *f)
{
	memset(f, 0, sizeof(*f));
	f->hv.ops = &fake_hv_ops;
}

unsigned int fake_hv_count(const struct fake_hv *f, enum fake_hv_op op)
{
	unsigned int n = 0, lim = f->ncalls < FAKE_HV_MAX_CALLS ? f->ncalls : FAKE_HV_MAX_CALLS;

	for (unsigned int i = 0; i < lim; i++)
		n += f->calls[i].op == op;
	return n;
}

const struct fake_hv_call *fake_hv_last(const struct fake_hv *f, enum fake_hv_op op)
{
	unsigned int lim = f->ncalls < FAKE_HV_MAX_CALLS ? f->ncalls : FAKE_HV_MAX_CALLS;

	for (unsigned int i = lim; i-- > 0;)
		if (f->calls[i].op == op)
			return &f->calls[i];
	return NULL;
}
