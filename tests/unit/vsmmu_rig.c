/* vsmmu_rig.c: the vSMMU test rig (see vsmmu_rig.h): fakes and devices, MMIO accessors, the guest driver's
 * steps (CR0, GBPA, stream table, command queue) and the checks on what the fakes saw. */
#include "tests/unit/rig_assert.h"
#include <endian.h>
#include <fcntl.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include "tests/unit/vsmmu_rig.h"

/* The main loop's side (viommu_config.loop, vmm/loop.h): one fd at a time, as the vSMMU uses it. */
static int rig_watch(void *ctx, int fd, short events, loop_fn fn, void *opaque)
{
	struct vsmmu_rig *r = ctx;

	rig_assert_eq(r->watch_fd, -1, "one vEVENTQ fd watched at a time");
	rig_assert_eq(events, POLLIN, "the vEVENTQ fd is watched for input");
	r->watch_fd = fd;
	r->watch_fn = fn;
	r->watch_opaque = opaque;
	r->watches++;
	return 0;
}

static void rig_unwatch(void *ctx, int fd)
{
	struct vsmmu_rig *r = ctx;

	rig_assert_eq(fd, r->watch_fd, "unwatch of the fd that is watched");
	rig_assert_neq(fcntl(fd, F_GETFD), -1, "fd %d leaves the main loop before it is closed", fd);
	r->watch_fd = -1;
	r->unwatches++;
}

static void rig_sev(void *ctx)
{
	struct vsmmu_rig *r = ctx;

	r->sevs++;
}

void rig_init(struct vsmmu_rig *r, unsigned int ndev)
{
	rig_init_ram(r, ndev, NULL);
}

void rig_init_ram(struct vsmmu_rig *r, unsigned int ndev, void *ram)
{
	rig_assert(ndev >= 1 && ndev <= RIG_MAX_DEV);
	memset(r, 0, sizeof(*r));
	r->up = true;
	fake_iommufd_init(&r->fi);
	r->fi.hw_info.smmu.idr[0] = RIG_HOST_IDR0;
	r->fi.hw_info.smmu.idr[1] = RIG_HOST_IDR1;
	r->fi.hw_info.smmu.idr[3] = RIG_HOST_IDR3;
	r->fi.hw_info.smmu.idr[5] = RIG_HOST_IDR5;
	r->fi.hw_info.smmu.aidr = 1;
	fake_iommufd_attach_ctx(&r->fi, &r->ictx);
	rig_assert_eq(pthread_mutex_init(&r->ictx_lock, NULL), 0);
	fake_hv_init(&r->fh);

	r->mem.gpa = RIG_RAM;
	r->mem.size = RIG_RAM_SIZE;
	r->ram_owned = !ram;
	r->mem.host = ram ? ram : aligned_alloc(SZ_4K, RIG_RAM_SIZE);
	rig_assert_not_null(r->mem.host);
	memset(r->mem.host, 0, RIG_RAM_SIZE);
	rig_assert_eq(iommufd_ioas_alloc(&r->ictx, &r->ioas, FAIL_PRINT), 0);
	rig_assert_eq(iommufd_ioas_map_fixed(&r->ictx, r->ioas, r->mem.host, RIG_RAM_SIZE, RIG_RAM, true), 0);

	r->ndev = ndev;
	r->cfg = (struct viommu_config){
		.name = "vsmmu0",
		.base = RIG_FRAME,
		.spi_evtq = RIG_SPI_EVTQ,
		.spi_gerror = RIG_SPI_GERROR,
		.spi_sync = RIG_SPI_SYNC,
		.msi_devid = RIG_DEVID,
		.msi_doorbell = RIG_DOORBELL,
		.ictx = &r->ictx,
		.ictx_lock = &r->ictx_lock,
		.ioas_id = r->ioas,
		.mem = &r->mem,
		.hv = &r->fh.hv,
		.nstreams = ndev,
		.loop = { .watch = rig_watch, .unwatch = rig_unwatch, .ctx = r },
		.sev = rig_sev,
		.sev_ctx = r,
	};
	r->watch_fd = -1;
	for (unsigned int i = 0; i < ndev; i++) {
		static const char *const names[RIG_MAX_DEV] = { "edu0", "edu1", "edu2", "edu3" };
		static const char *const bdfs[RIG_MAX_DEV] = { "0000:00:01.0", "0000:00:02.0", "0000:00:03.0",
							       "0000:00:04.0" };

		fake_vfio_init(&r->fv[i]);
		r->fv[i].iommufd = &r->fi;
		r->fv[i].next_dev_id = i + 1;
		fake_vfio_open(&r->fv[i], &r->dev[i], bdfs[i]);
		rig_assert_eq(vfio_dev_bind(&r->dev[i], iommufd_fd(&r->ictx)), 0);
		rig_assert_eq(r->dev[i].dev_id, i + 1);
		r->cfg.streams[i] = viommu_vfio_stream(names[i], &r->dev[i], rig_vsid(i));
	}
}

