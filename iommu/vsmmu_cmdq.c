/* vsmmu_cmdq.c: the vSMMU's command queue. A write to CMDQ_PROD (or CMDQEN, or the acknowledgement of a
 * command error) consumes commands from CMDQ_CONS up to CMDQ_PROD: at most one pass over the queue, so a
 * guest cannot make ivmm loop. Each command is fetched through the guest-memory helpers (a queue outside RAM
 * is CERROR_ABT), decoded once into struct vsmmu_cmd and checked field by field against the architecture and
 * the features the vSMMU advertises, with the same rules the Linux 7.3 kernel applies to invalidations it
 * gets from a VMM (arm_vsmmu_validate_user_cmd), so that nothing it would refuse is sent: an illegal command
 * is CERROR_ILL at its exact index.
 *
 * Invalidations (CFGI_CD, CFGI_CD_ALL, TLBI_NH_ALL/ASID/VA/VAA, TLBI_NSNH_ALL) are gathered with the queue
 * index each came from and handed to the kernel in ONE IOMMU_HWPT_INVALIDATE when a CMD_SYNC, a
 * configuration command (CFGI_STE*, whose effect must come after them) or the end of the queue is reached,
 * or when the batch holds the kernel's maximum; no CMD_SYNC completes before the batch in front of it was
 * issued. If the kernel refuses command k of a batch, the commands before it are issued (again) and CONS
 * stops at k's queue index with CERROR_ILL; any other host failure stops it with CERROR_ABT at the batch's
 * first command, so the guest retries them (vsmmu_inv_flush has the rules). CFGI_CD* and
 * ATC_INV for a StreamID with no device behind this vSMMU are no-ops (nothing is cached for it) and are not
 * sent. PREFETCH_* are accepted and do nothing. Runs with vs->lock held. */
#include <endian.h>
#include <stdlib.h>
#include "iommu/vsmmu_internal.h"
#include "vmm/log.h"

static const char *const cmd_names[256] = {
	[CMDQ_OP_PREFETCH_CONFIG] = "PREFETCH_CONFIG", [CMDQ_OP_PREFETCH_ADDR] = "PREFETCH_ADDR",
	[CMDQ_OP_CFGI_STE] = "CFGI_STE", [CMDQ_OP_CFGI_STE_RANGE] = "CFGI_STE_RANGE",
	[CMDQ_OP_CFGI_CD] = "CFGI_CD", [CMDQ_OP_CFGI_CD_ALL] = "CFGI_CD_ALL",
	[CMDQ_OP_CFGI_VMS_PIDM] = "CFGI_VMS_PIDM", [CMDQ_OP_TLBI_NH_ALL] = "TLBI_NH_ALL",
	[CMDQ_OP_TLBI_NH_ASID] = "TLBI_NH_ASID", [CMDQ_OP_TLBI_NH_VA] = "TLBI_NH_VA",
	[CMDQ_OP_TLBI_NH_VAA] = "TLBI_NH_VAA", [CMDQ_OP_TLBI_EL3_ALL] = "TLBI_EL3_ALL",
	[CMDQ_OP_TLBI_EL3_VA] = "TLBI_EL3_VA", [CMDQ_OP_TLBI_EL2_ALL] = "TLBI_EL2_ALL",
	[CMDQ_OP_TLBI_EL2_ASID] = "TLBI_EL2_ASID", [CMDQ_OP_TLBI_EL2_VA] = "TLBI_EL2_VA",
	[CMDQ_OP_TLBI_EL2_VAA] = "TLBI_EL2_VAA", [CMDQ_OP_TLBI_S12_VMALL] = "TLBI_S12_VMALL",
	[CMDQ_OP_TLBI_S2_IPA] = "TLBI_S2_IPA", [CMDQ_OP_TLBI_NSNH_ALL] = "TLBI_NSNH_ALL",
	[CMDQ_OP_ATC_INV] = "ATC_INV", [CMDQ_OP_PRI_RESP] = "PRI_RESP", [CMDQ_OP_RESUME] = "RESUME",
	[CMDQ_OP_STALL_TERM] = "STALL_TERM", [CMDQ_OP_CMD_SYNC] = "CMD_SYNC",
};

