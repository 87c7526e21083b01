/* image.h: the arm64 Linux Image header (Documentation/arch/arm64/booting.rst, "Call the kernel image"):
 *
 *   0x00 u32 code0, code1   0x08 u64 text_offset   0x10 u64 image_size   0x18 u64 flags
 *   0x20 u64 res2, res3, res4                       0x38 u32 magic "ARM\x64"   0x3c u32 res5 (PE offset)
 *
 * All fields little endian (since v3.17). image_size 0 marks a pre-3.17 kernel: text_offset is then taken
 * as 0x80000 whatever the header says, and the kernel's real footprint is unknown. */
#ifndef IVMM_IMAGE_H
#define IVMM_IMAGE_H

#include <stdbool.h>
#include "vmm/bits.h"
#include "vmm/compiler.h"

#define ARM64_IMAGE_HDR_SIZE 64
#define ARM64_IMAGE_MAGIC 0x644d5241u   /* "ARM\x64" read little endian */
#define ARM64_IMAGE_MAGIC_OFF 0x38
#define ARM64_IMAGE_LEGACY_TEXT_OFFSET 0x80000ULL

#define ARM64_IMAGE_FLAG_BE BIT(0)            /* 1: big-endian kernel */
#define ARM64_IMAGE_FLAG_PAGE_SIZE GENMASK(2, 1) /* 0 unspecified, 1 4K, 2 16K, 3 64K */
#define ARM64_IMAGE_FLAG_PHYS_ANY BIT(3)      /* 1: the 2 MiB base may be anywhere below 2^48 */

struct arm64_image {
	u64 text_offset;           /* offset of the Image from its 2 MiB aligned base */
	u64 image_size;            /* bytes the kernel needs from its start (0 for legacy kernels) */
	u64 flags;
	bool legacy;               /* image_size was 0: pre-v3.17 kernel */
	unsigned int page_kib;     /* 4, 16, 64, or 0 when unspecified */
};

/* Validate the header of the file `path` whose contents are buf[0..len). Fills *img and returns 0, or
 * prints one message "PATH: not an arm64 Linux Image (...)" (or why the Image cannot be booted) and
 * returns -ENOEXEC. */
int __must_check arm64_image_parse(const char *path, const void *buf, u64 len, struct arm64_image *img);

#endif
