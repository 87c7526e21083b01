/* test_vsmmu_host_fail.c: the vSMMU when the host fails or differs from the lab's (issue 20, parts 1 to 4), on
 * the fakes, which fail the way Linux 7.3 does (fake_iommufd.h, enum fake_inv_fail):
 *   - a command the kernel refuses (-EIO, entry_num k) is CERROR_ILL at its queue index, and only after the
 *     commands before it, which the kernel checked but issues only in blocks of 63, were issued again;
 *   - any other failure (-ENOMEM before the count is touched, an early -EINVAL, a CMD_SYNC timeout while
 *     issuing a block) is CERROR_ABT at the batch's first command: nothing is taken as done, the guest's
 *     retry (GERRORN) runs the batch again; a failure that persists ends in service failure;
 *   - a host with the REPEAT_TLBI_CFGI erratum gets every batch twice;
 *   - a host that can stall gets S1STALLD in every vSTE; one that forces stalls gets no vSMMU;
 *   - a stream whose new HWPT the host refuses moves to abort (fail closed) with C_BAD_STE; if even the
 *     abort HWPT is refused, it is detached (blocked) until the guest's next CFGI; if that fails too, the
 *     vSMMU enters service failure (GERROR.SFM_ERR, every stream aborting, for good). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include "iommu/vsmmu_internal.h"
#include "tests/unit/vsmmu_rig.h"

static struct vsmmu_rig rig;

/* Three devices in bypass through their STEs, SMMUEN, a queue of 2^7 entries (room for two kernel blocks). */
static void enable(void)
{
	rig_bypass_up(&rig, 7);
}

static void setup(void)
{
	cr_redirect_stderr();
	rig_up(&rig, 3);
	enable();
}

static void teardown(void)
{
	rig_fini(&rig);
}

TestSuite(vsmmu_host_fail, .init = setup, .fini = teardown);
TestSuite(vsmmu_host_kind, .fini = teardown);

static void assert_stopped_at(u32 qptr, u32 err)
{
	u32 cons = rig_cons(&rig);

	cr_assert_eq(cons & ((2u << rig.cmdq_log2) - 1), qptr, "CONS 0x%x, expected to stop at 0x%x", cons, qptr);
	cr_assert_eq(rig_cons_err(cons), err, "CONS.ERR %u, expected %u", rig_cons_err(cons), err);
	cr_assert(rig_gerror_active(&rig, GERROR_CMDQ_ERR));
}

/* How many times the fake issued command c. */
static unsigned int issued(struct rig_cmd c)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < rig.fi.nr_inv_cmd && i < FAKE_IOMMUFD_MAX_INV_CMDS; i++)
		n += rig.fi.inv_cmd[i][0] == c.w[0] && rig.fi.inv_cmd[i][1] == c.w[1];
	return n;
}

static struct rig_cmd tlbi(unsigned int i)
{
	return rig_cmd_tlbi_va(2, 0x10000ULL * (i + 1), true);
}

/* Push n TLBIs and a CMD_SYNC with an MSI into guest RAM; returns the MSI's address. */
static u64 push_batch(unsigned int n)
{
	u64 msi = RIG_SCRATCH + 0x10;

	rig_put64(&rig, msi, 0);
	for (unsigned int i = 0; i < n; i++)
		(void)rig_push(&rig, tlbi(i));
	(void)rig_push(&rig, rig_cmd_sync(CMDQ_SYNC_CS_IRQ, msi, 0x42));
	return msi;
}

/* ---- part 1: what each kernel failure means to the guest ---- */

