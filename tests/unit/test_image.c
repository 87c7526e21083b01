/* test_image.c: arm64 Image header validation (boot/image.c) on synthetic headers, and the file checks of
 * boot_prepare (missing, not regular, empty initrd) with their exact messages. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "boot/boot.h"
#include "boot/image.h"
#include "tests/unit/fe_util.h"
#include "vmm/config.h"

/* Parse buf with stderr captured; returns the result, *err the text. */
static int parse(const void *buf, u64 len, struct arm64_image *img, char **err)
{
	struct capture c;
	int ret;

	capture_begin(&c, 2);
	ret = arm64_image_parse("k.img", buf, len, img);
	*err = capture_end(&c);
	return ret;
}

Test(image, modern_header)
{
	/* The header of the lab kernel: text_offset 0, image_size 0x940000, flags 0xa (4K pages, anywhere). */
	void *buf = fake_image(0, 0x940000, 0xa, 4096);
	struct arm64_image img;
	char *err;

	cr_assert_eq(parse(buf, 4096, &img, &err), 0);
	cr_expect_str_eq(err, "");
	cr_expect_eq(img.text_offset, 0);
	cr_expect_eq(img.image_size, 0x940000);
	cr_expect_eq(img.flags, 0xa);
	cr_expect_not(img.legacy);
	cr_expect_eq(img.page_kib, 4);
	free(err);
	free(buf);
}

Test(image, page_size_field)
{
	static const struct {
		u64 flags;
		unsigned int kib;
	} cases[] = { { 0, 0 }, { 2, 4 }, { 4, 16 }, { 6, 64 }, { 8 | 6, 64 } };

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		void *buf = fake_image(0x80000, SZ_2M, cases[i].flags, 64);
		struct arm64_image img;
		char *err;

		cr_assert_eq(parse(buf, 64, &img, &err), 0, "%s", err);
		cr_expect_eq(img.page_kib, cases[i].kib, "flags 0x%llx", (unsigned long long)cases[i].flags);
		cr_expect_eq(img.text_offset, 0x80000);
		free(err);
		free(buf);
	}
}

Test(image, legacy_image_size_zero)
{
	/* Pre-3.17: text_offset in the kernel's endianness (here big-endian 0x80000) and no flags field.
	 * booting.rst: with image_size 0, text_offset is taken as 0x80000. */
	void *buf = fake_image(0x0000080000000000ULL, 0, 0x1, 128);
	struct arm64_image img;
	char *err;

	cr_assert_eq(parse(buf, 128, &img, &err), 0, "%s", err);
	cr_expect(img.legacy);
	cr_expect_eq(img.text_offset, 0x80000);
	cr_expect_eq(img.image_size, 0);
	cr_expect_eq(img.flags, 0, "the flags field does not exist before 3.17");
	free(err);
	free(buf);
}

struct bad_header {
	const char *what;
	u64 text_offset, image_size, flags;
	size_t len;                 /* bytes handed to the parser */
	int patch_off;              /* >= 0: overwrite 4 bytes there */
	const char *patch;
	const char *msg;
};

static const struct bad_header bad_headers[] = {
	{ "empty", 0, SZ_2M, 0, 0, -1, NULL,
	  "ivmm: error: k.img: not an arm64 Linux Image (0 bytes, shorter than the 64-byte header)\n" },
	{ "63 bytes", 0, SZ_2M, 0, 63, -1, NULL,
	  "ivmm: error: k.img: not an arm64 Linux Image (63 bytes, shorter than the 64-byte header)\n" },
	{ "bad magic", 0, SZ_2M, 0, 64, 0x38, "ARM\x65",
	  "ivmm: error: k.img: not an arm64 Linux Image (bad magic)\n" },
	{ "magic at wrong offset (arm32 zImage)", 0, SZ_2M, 0, 64, 0x38, "\0\0\0\0",
	  "ivmm: error: k.img: not an arm64 Linux Image (bad magic)\n" },
	{ "ELF vmlinux", 0, SZ_2M, 0, 64, 0, "\x7f" "ELF",
	  "ivmm: error: k.img: not an arm64 Linux Image (an ELF file: use arch/arm64/boot/Image, not vmlinux)\n" },
	{ "Image.gz", 0, SZ_2M, 0, 64, 0, "\x1f\x8b\x08\x00",
	  "ivmm: error: k.img: not an arm64 Linux Image (gzip-compressed: decompress it first)\n" },
	{ "short gzip", 0, SZ_2M, 0, 10, 0, "\x1f\x8b\x08\x00",
	  "ivmm: error: k.img: not an arm64 Linux Image (gzip-compressed: decompress it first)\n" },
	{ "EFI zboot (no arm64 magic, 'zimg' at 4)", 0, SZ_2M, 0, 64, 4, "zimg",
	  "ivmm: error: k.img: not an arm64 Linux Image (an EFI zboot image: use arch/arm64/boot/Image)\n" },
	{ "big endian", 0, SZ_2M, 0xb, 64, -1, NULL,
	  "ivmm: error: k.img: big-endian arm64 kernel (header flags 0xb): only little-endian kernels are "
	  "supported\n" },
	{ "text_offset 2 MiB", SZ_2M, 4 * SZ_1M, 0, 64, -1, NULL,
	  "ivmm: error: k.img: bad arm64 Image header: text_offset 0x200000 is not a 4 KiB multiple below 2 MiB\n" },
	{ "text_offset unaligned", 0x80010, SZ_2M, 0, 64, -1, NULL,
	  "ivmm: error: k.img: bad arm64 Image header: text_offset 0x80010 is not a 4 KiB multiple below 2 MiB\n" },
};

