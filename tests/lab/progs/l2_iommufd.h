/* l2_iommufd.h: for L2 programs that drive edu through L2's own IOMMU, ivmm's emulated SMMUv3 (`ivmm run
 * --viommu smmuv3`): bind edu to vfio-pci (no no-IOMMU mode), open its VFIO cdev, bind it to /dev/iommu, allocate
 * an IOAS and attach the device to it (and detach / attach again), map and unmap buffers at fixed IOVAs, mmap
 * BAR0 through VFIO, round-trip data through edu DMA, and read L2's kernel log, including what L2's arm-smmu-v3
 * driver logs about the events of its event queue (the dumped records, overflows, rate-limited dumps) and the
 * /proc/interrupts count of its event queue interrupt. Raw VFIO cdev + iommufd ioctls, like the raw VFIO ones
 * of l2_vfio.h, whose device handle (struct l2_vfio, here without container or group) it fills, so that
 * l2_vfio.h's BAR, config and interrupt-counting helpers work on a device opened either way.
 * Header-only, on top of l2_vfio.h (and so l2_edu.h). */
#ifndef IVMM_LAB_L2_IOMMUFD_H
#define IVMM_LAB_L2_IOMMUFD_H

#include <linux/iommufd.h>
#include <sys/klog.h>
#include "tests/lab/progs/l2_vfio.h"

/* The guest's arm-smmu-v3 reserves its software MSI window in every IOAS a device is attached to
 * (MSI_IOVA_BASE, MSI_IOVA_LENGTH): IOVAs the programs choose stay clear of it. */
#define L2_SW_MSI_BASE 0x08000000ull
#define L2_SW_MSI_SIZE 0x00100000ull

#define L2_PAGE 4096u

struct l2_iommufd {
	int fd;              /* /dev/iommu */
	uint32_t dev_id;     /* edu's iommufd device id (VFIO_DEVICE_BIND_IOMMUFD) */
	uint32_t ioas;       /* the IOAS edu is attached to */
	char cdev[300];      /* /dev/vfio/devices/vfioN */
};

/* The cdev of a device bound to vfio-pci, from /sys/bus/pci/devices/BDF/vfio-dev/vfioN; waits up to 5 s for
 * sysfs and devtmpfs to show it. */
static inline int l2_vfio_cdev_path(const char *bdf, char *path, size_t len)
{
	char dir[300];

	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	for (int i = 0; i < 50; i++, usleep(100000)) {
		DIR *d = opendir(dir);
		struct dirent *e;

		if (!d)
			continue;
		while ((e = readdir(d)))
			if (!strncmp(e->d_name, "vfio", 4))
				break;
		if (e)
			snprintf(path, len, "/dev/vfio/devices/%s", e->d_name);
		closedir(d);
		if (e && !access(path, F_OK))
			return 0;
	}
	edu_say("%s bound to vfio-pci but no cdev in %s or /dev/vfio/devices (kernel without VFIO_DEVICE_CDEV?)",
		bdf, dir);
	return -1;
}

/* Bind edu (bdf) to vfio-pci, which needs an IOMMU group (L2's vSMMU) now that no-IOMMU mode is not asked
 * for, open its cdev (into v: v->dev, the BAR0 and config region infos; no container or group), bind it to a
 * fresh iommufd, allocate an IOAS and attach edu to it (VFIO_DEVICE_ATTACH_IOMMUFD_PT). 0, or -1 after a
 * message. */
