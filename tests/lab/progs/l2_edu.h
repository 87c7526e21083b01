/* l2_edu.h: helpers shared by the L2 programs (tests/lab/progs/l2-*.c): list PCI functions by a predicate
 * (l2_pci_scan), find QEMU's edu (1234:11e8) in /sys/bus/pci/devices (the first, or all of them), read/write a
 * function's config space through sysfs, mmap edu's BAR0 (sysfs resource0), run one edu DMA (polled, or
 * started and waited for apart), and the edu register map (lab-facts.md); edu_say prints a program's lines.
 * Also the sysfs attributes of a function (l2_pci_attr) and the kernel command line (l2_cmdline_get).
 * Header-only: each program is one static binary. */
#ifndef IVMM_LAB_L2_EDU_H
#define IVMM_LAB_L2_EDU_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_BAR_SIZE 0x100000
#define EDU_IDENT 0x00
#define EDU_LIVENESS 0x04
#define EDU_FACT 0x08
#define EDU_STATUS 0x20
#define EDU_STATUS_COMPUTING 0x1
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE 0x60
#define EDU_IRQ_ACK 0x64
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_DMA_RUN 0x1
#define EDU_DMA_TO_RAM 0x2
#define EDU_DMA_IRQ 0x4
#define EDU_DMA_BUF 0x40000
#define EDU_DMA_BUF_SIZE 0x1000
#define EDU_IDENT_VALUE 0x010000edu

#define CFG_COMMAND 0x04
#define CMD_MEMORY 0x2
#define CMD_MASTER 0x4

static const char *edu_prog = "l2-edu";

