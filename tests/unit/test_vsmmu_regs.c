/* test_vsmmu_regs.c: the vSMMU's register file (iommu/vsmmu_regs.c) as a guest sees it through the MMIO
 * region: ID registers derived from the host's GET_HW_INFO (the lab host, and hosts without ASID16/RIL or
 * with other features), the reset state, CR0/CR0ACK, CR1/CR2, the GBPA update protocol, IRQ_CTRL/ACK,
 * GERROR/GERRORN and the global error interrupt (wired SPI, MSI to RAM, MSI to the vITS, MSI abort),
 * 64-bit registers whole and as two 32-bit halves with their masks, table and queue bases ignored while
 * enabled, page 1's EVTQ_PROD/CONS, reserved offsets and absent features RAZ/WI, and 8-byte accesses to
 * 32-bit registers ignored. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>
#include "tests/unit/vsmmu_rig.h"

static struct vsmmu_rig rig;

static void setup(void)
{
	cr_redirect_stderr();
	rig_up(&rig, 2);
}

static void teardown(void)
{
	rig_fini(&rig);
}

TestSuite(vsmmu_regs, .init = setup, .fini = teardown);
TestSuite(vsmmu_idr, .init = cr_redirect_stderr);

/* ---- ID registers ---- */

static void derive(u32 i0, u32 i1, u32 i3, u32 i5, u32 idr[6])
{
	struct iommu_hw_info_arm_smmuv3 h;

	memset(&h, 0, sizeof(h));
	h.idr[0] = i0;
	h.idr[1] = i1;
	h.idr[3] = i3;
	h.idr[5] = i5;
	h.idr[2] = h.idr[4] = 0xffffffff; /* nothing the uAPI lets a VMM use */
	memset(idr, 0xa5, 6 * sizeof(idr[0]));
	vsmmu_derive_idr(&h, idr);
}

Test(vsmmu_idr, lab_host)
{
	u32 idr[6];

	derive(RIG_HOST_IDR0, RIG_HOST_IDR1, RIG_HOST_IDR3, RIG_HOST_IDR5, idr);
	/* IDR0: S1P, TTF=AArch64, COHACC, ASID16 (host), MSI, SEV, TTENDIAN=LE (host), STALL_MODEL=none,
	 * TERM_MODEL (host), ST_LEVEL=2-level. Not S2P, VMID16, HYP, ATS, PRI, HTTU, BTM. */
	cr_assert_eq(idr[0], 0x0d40701a, "IDR0 0x%08x", idr[0]);
	/* IDR1: SIDSIZE 16, CMDQS 12, EVTQS 12, no SSIDs, no PRIQ. */
	cr_assert_eq(idr[1], 0x018c0010, "IDR1 0x%08x", idr[1]);
	cr_assert_eq(idr[2], 0);
	/* IDR3: RIL and BBML2 of the host; the host's other IDR3 bits dropped. */
	cr_assert_eq(idr[3], 0x00001400, "IDR3 0x%08x", idr[3]);
	cr_assert_eq(idr[4], 0);
	/* IDR5: 4K/16K/64K granules of the host, OAS = 40 bits (the guest's IPA space, not the host's 44). */
	cr_assert_eq(idr[5], 0x00000072, "IDR5 0x%08x", idr[5]);
}

Test(vsmmu_idr, host_without_asid16_and_ril)
{
	u32 idr[6];

	derive(RIG_HOST_IDR0 & ~(u32)IDR0_ASID16, RIG_HOST_IDR1, RIG_HOST_IDR3 & ~(u32)IDR3_RIL, RIG_HOST_IDR5, idr);
	cr_assert_eq(idr[0], 0x0d40601a, "IDR0 0x%08x: no ASID16", idr[0]);
	cr_assert_eq(idr[1], 0x018c0010);
	cr_assert_eq(idr[3], 0x00001000, "IDR3 0x%08x: no RIL", idr[3]);
	cr_assert_eq(idr[5], 0x00000072);
}