void rig_loop_turn(struct vsmmu_rig *r)
{
	if (r->watch_fd >= 0)
		r->watch_fn(r->watch_opaque, r->watch_fd, POLLIN);
}

u32 rig_veventq(struct vsmmu_rig *r)
{
	rig_assert_geq(r->watch_fd, 0, "no vEVENTQ fd is watched");
	for (u32 id = fake_iommufd_find_live(&r->fi, IOMMUFD_OBJ_VEVENTQ, 1); id;
	     id = fake_iommufd_find_live(&r->fi, IOMMUFD_OBJ_VEVENTQ, id + 1))
		if (r->fi.objs[id].rfd == r->watch_fd)
			return id;
	rig_fail("the watched fd %d is no live vEVENTQ's", r->watch_fd);
	return 0;
}

int rig_create(struct vsmmu_rig *r)
{
	return vsmmu_create(&r->cfg, &r->vs);
}

void rig_up(struct vsmmu_rig *r, unsigned int ndev)
{
	rig_up_ram(r, ndev, NULL);
}

void rig_up_ram(struct vsmmu_rig *r, unsigned int ndev, void *ram)
{
	rig_init_ram(r, ndev, ram);
	rig_assert_eq(rig_create(r), 0);
	rig_assert_not_null(r->vs);
}

void rig_fini(struct vsmmu_rig *r)
{
	if (!r->up)
		return;
	r->up = false;
	vsmmu_destroy(r->vs);
	r->vs = NULL;
	for (unsigned int i = 0; i < r->ndev; i++) {
		vfio_dev_close(&r->dev[i]);
		fake_vfio_release(&r->fv[i]);
	}
	iommufd_close(&r->ictx);
	fake_iommufd_release(&r->fi);
	pthread_mutex_destroy(&r->ictx_lock);
	if (r->ram_owned)
		free(r->mem.host);
	r->mem.host = NULL;
}

void rig_destroy_and_check(struct vsmmu_rig *r)
{
	vsmmu_destroy(r->vs);
	r->vs = NULL;
	for (unsigned int i = 0; i < r->ndev; i++) {
		rig_assert_eq(r->fv[i].attached_pt, 0, "device %u still attached to %u", i, r->fv[i].attached_pt);
		rig_assert_eq(r->fi.attached[r->dev[i].dev_id], 0);
		rig_assert(!r->dev[i].attached);
	}
	rig_assert_eq(rig_live(r, IOMMUFD_OBJ_NR), 1, "only the rig's IOAS is left (%u live)",
		     rig_live(r, IOMMUFD_OBJ_NR));
	rig_assert_eq(rig_live(r, IOMMUFD_OBJ_IOAS), 1);
	rig_assert(r->fi.objs[r->ioas].live);
	/* The iommufd layer's tracker agrees: nothing but the IOAS. */
	rig_assert_eq(r->ictx.nr_objs, 1);
	rig_assert_eq(r->ictx.objs[0].id, r->ioas);
}

/* ---- MMIO ---- */

static struct mmio_region *region(struct vsmmu_rig *r)
{
	struct mmio_region *reg;

	rig_assert_not_null(r->vs);
	reg = vsmmu_region(r->vs);
	rig_assert_eq(reg->base, RIG_FRAME);
	rig_assert_eq(reg->len, SMMU_FRAME_SIZE);
	return reg;
}

