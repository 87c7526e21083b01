/* test_pci.c: the generic PCI pieces: config image write masks (RO/RW/W1C), BAR emulation and sizing
 * (32/64-bit, prefetchable, I/O hidden), the capability walk (order, loops, bad pointers), window allocation
 * (natural alignment, largest first, all-or-nothing, exhaustion) and ECAM decode/dispatch (absent devices and
 * other buses read all-ones, alignment rules). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <string.h>
#include "boot/layout.h"
#include "devices/pci_alloc.h"
#include "devices/pci_cfg.h"
#include "devices/pci_host.h"
#include "vmm/bus.h"
#include "tests/unit/cr_stderr.h"

static struct pci_cfg cfg;

/* ---- config image ---- */

Test(pci_cfg, write_masks_ro_rw_w1c)
{
	pci_cfg_init(&cfg);
	pci_cfg_set(&cfg, 0x40, 4, 0x12345678);
	pci_cfg_set_wmask(&cfg, 0x40, 4, 0x0000ff00);
	pci_cfg_set_w1c(&cfg, 0x40, 4, 0x00ff0000);
	pci_cfg_write(&cfg, 0x40, 4, 0xaaf0bbcc);
	/* byte 0 read-only (0x78), byte 1 takes 0xbb, byte 2: 0x34 & ~0xf0 = 0x04, byte 3 read-only. */
	cr_assert_eq(pci_cfg_get(&cfg, 0x40, 4), 0x1204bb78);
	/* Sub-dword writes only touch their bytes. */
	pci_cfg_write(&cfg, 0x41, 1, 0x11);
	cr_assert_eq(pci_cfg_get(&cfg, 0x40, 4), 0x12041178);
	cr_assert_eq(pci_cfg_get(&cfg, 0x42, 2), 0x1204);
}

Test(pci_cfg, access_rules)
{
	cr_assert(pci_cfg_access_ok(0, 4));
	cr_assert(pci_cfg_access_ok(0x102, 2));
	cr_assert(pci_cfg_access_ok(0xfff, 1));
	cr_assert_not(pci_cfg_access_ok(0x2, 4));
	cr_assert_not(pci_cfg_access_ok(0x1, 2));
	cr_assert_not(pci_cfg_access_ok(0x0, 8));
	cr_assert_not(pci_cfg_access_ok(0x0, 3));
	cr_assert_not(pci_cfg_access_ok(0x1000, 1));
}

/* ---- BARs ---- */

static u32 size_probe(unsigned int reg)
{
	u32 saved = pci_cfg_get(&cfg, reg, 4), v;

	pci_cfg_write(&cfg, reg, 4, 0xffffffff);
	v = pci_cfg_get(&cfg, reg, 4);
	pci_cfg_write(&cfg, reg, 4, saved);
	return v;
}

Test(pci_cfg, bar32_sizing)
{
	struct pci_bar b = { .size = SZ_1M };

	pci_cfg_init(&cfg);
	cr_assert_eq(pci_cfg_bar_setup(&cfg, 0, &b, 0x20100000), 0);
	cr_assert_eq(pci_cfg_get(&cfg, PCI_BASE_ADDRESS_0, 4), 0x20100000);
	cr_assert_eq(size_probe(PCI_BASE_ADDRESS_0), 0xfff00000);
	cr_assert_eq(pci_bar_size_from_probe(0xfff00000, 0, false), SZ_1M);
	/* Restored, and the guest may move it; low bits (type) stay read-only. */
	cr_assert_eq(pci_cfg_bar_addr(&cfg, 0, &b), 0x20100000);
	pci_cfg_write(&cfg, PCI_BASE_ADDRESS_0, 4, 0x30000fff);
	cr_assert_eq(pci_cfg_get(&cfg, PCI_BASE_ADDRESS_0, 4), 0x30000000);
	cr_assert_eq(pci_cfg_bar_addr(&cfg, 0, &b), 0x30000000);
	/* A neighbouring unimplemented BAR sizes to 0. */
	cr_assert_eq(size_probe(PCI_BASE_ADDRESS_1), 0);
}

