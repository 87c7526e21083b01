/* gic_other.c: no vGIC off arm64 (kvm_other.c already refused to create a VM). */
#include <errno.h>
#include "devices/gic.h"

int gic_create(struct kvm *kvm, unsigned int ncpus, struct gic *gic)
{
	gic->gic_fd = gic->its_fd = -1;
	return -ENOSYS;
}

void gic_destroy(struct gic *gic)
{
}
