/* l2-edu-msi: L2 program (tests/lab/scenarios/passthrough-msi.sh). edu's interrupt must arrive in L2 as an MSI
 * through ivmm's virtual MSI capability, VFIO eventfd in L1, KVM irqfd and the vITS. L2 has no edu driver, so
 * the program takes the device with VFIO itself (no-IOMMU mode, tests/lab/progs/l2_vfio.h), enables bus
 * mastering, gets an MSI eventfd with VFIO_DEVICE_SET_IRQS, then issues RAISES edu "raise interrupt" writes and
 * DMAS DMAs with interrupt on completion, one at a time, waiting for each on the eventfd and acknowledging it.
 * It checks that exactly RAISES + DMAS interrupts arrived, both on the eventfd and in L2's /proc/interrupts
 * (the vfio-msi line). */
#include "tests/lab/progs/l2_vfio.h"

#define RAISES 8
#define DMAS 2
#define IRQ_RAISE_BIT 0x1
#define IRQ_DMA_BIT 0x100

static uint8_t page[4096] __attribute__((aligned(4096)));

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
	struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_MSI_IRQ_INDEX };
	struct l2_vfio v;
	char bdf[64];
	uint64_t got = 0, src;
	uint32_t id;
	uint16_t cmd;
	int efd;

	edu_prog = "l2-edu-msi";
	if (edu_find(bdf, sizeof(bdf)))
		return 1;
	edu_say("edu at %s", bdf);
	if (l2_vfio_open(bdf, &v))
		return 1;
	if (ioctl(v.dev, VFIO_DEVICE_GET_IRQ_INFO, &ii) || ii.count < 1) {
		edu_say("edu offers no MSI through VFIO in L2 (MSI capability not visible?)");
		return 1;
	}
	/* Memory decode and bus mastering (an MSI is a bus-master write). */
	if (pread(v.dev, &cmd, 2, (off_t)v.cfg.offset + CFG_COMMAND) != 2)
		return 1;
	cmd |= CMD_MEMORY | CMD_MASTER;
	if (pwrite(v.dev, &cmd, 2, (off_t)v.cfg.offset + CFG_COMMAND) != 2) {
		edu_say("enable bus mastering: %s", strerror(errno));
		return 1;
	}
	efd = eventfd(0, 0);
	if (efd < 0 || l2_vfio_irq(&v, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, efd)) {
		edu_say("VFIO_DEVICE_SET_IRQS (MSI): %s", strerror(errno));
		return 1;
	}
	long before = irq_count("vfio-msi", bdf);

	if (before < 0) {
		edu_say("no vfio-msi line for %s in /proc/interrupts", bdf);
		return 1;
	}
	if (l2_vfio_bar_read(&v, EDU_IDENT, &id, 4) || id != EDU_IDENT_VALUE) {
		edu_say("ident through VFIO: 0x%08x", id);
		return 1;
	}
	for (int i = 0; i < RAISES; i++) {
		uint32_t bit = IRQ_RAISE_BIT;

		if (l2_vfio_bar_write(&v, EDU_IRQ_RAISE, &bit, 4) || wait_efd(efd, &got, "raise", i))
			return 1;
		(void)l2_vfio_bar_write(&v, EDU_IRQ_ACK, &bit, 4);
	}
	/* DMAs with interrupt on completion: a small RAM -> edu copy from a guest page (what it reads does not matter
	 * to the interrupt, only that the DMA completes). */
	src = page_phys();
	if (!src) {
		edu_say("no physical address for the DMA source page");
		return 1;
	}
	for (int i = 0; i < DMAS; i++) {
		uint64_t dst = EDU_DMA_BUF, cnt = 64, run = EDU_DMA_RUN | EDU_DMA_IRQ;
		uint32_t bit = IRQ_DMA_BIT;

		if (l2_vfio_bar_write(&v, EDU_DMA_SRC, &src, 8) || l2_vfio_bar_write(&v, EDU_DMA_DST, &dst, 8) ||
		    l2_vfio_bar_write(&v, EDU_DMA_CNT, &cnt, 8) || l2_vfio_bar_write(&v, EDU_DMA_CMD, &run, 8))
			return 1;
		if (wait_efd(efd, &got, "dma", i))
			return 1;
		(void)l2_vfio_bar_write(&v, EDU_IRQ_ACK, &bit, 4);
	}
	usleep(200000);
	/* Nothing more may arrive. */
	struct pollfd pfd = { .fd = efd, .events = POLLIN };

	if (poll(&pfd, 1, 0) == 1)
		(void)wait_efd(efd, &got, "extra", 0);
	long after = irq_count("vfio-msi", bdf);

	edu_say("issued %d raises + %d DMAs; eventfd counted %llu; /proc/interrupts vfio-msi %ld -> %ld", RAISES, DMAS,
		(unsigned long long)got, before, after);
	if (got != RAISES + DMAS || after - before != RAISES + DMAS) {
		edu_say("interrupt count mismatch: expected exactly %d", RAISES + DMAS);
		return 1;
	}
	return 0;
}
