/* test_vsmmu_cmdq.c: the vSMMU's command queue (iommu/vsmmu_cmdq.c) driven as a guest driver does (commands
 * written into guest RAM, CMDQ_PROD published through MMIO): the queue index/wrap arithmetic
 * (vsmmu_q_* in vsmmu_internal.h) and a queue that wraps and fills; every command: CFGI_STE,
 * CFGI_STE_RANGE, CFGI_ALL, CFGI_CD and CFGI_CD_ALL (dropped when no device has the StreamID),
 * TLBI_NH_ASID/VA/VAA/ALL and TLBI_NSNH_ALL (handed to the kernel as the guest wrote them), PREFETCH_*
 * (no-ops), CMD_SYNC with CS = NONE / SEV / IRQ (MSI into guest RAM, MSI to the vITS doorbell, the wired
 * cmdq-sync SPI, an MSI that aborts); illegal commands (unknown opcodes, EL2/EL3/S2 TLBIs, ATC_INV, PRI,
 * stall, RES0 bits, CS=3, TLBI range encodings, and on a host without ASID16/RIL the upper ASID bits and the
 * range fields) stopping the queue with CERROR_ILL at their exact index and GERROR.CMDQ_ERR, resumed by
 * GERRORN once the guest fixed them; a queue outside RAM (CERROR_ABT); batching (N invalidations + CMD_SYNC
 * = one IOMMU_HWPT_INVALIDATE of N entries, split by CFGI_STE; kernel failures are in
 * test_vsmmu_host_fail.c); a LOG2SIZE beyond IDR1.CMDQS (capped) and a PROD far beyond the queue (one
 * pass, at most 2^LOG2SIZE commands per kick). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>
#include "iommu/vsmmu_internal.h"
#include "tests/unit/vsmmu_rig.h"

static struct vsmmu_rig rig;

/* Three devices (StreamIDs 0x8, 0x10, 0x18) in bypass through their STEs, SMMUEN and a 16-entry queue. */
static void enable(void)
{
	rig_bypass_up(&rig, 4);
}

static void setup(void)
{
	cr_redirect_stderr();
	rig_up(&rig, 3);
	enable();
}

/* The same on a host SMMU without ASID16 and RIL. */
static void setup_small_host(void)
{
	cr_redirect_stderr();
	rig_init(&rig, 3);
	rig.fi.hw_info.smmu.idr[0] &= ~(u32)IDR0_ASID16;
	rig.fi.hw_info.smmu.idr[3] &= ~(u32)IDR3_RIL;
	cr_assert_eq(rig_create(&rig), 0);
	enable();
}

static void teardown(void)
{
	rig_fini(&rig);
}

TestSuite(vsmmu_q);
TestSuite(vsmmu_cmdq, .init = setup, .fini = teardown);
TestSuite(vsmmu_cmdq_small_host, .init = setup_small_host, .fini = teardown);

/* CMDQ_CONS's pointer (index + wrap) for the current queue. */
static u32 cons_ptr(void)
{
	return rig_cons(&rig) & ((2u << rig.cmdq_log2) - 1);
}

static void assert_stopped_at(u32 qptr, u32 err)
{
	u32 cons = rig_cons(&rig);

	cr_assert_eq(cons & ((2u << rig.cmdq_log2) - 1), qptr, "CONS 0x%x, expected to stop at 0x%x", cons, qptr);
	cr_assert_eq(rig_cons_err(cons), err, "CONS.ERR %u, expected %u", rig_cons_err(cons), err);
	cr_assert(rig_gerror_active(&rig, GERROR_CMDQ_ERR));
}

/* A fresh queue of 2^log2 entries, any pending command error acknowledged. */
static void reset_queue(unsigned int log2)
{
	rig_cr0(&rig, rig_rd32(&rig, ARM_SMMU_CR0) & ~CR0_CMDQEN);
	rig_gerror_ack(&rig);
	rig_cmdq(&rig, log2);
}

static void assert_inv(unsigned int first, const struct rig_cmd *want, unsigned int n)
{
	cr_assert_geq(rig.fi.nr_inv_cmd, first + n);
	for (unsigned int i = 0; i < n; i++) {
		cr_assert_eq(rig.fi.inv_cmd[first + i][0], want[i].w[0], "command %u dword 0: 0x%llx", first + i,
			     (unsigned long long)rig.fi.inv_cmd[first + i][0]);
		cr_assert_eq(rig.fi.inv_cmd[first + i][1], want[i].w[1], "command %u dword 1", first + i);
	}
}

/* Command builders on top of the rig's. */
static struct rig_cmd op_sid(u8 op, u32 sid)
{
	return (struct rig_cmd){ { FIELD_PREP(CMDQ_0_OP, op) | FIELD_PREP(CMDQ_CFGI_0_SID, sid), 0 } };
}

static struct rig_cmd with(struct rig_cmd c, u64 w0, u64 w1)
{
	c.w[0] |= w0;
	c.w[1] |= w1;
	return c;
}

/* Index in the fake's call log of the first entry at or after from starting with prefix, or -1. */
static int log_find_from(unsigned int from, const char *prefix)
{
	for (unsigned int i = from; i < rig.fi.nr_log && i < FAKE_IOMMUFD_MAX_LOG; i++)
		if (!strncmp(rig.fi.log[i], prefix, strlen(prefix)))
			return (int)i;
	return -1;
}

/* ---- queue arithmetic ---- */

Test(vsmmu_q, index_wrap_and_pointer)
{
	cr_assert_eq(vsmmu_q_idx(0x1234, 4), 0x4);
	cr_assert_eq(vsmmu_q_wrp(0x1234, 4), 0x10);
	cr_assert_eq(vsmmu_q_ptr(0x1234, 4), 0x14);
	cr_assert_eq(vsmmu_q_wrp(0x0f, 4), 0);
	cr_assert_eq(vsmmu_q_ptr(0xffffffff, 12), 0x1fff);
	cr_assert_eq(vsmmu_q_idx(0xffffffff, 0), 0);
	cr_assert_eq(vsmmu_q_wrp(0xffffffff, 0), 1);
	cr_assert_eq(vsmmu_q_ptr(0xffffffff, 0), 1);
}

