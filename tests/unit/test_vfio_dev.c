/* test_vfio_dev.c: VFIO cdev device layer: BDF parsing, BDF -> cdev resolution against a fake sysfs tree
 * in a temp dir (every error message asserted), open errors, region info capability-chain parsing
 * (sparse mmap, MSI-X mappable, unknown caps, malformed chains), and the wrappers over the fake backend
 * (bind/attach messages, region I/O bounds, config space, mmap rules, irqs, reset). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "devices/vfio_dev.h"
#include "tests/unit/fake_iommufd.h"
#include "tests/unit/fake_vfio.h"

static char root[64]; /* per-test temp dir (Criterion runs each test in its own process) */

static void mk(const char *fmt, const char *a)
{
	char p[512];

	snprintf(p, sizeof(p), fmt, root, a);
	cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s: %s", p, strerror(errno));
}

static void sys_setup(void)
{
	cr_redirect_stderr();
	snprintf(root, sizeof(root), "/tmp/ivmm-vfio-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	mk("%s/sys%s", "");
	mk("%s/sys/bus%s", "");
	mk("%s/sys/bus/pci%s", "");
	mk("%s/sys/bus/pci/devices%s", "");
	mk("%s/sys/bus/pci/drivers%s", "");
	mk("%s/dev%s", "");
	mk("%s/dev/vfio%s", "");
	mk("%s/dev/vfio/devices%s", "");
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void sys_teardown(void)
{
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(vfio_sysfs, .init = sys_setup, .fini = sys_teardown);

static void add_dev(const char *bdf, const char *driver)
{
	char p[512], t[256];

	mk("%s/sys/bus/pci/devices/%s", bdf);
	if (driver) {
		snprintf(p, sizeof(p), "%s/sys/bus/pci/devices/%s/driver", root, bdf);
		snprintf(t, sizeof(t), "../../../bus/pci/drivers/%s", driver);
		cr_assert_eq(symlink(t, p), 0);
	}
}

static void add_cdev(const char *bdf, const char *name, bool node)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/sys/bus/pci/devices/%s/vfio-dev", root, bdf);
	mkdir(p, 0755);
	if (name) {
		snprintf(p, sizeof(p), "%s/sys/bus/pci/devices/%s/vfio-dev/%s", root, bdf, name);
		cr_assert_eq(mkdir(p, 0755), 0);
	}
	if (node) {
		snprintf(p, sizeof(p), "%s/dev/vfio/devices/%s", root, name);
		int fd = open(p, O_CREAT | O_RDWR, 0600);
		cr_assert(fd >= 0);
		close(fd);
	}
}

static int resolve(const char *bdf, char *path, char *err)
{
	char s[128], d[128];

	snprintf(s, sizeof(s), "%s/sys", root);
	snprintf(d, sizeof(d), "%s/dev", root);
	return vfio_resolve_cdev(s, d, bdf, path, 256, err, 512);
}

static void expect_err(const char *got, const char *fmt)
{
	char want[1024];

	/* fmt uses %1$s for the temp root. */
	snprintf(want, sizeof(want), fmt, root);
	cr_assert_str_eq(got, want);
}

Test(vfio_sysfs, bdf_parsing)
{
	char out[16];

	cr_assert_eq(vfio_parse_bdf("0000:00:01.0", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "0000:00:01.0");
	cr_assert_eq(vfio_parse_bdf("00:1f.7", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "0000:00:1f.7");
	cr_assert_eq(vfio_parse_bdf("ABCD:EF:0A.1", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "abcd:ef:0a.1");
	cr_assert_eq(vfio_parse_bdf("00:20.0", out, sizeof(out)), -EINVAL, "device > 0x1f");
	cr_assert_eq(vfio_parse_bdf("00:01.8", out, sizeof(out)), -EINVAL, "function > 7");
	cr_assert_eq(vfio_parse_bdf("0:01.0", out, sizeof(out)), -EINVAL);
	cr_assert_eq(vfio_parse_bdf("0000:00:01", out, sizeof(out)), -EINVAL);
	cr_assert_eq(vfio_parse_bdf("0000-00:01.0", out, sizeof(out)), -EINVAL);
	cr_assert_eq(vfio_parse_bdf("00:0g.0", out, sizeof(out)), -EINVAL);
	cr_assert_eq(vfio_parse_bdf("", out, sizeof(out)), -EINVAL);
}

Test(vfio_sysfs, resolves_bound_device_to_its_cdev)
{
	char path[256], err[512] = "";

	add_dev("0000:00:01.0", "vfio-pci");
	add_cdev("0000:00:01.0", "vfio3", true);
	cr_assert_eq(resolve("00:01.0", path, err), 0, "%s", err);
	expect_err(path, "%1$s/dev/vfio/devices/vfio3");
}

Test(vfio_sysfs, malformed_bdf)
{
	char path[256], err[512];

	cr_assert_eq(resolve("00:1.0", path, err), -EINVAL);
	cr_assert_str_eq(err, "vfio: '00:1.0' is not a PCI address (expected DDDD:BB:DD.F)");
}

Test(vfio_sysfs, device_does_not_exist)
{
	char path[256], err[512];

	add_dev("0000:00:01.0", "vfio-pci");
	cr_assert_eq(resolve("0000:00:02.0", path, err), -ENODEV);
	expect_err(err, "vfio 0000:00:02.0: no such PCI device (%1$s/sys/bus/pci/devices/0000:00:02.0 does not exist)");
}

Test(vfio_sysfs, bound_to_another_driver)
{
	char path[256], err[512];

	add_dev("0000:00:01.0", "e1000e");
	cr_assert_eq(resolve("0000:00:01.0", path, err), -EPERM);
	expect_err(err, "vfio 0000:00:01.0: bound to e1000e, not vfio-pci; bind it with: "
			"echo 0000:00:01.0 > %1$s/sys/bus/pci/devices/0000:00:01.0/driver/unbind; "
			"echo vfio-pci > %1$s/sys/bus/pci/devices/0000:00:01.0/driver_override; "
			"echo 0000:00:01.0 > %1$s/sys/bus/pci/drivers_probe");
}

Test(vfio_sysfs, bound_to_no_driver)
{
	char path[256], err[512];

	add_dev("0000:00:01.0", NULL);
	cr_assert_eq(resolve("0000:00:01.0", path, err), -EPERM);
	expect_err(err, "vfio 0000:00:01.0: not bound to vfio-pci (no driver); bind it with: "
			"echo vfio-pci > %1$s/sys/bus/pci/devices/0000:00:01.0/driver_override; "
			"echo 0000:00:01.0 > %1$s/sys/bus/pci/drivers_probe");
}

Test(vfio_sysfs, vfio_pci_without_cdev_support)
{
	char path[256], err[512];

	add_dev("0000:00:01.0", "vfio-pci");
	cr_assert_eq(resolve("0000:00:01.0", path, err), -ENOTSUP);
	expect_err(err, "vfio 0000:00:01.0: bound to vfio-pci but has no VFIO cdev "
			"(%1$s/sys/bus/pci/devices/0000:00:01.0/vfio-dev is missing or empty): "
			"kernel without CONFIG_VFIO_DEVICE_CDEV?");
	/* An empty vfio-dev directory is the same case. */
	add_cdev("0000:00:01.0", NULL, false);
	cr_assert_eq(resolve("0000:00:01.0", path, err), -ENOTSUP);
}

Test(vfio_sysfs, open_through_the_tree_and_missing_node)
{
	struct vfio_dev dev;
	char s[128], d[128], want[512];

	snprintf(s, sizeof(s), "%s/sys", root);
	snprintf(d, sizeof(d), "%s/dev", root);
	add_dev("0000:00:01.0", "vfio-pci");
	add_cdev("0000:00:01.0", "vfio0", true);
	add_dev("0000:00:02.0", "vfio-pci");
	add_cdev("0000:00:02.0", "vfio1", false);

	cr_assert_eq(vfio_dev_open(&dev, s, d, "00:01.0"), 0, "%s", dev.last_err);
	cr_assert_str_eq(dev.bdf, "0000:00:01.0");
	snprintf(want, sizeof(want), "%s/dev/vfio/devices/vfio0", root);
	cr_assert_str_eq(dev.cdev, want);
	cr_assert(dev.fd >= 0);
	vfio_dev_close(&dev);
	cr_assert_eq(dev.fd, -1);

	cr_assert_eq(vfio_dev_open(&dev, s, d, "0000:00:02.0"), -ENOENT);
	expect_err(dev.last_err, "vfio 0000:00:02.0: cannot open %1$s/dev/vfio/devices/vfio1: No such file or directory "
				 "(no device node: is devtmpfs mounted on /dev?)");
	cr_assert_eq(vfio_dev_open(&dev, s, d, "0000:00:03.0"), -ENODEV);
	expect_err(dev.last_err, "vfio 0000:00:03.0: no such PCI device (%1$s/sys/bus/pci/devices/0000:00:03.0 does not exist)");
	vfio_dev_close(&dev); /* safe on a failed open */
}

Test(vfio_sysfs, open_error_messages)
{
	char buf[512];

	vfio_open_errmsg("0000:00:01.0", "/dev/vfio/devices/vfio0", EBUSY, buf, sizeof(buf));
	cr_assert_str_eq(buf, "vfio 0000:00:01.0: cannot open /dev/vfio/devices/vfio0: Device or resource busy "
			      "(the device is in use: another VMM or process has it open)");
	vfio_open_errmsg("0000:00:01.0", "/dev/vfio/devices/vfio0", EACCES, buf, sizeof(buf));
	cr_assert_str_eq(buf, "vfio 0000:00:01.0: cannot open /dev/vfio/devices/vfio0: Permission denied "
			      "(need root or write access to the VFIO cdev)");
	vfio_open_errmsg("0000:00:01.0", "/dev/vfio/devices/vfio0", EIO, buf, sizeof(buf));
	cr_assert_str_eq(buf, "vfio 0000:00:01.0: cannot open /dev/vfio/devices/vfio0: Input/output error");
}

/* ---- capability chain parsing ---- */

TestSuite(vfio_caps, .init = cr_redirect_stderr);

struct reply {
	u8 b[512];
	size_t len;
};

static void reply_info(struct reply *r, u32 flags, u32 cap_offset, u32 argsz)
{
	struct vfio_region_info i = {
		.argsz = argsz, .flags = flags, .index = 0, .cap_offset = cap_offset, .size = 0x100000, .offset = 0x5000,
	};

	memset(r->b, 0, sizeof(r->b));
	memcpy(r->b, &i, sizeof(i));
	r->len = argsz;
}

static void put_hdr(struct reply *r, size_t at, u16 id, u32 next)
{
	struct vfio_info_cap_header h = { .id = id, .version = 1, .next = next };

	memcpy(r->b + at, &h, sizeof(h));
}

static void put_sparse(struct reply *r, size_t at, u32 next, u32 n, const u64 (*areas)[2])
{
	put_hdr(r, at, VFIO_REGION_INFO_CAP_SPARSE_MMAP, next);
	memcpy(r->b + at + 8, &n, 4);
	for (u32 i = 0; i < n; i++) {
		struct vfio_region_sparse_mmap_area a = { areas[i][0], areas[i][1] };

		memcpy(r->b + at + 16 + 16 * i, &a, sizeof(a));
	}
}

static const u32 CAPS = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP |
			VFIO_REGION_INFO_FLAG_CAPS;

Test(vfio_caps, no_caps)
{
	struct reply r;
	struct vfio_region out;
	char err[160];

	reply_info(&r, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_MMAP, 0, 32);
	cr_assert_eq(vfio_parse_region_info(r.b, r.len, &out, err, sizeof(err)), 0);
	cr_assert_eq(out.size, 0x100000);
	cr_assert_eq(out.offset, 0x5000);
	cr_assert(!out.sparse);
	cr_assert(!out.msix_mappable);
	cr_assert(vfio_region_can_mmap(&out, 0, 0x100000));
	cr_assert(!vfio_region_can_mmap(&out, 0x1000, 0x100000), "past the end");
	cr_assert(!vfio_region_can_mmap(&out, 0, 0), "empty");
}

Test(vfio_caps, sparse_then_unknown_then_msix)
{
	struct reply r;
	struct vfio_region out;
	char err[160];
	static const u64 areas[2][2] = { { 0x0, 0x2000 }, { 0x4000, 0xfc000 } };

	/* info(32) | sparse @32 (16 + 2*16 = 48) | unknown @80 (24) | msix @104 (8) */
	reply_info(&r, CAPS, 32, 112);
	put_sparse(&r, 32, 80, 2, areas);
	put_hdr(&r, 80, 0x55, 104);
	put_hdr(&r, 104, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 0);
	cr_assert_eq(vfio_parse_region_info(r.b, r.len, &out, err, sizeof(err)), 0, "%s", err);
	cr_assert(out.sparse);
	cr_assert_eq(out.nr_areas, 2);
	cr_assert_eq(out.areas[1].offset, 0x4000);
	cr_assert_eq(out.areas[1].size, 0xfc000);
	cr_assert(out.msix_mappable);
	/* Only inside one area: the MSI-X table page at 0x2000..0x3fff is not mappable. */
	cr_assert(vfio_region_can_mmap(&out, 0, 0x2000));
	cr_assert(vfio_region_can_mmap(&out, 0x4000, 0xfc000));
	cr_assert(vfio_region_can_mmap(&out, 0x5000, 0x1000));
	cr_assert(!vfio_region_can_mmap(&out, 0x2000, 0x1000));
	cr_assert(!vfio_region_can_mmap(&out, 0, 0x100000), "spans the hole");
	cr_assert(!vfio_region_can_mmap(&out, 0x1000, 0x2000), "runs out of area 0");
}

Test(vfio_caps, sparse_with_zero_areas_means_nothing_mappable)
{
	struct reply r;
	struct vfio_region out;
	char err[160];

	reply_info(&r, CAPS, 32, 48);
	put_sparse(&r, 32, 0, 0, NULL);
	cr_assert_eq(vfio_parse_region_info(r.b, r.len, &out, err, sizeof(err)), 0);
	cr_assert(out.sparse);
	cr_assert(!vfio_region_can_mmap(&out, 0, 0x1000));
}

Test(vfio_caps, more_areas_than_the_table_keeps_the_first)
{
	struct reply r;
	struct vfio_region out;
	char err[160];
	u64 areas[10][2];

	for (int i = 0; i < 10; i++) {
		areas[i][0] = 0x10000ULL * i;
		areas[i][1] = 0x1000;
	}
	reply_info(&r, CAPS, 32, 32 + 16 + 160);
	put_sparse(&r, 32, 0, 10, (const u64 (*)[2])areas);
	cr_assert_eq(vfio_parse_region_info(r.b, r.len, &out, err, sizeof(err)), 0);
	cr_assert_eq(out.nr_areas, VFIO_DEV_MAX_SPARSE);
	cr_assert(vfio_region_can_mmap(&out, 0x70000, 0x1000));
	cr_assert(!vfio_region_can_mmap(&out, 0x90000, 0x1000), "dropped areas are not mapped (trapped instead)");
}

Test(vfio_caps, malformed_chains_are_rejected)
{
	struct reply r;
	struct vfio_region out;
	char err[160];
	static const u64 a1[1][2] = { { 0, 0x1000 } };

	/* Loop: the second cap points back at the first. */
	reply_info(&r, CAPS, 32, 64);
	put_hdr(&r, 32, 0x55, 48);
	put_hdr(&r, 48, 0x56, 32);
	cr_assert_eq(vfio_parse_region_info(r.b, r.len, &out, err, sizeof(err)), -EPROTO);
	cr_assert_str_eq(err, "region 0: capability at offset 32 is outside the reply or loops");
	/* Self loop. */
	put_hdr(&r, 48, 0x56, 48);
	cr_assert_eq(vfio_parse_region_info(r.b, r.len, &out, err, sizeof(err)), -EPROTO);
	cr_assert_str_eq(err, "region 0: capability at offset 48 is outside the reply or loops");
	/* First cap inside the info header. */
	reply_info(&r, CAPS, 16, 64);
	cr_assert_eq(vfio_parse_region_info(r.b, r.len, &out, err, sizeof(err)), -EPROTO);
	/* Cap header past the end of the reply. */
	reply_info(&r, CAPS, 60, 64);
	cr_assert_eq(vfio_parse_region_info(r.b, r.len, &out, err, sizeof(err)), -EPROTO);
	cr_assert_str_eq(err, "region 0: capability at offset 60 is outside the reply or loops");
	/* Sparse areas running past the end. */
	reply_info(&r, CAPS, 32, 56);
	put_sparse(&r, 32, 0, 1, a1);
	r.b[40] = 2; /* claims two areas, room for one */
	cr_assert_eq(vfio_parse_region_info(r.b, r.len, &out, err, sizeof(err)), -EPROTO);
	cr_assert_str_eq(err, "region 0: sparse mmap capability with 2 areas truncated");
	/* Buffer shorter than the info header. */
	cr_assert_eq(vfio_parse_region_info(r.b, 16, &out, err, sizeof(err)), -EPROTO);
	cr_assert_str_eq(err, "region info reply of 16 bytes is shorter than its header");
}

Test(vfio_caps, chain_limited_by_argsz_not_buffer)
{
	struct reply r;
	struct vfio_region out;
	char err[160];

	/* The kernel says argsz 40 (cap at 32 of 8 bytes); bytes after it are garbage, never read. */
	reply_info(&r, CAPS, 32, 40);
	put_hdr(&r, 32, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 0);
	cr_assert_eq(vfio_parse_region_info(r.b, sizeof(r.b), &out, err, sizeof(err)), 0);
	cr_assert(out.msix_mappable);
	put_hdr(&r, 32, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 40);
	cr_assert_eq(vfio_parse_region_info(r.b, sizeof(r.b), &out, err, sizeof(err)), -EPROTO);
}
