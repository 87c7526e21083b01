/* iommufd.c: the iommufd context, its object tracker and the typed wrappers that call the backend ops and
 * report failures (see iommufd.h). The real backend (ioctls on /dev/iommu) is iommufd_kernel.c, vEVENTQ
 * record parsing iommufd_events.c, IOVA range helpers iommufd_iova.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <endian.h>
#include "iommu/iommufd_internal.h"
#include "vmm/log.h"

static const char *const type_names[IOMMUFD_OBJ_NR] = {
	[IOMMUFD_OBJ_IOAS] = "IOAS",
	[IOMMUFD_OBJ_HWPT_PAGING] = "HWPT(paging)",
	[IOMMUFD_OBJ_VIOMMU] = "vIOMMU",
	[IOMMUFD_OBJ_VEVENTQ] = "vEVENTQ",
	[IOMMUFD_OBJ_VDEVICE] = "vDEVICE",
	[IOMMUFD_OBJ_HWPT_NESTED] = "HWPT(nested)",
};

const char *iommufd_obj_type_name(enum iommufd_obj_type type)
{
	return (unsigned int)type < IOMMUFD_OBJ_NR ? type_names[type] : "object";
}

/* Record one failure line "iommufd: WHAT: strerror[ (hint)]" in last_err and print it unless how is
 * FAIL_QUIET; returns rc so callers can `return fail(...)`. */
static int __printf(5, 6) failh(struct iommufd *ictx, enum fail_report how, int rc, const char *hint,
				const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (how == FAIL_QUIET)
		log_fail_format(ictx->last_err, sizeof(ictx->last_err), "iommufd", rc, hint, fmt, ap);
	else
		log_fail_into(ictx->last_err, sizeof(ictx->last_err), "iommufd", rc, hint, fmt, ap);
	va_end(ap);
	return rc;
}

#define fail(ictx, how, rc, ...) failh(ictx, how, rc, NULL, __VA_ARGS__)

void iommufd_init(struct iommufd *ictx, const struct iommufd_ops *ops, void *priv, int fd)
{
	memset(ictx, 0, sizeof(*ictx));
	ictx->ops = ops;
	ictx->priv = priv;
	ictx->fd = fd;
	ictx->next_seq = 1;
}

void iommufd_close(struct iommufd *ictx)
{
	if (!ictx->ops)
		return;
	(void)iommufd_teardown(ictx);
	/* Objects the kernel refused to destroy go away with the fd; close any vEVENTQ fd still held. */
	for (size_t i = 0; i < ictx->nr_objs; i++)
		if (ictx->objs[i].fd >= 0)
			close(ictx->objs[i].fd);
	free(ictx->objs);
	ictx->objs = NULL;
	ictx->nr_objs = ictx->cap_objs = 0;
	if (ictx->ops->close)
		ictx->ops->close(ictx);
	ictx->ops = NULL;
	ictx->fd = -1;
}

/* ---- tracker ---- */

/* Make room for one more object before asking the kernel, so a successful allocation is never lost. */
static int track_reserve(struct iommufd *ictx, enum fail_report how)
{
	struct iommufd_obj *n;
	size_t cap;

	if (ictx->nr_objs < ictx->cap_objs)
		return 0;
	cap = ictx->cap_objs ? ictx->cap_objs * 2 : 16;
	n = realloc(ictx->objs, cap * sizeof(*n));
	if (!n)
		return fail(ictx, how, -ENOMEM, "object tracker");
	ictx->objs = n;
	ictx->cap_objs = cap;
	return 0;
}

static void track_add(struct iommufd *ictx, u32 id, enum iommufd_obj_type type, u32 parent, int fd)
{
	struct iommufd_obj *o = &ictx->objs[ictx->nr_objs++];

	o->id = id;
	o->type = type;
	o->parent = parent;
	o->fd = fd;
	o->seq = ictx->next_seq++;
	pr_debug("iommufd: %s %u created (parent %u)", iommufd_obj_type_name(type), id, parent);
}

static ssize_t track_index(const struct iommufd *ictx, u32 id)
{
	for (size_t i = 0; i < ictx->nr_objs; i++)
		if (ictx->objs[i].id == id)
			return (ssize_t)i;
	return -1;
}

const struct iommufd_obj *iommufd_obj_find(const struct iommufd *ictx, u32 id)
{
	ssize_t i = track_index(ictx, id);

	return i < 0 ? NULL : &ictx->objs[i];
}