static inline int l2_iommufd_open(const char *bdf, struct l2_vfio *v, struct l2_iommufd *io)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	char p[300], link[300], group[300];
	ssize_t n;

	memset(v, 0, sizeof(*v));
	memset(io, 0, sizeof(*io));
	v->container = v->group = v->dev = io->fd = -1;
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(p, link, sizeof(link) - 1);
	if (n <= 0) {
		edu_say("%s has no iommu_group: no IOMMU for it in L2 (vSMMU not probed? ivmm run without --viommu?)", bdf);
		return -1;
	}
	link[n] = 0;
	snprintf(group, sizeof(group), "%s", strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
	if (l2_vfio_bind_driver(bdf))
		return -1;
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(p, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	if (!strstr(link, "/vfio-pci")) {
		edu_say("%s did not bind to vfio-pci (driver: %s)", bdf, n > 0 ? strrchr(link, '/') + 1 : "none");
		return -1;
	}
	if (l2_vfio_cdev_path(bdf, io->cdev, sizeof(io->cdev)))
		return -1;
	v->dev = open(io->cdev, O_RDWR);
	if (v->dev < 0) {
		edu_say("open %s: %s", io->cdev, strerror(errno));
		return -1;
	}
	io->fd = open("/dev/iommu", O_RDWR);
	if (io->fd < 0) {
		edu_say("open /dev/iommu: %s", strerror(errno));
		return -1;
	}
	bind.iommufd = io->fd;
	if (ioctl(v->dev, VFIO_DEVICE_BIND_IOMMUFD, &bind)) {
		edu_say("VFIO_DEVICE_BIND_IOMMUFD %s: %s", io->cdev, strerror(errno));
		return -1;
	}
	io->dev_id = bind.out_devid;
	if (ioctl(io->fd, IOMMU_IOAS_ALLOC, &alloc)) {
		edu_say("IOMMU_IOAS_ALLOC: %s", strerror(errno));
		return -1;
	}
	io->ioas = alloc.out_ioas_id;
	attach.pt_id = io->ioas;
	if (ioctl(v->dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach)) {
		edu_say("VFIO_DEVICE_ATTACH_IOMMUFD_PT %s to IOAS %u: %s", io->cdev, io->ioas, strerror(errno));
		return -1;
	}
	edu_say("device %s: %s (iommu group %s) bound to iommufd as device %u, attached to IOAS %u (HWPT %u)", bdf,
		io->cdev, group, io->dev_id, io->ioas, attach.pt_id);
	return l2_vfio_regions(v);
}

/* Print the IOAS's allowed IOVA ranges and check that [iova, iova + len) lies in one of them and that the
 * software MSI window is reserved (what the guest's arm-smmu-v3 does for a device behind it). 0, or -1 after a
 * message. */
static inline int l2_iommufd_check_iova(struct l2_iommufd *io, uint64_t iova, uint64_t len)
{
	struct iommu_iova_range r[16];
	struct iommu_ioas_iova_ranges q = { .size = sizeof(q), .ioas_id = io->ioas, .num_iovas = 16,
					    .allowed_iovas = (uintptr_t)r };
	bool inside = false, msi_reserved = true;

	if (ioctl(io->fd, IOMMU_IOAS_IOVA_RANGES, &q)) {
		edu_say("IOMMU_IOAS_IOVA_RANGES on IOAS %u: %s", io->ioas, strerror(errno));
		return -1;
	}
	for (unsigned int i = 0; i < q.num_iovas && i < 16; i++) {
		edu_say("IOAS %u allows IOVA 0x%llx-0x%llx", io->ioas, (unsigned long long)r[i].start,
			(unsigned long long)r[i].last);
		if (iova >= r[i].start && iova + len - 1 <= r[i].last)
			inside = true;
		if (r[i].start <= L2_SW_MSI_BASE + L2_SW_MSI_SIZE - 1 && r[i].last >= L2_SW_MSI_BASE)
			msi_reserved = false;
	}
	if (!inside) {
		edu_say("IOVA 0x%llx-0x%llx is not in an allowed range", (unsigned long long)iova,
			(unsigned long long)(iova + len - 1));
		return -1;
	}
	edu_say("software MSI window 0x%llx-0x%llx %s", L2_SW_MSI_BASE, L2_SW_MSI_BASE + L2_SW_MSI_SIZE - 1,
		msi_reserved ? "reserved, as behind an SMMUv3" : "NOT reserved (not behind the guest's arm-smmu-v3?)");
	return 0;
}

/* IOMMU_IOAS_MAP of len bytes at va, readable and writable, at exactly iova. */
static inline int l2_iommufd_map(struct l2_iommufd *io, void *va, uint64_t len, uint64_t iova)
{
	struct iommu_ioas_map m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = io->ioas,
		.user_va = (uintptr_t)va,
		.length = len,
		.iova = iova,
	};

	if (ioctl(io->fd, IOMMU_IOAS_MAP, &m)) {
		edu_say("IOMMU_IOAS_MAP 0x%llx bytes at IOVA 0x%llx: %s", (unsigned long long)len,
			(unsigned long long)iova, strerror(errno));
		return -1;
	}
	return 0;
}

