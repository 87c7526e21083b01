/* vm.c: the VM's life cycle (see vm.h). vm_create() runs the phases in this order, each recorded in
 * vm->phases (or a count) so that vm_destroy() undoes exactly what was done, in reverse, on every path:
 *   1. KVM: /dev/kvm, API version, capabilities, KVM_CREATE_VM with an IPA size covering the address map
 *   2. guest RAM: anonymous mapping (huge pages on request) at LAYOUT_RAM_BASE, registered as a memslot
 *   3. the MMIO bus
 *   4. vCPUs (PSCI 0.2; secondaries powered off until the guest's PSCI CPU_ON)
 *   5. vGICv3 + ITS (after the vCPUs: KVM initialises the vGIC for the vCPUs that exist)
 *   6. the main loop's watch table (vmm/loop.h), then the on-board devices: the 16550A UART on the bus
 *   7. passthrough devices (vm_setup_passthrough, vm_passthrough.c)
 *   8. kernel, initrd and DTB into RAM (boot_load), boot vCPU registers
 *   9. run state: the stop eventfd
 * A stop signal (SIGINT, SIGTERM, SIGHUP) pending at the start, after any phase or between two vCPUs ends the
 * setup: everything done so far is undone and vm_create returns -EINTR (vmm/sig.h; main exits 128 + N).
 * Running the VM (vm_run, vm_stop) is vm_run.c's; the watch table of phase 6 is vmm/loop.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include "boot/boot.h"
#include "boot/layout.h"
#include "devices/uart16550.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/sig.h"
#include "vmm/vm.h"

/* ---- devices list ---- */

void vm_add_device(struct vm *vm, struct device *dev)
{
	struct device **pp = &vm->devices;

	while (*pp)
		pp = &(*pp)->next;
	dev->next = NULL;
	*pp = dev;
}

static void destroy_devices(struct device *dev)
{
	if (!dev)
		return;
	destroy_devices(dev->next); /* reverse order of creation */
	dev->ops->destroy(dev);
}

/* ---- phases ---- */

u64 vm_hugepage_size(const char *meminfo)
{
	FILE *f = fopen(meminfo, "re");
	unsigned long long kib = 0;
	char line[128];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Hugepagesize: %llu kB", &kib) == 1)
			break;
		kib = 0;
	}
	fclose(f);
	return (u64)kib * 1024;
}

static int ram_create(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	u64 page = (u64)sysconf(_SC_PAGESIZE), huge = 0;
	void *p;

	if (cfg->hugepages) {
		/* MAP_HUGETLB uses the default huge page size: 2 MiB on 4K-page hosts, 32 MiB on 16K, 512 MiB on
		 * 64K. Say which one, and refuse a RAM size that is not a multiple of it. */
		huge = vm_hugepage_size("/proc/meminfo");
		if (!huge) {
			pr_err("guest RAM: --hugepages, but this host has no huge pages (no Hugepagesize in "
			       "/proc/meminfo: CONFIG_HUGETLBFS off?)");
			return -EOPNOTSUPP;
		}
		if (cfg->mem_size % huge) {
			pr_err("guest RAM: %llu MiB is not a multiple of this host's huge page size (%llu KiB): "
			       "choose a multiple, or run without --hugepages", (unsigned long long)(cfg->mem_size / SZ_1M),
			       (unsigned long long)(huge / 1024));
			return -EINVAL;
		}
	} else if (cfg->mem_size % page) {
		pr_err("guest RAM: %llu bytes is not a multiple of the host page size (%llu KiB)",
		       (unsigned long long)cfg->mem_size, (unsigned long long)(page / 1024));
		return -EINVAL;
	}
	/* Huge pages are reserved at mmap time (no MAP_NORESERVE with MAP_HUGETLB), so a shortage is this clear
	 * error now, not an EFAULT while loading the kernel or a SIGBUS when the guest first touches a page.
	 * Ordinary pages are not reserved: the guest only gets what it touches. */
	if (cfg->hugepages)
		flags |= MAP_HUGETLB;
	else
		flags |= MAP_NORESERVE;
	p = mmap(NULL, cfg->mem_size, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED) {
		int ret = -errno;

		if (cfg->hugepages)
			pr_err("guest RAM: cannot map %llu MiB of huge pages: %s (reserve at least %llu pages of "
			       "%llu KiB in /proc/sys/vm/nr_hugepages, or run without --hugepages)",
			       (unsigned long long)(cfg->mem_size / SZ_1M), strerror(errno),
			       (unsigned long long)(cfg->mem_size / huge), (unsigned long long)(huge / 1024));
		else
			pr_err("guest RAM: cannot map %llu MiB: %s", (unsigned long long)(cfg->mem_size / SZ_1M),
			       strerror(errno));
		return ret;
	}
	/* Transparent huge pages cut stage-2 walks and faults; a hint only. */
	if (!cfg->hugepages)
		(void)madvise(p, cfg->mem_size, MADV_HUGEPAGE);
	vm->mem.host = p;
	vm->mem.gpa = LAYOUT_RAM_BASE;
	vm->mem.size = cfg->mem_size;
	vm->ram_hugepages = cfg->hugepages;
	return 0;
}

