/* vsmmu_garbage.c: a guest writing garbage to the vSMMU (see vsmmu_garbage.h). The choices come from a seeded
 * xorshift (unit tests) or from a fuzzer's input, as few bytes per choice as its range needs. */
#include <stdlib.h>
#include <string.h>
#include "tests/unit/rig_assert.h"
#include "tests/unit/vsmmu_garbage.h"

/* The command queue the start state sets up: 256 entries at RIG_CMDQ. */
#define GQ_LOG2 8

/* ---- choices ---- */

static u64 data_bytes(struct vg *g, unsigned int n)
{
	u64 v = 0;

	for (unsigned int i = 0; i < n; i++) {
		if (g->pos >= g->len) {
			g->exhausted = true;
			break;
		}
		v |= (u64)g->data[g->pos++] << (8 * i);
	}
	return v;
}

/* 64 random bits: xorshift64* (reproducible per seed), or 8 input bytes. */
static u64 next(struct vg *g)
{
	if (g->data)
		return data_bytes(g, 8);
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 0x2545f4914f6cdd1dULL;
}

/* A choice in [0, n): from input bytes, only as many as n needs (so a fuzzer's byte is one decision). */
static u32 below(struct vg *g, u32 n)
{
	if (!n)
		return 0;
	if (g->data)
		return (u32)(data_bytes(g, n <= 0x100 ? 1 : n <= 0x10000 ? 2 : 4) % n);
	return (u32)(next(g) % n);
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
static u64 some_address(struct vg *g)
{
	static const u64 places[] = { RIG_STRTAB, RIG_CMDQ, RIG_EVTQ, RIG_L2, RIG_SCRATCH, RIG_CD };

	switch (below(g, 6)) {
	case 0:
		return next(g);
	case 1:
		return RIG_RAM + RIG_RAM_SIZE - (below(g, 64) << 6);
	case 2:
		return below(g, 0x10000) << 6;
	default:
		return places[below(g, ARRAY_SIZE(places))] + (below(g, 16) << 6);
	}
}

/* A value for a register write. */
static u64 some_value(struct vg *g, u64 off)
{
	switch (off) {
	case ARM_SMMU_CR0: {
		u64 low = below(g, 32);

		return low | (below(g, 8) ? 0 : next(g) << 5);
	}
	case ARM_SMMU_GBPA: {
		u64 update = below(g, 4) ? GBPA_UPDATE : 0, abrt = below(g, 2) ? GBPA_ABORT : 0;

		return update | abrt | (below(g, 8) ? 0 : next(g));
	}
	case ARM_SMMU_GERRORN:
		return below(g, 4) ? rig_rd32(&g->rig, ARM_SMMU_GERROR) : next(g);
	case ARM_SMMU_STRTAB_BASE:
	case ARM_SMMU_CMDQ_BASE:
	case ARM_SMMU_EVTQ_BASE:
	case ARM_SMMU_GERROR_IRQ_CFG0:
	case ARM_SMMU_EVTQ_IRQ_CFG0:
		if (below(g, 4)) {
			u64 a = some_address(g), lo = below(g, 32);

			return a | lo | (below(g, 2) ? BIT(62) : 0);
		}
		return next(g);
	case ARM_SMMU_STRTAB_BASE_CFG: {
		static const u32 splits[] = { 6, 8, 10, 0, 7, 31 };

		u32 fmt = below(g, 4) ? below(g, 2) : below(g, 4);
		u32 split = splits[below(g, ARRAY_SIZE(splits))];
		u32 log2 = below(g, 4) ? 8 + below(g, 9) : below(g, 64);

		return FIELD_PREP(STRTAB_BASE_CFG_FMT, fmt) | FIELD_PREP(STRTAB_BASE_CFG_SPLIT, split) |
		       FIELD_PREP(STRTAB_BASE_CFG_LOG2SIZE, log2);
	}
	case ARM_SMMU_CMDQ_PROD:
	case ARM_SMMU_CMDQ_CONS:
	case SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD:
	case SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_CONS:
		return below(g, 4) ? below(g, 0x2000) : next(g);
	}
	return below(g, 2) ? next(g) : below(g, 0x100);
}

/* A command from the vocabulary the vSMMU knows, legal or not, sometimes with garbage bits. Every choice is
 * taken in its own statement: C leaves the order of a call's arguments (and of | operands) open, and gcc (make
 * unit) and clang (make fuzz) must read a fuzzer's input in the same order. */
static struct rig_cmd some_command(struct vg *g)
{
	u32 sid = below(g, 2) ? rig_vsid(below(g, g->rig.ndev)) : below(g, 0x10000);
	struct rig_cmd c;
	u64 a, b;
	u32 x, y;

	switch (below(g, 24)) {
	case 0: case 1: case 2: c = rig_cmd_cfgi_ste(sid); break;
	case 3: c = rig_cmd_cfgi_range(sid, below(g, 32)); break;
	case 4: c = rig_cmd_cfgi_all(); break;
	case 5: case 6: c = rig_cmd_cfgi_cd(sid); break;
	case 7: c = rig_cmd_cfgi_cd_all(sid); break;
	case 8: case 9: c = rig_cmd_tlbi_asid((u16)next(g)); break;
	case 10: case 11: case 12:
		a = next(g);
		b = next(g);
		c = rig_cmd_tlbi_va((u16)a, b, below(g, 2));
		break;
	case 13: c = rig_cmd_tlbi_vaa(next(g)); break;
	case 14: c = rig_cmd_op(below(g, 2) ? CMDQ_OP_TLBI_NH_ALL : CMDQ_OP_TLBI_NSNH_ALL); break;
	case 15: c = rig_cmd_op(below(g, 2) ? CMDQ_OP_PREFETCH_CONFIG : CMDQ_OP_PREFETCH_ADDR); break;
	case 16: case 17: case 18: case 19:
		x = below(g, 3);
		a = below(g, 4) ? RIG_SCRATCH + 4 * below(g, 64) : below(g, 2) ? RIG_DOORBELL : next(g);
		c = rig_cmd_sync(x, a, (u32)next(g));
		break;
	case 20: c = rig_cmd_op((u8)next(g)); break;
	case 21:
		a = next(g);
		c = (struct rig_cmd){ { a, next(g) } };
		break;
	default: /* a legal one with a flipped bit */
		a = next(g);
		c = rig_cmd_tlbi_va((u16)a, next(g), true);
		x = below(g, 2);
		y = below(g, 64);
		c.w[x] ^= BIT(y);
		break;
	}
	return c;
}

/* An STE of some kind for the linear table or a level-2 table. */
static void some_ste(struct vg *g, u64 gpa)
{
	u64 s0, s1 = below(g, 4) ? 0 : next(g);

	switch (below(g, 8)) {
	case 0: s0 = 0; break;
	case 1: s0 = rig_ste_cfg(STE_CFG_ABORT); break;
	case 2: s0 = rig_ste_cfg(STE_CFG_BYPASS); break;
	case 3:
		s0 = rig_ste_cfg(below(g, 8));
		s0 |= next(g) & STE_0_S1CTXPTR;
		break;
	case 4: s0 = next(g); break;
	default: s0 = rig_ste_s1(below(g, 8) ? rig_cd(below(g, 64)) : some_address(g)); break;
	}
	rig_ste_at(&g->rig, gpa, s0, s1);
}

static void mutate_memory(struct vg *g)
{
	switch (below(g, 6)) {
	case 0:
	case 1: {
		u32 sid = below(g, 3) ? rig_vsid(below(g, g->rig.ndev)) : below(g, 256);

		some_ste(g, (below(g, 2) ? RIG_STRTAB : RIG_L2) + (u64)sid * STRTAB_STE_SIZE);
		break;
	}
	case 2: { /* a level-1 descriptor */
		u64 gpa = RIG_STRTAB + 8ULL * below(g, 4), l2 = below(g, 2) ? RIG_L2 : some_address(g) & STRTAB_L1_DESC_L2PTR;

		rig_put64(&g->rig, gpa, l2 | below(g, 32));
		break;
	}
	case 3:
	case 4: { /* a command queue entry */
		struct rig_cmd c = some_command(g);
		u64 gpa = RIG_CMDQ + 16ULL * below(g, 1u << GQ_LOG2);

		rig_put64(&g->rig, gpa, c.w[0]);
		rig_put64(&g->rig, gpa + 8, c.w[1]);
		break;
	}
	default: { /* anything, anywhere in the vSMMU's structures */
		u64 gpa = RIG_RAM + 8ULL * below(g, (u32)(RIG_SCRATCH - RIG_RAM) / 8);

		rig_put64(&g->rig, gpa, next(g));
		break;
	}
	}
}

/* A batch published the way a driver does: commands at PROD (as the register holds it), then PROD. */
static void publish(struct vg *g)
{
	u64 base = rig_rd64(&g->rig, ARM_SMMU_CMDQ_BASE);
	unsigned int log2 = (unsigned int)MIN(FIELD_GET(Q_BASE_LOG2SIZE, base), 12);
	u64 q = base & Q_BASE_ADDR_MASK;
	u32 prod = rig_rd32(&g->rig, ARM_SMMU_CMDQ_PROD), n = 1 + below(g, 8);

	for (u32 i = 0; i < n; i++) {
		u64 gpa = q + 16ULL * (prod & ((1u << log2) - 1));
		struct rig_cmd c = some_command(g);

		if (gmem_contains(&g->rig.mem, gpa, 16)) {
			rig_put64(&g->rig, gpa, c.w[0]);
			rig_put64(&g->rig, gpa + 8, c.w[1]);
		}
		prod = (prod + 1) & ((2u << log2) - 1);
	}
	rig_wr32(&g->rig, ARM_SMMU_CMDQ_PROD, prod);
}

/* What Linux does on GERROR.CMDQ_ERR (arm_smmu_cmdq_skip_err): a CMD_SYNC over the command at CONS, then
 * the acknowledgement. */
static void skip_error(struct vg *g)
{
	u64 base = rig_rd64(&g->rig, ARM_SMMU_CMDQ_BASE);
	unsigned int log2 = (unsigned int)MIN(FIELD_GET(Q_BASE_LOG2SIZE, base), 12);
	u64 gpa = (base & Q_BASE_ADDR_MASK) + 16ULL * (rig_cons(&g->rig) & ((1u << log2) - 1));
	struct rig_cmd sync = rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0);

	if (!rig_gerror_active(&g->rig, GERROR_CMDQ_ERR))
		return;
	if (gmem_contains(&g->rig.mem, gpa, 16)) {
		rig_put64(&g->rig, gpa, sync.w[0]);
		rig_put64(&g->rig, gpa + 8, sync.w[1]);
	}
	rig_gerror_ack(&g->rig);
}

