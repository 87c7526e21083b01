/* vsmmu_internal.h: the vSMMU's state and the functions its files share (iommu/vsmmu*.c only, not an API).
 *   vsmmu.c       glue: create/destroy, the lock, the MMIO entry points, iommufd objects, stream attach,
 *                 interrupts, the event hook, stats
 *   vsmmu_regs.c  the register file: ID registers, CR0/CR0ACK, GBPA, IRQ_CTRL, GERROR, queue and table bases
 *   vsmmu_cmdq.c  the command queue: fetch, decode once into struct vsmmu_cmd, check, dispatch, batching
 *   vsmmu_ste.c   the stream table: linear and 2-level walk, STE decode into what to attach
 *   vsmmu_evtq.c  the event queue: the kernel's vEVENTQ and ivmm's own events into the guest's EVTQ
 *   vsmmu_ctl.c   the control socket's view: counters and state into a struct viommu_out, fault injection
 *   vsmmu_trace.c the trace: guest commands, iommufd calls and errors, one rate-limited line each
 * Every function here runs with vs->lock held. */
#ifndef IVMM_IOMMU_VSMMU_INTERNAL_H
#define IVMM_IOMMU_VSMMU_INTERNAL_H

#include <stdio.h>
#include "iommu/smmuv3_regs.h"
#include "iommu/vsmmu.h"

/* Queue sizes the vSMMU offers (IDR1.CMDQS/EVTQS, log2 of entries). */
#define VSMMU_CMDQS 12
#define VSMMU_EVTQS 12
/* StreamIDs are guest PCI requester IDs: 16 bits. */
#define VSMMU_SIDSIZE 16
/* Invalidation batches in a row the host may fail (CERROR_ABT each, which the guest retries) before the
 * vSMMU gives up and enters service failure. */
#define VSMMU_INV_FAIL_LIMIT 8
/* Trace lines a second at most (vsmmu_trace.c). */
#define VSMMU_TRACE_RATE 1000

/* A queue's producer/consumer arithmetic for 2^shift entries: index in the low shift bits, wrap bit above. */
static inline u32 vsmmu_q_idx(u32 p, unsigned int shift)
{
	return p & ((1u << shift) - 1);
}
static inline u32 vsmmu_q_wrp(u32 p, unsigned int shift)
{
	return p & (1u << shift);
}
/* p with only its index and wrap bits (what a PROD/CONS pointer holds). */
static inline u32 vsmmu_q_ptr(u32 p, unsigned int shift)
{
	return p & ((2u << shift) - 1);
}
static inline bool vsmmu_q_empty(u32 prod, u32 cons, unsigned int shift)
{
	return vsmmu_q_ptr(prod, shift) == vsmmu_q_ptr(cons, shift);
}
static inline bool vsmmu_q_full(u32 prod, u32 cons, unsigned int shift)
{
	return vsmmu_q_idx(prod, shift) == vsmmu_q_idx(cons, shift) &&
	       vsmmu_q_wrp(prod, shift) != vsmmu_q_wrp(cons, shift);
}
/* The next pointer (index + 1, the wrap bit toggling past the end). */
static inline u32 vsmmu_q_inc(u32 p, unsigned int shift)
{
	return vsmmu_q_ptr(vsmmu_q_ptr(p, shift) + 1, shift);
}
/* Effective log2 entries of a queue base register: the guest's LOG2SIZE capped at what IDR1 offers. */
static inline unsigned int vsmmu_q_shift(u64 base, unsigned int max)
{
	unsigned int s = (unsigned int)FIELD_GET(Q_BASE_LOG2SIZE, base);

	return s < max ? s : max;
}

/* What a stream is attached to. */
enum vsmmu_target { VSMMU_T_NONE, VSMMU_T_ABORT, VSMMU_T_BYPASS, VSMMU_T_NESTED };

struct vsmmu_stream {
	const char *name;
	const struct viommu_stream_ops *ops;
	void *dev;                 /* the context of ops */
	u32 dev_id;                /* the device's iommufd dev_id */
	u32 vsid;
	u32 vdevice_id;            /* 0 = not allocated */
	enum vsmmu_target target;  /* what the device is attached to now */
	u32 nested_id;             /* its own nested HWPT (target NESTED), 0 = none */
	u64 ste[2];                /* the vSTE nested_id was made from */
	const char *why;           /* why it is on target (a constant, for the state dump), NULL = reset */
};

