/* test_vsmmu_garbage.c: a guest writing garbage to the vSMMU. On fixed seeds, a few thousand steps each of
 * 32- and 64-bit MMIO writes and reads at any offset of both pages (biased towards the real registers, with
 * values that are sometimes plausible: bases in or near guest RAM, queue pointers, GBPA updates, CR0 bits),
 * mixed with guest memory being rewritten (stream table entries of every kind, level-1 descriptors,
 * command queue entries from the legal and illegal vocabulary, random bytes), properly published command
 * batches (mostly legal commands), a driver that skips a failed command as Linux does or acknowledges
 * blindly, re-probes now and then, and host failures (HWPT alloc, attach, invalidate at an entry, vEVENTQ
 * alloc, SPI). After every step: no crash or sanitizer report, the registers' own rules (CR0ACK = CR0, GBPA's
 * UPDATE never seen, pointers within the queue sizes, GERROR bits architected only) and the fake iommufd's
 * object invariants (rig_check: one S2, one vIOMMU, a vDEVICE per stream, every device on a live nested
 * HWPT, no stage-1 HWPT leaked or shared, at most streams + 2 nested HWPTs); at the end the vSMMU's counters
 * agree with what the kernel fake saw, and vsmmu_destroy leaves only the rig's IOAS. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>
#include "tests/unit/vsmmu_rig.h"

/* The command queue the start state sets up: 256 entries at RIG_CMDQ. */
#define GQ_LOG2 8

static struct vsmmu_rig rig;

static void teardown(void)
{
	rig_fini(&rig);
}

TestSuite(vsmmu_garbage, .init = cr_redirect_stderr, .fini = teardown);

/* xorshift64*: reproducible per seed. */
struct prng {
	u64 s;
};

static u64 next(struct prng *p)
{
	p->s ^= p->s >> 12;
	p->s ^= p->s << 25;
	p->s ^= p->s >> 27;
	return p->s * 0x2545f4914f6cdd1dULL;
}

static u32 below(struct prng *p, u32 n)
{
	return (u32)(next(p) % n);
}

static const u64 reg_offsets[] = {
	ARM_SMMU_IDR0, ARM_SMMU_IDR1, ARM_SMMU_IDR5, ARM_SMMU_AIDR, ARM_SMMU_CR0, ARM_SMMU_CR0, ARM_SMMU_CR0,
	ARM_SMMU_CR0ACK, ARM_SMMU_CR1, ARM_SMMU_CR2, ARM_SMMU_STATUSR, ARM_SMMU_GBPA, ARM_SMMU_GBPA,
	ARM_SMMU_AGBPA, ARM_SMMU_IRQ_CTRL, ARM_SMMU_IRQ_CTRLACK, ARM_SMMU_GERROR, ARM_SMMU_GERRORN,
	ARM_SMMU_GERRORN, ARM_SMMU_GERROR_IRQ_CFG0, ARM_SMMU_GERROR_IRQ_CFG0 + 4, ARM_SMMU_GERROR_IRQ_CFG1,
	ARM_SMMU_GERROR_IRQ_CFG2, ARM_SMMU_STRTAB_BASE, ARM_SMMU_STRTAB_BASE + 4, ARM_SMMU_STRTAB_BASE_CFG,
	ARM_SMMU_CMDQ_BASE, ARM_SMMU_CMDQ_BASE + 4, ARM_SMMU_CMDQ_PROD, ARM_SMMU_CMDQ_PROD, ARM_SMMU_CMDQ_PROD,
	ARM_SMMU_CMDQ_CONS, ARM_SMMU_EVTQ_BASE, ARM_SMMU_EVTQ_BASE + 4, ARM_SMMU_EVTQ_PROD, ARM_SMMU_EVTQ_CONS,
	ARM_SMMU_EVTQ_IRQ_CFG0, ARM_SMMU_EVTQ_IRQ_CFG1, ARM_SMMU_EVTQ_IRQ_CFG2, ARM_SMMU_PRIQ_BASE,
	SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_CONS,
	SMMU_PAGE_SIZE + ARM_SMMU_PRIQ_PROD, SMMU_PAGE_SIZE + ARM_SMMU_PRIQ_CONS,
};

/* An address the guest might put in a base register. */
static u64 some_address(struct prng *p)
{
	static const u64 places[] = { RIG_STRTAB, RIG_CMDQ, RIG_EVTQ, RIG_L2, RIG_SCRATCH, RIG_CD };

	switch (below(p, 6)) {
	case 0:
		return next(p);
	case 1:
		return RIG_RAM + RIG_RAM_SIZE - (below(p, 64) << 6);
	case 2:
		return below(p, 0x10000) << 6;
	default:
		return places[below(p, ARRAY_SIZE(places))] + (below(p, 16) << 6);
	}
}