Test(vsmmu_q, empty_full_and_increment)
{
	/* 8 entries: pointers 0..15, bit 3 is the wrap bit. */
	cr_assert(vsmmu_q_empty(0, 0, 3));
	cr_assert(vsmmu_q_empty(0x8 | 5, 0x8 | 5, 3));
	cr_assert(vsmmu_q_empty(0xf0 | 5, 5, 3), "bits above the wrap bit do not count");
	cr_assert_not(vsmmu_q_empty(0x8, 0, 3));
	cr_assert(vsmmu_q_full(0x8, 0, 3));
	cr_assert(vsmmu_q_full(0x3, 0xb, 3));
	cr_assert_not(vsmmu_q_full(0x3, 0x3, 3));
	cr_assert_not(vsmmu_q_full(0x4, 0x3, 3));
	cr_assert_eq(vsmmu_q_inc(0x6, 3), 0x7);
	cr_assert_eq(vsmmu_q_inc(0x7, 3), 0x8, "index wraps to 0, the wrap bit toggles");
	cr_assert_eq(vsmmu_q_inc(0xf, 3), 0x0, "and toggles back");
	cr_assert_eq(vsmmu_q_inc(0x0, 0), 0x1);
	cr_assert_eq(vsmmu_q_inc(0x1, 0), 0x0);
	/* Walking 2 * 2^n steps returns to the start, through every pointer once. */
	u32 p = 0;
	unsigned int n = 0;

	do {
		cr_assert_lt(p, 16);
		p = vsmmu_q_inc(p, 3);
		n++;
	} while (p != 0 && n < 100);
	cr_assert_eq(n, 16);
}

Test(vsmmu_q, shift_is_capped)
{
	cr_assert_eq(vsmmu_q_shift(RIG_CMDQ | 4, VSMMU_CMDQS), 4);
	cr_assert_eq(vsmmu_q_shift(RIG_CMDQ | 12, VSMMU_CMDQS), 12);
	cr_assert_eq(vsmmu_q_shift(RIG_CMDQ | 13, VSMMU_CMDQS), 12);
	cr_assert_eq(vsmmu_q_shift(~0ULL, VSMMU_CMDQS), 12);
	cr_assert_eq(vsmmu_q_shift(RIG_CMDQ, VSMMU_CMDQS), 0);
}

/* ---- the queue itself ---- */

Test(vsmmu_cmdq, wraps_around_and_fills)
{
	struct rig_cmd va[7];

	for (unsigned int i = 0; i < 7; i++)
		va[i] = rig_cmd_tlbi_va(1, 0x1000ULL * (i + 1), true);
	rig_cmdq(&rig, 2); /* 4 entries */
	cr_assert_eq(rig_push(&rig, va[0]), 0);
	cr_assert_eq(rig_push(&rig, va[1]), 1);
	cr_assert_eq(rig_push(&rig, rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0)), 2);
	rig_kick(&rig);
	cr_assert_eq(rig_cons(&rig), 3);
	cr_assert_eq(rig.fi.inv_calls, 1);
	cr_assert_eq(rig.fi.inv_num_in[0], 2);
	assert_inv(0, va, 2);

	/* Index 3, then 0 and 1 with the wrap bit set. */
	cr_assert_eq(rig_push(&rig, va[2]), 3);
	cr_assert_eq(rig_push(&rig, va[3]), 0x4);
	cr_assert_eq(rig_push(&rig, rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0)), 0x5);
	rig_kick(&rig);
	cr_assert_eq(rig_cons(&rig), 0x6, "CONS = wrap | 2");
	cr_assert_eq(rig.fi.inv_calls, 2);
	cr_assert_eq(rig.fi.inv_num_in[1], 2);
	assert_inv(2, &va[2], 2);

	/* A full queue (PROD index = CONS index, wrap bits differ) is consumed whole. */
	(void)rig_push(&rig, va[4]);
	(void)rig_push(&rig, va[5]);
	(void)rig_push(&rig, va[6]);
	(void)rig_push(&rig, rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0));
	cr_assert(vsmmu_q_full(rig.prod, rig_cons(&rig), 2));
	rig_kick(&rig);
	cr_assert_eq(rig_cons(&rig), 0x2);
	cr_assert(vsmmu_q_empty(rig.prod, rig_cons(&rig), 2));
	cr_assert_eq(rig.fi.inv_calls, 3);
	cr_assert_eq(rig.fi.inv_num_in[2], 3);
	assert_inv(4, &va[4], 3);
	cr_assert_not(rig_gerror_active(&rig, GERROR_ERR_MASK));
	cr_assert_eq(rig_stats(&rig).cmds[CMDQ_OP_TLBI_NH_VA], 7);
	cr_assert_eq(rig_stats(&rig).cmds[CMDQ_OP_CMD_SYNC], 3);
}

Test(vsmmu_cmdq, nothing_runs_while_cmdqen_is_off)
{
	rig_cr0(&rig, CR0_SMMUEN);
	(void)rig_push(&rig, rig_cmd_tlbi_asid(3));
	rig_kick(&rig);
	cr_assert_eq(rig_cons(&rig), 0);
	cr_assert_eq(rig.fi.inv_calls, 0);
	/* CMDQEN 0 -> 1 consumes what was published meanwhile. */
	rig_cr0(&rig, CR0_SMMUEN | CR0_CMDQEN);
	cr_assert_eq(rig_cons(&rig), 1);
	cr_assert_eq(rig.fi.inv_calls, 1);
}

/* ---- every command ---- */

