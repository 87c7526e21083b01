/* test_vsmmu_ste.c: what each device behind the vSMMU is attached to (iommu/vsmmu_ste.c, vsmmu.c), as a guest
 * drives it through CR0, GBPA, its stream table and CFGI commands: the reset state (bypass), GBPA deciding
 * while SMMUEN=0 (its ABORT bit) and not after, SMMUEN 0->1 reading every STE and 1->0 going back to GBPA;
 * the STE matrix: V=0, abort, bypass, stage 1 (a nested HWPT allocated with only the fields the kernel
 * accepts, attached make-before-break, the old one destroyed; the same STE again allocates nothing),
 * stage 2 / nested / reserved Configs, S1CDMax != 0 and a CD outside RAM (abort, ste_errors and the
 * architected event in the guest's EVTQ, reported only after a CFGI); the host refusing the vSTE or the
 * attach; linear tables (outside RAM, across its end, LOG2SIZE too small or huge, reserved FMT) and the
 * 2-level walk (SPLIT 6/8/10 and reserved, SPAN values, L1 descriptor and L2 table outside RAM, an index
 * beyond the SPAN); and the stream table base locked while SMMUEN=1. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>
#include "tests/unit/vsmmu_rig.h"

static struct vsmmu_rig rig;

static void setup(void)
{
	cr_redirect_stderr();
	rig_up(&rig, 4);
	rig_strtab_linear(&rig);
	rig_evtq(&rig, 4);
	rig_cmdq(&rig, 5);
}

/* Two devices, StreamIDs 0x8 and 0x148 (different level-1 descriptors with SPLIT 6). */
static void setup_2lvl_sids(void)
{
	cr_redirect_stderr();
	rig_init(&rig, 2);
	rig.cfg.streams[1].vsid = 0x148;
	cr_assert_eq(rig_create(&rig), 0);
	rig_evtq(&rig, 4);
	rig_cmdq(&rig, 5);
}

static void teardown(void)
{
	rig_fini(&rig);
}

TestSuite(vsmmu_ste, .init = setup, .fini = teardown);
TestSuite(vsmmu_ste_2lvl, .init = setup_2lvl_sids, .fini = teardown);

static u32 sid_of(unsigned int i)
{
	return rig.cfg.streams[i].vsid;
}

/* The guest re-validates sid's STE: CFGI_STE + CMD_SYNC. */
static void cfgi(u32 sid)
{
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_ste(sid), rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0) }, 2);
	cr_assert_not(rig_gerror_active(&rig, GERROR_CMDQ_ERR));
}

static void cfgi_all(void)
{
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_all(), rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0) }, 2);
}

/* SMMUEN, with CR2.RECINVSID set as Linux sets it (C_BAD_STREAMID is recorded only then). */
static void enable(void)
{
	rig_wr32(&rig, ARM_SMMU_CR2, CR2_RECINVSID);
	rig_cr0(&rig, rig_rd32(&rig, ARM_SMMU_CR0) | CR0_SMMUEN);
}

static void disable(void)
{
	rig_cr0(&rig, rig_rd32(&rig, ARM_SMMU_CR0) & ~CR0_SMMUEN);
}

/* Exactly one new event, of this id for this StreamID; returns its record. */
static void expect_event(u8 id, u32 sid, u64 evt[4])
{
	u64 e[8][4];
	unsigned int n = rig_events(&rig, e, 8);

	cr_assert_eq(n, 1, "%u events, expected one 0x%02x", n, id);
	cr_assert_eq(FIELD_GET(EVTQ_0_ID, e[0][0]), id, "event 0x%02x, expected 0x%02x",
		     (unsigned int)FIELD_GET(EVTQ_0_ID, e[0][0]), id);
	cr_assert_eq(FIELD_GET(EVTQ_0_SID, e[0][0]), sid);
	if (evt)
		memcpy(evt, e[0], sizeof(e[0]));
}

static void expect_no_event(void)
{
	u64 e[4][4];

	cr_assert_eq(rig_events(&rig, e, 4), 0);
}

/* ---- reset, GBPA, SMMUEN ---- */