static u64 rd(struct vsmmu_rig *r, u64 off, unsigned int size)
{
	struct mmio_region *reg = region(r);

	rig_assert(off + size <= reg->len && !(off & (size - 1)) && (reg->sizes & size));
	return reg->ops->read(reg->opaque, off, size);
}

static void wr(struct vsmmu_rig *r, u64 off, u64 val, unsigned int size)
{
	struct mmio_region *reg = region(r);

	rig_assert(off + size <= reg->len && !(off & (size - 1)) && (reg->sizes & size));
	reg->ops->write(reg->opaque, off, val, size);
}

u32 rig_rd32(struct vsmmu_rig *r, u64 off)
{
	u64 v = rd(r, off, 4);

	rig_assert_eq(v >> 32, 0, "a 32-bit read returned 0x%llx", (unsigned long long)v);
	return (u32)v;
}

u64 rig_rd64(struct vsmmu_rig *r, u64 off)
{
	return rd(r, off, 8);
}

void rig_wr32(struct vsmmu_rig *r, u64 off, u32 val)
{
	wr(r, off, val, 4);
}

void rig_wr64(struct vsmmu_rig *r, u64 off, u64 val)
{
	wr(r, off, val, 8);
}

/* ---- guest memory ---- */

void *rig_ptr(struct vsmmu_rig *r, u64 gpa, u64 len)
{
	void *p = gmem_ptr(&r->mem, gpa, len);

	rig_assert_not_null(p, "0x%llx+0x%llx is not guest RAM", (unsigned long long)gpa, (unsigned long long)len);
	return p;
}

void rig_put64(struct vsmmu_rig *r, u64 gpa, u64 val)
{
	u64 le = htole64(val);

	memcpy(rig_ptr(r, gpa, 8), &le, 8);
}

u64 rig_get64(struct vsmmu_rig *r, u64 gpa)
{
	u64 le;

	memcpy(&le, rig_ptr(r, gpa, 8), 8);
	return le64toh(le);
}

u32 rig_get32(struct vsmmu_rig *r, u64 gpa)
{
	u32 le;

	memcpy(&le, rig_ptr(r, gpa, 4), 4);
	return le32toh(le);
}

/* ---- the guest driver ---- */

void rig_cr0(struct vsmmu_rig *r, u32 bits)
{
	rig_wr32(r, ARM_SMMU_CR0, bits);
	rig_assert_eq(rig_rd32(r, ARM_SMMU_CR0ACK), bits, "CR0ACK follows CR0 = 0x%x", bits);
}

void rig_gbpa(struct vsmmu_rig *r, u32 fields)
{
	rig_assert_eq(rig_rd32(r, ARM_SMMU_GBPA) & GBPA_UPDATE, 0);
	rig_wr32(r, ARM_SMMU_GBPA, fields | GBPA_UPDATE);
	rig_assert_eq(rig_rd32(r, ARM_SMMU_GBPA), fields, "the update completed");
}

void rig_strtab_linear(struct vsmmu_rig *r)
{
	rig_wr64(r, ARM_SMMU_STRTAB_BASE, RIG_STRTAB | STRTAB_BASE_RA);
	rig_wr32(r, ARM_SMMU_STRTAB_BASE_CFG,
		 (u32)(FIELD_PREP(STRTAB_BASE_CFG_FMT, STRTAB_BASE_CFG_FMT_LINEAR) |
		       FIELD_PREP(STRTAB_BASE_CFG_LOG2SIZE, RIG_STRTAB_LOG2)));
}

void rig_ste_at(struct vsmmu_rig *r, u64 gpa, u64 s0, u64 s1)
{
	memset(rig_ptr(r, gpa, STRTAB_STE_SIZE), 0, STRTAB_STE_SIZE);
	rig_put64(r, gpa, s0);
	rig_put64(r, gpa + 8, s1);
}

void rig_ste(struct vsmmu_rig *r, u32 sid, u64 s0, u64 s1)
{
	rig_assert_lt(sid, 1u << RIG_STRTAB_LOG2);
	rig_ste_at(r, RIG_STRTAB + (u64)sid * STRTAB_STE_SIZE, s0, s1);
}