static int vcpus_create(struct vm *vm)
{
	unsigned int n = vm->cfg->ncpus;
	int ret;

	vm->vcpus = calloc(n, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		pr_err("vm: out of memory for %u vCPUs", n);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < n; i++) {
		vm->vcpus[i].vm = vm;
		ret = kvm_vcpu_create(&vm->kvm, i, &vm->vcpus[i].kvcpu);
		if (ret)
			return ret;
		vm->nvcpus++;
		ret = sig_stop_check();
		if (ret)
			return ret;
	}
	return 0;
}

static int uart_setup(struct vm *vm)
{
	int ret;

	ret = console_out_open(&vm->out, STDOUT_FILENO);
	if (ret)
		return ret;
	ret = uart16550_create(vm_hv(vm), LAYOUT_UART_BASE, LAYOUT_SPI_UART, vm->out.fd, &vm->uart);
	if (ret) {
		pr_err("uart: cannot create: %s", strerror(-ret));
		return ret;
	}
	vm_add_device(vm, uart16550_device(vm->uart));
	ret = bus_register(&vm->bus, uart16550_region(vm->uart), NULL, 0);
	if (ret) {
		vm->uart = NULL; /* not on the bus; the device list still destroys it */
		return ret;
	}
	return 0;
}

static int runstate_init(struct vm *vm)
{
	int ret;

	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0) {
		ret = -errno;
		pr_err("vm: stop eventfd: %s", strerror(errno));
		return ret;
	}
	ret = -pthread_mutex_init(&vm->stop_lock, NULL);
	if (ret) {
		pr_err("vm: stop lock mutex init: %s", strerror(-ret));
		close(vm->stop_fd);
		vm->stop_fd = -1;
		return ret;
	}
	atomic_store(&vm->stopping, false);
	vm->exit_code = IVMM_EXIT_OK;
	return 0;
}

/* The end of a phase: IVMM_LOG=debug says how long it took (wall ms since the previous mark); then -EINTR if
 * a stop signal is pending, so the setup unwinds instead of going on (vmm/sig.h). */
static int phase_done(struct vm *vm, const char *phase)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pr_debug("vm: %s done in %.2f ms", phase,
		 (double)(now.tv_sec - vm->stats.t_mark.tv_sec) * 1e3 +
			 (double)(now.tv_nsec - vm->stats.t_mark.tv_nsec) / 1e6);
	vm->stats.t_mark = now;
	return sig_stop_check();
}

