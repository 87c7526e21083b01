/* test_kvm_routes.c: the KVM backend's irqfd route table (vmm/kvm_routes.c) with KVM_SET_GSI_ROUTING
 * recorded: the table grows past the old fixed 256 entries up to KVM's GSI limit, a full table says -ENOSPC,
 * committed tables hold the SPI identity routes plus one MSI route (with device id) per live MSI entry, a
 * batch turns n route changes into one commit, and batches belong to their caller: one device's open batch
 * never leaves another device's route reported live but not assigned. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include "vmm/kvm.h"

#define NR_SPIS 96
/* Callers of the route table (kvm_arm64.c passes the calling thread): two devices' threads. */
#define DEV_A 0xa
#define DEV_B 0xb

enum ev_kind { EV_COMMIT, EV_ASSIGN, EV_DEASSIGN };

struct ev {
	enum ev_kind kind;
	int eventfd;           /* assign/deassign */
	u32 gsi;
	bool gsi_routed;       /* assign: KVM's committed table routes this GSI at that moment */
};

struct rec {
	struct kvm kvm;        /* first: the callback gets &rec->kvm */
	unsigned int commits;
	unsigned int last_nr;
	struct kvm_irq_routing_entry last[4096];
	int fail;
	int fail_assign;       /* the next irqfd assign fails with this */
	struct ev ev[256];
	unsigned int nev;
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

static bool committed_routes(const struct rec *r, u32 gsi)
{
	for (unsigned int i = 0; i < r->last_nr; i++)
		if (r->last[i].gsi == gsi)
			return true;
	return false;
}

/* KVM_IRQFD: records the order against commits, and whether the GSI had a route in KVM when the irqfd was
 * assigned (KVM injects an already pending event through the route of that moment). */
static int record_irqfd(struct kvm *kvm, const struct kvm_irqfd_route *route, bool assign)
{
	struct rec *r = (struct rec *)kvm;
	int ret = assign ? r->fail_assign : 0;

	if (assign)
		r->fail_assign = 0;
	if (!ret && r->nev < ARRAY_SIZE(r->ev))
		r->ev[r->nev++] = (struct ev){ assign ? EV_ASSIGN : EV_DEASSIGN, route->eventfd, route->gsi,
					       committed_routes(r, route->gsi) };
	return ret;
}

static int record_commit(struct kvm *kvm, const struct kvm_irq_routing *tbl)
{
	struct rec *r = (struct rec *)kvm;
	int ret = record_routing(kvm, tbl);

	if (!ret && r->nev < ARRAY_SIZE(r->ev))
		r->ev[r->nev++] = (struct ev){ .kind = EV_COMMIT };
	return ret;
}

static void rec_init(struct rec *r, unsigned int max_gsis)
{
	memset(r, 0, sizeof(*r));
	r->kvm.nr_spis = NR_SPIS;
	r->kvm.max_gsis = max_gsis;
	r->kvm.set_gsi_routing = record_commit;
	r->kvm.irqfd_assign = record_irqfd;
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
	cr_assert_eq(kvm_routes_commit(&r->kvm, DEV_A), 0);
	return h;
}

static void release(struct rec *r, int h)
{
	r->kvm.routes[h].used = false;
	cr_assert_eq(kvm_routes_commit(&r->kvm, DEV_A), 0);
}

Test(kvm_routes, grows_to_the_gsi_limit_then_enospc)
{
	struct rec *r = calloc(1, sizeof(*r));
	unsigned int limit = 4096 - NR_SPIS;

	rec_init(r, 4096);
	cr_assert_eq(kvm_routes_limit(&r->kvm), limit);
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, true), 0);
	for (unsigned int i = 0; i < limit; i++)
		cr_assert_eq(add_msi(r, 0x8090040, i, 0x8), (int)i, "route %u", i);
	cr_assert_eq(kvm_routes_slot(&r->kvm), -ENOSPC, "KVM's GSI limit reached");
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, false), 0);
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
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, false), -EINVAL, "end without begin");
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, true), 0);
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, false), 0);
	cr_assert_eq(r->commits, 0, "nothing changed: no commit");
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, true), 0);
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, true), 0);
	for (int i = 0; i < 10; i++)
		add_msi(r, 0x8090040, (u32)i, 0x8);
	release(r, 3);
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, false), 0);
	cr_assert_eq(r->commits, 0, "inner end: still deferred");
	r->fail = -EINVAL;
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, false), -EINVAL, "the outer end commits and reports failure");
	cr_assert_eq(r->commits, 1);
	r->fail = 0;
	cr_assert_eq(kvm_routes_commit(&r->kvm, DEV_A), 0);
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
	cr_assert_eq(kvm_routes_commit(&r->kvm, DEV_A), -ENOMEM, "KVM refused the table");
	cr_assert_eq(r->commits, 1);
	cr_assert(r->kvm.routes_dirty, "the refused table is still owed to KVM");
	/* A batch that changes nothing must still hand KVM the table it never took. */
	r->fail = 0;
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, true), 0);
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, false), 0);
	cr_assert_eq(r->commits, 2, "the batch end retried the failed commit");
	cr_assert_eq(r->last_nr, NR_SPIS + 1);
	cr_assert_eq(r->last[NR_SPIS].u.msi.data, 1);
	cr_assert_not(r->kvm.routes_dirty);
	/* Failing at a batch end leaves it dirty too. */
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, true), 0);
	r->kvm.routes[s].data = 2;
	cr_assert_eq(kvm_routes_commit(&r->kvm, DEV_A), 0);
	r->fail = -EINVAL;
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, false), -EINVAL);
	cr_assert(r->kvm.routes_dirty);
	r->fail = 0;
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, true), 0);
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, false), 0);
	cr_assert_eq(r->commits, 4);
	cr_assert_eq(r->last[NR_SPIS].u.msi.data, 2);
	kvm_routes_free(&r->kvm);
	free(r);
}

