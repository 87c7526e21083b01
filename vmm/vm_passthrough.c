/* vm_passthrough.c: PASSTHROUGH HOOK, the single place vm_create() sets up PCI passthrough (phase 7, after
 * the vGIC/ITS and the on-board devices, before the kernel and DTB are loaded) and vm_destroy() tears it down
 * (before the on-board devices and the vGIC go).
 *
 * The work is done by vmm/passthrough.c (iommufd + IOAS with guest RAM at IOVA = GPA, the ECAM host bridge
 * on &vm->bus, one vfio-pci model per cfg->devices entry, memslots and irqfds through vm_hv()); the state lives
 * in vm->pt (with the vSMMUs the config asks for). The optional KVM capabilities devices need (MSI device ids, resampling irqfds for INTx)
 * are checked first, only when devices are configured. Every failure below that prints its own message (naming the device and the cause) and
 * undoes what was done; the FDT already describes the ECAM bridge whenever ndevices > 0 (boot/fdt.c). */
#include <errno.h>
#include <stdlib.h>
#include "vmm/passthrough.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/vm.h"

/* A device's SEV (the vSMMU completing CMD_SYNC with CS=SEV): every vCPU's WFE wakes. Under the stop lock,
 * and not once the VM is stopping: threads start under it (start_vcpus) and are joined only after stopping
 * was set under it, so no signal goes to a thread not yet started or already joined. */
static void loop_sev(void *ctx)
{
	struct vm *vm = ctx;

	pthread_mutex_lock(&vm->stop_lock);
	if (!atomic_load(&vm->stopping))
		for (unsigned int i = 0; i < vm->nvcpus; i++)
			vcpu_wake(&vm->vcpus[i]);
	pthread_mutex_unlock(&vm->stop_lock);
}

int vm_setup_passthrough(struct vm *vm)
{
	const struct passthrough_loop loop = { .watcher = loop_watcher(&vm->loop), .sev = loop_sev, .sev_ctx = vm };
	const struct vm_config *cfg = vm->cfg;
	struct passthrough *pt;
	int ret;

	if (!cfg->ndevices)
		return 0;
	ret = kvm_check_passthrough_caps(&vm->kvm);
	if (ret)
		return ret;
	pt = calloc(1, sizeof(*pt));
	if (!pt) {
		pr_err("passthrough: out of memory");
		return -ENOMEM;
	}
	ret = passthrough_create(pt, cfg, &vm->mem, vm_hv(vm), &vm->bus, NULL, &loop);
	if (ret) {
		free(pt);
		return ret;
	}
	vm->pt = pt;
	return 0;
}

void vm_teardown_passthrough(struct vm *vm)
{
	struct passthrough *pt = vm->pt;

	if (!pt)
		return;
	passthrough_destroy(pt);
	free(pt);
	vm->pt = NULL;
}