/* A vEVENTQ's fd holds the object (the kernel refuses DESTROY while its file is open), and a poller may still
 * have the fd's number (loop_watch calls back once more after an unwatch). So the file is not closed: an
 * eventfd that never becomes readable is put over its number (dup3, atomic), which releases the file while
 * the number stays the tracker's, so no open() elsewhere can be handed it while someone might still use it.
 * The placeholder is closed only once DESTROY succeeded; when DESTROY fails the object stays tracked with the
 * placeholder as its fd (a later iommufd_destroy puts a fresh one over it and retries; iommufd_close closes
 * it). Returns 0 or -errno after a message. */
static int release_queue_file(struct iommufd *ictx, const char *tn, u32 id, int fd, enum fail_report how)
{
	int ph = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), rc = 0;

	if (ph < 0)
		return fail(ictx, how, -errno, "DESTROY %s %u: placeholder eventfd for its fd %d", tn, id, fd);
	if (dup3(ph, fd, O_CLOEXEC) < 0)
		rc = fail(ictx, how, -errno, "DESTROY %s %u: placeholder over its fd %d", tn, id, fd);
	close(ph);
	return rc;
}

int iommufd_destroy(struct iommufd *ictx, u32 id, enum fail_report how)
{
	ssize_t i = track_index(ictx, id);
	const char *tn = i < 0 ? "untracked object" : iommufd_obj_type_name(ictx->objs[i].type);
	int rc, fd = i < 0 ? -1 : ictx->objs[i].fd;

	if (i < 0)
		pr_debug("iommufd: destroying untracked id %u", id);
	if (fd >= 0) {
		rc = release_queue_file(ictx, tn, id, fd, how);
		if (rc)
			return rc;
	}
	rc = ictx->ops->destroy(ictx, id);
	if (rc)
		return fail(ictx, how, rc, "DESTROY %s %u", tn, id);
	if (fd >= 0)
		close(fd); /* the placeholder: the object is gone, the number may be reused now */
	if (i >= 0) {
		memmove(&ictx->objs[i], &ictx->objs[i + 1], (ictx->nr_objs - (size_t)i - 1) * sizeof(ictx->objs[0]));
		ictx->nr_objs--;
	}
	return 0;
}

int iommufd_teardown(struct iommufd *ictx)
{
	int first = 0;
	u64 skip_below = 0; /* objects that failed stay tracked; never retry them in this pass */

	/* Children first: highest type rank, newest first within a rank. */
	for (int t = IOMMUFD_OBJ_NR - 1; t >= 0; t--) {
		for (;;) {
			ssize_t pick = -1;

			for (size_t i = 0; i < ictx->nr_objs; i++) {
				const struct iommufd_obj *o = &ictx->objs[i];

				if ((int)o->type != t || (skip_below && o->seq >= skip_below))
					continue;
				if (pick < 0 || o->seq > ictx->objs[pick].seq)
					pick = (ssize_t)i;
			}
			if (pick < 0)
				break;
			u64 seq = ictx->objs[pick].seq;
			int rc = iommufd_destroy(ictx, ictx->objs[pick].id, FAIL_PRINT);

			if (rc) {
				if (!first)
					first = rc;
				skip_below = seq; /* continue with older objects of this rank */
			}
		}
		skip_below = 0;
	}
	return first;
}

/* ---- IOAS ---- */

int iommufd_ioas_alloc(struct iommufd *ictx, u32 *out_ioas_id, enum fail_report how)
{
	int rc = track_reserve(ictx, how);

	if (rc)
		return rc;
	rc = ictx->ops->ioas_alloc(ictx, out_ioas_id);
	if (rc)
		return fail(ictx, how, rc, "IOAS_ALLOC");
	track_add(ictx, *out_ioas_id, IOMMUFD_OBJ_IOAS, 0, -1);
	return 0;
}

int iommufd_ioas_map_fixed(struct iommufd *ictx, u32 ioas_id, void *va, u64 length, u64 iova, bool writeable)
{
	u32 flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE;
	u64 io = iova;
	int rc;

	if (writeable)
		flags |= IOMMU_IOAS_MAP_WRITEABLE;
	rc = ictx->ops->ioas_map(ictx, ioas_id, va, length, &io, flags);
	if (rc)
		return failh(ictx, FAIL_PRINT, rc, rc == -EADDRINUSE ? "iova range reserved or already mapped" : NULL,
			     "IOAS_MAP ioas %u iova 0x%llx length 0x%llx va %p", ioas_id, (unsigned long long)iova,
			     (unsigned long long)length, va);
	return 0;
}

int iommufd_ioas_unmap(struct iommufd *ictx, u32 ioas_id, u64 iova, u64 length)
{
	int rc = ictx->ops->ioas_unmap(ictx, ioas_id, iova, length);

	if (rc)
		return fail(ictx, FAIL_PRINT, rc, "IOAS_UNMAP ioas %u iova 0x%llx length 0x%llx", ioas_id,
			    (unsigned long long)iova, (unsigned long long)length);
	return 0;
}

