/* iommufd.h: ivmm's iommufd layer, the only code that issues iommufd ioctls.
 *
 * A struct iommufd is one open /dev/iommu plus a tracker of every object created through it. The kernel
 * operations sit behind a typed ops table (struct iommufd_ops): iommu/iommufd.c holds the real one, unit
 * tests plug a fake (tests/unit/fake_iommufd.h). The iommufd_* wrappers below call the ops, print one line on
 * failure ("iommufd: OPERATION (ids...): strerror") and keep the tracker up to date.
 *
 * Object order (docs/architecture.md, "iommufd objects and their order"): IOAS -> nest-parent (S2) HWPT on it
 * -> vIOMMU on the S2 HWPT -> vDEVICE per device (virt_id = guest StreamID) -> nested HWPTs (guest STEs), and
 * a vEVENTQ while the guest has EVTQEN set. Teardown runs in reverse, children before their parents;
 * iommufd_teardown() destroys what is still tracked by rank: nested HWPTs, vDEVICEs, vEVENTQs, vIOMMUs,
 * S2/paging HWPTs, IOASes (vDEVICEs and vEVENTQs are siblings under the vIOMMU: their order does not matter). Devices must first be re-attached to a safe HWPT (or detached, or their fd closed):
 * the kernel refuses to destroy a HWPT a device is attached to (-EBUSY). That is the VFIO layer's job
 * (devices/vfio_dev.h), done by its owner before iommufd_teardown().
 *
 * Threading: a struct iommufd is not locked; the owner serialises calls on one context.
 */
#ifndef IVMM_IOMMU_IOMMUFD_H
#define IVMM_IOMMU_IOMMUFD_H

#include <stdbool.h>
#include <endian.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/iommufd.h>
#include "vmm/compiler.h"
#include "vmm/log.h"

struct iommufd;

/* The software MSI window the arm64 host kernel reserves in every IOAS a device is attached to
 * (arm-smmu-v3 MSI_IOVA_BASE/LENGTH). Guest RAM mapped at IOVA = GPA must stay clear of it. */
#define IOMMUFD_ARM_SW_MSI_BASE 0x08000000ULL
#define IOMMUFD_ARM_SW_MSI_SIZE 0x00100000ULL

/* What kind of object an id names (tracker bookkeeping and teardown rank). */
enum iommufd_obj_type {
	IOMMUFD_OBJ_IOAS,
	IOMMUFD_OBJ_HWPT_PAGING,  /* on an IOAS (nest parent or plain) */
	IOMMUFD_OBJ_VIOMMU,
	IOMMUFD_OBJ_VEVENTQ,      /* has an fd, closed when destroyed */
	IOMMUFD_OBJ_VDEVICE,
	IOMMUFD_OBJ_HWPT_NESTED,  /* on a vIOMMU, from a guest STE */
	IOMMUFD_OBJ_NR,
};

/* Name of an object type for messages ("IOAS", "HWPT(nested)", ...). */
const char *iommufd_obj_type_name(enum iommufd_obj_type type);

/* Result of GET_HW_INFO. For type IOMMU_HW_INFO_TYPE_ARM_SMMUV3, smmu holds idr[0..5], iidr, aidr. */
struct iommufd_hw_info {
	u32 type;                 /* enum iommu_hw_info_type */
	u64 capabilities;         /* enum iommufd_hw_capabilities */
	u8 max_pasid_log2;
	struct iommu_hw_info_arm_smmuv3 smmu;
};

/* The kernel operations. Each returns 0 or -errno and must not print (the wrappers do). ids are the
 * kernel's object ids. A fake may keep its state behind iommufd->priv. */