/* The result of reading a stream's STE: what to attach, or the event that says why it aborts. */
struct vsmmu_ste_result {
	enum vsmmu_target target;  /* ABORT, BYPASS or NESTED */
	u64 vste[2];               /* NESTED: the fields handed to IOMMU_HWPT_ALLOC */
	u8 event;                  /* 0, or EVT_ID_* (C_BAD_STREAMID, F_STE_FETCH, C_BAD_STE, F_CD_FETCH) */
	u64 fetch_addr;            /* the address behind an F_STE_FETCH / F_CD_FETCH */
};

/* One decoded command. */
struct vsmmu_cmd {
	u64 raw[2];
	u8 op;
	u32 sid;                   /* CFGI_*, ATC_INV */
	u32 range;                 /* CFGI_STE_RANGE: log2(number of STEs) - 1 */
	u8 cs;                     /* CMD_SYNC */
	u32 msidata;
	u64 msiaddr;
};

/* The invalidation batch: commands in the kernel's format and the queue index each came from. */
struct vsmmu_inv {
	struct iommu_viommu_arm_smmuv3_invalidate *cmds;
	u32 *qidx;
	u32 nr, cap;
};

struct vsmmu {
	struct viommu viommu;      /* what the machine holds (vsmmu_viommu_ops) */
	char name[16];
	struct viommu_config cfg;
	pthread_mutex_t lock;
	struct mmio_region region;

	/* iommufd objects. */
	u32 s2_id, viommu_id, abort_id, bypass_id;
	unsigned int nstreams;
	struct vsmmu_stream streams[VIOMMU_MAX_STREAMS];

	/* Features derived from the host (vsmmu_derive_idr) and what follows from them. */
	u32 idr[6];
	u32 iidr, aidr;
	bool asid16, ril, ds;
	unsigned int evtqs;        /* IDR1.EVTQS: the guest's EVTQ LOG2SIZE is capped at it */

	/* Register file. */
	u32 cr0, cr1, cr2, gbpa, irq_ctrl, gerror, gerrorn;
	u32 cr0ack;                /* CR0 as done: EVTQEN only once the vEVENTQ exists (vsmmu_evtq.c) */
	u64 gerror_irq_cfg0;
	u32 gerror_irq_cfg1, gerror_irq_cfg2;
	u64 strtab_base;
	u32 strtab_base_cfg;
	u64 cmdq_base;
	u32 cmdq_prod, cmdq_cons;
	u64 evtq_base;
	u32 evtq_prod, evtq_cons;
	u64 evtq_irq_cfg0;
	u32 evtq_irq_cfg1, evtq_irq_cfg2;

	struct vsmmu_inv inv;
	unsigned int inv_fail_streak; /* batches the host failed in a row (VSMMU_INV_FAIL_LIMIT) */
	bool erratum_repeat;       /* host erratum T264-SMMU-3: every invalidation batch is issued twice */
	bool host_stall;           /* the host SMMU can stall (IDR0.STALL_MODEL 0b00): vSTEs get S1STALLD */
	bool sfm;                  /* service failure (vsmmu_service_failure): streams abort, for good */
	u32 inject_cerror;         /* CMDQ_ERR_CERROR_*: the next command fails with it (injected), 0 = none */
	FILE *trace;               /* the trace's stream (stderr or a file of ours), NULL = off */
	u64 trace_sec;             /* the second trace_lines counts in */
	unsigned int trace_lines;
	u64 trace_dropped;         /* lines past VSMMU_TRACE_RATE in trace_sec */
	struct vsmmu_stats stats;

	/* The kernel's vEVENTQ while EVTQEN is set (0 / -1 otherwise). */
	u32 veventq_id;
	int veventq_fd;
	struct iommufd_vevent_seq veventq_seq;
	u32 veventq_retired;       /* a freed vEVENTQ the kernel still held (destroyed before the next), or 0 */
};

/* vsmmu_regs.c */
void vsmmu_regs_reset(struct vsmmu *vs);
u64 vsmmu_reg_read(struct vsmmu *vs, u64 off, unsigned int size);
void vsmmu_reg_write(struct vsmmu *vs, u64 off, u64 val, unsigned int size);
/* Raise a global error (toggle GERROR bit unless it is already active) and its interrupt. */
void vsmmu_gerror_raise(struct vsmmu *vs, u32 bit);
static inline bool vsmmu_gerror_active(const struct vsmmu *vs, u32 bit)
{
	return ((vs->gerror ^ vs->gerrorn) & bit) != 0;
}

/* vsmmu_trace.c */
void __printf(2, 3) vsmmu_trace_line(struct vsmmu *vs, const char *fmt, ...);
#define VSMMU_TRACE(vs, ...)                          \
	do {                                          \
		if ((vs)->trace)                      \
			vsmmu_trace_line(vs, __VA_ARGS__); \
	} while (0)
