/* gic_arm64.c: the in-kernel vGICv3 + ITS (see gic.h). Order, from
 * Documentation/virt/kvm/devices/arm-vgic-v3.rst and arm-vgic-its.rst: create the vGICv3 device, set the
 * distributor and redistributor addresses and the number of interrupts; create the ITS device and set its
 * address (the ITS must exist before the vGIC is initialised so KVM sets the vGIC up for LPIs); then
 * CTRL_INIT the ITS and the vGIC, which needs every vCPU to exist already. */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "boot/layout.h"
#include "devices/gic.h"
#include "vmm/bits.h"
#include "vmm/kvm.h"
#include "vmm/log.h"

static int create_device(struct kvm *kvm, u32 type, const char *what)
{
	struct kvm_create_device cd = { .type = type };

	if (ioctl(kvm->vm_fd, KVM_CREATE_DEVICE, &cd) < 0) {
		int ret = -errno;

		if (errno == ENODEV)
			pr_err("gic: KVM cannot create a %s (ENODEV: does the host have a GICv3?)", what);
		else
			pr_err("gic: KVM_CREATE_DEVICE %s: %s", what, strerror(errno));
		return ret;
	}
	return (int)cd.fd;
}

static int set_attr(int fd, u32 group, u64 attr, const void *val, const char *what)
{
	struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (u64)(uintptr_t)val };

	if (ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0) {
		int ret = -errno;

		pr_err("gic: %s: %s", what, strerror(errno));
		return ret;
	}
	return 0;
}

int gic_create(struct kvm *kvm, unsigned int ncpus, struct gic *gic)
{
	u64 dist = LAYOUT_GICD_BASE, its = LAYOUT_ITS_BASE;
	/* One redistributor region holding ncpus redistributors (index 0, flags 0). */
	u64 redist = FIELD_PREP(GENMASK(63, 52), ncpus) | (LAYOUT_GICR_BASE & GENMASK(51, 16));
	u32 nr_irqs = GIC_NR_IRQS;
	int ret;

	gic->gic_fd = gic->its_fd = -1;
	ret = create_device(kvm, KVM_DEV_TYPE_ARM_VGIC_V3, "vGICv3");
	if (ret < 0)
		return ret;
	gic->gic_fd = ret;
	ret = set_attr(gic->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist,
		       "distributor address");
	if (ret)
		goto err;
	ret = set_attr(gic->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION, &redist,
		       "redistributor region");
	if (ret)
		goto err;
	ret = set_attr(gic->gic_fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs, "number of interrupts");
	if (ret)
		goto err;

	ret = create_device(kvm, KVM_DEV_TYPE_ARM_VGIC_ITS, "vGICv3 ITS");
	if (ret < 0)
		goto err;
	gic->its_fd = ret;
	ret = set_attr(gic->its_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE, &its, "ITS address");
	if (ret)
		goto err;
	ret = set_attr(gic->its_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL, "ITS init");
	if (ret)
		goto err;
	ret = set_attr(gic->gic_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL, "vGICv3 init");
	if (ret)
		goto err;
	kvm->nr_spis = GIC_NR_SPIS;
	pr_debug("gic: vGICv3 with %u SPIs, ITS at 0x%llx", GIC_NR_SPIS, (unsigned long long)its);
	return 0;

err:
	gic_destroy(gic);
	return ret;
}

void gic_destroy(struct gic *gic)
{
	/* The devices live as long as the VM; closing the fds only drops our handles. */
	if (gic->its_fd >= 0)
		close(gic->its_fd);
	if (gic->gic_fd >= 0)
		close(gic->gic_fd);
	gic->gic_fd = gic->its_fd = -1;
}