struct iommufd_ops {
	const char *name;
	int (*ioas_alloc)(struct iommufd *ictx, u32 *out_ioas_id);
	/* flags: IOMMU_IOAS_MAP_* ; with FIXED_IOVA, *iova is input, else output. */
	int (*ioas_map)(struct iommufd *ictx, u32 ioas_id, void *va, u64 length, u64 *iova, u32 flags);
	int (*ioas_unmap)(struct iommufd *ictx, u32 ioas_id, u64 iova, u64 length);
	/* Fills up to *num ranges; sets *num to the kernel's count (may exceed the input: retry bigger). */
	int (*ioas_iova_ranges)(struct iommufd *ictx, u32 ioas_id, struct iommu_iova_range *ranges, u32 *num,
				u64 *out_alignment);
	int (*get_hw_info)(struct iommufd *ictx, u32 dev_id, struct iommufd_hw_info *out);
	/* flags: IOMMU_HWPT_ALLOC_*; data_type: IOMMU_HWPT_DATA_* (NONE with data NULL, len 0). */
	int (*hwpt_alloc)(struct iommufd *ictx, u32 dev_id, u32 pt_id, u32 flags, u32 data_type,
			  const void *data, u32 data_len, u32 *out_hwpt_id);
	int (*viommu_alloc)(struct iommufd *ictx, u32 dev_id, u32 hwpt_id, u32 type, u32 *out_viommu_id);
	int (*vdevice_alloc)(struct iommufd *ictx, u32 viommu_id, u32 dev_id, u64 virt_id, u32 *out_vdevice_id);
	int (*veventq_alloc)(struct iommufd *ictx, u32 viommu_id, u32 type, u32 depth, u32 *out_veventq_id,
			     int *out_fd);
	/* *num: in = entries at data, out = entries the kernel handled (also on error). */
	int (*hwpt_invalidate)(struct iommufd *ictx, u32 id, u32 data_type, const void *data, u32 entry_len,
			       u32 *num);
	int (*destroy)(struct iommufd *ictx, u32 id);
	/* Release the backend (the real one closes /dev/iommu). */
	void (*close)(struct iommufd *ictx);
};

struct iommufd_obj {
	u32 id;
	enum iommufd_obj_type type;
	u32 parent;     /* IOAS of a paging HWPT, vIOMMU of vDEVICE/vEVENTQ/nested HWPT, else 0 */
	int fd;         /* vEVENTQ fd, else -1 */
	u64 seq;        /* creation order */
};

struct iommufd {
	const struct iommufd_ops *ops;
	int fd;                 /* /dev/iommu, or -1 for a fake */
	void *priv;             /* backend state (fakes) */
	struct iommufd_obj *objs;
	size_t nr_objs, cap_objs;
	u64 next_seq;
	char last_err[256];     /* the last failure line (printed or not), for callers and tests */
};

/* Errors: every function that fails records one line naming the object, the operation, the ids and strerror
 * in ictx->last_err and prints it. Those whose caller may report the failure itself (rate-limited, because a
 * guest drove the call, or in a line of its own, as host-check does) take how: FAIL_QUIET records without
 * printing (vmm/log.h). */

/* Open /dev/iommu (path NULL = "/dev/iommu") with the real ops. A missing node is reported as
 * "iommufd: cannot open /dev/iommu: No such file or directory (kernel without CONFIG_IOMMUFD?)". */
int __must_check iommufd_open(struct iommufd *ictx, const char *path);
/* Use a custom backend (fakes). fd is what iommufd_fd() returns (e.g. -1). */
void iommufd_init(struct iommufd *ictx, const struct iommufd_ops *ops, void *priv, int fd);
/* iommufd_teardown() then release the backend. Safe on a zeroed or already closed context. */
void iommufd_close(struct iommufd *ictx);
/* The fd to pass to VFIO_DEVICE_BIND_IOMMUFD. */
static inline int iommufd_fd(const struct iommufd *ictx)
{
	return ictx->fd;
}

/* IOAS. */
int __must_check iommufd_ioas_alloc(struct iommufd *ictx, u32 *out_ioas_id, enum fail_report how);
/* Map [va, va+length) at a fixed iova, READABLE|WRITEABLE (writeable=false: read-only for the device). */
int __must_check iommufd_ioas_map_fixed(struct iommufd *ictx, u32 ioas_id, void *va, u64 length, u64 iova,
					bool writeable);
