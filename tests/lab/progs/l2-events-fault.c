/* l2-events-fault: L2 program (tests/lab/scenarios/events-fault.sh, ivmm run --viommu smmuv3[,msi=off]). A
 * stage-1 fault of edu reaches L2's own SMMU driver: edu is taken with VFIO cdev + iommufd in L2
 * (tests/lab/progs/l2_iommufd.h), a page is mapped at IOVA 0x12340000 and a round trip through it checks that
 * translation works; then edu DMAs to IOVA 0x23450000, which L2 never mapped: 16 bytes edu -> RAM (4 faulting
 * 4-byte writes) and 8 bytes RAM -> edu (2 faulting reads). The host SMMU reports the stage-1 faults on the
 * kernel's vEVENTQ, ivmm writes them into the vSMMU's event queue and interrupts L2, whose arm-smmu-v3 driver
 * dumps each record in its kernel log. Read back with klogctl, the dumps must show:
 *   - F_TRANSLATION (0x10) of stage 1 with the StreamID (dword0 bits 63:32) of edu's vSID, its requester ID
 *     (0x8 for 00:01.0), and the faulting address (dword2) inside the write range with RnW (dword1 bit 35)
 *     clear, and another inside the read range with RnW set;
 *   - no other event (another id, another StreamID, an address elsewhere);
 * and the count of L2's event queue interrupt (/proc/interrupts, action arm-smmu-v3-evtq: the vSMMU's MSI
 * through the ITS, or with msi=off its wired eventq SPI) must have grown; its line is printed before and after.
 * Finally a round trip through the mapped page again (the faults left edu usable). Exit 0 when all hold. */
#include "tests/lab/progs/l2_iommufd.h"

#define IOVA_OK 0x12340000ull
#define IOVA_BAD 0x23450000ull /* never mapped in L2's IOAS */
#define WRITE_LEN 16           /* edu -> RAM at IOVA_BAD: 4 faulting accesses */
#define READ_OFF 0x800
#define READ_LEN 8 /* RAM -> edu from IOVA_BAD + READ_OFF: 2 faulting accesses */

int main(void)
{
	struct l2_evtlog before, after;
	struct l2_iommufd io;
	struct l2_vfio v;
	volatile uint8_t *bar;
	uint8_t *buf;
	char bdf[64];
	long irq0, irq1, writes = 0, reads = 0, other = 0, partial = 0;
	int rid, fails = 0;

	edu_prog = "l2-events-fault";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (l2_fault_setup(bdf, sizeof(bdf), &v, &io, &rid, &bar, &buf, IOVA_OK))
		return 1;
	edu_say("edu %s (vSID 0x%x): round trip through IOVA 0x%llx works", bdf, rid, IOVA_OK);

	if (l2_faults_begin(&before, &irq0))
		return 1;
	if (edu_dma(bar, EDU_DMA_BUF, IOVA_BAD, WRITE_LEN, EDU_DMA_TO_RAM) ||
	    edu_dma(bar, IOVA_BAD + READ_OFF, EDU_DMA_BUF, READ_LEN, 0)) {
		(void)l2_events_settle(0, 0);
		return 1;
	}
	if (l2_faults_end(&after, &irq1))
		return 1;

	for (long i = before.n; i < after.n; i++) {
		const struct l2_smmu_evt *e = &after.ev[i];

		l2_evt_show("kernel dumped", e);
		if (e->ndw < 4)
			partial++;
		else if (l2_evt_is_fault(e, (uint32_t)rid, IOVA_BAD, IOVA_BAD + WRITE_LEN) && !L2_EVT_RNW(e->dw[1]))
			writes++;
		else if (l2_evt_is_fault(e, (uint32_t)rid, IOVA_BAD + READ_OFF, IOVA_BAD + READ_OFF + READ_LEN) &&
			 L2_EVT_RNW(e->dw[1]))
			reads++;
		else
			other++;
	}
	edu_say("the driver's decoded lines:");
	(void)l2_klog_count("arm-smmu-v3", "client:", 6);
	edu_say("%ld new event dumps in L2's log: %ld F_TRANSLATION for StreamID 0x%x in the write range, %ld in "
		"the read range, %ld other, %ld incomplete; event queue interrupts %ld -> %ld", after.n - before.n,
		writes, rid, reads, other, partial, irq0, irq1);
	if (!writes || !reads) {
		edu_say("missing: an F_TRANSLATION event with StreamID 0x%x at 0x%llx+0x%x (writes) and at 0x%llx+0x%x "
			"(reads)", rid, IOVA_BAD, WRITE_LEN, IOVA_BAD + READ_OFF, READ_LEN);
		fails++;
	}
	if (other || partial) {
		edu_say("%ld event(s) that are not edu's faults, %ld dump(s) without four dwords", other, partial);
		fails++;
	}
	if (irq1 <= irq0) {
		edu_say("the event queue interrupt count did not grow (%ld -> %ld)", irq0, irq1);
		fails++;
	}
	if (l2_dma_roundtrip(bar, buf, L2_PAGE, IOVA_OK, 0, L2_PAGE, 2)) {
		edu_say("round trip through IOVA 0x%llx failed after the faults", IOVA_OK);
		fails++;
	}
	l2_evtlog_free(&before);
	l2_evtlog_free(&after);
	munmap((void *)bar, EDU_BAR_SIZE);
	l2_iommufd_close(&v, &io);
	if (fails)
		return 1;
	edu_say("F_TRANSLATION for StreamID 0x%x reached L2's driver: %ld writes + %ld reads; interrupts %ld -> %ld",
		rid, writes, reads, irq0, irq1);
	return 0;
}
