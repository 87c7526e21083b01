/* fake_iommufd.c: the fake iommufd backend (see fake_iommufd.h). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "iommu/smmuv3_regs.h"
#include "tests/unit/fake_iommufd.h"

static struct fake_iommufd *F(struct iommufd *ictx)
{
	return ictx->priv;
}

static void logf_(struct fake_iommufd *f, const char *op, u32 id)
{
	if (f->nr_log < FAKE_IOMMUFD_MAX_LOG)
		snprintf(f->log[f->nr_log], sizeof(f->log[0]), "%s:%u", op, id);
	f->nr_log++;
}

static int take(int *fail)
{
	int rc = *fail;

	*fail = 0;
	return rc;
}

/* The same, after letting *skip calls through (only while a failure is armed). */
static int take_after(int *fail, unsigned int *skip)
{
	if (*fail && *skip) {
		(*skip)--;
		return 0;
	}
	return take(fail);
}

/* The injected DESTROY failure for id, if one is armed (fail_destroy_n calls in a row, fail_destroy_id only). */
static int take_destroy(struct fake_iommufd *f, u32 id)
{
	int rc = f->fail_destroy;

	if (!rc || (f->fail_destroy_id && f->fail_destroy_id != id))
		return 0;
	if (f->fail_destroy_n > 1) {
		f->fail_destroy_n--;
	} else {
		f->fail_destroy = 0;
		f->fail_destroy_n = 0;
		f->fail_destroy_id = 0;
	}
	return rc;
}

static struct fake_iommufd_obj *obj(struct fake_iommufd *f, u32 id, enum iommufd_obj_type type)
{
	if (!id || id >= FAKE_IOMMUFD_MAX_OBJS || !f->objs[id].live || f->objs[id].type != type)
		return NULL;
	return &f->objs[id];
}

static int new_obj(struct fake_iommufd *f, enum iommufd_obj_type type, u32 parent, u32 *out)
{
	struct fake_iommufd_obj *o;

	if (f->next_id >= FAKE_IOMMUFD_MAX_OBJS)
		return -ENOSPC;
	*out = f->next_id++;
	o = &f->objs[*out];
	memset(o, 0, sizeof(*o));
	o->live = true;
	o->type = type;
	o->parent = parent;
	o->rfd = o->wfd = -1;
	return 0;
}

static int f_ioas_alloc(struct iommufd *ictx, u32 *out)
{
	struct fake_iommufd *f = F(ictx);
	int rc = take(&f->fail_ioas_alloc);

	if (!rc)
		rc = new_obj(f, IOMMUFD_OBJ_IOAS, 0, out);
	logf_(f, "ioas_alloc", rc ? 0 : *out);
	return rc;
}

static bool overlaps(u64 a, u64 alen, u64 b, u64 blen)
{
	return a <= b + blen - 1 && b <= a + alen - 1;
}

static int f_ioas_map(struct iommufd *ictx, u32 ioas, void *va, u64 length, u64 *iova, u32 flags)
{
	struct fake_iommufd *f = F(ictx);
	int rc = take(&f->fail_ioas_map);

	logf_(f, "ioas_map", ioas);
	if (rc)
		return rc;
	if (!obj(f, ioas, IOMMUFD_OBJ_IOAS))
		return -ENOENT;
	if (!(flags & IOMMU_IOAS_MAP_FIXED_IOVA) || !length || (*iova & 0xfff) || (length & 0xfff))
		return -EINVAL;
	for (u32 i = 0; i < f->nr_reserved; i++)
		if (overlaps(*iova, length, f->reserved[i].start, f->reserved[i].last - f->reserved[i].start + 1))
			return -EADDRINUSE;
	for (int i = 0; i < FAKE_IOMMUFD_MAX_MAPS; i++)
		if (f->maps[i].used && f->maps[i].ioas == ioas && overlaps(*iova, length, f->maps[i].iova, f->maps[i].length))
			return -EEXIST;
	for (int i = 0; i < FAKE_IOMMUFD_MAX_MAPS; i++) {
		if (!f->maps[i].used) {
			f->maps[i] = (struct fake_iommufd_map){ true, ioas, *iova, length, va, flags };
			return 0;
		}
	}
	return -ENOSPC;
}