Test(vsmmu_ste, reset_state_is_bypass_with_every_object_in_place)
{
	const struct fake_iommufd_obj *vdevs[RIG_MAX_DEV] = { 0 };

	for (unsigned int i = 0; i < 4; i++) {
		cr_assert_eq(rig_cfg_of(&rig, i), STE_CFG_BYPASS);
		cr_assert_eq(rig.fv[i].attached_pt, rig.fv[0].attached_pt, "one bypass HWPT for all");
	}
	cr_assert_eq(rig_live(&rig, IOMMUFD_OBJ_HWPT_NESTED), 2, "abort + bypass");
	/* A vDEVICE per device: its dev id, its StreamID as virt_id, on the vIOMMU. */
	for (u32 id = 1; id < rig.fi.next_id; id++) {
		const struct fake_iommufd_obj *o = &rig.fi.objs[id];

		if (!o->live || o->type != IOMMUFD_OBJ_VDEVICE)
			continue;
		cr_assert(o->dev_id >= 1 && o->dev_id <= 4);
		cr_assert_null(vdevs[o->dev_id - 1], "one vDEVICE per device");
		vdevs[o->dev_id - 1] = o;
		cr_assert_eq(o->virt_id, rig_vsid(o->dev_id - 1));
		cr_assert_eq(o->parent, rig_hwpt(&rig, 0)->parent);
	}
	for (unsigned int i = 0; i < 4; i++)
		cr_assert_not_null(vdevs[i]);
	rig_check(&rig);
}

Test(vsmmu_ste, gbpa_decides_while_smmuen_is_0)
{
	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(0)), 0);
	/* SMMUEN=0: the STE does not matter, even after a CFGI. */
	cfgi(0x8);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_BYPASS);
	cr_assert_eq(rig_stats(&rig).nested_allocs, 0);
	rig_gbpa(&rig, GBPA_ABORT);
	for (unsigned int i = 0; i < 4; i++)
		cr_assert_eq(rig_cfg_of(&rig, i), STE_CFG_ABORT);
	/* SMMUEN=1: the STEs decide (V=0 for the others: abort) and GBPA no longer does. */
	enable();
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_S1_TRANS);
	unsigned int calls = rig.fv[0].attach_calls + rig.fv[1].attach_calls;
	rig_gbpa(&rig, 0);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_S1_TRANS);
	cr_assert_eq(rig_cfg_of(&rig, 1), STE_CFG_ABORT);
	cr_assert_eq(rig.fv[0].attach_calls + rig.fv[1].attach_calls, calls);
	/* SMMUEN 1 -> 0: back to GBPA (bypass now); the stage-1 HWPT goes. */
	disable();
	for (unsigned int i = 0; i < 4; i++)
		cr_assert_eq(rig_cfg_of(&rig, i), STE_CFG_BYPASS);
	cr_assert_eq(rig_live(&rig, IOMMUFD_OBJ_HWPT_NESTED), 2);
	rig_gbpa(&rig, GBPA_ABORT);
	enable();
	disable();
	for (unsigned int i = 0; i < 4; i++)
		cr_assert_eq(rig_cfg_of(&rig, i), STE_CFG_ABORT);
	rig_check(&rig);
}

Test(vsmmu_ste, smmuen_reads_every_ste)
{
	struct vsmmu_stats st;

	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(0)), 0);
	rig_ste(&rig, 0x10, rig_ste_cfg(STE_CFG_BYPASS), 0);
	rig_ste(&rig, 0x18, rig_ste_cfg(STE_CFG_ABORT), 0);
	rig_ste(&rig, 0x20, 0, 0); /* V=0 */
	enable();
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_S1_TRANS);
	cr_assert_eq(rig_hwpt(&rig, 0)->ste[0], rig_ste_s1(rig_cd(0)));
	cr_assert_eq(rig_hwpt(&rig, 0)->ste[1], 0);
	cr_assert_eq(rig_cfg_of(&rig, 1), STE_CFG_BYPASS);
	cr_assert_eq(rig_cfg_of(&rig, 2), STE_CFG_ABORT);
	cr_assert_eq(rig_cfg_of(&rig, 3), STE_CFG_ABORT);
	st = rig_stats(&rig);
	cr_assert_eq(st.nested_allocs, 1);
	cr_assert_eq(st.ste_errors, 0, "V=0 is an unused STE, not an error");
	expect_no_event();
	rig_check(&rig);
}

/* ---- stage 1 ---- */