Test(vsmmu_cmdq, invalidations_reach_the_kernel_as_written)
{
	const struct rig_cmd cmds[] = {
		rig_cmd_tlbi_asid(0xbeef),
		rig_cmd_tlbi_va(0x1234, 0x0000ffffdead0000ULL, true),
		rig_cmd_tlbi_va(7, 0x40000000, false),
		rig_cmd_tlbi_vaa(0x7f0000001000ULL),
		/* VMID is IGNORED without stage 2; the kernel puts its own there. */
		with(rig_cmd_op(CMDQ_OP_TLBI_NH_ALL), FIELD_PREP(CMDQ_TLBI_0_VMID, 9), 0),
		rig_cmd_op(CMDQ_OP_TLBI_NSNH_ALL),
		rig_cmd_cfgi_cd(0x10),
		rig_cmd_cfgi_cd_all(0x18),
	};
	struct vsmmu_stats st;

	rig_submit(&rig, cmds, ARRAY_SIZE(cmds));
	(void)rig_push(&rig, rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0));
	rig_kick(&rig);
	cr_assert_eq(rig_cons(&rig), ARRAY_SIZE(cmds) + 1);
	/* The first kick ran to the end of the queue (one ioctl), the SYNC kick had nothing left to send. */
	cr_assert_eq(rig.fi.inv_calls, 1);
	cr_assert_eq(rig.fi.inv_num_in[0], ARRAY_SIZE(cmds));
	cr_assert_eq(rig.fi.nr_inv_cmd, ARRAY_SIZE(cmds));
	assert_inv(0, cmds, ARRAY_SIZE(cmds));
	st = rig_stats(&rig);
	cr_assert_eq(st.inv_cmds, ARRAY_SIZE(cmds));
	cr_assert_eq(st.inv_ioctls, 1);
	cr_assert_eq(st.inv_max_batch, ARRAY_SIZE(cmds));
	cr_assert_eq(st.cmds[CMDQ_OP_TLBI_NH_VA], 2);
	cr_assert_eq(st.cmds[CMDQ_OP_CFGI_CD_ALL], 1);
	cr_assert_eq(st.cmd_errors, 0);
	cr_assert_str_eq(vsmmu_cmd_name(CMDQ_OP_TLBI_NSNH_ALL), "TLBI_NSNH_ALL");
	cr_assert_null(vsmmu_cmd_name(0x99));
}

Test(vsmmu_cmdq, cfgi_cd_without_a_device_is_dropped)
{
	const struct rig_cmd cmds[] = {
		rig_cmd_cfgi_cd(0x20), rig_cmd_cfgi_cd_all(0x9), rig_cmd_cfgi_cd(0xffff),
		rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0),
	};

	rig_submit(&rig, cmds, ARRAY_SIZE(cmds));
	cr_assert_eq(rig_cons(&rig), 4);
	cr_assert_eq(rig.fi.inv_calls, 0, "nothing cached for a StreamID nobody has: no ioctl (the kernel "
					  "would refuse a vSID without a vDEVICE)");
	cr_assert_eq(rig_stats(&rig).inv_dropped, 3);
	cr_assert_not(rig_gerror_active(&rig, GERROR_CMDQ_ERR));
	/* Mixed with real ones, only the real ones go. */
	const struct rig_cmd mixed[] = { rig_cmd_cfgi_cd(0x8), rig_cmd_cfgi_cd(0x21), rig_cmd_cfgi_cd_all(0x10) };
	rig_submit(&rig, mixed, 3);
	cr_assert_eq(rig.fi.inv_calls, 1);
	cr_assert_eq(rig.fi.inv_num_in[0], 2);
	assert_inv(0, (const struct rig_cmd[]){ mixed[0], mixed[2] }, 2);
}

Test(vsmmu_cmdq, prefetch_is_a_noop)
{
	const struct rig_cmd cmds[] = {
		rig_cmd_tlbi_asid(1),
		{ { FIELD_PREP(CMDQ_0_OP, CMDQ_OP_PREFETCH_CONFIG) | FIELD_PREP(CMDQ_CFGI_0_SID, 0x8) | CMDQ_0_SSV |
		    FIELD_PREP(CMDQ_CFGI_0_SSID, 5), 0 } },
		{ { FIELD_PREP(CMDQ_0_OP, CMDQ_OP_PREFETCH_ADDR) | FIELD_PREP(CMDQ_CFGI_0_SID, 0x10),
		    0xffffffffffff0fffULL } },
		rig_cmd_tlbi_asid(2),
		rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0),
	};
	unsigned int attaches = rig.fv[0].attach_calls + rig.fv[1].attach_calls;

	rig_ste(&rig, 0x8, rig_ste_cfg(STE_CFG_ABORT), 0); /* a prefetch does not re-read it */
	rig_submit(&rig, cmds, ARRAY_SIZE(cmds));
	cr_assert_eq(rig_cons(&rig), ARRAY_SIZE(cmds));
	cr_assert_not(rig_gerror_active(&rig, GERROR_CMDQ_ERR));
	cr_assert_eq(rig.fi.inv_calls, 1, "prefetches do not split a batch");
	cr_assert_eq(rig.fi.inv_num_in[0], 2);
	cr_assert_eq(rig.fv[0].attach_calls + rig.fv[1].attach_calls, attaches);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_BYPASS);
	cr_assert_eq(rig_stats(&rig).cmds[CMDQ_OP_PREFETCH_CONFIG], 1);
	cr_assert_eq(rig_stats(&rig).cmds[CMDQ_OP_PREFETCH_ADDR], 1);
}

Test(vsmmu_cmdq, cfgi_ste_rereads_only_its_stream)
{
	for (unsigned int i = 0; i < 3; i++)
		rig_ste(&rig, rig_vsid(i), rig_ste_cfg(STE_CFG_ABORT), 0);
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_ste(0x11), rig_cmd_cfgi_ste(0x10) }, 2);
	cr_assert_eq(rig_cons(&rig), 2);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_BYPASS);
	cr_assert_eq(rig_cfg_of(&rig, 1), STE_CFG_ABORT);
	cr_assert_eq(rig_cfg_of(&rig, 2), STE_CFG_BYPASS);
	cr_assert_eq(rig.fi.inv_calls, 0, "configuration commands are not invalidations for the kernel");
}

