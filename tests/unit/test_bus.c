/* test_bus.c: the MMIO bus: registration (sorted, overlaps and bad ranges refused with messages naming
 * both regions), dispatch with offsets relative to the region, little-endian data, access-size and
 * alignment rules, accesses to holes, and unregistration. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "vmm/bus.h"

struct rec {
	unsigned int reads, writes;
	u64 last_off, last_val;
	unsigned int last_size;
	u64 read_val;
};

static u64 rec_read(void *opaque, u64 off, unsigned int size)
{
	struct rec *r = opaque;

	r->reads++;
	r->last_off = off;
	r->last_size = size;
	return r->read_val;
}

static void rec_write(void *opaque, u64 off, u64 val, unsigned int size)
{
	struct rec *r = opaque;

	r->writes++;
	r->last_off = off;
	r->last_val = val;
	r->last_size = size;
}

static const struct mmio_ops rec_ops = { .read = rec_read, .write = rec_write };

static struct mmio_region region(const char *name, u64 base, u64 len, unsigned int sizes, struct rec *r)
{
	return (struct mmio_region){ .name = name, .base = base, .len = len, .sizes = sizes, .ops = &rec_ops,
				     .opaque = r };
}

Test(bus, register_keeps_regions_sorted)
{
	struct bus bus;
	struct rec a = { 0 }, b = { 0 }, c = { 0 };
	struct mmio_region ra = region("a", 0x3000, 0x1000, MMIO_SZ_4, &a);
	struct mmio_region rb = region("b", 0x1000, 0x1000, MMIO_SZ_4, &b);
	struct mmio_region rc = region("c", 0x2000, 0x1000, MMIO_SZ_4, &c);

	cr_assert_eq(bus_init(&bus), 0);
	cr_assert_eq(bus_register(&bus, &ra, NULL, 0), 0);
	cr_assert_eq(bus_register(&bus, &rb, NULL, 0), 0);
	cr_assert_eq(bus_register(&bus, &rc, NULL, 0), 0); /* exactly adjacent on both sides: no overlap */
	cr_assert_eq(bus.regions, &rb);
	cr_assert_eq(rb.next, &rc);
	cr_assert_eq(rc.next, &ra);
	cr_assert_null(ra.next);
	bus_destroy(&bus);
}

static void expect_overlap(u64 base, u64 len, const char *what)
{
	struct bus bus;
	struct rec a = { 0 }, b = { 0 }, n = { 0 };
	struct mmio_region ra = region("uart", 0x1000, 0x1000, MMIO_SZ_1, &a);
	struct mmio_region rb = region("gic", 0x4000, 0x2000, MMIO_SZ_4, &b);
	struct mmio_region rn = region("newdev", base, len, MMIO_SZ_4, &n);

	cr_assert_eq(bus_init(&bus), 0);
	cr_assert_eq(bus_register(&bus, &ra, NULL, 0), 0);
	cr_assert_eq(bus_register(&bus, &rb, NULL, 0), 0);
	cr_assert_eq(bus_register(&bus, &rn, NULL, 0), -EEXIST, "%s: [0x%llx, +0x%llx) must be refused", what,
		     (unsigned long long)base, (unsigned long long)len);
	/* The bus is unchanged. */
	cr_assert_eq(bus.regions, &ra);
	cr_assert_eq(ra.next, &rb);
	cr_assert_null(rb.next);
	fflush(stderr);
	bus_destroy(&bus);
}

Test(bus, overlap_refused_naming_both_regions, .init = cr_redirect_stderr)
{
	expect_overlap(0x1800, 0x100, "inside");
	cr_assert_stderr_eq_str("ivmm: error: bus: region newdev [0x1800-0x18ff] overlaps uart [0x1000-0x1fff]\n");
}

Test(bus, overlap_cases)
{
	expect_overlap(0x0, 0x1001, "tail into first");
	expect_overlap(0x1fff, 0x1, "last byte");
	expect_overlap(0x0, 0x10000, "covers all");
	expect_overlap(0x5fff, 0x10, "head of second from inside");
	expect_overlap(0x3000, 0x1001, "between into second");
	expect_overlap(0x4000, 0x2000, "same range");
}

