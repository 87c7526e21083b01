/* image.c: arm64 Linux Image header validation (see image.h). Reads the header byte-wise as little endian
 * so it is correct on any host, and recognises the usual wrong files (vmlinux ELF, Image.gz, zboot EFI
 * images) to say what to use instead. */
#include <errno.h>
#include <string.h>
#include "boot/image.h"
#include "vmm/log.h"

static u64 le64(const u8 *p)
{
	u64 v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static u32 le32(const u8 *p)
{
	return (u32)p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 | (u32)p[3] << 24;
}

int arm64_image_parse(const char *path, const void *buf, u64 len, struct arm64_image *img)
{
	const u8 *h = buf;
	u64 reserved;

	memset(img, 0, sizeof(*img));
	if (len >= 4 && !memcmp(h, "\x7f" "ELF", 4)) {
		pr_err("%s: not an arm64 Linux Image (an ELF file: use arch/arm64/boot/Image, not vmlinux)", path);
		return -ENOEXEC;
	}
	if (len >= 2 && h[0] == 0x1f && h[1] == 0x8b) {
		pr_err("%s: not an arm64 Linux Image (gzip-compressed: decompress it first)", path);
		return -ENOEXEC;
	}
	if (len < ARM64_IMAGE_HDR_SIZE) {
		pr_err("%s: not an arm64 Linux Image (%llu bytes, shorter than the %d-byte header)", path,
		       (unsigned long long)len, ARM64_IMAGE_HDR_SIZE);
		return -ENOEXEC;
	}
	if (le32(h + ARM64_IMAGE_MAGIC_OFF) != ARM64_IMAGE_MAGIC) {
		/* EFI zboot images (CONFIG_EFI_ZBOOT) start with "MZ" and carry "zimg" at offset 4. */
		if (!memcmp(h + 4, "zimg", 4))
			pr_err("%s: not an arm64 Linux Image (an EFI zboot image: use arch/arm64/boot/Image)", path);
		else
			pr_err("%s: not an arm64 Linux Image (bad magic)", path);
		return -ENOEXEC;
	}

	img->flags = le64(h + 0x18);
	img->image_size = le64(h + 0x10);
	img->legacy = img->image_size == 0;
	/* Before v3.17 text_offset had the kernel's endianness and was always 0x80000 (booting.rst). */
	img->text_offset = img->legacy ? ARM64_IMAGE_LEGACY_TEXT_OFFSET : le64(h + 0x08);
	if (img->legacy)
		img->flags = 0;   /* no flags field before v3.17 */
	reserved = img->flags & ~(ARM64_IMAGE_FLAG_BE | ARM64_IMAGE_FLAG_PAGE_SIZE | ARM64_IMAGE_FLAG_PHYS_ANY);

	if (img->flags & ARM64_IMAGE_FLAG_BE) {
		pr_err("%s: big-endian arm64 kernel (header flags 0x%llx): only little-endian kernels are supported",
		       path, (unsigned long long)img->flags);
		return -ENOEXEC;
	}
	if (reserved)
		pr_warn("%s: Image header flags 0x%llx set reserved bits; ignoring them", path,
			(unsigned long long)img->flags);
	if (img->text_offset >= SZ_2M || !IS_ALIGNED(img->text_offset, SZ_4K)) {
		pr_err("%s: bad arm64 Image header: text_offset 0x%llx is not a 4 KiB multiple below 2 MiB", path,
		       (unsigned long long)img->text_offset);
		return -ENOEXEC;
	}
	switch (FIELD_GET(ARM64_IMAGE_FLAG_PAGE_SIZE, img->flags)) {
	case 1: img->page_kib = 4; break;
	case 2: img->page_kib = 16; break;
	case 3: img->page_kib = 64; break;
	default: img->page_kib = 0; break;
	}
	return 0;
}
