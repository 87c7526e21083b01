/* l2-edu-msi: L2 program (tests/lab/scenarios/passthrough-msi.sh). edu's interrupt must arrive in L2 as an MSI
 * through ivmm's virtual MSI capability, VFIO eventfd in L1, KVM irqfd and the vITS. L2 has no edu driver, so
 * the program takes the device with VFIO itself (no-IOMMU mode: enable_unsafe_noiommu_mode, edu bound to
 * vfio-pci, the noiommu group through the legacy container), enables bus mastering, gets an MSI eventfd with
 * VFIO_DEVICE_SET_IRQS, then issues RAISES edu "raise interrupt" writes and DMAS DMAs with interrupt on
 * completion, one at a time, waiting for each on the eventfd and acknowledging it. It checks that exactly
 * RAISES + DMAS interrupts arrived, both on the eventfd and in L2's /proc/interrupts (vfio-msi line). */
#include <linux/vfio.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include "tests/lab/progs/l2_edu.h"

#define RAISES 8
#define DMAS 2
#define IRQ_RAISE_BIT 0x1
#define IRQ_DMA_BIT 0x100

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0) {
		edu_say("open %s: %s", path, strerror(errno));
		return -1;
	}
	n = write(fd, s, strlen(s));
	close(fd);
	if (n != (ssize_t)strlen(s)) {
		edu_say("write '%s' to %s: %s", s, path, n < 0 ? strerror(errno) : "short");
		return -1;
	}
	return 0;
}

static int bind_vfio(const char *bdf, char *group, size_t glen)
{
	char p[300], link[300];
	ssize_t n;

	if (write_str("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "1"))
		return -1;
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(p, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = 0;
		if (!strstr(link, "/vfio-pci")) {
			snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
			if (write_str(p, bdf))
				return -1;
		}
	}
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver_override", bdf);
	if (write_str(p, "vfio-pci"))
		return -1;
	(void)write_str("/sys/bus/pci/drivers_probe", bdf);
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(p, link, sizeof(link) - 1);
	if (n <= 0) {
		edu_say("%s has no iommu_group after binding to vfio-pci (noiommu mode not taken?)", bdf);
		return -1;
	}
	link[n] = 0;
	snprintf(group, glen, "/dev/vfio/noiommu-%s", strrchr(link, '/') + 1);
	for (int i = 0; i < 50 && access(group, F_OK); i++)
		usleep(100000);
	return 0;
}

/* Sum of the per-CPU counts of the /proc/interrupts line naming vfio-msi and bdf; -1 if none. */
static long msi_count(const char *bdf)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[1024];
	long total = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "vfio-msi") || !strstr(line, bdf))
			continue;
		char *s = strchr(line, ':');

		total = 0;
		while (s) {
			char *end;
			long v = strtol(s + 1, &end, 10);

			if (end == s + 1)
				break;
			total += v;
			s = end;
		}
		break;
	}
	fclose(f);
	return total;
}

static int wait_irq(int efd, uint64_t *got, const char *what, int i)
{
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	uint64_t v;

	if (poll(&pfd, 1, 5000) != 1) {
		edu_say("%s %d: no interrupt on the MSI eventfd within 5 s", what, i);
		return -1;
	}
	if (read(efd, &v, 8) != 8) {
		edu_say("read eventfd: %s", strerror(errno));
		return -1;
	}
	*got += v;
	return 0;
}