Test(bus, bad_ranges_refused)
{
	struct bus bus;
	struct rec a = { 0 };
	struct mmio_region empty = region("empty", 0x1000, 0, MMIO_SZ_4, &a);
	struct mmio_region wrap = region("wrap", ~0ULL - 0xf, 0x20, MMIO_SZ_4, &a);
	struct mmio_region nosz = region("nosz", 0x1000, 0x10, 0, &a);
	struct mmio_region badsz = region("badsz", 0x1000, 0x10, 0x10, &a);
	struct mmio_region top = region("top", ~0ULL - 0xf, 0x10, MMIO_SZ_4, &a);

	cr_assert_eq(bus_init(&bus), 0);
	cr_assert_eq(bus_register(&bus, &empty, NULL, 0), -EINVAL);
	cr_assert_eq(bus_register(&bus, &wrap, NULL, 0), -EINVAL);
	cr_assert_eq(bus_register(&bus, &nosz, NULL, 0), -EINVAL);
	cr_assert_eq(bus_register(&bus, &badsz, NULL, 0), -EINVAL);
	cr_assert_null(bus.regions);
	/* A region ending at the very last address is fine. */
	cr_assert_eq(bus_register(&bus, &top, NULL, 0), 0);
	u8 d[4] = { 1, 2, 3, 4 };
	cr_assert_eq(bus_access(&bus, ~0ULL - 3, d, 4, true), 0);
	cr_assert_eq(a.last_off, 0xc);
	bus_destroy(&bus);
}

Test(bus, registering_twice_refused)
{
	struct bus bus;
	struct rec a = { 0 };
	struct mmio_region ra = region("a", 0x1000, 0x100, MMIO_SZ_4, &a);

	cr_assert_eq(bus_init(&bus), 0);
	cr_assert_eq(bus_register(&bus, &ra, NULL, 0), 0);
	cr_assert_eq(bus_register(&bus, &ra, NULL, 0), -EEXIST);
	cr_assert_null(ra.next);
	bus_destroy(&bus);
}

Test(bus, dispatch_offsets_and_little_endian_data)
{
	struct bus bus;
	struct rec a = { 0 }, b = { 0 };
	struct mmio_region ra = region("a", 0x1000, 0x1000, MMIO_SZ_1 | MMIO_SZ_2 | MMIO_SZ_4 | MMIO_SZ_8, &a);
	struct mmio_region rb = region("b", 0x8000, 0x100, MMIO_SZ_8, &b);
	u8 d[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };

	cr_assert_eq(bus_init(&bus), 0);
	cr_assert_eq(bus_register(&bus, &ra, NULL, 0), 0);
	cr_assert_eq(bus_register(&bus, &rb, NULL, 0), 0);

	cr_assert_eq(bus_access(&bus, 0x1010, d, 4, true), 0);
	cr_assert_eq(a.writes, 1);
	cr_assert_eq(a.last_off, 0x10);
	cr_assert_eq(a.last_val, 0x44332211);
	cr_assert_eq(a.last_size, 4);

	cr_assert_eq(bus_access(&bus, 0x8008, d, 8, true), 0);
	cr_assert_eq(b.last_off, 8);
	cr_assert_eq(b.last_val, 0x8877665544332211ULL);

	a.read_val = 0xa1b2c3d4e5f60718ULL;
	memset(d, 0xee, sizeof(d));
	cr_assert_eq(bus_access(&bus, 0x1ffe, d, 2, false), 0);
	cr_assert_eq(a.last_off, 0xffe);
	cr_assert_eq(d[0], 0x18);
	cr_assert_eq(d[1], 0x07);
	cr_assert_eq(d[2], 0xee, "bytes beyond the access are untouched");
	cr_assert_eq(b.writes, 1);
	bus_destroy(&bus);
}

Test(bus, size_and_alignment_rules)
{
	struct bus bus;
	struct rec a = { 0 };
	struct mmio_region ra = region("regs32", 0x1000, 0x100, MMIO_SZ_4, &a);
	u8 d[8];

	cr_assert_eq(bus_init(&bus), 0);
	cr_assert_eq(bus_register(&bus, &ra, NULL, 0), 0);
	a.read_val = 0xffffffff;
	memset(d, 0x5a, sizeof(d));
	cr_assert_eq(bus_access(&bus, 0x1000, d, 1, false), -EINVAL);
	cr_assert_eq(d[0], 0, "disallowed read reads as zero");
	cr_assert_eq(bus_access(&bus, 0x1000, d, 2, true), -EINVAL);
	cr_assert_eq(bus_access(&bus, 0x1000, d, 8, false), -EINVAL);
	cr_assert_eq(bus_access(&bus, 0x1002, d, 4, false), -EINVAL, "misaligned");
	cr_assert_eq(bus_access(&bus, 0x1000, d, 3, false), -EINVAL, "not a power of two");
	cr_assert_eq(bus_access(&bus, 0x1000, d, 0, false), -EINVAL);
	cr_assert_eq(bus_access(&bus, 0x1000, d, 9, false), -EINVAL);
	cr_assert_eq(a.reads + a.writes, 0, "the handler never saw a disallowed access");
	cr_assert_eq(bus_access(&bus, 0x10fc, d, 4, false), 0);
	cr_assert_eq(a.reads, 1);
	bus_destroy(&bus);
}

