/* test_layout.c: where kernel, initrd and DTB go in guest RAM (boot_plan_compute), the "memory too small"
 * edges, and boot_load into a fake guest RAM: bytes land at the planned addresses and the DTB there is the
 * one fdt_build makes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "boot/boot.h"
#include "boot/fdt.h"
#include "boot/layout.h"
#include "tests/unit/fe_util.h"
#include "vmm/config.h"
#include "vmm/guest_mem.h"

static struct arm64_image modern(u64 text_offset, u64 image_size)
{
	return (struct arm64_image){ .text_offset = text_offset, .image_size = image_size, .flags = 0xa };
}

static int plan_of(u64 mem, const struct arm64_image *img, u64 file, u64 initrd, struct boot_plan *p, char **err)
{
	struct capture c;
	int ret;

	capture_begin(&c, 2);
	ret = boot_plan_compute(mem, img, file, initrd, "K", initrd ? "I" : NULL, p);
	*err = capture_end(&c);
	return ret;
}

/* The rules of booting.rst that every successful plan must meet. */
static void check_plan(const struct boot_plan *p, u64 mem, const struct arm64_image *img, u64 file, u64 initrd)
{
	const u64 ram_end = LAYOUT_RAM_BASE + mem;

	cr_expect(IS_ALIGNED(p->kernel_gpa - img->text_offset, SZ_2M), "kernel base not 2 MiB aligned");
	cr_expect_eq(p->kernel_gpa, LAYOUT_RAM_BASE + img->text_offset, "kernel as low as possible");
	cr_expect_eq(p->entry, p->kernel_gpa);
	cr_expect_geq(p->kernel_size, file);
	cr_expect_geq(p->kernel_size, img->image_size);
	cr_expect_leq(p->kernel_gpa + p->kernel_size, p->dtb_gpa, "kernel room overlaps the DTB");
	cr_expect(IS_ALIGNED(p->dtb_gpa, 8));
	cr_expect_eq(p->dtb_max, SZ_2M);
	cr_expect_eq(p->dtb_gpa / SZ_2M, (p->dtb_gpa + p->dtb_max - 1) / SZ_2M, "DTB crosses a 2 MiB boundary");
	cr_expect_leq(p->dtb_gpa + p->dtb_max, ram_end);
	cr_expect_eq(p->initrd_size, initrd);
	if (initrd) {
		cr_expect(IS_ALIGNED(p->initrd_gpa, SZ_64K), "initrd not page aligned");
		cr_expect_geq(p->initrd_gpa, p->kernel_gpa + p->kernel_size, "initrd overlaps the kernel room");
		cr_expect_leq(p->initrd_gpa + initrd, p->dtb_gpa, "initrd overlaps the DTB");
		cr_expect_leq(p->initrd_gpa + initrd, LAYOUT_RAM_BASE + 32 * SZ_1G, "initrd outside 32 GiB window");
	}
}

Test(layout, modern_kernel_with_initrd)
{
	struct arm64_image img = modern(0, 0x940000);
	struct boot_plan p;
	char *err;

	cr_assert_eq(plan_of(512 * SZ_1M, &img, 9209864, 1000000, &p, &err), 0, "%s", err);
	cr_expect_str_eq(err, "");
	check_plan(&p, 512 * SZ_1M, &img, 9209864, 1000000);
	cr_expect_eq(p.kernel_gpa, 0x40000000);
	cr_expect_eq(p.kernel_size, 0x940000);
	cr_expect_eq(p.initrd_gpa, 0x40940000, "initrd right after the kernel's image_size");
	cr_expect_eq(p.dtb_gpa, 0x40000000 + 512 * SZ_1M - SZ_2M, "DTB in the last 2 MiB");
	free(err);
}

Test(layout, text_offset_and_unaligned_end)
{
	struct arm64_image img = modern(0x80000, 0x123456);
	struct boot_plan p;
	char *err;

	cr_assert_eq(plan_of(64 * SZ_1M, &img, 0x100000, 4097, &p, &err), 0, "%s", err);
	check_plan(&p, 64 * SZ_1M, &img, 0x100000, 4097);
	cr_expect_eq(p.kernel_gpa, 0x40080000);
	cr_expect_eq(p.initrd_gpa, ALIGN_UP(0x40080000 + 0x123456, SZ_64K));
	free(err);
}