Test(vsmmu_idr, other_host_features_are_not_passed_through)
{
	u32 idr[6];
	/* A host with S2, HTTU, BTM, HYP, ATS, PRI, VMID16, CD2L, mixed endianness, stall supported, no
	 * TERM_MODEL, linear tables only; 20-bit SSIDs, PRIQ, 8-bit SIDs; BBML1; 52-bit OAS, 64K, DS, VAX. */
	u32 h0 = IDR0_S2P | IDR0_S1P | FIELD_PREP(IDR0_TTF, IDR0_TTF_AARCH64) | IDR0_COHACC | IDR0_BTM |
		 FIELD_PREP(IDR0_HTTU, 2) | IDR0_HYP | IDR0_ATS | IDR0_PRI | IDR0_VMID16 | IDR0_CD2L |
		 FIELD_PREP(IDR0_TTENDIAN, IDR0_TTENDIAN_MIXED) | FIELD_PREP(IDR0_STALL_MODEL, 0);
	u32 h1 = FIELD_PREP(IDR1_SIDSIZE, 8) | FIELD_PREP(IDR1_SSIDSIZE, 20) | FIELD_PREP(IDR1_PRIQS, 8) |
		 FIELD_PREP(IDR1_CMDQS, 19) | FIELD_PREP(IDR1_EVTQS, 19);

	derive(h0, h1, FIELD_PREP(IDR3_BBML, 1), FIELD_PREP(IDR5_OAS, 6) | IDR5_GRAN64K | IDR5_DS |
	       FIELD_PREP(IDR5_VAX, 1), idr);
	/* S1P TTF COHACC MSI SEV, STALL_MODEL none, 2-level, CD2L, TTENDIAN LE (mixed host). */
	cr_assert_eq(idr[0], 0x0948601a, "IDR0 0x%08x", idr[0]);
	cr_assert_eq(idr[1], 0x018c0010, "the vSMMU's own sizes, not the host's: 0x%08x", idr[1]);
	cr_assert_eq(idr[3], 0x00000800);
	cr_assert_eq(idr[5], 0x000004c2, "64K, DS, VAX kept; OAS 40 bits: 0x%08x", idr[5]);

	/* A big-endian-only host stays big-endian (the guest cannot use it, but the vSMMU does not lie). */
	derive(h0 | FIELD_PREP(IDR0_TTENDIAN, 3), h1, 0, 0, idr);
	cr_assert_eq(FIELD_GET(IDR0_TTENDIAN, idr[0]), 3);
}

Test(vsmmu_regs, id_registers_through_mmio_are_read_only)
{
	static const u32 want[6] = { 0x0d40701a, 0x018c0010, 0, 0x00001400, 0, 0x00000072 };

	for (unsigned int i = 0; i < 6; i++) {
		cr_assert_eq(rig_rd32(&rig, ARM_SMMU_IDR0 + 4 * i), want[i], "IDR%u", i);
		rig_wr32(&rig, ARM_SMMU_IDR0 + 4 * i, ~want[i]);
		cr_assert_eq(rig_rd32(&rig, ARM_SMMU_IDR0 + 4 * i), want[i], "IDR%u after a write", i);
	}
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_IIDR), 0);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_AIDR), 1, "the host's architecture revision");
	rig_wr32(&rig, ARM_SMMU_AIDR, 0xff);
	rig_wr32(&rig, ARM_SMMU_IIDR, 0xff);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_AIDR), 1);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_IIDR), 0);
}

/* ---- reset and control registers ---- */