Test(bus, holes_and_straddling_accesses)
{
	struct bus bus;
	struct rec a = { 0 };
	struct mmio_region ra = region("a", 0x1000, 0x10, MMIO_SZ_1 | MMIO_SZ_8, &a);
	u8 d[8];

	cr_assert_eq(bus_init(&bus), 0);
	cr_assert_eq(bus_register(&bus, &ra, NULL, 0), 0);
	memset(d, 0x5a, sizeof(d));
	cr_assert_eq(bus_access(&bus, 0x0fff, d, 1, false), -ENOENT);
	cr_assert_eq(d[0], 0);
	cr_assert_eq(bus_access(&bus, 0x1010, d, 1, true), -ENOENT);
	cr_assert_eq(bus_access(&bus, 0x100c, d, 8, false), -ENOENT, "runs past the end of the region");
	cr_assert_eq(a.reads + a.writes, 0);
	cr_assert_eq(bus_access(&bus, 0x100f, d, 1, false), 0);
	bus_destroy(&bus);
}

Test(bus, unregister)
{
	struct bus bus;
	struct rec a = { 0 }, b = { 0 };
	struct mmio_region ra = region("a", 0x1000, 0x1000, MMIO_SZ_4, &a);
	struct mmio_region rb = region("b", 0x3000, 0x1000, MMIO_SZ_4, &b);
	struct mmio_region ra2 = region("a-moved", 0x1800, 0x1000, MMIO_SZ_4, &a);
	u8 d[4] = { 0 };

	cr_assert_eq(bus_init(&bus), 0);
	cr_assert_eq(bus_register(&bus, &ra, NULL, 0), 0);
	cr_assert_eq(bus_register(&bus, &rb, NULL, 0), 0);
	cr_assert_eq(bus_register(&bus, &ra2, NULL, 0), -EEXIST);
	bus_unregister(&bus, &ra);
	cr_assert_eq(bus_access(&bus, 0x1000, d, 4, false), -ENOENT);
	cr_assert_eq(bus_register(&bus, &ra2, NULL, 0), 0, "the range is free once unregistered");
	cr_assert_eq(bus_access(&bus, 0x1800, d, 4, false), 0);
	cr_assert_eq(a.last_off, 0);
	bus_unregister(&bus, &ra); /* not registered: no-op */
	cr_assert_eq(bus.regions, &ra2);
	cr_assert_eq(ra2.next, &rb);
	bus_destroy(&bus);
}

/* A handler may change the bus (a BAR move from a config-space write) without deadlocking. */
struct mover {
	struct bus *bus;
	struct mmio_region *self, *other;
};

static void mover_write(void *opaque, u64 off, u64 val, unsigned int size)
{
	struct mover *m = opaque;

	bus_unregister(m->bus, m->other);
	m->other->base = val;
	cr_assert_eq(bus_register(m->bus, m->other, NULL, 0), 0);
}

static const struct mmio_ops mover_ops = { .write = mover_write };

Test(bus, handler_may_move_regions, .timeout = 5)
{
	struct bus bus;
	struct rec b = { 0 };
	struct mover m = { &bus, NULL, NULL };
	struct mmio_region rm = { .name = "cfg", .base = 0x0, .len = 0x100, .sizes = MMIO_SZ_8, .ops = &mover_ops,
				  .opaque = &m };
	struct mmio_region rb = region("bar", 0x1000, 0x1000, MMIO_SZ_4, &b);
	u8 d[8] = { 0x00, 0x50, 0, 0, 0, 0, 0, 0 };

	m.self = &rm;
	m.other = &rb;
	cr_assert_eq(bus_init(&bus), 0);
	cr_assert_eq(bus_register(&bus, &rm, NULL, 0), 0);
	cr_assert_eq(bus_register(&bus, &rb, NULL, 0), 0);
	cr_assert_eq(bus_access(&bus, 0x0, d, 8, true), 0);
	cr_assert_eq(rb.base, 0x5000);
	cr_assert_eq(bus_access(&bus, 0x5004, d, 4, false), 0);
	cr_assert_eq(b.last_off, 4);
	bus_destroy(&bus);
}