/* A value for a register write. */
static u64 some_value(struct prng *p, u64 off)
{
	switch (off) {
	case ARM_SMMU_CR0:
		return below(p, 32) | (below(p, 8) ? 0 : next(p) << 5);
	case ARM_SMMU_GBPA:
		return (below(p, 4) ? GBPA_UPDATE : 0) | (below(p, 2) ? GBPA_ABORT : 0) | (below(p, 8) ? 0 : next(p));
	case ARM_SMMU_GERRORN:
		return below(p, 4) ? rig_rd32(&rig, ARM_SMMU_GERROR) : next(p);
	case ARM_SMMU_STRTAB_BASE:
	case ARM_SMMU_CMDQ_BASE:
	case ARM_SMMU_EVTQ_BASE:
	case ARM_SMMU_GERROR_IRQ_CFG0:
	case ARM_SMMU_EVTQ_IRQ_CFG0:
		return below(p, 4) ? some_address(p) | below(p, 32) | (below(p, 2) ? BIT(62) : 0) : next(p);
	case ARM_SMMU_STRTAB_BASE_CFG: {
		static const u32 splits[] = { 6, 8, 10, 0, 7, 31 };

		return FIELD_PREP(STRTAB_BASE_CFG_FMT, below(p, 4) ? below(p, 2) : below(p, 4)) |
		       FIELD_PREP(STRTAB_BASE_CFG_SPLIT, splits[below(p, ARRAY_SIZE(splits))]) |
		       FIELD_PREP(STRTAB_BASE_CFG_LOG2SIZE, below(p, 4) ? 8 + below(p, 9) : below(p, 64));
	}
	case ARM_SMMU_CMDQ_PROD:
	case ARM_SMMU_CMDQ_CONS:
	case SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD:
	case SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_CONS:
		return below(p, 4) ? below(p, 0x2000) : next(p);
	}
	return below(p, 2) ? next(p) : below(p, 0x100);
}

/* A command from the vocabulary the vSMMU knows, legal or not, sometimes with garbage bits. */
static struct rig_cmd some_command(struct prng *p)
{
	u32 sid = below(p, 2) ? rig_vsid(below(p, rig.ndev)) : below(p, 0x10000);
	struct rig_cmd c;

	switch (below(p, 24)) {
	case 0: case 1: case 2: c = rig_cmd_cfgi_ste(sid); break;
	case 3: c = rig_cmd_cfgi_range(sid, below(p, 32)); break;
	case 4: c = rig_cmd_cfgi_all(); break;
	case 5: case 6: c = rig_cmd_cfgi_cd(sid); break;
	case 7: c = rig_cmd_cfgi_cd_all(sid); break;
	case 8: case 9: c = rig_cmd_tlbi_asid((u16)next(p)); break;
	case 10: case 11: case 12: c = rig_cmd_tlbi_va((u16)next(p), next(p), below(p, 2)); break;
	case 13: c = rig_cmd_tlbi_vaa(next(p)); break;
	case 14: c = rig_cmd_op(below(p, 2) ? CMDQ_OP_TLBI_NH_ALL : CMDQ_OP_TLBI_NSNH_ALL); break;
	case 15: c = rig_cmd_op(below(p, 2) ? CMDQ_OP_PREFETCH_CONFIG : CMDQ_OP_PREFETCH_ADDR); break;
	case 16: case 17: case 18: case 19:
		c = rig_cmd_sync(below(p, 3), below(p, 4) ? RIG_SCRATCH + 4 * below(p, 64) :
			     below(p, 2) ? RIG_DOORBELL : next(p), (u32)next(p));
		break;
	case 20: c = rig_cmd_op((u8)next(p)); break;
	case 21: c = (struct rig_cmd){ { next(p), next(p) } }; break;
	default: /* a legal one with a flipped bit */
		c = rig_cmd_tlbi_va((u16)next(p), next(p), true);
		c.w[below(p, 2)] ^= BIT(below(p, 64));
		break;
	}
	return c;
}