Test(vsmmu_host_fail, a_refused_command_is_illegal_only_after_the_ones_before_it_were_issued)
{
	struct vsmmu_stats st;
	u64 msi = push_batch(5);

	/* The kernel refuses command 3: it had checked 0..2 but issues a block only when it is full (63) or at
	 * the end, so none of them reached the host queue. */
	rig.fi.fail_invalidate = -EIO;
	rig.fi.fail_invalidate_where = FAKE_INV_FAIL_REFUSE;
	rig.fi.fail_invalidate_at = 3;
	rig_kick(&rig);
	assert_stopped_at(3, CMDQ_ERR_CERROR_ILL);
	cr_assert_eq(rig.fi.inv_num_in[0], 5, "all five went in one ioctl");
	cr_assert_eq(rig.fi.inv_calls, 2, "the three before it were issued again");
	cr_assert_eq(rig.fi.inv_num_in[1], 3);
	for (unsigned int i = 0; i < 3; i++)
		cr_assert_eq(issued(tlbi(i)), 1, "TLBI %u issued once", i);
	cr_assert_eq(issued(tlbi(3)), 0);
	cr_assert_eq(issued(tlbi(4)), 0);
	cr_assert_eq(rig_get64(&rig, msi), 0, "the CMD_SYNC behind the refusal did not complete");
	st = rig_stats(&rig);
	cr_assert_eq(st.inv_cmds, 3);
	cr_assert_eq(st.inv_reissued, 3);
	cr_assert_eq(st.cmd_errors, 1);

	/* The guest skips it as Linux does (a CMD_SYNC over it) and acknowledges: the rest goes. */
	rig_cmd_at(&rig, 3, rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0));
	rig_gerror_ack(&rig);
	cr_assert_not(rig_gerror_active(&rig, GERROR_CMDQ_ERR));
	cr_assert_eq(issued(tlbi(4)), 1);
	cr_assert_eq(rig_get32(&rig, msi), 0x42);
}

Test(vsmmu_host_fail, a_refusal_past_a_full_block_reissues_the_unissued_rest)
{
	/* 70 TLBIs, command 65 refused: the kernel issued block 0..62; 63 and 64 were checked, never issued. */
	(void)push_batch(70);
	rig.fi.fail_invalidate = -EIO;
	rig.fi.fail_invalidate_where = FAKE_INV_FAIL_REFUSE;
	rig.fi.fail_invalidate_at = 65;
	rig_kick(&rig);
	assert_stopped_at(65, CMDQ_ERR_CERROR_ILL);
	for (unsigned int i = 0; i < 65; i++)
		cr_assert_geq(issued(tlbi(i)), 1, "TLBI %u before the refused one was issued", i);
	cr_assert_eq(issued(tlbi(65)), 0);
}

Test(vsmmu_host_fail, enomem_before_the_count_is_touched_is_abt_with_nothing_done)
{
	struct vsmmu_stats st;
	u64 msi = push_batch(4);

	/* -ENOMEM from the driver's allocation: entry_num comes back as the count asked (4), none ran. */
	rig.fi.fail_invalidate = -ENOMEM;
	rig.fi.fail_invalidate_where = FAKE_INV_FAIL_ALLOC;
	rig_kick(&rig);
	assert_stopped_at(0, CMDQ_ERR_CERROR_ABT);
	cr_assert_eq(rig.fi.nr_inv_cmd, 0);
	st = rig_stats(&rig);
	cr_assert_eq(st.inv_cmds, 0, "no command counted as done");
	cr_assert_eq(st.inv_host_errors, 1);
	cr_assert_eq(rig_get64(&rig, msi), 0);
	/* Linux retries after CERROR_ABT: it acknowledges, the queue runs the batch again, and it goes. */
	rig_gerror_ack(&rig);
	for (unsigned int i = 0; i < 4; i++)
		cr_assert_eq(issued(tlbi(i)), 1);
	cr_assert_eq(rig_get32(&rig, msi), 0x42);
	cr_assert_eq(rig_stats(&rig).inv_cmds, 4);
}