Test(layout, file_larger_than_image_size)
{
	/* Appended data (e.g. a signature) makes the file longer than image_size: room for the whole file. */
	struct arm64_image img = modern(0, SZ_1M);
	struct boot_plan p;
	char *err;

	cr_assert_eq(plan_of(64 * SZ_1M, &img, SZ_1M + 100, SZ_1M, &p, &err), 0, "%s", err);
	check_plan(&p, 64 * SZ_1M, &img, SZ_1M + 100, SZ_1M);
	cr_expect_eq(p.kernel_size, SZ_1M + 100);
	cr_expect_eq(p.initrd_gpa, LAYOUT_RAM_BASE + SZ_1M + SZ_64K);
	free(err);
}

Test(layout, legacy_kernel_keeps_room_after_it)
{
	/* image_size 0: the initrd goes to the top (below the DTB), not right after the kernel. */
	struct arm64_image img = { .text_offset = 0x80000, .legacy = true };
	struct boot_plan p;
	char *err;

	cr_assert_eq(plan_of(256 * SZ_1M, &img, 5 * SZ_1M, 3 * SZ_1M + 5, &p, &err), 0, "%s", err);
	check_plan(&p, 256 * SZ_1M, &img, 5 * SZ_1M, 3 * SZ_1M + 5);
	cr_expect_eq(p.kernel_size, 5 * SZ_1M);
	cr_expect_eq(p.initrd_gpa, ALIGN_DOWN(p.dtb_gpa - (3 * SZ_1M + 5), SZ_64K));
	free(err);

	/* With more than 32 GiB of RAM the initrd stays inside the 32 GiB window that covers the kernel. */
	cr_assert_eq(plan_of(64 * SZ_1G, &img, 5 * SZ_1M, SZ_1M, &p, &err), 0, "%s", err);
	check_plan(&p, 64 * SZ_1G, &img, 5 * SZ_1M, SZ_1M);
	cr_expect_eq(p.initrd_gpa, LAYOUT_RAM_BASE + 32 * SZ_1G - SZ_1M);
	free(err);
}

Test(layout, exact_fit_and_one_byte_over)
{
	/* need = text_offset + image_size, rounded to 64 KiB, + initrd + 2 MiB DTB = exactly 64 MiB. */
	const u64 initrd = 64 * SZ_1M - SZ_2M - 40 * SZ_1M;
	struct arm64_image img = modern(0, 40 * SZ_1M - SZ_64K + 1);
	struct boot_plan p;
	char *err;

	cr_assert_eq(plan_of(64 * SZ_1M, &img, 4096, initrd, &p, &err), 0, "%s", err);
	check_plan(&p, 64 * SZ_1M, &img, 4096, initrd);
	cr_expect_eq(p.initrd_gpa + initrd, p.dtb_gpa, "no gap at the exact fit");
	free(err);

	cr_expect_eq(plan_of(64 * SZ_1M, &img, 4096, initrd + 1, &p, &err), -EINVAL);
	cr_expect_str_eq(err, "ivmm: error: memory too small: kernel K and initrd I need 65 MiB (with 2 MiB for "
			      "the device tree), memory is 64 MiB\n");
	free(err);
}

Test(layout, ram_too_small_for_kernel)
{
	struct arm64_image img = modern(0, 63 * SZ_1M);
	struct boot_plan p;
	char *err;

	cr_expect_eq(plan_of(64 * SZ_1M, &img, SZ_1M, 0, &p, &err), -EINVAL);
	cr_expect_str_eq(err, "ivmm: error: memory too small: kernel K needs 65 MiB (with 2 MiB for the device "
			      "tree), memory is 64 MiB\n");
	free(err);

	/* A header claiming an absurd image_size must not wrap around. */
	img = modern(SZ_1M, UINT64_MAX - 10);
	cr_expect_eq(plan_of(511 * SZ_1G, &img, SZ_1M, 0, &p, &err), -EINVAL);
	cr_expect_str_eq(err, "ivmm: error: memory too small: kernel K needs 17592186044416 MiB (with 2 MiB for the "
			      "device tree), memory is 523264 MiB\n");
	free(err);
}