Test(pci_cfg, bar64_prefetch_sizing)
{
	struct pci_bar b = { .size = 16 * SZ_1G, .is64 = true, .prefetch = true };
	u32 lo, hi;

	pci_cfg_init(&cfg);
	cr_assert_eq(pci_cfg_bar_setup(&cfg, 2, &b, 0x8400000000ULL), 0);
	cr_assert_eq(pci_cfg_get(&cfg, PCI_BASE_ADDRESS_2, 4), 0x0000000c); /* 64-bit | prefetchable */
	cr_assert_eq(pci_cfg_get(&cfg, PCI_BASE_ADDRESS_3, 4), 0x84);
	lo = size_probe(PCI_BASE_ADDRESS_2);
	hi = size_probe(PCI_BASE_ADDRESS_3);
	cr_assert_eq(lo, 0x0000000c);
	cr_assert_eq(hi, 0xfffffffc);
	cr_assert_eq(pci_bar_size_from_probe(lo, hi, true), 16 * SZ_1G);
	/* Bits below the size are not writable in the upper half either. */
	pci_cfg_write(&cfg, PCI_BASE_ADDRESS_3, 4, 0x8b);
	cr_assert_eq(pci_cfg_bar_addr(&cfg, 2, &b), 0x8800000000ULL);
}

Test(pci_cfg, bar_decode_and_bad_setups)
{
	struct pci_bar b;

	pci_bar_decode(0x0000000c, &b);
	cr_assert(b.is64 && b.prefetch && !b.io);
	pci_bar_decode(0x00000001, &b);
	cr_assert(b.io && !b.is64 && !b.prefetch);
	pci_bar_decode(0x00000000, &b);
	cr_assert(!b.io && !b.is64 && !b.prefetch);

	pci_cfg_init(&cfg);
	/* An I/O BAR is hidden: reads 0, all-ones sizes to 0. */
	b = (struct pci_bar){ .size = 256, .io = true };
	cr_assert_eq(pci_cfg_bar_setup(&cfg, 1, &b, 0), 0);
	cr_assert_eq(size_probe(PCI_BASE_ADDRESS_1), 0);
	b = (struct pci_bar){ .size = 3000 };
	cr_assert_eq(pci_cfg_bar_setup(&cfg, 0, &b, 0), -EINVAL);          /* not a power of two */
	b = (struct pci_bar){ .size = 8 };
	cr_assert_eq(pci_cfg_bar_setup(&cfg, 0, &b, 0), -EINVAL);          /* below 16 bytes */
	b = (struct pci_bar){ .size = SZ_1M };
	cr_assert_eq(pci_cfg_bar_setup(&cfg, 0, &b, 0x20080000), -EINVAL); /* misaligned */
	cr_assert_eq(pci_cfg_bar_setup(&cfg, 0, &b, 0x100000000ULL), -EINVAL); /* 32-bit above 4 GiB */
	b = (struct pci_bar){ .size = SZ_1M, .is64 = true };
	cr_assert_eq(pci_cfg_bar_setup(&cfg, 5, &b, 0), -EINVAL);          /* 64-bit in the last slot */
}

/* ---- capabilities ---- */

static u8 raw[PCI_CFG_SPACE_SIZE];

static void raw_caps(const u8 (*list)[2], unsigned int n)
{
	memset(raw, 0, sizeof(raw));
	raw[PCI_STATUS] = PCI_STATUS_CAP_LIST;
	raw[PCI_CAPABILITY_LIST] = n ? list[0][1] : 0;
	for (unsigned int i = 0; i < n; i++) {
		raw[list[i][1]] = list[i][0];
		raw[list[i][1] + 1] = i + 1 < n ? list[i + 1][1] : 0;
	}
}