/* Every implemented register that is not an ID register, as 32-bit words, for before/after comparisons. */
static const u64 state_regs[] = {
	ARM_SMMU_CR0, ARM_SMMU_CR0ACK, ARM_SMMU_CR1, ARM_SMMU_CR2, ARM_SMMU_GBPA, ARM_SMMU_IRQ_CTRL,
	ARM_SMMU_IRQ_CTRLACK, ARM_SMMU_GERROR, ARM_SMMU_GERRORN, ARM_SMMU_GERROR_IRQ_CFG0,
	ARM_SMMU_GERROR_IRQ_CFG0 + 4, ARM_SMMU_GERROR_IRQ_CFG1, ARM_SMMU_GERROR_IRQ_CFG2, ARM_SMMU_STRTAB_BASE,
	ARM_SMMU_STRTAB_BASE + 4, ARM_SMMU_STRTAB_BASE_CFG, ARM_SMMU_CMDQ_BASE, ARM_SMMU_CMDQ_BASE + 4,
	ARM_SMMU_CMDQ_PROD, ARM_SMMU_CMDQ_CONS, ARM_SMMU_EVTQ_BASE, ARM_SMMU_EVTQ_BASE + 4,
	ARM_SMMU_EVTQ_IRQ_CFG0, ARM_SMMU_EVTQ_IRQ_CFG0 + 4, ARM_SMMU_EVTQ_IRQ_CFG1, ARM_SMMU_EVTQ_IRQ_CFG2,
	SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_CONS,
};

static void snapshot(u32 out[ARRAY_SIZE(state_regs)])
{
	for (size_t i = 0; i < ARRAY_SIZE(state_regs); i++)
		out[i] = rig_rd32(&rig, state_regs[i]);
}

Test(vsmmu_regs, reset_state_is_zero)
{
	for (size_t i = 0; i < ARRAY_SIZE(state_regs); i++)
		cr_assert_eq(rig_rd32(&rig, state_regs[i]), 0, "offset 0x%llx", (unsigned long long)state_regs[i]);
}

Test(vsmmu_regs, cr0_and_cr0ack)
{
	rig_wr32(&rig, ARM_SMMU_CR0, 0xffffffff);
	/* PRIQEN, ATSCHK, VMW are RES0 here: only SMMUEN, EVTQEN, CMDQEN stick, and the ACK follows at once. */
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_CR0), CR0_SMMUEN | CR0_EVTQEN | CR0_CMDQEN);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_CR0ACK), CR0_SMMUEN | CR0_EVTQEN | CR0_CMDQEN);
	rig_wr32(&rig, ARM_SMMU_CR0ACK, 0); /* read-only */
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_CR0ACK), CR0_SMMUEN | CR0_EVTQEN | CR0_CMDQEN);
	rig_cr0(&rig, CR0_CMDQEN);
	rig_cr0(&rig, CR0_EVTQEN | CR0_SMMUEN);
	rig_cr0(&rig, 0);

	rig_wr32(&rig, ARM_SMMU_CR1, 0xffffffff);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_CR1), 0xfff, "CR1: the table and queue attributes");
	rig_wr32(&rig, ARM_SMMU_CR2, 0xffffffff);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_CR2), CR2_RECINVSID | CR2_PTM, "CR2: E2H is RES0 without HYP");
}

Test(vsmmu_regs, gbpa_update_protocol)
{
	u32 before = rig.fv[0].attach_calls;

	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_BYPASS, "reset: GBPA says bypass");
	/* Without UPDATE a write changes nothing. */
	rig_wr32(&rig, ARM_SMMU_GBPA, GBPA_ABORT);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_GBPA), 0);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_BYPASS);
	cr_assert_eq(rig.fv[0].attach_calls, before);
	/* With UPDATE the fields change, the update completes at once (UPDATE reads 0), streams follow. */
	rig_gbpa(&rig, GBPA_ABORT);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_ABORT);
	cr_assert_eq(rig_cfg_of(&rig, 1), STE_CFG_ABORT);
	/* Only ABORT, the field the vSMMU implements, is kept: RES0 bits (21, 7:5 ...) and the bypass
	 * attribute fields, which the host decides, read as zero. */
	rig_wr32(&rig, ARM_SMMU_GBPA, 0xffffffff);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_GBPA), GBPA_ABORT);
	rig_wr32(&rig, ARM_SMMU_GBPA, GBPA_UPDATE | GBPA_ABORT | BIT(21) | GENMASK(7, 5) | GENMASK(13, 12));
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_GBPA), GBPA_ABORT);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_ABORT);
	rig_gbpa(&rig, 0);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_BYPASS);
	cr_assert_eq(rig_cfg_of(&rig, 1), STE_CFG_BYPASS);
}

