/* test_iommufd.c: the iommufd layer against the fake backend: object tracking, teardown order (children
 * first, failures do not stop the rest, nothing leaked after an error), failure messages, the vEVENTQ fd
 * ownership, /dev/iommu missing, and the pure IOVA range helpers. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "iommu/iommufd.h"
#include "iommu/smmuv3_regs.h"
#include "tests/unit/fake_iommufd.h"

static void quiet(void)
{
	cr_redirect_stderr();
}

TestSuite(iommufd, .init = quiet);

struct chain {
	u32 dev, ioas, s2, viommu, vdev, veventq, nested;
	int fd;
};

static const u64 good_ste[2] = { STE_0_V | FIELD_PREP(STE_0_CFG, STE_CFG_S1_TRANS) | 0x1000, 0 };

static void build_chain(struct iommufd *ictx, struct chain *c)
{
	c->dev = 1;
	cr_assert_eq(iommufd_ioas_alloc(ictx, &c->ioas, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_hwpt_alloc_nest_parent(ictx, c->dev, c->ioas, &c->s2, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_viommu_alloc_smmuv3(ictx, c->dev, c->s2, &c->viommu, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_vdevice_alloc(ictx, c->viommu, c->dev, 0x10, &c->vdev), 0);
	cr_assert_eq(iommufd_veventq_alloc_smmuv3(ictx, c->viommu, 64, &c->veventq, &c->fd, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_hwpt_alloc_nested_smmuv3(ictx, c->dev, c->viommu, good_ste, &c->nested, FAIL_PRINT), 0);
}

Test(iommufd, tracker_records_every_object_with_parent)
{
	struct fake_iommufd f;
	struct iommufd ictx;
	struct chain c;

	fake_iommufd_init(&f);
	fake_iommufd_attach_ctx(&f, &ictx);
	build_chain(&ictx, &c);
	cr_assert_eq(ictx.nr_objs, 6);
	cr_assert_eq(iommufd_obj_find(&ictx, c.ioas)->type, IOMMUFD_OBJ_IOAS);
	cr_assert_eq(iommufd_obj_find(&ictx, c.s2)->parent, c.ioas);
	cr_assert_eq(iommufd_obj_find(&ictx, c.viommu)->parent, c.s2);
	cr_assert_eq(iommufd_obj_find(&ictx, c.vdev)->parent, c.viommu);
	cr_assert_eq(iommufd_obj_find(&ictx, c.veventq)->fd, c.fd);
	cr_assert_eq(iommufd_obj_find(&ictx, c.nested)->type, IOMMUFD_OBJ_HWPT_NESTED);
	cr_assert_eq(f.objs[c.nested].ste[0], good_ste[0], "vSTE reached the backend in host order");
	cr_assert_null(iommufd_obj_find(&ictx, 999));
	iommufd_close(&ictx);
	fake_iommufd_release(&f);
}

Test(iommufd, teardown_destroys_children_first)
{
	struct fake_iommufd f;
	struct iommufd ictx;
	struct chain c;

	fake_iommufd_init(&f);
	fake_iommufd_attach_ctx(&f, &ictx);
	build_chain(&ictx, &c);
	cr_assert_eq(iommufd_teardown(&ictx), 0);
	u32 want[] = { c.nested, c.vdev, c.veventq, c.viommu, c.s2, c.ioas };
	cr_assert_eq(f.nr_destroyed, 6);
	for (size_t i = 0; i < 6; i++)
		cr_assert_eq(f.destroyed[i], want[i], "destroy #%zu: got %u want %u", i, f.destroyed[i], want[i]);
	cr_assert_eq(fake_iommufd_live(&f, IOMMUFD_OBJ_NR), 0);
	cr_assert_eq(ictx.nr_objs, 0);
	cr_assert_eq(fcntl(c.fd, F_GETFD), -1, "the vEVENTQ fd is closed with its object");
	iommufd_close(&ictx);
	cr_assert(f.closed);
	fake_iommufd_release(&f);
}

Test(iommufd, teardown_newest_first_within_a_kind)
{
	struct fake_iommufd f;
	struct iommufd ictx;
	struct chain c;
	u32 nested2, ioas2;

	fake_iommufd_init(&f);
	fake_iommufd_attach_ctx(&f, &ictx);
	build_chain(&ictx, &c);
	cr_assert_eq(iommufd_ioas_alloc(&ictx, &ioas2, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_hwpt_alloc_nested_smmuv3(&ictx, c.dev, c.viommu, good_ste, &nested2, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_teardown(&ictx), 0);
	cr_assert_eq(f.nr_destroyed, 8);
	cr_assert_eq(f.destroyed[0], nested2);
	cr_assert_eq(f.destroyed[1], c.nested);
	cr_assert_eq(f.destroyed[6], ioas2);
	cr_assert_eq(f.destroyed[7], c.ioas);
	fake_iommufd_release(&f);
}

Test(iommufd, failed_alloc_is_reported_and_not_tracked)
{
	struct fake_iommufd f;
	struct iommufd ictx;
	u32 ioas, s2, viommu = 0;

	fake_iommufd_init(&f);
	fake_iommufd_attach_ctx(&f, &ictx);
	cr_assert_eq(iommufd_ioas_alloc(&ictx, &ioas, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_hwpt_alloc_nest_parent(&ictx, 1, ioas, &s2, FAIL_PRINT), 0);
	f.fail_viommu_alloc = -EOPNOTSUPP;
	cr_assert_eq(iommufd_viommu_alloc_smmuv3(&ictx, 1, s2, &viommu, FAIL_PRINT), -EOPNOTSUPP);
	cr_assert_str_eq(ictx.last_err, "iommufd: VIOMMU_ALLOC arm-smmuv3 (dev 1, hwpt 2): Operation not supported "
					"(host SMMU cannot back a vIOMMU: no nesting, or no S2FWB/CANWBS)");
	cr_assert_eq(ictx.nr_objs, 2);
	/* The error path unwinds what exists: nothing stays alive in the "kernel". */
	iommufd_close(&ictx);
	cr_assert_eq(fake_iommufd_live(&f, IOMMUFD_OBJ_NR), 0);
	cr_assert_eq(f.destroyed[0], s2);
	cr_assert_eq(f.destroyed[1], ioas);
	fake_iommufd_release(&f);
}

