/* vm.h: the VM object. struct vm owns everything a running machine has (no globals): the KVM VM and its
 * hv ops, guest RAM, the MMIO bus, the vCPUs, the vGIC + ITS, the devices (creation order list), the
 * console, and the run state. vm_create() builds it phase by phase; vm_run() runs it until the guest powers
 * off, asks for a reset, crashes, a vCPU fails, or ivmm gets SIGINT/SIGTERM; vm_destroy() undoes the phases
 * in reverse (vm.c); running is vm_run.c's. Devices reach what they need through vm_hv(), &vm->bus, &vm->mem
 * and loop_watcher(&vm->loop). */
#ifndef IVMM_VM_H
#define IVMM_VM_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include "devices/gic.h"
#include "vmm/bus.h"
#include "vmm/compiler.h"
#include "vmm/console.h"
#include "vmm/ctl.h"
#include "vmm/device.h"
#include "vmm/guest_mem.h"
#include "vmm/kvm.h"
#include "vmm/loop.h"

struct vm_config;
struct boot_files;
struct uart16550;
struct passthrough;

/* Signal used to kick a vCPU thread out of KVM_RUN (its handler does nothing). SIGUSR1 prints --stats. */
#define VCPU_KICK_SIGNAL SIGUSR2
#define VM_STATS_SIGNAL SIGUSR1

struct vcpu {
	struct vm *vm;
	struct kvm_vcpu kvcpu;
	pthread_t thread;
	bool thread_started;
};

/* Completed phases, for teardown in reverse (vm_destroy undoes exactly what was done). */
enum vm_phase {
	VM_PH_KVM = 1 << 0,
	VM_PH_RAM = 1 << 1,
	VM_PH_MEMSLOT = 1 << 2,
	VM_PH_BUS = 1 << 3,
	VM_PH_GIC = 1 << 4,
	VM_PH_RUNSTATE = 1 << 5,
	VM_PH_LOOP = 1 << 6,
};

struct vm {
	const struct vm_config *cfg;
	struct boot_files *boot;     /* prepared by the caller (boot_prepare), loaded by vm_create */
	unsigned int phases;         /* enum vm_phase bits */

	struct kvm kvm;              /* includes the struct hv devices use */
	struct guest_mem mem;
	bool ram_hugepages;
	struct bus bus;
	struct vcpu *vcpus;
	unsigned int nvcpus;         /* created so far */
	struct gic gic;
	struct device *devices;      /* creation order; destroyed in reverse */
	struct uart16550 *uart;
	struct console_out out;      /* non-blocking stdout the UART writes (closed after the devices) */
	struct passthrough *pt;      /* passthrough devices and their vSMMUs (vmm/passthrough.h), or NULL */

	/* Run state. */
	struct console console;
	pthread_mutex_t stop_lock;
	atomic_bool stopping;
	int exit_code;               /* enum ivmm_exit or 128 + signal */
	int stop_fd;                 /* eventfd: a vCPU ended the VM */
	/* The fds devices have the main thread's event loop poll (vmm/loop.h; models get loop_watcher()). */
	struct loop loop;
	/* The control socket (--api-socket), opened by main, served by vm_run's loop, or NULL. */
	struct ctl_server *ctl;
	struct ctl_machine ctl_machine;

	/* IVMM_STATS=1: start-up cost and memory figures printed when the VM ends (for make bench). */
	struct {
		struct timespec t_start;     /* set by main at process start (CLOCK_MONOTONIC) */
		struct timespec t_mark;      /* phase timing (IVMM_LOG=debug) */
		atomic_bool first_run;       /* the first KVM_RUN was recorded */
		double start_wall_ms, start_cpu_ms;
	} stats;
};

static inline struct hv *vm_hv(struct vm *vm)
{
	return &vm->kvm.hv;
}

/* Build the VM for cfg, with bf from boot_prepare() (kept by the VM until vm_destroy, freed by the caller
 * after). On failure everything already built is undone, one message says what failed, and -errno is
 * returned (a runtime failure: exit 1); -EINTR, without a message, when a stop signal (SIGINT, SIGTERM,
 * SIGHUP) became pending during the setup (vmm/sig.h: the caller exits with 128 + sig_stop_pending()). */
int __must_check vm_create(const struct vm_config *cfg, struct boot_files *bf, struct vm **out);
/* Run until the VM ends. Returns the exit status for main (enum ivmm_exit, or 128 + signal number).
 * Expects SIGINT/SIGTERM/SIGHUP blocked in the calling thread (vm_block_signals) so they end the VM cleanly. */
int vm_run(struct vm *vm);
void vm_destroy(struct vm *vm);

/* End the VM with an exit status (the first caller wins); safe from any thread. */
void vm_stop(struct vm *vm, int exit_code);
/* Print the --stats counters (per vSMMU); what SIGUSR1 and the end of a --stats run do. */
void vm_print_stats(struct vm *vm);
/* Put a device on the VM's list (it is destroyed with the VM, in reverse order of addition). */
void vm_add_device(struct vm *vm, struct device *dev);
/* Block SIGINT, SIGTERM, SIGHUP, SIGUSR1 and the vCPU kick signal in the calling thread (main does it first
 * thing, so they are delivered through vm_run's signalfd, or seen by vm_create's checks before that, and every
 * thread inherits the mask). Ignores SIGPIPE. */
int __must_check vm_block_signals(void);

/* The host's default huge page size (what MAP_HUGETLB maps) from a meminfo file ("Hugepagesize: N kB"),
 * in bytes; 0 when the file or the line is missing. */
u64 vm_hugepage_size(const char *meminfo);

/* Record the first KVM_RUN (called by every vCPU thread before its first KVM_RUN; only the first counts). */
void vm_stats_first_run(struct vm *vm);

/* vcpu.c: the per-vCPU thread running KVM_RUN and dispatching exits. */
void *vcpu_thread(void *arg);
/* The exit dispatch of vcpu_thread for one KVM_RUN exit in run (host independent, so unit tests drive it
 * with a fake struct kvm_run): MMIO to the bus, system events and failures end the VM through vm_stop with
 * their exit status. Returns false when the vCPU thread must end. */
bool vcpu_handle_exit(struct vcpu *vcpu, struct kvm_run *run);
/* Kick a running vCPU out of KVM_RUN (immediate_exit + signal). */
void vcpu_kick(struct vcpu *vcpu);
/* Make a vCPU waiting in WFE wake (an SEV as the guest sees it): the signal alone takes it out of KVM_RUN,
 * its loop goes straight back in, and the exception return into the guest sets its event register. */
void vcpu_wake(struct vcpu *vcpu);
/* The passthrough phase of vm_create (see vm.c): set up cfg->devices. */
int __must_check vm_setup_passthrough(struct vm *vm);
void vm_teardown_passthrough(struct vm *vm);

#endif
