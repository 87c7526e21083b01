/* fake_iommufd.h: a fake iommufd backend (struct iommufd_ops) for unit tests. It behaves like the kernel
 * where tests depend on it: ids are allocated from 1 and never reused, objects have parents, and DESTROY
 * refuses (-EBUSY) an object that still has live children, a HWPT a device is attached to, or a vEVENTQ
 * whose fd is still open; IOAS mappings must not overlap each other or the reserved ranges; a nested HWPT
 * (IOMMU_HWPT_DATA_ARM_SMMUV3 on a vIOMMU) is refused with -EIO, as Linux 7.3's arm_smmu_validate_vste()
 * does, when its vSTE has V=1 and a bit outside STE_0/1_NESTED_ALLOWED, a Config other than abort, bypass or
 * S1 translate, or an EATS other than abort or translate (a V=0 vSTE is an abort one, nothing else checked);
 * HWPT_INVALIDATE checks each command as Linux 7.3's arm_vsmmu_convert_user_cmd() does
 * (fake_iommufd_inv_check(): the opcode, every field against what that opcode may carry on this host's ID
 * registers, the TLBI range encodings, the vSID's vDEVICE) and stops at the first one it refuses (-EIO,
 * entry_num = its index); every call's entry count and every accepted command are recorded. The attach rules
 * (the object must exist; a translating nested HWPT needs the device's vDEVICE) are checked by fake_vfio on
 * the tables below. vEVENTQ fds are pipes: fake_iommufd_push_event() writes records a test reads.
 * One-shot failure injection: set fail_<op> = -errno; the next call of that op returns it and clears it.
 * fail_hwpt_alloc_skip / fail_vdevice_alloc_skip let that many calls succeed before the injected failure;
 * HWPT_INVALIDATE issues the commands it accepted in blocks of 63, as Linux 7.3 does, and records only
 * what it issued (inv_cmd, inv_cmds_accepted): a refused command leaves the checked commands of its block
 * unissued. fail_invalidate_where and fail_invalidate_at say where an injected failure strikes (enum
 * fake_inv_fail), fail_invalidate_n makes it hold for that many calls; fail_destroy_n makes fail_destroy hold for that
 * many DESTROYs in a row (N-shot, e.g. -EBUSY while the kernel still holds a vEVENTQ's file) and
 * fail_destroy_id restricts it to one object (0 = any).
 * Not thread-safe: a multi-threaded user calls every op and helper under one lock (the vSMMU's ictx_lock). */
#ifndef IVMM_TEST_FAKE_IOMMUFD_H
#define IVMM_TEST_FAKE_IOMMUFD_H

#include <stdbool.h>
#include "iommu/iommufd.h"

#ifndef FAKE_IOMMUFD_MAX_OBJS
#define FAKE_IOMMUFD_MAX_OBJS 4096 /* ids are never reused: a vSMMU test allocates many (tests/tsan: more) */
#endif
#define FAKE_IOMMUFD_MAX_MAPS 16
#define FAKE_IOMMUFD_MAX_DEVS 8
#define FAKE_IOMMUFD_MAX_LOG 128
#define FAKE_IOMMUFD_MAX_INV_CALLS 256
#define FAKE_IOMMUFD_MAX_INV_CMDS 1024

/* Where an injected HWPT_INVALIDATE failure (fail_invalidate = -errno) strikes, as in the kernel:
 *   EARLY  in the core, before the driver (a bad id or format, a fault copying the array): entry_num 0;
 *   ALLOC  the driver's allocation (-ENOMEM) before it touches entry_num: entry_num stays the count asked;
 *   ISSUE  the issue of the block of 63 commands holding command fail_invalidate_at (a CMD_SYNC timeout,
 *          -ETIMEDOUT): the blocks before it were issued, entry_num = the index of that block's last command;
 *   REFUSE command fail_invalidate_at is refused as validation refuses one (fail_invalidate should be -EIO):
 *          entry_num = its index, the commands of its block before it checked but not issued. */
enum fake_inv_fail { FAKE_INV_FAIL_EARLY, FAKE_INV_FAIL_ALLOC, FAKE_INV_FAIL_ISSUE, FAKE_INV_FAIL_REFUSE };

struct fake_iommufd_obj {
	bool live;
	enum iommufd_obj_type type;
	u32 parent;        /* IOAS of a paging HWPT; S2 HWPT of a vIOMMU; vIOMMU of the others */
	u32 dev_id;        /* vDEVICE: its device */
	u64 virt_id;       /* vDEVICE */
	u64 ste[2];        /* nested HWPT, host order */
	u32 depth;         /* vEVENTQ: the depth it was allocated with */
	int rfd, wfd;      /* vEVENTQ pipe */
	unsigned long long rino, rdev; /* the read end's inode: DESTROY is refused while rfd still names it */
};

struct fake_iommufd_map {
	bool used;
	u32 ioas;
	u64 iova, length;
	void *va;
	u32 flags;
};

