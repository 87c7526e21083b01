/* l2-dev-irqs: L2 program (tests/lab/scenarios/device-irqs.sh, ivmm run --viommu smmuv3, the device guest-vfio=on).
 * Sets up MSI-X, then MSI, of the device under test (tests/lab/progs/l2_dut.h: any passed-through function)
 * through the guest's own VFIO cdev + iommufd (tests/lab/progs/l2_iommufd.h), without making the device do
 * anything: for each index VFIO offers (VFIO_DEVICE_GET_IRQ_INFO), VFIO_DEVICE_SET_IRQS with N eventfds (N = up
 * to 4 vectors, a power of two for MSI), then with none again. After each change it checks the guest's side
 * (N lines `vfio-msix[i](BDF)` / `vfio-msi[i](BDF)` in /proc/interrupts, the capability's enable bit in config
 * space, read through the guest's sysfs: what ivmm shows) and prints `l2-dev-irqs: ready K STATE N waiting`
 * (STATE one of msix-on, msix-off, msi-on, msi-off; the last word tells the scenario the line is whole) and
 * waits for a line on the console (at most 60 s): the scenario checks the host's side meanwhile (the vectors
 * ivmm asked VFIO for in L1) and answers. `l2-dev-irqs: steps K` at the end. Exit 0 when every guest-side check
 * held and every step was answered. */
#include "tests/lab/progs/l2_dut.h"
#include "tests/lab/progs/l2_iommufd.h"
#include "tests/lab/progs/pci_view.h"

#define MAX_VECS 4

/* The enable bit of MSI (msix false) or MSI-X in the guest's config space (sysfs, pci_view.h: what ivmm shows):
 * 1 set, 0 clear, -1 when it cannot be read or the capability is missing. */
static int cap_enabled(const char *bdf, bool msix)
{
	struct pci_view pv;
	char dir[300], err[400];

	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s", bdf);
	if (pci_view_read(dir, &pv, err, sizeof(err))) {
		edu_say("%s", err);
		return -1;
	}
	if (!(msix ? pv.msix : pv.msi))
		return -1;
	return (msix ? pv.msix_enabled : pv.msi_enabled) ? 1 : 0;
}

/* /proc/interrupts lines of the form `LABEL[i](BDF)`. */
static int irq_lines(const char *label, const char *bdf)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[1024], pat[80];
	int n = 0;

	if (!f)
		return -1;
	snprintf(pat, sizeof(pat), "(%s)", bdf);
	while (fgets(line, sizeof(line), f)) {
		char *s = strstr(line, label);

		if (s && s[strlen(label)] == '[' && strstr(s, pat))
			n++;
	}
	fclose(f);
	return n;
}

/* Print the ready line ("ready K STATE N waiting") and wait for the scenario's answer on the console. */
static int step(int k, const char *state, unsigned int n)
{
	char what[48];

	snprintf(what, sizeof(what), "%s %u", state, n);
	return l2_console_step(k, what);
}

/* SET_IRQS on vectors [0, n) of index: n eventfds, or (n == 0) none (disables the index). */
static int set_irqs(struct l2_vfio *v, unsigned int index, const int *fds, unsigned int n)
{
	char buf[sizeof(struct vfio_irq_set) + MAX_VECS * sizeof(int32_t)];
	struct vfio_irq_set *set = (struct vfio_irq_set *)buf;

	set->argsz = (uint32_t)(sizeof(*set) + n * sizeof(int32_t));
	set->flags = (n ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE) | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = index;
	set->start = 0;
	set->count = n;
	if (n)
		memcpy(set->data, fds, n * sizeof(int32_t));
	return ioctl(v->dev, VFIO_DEVICE_SET_IRQS, set);
}

/* Check the guest's view after a change: lines label[i](bdf) == n, enable bit == (n > 0). */
static int check_guest(const char *bdf, const char *label, bool msix, unsigned int n)
{
	int lines = irq_lines(label, bdf), on = cap_enabled(bdf, msix);

	if (lines != (int)n) {
		edu_say("%u %s vectors set up, but %d %s[i](%s) lines in /proc/interrupts", n, label, lines, label, bdf);
		return -1;
	}
	if (on < 0 || on != (n > 0)) {
		edu_say("%s enable bit in the guest's config space: %s, expected %s", label,
			on < 0 ? "unreadable" : on ? "set" : "clear", n ? "set" : "clear");
		return -1;
	}
	return 0;
}

int main(void)
{
	static const struct {
		unsigned int index;
		const char *name, *label;
		bool msix;
	} kinds[] = {
		{ VFIO_PCI_MSIX_IRQ_INDEX, "msix", "vfio-msix", true },
		{ VFIO_PCI_MSI_IRQ_INDEX, "msi", "vfio-msi", false },
	};
	struct l2_iommufd io;
	struct l2_vfio v;
	char bdf[EDU_BDF_LEN];
	int k = 0, kinds_done = 0;

	edu_prog = "l2-dev-irqs";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (l2_dut_find(bdf, sizeof(bdf)) || l2_iommufd_open(bdf, &v, &io))
		return 1;
	for (unsigned int i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = kinds[i].index };
		int fds[MAX_VECS];
		char state[16];
		unsigned int n;

		if (ioctl(v.dev, VFIO_DEVICE_GET_IRQ_INFO, &ii)) {
			edu_say("VFIO_DEVICE_GET_IRQ_INFO (%s): %s", kinds[i].name, strerror(errno));
			return 1;
		}
		if (!ii.count) {
			edu_say("%s: VFIO offers no vectors (the device has no such capability)", kinds[i].name);
			continue;
		}
		n = ii.count < MAX_VECS ? ii.count : MAX_VECS;
		if (kinds[i].index == VFIO_PCI_MSI_IRQ_INDEX)
			while (n & (n - 1))
				n &= n - 1;
		edu_say("%s: VFIO offers %u vectors; setting up %u", kinds[i].name, ii.count, n);
		for (unsigned int j = 0; j < n; j++) {
			fds[j] = eventfd(0, EFD_CLOEXEC);
			if (fds[j] < 0) {
				edu_say("eventfd: %s", strerror(errno));
				return 1;
			}
		}
		if (set_irqs(&v, kinds[i].index, fds, n)) {
			edu_say("VFIO_DEVICE_SET_IRQS %s with %u eventfds: %s", kinds[i].name, n, strerror(errno));
			return 1;
		}
		if (check_guest(bdf, kinds[i].label, kinds[i].msix, n))
			return 1;
		snprintf(state, sizeof(state), "%s-on", kinds[i].name);
		if (step(++k, state, n))
			return 1;
		if (set_irqs(&v, kinds[i].index, NULL, 0)) {
			edu_say("VFIO_DEVICE_SET_IRQS %s off: %s", kinds[i].name, strerror(errno));
			return 1;
		}
		if (check_guest(bdf, kinds[i].label, kinds[i].msix, 0))
			return 1;
		snprintf(state, sizeof(state), "%s-off", kinds[i].name);
		if (step(++k, state, 0))
			return 1;
		for (unsigned int j = 0; j < n; j++)
			close(fds[j]);
		kinds_done++;
	}
	edu_say("steps %d", k);
	l2_iommufd_close(&v, &io);
	if (!kinds_done) {
		edu_say("the device offers neither MSI nor MSI-X through VFIO: nothing to check");
		return 1;
	}
	return 0;
}