int iommufd_ioas_iova_ranges(struct iommufd *ictx, u32 ioas_id, struct iommu_iova_range **out, size_t *nr,
			     u64 *out_alignment)
{
	struct iommu_iova_range *r = NULL;
	u32 cap = 8, num;
	u64 align = 0;
	int rc;

	for (int tries = 0; tries < 4; tries++) {
		struct iommu_iova_range *n = realloc(r, cap * sizeof(*r));

		if (!n) {
			free(r);
			return fail(ictx, FAIL_PRINT, -ENOMEM, "IOAS_IOVA_RANGES ioas %u", ioas_id);
		}
		r = n;
		num = cap;
		rc = ictx->ops->ioas_iova_ranges(ictx, ioas_id, r, &num, &align);
		if (rc == -EMSGSIZE || (!rc && num > cap)) {
			/* More ranges than room: the kernel told us how many. */
			cap = num > cap ? num : cap * 2;
			continue;
		}
		if (rc) {
			free(r);
			return fail(ictx, FAIL_PRINT, rc, "IOAS_IOVA_RANGES ioas %u", ioas_id);
		}
		*out = r;
		*nr = num;
		if (out_alignment)
			*out_alignment = align;
		return 0;
	}
	free(r);
	return fail(ictx, FAIL_PRINT, -EMSGSIZE, "IOAS_IOVA_RANGES ioas %u (range count keeps changing)", ioas_id);
}

/* ---- device info, HWPTs, vIOMMU objects ---- */

int iommufd_get_hw_info(struct iommufd *ictx, u32 dev_id, struct iommufd_hw_info *out, enum fail_report how)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = ictx->ops->get_hw_info(ictx, dev_id, out);
	if (rc)
		return fail(ictx, how, rc, "GET_HW_INFO dev %u", dev_id);
	return 0;
}

static int hwpt_paging(struct iommufd *ictx, u32 dev_id, u32 ioas_id, u32 flags, u32 *out_hwpt_id,
		       enum fail_report how)
{
	int rc = track_reserve(ictx, how);

	if (rc)
		return rc;
	rc = ictx->ops->hwpt_alloc(ictx, dev_id, ioas_id, flags, IOMMU_HWPT_DATA_NONE, NULL, 0, out_hwpt_id);
	if (rc)
		return fail(ictx, how, rc, "HWPT_ALLOC %s (dev %u, ioas %u)",
			    (flags & IOMMU_HWPT_ALLOC_NEST_PARENT) ? "nest-parent" : "paging", dev_id, ioas_id);
	track_add(ictx, *out_hwpt_id, IOMMUFD_OBJ_HWPT_PAGING, ioas_id, -1);
	return 0;
}

int iommufd_hwpt_alloc_nest_parent(struct iommufd *ictx, u32 dev_id, u32 ioas_id, u32 *out_hwpt_id,
				   enum fail_report how)
{
	return hwpt_paging(ictx, dev_id, ioas_id, IOMMU_HWPT_ALLOC_NEST_PARENT, out_hwpt_id, how);
}

int iommufd_hwpt_alloc_paging(struct iommufd *ictx, u32 dev_id, u32 ioas_id, u32 *out_hwpt_id)
{
	return hwpt_paging(ictx, dev_id, ioas_id, 0, out_hwpt_id, FAIL_PRINT);
}

int iommufd_hwpt_alloc_nested_smmuv3(struct iommufd *ictx, u32 dev_id, u32 viommu_id, const u64 ste[2],
				     u32 *out_hwpt_id, enum fail_report how)
{
	struct iommu_hwpt_arm_smmuv3 data = { .ste = { htole64(ste[0]), htole64(ste[1]) } };
	int rc = track_reserve(ictx, how);

	if (rc)
		return rc;
	rc = ictx->ops->hwpt_alloc(ictx, dev_id, viommu_id, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, &data, sizeof(data),
				   out_hwpt_id);
	if (rc)
		return failh(ictx, how, rc, rc == -EIO ? "vSTE has fields the host does not accept" : NULL,
			     "HWPT_ALLOC nested (dev %u, viommu %u, ste 0x%016llx 0x%016llx)", dev_id, viommu_id,
			     (unsigned long long)ste[0], (unsigned long long)ste[1]);
	track_add(ictx, *out_hwpt_id, IOMMUFD_OBJ_HWPT_NESTED, viommu_id, -1);
	return 0;
}

int iommufd_viommu_alloc_smmuv3(struct iommufd *ictx, u32 dev_id, u32 s2_hwpt_id, u32 *out_viommu_id,
				enum fail_report how)
{
	int rc = track_reserve(ictx, how);

