/* l2-msi-window: L2 program (tests/lab/scenarios/vsmmu-msi-window.sh): the negative control of the device
 * tree's MSI window. The device under test (tests/lab/progs/l2_dut.h) is behind the vSMMU WITHOUT the window
 * (guest-vfio=on) and L2's own kernel driver has it on a DMA-API domain, which maps the guest's ITS doorbell at
 * an IOVA of its choosing; the host programmed the device's MSIs to its software MSI window (IOVA
 * 0x08000000), which that domain never mapped, so every MSI the device sends must fault in the guest's stage 1.
 * Waits (at most 40 s) for L2's arm-smmu-v3 driver to dump an F_TRANSLATION event for the device's StreamID
 * at a write address inside [0x08000000, 0x08100000). Exit 0 when one arrived: the window is what makes
 * kernel-driver MSIs work (vsmmu-nvme is the positive run). */
#include "tests/lab/progs/l2_dut.h"
#include "tests/lab/progs/l2_iommufd.h"

int main(void)
{
	char bdf[EDU_BDF_LEN];
	int rid;

	edu_prog = "l2-msi-window";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (l2_dut_find(bdf, sizeof(bdf)))
		return 1;
	rid = l2_pci_rid(bdf);
	if (rid < 0) {
		edu_say("%s: not a BDF this program can turn into a requester ID", bdf);
		return 1;
	}
	for (int t = 0; t < 80; t++) {
		struct l2_evtlog log;
		long hits = 0;

		if (l2_evtlog_read(&log))
			return 1;
		for (long i = 0; i < log.n; i++) {
			const struct l2_smmu_evt *e = &log.ev[i];

			if (l2_evt_is_fault(e, (uint32_t)rid, L2_SW_MSI_BASE, L2_SW_MSI_BASE + L2_SW_MSI_SIZE) &&
			    !L2_EVT_RNW(e->dw[1]) && !hits++)
				l2_evt_show("MSI write faulted", e);
		}
		l2_evtlog_free(&log);
		if (hits) {
			edu_say("%ld F_TRANSLATION write(s) by StreamID 0x%x in the software MSI window after %d ms: without "
				"the window the device's MSIs fault", hits, rid, t * 500);
			return 0;
		}
		usleep(500000);
	}
	edu_say("no fault of StreamID 0x%x in the MSI window within 40 s (did the driver enable MSIs?)", rid);
	return 1;
}
