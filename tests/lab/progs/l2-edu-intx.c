/* l2-edu-intx: L2 program (tests/lab/scenarios/passthrough-intx.sh). With MSI left disabled, edu interrupts
 * through INTA: ivmm routes VFIO's INTx eventfd in L1 to the swizzled SPI with a KVM resample eventfd (level
 * semantics: VFIO masks the line when it fires and unmasks it at the guest's EOI). In L2 the program takes edu
 * with VFIO (no-IOMMU mode) and an INTx eventfd, then RAISES times: raise, wait for the eventfd, acknowledge in
 * edu (line deasserted), unmask in VFIO. Exactly RAISES events must reach the eventfd, none after the last
 * acknowledgement, and L2's /proc/interrupts vfio-intx line must have counted at least RAISES. */
#include "tests/lab/progs/l2_vfio.h"

#define RAISES 5
#define IRQ_RAISE_BIT 0x1

int main(void)
{
	struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_INTX_IRQ_INDEX };
	struct l2_vfio v;
	char bdf[64];
	uint64_t got = 0;
	int efd;

	edu_prog = "l2-edu-intx";
	if (edu_find(bdf, sizeof(bdf)))
		return 1;
	edu_say("edu at %s", bdf);
	if (l2_vfio_open(bdf, &v))
		return 1;
	if (ioctl(v.dev, VFIO_DEVICE_GET_IRQ_INFO, &ii) || ii.count < 1) {
		edu_say("edu offers no INTx through VFIO in L2 (interrupt pin not visible?)");
		return 1;
	}
	efd = eventfd(0, 0);
	if (efd < 0 || l2_vfio_irq(&v, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, efd)) {
		edu_say("VFIO_DEVICE_SET_IRQS (INTx): %s", strerror(errno));
		return 1;
	}
	long before = irq_count("vfio-intx", bdf);

	if (before < 0) {
		edu_say("no vfio-intx line for %s in /proc/interrupts", bdf);
		return 1;
	}
	for (int i = 0; i < RAISES; i++) {
		uint32_t bit = IRQ_RAISE_BIT;

		if (l2_vfio_bar_write(&v, EDU_IRQ_RAISE, &bit, 4) || wait_efd(efd, &got, "raise", i))
			return 1;
		(void)l2_vfio_bar_write(&v, EDU_IRQ_ACK, &bit, 4);
		if (l2_vfio_irq(&v, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, -1)) {
			edu_say("unmask INTx: %s", strerror(errno));
			return 1;
		}
	}
	usleep(300000);
	struct pollfd pfd = { .fd = efd, .events = POLLIN };

	if (poll(&pfd, 1, 0) == 1)
		(void)wait_efd(efd, &got, "extra", 0);
	long after = irq_count("vfio-intx", bdf);

	edu_say("issued %d raises; eventfd counted %llu; /proc/interrupts vfio-intx %ld -> %ld", RAISES,
		(unsigned long long)got, before, after);
	if (got != RAISES || after - before < RAISES) {
		edu_say("interrupt count mismatch: expected exactly %d events", RAISES);
		return 1;
	}
	return 0;
}
