/* bus.c: the MMIO bus (see bus.h). Regions live on a singly linked list sorted by base address; the list is
 * short (a handful of on-board devices plus a few BARs per passthrough device), so a linear walk is cheap and
 * keeps registration, overlap checks and lookup obviously correct.
 *
 * Locking: the list is protected by a rwlock. bus_access() looks the region up under the read lock, copies
 * what it needs (ops, opaque, base) and drops the lock before calling the handler, so a handler may itself
 * register or unregister regions (a PCI config write that moves a BAR) without deadlocking. The price: after
 * bus_unregister() returns, a handler already running on another vCPU may still finish; the region's opaque
 * must therefore stay valid until its device is destroyed, which happens after every vCPU has stopped. */
#include <errno.h>
#include <string.h>
#include <stdio.h>
#include "vmm/bus.h"
#include "vmm/log.h"

int bus_init(struct bus *bus)
{
	int ret;

	bus->regions = NULL;
	ret = pthread_rwlock_init(&bus->lock, NULL);
	if (ret) {
		pr_err("bus: cannot initialise lock: %s", strerror(ret));
		return -ret;
	}
	return 0;
}

void bus_destroy(struct bus *bus)
{
	/* Regions belong to their devices: only unlink them. */
	bus->regions = NULL;
	pthread_rwlock_destroy(&bus->lock);
}

/* Last byte of a region (its end is inclusive so a region may end at 2^64 - 1). */
static u64 region_last(const struct mmio_region *r)
{
	return r->base + (r->len - 1);
}

int bus_register(struct bus *bus, struct mmio_region *r, char *why, size_t whylen)
{
	struct mmio_region **pp, *cur;
	const char *name = r->name ? r->name : "(unnamed)";

	if (!r->len || region_last(r) < r->base) {
		pr_err("bus: region %s at 0x%llx: length 0x%llx is empty or wraps", name,
		       (unsigned long long)r->base, (unsigned long long)r->len);
		return -EINVAL;
	}
	if (!r->sizes || (r->sizes & ~(unsigned int)(MMIO_SZ_1 | MMIO_SZ_2 | MMIO_SZ_4 | MMIO_SZ_8)) || !r->ops) {
		pr_err("bus: region %s at 0x%llx: no valid access sizes (0x%x) or no ops", name,
		       (unsigned long long)r->base, r->sizes);
		return -EINVAL;
	}

	pthread_rwlock_wrlock(&bus->lock);
	for (pp = &bus->regions; (cur = *pp); pp = &cur->next) {
		if (cur == r) {
			pthread_rwlock_unlock(&bus->lock);
			pr_err("bus: region %s registered twice", name);
			return -EEXIST;
		}
		if (cur->base <= region_last(r) && r->base <= region_last(cur)) {
			char msg[192];

			snprintf(msg, sizeof(msg), "region %s [0x%llx-0x%llx] overlaps %s [0x%llx-0x%llx]", name,
				 (unsigned long long)r->base, (unsigned long long)region_last(r),
				 cur->name ? cur->name : "(unnamed)", (unsigned long long)cur->base,
				 (unsigned long long)region_last(cur));
			pthread_rwlock_unlock(&bus->lock);
			if (why)
				snprintf(why, whylen, "%s", msg);
			else
				pr_err("bus: %s", msg);
			return -EEXIST;
		}
		/* Sorted and disjoint: a region starting above r->base that does not overlap r starts above its
		 * last byte, and so does every region after it. */
		if (cur->base > r->base)
			break;
	}
	r->next = cur;
	*pp = r;
	pthread_rwlock_unlock(&bus->lock);
	return 0;
}

void bus_unregister(struct bus *bus, struct mmio_region *r)
{
	struct mmio_region **pp;

	pthread_rwlock_wrlock(&bus->lock);
	for (pp = &bus->regions; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			r->next = NULL;
			break;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
}

static u64 le_load(const u8 *p, unsigned int len)
{
	u64 v = 0;

	for (unsigned int i = 0; i < len; i++)
		v |= (u64)p[i] << (8 * i);
	return v;
}

static void le_store(u8 *p, u64 v, unsigned int len)
{
	for (unsigned int i = 0; i < len; i++)
		p[i] = (u8)(v >> (8 * i));
}

int bus_access(struct bus *bus, u64 addr, u8 *data, unsigned int len, bool is_write)
{
	const struct mmio_ops *ops = NULL;
	const char *name = NULL;
	void *opaque = NULL;
	unsigned int sizes = 0;
	u64 base = 0;
	struct mmio_region *r;

	if (len < 1 || len > 8) {
		log_guest("MMIO %s of %u bytes at 0x%llx: impossible size", is_write ? "write" : "read", len,
			  (unsigned long long)addr);
		return -EINVAL;
	}

	pthread_rwlock_rdlock(&bus->lock);
	for (r = bus->regions; r && r->base <= addr; r = r->next) {
		if (addr <= region_last(r)) {
			/* The whole access must be inside the region. */
			if (len - 1 <= region_last(r) - addr) {
				ops = r->ops;
				opaque = r->opaque;
				sizes = r->sizes;
				base = r->base;
				name = r->name;
			}
			break;
		}
	}
	pthread_rwlock_unlock(&bus->lock);

	if (!ops) {
		log_guest("MMIO %s of %u bytes at 0x%llx: no device there", is_write ? "write" : "read", len,
			  (unsigned long long)addr);
		if (!is_write)
			memset(data, 0, len);
		return -ENOENT;
	}
	/* Allowed sizes are powers of two; accesses must also be naturally aligned within the region. */
	if ((len & (len - 1)) || !(sizes & len) || ((addr - base) & (len - 1))) {
		log_guest("MMIO %s of %u bytes at 0x%llx (%s + 0x%llx): access size or alignment not allowed",
			  is_write ? "write" : "read", len, (unsigned long long)addr, name ? name : "?",
			  (unsigned long long)(addr - base));
		if (!is_write)
			memset(data, 0, len);
		return -EINVAL;
	}
	if (is_write) {
		if (ops->write)
			ops->write(opaque, addr - base, le_load(data, len), len);
	} else {
		u64 v = ops->read ? ops->read(opaque, addr - base, len) : 0;

		le_store(data, v, len);
	}
	return 0;
}