/* The guest's driver starting over: everything off, sane bases, everything on (some state stays garbage:
 * the STEs, the queue contents, GBPA, the MSI registers). */
static void reprobe(struct vg *g)
{
	rig_cr0(&g->rig, 0);
	rig_gerror_ack(&g->rig);
	rig_strtab_linear(&g->rig);
	rig_evtq(&g->rig, 2 + below(g, 8));
	rig_cmdq(&g->rig, GQ_LOG2);
	rig_cr0(&g->rig, CR0_SMMUEN | CR0_CMDQEN | (below(g, 2) ? CR0_EVTQEN : 0));
}

static void host_failure(struct vg *g)
{
	switch (below(g, 5)) {
	case 0: g->rig.fi.fail_hwpt_alloc = below(g, 2) ? -EIO : -ENOMEM; break;
	case 1: g->rig.fv[below(g, g->rig.ndev)].fail_attach = -EBUSY; break;
	case 2: {
		/* One of the ways the kernel fails an invalidation, with the errno it gives there. */
		static const int err[] = { [FAKE_INV_FAIL_EARLY] = -EINVAL, [FAKE_INV_FAIL_ALLOC] = -ENOMEM,
					   [FAKE_INV_FAIL_ISSUE] = -ETIMEDOUT, [FAKE_INV_FAIL_REFUSE] = -EIO };
		u32 where = below(g, 4);

		g->rig.fi.fail_invalidate_where = (enum fake_inv_fail)where;
		g->rig.fi.fail_invalidate = err[where];
		g->rig.fi.fail_invalidate_at = below(g, 4);
		break;
	}
	case 3: g->rig.fi.fail_veventq_alloc = -ENOMEM; break;
	default: g->rig.fh.fail_irq_line = -EIO; break;
	}
}

