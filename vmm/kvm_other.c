/* kvm_other.c: the KVM backend on hosts that are not arm64. ivmm only runs arm64 guests on an arm64 KVM host,
 * so every entry point says so (once, from kvm_open) and fails; the rest of ivmm (config validation,
 * --dump-dtb, unit tests) works on any host. */
#include <errno.h>
#include <string.h>
#include "vmm/kvm.h"
#include "vmm/log.h"

int kvm_open(struct kvm *kvm, u64 ipa_end)
{
	memset(kvm, 0, sizeof(*kvm));
	kvm->sys_fd = kvm->vm_fd = -1;
	pr_err("ivmm runs guests on arm64 hosts only; on x86_64 use the lab (make lab-shell / make demo)");
	return -ENOSYS;
}

void kvm_close(struct kvm *kvm)
{
}

int kvm_vcpu_create(struct kvm *kvm, unsigned int id, struct kvm_vcpu *vcpu)
{
	vcpu->fd = -1;
	vcpu->run = NULL;
	return -ENOSYS;
}

void kvm_vcpu_destroy(struct kvm *kvm, struct kvm_vcpu *vcpu)
{
}

int kvm_vcpu_set_boot_regs(struct kvm_vcpu *vcpu, u64 entry, u64 dtb)
{
	return -ENOSYS;
}

int kvm_vm_check_cap(struct kvm *kvm, long cap)
{
	return 0;
}

int kvm_check_passthrough_caps(struct kvm *kvm)
{
	return -ENOSYS;
}
