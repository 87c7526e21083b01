/* kvm_routes.c: the KVM backend's irqfd route table and the GSI routing table built from it (see kvm.h). Kept
 * apart from kvm_arm64.c, with the KVM_SET_GSI_ROUTING call behind kvm->set_gsi_routing, so that growth, the
 * GSI limit, batching and the table contents are unit-tested on any host. Callers hold kvm->lock. Batches
 * are kept per caller (kvm->batches), so that one caller's open batch defers only its own routes. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include "vmm/kvm.h"

unsigned int kvm_routes_limit(const struct kvm *kvm)
{
	return kvm->max_gsis > kvm->nr_spis ? kvm->max_gsis - kvm->nr_spis : 0;
}

int kvm_routes_slot(struct kvm *kvm)
{
	unsigned int old = kvm->nroutes, cap;
	struct kvm_irqfd_route *nr;

	for (unsigned int h = 0; h < old; h++) {
		if (!kvm->routes[h].used)
			return (int)h;
	}
	if (old >= kvm_routes_limit(kvm))
		return -ENOSPC;
	cap = MIN(MAX(old * 2, 64u), kvm_routes_limit(kvm));
	nr = realloc(kvm->routes, cap * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	memset(&nr[old], 0, (cap - old) * sizeof(*nr));
	kvm->routes = nr;
	kvm->nroutes = cap;
	return (int)old;
}

static struct kvm_route_batch *batch_of(const struct kvm *kvm, u64 caller)
{
	for (unsigned int i = 0; i < kvm->nbatches; i++)
		if (kvm->batches[i].caller == caller)
			return &kvm->batches[i];
	return NULL;
}

bool kvm_routes_in_batch(const struct kvm *kvm, u64 caller)
{
	return batch_of(kvm, caller) != NULL;
}

int kvm_routes_commit(struct kvm *kvm, u64 caller)
{
	struct kvm_irq_routing *tbl;
	size_t want = kvm->nr_spis + kvm->nroutes;
	unsigned int n = 0;
	int ret;

	/* Dirty until KVM takes the table, so a commit that fails (here or in KVM) is retried by the next
	 * batch end even if that batch changed nothing. */
	kvm->routes_dirty = true;
	if (kvm_routes_in_batch(kvm, caller))
		return 0;
	if (want > kvm->route_tbl_cap || !kvm->route_tbl) {
		tbl = realloc(kvm->route_tbl, sizeof(*tbl) + want * sizeof(tbl->entries[0]));
		if (!tbl)
			return -ENOMEM;
		kvm->route_tbl = tbl;
		kvm->route_tbl_cap = want;
	}
	tbl = kvm->route_tbl;
	memset(tbl, 0, sizeof(*tbl) + want * sizeof(tbl->entries[0]));
	/* Identity routes for the wired SPIs: what KVM installs by default at vGIC init. */
	for (u32 spi = 0; spi < kvm->nr_spis; spi++) {
		tbl->entries[n].gsi = spi;
		tbl->entries[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		tbl->entries[n].u.irqchip.irqchip = 0;
		tbl->entries[n].u.irqchip.pin = spi;
		n++;
	}
	for (unsigned int i = 0; i < kvm->nroutes; i++) {
		const struct kvm_irqfd_route *r = &kvm->routes[i];

		if (!r->used || !r->msi)
			continue;
		tbl->entries[n].gsi = r->gsi;
		tbl->entries[n].type = KVM_IRQ_ROUTING_MSI;
		tbl->entries[n].flags = KVM_MSI_VALID_DEVID;
		tbl->entries[n].u.msi.address_lo = (u32)r->addr;
		tbl->entries[n].u.msi.address_hi = (u32)(r->addr >> 32);
		tbl->entries[n].u.msi.data = r->data;
		tbl->entries[n].u.msi.devid = r->devid;
		n++;
	}
	tbl->nr = n;
	ret = kvm->set_gsi_routing(kvm, tbl);
	if (!ret)
		kvm->routes_dirty = false;
	return ret;
}