Test(vsmmu_cmdq, cfgi_ste_range_covers_an_aligned_block)
{
	for (unsigned int i = 0; i < 3; i++)
		rig_ste(&rig, rig_vsid(i), rig_ste_cfg(STE_CFG_ABORT), 0);
	/* RANGE 3: 2^4 = 16 STEs, aligned: 0x12 -> 0x10..0x1f. */
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_range(0x12, 3) }, 1);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_BYPASS, "0x8 is outside 0x10..0x1f");
	cr_assert_eq(rig_cfg_of(&rig, 1), STE_CFG_ABORT);
	cr_assert_eq(rig_cfg_of(&rig, 2), STE_CFG_ABORT);
	/* RANGE 0: two STEs, 0x9 -> 0x8..0x9. */
	rig_ste(&rig, 0x10, rig_ste_cfg(STE_CFG_BYPASS), 0);
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_range(0x9, 0) }, 1);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_ABORT);
	cr_assert_eq(rig_cfg_of(&rig, 1), STE_CFG_ABORT, "0x10 not re-read");
	cr_assert_eq(rig_stats(&rig).cmds[CMDQ_OP_CFGI_STE_RANGE], 2);
}

Test(vsmmu_cmdq, cfgi_all_rereads_every_stream)
{
	for (unsigned int i = 0; i < 3; i++)
		rig_ste(&rig, rig_vsid(i), rig_ste_s1(rig_cd(i)), 0);
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_all() }, 1);
	for (unsigned int i = 0; i < 3; i++) {
		cr_assert_eq(rig_cfg_of(&rig, i), STE_CFG_S1_TRANS);
		cr_assert_eq(rig_hwpt(&rig, i)->ste[0] & STE_0_S1CTXPTR, rig_cd(i));
	}
	cr_assert_eq(rig_stats(&rig).nested_allocs, 3);
	/* CFGI_ALL with a SID field (RANGE 31 covers everything whatever the SID). */
	for (unsigned int i = 0; i < 3; i++)
		rig_ste(&rig, rig_vsid(i), rig_ste_cfg(STE_CFG_BYPASS), 0);
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_range(0xabcd, 31) }, 1);
	for (unsigned int i = 0; i < 3; i++)
		cr_assert_eq(rig_cfg_of(&rig, i), STE_CFG_BYPASS);
	rig_check(&rig);
}

Test(vsmmu_cmdq, cmd_sync_completion_signals)
{
	u64 msi = RIG_SCRATCH + 0x40;
	struct vsmmu_stats st;

	rig_put64(&rig, msi, ~0ULL);
	/* CS = NONE and SEV: no MSI even with an address, no interrupt; SEV sends an event (IDR0.SEV), which
	 * wakes the vCPUs waiting in WFE, NONE does not. */
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_sync(CMDQ_SYNC_CS_NONE, msi, 1) }, 1);
	cr_assert_eq(rig.sevs, 0);
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_sync(CMDQ_SYNC_CS_SEV, msi, 2) }, 1);
	cr_assert_eq(rig.sevs, 1, "one event for the CS=SEV completion");
	cr_assert_eq(rig_stats(&rig).sync_sevs, 1);
	cr_assert_eq(rig_get64(&rig, msi), ~0ULL);
	cr_assert_eq(rig.fh.ncalls, 0);

	/* CS = IRQ with an address in RAM: MSIDATA written there, 32 bits little-endian, nothing else. */
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_sync(CMDQ_SYNC_CS_IRQ, msi, 0x12345678) }, 1);
	cr_assert_eq(rig_get64(&rig, msi), 0xffffffff12345678ULL);
	cr_assert_eq(rig.fh.ncalls, 0, "no SPI, no MSI to the ITS");

	/* CS = IRQ with the vITS doorbell: an MSI with the vSMMU's device id, RAM untouched. */
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_sync(CMDQ_SYNC_CS_IRQ, RIG_DOORBELL, 0x21) }, 1);
	cr_assert_eq(fake_hv_count(&rig.fh, FAKE_SIGNAL_MSI), 1);
	const struct fake_hv_call *c = fake_hv_last(&rig.fh, FAKE_SIGNAL_MSI);
	cr_assert_eq(c->addr, RIG_DOORBELL);
	cr_assert_eq(c->data, 0x21);
	cr_assert_eq(c->devid, RIG_DEVID);
	cr_assert_eq(rig_get64(&rig, msi), 0xffffffff12345678ULL);

	/* CS = IRQ without an address: the wired cmdq-sync SPI, pulsed. */
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_sync(CMDQ_SYNC_CS_IRQ, 0, 0x99) }, 1);
	cr_assert_eq(rig.fh.spi_raises[RIG_SPI_SYNC], 1);
	cr_assert_not(rig.fh.spi_level[RIG_SPI_SYNC]);
	cr_assert_eq(rig.fh.spi_raises[RIG_SPI_GERROR] + rig.fh.spi_raises[RIG_SPI_EVTQ], 0);
	cr_assert_eq(fake_hv_count(&rig.fh, FAKE_SIGNAL_MSI), 1);

	/* An address that is neither: MSI_CMDQ_ABT_ERR, and the queue goes on. */
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_sync(CMDQ_SYNC_CS_IRQ, 0x1000, 5),
						   rig_cmd_tlbi_asid(4) }, 2);
	cr_assert(rig_gerror_active(&rig, GERROR_MSI_CMDQ_ABT_ERR));
	cr_assert_not(rig_gerror_active(&rig, GERROR_CMDQ_ERR));
	cr_assert_eq(rig_cons(&rig), rig.prod);
	cr_assert_eq(rig.fi.inv_calls, 1);

	/* A CMD_SYNC with MSI into the last 4 bytes of RAM works; one straddling the end aborts. */
	rig_gerror_ack(&rig);
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_sync(CMDQ_SYNC_CS_IRQ, RIG_RAM + RIG_RAM_SIZE - 4, 0xab) },
		   1);
	cr_assert_eq(rig_get32(&rig, RIG_RAM + RIG_RAM_SIZE - 4), 0xab);
	cr_assert_not(rig_gerror_active(&rig, GERROR_MSI_CMDQ_ABT_ERR));
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_sync(CMDQ_SYNC_CS_IRQ, RIG_RAM + RIG_RAM_SIZE, 0xab) }, 1);
	cr_assert(rig_gerror_active(&rig, GERROR_MSI_CMDQ_ABT_ERR));

	st = rig_stats(&rig);
	cr_assert_eq(st.sync_msis, 5);
	cr_assert_eq(st.sync_irqs, 1);
	cr_assert_eq(st.cmds[CMDQ_OP_CMD_SYNC], 8);
}

