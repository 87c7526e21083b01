/* test_vsmmu_life.c: the vSMMU's iommufd objects over its life (iommu/vsmmu.c): vsmmu_create's order (host
 * info, nest-parent S2 HWPT, vIOMMU, a vDEVICE per stream, abort and bypass nested HWPTs, every device
 * attached to bypass) and its failures, each unwinding to nothing (GET_HW_INFO failing, a host that is not
 * an SMMUv3 or cannot nest, any HWPT, vIOMMU or vDEVICE allocation failing, an attach failing, bad
 * configurations); vsmmu_destroy leaving only the rig's IOAS and every device detached, also after a busy
 * life and when a detach fails. And the kernel rules the fakes enforce on the vSMMU's behalf (Linux 7.3):
 * a translating nested attach needs the device's vDEVICE, a nested HWPT only takes the vSTE fields and
 * Configs the kernel accepts, HWPT_INVALIDATE records its entry counts and can fail at a chosen entry. */
#include <endian.h>
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>
#include "tests/unit/cr_stderr.h"
#include "tests/unit/vsmmu_rig.h"

static struct vsmmu_rig rig;

static void teardown(void)
{
	rig_fini(&rig);
}

TestSuite(vsmmu_life, .init = cr_redirect_stderr, .fini = teardown);
TestSuite(vsmmu_fakes, .init = cr_redirect_stderr);

/* ---- create ---- */

static int log_at(const char *fmt, u32 id)
{
	char text[48];

	snprintf(text, sizeof(text), fmt, id);
	return fake_iommufd_log_find(&rig.fi, text);
}

Test(vsmmu_life, create_builds_objects_in_the_kernels_order)
{
	const struct fake_iommufd_obj *o;
	u32 s2 = 0, viommu = 0, abort_id = 0, bypass_id = 0;

	rig_up(&rig, 3);
	for (u32 id = 1; id < rig.fi.next_id; id++) {
		o = &rig.fi.objs[id];
		if (o->type == IOMMUFD_OBJ_HWPT_PAGING)
			s2 = id;
		else if (o->type == IOMMUFD_OBJ_VIOMMU)
			viommu = id;
		else if (o->type == IOMMUFD_OBJ_HWPT_NESTED && o->ste[0] == rig_ste_cfg(STE_CFG_ABORT))
			abort_id = id;
		else if (o->type == IOMMUFD_OBJ_HWPT_NESTED && o->ste[0] == rig_ste_cfg(STE_CFG_BYPASS))
			bypass_id = id;
	}
	cr_assert(s2 && viommu && abort_id && bypass_id);
	cr_assert_eq(rig.fi.objs[s2].parent, rig.ioas, "the nest parent is on the rig's IOAS");
	cr_assert_eq(rig.fi.objs[viommu].parent, s2);
	cr_assert_eq(rig.fi.objs[abort_id].parent, viommu);
	cr_assert_eq(rig.fi.objs[bypass_id].ste[1], 0);
	/* GET_HW_INFO, then S2 < vIOMMU < every vDEVICE < abort < bypass. */
	int hw = fake_iommufd_log_find(&rig.fi, "hw_info:1");
	int a = log_at("hwpt_alloc:%u", s2), b = log_at("viommu_alloc:%u", viommu);
	int c = log_at("hwpt_alloc:%u", abort_id), d = log_at("hwpt_alloc:%u", bypass_id);

	cr_assert(hw >= 0 && hw < a && a < b && b < c && c < d, "%d %d %d %d %d", hw, a, b, c, d);
	for (u32 id = 1; id < rig.fi.next_id; id++)
		if (rig.fi.objs[id].type == IOMMUFD_OBJ_VDEVICE) {
			int v = log_at("vdevice_alloc:%u", id);

			cr_assert(b < v && v < c);
			cr_assert_eq(rig.fi.objs[id].parent, viommu);
		}
	for (unsigned int i = 0; i < 3; i++) {
		cr_assert_eq(rig.fv[i].attached_pt, bypass_id);
		cr_assert_eq(rig.fv[i].attach_calls, 1);
	}
	cr_assert_eq(rig_live(&rig, IOMMUFD_OBJ_VDEVICE), 3);
	cr_assert_eq(rig_live(&rig, IOMMUFD_OBJ_VEVENTQ), 0, "no vEVENTQ before the guest sets EVTQEN");
	rig_check(&rig);
}

