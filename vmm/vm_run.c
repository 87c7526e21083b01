/* vm_run.c: running the VM (see vm.h): vm_run() owns the console (raw terminal), the vCPU threads and the
 * main thread's event loop (signals, console input and output, the stop event, and the fds devices register
 * in vm->loop, vmm/loop.h), and always joins every thread and restores the terminal before returning;
 * vm_stop() ends the VM from any thread; the --stats and IVMM_STATS=1 figures. Building and tearing the VM
 * down is vm.c's. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "vmm/passthrough.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/sig.h"
#include "vmm/vm.h"

void vm_print_stats(struct vm *vm)
{
	passthrough_stats_print(vm->pt);
}

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

/* The main thread's loop: signals, console input and output, the stop event, the registered watches.
 * Returns when the VM is stopping. Nothing here blocks but poll(): console output goes to a non-blocking
 * stdout (console_out_open). */
static void event_loop(struct vm *vm, int sig_fd)
{
	while (!atomic_load(&vm->stopping)) {
		struct pollfd pfd[LOOP_FIXED + LOOP_MAX_WATCHES] = {
			[LOOP_SIG] = { .fd = sig_fd, .events = POLLIN },
			[LOOP_STOP] = { .fd = vm->stop_fd, .events = POLLIN },
			[LOOP_WAKE] = { .fd = vm->loop.wake_fd, .events = POLLIN },
			[LOOP_CONSOLE] = { .fd = console_poll_fd(&vm->console), .events = POLLIN },
		};
		struct loop_watch watched[LOOP_MAX_WATCHES];
		unsigned int nw;

		console_out_pollfds(&vm->console, &pfd[LOOP_OUT]);
		nw = loop_snapshot(&vm->loop, &pfd[LOOP_FIXED], watched);
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
			loop_woken(&vm->loop); /* the table changed: rebuilt next round */
		if (pfd[LOOP_CONSOLE].fd >= 0 && pfd[LOOP_CONSOLE].revents) {
			if (console_handle(&vm->console, pfd[LOOP_CONSOLE].fd) == CONSOLE_QUIT) {
				pr_info("quit (Ctrl-A x)");
				vm_stop(vm, IVMM_EXIT_OK);
			}
		}
		console_out_handle(&vm->console, &pfd[LOOP_OUT]);
		loop_dispatch(&pfd[LOOP_FIXED], watched, nw);
		/* LOOP_STOP: the stop event; the loop condition sees it. */
	}
}

static void ctl_quit(void *ctx)
{
	pr_info("api socket: quit: stopping the guest");
	vm_stop(ctx, IVMM_EXIT_OK);
}

/* Serve the control socket on the loop, its commands reaching the vIOMMUs and vm_stop. */
static int ctl_start(struct vm *vm)
{
	if (!vm->ctl)
		return 0;
	vm->ctl_machine = (struct ctl_machine){
		.viommus = vm->pt ? vm->pt->viommus : NULL,
		.nviommus = vm->pt ? vm->pt->nviommus : 0,
		.quit = ctl_quit,
		.quit_ctx = vm,
	};
	return ctl_server_start(vm->ctl, &vm->loop, &vm->ctl_machine);
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
	ret = ctl_start(vm);
	if (!ret)
		ret = start_vcpus(vm);
	if (ret)
		vm_stop(vm, IVMM_EXIT_RUNTIME);
	else
		event_loop(vm, sig_fd);
	join_vcpus(vm);
	/* The socket goes with the loop that served it (its file is removed). */
	if (vm->ctl)
		ctl_server_close(vm->ctl);
	/* The guest's last words (e.g. "reboot: Power down") if stdout is slow; a second signal cuts it short. */
	(void)console_out_drain(&vm->console, sig_fd, 2000);
	console_fini(&vm->console);
	print_stats(vm);
	if (vm->cfg->stats)
		vm_print_stats(vm);
	close(sig_fd);
	return vm->exit_code;
}
