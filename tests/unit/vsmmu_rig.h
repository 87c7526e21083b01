/* vsmmu_rig.h: the shared rig of the vSMMU unit tests (test_vsmmu_*.c). It builds a vSMMU the way a VM
 * does, on the fakes only: a fake_iommufd (with the lab host's GET_HW_INFO answer) holding one IOAS with the
 * guest RAM mapped at IOVA = GPA, RIG_NDEV fake_vfio devices bound to it (dev ids 1..n, StreamIDs from
 * rig_vsid()), a fake_hv, and a few MiB of malloc'ed guest RAM at LAYOUT_RAM_BASE. A test then plays the
 * guest's arm-smmu-v3 driver: it touches the vSMMU ONLY through its MMIO region ops (rig_rd32/rig_wr64 ...
 * call vsmmu_region(vs)->ops->read/write) and guest memory (stream table, CDs, commands written into the
 * buffer), and looks at the results in the fakes (which HWPT each device is attached to, which vSTE the
 * kernel was handed, which invalidations it got, which SPI/MSI the hv saw) and in vsmmu_stats_get().
 *
 * Guest RAM layout the helpers use (offsets from RIG_RAM):
 *   RIG_STRTAB   linear stream table (2^RIG_STRTAB_LOG2 STEs) or the level-1 table of a 2-level one
 *   RIG_CD       context descriptors, one 64-byte CD per stream (rig_cd(i))
 *   RIG_CMDQ     the command queue (up to 2^VSMMU_CMDQS entries of 16 bytes)
 *   RIG_L2       level-2 stream tables
 *   RIG_EVTQ     the event queue (up to 2^VSMMU_EVTQS records of 32 bytes)
 *   RIG_SCRATCH  MSI targets and anything else
 * The rig is a plain struct a test file keeps in its Criterion fixture (one per test process); its checks use
 * rig_assert.h, so the fuzzer (vsmmu_garbage.h) runs it too. */
#ifndef IVMM_TEST_VSMMU_RIG_H
#define IVMM_TEST_VSMMU_RIG_H

#include <pthread.h>
#include <stdbool.h>
#include "boot/layout.h"
#include "iommu/smmuv3_regs.h"
#include "iommu/vsmmu.h"
#include "tests/unit/fake_hv.h"
#include "tests/unit/fake_iommufd.h"
#include "tests/unit/fake_vfio.h"
#include "vmm/viommu_vfio.h"

#define RIG_MAX_DEV 4
#define RIG_RAM LAYOUT_RAM_BASE
#define RIG_RAM_SIZE (4 * SZ_1M)
#define RIG_FRAME LAYOUT_VSMMU_FRAME(0)
#define RIG_DOORBELL LAYOUT_ITS_DOORBELL
#define RIG_DEVID LAYOUT_VSMMU_DEVID(0)
#define RIG_SPI_EVTQ LAYOUT_SPI_VSMMU(0, LAYOUT_VSMMU_SPI_EVTQ)
#define RIG_SPI_GERROR LAYOUT_SPI_VSMMU(0, LAYOUT_VSMMU_SPI_GERROR)
#define RIG_SPI_SYNC LAYOUT_SPI_VSMMU(0, LAYOUT_VSMMU_SPI_SYNC)

#define RIG_STRTAB (RIG_RAM + 0x00000)
#define RIG_STRTAB_LOG2 8
#define RIG_CD (RIG_RAM + 0x10000)
#define RIG_CMDQ (RIG_RAM + 0x20000)
#define RIG_L2 (RIG_RAM + 0x40000)
#define RIG_EVTQ (RIG_RAM + 0x60000)
#define RIG_SCRATCH (RIG_RAM + 0x80000)

/* The lab host's IOMMU_GET_HW_INFO (docs: /work/shared/notes/lab-facts.md). */
#define RIG_HOST_IDR0 0x0d44101bu
#define RIG_HOST_IDR1 0x02730010u
#define RIG_HOST_IDR3 0x00001414u
#define RIG_HOST_IDR5 0x00000074u