Test(pci_cfg, cap_walk_order)
{
	static const u8 list[][2] = { { PCI_CAP_ID_PM, 0x40 }, { PCI_CAP_ID_MSI, 0x50 }, { PCI_CAP_ID_EXP, 0x80 },
				      { PCI_CAP_ID_MSIX, 0x70 } };
	struct pci_cap caps[8];

	raw_caps(list, 4);
	cr_assert_eq(pci_cap_walk(raw, sizeof(raw), caps, 8), 4);
	for (unsigned int i = 0; i < 4; i++) {
		cr_assert_eq(caps[i].id, list[i][0]);
		cr_assert_eq(caps[i].off, list[i][1]);
	}
	/* Truncated to max. */
	cr_assert_eq(pci_cap_walk(raw, sizeof(raw), caps, 2), 2);
	/* No CAP_LIST bit: no capabilities whatever the pointer says. */
	raw[PCI_STATUS] = 0;
	cr_assert_eq(pci_cap_walk(raw, sizeof(raw), caps, 8), 0);
	/* The low two bits of pointers are reserved and ignored. */
	raw_caps(list, 2);
	raw[PCI_CAPABILITY_LIST] |= 3;
	cr_assert_eq(pci_cap_walk(raw, sizeof(raw), caps, 8), 2);
	cr_assert_eq(caps[0].off, 0x40);
}

Test(pci_cfg, cap_walk_loop_and_bad_pointer)
{
	static const u8 list[][2] = { { PCI_CAP_ID_PM, 0x40 }, { PCI_CAP_ID_MSI, 0x50 } };
	struct pci_cap caps[8];

	raw_caps(list, 2);
	raw[0x51] = 0x40; /* MSI points back to PM */
	cr_assert_eq(pci_cap_walk(raw, sizeof(raw), caps, 8), -ELOOP);
	raw_caps(list, 2);
	raw[0x51] = 0x10; /* into the header */
	cr_assert_eq(pci_cap_walk(raw, sizeof(raw), caps, 8), -EINVAL);
	raw_caps(list, 1);
	raw[PCI_CAPABILITY_LIST] = 0xff & ~3; /* 0xfc: id fits, next byte at 0xfd still inside */
	raw[0xfc] = PCI_CAP_ID_VNDR;
	cr_assert_eq(pci_cap_walk(raw, sizeof(raw), caps, 8), 1);
	/* A device that reads all-ones ends the walk (id 0xff). */
	raw_caps(list, 2);
	raw[0x50] = 0xff;
	cr_assert_eq(pci_cap_walk(raw, sizeof(raw), caps, 8), 1);
}