Test(iommufd, every_failure_names_operation_and_ids)
{
	struct fake_iommufd f;
	struct iommufd ictx;
	struct chain c;
	u32 id;
	int fd;
	u64 bad_ste[2] = { STE_0_V | FIELD_PREP(STE_0_CFG, STE_CFG_S1_TRANS), BIT(40) };

	fake_iommufd_init(&f);
	fake_iommufd_attach_ctx(&f, &ictx);
	f.fail_ioas_alloc = -ENOMEM;
	cr_assert_eq(iommufd_ioas_alloc(&ictx, &id, FAIL_PRINT), -ENOMEM);
	cr_assert_str_eq(ictx.last_err, "iommufd: IOAS_ALLOC: Cannot allocate memory");
	build_chain(&ictx, &c);

	cr_assert_eq(iommufd_hwpt_alloc_nested_smmuv3(&ictx, 1, c.viommu, bad_ste, &id, FAIL_PRINT), -EIO);
	cr_assert_str_eq(ictx.last_err, "iommufd: HWPT_ALLOC nested (dev 1, viommu 3, ste 0x000000000000000b "
					"0x0000010000000000): Input/output error (vSTE has fields the host does not accept)");
	f.fail_hwpt_alloc = -EINVAL;
	cr_assert_eq(iommufd_hwpt_alloc_nest_parent(&ictx, 1, c.ioas, &id, FAIL_PRINT), -EINVAL);
	cr_assert_str_eq(ictx.last_err, "iommufd: HWPT_ALLOC nest-parent (dev 1, ioas 1): Invalid argument");
	cr_assert_eq(iommufd_vdevice_alloc(&ictx, c.viommu, 1, 0x10, &id), -EEXIST);
	cr_assert_str_eq(ictx.last_err, "iommufd: VDEVICE_ALLOC (viommu 3, dev 1, virt_id 0x10): File exists");
	cr_assert_eq(iommufd_veventq_alloc_smmuv3(&ictx, c.viommu, 64, &id, &fd, FAIL_PRINT), -EEXIST);
	cr_assert_str_eq(ictx.last_err, "iommufd: VEVENTQ_ALLOC arm-smmuv3 (viommu 3, depth 64): File exists");
	f.fail_hw_info = -ENODEV;
	struct iommufd_hw_info hw;
	cr_assert_eq(iommufd_get_hw_info(&ictx, 7, &hw, FAIL_PRINT), -ENODEV);
	cr_assert_str_eq(ictx.last_err, "iommufd: GET_HW_INFO dev 7: No such device");
	cr_assert_eq(iommufd_ioas_unmap(&ictx, c.ioas, 0x1000, 0x2000), -ENOENT);
	cr_assert_str_eq(ictx.last_err, "iommufd: IOAS_UNMAP ioas 1 iova 0x1000 length 0x2000: No such file or directory");
	cr_assert_eq(ictx.nr_objs, 6, "no failed allocation was tracked");
	iommufd_close(&ictx);
	cr_assert_eq(fake_iommufd_live(&f, IOMMUFD_OBJ_NR), 0);
	fake_iommufd_release(&f);
}