static inline void edu_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void edu_say(const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", edu_prog);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static inline unsigned long read_hex_file(const char *path)
{
	char buf[32] = { 0 };
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return ~0UL;
	if (read(fd, buf, sizeof(buf) - 1) <= 0) {
		close(fd);
		return ~0UL;
	}
	close(fd);
	return strtoul(buf, NULL, 16);
}

/* A hex attribute of a PCI function in sysfs (/sys/bus/pci/devices/BDF/ATTR: vendor, device, class); ~0UL
 * when it cannot be read. */
static inline unsigned long l2_pci_attr(const char *bdf, const char *attr)
{
	char p[300];

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	return read_hex_file(p);
}

/* The value of `key=` on the kernel command line into val (empty string: not there). */
static inline void l2_cmdline_get(const char *key, char *val, size_t len)
{
	char buf[4096], *w, *save = NULL;
	int fd = open("/proc/cmdline", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	size_t klen = strlen(key);

	if (fd >= 0)
		close(fd);
	val[0] = 0;
	buf[n > 0 ? n : 0] = 0;
	for (w = strtok_r(buf, " \n", &save); w; w = strtok_r(NULL, " \n", &save))
		if (!strncmp(w, key, klen) && w[klen] == '=')
			snprintf(val, len, "%s", w + klen + 1);
}

static int edu__cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Every PCI function in /sys/bus/pci/devices that match(name) accepts, in BDF order: up to max names of
 * EDU_BDF_LEN bytes into bdfs. Returns how many, -1 (after a message) when the directory cannot be read. */
#define EDU_BDF_LEN 64
static inline int l2_pci_scan(char (*bdfs)[EDU_BDF_LEN], int max, bool (*match)(const char *name))
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	int n = 0;

	if (!d) {
		edu_say("cannot open /sys/bus/pci/devices: %s", strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) && n < max) {
		if (e->d_name[0] == '.' || !match(e->d_name))
			continue;
		size_t len = strnlen(e->d_name, EDU_BDF_LEN - 1);

		memcpy(bdfs[n], e->d_name, len);
		bdfs[n++][len] = 0;
	}
	closedir(d);
	qsort(bdfs, (size_t)n, EDU_BDF_LEN, edu__cmp);
	return n;
}

static inline bool edu__match(const char *name)
{
	return l2_pci_attr(name, "vendor") == EDU_VENDOR && l2_pci_attr(name, "device") == EDU_DEVICE;
}

/* Every edu, in BDF order (l2_pci_scan). Returns how many (0: none, after a message), -1 when
 * /sys/bus/pci/devices cannot be read. */
static inline int edu_find_all(char (*bdfs)[EDU_BDF_LEN], int max)
{
	int n = l2_pci_scan(bdfs, max, edu__match);

	if (!n)
		edu_say("no edu (1234:11e8) in /sys/bus/pci/devices: passthrough device not visible in the guest");
	return n;
}

/* Find edu (the first in BDF order when there are several); bdf gets "0000:00:01.0". */
static inline int edu_find(char *bdf, size_t len)
{
	char all[8][EDU_BDF_LEN];

	if (edu_find_all(all, 8) <= 0)
		return -1;
	snprintf(bdf, len, "%s", all[0]);
	return 0;
}

static inline int edu_cfg_rw(const char *bdf, unsigned int off, void *buf, size_t len, int write_it)
{
	char p[300];
	int fd;
	ssize_t n;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(p, write_it ? O_RDWR : O_RDONLY);
	if (fd < 0) {
		edu_say("open %s: %s", p, strerror(errno));
		return -1;
	}
	n = write_it ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
	close(fd);
	if (n != (ssize_t)len) {
		edu_say("%s config at 0x%x: %s", write_it ? "write" : "read", off, n < 0 ? strerror(errno) : "short");
		return -1;
	}
	return 0;
}

/* Set bits in the command register (memory decode, bus mastering) through sysfs config. */
static inline int edu_cmd_set(const char *bdf, uint16_t bits)
{
	uint16_t cmd;

	if (edu_cfg_rw(bdf, CFG_COMMAND, &cmd, 2, 0))
		return -1;
	cmd |= bits;
	if (edu_cfg_rw(bdf, CFG_COMMAND, &cmd, 2, 1))
		return -1;
	if (edu_cfg_rw(bdf, CFG_COMMAND, &cmd, 2, 0))
		return -1;
	if ((cmd & bits) != bits) {
		edu_say("command register is 0x%04x after setting 0x%04x", cmd, bits);
		return -1;
	}
	return 0;
}

/* mmap BAR0 through sysfs resource0. */
static inline volatile uint8_t *edu_map_bar0(const char *bdf)
{
	char p[300];
	void *m;
	int fd;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/resource0", bdf);
	fd = open(p, O_RDWR | O_SYNC);
	if (fd < 0) {
		edu_say("open %s: %s", p, strerror(errno));
		return NULL;
	}
	m = mmap(NULL, EDU_BAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		edu_say("mmap %s: %s", p, strerror(errno));
		return NULL;
	}
	return m;
}

static inline uint32_t rd32(volatile uint8_t *bar, unsigned int off)
{
	return *(volatile uint32_t *)(bar + off);
}

static inline void wr32(volatile uint8_t *bar, unsigned int off, uint32_t v)
{
	*(volatile uint32_t *)(bar + off) = v;
}

static inline uint64_t rd64(volatile uint8_t *bar, unsigned int off)
{
	return *(volatile uint64_t *)(bar + off);
}

static inline void wr64(volatile uint8_t *bar, unsigned int off, uint64_t v)
{
	*(volatile uint64_t *)(bar + off) = v;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Start one edu DMA of len bytes from src to dst (dir: 0 = RAM -> edu buffer, EDU_DMA_TO_RAM = edu buffer -> RAM;
 * RAM addresses are what the device sees: guest-physical, or an IOVA behind an IOMMU) and return at once. QEMU's
 * edu runs it from a timer about 100 ms later. */
static inline void edu_dma_start(volatile uint8_t *bar, uint64_t src, uint64_t dst, uint32_t len, uint32_t dir)
{
	wr64(bar, EDU_DMA_SRC, src);
	wr64(bar, EDU_DMA_DST, dst);
	wr64(bar, EDU_DMA_CNT, len);
	wr64(bar, EDU_DMA_CMD, EDU_DMA_RUN | dir);
}

/* Poll the DMA started last until edu says it is done (at most 5 s). 0, or -1 after a message. */
static inline int edu_dma_wait(volatile uint8_t *bar)
{
	uint64_t t0 = now_ns();

	while (rd64(bar, EDU_DMA_CMD) & EDU_DMA_RUN) {
		if (now_ns() - t0 > 5000000000ull) {
			edu_say("DMA 0x%llx -> 0x%llx (%llu bytes) still running after 5 s",
				(unsigned long long)rd64(bar, EDU_DMA_SRC), (unsigned long long)rd64(bar, EDU_DMA_DST),
				(unsigned long long)rd64(bar, EDU_DMA_CNT));
			return -1;
		}
		usleep(1000);
	}
	__sync_synchronize();
	return 0;
}

/* One edu DMA (edu_dma_start), polled to completion (edu_dma_wait). 0, or -1 after a message. */
static inline int edu_dma(volatile uint8_t *bar, uint64_t src, uint64_t dst, uint32_t len, uint32_t dir)
{
	edu_dma_start(bar, src, dst, len, dir);
	return edu_dma_wait(bar);
}

/* Find edu, enable what is asked in its command register, map BAR0. */
static inline volatile uint8_t *edu_open(char *bdf, size_t len, uint16_t cmd_bits)
{
	if (edu_find(bdf, len))
		return NULL;
	edu_say("edu at %s", bdf);
	if (edu_cmd_set(bdf, cmd_bits))
		return NULL;
	return edu_map_bar0(bdf);
}

/* A step of a scenario that checks the host's side while the guest waits (device-irqs, device-reset): print
 * "PROG: ready K STATE waiting" and wait, at most 60 s, for the scenario's answer on the console (ivmm's stdin,
 * the scenario's FIFO). Returns 0 when it came, -1 after saying why. */
static inline int l2_console_step(int k, const char *state)
{
	struct pollfd pfd = { .fd = 0, .events = POLLIN };
	char buf[64];

	edu_say("ready %d %s waiting", k, state);
	if (poll(&pfd, 1, 60000) != 1) {
		edu_say("step %d (%s): no answer on the console within 60 s", k, state);
		return -1;
	}
	if (read(0, buf, sizeof(buf)) <= 0) {
		edu_say("step %d: console read: %s", k, strerror(errno));
		return -1;
	}
	return 0;
}

#endif
