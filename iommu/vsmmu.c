/* vsmmu.c: the vSMMU's glue (see vsmmu.h): creation and teardown of its iommufd objects in the order the
 * kernel enforces, the lock every register access takes, the MMIO entry points, putting each stream on the
 * HWPT its STE (or GBPA) asks for, the one-ioctl invalidation flush, interrupts and MSI writes, the event
 * hook. Registers are in vsmmu_regs.c, the command queue in vsmmu_cmdq.c, the stream table in vsmmu_ste.c,
 * the event queue in vsmmu_evtq.c, the counters' report in vsmmu_stats.c, the vIOMMU ops in vsmmu_viommu.c. */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "iommu/vsmmu_internal.h"
#include "vmm/log.h"

/* ---- MMIO ---- */

static u64 mmio_read(void *opaque, u64 off, unsigned int size)
{
	struct vsmmu *vs = opaque;
	u64 v;

	pthread_mutex_lock(&vs->lock);
	v = vsmmu_reg_read(vs, off, size);
	pthread_mutex_unlock(&vs->lock);
	return v;
}

static void mmio_write(void *opaque, u64 off, u64 val, unsigned int size)
{
	struct vsmmu *vs = opaque;

	pthread_mutex_lock(&vs->lock);
	vsmmu_reg_write(vs, off, val, size);
	pthread_mutex_unlock(&vs->lock);
}

static const struct mmio_ops vsmmu_mmio_ops = {
	.read = mmio_read,
	.write = mmio_write,
};

struct mmio_region *vsmmu_region(struct vsmmu *vs)
{
	return &vs->region;
}

/* ---- interrupts and MSI writes ---- */

void vsmmu_irq_pulse(struct vsmmu *vs, u32 spi)
{
	struct hv *hv = vs->cfg.hv;

	/* The SMMU's wired interrupts are edge-triggered (the device tree says so). */
	if (hv->ops->irq_line(hv, spi, true) || hv->ops->irq_line(hv, spi, false))
		pr_err_ratelimited("%s: cannot pulse SPI %u", vs->name, spi);
}

int vsmmu_msi_write(struct vsmmu *vs, u64 addr, u32 data)
{
	struct hv *hv = vs->cfg.hv;
	u32 le = htole32(data);

	if (vs->cfg.msi_doorbell && addr == vs->cfg.msi_doorbell) {
		if (hv->ops->signal_msi(hv, addr, data, vs->cfg.msi_devid))
			pr_err_ratelimited("%s: MSI 0x%x to the ITS (device id 0x%x) failed", vs->name, data,
					   vs->cfg.msi_devid);
		return 0;
	}
	return gmem_write(vs->cfg.mem, addr, &le, sizeof(le));
}

/* ---- events ---- */

static const char *event_name(u8 id)
{
	switch (id) {
	case EVT_ID_BAD_STREAMID: return "C_BAD_STREAMID";
	case EVT_ID_F_STE_FETCH: return "F_STE_FETCH";
	case EVT_ID_C_BAD_STE: return "C_BAD_STE";
	case EVT_ID_F_CD_FETCH: return "F_CD_FETCH";
	}
	return "event";
}

void vsmmu_event(struct vsmmu *vs, u8 id, u32 sid, u64 addr)
{
	u64 evt[EVTQ_ENT_DWORDS] = { FIELD_PREP(EVTQ_0_ID, id) | FIELD_PREP(EVTQ_0_SID, sid), 0, 0, 0 };

	if (id == EVT_ID_F_STE_FETCH || id == EVT_ID_F_CD_FETCH)
		evt[3] = addr & EVTQ_3_FETCH_ADDR;
	vs->stats.events++;
	log_guest("%s: %s (0x%02x) for StreamID 0x%x (address 0x%llx): stream aborted", vs->name, event_name(id), id,
		  sid, (unsigned long long)addr);
	vsmmu_evtq_raise(vs, evt);
}

/* ---- streams ---- */

struct vsmmu_stream *vsmmu_stream_find(struct vsmmu *vs, u32 vsid)
{
	for (unsigned int i = 0; i < vs->nstreams; i++)
		if (vs->streams[i].vsid == vsid)
			return &vs->streams[i];
	return NULL;
}