static int f_ioas_unmap(struct iommufd *ictx, u32 ioas, u64 iova, u64 length)
{
	struct fake_iommufd *f = F(ictx);
	int rc = take(&f->fail_ioas_unmap);

	logf_(f, "ioas_unmap", ioas);
	if (rc)
		return rc;
	for (int i = 0; i < FAKE_IOMMUFD_MAX_MAPS; i++) {
		if (f->maps[i].used && f->maps[i].ioas == ioas && f->maps[i].iova == iova && f->maps[i].length == length) {
			f->maps[i].used = false;
			return 0;
		}
	}
	return -ENOENT;
}

/* Allowed = the 64-bit space minus the reserved windows (kept sorted by the tests' setup). */
static int f_iova_ranges(struct iommufd *ictx, u32 ioas, struct iommu_iova_range *r, u32 *num, u64 *align)
{
	struct fake_iommufd *f = F(ictx);
	struct iommu_iova_range tmp[8];
	u32 n = 0;
	u64 start = 0;
	int rc = take(&f->fail_iova_ranges);

	logf_(f, "iova_ranges", ioas);
	if (rc)
		return rc;
	if (!obj(f, ioas, IOMMUFD_OBJ_IOAS))
		return -ENOENT;
	for (u32 i = 0; i < f->nr_reserved; i++) {
		if (f->reserved[i].start > start)
			tmp[n++] = (struct iommu_iova_range){ start, f->reserved[i].start - 1 };
		start = f->reserved[i].last + 1;
	}
	if (start != 0 || !f->nr_reserved)
		tmp[n++] = (struct iommu_iova_range){ start, UINT64_MAX };
	if (n > *num) {
		*num = n;
		return -EMSGSIZE;
	}
	memcpy(r, tmp, n * sizeof(*r));
	*num = n;
	*align = 0x1000;
	return 0;
}

static int f_hw_info(struct iommufd *ictx, u32 dev_id, struct iommufd_hw_info *out)
{
	struct fake_iommufd *f = F(ictx);
	int rc = take(&f->fail_hw_info);

	logf_(f, "hw_info", dev_id);
	if (rc)
		return rc;
	*out = f->hw_info;
	return 0;
}

static int f_hwpt_alloc(struct iommufd *ictx, u32 dev_id, u32 pt_id, u32 flags, u32 data_type, const void *data,
			u32 data_len, u32 *out)
{
	struct fake_iommufd *f = F(ictx);
	int rc = take_after(&f->fail_hwpt_alloc, &f->fail_hwpt_alloc_skip);

	if (rc)
		goto out;
	if (data_type == IOMMU_HWPT_DATA_NONE) {
		rc = -ENOENT;
		if (obj(f, pt_id, IOMMUFD_OBJ_IOAS))
			rc = new_obj(f, IOMMUFD_OBJ_HWPT_PAGING, pt_id, out);
	} else if (data_type == IOMMU_HWPT_DATA_ARM_SMMUV3) {
		struct iommu_hwpt_arm_smmuv3 ste;

		rc = -ENOENT;
		if (data_len != sizeof(ste) || !obj(f, pt_id, IOMMUFD_OBJ_VIOMMU)) {
			rc = data_len != sizeof(ste) ? -EINVAL : -ENOENT;
			goto out;
		}
		memcpy(&ste, data, sizeof(ste));
		u64 s0 = le64toh(ste.ste[0]), s1 = le64toh(ste.ste[1]);
		if ((s0 & STE_0_V) && ((s0 & ~STE_0_NESTED_ALLOWED) || (s1 & ~STE_1_NESTED_ALLOWED))) {
			rc = -EIO; /* as the kernel: disallowed vSTE fields */
			goto out;
		}
		if (s0 & STE_0_V) {
			u64 cfg = FIELD_GET(STE_0_CFG, s0), eats = FIELD_GET(STE_1_EATS, s1);

			if ((cfg != STE_CFG_ABORT && cfg != STE_CFG_BYPASS && cfg != STE_CFG_S1_TRANS) ||
			    (eats != STE_EATS_ABT && eats != STE_EATS_TRANS)) {
				rc = -EIO; /* as the kernel: only abort, bypass or S1; full ATS or none */
				goto out;
			}
		}
		rc = new_obj(f, IOMMUFD_OBJ_HWPT_NESTED, pt_id, out);
		if (!rc) {
			f->objs[*out].ste[0] = s0;
			f->objs[*out].ste[1] = s1;
		}
	} else {
		rc = -EOPNOTSUPP;
	}
out:
	logf_(f, "hwpt_alloc", rc ? 0 : *out);
	return rc;
}