Test(image, bad_headers)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_headers); i++) {
		const struct bad_header *b = &bad_headers[i];
		u8 *buf = fake_image(b->text_offset, b->image_size, b->flags, 64);
		struct arm64_image img;
		char *err;

		if (b->patch_off >= 0)
			memcpy(buf + b->patch_off, b->patch, 4);
		if (b->patch_off == 4)
			memcpy(buf + ARM64_IMAGE_MAGIC_OFF, "\0\0\0\0", 4);
		cr_expect_eq(parse(buf, b->len, &img, &err), -ENOEXEC, "%s", b->what);
		cr_expect_str_eq(err, b->msg, "%s", b->what);
		free(err);
		free(buf);
	}
}

Test(image, reserved_flags_warn_only)
{
	void *buf = fake_image(0, SZ_2M, 0x10 | 0x2, 64);
	struct arm64_image img;
	char *err;

	cr_assert_eq(parse(buf, 64, &img, &err), 0);
	cr_expect_str_eq(err, "ivmm: warning: k.img: Image header flags 0x12 set reserved bits; ignoring them\n");
	cr_expect_eq(img.page_kib, 4);
	free(err);
	free(buf);
}

/* boot_prepare on real files: the message names the file and the problem; nothing stays open. */
Test(image, prepare_file_errors)
{
	char *dir = scratch_dir(), *good, *bad, *empty, *want, *err;
	void *img = fake_image(0, 4 * SZ_1M, 0xa, 8192);
	struct vm_config cfg;
	struct boot_files bf;
	struct capture c;
	void *huge_img = fake_image(0, 600 * SZ_1M, 0xa, 4096);
	char *huge;
	struct {
		const char *kernel, *initrd;
		int err;           /* what boot_prepare returns: each one is a usage error */
		const char *fmt;   /* %1$s = dir */
	} cases[] = {
		{ "missing", NULL, -ENOENT, "ivmm: error: cannot open kernel %1$s/missing: No such file or directory\n" },
		{ "Image/x", NULL, -ENOTDIR, "ivmm: error: cannot open kernel %1$s/Image/x: Not a directory\n" },
		{ ".", NULL, -EISDIR, "ivmm: error: kernel %1$s/.: not a regular file\n" },
		{ "bad", NULL, -ENOEXEC, "ivmm: error: %1$s/bad: not an arm64 Linux Image (bad magic)\n" },
		{ "Image", "missing", -ENOENT,
		  "ivmm: error: cannot open initrd %1$s/missing: No such file or directory\n" },
		{ "Image", "empty", -EINVAL, "ivmm: error: initrd %1$s/empty: empty file\n" },
		{ "huge", NULL, -EINVAL, "ivmm: error: memory too small: kernel %1$s/huge needs 602 MiB (with 2 MiB for "
					 "the device tree), memory is 512 MiB\n" },
	};

	good = scratch_file(dir, "Image", img, 8192);
	huge = scratch_file(dir, "huge", huge_img, 4096);
	static const char script[] = "#!/bin/sh\necho this is not a kernel, but it is long enough to have a header\n";
	_Static_assert(sizeof(script) > 64, "needs a full header's worth of bytes");
	bad = scratch_file(dir, "bad", script, sizeof(script) - 1);
	empty = scratch_file(dir, "empty", "", 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		vm_config_init(&cfg);
		cr_assert(asprintf(&cfg.kernel, "%s/%s", dir, cases[i].kernel) > 0);
		if (cases[i].initrd)
			cr_assert(asprintf(&cfg.initrd, "%s/%s", dir, cases[i].initrd) > 0);
		capture_begin(&c, 2);
		int ret = boot_prepare(&cfg, &bf);

		err = capture_end(&c);
		cr_expect_eq(ret, cases[i].err, "case %zu: got %d", i, ret);
		cr_expect_eq(ivmm_exit_for_errno(ret), IVMM_EXIT_USAGE, "case %zu", i);
		cr_assert(asprintf(&want, cases[i].fmt, dir) > 0);
		cr_expect_str_eq(err, want, "case %zu", i);
		cr_expect_not(bf.has_kernel || bf.has_initrd, "case %zu: files left open", i);
		free(want);
		free(err);
		vm_config_free(&cfg);
	}

	/* No kernel at all. */
	vm_config_init(&cfg);
	capture_begin(&c, 2);
	cr_expect_eq(boot_prepare(&cfg, &bf), -EINVAL);
	err = capture_end(&c);
	cr_expect_str_eq(err, "ivmm: error: no kernel given (--kernel or [boot] kernel)\n");
	free(err);
	vm_config_free(&cfg);

	free(good);
	free(bad);
	free(empty);
	free(huge);
	free(img);
	free(huge_img);
	scratch_rm(dir);
}
