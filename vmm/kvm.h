/* kvm.h: the KVM backend, the only place that issues KVM ioctls (vmm/kvm_arm64.c; on other hosts
 * vmm/kvm_other.c says ivmm runs guests on arm64 hosts only). struct kvm embeds the struct hv that devices use
 * (memslots, KVM_IRQ_LINE, KVM_SIGNAL_MSI, irqfd with GSI routing) and owns the VM's memslot and GSI routing
 * tables (the route table itself is host independent, in vmm/kvm_routes.c, so it is unit-tested). vCPU creation and boot registers live here too; the vGIC is in devices/gic_arm64.c. */
#ifndef IVMM_KVM_H
#define IVMM_KVM_H

#include <pthread.h>
#include <stdbool.h>
#include "vmm/compiler.h"
#include "vmm/hv.h"

#define KVM_MAX_SLOTS 64

struct kvm_run;
struct kvm_irq_routing;

struct kvm_slot {
	bool used;
	u64 gpa, size;
	void *host;
	bool readonly;
};

struct kvm_irqfd_route {
	bool used;
	bool msi;                  /* an MSI route (own GSI) or a wired SPI (GSI = SPI number) */
	u32 gsi;
	int eventfd, resamplefd;
	u64 addr;
	u32 data, devid;
	bool assigned;             /* KVM_IRQFD done; an MSI route added inside a batch waits for its end */
	u64 caller;                /* who added it: while !assigned, the caller whose open batch it waits for */
};

/* One caller's open irqfd batch (kvm_routes_batch): callers are independent, so one device's open batch never
 * defers another device's route. kvm_arm64.c uses the calling thread as the caller (a batch is opened and
 * closed by the thread handling one guest access, under its device's lock). */
struct kvm_route_batch {
	u64 caller;
	unsigned int depth;        /* nesting; the entry goes when it drops to 0 */
};

struct kvm {
	struct hv hv;              /* devices get &kvm->hv */
	int sys_fd;                /* /dev/kvm */
	int vm_fd;
	unsigned int ipa_bits;
	unsigned int nr_spis;      /* set by the GIC; wired SPIs 0..nr_spis-1 are GSIs 0..nr_spis-1 */
	size_t run_size;           /* mmap size of a vCPU's struct kvm_run */
	size_t page_size;          /* host page size: memslot alignment */
	bool have_readonly_mem;
	bool have_irqfd_resample;  /* KVM_CAP_IRQFD_RESAMPLE: level-triggered irqfds (passthrough INTx) */
	unsigned int max_gsis;     /* KVM's GSI limit (KVM_CAP_IRQ_ROUTING): MSI routes use GSIs nr_spis.. */
	pthread_mutex_t lock;      /* slots and routes (devices may call from any vCPU thread) */
	struct kvm_slot slots[KVM_MAX_SLOTS];
	/* irqfd routes; the handle is the index. Grows by doubling up to max_gsis - nr_spis entries. */
	struct kvm_irqfd_route *routes;
	unsigned int nroutes;      /* entries allocated */
	/* The KVM_SET_GSI_ROUTING table, kept between commits (struct kvm_irq_routing + entries). */
	void *route_tbl;
	size_t route_tbl_cap;      /* entries route_tbl has room for */
	struct kvm_route_batch *batches; /* open batches, at most one entry per caller */
	unsigned int nbatches, batches_cap;
	bool routes_dirty;         /* a deferred commit is due at a batch's end */
	/* KVM_SET_GSI_ROUTING and KVM_IRQFD (kvm_arm64.c); unit tests put recorders here. Return 0 or -errno. */
	int (*set_gsi_routing)(struct kvm *kvm, const struct kvm_irq_routing *tbl);
	int (*irqfd_assign)(struct kvm *kvm, const struct kvm_irqfd_route *r, bool assign);
};

struct kvm_vcpu {
	unsigned int id;
	int fd;
	struct kvm_run *run;
};

/* Open /dev/kvm, check the API version and the capabilities ivmm needs, create a VM whose IPA space covers
 * [0, ipa_end). Prints one message naming what failed. Returns 0 or -errno. */
int __must_check kvm_open(struct kvm *kvm, u64 ipa_end);
/* Close the VM and /dev/kvm (memslots go with the VM). Safe on a zeroed or partly opened struct. */
void kvm_close(struct kvm *kvm);
/* Create and initialise vCPU id: PSCI 0.2; every vCPU but the boot vCPU (id 0) starts powered off and is
 * started by the guest with PSCI CPU_ON. */