static int f_viommu_alloc(struct iommufd *ictx, u32 dev_id, u32 hwpt_id, u32 type, u32 *out)
{
	struct fake_iommufd *f = F(ictx);
	int rc = take(&f->fail_viommu_alloc);

	if (!rc && type != IOMMU_VIOMMU_TYPE_ARM_SMMUV3)
		rc = -EOPNOTSUPP;
	if (!rc && !obj(f, hwpt_id, IOMMUFD_OBJ_HWPT_PAGING))
		rc = -ENOENT;
	if (!rc)
		rc = new_obj(f, IOMMUFD_OBJ_VIOMMU, hwpt_id, out);
	logf_(f, "viommu_alloc", rc ? 0 : *out);
	return rc;
}

static int f_vdevice_alloc(struct iommufd *ictx, u32 viommu_id, u32 dev_id, u64 virt_id, u32 *out)
{
	struct fake_iommufd *f = F(ictx);
	int rc = take_after(&f->fail_vdevice_alloc, &f->fail_vdevice_alloc_skip);

	if (!rc && !obj(f, viommu_id, IOMMUFD_OBJ_VIOMMU))
		rc = -ENOENT;
	for (u32 i = 1; !rc && i < f->next_id; i++)
		if (obj(f, i, IOMMUFD_OBJ_VDEVICE) && f->objs[i].parent == viommu_id &&
		    (f->objs[i].dev_id == dev_id || f->objs[i].virt_id == virt_id))
			rc = -EEXIST;
	if (!rc)
		rc = new_obj(f, IOMMUFD_OBJ_VDEVICE, viommu_id, out);
	if (!rc) {
		f->objs[*out].dev_id = dev_id;
		f->objs[*out].virt_id = virt_id;
	}
	logf_(f, "vdevice_alloc", rc ? 0 : *out);
	return rc;
}

static int f_veventq_alloc(struct iommufd *ictx, u32 viommu_id, u32 type, u32 depth, u32 *out, int *out_fd)
{
	struct fake_iommufd *f = F(ictx);
	int rc = take(&f->fail_veventq_alloc), p[2];

	if (!rc && (type != IOMMU_VEVENTQ_TYPE_ARM_SMMUV3 || !depth))
		rc = -EINVAL;
	if (!rc && !obj(f, viommu_id, IOMMUFD_OBJ_VIOMMU))
		rc = -ENOENT;
	for (u32 i = 1; !rc && i < f->next_id; i++)
		if (obj(f, i, IOMMUFD_OBJ_VEVENTQ) && f->objs[i].parent == viommu_id)
			rc = -EEXIST;
	if (!rc && pipe2(p, O_CLOEXEC | O_NONBLOCK))
		rc = -errno;
	if (!rc) {
		rc = new_obj(f, IOMMUFD_OBJ_VEVENTQ, viommu_id, out);
		if (rc) {
			close(p[0]);
			close(p[1]);
		} else {
			struct stat st;

			f->objs[*out].rfd = p[0];
			f->objs[*out].wfd = p[1];
			if (!fstat(p[0], &st)) {
				f->objs[*out].rino = st.st_ino;
				f->objs[*out].rdev = st.st_dev;
			}
			f->objs[*out].depth = depth;
			*out_fd = p[0];
		}
	}
	logf_(f, "veventq_alloc", rc ? 0 : *out);
	return rc;
}

/* A vDEVICE of vIOMMU viommu has virt_id vsid (what arm_vsmmu_vsid_to_sid looks up). */
static bool vsid_known(const struct fake_iommufd *f, u32 viommu, u32 vsid)
{
	for (u32 i = 1; i < f->next_id && i < FAKE_IOMMUFD_MAX_OBJS; i++) {
		const struct fake_iommufd_obj *o = &f->objs[i];

		if (o->live && o->type == IOMMUFD_OBJ_VDEVICE && o->parent == viommu && o->virt_id == vsid)
			return true;
	}
	return false;
}