/* An STE of some kind for the linear table or a level-2 table. */
static void some_ste(struct prng *p, u64 gpa)
{
	u64 s0, s1 = below(p, 4) ? 0 : next(p);

	switch (below(p, 8)) {
	case 0: s0 = 0; break;
	case 1: s0 = rig_ste_cfg(STE_CFG_ABORT); break;
	case 2: s0 = rig_ste_cfg(STE_CFG_BYPASS); break;
	case 3: s0 = rig_ste_cfg(below(p, 8)) | (next(p) & STE_0_S1CTXPTR); break;
	case 4: s0 = next(p); break;
	default: s0 = rig_ste_s1(below(p, 8) ? rig_cd(below(p, 64)) : some_address(p)); break;
	}
	rig_ste_at(&rig, gpa, s0, s1);
}

static void mutate_memory(struct prng *p)
{
	switch (below(p, 6)) {
	case 0:
	case 1: {
		u32 sid = below(p, 3) ? rig_vsid(below(p, rig.ndev)) : below(p, 256);

		some_ste(p, (below(p, 2) ? RIG_STRTAB : RIG_L2) + (u64)sid * STRTAB_STE_SIZE);
		break;
	}
	case 2: /* a level-1 descriptor */
		rig_put64(&rig, RIG_STRTAB + 8ULL * below(p, 4),
			  (below(p, 2) ? RIG_L2 : some_address(p) & STRTAB_L1_DESC_L2PTR) | below(p, 32));
		break;
	case 3:
	case 4: { /* a command queue entry */
		struct rig_cmd c = some_command(p);
		u64 gpa = RIG_CMDQ + 16ULL * below(p, 1u << GQ_LOG2);

		rig_put64(&rig, gpa, c.w[0]);
		rig_put64(&rig, gpa + 8, c.w[1]);
		break;
	}
	default: /* anything, anywhere in the vSMMU's structures */
		rig_put64(&rig, RIG_RAM + 8ULL * below(p, (u32)(RIG_SCRATCH - RIG_RAM) / 8), next(p));
		break;
	}
}

/* A batch published the way a driver does: commands at PROD (as the register holds it), then PROD. */
static void publish(struct prng *p)
{
	u64 base = rig_rd64(&rig, ARM_SMMU_CMDQ_BASE);
	unsigned int log2 = (unsigned int)MIN(FIELD_GET(Q_BASE_LOG2SIZE, base), 12);
	u64 q = base & Q_BASE_ADDR_MASK;
	u32 prod = rig_rd32(&rig, ARM_SMMU_CMDQ_PROD), n = 1 + below(p, 8);

	for (u32 i = 0; i < n; i++) {
		u64 gpa = q + 16ULL * (prod & ((1u << log2) - 1));
		struct rig_cmd c = some_command(p);

		if (gmem_contains(&rig.mem, gpa, 16)) {
			rig_put64(&rig, gpa, c.w[0]);
			rig_put64(&rig, gpa + 8, c.w[1]);
		}
		prod = (prod + 1) & ((2u << log2) - 1);
	}
	rig_wr32(&rig, ARM_SMMU_CMDQ_PROD, prod);
}

/* What Linux does on GERROR.CMDQ_ERR (arm_smmu_cmdq_skip_err): a CMD_SYNC over the command at CONS, then
 * the acknowledgement. */
static void skip_error(void)
{
	u64 base = rig_rd64(&rig, ARM_SMMU_CMDQ_BASE);
	unsigned int log2 = (unsigned int)MIN(FIELD_GET(Q_BASE_LOG2SIZE, base), 12);
	u64 gpa = (base & Q_BASE_ADDR_MASK) + 16ULL * (rig_cons(&rig) & ((1u << log2) - 1));
	struct rig_cmd sync = rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0);

	if (!rig_gerror_active(&rig, GERROR_CMDQ_ERR))
		return;
	if (gmem_contains(&rig.mem, gpa, 16)) {
		rig_put64(&rig, gpa, sync.w[0]);
		rig_put64(&rig, gpa + 8, sync.w[1]);
	}
	rig_gerror_ack(&rig);
}

/* The guest's driver starting over: everything off, sane bases, everything on (some state stays garbage:
 * the STEs, the queue contents, GBPA, the MSI registers). */
static void reprobe(struct prng *p)
{
	rig_cr0(&rig, 0);
	rig_gerror_ack(&rig);
	rig_strtab_linear(&rig);
	rig_evtq(&rig, 2 + below(p, 8));
	rig_cmdq(&rig, GQ_LOG2);
	rig_cr0(&rig, CR0_SMMUEN | CR0_CMDQEN | (below(p, 2) ? CR0_EVTQEN : 0));
}

