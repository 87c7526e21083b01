/* test_kvm_routes.c: the KVM backend's irqfd route table (vmm/kvm_routes.c) with KVM_SET_GSI_ROUTING
 * recorded: the table grows past the old fixed 256 entries up to KVM's GSI limit, a full table says -ENOSPC,
 * committed tables hold the SPI identity routes plus one MSI route (with device id) per live MSI entry, and a
 * batch turns n route changes into one commit. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include "vmm/kvm.h"

#define NR_SPIS 96

struct rec {
	struct kvm kvm;        /* first: the callback gets &rec->kvm */
	unsigned int commits;
	unsigned int last_nr;
	struct kvm_irq_routing_entry last[4096];
	int fail;
};

static int record_routing(struct kvm *kvm, const struct kvm_irq_routing *tbl)
{
	struct rec *r = (struct rec *)kvm;

	r->commits++;
	if (r->fail)
		return r->fail;
	cr_assert_leq(tbl->nr, 4096);
	r->last_nr = tbl->nr;
	memcpy(r->last, tbl->entries, tbl->nr * sizeof(tbl->entries[0]));
	return 0;
}

static void rec_init(struct rec *r, unsigned int max_gsis)
{
	memset(r, 0, sizeof(*r));
	r->kvm.nr_spis = NR_SPIS;
	r->kvm.max_gsis = max_gsis;
	r->kvm.set_gsi_routing = record_routing;
}

/* What kvm_irqfd_add does for an MSI, minus the irqfd ioctl. */
static int add_msi(struct rec *r, u64 addr, u32 data, u32 devid)
{
	int h = kvm_routes_slot(&r->kvm);

	if (h < 0)
		return h;
	r->kvm.routes[h] = (struct kvm_irqfd_route){ .used = true, .msi = true, .gsi = NR_SPIS + (u32)h,
						     .eventfd = 100 + h, .resamplefd = -1, .addr = addr, .data = data,
						     .devid = devid };
	cr_assert_eq(kvm_routes_commit(&r->kvm), 0);
	return h;
}

static void release(struct rec *r, int h)
{
	r->kvm.routes[h].used = false;
	cr_assert_eq(kvm_routes_commit(&r->kvm), 0);
}

Test(kvm_routes, grows_to_the_gsi_limit_then_enospc)
{
	struct rec *r = calloc(1, sizeof(*r));
	unsigned int limit = 4096 - NR_SPIS;

	rec_init(r, 4096);
	cr_assert_eq(kvm_routes_limit(&r->kvm), limit);
	cr_assert_eq(kvm_routes_batch(&r->kvm, true), 0);
	for (unsigned int i = 0; i < limit; i++)
		cr_assert_eq(add_msi(r, 0x8090040, i, 0x8), (int)i, "route %u", i);
	cr_assert_eq(kvm_routes_slot(&r->kvm), -ENOSPC, "KVM's GSI limit reached");
	cr_assert_eq(kvm_routes_batch(&r->kvm, false), 0);
	cr_assert_eq(r->commits, 1, "one commit for the whole batch");
	cr_assert_eq(r->last_nr, NR_SPIS + limit);
	cr_assert_eq(r->last[4095].gsi, 4095, "the last GSI is the highest KVM takes");
	/* A released slot is reused before anything grows. */
	release(r, 1000);
	cr_assert_eq(r->last_nr, NR_SPIS + limit - 1);
	cr_assert_eq(add_msi(r, 0x8090040, 7, 0x10), 1000);
	kvm_routes_free(&r->kvm);
	cr_assert_null(r->kvm.routes);
	free(r);
}

Test(kvm_routes, table_holds_spi_identity_and_live_msi_routes)
{
	struct rec *r = calloc(1, sizeof(*r));
	int a, b, c, s;

	rec_init(r, 4096);
	a = add_msi(r, 0x8090040, 1, 0x8);
	b = add_msi(r, 0x123456789000ULL, 2, 0x10);
	c = add_msi(r, 0x8090040, 3, 0x8);
	/* A wired-SPI irqfd takes a slot but adds no MSI route (its GSI is the SPI). */
	s = kvm_routes_slot(&r->kvm);
	cr_assert_eq(s, 3);
	r->kvm.routes[s] = (struct kvm_irqfd_route){ .used = true, .gsi = 5, .eventfd = 9, .resamplefd = 10 };
	release(r, b);
	cr_assert_eq(r->commits, 4);
	cr_assert_eq(r->last_nr, NR_SPIS + 2);
	for (unsigned int i = 0; i < NR_SPIS; i++) {
		cr_assert_eq(r->last[i].type, KVM_IRQ_ROUTING_IRQCHIP);
		cr_assert_eq(r->last[i].gsi, i);
		cr_assert_eq(r->last[i].u.irqchip.pin, i);
	}
	cr_assert_eq(r->last[NR_SPIS].type, KVM_IRQ_ROUTING_MSI);
	cr_assert_eq(r->last[NR_SPIS].gsi, NR_SPIS + (u32)a);
	cr_assert_eq(r->last[NR_SPIS].flags, KVM_MSI_VALID_DEVID);
	cr_assert_eq(r->last[NR_SPIS].u.msi.data, 1);
	cr_assert_eq(r->last[NR_SPIS].u.msi.devid, 0x8);
	cr_assert_eq(r->last[NR_SPIS + 1].gsi, NR_SPIS + (u32)c);
	cr_assert_eq(r->last[NR_SPIS + 1].u.msi.address_lo, 0x8090040);
	cr_assert_eq(r->last[NR_SPIS + 1].u.msi.address_hi, 0);
	/* Address split for a high doorbell. */
	b = add_msi(r, 0x123456789000ULL, 2, 0x10);
	cr_assert_eq(r->last[NR_SPIS + 1].u.msi.address_hi, 0x1234);
	cr_assert_eq(r->last[NR_SPIS + 1].u.msi.address_lo, 0x56789000);
	kvm_routes_free(&r->kvm);
	free(r);
}

