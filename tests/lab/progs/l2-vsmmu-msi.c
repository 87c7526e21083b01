/* l2-vsmmu-msi: L2 program (tests/lab/scenarios/vsmmu-msi.sh, ivmm run --viommu smmuv3). Like l2-edu-msi, but
 * with edu behind L2's own IOMMU: edu is taken with VFIO cdev + iommufd in L2 (tests/lab/progs/l2_iommufd.h; no
 * no-IOMMU mode), so its MSI write goes to the doorbell IOVA L2's kernel maps in L2's stage 1 (the first page of
 * its software MSI window) before it reaches ivmm's vITS. A page for the DMAs is mapped at IOVA 0x12340000; then
 * l2_vfio.h's MSI check (l2_msi_run, shared with l2-edu-msi): an MSI eventfd with VFIO_DEVICE_SET_IRQS, RAISES
 * "raise interrupt" writes and DMAS DMAs with interrupt on completion (RAM -> edu, then back), each waited for and
 * acknowledged; exactly RAISES + DMAS must arrive, on the eventfd and on L2's /proc/interrupts vfio-msi line, and
 * the DMAed bytes must come back unchanged through the IOVA. */
#include "tests/lab/progs/l2_iommufd.h"

#define RAISES 8
#define DMAS 2
#define IOVA 0x12340000ull

int main(void)
{
	struct l2_irq_run r;
	struct l2_iommufd io;
	struct l2_msi_page pg = { NULL, IOVA };

	edu_prog = "l2-vsmmu-msi";
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&r, 0, sizeof(r));
	r.efd = -1;
	if (edu_find(r.bdf, sizeof(r.bdf)) || l2_iommufd_open(r.bdf, &r.v, &io))
		return 1;
	pg.va = l2_dma_buffer(L2_PAGE);
	if (!pg.va || l2_iommufd_map(&io, pg.va, L2_PAGE, IOVA))
		return 1;
	if (l2_irq_setup(&r, VFIO_PCI_MSI_IRQ_INDEX, "vfio-msi", "MSI capability not visible?") ||
	    l2_msi_run(&r, RAISES, DMAS, &pg))
		return 1;
	l2_iommufd_close(&r.v, &io);
	return 0;
}
