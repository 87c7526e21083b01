/* pci-view: lab program (runs in L1, or on the host under the bundle, as `/progs/pci-view [--passthrough] BDF`).
 * Prints the PCI function BDF as tests/lab/progs/pci_view.h reads it from the host's sysfs (one item a line), or
 * with --passthrough the view ivmm's vfio-pci model should give the guest of it; scenario device-config diffs
 * the latter against what l2-dev-config prints in the guest. Exit 0, 1 when the device cannot be read, 2 for a
 * bad command line. */
#include <stdlib.h>
#include "tests/lab/progs/pci_view.h"

int main(int argc, char **argv)
{
	struct pci_view v;
	bool passthrough = false;
	char dir[300], err[400];
	int i = 1;

	if (argc > 1 && !strcmp(argv[1], "--passthrough")) {
		passthrough = true;
		i++;
	}
	if (argc != i + 1 || strchr(argv[i], '/') || argv[i][0] == '.') {
		fprintf(stderr, "usage: pci-view [--passthrough] DDDD:BB:DD.F\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s", argv[i]);
	if (pci_view_read(dir, &v, err, sizeof(err))) {
		fprintf(stderr, "pci-view: %s\n", err);
		return 1;
	}
	if (passthrough)
		pci_view_passthrough(&v);
	pci_view_print(stdout, "", &v);
	return 0;
}