static int route_msi_of(struct rec *r, u64 caller, int eventfd, u32 data)
{
	struct kvm_irqfd_route t = { .msi = true, .eventfd = eventfd, .resamplefd = -1, .addr = 0x8090040,
				     .data = data, .devid = 0x8 };

	return kvm_routes_add(&r->kvm, caller, &t);
}

static int route_msi(struct rec *r, int eventfd, u32 data)
{
	return route_msi_of(r, DEV_A, eventfd, data);
}

Test(kvm_routes, outside_a_batch_an_msi_irqfd_is_assigned_after_its_route_is_committed)
{
	struct rec *r = calloc(1, sizeof(*r));
	struct kvm_irqfd_route spi = { .msi = false, .gsi = 5, .eventfd = 50, .resamplefd = 51 };
	int h, s;

	rec_init(r, 4096);
	h = route_msi(r, 40, 1);
	cr_assert_eq(h, 0);
	cr_assert_eq(r->nev, 2);
	cr_assert_eq(r->ev[0].kind, EV_COMMIT);
	cr_assert_eq(r->ev[1].kind, EV_ASSIGN);
	cr_assert_eq(r->ev[1].gsi, NR_SPIS);
	cr_assert(r->ev[1].gsi_routed, "the GSI was routed when its irqfd was assigned");
	/* A wired SPI needs no commit (identity route). */
	s = kvm_routes_add(&r->kvm, DEV_A, &spi);
	cr_assert_eq(s, 1);
	cr_assert_eq(r->nev, 3);
	cr_assert_eq(r->ev[2].kind, EV_ASSIGN);
	cr_assert_eq(r->ev[2].gsi, 5);
	/* A failing KVM_IRQFD undoes the route: slot free again, table without it. */
	r->fail_assign = -EBADF;
	cr_assert_eq(route_msi(r, 41, 2), -EBADF);
	cr_assert_not(r->kvm.routes[2].used);
	cr_assert_eq(r->last_nr, NR_SPIS + 1, "the failed route left KVM's table again");
	cr_assert_eq(kvm_routes_release(&r->kvm, DEV_A, h), 0);
	cr_assert_eq(r->ev[r->nev - 2].kind, EV_DEASSIGN);
	cr_assert_eq(r->ev[r->nev - 1].kind, EV_COMMIT);
	cr_assert_eq(r->last_nr, NR_SPIS);
	cr_assert_eq(kvm_routes_release(&r->kvm, DEV_A, h), -ENOENT, "released twice");
	cr_assert_eq(kvm_routes_release(&r->kvm, DEV_A, -1), -ENOENT);
	kvm_routes_free(&r->kvm);
	free(r);
}

/* The batch case behind item "pending interrupts": a vector unmasked inside a batch may already have an
 * event in its eventfd; KVM injects it when the irqfd is assigned, through the GSI's route at that moment.
 * So inside a batch no MSI irqfd may be assigned before the one commit at the end. */
Test(kvm_routes, inside_a_batch_msi_irqfds_are_assigned_only_after_the_final_commit)
{
	struct rec *r = calloc(1, sizeof(*r));
	int h[8];

	rec_init(r, 4096);
	h[0] = route_msi(r, 30, 0);
	r->nev = 0;
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, true), 0);
	cr_assert_eq(kvm_routes_release(&r->kvm, DEV_A, h[0]), 0, "a vector's target changes: release ...");
	for (int i = 0; i < 8; i++)
		h[i] = route_msi(r, 60 + i, (u32)i);
	cr_assert_eq(h[0], 0, "... and re-add in the same slot (same GSI, new route)");
	cr_assert_eq(r->nev, 1, "only the old irqfd's deassign so far");
	cr_assert_eq(r->ev[0].kind, EV_DEASSIGN);
	cr_assert_eq(r->ev[0].eventfd, 30);
	/* Releasing a route whose irqfd was never assigned issues no deassign. */
	cr_assert_eq(kvm_routes_release(&r->kvm, DEV_A, h[7]), 0);
	cr_assert_eq(r->nev, 1);
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, false), 0);
	cr_assert_eq(r->commits, 2, "one commit before the batch, one for the whole batch");
	cr_assert_eq(r->nev, 1 + 1 + 7);
	cr_assert_eq(r->ev[1].kind, EV_COMMIT, "the commit comes first");
	for (int i = 0; i < 7; i++) {
		cr_assert_eq(r->ev[2 + i].kind, EV_ASSIGN);
		cr_assert_eq(r->ev[2 + i].eventfd, 60 + i);
		cr_assert(r->ev[2 + i].gsi_routed, "irqfd %d assigned while its GSI %u had a route", 60 + i,
			  r->ev[2 + i].gsi);
		cr_assert(r->kvm.routes[h[i]].assigned);
	}
	cr_assert_eq(r->last[NR_SPIS].u.msi.data, 0, "slot 0's new route is in the table");
	kvm_routes_free(&r->kvm);
	free(r);
}