struct vsmmu_rig {
	bool up;                   /* rig_init done, rig_fini not yet */
	bool ram_owned;            /* guest RAM allocated by rig_init (not the caller's: rig_init_ram) */
	struct fake_iommufd fi;
	struct iommufd ictx;
	pthread_mutex_t ictx_lock;
	unsigned int ndev;
	struct fake_vfio fv[RIG_MAX_DEV];
	struct vfio_dev dev[RIG_MAX_DEV];
	struct fake_hv fh;
	struct guest_mem mem;
	u32 ioas;
	struct viommu_config cfg;
	struct vsmmu *vs;
	/* The main loop's side of the vEVENTQ (cfg.loop): what the vSMMU asked to have watched. */
	int watch_fd;              /* -1: nothing watched */
	unsigned int sevs;         /* the vSMMU's SEVs (viommu_config.sev) */
	loop_fn watch_fn;
	void *watch_opaque;
	unsigned int watches, unwatches;
	/* The guest driver's command queue: where it is, its size, and the producer it has written so far. */
	u64 cmdq;
	unsigned int cmdq_log2;
	u32 prod;
	/* Its event queue: size and the consumer it has read up to. */
	unsigned int evtq_log2;
	u32 evtq_cons;
};

/* A command as the guest writes it (2 dwords, host order). */
struct rig_cmd {
	u64 w[2];
};

/* StreamID of device i (0x8, 0x10, 0x18 ...: PCI requester ids of 00:01.0, 00:02.0 ...). */
static inline u32 rig_vsid(unsigned int i)
{
	return LAYOUT_PCI_RID(i);
}
/* GPA of the CD the helpers give device i. */
static inline u64 rig_cd(unsigned int i)
{
	return RIG_CD + 0x40ULL * i;
}

/* Fakes, devices bound, IOAS with RAM mapped, cfg filled for ndev devices; no vSMMU yet. */
void rig_init(struct vsmmu_rig *r, unsigned int ndev);
/* The main loop's turn for the watched vEVENTQ fd (what vm.c does when poll says POLLIN). */
void rig_loop_turn(struct vsmmu_rig *r);
/* The id of the vEVENTQ whose fd is watched now (asserts there is one, live in the fake). */
u32 rig_veventq(struct vsmmu_rig *r);
/* vsmmu_create(&r->cfg, &r->vs): the return code. */
int rig_create(struct vsmmu_rig *r);
/* The same on guest RAM the caller owns (RIG_RAM_SIZE bytes, 4 KiB aligned; zeroed here, never freed by the
 * rig): a fuzzer reuses one buffer for every input instead of faulting in fresh pages each time. */
void rig_init_ram(struct vsmmu_rig *r, unsigned int ndev, void *ram);
/* rig_init + rig_create that must succeed (rig_up_ram: on the caller's RAM). */
void rig_up(struct vsmmu_rig *r, unsigned int ndev);
void rig_up_ram(struct vsmmu_rig *r, unsigned int ndev, void *ram);
/* vsmmu_destroy (if created) and free everything the rig owns; a no-op when already done. */
void rig_fini(struct vsmmu_rig *r);
/* vsmmu_destroy only; then every device must be detached and only the rig's IOAS live in the fake. */
void rig_destroy_and_check(struct vsmmu_rig *r);

/* MMIO, as a vCPU would issue it (offset from the frame base, size 4 or 8). */
u32 rig_rd32(struct vsmmu_rig *r, u64 off);
u64 rig_rd64(struct vsmmu_rig *r, u64 off);
void rig_wr32(struct vsmmu_rig *r, u64 off, u32 val);
void rig_wr64(struct vsmmu_rig *r, u64 off, u64 val);

/* Guest memory (asserts the range is in RAM). */
void *rig_ptr(struct vsmmu_rig *r, u64 gpa, u64 len);
void rig_put64(struct vsmmu_rig *r, u64 gpa, u64 val);
u64 rig_get64(struct vsmmu_rig *r, u64 gpa);
u32 rig_get32(struct vsmmu_rig *r, u64 gpa);

