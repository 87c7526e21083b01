/* l2-vsmmu-dma: L2 program (tests/lab/scenarios/vsmmu-dma.sh, ivmm run --viommu smmuv3). edu DMA through L2's
 * own IOMMU: edu is taken with VFIO cdev + iommufd in L2 (tests/lab/progs/l2_iommufd.h; no no-IOMMU mode), a
 * 2-page buffer is mapped at IOVA 0x12340000 (inside ivmm's ECAM window as a guest-physical address, so a DMA
 * that skipped translation could not land in the buffer), bus mastering is enabled through the VFIO config
 * region and BAR0 is mmapped through VFIO. Then:
 *   1. round trips RAM -> edu -> RAM with data patterns: each page, sizes down to 8 bytes, and across the page
 *      boundary (two pages that need not be contiguous in guest memory);
 *   2. IOMMU_IOAS_UNMAP of the buffer (the guest's arm-smmu-v3 invalidates its TLB for it: TLBI_NH_VA +
 *      CMD_SYNC through the vSMMU), the buffer filled with a sentinel, edu -> RAM DMAs to both pages' IOVAs:
 *      nothing may reach the buffer (a stale IOTLB entry would let them through);
 *   3. the buffer mapped again at the same IOVA: round trips work again.
 * "A page" is L2's page size (4 KiB, or 64 KiB in vsmmu-dma-guest64k: the IOAS maps whole pages); a DMA moves at
 * most edu's 4 KiB buffer.
 * The arm-smmu-v3 event lines the faulting DMAs leave in L2's kernel log are counted (for the record only).
 * With several edus (vsmmu-two.sh: each behind its own vSMMU) every one is tested in turn, in BDF order, each
 * with its own iommufd. Exit 0 when every round trip of every edu matched and the sentinels survived. */
#include "tests/lab/progs/l2_iommufd.h"

#define IOVA 0x12340000ull
#define NPAGES 2
#define SENTINEL 0x5c
#define FAULT_LEN 64 /* bytes per faulting DMA: each 4-byte access is one SMMU event, keep the storm small */

/* L2's page size, and the buffer: two pages. */
static uint32_t pgsz;
#define SIZE (NPAGES * pgsz)

static int run_rounds(volatile uint8_t *bar, uint8_t *buf, unsigned int seed0, const char *what)
{
	/* Each page's first 4 KiB, small and 8-byte transfers, the end of the buffer, across the page boundary. */
	const struct {
		uint32_t off, len;
	} rounds[] = {
		{ 0, L2_PAGE }, { pgsz, L2_PAGE }, { 0x100, 0x200 }, { 2 * pgsz - 8, 8 }, { pgsz - 0x100, 0x200 },
	};
	int bad = 0;

	for (unsigned int r = 0; r < sizeof(rounds) / sizeof(rounds[0]); r++) {
		long wrong = l2_dma_roundtrip(bar, buf, SIZE, IOVA, rounds[r].off, rounds[r].len, seed0 + r);

		if (wrong < 0)
			return -1;
		if (wrong)
			bad++;
		else
			edu_say("%s round %u: %u bytes at IOVA 0x%llx round-tripped", what, r, rounds[r].len,
				(unsigned long long)(IOVA + rounds[r].off));
	}
	return bad;
}