struct create_fail {
	const char *what;
	int rc;
	const char *msg; /* expected on stderr */
};

/* Set up a fresh rig, let prepare() break one step, create: it must fail with c->rc, say c->msg, and leave
 * nothing: no vSMMU, no device attached, only the rig's IOAS in the fake and in the tracker. */
static void expect_create_failure(const struct create_fail *c, void (*prepare)(struct vsmmu_rig *r))
{
	rig_init(&rig, 2);
	prepare(&rig);
	cr_assert_eq(rig_create(&rig), c->rc, "%s: rc", c->what);
	cr_assert_null(rig.vs, "%s", c->what);
	for (unsigned int i = 0; i < 2; i++) {
		cr_assert_eq(rig.fv[i].attached_pt, 0, "%s: device %u left attached", c->what, i);
		cr_assert_eq(rig.fi.attached[rig.dev[i].dev_id], 0);
	}
	cr_assert_eq(rig_live(&rig, IOMMUFD_OBJ_NR), 1, "%s: %u objects left", c->what, rig_live(&rig, IOMMUFD_OBJ_NR));
	cr_assert(rig.fi.objs[rig.ioas].live);
	cr_assert_eq(rig.ictx.nr_objs, 1, "%s: the tracker holds only the IOAS", c->what);
	cr_assert(cr_stderr_has(c->msg), "%s: no \"%s\" on stderr", c->what, c->msg);
	rig_fini(&rig);
}

static void hw_info_fails(struct vsmmu_rig *r) { r->fi.fail_hw_info = -ENODEV; }
static void not_smmuv3(struct vsmmu_rig *r) { r->fi.hw_info.type = IOMMU_HW_INFO_TYPE_INTEL_VTD; }
static void no_stage2(struct vsmmu_rig *r) { r->fi.hw_info.smmu.idr[0] &= ~(u32)IDR0_S2P; }
static void s2_alloc_fails(struct vsmmu_rig *r) { r->fi.fail_hwpt_alloc = -ENOMEM; }
static void abort_alloc_fails(struct vsmmu_rig *r)
{
	r->fi.fail_hwpt_alloc = -EIO;
	r->fi.fail_hwpt_alloc_skip = 1;
}
static void bypass_alloc_fails(struct vsmmu_rig *r)
{
	r->fi.fail_hwpt_alloc = -EIO;
	r->fi.fail_hwpt_alloc_skip = 2;
}
static void viommu_fails(struct vsmmu_rig *r) { r->fi.fail_viommu_alloc = -EOPNOTSUPP; }
static void vdevice0_fails(struct vsmmu_rig *r) { r->fi.fail_vdevice_alloc = -EEXIST; }
static void vdevice1_fails(struct vsmmu_rig *r)
{
	r->fi.fail_vdevice_alloc = -EINVAL;
	r->fi.fail_vdevice_alloc_skip = 1;
}
static void attach0_fails(struct vsmmu_rig *r) { r->fv[0].fail_attach = -EINVAL; }
static void attach1_fails(struct vsmmu_rig *r) { r->fv[1].fail_attach = -EBUSY; }