Test(vsmmu_ste, stage1_vste_keeps_only_what_the_kernel_accepts)
{
	u64 gpa = RIG_STRTAB + 0x8 * STRTAB_STE_SIZE, cd = rig_cd(0);
	u64 s0 = rig_ste_s1(cd) | FIELD_PREP(STE_0_S1FMT, STE_S1FMT_4K_L2) | GENMASK(58, 52); /* RES0 too */
	u64 s1 = FIELD_PREP(STE_1_S1DSS, STE_S1DSS_BYPASS) | FIELD_PREP(STE_1_S1CIR, 1) | FIELD_PREP(STE_1_S1COR, 2) |
		 FIELD_PREP(STE_1_S1CSH, 3) | STE_1_S1STALLD | FIELD_PREP(STE_1_EATS, STE_EATS_TRANS) |
		 GENMASK(26, 8) | GENMASK(63, 32);

	rig_ste_at(&rig, gpa, s0, s1);
	for (unsigned int i = 2; i < STE_DWORDS; i++)
		rig_put64(&rig, gpa + 8 * i, 0x5a5a5a5a5a5a5a5aULL); /* stage-2 fields and the rest */
	enable();
	const struct fake_iommufd_obj *o = rig_hwpt(&rig, 0);

	cr_assert_eq(o->ste[0], STE_0_V | FIELD_PREP(STE_0_CFG, STE_CFG_S1_TRANS) | cd, "0x%016llx",
		     (unsigned long long)o->ste[0]);
	cr_assert_eq(o->ste[1], FIELD_PREP(STE_1_S1CIR, 1) | FIELD_PREP(STE_1_S1COR, 2) | FIELD_PREP(STE_1_S1CSH, 3),
		     "only the CD table attributes: 0x%016llx", (unsigned long long)o->ste[1]);
	cr_assert_eq(o->ste[0] & ~STE_0_NESTED_ALLOWED, 0);
	cr_assert_eq(o->ste[1] & ~STE_1_NESTED_ALLOWED, 0);
	cr_assert_eq(o->parent, rig_hwpt(&rig, 1)->parent, "on the vSMMU's vIOMMU");
}

Test(vsmmu_ste, a_new_ste_replaces_make_before_break)
{
	u32 a, b, c;
	struct vsmmu_stats st;

	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(0)), 0);
	enable();
	a = rig.fv[0].attached_pt;
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_S1_TRANS);

	/* Another CD: a new HWPT, the device moved onto it, then the old one destroyed (the fake refuses to
	 * destroy an attached HWPT, so the order is proven by A being gone). */
	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(1)), 0);
	cfgi(0x8);
	b = rig.fv[0].attached_pt;
	cr_assert_neq(b, a);
	cr_assert_eq(rig_hwpt(&rig, 0)->ste[0] & STE_0_S1CTXPTR, rig_cd(1));
	cr_assert_not(rig.fi.objs[a].live, "the old HWPT was destroyed");
	char alloc_b[32], destroy_a[32];
	snprintf(alloc_b, sizeof(alloc_b), "hwpt_alloc:%u", b);
	snprintf(destroy_a, sizeof(destroy_a), "destroy:%u", a);
	cr_assert_lt(fake_iommufd_log_find(&rig.fi, alloc_b), fake_iommufd_log_find(&rig.fi, destroy_a));
	cr_assert_eq(rig_live(&rig, IOMMUFD_OBJ_HWPT_NESTED), 3);

	/* The same STE again (CFGI_STE, CFGI_ALL, SMMUEN untouched): nothing allocated, nothing attached. */
	st = rig_stats(&rig);
	unsigned int attach_calls = rig.fv[0].attach_calls;
	u32 next = rig.fi.next_id;
	cfgi(0x8);
	cfgi_all();
	cr_assert_eq(rig.fv[0].attached_pt, b);
	cr_assert_eq(rig.fi.next_id, next, "no new object");
	cr_assert_eq(rig.fv[0].attach_calls, attach_calls);
	cr_assert_eq(rig_stats(&rig).nested_allocs, st.nested_allocs);

	/* Different only in an attribute the vSTE carries: a new HWPT. */
	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(1)), FIELD_PREP(STE_1_S1CIR, 1));
	cfgi(0x8);
	c = rig.fv[0].attached_pt;
	cr_assert_neq(c, b);
	cr_assert_not(rig.fi.objs[b].live);
	/* Different only in what the vSMMU drops (S1DSS): the same vSTE, no new HWPT. */
	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(1)), FIELD_PREP(STE_1_S1CIR, 1) | FIELD_PREP(STE_1_S1DSS, 1));
	cfgi(0x8);
	cr_assert_eq(rig.fv[0].attached_pt, c);

	/* To bypass and back: the stage-1 HWPT goes, a fresh one comes. */
	rig_ste(&rig, 0x8, rig_ste_cfg(STE_CFG_BYPASS), 0);
	cfgi(0x8);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_BYPASS);
	cr_assert_not(rig.fi.objs[c].live);
	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(1)), FIELD_PREP(STE_1_S1CIR, 1));
	cfgi(0x8);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_S1_TRANS);
	cr_assert_eq(rig_stats(&rig).nested_allocs, 4);
	cr_assert_eq(rig_stats(&rig).ste_errors, 0);
	rig_check(&rig);
}