Test(iommufd, teardown_continues_past_a_busy_object)
{
	struct fake_iommufd f;
	struct iommufd ictx;
	struct chain c;

	fake_iommufd_init(&f);
	fake_iommufd_attach_ctx(&f, &ictx);
	build_chain(&ictx, &c);
	f.attached[c.dev] = c.s2; /* device still on the S2 HWPT */
	cr_assert_eq(iommufd_teardown(&ictx), -EBUSY);
	/* Everything above the S2 went; the S2 and its IOAS stay tracked and alive. */
	cr_assert_eq(ictx.nr_objs, 2);
	cr_assert_not_null(iommufd_obj_find(&ictx, c.s2));
	cr_assert_not_null(iommufd_obj_find(&ictx, c.ioas));
	cr_assert_eq(fake_iommufd_live(&f, IOMMUFD_OBJ_NR), 2);
	cr_assert_str_eq(ictx.last_err, "iommufd: DESTROY IOAS 1: Device or resource busy");
	/* Once the device is detached a second teardown finishes the job. */
	f.attached[c.dev] = 0;
	cr_assert_eq(iommufd_teardown(&ictx), 0);
	cr_assert_eq(ictx.nr_objs, 0);
	cr_assert_eq(fake_iommufd_live(&f, IOMMUFD_OBJ_NR), 0);
	fake_iommufd_release(&f);
}

Test(iommufd, teardown_skips_only_the_failed_object)
{
	struct fake_iommufd f;
	struct iommufd ictx;
	struct chain c;
	u32 nested2;

	fake_iommufd_init(&f);
	fake_iommufd_attach_ctx(&f, &ictx);
	build_chain(&ictx, &c);
	cr_assert_eq(iommufd_hwpt_alloc_nested_smmuv3(&ictx, c.dev, c.viommu, good_ste, &nested2, FAIL_PRINT), 0);
	f.fail_destroy = -EIO; /* the first destroy (newest nested HWPT) fails once */
	cr_assert_eq(iommufd_teardown(&ictx), -EIO);
	cr_assert_eq(f.destroyed[0], c.nested, "older nested HWPT still destroyed");
	cr_assert(f.objs[nested2].live);
	/* The vIOMMU is held by nested2, and with it the S2 and the IOAS; vDEVICE and vEVENTQ went. */
	cr_assert(!f.objs[c.vdev].live);
	cr_assert(!f.objs[c.veventq].live);
	cr_assert(f.objs[c.viommu].live);
	cr_assert_eq(ictx.nr_objs, 4);
	iommufd_close(&ictx);
	cr_assert_eq(fake_iommufd_live(&f, IOMMUFD_OBJ_NR), 0);
	fake_iommufd_release(&f);
}

