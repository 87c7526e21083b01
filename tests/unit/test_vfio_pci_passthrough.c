/* test_vfio_pci_passthrough.c: the per-VM passthrough context (vmm/passthrough.c) against fake iommufd,
 * VFIO and hv backends: the order of iommufd/VFIO operations (IOAS, bind, attach, reserved-range check, RAM at
 * IOVA = GPA, device models at 00:01.0 and 00:02.0), teardown leaving nothing behind, and every bad input
 * (iommufd missing, device missing / not bound, bind/attach failures, RAM hitting a reserved IOVA window,
 * the same host device twice, a BAR that cannot be placed) unwinding in order with its message. Guest RAM
 * goes into the IOAS in PASSTHROUGH_RAM_CHUNK pieces, and a stop signal arriving during the setup (Ctrl-C
 * while devices are opened or RAM is pinned) ends it at the next check with -EINTR, everything undone. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "boot/layout.h"
#include "vmm/passthrough.h"
#include "tests/unit/fake_hv.h"
#include "tests/unit/fake_iommufd.h"
#include "tests/unit/fake_vfio.h"
#include "tests/unit/cr_stderr.h"
#include "vmm/sig.h"

#define RW (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE)
#define NDEV 2

struct env {
	struct fake_iommufd fi;
	struct fake_vfio fv[NDEV];
	const char *bdfs[NDEV];
	int fail_iommufd_open;
	int fail_vfio_open[NDEV];
	unsigned int opens;
	unsigned int sigint_at_open;   /* raise SIGINT while opening the n-th device (1-based), 0: never */
	unsigned int sigterm_at_map;   /* raise SIGTERM during the n-th IOAS_MAP (1-based), 0: never */
	unsigned int maps;
	struct iommufd_ops ops;        /* the fake's ops with ioas_map wrapped (sigterm_at_map) */
	int (*fake_map)(struct iommufd *ictx, u32 ioas, void *va, u64 length, u64 *iova, u32 flags);
	struct fake_hv fh;
	struct bus bus;
	struct guest_mem ram;
	struct vm_config cfg;
	struct passthrough pt;
};

static struct env env;

/* The fake's IOAS_MAP, counted; the sigterm_at_map-th one has SIGTERM arrive while the kernel pins. */
static int map_counted(struct iommufd *ictx, u32 ioas, void *va, u64 length, u64 *iova, u32 flags)
{
	int rc = env.fake_map(ictx, ioas, va, length, iova, flags);

	if (++env.maps == env.sigterm_at_map)
		raise(SIGTERM);
	return rc;
}

static int open_iommufd(void *ctx, struct iommufd *ictx)
{
	struct env *e = ctx;

	if (e->fail_iommufd_open) {
		fprintf(stderr, "ivmm: error: iommufd: cannot open /dev/iommu: No such file or directory\n");
		return e->fail_iommufd_open;
	}
	fake_iommufd_attach_ctx(&e->fi, ictx);
	e->ops = *ictx->ops;
	e->fake_map = e->ops.ioas_map;
	e->ops.ioas_map = map_counted;
	ictx->ops = &e->ops;
	return 0;
}

static int open_vfio(void *ctx, struct vfio_dev *dev, const char *bdf)
{
	struct env *e = ctx;

	for (unsigned int i = 0; i < NDEV; i++) {
		if (strcmp(bdf, e->bdfs[i]))
			continue;
		if (e->fail_vfio_open[i])
			return e->fail_vfio_open[i];
		fake_vfio_open(&e->fv[i], dev, bdf);
		if (++e->opens == e->sigint_at_open)
			raise(SIGINT);
		return 0;
	}
	return -ENODEV;
}

static const struct passthrough_backend backend = { .open_iommufd = open_iommufd, .open_vfio = open_vfio,
						    .ctx = &env };

/* A minimal edu: 1 MiB BAR0, MSI (one vector), INTA. */
static void edu(struct fake_vfio *f, u32 dev_id)
{
	u8 *c;

	fake_vfio_init(f);
	f->iommufd = &env.fi;
	f->next_dev_id = dev_id;
	c = f->regions[VFIO_PCI_CONFIG_REGION_INDEX].data;
	c[PCI_VENDOR_ID] = 0x34;
	c[PCI_VENDOR_ID + 1] = 0x12;
	c[PCI_DEVICE_ID] = 0xe8;
	c[PCI_DEVICE_ID + 1] = 0x11;
	c[PCI_STATUS] = PCI_STATUS_CAP_LIST;
	c[PCI_CAPABILITY_LIST] = 0x40;
	c[PCI_INTERRUPT_PIN] = 1;
	c[0x40] = PCI_CAP_ID_MSI;
	c[0x42] = PCI_MSI_FLAGS_64BIT;
	cr_assert_eq(fake_vfio_set_region(f, VFIO_PCI_BAR0_REGION_INDEX, SZ_1M, RW | VFIO_REGION_INFO_FLAG_MMAP), 0);
	f->irqs[VFIO_PCI_INTX_IRQ_INDEX].count = 1;
	f->irqs[VFIO_PCI_MSI_IRQ_INDEX].count = 1;
}