/* ATC_INV's largest Size: 2^52 bytes, the whole ATC (the kernel's ATC_INV_SIZE_ALL). */
#define FAKE_ATC_INV_SIZE_MAX 52

/* The host SMMU's features the kernel's checks depend on, derived from the ID registers as
 * arm_smmu_device_hw_probe() derives them (CONFIG_PCI_ATS assumed, as on every arm64 distribution kernel). */
struct inv_host {
	u64 asid;          /* the ASID field's writable bits: 16 with IDR0.ASID16, else the low 8 */
	bool ril, ds, ats; /* IDR3.RIL, IDR5.DS, IDR0.ATS */
	bool ssid;         /* IDR1.SSIDSIZE != 0 */
};

static struct inv_host inv_host(const struct fake_iommufd *f)
{
	const u32 *idr = f->hw_info.smmu.idr;

	return (struct inv_host){
		.asid = FIELD_PREP(CMDQ_TLBI_0_ASID, (idr[0] & IDR0_ASID16) ? 0xffff : 0xff),
		.ril = idr[3] & IDR3_RIL,
		.ds = idr[5] & IDR5_DS,
		.ats = idr[0] & IDR0_ATS,
		.ssid = FIELD_GET(IDR1_SSIDSIZE, idr[1]) != 0,
	};
}

/* The encodings of the TLBI range fields the architecture reserves (only checked on a host with RIL): with
 * TG 0 (no range) NUM, SCALE and TTL must be 0; TTL 1 with a 16 KiB granule needs DS; with a TG, NUM and
 * SCALE both 0 need a TTL. */
static bool tlbi_range_reserved(const struct inv_host *h, const u64 cmd[2])
{
	bool range = cmd[0] & (CMDQ_TLBI_0_NUM | CMDQ_TLBI_0_SCALE);
	u64 ttl = FIELD_GET(CMDQ_TLBI_1_TTL, cmd[1]), tg = FIELD_GET(CMDQ_TLBI_1_TG, cmd[1]);

	if (!tg)
		return range || ttl;
	if (tg == 2 && ttl == 1 && !h->ds)
		return true;
	return !range && !ttl;
}

int fake_iommufd_inv_check(const struct fake_iommufd *f, u32 viommu_id, const u64 cmd[2])
{
	struct inv_host h = inv_host(f);
	u64 ok0 = CMDQ_0_OP, ok1 = 0;
	bool has_sid = false;

	switch (FIELD_GET(CMDQ_0_OP, cmd[0])) {
	case CMDQ_OP_TLBI_NSNH_ALL:
		break;
	case CMDQ_OP_TLBI_NH_ALL:
		ok0 |= CMDQ_TLBI_0_VMID; /* the kernel overwrites it with the vIOMMU's */
		break;
	case CMDQ_OP_TLBI_NH_ASID:
		ok0 |= CMDQ_TLBI_0_VMID | h.asid;
		break;
	case CMDQ_OP_TLBI_NH_VA:
	case CMDQ_OP_TLBI_NH_VAA:
		if (FIELD_GET(CMDQ_0_OP, cmd[0]) == CMDQ_OP_TLBI_NH_VA)
			ok0 |= h.asid; /* VAA has no ASID */
		if (h.ril) {
			/* Without RIL the range fields are not allowed at all. */
			if (tlbi_range_reserved(&h, cmd))
				return -EIO;
			ok0 |= CMDQ_TLBI_0_NUM | CMDQ_TLBI_0_SCALE;
			ok1 |= CMDQ_TLBI_1_TG | CMDQ_TLBI_1_TTL;
			if (!h.ds) /* SCALE above 31 */
				ok0 &= ~FIELD_PREP(CMDQ_TLBI_0_SCALE, 0x20);
		}
		ok0 |= CMDQ_TLBI_0_VMID;
		ok1 |= CMDQ_TLBI_1_LEAF | CMDQ_TLBI_1_VA;
		break;
	case CMDQ_OP_ATC_INV:
		if (!h.ats || FIELD_GET(CMDQ_ATC_1_SIZE, cmd[1]) > FAKE_ATC_INV_SIZE_MAX)
			return -EIO;
		if (h.ssid) /* SSID and Global without SSV are IGNORED, not RES0: no SSV check */
			ok0 |= CMDQ_0_SSV | CMDQ_ATC_0_SSID | CMDQ_ATC_0_GLOBAL;
		ok0 |= CMDQ_ATC_0_SID;
		ok1 |= CMDQ_ATC_1_SIZE | CMDQ_ATC_1_ADDR;
		has_sid = true;
		break;
	case CMDQ_OP_CFGI_CD:
		if (h.ssid) /* never SSV */
			ok0 |= CMDQ_CFGI_0_SSID;
		ok0 |= CMDQ_CFGI_0_SID;
		ok1 |= CMDQ_CFGI_1_LEAF;
		has_sid = true;
		break;
	case CMDQ_OP_CFGI_CD_ALL:
		ok0 |= CMDQ_CFGI_0_SID;
		has_sid = true;
		break;
	default:
		return -EIO;
	}
	/* Any other bit, RES0, Secure or a field of a feature the host lacks, is refused. */
	if ((cmd[0] & ~ok0) || (cmd[1] & ~ok1))
		return -EIO;
	/* The vSID must name a vDEVICE of this vIOMMU (the kernel swaps in the physical SID). */
	if (has_sid && !vsid_known(f, viommu_id, (u32)FIELD_GET(CMDQ_CFGI_0_SID, cmd[0])))
		return -EIO;
	return 0;
}