static void ictx_lock(struct vsmmu *vs)
{
	pthread_mutex_lock(vs->cfg.ictx_lock);
}

static void ictx_unlock(struct vsmmu *vs)
{
	pthread_mutex_unlock(vs->cfg.ictx_lock);
}

static void free_nested(struct vsmmu *vs, u32 id)
{
	if (!id)
		return;
	int rc = iommufd_destroy(vs->cfg.ictx, id, FAIL_QUIET);

	VSMMU_TRACE(vs, "iommufd DESTROY nested HWPT %u: %s", id, rc ? strerror(-rc) : "ok");
	if (rc)
		pr_err_ratelimited("%s: %s", vs->name, vs->cfg.ictx->last_err);
}

static u32 target_hwpt(const struct vsmmu *vs, enum vsmmu_target target, u32 nested_id)
{
	return target == VSMMU_T_NESTED ? nested_id : target == VSMMU_T_BYPASS ? vs->bypass_id : vs->abort_id;
}

/* Put s's device on pt_id through the stream contract (vsmmu.h); the ictx lock is held. */
static int stream_attach(struct vsmmu *vs, const struct vsmmu_stream *s, u32 pt_id, enum fail_report how)
{
	int rc = s->ops->attach(s->dev, pt_id, how);

	VSMMU_TRACE(vs, "iommufd attach %s (StreamID 0x%x) to HWPT %u: %s", s->name, s->vsid, pt_id,
		    rc ? strerror(-rc) : "ok");
	return rc;
}

/* Service failure with the ictx lock held (vsmmu_service_failure). */
static void service_failure_locked(struct vsmmu *vs, const char *why)
{
	if (vs->sfm)
		return;
	vs->sfm = true;
	vs->stats.sfm = 1;
	pr_err("%s: service failure: %s; every device behind it now aborts its DMA (GERROR.SFM_ERR)", vs->name, why);
	for (unsigned int i = 0; i < vs->nstreams; i++) {
		struct vsmmu_stream *s = &vs->streams[i];

		if (s->target == VSMMU_T_ABORT || s->target == VSMMU_T_NONE)
			continue;
		if (stream_attach(vs, s, vs->abort_id, FAIL_QUIET)) {
			/* Detached, a device is blocked (iommufd puts it in the blocking domain). */
			if (s->ops->detach(s->dev))
				pr_err("%s: %s: neither the abort HWPT nor a detach took: its DMA is not contained; "
				       "stop the VM", vs->name, s->name);
			s->target = VSMMU_T_NONE;
		} else {
			s->target = VSMMU_T_ABORT;
		}
		s->why = "service failure";
		free_nested(vs, s->nested_id);
		s->nested_id = 0;
	}
	vsmmu_gerror_raise(vs, GERROR_SFM_ERR);
}

void vsmmu_service_failure(struct vsmmu *vs, const char *why)
{
	ictx_lock(vs);
	service_failure_locked(vs, why);
	ictx_unlock(vs);
}

/* The host refused to put s on what the guest asked for: it must not keep its old HWPT (bypass, say: more
 * access than the guest now grants). Move it to the abort HWPT (try_abort, unless that is what was refused);
 * if that is refused too, detach it: iommufd then blocks its DMA, as abort would, and the guest's next CFGI
 * tries again (a replace is refused for a moment while the host resets the device, a detach is not). Only if
 * even the detach fails, and the stream cannot be contained, does the vSMMU enter service failure. The ictx
 * lock is held. */
static void stream_fail_closed(struct vsmmu *vs, struct vsmmu_stream *s, bool try_abort)
{
	u32 old = s->nested_id;

	if (s->target != VSMMU_T_ABORT && (!try_abort || stream_attach(vs, s, vs->abort_id, FAIL_QUIET))) {
		pr_err_ratelimited("%s: %s: %s: detached, its DMA blocked", vs->name, s->name, s->ops->last_err(s->dev));
		if (s->ops->detach(s->dev)) {
			service_failure_locked(vs, "a device could be neither moved to the abort HWPT nor detached");
			return;
		}
		vs->stats.blocked++;
		s->target = VSMMU_T_NONE;
		s->why = "the host refused both the HWPT the guest's STE asked for and abort: detached, DMA blocked "
			 "(the next CFGI tries again)";
	} else {
		s->target = VSMMU_T_ABORT;
		s->why = "the host refused the HWPT the guest's STE asked for (fail closed)";
	}
	s->nested_id = 0;
	free_nested(vs, old);
}