Test(layout, initrd_too_big)
{
	struct arm64_image img = modern(0, 16 * SZ_1M);
	struct boot_plan p;
	char *err;

	cr_expect_eq(plan_of(128 * SZ_1M, &img, SZ_1M, 200 * SZ_1M, &p, &err), -EINVAL);
	cr_expect_str_eq(err, "ivmm: error: memory too small: kernel K and initrd I need 218 MiB (with 2 MiB for "
			      "the device tree), memory is 128 MiB\n");
	free(err);

	/* It fits in RAM but would end beyond the 32 GiB window booting.rst allows. */
	cr_expect_eq(plan_of(64 * SZ_1G, &img, SZ_1M, 32 * SZ_1G, &p, &err), -EINVAL);
	cr_expect_str_eq(err, "ivmm: error: initrd I too big: kernel and initrd must lie within the first 32 GiB of "
			      "RAM (initrd is 32768 MiB)\n");
	free(err);
}

Test(layout, load_into_guest_ram)
{
	const u64 mem = 64 * SZ_1M, ksize = 3 * SZ_1M + 123, isize = 777777;
	char *dir = scratch_dir(), *kpath, *ipath;
	u8 *kimg = fake_image(0x80000, 6 * SZ_1M, 0xa, ksize), *initrd = malloc(isize);
	struct guest_mem gm = { .host = calloc(1, mem), .gpa = LAYOUT_RAM_BASE, .size = mem };
	struct vm_config cfg;
	struct boot_files bf;
	const void *dtb;
	const fdt64_t *v;
	int node, len;

	cr_assert(gm.host && initrd);
	for (u64 i = 0; i < isize; i++)
		initrd[i] = (u8)(i * 7 + 3);
	kpath = scratch_file(dir, "Image", kimg, ksize);
	ipath = scratch_file(dir, "initrd", initrd, isize);
	vm_config_init(&cfg);
	cfg.mem_size = mem;
	cfg.kernel = strdup(kpath);
	cfg.initrd = strdup(ipath);

	cr_assert_eq(boot_prepare(&cfg, &bf), 0);
	cr_expect_eq(bf.kernel_file_size, ksize);
	cr_expect_eq(bf.initrd_size, isize);
	cr_assert_eq(boot_load(&cfg, &bf, &gm), 0);
	cr_expect_eq(bf.plan.kernel_gpa, 0x40080000);
	cr_expect_eq(memcmp(gm.host + 0x80000, kimg, ksize), 0, "kernel bytes at text_offset");
	cr_expect_eq(memcmp(gm.host + (bf.plan.initrd_gpa - LAYOUT_RAM_BASE), initrd, isize), 0, "initrd bytes");
	cr_expect_eq(bf.plan.initrd_gpa, LAYOUT_RAM_BASE + 0x80000 + 6 * SZ_1M);

	dtb = gm.host + (bf.plan.dtb_gpa - LAYOUT_RAM_BASE);
	cr_assert_eq(fdt_check_header(dtb), 0);
	node = fdt_path_offset(dtb, "/chosen");
	cr_assert_geq(node, 0);
	v = fdt_getprop(dtb, node, "linux,initrd-start", &len);
	cr_assert(v && len == 8);
	cr_expect_eq(fdt64_ld(v), bf.plan.initrd_gpa);
	v = fdt_getprop(dtb, node, "linux,initrd-end", &len);
	cr_assert(v && len == 8);
	cr_expect_eq(fdt64_ld(v), bf.plan.initrd_gpa + isize);

	boot_files_free(&bf);
	cr_expect_not(bf.has_kernel || bf.has_initrd);

	/* A guest RAM smaller than the plan says: refused, not written past its end. */
	struct guest_mem small = { .host = gm.host, .gpa = LAYOUT_RAM_BASE, .size = SZ_2M };
	struct capture c;
	char *err;

	cr_assert_eq(boot_prepare(&cfg, &bf), 0);
	capture_begin(&c, 2);
	cr_expect_eq(boot_load(&cfg, &bf, &small), -EFAULT);
	err = capture_end(&c);
	cr_expect(strstr(err, "does not fit in guest RAM"), "%s", err);
	free(err);
	boot_files_free(&bf);

	vm_config_free(&cfg);
	free(gm.host);
	free(initrd);
	free(kimg);
	free(kpath);
	free(ipath);
	scratch_rm(dir);
}
