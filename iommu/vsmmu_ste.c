/* vsmmu_ste.c: the guest's stream table. Finds the STE of a StreamID in a linear or 2-level table
 * (STRTAB_BASE, STRTAB_BASE_CFG: FMT, SPLIT, LOG2SIZE; level-1 descriptors with SPAN and L2Ptr), reading
 * guest memory only through the bounds-checked helpers, and decodes it into what the device must be attached
 * to. Every way a guest can get this wrong ends in an abort of that stream and the event the architecture
 * names for it:
 *   C_BAD_STREAMID  StreamID beyond LOG2SIZE (capped at IDR1.SIDSIZE), a reserved FMT or SPLIT, an L1
 *                   descriptor with SPAN 0 or too large, or an index beyond the SPAN of its level-2 table
 *   F_STE_FETCH     the L1 descriptor or the STE lies outside guest RAM
 *   C_BAD_STE       V=1 with a reserved or stage-2 Config (no S2P), or S1CDMax beyond SSIDSIZE (0)
 *   F_CD_FETCH      a stage-1 STE whose context descriptor lies outside guest RAM (the physical SMMU would see
 *                   a stage-2 fault the guest never hears of; ivmm can tell it first)
 * V=0 is an invalid STE: abort, no event (unused entries are V=0; the guest's driver invalidates all of them).
 * A stage-1 STE keeps only what the vSMMU offers and the kernel accepts in a vSTE: V, Config, S1ContextPtr,
 * and the CD table attributes S1CIR/S1COR/S1CSH; S1Fmt and S1DSS do not matter with one CD, S1STALLD and
 * EATS name features the vSMMU does not have. Pure reads: runs with vs->lock held. */
#include <endian.h>
#include <string.h>
#include "iommu/vsmmu_internal.h"

static void bad(struct vsmmu_ste_result *r, u8 event, u64 addr)
{
	r->target = VSMMU_T_ABORT;
	r->event = event;
	r->fetch_addr = addr;
}

/* The guest physical address of sid's STE, or 0 with the event set in r. */
static u64 ste_addr(const struct vsmmu *vs, u32 sid, struct vsmmu_ste_result *r)
{
	u64 base = vs->strtab_base & STRTAB_BASE_ADDR_MASK;
	u32 cfg = vs->strtab_base_cfg;
	u32 log2size = (u32)FIELD_GET(STRTAB_BASE_CFG_LOG2SIZE, cfg);
	u32 split = (u32)FIELD_GET(STRTAB_BASE_CFG_SPLIT, cfg);
	u64 l1_gpa, desc, span, l2idx;

	if (log2size > VSMMU_SIDSIZE)
		log2size = VSMMU_SIDSIZE;
	if ((u64)sid >> log2size) {
		bad(r, EVT_ID_BAD_STREAMID, 0);
		return 0;
	}
	switch (FIELD_GET(STRTAB_BASE_CFG_FMT, cfg)) {
	case STRTAB_BASE_CFG_FMT_LINEAR:
		return base + (u64)sid * STRTAB_STE_SIZE;
	case STRTAB_BASE_CFG_FMT_2LVL:
		break;
	default:
		bad(r, EVT_ID_BAD_STREAMID, 0);
		return 0;
	}
	/* SPLIT 6, 8 or 10 (level-2 tables of 4 KiB, 16 KiB, 64 KiB); the others are reserved. */
	if (split != 6 && split != 8 && split != 10) {
		bad(r, EVT_ID_BAD_STREAMID, 0);
		return 0;
	}
	l1_gpa = base + (u64)(sid >> split) * 8;
	if (gmem_read(vs->cfg.mem, l1_gpa, &desc, sizeof(desc))) {
		bad(r, EVT_ID_F_STE_FETCH, l1_gpa);
		return 0;
	}
	desc = le64toh(desc);
	span = FIELD_GET(STRTAB_L1_DESC_SPAN, desc);
	l2idx = sid & ((1u << split) - 1);
	/* SPAN n covers 2^(n-1) STEs; 0 means no level-2 table, above SPLIT + 1 is reserved. */
	if (!span || span > split + 1 || l2idx >= (1ULL << (span - 1))) {
		bad(r, EVT_ID_BAD_STREAMID, 0);
		return 0;
	}
	return (desc & STRTAB_L1_DESC_L2PTR) + l2idx * STRTAB_STE_SIZE;
}

void vsmmu_ste_read(const struct vsmmu *vs, u32 sid, struct vsmmu_ste_result *r)
{
	u64 ste[STE_DWORDS], gpa, cd;

	memset(r, 0, sizeof(*r));
	gpa = ste_addr(vs, sid, r);
	if (r->event)
		return;
	if (gmem_read(vs->cfg.mem, gpa, ste, sizeof(ste))) {
		bad(r, EVT_ID_F_STE_FETCH, gpa);
		return;
	}
	for (unsigned int i = 0; i < STE_DWORDS; i++)
		ste[i] = le64toh(ste[i]);
	if (!(ste[0] & STE_0_V)) {
		r->target = VSMMU_T_ABORT;
		return;
	}
	switch (FIELD_GET(STE_0_CFG, ste[0])) {
	case STE_CFG_ABORT:
		r->target = VSMMU_T_ABORT;
		return;
	case STE_CFG_BYPASS:
		r->target = VSMMU_T_BYPASS;
		return;
	case STE_CFG_S1_TRANS:
		break;
	default: /* reserved, stage 2, nested: not with IDR0.S2P = 0 */
		bad(r, EVT_ID_C_BAD_STE, gpa);
		return;
	}
	if (FIELD_GET(STE_0_S1CDMAX, ste[0]) > FIELD_GET(IDR1_SSIDSIZE, vs->idr[1])) {
		bad(r, EVT_ID_C_BAD_STE, gpa);
		return;
	}
	cd = ste[0] & STE_0_S1CTXPTR;
	if (!gmem_contains(vs->cfg.mem, cd, CD_DWORDS * 8)) {
		bad(r, EVT_ID_F_CD_FETCH, cd);
		return;
	}
	r->target = VSMMU_T_NESTED;
	r->vste[0] = STE_0_V | FIELD_PREP(STE_0_CFG, STE_CFG_S1_TRANS) | cd;
	r->vste[1] = ste[1] & (STE_1_S1CIR | STE_1_S1COR | STE_1_S1CSH);
}