static void host_failure(struct prng *p)
{
	switch (below(p, 5)) {
	case 0: rig.fi.fail_hwpt_alloc = below(p, 2) ? -EIO : -ENOMEM; break;
	case 1: rig.fv[below(p, rig.ndev)].fail_attach = -EBUSY; break;
	case 2:
		rig.fi.fail_invalidate = -EIO;
		rig.fi.fail_invalidate_at = below(p, 4);
		break;
	case 3: rig.fi.fail_veventq_alloc = -ENOMEM; break;
	default: rig.fh.fail_irq_line = -EIO; break;
	}
}

static void mmio(struct prng *p)
{
	bool targeted = below(p, 3) != 0, wide = below(p, 4) == 0;
	u64 off;

	if (targeted)
		off = reg_offsets[below(p, ARRAY_SIZE(reg_offsets))];
	else
		off = (u64)below(p, (u32)SMMU_FRAME_SIZE / 4) * 4;
	if (wide)
		off &= ~7ULL;
	if (below(p, 5) == 0) {
		(void)(wide ? rig_rd64(&rig, off) : rig_rd32(&rig, off));
		return;
	}
	if (wide)
		rig_wr64(&rig, off, some_value(p, off));
	else
		rig_wr32(&rig, off, (u32)some_value(p, off));
}

/* What the registers themselves promise whatever was written. */
static void check_registers(void)
{
	u32 cr0 = rig_rd32(&rig, ARM_SMMU_CR0);

	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_CR0ACK), cr0);
	cr_assert_eq(cr0 & ~(u32)(CR0_SMMUEN | CR0_EVTQEN | CR0_CMDQEN), 0);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_GBPA) & GBPA_UPDATE, 0);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_IRQ_CTRLACK), rig_rd32(&rig, ARM_SMMU_IRQ_CTRL));
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_GERROR) & ~(u32)GERROR_ERR_MASK, 0);
	cr_assert_lt(rig_rd32(&rig, ARM_SMMU_CMDQ_PROD), 2u << 12);
	cr_assert_lt(rig_rd32(&rig, ARM_SMMU_CMDQ_CONS) & ~(u32)CMDQ_CONS_ERR, 2u << 12);
	cr_assert_lt(rig_rd32(&rig, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD) & ~(u32)Q_OVERFLOW_FLAG, 2u << 12);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_IDR0), 0x0d40701a);
}

static void run_seed(u64 seed, unsigned int steps)
{
	struct prng p = { seed * 0x9e3779b97f4a7c15ULL + 1 };
	struct vsmmu_stats st;
	unsigned int done = 0;

	rig_up(&rig, 3);
	/* A sensible start the garbage then takes apart: a populated table, queues in RAM. */
	rig_strtab_linear(&rig);
	for (unsigned int i = 0; i < rig.ndev; i++)
		rig_ste(&rig, rig_vsid(i), rig_ste_s1(rig_cd(i)), 0);
	rig_evtq(&rig, 6);
	rig_cmdq(&rig, GQ_LOG2);
	rig_cr0(&rig, CR0_SMMUEN | CR0_CMDQEN | CR0_EVTQEN);
	rig_check(&rig);

	/* Object ids are never reused by the fake: stop before it runs out (not a vSMMU limit). */
	for (; done < steps && rig.fi.next_id < FAKE_IOMMUFD_MAX_OBJS - 16; done++) {
		u32 what = below(&p, 100);

		if (what < 40)
			mmio(&p);
		else if (what < 58)
			mutate_memory(&p);
		else if (what < 80)
			publish(&p);
		else if (what < 88)
			skip_error();
		else if (what < 91)
			rig_gerror_ack(&rig);
		else if (what < 93)
			reprobe(&p);
		else
			host_failure(&p);
		check_registers();
		rig_check(&rig);
	}
	cr_assert_geq(done, steps / 2, "seed %llu: only %u steps", (unsigned long long)seed, done);
	/* The counters agree with what the kernel saw. */
	st = rig_stats(&rig);
	cr_assert_eq(st.inv_ioctls, rig.fi.inv_calls, "seed %llu", (unsigned long long)seed);
	cr_assert_eq(st.inv_cmds, rig.fi.inv_cmds_accepted, "seed %llu", (unsigned long long)seed);
	rig_destroy_and_check(&rig);
	rig_fini(&rig);
}

Test(vsmmu_garbage, seeds_1_to_4, .timeout = 60)
{
	for (u64 seed = 1; seed <= 4; seed++)
		run_seed(seed, 2500);
}

Test(vsmmu_garbage, seeds_5_to_8, .timeout = 60)
{
	for (u64 seed = 5; seed <= 8; seed++)
		run_seed(seed, 2500);
}