/* ---- illegal commands ---- */

struct bad_case {
	const char *what;
	struct rig_cmd cmd;
};

static struct rig_cmd tlbi_range(u64 num, u64 scale, u64 tg, u64 ttl)
{
	return with(rig_cmd_tlbi_va(1, 0x10000, true), FIELD_PREP(CMDQ_TLBI_0_NUM, num) |
		    FIELD_PREP(CMDQ_TLBI_0_SCALE, scale), FIELD_PREP(CMDQ_TLBI_1_TG, tg) |
		    FIELD_PREP(CMDQ_TLBI_1_TTL, ttl));
}

/* Put bad at queue index 2 between good invalidations and a CMD_SYNC with an MSI; expect CERROR_ILL there,
 * the two before it sent (one ioctl), nothing after it done. */
static void expect_illegal(const struct bad_case *b)
{
	u64 msi = RIG_SCRATCH + 0x80;
	unsigned int calls = rig.fi.inv_calls, cmds = rig.fi.nr_inv_cmd;
	u64 errors = rig_stats(&rig).cmd_errors;

	reset_queue(3);
	rig_put64(&rig, msi, 0);
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_tlbi_asid(1), rig_cmd_tlbi_asid(2), b->cmd,
						   rig_cmd_tlbi_asid(3), rig_cmd_sync(CMDQ_SYNC_CS_IRQ, msi, 1) }, 5);
	cr_assert_eq(cons_ptr(), 2, "%s: CONS at 0x%x", b->what, rig_cons(&rig));
	cr_assert_eq(rig_cons_err(rig_cons(&rig)), CMDQ_ERR_CERROR_ILL, "%s: CONS.ERR", b->what);
	cr_assert(rig_gerror_active(&rig, GERROR_CMDQ_ERR), "%s: GERROR.CMDQ_ERR", b->what);
	cr_assert_eq(rig.fi.inv_calls, calls + 1, "%s: the commands before it were sent", b->what);
	cr_assert_eq(rig.fi.nr_inv_cmd, cmds + 2, "%s: and only those", b->what);
	cr_assert_eq(rig_get64(&rig, msi), 0, "%s: the CMD_SYNC after it did not complete", b->what);
	cr_assert_eq(rig_stats(&rig).cmd_errors, errors + 1);
	/* The queue stays stopped: more commands are not consumed. */
	(void)rig_push(&rig, rig_cmd_tlbi_asid(4));
	rig_kick(&rig);
	cr_assert_eq(cons_ptr(), 2, "%s: stopped", b->what);
	cr_assert_eq(rig.fi.inv_calls, calls + 1);
}