const char *vsmmu_cmd_name(u8 op)
{
	return cmd_names[op];
}

/* ---- decode and check ---- */

/* The TLBI range fields (SMMUv3.2 RIL), as the kernel checks them: NUM/SCALE/TTL are RES0 when TG is 0,
 * TTL 1 with a 16K granule needs DS, and NUM = SCALE = TTL = 0 with a TG is reserved. */
static bool tlbi_range_ok(const struct vsmmu *vs, const u64 raw[2])
{
	bool range = raw[0] & (CMDQ_TLBI_0_NUM | CMDQ_TLBI_0_SCALE);
	u64 ttl = FIELD_GET(CMDQ_TLBI_1_TTL, raw[1]), tg = FIELD_GET(CMDQ_TLBI_1_TG, raw[1]);

	if (!tg)
		return !range && !ttl;
	if (tg == 2 && ttl == 1 && !vs->ds)
		return false;
	return range || ttl;
}

u32 vsmmu_cmd_decode(const struct vsmmu *vs, const u64 raw[2], struct vsmmu_cmd *cmd)
{
	u64 allowed[2] = { CMDQ_0_OP, 0 };
	u64 asid = vs->asid16 ? CMDQ_TLBI_0_ASID : FIELD_PREP(CMDQ_TLBI_0_ASID, 0xff);

	cmd->raw[0] = raw[0];
	cmd->raw[1] = raw[1];
	cmd->op = (u8)FIELD_GET(CMDQ_0_OP, raw[0]);
	cmd->sid = (u32)FIELD_GET(CMDQ_CFGI_0_SID, raw[0]);
	cmd->range = (u32)FIELD_GET(CMDQ_CFGI_1_RANGE, raw[1]);
	cmd->cs = (u8)FIELD_GET(CMDQ_SYNC_0_CS, raw[0]);
	cmd->msidata = (u32)FIELD_GET(CMDQ_SYNC_0_MSIDATA, raw[0]);
	cmd->msiaddr = raw[1] & CMDQ_SYNC_1_MSIADDR;

	switch (cmd->op) {
	case CMDQ_OP_PREFETCH_CONFIG:
	case CMDQ_OP_PREFETCH_ADDR:
		/* Hints: accepted whatever they hold, and ignored. */
		return CMDQ_ERR_CERROR_NONE;
	case CMDQ_OP_CFGI_STE:
	case CMDQ_OP_CFGI_CD:
		/* No substreams: CFGI_CD's SSID is RES0 here. */
		allowed[0] |= CMDQ_CFGI_0_SID;
		allowed[1] |= CMDQ_CFGI_1_LEAF;
		break;
	case CMDQ_OP_CFGI_STE_RANGE: /* CFGI_ALL is RANGE = 31 */
		allowed[0] |= CMDQ_CFGI_0_SID;
		allowed[1] |= CMDQ_CFGI_1_RANGE;
		break;
	case CMDQ_OP_CFGI_CD_ALL:
		allowed[0] |= CMDQ_CFGI_0_SID;
		break;
	case CMDQ_OP_TLBI_NH_VA:
		allowed[0] |= asid;
		/* fall through */
	case CMDQ_OP_TLBI_NH_VAA:
		if (vs->ril) {
			if (!tlbi_range_ok(vs, raw))
				return CMDQ_ERR_CERROR_ILL;
			allowed[0] |= CMDQ_TLBI_0_NUM | CMDQ_TLBI_0_SCALE;
			allowed[1] |= CMDQ_TLBI_1_TG | CMDQ_TLBI_1_TTL;
			if (!vs->ds) /* SCALE values above 31 need DS */
				allowed[0] &= ~FIELD_PREP(CMDQ_TLBI_0_SCALE, 0x20);
		}
		allowed[0] |= CMDQ_TLBI_0_VMID;
		allowed[1] |= CMDQ_TLBI_1_LEAF | CMDQ_TLBI_1_VA;
		break;
	case CMDQ_OP_TLBI_NH_ASID:
		allowed[0] |= asid;
		/* fall through */
	case CMDQ_OP_TLBI_NH_ALL:
		allowed[0] |= CMDQ_TLBI_0_VMID; /* IGNORED without stage 2; the kernel puts its own VMID there */
		break;
	case CMDQ_OP_TLBI_NSNH_ALL:
		break;
	case CMDQ_OP_CMD_SYNC:
		if (cmd->cs == CMDQ_SYNC_0_CS_RESERVED)
			return CMDQ_ERR_CERROR_ILL;
		allowed[0] |= CMDQ_SYNC_0_CS | CMDQ_SYNC_0_MSH | CMDQ_SYNC_0_MSIATTR | CMDQ_SYNC_0_MSIDATA;
		allowed[1] |= CMDQ_SYNC_1_MSIADDR;
		break;
	default:
		/* Stage 2, EL2 and EL3 TLBIs (no S2P, no HYP, Non-secure only), ATC_INV (no ATS), PRI_RESP (no PRI),
		 * RESUME and STALL_TERM (no stall), CFGI_VMS_PIDM and every unknown opcode. */
		return CMDQ_ERR_CERROR_ILL;
	}
	if ((raw[0] & ~allowed[0]) || (raw[1] & ~allowed[1]))
		return CMDQ_ERR_CERROR_ILL;
	return CMDQ_ERR_CERROR_NONE;
}

