/* fake_iommufd.c: the fake iommufd backend (see fake_iommufd.h). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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

static bool vsid_known(struct fake_iommufd *f, u32 viommu, u32 vsid)
{
	for (u32 i = 1; i < f->next_id && i < FAKE_IOMMUFD_MAX_OBJS; i++)
		if (obj(f, i, IOMMUFD_OBJ_VDEVICE) && f->objs[i].parent == viommu && f->objs[i].virt_id == vsid)
			return true;
	return false;
}

/* The commands the kernel takes on a vIOMMU (uapi iommufd.h); SID-carrying ones need a vDEVICE with that
 * virt_id (the kernel translates vSID -> SID and fails otherwise). */
static bool inv_ok(struct fake_iommufd *f, u32 viommu, u64 cmd0)
{
	switch (FIELD_GET(CMDQ_0_OP, cmd0)) {
	case CMDQ_OP_TLBI_NSNH_ALL:
	case CMDQ_OP_TLBI_NH_VA:
	case CMDQ_OP_TLBI_NH_VAA:
	case CMDQ_OP_TLBI_NH_ALL:
	case CMDQ_OP_TLBI_NH_ASID:
		return true;
	case CMDQ_OP_ATC_INV:
	case CMDQ_OP_CFGI_CD:
	case CMDQ_OP_CFGI_CD_ALL:
		return vsid_known(f, viommu, (u32)FIELD_GET(CMDQ_CFGI_0_SID, cmd0));
	default:
		return false;
	}
}

static int f_invalidate(struct iommufd *ictx, u32 id, u32 data_type, const void *data, u32 entry_len, u32 *num)
{
	struct fake_iommufd *f = F(ictx);
	const struct iommu_viommu_arm_smmuv3_invalidate *c = data;
	u32 n = *num, i, fail_at = f->fail_invalidate_at;
	int rc = take(&f->fail_invalidate);

	if (rc)
		f->fail_invalidate_at = 0;
	if (f->inv_calls < FAKE_IOMMUFD_MAX_INV_CALLS)
		f->inv_num_in[f->inv_calls] = n;
	f->inv_calls++;
	f->inv_last_num_in = n;
	logf_(f, "invalidate", id);
	if (rc && !fail_at) {
		*num = 0;
		return rc;
	}
	if (!obj(f, id, IOMMUFD_OBJ_VIOMMU) || data_type != IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 ||
	    entry_len != sizeof(*c)) {
		*num = 0;
		return -EINVAL;
	}
	/* The kernel handles the array in order and stops at the first command it cannot take (or, injected
	 * here, at fail_at); entry_num says how many it handled. */
	for (i = 0; i < n && !(rc && i == fail_at); i++) {
		u64 c0 = le64toh(c[i].cmd[0]);

		if (!inv_ok(f, id, c0)) {
			rc = -EIO;
			break;
		}
		if (f->nr_inv_cmd < FAKE_IOMMUFD_MAX_INV_CMDS) {
			f->inv_cmd[f->nr_inv_cmd][0] = c0;
			f->inv_cmd[f->nr_inv_cmd][1] = le64toh(c[i].cmd[1]);
		}
		f->nr_inv_cmd++;
	}
	*num = i;
	f->inv_cmds_accepted += i;
	return rc;
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