/* At vsmmu_destroy: close the trace's file. */
void vsmmu_trace_fini(struct vsmmu *vs);

/* vsmmu_cmdq.c */
/* Consume commands from CMDQ_CONS to CMDQ_PROD (CMDQEN set, no command error pending). */
void vsmmu_cmdq_run(struct vsmmu *vs);
/* Decode raw into cmd and check it against the architecture and the vSMMU's features. Returns
 * CMDQ_ERR_CERROR_NONE or CMDQ_ERR_CERROR_ILL. Pure given vs's features (for tests through the queue). */
u32 vsmmu_cmd_decode(const struct vsmmu *vs, const u64 raw[2], struct vsmmu_cmd *cmd);
void vsmmu_inv_free(struct vsmmu_inv *inv);

/* vsmmu_evtq.c */
/* CR0.EVTQEN is 1 (allocate the vEVENTQ if not done yet; CR0ACK.EVTQEN follows once it exists) or went to 0
 * (free it; CR0ACK.EVTQEN clears at once). Never sleeps. */
void vsmmu_evtq_enable(struct vsmmu *vs, bool on);
/* At vsmmu_destroy (no lock held, the main loop no longer polls): free the vEVENTQ, waiting (~100 ms at most)
 * for the kernel to let go of retired ones. */
void vsmmu_evtq_teardown(struct vsmmu *vs);
/* Put one event record (host order) in the guest's EVTQ and interrupt. */
void vsmmu_evtq_raise(struct vsmmu *vs, const u64 evt[EVTQ_ENT_DWORDS]);
/* Toggle EVTQ_PROD.OVFLG as if events had been lost (unless an overflow is unacknowledged) and interrupt. */
void vsmmu_evtq_overflow(struct vsmmu *vs);
/* The main loop's callback for the vEVENTQ fd (takes vs->lock). */
void vsmmu_evtq_readable(void *opaque, int fd, short revents);

/* vsmmu_ste.c */
/* Read and decode the STE of sid from the guest's stream table. */
void vsmmu_ste_read(const struct vsmmu *vs, u32 sid, struct vsmmu_ste_result *res);

/* vsmmu.c */
/* Re-evaluate what stream s must be attached to (SMMUEN, GBPA, its STE) and make it so. report: a broken
 * STE is an event (CFGI_* said it is ready); not when SMMUEN or GBPA change, as a guest then may not have
 * populated the tables of streams it has not probed yet (Linux fills 2-level tables per device). */
void vsmmu_stream_update(struct vsmmu *vs, struct vsmmu_stream *s, bool report);
/* Every stream, after SMMUEN or GBPA changed (report false). */
void vsmmu_streams_update(struct vsmmu *vs);
/* CFGI of the StreamID range [sid, sid + n): update the streams inside it (report true). */
void vsmmu_streams_update_range(struct vsmmu *vs, u32 sid, u64 n);
struct vsmmu_stream *vsmmu_stream_find(struct vsmmu *vs, u32 vsid);
/* Hand the batch to the kernel in one call (two on an erratum host). Returns CMDQ_ERR_CERROR_NONE when every
 * command was issued; CMDQ_ERR_CERROR_ILL when the kernel refused the command at queue index *bad_qidx (the
 * ones before it were issued); CMDQ_ERR_CERROR_ABT when the host failed otherwise (*bad_qidx = the batch's
 * first command: nothing is taken as done). The batch is empty afterwards. */
u32 __must_check vsmmu_inv_flush(struct vsmmu *vs, u32 *bad_qidx);
/* Enter the architected service failure state: GERROR.SFM_ERR, every stream on the abort HWPT (or detached,
 * blocked, if even that fails) for the rest of the VM's life; why goes to the host log. */
void vsmmu_service_failure(struct vsmmu *vs, const char *why);
/* Report an event ivmm itself detected (EVT_ID_*, StreamID, address): the seam for the event queue. */
void vsmmu_event(struct vsmmu *vs, u8 id, u32 sid, u64 addr);
/* Pulse a wired interrupt / send an MSI programmed by the guest (addr, data) as the vSMMU's device. */
void vsmmu_irq_pulse(struct vsmmu *vs, u32 spi);
/* A 32-bit MSI write by the vSMMU: an MSI when addr is the vITS doorbell, else a write to guest RAM.
 * Returns 0 or -EFAULT (nothing there: the caller raises its MSI abort error). */
int vsmmu_msi_write(struct vsmmu *vs, u64 addr, u32 data);

#endif