Test(vsmmu_regs, irq_ctrl_and_ack)
{
	rig_wr32(&rig, ARM_SMMU_IRQ_CTRL, 0xffffffff);
	/* No PRI: PRIQ_IRQEN is RES0. */
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_IRQ_CTRL), IRQ_CTRL_GERROR_IRQEN | IRQ_CTRL_EVTQ_IRQEN);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_IRQ_CTRLACK), IRQ_CTRL_GERROR_IRQEN | IRQ_CTRL_EVTQ_IRQEN);
	rig_wr32(&rig, ARM_SMMU_IRQ_CTRLACK, 0);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_IRQ_CTRLACK), IRQ_CTRL_GERROR_IRQEN | IRQ_CTRL_EVTQ_IRQEN);
	rig_wr32(&rig, ARM_SMMU_IRQ_CTRL, IRQ_CTRL_EVTQ_IRQEN);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_IRQ_CTRLACK), IRQ_CTRL_EVTQ_IRQEN);
}

/* ---- global errors ---- */

/* Raise GERROR.CMDQ_ERR the way a guest does: an illegal command. */
static void raise_cmdq_error(void)
{
	rig_cmdq(&rig, 2);
	rig_submit(&rig, &(struct rig_cmd){ { 0xff, 0 } }, 1);
	cr_assert_eq(rig_cons_err(rig_cons(&rig)), CMDQ_ERR_CERROR_ILL);
}

/* Fix the queue (a CMD_SYNC over the bad command) and acknowledge. */
static void fix_and_ack(void)
{
	rig_cmd_at(&rig, 0, rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0));
	rig_gerror_ack(&rig);
	cr_assert_not(rig_gerror_active(&rig, GERROR_ERR_MASK));
}

Test(vsmmu_regs, gerror_toggles_and_gerrorn_acknowledges)
{
	rig_wr32(&rig, ARM_SMMU_GERROR, 0xffffffff); /* read-only */
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_GERROR), 0);

	raise_cmdq_error();
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_GERROR), GERROR_CMDQ_ERR, "toggled 0 -> 1");
	cr_assert(rig_gerror_active(&rig, GERROR_CMDQ_ERR));
	fix_and_ack();
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_GERRORN), GERROR_CMDQ_ERR);
	/* The next error toggles it back: active means GERROR != GERRORN, not a set bit. */
	raise_cmdq_error();
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_GERROR), 0, "toggled 1 -> 0");
	cr_assert(rig_gerror_active(&rig, GERROR_CMDQ_ERR));
	fix_and_ack();
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_GERRORN), 0);

	/* GERRORN keeps only the architected error bits. */
	rig_wr32(&rig, ARM_SMMU_GERRORN, 0xffffffff);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_GERRORN), (u32)GERROR_ERR_MASK);
	cr_assert_eq(rig_stats(&rig).cmd_errors, 2);
}