static void mmio(struct vg *g)
{
	bool targeted = below(g, 3) != 0, wide = below(g, 4) == 0;
	u64 off;

	if (targeted)
		off = reg_offsets[below(g, ARRAY_SIZE(reg_offsets))];
	else
		off = (u64)below(g, (u32)SMMU_FRAME_SIZE / 4) * 4;
	if (wide)
		off &= ~7ULL;
	if (below(g, 5) == 0) {
		(void)(wide ? rig_rd64(&g->rig, off) : rig_rd32(&g->rig, off));
		return;
	}
	if (wide)
		rig_wr64(&g->rig, off, some_value(g, off));
	else
		rig_wr32(&g->rig, off, (u32)some_value(g, off));
}

/* What the registers themselves promise whatever was written. */
static void check_registers(struct vg *g)
{
	u32 cr0 = rig_rd32(&g->rig, ARM_SMMU_CR0);

	rig_assert_eq(rig_rd32(&g->rig, ARM_SMMU_CR0ACK), cr0);
	rig_assert_eq(cr0 & ~(u32)(CR0_SMMUEN | CR0_EVTQEN | CR0_CMDQEN), 0);
	rig_assert_eq(rig_rd32(&g->rig, ARM_SMMU_GBPA) & GBPA_UPDATE, 0);
	rig_assert_eq(rig_rd32(&g->rig, ARM_SMMU_IRQ_CTRLACK), rig_rd32(&g->rig, ARM_SMMU_IRQ_CTRL));
	rig_assert_eq(rig_rd32(&g->rig, ARM_SMMU_GERROR) & ~(u32)GERROR_ERR_MASK, 0);
	rig_assert_lt(rig_rd32(&g->rig, ARM_SMMU_CMDQ_PROD), 2u << 12);
	rig_assert_lt(rig_rd32(&g->rig, ARM_SMMU_CMDQ_CONS) & ~(u32)CMDQ_CONS_ERR, 2u << 12);
	rig_assert_lt(rig_rd32(&g->rig, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD) & ~(u32)Q_OVERFLOW_FLAG, 2u << 12);
	rig_assert_eq(rig_rd32(&g->rig, ARM_SMMU_IDR0), 0x0d40701a);
}

