/* l2_vfio.h: for L2 programs that drive edu with VFIO in L2 itself. Without a vSMMU (L2 has no IOMMU): bind
 * edu to vfio-pci with enable_unsafe_noiommu_mode, open it through its noiommu group and the legacy container.
 * The device handle (struct l2_vfio: the device fd and its BAR0/config region infos) and everything on it are
 * shared with the vSMMU programs, which open edu through its VFIO cdev + iommufd instead (l2_iommufd.h):
 * BAR and config access, IRQ setup, and the interrupt counting (/proc/interrupts lines, eventfds) of struct
 * l2_irq_run, the whole interrupt-counting run the MSI and INTx programs share (l2_msi_run: the MSI check of
 * l2-edu-msi and l2-vsmmu-msi). Header-only, on top of l2_edu.h. */
#ifndef IVMM_LAB_L2_VFIO_H
#define IVMM_LAB_L2_VFIO_H

#include <linux/vfio.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include "tests/lab/progs/l2_edu.h"

struct l2_vfio {
	int container, group, dev;
	struct vfio_region_info bar0, cfg;
};

static inline int write_str(const char *path, const char *s)
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

/* Bind bdf to vfio-pci: unbind it from another driver, set driver_override, probe. */
static inline int l2_vfio_bind_driver(const char *bdf)
{
	char p[300], link[300];
	ssize_t n;

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
	return 0;
}

