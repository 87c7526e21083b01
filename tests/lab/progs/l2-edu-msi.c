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

/* Acknowledge the interrupt cause (ctx: the edu status bit) in edu. */
static int ack_bit(struct l2_irq_run *r, int i, void *ctx)
{
	uint32_t bit = *(const uint32_t *)ctx;

	(void)i;
	(void)l2_vfio_bar_write(&r->v, EDU_IRQ_ACK, &bit, 4);
	return 0;
}

/* A small RAM -> edu DMA with interrupt on completion from a guest page (what it reads does not matter to the
 * interrupt, only that the DMA completes). */
static int start_dma(struct l2_irq_run *r, int i, void *ctx)
{
	uint64_t src = page_phys(), dst = EDU_DMA_BUF, cnt = 64, run = EDU_DMA_RUN | EDU_DMA_IRQ;

	(void)i;
	(void)ctx;
	if (!src) {
		edu_say("no physical address for the DMA source page");
		return -1;
	}
	if (l2_vfio_bar_write(&r->v, EDU_DMA_SRC, &src, 8) || l2_vfio_bar_write(&r->v, EDU_DMA_DST, &dst, 8) ||
	    l2_vfio_bar_write(&r->v, EDU_DMA_CNT, &cnt, 8) || l2_vfio_bar_write(&r->v, EDU_DMA_CMD, &run, 8)) {
		edu_say("start DMA %d: %s", i, strerror(errno));
		return -1;
	}
	return 0;
}

int main(void)
{
	struct l2_irq_run r;
	uint32_t id, raise_bit = IRQ_RAISE_BIT, dma_bit = IRQ_DMA_BIT;

	edu_prog = "l2-edu-msi";
	if (l2_irq_start(&r, VFIO_PCI_MSI_IRQ_INDEX, "vfio-msi", "MSI capability not visible?"))
		return 1;
	if (l2_vfio_bar_read(&r.v, EDU_IDENT, &id, 4) || id != EDU_IDENT_VALUE) {
		edu_say("ident through VFIO: 0x%08x", id);
		return 1;
	}
	if (l2_irq_loop(&r, RAISES, "raise", NULL, ack_bit, &raise_bit) ||
	    l2_irq_loop(&r, DMAS, "dma", start_dma, ack_bit, &dma_bit))
		return 1;
	/* Nothing more may arrive. */
	l2_irq_finish(&r, 200000);
	edu_say("issued %d raises + %d DMAs; eventfd counted %llu; /proc/interrupts vfio-msi %ld -> %ld", RAISES, DMAS,
		(unsigned long long)r.got, r.before, r.after);
	if (r.got != RAISES + DMAS || r.after - r.before != RAISES + DMAS) {
		edu_say("interrupt count mismatch: expected exactly %d", RAISES + DMAS);
		return 1;
	}
	return 0;
}
