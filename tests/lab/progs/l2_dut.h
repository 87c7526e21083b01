/* l2_dut.h: for the L2 programs of the device-agnostic scenarios (tests/lab/scenarios/device-*.sh), which must
 * work on whatever PCI function the host passes through, not just QEMU's edu: find the passed-through functions
 * (every type-0 function that is not a bridge: ivmm puts nothing else on its bus), and the device under test
 * (`ivmm.dut=BDF` on the kernel command line, else the only such function). Header-only, on top of l2_edu.h
 * (for edu_say and the sysfs readers; nothing here touches edu's registers). */
#ifndef IVMM_LAB_L2_DUT_H
#define IVMM_LAB_L2_DUT_H

#include "tests/lab/progs/l2_edu.h"

/* A function ivmm passed through: type 0 header, not a bridge. */
static inline bool l2__endpoint(const char *name)
{
	uint8_t hdr = 0xff;

	if ((l2_pci_attr(name, "class") >> 16) == 0x06)
		return false;
	return !edu_cfg_rw(name, 0x0e, &hdr, 1, 0) && !(hdr & 0x7f);
}

/* Every passed-through function in BDF order (at most max), names of EDU_BDF_LEN bytes. Returns how many (0
 * after a message), -1 when /sys/bus/pci/devices cannot be read. */
static inline int l2_pci_endpoints(char (*bdfs)[EDU_BDF_LEN], int max)
{
	int n = l2_pci_scan(bdfs, max, l2__endpoint);

	if (!n)
		edu_say("no passed-through PCI function in /sys/bus/pci/devices (ivmm run without --device?)");
	return n;
}

/* The device under test: ivmm.dut=BDF, else the only passed-through function. 0, or -1 after a message. */
static inline int l2_dut_find(char *bdf, size_t len)
{
	char all[8][EDU_BDF_LEN], p[300];
	int n;

	l2_cmdline_get("ivmm.dut", bdf, len);
	if (bdf[0]) {
		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s", bdf);
		if (access(p, F_OK) || !l2__endpoint(bdf)) {
			edu_say("ivmm.dut=%s: no such passed-through function in the guest", bdf);
			return -1;
		}
	} else {
		n = l2_pci_endpoints(all, 8);
		if (n <= 0)
			return -1;
		if (n > 1) {
			edu_say("%d passed-through functions and no ivmm.dut=BDF to say which one to test", n);
			return -1;
		}
		snprintf(bdf, len, "%s", all[0]);
	}
	edu_say("device under test: %s (%04lx:%04lx)", bdf, l2_pci_attr(bdf, "vendor"), l2_pci_attr(bdf, "device"));
	return 0;
}

#endif
