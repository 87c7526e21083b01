/* test_inv_differential.c: ivmm's command decoder (vsmmu_cmd_decode, iommu/vsmmu_cmdq.c) against the fake
 * kernel's check of the invalidations a VMM hands to IOMMU_HWPT_INVALIDATE (fake_iommufd_inv_check, the rules
 * of Linux 7.3's arm_vsmmu_validate_user_cmd and arm_vsmmu_convert_user_cmd). ivmm promises (vsmmu_cmdq.c's
 * header) that no invalidation it sends is one the kernel refuses, and that the guest gets CERROR_ILL for
 * exactly what the kernel would refuse on the features the vSMMU advertises; the kernel's refusal of a
 * command in the middle of a batch is a failed ioctl, so a disagreement either way is a bug.
 *
 * First the checker alone, rule by rule, against commands and verdicts read off the kernel source (so the
 * two sides of the differential run do not share a misreading). Then, for each host (ASID16, RIL and DS on and
 * off; ATS off and SSIDSIZE 0, which the vSMMU hides from the guest anyway), a vSMMU built on a fake with that
 * GET_HW_INFO answer decodes tens of thousands of commands of the opcodes ivmm batches for the kernel
 * (CFGI_CD, CFGI_CD_ALL, TLBI_NH_ALL/ASID/VA/VAA, TLBI_NSNH_ALL, and ATC_INV, which both sides refuse without
 * ATS): random dwords, random values of the fields the opcode may carry, those with one bit flipped, and
 * every edge encoding of the TLBI range fields and the ASID. The fake checks each with a vDEVICE for its
 * vSID, and both must give the same verdict; a disagreement prints the command, the host and both verdicts.
 * On hosts with ATS or substreams, which the vSMMU hides, ivmm may refuse more (ATC_INV, an SSID), never
 * accept more. Last, the run is shown able to fail: a lenient checker (opcode and vSID only, what the fake
 * did before) and a decoder that believes in a feature the host lacks are both caught. Fixed seeds. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "iommu/vsmmu_internal.h"
#include "tests/unit/vsmmu_rig.h"

TestSuite(inv_check, .init = cr_redirect_stderr);
TestSuite(inv_differential, .init = cr_redirect_stderr);

/* ---- hosts ---- */

/* A host SMMU as GET_HW_INFO reports it: the lab host's registers with features set or cleared. */
struct host {
	char name[48];
	u32 idr[6];
};

static struct host host_make(bool asid16, bool ril, bool ds, bool ats, unsigned int ssidsize)
{
	struct host h = { .idr = { RIG_HOST_IDR0, RIG_HOST_IDR1, 0, RIG_HOST_IDR3, 0, RIG_HOST_IDR5 } };

	h.idr[0] = (h.idr[0] & ~(u32)(IDR0_ASID16 | IDR0_ATS)) | (asid16 ? IDR0_ASID16 : 0) | (ats ? IDR0_ATS : 0);
	h.idr[1] = (h.idr[1] & ~(u32)IDR1_SSIDSIZE) | (u32)FIELD_PREP(IDR1_SSIDSIZE, ssidsize);
	h.idr[3] = (h.idr[3] & ~(u32)IDR3_RIL) | (ril ? IDR3_RIL : 0);
	h.idr[5] = (h.idr[5] & ~(u32)IDR5_DS) | (ds ? IDR5_DS : 0);
	snprintf(h.name, sizeof(h.name), "%sASID16 %sRIL %sDS %sATS SSIDSIZE %u", asid16 ? "" : "!", ril ? "" : "!",
		 ds ? "" : "!", ats ? "" : "!", ssidsize);
	return h;
}

static void host_apply(const struct host *h, struct fake_iommufd *f)
{
	for (int i = 0; i < 6; i++)
		f->hw_info.smmu.idr[i] = h->idr[i];
}

static bool op_has_sid(u8 op)
{
	return op == CMDQ_OP_CFGI_CD || op == CMDQ_OP_CFGI_CD_ALL || op == CMDQ_OP_ATC_INV;
}

/* ---- the checker alone ---- */

/* A bare fake with host h: a vIOMMU and one vDEVICE with vSID 0x8; a second vIOMMU with a vDEVICE 0x10. */
struct bare {
	struct fake_iommufd *f;
	struct iommufd ictx;
	u32 viommu, other_viommu;
};