Test(iommufd, destroy_single_and_untracked)
{
	struct fake_iommufd f;
	struct iommufd ictx;
	struct chain c;

	fake_iommufd_init(&f);
	fake_iommufd_attach_ctx(&f, &ictx);
	build_chain(&ictx, &c);
	cr_assert_eq(iommufd_destroy(&ictx, c.viommu, FAIL_PRINT), -EBUSY, "children hold the vIOMMU");
	cr_assert_str_eq(ictx.last_err, "iommufd: DESTROY vIOMMU 3: Device or resource busy");
	cr_assert_eq(iommufd_destroy(&ictx, c.veventq, FAIL_PRINT), 0);
	cr_assert_eq(fcntl(c.fd, F_GETFD), -1);
	cr_assert_null(iommufd_obj_find(&ictx, c.veventq));
	cr_assert_eq(iommufd_destroy(&ictx, 42, FAIL_PRINT), -ENOENT);
	cr_assert_str_eq(ictx.last_err, "iommufd: DESTROY untracked object 42: No such file or directory");
	iommufd_close(&ictx);
	fake_iommufd_release(&f);
}

Test(iommufd, open_missing_dev_iommu_says_why)
{
	struct iommufd ictx;

	cr_assert_eq(iommufd_open(&ictx, "/nonexistent/iommu"), -ENOENT);
	cr_assert_str_eq(ictx.last_err, "iommufd: cannot open /nonexistent/iommu: No such file or directory "
					"(kernel without CONFIG_IOMMUFD?)");
	cr_assert_eq(ictx.fd, -1);
	iommufd_close(&ictx); /* safe on a failed open */
}