Test(kvm_routes, a_failed_batch_end_keeps_irqfds_pending_until_a_later_end_succeeds)
{
	struct rec *r = calloc(1, sizeof(*r));
	int a, b;

	rec_init(r, 4096);
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, true), 0);
	a = route_msi(r, 70, 1);
	b = route_msi(r, 71, 2);
	r->fail = -ENOMEM;
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, false), -ENOMEM);
	cr_assert_eq(r->nev, 0, "no irqfd without its route");
	r->fail = 0;
	/* Nested batches: only the outermost end commits and assigns. */
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, true), 0);
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, true), 0);
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, false), 0);
	cr_assert_eq(r->nev, 0);
	r->fail_assign = -EINVAL; /* the first irqfd fails, the second still goes in */
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, false), -EINVAL);
	cr_assert_eq(r->nev, 2);
	cr_assert_eq(r->ev[0].kind, EV_COMMIT);
	cr_assert_eq(r->ev[1].eventfd, 71);
	cr_assert_not(r->kvm.routes[a].assigned);
	cr_assert(r->kvm.routes[b].assigned);
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, true), 0);
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, false), 0);
	cr_assert_eq(r->nev, 3, "nothing to commit; the pending irqfd is retried");
	cr_assert_eq(r->ev[2].kind, EV_ASSIGN);
	cr_assert_eq(r->ev[2].eventfd, 70);
	cr_assert(r->ev[2].gsi_routed);
	cr_assert(r->kvm.routes[a].assigned);
	kvm_routes_free(&r->kvm);
	free(r);
}

/* Two devices on two vCPUs: A's MSI-X table write has a batch open when B's guest driver unmasks a vector.
 * B's call is outside any batch of its own, so its route must be live (committed and its irqfd assigned)
 * when the call returns, not deferred to A's batch end; A's routes still wait for A's end; and a batch B
 * opens and closes meanwhile assigns B's routes only. */
Test(kvm_routes, one_callers_open_batch_does_not_defer_another_callers_route)
{
	struct rec *r = calloc(1, sizeof(*r));
	int a, b, b2;

	rec_init(r, 4096);
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, true), 0);
	a = route_msi_of(r, DEV_A, 80, 1);
	cr_assert_eq(r->nev, 0, "A's route waits for A's batch end");
	b = route_msi_of(r, DEV_B, 90, 2);
	cr_assert_geq(b, 0);
	cr_assert(r->kvm.routes[b].assigned, "B's route is reported live: it must be");
	cr_assert_eq(r->nev, 2);
	cr_assert_eq(r->ev[0].kind, EV_COMMIT);
	cr_assert_eq(r->ev[1].kind, EV_ASSIGN);
	cr_assert_eq(r->ev[1].eventfd, 90);
	cr_assert(r->ev[1].gsi_routed, "B's irqfd assigned after its GSI got a route");
	cr_assert_not(r->kvm.routes[a].assigned, "A's batch is still open");
	/* B's own batch, inside A's: its end assigns B's route, not A's. */
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_B, true), 0);
	b2 = route_msi_of(r, DEV_B, 91, 3);
	cr_assert_not(r->kvm.routes[b2].assigned);
	/* A closes (and reopens) its batch meanwhile. */
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, false), 0);
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, true), 0);
	cr_assert(r->kvm.routes[a].assigned, "A's end assigned A's route");
	cr_assert_not(r->kvm.routes[b2].assigned, "... but not B's: B's batch is open");
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_B, false), 0);
	cr_assert(r->kvm.routes[b2].assigned);
	cr_assert(r->ev[r->nev - 1].kind == EV_ASSIGN && r->ev[r->nev - 1].eventfd == 91 && r->ev[r->nev - 1].gsi_routed);
	/* An end of a caller without a begin of its own is refused, even while another caller has one open. */
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_B, false), -EINVAL);
	cr_assert_eq(kvm_routes_batch(&r->kvm, DEV_A, false), 0);
	cr_assert_eq(r->kvm.nbatches, 0);
	kvm_routes_free(&r->kvm);
	free(r);
}