int __must_check iommufd_ioas_unmap(struct iommufd *ictx, u32 ioas_id, u64 iova, u64 length);
/* Allowed IOVA ranges of an IOAS. On success *out is malloc'ed (free() it), *nr set.
 * The host's reserved regions (the sw_msi window) enter the IOAS only when a device is attached to a HWPT
 * of it (directly or through a nested HWPT whose parent is on it): before the first attach the lab reports
 * a single range, after it [0, 0x7ffffff] and [0x8100000, 0xfffffffffff] (44-bit input size).
 * Check again after attaching, or keep clear of IOMMUFD_ARM_SW_MSI_* up front. */
int __must_check iommufd_ioas_iova_ranges(struct iommufd *ictx, u32 ioas_id, struct iommu_iova_range **out,
					  size_t *nr, u64 *out_alignment);
/* 0 if [iova, iova+length) lies inside one allowed range, else -ERANGE with a message naming the
 * reserved hole it hits (e.g. the 0x08000000 sw_msi window). Pure: usable on any range list. */
int __must_check iommufd_check_iova(const struct iommu_iova_range *ranges, size_t nr, u64 iova, u64 length,
				    char *why, size_t whylen);
/* Lowest iova >= min, aligned to align (power of two), such that [iova, iova+length) fits one allowed range.
 * Returns 0 and sets *iova, or -ENOSPC. Pure. */
int __must_check iommufd_find_iova(const struct iommu_iova_range *ranges, size_t nr, u64 min, u64 length,
				   u64 align, u64 *iova);

/* Device info (dev_id from VFIO_DEVICE_BIND_IOMMUFD). */
int __must_check iommufd_get_hw_info(struct iommufd *ictx, u32 dev_id, struct iommufd_hw_info *out,
				     enum fail_report how);

/* HWPTs. */
/* A nesting parent (stage 2) on an IOAS: flags NEST_PARENT. */
int __must_check iommufd_hwpt_alloc_nest_parent(struct iommufd *ictx, u32 dev_id, u32 ioas_id, u32 *out_hwpt_id,
						enum fail_report how);
/* A plain paging HWPT on an IOAS (flags 0). */
int __must_check iommufd_hwpt_alloc_paging(struct iommufd *ictx, u32 dev_id, u32 ioas_id, u32 *out_hwpt_id);
/* A nested HWPT on a vIOMMU from the first two (little-endian host order values) dwords of a guest STE. */
int __must_check iommufd_hwpt_alloc_nested_smmuv3(struct iommufd *ictx, u32 dev_id, u32 viommu_id,
						  const u64 ste[2], u32 *out_hwpt_id, enum fail_report how);

/* vIOMMU (IOMMU_VIOMMU_TYPE_ARM_SMMUV3) on a nest-parent HWPT. */
int __must_check iommufd_viommu_alloc_smmuv3(struct iommufd *ictx, u32 dev_id, u32 s2_hwpt_id, u32 *out_viommu_id,
					     enum fail_report how);
/* vDEVICE: dev_id seen by the guest as virt_id (its StreamID). */
int __must_check iommufd_vdevice_alloc(struct iommufd *ictx, u32 viommu_id, u32 dev_id, u64 virt_id,
				       u32 *out_vdevice_id);
/* The kernel's limit on a vEVENTQ's depth. */
#define IOMMUFD_VEVENTQ_MAX_DEPTH (1u << 19)
/* vEVENTQ (IOMMU_VEVENTQ_TYPE_ARM_SMMUV3) of depth records. *out_fd is owned by the tracker: it is closed
 * when the vEVENTQ is destroyed (iommufd_destroy / teardown); the caller must not close it. */
int __must_check iommufd_veventq_alloc_smmuv3(struct iommufd *ictx, u32 viommu_id, u32 depth, u32 *out_veventq_id,
					      int *out_fd, enum fail_report how);

/* Destroy one tracked object (closes a vEVENTQ's fd). An id the tracker does not know is still passed
 * to the kernel (and reported as untracked in a debug line). A vEVENTQ's file is released before the DESTROY
 * (the kernel refuses it while the file is open) but its fd number only after the DESTROY succeeded: an
 * eventfd that never polls readable holds the number meanwhile, so a poller that still has it cannot read
 * another file; if the DESTROY fails, the object stays tracked with that placeholder as its fd (the next
 * iommufd_destroy retries, iommufd_close closes it). */
