/* l2_dma_trigger.h: how the lab makes a device it knows issue one DMA at an IOVA the program chose, for the
 * device-agnostic fault check (tests/lab/progs/l2-dev-fault.c, scenario device-fault.sh). A generic device cannot
 * be made to DMA without knowing its registers, so this is the one place that knows some: QEMU's edu (a DMA read
 * from the IOVA into its buffer) and any NVMe controller (class 0x010802: its admin submission queue put at the
 * IOVA and its doorbell rung, so the controller fetches a command from there). Each trigger works on BAR0 mapped
 * through the guest's VFIO and reports the IOVA range its accesses fall in. run-host.sh skips device-fault for
 * other devices (its "device-dma" need, which names the same devices: keep the two in step). Header-only, on
 * top of l2_iommufd.h. */
#ifndef IVMM_LAB_L2_DMA_TRIGGER_H
#define IVMM_LAB_L2_DMA_TRIGGER_H

#include "tests/lab/progs/l2_iommufd.h"

/* NVMe controller registers (NVM Express Base Specification, "Controller Registers"). */
#define NVME_CLASS 0x010802
#define NVME_REG_CAP 0x00
#define NVME_REG_CC 0x14
#define NVME_REG_CSTS 0x1c
#define NVME_REG_AQA 0x24
#define NVME_REG_ASQ 0x28
#define NVME_REG_ACQ 0x30
#define NVME_REG_SQ0TDBL 0x1000
#define NVME_CC_EN 0x1u
#define NVME_CC_IOSQES (6u << 16)  /* 64-byte submission entries */
#define NVME_CC_IOCQES (4u << 20)  /* 16-byte completion entries */
#define NVME_CSTS_RDY 0x1u
#define NVME_CAP_TO(cap) ((unsigned int)(((cap) >> 24) & 0xff)) /* 500 ms units */

struct l2_dma_trigger {
	const char *name;
	bool (*match)(unsigned long vendor, unsigned long device, unsigned long class);
	/* Make the device access [iova, iova + *len) (iova never mapped); *len gets the span its accesses fall in.
	 * 0, or -1 after a message. */
	int (*fire)(volatile uint8_t *bar, uint64_t bar_size, uint64_t iova, uint64_t *len);
	/* Put the device back in a quiet state afterwards (may be NULL). */
	void (*quiesce)(volatile uint8_t *bar);
};

static inline bool l2_trig_edu_match(unsigned long vendor, unsigned long device, unsigned long class)
{
	(void)class;
	return vendor == EDU_VENDOR && device == EDU_DEVICE;
}

static inline int l2_trig_edu_fire(volatile uint8_t *bar, uint64_t bar_size, uint64_t iova, uint64_t *len)
{
	if (bar_size < EDU_BAR_SIZE) {
		edu_say("edu BAR0 is 0x%llx bytes, not 1 MiB", (unsigned long long)bar_size);
		return -1;
	}
	*len = 8;
	return edu_dma(bar, iova, EDU_DMA_BUF, 8, 0);
}

static inline bool l2_trig_nvme_match(unsigned long vendor, unsigned long device, unsigned long class)
{
	(void)vendor;
	(void)device;
	return class == NVME_CLASS;
}

/* Wait (at most the controller's CAP.TO) until CSTS.RDY is rdy. 0, or -1 after a message. */
static inline int l2_trig_nvme_ready(volatile uint8_t *bar, unsigned int rdy)
{
	uint64_t cap = (uint64_t)rd32(bar, NVME_REG_CAP) | (uint64_t)rd32(bar, NVME_REG_CAP + 4) << 32;
	unsigned int ms = (NVME_CAP_TO(cap) ? NVME_CAP_TO(cap) : 1) * 500;

	for (unsigned int t = 0; t < ms; t += 10) {
		if ((rd32(bar, NVME_REG_CSTS) & NVME_CSTS_RDY) == rdy)
			return 0;
		usleep(10000);
	}
	edu_say("NVMe CSTS.RDY did not become %u within %u ms (CSTS 0x%x)", rdy, ms, rd32(bar, NVME_REG_CSTS));
	return -1;
}

static inline void l2_trig_nvme_quiesce(volatile uint8_t *bar)
{
	wr32(bar, NVME_REG_CC, 0);
	(void)l2_trig_nvme_ready(bar, 0);
}

static inline int l2_trig_nvme_fire(volatile uint8_t *bar, uint64_t bar_size, uint64_t iova, uint64_t *len)
{
	if (bar_size < NVME_REG_SQ0TDBL + 4) {
		edu_say("NVMe BAR0 is 0x%llx bytes: no room for the doorbells", (unsigned long long)bar_size);
		return -1;
	}
	/* Disable (the guest's nvme driver may have left it enabled), admin queues of two entries each: the
	 * submission queue at iova, the completion queue on the next page, both unmapped; enable; ring. */
	l2_trig_nvme_quiesce(bar);
	wr32(bar, NVME_REG_AQA, 1u << 16 | 1u);
	wr32(bar, NVME_REG_ASQ, (uint32_t)iova);
	wr32(bar, NVME_REG_ASQ + 4, (uint32_t)(iova >> 32));
	wr32(bar, NVME_REG_ACQ, (uint32_t)(iova + L2_PAGE));
	wr32(bar, NVME_REG_ACQ + 4, (uint32_t)((iova + L2_PAGE) >> 32));
	wr32(bar, NVME_REG_CC, NVME_CC_IOSQES | NVME_CC_IOCQES | NVME_CC_EN);
	if (l2_trig_nvme_ready(bar, 1))
		return -1;
	__sync_synchronize();
	wr32(bar, NVME_REG_SQ0TDBL, 1);
	*len = 2 * L2_PAGE;
	usleep(200000);
	return 0;
}

static const struct l2_dma_trigger l2_dma_triggers[] = {
	{ "edu DMA RAM -> device", l2_trig_edu_match, l2_trig_edu_fire, NULL },
	{ "NVMe admin command fetch", l2_trig_nvme_match, l2_trig_nvme_fire, l2_trig_nvme_quiesce },
};

/* The trigger for a device by its ids, or NULL. */
static inline const struct l2_dma_trigger *l2_dma_trigger_for(unsigned long vendor, unsigned long device,
							      unsigned long class)
{
	for (size_t i = 0; i < sizeof(l2_dma_triggers) / sizeof(l2_dma_triggers[0]); i++)
		if (l2_dma_triggers[i].match(vendor, device, class))
			return &l2_dma_triggers[i];
	return NULL;
}

#endif
