/* host_check_other.c: struct host_check_ops of `ivmm host-check` on hosts that are not arm64 (see
 * host_check.h). ivmm runs guests on arm64 KVM only, so the ops say the build is not arm64 and host-check
 * prints that one line (exit 1) without touching anything; uname (host_check.c) names the machine for it. */
#include <string.h>
#include "vmm/host_check.h"

static const struct host_check_ops other_ops = {
	.arm64 = false,
	.uname = host_check_uname,
};

const struct host_check_ops *host_check_sys_ops(struct host_check_sys *sys)
{
	memset(sys, 0, sizeof(*sys));
	sys->kvm_fd = sys->vm_fd = -1;
	return &other_ops;
}