Test(vsmmu_life, create_failures_leave_nothing_behind)
{
	static const struct {
		struct create_fail c;
		void (*prepare)(struct vsmmu_rig *r);
	} cases[] = {
		{ { "GET_HW_INFO fails", -ENODEV, "vsmmu0: device edu0: cannot read its IOMMU's capabilities" },
		  hw_info_fails },
		{ { "not an SMMUv3", -EOPNOTSUPP, "vsmmu0: device edu0 is not behind an Arm SMMUv3" }, not_smmuv3 },
		{ { "no stage 2", -EOPNOTSUPP, "cannot nest (needs stage 1 and stage 2)" }, no_stage2 },
		{ { "S2 HWPT alloc fails", -ENOMEM, "HWPT_ALLOC nest-parent" }, s2_alloc_fails },
		{ { "abort HWPT alloc fails", -EIO, "HWPT_ALLOC nested" }, abort_alloc_fails },
		{ { "bypass HWPT alloc fails", -EIO, "HWPT_ALLOC nested" }, bypass_alloc_fails },
		{ { "vIOMMU alloc fails", -EOPNOTSUPP, "VIOMMU_ALLOC arm-smmuv3" }, viommu_fails },
		{ { "first vDEVICE fails", -EEXIST, "vsmmu0: device edu0: cannot give it StreamID 0x8" }, vdevice0_fails },
		{ { "second vDEVICE fails", -EINVAL, "vsmmu0: device edu1: cannot give it StreamID 0x10" }, vdevice1_fails },
		{ { "first attach fails", -EINVAL, "vsmmu0: device edu0: cannot attach it behind the vSMMU" }, attach0_fails },
		{ { "second attach fails", -EBUSY, "vsmmu0: device edu1: cannot attach it behind the vSMMU" }, attach1_fails },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		expect_create_failure(&cases[i].c, cases[i].prepare);
	/* The injections hit the step they name: the second vDEVICE case made the first one. */
	rig_init(&rig, 2);
	vdevice1_fails(&rig);
	cr_assert_neq(rig_create(&rig), 0);
	cr_assert_geq(fake_iommufd_log_find(&rig.fi, "vdevice_alloc:4"), 0);
	cr_assert_geq(fake_iommufd_log_find(&rig.fi, "destroy:4"), 0, "and destroyed it");
}

Test(vsmmu_life, bad_configurations_touch_nothing)
{
	unsigned int before;

	rig_init(&rig, 3);
	before = rig.fi.nr_log;
	rig.cfg.nstreams = 0;
	cr_assert_eq(rig_create(&rig), -EINVAL);
	rig.cfg.nstreams = VIOMMU_MAX_STREAMS + 1;
	cr_assert_eq(rig_create(&rig), -EINVAL);
	rig.cfg.nstreams = 3;
	rig.cfg.streams[2].vsid = rig.cfg.streams[0].vsid;
	cr_assert_eq(rig_create(&rig), -EINVAL);
	cr_assert(cr_stderr_has("devices edu0 and edu2 both have StreamID 0x8"));
	rig.cfg.streams[2].vsid = 0x10000;
	cr_assert_eq(rig_create(&rig), -EINVAL);
	cr_assert(cr_stderr_has("StreamID 0x10000 does not fit 16 bits"));
	cr_assert_null(rig.vs);
	cr_assert_eq(rig.fi.nr_log, before, "no iommufd call at all");
	for (unsigned int i = 0; i < 3; i++)
		cr_assert_eq(rig.fv[i].attach_calls, 0);
	/* The largest StreamID fits. */
	rig.cfg.streams[2].vsid = 0xffff;
	cr_assert_eq(rig_create(&rig), 0);
	cr_assert_eq(rig.fi.objs[rig.fi.next_id - 3].virt_id, 0xffff, "the third vDEVICE");
}

/* ---- destroy ---- */

Test(vsmmu_life, destroy_right_after_create)
{
	rig_up(&rig, 2);
	rig_destroy_and_check(&rig);
	vsmmu_destroy(NULL);
}

Test(vsmmu_life, destroy_after_a_busy_life)
{
	rig_up(&rig, 4);
	rig_strtab_linear(&rig);
	for (unsigned int i = 0; i < 4; i++)
		rig_ste(&rig, rig_vsid(i), rig_ste_s1(rig_cd(i)), 0);
	rig_evtq(&rig, 3);
	rig_cmdq(&rig, 4);
	rig_cr0(&rig, CR0_SMMUEN | CR0_CMDQEN | CR0_EVTQEN);
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_tlbi_asid(1), rig_cmd_cfgi_cd(0x8),
						   rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0) }, 3);
	cr_assert_eq(rig_live(&rig, IOMMUFD_OBJ_HWPT_NESTED), 6);
	cr_assert_eq(rig_live(&rig, IOMMUFD_OBJ_VEVENTQ), 1, "EVTQEN made the vEVENTQ");
	/* A command error pending and an invalidation batch allocated: nothing of it outlives destroy. */
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_tlbi_asid(2), rig_cmd_op(0xff) }, 2);
	cr_assert(rig_gerror_active(&rig, GERROR_CMDQ_ERR));
	rig_destroy_and_check(&rig);
	for (unsigned int i = 0; i < 4; i++)
		cr_assert_geq(rig.fv[i].detach_calls, 1);
	/* Children went before parents (the fake refuses otherwise): the vIOMMU after every vDEVICE and
	 * nested HWPT, the S2 last. */
	cr_assert_geq(rig.fi.nr_destroyed, 13);
	u32 last = rig.fi.destroyed[rig.fi.nr_destroyed - 1], viommu = rig.fi.destroyed[rig.fi.nr_destroyed - 2];
	cr_assert_eq(rig.fi.objs[last].type, IOMMUFD_OBJ_HWPT_PAGING);
	cr_assert_eq(rig.fi.objs[viommu].type, IOMMUFD_OBJ_VIOMMU);
}

