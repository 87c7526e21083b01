/* boot.c: from files to a bootable guest RAM image: open and validate kernel and initrd (boot_prepare),
 * decide where everything goes (boot_plan_compute), read the files straight into guest RAM and write the
 * DTB (boot_load), and --dump-dtb (boot_dump_dtb). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "boot/boot.h"
#include "boot/fdt.h"
#include "boot/layout.h"
#include "vmm/config.h"
#include "vmm/guest_mem.h"
#include "vmm/log.h"

static u64 sat_add(u64 a, u64 b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static unsigned long long mib_up(u64 bytes)
{
	return (unsigned long long)(bytes / SZ_1M + !!(bytes % SZ_1M));
}

int boot_plan_compute(u64 mem_size, const struct arm64_image *img, u64 kernel_file_size, u64 initrd_size,
		      const char *kernel_path, const char *initrd_path, struct boot_plan *plan)
{
	const u64 ram_end = LAYOUT_RAM_BASE + mem_size;
	/* Legacy kernels do not say how much room they need: give them at least their file. */
	u64 kernel_size = img->legacy ? kernel_file_size : MAX(img->image_size, kernel_file_size);
	u64 kernel_end_off = sat_add(img->text_offset, kernel_size);
	u64 initrd_off = kernel_end_off > UINT64_MAX - BOOT_INITRD_ALIGN ? UINT64_MAX
					: ALIGN_UP(kernel_end_off, BOOT_INITRD_ALIGN);
	u64 need = sat_add(sat_add(initrd_size ? initrd_off : kernel_end_off, initrd_size), BOOT_DTB_MAX);

	memset(plan, 0, sizeof(*plan));
	if (need > mem_size) {
		if (initrd_size)
			pr_err("memory too small: kernel %s and initrd %s need %llu MiB (with 2 MiB for the device "
			       "tree), memory is %llu MiB", kernel_path, initrd_path, mib_up(need),
			       mib_up(mem_size));
		else
			pr_err("memory too small: kernel %s needs %llu MiB (with 2 MiB for the device tree), "
			       "memory is %llu MiB", kernel_path, mib_up(need), mib_up(mem_size));
		return -EINVAL;
	}
	/* The lowest 2 MiB aligned base, RAM's own: right for both values of flags bit 3 (near the start of
	 * DRAM, or anywhere below 2^48). */
	plan->kernel_gpa = LAYOUT_RAM_BASE + img->text_offset;
	plan->kernel_size = kernel_size;
	plan->entry = plan->kernel_gpa;
	plan->dtb_max = BOOT_DTB_MAX;
	plan->dtb_gpa = ram_end - BOOT_DTB_MAX;
	if (!initrd_size)
		return 0;

	plan->initrd_size = initrd_size;
	if (img->legacy) {
		/* Keep the room after the kernel free (booting.rst): initrd at the top, inside the window. */
		u64 top = MIN(plan->dtb_gpa, LAYOUT_RAM_BASE + BOOT_INITRD_WINDOW);

		plan->initrd_gpa = top >= initrd_size && top - initrd_size >= LAYOUT_RAM_BASE + initrd_off
					   ? ALIGN_DOWN(top - initrd_size, BOOT_INITRD_ALIGN)
					   : LAYOUT_RAM_BASE + initrd_off;
	} else {
		plan->initrd_gpa = LAYOUT_RAM_BASE + initrd_off;
	}
	if (plan->initrd_gpa + initrd_size > LAYOUT_RAM_BASE + BOOT_INITRD_WINDOW) {
		pr_err("initrd %s too big: kernel and initrd must lie within the first 32 GiB of RAM "
		       "(initrd is %llu MiB)", initrd_path, mib_up(initrd_size));
		return -EINVAL;
	}
	return 0;
}