/* Commands the 7.3 kernel issues to the host queue at once (arm_vsmmu_cache_invalidate issues accepted
 * commands in blocks of CMDQ_BATCH_ENTRIES - 1 and at the end of the array). */
#define FAKE_INV_BLOCK 63

static void inv_issue(struct fake_iommufd *f, const struct iommu_viommu_arm_smmuv3_invalidate *c, u32 from, u32 to)
{
	for (u32 i = from; i < to; i++) {
		if (f->nr_inv_cmd < FAKE_IOMMUFD_MAX_INV_CMDS) {
			f->inv_cmd[f->nr_inv_cmd][0] = le64toh(c[i].cmd[0]);
			f->inv_cmd[f->nr_inv_cmd][1] = le64toh(c[i].cmd[1]);
		}
		f->nr_inv_cmd++;
	}
	f->inv_cmds_accepted += to - from;
}

/* IOMMU_HWPT_INVALIDATE as iommufd_hwpt_invalidate() and arm_vsmmu_cache_invalidate() do it: the core fails
 * a bad object or format with entry_num 0; the driver's allocation fails (-ENOMEM) before it touches
 * entry_num, which the core copies back unchanged; then each command is checked in order and the accepted
 * ones are issued a block at a time: a refused command k ends the call with -EIO and entry_num k, the
 * commands of k's block before it checked but never issued; a block whose issue fails (a CMD_SYNC timeout)
 * ends it with that error and entry_num = the index of the block's last command. */
static int f_invalidate(struct iommufd *ictx, u32 id, u32 data_type, const void *data, u32 entry_len, u32 *num)
{
	struct fake_iommufd *f = F(ictx);
	const struct iommu_viommu_arm_smmuv3_invalidate *c = data;
	u32 n = *num, cur, last = 0, fail_at = f->fail_invalidate_at;
	enum fake_inv_fail where = f->fail_invalidate_where;
	int rc = f->fail_invalidate;

	if (rc && (!f->fail_invalidate_n || !--f->fail_invalidate_n)) {
		f->fail_invalidate = 0;
		f->fail_invalidate_at = 0;
		f->fail_invalidate_where = FAKE_INV_FAIL_EARLY;
	}
	if (f->inv_calls < FAKE_IOMMUFD_MAX_INV_CALLS)
		f->inv_num_in[f->inv_calls] = n;
	f->inv_calls++;
	f->inv_last_num_in = n;
	logf_(f, "invalidate", id);
	if (rc && where == FAKE_INV_FAIL_EARLY) {
		*num = 0;
		return rc;
	}
	if (!obj(f, id, IOMMUFD_OBJ_VIOMMU) || data_type != IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 ||
	    entry_len != sizeof(*c) || n > IOMMUFD_INV_MAX_ENTRIES) {
		*num = 0;
		return -EINVAL;
	}
	if (rc && where == FAKE_INV_FAIL_ALLOC)
		return rc; /* *num unchanged */
	for (cur = 0; cur < n;) {
		if (rc && where == FAKE_INV_FAIL_REFUSE && cur == fail_at) {
			*num = cur;
			return rc;
		}
		if (fake_iommufd_inv_check(f, id, (const u64[2]){ le64toh(c[cur].cmd[0]), le64toh(c[cur].cmd[1]) })) {
			*num = cur;
			return -EIO;
		}
		cur++;
		if (cur != n && cur - last != FAKE_INV_BLOCK)
			continue;
		if (rc && where == FAKE_INV_FAIL_ISSUE && fail_at >= last && fail_at < cur) {
			*num = cur - 1;
			return rc;
		}
		inv_issue(f, c, last, cur);
		last = cur;
	}
	*num = cur;
	return 0;
}