void rig_cmdq_at(struct vsmmu_rig *r, u64 gpa, unsigned int log2)
{
	u32 cr0 = rig_rd32(r, ARM_SMMU_CR0);

	if (cr0 & CR0_CMDQEN) {
		cr0 &= ~CR0_CMDQEN;
		rig_cr0(r, cr0);
	}
	r->cmdq = gpa;
	r->cmdq_log2 = log2;
	r->prod = 0;
	rig_wr64(r, ARM_SMMU_CMDQ_BASE, Q_BASE_RWA | (gpa & Q_BASE_ADDR_MASK) | FIELD_PREP(Q_BASE_LOG2SIZE, log2));
	rig_wr32(r, ARM_SMMU_CMDQ_PROD, 0);
	rig_wr32(r, ARM_SMMU_CMDQ_CONS, 0);
	rig_cr0(r, cr0 | CR0_CMDQEN);
}

void rig_cmdq(struct vsmmu_rig *r, unsigned int log2)
{
	rig_cmdq_at(r, RIG_CMDQ, log2);
}

void rig_cmd_at(struct vsmmu_rig *r, u32 idx, struct rig_cmd c)
{
	u64 gpa = r->cmdq + (u64)(idx & ((1u << r->cmdq_log2) - 1)) * 16;

	rig_put64(r, gpa, c.w[0]);
	rig_put64(r, gpa + 8, c.w[1]);
}

void rig_bypass_up(struct vsmmu_rig *r, unsigned int cmdq_log2)
{
	rig_strtab_linear(r);
	for (unsigned int i = 0; i < r->ndev; i++)
		rig_ste(r, rig_vsid(i), rig_ste_cfg(STE_CFG_BYPASS), 0);
	rig_cr0(r, CR0_SMMUEN);
	rig_cmdq(r, cmdq_log2);
}

u32 rig_push(struct vsmmu_rig *r, struct rig_cmd c)
{
	u32 at = r->prod;

	rig_cmd_at(r, at, c);
	r->prod = (r->prod + 1) & ((2u << r->cmdq_log2) - 1); /* index + wrap bit */
	return at;
}

void rig_kick(struct vsmmu_rig *r)
{
	rig_wr32(r, ARM_SMMU_CMDQ_PROD, r->prod);
}

void rig_submit(struct vsmmu_rig *r, const struct rig_cmd *cmds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		(void)rig_push(r, cmds[i]);
	rig_kick(r);
}

void rig_evtq(struct vsmmu_rig *r, unsigned int log2)
{
	u32 cr0 = rig_rd32(r, ARM_SMMU_CR0);

	if (cr0 & CR0_EVTQEN) {
		cr0 &= ~CR0_EVTQEN;
		rig_cr0(r, cr0);
	}
	r->evtq_log2 = log2;
	r->evtq_cons = 0;
	rig_wr64(r, ARM_SMMU_EVTQ_BASE, Q_BASE_RWA | RIG_EVTQ | FIELD_PREP(Q_BASE_LOG2SIZE, log2));
	rig_wr32(r, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD, 0);
	rig_wr32(r, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_CONS, 0);
	rig_cr0(r, cr0 | CR0_EVTQEN);
}

unsigned int rig_events(struct vsmmu_rig *r, u64 (*evt)[4], unsigned int max)
{
	u32 mask = (2u << r->evtq_log2) - 1, prod = rig_rd32(r, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD);
	unsigned int n = 0;

	while ((r->evtq_cons & mask) != (prod & mask)) {
		u64 gpa = RIG_EVTQ + (u64)(r->evtq_cons & ((1u << r->evtq_log2) - 1)) * 32;

		for (unsigned int i = 0; n < max && i < 4; i++)
			evt[n][i] = rig_get64(r, gpa + 8 * i);
		n++;
		r->evtq_cons = (r->evtq_cons + 1) & mask;
		rig_assert_leq(n, 1u << r->evtq_log2, "more records than the queue holds");
	}
	/* Consume them, acknowledging any overflow as Linux does (OVACKFLG = OVFLG). */
	rig_wr32(r, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_CONS, r->evtq_cons | (prod & Q_OVERFLOW_FLAG));
	return n;
}

u32 rig_cons(struct vsmmu_rig *r)
{
	return rig_rd32(r, ARM_SMMU_CMDQ_CONS);
}