Test(vsmmu_cmdq, illegal_commands_stop_the_queue_at_their_index)
{
	const struct bad_case cases[] = {
		{ "opcode 0x00", { { 0, 0 } } },
		{ "opcode 0x08", rig_cmd_op(0x08) },
		{ "opcode 0x2f", rig_cmd_op(0x2f) },
		{ "opcode 0x47", rig_cmd_op(0x47) },
		{ "opcode 0x80", rig_cmd_op(0x80) },
		{ "opcode 0xff", rig_cmd_op(0xff) },
		{ "TLBI_EL2_ALL", rig_cmd_op(CMDQ_OP_TLBI_EL2_ALL) },
		{ "TLBI_EL2_ASID", with(rig_cmd_op(CMDQ_OP_TLBI_EL2_ASID), FIELD_PREP(CMDQ_TLBI_0_ASID, 1), 0) },
		{ "TLBI_EL2_VA", with(rig_cmd_op(CMDQ_OP_TLBI_EL2_VA), 0, 0x1000) },
		{ "TLBI_EL2_VAA", with(rig_cmd_op(CMDQ_OP_TLBI_EL2_VAA), 0, 0x1000) },
		{ "TLBI_EL3_ALL", rig_cmd_op(CMDQ_OP_TLBI_EL3_ALL) },
		{ "TLBI_EL3_VA", rig_cmd_op(CMDQ_OP_TLBI_EL3_VA) },
		{ "TLBI_S12_VMALL", rig_cmd_op(CMDQ_OP_TLBI_S12_VMALL) },
		{ "TLBI_S2_IPA", with(rig_cmd_op(CMDQ_OP_TLBI_S2_IPA), 0, 0x1000) },
		{ "ATC_INV", with(op_sid(CMDQ_OP_ATC_INV, 0x8), 0, FIELD_PREP(CMDQ_ATC_1_SIZE, 52)) },
		{ "PRI_RESP", op_sid(CMDQ_OP_PRI_RESP, 0x8) },
		{ "RESUME", op_sid(CMDQ_OP_RESUME, 0x8) },
		{ "STALL_TERM", op_sid(CMDQ_OP_STALL_TERM, 0x8) },
		{ "CFGI_VMS_PIDM", rig_cmd_op(CMDQ_OP_CFGI_VMS_PIDM) },
		{ "CFGI_STE with SSV", with(rig_cmd_cfgi_ste(0x8), CMDQ_0_SSV, 0) },
		{ "CFGI_STE with SSEC", with(rig_cmd_cfgi_ste(0x8), CMDQ_0_SSEC, 0) },
		{ "CFGI_STE with dword 0 bit 8", with(rig_cmd_cfgi_ste(0x8), BIT(8), 0) },
		{ "CFGI_STE with dword 1 bit 1", with(rig_cmd_cfgi_ste(0x8), 0, BIT(1)) },
		{ "CFGI_STE_RANGE with dword 1 bit 5", with(rig_cmd_cfgi_range(0, 31), 0, BIT(5)) },
		{ "CFGI_CD with an SSID (no substreams)", with(rig_cmd_cfgi_cd(0x8), FIELD_PREP(CMDQ_CFGI_0_SSID, 1), 0) },
		{ "CFGI_CD_ALL with LEAF", with(rig_cmd_cfgi_cd_all(0x8), 0, CMDQ_CFGI_1_LEAF) },
		{ "TLBI_NH_ALL with dword 1", with(rig_cmd_op(CMDQ_OP_TLBI_NH_ALL), 0, 0x1000) },
		{ "TLBI_NH_ALL with an ASID", with(rig_cmd_op(CMDQ_OP_TLBI_NH_ALL), FIELD_PREP(CMDQ_TLBI_0_ASID, 1), 0) },
		{ "TLBI_NH_ASID with LEAF", with(rig_cmd_tlbi_asid(1), 0, CMDQ_TLBI_1_LEAF) },
		{ "TLBI_NSNH_ALL with a VMID", with(rig_cmd_op(CMDQ_OP_TLBI_NSNH_ALL), FIELD_PREP(CMDQ_TLBI_0_VMID, 1), 0) },
		{ "TLBI_NH_VA with dword 0 bit 8", with(rig_cmd_tlbi_va(1, 0x1000, true), BIT(8), 0) },
		{ "TLBI_NH_VA with dword 1 bit 4", with(rig_cmd_tlbi_va(1, 0x1000, true), 0, BIT(4)) },
		{ "TLBI_NH_VAA with an ASID", with(rig_cmd_tlbi_vaa(0x1000), FIELD_PREP(CMDQ_TLBI_0_ASID, 1), 0) },
		{ "CMD_SYNC CS=3", rig_cmd_sync(CMDQ_SYNC_0_CS_RESERVED, 0, 0) },
		{ "CMD_SYNC with dword 0 bit 15", with(rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0), BIT(15), 0) },
		{ "CMD_SYNC with MSIADDR bit 1", with(rig_cmd_sync(CMDQ_SYNC_CS_IRQ, 0, 0), 0, BIT(1)) },
		{ "CMD_SYNC with MSIADDR above bit 51", with(rig_cmd_sync(CMDQ_SYNC_CS_IRQ, 0, 0), 0, BIT(52)) },
		{ "TLBI range: NUM without TG", tlbi_range(3, 0, 0, 0) },
		{ "TLBI range: TTL without TG", tlbi_range(0, 0, 0, 2) },
		{ "TLBI range: TG with NUM = SCALE = TTL = 0", tlbi_range(0, 0, 1, 0) },
		{ "TLBI range: 16K TTL 1 without DS", tlbi_range(1, 0, 2, 1) },
		{ "TLBI range: SCALE 32 without DS", tlbi_range(1, 32, 1, 3) },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		expect_illegal(&cases[i]);
	cr_assert_eq(rig_stats(&rig).cmd_errors, ARRAY_SIZE(cases));
}

Test(vsmmu_cmdq, legal_encodings_on_the_lab_host)
{
	/* With ASID16 and RIL: 16-bit ASIDs and range invalidations pass, and go to the kernel unchanged. */
	const struct rig_cmd cmds[] = {
		rig_cmd_tlbi_asid(0xffff),
		rig_cmd_tlbi_va(0x8000, 0x1000, true),
		tlbi_range(31, 0, 1, 3),
		tlbi_range(0, 1, 3, 0),
		tlbi_range(1, 31, 2, 2),
		with(rig_cmd_tlbi_vaa(0x2000), FIELD_PREP(CMDQ_TLBI_0_NUM, 2), FIELD_PREP(CMDQ_TLBI_1_TG, 1)),
		rig_cmd_sync(CMDQ_SYNC_CS_SEV, 0, 0),
	};

	rig_submit(&rig, cmds, ARRAY_SIZE(cmds));
	cr_assert_eq(rig_cons(&rig), ARRAY_SIZE(cmds));
	cr_assert_not(rig_gerror_active(&rig, GERROR_CMDQ_ERR));
	cr_assert_eq(rig.fi.inv_calls, 1);
	assert_inv(0, cmds, ARRAY_SIZE(cmds) - 1);
}