Test(iommufd, map_into_reserved_window_fails_with_context)
{
	struct fake_iommufd f;
	struct iommufd ictx;
	static u8 page[0x2000] __attribute__((aligned(0x1000)));
	u32 ioas;

	fake_iommufd_init(&f);
	fake_iommufd_attach_ctx(&f, &ictx);
	cr_assert_eq(iommufd_ioas_alloc(&ictx, &ioas, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_ioas_map_fixed(&ictx, ioas, page, 0x2000, 0x1000, true), 0);
	cr_assert_eq(f.maps[0].flags, IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE);
	cr_assert_eq(iommufd_ioas_map_fixed(&ictx, ioas, page, 0x1000, 0x7fff000, false), 0);
	cr_assert_eq(f.maps[1].flags, IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE);
	cr_assert_eq(iommufd_ioas_map_fixed(&ictx, ioas, page, 0x2000, 0x80ff000, true), -EADDRINUSE);
	cr_assert(strstr(ictx.last_err, "iommufd: IOAS_MAP ioas 1 iova 0x80ff000 length 0x2000 va 0x") == ictx.last_err);
	cr_assert(strstr(ictx.last_err, ": Address already in use (iova range reserved or already mapped)"));
	iommufd_close(&ictx);
	fake_iommufd_release(&f);
}

Test(iommufd, iova_ranges_from_backend)
{
	struct fake_iommufd f;
	struct iommufd ictx;
	struct iommu_iova_range *r;
	size_t nr;
	u64 align;
	u32 ioas;

	fake_iommufd_init(&f);
	f.reserved[1] = (struct iommu_iova_range){ 0x10000000, 0x1fffffff };
	f.nr_reserved = 2;
	fake_iommufd_attach_ctx(&f, &ictx);
	cr_assert_eq(iommufd_ioas_alloc(&ictx, &ioas, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_ioas_iova_ranges(&ictx, ioas, &r, &nr, &align), 0);
	cr_assert_eq(nr, 3);
	cr_assert_eq(r[0].start, 0);
	cr_assert_eq(r[0].last, 0x7ffffff);
	cr_assert_eq(r[1].start, 0x8100000);
	cr_assert_eq(r[1].last, 0xfffffff);
	cr_assert_eq(r[2].start, 0x20000000);
	cr_assert_eq(r[2].last, UINT64_MAX);
	cr_assert_eq(align, 0x1000);
	free(r);
	cr_assert_eq(iommufd_ioas_iova_ranges(&ictx, 77, &r, &nr, &align), -ENOENT);
	cr_assert_str_eq(ictx.last_err, "iommufd: IOAS_IOVA_RANGES ioas 77: No such file or directory");
	iommufd_close(&ictx);
	fake_iommufd_release(&f);
}

/* Allowed ranges as the arm64 host reports them with a device attached: all but the sw_msi window. */
static const struct iommu_iova_range lab_ranges[] = {
	{ 0x0, 0x7ffffff },
	{ 0x8100000, 0xffffffffffffULL },
};

/* iommufd_check_iova() against lab_ranges: range, result and the reason it gives. */
static const struct {
	u64 iova, len;
	int rc;
	const char *why;      /* NULL: not checked */
} check_cases[] = {
	{ 0x1000, 0x4000, 0, NULL },
	{ 0x40000000, SZ_1G, 0, NULL },
	{ 0x7fff000, 0x2000, -ERANGE, "IOVA 0x7fff000-0x8000fff overlaps reserved 0x8000000-0x80fffff" },
	{ 0x8000000, 0x1000, -ERANGE, "IOVA 0x8000000-0x8000fff overlaps reserved 0x8000000-0x80fffff" },
	/* Guest RAM at 1 GiB and 2 GiB long never meets the window. */
	{ 0x40000000, 2 * SZ_1G, 0, NULL },
	{ 0xfffffffff000ULL, 0x2000, -ERANGE,
	  "IOVA 0xfffffffff000-0x1000000000fff overlaps reserved 0x1000000000000-0xffffffffffffffff" },
	{ UINT64_MAX - 0xfff, 0x2000, -ERANGE, "IOVA 0xfffffffffffff000 length 0x2000 is empty or wraps" },
	{ 0x1000, 0, -ERANGE, NULL },
};

Test(iommufd_iova, check_accepts_inside_and_names_the_hole)
{
	for (size_t i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
		char why[160] = "";

		cr_assert_eq(iommufd_check_iova(lab_ranges, 2, check_cases[i].iova, check_cases[i].len, why, sizeof(why)),
			     check_cases[i].rc, "case %zu", i);
		if (check_cases[i].why)
			cr_assert_str_eq(why, check_cases[i].why, "case %zu", i);
	}
}

Test(iommufd_iova, check_spanning_adjacent_ranges)
{
	static const struct iommu_iova_range adj[] = { { 0, 0xfff }, { 0x1000, 0x1fff } };
	char why[160];

	cr_assert_eq(iommufd_check_iova(adj, 2, 0x800, 0x1000, why, sizeof(why)), -ERANGE);
	cr_assert_str_eq(why, "IOVA 0x800-0x17ff spans more than one allowed range");
}

/* iommufd_find_iova() against lab_ranges: hint, length, alignment -> result and IOVA. */
static const struct {
	u64 hint, len, align;
	int rc;
	u64 iova;
	const char *what;
} find_cases[] = {
	{ 0x1000, 0x4000, 0x1000, 0, 0x1000, "fits at the hint" },
	{ 0x7ffe000, 0x4000, 0x1000, 0, 0x8100000, "does not fit below the window: first place after it" },
	{ 0x7ffe000, 0x1000, 0x1000, 0, 0x7ffe000, "fits just below the window" },
	{ 0x7200000, 0x1000000, SZ_2M, 0, 0x8200000, "aligned place after the window" },
	{ 0x7000000, 0x1000000, SZ_2M, 0, 0x7000000, "an exact fit at the end of a range is allowed" },
	{ 0, 0x1000000000000ULL, 0x1000, -ENOSPC, 0, "larger than any range" },
	{ 0, 0x1000, 3, -EINVAL, 0, "alignment not a power of two" },
};

Test(iommufd_iova, find_skips_reserved_and_honours_alignment)
{
	for (size_t i = 0; i < sizeof(find_cases) / sizeof(find_cases[0]); i++) {
		u64 iova = 0;

		cr_assert_eq(iommufd_find_iova(lab_ranges, 2, find_cases[i].hint, find_cases[i].len, find_cases[i].align,
					       &iova),
			     find_cases[i].rc, "%s", find_cases[i].what);
		if (!find_cases[i].rc)
			cr_assert_eq(iova, find_cases[i].iova, "%s: got 0x%llx", find_cases[i].what,
				     (unsigned long long)iova);
	}
}

/* A vEVENTQ whose DESTROY fails keeps its fd number: the queue's file is released (a placeholder that never
 * polls readable sits at the number), the object stays tracked with that number, no open() can be given it
 * (a poller that still has the number must never read another file), and the next destroy finishes the job
 * and frees the number. */
Test(iommufd, a_failed_veventq_destroy_keeps_its_fd_number)
{
	struct pollfd p;
	struct fake_iommufd f;
	struct iommufd ictx;
	const struct iommufd_obj *o;
	struct chain c;
	struct stat st;
	int n;

	fake_iommufd_init(&f);
	fake_iommufd_attach_ctx(&f, &ictx);
	build_chain(&ictx, &c);
	f.fail_destroy = -EBUSY; /* the kernel still holds the queue (a read under way) */
	cr_assert_eq(iommufd_destroy(&ictx, c.veventq, FAIL_PRINT), -EBUSY);
	o = iommufd_obj_find(&ictx, c.veventq);
	cr_assert_not_null(o, "still tracked");
	cr_assert_eq(o->fd, c.fd, "with its fd number");
	cr_assert_neq(fcntl(c.fd, F_GETFD), -1, "the number is still open ...");
	cr_assert_eq(fstat(c.fd, &st), 0);
	cr_assert_not(S_ISFIFO(st.st_mode), "... but no longer the queue's file (the fake's is a pipe)");
	n = open("/dev/null", O_RDONLY);
	cr_assert_geq(n, 0);
	cr_assert_neq(n, c.fd, "open() cannot be given the number");
	close(n);
	p = (struct pollfd){ .fd = c.fd, .events = POLLIN };
	cr_assert_eq(poll(&p, 1, 0), 0, "a late poller sees nothing to read at the number");
	cr_assert(f.objs[c.veventq].live);
	/* The retry releases nothing twice, destroys, and only then gives the number back. */
	cr_assert_eq(iommufd_destroy(&ictx, c.veventq, FAIL_PRINT), 0);
	cr_assert_not(f.objs[c.veventq].live);
	cr_assert_null(iommufd_obj_find(&ictx, c.veventq));
	cr_assert_eq(fcntl(c.fd, F_GETFD), -1, "the placeholder is closed after the destroy");
	iommufd_close(&ictx);
	fake_iommufd_release(&f);
}

/* A queue that cannot be destroyed before the context closes: iommufd_close closes the placeholder. */
Test(iommufd, close_releases_a_veventq_that_would_not_go)
{
	struct fake_iommufd f;
	struct iommufd ictx;
	struct chain c;

	fake_iommufd_init(&f);
	fake_iommufd_attach_ctx(&f, &ictx);
	build_chain(&ictx, &c);
	f.fail_destroy = -EBUSY;
	f.fail_destroy_id = c.veventq;
	f.fail_destroy_n = 100; /* every attempt, iommufd_close's included */
	cr_assert_eq(iommufd_destroy(&ictx, c.veventq, FAIL_PRINT), -EBUSY);
	iommufd_close(&ictx);
	cr_assert_eq(fcntl(c.fd, F_GETFD), -1, "nothing of the queue left open");
	fake_iommufd_release(&f);
}