/* At a caller's outermost batch end, once KVM has the table: the irqfds of the MSI routes added in the batch,
 * and those still pending from an earlier failure; never one whose own caller still has a batch open. */
static int assign_pending(struct kvm *kvm)
{
	int ret = 0;

	for (unsigned int i = 0; i < kvm->nroutes; i++) {
		struct kvm_irqfd_route *r = &kvm->routes[i];

		if (!r->used || r->assigned || kvm_routes_in_batch(kvm, r->caller))
			continue;
		int err = kvm->irqfd_assign(kvm, r, true);

		if (err) {
			ret = ret ? ret : err; /* stays pending: the next batch end tries again */
			continue;
		}
		r->assigned = true;
	}
	return ret;
}

int kvm_routes_batch(struct kvm *kvm, u64 caller, bool begin)
{
	struct kvm_route_batch *b = batch_of(kvm, caller);
	int ret;

	if (begin) {
		if (!b) {
			if (kvm->nbatches == kvm->batches_cap) {
				unsigned int cap = kvm->batches_cap ? kvm->batches_cap * 2 : 4;
				struct kvm_route_batch *nb = realloc(kvm->batches, cap * sizeof(*nb));

				if (!nb)
					return -ENOMEM;
				kvm->batches = nb;
				kvm->batches_cap = cap;
			}
			b = &kvm->batches[kvm->nbatches++];
			*b = (struct kvm_route_batch){ .caller = caller };
		}
		b->depth++;
		return 0;
	}
	if (!b)
		return -EINVAL;
	if (--b->depth)
		return 0;
	*b = kvm->batches[--kvm->nbatches]; /* this caller's batch is closed */
	if (kvm->routes_dirty) {
		ret = kvm_routes_commit(kvm, caller);
		if (ret)
			return ret; /* no irqfd without its route: they wait for a commit that works */
	}
	return assign_pending(kvm);
}

int kvm_routes_add(struct kvm *kvm, u64 caller, struct kvm_irqfd_route *tmpl)
{
	int h = kvm_routes_slot(kvm), ret;
	struct kvm_irqfd_route *r;

	if (h < 0)
		return h;
	if (tmpl->msi)
		tmpl->gsi = kvm->nr_spis + (u32)h;
	tmpl->used = true;
	tmpl->assigned = false;
	tmpl->caller = caller;
	r = &kvm->routes[h];
	*r = *tmpl;
	if (r->msi) {
		ret = kvm_routes_commit(kvm, caller);
		if (ret)
			goto err_unuse;
		if (kvm_routes_in_batch(kvm, caller))
			return h; /* assigned at this caller's batch end, after the commit (see kvm.h) */
	}
	ret = kvm->irqfd_assign(kvm, r, true);
	if (ret)
		goto err_unuse;
	r->assigned = true;
	return h;

err_unuse:
	r->used = false;
	if (r->msi && kvm_routes_commit(kvm, caller)) {
		/* Still in KVM's table: it stays dirty and the next commit drops the route (inert meanwhile:
		 * no irqfd feeds its GSI). */
	}
	return ret;
}

int kvm_routes_release(struct kvm *kvm, u64 caller, int h)
{
	struct kvm_irqfd_route *r;
	int ret = 0;

	if (h < 0 || (unsigned int)h >= kvm->nroutes || !kvm->routes[h].used)
		return -ENOENT;
	r = &kvm->routes[h];
	if (r->assigned)
		ret = kvm->irqfd_assign(kvm, r, false);
	r->used = false;
	r->assigned = false;
	if (r->msi) {
		int ret2 = kvm_routes_commit(kvm, caller);

		ret = ret ? ret : ret2;
	}
	return ret;
}

void kvm_routes_free(struct kvm *kvm)
{
	free(kvm->routes);
	free(kvm->route_tbl);
	free(kvm->batches);
	kvm->routes = NULL;
	kvm->route_tbl = NULL;
	kvm->batches = NULL;
	kvm->nroutes = 0;
	kvm->route_tbl_cap = 0;
	kvm->nbatches = kvm->batches_cap = 0;
	kvm->routes_dirty = false;
}