static void env_up(unsigned int ndev)
{
	memset(&env, 0, sizeof(env));
	fake_iommufd_init(&env.fi);
	env.bdfs[0] = "0000:00:01.0";
	env.bdfs[1] = "0000:00:02.0";
	for (unsigned int i = 0; i < NDEV; i++)
		edu(&env.fv[i], i + 1);
	fake_hv_init(&env.fh);
	cr_assert_eq(bus_init(&env.bus), 0);
	env.ram.gpa = LAYOUT_RAM_BASE;
	env.ram.size = 4 * SZ_1M;
	env.ram.host = aligned_alloc(SZ_4K, env.ram.size);
	cr_assert_not_null(env.ram.host);
	env.cfg.ndevices = ndev;
	for (unsigned int i = 0; i < ndev; i++) {
		env.cfg.devices[i].id = i ? "edu1" : "edu0";
		env.cfg.devices[i].driver = VM_DEV_VFIO_PCI;
		env.cfg.devices[i].host = (char *)env.bdfs[i];
		env.cfg.devices[i].where = "--device";
	}
}

static void env_down(void)
{
	passthrough_destroy(&env.pt);
	bus_destroy(&env.bus);
	free(env.ram.host);
	for (unsigned int i = 0; i < NDEV; i++)
		fake_vfio_release(&env.fv[i]);
	fake_iommufd_release(&env.fi);
}

static int create(void)
{
	return passthrough_create(&env.pt, &env.cfg, &env.ram, &env.fh.hv, &env.bus, &backend, NULL);
}

/* Nothing left: no live iommufd object, devices closed, no IOAS mapping, ECAM and BARs off the bus. */
static void assert_all_undone(void)
{
	u8 d[4];

	cr_assert_eq(fake_iommufd_live(&env.fi, IOMMUFD_OBJ_NR), 0);
	for (unsigned int i = 0; i < FAKE_IOMMUFD_MAX_MAPS; i++)
		cr_assert_not(env.fi.maps[i].used);
	for (unsigned int i = 0; i < NDEV; i++)
		cr_assert(!env.fv[i].bound && !env.fv[i].attached_pt);
	cr_assert_null(env.bus.regions);
	cr_assert_eq(bus_access(&env.bus, LAYOUT_ECAM_BASE, d, 4, false), -ENOENT);
	for (unsigned int i = 0; i < FAKE_HV_MAX_IRQFDS; i++)
		cr_assert_not(env.fh.irqfds[i].used);
}

Test(passthrough, two_devices_in_order, .init = cr_redirect_stderr)
{
	env_up(2);
	cr_assert_eq(create(), 0);
	/* IOAS first, then both devices attached to it, then the RAM check and the RAM mapping. */
	int ioas = fake_iommufd_log_find(&env.fi, "ioas_alloc:1");
	int ranges = fake_iommufd_log_find(&env.fi, "iova_ranges:1");
	int map = fake_iommufd_log_find(&env.fi, "ioas_map:1");

	cr_assert(ioas >= 0 && ranges > ioas && map > ranges);
	cr_assert_eq(env.pt.ioas_id, 1);
	for (unsigned int i = 0; i < NDEV; i++) {
		cr_assert(env.fv[i].bound);
		cr_assert_eq(env.fv[i].attached_pt, env.pt.ioas_id);
		cr_assert_eq(env.fv[i].resets, 1);
	}
	/* All of RAM at IOVA = GPA, writeable. */
	bool found = false;

	for (unsigned int i = 0; i < FAKE_IOMMUFD_MAX_MAPS; i++) {
		const struct fake_iommufd_map *m = &env.fi.maps[i];

		if (m->used && m->iova == LAYOUT_RAM_BASE && m->length == env.ram.size && m->va == env.ram.host &&
		    (m->flags & IOMMU_IOAS_MAP_WRITEABLE))
			found = true;
	}
	cr_assert(found);
	/* Guest BDFs 00:01.0 and 00:02.0, identity from the host devices, through the ECAM on the bus. */
	u8 d[4];

	cr_assert_eq(bus_access(&env.bus, LAYOUT_ECAM_BASE + (1 << 15), d, 4, false), 0);
	cr_assert_eq(d[0] | d[1] << 8 | d[2] << 16 | (u32)d[3] << 24, 0x11e81234);
	cr_assert_eq(bus_access(&env.bus, LAYOUT_ECAM_BASE + (2 << 15), d, 4, false), 0);
	cr_assert_eq(d[0] | d[1] << 8, 0x1234);
	cr_assert_eq(env.pt.devs[1].pci->pdev.devfn, PCI_DEVFN(2, 0));
	/* BARs placed one after the other in the 32-bit window. */
	cr_assert_eq(bus_access(&env.bus, LAYOUT_ECAM_BASE + (2 << 15) + PCI_BASE_ADDRESS_0, d, 4, false), 0);
	cr_assert_eq(d[0] | d[1] << 8 | d[2] << 16 | (u32)d[3] << 24, (u32)(LAYOUT_PCI_MMIO32_BASE + SZ_1M));

	passthrough_destroy(&env.pt);
	assert_all_undone();
	for (unsigned int i = 0; i < NDEV; i++) {
		cr_assert(env.fv[i].closed);
		cr_assert_eq(env.fv[i].resets, 2);
	}
	/* The RAM mapping went before the IOAS. */
	int unmap = fake_iommufd_log_find(&env.fi, "ioas_unmap:1");
	int destroy = fake_iommufd_log_find(&env.fi, "destroy:1");

	cr_assert(unmap > map);
	cr_assert_gt(destroy, unmap);
	passthrough_destroy(&env.pt); /* twice is harmless */
	env_down();
}

