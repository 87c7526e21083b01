/* vcpu.c: one thread per vCPU: KVM_RUN and the exit dispatch. MMIO exits go to the bus; PSCI SYSTEM_OFF /
 * SYSTEM_RESET and crashes (KVM_EXIT_SYSTEM_EVENT) end the VM with their exit status; any other exit is a
 * failure the VMM cannot handle and ends the VM with a message naming the vCPU and the exit. Other vCPUs are
 * kicked out of KVM_RUN (immediate_exit + VCPU_KICK_SIGNAL) by vm_stop(). */
#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/vm.h"

void vcpu_kick(struct vcpu *vcpu)
{
	if (vcpu->kvcpu.run)
		__atomic_store_n(&vcpu->kvcpu.run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (vcpu->thread_started)
		pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

void vcpu_wake(struct vcpu *vcpu)
{
	if (vcpu->thread_started)
		pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

static void handle_system_event(struct vcpu *vcpu, const struct kvm_run *run)
{
	unsigned int id = vcpu->kvcpu.id;

	switch (run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		pr_debug("vcpu%u: guest powered off", id);
		vm_stop(vcpu->vm, IVMM_EXIT_OK);
		break;
	case KVM_SYSTEM_EVENT_RESET:
		pr_info("the guest asked for a reset; ivmm does not reboot guests: exiting with status %d",
			IVMM_EXIT_RESET);
		vm_stop(vcpu->vm, IVMM_EXIT_RESET);
		break;
	case KVM_SYSTEM_EVENT_CRASH:
		pr_err("the guest reported a crash (vCPU %u, PSCI/KVM crash event): exiting with status %d", id,
		       IVMM_EXIT_CRASH);
		vm_stop(vcpu->vm, IVMM_EXIT_CRASH);
		break;
	default:
		pr_err("vcpu%u: unsupported system event %u", id, run->system_event.type);
		vm_stop(vcpu->vm, IVMM_EXIT_RUNTIME);
		break;
	}
}

bool vcpu_handle_exit(struct vcpu *vcpu, struct kvm_run *run)
{
	struct vm *vm = vcpu->vm;
	unsigned int id = vcpu->kvcpu.id;

	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
		/* Unclaimed or malformed accesses are logged by the bus; the guest sees RAZ/WI. */
		(void)bus_access(&vm->bus, run->mmio.phys_addr, run->mmio.data, run->mmio.len, run->mmio.is_write);
		return true;
	case KVM_EXIT_SYSTEM_EVENT:
		handle_system_event(vcpu, run);
		return false;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_FAIL_ENTRY:
		pr_err("vcpu%u: KVM could not enter the guest (hardware entry failure 0x%llx)", id,
		       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		pr_err("vcpu%u: KVM internal error (suberror %u)", id, run->internal.suberror);
		break;
	default:
		pr_err("vcpu%u: unexpected KVM exit reason %u", id, run->exit_reason);
		break;
	}
	vm_stop(vm, IVMM_EXIT_RUNTIME);
	return false;
}

void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	struct kvm_run *run = vcpu->kvcpu.run;
	sigset_t kick;

	/* Only the kick signal is deliverable here: SIGINT/SIGTERM go to the main thread's signalfd. */
	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	vm_stats_first_run(vm);

	while (!atomic_load(&vm->stopping)) {
		if (ioctl(vcpu->kvcpu.fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue; /* kicked: the loop condition decides */
			if (errno == ENOSYS)
				pr_err("vcpu%u: KVM_RUN: the guest made an MMIO access KVM cannot decode "
				       "(no syndrome; e.g. a load/store pair to device memory)", vcpu->kvcpu.id);
			else
				pr_err("vcpu%u: KVM_RUN: %s", vcpu->kvcpu.id, strerror(errno));
			vm_stop(vm, IVMM_EXIT_RUNTIME);
			break;
		}
		if (!vcpu_handle_exit(vcpu, run))
			break;
	}
	return NULL;
}
