/* boot.h: getting a Linux arm64 Image, an optional initrd and the DTB into guest RAM.
 * boot_prepare() reads and validates the files and computes the placement (no VM needed: it is what
 * --dump-dtb and config validation use); boot_load() writes everything into guest memory. */
#ifndef IVMM_BOOT_H
#define IVMM_BOOT_H

#include "vmm/compiler.h"

struct vm_config;
struct guest_mem;

struct boot_plan {
	u64 kernel_gpa;            /* where the Image is placed (2 MiB aligned base + text_offset) */
	u64 kernel_size;           /* image_size from the header (bytes the kernel needs, >= file size) */
	u64 entry;                 /* PC at boot = kernel_gpa */
	u64 initrd_gpa, initrd_size;
	u64 dtb_gpa;               /* 8-byte aligned, inside RAM, not crossing a 2 MiB boundary */
	u64 dtb_max;               /* room reserved for the DTB */
};

struct boot_files {
	void *kernel;              /* file contents */
	u64 kernel_file_size;
	void *initrd;
	u64 initrd_size;
	struct boot_plan plan;
};

/* Read + validate cfg->kernel (arm64 Image header) and cfg->initrd, compute the plan for cfg->mem_size.
 * Prints one clear message naming the file and the problem. Returns 0 or -errno (a usage error: exit 2). */
int __must_check boot_prepare(const struct vm_config *cfg, struct boot_files *bf);
/* Copy kernel and initrd into RAM and build the DTB at plan.dtb_gpa. Returns 0 or -errno. */
int __must_check boot_load(const struct vm_config *cfg, struct boot_files *bf, struct guest_mem *gm);
void boot_files_free(struct boot_files *bf);

#endif
