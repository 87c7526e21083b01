/* l2-nvme: in L2, QEMU's NVMe controller passed through by ivmm, driven by L2's own kernel nvme driver (DMA-API
 * domain behind the vSMMU, or no IOMMU without one; MSI-X queues). Waits for the namespace's block device,
 * writes patterns with O_DIRECT (so every byte goes through the device's DMA, not the page cache) at a few
 * offsets, reads them back and compares; then checks that the controller's MSI-X vectors counted interrupts
 * (/proc/interrupts "nvme" lines grew) and prints the device's IOMMU domain type. Exit 0 when all holds. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NAME "l2-nvme"
#define BLOCK 65536
#define WAIT_S 60

static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf(NAME ": ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

/* Sum of the interrupt counts of every /proc/interrupts line naming nvme. */
static long nvme_irqs(void)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[1024];
	long total = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');

		if (!p || !strstr(line, "nvme"))
			continue;
		for (p++;;) {
			char *end;
			long v = strtol(p, &end, 10);

			if (end == p)
				break;
			total += v;
			p = end;
		}
	}
	fclose(f);
	return total;
}

/* The first nvme namespace block device ("nvme0n1"), waiting for the driver's asynchronous probe. */
static int find_ns(char *name, size_t len)
{
	for (int i = 0; i < WAIT_S * 10; i++) {
		DIR *d = opendir("/sys/block");
		struct dirent *e;

		while (d && (e = readdir(d))) {
			if (!strncmp(e->d_name, "nvme", 4) && strchr(e->d_name, 'n') != strrchr(e->d_name, 'n')) {
				snprintf(name, len, "%s", e->d_name);
				closedir(d);
				return 0;
			}
		}
		if (d)
			closedir(d);
		usleep(100000);
	}
	return -1;
}

static void print_domain(void)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	char path[512], buf[64];

	while (d && (e = readdir(d))) {
		FILE *f;

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/class", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && !strncmp(buf, "0x010802", 8)) {
			FILE *t;

			snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group/type", e->d_name);
			t = fopen(path, "r");
			if (t && fgets(buf, sizeof(buf), t)) {
				buf[strcspn(buf, "\n")] = 0;
				say("controller %s: IOMMU domain type %s", e->d_name, buf);
			} else {
				say("controller %s: no IOMMU group (no IOMMU in front of it)", e->d_name);
			}
			if (t)
				fclose(t);
		}
		fclose(f);
	}
	if (d)
		closedir(d);
}

int main(void)
{
	static const long offsets[] = { 0, 1 << 20, 3 << 20 };
	char ns[256], dev[300];
	unsigned char *wbuf, *rbuf;
	long irq0, irq1;
	int fd, bad = 0;

	if (find_ns(ns, sizeof(ns))) {
		say("no nvme namespace block device appeared within %d s", WAIT_S);
		return 1;
	}
	snprintf(dev, sizeof(dev), "/dev/%s", ns);
	for (int i = 0; i < 50 && access(dev, F_OK); i++)
		usleep(100000);
	print_domain();
	irq0 = nvme_irqs();
	fd = open(dev, O_RDWR | O_DIRECT);
	if (fd < 0) {
		say("open %s: %s", dev, strerror(errno));
		return 1;
	}
	if (posix_memalign((void **)&wbuf, 4096, BLOCK) || posix_memalign((void **)&rbuf, 4096, BLOCK))
		return 1;
	srand((unsigned int)time(NULL));
	for (size_t k = 0; k < sizeof(offsets) / sizeof(offsets[0]); k++) {
		for (int i = 0; i < BLOCK; i++)
			wbuf[i] = (unsigned char)(rand() ^ (int)k);
		memset(rbuf, 0xee, BLOCK);
		if (pwrite(fd, wbuf, BLOCK, offsets[k]) != BLOCK || fsync(fd) ||
		    pread(fd, rbuf, BLOCK, offsets[k]) != BLOCK) {
			say("I/O at offset %ld failed: %s", offsets[k], strerror(errno));
			bad++;
			continue;
		}
		if (memcmp(wbuf, rbuf, BLOCK)) {
			say("data read back at offset %ld differs from what was written", offsets[k]);
			bad++;
		}
	}
	close(fd);
	irq1 = nvme_irqs();
	say("%s: 3 x 64 KiB written and read back with O_DIRECT; nvme interrupts before %ld after %ld", ns, irq0,
	    irq1);
	if (irq1 <= irq0) {
		say("the controller's interrupts did not grow (%ld): MSI-X did not arrive", irq1 - irq0);
		bad++;
	}
	if (!bad)
		say("data matched at every offset");
	return bad ? 1 : 0;
}
