/* kvm_arm64.c: the KVM backend on arm64 hosts (see kvm.h): /dev/kvm and the VM (IPA size), the hv ops devices
 * use (memslots, wired SPIs through KVM_IRQ_LINE, MSIs through KVM_SIGNAL_MSI with device ids for the vITS,
 * irqfds with a GSI routing table), and vCPU creation with the PSCI 0.2 boot protocol. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "vmm/kvm.h"
#include "vmm/log.h"

/* ---- hv ops: memory ---- */

static int kvm_set_slot(struct kvm *kvm, unsigned int slot, u64 gpa, u64 size, void *host, bool readonly)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = readonly ? KVM_MEM_READONLY : 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (u64)(uintptr_t)host,
	};

	if (ioctl(kvm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return -errno;
	return 0;
}

static int kvm_mem_map(struct hv *hv, u64 gpa, u64 size, void *host, bool readonly)
{
	struct kvm *kvm = hv_to_kvm(hv);
	int ret = -ENOSPC;
	unsigned int i;

	/* KVM wants memslots aligned to the host's page size (4, 16 or 64 KiB), not the guest's. */
	if (!size || !IS_ALIGNED(gpa, kvm->page_size) || !IS_ALIGNED(size, kvm->page_size) ||
	    !IS_ALIGNED((uintptr_t)host, kvm->page_size)) {
		pr_err_ratelimited("kvm: memslot at 0x%llx size 0x%llx: not aligned to the host page size (%zu KiB)",
				   (unsigned long long)gpa, (unsigned long long)size, kvm->page_size / 1024);
		return -EINVAL;
	}
	if (readonly && !kvm->have_readonly_mem) {
		pr_err_ratelimited("kvm: read-only memslot at 0x%llx: KVM lacks KVM_CAP_READONLY_MEM",
				   (unsigned long long)gpa);
		return -EOPNOTSUPP;
	}
	pthread_mutex_lock(&kvm->lock);
	for (i = 0; i < KVM_MAX_SLOTS; i++) {
		if (!kvm->slots[i].used)
			break;
	}
	if (i < KVM_MAX_SLOTS) {
		ret = kvm_set_slot(kvm, i, gpa, size, host, readonly);
		if (!ret)
			kvm->slots[i] = (struct kvm_slot){ true, gpa, size, host, readonly };
	}
	pthread_mutex_unlock(&kvm->lock);
	if (ret)
		pr_err_ratelimited("kvm: memslot at 0x%llx size 0x%llx: %s", (unsigned long long)gpa,
				   (unsigned long long)size, ret == -ENOSPC ? "no free slot" : strerror(-ret));
	return ret;
}

static int kvm_mem_unmap(struct hv *hv, u64 gpa)
{
	struct kvm *kvm = hv_to_kvm(hv);
	int ret = -ENOENT;

	pthread_mutex_lock(&kvm->lock);
	for (unsigned int i = 0; i < KVM_MAX_SLOTS; i++) {
		if (kvm->slots[i].used && kvm->slots[i].gpa == gpa) {
			ret = kvm_set_slot(kvm, i, gpa, 0, kvm->slots[i].host, false);
			if (!ret)
				kvm->slots[i].used = false;
			break;
		}
	}
	pthread_mutex_unlock(&kvm->lock);
	if (ret)
		pr_err_ratelimited("kvm: removing the memslot at 0x%llx: %s", (unsigned long long)gpa,
				   ret == -ENOENT ? "no such slot" : strerror(-ret));
	return ret;
}

/* ---- hv ops: interrupts ---- */

static int kvm_irq_line(struct hv *hv, u32 spi, bool level)
{
	struct kvm *kvm = hv_to_kvm(hv);
	struct kvm_irq_level irq = {
		.irq = (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | ((spi + 32) & KVM_ARM_IRQ_NUM_MASK),
		.level = level,
	};

	if (spi >= kvm->nr_spis)
		return -EINVAL;
	if (ioctl(kvm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		return -errno;
	return 0;
}

/* Returns 0 when the MSI was delivered or blocked by the guest's ITS configuration (not mapped yet:
 * what hardware does with such a write), -errno on a host error. */
static int kvm_signal_msi(struct hv *hv, u64 addr, u32 data, u32 devid)
{
	struct kvm *kvm = hv_to_kvm(hv);
	struct kvm_msi msi = {
		.address_lo = (u32)addr,
		.address_hi = (u32)(addr >> 32),
		.data = data,
		.flags = KVM_MSI_VALID_DEVID,
		.devid = devid,
	};

	if (ioctl(kvm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
		return -errno;
	return 0;
}

static int kvm_set_gsi_routing(struct kvm *kvm, const struct kvm_irq_routing *tbl)
{
	if (ioctl(kvm->vm_fd, KVM_SET_GSI_ROUTING, tbl) < 0)
		return -errno;
	return 0;
}

/* Who calls the route table: the calling thread. A device opens and closes its batch on the thread that
 * handles one guest access (vmm/kvm.h), so another vCPU's device is never held up by it. */
static u64 route_caller(void)
{
	return (u64)pthread_self();
}

static int kvm_irqfd_batch(struct hv *hv, bool begin)
{
	struct kvm *kvm = hv_to_kvm(hv);
	u64 caller = route_caller();
	bool unbalanced;
	int ret;

	pthread_mutex_lock(&kvm->lock);
	unbalanced = !begin && !kvm_routes_in_batch(kvm, caller);
	ret = kvm_routes_batch(kvm, caller, begin);
	pthread_mutex_unlock(&kvm->lock);
	if (unbalanced)
		pr_err_ratelimited("kvm: irqfd batch end without a begin");
	else if (ret && begin)
		pr_err_ratelimited("kvm: irqfd batch begin: %s (routes are changed one by one)", strerror(-ret));
	else if (ret)
		pr_err_ratelimited("kvm: irqfd batch end: committing the GSI routing table (%u SPIs + irqfd routes) "
				   "or assigning the batch's irqfds: %s (retried at the next batch end)",
				   kvm->nr_spis, strerror(-ret));
	return ret;
}

static int kvm_irqfd_assign(struct kvm *kvm, const struct kvm_irqfd_route *r, bool assign)
{
	struct kvm_irqfd fd = {
		.fd = (u32)r->eventfd,
		.gsi = r->gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	if (assign && r->resamplefd >= 0) {
		fd.flags |= KVM_IRQFD_FLAG_RESAMPLE;
		fd.resamplefd = (u32)r->resamplefd;
	}
	if (ioctl(kvm->vm_fd, KVM_IRQFD, &fd) < 0)
		return -errno;
	return 0;
}

static int kvm_irqfd_add(struct kvm *kvm, struct kvm_irqfd_route *tmpl)
{
	int ret;

	pthread_mutex_lock(&kvm->lock);
	ret = kvm_routes_add(kvm, route_caller(), tmpl);
	pthread_mutex_unlock(&kvm->lock);
	if (ret >= 0)
		return ret;
	if (ret == -ENOSPC)
		pr_err_ratelimited("kvm: irqfd %d -> %s: no free route: all %u irqfd routes KVM allows are in use "
				   "(KVM caps GSIs at %u, the first %u are the wired SPIs)", tmpl->eventfd,
				   tmpl->msi ? "MSI" : "SPI", kvm_routes_limit(kvm), kvm->max_gsis, kvm->nr_spis);
	else
		pr_err_ratelimited("kvm: irqfd %d -> %s: %s", tmpl->eventfd, tmpl->msi ? "MSI" : "SPI",
				   strerror(-ret));
	return ret;
}

static int kvm_irqfd_msi(struct hv *hv, int eventfd, u64 addr, u32 data, u32 devid)
{
	struct kvm_irqfd_route r = {
		.msi = true, .eventfd = eventfd, .resamplefd = -1, .addr = addr, .data = data, .devid = devid,
	};

	return kvm_irqfd_add(hv_to_kvm(hv), &r);
}

static int kvm_irqfd_spi(struct hv *hv, int eventfd, int resamplefd, u32 spi)
{
	struct kvm *kvm = hv_to_kvm(hv);
	struct kvm_irqfd_route r = { .msi = false, .gsi = spi, .eventfd = eventfd, .resamplefd = resamplefd };

	if (spi >= kvm->nr_spis)
		return -EINVAL;
	if (resamplefd >= 0 && !kvm->have_irqfd_resample) {
		pr_err_ratelimited("kvm: irqfd %d -> SPI %u: KVM lacks KVM_CAP_IRQFD_RESAMPLE (needed for INTx)",
				   eventfd, spi);
		return -EOPNOTSUPP;
	}
	return kvm_irqfd_add(kvm, &r);
}

static int kvm_irqfd_release(struct hv *hv, int handle)
{
	struct kvm *kvm = hv_to_kvm(hv);
	int ret, eventfd = -1;

	pthread_mutex_lock(&kvm->lock);
	if (handle >= 0 && (unsigned int)handle < kvm->nroutes)
		eventfd = kvm->routes[handle].eventfd; /* the slot may be reused as soon as the lock is dropped */
	ret = kvm_routes_release(kvm, route_caller(), handle);
	pthread_mutex_unlock(&kvm->lock);
	if (ret && ret != -ENOENT)
		pr_err_ratelimited("kvm: releasing irqfd %d: %s", eventfd, strerror(-ret));
	return ret;
}

static const struct hv_ops kvm_hv_ops = {
	.mem_map = kvm_mem_map,
	.mem_unmap = kvm_mem_unmap,
	.irq_line = kvm_irq_line,
	.signal_msi = kvm_signal_msi,
	.irqfd_msi = kvm_irqfd_msi,
	.irqfd_spi = kvm_irqfd_spi,
	.irqfd_release = kvm_irqfd_release,
	.irqfd_batch = kvm_irqfd_batch,
};

/* ---- VM ---- */

int kvm_vm_check_cap(struct kvm *kvm, long cap)
{
	int r = ioctl(kvm->vm_fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

static const struct {
	long cap;
	const char *name, *why;
} required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM" },
	{ KVM_CAP_ONE_REG, "KVM_CAP_ONE_REG", "boot registers" },
	{ KVM_CAP_ARM_PSCI_0_2, "KVM_CAP_ARM_PSCI_0_2", "PSCI CPU_ON/SYSTEM_OFF" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "stopping vCPUs" },
	{ KVM_CAP_DEVICE_CTRL, "KVM_CAP_DEVICE_CTRL", "the in-kernel vGICv3" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "device interrupts" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING", "MSI routing" },
	{ KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI", "MSI injection" },
};

int kvm_check_passthrough_caps(struct kvm *kvm)
{
	/* KVM reports KVM_CAP_MSI_DEVID only once the VM has an ITS (it is what needs device ids). */
	if (kvm_vm_check_cap(kvm, KVM_CAP_MSI_DEVID) <= 0) {
		pr_err("/dev/kvm: KVM lacks KVM_CAP_MSI_DEVID (needed for the MSIs of passthrough devices through "
		       "the vITS)");
		return -EOPNOTSUPP;
	}
	if (!kvm->have_irqfd_resample) {
		pr_err("/dev/kvm: KVM lacks KVM_CAP_IRQFD_RESAMPLE (needed for the INTx of passthrough devices)");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Smallest IPA size (bits) that covers [0, end). */
static unsigned int ipa_bits_for(u64 end)
{
	unsigned int bits = 32;

	while (bits < 64 && (end - 1) >> bits)
		bits++;
	return bits;
}

int kvm_open(struct kvm *kvm, u64 ipa_end)
{
	unsigned int want, max;
	int ret, v;

	memset(kvm, 0, sizeof(*kvm));
	kvm->hv.ops = &kvm_hv_ops;
	kvm->sys_fd = kvm->vm_fd = -1;
	kvm->page_size = (size_t)sysconf(_SC_PAGESIZE);
	kvm->set_gsi_routing = kvm_set_gsi_routing;
	kvm->irqfd_assign = kvm_irqfd_assign;
	ret = -pthread_mutex_init(&kvm->lock, NULL);
	if (ret) {
		pr_err("kvm: memslot/route table mutex init: %s", strerror(-ret));
		kvm->hv.ops = NULL; /* nothing for kvm_close to undo */
		return ret;
	}

	kvm->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm->sys_fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			pr_err("/dev/kvm: No such file (is KVM enabled? on x86 use the lab: make lab-shell)");
		else if (ret == -EACCES || ret == -EPERM)
			pr_err("/dev/kvm: %s (run as root or join the group that owns /dev/kvm)", strerror(-ret));
		else
			pr_err("/dev/kvm: %s", strerror(-ret));
		goto err;
	}
	v = ioctl(kvm->sys_fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		pr_err("/dev/kvm: KVM API version %d, ivmm needs %d", v, KVM_API_VERSION);
		ret = -EPROTO;
		goto err;
	}

	/* Without KVM_CAP_ARM_VM_IPA_SIZE every VM gets a 40-bit IPA space and the VM type must be 0. */
	v = ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_VM_IPA_SIZE);
	max = v > 0 ? (unsigned int)v : 40;
	want = MAX(ipa_bits_for(ipa_end), 40u);
	if (want > max) {
		pr_err("/dev/kvm: the guest address map needs a %u-bit IPA space, KVM offers %u bits "
		       "(KVM_CAP_ARM_VM_IPA_SIZE)", want, max);
		ret = -EOPNOTSUPP;
		goto err;
	}
	kvm->ipa_bits = want;
	kvm->vm_fd = ioctl(kvm->sys_fd, KVM_CREATE_VM, v > 0 ? KVM_VM_TYPE_ARM_IPA_SIZE(want) : 0UL);
	if (kvm->vm_fd < 0) {
		ret = -errno;
		pr_err("/dev/kvm: KVM_CREATE_VM (%u-bit IPA): %s", want, strerror(errno));
		goto err;
	}
	for (unsigned int i = 0; i < ARRAY_SIZE(required_caps); i++) {
		if (kvm_vm_check_cap(kvm, required_caps[i].cap) <= 0) {
			pr_err("/dev/kvm: KVM lacks %s (needed for %s)", required_caps[i].name, required_caps[i].why);
			ret = -EOPNOTSUPP;
			goto err;
		}
	}
	kvm->have_readonly_mem = kvm_vm_check_cap(kvm, KVM_CAP_READONLY_MEM) > 0;
	kvm->have_irqfd_resample = kvm_vm_check_cap(kvm, KVM_CAP_IRQFD_RESAMPLE) > 0;
	/* KVM_CAP_IRQ_ROUTING answers the GSI limit (KVM_MAX_IRQ_ROUTES). */
	kvm->max_gsis = (unsigned int)kvm_vm_check_cap(kvm, KVM_CAP_IRQ_ROUTING);
	if (kvm->max_gsis < 1024)
		kvm->max_gsis = 1024; /* kernels that answer 1 had KVM_MAX_IRQ_ROUTES = 1024 */
	v = ioctl(kvm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (v < (int)sizeof(struct kvm_run)) {
		ret = v < 0 ? -errno : -EPROTO; /* before pr_err, which may change errno */
		pr_err("/dev/kvm: KVM_GET_VCPU_MMAP_SIZE: %s", v < 0 ? strerror(-ret) : "too small");
		goto err;
	}
	kvm->run_size = (size_t)v;
	pr_debug("kvm: VM with a %u-bit IPA space", kvm->ipa_bits);
	return 0;

err:
	kvm_close(kvm);
	return ret;
}

void kvm_close(struct kvm *kvm)
{
	if (!kvm->hv.ops)
		return; /* never opened */
	if (kvm->vm_fd >= 0)
		close(kvm->vm_fd);
	if (kvm->sys_fd >= 0)
		close(kvm->sys_fd);
	kvm->vm_fd = kvm->sys_fd = -1;
	kvm_routes_free(kvm);
	pthread_mutex_destroy(&kvm->lock);
	kvm->hv.ops = NULL;
}

/* ---- vCPUs ---- */

int kvm_vcpu_create(struct kvm *kvm, unsigned int id, struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_init init;
	int ret;

	vcpu->id = id;
	vcpu->run = NULL;
	vcpu->fd = ioctl(kvm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0) {
		ret = -errno;
		pr_err("kvm: KVM_CREATE_VCPU %u: %s", id, strerror(errno));
		return ret;
	}
	vcpu->run = mmap(NULL, kvm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		ret = -errno;
		vcpu->run = NULL;
		pr_err("kvm: vCPU %u: mmap of kvm_run: %s", id, strerror(errno));
		goto err;
	}
	memset(&init, 0, sizeof(init));
	if (ioctl(kvm->vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0) {
		ret = -errno;
		pr_err("kvm: KVM_ARM_PREFERRED_TARGET: %s", strerror(errno));
		goto err;
	}
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (id != 0)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	if (ioctl(vcpu->fd, KVM_ARM_VCPU_INIT, &init) < 0) {
		ret = -errno;
		pr_err("kvm: KVM_ARM_VCPU_INIT of vCPU %u (target %u): %s", id, init.target, strerror(errno));
		goto err;
	}
	return 0;

err:
	kvm_vcpu_destroy(kvm, vcpu);
	return ret;
}

void kvm_vcpu_destroy(struct kvm *kvm, struct kvm_vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, kvm->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

#define CORE_REG(name) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(name))

static int set_reg(struct kvm_vcpu *vcpu, u64 id, u64 val, const char *what)
{
	struct kvm_one_reg reg = { .id = id, .addr = (u64)(uintptr_t)&val };

	if (ioctl(vcpu->fd, KVM_SET_ONE_REG, &reg) < 0) {
		int ret = -errno;

		pr_err("kvm: vCPU %u: setting %s: %s", vcpu->id, what, strerror(errno));
		return ret;
	}
	return 0;
}

int kvm_vcpu_set_boot_regs(struct kvm_vcpu *vcpu, u64 entry, u64 dtb)
{
	int ret;

	ret = set_reg(vcpu, CORE_REG(regs.pstate), PSR_MODE_EL1h | PSR_D_BIT | PSR_A_BIT | PSR_I_BIT | PSR_F_BIT,
		      "PSTATE");
	if (!ret)
		ret = set_reg(vcpu, CORE_REG(regs.regs[0]), dtb, "x0");
	for (unsigned int i = 1; !ret && i < 4; i++) {
		static const u64 ids[] = { 0, CORE_REG(regs.regs[1]), CORE_REG(regs.regs[2]), CORE_REG(regs.regs[3]) };

		ret = set_reg(vcpu, ids[i], 0, "x1-x3");
	}
	if (!ret)
		ret = set_reg(vcpu, CORE_REG(regs.pc), entry, "PC");
	return ret;
}