/* Put s on target (a nested HWPT for NESTED, from vste), make-before-break; what the host refuses ends with
 * the stream aborting (fail closed), and with C_BAD_STE for an STE when report (the rule of
 * vsmmu_stream_update: not at SMMUEN or GBPA changes). Called with vs->lock held. */
static void stream_apply(struct vsmmu *vs, struct vsmmu_stream *s, enum vsmmu_target target, const u64 vste[2],
			 bool report)
{
	u32 new_id = 0, old = s->nested_id;
	u64 ste[2] = { 0, 0 };
	int rc;

	if (vs->sfm)
		return; /* every stream stays on abort (vsmmu_service_failure) */
	if (target == VSMMU_T_NESTED) {
		ste[0] = vste[0];
		/* A host that can stall would stall a faulting transaction of a CD with S=1, and the vSMMU offers
		 * no RESUME: S1STALLD makes such faults terminate instead, as IDR0.STALL_MODEL promised. */
		ste[1] = vste[1] | (vs->host_stall ? STE_1_S1STALLD : 0);
	}
	if (target == VSMMU_T_NESTED && s->target == VSMMU_T_NESTED && s->ste[0] == ste[0] && s->ste[1] == ste[1])
		return; /* the same STE again (the guest re-validates it often): nothing changes */
	if (target != VSMMU_T_NESTED && s->target == target)
		return;
	ictx_lock(vs);
	if (target == VSMMU_T_NESTED) {
		rc = iommufd_hwpt_alloc_nested_smmuv3(vs->cfg.ictx, s->dev_id, vs->viommu_id, ste, &new_id,
						      FAIL_QUIET);
		VSMMU_TRACE(vs, "iommufd HWPT_ALLOC nested for %s, vSTE 0x%016llx 0x%016llx: %s %u", s->name,
			    (unsigned long long)ste[0], (unsigned long long)ste[1], rc ? strerror(-rc) : "HWPT",
			    new_id);
		if (rc) {
			/* The host refused the STE: the stream aborts, as for an STE the vSMMU itself refuses. */
			log_guest("%s: %s: STE for StreamID 0x%x refused by the host: %s", vs->name, s->name, s->vsid,
				  vs->cfg.ictx->last_err);
			vs->stats.ste_errors++;
			if (report)
				vsmmu_event(vs, EVT_ID_C_BAD_STE, s->vsid, 0);
			stream_fail_closed(vs, s, true);
			ictx_unlock(vs);
			return;
		}
		vs->stats.nested_allocs++;
	}
	/* Make before break: the device moves to the new HWPT in one replace, then the old one goes. */
	rc = stream_attach(vs, s, target_hwpt(vs, target, new_id), FAIL_QUIET);
	if (rc) {
		pr_err_ratelimited("%s: %s: %s: the stream aborts", vs->name, s->name, s->ops->last_err(s->dev));
		vs->stats.attach_failures++;
		free_nested(vs, new_id);
		if (target == VSMMU_T_NESTED && report)
			vsmmu_event(vs, EVT_ID_C_BAD_STE, s->vsid, 0);
		stream_fail_closed(vs, s, target != VSMMU_T_ABORT);
		ictx_unlock(vs);
		return;
	}
	vs->stats.attaches++;
	s->target = target;
	s->nested_id = new_id;
	s->ste[0] = ste[0];
	s->ste[1] = ste[1];
	free_nested(vs, old);
	ictx_unlock(vs);
}