/* IOMMU_IOAS_UNMAP of [iova, iova + len), which must unmap exactly len bytes. */
static inline int l2_iommufd_unmap(struct l2_iommufd *io, uint64_t iova, uint64_t len)
{
	struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = io->ioas, .iova = iova, .length = len };

	if (ioctl(io->fd, IOMMU_IOAS_UNMAP, &u)) {
		edu_say("IOMMU_IOAS_UNMAP 0x%llx bytes at IOVA 0x%llx: %s", (unsigned long long)len,
			(unsigned long long)iova, strerror(errno));
		return -1;
	}
	if (u.length != len) {
		edu_say("IOMMU_IOAS_UNMAP at IOVA 0x%llx unmapped 0x%llx bytes, not 0x%llx", (unsigned long long)iova,
			(unsigned long long)u.length, (unsigned long long)len);
		return -1;
	}
	return 0;
}

/* VFIO_DEVICE_DETACH_IOMMUFD_PT: edu leaves its IOAS (L2's driver points its STE at a blocking domain). */
static inline int l2_iommufd_detach(struct l2_vfio *v)
{
	struct vfio_device_detach_iommufd_pt d = { .argsz = sizeof(d) };

	if (ioctl(v->dev, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d)) {
		edu_say("VFIO_DEVICE_DETACH_IOMMUFD_PT: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* VFIO_DEVICE_ATTACH_IOMMUFD_PT to io->ioas again (after l2_iommufd_detach). */
static inline int l2_iommufd_attach(struct l2_vfio *v, struct l2_iommufd *io)
{
	struct vfio_device_attach_iommufd_pt a = { .argsz = sizeof(a), .pt_id = io->ioas };

	if (ioctl(v->dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a)) {
		edu_say("VFIO_DEVICE_ATTACH_IOMMUFD_PT to IOAS %u: %s", io->ioas, strerror(errno));
		return -1;
	}
	return 0;
}

/* Close what l2_iommufd_open() opened (closing the cdev detaches and unbinds edu). */
static inline void l2_iommufd_close(struct l2_vfio *v, struct l2_iommufd *io)
{
	if (v->dev >= 0)
		close(v->dev);
	if (io->fd >= 0)
		close(io->fd);
	v->dev = io->fd = -1;
}

/* mmap BAR0 through the VFIO device (region info in v->bar0). */
static inline volatile uint8_t *l2_vfio_map_bar0(struct l2_vfio *v)
{
	void *m;

	if (!(v->bar0.flags & VFIO_REGION_INFO_FLAG_MMAP) || v->bar0.size < EDU_BAR_SIZE) {
		edu_say("BAR0 region: flags 0x%x size 0x%llx: not an mmappable 1 MiB BAR", v->bar0.flags,
			(unsigned long long)v->bar0.size);
		return NULL;
	}
	m = mmap(NULL, EDU_BAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, v->dev, (off_t)v->bar0.offset);
	if (m == MAP_FAILED) {
		edu_say("mmap BAR0 through VFIO: %s", strerror(errno));
		return NULL;
	}
	return m;
}

/* Anonymous, populated memory for DMA buffers (IOMMU_IOAS_MAP pins it). */
static inline uint8_t *l2_dma_buffer(size_t len)
{
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (m == MAP_FAILED) {
		edu_say("mmap %zu bytes: %s", len, strerror(errno));
		return NULL;
	}
	return m;
}

static inline uint8_t l2_pat(unsigned int seed, unsigned int i)
{
	return (uint8_t)(i * 7 + seed * 31 + (i >> 8) + 1);
}

#define L2_FILL 0xa5

/* Round trip through edu: buf (size bytes, mapped at iova) gets a pattern, [off, off + len) of it goes to
 * offset 0 of edu's buffer (RAM -> edu), buf is overwritten with L2_FILL, and edu's bytes come back to the same
 * IOVA (edu -> RAM). Exactly [off, off + len) must hold the pattern again, the rest L2_FILL. len <= 4096.
 * Returns the number of wrong bytes (the first named in a message), or -1 when a DMA did not complete. */
static inline long l2_dma_roundtrip(volatile uint8_t *bar, uint8_t *buf, size_t size, uint64_t iova, uint32_t off,
				    uint32_t len, unsigned int seed)
{
	volatile uint8_t *b = buf;
	long wrong = 0;
	size_t first = 0;

	for (size_t i = 0; i < size; i++)
		b[i] = l2_pat(seed, (unsigned int)i);
	__sync_synchronize();
	if (edu_dma(bar, iova + off, EDU_DMA_BUF, len, 0))
		return -1;
	memset(buf, L2_FILL, size);
	__sync_synchronize();
	if (edu_dma(bar, EDU_DMA_BUF, iova + off, len, EDU_DMA_TO_RAM))
		return -1;
	for (size_t i = 0; i < size; i++) {
		uint8_t want = (i >= off && i < (size_t)off + len) ? l2_pat(seed, (unsigned int)i) : L2_FILL;

		if (b[i] != want && !wrong++)
			first = i;
	}
	if (wrong) {
		bool untouched = true;

		for (size_t i = off; i < (size_t)off + len; i++)
			untouched &= b[i] == L2_FILL;
		edu_say("round trip of %u bytes at IOVA 0x%llx: %ld bytes differ, first at +0x%zx: 0x%02x, expected "
			"0x%02x%s", len, (unsigned long long)(iova + off), wrong, first, b[first],
			(first >= off && first < (size_t)off + len) ? l2_pat(seed, (unsigned int)first) : L2_FILL,
			untouched ? " (buffer untouched: the edu -> RAM DMA did not reach it)" : "");
	}
	return wrong;
}

/* ---- L2's kernel log ---- */

#define L2_SYSLOG_READ_ALL 3
#define L2_SYSLOG_CONSOLE_OFF 6
#define L2_SYSLOG_CONSOLE_ON 7
#define L2_SYSLOG_SIZE_BUFFER 10

/* The whole kernel log ring (klogctl), NUL-terminated, malloc'ed; NULL after a message. */
static inline char *l2_klog(void)
{
	int size = klogctl(L2_SYSLOG_SIZE_BUFFER, NULL, 0), n;
	char *buf;

	if (size <= 0)
		size = 1 << 20;
	buf = malloc((size_t)size + 1);
	if (!buf) {
		edu_say("no memory for the kernel log");
		return NULL;
	}
	n = klogctl(L2_SYSLOG_READ_ALL, buf, size);
	if (n < 0) {
		edu_say("klogctl(SYSLOG_ACTION_READ_ALL): %s", strerror(errno));
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

/* Lines of the kernel log containing both words (b NULL: only a); -1 if the log cannot be read. With show,
 * print up to show of them. */
static inline long l2_klog_count(const char *a, const char *b, int show)
{
	char *log = l2_klog(), *line, *save = NULL;
	long n = 0;

	if (!log)
		return -1;
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strstr(line, a) || (b && !strstr(line, b)))
			continue;
		if (n++ < show)
			edu_say("  kernel: %s", line);
	}
	free(log);
	return n;
}

/* Around DMAs that fault on purpose: the guest's arm-smmu-v3 prints several lines per event, and on the console
 * they would cost time and land in the middle of the program's own lines (the scenarios grep those). Quiet keeps
 * them in the log only (SYSLOG_ACTION_CONSOLE_OFF); settle waits until the count of lines with both words has
 * not changed for 300 ms (at most 3 s), i.e. the events have been handled, and restores the console level. It
 * returns the lines that arrived since `before` (an l2_klog_count() taken before the DMAs). */
static inline void l2_klog_quiet(void)
{
	(void)klogctl(L2_SYSLOG_CONSOLE_OFF, NULL, 0);
}

static inline long l2_klog_settle(const char *a, const char *b, long before)
{
	long last = l2_klog_count(a, b, 0), now;
	int stable = 0;

	for (int i = 0; i < 30 && stable < 3; i++) {
		usleep(100000);
		now = l2_klog_count(a, b, 0);
		stable = now == last ? stable + 1 : 0;
		last = now;
	}
	(void)klogctl(L2_SYSLOG_CONSOLE_ON, NULL, 0);
	return last >= 0 && before >= 0 ? last - before : -1;
}

/* ---- the guest's SMMU events, as its arm-smmu-v3 driver reports them ----
 * L2 opens edu through iommufd without a vIOMMU of its own, so every event L2's driver takes from its event
 * queue is one it cannot hand on: it dumps the record, "event 0xNN received:" followed by the four dwords, one
 * line each, then decoded lines; the dump is rate-limited (one ratelimit state for the whole event thread,
 * shared by all SMMUs: 10 dumps per 5 s), and at the first event after an interval with suppressed dumps the
 * kernel logs "arm_smmu_dump_event: N callbacks suppressed" (the function that asks the rate limit). A full queue (EVTQ_PROD.OVFLG toggled) is logged as
 * "EVTQ overflow detected -- events lost", not rate-limited. So dumps + suppressed = the events the driver
 * consumed, once a later event has closed the last interval that suppressed any. */

/* The function that calls __ratelimit() for the dumps, which names it in "N callbacks suppressed". */
#define L2_EVT_RATELIMIT_FN "arm_smmu_dump_event"

/* Event record fields (SMMUv3 architecture; the names of Linux's arm-smmu-v3.h). */
#define L2_EVT_F_TRANSLATION 0x10
#define L2_EVT_ID(dw0) ((unsigned int)((dw0) & 0xff))
#define L2_EVT_SID(dw0) ((uint32_t)((dw0) >> 32))
#define L2_EVT_RNW(dw1) ((unsigned int)(((dw1) >> 35) & 1))
#define L2_EVT_S2(dw1) ((unsigned int)(((dw1) >> 39) & 1))

/* A PCI function's requester ID from its BDF "DDDD:BB:DD.F": the StreamID ivmm gives it by default (vSID). */
static inline int l2_pci_rid(const char *bdf)
{
	unsigned int dom, bus, dev, fn;

	if (sscanf(bdf, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4)
		return -1;
	return (int)((bus << 8) | (dev << 3) | fn);
}

struct l2_smmu_evt {
	char smmu[48];          /* the SMMU device that logged it, e.g. 4000000.smmuv3 */
	unsigned int id;        /* from "event 0xNN received:" */
	int ndw;                /* dwords found after it (4: complete) */
	uint64_t dw[4];
	long overflows_before;  /* "EVTQ overflow detected" lines before it in the log */
};

struct l2_evtlog {
	struct l2_smmu_evt *ev; /* every dumped event, in log order (malloc'ed) */
	long n, cap;
	long overflows;         /* "EVTQ overflow detected" lines */
	long suppressed;        /* sum of N over "arm_smmu_dump_event: N callbacks suppressed" */
	long suppressed_lines;
};

/* The message of an "arm-smmu-v3 DEV: MESSAGE" kernel line (DEV into dev), or NULL. */
static inline const char *l2__smmu_msg(const char *line, char *dev, size_t len)
{
	const char *p = strstr(line, "arm-smmu-v3 "), *c;

	if (!p)
		return NULL;
	p += strlen("arm-smmu-v3 ");
	c = strstr(p, ": ");
	if (!c)
		return NULL;
	snprintf(dev, len, "%.*s", (int)(c - p), p);
	return c + 2;
}

static inline void l2_evtlog_free(struct l2_evtlog *l)
{
	free(l->ev);
	memset(l, 0, sizeof(*l));
}

/* Parse L2's whole kernel log into l. 0, or -1 after a message. */
static inline int l2_evtlog_read(struct l2_evtlog *l)
{
	char *log = l2_klog(), *line, *save = NULL, dev[48];
	struct l2_smmu_evt *cur = NULL;
	const char *msg, *q;
	unsigned int id;

	memset(l, 0, sizeof(*l));
	if (!log)
		return -1;
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		q = strstr(line, L2_EVT_RATELIMIT_FN ": ");
		if (q && strstr(q, "callbacks suppressed")) {
			l->suppressed += strtol(q + strlen(L2_EVT_RATELIMIT_FN ": "), NULL, 10);
			l->suppressed_lines++;
			continue;
		}
		msg = l2__smmu_msg(line, dev, sizeof(dev));
		if (!msg)
			continue;
		if (strstr(msg, "EVTQ overflow detected")) {
			l->overflows++;
			cur = NULL;
			continue;
		}
		if (sscanf(msg, "event 0x%x received", &id) == 1) {
			if (l->n == l->cap) {
				long cap = l->cap ? 2 * l->cap : 64;
				struct l2_smmu_evt *ev = realloc(l->ev, (size_t)cap * sizeof(*ev));

				if (!ev) {
					edu_say("no memory for %ld events", cap);
					free(log);
					return -1;
				}
				l->ev = ev;
				l->cap = cap;
			}
			cur = &l->ev[l->n++];
			memset(cur, 0, sizeof(*cur));
			snprintf(cur->smmu, sizeof(cur->smmu), "%s", dev);
			cur->id = id;
			cur->overflows_before = l->overflows;
			continue;
		}
		/* A dword line: "\t0x%016llx" (the tab kept, or escaped as \x09 by some log readers). */
		if (cur && cur->ndw < 4 && !strcmp(cur->smmu, dev)) {
			q = msg + strspn(msg, " \t");
			if (!strncmp(q, "\\x09", 4))
				q += 4;
			if (!strncmp(q, "0x", 2))
				cur->dw[cur->ndw++] = strtoull(q, NULL, 16);
		}
	}
	free(log);
	return 0;
}

/* Print one dumped event: its four dwords and what they say. */
static inline void l2_evt_show(const char *what, const struct l2_smmu_evt *e)
{
	if (e->ndw < 4) {
		edu_say("%s: %s event 0x%02x with only %d dwords in the log", what, e->smmu, e->id, e->ndw);
		return;
	}
	edu_say("%s: %s event 0x%02x: 0x%016llx 0x%016llx 0x%016llx 0x%016llx -> StreamID 0x%x %s %s address "
		"0x%llx", what, e->smmu, e->id, (unsigned long long)e->dw[0], (unsigned long long)e->dw[1],
		(unsigned long long)e->dw[2], (unsigned long long)e->dw[3], L2_EVT_SID(e->dw[0]),
		L2_EVT_RNW(e->dw[1]) ? "read" : "write", L2_EVT_S2(e->dw[1]) ? "s2" : "s1",
		(unsigned long long)e->dw[2]);
}

/* Is e a complete F_TRANSLATION dump of stage 1 for StreamID sid at an address in [lo, hi)? */
static inline bool l2_evt_is_fault(const struct l2_smmu_evt *e, uint32_t sid, uint64_t lo, uint64_t hi)
{
	return e->ndw == 4 && e->id == L2_EVT_F_TRANSLATION && L2_EVT_ID(e->dw[0]) == L2_EVT_F_TRANSLATION &&
	       L2_EVT_SID(e->dw[0]) == sid && !L2_EVT_S2(e->dw[1]) && e->dw[2] >= lo && e->dw[2] < hi;
}

/* The sum over the /proc/interrupts lines of the guest's SMMU event queue interrupts (action
 * "arm-smmu-v3-evtq", one per SMMU, MSI or wired); the first such line, spaces squeezed, into line (len > 0).
 * -1 if there is none. */
static inline long l2_evtq_irqs(char *line, size_t len)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char buf[1024];
	long total = -1;

	if (line && len)
		line[0] = 0;
	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f)) {
		if (!strstr(buf, "arm-smmu-v3-evtq"))
			continue;
		total = (total < 0 ? 0 : total) + irq_line_total(buf);
		if (line && len && !line[0]) {
			size_t o = 0;

			for (const char *c = buf; *c && *c != '\n' && o + 1 < len; c++)
				if (!(*c == ' ' && (o == 0 || line[o - 1] == ' ')))
					line[o++] = *c;
			line[o] = 0;
		}
	}
	fclose(f);
	return total;
}