bool rig_gerror_active(struct vsmmu_rig *r, u32 bit)
{
	return ((rig_rd32(r, ARM_SMMU_GERROR) ^ rig_rd32(r, ARM_SMMU_GERRORN)) & bit) != 0;
}

void rig_gerror_ack(struct vsmmu_rig *r)
{
	rig_wr32(r, ARM_SMMU_GERRORN, rig_rd32(r, ARM_SMMU_GERROR));
}

/* ---- what the fakes saw ---- */

const struct fake_iommufd_obj *rig_hwpt(struct vsmmu_rig *r, unsigned int i)
{
	u32 pt = r->fv[i].attached_pt;

	rig_assert(pt && pt < FAKE_IOMMUFD_MAX_OBJS, "device %u is not attached", i);
	rig_assert(r->fi.objs[pt].live, "device %u is attached to dead object %u", i, pt);
	rig_assert_eq(r->fi.objs[pt].type, IOMMUFD_OBJ_HWPT_NESTED, "device %u is not on a nested HWPT", i);
	rig_assert_eq(r->fi.attached[r->dev[i].dev_id], pt, "the fake's attachment table agrees");
	return &r->fi.objs[pt];
}

unsigned int rig_cfg_of(struct vsmmu_rig *r, unsigned int i)
{
	const struct fake_iommufd_obj *o = rig_hwpt(r, i);

	rig_assert(o->ste[0] & STE_0_V, "the vSMMU never hands the kernel a V=0 vSTE");
	return (unsigned int)FIELD_GET(STE_0_CFG, o->ste[0]);
}

struct vsmmu_stats rig_stats(struct vsmmu_rig *r)
{
	struct vsmmu_stats st;

	vsmmu_stats_get(r->vs, &st);
	return st;
}

void rig_check(struct vsmmu_rig *r)
{
	const struct fake_iommufd *f = &r->fi;
	unsigned int nested = 0, translating = 0, other = 0;
	u32 viommu = 0;

	rig_assert_eq(rig_live(r, IOMMUFD_OBJ_IOAS), 1);
	rig_assert_eq(rig_live(r, IOMMUFD_OBJ_HWPT_PAGING), 1, "one nest parent");
	rig_assert_eq(rig_live(r, IOMMUFD_OBJ_VIOMMU), 1, "one vIOMMU");
	rig_assert_eq(rig_live(r, IOMMUFD_OBJ_VDEVICE), r->ndev, "a vDEVICE per stream");
	rig_assert_leq(rig_live(r, IOMMUFD_OBJ_VEVENTQ), 1, "one vEVENTQ per vIOMMU, at most");
	for (u32 id = 1; id < f->next_id; id++)
		if (f->objs[id].live && f->objs[id].type == IOMMUFD_OBJ_VIOMMU)
			viommu = id;
	for (u32 id = 1; id < f->next_id; id++) {
		const struct fake_iommufd_obj *o = &f->objs[id];
		unsigned int users = 0;

		if (!o->live || o->type != IOMMUFD_OBJ_HWPT_NESTED)
			continue;
		nested++;
		rig_assert_eq(o->parent, viommu);
		for (unsigned int i = 0; i < r->ndev; i++)
			users += r->fv[i].attached_pt == id;
		if (FIELD_GET(STE_0_CFG, o->ste[0]) == STE_CFG_S1_TRANS) {
			translating++;
			rig_assert_eq(users, 1, "stage-1 HWPT %u has %u devices (leaked or shared)", id, users);
		} else {
			other++;
		}
	}
	rig_assert_eq(other, 2, "exactly the abort and bypass HWPTs (%u)", other);
	rig_assert_leq(nested, r->ndev + 2, "%u nested HWPTs for %u streams", nested, r->ndev);
	rig_assert_leq(translating, r->ndev);
	for (unsigned int i = 0; i < r->ndev; i++) {
		/* A device is left detached (blocked) only when even the abort HWPT was refused for it. */
		if (!r->fv[i].attached_pt && (rig_stats(r).blocked || rig_stats(r).sfm))
			continue;
		rig_assert_eq(rig_hwpt(r, i)->parent, viommu);
	}
}