void vsmmu_stream_update(struct vsmmu *vs, struct vsmmu_stream *s, bool report)
{
	struct vsmmu_ste_result r;

	const char *why;

	memset(&r, 0, sizeof(r));
	if (!(vs->cr0 & CR0_SMMUEN)) {
		r.target = (vs->gbpa & GBPA_ABORT) ? VSMMU_T_ABORT : VSMMU_T_BYPASS;
		why = r.target == VSMMU_T_ABORT ? "SMMUEN is 0, GBPA.ABORT is 1" : "SMMUEN is 0, GBPA.ABORT is 0";
	} else {
		vsmmu_ste_read(vs, s->vsid, &r);
		why = r.event ? event_name(r.event) :
		      r.target == VSMMU_T_NESTED ? "the guest's stage-1 STE" :
		      r.target == VSMMU_T_BYPASS ? "the guest's STE says bypass" : "the guest's STE says abort (or V is 0)";
		/* C_BAD_STREAMID is recorded only with CR2.RECINVSID set. */
		if (r.event == EVT_ID_BAD_STREAMID && !(vs->cr2 & CR2_RECINVSID))
			report = false;
		if (r.event && report) {
			vs->stats.ste_errors++;
			vsmmu_event(vs, r.event, s->vsid, r.fetch_addr);
		}
	}
	if (!vs->sfm)
		s->why = why;
	stream_apply(vs, s, r.target, r.vste, report);
}

void vsmmu_streams_update(struct vsmmu *vs)
{
	for (unsigned int i = 0; i < vs->nstreams; i++)
		vsmmu_stream_update(vs, &vs->streams[i], false);
}

void vsmmu_streams_update_range(struct vsmmu *vs, u32 sid, u64 n)
{
	for (unsigned int i = 0; i < vs->nstreams; i++)
		if (vs->streams[i].vsid >= sid && vs->streams[i].vsid - (u64)sid < n)
			vsmmu_stream_update(vs, &vs->streams[i], true);
}

/* ---- invalidation ---- */

/* One IOMMU_HWPT_INVALIDATE of cmds[0..n), twice on a host with the REPEAT_TLBI_CFGI erratum (the uAPI says
 * user space must issue TLBI/CFGI+SYNC twice there: the kernel issues a vIOMMU's commands once). Returns 0
 * or -errno; *done is the kernel's entry_num of the failing call. Called with the ictx lock held. */
static int inv_issue(struct vsmmu *vs, const struct iommu_viommu_arm_smmuv3_invalidate *cmds, u32 n, u32 *done)
{
	int rc = 0;

	for (unsigned int pass = 0; pass < (vs->erratum_repeat ? 2u : 1u) && !rc; pass++) {
		vs->stats.inv_ioctls++;
		vs->stats.inv_repeats += pass;
		rc = iommufd_hwpt_invalidate_smmuv3(vs->cfg.ictx, vs->viommu_id, cmds, n, done, FAIL_QUIET);
		VSMMU_TRACE(vs, "iommufd HWPT_INVALIDATE %u commands%s: %s (entry_num %u)", n,
			    pass ? " again (erratum)" : "", rc ? strerror(-rc) : "ok", *done);
	}
	return rc;
}

/* How the kernel's answer reads (arm_vsmmu_cache_invalidate and iommufd_hwpt_invalidate, Linux 7.3):
 *   0                      every command was issued;
 *   -EIO, entry_num k < n  command k was refused by validation. The commands before it were checked, but the
 *                          kernel issues accepted commands only in blocks (of 63) and at the end, so those of
 *                          k's block never reached the host queue: they are issued again (invalidations are
 *                          idempotent) before k is reported as illegal;
 *   anything else          a host failure (-ENOMEM before the count is touched, which then reads n; a CMD_SYNC
 *                          timeout; a fault): which commands ran is unknown, so none is taken as done and the
 *                          guest is told CERROR_ABT at the batch's first command, which it retries.
 * A host failure that persists (VSMMU_INV_FAIL_LIMIT batches in a row) puts the vSMMU in service failure
 * (vsmmu_service_failure): every stream aborts, so stale translations can no longer be used. */