Test(kvm_routes, batches_nest_and_commit_only_when_dirty)
{
	struct rec *r = calloc(1, sizeof(*r));

	rec_init(r, 4096);
	cr_assert_eq(kvm_routes_batch(&r->kvm, false), -EINVAL, "end without begin");
	cr_assert_eq(kvm_routes_batch(&r->kvm, true), 0);
	cr_assert_eq(kvm_routes_batch(&r->kvm, false), 0);
	cr_assert_eq(r->commits, 0, "nothing changed: no commit");
	cr_assert_eq(kvm_routes_batch(&r->kvm, true), 0);
	cr_assert_eq(kvm_routes_batch(&r->kvm, true), 0);
	for (int i = 0; i < 10; i++)
		add_msi(r, 0x8090040, (u32)i, 0x8);
	release(r, 3);
	cr_assert_eq(kvm_routes_batch(&r->kvm, false), 0);
	cr_assert_eq(r->commits, 0, "inner end: still deferred");
	r->fail = -EINVAL;
	cr_assert_eq(kvm_routes_batch(&r->kvm, false), -EINVAL, "the outer end commits and reports failure");
	cr_assert_eq(r->commits, 1);
	r->fail = 0;
	cr_assert_eq(kvm_routes_commit(&r->kvm), 0);
	cr_assert_eq(r->last_nr, NR_SPIS + 9);
	kvm_routes_free(&r->kvm);
	free(r);
}

Test(kvm_routes, a_small_gsi_limit_is_respected)
{
	struct rec *r = calloc(1, sizeof(*r));

	rec_init(r, NR_SPIS + 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(add_msi(r, 0x8090040, (u32)i, 0x8), i);
	cr_assert_eq(kvm_routes_slot(&r->kvm), -ENOSPC);
	cr_assert_eq(r->kvm.nroutes, 3, "grown only to the limit");
	kvm_routes_free(&r->kvm);
	rec_init(r, NR_SPIS);
	cr_assert_eq(kvm_routes_limit(&r->kvm), 0, "no GSI left above the SPIs");
	cr_assert_eq(kvm_routes_slot(&r->kvm), -ENOSPC);
	free(r);
}

Test(kvm_routes, a_failed_commit_stays_dirty_and_the_next_batch_end_retries)
{
	struct rec *r = calloc(1, sizeof(*r));
	int s;

	rec_init(r, 4096);
	s = kvm_routes_slot(&r->kvm);
	cr_assert_eq(s, 0);
	r->kvm.routes[s] = (struct kvm_irqfd_route){ .used = true, .msi = true, .gsi = NR_SPIS, .eventfd = 7,
						     .resamplefd = -1, .addr = 0x8090040, .data = 1, .devid = 8 };
	r->fail = -ENOMEM;
	cr_assert_eq(kvm_routes_commit(&r->kvm), -ENOMEM, "KVM refused the table");
	cr_assert_eq(r->commits, 1);
	cr_assert(r->kvm.routes_dirty, "the refused table is still owed to KVM");
	/* A batch that changes nothing must still hand KVM the table it never took. */
	r->fail = 0;
	cr_assert_eq(kvm_routes_batch(&r->kvm, true), 0);
	cr_assert_eq(kvm_routes_batch(&r->kvm, false), 0);
	cr_assert_eq(r->commits, 2, "the batch end retried the failed commit");
	cr_assert_eq(r->last_nr, NR_SPIS + 1);
	cr_assert_eq(r->last[NR_SPIS].u.msi.data, 1);
	cr_assert_not(r->kvm.routes_dirty);
	/* Failing at a batch end leaves it dirty too. */
	cr_assert_eq(kvm_routes_batch(&r->kvm, true), 0);
	r->kvm.routes[s].data = 2;
	cr_assert_eq(kvm_routes_commit(&r->kvm), 0);
	r->fail = -EINVAL;
	cr_assert_eq(kvm_routes_batch(&r->kvm, false), -EINVAL);
	cr_assert(r->kvm.routes_dirty);
	r->fail = 0;
	cr_assert_eq(kvm_routes_batch(&r->kvm, true), 0);
	cr_assert_eq(kvm_routes_batch(&r->kvm, false), 0);
	cr_assert_eq(r->commits, 4);
	cr_assert_eq(r->last[NR_SPIS].u.msi.data, 2);
	kvm_routes_free(&r->kvm);
	free(r);
}
