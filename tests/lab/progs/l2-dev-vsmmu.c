/* l2-dev-vsmmu: L2 program (tests/lab/scenarios/device-vsmmu.sh, after l2-vsmmu-probe in the same boot; ivmm run
 * --viommu smmuv3 --stats, the device guest-vfio=on). Drives the guest's STE and TLB traffic for the device under
 * test (tests/lab/progs/l2_dut.h: any passed-through function) without making the device do anything: takes it
 * with the guest's own VFIO cdev + iommufd (tests/lab/progs/l2_iommufd.h; attaching it to an IOAS makes L2's
 * arm-smmu-v3 write a stage-1 STE, which ivmm turns into a nested HWPT), checks that the IOAS allows the IOVA
 * used and reserves the software MSI window, detaches (a blocking STE) and attaches again ATTACH_CYCLES times,
 * then maps and unmaps a 33-page buffer CYCLES times (each unmap: TLBI_NH_VA commands and one CMD_SYNC from the guest, which the
 * vSMMU can batch). Prints `attach-cycles N` and `unmaps N` for the scenario, which reads ivmm's --stats.
 * Exit 0 when every ioctl did what it should. */
#include "tests/lab/progs/l2_dut.h"
#include "tests/lab/progs/l2_iommufd.h"

#define IOVA 0x40000000ull
#define NPAGES 33
#define SIZE (NPAGES * L2_PAGE)
#define CYCLES 100
#define ATTACH_CYCLES 2

int main(void)
{
	struct l2_iommufd io;
	struct l2_vfio v;
	char bdf[EDU_BDF_LEN];
	uint64_t t0;
	uint8_t *buf;

	edu_prog = "l2-dev-vsmmu";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (l2_dut_find(bdf, sizeof(bdf)) || l2_iommufd_open(bdf, &v, &io))
		return 1;
	buf = l2_dma_buffer(SIZE);
	if (!buf)
		return 1;
	if (l2_iommufd_map(&io, buf, SIZE, IOVA) || l2_iommufd_check_iova(&io, IOVA, SIZE) ||
	    l2_iommufd_unmap(&io, IOVA, SIZE))
		return 1;
	for (unsigned int i = 0; i < ATTACH_CYCLES; i++)
		if (l2_iommufd_detach(&v) || l2_iommufd_attach(&v, &io))
			return 1;
	edu_say("attach-cycles %u", ATTACH_CYCLES);
	t0 = now_ns();
	for (unsigned int i = 0; i < CYCLES; i++) {
		if (l2_iommufd_map(&io, buf, SIZE, IOVA) || l2_iommufd_unmap(&io, IOVA, SIZE))
			return 1;
	}
	edu_say("%u map/unmap cycles of %u pages at IOVA 0x%llx in %llu ms", CYCLES, NPAGES, IOVA,
		(unsigned long long)((now_ns() - t0) / 1000000));
	edu_say("unmaps %u", CYCLES + 1); /* and the one after the IOVA check */
	l2_iommufd_close(&v, &io);
	munmap(buf, SIZE);
	return 0;
}