Test(vsmmu_life, a_failed_detach_leaves_the_hwpt_to_the_devices_close)
{
	rig_up(&rig, 2);
	rig.fv[1].fail_detach = -EIO;
	vsmmu_destroy(rig.vs);
	rig.vs = NULL;
	cr_assert(cr_stderr_has("vsmmu0: device edu1: detach failed"));
	/* The kernel keeps what the device still holds: its HWPT and the chain above it. */
	cr_assert_eq(rig.fv[0].attached_pt, 0);
	cr_assert_neq(rig.fv[1].attached_pt, 0);
	cr_assert(rig.fi.objs[rig.fv[1].attached_pt].live);
	cr_assert_gt(rig_live(&rig, IOMMUFD_OBJ_NR), 1);
	/* Closing the device and the iommufd (what the VM does next) frees all of it. */
	vfio_dev_close(&rig.dev[1]);
	iommufd_close(&rig.ictx);
	cr_assert_eq(rig_live(&rig, IOMMUFD_OBJ_NR), 0);
}

/* ---- the fakes' kernel rules ---- */

struct fake_env {
	struct fake_iommufd fi;
	struct iommufd ictx;
	struct fake_vfio fv[2];
	struct vfio_dev dev[2];
	u32 ioas, s2, viommu;
};