/* After DMAs that fault on purpose (with l2_klog_quiet() before them): wait until the event queue interrupt
 * count and the number of arm-smmu-v3 kernel lines have not changed for quiet_ms (at most max_ms), i.e. the
 * events on their way have been handled, then let kernel messages reach the console again. Returns the
 * interrupt count (l2_evtq_irqs). */
static inline long l2_events_settle(unsigned int quiet_ms, unsigned int max_ms)
{
	long irqs = l2_evtq_irqs(NULL, 0), lines = l2_klog_count("arm-smmu-v3", NULL, 0);
	unsigned int stable = 0, waited = 0;

	while (stable < quiet_ms && waited < max_ms) {
		long i2, n2;

		usleep(100000);
		waited += 100;
		i2 = l2_evtq_irqs(NULL, 0);
		n2 = l2_klog_count("arm-smmu-v3", NULL, 0);
		stable = i2 == irqs && n2 == lines ? stable + 100 : 0;
		irqs = i2;
		lines = n2;
	}
	(void)klogctl(L2_SYSLOG_CONSOLE_ON, NULL, 0);
	return irqs;
}

/* Before a program faults on purpose: the kernel log's event dumps so far (into before), the event queue
 * interrupt count (into *irqs, its line printed), and the console turned off (l2_klog_quiet). 0, or -1 after a
 * message (no event queue interrupt line: the driver has no event queue). */