Test(vsmmu_cmdq_small_host, upper_asid_bits_and_range_fields_are_illegal)
{
	const struct bad_case cases[] = {
		{ "TLBI_NH_ASID 0x100 without ASID16", rig_cmd_tlbi_asid(0x100) },
		{ "TLBI_NH_VA ASID 0x8001 without ASID16", rig_cmd_tlbi_va(0x8001, 0x1000, true) },
		{ "TLBI_NH_VA with TG without RIL", with(rig_cmd_tlbi_va(1, 0x1000, true), 0, FIELD_PREP(CMDQ_TLBI_1_TG, 1)) },
		{ "TLBI_NH_VA with NUM without RIL", with(rig_cmd_tlbi_va(1, 0x1000, true), FIELD_PREP(CMDQ_TLBI_0_NUM, 1), 0) },
		{ "TLBI_NH_VA with SCALE without RIL", with(rig_cmd_tlbi_va(1, 0x1000, true), FIELD_PREP(CMDQ_TLBI_0_SCALE, 1), 0) },
		{ "TLBI_NH_VA with TTL without RIL", with(rig_cmd_tlbi_va(1, 0x1000, true), 0, FIELD_PREP(CMDQ_TLBI_1_TTL, 3)) },
		{ "TLBI range (legal with RIL) without RIL", tlbi_range(31, 0, 1, 3) },
		{ "TLBI_NH_VAA with TG without RIL", with(rig_cmd_tlbi_vaa(0x1000), 0, FIELD_PREP(CMDQ_TLBI_1_TG, 1)) },
	};

	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_IDR0) & IDR0_ASID16, 0);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_IDR3) & IDR3_RIL, 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		expect_illegal(&cases[i]);
	/* 8-bit ASIDs and plain VAs are fine. */
	reset_queue(3);
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_tlbi_asid(0xff), rig_cmd_tlbi_va(0xff, 0x1000, true),
						   rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0) }, 3);
	cr_assert_eq(rig_cons(&rig), 3);
	cr_assert_not(rig_gerror_active(&rig, GERROR_CMDQ_ERR));
}

Test(vsmmu_cmdq, gerrorn_resumes_once_the_command_is_fixed)
{
	u64 msi = RIG_SCRATCH + 0x80;
	struct rig_cmd fix = rig_cmd_tlbi_asid(0x55);
	unsigned int calls;

	rig_put64(&rig, msi, 0);
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_tlbi_asid(1), rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0),
						   rig_cmd_op(0x7e), rig_cmd_tlbi_asid(3),
						   rig_cmd_sync(CMDQ_SYNC_CS_IRQ, msi, 0x77) }, 5);
	assert_stopped_at(2, CMDQ_ERR_CERROR_ILL);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_GERROR), GERROR_CMDQ_ERR);
	calls = rig.fi.inv_calls;

	/* Acknowledged without a fix: the same command fails again, GERROR toggles back (still active). */
	rig_gerror_ack(&rig);
	assert_stopped_at(2, CMDQ_ERR_CERROR_ILL);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_GERROR), 0);
	cr_assert_eq(rig_stats(&rig).cmd_errors, 2);
	cr_assert_eq(rig.fi.inv_calls, calls);

	/* Fixed (the guest replaces it, as Linux replaces it with a CMD_SYNC) and acknowledged: the queue goes
	 * on from that very index. */
	rig_cmd_at(&rig, 2, fix);
	rig_gerror_ack(&rig);
	cr_assert_not(rig_gerror_active(&rig, GERROR_CMDQ_ERR));
	cr_assert_eq(cons_ptr(), 5);
	cr_assert_eq(rig.fi.inv_calls, calls + 1);
	cr_assert_eq(rig.fi.inv_num_in[calls], 2);
	assert_inv(rig.fi.nr_inv_cmd - 2, (const struct rig_cmd[]){ fix, rig_cmd_tlbi_asid(3) }, 2);
	cr_assert_eq(rig_get32(&rig, msi), 0x77);
	/* Acknowledging again with nothing pending changes nothing. */
	rig_gerror_ack(&rig);
	cr_assert_eq(cons_ptr(), 5);
	cr_assert_eq(rig.fi.inv_calls, calls + 1);
}

Test(vsmmu_cmdq, queue_outside_ram_is_cerror_abt)
{
	unsigned int calls;

	/* A queue below RAM. */
	rig_cmdq_at(&rig, 0x1000, 3);
	rig_wr32(&rig, ARM_SMMU_CMDQ_PROD, 1);
	assert_stopped_at(0, CMDQ_ERR_CERROR_ABT);
	cr_assert_eq(rig_stats(&rig).cmd_errors, 1);

	/* A queue across the end of RAM: the two entries inside run (and are sent before the abort). */
	reset_queue(2);
	rig_cmdq_at(&rig, RIG_RAM + RIG_RAM_SIZE - 32, 2);
	calls = rig.fi.inv_calls;
	(void)rig_push(&rig, rig_cmd_tlbi_asid(1));
	(void)rig_push(&rig, rig_cmd_tlbi_asid(2));
	rig_wr32(&rig, ARM_SMMU_CMDQ_PROD, 3);
	assert_stopped_at(2, CMDQ_ERR_CERROR_ABT);
	cr_assert_eq(rig.fi.inv_calls, calls + 1);
	cr_assert_eq(rig.fi.inv_num_in[calls], 2);

	/* A queue at a huge address: ABT, nothing else. */
	reset_queue(2);
	rig_cmdq_at(&rig, Q_BASE_ADDR_MASK, 2);
	rig_wr32(&rig, ARM_SMMU_CMDQ_PROD, 1);
	assert_stopped_at(0, CMDQ_ERR_CERROR_ABT);
}

/* ---- batching ---- */

Test(vsmmu_cmdq, n_invalidations_and_a_sync_are_one_ioctl)
{
	enum { N = 100 };
	struct rig_cmd cmds[N];
	u64 msi = RIG_SCRATCH;

	rig_cmdq(&rig, 8);
	for (unsigned int i = 0; i < N; i++)
		cmds[i] = rig_cmd_tlbi_va((u16)(i % 7), 0x100000ULL + 0x1000ULL * i, i & 1);
	for (unsigned int i = 0; i < N; i++)
		(void)rig_push(&rig, cmds[i]);
	(void)rig_push(&rig, rig_cmd_sync(CMDQ_SYNC_CS_IRQ, msi, 1));
	rig_kick(&rig);
	cr_assert_eq(rig_cons(&rig), N + 1);
	cr_assert_eq(rig.fi.inv_calls, 1, "%u ioctls", rig.fi.inv_calls);
	cr_assert_eq(rig.fi.inv_num_in[0], N);
	assert_inv(0, cmds, N);
	cr_assert_eq(rig_get32(&rig, msi), 1);
	cr_assert_eq(rig_stats(&rig).inv_max_batch, N);

	/* Without a CMD_SYNC the batch goes when the queue runs dry. */
	for (unsigned int i = 0; i < 5; i++)
		(void)rig_push(&rig, cmds[i]);
	rig_kick(&rig);
	cr_assert_eq(rig.fi.inv_calls, 2);
	cr_assert_eq(rig.fi.inv_num_in[1], 5);

	/* A whole 256-entry queue: 255 invalidations and the CMD_SYNC, across the wrap. */
	for (unsigned int i = 0; i < 255; i++)
		(void)rig_push(&rig, rig_cmd_tlbi_asid((u16)i));
	(void)rig_push(&rig, rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0));
	cr_assert(vsmmu_q_full(rig.prod, rig_cons(&rig), 8));
	rig_kick(&rig);
	cr_assert_eq(rig.fi.inv_calls, 3);
	cr_assert_eq(rig.fi.inv_num_in[2], 255);
	cr_assert_eq(rig_cons(&rig), rig.prod);
	cr_assert_eq(rig_stats(&rig).inv_ioctls, 3);
	cr_assert_eq(rig_stats(&rig).inv_cmds, N + 5 + 255);
}

