/* vsmmu_ctl.c: what the control socket asks of a vSMMU (iommu/viommu.h dump and inject), under its lock:
 *   - vsmmu_dump: the register file (as the guest last wrote it, CR0ACK and GERROR as ivmm shows them), per
 *     stream its StreamID, device, the STE words ivmm last made a nested HWPT from, its nested HWPT and
 *     vDEVICE ids and what it is attached to, the service-failure flag, and the event path (the vEVENTQ's id
 *     and fd, the retired ones still waiting for the kernel);
 *   - vsmmu_inject: an architected event record into the guest's EVTQ with its interrupt (the path ivmm's
 *     own events take, vsmmu_evtq_raise), a global error through vsmmu_gerror_raise, a command error the next
 *     command fails with, or an EVTQ overflow (OVFLG). Each counted in stats.injected; the format of the
 *     output and the request is the caller's (vmm/ctl_*.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "iommu/vsmmu_internal.h"
#include "vmm/log.h"

static void hex(const struct viommu_out *o, const char *key, u64 v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
	o->str(o->ctx, key, buf);
}

static const char *target_name(enum vsmmu_target t)
{
	switch (t) {
	case VSMMU_T_ABORT: return "abort";
	case VSMMU_T_BYPASS: return "bypass";
	case VSMMU_T_NESTED: return "nested";
	case VSMMU_T_NONE: break;
	}
	return "none";
}

static void dump_regs(const struct vsmmu *vs, const struct viommu_out *o)
{
	o->begin(o->ctx, "registers", false);
	hex(o, "CR0", vs->cr0);
	hex(o, "CR0ACK", vs->cr0ack);
	hex(o, "CR1", vs->cr1);
	hex(o, "CR2", vs->cr2);
	hex(o, "GBPA", vs->gbpa);
	hex(o, "IRQ_CTRL", vs->irq_ctrl);
	hex(o, "GERROR", vs->gerror);
	hex(o, "GERRORN", vs->gerrorn);
	hex(o, "STRTAB_BASE", vs->strtab_base);
	hex(o, "STRTAB_BASE_CFG", vs->strtab_base_cfg);
	hex(o, "CMDQ_BASE", vs->cmdq_base);
	hex(o, "CMDQ_PROD", vs->cmdq_prod);
	hex(o, "CMDQ_CONS", vs->cmdq_cons);
	hex(o, "EVTQ_BASE", vs->evtq_base);
	hex(o, "EVTQ_PROD", vs->evtq_prod);
	hex(o, "EVTQ_CONS", vs->evtq_cons);
	o->end(o->ctx);
}

void vsmmu_dump(struct vsmmu *vs, const struct viommu_out *o)
{
	pthread_mutex_lock(&vs->lock);
	o->str(o->ctx, "name", vs->name);
	dump_regs(vs, o);
	o->flag(o->ctx, "service-failure", vs->sfm);
	o->begin(o->ctx, "streams", true);
	for (unsigned int i = 0; i < vs->nstreams; i++) {
		const struct vsmmu_stream *s = &vs->streams[i];

		o->begin(o->ctx, NULL, false);
		hex(o, "sid", s->vsid);
		o->str(o->ctx, "device", s->name);
		o->str(o->ctx, "target", target_name(s->target));
		o->str(o->ctx, "why", s->why ? s->why : "reset: SMMUEN is 0, GBPA.ABORT is 0");
		hex(o, "ste0", s->ste[0]);
		hex(o, "ste1", s->ste[1]);
		o->uint(o->ctx, "nested-hwpt", s->nested_id);
		o->uint(o->ctx, "vdevice", s->vdevice_id);
		o->end(o->ctx);
	}
	o->end(o->ctx);
	o->begin(o->ctx, "event-path", false);
	o->uint(o->ctx, "veventq", vs->veventq_id);
	o->sint(o->ctx, "veventq-fd", vs->veventq_fd);
	o->begin(o->ctx, "retired", true);
	if (vs->veventq_retired)
		o->uint(o->ctx, NULL, vs->veventq_retired);
	o->end(o->ctx);
	o->end(o->ctx);
	pthread_mutex_unlock(&vs->lock);
}

struct name_val {
	const char *name;
	u32 val;
};

/* The events an SMMU raises for a transaction or a configuration (Linux's arm-smmu-v3.h EVT_ID_* names). */
static const struct name_val events[] = {
	{ "C_BAD_STREAMID", EVT_ID_BAD_STREAMID }, { "F_STE_FETCH", EVT_ID_F_STE_FETCH },
	{ "C_BAD_STE", EVT_ID_C_BAD_STE },         { "F_CD_FETCH", EVT_ID_F_CD_FETCH },
	{ "C_BAD_CD", EVT_ID_C_BAD_CD },           { "F_TRANSLATION", EVT_ID_F_TRANSLATION },
	{ "F_ADDR_SIZE", EVT_ID_F_ADDR_SIZE },     { "F_ACCESS", EVT_ID_F_ACCESS },
	{ "F_PERMISSION", EVT_ID_F_PERMISSION },   { NULL, 0 },
};