/* ---- the guest driver's steps ---- */

/* CR0 = bits, then CR0ACK must follow. */
void rig_cr0(struct vsmmu_rig *r, u32 bits);
/* GBPA update the way Linux does it (UPDATE set, then polled clear). */
void rig_gbpa(struct vsmmu_rig *r, u32 fields);
/* A linear stream table at RIG_STRTAB with 2^RIG_STRTAB_LOG2 entries (all zero = V=0). */
void rig_strtab_linear(struct vsmmu_rig *r);
/* Write an STE (dwords 0 and 1, the other six zero) at gpa / for sid in the linear table. */
void rig_ste_at(struct vsmmu_rig *r, u64 gpa, u64 s0, u64 s1);
void rig_ste(struct vsmmu_rig *r, u32 sid, u64 s0, u64 s1);
/* Dword 0 of a valid stage-1 STE whose CD table is at cd (S1CDMax 0, linear). */
static inline u64 rig_ste_s1(u64 cd)
{
	return STE_0_V | FIELD_PREP(STE_0_CFG, STE_CFG_S1_TRANS) | (cd & STE_0_S1CTXPTR);
}
static inline u64 rig_ste_cfg(unsigned int cfg)
{
	return STE_0_V | FIELD_PREP(STE_0_CFG, cfg);
}
/* Command queue of 2^log2 entries at gpa: CMDQ_BASE, PROD = CONS = 0, CMDQEN on (with SMMUEN as now). */
void rig_cmdq_at(struct vsmmu_rig *r, u64 gpa, unsigned int log2);
void rig_cmdq(struct vsmmu_rig *r, unsigned int log2);
/* The start most queue tests want: a linear stream table with every device's STE bypass, SMMUEN, and a command
 * queue of 2^cmdq_log2 entries. */
void rig_bypass_up(struct vsmmu_rig *r, unsigned int cmdq_log2);
/* Write cmd at the guest's producer index (not yet published); returns the queue pointer it went to. */
u32 rig_push(struct vsmmu_rig *r, struct rig_cmd c);
/* Publish: CMDQ_PROD = the guest's producer. */
void rig_kick(struct vsmmu_rig *r);
/* Push each command, kick once. */
void rig_submit(struct vsmmu_rig *r, const struct rig_cmd *cmds, unsigned int n);
/* Overwrite the command at queue index idx (a guest fixing a bad command). */
void rig_cmd_at(struct vsmmu_rig *r, u32 idx, struct rig_cmd c);
/* Event queue of 2^log2 entries at RIG_EVTQ: EVTQ_BASE, PROD = CONS = 0, EVTQEN on (other CR0 bits kept). */
void rig_evtq(struct vsmmu_rig *r, unsigned int log2);
/* Records the vSMMU produced since the last call (EVTQ_PROD - the rig's consumer), each copied to evt[i][4]
 * (host order) up to max; the rig then consumes them (EVTQ_CONS). Returns how many there were. */
unsigned int rig_events(struct vsmmu_rig *r, u64 (*evt)[4], unsigned int max);
/* CMDQ_CONS and its parts. */
u32 rig_cons(struct vsmmu_rig *r);
static inline u32 rig_cons_err(u32 cons)
{
	return (u32)FIELD_GET(CMDQ_CONS_ERR, cons);
}
/* Is GERROR.bit active (GERROR ^ GERRORN)? */
bool rig_gerror_active(struct vsmmu_rig *r, u32 bit);
/* Acknowledge every active global error (GERRORN = GERROR). */
void rig_gerror_ack(struct vsmmu_rig *r);

/* ---- commands ---- */