int vm_create(const struct vm_config *cfg, struct boot_files *bf, struct vm **out)
{
	u64 ram_end = LAYOUT_RAM_BASE + cfg->mem_size;
	struct vm *vm;
	int ret;

	/* Ctrl-C while the files were read: nothing to build. */
	ret = sig_stop_check();
	if (ret)
		return ret;
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		pr_err("vm: out of memory for the VM object");
		return -ENOMEM;
	}
	vm->cfg = cfg;
	vm->boot = bf;
	vm->stop_fd = vm->loop.wake_fd = -1;
	vm->out.fd = vm->out.shared_fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &vm->stats.t_mark);

	ret = kvm_open(&vm->kvm, MAX(ram_end, LAYOUT_PCI_MMIO64_BASE + LAYOUT_PCI_MMIO64_SIZE));
	if (ret)
		goto fail;
	vm->phases |= VM_PH_KVM;
	ret = phase_done(vm, "KVM VM");
	if (ret)
		goto fail;

	ret = ram_create(vm);
	if (ret)
		goto fail;
	vm->phases |= VM_PH_RAM;
	ret = vm_hv(vm)->ops->mem_map(vm_hv(vm), vm->mem.gpa, vm->mem.size, vm->mem.host, false);
	if (ret)
		goto fail;
	vm->phases |= VM_PH_MEMSLOT;
	ret = phase_done(vm, "guest RAM");
	if (ret)
		goto fail;

	ret = bus_init(&vm->bus);
	if (ret)
		goto fail;
	vm->phases |= VM_PH_BUS;
	ret = phase_done(vm, "bus");
	if (ret)
		goto fail;

	ret = vcpus_create(vm);
	if (ret)
		goto fail;
	ret = phase_done(vm, "vCPUs");
	if (ret)
		goto fail;

	ret = gic_create(&vm->kvm, vm->nvcpus, &vm->gic);
	if (ret)
		goto fail;
	vm->phases |= VM_PH_GIC;
	ret = phase_done(vm, "vGIC + ITS");
	if (ret)
		goto fail;

	ret = loop_init(&vm->loop);
	if (ret)
		goto fail;
	vm->phases |= VM_PH_LOOP;

	ret = uart_setup(vm);
	if (ret)
		goto fail;
	ret = phase_done(vm, "UART");
	if (ret)
		goto fail;

	/* Checks for stop signals itself, per device and while pinning guest RAM (the long part). */
	ret = vm_setup_passthrough(vm);
	if (ret)
		goto fail;
	ret = phase_done(vm, "passthrough");
	if (ret)
		goto fail;

	ret = boot_load(cfg, bf, &vm->mem);
	if (ret)
		goto fail;
	ret = kvm_vcpu_set_boot_regs(&vm->vcpus[0].kvcpu, bf->plan.entry, bf->plan.dtb_gpa);
	if (ret)
		goto fail;

	ret = phase_done(vm, "kernel, initrd and DTB load");
	if (ret)
		goto fail;
	ret = runstate_init(vm);
	if (ret)
		goto fail;
	vm->phases |= VM_PH_RUNSTATE;

	pr_debug("vm: %u vCPUs, %llu MiB at 0x%llx, kernel entry 0x%llx, DTB at 0x%llx", vm->nvcpus,
		 (unsigned long long)(cfg->mem_size / SZ_1M), (unsigned long long)vm->mem.gpa,
		 (unsigned long long)bf->plan.entry, (unsigned long long)bf->plan.dtb_gpa);
	*out = vm;
	return 0;

fail:
	vm_destroy(vm);
	return ret < 0 ? ret : -EIO;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	if (vm->phases & VM_PH_RUNSTATE) {
		close(vm->stop_fd);
		pthread_mutex_destroy(&vm->stop_lock);
	}
	vm_teardown_passthrough(vm);
	if (vm->uart)
		bus_unregister(&vm->bus, uart16550_region(vm->uart));
	destroy_devices(vm->devices);
	vm->devices = NULL;
	vm->uart = NULL;
	console_out_close(&vm->out);
	if (vm->phases & VM_PH_LOOP)
		loop_fini(&vm->loop);
	if (vm->phases & VM_PH_GIC)
		gic_destroy(&vm->gic);
	while (vm->nvcpus > 0)
		kvm_vcpu_destroy(&vm->kvm, &vm->vcpus[--vm->nvcpus].kvcpu);
	free(vm->vcpus);
	if (vm->phases & VM_PH_BUS)
		bus_destroy(&vm->bus);
	if (vm->phases & VM_PH_MEMSLOT)
		(void)vm_hv(vm)->ops->mem_unmap(vm_hv(vm), vm->mem.gpa);
	if (vm->phases & VM_PH_RAM)
		munmap(vm->mem.host, vm->mem.size);
	if (vm->phases & VM_PH_KVM)
		kvm_close(&vm->kvm);
	free(vm);
}