static const struct name_val gerrors[] = {
	{ "SFM_ERR", GERROR_SFM_ERR },                 { "CMDQ_ERR", GERROR_CMDQ_ERR },
	{ "EVTQ_ABT_ERR", GERROR_EVTQ_ABT_ERR },       { "MSI_CMDQ_ABT", GERROR_MSI_CMDQ_ABT_ERR },
	{ "MSI_EVTQ_ABT", GERROR_MSI_EVTQ_ABT_ERR },   { "MSI_GERROR_ABT", GERROR_MSI_GERROR_ABT_ERR },
	{ NULL, 0 },
};

static const struct name_val cerrors[] = {
	{ "CERROR_ILL", CMDQ_ERR_CERROR_ILL },
	{ "CERROR_ABT", CMDQ_ERR_CERROR_ABT },
	{ "CERROR_ATC_INV_SYNC", CMDQ_ERR_CERROR_ATC_INV_SYNC },
	{ NULL, 0 },
};

/* name (case-insensitive) in t, or for events also a number that names one. */
static const struct name_val *lookup(const struct name_val *t, const char *name, bool numeric)
{
	char *end;
	unsigned long v;

	if (!name)
		return NULL;
	for (; t->name; t++) {
		if (!strcasecmp(t->name, name))
			return t;
		if (numeric) {
			errno = 0;
			v = strtoul(name, &end, 0);
			if (!errno && end != name && !*end && v == t->val)
				return t;
		}
	}
	return NULL;
}

static void known(const struct name_val *t, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (; t->name && n < len; t++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", t->name);
}

/* type in t; NULL with "unknown WHAT 'type' (known: ...)" in err when it is not there. */
static const struct name_val *find(const struct name_val *t, const char *what, const char *type, bool numeric,
				   char *err, size_t errlen)
{
	const struct name_val *e = lookup(t, type, numeric);
	char list[256];

	if (!e) {
		known(t, list, sizeof(list));
		snprintf(err, errlen, "unknown %s '%s' (known: %s)", what, type ? type : "", list);
	}
	return e;
}

static int inject_event(struct vsmmu *vs, const struct viommu_inject *req, char *err, size_t errlen)
{
	const struct name_val *e = find(events, "event type", req->type, true, err, errlen);
	u64 evt[EVTQ_ENT_DWORDS] = { 0 };

	if (!e)
		return -EINVAL;
	if (req->sid >> VSMMU_SIDSIZE) {
		snprintf(err, errlen, "StreamID 0x%x is beyond the vSMMU's %u bits", req->sid, VSMMU_SIDSIZE);
		return -EINVAL;
	}
	evt[0] = FIELD_PREP(EVTQ_0_ID, e->val) | FIELD_PREP(EVTQ_0_SID, req->sid);
	if (e->val == EVT_ID_F_STE_FETCH || e->val == EVT_ID_F_CD_FETCH)
		evt[3] = req->addr & EVTQ_3_FETCH_ADDR;
	else if (e->val >= EVT_ID_F_TRANSLATION)
		evt[2] = req->addr;
	log_guest("%s: injected %s (0x%02x) for StreamID 0x%x (address 0x%llx)", vs->name, e->name, e->val,
		  req->sid, (unsigned long long)req->addr);
	vsmmu_evtq_raise(vs, evt);
	return 0;
}

static int inject_locked(struct vsmmu *vs, const struct viommu_inject *req, char *err, size_t errlen)
{
	const struct name_val *g;

	if (!strcmp(req->kind, "event"))
		return inject_event(vs, req, err, errlen);
	if (!strcmp(req->kind, "gerror")) {
		g = find(gerrors, "global error", req->type, false, err, errlen);
		if (!g)
			return -EINVAL;
		if (vsmmu_gerror_active(vs, g->val)) {
			snprintf(err, errlen, "%s is already active (the guest has not acknowledged it in GERRORN)",
				 g->name);
			return -EINVAL;
		}
		vsmmu_gerror_raise(vs, g->val);
		return 0;
	}
	if (!strcmp(req->kind, "cmd-error")) {
		g = find(cerrors, "command error", req->type, false, err, errlen);
		if (!g)
			return -EINVAL;
		vs->inject_cerror = g->val;
		return 0;
	}
	if (!strcmp(req->kind, "evtq-overflow")) {
		vsmmu_evtq_overflow(vs);
		return 0;
	}
	snprintf(err, errlen, "unknown injection '%s' (known: event, gerror, cmd-error, evtq-overflow)", req->kind);
	return -EINVAL;
}

int vsmmu_inject(struct vsmmu *vs, const struct viommu_inject *req, char *err, size_t errlen)
{
	int ret;

	pthread_mutex_lock(&vs->lock);
	ret = inject_locked(vs, req, err, errlen);
	if (!ret)
		vs->stats.injected++;
	pthread_mutex_unlock(&vs->lock);
	return ret;
}