Test(vsmmu_host_fail, an_early_failure_and_a_sync_timeout_are_abt_and_retried)
{
	u64 msi;

	/* -EINVAL in the core (entry_num 0): not a refusal of command 0. */
	msi = push_batch(3);
	rig.fi.fail_invalidate = -EINVAL;
	rig_kick(&rig);
	assert_stopped_at(0, CMDQ_ERR_CERROR_ABT);
	rig_gerror_ack(&rig);
	cr_assert_eq(rig_get32(&rig, msi), 0x42);

	/* A CMD_SYNC timeout while the kernel issues the second block of 70: the first block did run, which is
	 * not known to ivmm; the whole batch is retried (invalidations are idempotent). */
	msi = push_batch(70);
	rig.fi.fail_invalidate = -ETIMEDOUT;
	rig.fi.fail_invalidate_where = FAKE_INV_FAIL_ISSUE;
	rig.fi.fail_invalidate_at = 66;
	rig_kick(&rig);
	assert_stopped_at(4, CMDQ_ERR_CERROR_ABT);
	cr_assert_eq(issued(tlbi(69)), 0);
	rig_gerror_ack(&rig);
	cr_assert_geq(issued(tlbi(69)), 1);
	cr_assert_eq(rig_get32(&rig, msi), 0x42);
}

Test(vsmmu_host_fail, a_persistent_host_failure_ends_in_service_failure)
{
	u32 start;
	u64 msi;

	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(0)), 0);
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_ste(0x8) }, 1);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_S1_TRANS);
	start = rig.prod;
	msi = push_batch(2);
	rig.fi.fail_invalidate = -ETIMEDOUT;
	rig.fi.fail_invalidate_n = 1000;
	rig_kick(&rig);
	for (unsigned int i = 1; i < VSMMU_INV_FAIL_LIMIT; i++) {
		cr_assert_eq(rig_stats(&rig).sfm, 0, "not yet after %u failures", i);
		assert_stopped_at(start, CMDQ_ERR_CERROR_ABT);
		rig_gerror_ack(&rig);
	}
	assert_stopped_at(start, CMDQ_ERR_CERROR_ABT);
	cr_assert_eq(rig_stats(&rig).inv_host_errors, VSMMU_INV_FAIL_LIMIT);
	cr_assert_eq(rig_stats(&rig).sfm, 1);
	cr_assert(rig_gerror_active(&rig, GERROR_SFM_ERR));
	for (unsigned int i = 0; i < rig.ndev; i++)
		cr_assert_eq(rig_cfg_of(&rig, i), STE_CFG_ABORT, "stream %u aborts", i);
	/* No endless retry: the guest's retry completes (nothing translates any more), the SYNC with it. */
	rig_gerror_ack(&rig);
	cr_assert_not(rig_gerror_active(&rig, GERROR_CMDQ_ERR));
	cr_assert_eq(rig_get32(&rig, msi), 0x42);
	/* For good: neither an STE nor SMMUEN=0 with GBPA bypass gives a device its access back. */
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_ste(0x8) }, 1);
	rig_cr0(&rig, CR0_CMDQEN);
	for (unsigned int i = 0; i < rig.ndev; i++)
		cr_assert_eq(rig_cfg_of(&rig, i), STE_CFG_ABORT);
	rig_check(&rig);
}

/* ---- part 4: fail closed ---- */

