/* vsmmu_regs.c: the vSMMU's register file (SMMUv3 spec chapter 6, names as in Linux's arm-smmu-v3.h).
 * Page 0 holds the ID, control, error, table and queue registers; page 1 holds EVTQ_PROD/EVTQ_CONS (and the
 * PRIQ pair, absent here). 64-bit registers may be accessed whole or as two 32-bit halves; any other 8-byte
 * access, a reserved offset or an absent feature's register reads as zero and ignores writes. Controls
 * act at once: CR0ACK and IRQ_CTRLACK follow CR0 and IRQ_CTRL on the write (but CR0ACK.EVTQEN only once the
 * kernel's vEVENTQ exists, vsmmu_evtq.c), GBPA's UPDATE bit is never seen
 * set. Table and queue bases are only writable while the table or queue is disabled, as the architecture
 * requires; a write otherwise is ignored and logged. Runs with vs->lock held. */
#include <string.h>
#include "iommu/vsmmu_internal.h"
#include "vmm/log.h"

/* ---- ID registers ---- */

/* IDR5.OAS encoding for a physical address size in bits (the guest's IPA space). */
static u32 oas_field(unsigned int bits)
{
	static const unsigned int sizes[] = { 32, 36, 40, 42, 44, 48, 52 };

	for (u32 i = ARRAY_SIZE(sizes); i-- > 0;)
		if (bits >= sizes[i])
			return i;
	return 0;
}

void vsmmu_derive_idr(const struct iommu_hw_info_arm_smmuv3 *host, u32 idr[6])
{
	/* The uAPI lets a VMM read: IDR0 ST_LEVEL, TERM_MODEL, STALL_MODEL, TTENDIAN, CD2L, ASID16, TTF;
	 * IDR1 SIDSIZE, SSIDSIZE; IDR3 BBML, RIL; IDR5 VAX, GRAN64K, GRAN16K, GRAN4K, DS. S1P and COHACC are to
	 * be assumed. Of those, what the vSMMU exposes: */
	u32 h0 = host->idr[0];
	u32 ttendian = (u32)FIELD_GET(IDR0_TTENDIAN, h0);

	memset(idr, 0, 6 * sizeof(idr[0]));
	/* Stage 1 only, AArch64 tables, coherent, MSIs and SEV are the vSMMU's own (emulated, not the host's);
	 * 2-level stream tables are walked by ivmm, so they do not depend on the host either. No stall (this
	 * QEMU refuses S1STALLD and CD.S; a stalled transaction needs a resume path ivmm does not have), no
	 * HTTU, no ATS (the guest sees no ATS capability), no PRI, no substreams (SSIDSIZE 0, S1CDMax 0). */
	idr[0] = IDR0_S1P | FIELD_PREP(IDR0_TTF, IDR0_TTF_AARCH64) | IDR0_COHACC | IDR0_MSI | IDR0_SEV |
		 FIELD_PREP(IDR0_STALL_MODEL, IDR0_STALL_MODEL_NONE) | FIELD_PREP(IDR0_ST_LVL, IDR0_ST_LVL_2LVL) |
		 (h0 & (IDR0_ASID16 | IDR0_TERM_MODEL | IDR0_CD2L)) |
		 /* The guest's tables are little-endian: a host that walks LE (mixed or LE-only) is kept as LE. */
		 FIELD_PREP(IDR0_TTENDIAN, ttendian == IDR0_TTENDIAN_MIXED ? IDR0_TTENDIAN_LE : ttendian);
	idr[1] = FIELD_PREP(IDR1_SIDSIZE, VSMMU_SIDSIZE) | FIELD_PREP(IDR1_CMDQS, VSMMU_CMDQS) |
		 FIELD_PREP(IDR1_EVTQS, VSMMU_EVTQS);
	idr[3] = host->idr[3] & (IDR3_RIL | IDR3_BBML);
	/* OAS is the guest's physical address size (the stage-2 input), not the host's: guest RAM and every
	 * DMA target lie below 1 << LAYOUT_MIN_IPA_BITS (boot/layout.h), and the host stage 2 covers at least that. */
	idr[5] = (host->idr[5] & (IDR5_GRAN4K | IDR5_GRAN16K | IDR5_GRAN64K | IDR5_DS | IDR5_VAX)) |
		 FIELD_PREP(IDR5_OAS, oas_field(40));
}

/* ---- reset ---- */