u32 vsmmu_inv_flush(struct vsmmu *vs, u32 *bad_qidx)
{
	struct vsmmu_inv *b = &vs->inv;
	u32 n = b->nr, done = 0, again = 0;
	int rc, rc2 = 0;

	if (!n)
		return CMDQ_ERR_CERROR_NONE;
	b->nr = 0;
	if (n > vs->stats.inv_max_batch)
		vs->stats.inv_max_batch = n;
	if (vs->sfm) {
		/* Every stream aborts: nothing can use what these would invalidate. */
		vs->stats.inv_dropped += n;
		return CMDQ_ERR_CERROR_NONE;
	}
	ictx_lock(vs);
	rc = inv_issue(vs, b->cmds, n, &done);
	if (rc == -EIO && done < n && done)
		rc2 = inv_issue(vs, b->cmds, done, &again);
	if (rc)
		log_guest("%s: %s", vs->name, vs->cfg.ictx->last_err);
	ictx_unlock(vs);
	if (!rc) {
		vs->stats.inv_cmds += n;
		vs->inv_fail_streak = 0;
		return CMDQ_ERR_CERROR_NONE;
	}
	if (rc == -EIO && done < n && !rc2) {
		vs->stats.inv_cmds += done;
		vs->stats.inv_reissued += done;
		vs->inv_fail_streak = 0;
		*bad_qidx = b->qidx[done];
		return CMDQ_ERR_CERROR_ILL;
	}
	vs->stats.inv_host_errors++;
	pr_err_ratelimited("%s: the host failed %u invalidation(s) (%s): the guest retries them (CERROR_ABT)",
			   vs->name, n, strerror(-(rc2 ? rc2 : rc)));
	*bad_qidx = b->qidx[0];
	if (++vs->inv_fail_streak >= VSMMU_INV_FAIL_LIMIT)
		vsmmu_service_failure(vs, "the host keeps failing its invalidations");
	return CMDQ_ERR_CERROR_ABT;
}

/* ---- create / destroy ---- */

static int check_config(const struct viommu_config *cfg)
{
	if (!cfg->nstreams || cfg->nstreams > VIOMMU_MAX_STREAMS) {
		pr_err("%s: %u devices (1 to %u can sit behind one vSMMU)", cfg->name, cfg->nstreams,
		       VIOMMU_MAX_STREAMS);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < cfg->nstreams; i++) {
		if (cfg->streams[i].vsid >> VSMMU_SIDSIZE) {
			pr_err("%s: device %s: StreamID 0x%x does not fit %u bits", cfg->name, cfg->streams[i].name,
			       cfg->streams[i].vsid, VSMMU_SIDSIZE);
			return -EINVAL;
		}
		for (unsigned int j = 0; j < i; j++)
			if (cfg->streams[j].vsid == cfg->streams[i].vsid) {
				pr_err("%s: devices %s and %s both have StreamID 0x%x", cfg->name, cfg->streams[j].name,
				       cfg->streams[i].name, cfg->streams[i].vsid);
				return -EINVAL;
			}
	}
	return 0;
}

/* The host SMMU's registers, through the first device. */
static int host_info(struct vsmmu *vs, struct iommufd_hw_info *hw)
{
	struct vsmmu_stream *s0 = &vs->streams[0];
	int rc = iommufd_get_hw_info(vs->cfg.ictx, s0->dev_id, hw, FAIL_PRINT);

	if (rc) {
		pr_err("%s: device %s: cannot read its IOMMU's capabilities", vs->name, s0->name);
		return rc;
	}
	if (hw->type != IOMMU_HW_INFO_TYPE_ARM_SMMUV3) {
		pr_err("%s: device %s is not behind an Arm SMMUv3 (iommufd hw_info type %u): a vSMMU needs one",
		       vs->name, s0->name, hw->type);
		return -EOPNOTSUPP;
	}
	if (!(hw->smmu.idr[0] & IDR0_S2P) || !(hw->smmu.idr[0] & IDR0_S1P)) {
		pr_err("%s: device %s: its SMMU (IDR0 0x%08x) cannot nest (needs stage 1 and stage 2)", vs->name,
		       s0->name, hw->smmu.idr[0]);
		return -EOPNOTSUPP;
	}
	if (FIELD_GET(IDR0_STALL_MODEL, hw->smmu.idr[0]) == IDR0_STALL_MODEL_FORCE) {
		pr_err("%s: device %s: its SMMU (IDR0 0x%08x) forces stalls (STALL_MODEL 0b10): a faulting DMA would "
		       "wait for a RESUME the vSMMU cannot offer, so no vSMMU is possible on this host", vs->name,
		       s0->name, hw->smmu.idr[0]);
		return -EOPNOTSUPP;
	}
	return 0;
}