Test(vsmmu_host_fail, a_refused_attach_moves_the_stream_to_abort)
{
	u64 evt[4];
	u32 s1;

	/* Bypass (full guest-physical DMA) -> stage 1, the attach refused: abort, not bypass. */
	rig_evtq(&rig, 4);
	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(0)), 0);
	rig.fv[0].fail_attach = -EBUSY;
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_ste(0x8) }, 1);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_ABORT);
	cr_assert_eq(rig_live(&rig, IOMMUFD_OBJ_HWPT_NESTED), 2, "the HWPT made for it is gone");
	cr_assert_eq(rig_stats(&rig).attach_failures, 1);
	cr_assert_eq(rig_events(&rig, &evt, 1), 1);
	cr_assert_eq(FIELD_GET(EVTQ_0_ID, evt[0]), EVT_ID_C_BAD_STE);
	cr_assert_eq(FIELD_GET(EVTQ_0_SID, evt[0]), 0x8);
	rig_check(&rig);
	/* Asked again, the host accepts. */
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_ste(0x8) }, 1);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_S1_TRANS);
	s1 = rig.fv[0].attached_pt;
	/* Stage 1 -> bypass refused: abort, and the stage-1 HWPT goes. */
	rig_ste(&rig, 0x8, rig_ste_cfg(STE_CFG_BYPASS), 0);
	rig.fv[0].fail_attach = -EIO;
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_ste(0x8) }, 1);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_ABORT);
	cr_assert_not(rig.fi.objs[s1].live);
	cr_assert_eq(rig_stats(&rig).sfm, 0);
	rig_check(&rig);
}

Test(vsmmu_host_fail, a_refused_abort_blocks_the_stream_and_the_next_cfgi_tries_again)
{
	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(0)), 0);
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_ste(0x8) }, 1);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_S1_TRANS);
	/* The stage-1 attach and the abort attach after it both refused (a host resetting the device refuses
	 * every replace for a moment): the device is detached, its DMA blocked, no service failure. */
	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(2)), 0);
	rig.fv[0].fail_attach = -EBUSY;
	rig.fv[0].fail_attach_n = 2;
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_ste(0x8) }, 1);
	cr_assert_eq(rig.fv[0].attached_pt, 0, "blocked: detached");
	cr_assert_eq(rig_stats(&rig).blocked, 1);
	cr_assert_eq(rig_stats(&rig).sfm, 0);
	cr_assert_not(rig_gerror_active(&rig, GERROR_SFM_ERR));
	cr_assert_eq(rig_live(&rig, IOMMUFD_OBJ_HWPT_NESTED), 2, "only abort and bypass are left");
	rig_check(&rig);
	/* The guest's next CFGI: the host takes it now. */
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_ste(0x8) }, 1);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_S1_TRANS);
	rig_check(&rig);
}

Test(vsmmu_host_fail, a_stream_that_cannot_be_contained_is_service_failure)
{
	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(0)), 0);
	rig_ste(&rig, 0x10, rig_ste_s1(rig_cd(1)), 0);
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_all() }, 1);
	cr_assert_eq(rig_cfg_of(&rig, 1), STE_CFG_S1_TRANS);
	/* Neither the new HWPT, nor abort, nor a detach: the vSMMU gives up on every stream. */
	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(2)), 0);
	rig.fv[0].fail_attach = -EBUSY;
	rig.fv[0].fail_attach_n = 3;
	rig.fv[0].fail_detach = -EIO;
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_ste(0x8) }, 1);
	cr_assert_eq(rig_stats(&rig).sfm, 1);
	cr_assert(rig_gerror_active(&rig, GERROR_SFM_ERR));
	cr_assert_eq(rig_cfg_of(&rig, 1), STE_CFG_ABORT);
	cr_assert_eq(rig_cfg_of(&rig, 2), STE_CFG_ABORT);
	/* Device 0's third attach (the service failure's abort) was refused too; it is detached now. */
	cr_assert_eq(rig.fv[0].attached_pt, 0);
	rig_check(&rig);
}

/* ---- parts 2 and 3: hosts unlike the lab's ---- */