int __must_check iommufd_destroy(struct iommufd *ictx, u32 id, enum fail_report how);
/* Destroy every tracked object, children first (order in the file header). Keeps going on failure;
 * returns the first error. */
int iommufd_teardown(struct iommufd *ictx);
/* The tracker entry for id, or NULL. */
const struct iommufd_obj *iommufd_obj_find(const struct iommufd *ictx, u32 id);

/* ---- vEVENTQ records ---- */

/* One record parsed from a vEVENTQ read. A LOST_EVENTS header has no data (has_data false). */
struct iommufd_vevent {
	u32 flags;       /* enum iommu_veventq_flag */
	u32 sequence;    /* 0..INT_MAX, wraps to 0 */
	bool lost_events;
	bool has_data;
	u64 evt[4];      /* the SMMUv3 event record, host order (valid if has_data) */
};

/* Bytes of one full ARM SMMUv3 vEVENT: header + record. A read buffer must hold at least one. */
#define IOMMUFD_VEVENT_SMMUV3_SIZE (sizeof(struct iommufd_vevent_header) + sizeof(struct iommu_vevent_arm_smmuv3))

/* Parse the record at buf[*off]; advance *off. Returns 1 when a record was parsed, 0 at the end of the
 * buffer, -EPROTO when the buffer ends inside a record (truncated). */
int __must_check iommufd_vevent_parse(const void *buf, size_t len, size_t *off, struct iommufd_vevent *out);

/* Sequence accounting across reads, so gaps (lost events) are counted and never silent. */
struct iommufd_vevent_seq {
	bool started;
	u32 next;        /* expected next sequence */
	u64 received;    /* records with data */
	u64 lost;        /* events known lost (gaps + LOST_EVENTS markers) */
};
/* Account ev; returns how many events were lost just before it (0 if none). */
u32 iommufd_vevent_seq_account(struct iommufd_vevent_seq *s, const struct iommufd_vevent *ev);

/* read() a vEVENTQ fd into buf (len >= IOMMUFD_VEVENT_SMMUV3_SIZE). Returns bytes read (whole records only),
 * 0 if nothing is queued (the kernel's read does not block; -EAGAIN also maps to 0), or -errno with a
 * message. poll() the fd for POLLIN to wait. */
ssize_t iommufd_veventq_read(struct iommufd *ictx, int fd, void *buf, size_t len, enum fail_report how);

/* ---- HWPT_INVALIDATE (ARM SMMUv3 commands, on a vIOMMU id) ---- */

/* The kernel's limit on entry_num for one IOMMU_HWPT_INVALIDATE. */
#define IOMMUFD_INV_MAX_ENTRIES (1u << 19)

/* One 128-bit command (host-order dwords) in the kernel's little-endian format. */
static inline void iommufd_inv_cmd(struct iommu_viommu_arm_smmuv3_invalidate *out, const u64 cmd[2])
{
	out->cmd[0] = htole64(cmd[0]);
	out->cmd[1] = htole64(cmd[1]);
}

/* ONE IOMMU_HWPT_INVALIDATE of n commands (already in the kernel's little-endian format, iommufd_inv_cmd) on
 * a vIOMMU; n <= IOMMUFD_INV_MAX_ENTRIES (else -E2BIG, nothing sent). *done = commands the kernel handled,
 * also on failure (then the command at index *done is the one it refused, and the message names it: opcode
 * and dwords). The one batcher on top of it is the vSMMU's (iommu/vsmmu_cmdq.c gathers, vsmmu_inv_flush in
 * iommu/vsmmu.c says how the kernel's answer reads). */
int __must_check iommufd_hwpt_invalidate_smmuv3(struct iommufd *ictx, u32 viommu_id,
						const struct iommu_viommu_arm_smmuv3_invalidate *cmds, u32 n,
						u32 *done, enum fail_report how);

#endif