static void log_created(const struct vsmmu *vs)
{
	pr_debug("%s: at 0x%llx, IDR0 0x%08x IDR1 0x%08x IDR3 0x%08x IDR5 0x%08x, S2 HWPT %u, vIOMMU %u, "
		 "%u device(s)", vs->name, (unsigned long long)vs->cfg.base, vs->idr[0], vs->idr[1], vs->idr[3],
		 vs->idr[5], vs->s2_id, vs->viommu_id, vs->nstreams);
	for (unsigned int i = 0; i < vs->nstreams; i++)
		pr_debug("%s: %s has StreamID 0x%x (vDEVICE %u)", vs->name, vs->streams[i].name, vs->streams[i].vsid,
			 vs->streams[i].vdevice_id);
}

int vsmmu_create(const struct viommu_config *cfg, struct vsmmu **out)
{
	static const u64 abort_ste[2] = { STE_0_V | FIELD_PREP(STE_0_CFG, STE_CFG_ABORT), 0 };
	static const u64 bypass_ste[2] = { STE_0_V | FIELD_PREP(STE_0_CFG, STE_CFG_BYPASS), 0 };
	struct iommufd *ictx = cfg->ictx;
	struct iommufd_hw_info hw;
	struct vsmmu *vs;
	u32 dev0;
	int rc;

	rc = check_config(cfg);
	if (rc)
		return rc;
	vs = calloc(1, sizeof(*vs));
	if (!vs) {
		pr_err("%s: out of memory", cfg->name);
		return -ENOMEM;
	}
	vs->viommu.ops = &vsmmu_viommu_ops;
	vs->cfg = *cfg;
	snprintf(vs->name, sizeof(vs->name), "%s", cfg->name);
	rc = -pthread_mutex_init(&vs->lock, NULL);
	if (rc) {
		pr_err("%s: mutex init: %s", vs->name, strerror(-rc));
		free(vs);
		return rc;
	}
	vs->veventq_fd = -1;
	vs->nstreams = cfg->nstreams;
	for (unsigned int i = 0; i < vs->nstreams; i++) {
		vs->streams[i].name = cfg->streams[i].name;
		vs->streams[i].ops = cfg->streams[i].ops;
		vs->streams[i].dev = cfg->streams[i].dev;
		vs->streams[i].dev_id = cfg->streams[i].dev_id;
		vs->streams[i].vsid = cfg->streams[i].vsid;
	}
	dev0 = vs->streams[0].dev_id;

	pthread_mutex_lock(cfg->ictx_lock);
	rc = host_info(vs, &hw);
	if (rc)
		goto err;
	vsmmu_derive_idr(&hw.smmu, vs->idr);
	if (cfg->no_msi)
		vs->idr[0] &= ~(u32)IDR0_MSI;
	vs->evtqs = cfg->evtq_log2 && cfg->evtq_log2 < VSMMU_EVTQS ? cfg->evtq_log2 : VSMMU_EVTQS;
	vs->idr[1] = (vs->idr[1] & ~(u32)IDR1_EVTQS) | (u32)FIELD_PREP(IDR1_EVTQS, vs->evtqs);
	vs->iidr = 0;
	vs->aidr = hw.smmu.aidr & 0xff;
	vs->asid16 = vs->idr[0] & IDR0_ASID16;
	vs->ril = vs->idr[3] & IDR3_RIL;
	vs->ds = vs->idr[5] & IDR5_DS;
	vs->erratum_repeat = hw.smmu.flags & IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI;
	vs->host_stall = FIELD_GET(IDR0_STALL_MODEL, hw.smmu.idr[0]) == IDR0_STALL_MODEL_STALL;
	if (vs->erratum_repeat)
		pr_info("%s: host erratum T264-SMMU-3: every invalidation batch is issued twice", vs->name);

	/* One nest parent per vSMMU: two vIOMMUs on one S2 would share its VMID, and the guest's ASIDs of the
	 * two vSMMUs would alias in the TLB. */
	rc = iommufd_hwpt_alloc_nest_parent(ictx, dev0, cfg->ioas_id, &vs->s2_id, FAIL_PRINT);
	if (rc)
		goto err;
	rc = iommufd_viommu_alloc_smmuv3(ictx, dev0, vs->s2_id, &vs->viommu_id, FAIL_PRINT);
	if (rc)
		goto err;
	/* vDEVICEs before any STE can be attached: the kernel refuses a translating nested attach without one. */
	for (unsigned int i = 0; i < vs->nstreams; i++) {
		struct vsmmu_stream *s = &vs->streams[i];

		rc = iommufd_vdevice_alloc(ictx, vs->viommu_id, s->dev_id, s->vsid, &s->vdevice_id);
		if (rc) {
			pr_err("%s: device %s: cannot give it StreamID 0x%x", vs->name, s->name, s->vsid);
			goto err;
		}
	}
	rc = iommufd_hwpt_alloc_nested_smmuv3(ictx, dev0, vs->viommu_id, abort_ste, &vs->abort_id, FAIL_PRINT);
	if (rc)
		goto err;
	rc = iommufd_hwpt_alloc_nested_smmuv3(ictx, dev0, vs->viommu_id, bypass_ste, &vs->bypass_id, FAIL_PRINT);
	if (rc)
		goto err;
	/* At reset SMMUEN = 0 and GBPA says bypass: devices see guest physical addresses. */
	for (unsigned int i = 0; i < vs->nstreams; i++) {
		struct vsmmu_stream *s = &vs->streams[i];

		rc = stream_attach(vs, s, vs->bypass_id, FAIL_PRINT);
		if (rc) {
			pr_err("%s: device %s: cannot attach it behind the vSMMU (is it behind the same host SMMU as %s?)",
			       vs->name, s->name, vs->streams[0].name);
			goto err;
		}
		s->target = VSMMU_T_BYPASS;
	}
	pthread_mutex_unlock(cfg->ictx_lock);

	vsmmu_regs_reset(vs);
	vs->region = (struct mmio_region){
		.name = vs->name,
		.base = cfg->base,
		.len = SMMU_FRAME_SIZE,
		.sizes = MMIO_SZ_4 | MMIO_SZ_8,
		.ops = &vsmmu_mmio_ops,
		.opaque = vs,
	};
	log_created(vs);
	*out = vs;
	return 0;

err:
	pthread_mutex_unlock(cfg->ictx_lock);
	vsmmu_destroy(vs);
	return rc;
}