void vsmmu_regs_reset(struct vsmmu *vs)
{
	vs->cr0 = vs->cr0ack = vs->cr1 = vs->cr2 = 0;
	vs->gbpa = 0; /* bypass, attributes from the device */
	vs->irq_ctrl = 0;
	vs->gerror = vs->gerrorn = 0;
	vs->gerror_irq_cfg0 = 0;
	vs->gerror_irq_cfg1 = vs->gerror_irq_cfg2 = 0;
	vs->strtab_base = 0;
	vs->strtab_base_cfg = 0;
	vs->cmdq_base = 0;
	vs->cmdq_prod = vs->cmdq_cons = 0;
	vs->evtq_base = 0;
	vs->evtq_prod = vs->evtq_cons = 0;
	vs->evtq_irq_cfg0 = 0;
	vs->evtq_irq_cfg1 = vs->evtq_irq_cfg2 = 0;
}

/* ---- errors ---- */

void vsmmu_gerror_raise(struct vsmmu *vs, u32 bit)
{
	if (vsmmu_gerror_active(vs, bit))
		return;
	vs->gerror ^= bit;
	VSMMU_TRACE(vs, "GERROR 0x%x raised (GERROR 0x%x, GERRORN 0x%x)", bit, vs->gerror, vs->gerrorn);
	if (!(vs->irq_ctrl & IRQ_CTRL_GERROR_IRQEN))
		return;
	if ((vs->idr[0] & IDR0_MSI) && (vs->gerror_irq_cfg0 & MSI_CFG0_ADDR_MASK)) {
		if (vsmmu_msi_write(vs, vs->gerror_irq_cfg0 & MSI_CFG0_ADDR_MASK, vs->gerror_irq_cfg1)) {
			log_guest("%s: GERROR MSI address 0x%llx is neither RAM nor the ITS doorbell", vs->name,
				  (unsigned long long)(vs->gerror_irq_cfg0 & MSI_CFG0_ADDR_MASK));
			if (!vsmmu_gerror_active(vs, GERROR_MSI_GERROR_ABT_ERR))
				vs->gerror ^= GERROR_MSI_GERROR_ABT_ERR;
		}
		return;
	}
	vsmmu_irq_pulse(vs, vs->cfg.spi_gerror);
}

/* ---- register access ---- */

/* The 64-bit registers (page 0 offsets of their low word). */
static u64 *reg64(struct vsmmu *vs, u64 off, u64 *mask, bool *writable)
{
	*writable = true;
	switch (off) {
	case ARM_SMMU_GERROR_IRQ_CFG0:
		*mask = MSI_CFG0_ADDR_MASK;
		return &vs->gerror_irq_cfg0;
	case ARM_SMMU_STRTAB_BASE:
		*mask = STRTAB_BASE_RA | STRTAB_BASE_ADDR_MASK;
		*writable = !(vs->cr0 & CR0_SMMUEN);
		return &vs->strtab_base;
	case ARM_SMMU_CMDQ_BASE:
		*mask = Q_BASE_RWA | Q_BASE_ADDR_MASK | Q_BASE_LOG2SIZE;
		*writable = !(vs->cr0 & CR0_CMDQEN);
		return &vs->cmdq_base;
	case ARM_SMMU_EVTQ_BASE:
		*mask = Q_BASE_RWA | Q_BASE_ADDR_MASK | Q_BASE_LOG2SIZE;
		*writable = !(vs->cr0 & CR0_EVTQEN);
		return &vs->evtq_base;
	case ARM_SMMU_EVTQ_IRQ_CFG0:
		*mask = MSI_CFG0_ADDR_MASK;
		return &vs->evtq_irq_cfg0;
	}
	return NULL;
}

static bool is_reg64(u64 off)
{
	return off == ARM_SMMU_GERROR_IRQ_CFG0 || off == ARM_SMMU_STRTAB_BASE || off == ARM_SMMU_CMDQ_BASE ||
	       off == ARM_SMMU_EVTQ_BASE || off == ARM_SMMU_EVTQ_IRQ_CFG0;
}