Test(vsmmu_host_kind, an_erratum_host_gets_every_batch_twice)
{
	struct vsmmu_stats st;
	u64 msi;

	cr_redirect_stderr();
	rig_init(&rig, 3);
	rig.fi.hw_info.smmu.flags = IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI;
	cr_assert_eq(rig_create(&rig), 0);
	enable();
	msi = push_batch(3);
	rig_kick(&rig);
	cr_assert_eq(rig.fi.inv_calls, 2);
	cr_assert_eq(rig.fi.inv_num_in[0], 3);
	cr_assert_eq(rig.fi.inv_num_in[1], 3);
	for (unsigned int i = 0; i < 3; i++)
		cr_assert_eq(issued(tlbi(i)), 2, "TLBI %u issued twice", i);
	cr_assert_eq(rig_get32(&rig, msi), 0x42, "the CMD_SYNC completes after the second issue");
	st = rig_stats(&rig);
	cr_assert_eq(st.inv_repeats, 1);
	cr_assert_eq(st.inv_ioctls, 2);
	cr_assert_eq(st.inv_cmds, 3);
}

static void create_with_stall_model(u32 model)
{
	cr_redirect_stderr();
	rig_init(&rig, 1);
	rig.fi.hw_info.smmu.idr[0] = (rig.fi.hw_info.smmu.idr[0] & ~(u32)IDR0_STALL_MODEL) |
				     (u32)FIELD_PREP(IDR0_STALL_MODEL, model);
}

Test(vsmmu_host_kind, a_stall_capable_host_gets_s1stalld)
{
	create_with_stall_model(IDR0_STALL_MODEL_STALL);
	cr_assert_eq(rig_create(&rig), 0);
	cr_assert_eq(FIELD_GET(IDR0_STALL_MODEL, rig_rd32(&rig, ARM_SMMU_IDR0)), IDR0_STALL_MODEL_NONE,
		     "the guest is told there is no stall");
	enable();
	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(0)), 0);
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_ste(0x8) }, 1);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_S1_TRANS);
	cr_assert(rig_hwpt(&rig, 0)->ste[1] & STE_1_S1STALLD, "faults terminate instead of stalling");
}

Test(vsmmu_host_kind, a_host_without_stall_gets_no_s1stalld)
{
	create_with_stall_model(IDR0_STALL_MODEL_NONE);
	cr_assert_eq(rig_create(&rig), 0);
	enable();
	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(0)), 0);
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_ste(0x8) }, 1);
	cr_assert_not(rig_hwpt(&rig, 0)->ste[1] & STE_1_S1STALLD);
}

Test(vsmmu_host_kind, a_forced_stall_host_gets_no_vsmmu)
{
	create_with_stall_model(IDR0_STALL_MODEL_FORCE);
	cr_assert_eq(rig_create(&rig), -EOPNOTSUPP);
	cr_assert_eq(rig_live(&rig, IOMMUFD_OBJ_VIOMMU), 0);
}

/* ---- part 5: a vSTE the host refuses while SMMUEN or GBPA change ---- */

Test(vsmmu_host_fail, a_vste_refused_at_smmuen_aborts_silently_until_the_guest_asks)
{
	/* docs/vsmmu.md: at SMMUEN 0 -> 1 no event is raised for a broken STE (the guest may not have filled
	 * the tables of devices it has not probed), and that holds for one the host refuses: the stream aborts,
	 * silently; the CFGI that says the STE is ready is what reports (or, now accepted, translates). */
	rig_cr0(&rig, CR0_CMDQEN);
	rig_evtq(&rig, 4);
	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(0)), 0);
	rig.fi.fail_hwpt_alloc = -EIO;
	rig_cr0(&rig, CR0_SMMUEN | CR0_CMDQEN | CR0_EVTQEN);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_ABORT, "refused: aborts, never keeps bypass");
	cr_assert_eq(rig_events(&rig, NULL, 0), 0, "no event at SMMUEN");
	cr_assert_eq(rig_stats(&rig).ste_errors, 1);
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_ste(0x8) }, 1);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_S1_TRANS);
	/* Refused again at a CFGI: now C_BAD_STE. */
	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(1)), 0);
	rig.fi.fail_hwpt_alloc = -EIO;
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_ste(0x8) }, 1);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_ABORT);
	cr_assert_eq(rig_events(&rig, NULL, 0), 1, "C_BAD_STE after the CFGI");
	rig_check(&rig);
}