/* The queue's file is still open (what holds the kernel's reference on a vEVENTQ): its fd number is open and
 * still names this queue's pipe. A caller may have put another file over the number to release the queue
 * while keeping the number (iommufd_destroy does). */
static bool queue_file_open(const struct fake_iommufd_obj *o)
{
	struct stat st;

	return o->rfd >= 0 && !fstat(o->rfd, &st) && st.st_ino == o->rino && st.st_dev == o->rdev;
}

static int f_destroy(struct iommufd *ictx, u32 id)
{
	struct fake_iommufd *f = F(ictx);
	struct fake_iommufd_obj *o;
	int rc = take_destroy(f, id), unread;

	logf_(f, "destroy", id);
	f->destroy_calls++;
	if (rc)
		return rc;
	if (!id || id >= FAKE_IOMMUFD_MAX_OBJS || !f->objs[id].live)
		return -ENOENT;
	o = &f->objs[id];
	for (u32 i = 1; i < f->next_id; i++)
		if (f->objs[i].live && i != id && f->objs[i].parent == id)
			return -EBUSY; /* a child holds it */
	for (int d = 0; d < FAKE_IOMMUFD_MAX_DEVS; d++)
		if (f->attached[d] == id)
			return -EBUSY; /* a device is attached to it */
	if (o->type == IOMMUFD_OBJ_IOAS)
		for (int i = 0; i < FAKE_IOMMUFD_MAX_MAPS; i++)
			if (f->maps[i].used && f->maps[i].ioas == id)
				f->maps[i].used = false; /* destroying an IOAS unmaps everything */
	if (o->type == IOMMUFD_OBJ_VEVENTQ) {
		if (queue_file_open(o))
			return -EBUSY; /* the fd holds a reference */
		if (!ioctl(o->wfd, FIONREAD, &unread))
			f->veventq_discarded += (u64)unread; /* events nobody read die with the queue */
		close(o->wfd);
		o->wfd = o->rfd = -1;
	}
	o->live = false;
	if (f->nr_destroyed < FAKE_IOMMUFD_MAX_OBJS)
		f->destroyed[f->nr_destroyed++] = id;
	return 0;
}

static void f_close(struct iommufd *ictx)
{
	F(ictx)->closed = true;
}

static const struct iommufd_ops fake_ops = {
	.name = "fake",
	.ioas_alloc = f_ioas_alloc,
	.ioas_map = f_ioas_map,
	.ioas_unmap = f_ioas_unmap,
	.ioas_iova_ranges = f_iova_ranges,
	.get_hw_info = f_hw_info,
	.hwpt_alloc = f_hwpt_alloc,
	.viommu_alloc = f_viommu_alloc,
	.vdevice_alloc = f_vdevice_alloc,
	.veventq_alloc = f_veventq_alloc,
	.hwpt_invalidate = f_invalidate,
	.destroy = f_destroy,
	.close = f_close,
};

