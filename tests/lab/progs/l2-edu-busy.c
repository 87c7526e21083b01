/* l2-edu-busy: L2 program (tests/lab/scenarios/sigkill.sh) that keeps edu busy until ivmm is killed under it.
 * ivmm.busy=dma (the default) on L2's command line: edu DMAs both ways through a locked page of guest RAM,
 * back to back, each checked; ivmm.busy=msi: edu taken with VFIO in L2 (no-IOMMU mode, l2_vfio.h), MSI
 * enabled, then raise-interrupt writes as fast as the program can issue them, an MSI each, without waiting
 * for them (an interrupt storm through VFIO in L1, the KVM irqfd and the vITS). Prints
 * `l2-edu-busy: dma loop running` / `l2-edu-busy: msi storm running` once the first DMA came back right /
 * the first MSI arrived, then a progress line every few seconds; never exits by itself (exit 1 on an
 * error). */
#include <poll.h>
#include <sys/mman.h>
#include "tests/lab/progs/l2_vfio.h"

#define PAGE 4096u

static int busy_is(const char *mode)
{
	char val[64];

	l2_cmdline_get("ivmm.busy", val, sizeof(val));
	return !strcmp(val, mode);
}

static int page_phys(const void *p, uint64_t *phys)
{
	uint64_t e = 0, va = (uint64_t)(uintptr_t)p;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0 || pread(fd, &e, 8, (off_t)(va / PAGE * 8)) != 8 || !(e >> 63) || !(e & ((1ull << 55) - 1))) {
		edu_say("no guest-physical address for the DMA page (pagemap entry 0x%016llx)", (unsigned long long)e);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	*phys = (e & ((1ull << 55) - 1)) * PAGE + va % PAGE;
	return 0;
}

static int dma_loop(void)
{
	char bdf[64];
	volatile uint8_t *bar = edu_open(bdf, sizeof(bdf), CMD_MEMORY | CMD_MASTER);
	uint8_t *buf = aligned_alloc(PAGE, PAGE);
	uint64_t phys, t_last = now_ns();

	if (!bar || !buf || mlock(buf, PAGE) || page_phys(buf, &phys))
		return 1;
	for (unsigned long n = 1;; n++) {
		for (unsigned int i = 0; i < 256; i++)
			buf[i] = (uint8_t)(n * 13 + i);
		__sync_synchronize();
		if (edu_dma(bar, phys, EDU_DMA_BUF, 256, 0))
			return 1;
		memset(buf + 2048, 0, 256);
		__sync_synchronize();
		if (edu_dma(bar, EDU_DMA_BUF, phys + 2048, 256, EDU_DMA_TO_RAM))
			return 1;
		if (memcmp(buf, buf + 2048, 256)) {
			edu_say("round trip %lu at guest-physical 0x%llx came back wrong", n, (unsigned long long)phys);
			return 1;
		}
		if (n == 1)
			edu_say("dma loop running (guest-physical 0x%llx)", (unsigned long long)phys);
		if (now_ns() - t_last > 3000000000ull) {
			edu_say("%lu DMA round trips", n);
			t_last = now_ns();
		}
	}
}

static int msi_storm(void)
{
	struct l2_irq_run r;
	uint32_t bit = L2_IRQ_RAISE_BIT;
	uint64_t t_last;

	if (l2_irq_start(&r, VFIO_PCI_MSI_IRQ_INDEX, "vfio-msi", "MSI capability not visible?"))
		return 1;
	if (l2_vfio_bar_write(&r.v, EDU_IRQ_RAISE, &bit, 4) || wait_efd(r.efd, &r.got, "first MSI", 0))
		return 1;
	edu_say("msi storm running");
	t_last = now_ns();
	for (unsigned long n = 1;; n++) {
		struct pollfd pfd = { .fd = r.efd, .events = POLLIN };
		uint64_t v;

		if (l2_vfio_bar_write(&r.v, EDU_IRQ_ACK, &bit, 4) || l2_vfio_bar_write(&r.v, EDU_IRQ_RAISE, &bit, 4)) {
			edu_say("raise %lu: %s", n, strerror(errno));
			return 1;
		}
		if (poll(&pfd, 1, 0) == 1 && read(r.efd, &v, 8) == 8)
			r.got += v;
		if (now_ns() - t_last > 3000000000ull) {
			edu_say("%lu raises, %llu MSIs counted", n, (unsigned long long)r.got);
			t_last = now_ns();
		}
	}
}

int main(void)
{
	edu_prog = "l2-edu-busy";
	return busy_is("msi") ? msi_storm() : dma_loop();
}
