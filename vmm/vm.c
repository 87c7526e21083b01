/* vm.c: the VM's life cycle (see vm.h). vm_create() runs the phases in this order, each recorded in
 * vm->phases (or a count) so that vm_destroy() undoes exactly what was done, in reverse, on every path:
 *   1. KVM: /dev/kvm, API version, capabilities, KVM_CREATE_VM with an IPA size covering the address map
 *   2. guest RAM: anonymous mapping (huge pages on request) at LAYOUT_RAM_BASE, registered as a memslot
 *   3. the MMIO bus
 *   4. vCPUs (PSCI 0.2; secondaries powered off until the guest's PSCI CPU_ON)
 *   5. vGICv3 + ITS (after the vCPUs: KVM initialises the vGIC for the vCPUs that exist)
 *   6. the main loop's watch table (vm_watch), then the on-board devices: the 16550A UART on the bus
 *   7. passthrough devices (vm_setup_passthrough, vm_passthrough.c)
 *   8. kernel, initrd and DTB into RAM (boot_load), boot vCPU registers
 *   9. run state: the stop eventfd
 * A stop signal (SIGINT, SIGTERM, SIGHUP) pending at the start, after any phase or between two vCPUs ends the
 * setup: everything done so far is undone and vm_create returns -EINTR (vmm/sig.h; main exits 128 + N).
 * vm_run() owns the console (raw terminal), the vCPU threads and the main thread's event loop (signals,
 * console input and output, the stop event, and the fds devices register with vm_watch), and always joins
 * every thread and restores the terminal before returning. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "boot/boot.h"
#include "boot/layout.h"
#include "devices/passthrough.h"
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

/* The main loop's watch table, before any device that may register an fd. */
static int loop_init(struct vm *vm)
{
	int ret;

	vm->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->wake_fd < 0) {
		ret = -errno;
		pr_err("vm: main loop wake eventfd: %s", strerror(errno));
		return ret;
	}
	ret = -pthread_mutex_init(&vm->watch_lock, NULL);
	if (ret) {
		pr_err("vm: watch lock mutex init: %s", strerror(-ret));
		close(vm->wake_fd);
		vm->wake_fd = -1;
		return ret;
	}
	for (unsigned int i = 0; i < VM_MAX_WATCHES; i++)
		vm->watches[i].fd = -1;
	return 0;
}

/* ---- the event loop's watch table ---- */

static void wake_loop(struct vm *vm)
{
	u64 one = 1;

	if (write(vm->wake_fd, &one, sizeof(one)) != sizeof(one) && errno != EAGAIN)
		pr_warn("vm: cannot wake the main loop: %s", strerror(errno));
}

int vm_watch(struct vm *vm, int fd, short events, vm_watch_fn fn, void *opaque)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&vm->watch_lock);
	for (unsigned int i = 0; i < VM_MAX_WATCHES; i++)
		if (vm->watches[i].fd == fd) {
			ret = -EEXIST;
			goto out;
		}
	for (unsigned int i = 0; i < VM_MAX_WATCHES; i++) {
		if (vm->watches[i].fd < 0) {
			vm->watches[i] = (struct vm_watch){ .fd = fd, .events = events, .fn = fn, .opaque = opaque };
			ret = 0;
			break;
		}
	}
out:
	pthread_mutex_unlock(&vm->watch_lock);
	if (!ret)
		wake_loop(vm);
	return ret;
}

void vm_unwatch(struct vm *vm, int fd)
{
	pthread_mutex_lock(&vm->watch_lock);
	for (unsigned int i = 0; i < VM_MAX_WATCHES; i++)
		if (vm->watches[i].fd == fd)
			vm->watches[i].fd = -1;
	pthread_mutex_unlock(&vm->watch_lock);
	wake_loop(vm);
}

