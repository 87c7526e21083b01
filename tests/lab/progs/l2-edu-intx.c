/* l2-edu-intx: L2 program (tests/lab/scenarios/passthrough-intx.sh). With MSI left disabled, edu interrupts
 * through INTA: ivmm routes VFIO's INTx eventfd in L1 to the swizzled SPI with a KVM resample eventfd (level
 * semantics: VFIO masks the line when it fires and unmasks it at the guest's EOI). In L2 the program takes edu
 * with VFIO (no-IOMMU mode; memory decode and bus mastering on, as l2_irq_start does for every run) and an
 * INTx eventfd, then RAISES times: raise, wait for the eventfd, acknowledge in
 * edu (line deasserted), unmask in VFIO. Exactly RAISES events must reach the eventfd, none after the last
 * acknowledgement, and L2's /proc/interrupts vfio-intx line must have counted exactly RAISES: one more would be
 * an interrupt nobody raised (a level line re-fired after its acknowledgement, an event delivered twice). */
#include "tests/lab/progs/l2_vfio.h"

#define RAISES 5
#define IRQ_RAISE_BIT 0x1

/* Deassert in edu, then unmask the line in VFIO (it masked it when it fired). */
static int ack_intx(struct l2_irq_run *r, int i, void *ctx)
{
	uint32_t bit = IRQ_RAISE_BIT;

	(void)i;
	(void)ctx;
	(void)l2_vfio_bar_write(&r->v, EDU_IRQ_ACK, &bit, 4);
	if (l2_vfio_irq(&r->v, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, -1)) {
		edu_say("unmask INTx: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int main(void)
{
	struct l2_irq_run r;

	edu_prog = "l2-edu-intx";
	if (l2_irq_start(&r, VFIO_PCI_INTX_IRQ_INDEX, "vfio-intx", "interrupt pin not visible?") ||
	    l2_irq_loop(&r, RAISES, "raise", NULL, ack_intx, NULL))
		return 1;
	l2_irq_finish(&r, 300000);
	edu_say("issued %d raises; eventfd counted %llu; /proc/interrupts vfio-intx %ld -> %ld", RAISES,
		(unsigned long long)r.got, r.before, r.after);
	if (r.got != RAISES || r.after - r.before != RAISES) {
		edu_say("interrupt count mismatch: expected exactly %d on the eventfd and in /proc/interrupts", RAISES);
		return 1;
	}
	return 0;
}