int __must_check kvm_vcpu_create(struct kvm *kvm, unsigned int id, struct kvm_vcpu *vcpu);
void kvm_vcpu_destroy(struct kvm *kvm, struct kvm_vcpu *vcpu);
/* Boot vCPU registers for the Linux arm64 boot protocol: x0 = DTB address, x1..x3 = 0, PC = entry,
 * EL1h with D, A, I, F masked. */
int __must_check kvm_vcpu_set_boot_regs(struct kvm_vcpu *vcpu, u64 entry, u64 dtb);
/* The optional capabilities passthrough devices need: KVM_CAP_MSI_DEVID (MSIs carry the requester id to the
 * vITS; KVM reports it only once the ITS exists, so call this after gic_create) and KVM_CAP_IRQFD_RESAMPLE
 * (INTx). Both are required as soon as any device is passed through, even one that only ever uses MSI or
 * MSI-X: every guest driver may fall back to INTx (and does until it enables MSI), so a VM that could not
 * route INTx would lose interrupts at run time instead of failing here. vm_create checks them only when
 * devices are configured, and fails early with a message naming the missing capability; a VM without
 * passthrough devices runs without them. Returns 0 or -EOPNOTSUPP. */
int __must_check kvm_check_passthrough_caps(struct kvm *kvm);
/* Test whether a VM capability is present (KVM_CHECK_EXTENSION on the VM fd): > 0 present (some caps answer
 * a value), 0 absent or the ioctl failed. Callers test <= 0 for "missing". */
int kvm_vm_check_cap(struct kvm *kvm, long cap);

/* The irqfd route table (vmm/kvm_routes.c, host independent). Callers hold kvm->lock. caller names who calls
 * (any value; kvm_arm64.c passes the calling thread): batches are per caller.
 * kvm_routes_limit: how many routes fit under KVM's GSI limit (max_gsis - nr_spis).
 * kvm_routes_slot: a free route index, growing the table (doubling, from 64) up to the limit; -ENOSPC at
 *   the limit, -ENOMEM. The caller fills kvm->routes[index].
 * kvm_routes_in_batch: whether caller has a batch open.
 * kvm_routes_commit: hand KVM the whole GSI table (SPI identity routes + one MSI route per used MSI entry);
 *   inside caller's batch only marks it dirty (another caller's open batch does not defer it: the routes
 *   that batch added enter KVM's table early, which is harmless, their irqfds are not assigned yet).
 *   Dirty until KVM took a table: a failed commit is retried by the next batch end.
 * kvm_routes_batch: begin (nests per caller; -ENOMEM) / end; caller's outermost end commits if anything
 *   changed, then assigns the irqfds of the MSI routes added inside the batch (and any still pending from an
 *   earlier failure whose caller has no batch open); -EINVAL for an end without a begin of that caller. An
 *   irqfd whose assign or commit failed stays pending and is retried at the next outermost end.
 * kvm_routes_add: a new route from *tmpl (eventfd, resamplefd, msi and its addr/data/devid, or the SPI in
 *   gsi); an MSI route gets GSI nr_spis + index. Returns the index (the hv handle) or -errno, undone on
 *   failure. Outside a batch of caller the route is committed and its irqfd assigned at once, whatever other
 *   callers have open. Inside one, an MSI route's irqfd is assigned only at that batch's end, after the
 *   commit that gives its GSI a route: KVM injects an event already pending on the eventfd when the irqfd is
 *   assigned, through the GSI's route at that moment, so assigning first would drop an event the device
 *   raised while the vector was masked.
 * kvm_routes_release: deassign (if assigned) and free index h, committing the table for an MSI route.
 *   Returns 0, -ENOENT for a handle not in use, or the first -errno (the slot is freed anyway). */
unsigned int kvm_routes_limit(const struct kvm *kvm);
int __must_check kvm_routes_slot(struct kvm *kvm);
bool kvm_routes_in_batch(const struct kvm *kvm, u64 caller);
int __must_check kvm_routes_commit(struct kvm *kvm, u64 caller);
int __must_check kvm_routes_batch(struct kvm *kvm, u64 caller, bool begin);
int __must_check kvm_routes_add(struct kvm *kvm, u64 caller, struct kvm_irqfd_route *tmpl);
int __must_check kvm_routes_release(struct kvm *kvm, u64 caller, int h);
void kvm_routes_free(struct kvm *kvm);

static inline struct kvm *hv_to_kvm(struct hv *hv)
{
	return container_of(hv, struct kvm, hv);
}

#endif