/* Open path as a regular file; its size into *size. what: "kernel" or "initrd". */
static int open_input(const char *what, const char *path, int *fd_out, u64 *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0) {
		err = errno;
		pr_err("cannot open %s %s: %s", what, path, strerror(err));
		return -err;
	}
	if (fstat(fd, &st)) {
		err = errno;
		pr_err("cannot open %s %s: %s", what, path, strerror(err));
		close(fd);
		return -err;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("%s %s: not a regular file", what, path);
		close(fd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	*fd_out = fd;
	*size = (u64)st.st_size;
	return 0;
}

/* Read exactly len bytes at offset off; a short file is an error (it changed under us). */
static int read_exact(const char *what, const char *path, int fd, void *dst, u64 len, u64 off)
{
	u8 *p = dst;

	while (len) {
		ssize_t n = pread(fd, p, MIN(len, (u64)1 << 30), (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;

			pr_err("cannot read %s %s: %s", what, path, strerror(err));
			return -err;
		}
		if (n == 0) {
			pr_err("cannot read %s %s: the file became shorter while ivmm was reading it", what, path);
			return -EIO;
		}
		p += n;
		off += (u64)n;
		len -= (u64)n;
	}
	return 0;
}

void boot_files_free(struct boot_files *bf)
{
	if (bf->has_kernel)
		close(bf->kernel_fd);
	if (bf->has_initrd)
		close(bf->initrd_fd);
	bf->has_kernel = bf->has_initrd = false;
}

int boot_prepare(const struct vm_config *cfg, struct boot_files *bf)
{
	u8 hdr[ARM64_IMAGE_HDR_SIZE];
	int ret;

	memset(bf, 0, sizeof(*bf));
	if (!cfg->kernel) {
		pr_err("no kernel given (--kernel or [boot] kernel)");
		return -EINVAL;
	}
	ret = open_input("kernel", cfg->kernel, &bf->kernel_fd, &bf->kernel_file_size);
	if (ret)
		return ret;
	bf->has_kernel = true;
	ret = read_exact("kernel", cfg->kernel, bf->kernel_fd, hdr, MIN(bf->kernel_file_size, sizeof(hdr)), 0);
	if (ret)
		goto fail;
	ret = arm64_image_parse(cfg->kernel, hdr, MIN(bf->kernel_file_size, sizeof(hdr)), &bf->image);
	if (ret)
		goto fail;
	if (bf->image.legacy)
		pr_warn("%s: Image header has image_size 0 (a kernel older than 3.17): assuming text_offset "
			"0x80000", cfg->kernel);

	if (cfg->initrd) {
		ret = open_input("initrd", cfg->initrd, &bf->initrd_fd, &bf->initrd_size);
		if (ret)
			goto fail;
		bf->has_initrd = true;
		if (!bf->initrd_size) {
			pr_err("initrd %s: empty file", cfg->initrd);
			ret = -EINVAL;
			goto fail;
		}
	}
	ret = boot_plan_compute(cfg->mem_size, &bf->image, bf->kernel_file_size, bf->initrd_size, cfg->kernel,
				cfg->initrd, &bf->plan);
	if (ret)
		goto fail;
	return 0;
fail:
	boot_files_free(bf);
	return ret;
}

static int load_file(const char *what, const char *path, int fd, struct guest_mem *gm, u64 gpa, u64 len)
{
	void *dst = gmem_ptr(gm, gpa, len);

	if (!dst) {
		pr_err("%s %s does not fit in guest RAM at 0x%llx (+%llu bytes)", what, path,
		       (unsigned long long)gpa, (unsigned long long)len);
		return -EFAULT;
	}
	return read_exact(what, path, fd, dst, len, 0);
}

int boot_load(const struct vm_config *cfg, struct boot_files *bf, struct guest_mem *gm)
{
	const struct boot_plan *plan = &bf->plan;
	void *dtb;
	int ret;

	if (!bf->has_kernel) {
		pr_err("boot_load: boot_prepare did not succeed");
		return -EINVAL;
	}
	ret = load_file("kernel", cfg->kernel, bf->kernel_fd, gm, plan->kernel_gpa, bf->kernel_file_size);
	if (ret)
		return ret;
	if (bf->has_initrd) {
		ret = load_file("initrd", cfg->initrd, bf->initrd_fd, gm, plan->initrd_gpa, bf->initrd_size);
		if (ret)
			return ret;
	}
	dtb = gmem_ptr(gm, plan->dtb_gpa, plan->dtb_max);
	if (!dtb) {
		pr_err("device tree does not fit in guest RAM at 0x%llx", (unsigned long long)plan->dtb_gpa);
		return -EFAULT;
	}
	ret = fdt_build(cfg, plan, dtb, plan->dtb_max);
	if (ret < 0) {
		pr_err("cannot build the device tree: %s", strerror(-ret));
		return ret;
	}
	pr_debug("kernel at 0x%llx, initrd at 0x%llx (+%llu), dtb at 0x%llx (%d bytes)",
		 (unsigned long long)plan->kernel_gpa, (unsigned long long)plan->initrd_gpa,
		 (unsigned long long)plan->initrd_size, (unsigned long long)plan->dtb_gpa, ret);
	return 0;
}

int boot_dump_dtb(const struct vm_config *cfg, const struct boot_files *bf)
{
	void *buf;
	int ret, fd = -1;

	buf = calloc(1, bf->plan.dtb_max);
	if (!buf) {
		pr_err("out of memory for the device tree (%llu bytes)", (unsigned long long)bf->plan.dtb_max);
		return -ENOMEM;
	}
	ret = fdt_build(cfg, &bf->plan, buf, bf->plan.dtb_max);
	if (ret < 0) {
		pr_err("cannot build the device tree: %s", strerror(-ret));
		goto out;
	}
	fd = open(cfg->dump_dtb, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		pr_err("cannot write %s: %s", cfg->dump_dtb, strerror(-ret));
		goto out;
	}
	for (u8 *p = buf, *end = p + ret; p < end;) {
		ssize_t n = write(fd, p, (size_t)(end - p));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			pr_err("cannot write %s: %s", cfg->dump_dtb, strerror(-ret));
			goto out;
		}
		p += n;
	}
	ret = close(fd) ? -errno : 0;
	fd = -1;
	if (ret)
		pr_err("cannot write %s: %s", cfg->dump_dtb, strerror(-ret));
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret < 0 ? ret : 0;
}
