/* test_vcpu_exit.c: the vCPU exit dispatch (vmm/vcpu.c vcpu_handle_exit) with a fake struct kvm_run, as KVM
 * would fill it: PSCI SYSTEM_OFF ends the VM with status 0, SYSTEM_RESET with 3, a guest crash event with 4,
 * an MMIO exit to nothing reads as zero and keeps the vCPU running, and an exit reason ivmm does not know
 * ends the VM with status 1 and a message naming the vCPU and the reason. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "vmm/config.h"
#include "vmm/vm.h"
#include "tests/unit/cr_stderr.h"

struct rig {
	struct vm *vm;
	struct vcpu vcpu;
	struct kvm_run *run;
};

static void rig_up(struct rig *r)
{
	r->vm = calloc(1, sizeof(*r->vm));
	r->run = calloc(1, sizeof(*r->run));
	cr_assert(r->vm && r->run);
	cr_assert_eq(pthread_mutex_init(&r->vm->stop_lock, NULL), 0);
	r->vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cr_assert_geq(r->vm->stop_fd, 0);
	cr_assert_eq(bus_init(&r->vm->bus), 0);
	r->vm->exit_code = -1;
	r->vcpu = (struct vcpu){ .vm = r->vm, .kvcpu = { .id = 2, .fd = -1, .run = r->run } };
}

static void rig_down(struct rig *r)
{
	bus_destroy(&r->vm->bus);
	close(r->vm->stop_fd);
	pthread_mutex_destroy(&r->vm->stop_lock);
	free(r->run);
	free(r->vm);
}

/* The main loop was told (stop_fd readable) exactly when the VM was stopped. */
static bool main_loop_told(struct rig *r)
{
	u64 v;

	return read(r->vm->stop_fd, &v, sizeof(v)) == sizeof(v) && v == 1;
}

static int system_event(u32 type)
{
	struct rig r;
	bool more;
	int code;

	rig_up(&r);
	r.run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
	r.run->system_event.type = type;
	more = vcpu_handle_exit(&r.vcpu, r.run);
	cr_assert_not(more, "a system event ends the vCPU thread");
	cr_assert(atomic_load(&r.vm->stopping));
	cr_assert(main_loop_told(&r));
	code = r.vm->exit_code;
	rig_down(&r);
	return code;
}

Test(vcpu_exit, system_events_end_the_vm_with_their_status, .init = cr_redirect_stderr)
{
	cr_assert_eq(system_event(KVM_SYSTEM_EVENT_SHUTDOWN), IVMM_EXIT_OK);
	cr_assert_eq(system_event(KVM_SYSTEM_EVENT_RESET), IVMM_EXIT_RESET);
	cr_assert_eq(system_event(KVM_SYSTEM_EVENT_CRASH), IVMM_EXIT_CRASH);
	cr_assert_eq(IVMM_EXIT_RESET, 3);
	cr_assert_eq(IVMM_EXIT_CRASH, 4);
	cr_assert_eq(system_event(0x7777), IVMM_EXIT_RUNTIME, "an unknown system event is a failure");
}

Test(vcpu_exit, the_first_stop_wins, .init = cr_redirect_stderr)
{
	struct rig r;

	rig_up(&r);
	r.run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
	r.run->system_event.type = KVM_SYSTEM_EVENT_CRASH;
	cr_assert_not(vcpu_handle_exit(&r.vcpu, r.run));
	r.run->system_event.type = KVM_SYSTEM_EVENT_SHUTDOWN; /* another vCPU, later */
	cr_assert_not(vcpu_handle_exit(&r.vcpu, r.run));
	cr_assert_eq(r.vm->exit_code, IVMM_EXIT_CRASH);
	rig_down(&r);
}

Test(vcpu_exit, mmio_to_nothing_reads_zero_and_keeps_running, .init = cr_redirect_stderr)
{
	struct rig r;

	rig_up(&r);
	r.run->exit_reason = KVM_EXIT_MMIO;
	r.run->mmio.phys_addr = 0x7fff0000;
	r.run->mmio.len = 4;
	r.run->mmio.is_write = 0;
	memset(r.run->mmio.data, 0xa5, sizeof(r.run->mmio.data));
	cr_assert(vcpu_handle_exit(&r.vcpu, r.run));
	cr_assert_eq(r.run->mmio.data[0] | r.run->mmio.data[1] | r.run->mmio.data[2] | r.run->mmio.data[3], 0,
		     "RAZ");
	r.run->exit_reason = KVM_EXIT_INTR; /* kicked by a signal: the loop condition decides */
	cr_assert(vcpu_handle_exit(&r.vcpu, r.run));
	cr_assert_not(atomic_load(&r.vm->stopping));
	cr_assert_not(main_loop_told(&r));
	rig_down(&r);
}

Test(vcpu_exit, unknown_exit_reason_is_a_named_failure, .init = cr_redirect_stderr)
{
	struct rig r;
	char out[1024];

	rig_up(&r);
	r.run->exit_reason = 0x4242;
	cr_assert_not(vcpu_handle_exit(&r.vcpu, r.run));
	cr_assert_eq(r.vm->exit_code, IVMM_EXIT_RUNTIME);
	cr_assert(main_loop_told(&r));
	rig_down(&r);
	cr_stderr_read(out, sizeof(out));
	cr_assert(strstr(out, "ivmm: error: vcpu2: unexpected KVM exit reason 16962\n"), "stderr:\n%s", out);
}