/* ---- the invalidation batch ---- */

void vsmmu_inv_free(struct vsmmu_inv *inv)
{
	free(inv->cmds);
	free(inv->qidx);
	inv->cmds = NULL;
	inv->qidx = NULL;
	inv->nr = inv->cap = 0;
}

static int inv_add(struct vsmmu *vs, const u64 raw[2], u32 qptr)
{
	struct vsmmu_inv *b = &vs->inv;

	if (b->nr == b->cap) {
		u32 cap = b->cap ? b->cap * 2 : 64;
		void *c, *q;

		if (cap > IOMMUFD_INV_MAX_ENTRIES)
			cap = IOMMUFD_INV_MAX_ENTRIES;
		c = realloc(b->cmds, cap * sizeof(*b->cmds));
		if (!c)
			return -ENOMEM;
		b->cmds = c;
		q = realloc(b->qidx, cap * sizeof(*b->qidx));
		if (!q)
			return -ENOMEM;
		b->qidx = q;
		b->cap = cap;
	}
	iommufd_inv_cmd(&b->cmds[b->nr], raw);
	b->qidx[b->nr] = qptr;
	b->nr++;
	return 0;
}

static bool is_invalidation(u8 op)
{
	switch (op) {
	case CMDQ_OP_CFGI_CD:
	case CMDQ_OP_CFGI_CD_ALL:
	case CMDQ_OP_TLBI_NH_ALL:
	case CMDQ_OP_TLBI_NH_ASID:
	case CMDQ_OP_TLBI_NH_VA:
	case CMDQ_OP_TLBI_NH_VAA:
	case CMDQ_OP_TLBI_NSNH_ALL:
		return true;
	}
	return false;
}

/* ---- execution ---- */