static inline int bind_vfio(const char *bdf, char *group, size_t glen)
{
	char p[300], link[300];
	ssize_t n;

	if (write_str("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "1") || l2_vfio_bind_driver(bdf))
		return -1;
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

/* Fill v->bar0 and v->cfg (VFIO_DEVICE_GET_REGION_INFO on the open device v->dev). */
static inline int l2_vfio_regions(struct l2_vfio *v)
{
	v->bar0 = (struct vfio_region_info){ .argsz = sizeof(v->bar0), .index = VFIO_PCI_BAR0_REGION_INDEX };
	v->cfg = (struct vfio_region_info){ .argsz = sizeof(v->cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX };
	if (ioctl(v->dev, VFIO_DEVICE_GET_REGION_INFO, &v->bar0) || ioctl(v->dev, VFIO_DEVICE_GET_REGION_INFO, &v->cfg)) {
		edu_say("region info: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Bind edu (bdf) to vfio-pci in no-IOMMU mode and open it; BAR0 and config region infos filled. */
static inline int l2_vfio_open(const char *bdf, struct l2_vfio *v)
{
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	char group[320];

	memset(v, 0, sizeof(*v));
	if (bind_vfio(bdf, group, sizeof(group)))
		return -1;
	v->container = open("/dev/vfio/vfio", O_RDWR);
	v->group = open(group, O_RDWR);
	if (v->container < 0 || v->group < 0) {
		edu_say("open /dev/vfio/vfio or %s: %s", group, strerror(errno));
		return -1;
	}
	if (ioctl(v->group, VFIO_GROUP_GET_STATUS, &gs) || !(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		edu_say("group %s not viable", group);
		return -1;
	}
	if (ioctl(v->group, VFIO_GROUP_SET_CONTAINER, &v->container) ||
	    ioctl(v->container, VFIO_SET_IOMMU, VFIO_NOIOMMU_IOMMU)) {
		edu_say("no-IOMMU container setup: %s", strerror(errno));
		return -1;
	}
	v->dev = ioctl(v->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (v->dev < 0) {
		edu_say("VFIO_GROUP_GET_DEVICE_FD %s: %s", bdf, strerror(errno));
		return -1;
	}
	return l2_vfio_regions(v);
}

static inline int l2_vfio_bar_write(struct l2_vfio *v, unsigned int off, const void *val, size_t len)
{
	return pwrite(v->dev, val, len, (off_t)v->bar0.offset + off) == (ssize_t)len ? 0 : -1;
}

static inline int l2_vfio_bar_read(struct l2_vfio *v, unsigned int off, void *val, size_t len)
{
	return pread(v->dev, val, len, (off_t)v->bar0.offset + off) == (ssize_t)len ? 0 : -1;
}

/* Set bits (memory decode, bus mastering) in the command register through the VFIO config region. */
static inline int l2_vfio_cmd_set(struct l2_vfio *v, uint16_t bits)
{
	uint16_t cmd;

	if (pread(v->dev, &cmd, 2, (off_t)v->cfg.offset + CFG_COMMAND) != 2) {
		edu_say("read the command register: %s", strerror(errno));
		return -1;
	}
	cmd |= bits;
	if (pwrite(v->dev, &cmd, 2, (off_t)v->cfg.offset + CFG_COMMAND) != 2) {
		edu_say("set 0x%x in the command register: %s", bits, strerror(errno));
		return -1;
	}
	return 0;
}

/* One VFIO_DEVICE_SET_IRQS on vector 0 of index: with an eventfd (fd >= 0) or DATA_NONE (fd < 0). */
static inline int l2_vfio_irq(struct l2_vfio *v, unsigned int index, unsigned int action, int fd)
{
	char buf[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
	struct vfio_irq_set *set = (struct vfio_irq_set *)buf;

	set->argsz = fd >= 0 ? sizeof(buf) : sizeof(*set);
	set->flags = (fd >= 0 ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE) | action;
	set->index = index;
	set->start = 0;
	set->count = 1;
	if (fd >= 0)
		memcpy(set->data, &fd, sizeof(fd));
	return ioctl(v->dev, VFIO_DEVICE_SET_IRQS, set);
}

/* The sum of the per-CPU counts of one /proc/interrupts line ("IRQ: n0 n1 ... chip hwirq type name"). */
static inline long irq_line_total(const char *line)
{
	const char *s = strchr(line, ':');
	long total = 0;

	while (s) {
		char *end;
		long v = strtol(s + 1, &end, 10);

		if (end == s + 1)
			break;
		total += v;
		s = end;
	}
	return total;
}

/* Sum of the per-CPU counts of the /proc/interrupts line naming both words; -1 if none. */
static inline long irq_count(const char *word, const char *bdf)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[1024];
	long total = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, word) || !strstr(line, bdf))
			continue;
		total = irq_line_total(line);
		break;
	}
	fclose(f);
	return total;
}

/* Wait up to 5 s for the eventfd and add its counter to *got. */
static inline int wait_efd(int efd, uint64_t *got, const char *what, int i)
{
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	uint64_t v;

	if (poll(&pfd, 1, 5000) != 1) {
		edu_say("%s %d: no interrupt on the eventfd within 5 s", what, i);
		return -1;
	}
	if (read(efd, &v, 8) != 8) {
		edu_say("read eventfd: %s", strerror(errno));
		return -1;
	}
	*got += v;
	return 0;
}

/* ---- an interrupt-counting run: edu opened with VFIO, one eventfd on vector 0 of a VFIO IRQ index, and that
 * index's /proc/interrupts line counted before and after ---- */

struct l2_irq_run {
	struct l2_vfio v;
	char bdf[64];
	unsigned int index;    /* VFIO_PCI_INTX_IRQ_INDEX or VFIO_PCI_MSI_IRQ_INDEX */
	const char *label;     /* its /proc/interrupts word: "vfio-intx", "vfio-msi" */
	int efd;
	long before, after;    /* /proc/interrupts counts */
	uint64_t got;          /* events read from the eventfd */
};

/* Start interrupt i (n of a loop) in edu, or acknowledge it after it arrived. 0, or -1 after a message. */
typedef int (*l2_irq_fn)(struct l2_irq_run *r, int i, void *ctx);

/* edu's "raise interrupt" write (the default start). */
static inline int l2_irq_raise(struct l2_irq_run *r, int i, void *ctx)
{
	uint32_t bit = 0x1;

	(void)i;
	(void)ctx;
	return l2_vfio_bar_write(&r->v, EDU_IRQ_RAISE, &bit, 4);
}

/* On edu already open in r->v (r->bdf names it, however it was opened): check VFIO offers index (missing: what
 * to say when not), enable memory decode and bus mastering (an MSI is a bus-master write), get an eventfd on
 * vector 0 and read the label's /proc/interrupts count. 0, or -1 after a message. */
static inline int l2_irq_setup(struct l2_irq_run *r, unsigned int index, const char *label, const char *missing)
{
	struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = index };

	r->index = index;
	r->label = label;
	r->efd = -1;
	r->got = 0;
	if (ioctl(r->v.dev, VFIO_DEVICE_GET_IRQ_INFO, &ii) || ii.count < 1) {
		edu_say("edu offers no %s through VFIO in L2 (%s)", label, missing);
		return -1;
	}
	if (l2_vfio_cmd_set(&r->v, CMD_MEMORY | CMD_MASTER))
		return -1;
	r->efd = eventfd(0, 0);
	if (r->efd < 0 || l2_vfio_irq(&r->v, index, VFIO_IRQ_SET_ACTION_TRIGGER, r->efd)) {
		edu_say("VFIO_DEVICE_SET_IRQS (%s): %s", label, strerror(errno));
		return -1;
	}
	r->before = irq_count(label, r->bdf);
	if (r->before < 0) {
		edu_say("no %s line for %s in /proc/interrupts", label, r->bdf);
		return -1;
	}
	return 0;
}

/* Find edu, open it with VFIO in no-IOMMU mode, then l2_irq_setup(). 0, or -1 after a message. */
static inline int l2_irq_start(struct l2_irq_run *r, unsigned int index, const char *label, const char *missing)
{
	memset(r, 0, sizeof(*r));
	r->efd = -1;
	if (edu_find(r->bdf, sizeof(r->bdf)))
		return -1;
	edu_say("edu at %s", r->bdf);
	if (l2_vfio_open(r->bdf, &r->v))
		return -1;
	return l2_irq_setup(r, index, label, missing);
}

/* n interrupts one at a time: start(i) (NULL: l2_irq_raise), wait for the eventfd, ack(i). what names the
 * loop in messages. 0, or -1 after a message. */
static inline int l2_irq_loop(struct l2_irq_run *r, int n, const char *what, l2_irq_fn start, l2_irq_fn ack,
			      void *ctx)
{
	for (int i = 0; i < n; i++) {
		if ((start ? start : l2_irq_raise)(r, i, ctx))
			return -1;
		if (wait_efd(r->efd, &r->got, what, i) || ack(r, i, ctx))
			return -1;
	}
	return 0;
}

/* Let late interrupts arrive (settle_us), count any on the eventfd, read the /proc/interrupts count again. */
static inline void l2_irq_finish(struct l2_irq_run *r, unsigned int settle_us)
{
	struct pollfd pfd = { .fd = r->efd, .events = POLLIN };

	usleep(settle_us);
	if (poll(&pfd, 1, 0) == 1)
		(void)wait_efd(r->efd, &r->got, "extra", 0);
	r->after = irq_count(r->label, r->bdf);
}

/* ---- the MSI check (l2-edu-msi, l2-vsmmu-msi): on a run set up for VFIO_PCI_MSI_IRQ_INDEX, raises edu
 * "raise interrupt" writes, then dmas DMAs with interrupt on completion through a page of the program's (va, and
 * dma: the address edu reaches it at, guest-physical without an IOMMU, an IOVA with one): even ones 64 bytes
 * RAM -> edu from the start of the page, odd ones edu -> RAM back into its second half. One at a time, each
 * waited for on the eventfd and acknowledged; exactly raises + dmas interrupts must arrive, both on the eventfd
 * and in /proc/interrupts, and (dmas >= 2) the 64 bytes must have come back unchanged: an interrupt alone does
 * not prove the DMA reached memory (edu completes, and interrupts, even when the IOMMU faulted it). ---- */

#define L2_IRQ_RAISE_BIT 0x1
#define L2_IRQ_DMA_BIT 0x100
#define L2_MSI_DMA_LEN 64
#define L2_MSI_DMA_BACK 2048 /* offset in the page of the edu -> RAM copies */

struct l2_msi_page {
	uint8_t *va;         /* at least 4 KiB of the program's memory */
	uint64_t dma;        /* the address edu reaches va at */
};

/* The context of both callbacks of a loop: the edu status bit to acknowledge, and the page for DMAs. */
struct l2_msi_ctx {
	uint32_t ack_bit;
	const struct l2_msi_page *pg;
};

/* Acknowledge the interrupt cause (ctx: struct l2_msi_ctx) in edu. */
static inline int l2_irq_ack_bit(struct l2_irq_run *r, int i, void *ctx)
{
	uint32_t bit = ((const struct l2_msi_ctx *)ctx)->ack_bit;

	(void)i;
	(void)l2_vfio_bar_write(&r->v, EDU_IRQ_ACK, &bit, 4);
	return 0;
}

/* DMA i with interrupt on completion (ctx: struct l2_msi_ctx): even i RAM -> edu, odd i edu -> RAM. */
static inline int l2_irq_start_dma(struct l2_irq_run *r, int i, void *ctx)
{
	const struct l2_msi_page *pg = ((const struct l2_msi_ctx *)ctx)->pg;
	uint64_t src = pg->dma, dst = EDU_DMA_BUF, cnt = L2_MSI_DMA_LEN, run = EDU_DMA_RUN | EDU_DMA_IRQ;

	if (i & 1) {
		src = EDU_DMA_BUF;
		dst = pg->dma + L2_MSI_DMA_BACK;
		run |= EDU_DMA_TO_RAM;
	}
	if (l2_vfio_bar_write(&r->v, EDU_DMA_SRC, &src, 8) || l2_vfio_bar_write(&r->v, EDU_DMA_DST, &dst, 8) ||
	    l2_vfio_bar_write(&r->v, EDU_DMA_CNT, &cnt, 8) || l2_vfio_bar_write(&r->v, EDU_DMA_CMD, &run, 8)) {
		edu_say("start DMA %d: %s", i, strerror(errno));
		return -1;
	}
	return 0;
}

static inline int l2_msi_run(struct l2_irq_run *r, int raises, int dmas, const struct l2_msi_page *pg)
{
	struct l2_msi_ctx raise_ctx = { L2_IRQ_RAISE_BIT, pg }, dma_ctx = { L2_IRQ_DMA_BIT, pg };
	volatile uint8_t *va = pg->va;
	uint32_t id = 0;
	long want = raises + dmas;
	int wrong = 0;

	if (l2_vfio_bar_read(&r->v, EDU_IDENT, &id, 4) || id != EDU_IDENT_VALUE) {
		edu_say("ident through VFIO: 0x%08x", id);
		return -1;
	}
	for (unsigned int i = 0; i < L2_MSI_DMA_LEN; i++) {
		va[i] = (uint8_t)(0x31 + 7 * i);
		va[L2_MSI_DMA_BACK + i] = 0xa5;
	}
	__sync_synchronize();
	if (l2_irq_loop(r, raises, "raise", NULL, l2_irq_ack_bit, &raise_ctx) ||
	    l2_irq_loop(r, dmas, "dma", l2_irq_start_dma, l2_irq_ack_bit, &dma_ctx))
		return -1;
	/* Nothing more may arrive. */
	l2_irq_finish(r, 200000);
	edu_say("issued %d raises + %d DMAs; eventfd counted %llu; /proc/interrupts %s %ld -> %ld", raises, dmas,
		(unsigned long long)r->got, r->label, r->before, r->after);
	if ((long)r->got != want || r->after - r->before != want) {
		edu_say("interrupt count mismatch: expected exactly %ld", want);
		return -1;
	}
	if (dmas >= 2) {
		for (unsigned int i = 0; i < L2_MSI_DMA_LEN; i++)
			wrong += va[L2_MSI_DMA_BACK + i] != va[i];
		if (wrong) {
			edu_say("DMA data: %d of %d bytes copied RAM -> edu -> RAM at 0x%llx differ (first byte 0x%02x, "
				"expected 0x%02x): the DMAs did not reach memory", wrong, L2_MSI_DMA_LEN,
				(unsigned long long)pg->dma, va[L2_MSI_DMA_BACK], va[0]);
			return -1;
		}
		edu_say("DMA data: %d bytes RAM -> edu -> RAM at 0x%llx came back unchanged", L2_MSI_DMA_LEN,
			(unsigned long long)pg->dma);
	}
	return 0;
}

#endif
