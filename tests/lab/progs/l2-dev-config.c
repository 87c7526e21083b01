/* l2-dev-config: L2 program (tests/lab/scenarios/device-config.sh). Prints the device under test
 * (tests/lab/progs/l2_dut.h: any PCI function ivmm passed through) as the guest sees it, read from the guest's
 * sysfs by the same code (tests/lab/progs/pci_view.h) that pci-view runs on the host's sysfs in L1, one
 * `l2-dev-config: view ITEM` line per item, for the scenario to compare with the host's. It also checks what
 * the guest kernel made of it: every memory BAR got an address (its sysfs resourceN exists and mmaps; nothing
 * is read or written through it: a device's registers may act on reads), and the device is at the guest BDF
 * ivmm's layout gives the first device (00:01.0). Exit 0 when the view was read and those hold. */
#include "tests/lab/progs/l2_dut.h"
#include "tests/lab/progs/pci_view.h"

int main(void)
{
	struct pci_view v;
	char bdf[EDU_BDF_LEN], dir[300], err[400];
	int fails = 0;

	edu_prog = "l2-dev-config";
	if (l2_dut_find(bdf, sizeof(bdf)))
		return 1;
	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s", bdf);
	if (pci_view_read(dir, &v, err, sizeof(err))) {
		edu_say("%s", err);
		return 1;
	}
	pci_view_print(stdout, "l2-dev-config: view ", &v);
	fflush(stdout);
	for (unsigned int i = 0; i < PV_BARS; i++) {
		char p[340];
		void *m;
		int fd;

		if (!v.bar[i].size || v.bar[i].io)
			continue;
		snprintf(p, sizeof(p), "%s/resource%u", dir, i);
		fd = open(p, O_RDWR | O_SYNC);
		if (fd < 0) {
			edu_say("BAR%u: open %s: %s (the guest kernel gave it no address?)", i, p, strerror(errno));
			fails++;
			continue;
		}
		m = mmap(NULL, (size_t)v.bar[i].size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (m == MAP_FAILED) {
			edu_say("BAR%u: mmap 0x%llx bytes of %s: %s", i, (unsigned long long)v.bar[i].size, p,
				strerror(errno));
			fails++;
			continue;
		}
		munmap(m, (size_t)v.bar[i].size);
		edu_say("BAR%u: 0x%llx bytes, mapped", i, (unsigned long long)v.bar[i].size);
	}
	if (strcmp(bdf, "0000:00:01.0")) {
		edu_say("device under test at %s, not at 0000:00:01.0 where ivmm puts its first device", bdf);
		fails++;
	}
	return fails ? 1 : 0;
}