Test(vsmmu_ste, every_stream_gets_its_own_stage1_hwpt)
{
	for (unsigned int i = 0; i < 4; i++)
		rig_ste(&rig, rig_vsid(i), rig_ste_s1(rig_cd(i)), 0);
	enable();
	for (unsigned int i = 0; i < 4; i++) {
		cr_assert_eq(rig_hwpt(&rig, i)->ste[0] & STE_0_S1CTXPTR, rig_cd(i));
		for (unsigned int j = 0; j < i; j++)
			cr_assert_neq(rig.fv[i].attached_pt, rig.fv[j].attached_pt);
	}
	cr_assert_eq(rig_live(&rig, IOMMUFD_OBJ_HWPT_NESTED), 6);
	rig_check(&rig);
}

/* ---- the Config matrix ---- */

Test(vsmmu_ste, config_matrix)
{
	static const struct {
		unsigned int cfg, want;
		bool error;
	} cases[] = {
		{ 0, STE_CFG_ABORT, false },
		{ 1, STE_CFG_ABORT, true },  /* reserved */
		{ 2, STE_CFG_ABORT, true },
		{ 3, STE_CFG_ABORT, true },
		{ STE_CFG_BYPASS, STE_CFG_BYPASS, false },
		{ STE_CFG_S1_TRANS, STE_CFG_S1_TRANS, false },
		{ STE_CFG_S2_TRANS, STE_CFG_ABORT, true }, /* no S2P */
		{ STE_CFG_NESTED, STE_CFG_ABORT, true },
	};

	enable();
	expect_no_event();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		u64 errors = rig_stats(&rig).ste_errors;
		u64 s0 = STE_0_V | FIELD_PREP(STE_0_CFG, cases[i].cfg) | rig_cd(0);

		/* From bypass each time, so an abort is a change. */
		rig_ste(&rig, 0x8, rig_ste_cfg(STE_CFG_BYPASS), 0);
		cfgi(0x8);
		cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_BYPASS);
		rig_ste(&rig, 0x8, s0, 0);
		cfgi(0x8);
		cr_assert_eq(rig_cfg_of(&rig, 0), cases[i].want, "Config %u", cases[i].cfg);
		cr_assert_eq(rig_stats(&rig).ste_errors, errors + cases[i].error, "Config %u", cases[i].cfg);
		if (cases[i].error)
			expect_event(EVT_ID_C_BAD_STE, 0x8, NULL);
		else
			expect_no_event();
		cr_assert_eq(rig_cfg_of(&rig, 1), STE_CFG_ABORT, "the other streams are untouched");
	}
	/* V=0 with any Config: abort, no error. */
	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(0)) & ~STE_0_V, 0);
	cfgi(0x8);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_ABORT);
	expect_no_event();
	rig_check(&rig);
}

Test(vsmmu_ste, s1cdmax_is_a_bad_ste)
{
	enable();
	rig_ste(&rig, 0x10, rig_ste_s1(rig_cd(1)) | FIELD_PREP(STE_0_S1CDMAX, 1), 0);
	cfgi(0x10);
	cr_assert_eq(rig_cfg_of(&rig, 1), STE_CFG_ABORT);
	cr_assert_eq(rig_stats(&rig).ste_errors, 1);
	cr_assert_eq(rig_stats(&rig).nested_allocs, 0);
	expect_event(EVT_ID_C_BAD_STE, 0x10, NULL);
}