Test(passthrough, iommufd_missing, .init = cr_redirect_stderr)
{
	env_up(1);
	env.fail_iommufd_open = -ENOENT;
	cr_assert_eq(create(), -ENOENT);
	cr_assert_eq(env.opens, 0);
	assert_all_undone();
	env_down();
}

Test(passthrough, second_device_missing_unwinds_first, .init = cr_redirect_stderr)
{
	env_up(2);
	env.fail_vfio_open[1] = -ENODEV;
	cr_assert_eq(create(), -ENODEV);
	cr_assert(env.fv[0].closed);
	assert_all_undone();
	env_down();

	/* Not bound to vfio-pci (the VFIO layer printed how to bind it). */
	env_up(1);
	env.fail_vfio_open[0] = -EPERM;
	cr_assert_eq(create(), -EPERM);
	assert_all_undone();
	env_down();
}

Test(passthrough, bind_and_attach_failures_unwind, .init = cr_redirect_stderr)
{
	env_up(2);
	env.fv[1].fail_bind = -EBUSY;
	cr_assert_eq(create(), -EBUSY);
	assert_all_undone();
	env_down();

	env_up(2);
	env.fv[0].fail_attach = -EINVAL;
	cr_assert_eq(create(), -EINVAL);
	assert_all_undone();
	env_down();
}

Test(passthrough, ram_in_reserved_window, .init = cr_redirect_stderr)
{
	env_up(1);
	/* Pretend the host reserves a window inside guest RAM. */
	env.fi.reserved[1] = (struct iommu_iova_range){ LAYOUT_RAM_BASE + SZ_1M, LAYOUT_RAM_BASE + 2 * SZ_1M - 1 };
	env.fi.nr_reserved = 2;
	cr_assert_eq(create(), -ERANGE);
	assert_all_undone();
	env_down();
	cr_assert(cr_stderr_has("passthrough: guest RAM [0x40000000-0x403fffff] cannot be mapped for DMA at IOVA = GPA"));
}

Test(passthrough, same_host_device_twice, .init = cr_redirect_stderr)
{
	env_up(2);
	env.cfg.devices[1].host = (char *)env.bdfs[0];
	cr_assert_eq(create(), -EBUSY);
	assert_all_undone();
	env_down();
	cr_assert(cr_stderr_has("passthrough: device edu1: host 0000:00:01.0 is already given to device edu0"));
}

Test(passthrough, bar_that_cannot_be_placed_unwinds, .init = cr_redirect_stderr)
{
	env_up(2);
	/* The second device has a 512 MiB BAR0: the first one's 1 MiB leaves no room for it. */
	cr_assert_eq(fake_vfio_set_region(&env.fv[1], VFIO_PCI_BAR0_REGION_INDEX, 512 * SZ_1M, RW), 0);
	cr_assert_eq(create(), -ENOSPC);
	assert_all_undone();
	cr_assert_eq(env.fv[0].resets, 2); /* the first device was built, then reset on the way out */
	env_down();
	cr_assert(cr_stderr_has("edu1 (0000:00:02.0): BAR0 (32-bit, 0x20000000 bytes) cannot be placed"));
}