static void bare_up(struct bare *b, const struct host *h)
{
	u32 ioas, s2, s2b, vdev;

	b->f = calloc(1, sizeof(*b->f));
	cr_assert_not_null(b->f);
	fake_iommufd_init(b->f);
	host_apply(h, b->f);
	fake_iommufd_attach_ctx(b->f, &b->ictx);
	cr_assert_eq(iommufd_ioas_alloc(&b->ictx, &ioas, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_hwpt_alloc_nest_parent(&b->ictx, 1, ioas, &s2, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_viommu_alloc_smmuv3(&b->ictx, 1, s2, &b->viommu, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_vdevice_alloc(&b->ictx, b->viommu, 1, 0x8, &vdev), 0);
	cr_assert_eq(iommufd_hwpt_alloc_nest_parent(&b->ictx, 2, ioas, &s2b, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_viommu_alloc_smmuv3(&b->ictx, 2, s2b, &b->other_viommu, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_vdevice_alloc(&b->ictx, b->other_viommu, 2, 0x10, &vdev), 0);
}

static void bare_down(struct bare *b)
{
	iommufd_close(&b->ictx);
	fake_iommufd_release(b->f);
	free(b->f);
}

#define OP(op) FIELD_PREP(CMDQ_0_OP, CMDQ_OP_##op)
#define F(field, v) FIELD_PREP(CMDQ_##field, v)

struct rule_case {
	const char *what;      /* the rule, with its line in arm-smmu-v3-iommufd.c (7.3) */
	int host;              /* index into the hosts below */
	u64 cmd[2];
	int want;              /* 0 or -EIO */
};

Test(inv_check, kernel_rules_one_by_one)
{
	const struct host hosts[] = {
		host_make(true, true, false, false, 0),  /* 0: the lab host */
		host_make(false, false, false, false, 0), /* 1: no ASID16, no RIL */
		host_make(true, true, true, false, 0),   /* 2: with DS */
		host_make(true, true, false, true, 20),  /* 3: with ATS and substreams */
		host_make(true, false, true, true, 0),   /* 4: ATS without substreams, DS without RIL */
	};
	const struct rule_case cases[] = {
		/* 350-409: the opcodes; any other is refused. */
		{ "TLBI_NSNH_ALL bare (351)", 0, { OP(TLBI_NSNH_ALL), 0 }, 0 },
		{ "TLBI_NSNH_ALL with a VMID (351, 420)", 0, { OP(TLBI_NSNH_ALL) | F(TLBI_0_VMID, 1), 0 }, -EIO },
		{ "TLBI_NH_ALL with a VMID (378-379)", 0, { OP(TLBI_NH_ALL) | F(TLBI_0_VMID, 0xffff), 0 }, 0 },
		{ "TLBI_NH_ALL with an ASID (378, 420)", 0, { OP(TLBI_NH_ALL) | F(TLBI_0_ASID, 1), 0 }, -EIO },
		{ "TLBI_NH_ALL with dword 1 (420)", 0, { OP(TLBI_NH_ALL), 1 }, -EIO },
		{ "CFGI_STE (407)", 0, { OP(CFGI_STE) | F(CFGI_0_SID, 8), CMDQ_CFGI_1_LEAF }, -EIO },
		{ "CFGI_STE_RANGE (407)", 0, { OP(CFGI_STE_RANGE), 31 }, -EIO },
		{ "CMD_SYNC (407)", 0, { OP(CMD_SYNC), 0 }, -EIO },
		{ "PREFETCH_CONFIG (407)", 0, { OP(PREFETCH_CONFIG), 0 }, -EIO },
		{ "TLBI_EL2_ALL (407)", 0, { OP(TLBI_EL2_ALL), 0 }, -EIO },
		{ "TLBI_S12_VMALL (407)", 0, { OP(TLBI_S12_VMALL), 0 }, -EIO },
		{ "opcode 0xff (407)", 0, { 0xff, 0 }, -EIO },
		/* 353-356, 373-376: ASID bits beyond asid_bits (arm-smmu-v3.c 5145: IDR0.ASID16 ? 16 : 8). */
		{ "TLBI_NH_ASID 0xffff with ASID16", 0, { OP(TLBI_NH_ASID) | F(TLBI_0_ASID, 0xffff), 0 }, 0 },
		{ "TLBI_NH_ASID 0xff without ASID16", 1, { OP(TLBI_NH_ASID) | F(TLBI_0_ASID, 0xff), 0 }, 0 },
		{ "TLBI_NH_ASID 0x100 without ASID16", 1, { OP(TLBI_NH_ASID) | F(TLBI_0_ASID, 0x100), 0 }, -EIO },
		{ "TLBI_NH_ASID with LEAF", 0, { OP(TLBI_NH_ASID) | F(TLBI_0_ASID, 1), CMDQ_TLBI_1_LEAF }, -EIO },
		{ "TLBI_NH_VA ASID 0x8000 with ASID16", 0, { OP(TLBI_NH_VA) | F(TLBI_0_ASID, 0x8000), 0x1000 }, 0 },
		{ "TLBI_NH_VA ASID 0x8000 without ASID16", 1, { OP(TLBI_NH_VA) | F(TLBI_0_ASID, 0x8000), 0x1000 }, -EIO },
		{ "TLBI_NH_VAA carries no ASID (358, 420)", 0, { OP(TLBI_NH_VAA) | F(TLBI_0_ASID, 1), 0x1000 }, -EIO },
		{ "TLBI_NH_VA VA, LEAF, VMID (370-371)", 1,
		  { OP(TLBI_NH_VA) | F(TLBI_0_VMID, 3), 0xfffffffffffff000ull | CMDQ_TLBI_1_LEAF }, 0 },
		{ "TLBI_NH_VA dword 1 bit 4 (420)", 0, { OP(TLBI_NH_VA), 0x1000 | BIT(4) }, -EIO },
		{ "TLBI_NH_VA dword 0 bit 8 (420)", 0, { OP(TLBI_NH_VA) | BIT(8), 0x1000 }, -EIO },
		{ "TLBI_NH_VA SSEC (420)", 0, { OP(TLBI_NH_VA) | CMDQ_0_SSEC, 0x1000 }, -EIO },
		/* 359-369: range fields only with RIL (arm-smmu-v3.c 5192-5193: IDR3.RIL). */
		{ "TLBI_NH_VA TG without RIL", 1, { OP(TLBI_NH_VA), 0x1000 | F(TLBI_1_TG, 1) | F(TLBI_1_TTL, 3) }, -EIO },
		{ "TLBI_NH_VA NUM without RIL", 1, { OP(TLBI_NH_VA) | F(TLBI_0_NUM, 1), 0x1000 }, -EIO },
		{ "TLBI_NH_VAA SCALE without RIL", 1, { OP(TLBI_NH_VAA) | F(TLBI_0_SCALE, 1), 0x1000 }, -EIO },
		{ "TLBI_NH_VA TTL without RIL", 1, { OP(TLBI_NH_VA), 0x1000 | F(TLBI_1_TTL, 3) }, -EIO },
		{ "TLBI_NH_VA a range with RIL", 0,
		  { OP(TLBI_NH_VA) | F(TLBI_0_NUM, 31) | F(TLBI_0_SCALE, 31), 0x1000 | F(TLBI_1_TG, 1) }, 0 },
		{ "TLBI_NH_VA no range fields with RIL", 0, { OP(TLBI_NH_VA), 0x1000 }, 0 },
		{ "TLBI_NH_VA DS alone does not allow a range", 4,
		  { OP(TLBI_NH_VA) | F(TLBI_0_NUM, 1), 0x1000 | F(TLBI_1_TG, 1) }, -EIO },
		/* 326-341: reserved range encodings. */
		{ "range: NUM with TG 0 (333-334)", 0, { OP(TLBI_NH_VA) | F(TLBI_0_NUM, 1), 0x1000 }, -EIO },
		{ "range: SCALE with TG 0 (333-334)", 0, { OP(TLBI_NH_VAA) | F(TLBI_0_SCALE, 1), 0x1000 }, -EIO },
		{ "range: TTL with TG 0 (333-334)", 0, { OP(TLBI_NH_VA), 0x1000 | F(TLBI_1_TTL, 1) }, -EIO },
		{ "range: 16K TTL 1 without DS (336-337)", 0, { OP(TLBI_NH_VA), 0x1000 | F(TLBI_1_TG, 2) | F(TLBI_1_TTL, 1) }, -EIO },
		{ "range: 16K TTL 1 with DS (336-337)", 2, { OP(TLBI_NH_VA), 0x1000 | F(TLBI_1_TG, 2) | F(TLBI_1_TTL, 1) }, 0 },
		{ "range: 4K TTL 1 without DS", 0, { OP(TLBI_NH_VA), 0x1000 | F(TLBI_1_TG, 1) | F(TLBI_1_TTL, 1) }, 0 },
		{ "range: 64K TTL 1 without DS", 0, { OP(TLBI_NH_VAA), 0x1000 | F(TLBI_1_TG, 3) | F(TLBI_1_TTL, 1) }, 0 },
		{ "range: TG, NUM = SCALE = TTL = 0 (339-340)", 0, { OP(TLBI_NH_VA), 0x1000 | F(TLBI_1_TG, 1) }, -EIO },
		{ "range: TG and TTL only", 0, { OP(TLBI_NH_VA), 0x1000 | F(TLBI_1_TG, 3) | F(TLBI_1_TTL, 2) }, 0 },
		{ "range: TG and SCALE only", 0, { OP(TLBI_NH_VAA) | F(TLBI_0_SCALE, 4), F(TLBI_1_TG, 2) }, 0 },
		/* 365-368: SCALE bit 5 only with DS (arm-smmu-v3.c 5206-5207: IDR5.DS). */
		{ "range: SCALE 32 without DS", 0, { OP(TLBI_NH_VA) | F(TLBI_0_SCALE, 32), F(TLBI_1_TG, 1) }, -EIO },
		{ "range: SCALE 63 with DS", 2, { OP(TLBI_NH_VA) | F(TLBI_0_SCALE, 63), F(TLBI_1_TG, 1) }, 0 },
		{ "range: SCALE 31 without DS", 0, { OP(TLBI_NH_VA) | F(TLBI_0_SCALE, 31), F(TLBI_1_TG, 1) }, 0 },
		/* 381-397: ATC_INV (arm-smmu-v3.c 5091-5092: IDR0.ATS; 5179: ssid_bits = IDR1.SSIDSIZE). */
		{ "ATC_INV without ATS (383-384)", 0, { OP(ATC_INV) | F(ATC_0_SID, 8), F(ATC_1_SIZE, 52) }, -EIO },
		{ "ATC_INV with ATS", 4, { OP(ATC_INV) | F(ATC_0_SID, 8), F(ATC_1_SIZE, 52) | 0xfffffffffffff000ull }, 0 },
		{ "ATC_INV Size 53 (386-387)", 4, { OP(ATC_INV) | F(ATC_0_SID, 8), F(ATC_1_SIZE, 53) }, -EIO },
		{ "ATC_INV dword 1 bit 6 (420)", 4, { OP(ATC_INV) | F(ATC_0_SID, 8), BIT(6) }, -EIO },
		{ "ATC_INV SSV without substreams (392-394)", 4, { OP(ATC_INV) | F(ATC_0_SID, 8) | CMDQ_0_SSV, 0 }, -EIO },
		{ "ATC_INV Global without substreams", 4, { OP(ATC_INV) | F(ATC_0_SID, 8) | CMDQ_ATC_0_GLOBAL, 0 }, -EIO },
		{ "ATC_INV SSID without substreams", 4, { OP(ATC_INV) | F(ATC_0_SID, 8) | F(ATC_0_SSID, 1), 0 }, -EIO },
		{ "ATC_INV SSV, SSID, Global with substreams", 3,
		  { OP(ATC_INV) | F(ATC_0_SID, 8) | CMDQ_0_SSV | F(ATC_0_SSID, 0xfffff) | CMDQ_ATC_0_GLOBAL, 0 }, 0 },
		{ "ATC_INV SSID, Global without SSV (389-391: IGNORED)", 3,
		  { OP(ATC_INV) | F(ATC_0_SID, 8) | F(ATC_0_SSID, 5) | CMDQ_ATC_0_GLOBAL, 0 }, 0 },
		/* 398-406: CFGI_CD / CFGI_CD_ALL. */
		{ "CFGI_CD LEAF", 0, { OP(CFGI_CD) | F(CFGI_0_SID, 8), CMDQ_CFGI_1_LEAF }, 0 },
		{ "CFGI_CD SSID without substreams (400-401)", 0, { OP(CFGI_CD) | F(CFGI_0_SID, 8) | F(CFGI_0_SSID, 1), 0 }, -EIO },
		{ "CFGI_CD SSID with substreams", 3, { OP(CFGI_CD) | F(CFGI_0_SID, 8) | F(CFGI_0_SSID, 0xfffff), 1 }, 0 },
		{ "CFGI_CD SSV even with substreams (399)", 3, { OP(CFGI_CD) | F(CFGI_0_SID, 8) | CMDQ_0_SSV, 0 }, -EIO },
		{ "CFGI_CD dword 1 bit 1 (420)", 0, { OP(CFGI_CD) | F(CFGI_0_SID, 8), BIT(1) }, -EIO },
		{ "CFGI_CD_ALL", 0, { OP(CFGI_CD_ALL) | F(CFGI_0_SID, 8), 0 }, 0 },
		{ "CFGI_CD_ALL LEAF (404-405, 420)", 0, { OP(CFGI_CD_ALL) | F(CFGI_0_SID, 8), CMDQ_CFGI_1_LEAF }, -EIO },
		{ "CFGI_CD_ALL SSID even with substreams", 3, { OP(CFGI_CD_ALL) | F(CFGI_0_SID, 8) | F(CFGI_0_SSID, 1), 0 }, -EIO },
		/* 460-466 and 281-301: the vSID must have a vDEVICE on this vIOMMU. */
		{ "CFGI_CD vSID without a vDEVICE", 0, { OP(CFGI_CD) | F(CFGI_0_SID, 9), 0 }, -EIO },
		{ "CFGI_CD_ALL vSID of another vIOMMU", 0, { OP(CFGI_CD_ALL) | F(CFGI_0_SID, 0x10), 0 }, -EIO },
		{ "ATC_INV vSID without a vDEVICE", 4, { OP(ATC_INV) | F(ATC_0_SID, 0x18), 0 }, -EIO },
		{ "TLBI_NH_ASID needs no vDEVICE", 0, { OP(TLBI_NH_ASID) | F(TLBI_0_ASID, 9), 0 }, 0 },
	};
	struct bare b[ARRAY_SIZE(hosts)];

	for (size_t i = 0; i < ARRAY_SIZE(hosts); i++)
		bare_up(&b[i], &hosts[i]);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct rule_case *c = &cases[i];
		int got = fake_iommufd_inv_check(b[c->host].f, b[c->host].viommu, c->cmd);

		cr_expect_eq(got, c->want, "%s: 0x%016llx 0x%016llx on %s: %d, expected %d", c->what,
			     (unsigned long long)c->cmd[0], (unsigned long long)c->cmd[1], hosts[c->host].name, got,
			     c->want);
	}
	/* Pure: nothing in the fake changed (no object, no recorded command). */
	for (size_t i = 0; i < ARRAY_SIZE(hosts); i++) {
		cr_assert_eq(b[i].f->nr_inv_cmd, 0);
		cr_assert_eq(b[i].f->inv_calls, 0);
		bare_down(&b[i]);
	}
}

/* GET_HW_INFO hands back what the kernel reports, the errata flags and a stall-capable IDR0 included. */
Test(inv_check, hw_info_carries_flags_and_stall_model)
{
	struct host h = host_make(true, true, false, false, 0);
	struct iommufd_hw_info out;
	struct bare b;

	h.idr[0] = (h.idr[0] & ~(u32)IDR0_STALL_MODEL) | (u32)FIELD_PREP(IDR0_STALL_MODEL, 0); /* stall supported */
	bare_up(&b, &h);
	b.f->hw_info.smmu.flags = IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI;
	cr_assert_eq(iommufd_get_hw_info(&b.ictx, 1, &out, FAIL_PRINT), 0);
	cr_assert_eq(out.smmu.flags, IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI);
	cr_assert_eq(FIELD_GET(IDR0_STALL_MODEL, out.smmu.idr[0]), 0);
	cr_assert_eq(out.smmu.idr[0], h.idr[0]);
	bare_down(&b);
}

/* ---- the differential run ---- */

/* splitmix64: a seeded, reproducible stream. */
struct prng {
	u64 s;
};

static u64 prng_next(struct prng *p)
{
	u64 z = (p->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static u64 prng_below(struct prng *p, u64 n)
{
	return prng_next(p) % n;
}

/* One side of the comparison: accepts cmd (true) or not. */
struct side {
	const char *name;
	bool (*takes)(void *ctx, const u64 cmd[2]);
	void *ctx;
};

/* The kernel side: the fake's check, the command's vSID given a vDEVICE first when it carries one. */
struct kernel_ctx {
	struct fake_iommufd *f;
	u32 viommu, vdev;
};

static bool kernel_takes(void *ctx, const u64 cmd[2])
{
	struct kernel_ctx *k = ctx;

	if (op_has_sid((u8)FIELD_GET(CMDQ_0_OP, cmd[0])))
		k->f->objs[k->vdev].virt_id = FIELD_GET(CMDQ_CFGI_0_SID, cmd[0]);
	return !fake_iommufd_inv_check(k->f, k->viommu, cmd);
}

static bool ivmm_takes(void *ctx, const u64 cmd[2])
{
	struct vsmmu_cmd c;

	return vsmmu_cmd_decode(ctx, cmd, &c) == CMDQ_ERR_CERROR_NONE;
}

/* What the fake checked before it modelled fields: the opcode, and the vSID of the SID-carrying ones. */
static bool lenient_takes(void *ctx, const u64 cmd[2])
{
	switch (FIELD_GET(CMDQ_0_OP, cmd[0])) {
	case CMDQ_OP_TLBI_NSNH_ALL:
	case CMDQ_OP_TLBI_NH_ALL:
	case CMDQ_OP_TLBI_NH_ASID:
	case CMDQ_OP_TLBI_NH_VA:
	case CMDQ_OP_TLBI_NH_VAA:
	case CMDQ_OP_ATC_INV:     /* the vSID check passes: kernel_takes gives every vSID a vDEVICE */
	case CMDQ_OP_CFGI_CD:
	case CMDQ_OP_CFGI_CD_ALL:
		return true;
	}
	return false;
}

/* The opcodes ivmm hands to the kernel, and ATC_INV (refused by both without ATS). Per opcode, every field it
 * may carry on some host (bits 0-7 are the opcode). */
static const struct gen_op {
	u8 op;
	const char *name;
	u64 fields[2];
} gen_ops[] = {
	{ CMDQ_OP_CFGI_CD, "CFGI_CD", { CMDQ_CFGI_0_SID | CMDQ_CFGI_0_SSID, CMDQ_CFGI_1_LEAF } },
	{ CMDQ_OP_CFGI_CD_ALL, "CFGI_CD_ALL", { CMDQ_CFGI_0_SID, 0 } },
	{ CMDQ_OP_TLBI_NH_ALL, "TLBI_NH_ALL", { CMDQ_TLBI_0_VMID, 0 } },
	{ CMDQ_OP_TLBI_NH_ASID, "TLBI_NH_ASID", { CMDQ_TLBI_0_VMID | CMDQ_TLBI_0_ASID, 0 } },
	{ CMDQ_OP_TLBI_NH_VA, "TLBI_NH_VA",
	  { CMDQ_TLBI_0_VMID | CMDQ_TLBI_0_ASID | CMDQ_TLBI_0_NUM | CMDQ_TLBI_0_SCALE,
	    CMDQ_TLBI_1_VA | CMDQ_TLBI_1_TG | CMDQ_TLBI_1_TTL | CMDQ_TLBI_1_LEAF } },
	{ CMDQ_OP_TLBI_NH_VAA, "TLBI_NH_VAA",
	  { CMDQ_TLBI_0_VMID | CMDQ_TLBI_0_NUM | CMDQ_TLBI_0_SCALE,
	    CMDQ_TLBI_1_VA | CMDQ_TLBI_1_TG | CMDQ_TLBI_1_TTL | CMDQ_TLBI_1_LEAF } },
	{ CMDQ_OP_TLBI_NSNH_ALL, "TLBI_NSNH_ALL", { 0, 0 } },
	{ CMDQ_OP_ATC_INV, "ATC_INV",
	  { CMDQ_ATC_0_SID | CMDQ_ATC_0_SSID | CMDQ_0_SSV | CMDQ_ATC_0_GLOBAL, CMDQ_ATC_1_SIZE | CMDQ_ATC_1_ADDR } },
};

#define NR_GEN_OPS ARRAY_SIZE(gen_ops)
#define RANDOM_PER_OP 3000    /* random dwords */
#define FIELDS_PER_OP 4000    /* random values of the opcode's fields */
#define MUTANTS_PER_OP 4000   /* one of those with one bit flipped */
#define MAX_REPORTED 8

/* What a run saw: per opcode how often each side accepted, and the first disagreements. */
struct diff_result {
	unsigned long long cmds, disagree;
	unsigned long long a_took[NR_GEN_OPS], b_took[NR_GEN_OPS], tried[NR_GEN_OPS];
	struct {
		u64 cmd[2];
		bool a, b;
		const char *gen;
	} first[MAX_REPORTED];
};

/* Compare a and b on one command. one_way: only "a accepts, b refuses" is a disagreement. */
static void compare(const struct side *a, const struct side *b, bool one_way, size_t opi, const char *gen,
		    const u64 cmd[2], struct diff_result *res)
{
	bool va = a->takes(a->ctx, cmd), vb = b->takes(b->ctx, cmd);

	res->cmds++;
	res->tried[opi]++;
	res->a_took[opi] += va;
	res->b_took[opi] += vb;
	if (va == vb || (one_way && !va))
		return;
	if (res->disagree < MAX_REPORTED) {
		res->first[res->disagree].cmd[0] = cmd[0];
		res->first[res->disagree].cmd[1] = cmd[1];
		res->first[res->disagree].a = va;
		res->first[res->disagree].b = vb;
		res->first[res->disagree].gen = gen;
	}
	res->disagree++;
}

/* Random values of op's fields, biased so that every host accepts some: half the time without range fields,
 * half the time with an 8-bit ASID, half the time without substream fields, and for ATC_INV half the time
 * with a legal Size. */
static void gen_fields(struct prng *p, const struct gen_op *g, u64 cmd[2])
{
	cmd[0] = (prng_next(p) & g->fields[0]) | g->op;
	cmd[1] = prng_next(p) & g->fields[1];
	if (prng_below(p, 2)) {
		cmd[0] &= ~(CMDQ_TLBI_0_NUM | CMDQ_TLBI_0_SCALE);
		cmd[1] &= ~(CMDQ_TLBI_1_TG | CMDQ_TLBI_1_TTL);
	}
	if (prng_below(p, 2))
		cmd[0] &= ~FIELD_PREP(CMDQ_TLBI_0_ASID, 0xff00);
	if (op_has_sid(g->op) && prng_below(p, 2))
		cmd[0] &= ~(CMDQ_CFGI_0_SSID | CMDQ_0_SSV | CMDQ_ATC_0_GLOBAL);
	if (g->op == CMDQ_OP_ATC_INV && prng_below(p, 2))
		cmd[1] = (cmd[1] & ~CMDQ_ATC_1_SIZE) | FIELD_PREP(CMDQ_ATC_1_SIZE, prng_below(p, 53));
}

/* Every TG x TTL x NUM x SCALE x ASID x LEAF edge of a TLBI by VA, at a random VA. */
static void gen_tlbi_edges(struct prng *p, const struct side *a, const struct side *b, bool one_way, size_t opi,
			   struct diff_result *res)
{
	static const u64 nums[] = { 0, 1, 30, 31 }, scales[] = { 0, 1, 2, 31, 32, 33, 63 },
			 asids[] = { 0, 1, 0x7f, 0xff, 0x100, 0x8000, 0xfffe, 0xffff };
	u8 op = gen_ops[opi].op;

	for (u64 tg = 0; tg < 4; tg++)
		for (u64 ttl = 0; ttl < 4; ttl++)
			for (size_t n = 0; n < ARRAY_SIZE(nums); n++)
				for (size_t s = 0; s < ARRAY_SIZE(scales); s++)
					for (size_t as = 0; as < ARRAY_SIZE(asids); as++)
						for (u64 leaf = 0; leaf < 2; leaf++) {
							u64 cmd[2] = {
								op | FIELD_PREP(CMDQ_TLBI_0_NUM, nums[n]) |
									FIELD_PREP(CMDQ_TLBI_0_SCALE, scales[s]) |
									FIELD_PREP(CMDQ_TLBI_0_ASID, asids[as]) |
									FIELD_PREP(CMDQ_TLBI_0_VMID, prng_next(p)),
								(prng_next(p) & CMDQ_TLBI_1_VA) |
									FIELD_PREP(CMDQ_TLBI_1_TG, tg) |
									FIELD_PREP(CMDQ_TLBI_1_TTL, ttl) | leaf,
							};

							compare(a, b, one_way, opi, "TLBI edge", cmd, res);
						}
}

/* Each ASID bit alone, and every bit of both dwords alone, on top of a bare command of op. */
static void gen_single_bits(const struct side *a, const struct side *b, bool one_way, size_t opi,
			    struct diff_result *res)
{
	for (unsigned int bit = 8; bit < 128; bit++) {
		u64 cmd[2] = { gen_ops[opi].op, 0 };

		cmd[bit / 64] |= 1ull << (bit % 64);
		compare(a, b, one_way, opi, "single bit", cmd, res);
		/* The same bit on a command with a TG and TTL, so the range rules are not what refuses it. */
		cmd[1] |= FIELD_PREP(CMDQ_TLBI_1_TG, 1) | FIELD_PREP(CMDQ_TLBI_1_TTL, 3);
		compare(a, b, one_way, opi, "single bit, TG 4K TTL 3", cmd, res);
	}
}

static void diff_run(u64 seed, const struct side *a, const struct side *b, bool one_way, struct diff_result *res)
{
	struct prng p = { seed };

	memset(res, 0, sizeof(*res));
	for (size_t opi = 0; opi < NR_GEN_OPS; opi++) {
		const struct gen_op *g = &gen_ops[opi];

		for (int i = 0; i < RANDOM_PER_OP; i++) {
			u64 cmd[2] = { (prng_next(&p) & ~(u64)CMDQ_0_OP) | g->op, prng_next(&p) };

			/* Sparse ones too, or hardly any random command would pass either side. */
			if (i % 2) {
				cmd[0] = (cmd[0] & prng_next(&p) & prng_next(&p) & prng_next(&p)) | g->op;
				cmd[1] &= prng_next(&p) & prng_next(&p) & prng_next(&p);
			}
			compare(a, b, one_way, opi, "random", cmd, res);
		}
		for (int i = 0; i < FIELDS_PER_OP; i++) {
			u64 cmd[2];

			gen_fields(&p, g, cmd);
			compare(a, b, one_way, opi, "fields", cmd, res);
		}
		for (int i = 0; i < MUTANTS_PER_OP; i++) {
			u64 cmd[2];
			unsigned int bit = 8 + (unsigned int)prng_below(&p, 120); /* not the opcode */

			gen_fields(&p, g, cmd);
			cmd[bit / 64] ^= 1ull << (bit % 64);
			compare(a, b, one_way, opi, "fields, one bit flipped", cmd, res);
		}
		gen_single_bits(a, b, one_way, opi, res);
		if (g->op == CMDQ_OP_TLBI_NH_VA || g->op == CMDQ_OP_TLBI_NH_VAA || g->op == CMDQ_OP_TLBI_NH_ASID)
			gen_tlbi_edges(&p, a, b, one_way, opi, res);
	}
}

static const char *verdict(bool took)
{
	return took ? "accepts" : "refuses";
}

static const char *op_name(u64 cmd0)
{
	const char *n = vsmmu_cmd_name((u8)FIELD_GET(CMDQ_0_OP, cmd0));

	return n ? n : "unknown opcode";
}

/* Print the disagreements a run found (a: ivmm's decoder or the side under test, b: the kernel's check). */
static void report(const struct host *h, const struct side *a, const struct side *b, const struct diff_result *res)
{
	for (unsigned long long i = 0; i < res->disagree && i < MAX_REPORTED; i++)
		cr_log_error("host %s (IDR0 0x%08x IDR1 0x%08x IDR3 0x%08x IDR5 0x%08x): command 0x%016llx 0x%016llx "
			     "(%s, %s): %s %s, %s %s",
			     h->name, h->idr[0], h->idr[1], h->idr[3], h->idr[5],
			     (unsigned long long)res->first[i].cmd[0], (unsigned long long)res->first[i].cmd[1],
			     op_name(res->first[i].cmd[0]), res->first[i].gen, a->name, verdict(res->first[i].a),
			     b->name, verdict(res->first[i].b));
}

/* A vSMMU on host h and the kernel side on the same fake: its vIOMMU, and a vDEVICE of the test's own (dev
 * id 100, bound to no device) whose virt_id the kernel side sets to each command's vSID. */
struct rig_pair {
	struct vsmmu_rig *rig;
	struct kernel_ctx k;
};

static void pair_up(struct rig_pair *pr, const struct host *h)
{
	pr->rig = calloc(1, sizeof(*pr->rig));
	cr_assert_not_null(pr->rig);
	rig_init(pr->rig, 2);
	host_apply(h, &pr->rig->fi);
	cr_assert_eq(rig_create(pr->rig), 0, "vSMMU on host %s", h->name);
	pr->k.f = &pr->rig->fi;
	pr->k.viommu = pr->rig->vs->viommu_id;
	cr_assert_eq(iommufd_vdevice_alloc(&pr->rig->ictx, pr->k.viommu, 100, 1ull << 40, &pr->k.vdev), 0);
}

static void pair_down(struct rig_pair *pr)
{
	cr_assert_eq(iommufd_destroy(&pr->rig->ictx, pr->k.vdev, FAIL_PRINT), 0);
	rig_fini(pr->rig);
	free(pr->rig);
}

/* Both verdicts occur for op on this host (the run is not vacuous), unless one is impossible there. */
static void assert_both_verdicts(const struct host *h, const struct diff_result *res, bool ats)
{
	for (size_t opi = 0; opi < NR_GEN_OPS; opi++) {
		unsigned long long took = res->b_took[opi], tried = res->tried[opi];

		cr_assert_gt(tried - took, 1000, "host %s: %s: the kernel refused only %llu of %llu", h->name,
			     gen_ops[opi].name, tried - took, tried);
		if (gen_ops[opi].op == CMDQ_OP_ATC_INV && !ats)
			cr_assert_eq(took, 0, "host %s: ATC_INV without ATS", h->name);
		else
			cr_assert_gt(took, 1000, "host %s: %s: the kernel accepted only %llu of %llu", h->name,
				     gen_ops[opi].name, took, tried);
	}
}

/* The hosts of the exact comparison: every ASID16 x RIL x DS, without ATS and substreams. */
static unsigned int exact_hosts(struct host *hosts)
{
	unsigned int n = 0;

	for (unsigned int m = 0; m < 8; m++)
		hosts[n++] = host_make(m & 1, m & 2, m & 4, false, 0);
	return n;
}

Test(inv_differential, ivmm_decoder_agrees_with_the_kernel)
{
	struct host hosts[8];
	unsigned int n = exact_hosts(hosts);
	unsigned long long total = 0, bad = 0;

	for (unsigned int i = 0; i < n; i++) {
		struct rig_pair pr;
		struct diff_result res;

		pair_up(&pr, &hosts[i]);
		const struct side a = { "ivmm", ivmm_takes, pr.rig->vs }, b = { "kernel", kernel_takes, &pr.k };

		diff_run(0x1d1ffe7e5700ull + i, &a, &b, false, &res);
		report(&hosts[i], &a, &b, &res);
		cr_log_info("host %s: %llu commands, %llu disagreements", hosts[i].name, res.cmds, res.disagree);
		assert_both_verdicts(&hosts[i], &res, false);
		total += res.cmds;
		bad += res.disagree;
		pair_down(&pr);
	}
	cr_assert_gt(total, 8 * 50000ull, "tens of thousands of commands per host");
	cr_assert_eq(bad, 0, "%llu of %llu commands: ivmm's decoder and the kernel disagree (listed above)", bad, total);
}

/* A host with ATS and substreams (which the vSMMU does not advertise): ivmm may refuse more, never accept
 * more, and the guest sees neither feature. */
Test(inv_differential, hidden_host_features_only_make_ivmm_stricter)
{
	const struct host hosts[] = {
		host_make(true, true, false, true, 20),
		host_make(false, false, true, true, 8),
		host_make(true, true, true, false, 1),
	};
	unsigned long long bad = 0, stricter = 0;

	for (size_t i = 0; i < ARRAY_SIZE(hosts); i++) {
		struct rig_pair pr;
		struct diff_result res;

		pair_up(&pr, &hosts[i]);
		cr_assert_eq(pr.rig->vs->idr[0] & IDR0_ATS, 0, "host %s: no ATS for the guest", hosts[i].name);
		cr_assert_eq(FIELD_GET(IDR1_SSIDSIZE, pr.rig->vs->idr[1]), 0, "host %s: no substreams", hosts[i].name);
		const struct side a = { "ivmm", ivmm_takes, pr.rig->vs }, b = { "kernel", kernel_takes, &pr.k };

		diff_run(0x5b5e7ull + i, &a, &b, true, &res);
		report(&hosts[i], &a, &b, &res);
		assert_both_verdicts(&hosts[i], &res, hosts[i].idr[0] & IDR0_ATS);
		bad += res.disagree;
		for (size_t opi = 0; opi < NR_GEN_OPS; opi++)
			stricter += res.b_took[opi] - res.a_took[opi];
		pair_down(&pr);
	}
	cr_assert_eq(bad, 0, "%llu commands ivmm accepts and the kernel refuses (listed above)", bad);
	cr_assert_gt(stricter, 0, "ivmm refused some commands these hosts take (ATC_INV, SSIDs)");
}

/* The run can fail: the fake's old opcode-and-vSID check is far too lenient, and the run says so. */
Test(inv_differential, a_lenient_checker_is_caught)
{
	struct host h = host_make(true, true, false, false, 0);
	struct rig_pair pr;
	struct diff_result res;

	pair_up(&pr, &h);
	const struct side a = { "lenient", lenient_takes, &pr.k }, b = { "kernel", kernel_takes, &pr.k };

	diff_run(0x1e41e47ull, &a, &b, false, &res);
	cr_assert_gt(res.disagree, 1000, "the lenient checker disagrees on %llu commands only", res.disagree);
	for (unsigned int i = 0; i < MAX_REPORTED; i++)
		cr_assert(res.first[i].a && !res.first[i].b, "the lenient one accepts what the kernel refuses");
	/* And the same lenient checker agrees with itself: the harness does not invent disagreements. */
	diff_run(0x1e41e47ull, &a, &a, false, &res);
	cr_assert_eq(res.disagree, 0);
	pair_down(&pr);
}

/* The run can fail: a decoder that believes the host has RIL, DS or ASID16 when it has not is caught, and
 * one that believes it lacks RIL while the host has it too. */
Test(inv_differential, a_decoder_with_the_wrong_features_is_caught)
{
	const struct host hosts[] = {
		host_make(false, false, false, false, 0),
		host_make(true, true, true, false, 0),
		host_make(true, true, false, false, 0),
	};
	const struct {
		const char *what;
		size_t host;
		bool ril, ds, asid16; /* what the mutant decoder believes */
	} mutants[] = {
		{ "RIL the host does not have", 0, true, false, false },
		{ "DS the host does not have", 2, true, true, true },
		{ "ASID16 the host does not have", 0, false, false, true },
		{ "no RIL though the host has it", 1, false, true, true },
	};

	for (size_t m = 0; m < ARRAY_SIZE(mutants); m++) {
		struct rig_pair pr;
		struct diff_result res;

		pair_up(&pr, &hosts[mutants[m].host]);
		pr.rig->vs->ril = mutants[m].ril;
		pr.rig->vs->ds = mutants[m].ds;
		pr.rig->vs->asid16 = mutants[m].asid16;
		const struct side a = { "mutant", ivmm_takes, pr.rig->vs }, b = { "kernel", kernel_takes, &pr.k };

		diff_run(0xbadull + m, &a, &b, false, &res);
		cr_assert_gt(res.disagree, 0, "a decoder with %s is not caught", mutants[m].what);
		pair_down(&pr);
	}
}
