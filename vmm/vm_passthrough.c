/* vm_passthrough.c: PASSTHROUGH HOOK, the single place vm_create() sets up PCI passthrough (phase 7, after
 * the vGIC/ITS and the on-board devices, before the kernel and DTB are loaded) and vm_destroy() tears it down
 * (before the on-board devices and the vGIC go).
 *
 * To wire passthrough in (devices/pci_host.h + devices/vfio_pci.h): replace the bodies below. What is
 * available at this point: vm->cfg->devices[0..ndevices) (validated), &vm->bus (register the ECAM region and
 * trapped BARs), vm_hv(vm) (memslots for mmap-able BARs, irqfd_msi with devid = requester id to the vITS,
 * irqfd_spi for INTx), &vm->mem (guest RAM, to map into the IOAS at IOVA = GPA), vm->kvm.vm_fd, and
 * vm->passthrough to keep the state. On failure: print one message naming the device (cfg->devices[i].where
 * and .id), undo what this function did, return -errno. The FDT already describes the ECAM bridge whenever
 * ndevices > 0 (boot/fdt.c). */
#include <errno.h>
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/vm.h"

int vm_setup_passthrough(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;

	if (!cfg->ndevices)
		return 0;
	pr_err("%s: device %s (vfio-pci, host %s): passthrough devices not supported yet",
	       cfg->devices[0].where ? cfg->devices[0].where : "--device",
	       cfg->devices[0].id ? cfg->devices[0].id : "?", cfg->devices[0].host ? cfg->devices[0].host : "?");
	return -EOPNOTSUPP;
}

void vm_teardown_passthrough(struct vm *vm)
{
	vm->passthrough = NULL;
}
