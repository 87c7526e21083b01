/* boot.h: getting a Linux arm64 Image, an optional initrd and the DTB into guest RAM.
 * boot_prepare() reads and validates the files and computes the placement (no VM needed: it is what
 * --dump-dtb and config validation use); boot_load() writes everything into guest memory. */
#ifndef IVMM_BOOT_H
#define IVMM_BOOT_H

#include <stdbool.h>
#include "boot/image.h"
#include "vmm/compiler.h"

struct vm_config;
struct guest_mem;

/* Room reserved for the DTB: the last 2 MiB of RAM (booting.rst: at most 2 MiB, 8-byte aligned; a whole
 * 2 MiB aligned block so it never shares a block with anything mapped differently). */
#define BOOT_DTB_MAX SZ_2M
/* Initrd start alignment: a page for every granule (4K/16K/64K). */
#define BOOT_INITRD_ALIGN SZ_64K
/* booting.rst: the initrd must lie in a 1 GiB aligned window of at most 32 GiB that also covers the kernel. */
#define BOOT_INITRD_WINDOW (32 * SZ_1G)

struct boot_plan {
	u64 kernel_gpa;            /* where the Image is placed (2 MiB aligned base + text_offset) */
	u64 kernel_size;           /* image_size from the header (bytes the kernel needs, >= file size) */
	u64 entry;                 /* PC at boot = kernel_gpa */
	u64 initrd_gpa, initrd_size;
	u64 dtb_gpa;               /* 8-byte aligned, inside RAM, not crossing a 2 MiB boundary */
	u64 dtb_max;               /* room reserved for the DTB */
};

/* The files stay open between boot_prepare() and boot_load(), which reads them straight into guest RAM
 * (no second copy of kernel and initrd in ivmm's own memory). */
struct boot_files {
	int kernel_fd, initrd_fd;  /* valid when has_kernel / has_initrd */
	bool has_kernel, has_initrd;
	u64 kernel_file_size;
	u64 initrd_size;
	struct arm64_image image;  /* the parsed header */
	struct boot_plan plan;
};

/* Open + validate cfg->kernel (arm64 Image header) and cfg->initrd, compute the plan for cfg->mem_size.
 * Prints one clear message naming the file and the problem. Returns 0 or -errno; map it to an exit status
 * with ivmm_exit_for_errno() (vmm/config.h). Usage errors (exit 2): -EINVAL (no kernel, not a regular
 * file, empty initrd, memory too small for the files), -ENOEXEC (not an arm64 Image), -EISDIR, and what
 * open() says about a path the user gave (-ENOENT, -EACCES, -ENOTDIR, -ELOOP, -ENAMETOOLONG). Host
 * trouble (exit 1): -EIO and other read errors (a file that shrinks while read gives -EIO), -ENOMEM, -EMFILE.
 * On failure nothing is left open; on success call boot_files_free() when done. */
int __must_check boot_prepare(const struct vm_config *cfg, struct boot_files *bf);
/* Copy kernel and initrd into RAM and build the DTB at plan.dtb_gpa. Returns 0 or -errno. */
int __must_check boot_load(const struct vm_config *cfg, struct boot_files *bf, struct guest_mem *gm);
void boot_files_free(struct boot_files *bf);

/* The placement rules alone (pure; boot_prepare uses it): kernel at LAYOUT_RAM_BASE + text_offset with
 * image_size bytes of room, initrd after it (BOOT_INITRD_ALIGN; for legacy image_size-0 kernels at the top of
 * RAM instead, leaving the room after the kernel free), DTB in the last 2 MiB of RAM. initrd_size 0: none.
 * Prints "memory too small: ..." naming the files and sizes and returns -EINVAL when they do not fit. */
int __must_check boot_plan_compute(u64 mem_size, const struct arm64_image *img, u64 kernel_file_size,
				   u64 initrd_size, const char *kernel_path, const char *initrd_path,
				   struct boot_plan *plan);

/* --dump-dtb: fdt_build for the plan of bf (from boot_prepare, which reports bad kernel/initrd/memory itself),
 * then write the DTB to cfg->dump_dtb. Needs no KVM. Returns 0, or -errno after one message (the device tree
 * could not be built, or the file could not be written). */
int __must_check boot_dump_dtb(const struct vm_config *cfg, const struct boot_files *bf);

#endif