Test(vsmmu_ste, cd_outside_ram_is_f_cd_fetch)
{
	u64 evt[4];

	rig_ste(&rig, 0x8, rig_ste_cfg(STE_CFG_BYPASS), 0);
	enable();
	/* Below RAM. */
	rig_ste(&rig, 0x8, rig_ste_s1(0x1000), 0);
	cfgi(0x8);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_ABORT);
	expect_event(EVT_ID_F_CD_FETCH, 0x8, evt);
	cr_assert_eq(evt[3], 0x1000, "the fetch address");
	/* Just past the end of RAM (S1ContextPtr is 64-byte aligned: a CD is in RAM or not at all). */
	rig_ste(&rig, 0x8, rig_ste_s1(RIG_RAM + RIG_RAM_SIZE), 0);
	cfgi(0x8);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_ABORT);
	expect_event(EVT_ID_F_CD_FETCH, 0x8, evt);
	cr_assert_eq(evt[3], RIG_RAM + RIG_RAM_SIZE);
	/* The last 64 bytes of RAM are fine. */
	rig_ste(&rig, 0x8, rig_ste_s1(RIG_RAM + RIG_RAM_SIZE - 64), 0);
	cfgi(0x8);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_S1_TRANS);
	expect_no_event();
	cr_assert_eq(rig_stats(&rig).ste_errors, 2);
}

Test(vsmmu_ste, a_broken_ste_is_reported_only_after_cfgi)
{
	rig_ste(&rig, 0x8, rig_ste_cfg(STE_CFG_S2_TRANS), 0);
	rig_ste(&rig, 0x10, rig_ste_s1(0x1000), 0);
	/* SMMUEN 0 -> 1: the guest may not have written every STE yet; abort, but no error, no event. */
	enable();
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_ABORT);
	cr_assert_eq(rig_cfg_of(&rig, 1), STE_CFG_ABORT);
	cr_assert_eq(rig_stats(&rig).ste_errors, 0);
	expect_no_event();
	/* CFGI says it is ready: now it is an error. */
	cfgi(0x8);
	expect_event(EVT_ID_C_BAD_STE, 0x8, NULL);
	cfgi(0x10);
	expect_event(EVT_ID_F_CD_FETCH, 0x10, NULL);
	cr_assert_eq(rig_stats(&rig).ste_errors, 2);
}

/* ---- the host says no ---- */

Test(vsmmu_ste, host_refusing_the_vste_aborts_the_stream)
{
	enable();
	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(0)), 0);
	rig.fi.fail_hwpt_alloc = -EIO;
	cfgi(0x8);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_ABORT);
	cr_assert_eq(rig_stats(&rig).ste_errors, 1);
	cr_assert_eq(rig_stats(&rig).nested_allocs, 0);
	expect_event(EVT_ID_C_BAD_STE, 0x8, NULL);
	rig_check(&rig);
	/* Asked again, the host accepts. */
	cfgi(0x8);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_S1_TRANS);
	rig_check(&rig);
}

/* ---- linear tables ---- */

