/* host_check_internal.h: what the host-check files share (host_check.c: arguments, the architecture, KVM,
 * /dev/iommu and the summary; host_check_dev.c: the per-device checks). Not an API. */
#ifndef IVMM_HOST_CHECK_INTERNAL_H
#define IVMM_HOST_CHECK_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>
#include "vmm/compiler.h"
#include "vmm/host_check.h"

enum hc_verdict { HC_OK, HC_MISSING, HC_WARNING };

/* One host-check run: its ops and the counts the summary reports. */
struct hc {
	const struct host_check_ops *ops;
	void *ctx;
	FILE *out;
	unsigned int missing, warnings;
	bool skipped;          /* a check was left out because one it depends on is missing */
	bool iommufd_ok;       /* /dev/iommu opens: the per-device iommufd checks can run */
};

/* One line "host-check: [BDF ]WHAT: VERDICT: DETAIL" on hc->out, flushed (the layers' stderr lines stay in
 * order); a missing or warning verdict is counted. */
void __printf(5, 6) hc_line(struct hc *hc, const char *bdf, const char *what, enum hc_verdict v, const char *fmt,
			    ...);
/* The lines of one device (host_check_dev.c): sysfs entry, driver, cdev, host IOMMU, then, when those and
 * /dev/iommu are there, a bind to a fresh iommufd, GET_HW_INFO and the vIOMMU trial. Everything it opens or
 * creates is undone before it returns; hc->skipped is set when a check was left out. */
void hc_check_device(struct hc *hc, const char *bdf);

#endif