void vm_print_stats(struct vm *vm)
{
	if (!vm->pt || !vm->pt->nvsmmus) {
		pr_info("stats: no vSMMU");
		return;
	}
	for (unsigned int k = 0; k < vm->pt->nvsmmus; k++)
		vsmmu_stats_print(vm->pt->vsmmus[k]);
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
	vm->stop_fd = vm->wake_fd = -1;
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

	ret = loop_init(vm);
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
	if (vm->phases & VM_PH_LOOP) {
		close(vm->wake_fd);
		pthread_mutex_destroy(&vm->watch_lock);
	}
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

/* ---- running ---- */

void vm_stop(struct vm *vm, int exit_code)
{
	u64 one = 1;

	pthread_mutex_lock(&vm->stop_lock);
	if (atomic_load(&vm->stopping)) {
		pthread_mutex_unlock(&vm->stop_lock);
		return;
	}
	vm->exit_code = exit_code;
	atomic_store(&vm->stopping, true);
	for (unsigned int i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	pthread_mutex_unlock(&vm->stop_lock);
	if (write(vm->stop_fd, &one, sizeof(one)) != sizeof(one))
		pr_warn("vm: cannot signal the main loop: %s", strerror(errno));
}

int vm_block_signals(void)
{
	sigset_t set;
	int ret;

	sig_stop_set(&set);
	sigaddset(&set, VM_STATS_SIGNAL);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	ret = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (ret) {
		pr_err("vm: blocking SIGINT/SIGTERM/SIGHUP/SIGUSR1/vCPU kick (pthread_sigmask): %s", strerror(ret));
		return -ret;
	}
	/* A closed console (stdout pipe gone) must not kill ivmm: writes just fail. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static void kick_handler(int sig)
{
	/* Nothing: the signal only interrupts KVM_RUN. */
}

static int start_vcpus(struct vm *vm)
{
	struct sigaction sa;
	int ret;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	/* A vCPU thread may be in another syscall when it is signalled (a vSMMU's SEV wakes every vCPU while the
	 * guest runs): those restart. KVM_RUN returns -EINTR (KVM_EXIT_INTR) all the same. */
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0) {
		ret = -errno;
		pr_err("vm: vCPU kick signal handler (sigaction): %s", strerror(errno));
		return ret;
	}
	for (unsigned int i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		/* Under the stop lock so vm_stop() never kicks a half-started thread. */
		pthread_mutex_lock(&vm->stop_lock);
		ret = -pthread_create(&v->thread, NULL, vcpu_thread, v);
		if (!ret)
			v->thread_started = true;
		pthread_mutex_unlock(&vm->stop_lock);
		if (ret) {
			pr_err("vCPU %u: cannot start its thread: %s", i, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static void join_vcpus(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nvcpus; i++) {
		if (vm->vcpus[i].thread_started) {
			pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].thread_started = false;
		}
	}
}

static double ts_ms(const struct timespec *t)
{
	return (double)t->tv_sec * 1e3 + (double)t->tv_nsec / 1e6;
}

void vm_stats_first_run(struct vm *vm)
{
	struct timespec now, cpu;

	if (atomic_exchange(&vm->stats.first_run, true))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	vm->stats.start_wall_ms = ts_ms(&now) - ts_ms(&vm->stats.t_start);
	vm->stats.start_cpu_ms = ts_ms(&cpu);
}

/* Guest RAM pages resident now (they stay resident: nothing gives guest RAM back). */
static unsigned long ram_resident_kib(const struct vm *vm)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = vm->mem.size / page, n = 0;
	unsigned char *vec = malloc(pages);

	if (!vec)
		return 0;
	if (mincore(vm->mem.host, vm->mem.size, vec) == 0) {
		for (size_t i = 0; i < pages; i++)
			n += vec[i] & 1;
	}
	free(vec);
	return (unsigned long)(n * (page / 1024));
}

/* One line for make bench: VMM start (process start to the first KVM_RUN, wall and CPU), peak RSS, guest RAM
 * resident at the end, and their difference: the VMM's own memory. */
static void print_stats(struct vm *vm)
{
	const char *e = getenv("IVMM_STATS");
	struct rusage ru;
	unsigned long ram;

	if (!e || strcmp(e, "1") || getrusage(RUSAGE_SELF, &ru))
		return;
	ram = ram_resident_kib(vm);
	pr_info("stats: vmm-start-wall-ms %.2f vmm-start-cpu-ms %.2f peak-rss-kib %ld guest-ram-resident-kib %lu "
		"vmm-overhead-kib %ld", vm->stats.start_wall_ms, vm->stats.start_cpu_ms, ru.ru_maxrss, ram,
		ru.ru_maxrss - (long)ram);
}

/* A signal for the main loop: SIGUSR1 prints the counters, the others stop the guest. */
static void handle_signal(struct vm *vm, int sig_fd)
{
	struct signalfd_siginfo si;

	if (read(sig_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if ((int)si.ssi_signo == VM_STATS_SIGNAL) {
		vm_print_stats(vm);
		return;
	}
	pr_info("%s: stopping the guest", strsignal((int)si.ssi_signo));
	vm_stop(vm, 128 + (int)si.ssi_signo);
}

/* Fixed slots of the loop, then one per registered watch. */
enum { LOOP_SIG, LOOP_STOP, LOOP_WAKE, LOOP_CONSOLE, LOOP_OUT, LOOP_OUT2, LOOP_FIXED };

/* Registered watches with revents from poll: call them from the copy the poll was built from, without the
 * table lock (so a device may vm_unwatch while holding its own lock, which its callback takes too). */
static void dispatch_watches(const struct pollfd *pfd, const struct vm_watch *w, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (pfd[i].revents)
			w[i].fn(w[i].opaque, pfd[i].fd, pfd[i].revents);
}

/* The main thread's loop: signals, console input and output, the stop event, the registered watches.
 * Returns when the VM is stopping. Nothing here blocks but poll(): console output goes to a non-blocking
 * stdout (console_out_open). */
static void event_loop(struct vm *vm, int sig_fd)
{
	while (!atomic_load(&vm->stopping)) {
		struct pollfd pfd[LOOP_FIXED + VM_MAX_WATCHES] = {
			[LOOP_SIG] = { .fd = sig_fd, .events = POLLIN },
			[LOOP_STOP] = { .fd = vm->stop_fd, .events = POLLIN },
			[LOOP_WAKE] = { .fd = vm->wake_fd, .events = POLLIN },
			[LOOP_CONSOLE] = { .fd = console_poll_fd(&vm->console), .events = POLLIN },
		};
		struct vm_watch watched[VM_MAX_WATCHES];
		unsigned int nw = 0;
		u64 v;

		console_out_pollfds(&vm->console, &pfd[LOOP_OUT]);
		pthread_mutex_lock(&vm->watch_lock);
		for (unsigned int w = 0; w < VM_MAX_WATCHES; w++) {
			if (vm->watches[w].fd < 0)
				continue;
			watched[nw] = vm->watches[w];
			pfd[LOOP_FIXED + nw++] = (struct pollfd){ .fd = vm->watches[w].fd, .events = vm->watches[w].events };
		}
		pthread_mutex_unlock(&vm->watch_lock);
		if (poll(pfd, LOOP_FIXED + nw, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("vm: event loop poll: %s", strerror(errno));
			vm_stop(vm, IVMM_EXIT_RUNTIME);
			return;
		}
		if (pfd[LOOP_SIG].revents & POLLIN)
			handle_signal(vm, sig_fd);
		if (pfd[LOOP_WAKE].revents & POLLIN)
			(void)!read(vm->wake_fd, &v, sizeof(v)); /* the table changed: rebuilt next round */
		if (pfd[LOOP_CONSOLE].fd >= 0 && pfd[LOOP_CONSOLE].revents) {
			if (console_handle(&vm->console, pfd[LOOP_CONSOLE].fd) == CONSOLE_QUIT) {
				pr_info("quit (Ctrl-A x)");
				vm_stop(vm, IVMM_EXIT_OK);
			}
		}
		console_out_handle(&vm->console, &pfd[LOOP_OUT]);
		dispatch_watches(&pfd[LOOP_FIXED], watched, nw);
		/* LOOP_STOP: the stop event; the loop condition sees it. */
	}
}

int vm_run(struct vm *vm)
{
	sigset_t set;
	int sig_fd, ret;

	sig_stop_set(&set);
	sigaddset(&set, VM_STATS_SIGNAL);
	sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd < 0) {
		pr_err("vm: SIGINT/SIGTERM/SIGHUP/SIGUSR1 signalfd: %s", strerror(errno));
		return IVMM_EXIT_RUNTIME;
	}
	ret = console_init(&vm->console, STDIN_FILENO, vm->uart);
	if (ret) {
		close(sig_fd);
		return IVMM_EXIT_RUNTIME;
	}
	ret = start_vcpus(vm);
	if (ret)
		vm_stop(vm, IVMM_EXIT_RUNTIME);
	else
		event_loop(vm, sig_fd);
	join_vcpus(vm);
	/* The guest's last words (e.g. "reboot: Power down") if stdout is slow; a second signal cuts it short. */
	(void)console_out_drain(&vm->console, sig_fd, 2000);
	console_fini(&vm->console);
	print_stats(vm);
	if (vm->cfg->stats)
		vm_print_stats(vm);
	close(sig_fd);
	return vm->exit_code;
}