Test(vsmmu_ste, linear_table_errors)
{
	u64 evt[4];

	for (unsigned int i = 0; i < 4; i++)
		rig_ste(&rig, rig_vsid(i), rig_ste_s1(rig_cd(i)), 0);
	/* Outside RAM: every stream aborts; after CFGI, F_STE_FETCH with the STE's address. */
	rig_wr64(&rig, ARM_SMMU_STRTAB_BASE, 0x1000);
	enable();
	for (unsigned int i = 0; i < 4; i++)
		cr_assert_eq(rig_cfg_of(&rig, i), STE_CFG_ABORT);
	cfgi(0x10);
	expect_event(EVT_ID_F_STE_FETCH, 0x10, evt);
	cr_assert_eq(evt[3], 0x1000 + 0x10 * STRTAB_STE_SIZE);
	disable();

	/* Across the end of RAM: the STEs inside work, the first one outside does not. */
	u64 base = RIG_RAM + RIG_RAM_SIZE - 0x10 * STRTAB_STE_SIZE;
	rig_ste_at(&rig, base + 0x8 * STRTAB_STE_SIZE, rig_ste_s1(rig_cd(0)), 0);
	rig_wr64(&rig, ARM_SMMU_STRTAB_BASE, base);
	enable();
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_S1_TRANS);
	cr_assert_eq(rig_cfg_of(&rig, 1), STE_CFG_ABORT);
	disable();

	/* LOG2SIZE 3 (8 STEs): StreamID 0x8 and up are beyond the table: C_BAD_STREAMID. */
	rig_wr64(&rig, ARM_SMMU_STRTAB_BASE, RIG_STRTAB);
	rig_wr32(&rig, ARM_SMMU_STRTAB_BASE_CFG, 3);
	enable();
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_ABORT);
	cfgi(0x8);
	expect_event(EVT_ID_BAD_STREAMID, 0x8, NULL);
	/* CR2.RECINVSID = 0: the stream still aborts, but no C_BAD_STREAMID is recorded. */
	rig_wr32(&rig, ARM_SMMU_CR2, 0);
	cfgi(0x8);
	cr_assert_eq(rig_events(&rig, NULL, 0), 0, "no record without RECINVSID");
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_ABORT);
	disable();
	/* LOG2SIZE 5 (32 STEs): 0x8..0x18 in, 0x20 out. */
	rig_wr32(&rig, ARM_SMMU_STRTAB_BASE_CFG, 5);
	enable();
	cr_assert_eq(rig_cfg_of(&rig, 2), STE_CFG_S1_TRANS);
	cr_assert_eq(rig_cfg_of(&rig, 3), STE_CFG_ABORT);
	disable();
	/* LOG2SIZE beyond SIDSIZE is capped, not an error. */
	rig_wr32(&rig, ARM_SMMU_STRTAB_BASE_CFG, 0x3f);
	enable();
	for (unsigned int i = 0; i < 4; i++)
		cr_assert_eq(rig_cfg_of(&rig, i), STE_CFG_S1_TRANS);
	disable();
	/* Reserved FMT values. */
	for (u32 fmt = 2; fmt <= 3; fmt++) {
		rig_wr32(&rig, ARM_SMMU_STRTAB_BASE_CFG,
			 (u32)(FIELD_PREP(STRTAB_BASE_CFG_FMT, fmt) | FIELD_PREP(STRTAB_BASE_CFG_LOG2SIZE, 8)));
		enable();
		for (unsigned int i = 0; i < 4; i++)
			cr_assert_eq(rig_cfg_of(&rig, i), STE_CFG_ABORT, "FMT %u", fmt);
		disable();
	}
	rig_check(&rig);
}

Test(vsmmu_ste, stream_table_base_is_locked_while_enabled)
{
	u64 other = RIG_SCRATCH + 0x10000;

	rig_ste(&rig, 0x8, rig_ste_cfg(STE_CFG_BYPASS), 0);
	rig_ste_at(&rig, other + 0x8 * STRTAB_STE_SIZE, rig_ste_s1(rig_cd(0)), 0);
	enable();
	rig_wr64(&rig, ARM_SMMU_STRTAB_BASE, other);
	rig_wr32(&rig, ARM_SMMU_STRTAB_BASE_CFG, 3);
	cfgi_all();
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_BYPASS, "still the old table");
	disable();
	rig_wr64(&rig, ARM_SMMU_STRTAB_BASE, other);
	enable();
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_S1_TRANS);
}

/* ---- 2-level tables ---- */

static void two_level(u64 l1, unsigned int split, unsigned int log2size)
{
	rig_wr64(&rig, ARM_SMMU_STRTAB_BASE, l1);
	rig_wr32(&rig, ARM_SMMU_STRTAB_BASE_CFG,
		 (u32)(FIELD_PREP(STRTAB_BASE_CFG_FMT, STRTAB_BASE_CFG_FMT_2LVL) |
		       FIELD_PREP(STRTAB_BASE_CFG_SPLIT, split) | FIELD_PREP(STRTAB_BASE_CFG_LOG2SIZE, log2size)));
}

static void l1_desc(unsigned int i, u64 l2, unsigned int span)
{
	rig_put64(&rig, RIG_STRTAB + 8ULL * i, (l2 & STRTAB_L1_DESC_L2PTR) | FIELD_PREP(STRTAB_L1_DESC_SPAN, span));
}

