/* fake_hv.h: a fake struct hv for device unit tests. It records every call (in order, with arguments) and
 * keeps the state a real hypervisor would: current level of each SPI, mapped regions, live irqfd routes.
 * A test can make the next call of one op fail with fake_hv.fail_<op> = -EIO (consumed by that call). */
#ifndef IVMM_TEST_FAKE_HV_H
#define IVMM_TEST_FAKE_HV_H

#include <stdbool.h>
#include "vmm/hv.h"

#define FAKE_HV_MAX_CALLS 256
#define FAKE_HV_MAX_SPIS 128
#define FAKE_HV_MAX_MAPS 32
#define FAKE_HV_MAX_IRQFDS 64

enum fake_hv_op {
	FAKE_MEM_MAP,
	FAKE_MEM_UNMAP,
	FAKE_IRQ_LINE,
	FAKE_SIGNAL_MSI,
	FAKE_IRQFD_MSI,
	FAKE_IRQFD_SPI,
	FAKE_IRQFD_RELEASE,
	FAKE_IRQFD_BATCH,    /* level: true = begin, false = end */
};

struct fake_hv_call {
	enum fake_hv_op op;
	int ret;             /* what the op returned */
	u64 gpa, size;       /* mem_map / mem_unmap */
	void *host;
	bool readonly;
	u32 spi;             /* irq_line / irqfd_spi */
	bool level;          /* irq_line; irqfd_batch: begin */
	u64 addr;            /* signal_msi / irqfd_msi */
	u32 data, devid;
	int eventfd, resamplefd, handle;
};

struct fake_hv_map {
	bool used;
	u64 gpa, size;
	void *host;
	bool readonly;
};

struct fake_hv_irqfd {
	bool used;
	bool msi;
	int eventfd, resamplefd;
	u64 addr;
	u32 data, devid, spi;
};

struct fake_hv {
	struct hv hv;
	struct fake_hv_call calls[FAKE_HV_MAX_CALLS];
	unsigned int ncalls;          /* may exceed FAKE_HV_MAX_CALLS: later calls are counted, not stored */
	struct fake_hv_call overflow; /* scratch record for calls beyond the array */
	bool spi_level[FAKE_HV_MAX_SPIS];
	unsigned int spi_raises[FAKE_HV_MAX_SPIS];  /* 0 -> 1 transitions */
	struct fake_hv_map maps[FAKE_HV_MAX_MAPS];
	struct fake_hv_irqfd irqfds[FAKE_HV_MAX_IRQFDS];
	int batch_depth;              /* irqfd_batch nesting (begin - end) */
	/* One-shot failure injection. */
	int fail_mem_map, fail_mem_unmap, fail_irq_line, fail_signal_msi, fail_irqfd_msi, fail_irqfd_spi,
		fail_irqfd_release, fail_irqfd_batch;
};

void fake_hv_init(struct fake_hv *f);
static inline struct fake_hv *to_fake_hv(struct hv *hv)
{
	return (struct fake_hv *)hv;
}
/* Number of recorded calls of one op. */
unsigned int fake_hv_count(const struct fake_hv *f, enum fake_hv_op op);
/* The last recorded call of one op, or NULL. */
const struct fake_hv_call *fake_hv_last(const struct fake_hv *f, enum fake_hv_op op);

#endif