Test(vsmmu_cmdq, a_configuration_command_splits_the_batch)
{
	int inv1, alloc, inv2;

	rig_ste(&rig, 0x8, rig_ste_s1(rig_cd(0)), 0);
	rig_submit(&rig, (const struct rig_cmd[]){
			rig_cmd_tlbi_asid(1), rig_cmd_tlbi_asid(2), rig_cmd_tlbi_asid(3), rig_cmd_cfgi_ste(0x8),
			rig_cmd_tlbi_asid(4), rig_cmd_tlbi_asid(5), rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0) }, 7);
	cr_assert_eq(rig_cons(&rig), 7);
	cr_assert_eq(rig.fi.inv_calls, 2);
	cr_assert_eq(rig.fi.inv_num_in[0], 3);
	cr_assert_eq(rig.fi.inv_num_in[1], 2);
	/* In queue order: the invalidations before the CFGI_STE, its new HWPT, then the ones after it. */
	inv1 = log_find_from(0, "invalidate:");
	cr_assert_geq(inv1, 0);
	alloc = log_find_from((unsigned int)inv1, "hwpt_alloc:");
	inv2 = log_find_from((unsigned int)inv1 + 1, "invalidate:");
	cr_assert(inv1 < alloc && alloc < inv2, "order %d %d %d", inv1, alloc, inv2);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_S1_TRANS);
}

Test(vsmmu_cmdq, log2size_beyond_cmdqs_is_capped)
{
	/* LOG2SIZE 31 behaves as IDR1.CMDQS = 12: 4096 entries, pointers of 13 bits, index 4095 wraps to 0. */
	rig_cr0(&rig, CR0_SMMUEN);
	rig.cmdq = RIG_CMDQ;
	rig.cmdq_log2 = 12;
	rig_wr64(&rig, ARM_SMMU_CMDQ_BASE, RIG_CMDQ | 31);
	rig_wr32(&rig, ARM_SMMU_CMDQ_PROD, 0xfff);
	rig_wr32(&rig, ARM_SMMU_CMDQ_CONS, 0xffffffff & ~(u32)CMDQ_CONS_ERR);
	cr_assert_eq(rig_cons(&rig), 0x1fff);
	rig_wr32(&rig, ARM_SMMU_CMDQ_CONS, 0xfff);
	rig_cr0(&rig, CR0_SMMUEN | CR0_CMDQEN);
	rig_cmd_at(&rig, 0xfff, rig_cmd_tlbi_asid(1));
	rig_cmd_at(&rig, 0, rig_cmd_tlbi_asid(2));
	rig_wr32(&rig, ARM_SMMU_CMDQ_PROD, 0xffffe000 | 0x1001);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_CMDQ_PROD), 0x1001);
	cr_assert_eq(rig_cons(&rig), 0x1001);
	cr_assert_eq(rig.fi.inv_calls, 1);
	assert_inv(0, (const struct rig_cmd[]){ rig_cmd_tlbi_asid(1), rig_cmd_tlbi_asid(2) }, 2);
}

/* ---- a guest that lies about PROD ---- */

Test(vsmmu_cmdq, prod_far_beyond_the_queue_is_one_pass)
{
	/* 8 entries, each a CMD_SYNC that pulses the SPI: the pulses count the commands executed. */
	rig_cmdq(&rig, 3);
	for (unsigned int i = 0; i < 8; i++)
		rig_cmd_at(&rig, i, rig_cmd_sync(CMDQ_SYNC_CS_IRQ, 0, 0));
	/* CONS 0, PROD = wrap | 5: 13 entries "published", more than the queue holds. */
	rig_wr32(&rig, ARM_SMMU_CMDQ_PROD, 0x8 | 5);
	cr_assert_leq(rig.fh.spi_raises[RIG_SPI_SYNC], 8, "%u commands in one pass of an 8-entry queue",
		      rig.fh.spi_raises[RIG_SPI_SYNC]);
	cr_assert_geq(rig.fh.spi_raises[RIG_SPI_SYNC], 1);
	cr_assert_lt(rig_cons(&rig), 16);
	cr_assert_not(rig_gerror_active(&rig, GERROR_CMDQ_ERR));

	/* Bits above the pointer are ignored; every later kick also terminates with bounded work. */
	for (u32 p = 0; p < 64; p++) {
		unsigned int before = rig.fh.spi_raises[RIG_SPI_SYNC];

		rig_wr32(&rig, ARM_SMMU_CMDQ_PROD, 0xfffffff0 | (p * 7));
		cr_assert_leq(rig.fh.spi_raises[RIG_SPI_SYNC] - before, 8);
		cr_assert_lt(rig_cons(&rig), 16);
	}
	cr_assert_lt(rig_rd32(&rig, ARM_SMMU_CMDQ_PROD), 16);
}