Test(vsmmu_regs, gerror_interrupt_wired_msi_and_msi_abort)
{
	u64 msi = RIG_SCRATCH + 0x100;

	/* IRQEN off: the error is recorded, no interrupt. */
	raise_cmdq_error();
	cr_assert_eq(rig.fh.spi_raises[RIG_SPI_GERROR], 0);
	cr_assert_eq(fake_hv_count(&rig.fh, FAKE_SIGNAL_MSI), 0);
	fix_and_ack();

	/* IRQEN, no MSI address: the wired gerror SPI is pulsed (edge: raised and lowered). */
	rig_wr32(&rig, ARM_SMMU_IRQ_CTRL, IRQ_CTRL_GERROR_IRQEN);
	raise_cmdq_error();
	cr_assert_eq(rig.fh.spi_raises[RIG_SPI_GERROR], 1);
	cr_assert_not(rig.fh.spi_level[RIG_SPI_GERROR]);
	fix_and_ack();

	/* MSI address in guest RAM: GERROR_IRQ_CFG1 written there as 32 bits, no SPI. */
	rig_put64(&rig, msi, 0x1111111111111111ULL);
	rig_wr64(&rig, ARM_SMMU_GERROR_IRQ_CFG0, msi);
	rig_wr32(&rig, ARM_SMMU_GERROR_IRQ_CFG1, 0xcafe0001);
	raise_cmdq_error();
	cr_assert_eq(rig_get64(&rig, msi), 0x11111111cafe0001ULL, "a 32-bit write, little-endian");
	cr_assert_eq(rig.fh.spi_raises[RIG_SPI_GERROR], 1);
	fix_and_ack();

	/* MSI address = the vITS doorbell: an MSI from the vSMMU's own device id. */
	rig_wr64(&rig, ARM_SMMU_GERROR_IRQ_CFG0, RIG_DOORBELL);
	rig_wr32(&rig, ARM_SMMU_GERROR_IRQ_CFG1, 7);
	raise_cmdq_error();
	const struct fake_hv_call *c = fake_hv_last(&rig.fh, FAKE_SIGNAL_MSI);
	cr_assert_not_null(c);
	cr_assert_eq(c->addr, RIG_DOORBELL);
	cr_assert_eq(c->data, 7);
	cr_assert_eq(c->devid, RIG_DEVID);
	cr_assert_eq(rig_get64(&rig, msi), 0x11111111cafe0001ULL, "nothing written to RAM");
	fix_and_ack();

	/* Neither RAM nor the doorbell: the MSI aborts, MSI_GERROR_ABT_ERR is raised too. */
	rig_wr64(&rig, ARM_SMMU_GERROR_IRQ_CFG0, 0x1000);
	raise_cmdq_error();
	cr_assert(rig_gerror_active(&rig, GERROR_CMDQ_ERR));
	cr_assert(rig_gerror_active(&rig, GERROR_MSI_GERROR_ABT_ERR));
	cr_assert_eq(fake_hv_count(&rig.fh, FAKE_SIGNAL_MSI), 1);
	fix_and_ack();
}

/* ---- 64-bit registers ---- */

struct reg64_case {
	u64 off;
	u64 mask;
};

static const struct reg64_case regs64[] = {
	{ ARM_SMMU_GERROR_IRQ_CFG0, MSI_CFG0_ADDR_MASK },
	{ ARM_SMMU_STRTAB_BASE, STRTAB_BASE_RA | STRTAB_BASE_ADDR_MASK },
	{ ARM_SMMU_CMDQ_BASE, Q_BASE_RWA | Q_BASE_ADDR_MASK | Q_BASE_LOG2SIZE },
	{ ARM_SMMU_EVTQ_BASE, Q_BASE_RWA | Q_BASE_ADDR_MASK | Q_BASE_LOG2SIZE },
	{ ARM_SMMU_EVTQ_IRQ_CFG0, MSI_CFG0_ADDR_MASK },
};

Test(vsmmu_regs, registers_64bit_whole_and_as_halves)
{
	for (size_t i = 0; i < ARRAY_SIZE(regs64); i++) {
		u64 off = regs64[i].off, m = regs64[i].mask;
		u64 v = 0x123456789abcdef7ULL;

		/* Whole: the mask applies, both halves read back. */
		rig_wr64(&rig, off, ~0ULL);
		cr_assert_eq(rig_rd64(&rig, off), m, "0x%llx: 0x%llx", (unsigned long long)off,
			     (unsigned long long)rig_rd64(&rig, off));
		cr_assert_eq(rig_rd32(&rig, off), (u32)m);
		cr_assert_eq(rig_rd32(&rig, off + 4), (u32)(m >> 32));
		/* Halves: each write changes only its half. */
		rig_wr64(&rig, off, 0);
		rig_wr32(&rig, off + 4, (u32)(v >> 32));
		cr_assert_eq(rig_rd64(&rig, off), (v & m) & GENMASK(63, 32));
		rig_wr32(&rig, off, (u32)v);
		cr_assert_eq(rig_rd64(&rig, off), v & m);
		rig_wr32(&rig, off, 0);
		cr_assert_eq(rig_rd64(&rig, off), v & m & GENMASK(63, 32), "low half cleared, high half kept");
		rig_wr64(&rig, off, 0);
	}
}