/* What the queue does with c, for the trace (the iommufd calls it leads to follow as lines of their own). */
static const char *cmd_action(struct vsmmu *vs, const struct vsmmu_cmd *c)
{
	if ((c->op == CMDQ_OP_CFGI_CD || c->op == CMDQ_OP_CFGI_CD_ALL) && !vsmmu_stream_find(vs, c->sid))
		return "dropped (no device has that StreamID)";
	if (is_invalidation(c->op))
		return "gathered into the invalidation batch";
	switch (c->op) {
	case CMDQ_OP_PREFETCH_CONFIG:
	case CMDQ_OP_PREFETCH_ADDR:
		return "nothing to do";
	case CMDQ_OP_CFGI_STE:
	case CMDQ_OP_CFGI_STE_RANGE:
		return "batch flushed, the STEs read again";
	case CMDQ_OP_CMD_SYNC:
		return c->cs == CMDQ_SYNC_CS_SEV ? "batch flushed, completed with SEV" :
		       c->cs == CMDQ_SYNC_CS_IRQ ? "batch flushed, completed with an interrupt" :
						   "batch flushed, completed (the guest polls)";
	}
	return "batch flushed";
}

static void cmd_sync(struct vsmmu *vs, const struct vsmmu_cmd *c)
{
	if (c->cs == CMDQ_SYNC_CS_SEV) {
		/* IDR0.SEV: completion sends an event, which wakes a guest CPU waiting for it in WFE. */
		vs->stats.sync_sevs++;
		if (vs->cfg.sev)
			vs->cfg.sev(vs->cfg.sev_ctx);
		return;
	}
	if (c->cs != CMDQ_SYNC_CS_IRQ)
		return; /* NONE: the guest polls CONS */
	if ((vs->idr[0] & IDR0_MSI) && c->msiaddr) {
		vs->stats.sync_msis++;
		if (vsmmu_msi_write(vs, c->msiaddr, c->msidata)) {
			log_guest("%s: CMD_SYNC MSI address 0x%llx is neither RAM nor the ITS doorbell", vs->name,
				  (unsigned long long)c->msiaddr);
			vsmmu_gerror_raise(vs, GERROR_MSI_CMDQ_ABT_ERR);
		}
		return;
	}
	vs->stats.sync_irqs++;
	vsmmu_irq_pulse(vs, vs->cfg.spi_sync);
}

/* Stop the queue at qptr with error err. */
static void cmdq_error(struct vsmmu *vs, u32 qptr, u32 err, const u64 raw[2])
{
	vs->cmdq_cons = qptr | (u32)FIELD_PREP(CMDQ_CONS_ERR, err);
	vs->stats.cmd_errors++;
	VSMMU_TRACE(vs, "cmd at 0x%x: %s, the queue stops until GERRORN acknowledges", qptr,
		    err == CMDQ_ERR_CERROR_ILL ? "CERROR_ILL" : err == CMDQ_ERR_CERROR_ABT ? "CERROR_ABT" :
		    "CERROR_ATC_INV_SYNC");
	vsmmu_gerror_raise(vs, GERROR_CMDQ_ERR);
	if (raw)
		log_guest("%s: command 0x%016llx 0x%016llx (%s) at CMDQ index 0x%x: %s", vs->name,
			  (unsigned long long)raw[0], (unsigned long long)raw[1],
			  cmd_names[raw[0] & 0xff] ? cmd_names[raw[0] & 0xff] : "unknown opcode", qptr,
			  err == CMDQ_ERR_CERROR_ILL ? "CERROR_ILL" :
			  err == CMDQ_ERR_CERROR_ABT ? "CERROR_ABT" : "CERROR_ATC_INV_SYNC");
}

/* Flush; on failure stop the queue where vsmmu_inv_flush says (CERROR_ILL at a refused command, CERROR_ABT at
 * the first command the host may not have run). Returns true when the queue may go on. */
static bool flush_or_stop(struct vsmmu *vs)
{
	u32 bad = 0, err = vsmmu_inv_flush(vs, &bad);

	if (err == CMDQ_ERR_CERROR_NONE)
		return true;
	cmdq_error(vs, bad, err, NULL);
	return false;
}