int main(void)
{
	char bdf[64], group[320];
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	struct vfio_region_info bar0 = { .argsz = sizeof(bar0), .index = VFIO_PCI_BAR0_REGION_INDEX };
	struct vfio_region_info cfg = { .argsz = sizeof(cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX };
	struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_MSI_IRQ_INDEX };
	char setbuf[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
	struct vfio_irq_set *set = (struct vfio_irq_set *)setbuf;
	int container, grp, dev, efd;
	uint64_t got = 0;
	uint16_t cmd;

	edu_prog = "l2-edu-msi";
	if (edu_find(bdf, sizeof(bdf)))
		return 1;
	edu_say("edu at %s", bdf);
	if (bind_vfio(bdf, group, sizeof(group)))
		return 1;
	container = open("/dev/vfio/vfio", O_RDWR);
	grp = open(group, O_RDWR);
	if (container < 0 || grp < 0) {
		edu_say("open /dev/vfio/vfio or %s: %s", group, strerror(errno));
		return 1;
	}
	if (ioctl(grp, VFIO_GROUP_GET_STATUS, &gs) || !(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		edu_say("group %s not viable", group);
		return 1;
	}
	if (ioctl(grp, VFIO_GROUP_SET_CONTAINER, &container) || ioctl(container, VFIO_SET_IOMMU, VFIO_NOIOMMU_IOMMU)) {
		edu_say("no-IOMMU container setup: %s", strerror(errno));
		return 1;
	}
	dev = ioctl(grp, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (dev < 0) {
		edu_say("VFIO_GROUP_GET_DEVICE_FD %s: %s", bdf, strerror(errno));
		return 1;
	}
	if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &bar0) || ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &cfg) ||
	    ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &ii)) {
		edu_say("region/irq info: %s", strerror(errno));
		return 1;
	}
	if (ii.count < 1) {
		edu_say("edu offers no MSI through VFIO in L2 (MSI capability not visible?)");
		return 1;
	}
	/* Memory decode and bus mastering (an MSI is a bus-master write). */
	if (pread(dev, &cmd, 2, (off_t)cfg.offset + CFG_COMMAND) != 2)
		return 1;
	cmd |= CMD_MEMORY | CMD_MASTER;
	if (pwrite(dev, &cmd, 2, (off_t)cfg.offset + CFG_COMMAND) != 2) {
		edu_say("enable bus mastering: %s", strerror(errno));
		return 1;
	}
	efd = eventfd(0, 0);
	set->argsz = sizeof(setbuf);
	set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = VFIO_PCI_MSI_IRQ_INDEX;
	set->start = 0;
	set->count = 1;
	memcpy(set->data, &efd, sizeof(efd));
	if (efd < 0 || ioctl(dev, VFIO_DEVICE_SET_IRQS, set)) {
		edu_say("VFIO_DEVICE_SET_IRQS (MSI): %s", strerror(errno));
		return 1;
	}
	long before = msi_count(bdf);

	if (before < 0) {
		edu_say("no vfio-msi line for %s in /proc/interrupts", bdf);
		return 1;
	}
	uint32_t id;

	if (pread(dev, &id, 4, (off_t)bar0.offset + EDU_IDENT) != 4 || id != EDU_IDENT_VALUE) {
		edu_say("ident through VFIO: 0x%08x", id);
		return 1;
	}
	for (int i = 0; i < RAISES; i++) {
		uint32_t v = IRQ_RAISE_BIT;

		if (pwrite(dev, &v, 4, (off_t)bar0.offset + EDU_IRQ_RAISE) != 4)
			return 1;
		if (wait_irq(efd, &got, "raise", i))
			return 1;
		(void)!pwrite(dev, &v, 4, (off_t)bar0.offset + EDU_IRQ_ACK);
	}
	for (int i = 0; i < DMAS; i++) {
		/* edu -> edu's own buffer is not allowed; a small RAM -> edu copy from a guest page. Where it reads from
		 * does not matter to the interrupt, only that the DMA completes. */
		static uint8_t page[4096] __attribute__((aligned(4096)));
		uint64_t src = 0, v64;
		int pm = open("/proc/self/pagemap", O_RDONLY);
		uint64_t e = 0;

		page[0] = (uint8_t)i;
		if (pm >= 0 && pread(pm, &e, 8, (off_t)((uintptr_t)page / 4096 * 8)) == 8 && (e >> 63))
			src = (e & ((1ull << 55) - 1)) * 4096;
		if (pm >= 0)
			close(pm);
		if (!src) {
			edu_say("no physical address for the DMA source page");
			return 1;
		}
		v64 = src;
		(void)!pwrite(dev, &v64, 8, (off_t)bar0.offset + EDU_DMA_SRC);
		v64 = EDU_DMA_BUF;
		(void)!pwrite(dev, &v64, 8, (off_t)bar0.offset + EDU_DMA_DST);
		v64 = 64;
		(void)!pwrite(dev, &v64, 8, (off_t)bar0.offset + EDU_DMA_CNT);
		v64 = EDU_DMA_RUN | EDU_DMA_IRQ;
		if (pwrite(dev, &v64, 8, (off_t)bar0.offset + EDU_DMA_CMD) != 8)
			return 1;
		if (wait_irq(efd, &got, "dma", i))
			return 1;
		uint32_t ack = IRQ_DMA_BIT;

		(void)!pwrite(dev, &ack, 4, (off_t)bar0.offset + EDU_IRQ_ACK);
	}
	usleep(200000);
	/* Nothing more may arrive. */
	struct pollfd pfd = { .fd = efd, .events = POLLIN };

	if (poll(&pfd, 1, 0) == 1)
		(void)wait_irq(efd, &got, "extra", 0);
	long after = msi_count(bdf);

	edu_say("issued %d raises + %d DMAs; eventfd counted %llu; /proc/interrupts vfio-msi %ld -> %ld", RAISES, DMAS,
		(unsigned long long)got, before, after);
	if (got != RAISES + DMAS || after - before != RAISES + DMAS) {
		edu_say("interrupt count mismatch: expected exactly %d", RAISES + DMAS);
		return 1;
	}
	return 0;
}