Test(vsmmu_regs, bases_are_ignored_while_enabled)
{
	u64 st = RIG_STRTAB | STRTAB_BASE_RA, cq = RIG_CMDQ | 4, eq = RIG_SCRATCH | 4;

	rig_wr64(&rig, ARM_SMMU_STRTAB_BASE, st);
	rig_wr32(&rig, ARM_SMMU_STRTAB_BASE_CFG, 8);
	rig_wr64(&rig, ARM_SMMU_CMDQ_BASE, cq);
	rig_wr64(&rig, ARM_SMMU_EVTQ_BASE, eq);
	rig_wr32(&rig, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD, 3);

	rig_cr0(&rig, CR0_SMMUEN | CR0_CMDQEN | CR0_EVTQEN);
	rig_wr64(&rig, ARM_SMMU_STRTAB_BASE, 0x123000);
	rig_wr32(&rig, ARM_SMMU_STRTAB_BASE + 4, 0x1);
	rig_wr32(&rig, ARM_SMMU_STRTAB_BASE_CFG, 0x10010);
	rig_wr64(&rig, ARM_SMMU_CMDQ_BASE, 0x456000);
	rig_wr32(&rig, ARM_SMMU_CMDQ_BASE, 0x7);
	rig_wr32(&rig, ARM_SMMU_CMDQ_CONS, 5);
	rig_wr64(&rig, ARM_SMMU_EVTQ_BASE, 0x789000);
	rig_wr32(&rig, ARM_SMMU_EVTQ_BASE + 4, 0x1);
	rig_wr32(&rig, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD, 9);
	cr_assert_eq(rig_rd64(&rig, ARM_SMMU_STRTAB_BASE), st);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_STRTAB_BASE_CFG), 8);
	cr_assert_eq(rig_rd64(&rig, ARM_SMMU_CMDQ_BASE), cq);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_CMDQ_CONS), 0);
	cr_assert_eq(rig_rd64(&rig, ARM_SMMU_EVTQ_BASE), eq);
	cr_assert_eq(rig_rd32(&rig, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD), 3);
	/* The MSI configuration registers are not bases: writable while enabled. */
	rig_wr64(&rig, ARM_SMMU_EVTQ_IRQ_CFG0, RIG_DOORBELL);
	cr_assert_eq(rig_rd64(&rig, ARM_SMMU_EVTQ_IRQ_CFG0), RIG_DOORBELL);

	/* Each base follows its own enable: the command queue base is writable again with CMDQEN off
	 * while SMMUEN stays on and keeps the stream table base locked. */
	rig_cr0(&rig, CR0_SMMUEN | CR0_EVTQEN);
	rig_wr64(&rig, ARM_SMMU_CMDQ_BASE, 0x456004);
	rig_wr32(&rig, ARM_SMMU_CMDQ_CONS, 5);
	rig_wr64(&rig, ARM_SMMU_STRTAB_BASE, 0x123000);
	cr_assert_eq(rig_rd64(&rig, ARM_SMMU_CMDQ_BASE), 0x456004);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_CMDQ_CONS), 5);
	cr_assert_eq(rig_rd64(&rig, ARM_SMMU_STRTAB_BASE), st);
	rig_cr0(&rig, 0);
	rig_wr64(&rig, ARM_SMMU_STRTAB_BASE, 0x123000);
	rig_wr32(&rig, ARM_SMMU_STRTAB_BASE_CFG, 0x10010);
	rig_wr64(&rig, ARM_SMMU_EVTQ_BASE, 0x789004);
	rig_wr32(&rig, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD, 9);
	cr_assert_eq(rig_rd64(&rig, ARM_SMMU_STRTAB_BASE), 0x123000);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_STRTAB_BASE_CFG), 0x10010);
	cr_assert_eq(rig_rd64(&rig, ARM_SMMU_EVTQ_BASE), 0x789004);
	cr_assert_eq(rig_rd32(&rig, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD), 9);
}