void fake_iommufd_init(struct fake_iommufd *f)
{
	memset(f, 0, sizeof(*f));
	f->next_id = 1;
	f->reserved[0] = (struct iommu_iova_range){ IOMMUFD_ARM_SW_MSI_BASE,
						    IOMMUFD_ARM_SW_MSI_BASE + IOMMUFD_ARM_SW_MSI_SIZE - 1 };
	f->nr_reserved = 1;
	f->hw_info.type = IOMMU_HW_INFO_TYPE_ARM_SMMUV3;
	f->hw_info.smmu.idr[0] = 0x0d44101b;
	f->hw_info.smmu.idr[1] = 0x02730010;
	f->hw_info.smmu.aidr = 1;
}

void fake_iommufd_attach_ctx(struct fake_iommufd *f, struct iommufd *ictx)
{
	iommufd_init(ictx, &fake_ops, f, -1);
}

void fake_iommufd_release(struct fake_iommufd *f)
{
	for (u32 i = 1; i < f->next_id && i < FAKE_IOMMUFD_MAX_OBJS; i++) {
		if (f->objs[i].wfd >= 0)
			close(f->objs[i].wfd);
		f->objs[i].wfd = -1;
	}
}

unsigned int fake_iommufd_live(const struct fake_iommufd *f, enum iommufd_obj_type type)
{
	unsigned int n = 0;

	for (u32 i = 1; i < f->next_id && i < FAKE_IOMMUFD_MAX_OBJS; i++)
		if (f->objs[i].live && (type == IOMMUFD_OBJ_NR || f->objs[i].type == type))
			n++;
	return n;
}

u32 fake_iommufd_find_live(const struct fake_iommufd *f, enum iommufd_obj_type type, u32 from)
{
	for (u32 i = from ? from : 1; i < f->next_id && i < FAKE_IOMMUFD_MAX_OBJS; i++)
		if (f->objs[i].live && f->objs[i].type == type)
			return i;
	return 0;
}

int fake_iommufd_push_event(struct fake_iommufd *f, u32 veventq_id, u32 flags, u32 sequence, const u64 evt[4])
{
	struct fake_iommufd_obj *o = obj(f, veventq_id, IOMMUFD_OBJ_VEVENTQ);
	unsigned char buf[sizeof(struct iommufd_vevent_header) + sizeof(struct iommu_vevent_arm_smmuv3)];
	struct iommufd_vevent_header h = { .flags = flags, .sequence = sequence };
	size_t len = sizeof(h);

	if (!o || o->wfd < 0)
		return -ENOENT;
	memcpy(buf, &h, sizeof(h));
	if (!(flags & IOMMU_VEVENTQ_FLAG_LOST_EVENTS)) {
		for (int i = 0; i < 4; i++) {
			u64 le = htole64(evt[i]);

			memcpy(buf + sizeof(h) + 8 * i, &le, 8);
		}
		len += sizeof(struct iommu_vevent_arm_smmuv3);
	}
	return write(o->wfd, buf, len) == (ssize_t)len ? 0 : -EIO;
}

int fake_iommufd_veventq_pending(const struct fake_iommufd *f, u32 veventq_id)
{
	const struct fake_iommufd_obj *o = veventq_id < FAKE_IOMMUFD_MAX_OBJS ? &f->objs[veventq_id] : NULL;
	int n;

	if (!o || !veventq_id || !o->live || o->type != IOMMUFD_OBJ_VEVENTQ || o->wfd < 0)
		return -ENOENT;
	return ioctl(o->wfd, FIONREAD, &n) ? -errno : n;
}

int fake_iommufd_log_find(const struct fake_iommufd *f, const char *text)
{
	for (unsigned int i = 0; i < f->nr_log && i < FAKE_IOMMUFD_MAX_LOG; i++)
		if (!strcmp(f->log[i], text))
			return (int)i;
	return -1;
}

int fake_inv_send(struct iommufd *ictx, u32 viommu_id, const u64 (*cmds)[2], u32 n, u32 *done)
{
	struct iommu_viommu_arm_smmuv3_invalidate *le = calloc(n ? n : 1, sizeof(*le));
	int rc;

	if (!le)
		return -ENOMEM;
	for (u32 i = 0; i < n; i++)
		iommufd_inv_cmd(&le[i], cmds[i]);
	rc = iommufd_hwpt_invalidate_smmuv3(ictx, viommu_id, le, n, done, FAIL_PRINT);
	free(le);
	return rc;
}