static inline int l2_faults_begin(struct l2_evtlog *before, long *irqs)
{
	char line[512];

	if (l2_evtlog_read(before))
		return -1;
	*irqs = l2_evtq_irqs(line, sizeof(line));
	if (*irqs < 0) {
		edu_say("no arm-smmu-v3-evtq line in /proc/interrupts: L2's SMMU driver has no event queue interrupt");
		return -1;
	}
	edu_say("event queue interrupt before: %s", line);
	l2_klog_quiet();
	return 0;
}

/* After: wait for the events to be handled (l2_events_settle: 1 s quiet, at most 20 s; console on again),
 * then the kernel log's event dumps (into after) and the interrupt count (into *irqs, its line printed). 0, or
 * -1 after a message. */
static inline int l2_faults_end(struct l2_evtlog *after, long *irqs)
{
	char line[512];

	*irqs = l2_events_settle(1000, 20000);
	if (l2_evtlog_read(after))
		return -1;
	(void)l2_evtq_irqs(line, sizeof(line));
	edu_say("event queue interrupt after: %s", line);
	return 0;
}

/* The start the fault programs share: the first edu taken with L2's VFIO cdev + iommufd, one page of buffer
 * mapped at iova, memory decode and bus mastering on, BAR0 mapped, and a round trip through the page proven
 * before anything faults. Fills bdf, *rid (its requester id = its vSID), *bar and *buf. 0, or 1 after saying
 * why. */
static inline int l2_fault_setup(char *bdf, size_t bdflen, struct l2_vfio *v, struct l2_iommufd *io, int *rid,
				 volatile uint8_t **bar, uint8_t **buf, uint64_t iova)
{
	if (edu_find(bdf, bdflen) || l2_iommufd_open(bdf, v, io))
		return 1;
	*rid = l2_pci_rid(bdf);
	*buf = l2_dma_buffer(L2_PAGE);
	if (*rid < 0 || !*buf || l2_iommufd_map(io, *buf, L2_PAGE, iova) || l2_vfio_cmd_set(v, CMD_MEMORY | CMD_MASTER))
		return 1;
	*bar = l2_vfio_map_bar0(v);
	if (!*bar)
		return 1;
	if (l2_dma_roundtrip(*bar, *buf, L2_PAGE, iova, 0, 256, 1)) {
		edu_say("round trip through the mapped page at IOVA 0x%llx failed before any fault",
			(unsigned long long)iova);
		return 1;
	}
	return 0;
}

#endif