Test(vsmmu_regs, queue_pointers_masked_to_the_queue_size)
{
	/* STRTAB_BASE_CFG keeps FMT, SPLIT, LOG2SIZE only. */
	rig_wr32(&rig, ARM_SMMU_STRTAB_BASE_CFG, 0xffffffff);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_STRTAB_BASE_CFG), 0x307ff);
	/* A 16-entry event queue: index bits 3:0, wrap bit 4, and the overflow flag. */
	rig_wr64(&rig, ARM_SMMU_EVTQ_BASE, RIG_SCRATCH | 4);
	rig_wr32(&rig, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD, 0xffffffff);
	rig_wr32(&rig, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_CONS, 0xffffffff);
	cr_assert_eq(rig_rd32(&rig, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD), 0x8000001f);
	cr_assert_eq(rig_rd32(&rig, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_CONS), 0x8000001f);
	/* LOG2SIZE beyond IDR1.EVTQS is capped at 12: 13 pointer bits. */
	rig_wr64(&rig, ARM_SMMU_EVTQ_BASE, RIG_SCRATCH | 31);
	rig_wr32(&rig, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_CONS, 0x7fffffff);
	cr_assert_eq(rig_rd32(&rig, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_CONS), 0x1fff);
	/* An 8-entry command queue: PROD keeps index and wrap (written while CMDQEN is off: nothing runs). */
	rig_wr64(&rig, ARM_SMMU_CMDQ_BASE, RIG_CMDQ | 3);
	rig_wr32(&rig, ARM_SMMU_CMDQ_PROD, 0xffffffff);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_CMDQ_PROD), 0xf);
	rig_wr32(&rig, ARM_SMMU_CMDQ_CONS, 0x00ffff0d);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_CMDQ_CONS), 0xd);
	cr_assert_eq(rig_stats(&rig).inv_ioctls, 0);
}

Test(vsmmu_regs, event_queue_pointers_live_in_page1)
{
	rig_wr64(&rig, ARM_SMMU_EVTQ_BASE, RIG_SCRATCH | 8);
	rig_wr32(&rig, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_CONS, 0x23);
	cr_assert_eq(rig_rd32(&rig, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_CONS), 0x23);
	/* Page 0's offsets of the same name are reserved. */
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_EVTQ_CONS), 0);
	rig_wr32(&rig, ARM_SMMU_EVTQ_CONS, 0x45);
	rig_wr32(&rig, ARM_SMMU_EVTQ_PROD, 0x45);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_EVTQ_CONS), 0);
	cr_assert_eq(rig_rd32(&rig, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_CONS), 0x23);
	cr_assert_eq(rig_rd32(&rig, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD), 0);
	/* And page 1 holds nothing but the queue pointers. */
	cr_assert_eq(rig_rd32(&rig, SMMU_PAGE_SIZE + ARM_SMMU_CR0), 0);
	rig_wr32(&rig, SMMU_PAGE_SIZE + ARM_SMMU_CR0, CR0_SMMUEN);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_CR0), 0);
}

/* ---- reserved offsets and access sizes ---- */

