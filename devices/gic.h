/* gic.h: the interrupt controller: KVM's in-kernel vGICv3 (distributor + one redistributor per vCPU) with an
 * ITS for MSIs (passthrough devices, the vSMMU), at the addresses of boot/layout.h. Created after every vCPU
 * (KVM requires it for KVM_DEV_ARM_VGIC_CTRL_INIT); arm64 only (gic_arm64.c, gic_other.c elsewhere). */
#ifndef IVMM_GIC_H
#define IVMM_GIC_H

#include "vmm/compiler.h"

struct kvm;

/* Interrupt IDs the vGIC implements: 32 private (SGI + PPI) + GIC_NR_SPIS shared. */
#define GIC_NR_IRQS 256
#define GIC_NR_SPIS (GIC_NR_IRQS - 32)

struct gic {
	int gic_fd;  /* KVM_DEV_TYPE_ARM_VGIC_V3 device */
	int its_fd;  /* KVM_DEV_TYPE_ARM_VGIC_ITS device */
};

/* Create, place and initialise the vGICv3 and its ITS for ncpus vCPUs (all already created), and tell the
 * KVM backend how many SPIs exist (kvm->nr_spis). Prints what failed. Returns 0 or -errno. */
int __must_check gic_create(struct kvm *kvm, unsigned int ncpus, struct gic *gic);
void gic_destroy(struct gic *gic);

#endif
