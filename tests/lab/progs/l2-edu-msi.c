/* l2-edu-msi: L2 program (tests/lab/scenarios/passthrough-msi.sh). edu's interrupt must arrive in L2 as an MSI
 * through ivmm's virtual MSI capability, VFIO eventfd in L1, KVM irqfd and the vITS. L2 has no edu driver, so
 * the program takes the device with VFIO itself (no-IOMMU mode, tests/lab/progs/l2_vfio.h), enables bus
 * mastering, gets an MSI eventfd with VFIO_DEVICE_SET_IRQS, then issues RAISES edu "raise interrupt" writes and
 * DMAS DMAs with interrupt on completion (RAM -> edu, then edu -> RAM back, l2_vfio.h's l2_msi_run), one at a
 * time, waiting for each on the eventfd and acknowledging it. It checks that exactly RAISES + DMAS interrupts
 * arrived, both on the eventfd and in L2's /proc/interrupts (the vfio-msi line), and that the DMAed bytes came
 * back unchanged. */
#include "tests/lab/progs/l2_vfio.h"

#define RAISES 8
#define DMAS 2

static uint8_t page[4096] __attribute__((aligned(4096)));

/* The guest-physical address of page (no IOMMU in L2: edu DMAs to guest-physical addresses). The page is static
 * and never swapped, so the address stays valid. */
static uint64_t page_phys(void)
{
	int pm = open("/proc/self/pagemap", O_RDONLY);
	uint64_t e = 0;

	page[0] = 1; /* present */
	if (pm < 0)
		return 0;
	if (pread(pm, &e, 8, (off_t)((uintptr_t)page / 4096 * 8)) != 8 || !(e >> 63))
		e = 0;
	close(pm);
	return (e & ((1ull << 55) - 1)) * 4096;
}

int main(void)
{
	struct l2_irq_run r;
	struct l2_msi_page pg = { page, 0 };

	edu_prog = "l2-edu-msi";
	if (l2_irq_start(&r, VFIO_PCI_MSI_IRQ_INDEX, "vfio-msi", "MSI capability not visible?"))
		return 1;
	pg.dma = page_phys();
	if (!pg.dma) {
		edu_say("no physical address for the DMA page");
		return 1;
	}
	return l2_msi_run(&r, RAISES, DMAS, &pg) ? 1 : 0;
}