static void fake_env_up(struct fake_env *e)
{
	memset(e, 0, sizeof(*e));
	fake_iommufd_init(&e->fi);
	fake_iommufd_attach_ctx(&e->fi, &e->ictx);
	for (unsigned int i = 0; i < 2; i++) {
		fake_vfio_init(&e->fv[i]);
		e->fv[i].iommufd = &e->fi;
		e->fv[i].next_dev_id = i + 1;
		fake_vfio_open(&e->fv[i], &e->dev[i], i ? "0000:00:02.0" : "0000:00:01.0");
		cr_assert_eq(vfio_dev_bind(&e->dev[i], -1), 0);
	}
	cr_assert_eq(iommufd_ioas_alloc(&e->ictx, &e->ioas, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_hwpt_alloc_nest_parent(&e->ictx, 1, e->ioas, &e->s2, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_viommu_alloc_smmuv3(&e->ictx, 1, e->s2, &e->viommu, FAIL_PRINT), 0);
}

static void fake_env_down(struct fake_env *e)
{
	for (unsigned int i = 0; i < 2; i++) {
		vfio_dev_close(&e->dev[i]);
		fake_vfio_release(&e->fv[i]);
	}
	iommufd_close(&e->ictx);
	fake_iommufd_release(&e->fi);
}

static u32 nested(struct fake_env *e, u32 viommu, u64 s0, u64 s1, int want)
{
	const u64 ste[2] = { s0, s1 };
	u32 id = 0;

	cr_assert_eq(iommufd_hwpt_alloc_nested_smmuv3(&e->ictx, 1, viommu, ste, &id, FAIL_PRINT), want,
		     "vSTE 0x%016llx 0x%016llx", (unsigned long long)s0, (unsigned long long)s1);
	return id;
}

Test(vsmmu_fakes, a_translating_attach_needs_the_devices_vdevice)
{
	struct fake_env e;
	u32 s1, abrt, byp, inval, vd, other_viommu, other_vd;

	fake_env_up(&e);
	s1 = nested(&e, e.viommu, rig_ste_s1(0x40001000), 0, 0);
	abrt = nested(&e, e.viommu, rig_ste_cfg(STE_CFG_ABORT), 0, 0);
	byp = nested(&e, e.viommu, rig_ste_cfg(STE_CFG_BYPASS), 0, 0);
	inval = nested(&e, e.viommu, rig_ste_s1(0x40001000) & ~STE_0_V, 0, 0);
	/* Abort, bypass and invalid (V=0, treated as abort) attach without a vDEVICE. */
	cr_assert_eq(vfio_dev_attach(&e.dev[0], abrt, FAIL_PRINT), 0);
	cr_assert_eq(vfio_dev_attach(&e.dev[0], byp, FAIL_PRINT), 0);
	cr_assert_eq(vfio_dev_attach(&e.dev[0], inval, FAIL_PRINT), 0);
	/* Stage 1 does not, and a refused attach keeps the current one. */
	cr_assert_eq(vfio_dev_attach(&e.dev[0], s1, FAIL_PRINT), -EINVAL);
	cr_assert_eq(e.fv[0].attached_pt, inval);
	/* Another device's vDEVICE does not count, nor this device's vDEVICE on another vIOMMU. */
	cr_assert_eq(iommufd_vdevice_alloc(&e.ictx, e.viommu, 2, 0x10, &vd), 0);
	cr_assert_eq(iommufd_viommu_alloc_smmuv3(&e.ictx, 1, e.s2, &other_viommu, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_vdevice_alloc(&e.ictx, other_viommu, 1, 0x8, &other_vd), 0);
	cr_assert_eq(vfio_dev_attach(&e.dev[0], s1, FAIL_PRINT), -EINVAL);
	/* Its own vDEVICE on the HWPT's vIOMMU does. */
	cr_assert_eq(iommufd_vdevice_alloc(&e.ictx, e.viommu, 1, 0x8, &vd), 0);
	cr_assert_eq(vfio_dev_attach(&e.dev[0], s1, FAIL_PRINT), 0);
	cr_assert_eq(e.fi.attached[1], s1);
	/* Ids that are not attachable. */
	cr_assert_eq(vfio_dev_attach(&e.dev[1], 999, FAIL_PRINT), -ENOENT);
	cr_assert_eq(vfio_dev_attach(&e.dev[1], 0, FAIL_PRINT), -ENOENT);
	cr_assert_eq(vfio_dev_attach(&e.dev[1], e.viommu, FAIL_PRINT), -EINVAL);
	cr_assert_eq(vfio_dev_attach(&e.dev[1], vd, FAIL_PRINT), -EINVAL);
	cr_assert_eq(vfio_dev_attach(&e.dev[1], e.s2, FAIL_PRINT), 0);
	cr_assert_eq(vfio_dev_attach(&e.dev[1], e.ioas, FAIL_PRINT), 0);
	cr_assert_eq(vfio_dev_detach(&e.dev[0]), 0);
	cr_assert_eq(vfio_dev_detach(&e.dev[1]), 0);
	fake_env_down(&e);
	cr_assert_eq(fake_iommufd_live(&e.fi, IOMMUFD_OBJ_NR), 0);
}

Test(vsmmu_fakes, nested_alloc_takes_only_what_the_kernel_accepts)
{
	struct fake_env e;
	u64 s1 = rig_ste_s1(0x40001000);

	fake_env_up(&e);
	/* Accepted: abort, bypass, S1 with every allowed field, EATS abort or translate. */
	nested(&e, e.viommu, rig_ste_cfg(STE_CFG_ABORT), 0, 0);
	nested(&e, e.viommu, rig_ste_cfg(STE_CFG_BYPASS), 0, 0);
	nested(&e, e.viommu, s1 | STE_0_S1FMT | STE_0_S1CDMAX, STE_1_NESTED_ALLOWED & ~STE_1_EATS, 0);
	nested(&e, e.viommu, s1, FIELD_PREP(STE_1_EATS, STE_EATS_TRANS), 0);
	/* V=0: nothing else is looked at. */
	nested(&e, e.viommu, ~STE_0_V, ~0ULL, 0);
	/* Refused with -EIO: bits outside the allowed fields, other Configs, other EATS values. */
	nested(&e, e.viommu, s1 | BIT(52), 0, -EIO);
	nested(&e, e.viommu, s1, BIT(8), -EIO);
	nested(&e, e.viommu, s1, BIT(63), -EIO);
	for (unsigned int cfg = 1; cfg <= 7; cfg++)
		if (cfg != STE_CFG_BYPASS && cfg != STE_CFG_S1_TRANS)
			nested(&e, e.viommu, rig_ste_cfg(cfg) | 0x40001000, 0, -EIO);
	nested(&e, e.viommu, s1, FIELD_PREP(STE_1_EATS, STE_EATS_S1CHK), -EIO);
	nested(&e, e.viommu, s1, FIELD_PREP(STE_1_EATS, 3), -EIO);
	/* Not on a vIOMMU: the S2 HWPT, a missing id. */
	nested(&e, e.s2, s1, 0, -ENOENT);
	nested(&e, 999, s1, 0, -ENOENT);
	cr_assert_eq(fake_iommufd_live(&e.fi, IOMMUFD_OBJ_HWPT_NESTED), 5);
	/* The skip counter lets that many allocations through first, then fails once. */
	e.fi.fail_hwpt_alloc = -ENOSPC;
	e.fi.fail_hwpt_alloc_skip = 2;
	nested(&e, e.viommu, s1, 0, 0);
	nested(&e, e.viommu, s1, 0, 0);
	nested(&e, e.viommu, s1, 0, -ENOSPC);
	nested(&e, e.viommu, s1, 0, 0);
	fake_env_down(&e);
}

Test(vsmmu_fakes, invalidate_records_counts_and_fails_at_an_entry)
{
	struct fake_env e;
	u64 cmds[6][2];
	u32 done, vd;

	fake_env_up(&e);
	cr_assert_eq(iommufd_vdevice_alloc(&e.ictx, e.viommu, 1, 0x8, &vd), 0);
	for (unsigned int i = 0; i < 6; i++) {
		cmds[i][0] = FIELD_PREP(CMDQ_0_OP, CMDQ_OP_TLBI_NH_ASID) | FIELD_PREP(CMDQ_TLBI_0_ASID, i);
		cmds[i][1] = 0;
	}
	cr_assert_eq(fake_inv_send(&e.ictx, e.viommu, (const u64(*)[2])cmds, 6, &done), 0);
	cr_assert_eq(done, 6);
	cr_assert_eq(e.fi.inv_num_in[0], 6);
	cr_assert_eq(e.fi.nr_inv_cmd, 6);
	cr_assert_eq(e.fi.inv_cmd[5][0], cmds[5][0]);

	/* The driver's allocation fails (-ENOMEM): entry_num comes back as asked, nothing was issued. */
	e.fi.fail_invalidate = -ENOMEM;
	e.fi.fail_invalidate_where = FAKE_INV_FAIL_ALLOC;
	cr_assert_eq(fake_inv_send(&e.ictx, e.viommu, (const u64(*)[2])cmds, 5, &done), -ENOMEM);
	cr_assert_eq(done, 5);
	cr_assert_eq(e.fi.inv_num_in[1], 5);
	cr_assert_eq(e.fi.nr_inv_cmd, 6);
	/* One-shot: the next call goes through. */
	cr_assert_eq(fake_inv_send(&e.ictx, e.viommu, (const u64(*)[2])cmds, 3, &done), 0);
	cr_assert_eq(done, 3);
	cr_assert_eq(e.fi.nr_inv_cmd, 9);
	/* A command the kernel refuses (a vSID with no vDEVICE): -EIO, entry_num its index, and the one before it,
	 * checked but in the same block of 63, never issued. */
	cmds[1][0] = FIELD_PREP(CMDQ_0_OP, CMDQ_OP_CFGI_CD) | FIELD_PREP(CMDQ_CFGI_0_SID, 0x99);
	cr_assert_eq(fake_inv_send(&e.ictx, e.viommu, (const u64(*)[2])cmds, 6, &done), -EIO);
	cr_assert_eq(done, 1);
	cr_assert_eq(e.fi.nr_inv_cmd, 9, "nothing of the failed call was issued");
	cr_assert_eq(e.fi.inv_calls, 4);
	cr_assert_eq(e.fi.inv_num_in[3], 6);
	/* An early failure in the core: entry_num 0. */
	e.fi.fail_invalidate = -EINVAL;
	cr_assert_eq(fake_inv_send(&e.ictx, e.viommu, (const u64(*)[2])cmds, 1, &done), -EINVAL);
	cr_assert_eq(done, 0);
	fake_env_down(&e);
}

Test(vsmmu_fakes, invalidate_issues_in_blocks_of_63)
{
	static struct iommu_viommu_arm_smmuv3_invalidate cmds[130];
	struct fake_env e;
	u32 done;

	fake_env_up(&e);
	for (unsigned int i = 0; i < 130; i++) {
		cmds[i].cmd[0] = htole64(FIELD_PREP(CMDQ_0_OP, CMDQ_OP_TLBI_NH_ASID) | FIELD_PREP(CMDQ_TLBI_0_ASID, i));
		cmds[i].cmd[1] = 0;
	}
	/* One ioctl of 130, refused at 100: the block 0..62 was issued, 63..99 only checked. */
	cmds[100].cmd[1] = htole64(1); /* a RES0 bit */
	cr_assert_eq(iommufd_hwpt_invalidate_smmuv3(&e.ictx, e.viommu, cmds, 130, &done, FAIL_PRINT), -EIO);
	cr_assert_eq(done, 100);
	cr_assert_eq(e.fi.nr_inv_cmd, 63);
	cmds[100].cmd[1] = 0;
	/* The second block's issue fails (a CMD_SYNC timeout): the first one ran, entry_num = 125, its last. */
	e.fi.fail_invalidate = -ETIMEDOUT;
	e.fi.fail_invalidate_where = FAKE_INV_FAIL_ISSUE;
	e.fi.fail_invalidate_at = 70;
	cr_assert_eq(iommufd_hwpt_invalidate_smmuv3(&e.ictx, e.viommu, cmds, 130, &done, FAIL_PRINT), -ETIMEDOUT);
	cr_assert_eq(done, 125);
	cr_assert_eq(e.fi.nr_inv_cmd, 126);
	/* All of them: three blocks (63, 63, 4), all issued. */
	cr_assert_eq(iommufd_hwpt_invalidate_smmuv3(&e.ictx, e.viommu, cmds, 130, &done, FAIL_PRINT), 0);
	cr_assert_eq(done, 130);
	cr_assert_eq(e.fi.nr_inv_cmd, 256);
	fake_env_down(&e);
}