struct fake_iommufd {
	struct fake_iommufd_obj objs[FAKE_IOMMUFD_MAX_OBJS]; /* index = id */
	u32 next_id;
	struct fake_iommufd_map maps[FAKE_IOMMUFD_MAX_MAPS];
	/* The host's reserved IOVA windows reported by IOAS_IOVA_RANGES (default: the arm64 sw_msi window). */
	struct iommu_iova_range reserved[4];
	u32 nr_reserved;
	u32 attached[FAKE_IOMMUFD_MAX_DEVS]; /* HWPT attached per dev_id (0 = none), set by fake_vfio */
	struct iommufd_hw_info hw_info;      /* GET_HW_INFO answer, copied whole (smmu.flags errata, idr[]) */
	/* Order of successful DESTROYs, and of every call as "op:id" text, for assertions. */
	u32 destroyed[FAKE_IOMMUFD_MAX_OBJS];
	unsigned int nr_destroyed;
	char log[FAKE_IOMMUFD_MAX_LOG][48];
	unsigned int nr_log;
	/* HWPT_INVALIDATE bookkeeping: every ioctl and every command accepted. */
	unsigned int inv_calls;
	u64 inv_cmds_accepted;
	u32 inv_last_num_in;
	u32 inv_num_in[FAKE_IOMMUFD_MAX_INV_CALLS];     /* entry_num of call i (the first MAX calls) */
	u64 inv_cmd[FAKE_IOMMUFD_MAX_INV_CMDS][2];      /* accepted commands in order, host order */
	unsigned int nr_inv_cmd;                        /* may exceed the array: later ones are only counted */
	unsigned int destroy_calls;          /* every DESTROY, failed ones included */
	u64 veventq_discarded;               /* bytes still unread in vEVENTQs when they were destroyed */
	bool closed;
	/* One-shot failure injection. */
	int fail_ioas_alloc, fail_ioas_map, fail_ioas_unmap, fail_iova_ranges, fail_hw_info, fail_hwpt_alloc,
		fail_viommu_alloc, fail_vdevice_alloc, fail_veventq_alloc, fail_invalidate, fail_destroy;
	unsigned int fail_hwpt_alloc_skip, fail_vdevice_alloc_skip;
	u32 fail_invalidate_at;
	enum fake_inv_fail fail_invalidate_where; /* where fail_invalidate strikes (below) */
	unsigned int fail_invalidate_n;      /* fail_invalidate holds for this many calls (0 = one) */
	unsigned int fail_destroy_n;
	u32 fail_destroy_id;
};

void fake_iommufd_init(struct fake_iommufd *f);
/* Open a struct iommufd on the fake (fd -1). */
void fake_iommufd_attach_ctx(struct fake_iommufd *f, struct iommufd *ictx);
/* Free the fake's own resources (pipe write ends). */
void fake_iommufd_release(struct fake_iommufd *f);
/* Number of live objects (of one type, or all with type = IOMMUFD_OBJ_NR). */
unsigned int fake_iommufd_live(const struct fake_iommufd *f, enum iommufd_obj_type type);
/* The first live object of a type with an id >= from, or 0. */
u32 fake_iommufd_find_live(const struct fake_iommufd *f, enum iommufd_obj_type type, u32 from);
/* Write one vEVENT (header + 4 dwords, host order; flags IOMMU_VEVENTQ_FLAG_LOST_EVENTS: a bare LOST_EVENTS
 * header) on a vEVENTQ. Returns 0, -ENOENT (no such live vEVENTQ) or -EIO (its pipe is full). */
int fake_iommufd_push_event(struct fake_iommufd *f, u32 veventq_id, u32 flags, u32 sequence, const u64 evt[4]);
/* Bytes written on a vEVENTQ and not read yet, or -ENOENT. */
int fake_iommufd_veventq_pending(const struct fake_iommufd *f, u32 veventq_id);
/* Index in the call log of the first entry equal to text, or -1. */
int fake_iommufd_log_find(const struct fake_iommufd *f, const char *text);
/* Would Linux 7.3 take invalidation command cmd (host order) on vIOMMU viommu_id? 0 if so, else -EIO. As
 * arm_vsmmu_validate_user_cmd() and arm_vsmmu_convert_user_cmd(), on the host features GET_HW_INFO reports
 * (hw_info.smmu.idr[]: IDR0.ASID16/ATS, IDR1.SSIDSIZE, IDR3.RIL, IDR5.DS):
 *   opcodes  TLBI_NSNH_ALL, TLBI_NH_ALL/ASID/VA/VAA, ATC_INV, CFGI_CD, CFGI_CD_ALL; any other is refused;
 *   fields   only those the opcode may carry, any other bit (RES0 or not) refused: OP everywhere; VMID on
 *            TLBI_NH_*; ASID on NH_ASID/NH_VA, its upper 8 bits only with ASID16; LEAF and VA on NH_VA/VAA;
 *            NUM, SCALE, TG and TTL on NH_VA/VAA only with RIL, SCALE bit 5 only with DS as well; SID on
 *            CFGI_CD/CFGI_CD_ALL/ATC_INV; LEAF and, with SSIDSIZE != 0, SSID on CFGI_CD; SIZE and ADDR on
 *            ATC_INV, and with SSIDSIZE != 0 SSV, SSID and Global;
 *   ranges   with RIL: TG 0 needs NUM = SCALE = TTL = 0; TG 16K with TTL 1 needs DS; a TG with NUM = SCALE = 0
 *            needs TTL != 0;
 *   ATC_INV  only with ATS, and Size <= 52;
 *   vSID     CFGI_CD, CFGI_CD_ALL and ATC_INV need a live vDEVICE of viommu_id whose virt_id is the SID.
 * Pure: reads the fake, changes nothing. */
int fake_iommufd_inv_check(const struct fake_iommufd *f, u32 viommu_id, const u64 cmd[2]);
/* For tests: n host-order commands through iommufd_hwpt_invalidate_smmuv3 in ONE call (converted with
 * iommufd_inv_cmd); its return value and *done. */
int fake_inv_send(struct iommufd *ictx, u32 viommu_id, const u64 (*cmds)[2], u32 n, u32 *done);

#endif