static u32 read32(struct vsmmu *vs, u64 off)
{
	switch (off) {
	case ARM_SMMU_IDR0: case ARM_SMMU_IDR1: case ARM_SMMU_IDR2:
	case ARM_SMMU_IDR3: case ARM_SMMU_IDR4: case ARM_SMMU_IDR5:
		return vs->idr[off / 4];
	case ARM_SMMU_IIDR: return vs->iidr;
	case ARM_SMMU_AIDR: return vs->aidr;
	case ARM_SMMU_CR0: return vs->cr0;
	case ARM_SMMU_CR0ACK:
		/* A queue enable still pending (vsmmu_evtq.c): the guest polls here, so try again. */
		if ((vs->cr0 ^ vs->cr0ack) & CR0_EVTQEN)
			vsmmu_evtq_enable(vs, vs->cr0 & CR0_EVTQEN);
		return vs->cr0ack;
	case ARM_SMMU_CR1: return vs->cr1;
	case ARM_SMMU_CR2: return vs->cr2;
	case ARM_SMMU_GBPA: return vs->gbpa;
	case ARM_SMMU_IRQ_CTRL: case ARM_SMMU_IRQ_CTRLACK: return vs->irq_ctrl;
	case ARM_SMMU_GERROR: return vs->gerror;
	case ARM_SMMU_GERRORN: return vs->gerrorn;
	case ARM_SMMU_GERROR_IRQ_CFG1: return vs->gerror_irq_cfg1;
	case ARM_SMMU_GERROR_IRQ_CFG2: return vs->gerror_irq_cfg2;
	case ARM_SMMU_STRTAB_BASE_CFG: return vs->strtab_base_cfg;
	case ARM_SMMU_CMDQ_PROD: return vs->cmdq_prod;
	case ARM_SMMU_CMDQ_CONS: return vs->cmdq_cons;
	case ARM_SMMU_EVTQ_IRQ_CFG1: return vs->evtq_irq_cfg1;
	case ARM_SMMU_EVTQ_IRQ_CFG2: return vs->evtq_irq_cfg2;
	case SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD: return vs->evtq_prod;
	case SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_CONS: return vs->evtq_cons;
	}
	return 0; /* reserved, STATUSR, AGBPA, PRIQ (absent): RAZ */
}

static void write_cr0(struct vsmmu *vs, u32 val)
{
	u32 old = vs->cr0;

	/* PRIQEN and ATSCHK are RES0 (no PRI, no ATS), VMW too (no stage 2). */
	vs->cr0 = val & (CR0_SMMUEN | CR0_EVTQEN | CR0_CMDQEN);
	/* SMMUEN and CMDQEN take effect at once; EVTQEN when its vEVENTQ exists (vsmmu_evtq_enable). */
	vs->cr0ack = (vs->cr0 & (CR0_SMMUEN | CR0_CMDQEN)) | (vs->cr0ack & CR0_EVTQEN);
	if ((old ^ vs->cr0) & CR0_SMMUEN)
		vsmmu_streams_update(vs);
	if ((vs->cr0 ^ vs->cr0ack) & CR0_EVTQEN)
		vsmmu_evtq_enable(vs, vs->cr0 & CR0_EVTQEN);
	if (!(old & CR0_CMDQEN) && (vs->cr0 & CR0_CMDQEN))
		vsmmu_cmdq_run(vs);
}

static void write_gbpa(struct vsmmu *vs, u32 val)
{
	/* Fields change only by a write with UPDATE set; the update completes at once. */
	if (!(val & GBPA_UPDATE))
		return;
	/* ABORT is the one field the vSMMU implements (bypass attributes are the host's): the others, and the
	 * RES0 bits, read as zero. */
	vs->gbpa = val & GBPA_ABORT;
	if (!(vs->cr0 & CR0_SMMUEN))
		vsmmu_streams_update(vs);
}