	if (rc)
		return rc;
	rc = ictx->ops->viommu_alloc(ictx, dev_id, s2_hwpt_id, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, out_viommu_id);
	if (rc)
		return failh(ictx, how, rc,
			     rc == -EOPNOTSUPP ? "host SMMU cannot back a vIOMMU: no nesting, or no S2FWB/CANWBS" : NULL,
			     "VIOMMU_ALLOC arm-smmuv3 (dev %u, hwpt %u)", dev_id, s2_hwpt_id);
	track_add(ictx, *out_viommu_id, IOMMUFD_OBJ_VIOMMU, s2_hwpt_id, -1);
	return 0;
}

int iommufd_vdevice_alloc(struct iommufd *ictx, u32 viommu_id, u32 dev_id, u64 virt_id, u32 *out_vdevice_id)
{
	int rc = track_reserve(ictx, FAIL_PRINT);

	if (rc)
		return rc;
	rc = ictx->ops->vdevice_alloc(ictx, viommu_id, dev_id, virt_id, out_vdevice_id);
	if (rc)
		return fail(ictx, FAIL_PRINT, rc, "VDEVICE_ALLOC (viommu %u, dev %u, virt_id 0x%llx)", viommu_id, dev_id,
			    (unsigned long long)virt_id);
	track_add(ictx, *out_vdevice_id, IOMMUFD_OBJ_VDEVICE, viommu_id, -1);
	return 0;
}

int iommufd_veventq_alloc_smmuv3(struct iommufd *ictx, u32 viommu_id, u32 depth, u32 *out_veventq_id, int *out_fd,
				 enum fail_report how)
{
	int rc = track_reserve(ictx, how);

	if (rc)
		return rc;
	rc = ictx->ops->veventq_alloc(ictx, viommu_id, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, depth, out_veventq_id, out_fd);
	if (rc)
		return fail(ictx, how, rc, "VEVENTQ_ALLOC arm-smmuv3 (viommu %u, depth %u)", viommu_id, depth);
	track_add(ictx, *out_veventq_id, IOMMUFD_OBJ_VEVENTQ, viommu_id, *out_fd);
	return 0;
}

/* ---- vEVENTQ read ---- */

ssize_t iommufd_veventq_read(struct iommufd *ictx, int fd, void *buf, size_t len, enum fail_report how)
{
	ssize_t n;

	if (len < IOMMUFD_VEVENT_SMMUV3_SIZE)
		return fail(ictx, how, -EINVAL, "vEVENTQ fd %d read: buffer of %zu bytes holds no record", fd, len);
	do {
		n = read(fd, buf, len);
	} while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN)
		return 0;
	return fail(ictx, how, -errno, "vEVENTQ fd %d read", fd);
}

/* ---- HWPT_INVALIDATE ---- */

/* One HWPT_INVALIDATE ioctl of ARM SMMUv3 commands on a vIOMMU; *num in = commands, out = handled (clamped
 * to the input). The failing command is named in the message. */
static int invalidate_raw(struct iommufd *ictx, u32 viommu_id,
			  const struct iommu_viommu_arm_smmuv3_invalidate *cmds, u32 *num, enum fail_report how)
{
	u32 asked = *num;
	int rc = ictx->ops->hwpt_invalidate(ictx, viommu_id, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, cmds,
					    sizeof(cmds[0]), num);

	if (*num > asked)
		*num = asked; /* never trust a backend to report more than it was given */
	if (rc) {
		u32 bad = *num;

		if (bad < asked)
			return fail(ictx, how, rc, "HWPT_INVALIDATE viommu %u: command %u of %u (op 0x%02x, 0x%016llx 0x%016llx)",
				    viommu_id, bad, asked, (unsigned int)(le64toh(cmds[bad].cmd[0]) & 0xff),
				    (unsigned long long)le64toh(cmds[bad].cmd[0]),
				    (unsigned long long)le64toh(cmds[bad].cmd[1]));
		return fail(ictx, how, rc, "HWPT_INVALIDATE viommu %u: %u commands", viommu_id, asked);
	}
	return 0;
}

int iommufd_hwpt_invalidate_smmuv3(struct iommufd *ictx, u32 viommu_id,
				   const struct iommu_viommu_arm_smmuv3_invalidate *cmds, u32 n, u32 *done, enum fail_report how)
{
	*done = n;
	if (n > IOMMUFD_INV_MAX_ENTRIES) {
		*done = 0;
		return fail(ictx, how, -E2BIG, "HWPT_INVALIDATE viommu %u: %u commands (the kernel takes at most %u)",
			    viommu_id, n, IOMMUFD_INV_MAX_ENTRIES);
	}
	return n ? invalidate_raw(ictx, viommu_id, cmds, done, how) : 0;
}
