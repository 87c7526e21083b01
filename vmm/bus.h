/* bus.h: the MMIO bus. Devices register regions (base, length, allowed access sizes, ops, opaque); the vCPU
 * run loop dispatches KVM_EXIT_MMIO to it. Overlapping registrations are refused. Regions may be added and
 * removed while vCPUs run (PCI BAR moves), so lookups take a read lock. A guest access to no region, or of a
 * size the region does not allow (or not naturally aligned within the region), reads as zero / is ignored and
 * is logged (rate-limited): never fatal. Handlers run without the bus lock, so a handler may register or
 * unregister regions; the opaque of an unregistered region must stay valid until the vCPUs have stopped. */
#ifndef IVMM_BUS_H
#define IVMM_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include "vmm/compiler.h"

/* Allowed access sizes, OR-ed. */
#define MMIO_SZ_1 0x1
#define MMIO_SZ_2 0x2
#define MMIO_SZ_4 0x4
#define MMIO_SZ_8 0x8

struct mmio_ops {
	/* offset is relative to the region base; size is 1, 2, 4 or 8 and allowed by the region. */
	u64 (*read)(void *opaque, u64 offset, unsigned int size);
	void (*write)(void *opaque, u64 offset, u64 value, unsigned int size);
};

struct mmio_region {
	const char *name;
	u64 base;
	u64 len;
	unsigned int sizes;        /* MMIO_SZ_* mask */
	const struct mmio_ops *ops;
	void *opaque;
	struct mmio_region *next;  /* bus-private */
};

struct bus {
	pthread_rwlock_t lock;
	struct mmio_region *regions; /* sorted by base */
};

int __must_check bus_init(struct bus *bus);
void bus_destroy(struct bus *bus);
/* 0, -EINVAL (empty/wrapping range or no sizes: a host error line), -EEXIST (overlap: the message names both
 * regions; printed as a host error when why is NULL, else written into why[whylen] and not printed, for a
 * caller whose region a guest placed: it reports the clash itself, rate-limited). */
int __must_check bus_register(struct bus *bus, struct mmio_region *r, char *why, size_t whylen);
void bus_unregister(struct bus *bus, struct mmio_region *r);
/* Dispatch one guest access. data is little-endian, len 1..8. Returns 0 if a region handled it,
 * -ENOENT if no region covers it, -EINVAL for a disallowed size (read data zeroed in both cases). */
int bus_access(struct bus *bus, u64 addr, u8 *data, unsigned int len, bool is_write);

#endif