Test(vsmmu_regs, reserved_offsets_raz_wi)
{
	/* Reserved, STATUSR, AGBPA, PRIQ (absent), the rest of both pages. */
	static const u64 rsvd[] = {
		0x30, 0x34, 0x38, 0x3c, ARM_SMMU_STATUSR, ARM_SMMU_AGBPA, 0x4c, 0x58, 0x5c, 0x78, 0x7c, 0x8c,
		ARM_SMMU_EVTQ_PROD, ARM_SMMU_EVTQ_CONS, ARM_SMMU_PRIQ_BASE, ARM_SMMU_PRIQ_BASE + 4, 0xc8, 0xcc, 0xd0,
		0xd4, 0xd8, 0xdc, 0xe0, 0x100, 0xdfc, 0xe00, 0xfd0, 0x1000, 0x8000, 0xfffc, SMMU_PAGE_SIZE,
		SMMU_PAGE_SIZE + 0x80, SMMU_PAGE_SIZE + ARM_SMMU_PRIQ_PROD, SMMU_PAGE_SIZE + ARM_SMMU_PRIQ_CONS,
		SMMU_PAGE_SIZE + 0xb0, SMMU_FRAME_SIZE - 8, SMMU_FRAME_SIZE - 4,
	};
	u32 before[ARRAY_SIZE(state_regs)], after[ARRAY_SIZE(state_regs)];

	/* Some non-zero state to compare against. */
	rig_wr32(&rig, ARM_SMMU_CR1, 0x5a5);
	rig_wr64(&rig, ARM_SMMU_STRTAB_BASE, RIG_STRTAB);
	rig_wr64(&rig, ARM_SMMU_CMDQ_BASE, RIG_CMDQ | 5);
	rig_wr32(&rig, ARM_SMMU_GERROR_IRQ_CFG1, 0x77);
	snapshot(before);
	for (size_t i = 0; i < ARRAY_SIZE(rsvd); i++) {
		u64 off = rsvd[i];

		cr_assert_eq(rig_rd32(&rig, off), 0, "0x%llx reads as zero", (unsigned long long)off);
		rig_wr32(&rig, off, 0xffffffff);
		cr_assert_eq(rig_rd32(&rig, off), 0, "0x%llx ignores writes", (unsigned long long)off);
		if (!(off & 7)) {
			cr_assert_eq(rig_rd64(&rig, off), 0);
			rig_wr64(&rig, off, ~0ULL);
			cr_assert_eq(rig_rd64(&rig, off), 0);
		}
	}
	snapshot(after);
	for (size_t i = 0; i < ARRAY_SIZE(state_regs); i++)
		cr_assert_eq(after[i], before[i], "register 0x%llx changed", (unsigned long long)state_regs[i]);
	cr_assert_eq(rig_cfg_of(&rig, 0), STE_CFG_BYPASS);
}

Test(vsmmu_regs, eight_byte_access_to_32bit_registers_is_ignored)
{
	u32 before[ARRAY_SIZE(state_regs)], after[ARRAY_SIZE(state_regs)];
	static const u64 pairs[] = { ARM_SMMU_IDR0, ARM_SMMU_CR0, ARM_SMMU_CR1, ARM_SMMU_GBPA - 4, ARM_SMMU_IRQ_CTRL,
				     ARM_SMMU_GERROR, ARM_SMMU_GERROR_IRQ_CFG1, ARM_SMMU_CMDQ_PROD,
				     ARM_SMMU_EVTQ_IRQ_CFG1, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD };

	rig_wr64(&rig, ARM_SMMU_CMDQ_BASE, RIG_CMDQ | 4);
	snapshot(before);
	for (size_t i = 0; i < ARRAY_SIZE(pairs); i++) {
		rig_wr64(&rig, pairs[i], 0x0000000d0000000dULL | GBPA_UPDATE | ((u64)GBPA_UPDATE << 32));
		cr_assert_eq(rig_rd64(&rig, pairs[i]), 0, "0x%llx: an 8-byte read of 32-bit registers",
			     (unsigned long long)pairs[i]);
	}
	snapshot(after);
	for (size_t i = 0; i < ARRAY_SIZE(state_regs); i++)
		cr_assert_eq(after[i], before[i], "register 0x%llx changed", (unsigned long long)state_regs[i]);
	/* The 32-bit registers still hold their values; only the 8-byte access reads as zero. */
	rig_cr0(&rig, CR0_SMMUEN);
	cr_assert_eq(rig_rd64(&rig, ARM_SMMU_CR0), 0);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_CR0), CR0_SMMUEN);
	cr_assert_eq(rig_rd64(&rig, ARM_SMMU_IDR0), 0);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_IDR0), 0x0d40701a);
}