void vsmmu_destroy(struct vsmmu *vs)
{
	struct iommufd *ictx;

	if (!vs)
		return;
	ictx = vs->cfg.ictx;
	vsmmu_evtq_teardown(vs);
	vsmmu_trace_fini(vs);
	pthread_mutex_lock(vs->cfg.ictx_lock);
	/* Devices leave the vSMMU's HWPTs first (blocked until their owner closes them). */
	for (unsigned int i = 0; i < vs->nstreams; i++) {
		struct vsmmu_stream *s = &vs->streams[i];

		if (s->target != VSMMU_T_NONE && s->ops->detach(s->dev))
			pr_warn("%s: device %s: detach failed; its HWPT stays until the device is closed", vs->name,
				s->name);
		s->target = VSMMU_T_NONE;
		if (s->nested_id && iommufd_destroy(ictx, s->nested_id, FAIL_PRINT))
			pr_warn("%s: device %s: nested HWPT %u not destroyed", vs->name, s->name, s->nested_id);
		s->nested_id = 0;
	}
	if (vs->bypass_id && iommufd_destroy(ictx, vs->bypass_id, FAIL_PRINT))
		pr_warn("%s: bypass HWPT %u not destroyed", vs->name, vs->bypass_id);
	if (vs->abort_id && iommufd_destroy(ictx, vs->abort_id, FAIL_PRINT))
		pr_warn("%s: abort HWPT %u not destroyed", vs->name, vs->abort_id);
	for (unsigned int i = vs->nstreams; i-- > 0;)
		if (vs->streams[i].vdevice_id && iommufd_destroy(ictx, vs->streams[i].vdevice_id, FAIL_PRINT))
			pr_warn("%s: vDEVICE %u not destroyed", vs->name, vs->streams[i].vdevice_id);
	if (vs->viommu_id && iommufd_destroy(ictx, vs->viommu_id, FAIL_PRINT))
		pr_warn("%s: vIOMMU %u not destroyed", vs->name, vs->viommu_id);
	if (vs->s2_id && iommufd_destroy(ictx, vs->s2_id, FAIL_PRINT))
		pr_warn("%s: S2 HWPT %u not destroyed", vs->name, vs->s2_id);
	pthread_mutex_unlock(vs->cfg.ictx_lock);
	vsmmu_inv_free(&vs->inv);
	pthread_mutex_destroy(&vs->lock);
	free(vs);
}