/* Every stream's target with SMMUEN toggled on, then off again. */
static void expect_targets(const unsigned int *want, unsigned int n, const char *what)
{
	enable();
	for (unsigned int i = 0; i < n; i++)
		cr_assert_eq(rig_cfg_of(&rig, i), want[i], "%s: stream %u (StreamID 0x%x)", what, i, sid_of(i));
	disable();
}

Test(vsmmu_ste, two_level_split_8_and_span)
{
	static const unsigned int all_s1[4] = { STE_CFG_S1_TRANS, STE_CFG_S1_TRANS, STE_CFG_S1_TRANS, STE_CFG_S1_TRANS };
	static const unsigned int all_abort[4] = { STE_CFG_ABORT, STE_CFG_ABORT, STE_CFG_ABORT, STE_CFG_ABORT };
	static const unsigned int span4[4] = { STE_CFG_ABORT, STE_CFG_ABORT, STE_CFG_ABORT, STE_CFG_ABORT };
	static const unsigned int span5[4] = { STE_CFG_S1_TRANS, STE_CFG_ABORT, STE_CFG_ABORT, STE_CFG_ABORT };
	static const unsigned int span6[4] = { STE_CFG_S1_TRANS, STE_CFG_S1_TRANS, STE_CFG_S1_TRANS, STE_CFG_ABORT };

	memset(rig_ptr(&rig, RIG_STRTAB, 0x10000), 0, 0x10000);
	for (unsigned int i = 0; i < 4; i++)
		rig_ste_at(&rig, RIG_L2 + (u64)rig_vsid(i) * STRTAB_STE_SIZE, rig_ste_s1(rig_cd(i)), 0);
	/* As Linux sets it up: SPLIT 8, LOG2SIZE = SIDSIZE, L1[0] -> 256 STEs (SPAN 9). */
	two_level(RIG_STRTAB, 8, 16);
	l1_desc(0, RIG_L2, 9);
	expect_targets(all_s1, 4, "SPAN 9");
	for (unsigned int i = 0; i < 4; i++) {
		enable();
		cr_assert_eq(rig_hwpt(&rig, i)->ste[0] & STE_0_S1CTXPTR, rig_cd(i));
		disable();
	}
	/* SPAN n covers 2^(n-1) STEs: index 0x8 needs SPAN 5, 0x18 needs SPAN 6, 0x20 needs SPAN 7. */
	l1_desc(0, RIG_L2, 4);
	expect_targets(span4, 4, "SPAN 4");
	l1_desc(0, RIG_L2, 5);
	expect_targets(span5, 4, "SPAN 5");
	l1_desc(0, RIG_L2, 6);
	expect_targets(span6, 4, "SPAN 6");
	l1_desc(0, RIG_L2, 7);
	expect_targets(all_s1, 4, "SPAN 7");
	/* SPAN 0: no level-2 table; above SPLIT + 1: reserved. */
	l1_desc(0, RIG_L2, 0);
	expect_targets(all_abort, 4, "SPAN 0");
	l1_desc(0, RIG_L2, 10);
	expect_targets(all_abort, 4, "SPAN 10");
	l1_desc(0, RIG_L2, 31);
	expect_targets(all_abort, 4, "SPAN 31");
	/* The index beyond the SPAN is C_BAD_STREAMID once the guest says the STE is ready. */
	l1_desc(0, RIG_L2, 5);
	enable();
	cfgi(0x10);
	expect_event(EVT_ID_BAD_STREAMID, 0x10, NULL);
	disable();
	rig_check(&rig);
}

