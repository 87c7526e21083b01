/* l2-events-teardown: L2 program (tests/lab/scenarios/events-teardown.sh, ivmm run --viommu smmuv3). Events in
 * flight while L2 tears edu's translation down: ROUNDS rounds, each opening edu with VFIO cdev + iommufd
 * (tests/lab/progs/l2_iommufd.h: a fresh iommufd and IOAS, so L2's arm-smmu-v3 driver rewrites edu's STE and the
 * vSMMU builds a new nested HWPT), mapping a page, and starting 4 KiB edu -> RAM DMAs to IOVA 0x23450000, which
 * is never mapped (1024 F_TRANSLATION events each, on their way through the host SMMU, the kernel's vEVENTQ and
 * ivmm into L2's event queue), then, without waiting for the events, one of:
 *   close:   close the cdev and the iommufd right after the DMA completed (edu leaves the IOAS: STE rewritten);
 *   unbind:  close right after starting the DMA (it may run while bus mastering is turned off and the STE
 *            changes), then unbind edu from vfio-pci (L2's driver gives it its default domain), so the
 *            next round binds it again;
 *   detach:  VFIO_DEVICE_DETACH_IOMMUFD_PT while the DMA runs (blocking domain), attach again and fault again,
 *            then close.
 * Afterwards the events are let to settle and a last round proves edu still works: a fresh open, a fresh
 * mapping at another IOVA, round trips of a whole page both ways. Before exiting it starts one more faulting
 * DMA and leaves edu open in a child process, so that L2 powers off (its driver disables the vSMMU: EVTQEN
 * 1 -> 0, and ivmm frees the vEVENTQ) while those events are still arriving. Exit 0 when every round ran and
 * the final round trips matched. */
#include "tests/lab/progs/l2_iommufd.h"

#define ROUNDS 9
#define IOVA_OK 0x12340000ull
#define IOVA_BAD 0x23450000ull  /* never mapped */
#define IOVA_LAST 0x34560000ull /* the final round's fresh mapping */
#define FAULT_LEN 4096

static const char *const modes[] = { "close", "unbind", "detach" };

struct dev {
	char bdf[64];
	struct l2_iommufd io;
	struct l2_vfio v;
	volatile uint8_t *bar;
	uint8_t *buf;
};

/* Open edu with a fresh iommufd, map a page at iova, enable DMA, map BAR0, and wait for any DMA left running by
 * an earlier round (edu ignores a new command while one runs). */
static int dev_open(struct dev *d, uint64_t iova)
{
	if (l2_iommufd_open(d->bdf, &d->v, &d->io))
		return -1;
	if (!d->buf && !(d->buf = l2_dma_buffer(L2_PAGE)))
		return -1;
	if (l2_iommufd_map(&d->io, d->buf, L2_PAGE, iova) || l2_vfio_cmd_set(&d->v, CMD_MEMORY | CMD_MASTER))
		return -1;
	d->bar = l2_vfio_map_bar0(&d->v);
	if (!d->bar)
		return -1;
	return edu_dma_wait(d->bar);
}

static void dev_close(struct dev *d)
{
	if (d->bar)
		munmap((void *)d->bar, EDU_BAR_SIZE);
	d->bar = NULL;
	l2_iommufd_close(&d->v, &d->io);
}

static int unbind(const char *bdf)
{
	char p[300];

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	return write_str(p, bdf);
}

static int round_run(struct dev *d, int r)
{
	const char *mode = modes[r % 3];

	if (dev_open(d, IOVA_OK))
		return -1;
	switch (r % 3) {
	case 0:
		if (edu_dma(d->bar, EDU_DMA_BUF, IOVA_BAD, FAULT_LEN, EDU_DMA_TO_RAM))
			return -1;
		dev_close(d);
		break;
	case 1:
		edu_dma_start(d->bar, EDU_DMA_BUF, IOVA_BAD, FAULT_LEN, EDU_DMA_TO_RAM);
		usleep(50000 + 30000 * (unsigned int)r);
		dev_close(d);
		if (unbind(d->bdf))
			return -1;
		break;
	default:
		edu_dma_start(d->bar, EDU_DMA_BUF, IOVA_BAD, FAULT_LEN, EDU_DMA_TO_RAM);
		usleep(80000 + 20000 * (unsigned int)r);
		if (l2_iommufd_detach(&d->v) || edu_dma_wait(d->bar) || l2_iommufd_attach(&d->v, &d->io) ||
		    edu_dma(d->bar, EDU_DMA_BUF, IOVA_BAD, FAULT_LEN, EDU_DMA_TO_RAM))
			return -1;
		dev_close(d);
		break;
	}
	edu_say("round %d (%s) done", r, mode);
	return 0;
}

int main(void)
{
	struct dev d;
	struct l2_evtlog l;
	long irq0, irq1, bad = 0;

	memset(&d, 0, sizeof(d));
	edu_prog = "l2-events-teardown";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (edu_find(d.bdf, sizeof(d.bdf)))
		return 1;
	irq0 = l2_evtq_irqs(NULL, 0);
	l2_klog_quiet();
	for (int r = 0; r < ROUNDS; r++) {
		if (round_run(&d, r)) {
			edu_say("round %d (%s) failed", r, modes[r % 3]);
			(void)l2_events_settle(0, 0);
			return 1;
		}
	}
	irq1 = l2_events_settle(1500, 60000);
	if (l2_evtlog_read(&l))
		return 1;
	edu_say("%d rounds with faulting DMAs in flight: %ld event dumps (%ld suppressed), %ld overflow reports in "
		"L2's log; event queue interrupts %ld -> %ld", ROUNDS, l.n, l.suppressed, l.overflows, irq0, irq1);
	l2_evtlog_free(&l);

	/* edu still works: a fresh open, a fresh mapping at another IOVA. */
	if (dev_open(&d, IOVA_LAST))
		return 1;
	for (unsigned int s = 0; s < 3; s++) {
		long wrong = l2_dma_roundtrip(d.bar, d.buf, L2_PAGE, IOVA_LAST, 0, L2_PAGE, 10 + s);

		if (wrong)
			bad++;
	}
	if (bad) {
		edu_say("final round trips through IOVA 0x%llx: %ld of 3 failed", IOVA_LAST, bad);
		return 1;
	}
	edu_say("final round trip: 3 x %u bytes both ways through a fresh mapping at IOVA 0x%llx", L2_PAGE, IOVA_LAST);
	/* Leave events in flight for the poweroff: a child keeps edu open (l2-init waits for this process only and
	 * then powers off at once) while the faulting DMA runs. */
	l2_klog_quiet();
	edu_dma_start(d.bar, EDU_DMA_BUF, IOVA_BAD, FAULT_LEN, EDU_DMA_TO_RAM);
	if (fork() == 0) {
		setsid();
		sleep(60);
		_exit(0);
	}
	edu_say("a faulting DMA is left running for L2's poweroff");
	return 0;
}