Test(passthrough, ram_map_failure_unwinds, .init = cr_redirect_stderr)
{
	env_up(1);
	env.fi.fail_ioas_map = -ENOMEM;
	cr_assert_eq(create(), -ENOMEM);
	assert_all_undone();
	env_down();
}

/* The stop signals blocked, as main has them (vm_block_signals); drained at the end of the test. */
static void block_stop_signals(sigset_t *set)
{
	sig_stop_set(set);
	cr_assert_eq(pthread_sigmask(SIG_BLOCK, set, NULL), 0);
}

static void drain_stop_signals(const sigset_t *set)
{
	const struct timespec zero = { 0 };

	while (sigtimedwait(set, NULL, &zero) > 0) {
	}
}

/* Guest RAM of a size that takes three IOAS_MAPs (256 + 256 + 88 MiB): reserved address space only. */
#define BIG_RAM (600 * SZ_1M)

static void big_ram(void)
{
	free(env.ram.host);
	env.ram.size = BIG_RAM;
	env.ram.host = mmap(NULL, BIG_RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(env.ram.host, MAP_FAILED);
}

static void big_ram_free(void)
{
	munmap(env.ram.host, BIG_RAM);
	env.ram.host = NULL;
}

static unsigned int live_maps(void)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FAKE_IOMMUFD_MAX_MAPS; i++)
		n += env.fi.maps[i].used;
	return n;
}

Test(passthrough, ram_goes_into_the_ioas_in_chunks, .init = cr_redirect_stderr)
{
	static const u64 want[][2] = { { 0, 256 * SZ_1M }, { 256 * SZ_1M, 256 * SZ_1M }, { 512 * SZ_1M, 88 * SZ_1M } };

	env_up(1);
	big_ram();
	cr_assert_eq(create(), 0);
	cr_assert_eq(env.maps, 3);
	cr_assert_eq(live_maps(), 3);
	for (unsigned int k = 0; k < 3; k++) {
		bool found = false;

		for (unsigned int i = 0; i < FAKE_IOMMUFD_MAX_MAPS; i++) {
			const struct fake_iommufd_map *m = &env.fi.maps[i];

			found |= m->used && m->iova == LAYOUT_RAM_BASE + want[k][0] && m->length == want[k][1] &&
				 m->va == (u8 *)env.ram.host + want[k][0] && (m->flags & IOMMU_IOAS_MAP_WRITEABLE);
		}
		cr_assert(found, "chunk %u: 0x%llx bytes at RAM + 0x%llx", k, (unsigned long long)want[k][1],
			  (unsigned long long)want[k][0]);
	}
	passthrough_destroy(&env.pt);
	assert_all_undone(); /* each chunk unmapped as it was mapped (the kernel refuses to split a mapping) */
	big_ram_free();
	env_down();
}

/* SIGINT while the second device is being opened: nothing after it is done (no RAM pinned), everything before
 * it is undone, and the setup says nothing (main names the signal). */
Test(passthrough, a_stop_signal_while_devices_open_unwinds_before_pinning, .init = cr_redirect_stderr)
{
	static char out[4096];
	sigset_t set;

	block_stop_signals(&set);
	env_up(2);
	env.sigint_at_open = 2;
	cr_assert_eq(create(), -EINTR);
	cr_assert_str_eq(cr_stderr_read(out, sizeof(out)), "", "the setup says nothing: main names the signal");
	cr_assert_eq(env.maps, 0, "no guest RAM pinned after the signal");
	cr_assert_eq(fake_iommufd_log_find(&env.fi, "ioas_map:1"), -1);
	assert_all_undone();
	for (unsigned int i = 0; i < NDEV; i++)
		cr_assert(env.fv[i].closed, "device %u closed", i);
	cr_assert_eq(sig_stop_pending(), SIGINT);
	env_down();
	drain_stop_signals(&set);
}

/* SIGTERM while the first of three RAM chunks is being pinned: the setup stops after that chunk, which is
 * unpinned again with everything else. */
Test(passthrough, a_stop_signal_while_ram_is_pinned_stops_after_the_chunk, .init = cr_redirect_stderr)
{
	sigset_t set;

	block_stop_signals(&set);
	env_up(1);
	big_ram();
	env.sigterm_at_map = 1;
	cr_assert_eq(create(), -EINTR);
	cr_assert_eq(env.maps, 1, "one chunk, not the whole RAM");
	cr_assert_eq(env.fv[0].resets, 0, "no device model built after the signal (it resets the device)");
	assert_all_undone();
	cr_assert_eq(sig_stop_pending(), SIGTERM);
	big_ram_free();
	env_down();
	drain_stop_signals(&set);
}