Test(pci_cfg, link_caps_builds_virtual_list)
{
	struct pci_cap keep[] = { { PCI_CAP_ID_MSI, 0x50 }, { PCI_CAP_ID_MSIX, 0x70 } };
	struct pci_cap caps[4];

	pci_cfg_init(&cfg);
	pci_cfg_link_caps(&cfg, keep, 2);
	cr_assert_eq(pci_cfg_get(&cfg, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, PCI_STATUS_CAP_LIST);
	pci_cfg_set(&cfg, 0x50, 1, PCI_CAP_ID_MSI);
	pci_cfg_set(&cfg, 0x70, 1, PCI_CAP_ID_MSIX);
	cr_assert_eq(pci_cap_walk(cfg.val, PCI_CFG_SPACE_SIZE, caps, 4), 2);
	cr_assert_eq(caps[1].off, 0x70);
	cr_assert_eq(pci_cfg_get(&cfg, 0x71, 1), 0);
	pci_cfg_link_caps(&cfg, keep, 0);
	cr_assert_eq(pci_cfg_get(&cfg, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);
	cr_assert_eq(pci_cap_walk(cfg.val, PCI_CFG_SPACE_SIZE, caps, 4), 0);
}

Test(pci_cfg, msi_cap_len)
{
	cr_assert_eq(pci_msi_cap_len(0), 10);
	cr_assert_eq(pci_msi_cap_len(PCI_MSI_FLAGS_64BIT), 14);
	cr_assert_eq(pci_msi_cap_len(PCI_MSI_FLAGS_MASKBIT), 20);
	cr_assert_eq(pci_msi_cap_len(PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT), 24);
}

/* ---- window allocation ---- */

Test(pci_alloc, natural_alignment)
{
	struct pci_window w;
	u64 a;

	pci_window_init(&w, "w", 0x20000000, 0x20000000);
	cr_assert_eq(pci_window_alloc(&w, 0x1000, &a), 0);
	cr_assert_eq(a, 0x20000000);
	cr_assert_eq(pci_window_alloc(&w, SZ_1M, &a), 0);
	cr_assert_eq(a, 0x20100000); /* skips to the next 1 MiB boundary */
	cr_assert_eq(pci_window_alloc(&w, 0x10, &a), 0);
	cr_assert_eq(a, 0x20200000);
	cr_assert_eq(pci_window_alloc(&w, 0x3000, &a), -EINVAL);
	cr_assert_eq(pci_window_alloc(&w, 0, &a), -EINVAL);
	/* 256 MiB aligns to 0x30000000, leaving exactly 256 MiB: fits, then nothing of that size does. */
	cr_assert_eq(pci_window_alloc(&w, 0x10000000, &a), 0);
	cr_assert_eq(a, 0x30000000);
	cr_assert_eq(pci_window_alloc(&w, 0x10, &a), -ENOSPC);
	cr_assert(pci_window_contains(&w, 0x3ffffff0, 0x10));
	cr_assert_not(pci_window_contains(&w, 0x3ffffff0, 0x20));
	cr_assert_not(pci_window_contains(&w, 0x1ffffff0, 0x10));
}

Test(pci_alloc, bars_largest_first_by_window)
{
	struct pci_windows ws;
	struct pci_bar bars[PCI_NUM_BARS] = {
		[0] = { .size = 0x1000 },
		[1] = { .size = SZ_1M },
		[2] = { .size = 16 * SZ_1M, .is64 = true, .prefetch = true },
		[4] = { .size = 0x100, .io = true },
		[5] = { .size = SZ_64K, .is64 = false, .prefetch = true },
	};
	u64 addrs[PCI_NUM_BARS];
	int bad = -1;

	pci_windows_init_default(&ws);
	cr_assert_eq(pci_alloc_bars(&ws, bars, addrs, &bad), 0);
	cr_assert_eq(addrs[1], LAYOUT_PCI_MMIO32_BASE);
	cr_assert_eq(addrs[5], LAYOUT_PCI_MMIO32_BASE + SZ_1M);
	cr_assert_eq(addrs[0], LAYOUT_PCI_MMIO32_BASE + SZ_1M + SZ_64K);
	cr_assert_eq(addrs[2], LAYOUT_PCI_MMIO64_BASE);
	cr_assert_eq(addrs[3], 0);
	cr_assert_eq(addrs[4], 0); /* I/O: not placed */
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
		if (addrs[i])
			cr_assert(IS_ALIGNED(addrs[i], bars[i].size));
}

Test(pci_alloc, bar_that_does_not_fit_leaves_windows_unchanged)
{
	struct pci_windows ws;
	struct pci_bar bars[PCI_NUM_BARS] = {
		[0] = { .size = SZ_1M },
		[1] = { .size = SZ_1G }, /* 32-bit non-prefetchable 1 GiB: the 512 MiB window cannot hold it */
	};
	u64 addrs[PCI_NUM_BARS];
	int bad = -1;

	pci_windows_init_default(&ws);
	cr_assert_eq(pci_alloc_bars(&ws, bars, addrs, &bad), -ENOSPC);
	cr_assert_eq(bad, 1);
	cr_assert_eq(ws.mmio32.next, LAYOUT_PCI_MMIO32_BASE);
	/* Exhaustion across devices: 512 MiB fits once, the next 1 MiB does not, and the first placement stays. */
	struct pci_bar big[PCI_NUM_BARS] = { [0] = { .size = 512 * SZ_1M } };

	cr_assert_eq(pci_alloc_bars(&ws, big, addrs, &bad), 0);
	cr_assert_eq(addrs[0], LAYOUT_PCI_MMIO32_BASE);
	cr_assert_eq(pci_alloc_bars(&ws, bars, addrs, &bad), -ENOSPC);
	cr_assert_eq(bad, 1);
	cr_assert_eq(addrs[0], 0);
}

Test(pci_alloc, release_gives_space_back_last_in_first_out)
{
	struct pci_windows ws, a0, a1, b0, b1;
	struct pci_bar da[PCI_NUM_BARS] = { [0] = { .size = SZ_1M },
					    [2] = { .size = 16 * SZ_1M, .is64 = true, .prefetch = true } };
	struct pci_bar db[PCI_NUM_BARS] = { [0] = { .size = SZ_64K } };
	u64 addrs[PCI_NUM_BARS];
	int bad = -1;

	pci_windows_init_default(&ws);
	a0 = ws;
	cr_assert_eq(pci_alloc_bars(&ws, da, addrs, &bad), 0);
	a1 = ws;
	b0 = ws;
	cr_assert_eq(pci_alloc_bars(&ws, db, addrs, &bad), 0);
	b1 = ws;
	cr_assert_eq(addrs[0], LAYOUT_PCI_MMIO32_BASE + SZ_1M);
	/* Out of order: A's 32-bit space is under B's and stays used; its 64-bit space (nothing after it) goes. */
	cr_assert_not(pci_windows_release(&ws, &a0, &a1));
	cr_assert_eq(ws.mmio32.next, b1.mmio32.next);
	cr_assert_eq(ws.mmio64.next, LAYOUT_PCI_MMIO64_BASE);
	/* In reverse order everything comes back, and the same placement is made again. */
	cr_assert(pci_windows_release(&ws, &b0, &b1));
	cr_assert_eq(ws.mmio32.next, a1.mmio32.next);
	cr_assert(pci_windows_release(&ws, &a0, &a1));
	cr_assert_eq(ws.mmio32.next, LAYOUT_PCI_MMIO32_BASE);
	cr_assert_eq(ws.mmio64.next, LAYOUT_PCI_MMIO64_BASE);
	cr_assert_eq(pci_alloc_bars(&ws, da, addrs, &bad), 0);
	cr_assert_eq(addrs[0], LAYOUT_PCI_MMIO32_BASE);
	cr_assert_eq(addrs[2], LAYOUT_PCI_MMIO64_BASE);
}

/* ---- ECAM ---- */

struct fake_fn {
	struct pci_dev pdev;
	u32 last_off, last_size, last_val;
	unsigned int reads, writes;
};

static u32 fn_read(struct pci_dev *d, u32 off, u32 size)
{
	struct fake_fn *f = container_of(d, struct fake_fn, pdev);

	f->reads++;
	f->last_off = off;
	f->last_size = size;
	return 0xabcd0000 | off;
}

static void fn_write(struct pci_dev *d, u32 off, u32 size, u32 val)
{
	struct fake_fn *f = container_of(d, struct fake_fn, pdev);

	f->writes++;
	f->last_off = off;
	f->last_size = size;
	f->last_val = val;
}

static const struct pci_dev_ops fn_ops = { .cfg_read = fn_read, .cfg_write = fn_write };

Test(pci_host, ecam_decode)
{
	struct pci_ecam_addr a;

	pci_ecam_decode(0x0a9ab123, &a);
	cr_assert_eq(a.bus, 0xa9);
	cr_assert_eq(a.slot, 0x15);
	cr_assert_eq(a.fn, 3);
	cr_assert_eq(a.reg, 0x123);
}

Test(pci_host, dispatch_and_master_abort, .init = cr_redirect_stderr)
{
	struct bus bus;
	struct pci_host h;
	struct fake_fn f1 = { .pdev = { .ops = &fn_ops, .name = "f1" } };
	struct fake_fn f2 = { .pdev = { .ops = &fn_ops, .name = "f2" } };
	u8 d[4];

	cr_assert_eq(bus_init(&bus), 0);
	cr_assert_eq(pci_host_init(&h, &bus, LAYOUT_ECAM_BASE, LAYOUT_ECAM_SIZE), 0);
	cr_assert_eq(h.nr_buses, 256);
	cr_assert_eq(pci_host_add(&h, &f1.pdev, -1), 0);
	cr_assert_eq(f1.pdev.devfn, PCI_DEVFN(1, 0));
	cr_assert_eq(pci_host_add(&h, &f2.pdev, -1), 0);
	cr_assert_eq(f2.pdev.devfn, PCI_DEVFN(2, 0));
	cr_assert_eq(pci_dev_rid(&f2.pdev), 0x10);

	/* 00:02.0 register 0x10, 4 bytes, through the MMIO bus. */
	cr_assert_eq(bus_access(&bus, LAYOUT_ECAM_BASE + (2 << 15) + 0x10, d, 4, false), 0);
	cr_assert_eq(d[0] | d[1] << 8 | d[2] << 16 | (u32)d[3] << 24, 0xabcd0010);
	cr_assert_eq(f2.reads, 1);
	cr_assert_eq(f1.reads, 0);
	/* 2-byte write to 00:01.0 register 0x04. */
	d[0] = 0x06;
	d[1] = 0x00;
	cr_assert_eq(bus_access(&bus, LAYOUT_ECAM_BASE + (1 << 15) + 0x04, d, 2, true), 0);
	cr_assert_eq(f1.writes, 1);
	cr_assert_eq(f1.last_off, 4);
	cr_assert_eq(f1.last_size, 2);
	cr_assert_eq(f1.last_val, 6);
	/* Empty slot 0, function 1 of slot 1, bus 1: all-ones, nothing dispatched. */
	cr_assert_eq(pci_host_ecam_read(&h, 0, 4), 0xffffffff);
	cr_assert_eq(pci_host_ecam_read(&h, (1 << 15) | (1 << 12), 2), 0xffff);
	cr_assert_eq(pci_host_ecam_read(&h, (1 << 20) | (1 << 15), 1), 0xff);
	pci_host_ecam_write(&h, (1 << 20) | (1 << 15), 0, 4);
	cr_assert_eq(f1.reads + f1.writes, 1);
	/* Unaligned 2-byte read inside a function: all-ones, not dispatched. */
	cr_assert_eq(pci_host_ecam_read(&h, (1 << 15) | 0x3, 2), 0xffff);
	cr_assert_eq(f1.reads, 0);
	/* Slots: taken, explicit, full. */
	struct fake_fn f3 = { .pdev = { .ops = &fn_ops, .name = "f3" } };

	cr_assert_eq(pci_host_add(&h, &f3.pdev, 2), -EBUSY);
	cr_assert_eq(pci_host_add(&h, &f3.pdev, 7), 0);
	cr_assert_eq(f3.pdev.devfn, PCI_DEVFN(7, 0));
	pci_host_remove(&h, &f3.pdev);
	cr_assert_eq(pci_host_ecam_read(&h, 7 << 15, 4), 0xffffffff);

	/* Windows: where BARs may decode. */
	cr_assert(pci_host_window_ok(&h, LAYOUT_PCI_MMIO32_BASE, SZ_1M));
	cr_assert(pci_host_window_ok(&h, LAYOUT_PCI_MMIO64_BASE + SZ_1G, SZ_1M));
	cr_assert_not(pci_host_window_ok(&h, LAYOUT_RAM_BASE, SZ_1M));
	cr_assert_not(pci_host_window_ok(&h, LAYOUT_PCI_MMIO32_BASE + LAYOUT_PCI_MMIO32_SIZE - SZ_64K, SZ_1M));

	pci_host_destroy(&h);
	cr_assert_eq(bus_access(&bus, LAYOUT_ECAM_BASE + (2 << 15), d, 4, false), -ENOENT);
	bus_destroy(&bus);
}

Test(pci_host, full_bus, .init = cr_redirect_stderr)
{
	struct pci_host h;
	struct fake_fn fns[PCI_HOST_SLOTS];

	cr_assert_eq(pci_host_init(&h, NULL, LAYOUT_ECAM_BASE, 16 * SZ_1M), 0);
	cr_assert_eq(h.nr_buses, 16);
	for (unsigned int i = 1; i < PCI_HOST_SLOTS; i++) {
		fns[i] = (struct fake_fn){ .pdev = { .ops = &fn_ops, .name = "f" } };
		cr_assert_eq(pci_host_add(&h, &fns[i].pdev, -1), 0);
	}
	fns[0] = (struct fake_fn){ .pdev = { .ops = &fn_ops, .name = "extra" } };
	cr_assert_eq(pci_host_add(&h, &fns[0].pdev, -1), -ENOSPC);
	/* A slot beyond the bus is refused with a message naming it. */
	cr_assert_eq(pci_host_add(&h, &fns[0].pdev, PCI_HOST_SLOTS), -EINVAL);
	pci_host_destroy(&h);
	cr_assert_eq(pci_host_init(&h, NULL, LAYOUT_ECAM_BASE, SZ_1M + 4096), -EINVAL);
	char out[2048];

	cr_stderr_read(out, sizeof(out));
	cr_assert(strstr(out, "pci: slot 32 for extra is beyond the last slot (31)") != NULL, "%s", out);
}