Test(vsmmu_ste, two_level_tables_outside_ram)
{
	static const unsigned int all_abort[4] = { STE_CFG_ABORT, STE_CFG_ABORT, STE_CFG_ABORT, STE_CFG_ABORT };
	u64 evt[4];

	/* The level-1 table outside RAM: F_STE_FETCH at the descriptor's address. */
	two_level(0x2000, 8, 16);
	expect_targets(all_abort, 4, "L1 outside RAM");
	enable();
	cfgi(0x18);
	expect_event(EVT_ID_F_STE_FETCH, 0x18, evt);
	cr_assert_eq(evt[3], 0x2000);
	disable();
	/* The level-2 table outside RAM: F_STE_FETCH at the STE's address. */
	two_level(RIG_STRTAB, 8, 16);
	l1_desc(0, 0x40000000000ULL, 9);
	expect_targets(all_abort, 4, "L2 outside RAM");
	enable();
	cfgi(0x18);
	expect_event(EVT_ID_F_STE_FETCH, 0x18, evt);
	cr_assert_eq(evt[3], 0x40000000000ULL + 0x18 * STRTAB_STE_SIZE);
	disable();
	/* A level-2 table that ends past RAM: the STEs inside it work. */
	u64 l2 = RIG_RAM + RIG_RAM_SIZE - 0x10 * STRTAB_STE_SIZE;
	rig_ste_at(&rig, l2 + 0x8 * STRTAB_STE_SIZE, rig_ste_cfg(STE_CFG_BYPASS), 0);
	l1_desc(0, l2, 9);
	static const unsigned int edge[4] = { STE_CFG_BYPASS, STE_CFG_ABORT, STE_CFG_ABORT, STE_CFG_ABORT };
	expect_targets(edge, 4, "L2 across the end of RAM");
	rig_check(&rig);
}

Test(vsmmu_ste_2lvl, split_6_and_10_and_reserved)
{
	static const unsigned int both_s1[2] = { STE_CFG_S1_TRANS, STE_CFG_S1_TRANS };
	static const unsigned int both_abort[2] = { STE_CFG_ABORT, STE_CFG_ABORT };
	static const unsigned int first[2] = { STE_CFG_S1_TRANS, STE_CFG_ABORT };
	u64 l2a = RIG_L2, l2b = RIG_L2 + 0x10000;

	/* SPLIT 6: 64 STEs per level-2 table; 0x8 is L1[0] index 8, 0x148 is L1[5] index 8. */
	memset(rig_ptr(&rig, RIG_STRTAB, 0x10000), 0, 0x10000);
	rig_ste_at(&rig, l2a + 8 * STRTAB_STE_SIZE, rig_ste_s1(rig_cd(0)), 0);
	rig_ste_at(&rig, l2b + 8 * STRTAB_STE_SIZE, rig_ste_s1(rig_cd(1)), 0);
	two_level(RIG_STRTAB, 6, 16);
	l1_desc(0, l2a, 7);
	expect_targets(first, 2, "SPLIT 6, L1[5] empty");
	l1_desc(5, l2b, 7);
	expect_targets(both_s1, 2, "SPLIT 6");
	enable();
	cr_assert_eq(rig_hwpt(&rig, 1)->ste[0] & STE_0_S1CTXPTR, rig_cd(1), "0x148 from L1[5]'s table");
	disable();
	/* SPAN 8 is above SPLIT 6 + 1: reserved. */
	l1_desc(5, l2b, 8);
	expect_targets(first, 2, "SPLIT 6, SPAN 8");
	/* LOG2SIZE 8 puts 0x148 beyond the table. */
	l1_desc(5, l2b, 7);
	two_level(RIG_STRTAB, 6, 8);
	expect_targets(first, 2, "LOG2SIZE 8");

	/* SPLIT 10: 1024 STEs per table, both StreamIDs in L1[0]'s (up to SPAN 11). */
	memset(rig_ptr(&rig, RIG_STRTAB, 0x10000), 0, 0x10000);
	rig_ste_at(&rig, l2a + 0x148 * STRTAB_STE_SIZE, rig_ste_s1(rig_cd(1)), 0);
	two_level(RIG_STRTAB, 10, 16);
	l1_desc(0, l2a, 11);
	expect_targets(both_s1, 2, "SPLIT 10");
	l1_desc(0, l2a, 9);
	expect_targets(first, 2, "SPLIT 10, SPAN 9 (256 STEs)");
	l1_desc(0, l2a, 12);
	expect_targets(both_abort, 2, "SPLIT 10, SPAN 12");

	/* Reserved SPLIT values. */
	l1_desc(0, l2a, 11);
	for (unsigned int split = 0; split < 32; split++) {
		if (split == 6 || split == 8 || split == 10)
			continue;
		two_level(RIG_STRTAB, split, 16);
		expect_targets(both_abort, 2, "reserved SPLIT");
	}
	rig_check(&rig);
}
