/* l2-events-flood: L2 program (tests/lab/scenarios/events-flood.sh, ivmm run --viommu smmuv3,evtq=3: an event
 * queue of 8 entries). An event storm against a tiny event queue: edu is taken with VFIO cdev + iommufd in L2
 * (tests/lab/progs/l2_iommufd.h) and, after a round trip through a mapped page, makes BURST_DMAS edu -> RAM DMAs
 * of 4 KiB to IOVA 0x23450000, which L2 never mapped. QEMU's SMMU raises one F_TRANSLATION per 4-byte access, so
 * each DMA is 1024 events: far more than the kernel's vEVENTQ (as deep as the guest's queue) or the guest's
 * queue hold. Then, once the storm has been handled and the driver's dump rate limit has had time to reset
 * (RATELIMIT_WAIT_S), one 4-byte faulting DMA to IOVA 0x23460000: a single event. Checks:
 *   - L2's driver reported the loss: "EVTQ overflow detected -- events lost" in its log;
 *   - the single late DMA's event was dumped after the last overflow line, with edu's StreamID and its address;
 *   - every dumped event is an F_TRANSLATION of edu's StreamID inside one of the two faulting ranges.
 * It prints what the scenario compares with ivmm's counters:
 *   `faulting accesses A` (4-byte accesses to unmapped IOVAs: the events the host SMMU raised),
 *   `dumps D + suppressed S = consumed C` (L2's driver dumps at most 10 events per 5 s and counts the others as
 *   "callbacks suppressed"; the late event closes the storm's last interval, so D + S is every event the
 *   driver took from its queue), and `overflows O`. Exit 0 when the three checks hold. */
#include "tests/lab/progs/l2_iommufd.h"

#define IOVA_OK 0x12340000ull
#define IOVA_BURST 0x23450000ull /* never mapped */
#define IOVA_LATE 0x23460000ull  /* never mapped: the single DMA after the storm */
#define BURST_DMAS 4
#define BURST_LEN 4096 /* 1024 faulting 4-byte accesses */
#define LATE_LEN 4     /* one access, one event */
#define RATELIMIT_WAIT_S 6 /* > the driver's 5 s dump interval */

int main(void)
{
	struct l2_evtlog lb, ls, ll;
	struct l2_iommufd io;
	struct l2_vfio v;
	volatile uint8_t *bar;
	uint8_t *buf;
	char bdf[64], irq_line[512];
	long accesses = 0, irq0, irq1, irq2, foreign = 0, late = 0;
	int rid, fails = 0;
	uint64_t t0;

	edu_prog = "l2-events-flood";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (l2_fault_setup(bdf, sizeof(bdf), &v, &io, &rid, &bar, &buf, IOVA_OK))
		return 1;
	if (l2_evtlog_read(&lb))
		return 1;
	irq0 = l2_evtq_irqs(irq_line, sizeof(irq_line));
	edu_say("edu %s (vSID 0x%x); before the storm: %ld event dumps, %ld overflows; %s", bdf, rid, lb.n,
		lb.overflows, irq_line[0] ? irq_line : "no arm-smmu-v3-evtq interrupt line");

	/* The storm. */
	l2_klog_quiet();
	t0 = now_ns();
	for (int i = 0; i < BURST_DMAS; i++) {
		if (edu_dma(bar, EDU_DMA_BUF, IOVA_BURST, BURST_LEN, EDU_DMA_TO_RAM)) {
			(void)l2_events_settle(0, 0);
			return 1;
		}
		accesses += BURST_LEN / 4;
	}
	irq1 = l2_events_settle(1500, 90000);
	if (l2_evtlog_read(&ls))
		return 1;
	edu_say("storm: %d DMAs of %u bytes to IOVA 0x%llx (%ld faulting accesses), handled after %.1f s: %ld event "
		"dumps, %ld suppressed so far, %ld overflow reports; event queue interrupts %ld -> %ld", BURST_DMAS,
		BURST_LEN, IOVA_BURST, accesses, (double)(now_ns() - t0) / 1e9, ls.n - lb.n, ls.suppressed,
		ls.overflows - lb.overflows, irq0, irq1);
	if (ls.overflows <= lb.overflows) {
		edu_say("L2's driver reported no EVTQ overflow although %ld events met an 8-entry queue", accesses);
		fails++;
	} else {
		(void)l2_klog_count("arm-smmu-v3", "EVTQ overflow", 2);
	}

	/* One event after the storm, once the dump rate limit has reset. */
	edu_say("waiting %d s for the driver's dump rate limit to reset", RATELIMIT_WAIT_S);
	sleep(RATELIMIT_WAIT_S);
	l2_klog_quiet();
	if (edu_dma(bar, EDU_DMA_BUF, IOVA_LATE, LATE_LEN, EDU_DMA_TO_RAM)) {
		(void)l2_events_settle(0, 0);
		return 1;
	}
	accesses += LATE_LEN / 4;
	irq2 = l2_events_settle(1000, 20000);
	if (l2_evtlog_read(&ll))
		return 1;
	for (long i = 0; i < ll.n; i++) {
		const struct l2_smmu_evt *e = &ll.ev[i];

		if (l2_evt_is_fault(e, (uint32_t)rid, IOVA_LATE, IOVA_LATE + LATE_LEN)) {
			if (i >= ls.n && e->overflows_before == ll.overflows && ll.overflows > 0) {
				late++;
				l2_evt_show("late event", e);
			}
		} else if (!l2_evt_is_fault(e, (uint32_t)rid, IOVA_BURST, IOVA_BURST + BURST_LEN)) {
			if (!foreign++)
				l2_evt_show("foreign event", e);
		}
	}
	if (ll.n > 0 && !late)
		l2_evt_show("last dumped event", &ll.ev[ll.n - 1]);
	edu_say("late DMA of %u bytes to IOVA 0x%llx: %ld event dump(s) after the last overflow; interrupts %ld -> %ld",
		LATE_LEN, IOVA_LATE, late, irq1, irq2);
	if (late != 1) {
		edu_say("expected exactly one dump of the late event (StreamID 0x%x, address 0x%llx) after the overflow",
			rid, IOVA_LATE);
		fails++;
	}
	if (foreign) {
		edu_say("%ld dumped event(s) are not edu's F_TRANSLATION in the faulting ranges", foreign);
		fails++;
	}
	edu_say("faulting accesses %ld; L2's driver: dumps %ld + suppressed %ld = consumed %ld; overflows %ld", accesses,
		ll.n, ll.suppressed, ll.n + ll.suppressed, ll.overflows);
	if (l2_dma_roundtrip(bar, buf, L2_PAGE, IOVA_OK, 0, L2_PAGE, 2)) {
		edu_say("round trip through IOVA 0x%llx failed after the storm", IOVA_OK);
		fails++;
	}
	l2_evtlog_free(&lb);
	l2_evtlog_free(&ls);
	l2_evtlog_free(&ll);
	munmap((void *)bar, EDU_BAR_SIZE);
	l2_iommufd_close(&v, &io);
	return fails ? 1 : 0;
}