void vsmmu_cmdq_run(struct vsmmu *vs)
{
	unsigned int shift = vsmmu_q_shift(vs->cmdq_base, VSMMU_CMDQS);
	u64 base = vs->cmdq_base & Q_BASE_ADDR_MASK;
	u32 prod = vsmmu_q_ptr(vs->cmdq_prod, shift);
	u32 cons = vsmmu_q_ptr(vs->cmdq_cons, shift);
	u32 keep_err = vs->cmdq_cons & (u32)CMDQ_CONS_ERR;
	u32 budget = 1u << shift;

	if (!(vs->cr0 & CR0_CMDQEN) || vsmmu_gerror_active(vs, GERROR_CMDQ_ERR))
		return;
	/* At most one pass: cons moves towards prod by one entry per command, and at most 2^shift of them (a
	 * PROD more than a queue ahead of CONS would otherwise run entries twice). */
	while (cons != prod && budget--) {
		u64 gpa = base + (u64)vsmmu_q_idx(cons, shift) * (CMDQ_ENT_DWORDS * 8);
		struct vsmmu_cmd c;
		u64 raw[2];
		u32 err;

		if (gmem_read(vs->cfg.mem, gpa, raw, sizeof(raw))) {
			if (!flush_or_stop(vs))
				return;
			log_guest("%s: command queue entry at 0x%llx is outside guest RAM: CERROR_ABT", vs->name,
				  (unsigned long long)gpa);
			cmdq_error(vs, cons, CMDQ_ERR_CERROR_ABT, NULL);
			return;
		}
		raw[0] = le64toh(raw[0]);
		raw[1] = le64toh(raw[1]);
		err = vsmmu_cmd_decode(vs, raw, &c);
		if (!err && vs->inject_cerror) {
			/* An injected command error (vsmmu_inject): this command fails with it, once. */
			err = vs->inject_cerror;
			vs->inject_cerror = 0;
		}
		if (err) {
			/* The commands before it complete first. */
			if (!flush_or_stop(vs))
				return;
			cmdq_error(vs, cons, err, raw);
			return;
		}
		vs->stats.cmds[c.op]++;
		VSMMU_TRACE(vs, "cmd at 0x%x: %s 0x%016llx 0x%016llx: %s", cons,
			    cmd_names[c.op] ? cmd_names[c.op] : "?", (unsigned long long)raw[0],
			    (unsigned long long)raw[1], cmd_action(vs, &c));
		if (is_invalidation(c.op)) {
			if ((c.op == CMDQ_OP_CFGI_CD || c.op == CMDQ_OP_CFGI_CD_ALL) && !vsmmu_stream_find(vs, c.sid)) {
				vs->stats.inv_dropped++;
			} else {
				if (vs->inv.nr == IOMMUFD_INV_MAX_ENTRIES && !flush_or_stop(vs))
					return;
				if (inv_add(vs, raw, cons)) {
					/* Out of host memory: complete what is gathered and send this one alone. */
					if (!flush_or_stop(vs))
						return;
					if (inv_add(vs, raw, cons)) {
						pr_err_ratelimited("%s: out of memory for invalidations", vs->name);
						cmdq_error(vs, cons, CMDQ_ERR_CERROR_ABT, NULL);
						return;
					}
				}
			}
		} else if (c.op != CMDQ_OP_PREFETCH_CONFIG && c.op != CMDQ_OP_PREFETCH_ADDR) {
			if (!flush_or_stop(vs))
				return;
			switch (c.op) {
			case CMDQ_OP_CFGI_STE:
				vsmmu_streams_update_range(vs, c.sid, 1);
				break;
			case CMDQ_OP_CFGI_STE_RANGE: {
				u64 n = 2ULL << c.range;

				vsmmu_streams_update_range(vs, (u32)ALIGN_DOWN((u64)c.sid, n), n);
				break;
			}
			case CMDQ_OP_CMD_SYNC:
				cmd_sync(vs, &c);
				break;
			}
		}
		cons = vsmmu_q_inc(cons, shift);
		vs->cmdq_cons = cons | keep_err;
	}
	(void)flush_or_stop(vs);
}