static void write32(struct vsmmu *vs, u64 off, u32 val)
{
	unsigned int shift;

	switch (off) {
	case ARM_SMMU_CR0:
		write_cr0(vs, val);
		return;
	case ARM_SMMU_CR1:
		vs->cr1 = val & (u32)GENMASK(11, 0);
		return;
	case ARM_SMMU_CR2:
		vs->cr2 = val & (CR2_RECINVSID | CR2_PTM); /* E2H is RES0 without IDR0.HYP */
		return;
	case ARM_SMMU_GBPA:
		write_gbpa(vs, val);
		return;
	case ARM_SMMU_IRQ_CTRL:
		vs->irq_ctrl = val & (IRQ_CTRL_GERROR_IRQEN | IRQ_CTRL_EVTQ_IRQEN);
		return;
	case ARM_SMMU_GERRORN: {
		bool cmdq_err = vsmmu_gerror_active(vs, GERROR_CMDQ_ERR);

		vs->gerrorn = val & (u32)GERROR_ERR_MASK;
		/* Acknowledging a command error lets the queue resume at CMDQ_CONS. */
		if (cmdq_err && !vsmmu_gerror_active(vs, GERROR_CMDQ_ERR))
			vsmmu_cmdq_run(vs);
		return;
	}
	case ARM_SMMU_GERROR_IRQ_CFG1:
		vs->gerror_irq_cfg1 = val;
		return;
	case ARM_SMMU_GERROR_IRQ_CFG2:
		vs->gerror_irq_cfg2 = val & (u32)MSI_CFG2_FIELDS;
		return;
	case ARM_SMMU_STRTAB_BASE_CFG:
		if (vs->cr0 & CR0_SMMUEN) {
			log_guest("%s: STRTAB_BASE_CFG written while SMMUEN=1: ignored", vs->name);
			return;
		}
		vs->strtab_base_cfg = val & (u32)(STRTAB_BASE_CFG_FMT | STRTAB_BASE_CFG_SPLIT | STRTAB_BASE_CFG_LOG2SIZE);
		return;
	case ARM_SMMU_CMDQ_PROD:
		shift = vsmmu_q_shift(vs->cmdq_base, VSMMU_CMDQS);
		vs->cmdq_prod = vsmmu_q_ptr(val, shift);
		vsmmu_cmdq_run(vs);
		return;
	case ARM_SMMU_CMDQ_CONS:
		if (vs->cr0 & CR0_CMDQEN) {
			log_guest("%s: CMDQ_CONS written while CMDQEN=1: ignored", vs->name);
			return;
		}
		shift = vsmmu_q_shift(vs->cmdq_base, VSMMU_CMDQS);
		vs->cmdq_cons = vsmmu_q_ptr(val, shift) | (val & (u32)CMDQ_CONS_ERR);
		return;
	case ARM_SMMU_EVTQ_IRQ_CFG1:
		vs->evtq_irq_cfg1 = val;
		return;
	case ARM_SMMU_EVTQ_IRQ_CFG2:
		vs->evtq_irq_cfg2 = val & (u32)MSI_CFG2_FIELDS;
		return;
	case SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD:
		/* Software may set PROD only while the queue is off (Linux zeroes it at reset). */
		if (vs->cr0 & CR0_EVTQEN) {
			log_guest("%s: EVTQ_PROD written while EVTQEN=1: ignored", vs->name);
			return;
		}
		shift = vsmmu_q_shift(vs->evtq_base, vs->evtqs);
		vs->evtq_prod = vsmmu_q_ptr(val, shift) | (val & (u32)Q_OVERFLOW_FLAG);
		return;
	case SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_CONS:
		shift = vsmmu_q_shift(vs->evtq_base, vs->evtqs);
		vs->evtq_cons = vsmmu_q_ptr(val, shift) | (val & (u32)Q_OVERFLOW_FLAG);
		return;
	}
	/* Read-only (ID, ACK, GERROR, ...) and reserved offsets: writes ignored. */
}

u64 vsmmu_reg_read(struct vsmmu *vs, u64 off, unsigned int size)
{
	u64 mask, *r;
	bool w;

	if (size == 8) {
		r = reg64(vs, off, &mask, &w);
		if (!r) {
			log_guest("%s: 64-bit read of 32-bit or reserved offset 0x%llx: reads as zero", vs->name,
				  (unsigned long long)off);
			return 0;
		}
		return *r;
	}
	if (is_reg64(off & ~7ULL)) {
		r = reg64(vs, off & ~7ULL, &mask, &w);
		return (u32)(*r >> (off & 4 ? 32 : 0));
	}
	return read32(vs, off);
}

void vsmmu_reg_write(struct vsmmu *vs, u64 off, u64 val, unsigned int size)
{
	u64 base = off & ~7ULL, mask, *r;
	bool writable;

	if (size == 8 && !is_reg64(off)) {
		log_guest("%s: 64-bit write of 32-bit or reserved offset 0x%llx: ignored", vs->name,
			  (unsigned long long)off);
		return;
	}
	if (!is_reg64(base)) {
		write32(vs, off, (u32)val);
		return;
	}
	r = reg64(vs, base, &mask, &writable);
	if (!writable) {
		log_guest("%s: register 0x%llx written while its table or queue is enabled: ignored", vs->name,
			  (unsigned long long)base);
		return;
	}
	if (size == 4) {
		u64 half = off & 4 ? GENMASK(63, 32) : GENMASK(31, 0);

		val = (*r & ~half) | (((u64)(u32)val << (off & 4 ? 32 : 0)) & half);
	}
	*r = val & mask;
}
