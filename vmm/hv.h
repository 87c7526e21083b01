/* hv.h: what devices need from the hypervisor, as a typed ops table. The real backend is KVM on arm64
 * (vmm/kvm_arm64.c); unit tests use a fake (tests/unit/fake_hv.c) that records calls. */
#ifndef IVMM_HV_H
#define IVMM_HV_H

#include <stdbool.h>
#include "vmm/compiler.h"

struct hv;

struct hv_ops {
	/* Map host memory into the guest at gpa (a KVM memslot). Returns 0 or -errno. */
	int (*mem_map)(struct hv *hv, u64 gpa, u64 size, void *host, bool readonly);
	/* Remove the mapping that starts at gpa. */
	int (*mem_unmap)(struct hv *hv, u64 gpa);
	/* Set the level of a wired interrupt (GIC SPI number, i.e. INTID - 32). */
	int (*irq_line)(struct hv *hv, u32 spi, bool level);
	/* Inject one MSI through the vITS: doorbell address, data (event id) and device id (requester id). */
	int (*signal_msi)(struct hv *hv, u64 addr, u32 data, u32 devid);
	/* Route an eventfd to an MSI (KVM irqfd + GSI routing). Returns a handle >= 0 or -errno. */
	int (*irqfd_msi)(struct hv *hv, int eventfd, u64 addr, u32 data, u32 devid);
	/* Route an eventfd to a wired SPI (level, with resample fd or -1). Returns a handle >= 0 or -errno. */
	int (*irqfd_spi)(struct hv *hv, int eventfd, int resamplefd, u32 spi);
	/* Undo an irqfd_* route. */
	int (*irqfd_release)(struct hv *hv, int handle);
	/* Optional (may be NULL): bracket many irqfd_msi/irqfd_release calls (begin = true, then false) so the
	 * backend rewrites its routing table once at the end instead of once per call (KVM re-submits the whole
	 * GSI table on every change: O(n^2) for n MSI-X vectors otherwise). Calls nest; inside a batch a new
	 * route takes effect at the outermost end, and an event already waiting in its eventfd is delivered
	 * then (not lost). Returns 0 or -errno (end: the table could not be committed or a route not
	 * activated; the backend said so and retries at its next batch end). */
	int (*irqfd_batch)(struct hv *hv, bool begin);
};

struct hv {
	const struct hv_ops *ops;
};

#endif