static inline struct rig_cmd rig_cmd_op(u8 op)
{
	return (struct rig_cmd){ { FIELD_PREP(CMDQ_0_OP, op), 0 } };
}
static inline struct rig_cmd rig_cmd_cfgi_ste(u32 sid)
{
	return (struct rig_cmd){ { FIELD_PREP(CMDQ_0_OP, CMDQ_OP_CFGI_STE) | FIELD_PREP(CMDQ_CFGI_0_SID, sid),
				   CMDQ_CFGI_1_LEAF } };
}
static inline struct rig_cmd rig_cmd_cfgi_range(u32 sid, u32 range)
{
	return (struct rig_cmd){ { FIELD_PREP(CMDQ_0_OP, CMDQ_OP_CFGI_STE_RANGE) | FIELD_PREP(CMDQ_CFGI_0_SID, sid),
				   FIELD_PREP(CMDQ_CFGI_1_RANGE, range) } };
}
static inline struct rig_cmd rig_cmd_cfgi_all(void)
{
	return rig_cmd_cfgi_range(0, 31);
}
static inline struct rig_cmd rig_cmd_cfgi_cd(u32 sid)
{
	return (struct rig_cmd){ { FIELD_PREP(CMDQ_0_OP, CMDQ_OP_CFGI_CD) | FIELD_PREP(CMDQ_CFGI_0_SID, sid),
				   CMDQ_CFGI_1_LEAF } };
}
static inline struct rig_cmd rig_cmd_cfgi_cd_all(u32 sid)
{
	return (struct rig_cmd){ { FIELD_PREP(CMDQ_0_OP, CMDQ_OP_CFGI_CD_ALL) | FIELD_PREP(CMDQ_CFGI_0_SID, sid), 0 } };
}
static inline struct rig_cmd rig_cmd_tlbi_asid(u16 asid)
{
	return (struct rig_cmd){ { FIELD_PREP(CMDQ_0_OP, CMDQ_OP_TLBI_NH_ASID) | FIELD_PREP(CMDQ_TLBI_0_ASID, asid), 0 } };
}
static inline struct rig_cmd rig_cmd_tlbi_va(u16 asid, u64 va, bool leaf)
{
	return (struct rig_cmd){ { FIELD_PREP(CMDQ_0_OP, CMDQ_OP_TLBI_NH_VA) | FIELD_PREP(CMDQ_TLBI_0_ASID, asid),
				   (va & CMDQ_TLBI_1_VA) | (leaf ? CMDQ_TLBI_1_LEAF : 0) } };
}
static inline struct rig_cmd rig_cmd_tlbi_vaa(u64 va)
{
	return (struct rig_cmd){ { FIELD_PREP(CMDQ_0_OP, CMDQ_OP_TLBI_NH_VAA), va & CMDQ_TLBI_1_VA } };
}
static inline struct rig_cmd rig_cmd_sync(unsigned int cs, u64 msiaddr, u32 msidata)
{
	return (struct rig_cmd){ { FIELD_PREP(CMDQ_0_OP, CMDQ_OP_CMD_SYNC) | FIELD_PREP(CMDQ_SYNC_0_CS, cs) |
				   FIELD_PREP(CMDQ_SYNC_0_MSIDATA, msidata),
				   msiaddr & CMDQ_SYNC_1_MSIADDR } };
}

/* ---- what the fakes saw ---- */

/* The fake object device i is attached to (asserts it is attached to a live nested HWPT). */
const struct fake_iommufd_obj *rig_hwpt(struct vsmmu_rig *r, unsigned int i);
/* Config of the vSTE of device i's HWPT (STE_CFG_ABORT / BYPASS / S1_TRANS). */
unsigned int rig_cfg_of(struct vsmmu_rig *r, unsigned int i);
/* Live objects of one type in the fake. */
static inline unsigned int rig_live(const struct vsmmu_rig *r, enum iommufd_obj_type t)
{
	return fake_iommufd_live(&r->fi, t);
}
struct vsmmu_stats rig_stats(struct vsmmu_rig *r);
/* The invariants that hold whatever the guest did: one S2, one vIOMMU, a vDEVICE per stream, at most one
 * vEVENTQ, every device on a live nested HWPT of that vIOMMU, every translating nested HWPT attached to
 * exactly one device, exactly two others (abort, bypass), so no more nested HWPTs than streams + 2. */
void rig_check(struct vsmmu_rig *r);

#endif