/* The whole test on one edu. 0 when it passed. */
static int test_edu(const char *bdf)
{
	struct l2_iommufd io;
	struct l2_vfio v;
	volatile uint8_t *bar;
	uint8_t *buf;
	long ev_before, ev_after, changed = 0;
	size_t first = 0;
	int bad, dma_err = 0;

	if (l2_iommufd_open(bdf, &v, &io))
		return 1;
	pgsz = (uint32_t)sysconf(_SC_PAGESIZE);
	if (pgsz < L2_PAGE)
		pgsz = L2_PAGE;
	buf = l2_dma_buffer(SIZE);
	if (!buf || l2_iommufd_map(&io, buf, SIZE, IOVA) || l2_iommufd_check_iova(&io, IOVA, SIZE))
		return 1;
	edu_say("%u pages of %u KiB mapped at IOVA 0x%llx", NPAGES, pgsz / 1024, IOVA);
	if (l2_vfio_cmd_set(&v, CMD_MEMORY | CMD_MASTER))
		return 1;
	bar = l2_vfio_map_bar0(&v);
	if (!bar)
		return 1;
	if (rd32(bar, EDU_IDENT) != EDU_IDENT_VALUE) {
		edu_say("ident through the VFIO BAR0 mapping: 0x%08x", rd32(bar, EDU_IDENT));
		return 1;
	}

	/* 1. mapped: both directions, several shapes; the last round leaves both pages' translations cached. */
	bad = run_rounds(bar, buf, 0, "mapped");
	if (bad < 0)
		return 1;

	/* 2. unmapped: DMAs to the old IOVAs must not reach the buffer. */
	if (l2_iommufd_unmap(&io, IOVA, SIZE))
		return 1;
	edu_say("buffer unmapped from IOVA 0x%llx", IOVA);
	memset(buf, SENTINEL, SIZE);
	__sync_synchronize();
	ev_before = l2_klog_count("arm-smmu-v3", "event 0x", 0);
	l2_klog_quiet();
	for (unsigned int pg = 0; pg < NPAGES && !dma_err; pg++)
		dma_err = edu_dma(bar, EDU_DMA_BUF, IOVA + pg * pgsz, FAULT_LEN, EDU_DMA_TO_RAM);
	ev_after = l2_klog_settle("arm-smmu-v3", "event 0x", ev_before);
	if (dma_err)
		return 1;
	for (size_t i = 0; i < SIZE; i++) {
		if (((volatile uint8_t *)buf)[i] != SENTINEL && !changed++)
			first = i;
	}
	if (changed) {
		edu_say("after the unmap, edu -> RAM DMAs to IOVA 0x%llx changed %ld bytes of the buffer (first at +0x%zx: "
			"0x%02x): the unmap did not take effect in the IOMMU (stale IOTLB: invalidation lost?)", IOVA, changed,
			first, buf[first]);
		bad++;
	} else {
		edu_say("after the unmap, %u edu -> RAM DMAs of %u bytes to IOVA 0x%llx+ did not reach the buffer", NPAGES,
			FAULT_LEN, IOVA);
	}
	edu_say("kernel log: %ld new arm-smmu-v3 event lines after the faulting DMAs (for the record; the guest "
		"rate-limits them), the first ones:", ev_after);
	(void)l2_klog_count("arm-smmu-v3", "event", 4);

	/* 3. mapped again at the same IOVA: the device and the translation work again. */
	if (l2_iommufd_map(&io, buf, SIZE, IOVA))
		return 1;
	edu_say("buffer mapped again at IOVA 0x%llx", IOVA);
	{
		int again = run_rounds(bar, buf, 100, "remapped");

		if (again < 0)
			return 1;
		bad += again;
	}
	if (l2_iommufd_unmap(&io, IOVA, SIZE))
		return 1;
	munmap((void *)bar, EDU_BAR_SIZE);
	l2_iommufd_close(&v, &io);
	if (bad) {
		edu_say("%d check(s) failed", bad);
		return 1;
	}
	munmap(buf, SIZE);
	edu_say("edu %s DMA through L2's IOMMU: both directions while mapped, blocked once unmapped, working again "
		"after the remap", bdf);
	return 0;
}

int main(void)
{
	char bdfs[8][EDU_BDF_LEN];
	int n, failed = 0;

	edu_prog = "l2-vsmmu-dma";
	setvbuf(stdout, NULL, _IOLBF, 0);
	n = edu_find_all(bdfs, 8);
	if (n <= 0)
		return 1;
	for (int i = 0; i < n; i++) {
		if (n > 1)
			edu_say("--- edu %d of %d: %s", i + 1, n, bdfs[i]);
		char bdf[EDU_BDF_LEN];

		memcpy(bdf, bdfs[i], sizeof(bdf));
		if (test_edu(bdf)) {
			edu_say("edu %s FAILED", bdfs[i]);
			failed++;
		}
	}
	if (n > 1)
		edu_say("%d of %d edus passed", n - failed, n);
	return failed ? 1 : 0;
}
