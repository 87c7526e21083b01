/* l2-dev-fault: L2 program (tests/lab/scenarios/device-fault.sh, ivmm run --viommu smmuv3 --stats, the device
 * guest-vfio=on). A stage-1 fault of the device under test (tests/lab/progs/l2_dut.h) reaches L2's own SMMU
 * driver as an event of ivmm's vSMMU: the device is taken with the guest's VFIO cdev + iommufd (attached to an
 * IOAS in which nothing is mapped at IOVA 0x23450000), BAR0 mapped through VFIO, bus mastering on, and the
 * device made to access that IOVA by the trigger tests/lab/progs/l2_dma_trigger.h knows for it (edu, NVMe).
 * The host SMMU reports the fault on the kernel's vEVENTQ, ivmm writes it into the vSMMU's event queue and
 * interrupts L2, whose arm-smmu-v3 driver dumps the record. Read back with klogctl, at least one dump must be
 * F_TRANSLATION of stage 1 for the device's StreamID (its requester ID, ivmm's default vSID) at an address in
 * the range the trigger reported, none may be for another StreamID, and L2's event queue interrupt count must
 * have grown. Prints `faults N` for the scenario. Exit 0 when all hold; 1 otherwise (also for a device no
 * trigger knows, saying so). */
#include "tests/lab/progs/l2_dut.h"
#include "tests/lab/progs/l2_dma_trigger.h"

#define IOVA_BAD 0x23450000ull

int main(void)
{
	const struct l2_dma_trigger *t;
	struct l2_evtlog before, after;
	struct l2_iommufd io;
	struct l2_vfio v;
	volatile uint8_t *bar;
	char bdf[EDU_BDF_LEN];
	unsigned long ven, dev, cls;
	long irq0, irq1, faults = 0, other = 0;
	uint64_t len = 0;
	int rid, fired;

	edu_prog = "l2-dev-fault";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (l2_dut_find(bdf, sizeof(bdf)))
		return 1;
	ven = l2_pci_attr(bdf, "vendor");
	dev = l2_pci_attr(bdf, "device");
	cls = l2_pci_attr(bdf, "class");
	t = l2_dma_trigger_for(ven, dev, cls);
	if (!t) {
		edu_say("no known way to make %04lx:%04lx (class 0x%06lx) do DMA (l2_dma_trigger.h knows edu and NVMe)",
			ven, dev, cls);
		return 1;
	}
	rid = l2_pci_rid(bdf);
	if (rid < 0 || l2_iommufd_open(bdf, &v, &io) || l2_vfio_cmd_set(&v, CMD_MEMORY | CMD_MASTER))
		return 1;
	if (!(v.bar0.flags & VFIO_REGION_INFO_FLAG_MMAP) || !v.bar0.size) {
		edu_say("BAR0 region: flags 0x%x size 0x%llx: not mmappable", v.bar0.flags,
			(unsigned long long)v.bar0.size);
		return 1;
	}
	bar = mmap(NULL, v.bar0.size, PROT_READ | PROT_WRITE, MAP_SHARED, v.dev, (off_t)v.bar0.offset);
	if (bar == MAP_FAILED) {
		edu_say("mmap BAR0 through VFIO: %s", strerror(errno));
		return 1;
	}
	edu_say("trigger: %s at IOVA 0x%llx (vSID 0x%x)", t->name, IOVA_BAD, rid);
	if (l2_faults_begin(&before, &irq0))
		return 1;
	fired = t->fire(bar, v.bar0.size, IOVA_BAD, &len);
	if (l2_faults_end(&after, &irq1))
		return 1;
	if (t->quiesce)
		t->quiesce(bar);
	if (fired)
		return 1;
	for (long i = before.n; i < after.n; i++) {
		const struct l2_smmu_evt *e = &after.ev[i];

		l2_evt_show("kernel dumped", e);
		if (l2_evt_is_fault(e, (uint32_t)rid, IOVA_BAD, IOVA_BAD + len))
			faults++;
		else if (e->ndw < 4 || L2_EVT_SID(e->dw[0]) != (uint32_t)rid)
			other++;
	}
	edu_say("faults %ld", faults);
	edu_say("%ld new event dumps: %ld F_TRANSLATION for StreamID 0x%x in 0x%llx+0x%llx, %ld for another StreamID "
		"or incomplete; event queue interrupts %ld -> %ld", after.n - before.n, faults, rid, IOVA_BAD,
		(unsigned long long)len, other, irq0, irq1);
	munmap((void *)bar, v.bar0.size);
	l2_iommufd_close(&v, &io);
	l2_evtlog_free(&before);
	l2_evtlog_free(&after);
	if (!faults || other || irq1 <= irq0) {
		edu_say("expected: at least one F_TRANSLATION for StreamID 0x%x, none for another, more interrupts", rid);
		return 1;
	}
	return 0;
}