unsigned int vg_run(struct vg *g, u64 seed, const u8 *data, size_t len, unsigned int steps)
{
	struct vsmmu_stats st;
	unsigned int done = 0;

	g->rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	g->data = data;
	g->len = len;
	g->pos = 0;
	g->exhausted = false;
	if (!g->ram)
		g->ram = aligned_alloc(SZ_4K, RIG_RAM_SIZE);
	rig_assert_not_null(g->ram);
	rig_up_ram(&g->rig, 3, g->ram);
	/* A sensible start the garbage then takes apart: a populated table, queues in RAM. */
	rig_strtab_linear(&g->rig);
	for (unsigned int i = 0; i < g->rig.ndev; i++)
		rig_ste(&g->rig, rig_vsid(i), rig_ste_s1(rig_cd(i)), 0);
	rig_evtq(&g->rig, 6);
	rig_cmdq(&g->rig, GQ_LOG2);
	rig_cr0(&g->rig, CR0_SMMUEN | CR0_CMDQEN | CR0_EVTQEN);
	rig_check(&g->rig);

	/* Object ids are never reused by the fake: stop before it runs out (not a vSMMU limit). */
	for (; done < steps && !g->exhausted && g->rig.fi.next_id < FAKE_IOMMUFD_MAX_OBJS - 16; done++) {
		u32 what = below(g, 100);

		if (what < 40)
			mmio(g);
		else if (what < 58)
			mutate_memory(g);
		else if (what < 80)
			publish(g);
		else if (what < 88)
			skip_error(g);
		else if (what < 91)
			rig_gerror_ack(&g->rig);
		else if (what < 93)
			reprobe(g);
		else
			host_failure(g);
		check_registers(g);
		rig_check(&g->rig);
	}
	/* The counters agree with what the kernel saw. */
	st = rig_stats(&g->rig);
	rig_assert_eq(st.inv_ioctls, g->rig.fi.inv_calls, "seed %llu", (unsigned long long)seed);
	rig_assert_eq(st.inv_cmds, g->rig.fi.inv_cmds_accepted, "seed %llu", (unsigned long long)seed);
	rig_destroy_and_check(&g->rig);
	rig_fini(&g->rig);
	return done;
}

void vg_free(struct vg *g)
{
	rig_fini(&g->rig);
	free(g->ram);
	g->ram = NULL;
}
