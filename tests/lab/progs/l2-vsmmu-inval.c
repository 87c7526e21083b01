/* l2-vsmmu-inval: L2 program (tests/lab/scenarios/vsmmu-inval-batch.sh, ivmm run --viommu smmuv3 --stats). Makes
 * L2's arm-smmu-v3 driver issue many TLB invalidations through ivmm's vSMMU: edu is taken with VFIO cdev +
 * iommufd in L2 (tests/lab/progs/l2_iommufd.h), and a 33-page buffer is mapped at IOVA 0x40000000 and unmapped
 * again CYCLES times. Each unmap is one IOTLB sync in the guest: with range invalidation (RIL) it covers 33 pages
 * with two TLBI_NH_VA (32 + 1 pages), without RIL with 33, then one CMD_SYNC: more than one invalidation per
 * sync either way, which the vSMMU can hand to the host in one ioctl. Every CHECK_EVERY cycles (and in the
 * last) an edu round trip through one page of the mapped buffer checks the translation; after the last unmap an
 * edu -> RAM DMA to the page just used must not reach the buffer (its translation was cached a moment before).
 * Prints `unmaps N` for the scenario (before the faulting DMA, whose event lines the guest's kernel keeps off the
 * console meanwhile). Exit 0 when every check passed. */
#include "tests/lab/progs/l2_iommufd.h"

#define IOVA 0x40000000ull
#define NPAGES 33
#define SIZE (NPAGES * L2_PAGE)
#define CYCLES 200
#define CHECK_EVERY 20
#define SENTINEL 0x3c

int main(void)
{
	struct l2_iommufd io;
	struct l2_vfio v;
	volatile uint8_t *bar;
	uint8_t *buf;
	char bdf[64];
	unsigned int page = 0, checks = 0, unmaps = 0;
	uint64_t t0, map_ns = 0, unmap_ns = 0;
	long changed = 0, ev;
	int dma_err;

	edu_prog = "l2-vsmmu-inval";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (edu_find(bdf, sizeof(bdf)) || l2_iommufd_open(bdf, &v, &io))
		return 1;
	buf = l2_dma_buffer(SIZE);
	if (!buf || l2_vfio_cmd_set(&v, CMD_MEMORY | CMD_MASTER))
		return 1;
	bar = l2_vfio_map_bar0(&v);
	if (!bar)
		return 1;

	t0 = now_ns();
	for (unsigned int i = 0; i < CYCLES; i++) {
		uint64_t t = now_ns();

		if (l2_iommufd_map(&io, buf, SIZE, IOVA))
			return 1;
		map_ns += now_ns() - t;
		if (i == 0 && l2_iommufd_check_iova(&io, IOVA, SIZE))
			return 1;
		if (i % CHECK_EVERY == 0 || i == CYCLES - 1) {
			long wrong;

			page = (i / CHECK_EVERY * 7 + (i == CYCLES - 1)) % NPAGES;
			wrong = l2_dma_roundtrip(bar, buf, SIZE, IOVA, page * L2_PAGE, L2_PAGE, i);
			if (wrong) {
				edu_say("cycle %u: round trip through page %u failed", i, page);
				return 1;
			}
			checks++;
		}
		t = now_ns();
		if (l2_iommufd_unmap(&io, IOVA, SIZE))
			return 1;
		unmap_ns += now_ns() - t;
		unmaps++;
	}
	edu_say("%u map/unmap cycles of %u pages at IOVA 0x%llx in %llu ms (map %llu us, unmap %llu us on average), "
		"%u DMA round trips matched", CYCLES, NPAGES, IOVA, (unsigned long long)((now_ns() - t0) / 1000000),
		(unsigned long long)(map_ns / CYCLES / 1000), (unsigned long long)(unmap_ns / CYCLES / 1000), checks);

	edu_say("unmaps %u", unmaps);

	/* The last cycle's round trip used page; it is unmapped now. */
	memset(buf, SENTINEL, SIZE);
	__sync_synchronize();
	ev = l2_klog_count("arm-smmu-v3", "event 0x", 0);
	l2_klog_quiet();
	dma_err = edu_dma(bar, EDU_DMA_BUF, IOVA + page * L2_PAGE, 64, EDU_DMA_TO_RAM);
	ev = l2_klog_settle("arm-smmu-v3", "event 0x", ev);
	if (dma_err)
		return 1;
	for (size_t i = 0; i < SIZE; i++)
		changed += ((volatile uint8_t *)buf)[i] != SENTINEL;
	if (changed) {
		edu_say("after the last unmap, an edu -> RAM DMA to page %u (IOVA 0x%llx) changed %ld bytes of the buffer: "
			"stale IOTLB entry (invalidation lost?)", page, IOVA + page * L2_PAGE, changed);
		return 1;
	}
	edu_say("after the last unmap, an edu -> RAM DMA to page %u did not reach the buffer (%ld event lines in the "
		"kernel log)", page, ev);
	munmap((void *)bar, EDU_BAR_SIZE);
	l2_iommufd_close(&v, &io);
	return 0;
}
