/* test_fdt.c: the guest device tree (boot/fdt.c) read back with libfdt: every node and property the guest
 * kernel relies on, phandle references, the CPU MPIDRs KVM assigns, the PCIe bridge's ranges/msi-map and an
 * interrupt-map that routes INTA..D of every slot with the standard swizzle; and --dump-dtb. */
#include <criterion/criterion.h>
#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "boot/boot.h"
#include "boot/fdt.h"
#include "boot/layout.h"
#include "tests/unit/fe_util.h"
#include "vmm/config.h"

#define DTB_BUF (64 * 1024)

static void *build(const struct vm_config *cfg, const struct boot_plan *plan)
{
	void *buf = calloc(1, DTB_BUF);
	int n;

	cr_assert(buf);
	n = fdt_build(cfg, plan, buf, DTB_BUF);
	cr_assert_gt(n, 0, "fdt_build: %d", n);
	cr_assert_eq(fdt_check_full(buf, (size_t)n), 0, "not a valid DTB");
	cr_assert_eq(fdt_totalsize(buf), (u32)n);
	return buf;
}

static int node(const void *fdt, const char *path)
{
	int off = fdt_path_offset(fdt, path);

	cr_assert_geq(off, 0, "node %s missing", path);
	return off;
}

static const void *prop(const void *fdt, const char *path, const char *name, int *len)
{
	const void *v = fdt_getprop(fdt, node(fdt, path), name, len);

	cr_assert(v, "%s:%s missing", path, name);
	return v;
}

static void expect_str(const void *fdt, const char *path, const char *name, const char *want)
{
	int len;
	const char *v = prop(fdt, path, name, &len);

	cr_expect_eq((size_t)len, strlen(want) + 1, "%s:%s length", path, name);
	cr_expect_str_eq(v, want, "%s:%s", path, name);
}

/* A string list given as "a\0b" with its sizeof. */
static void expect_strlist(const void *fdt, const char *path, const char *name, const char *want, size_t wlen)
{
	int len;
	const char *v = prop(fdt, path, name, &len);

	cr_expect_eq((size_t)len, wlen, "%s:%s length", path, name);
	cr_expect_eq(memcmp(v, want, MIN((size_t)len, wlen)), 0, "%s:%s", path, name);
}
#define EXPECT_STRLIST(f, p, n, lit) expect_strlist(f, p, n, lit, sizeof(lit))

static void expect_cells(const void *fdt, const char *path, const char *name, const u32 *want, size_t n)
{
	int len;
	const fdt32_t *v = prop(fdt, path, name, &len);

	cr_assert_eq((size_t)len, n * 4, "%s:%s: %d bytes, want %zu cells", path, name, len, n);
	for (size_t i = 0; i < n; i++)
		cr_expect_eq(fdt32_ld(&v[i]), want[i], "%s:%s cell %zu: 0x%x, want 0x%x", path, name, i,
			     fdt32_ld(&v[i]), want[i]);
}
#define EXPECT_CELLS(f, p, n, ...)                                                   \
	do {                                                                         \
		const u32 w__[] = { __VA_ARGS__ };                                   \
		expect_cells(f, p, n, w__, ARRAY_SIZE(w__));                         \
	} while (0)

static void expect_empty(const void *fdt, const char *path, const char *name)
{
	int len;

	prop(fdt, path, name, &len);
	cr_expect_eq(len, 0, "%s:%s should be empty", path, name);
}

static void expect_absent(const void *fdt, const char *path, const char *name)
{
	cr_expect_null(fdt_getprop(fdt, node(fdt, path), name, NULL), "%s:%s should be absent", path, name);
}

#define HI(x) ((u32)((u64)(x) >> 32))
#define LO(x) ((u32)(x))

static void config(struct vm_config *cfg, unsigned int ncpus, unsigned int ndevices)
{
	vm_config_init(cfg);
	cfg->ncpus = ncpus;
	cfg->mem_size = SZ_1G;
	free(cfg->cmdline);
	cfg->cmdline = strdup("console=ttyS0 earlycon rdinit=/init");
	cfg->kernel = strdup("Image");
	for (unsigned int i = 0; i < ndevices; i++) {
		struct vm_device_config *d = &cfg->devices[cfg->ndevices++];

		cr_assert(asprintf(&d->id, "d%u", i) > 0);
		cr_assert(asprintf(&d->host, "0000:00:%02x.0", i + 1) > 0);
		d->where = strdup("--device");
	}
}

static const struct boot_plan plan_with_initrd = {
	.kernel_gpa = 0x40000000, .kernel_size = 0x940000, .entry = 0x40000000,
	.initrd_gpa = 0x40940000, .initrd_size = 1000000,
	.dtb_gpa = 0x40000000 + SZ_1G - SZ_2M, .dtb_max = SZ_2M,
};

Test(fdt, root_chosen_aliases_memory)
{
	struct vm_config cfg;
	void *fdt;
	int uart, len;

	config(&cfg, 1, 0);
	fdt = build(&cfg, &plan_with_initrd);
	EXPECT_STRLIST(fdt, "/", "compatible", "ivmm,virt\0linux,dummy-virt");
	expect_str(fdt, "/", "model", "ivmm virtual machine");
	EXPECT_CELLS(fdt, "/", "#address-cells", 2);
	EXPECT_CELLS(fdt, "/", "#size-cells", 2);
	EXPECT_CELLS(fdt, "/", "interrupt-parent", FDT_PHANDLE_GIC);

	expect_str(fdt, "/chosen", "bootargs", "console=ttyS0 earlycon rdinit=/init");
	uart = node(fdt, "/uart@1000000");
	/* stdout-path and serial0 both lead to the UART node. */
	cr_expect_eq(fdt_path_offset(fdt, prop(fdt, "/chosen", "stdout-path", &len)), uart);
	cr_expect_eq(fdt_path_offset(fdt, prop(fdt, "/aliases", "serial0", &len)), uart);
	cr_expect_eq(fdt_path_offset(fdt, "serial0"), uart, "alias resolution");
	EXPECT_CELLS(fdt, "/chosen", "linux,initrd-start", 0, 0x40940000);
	EXPECT_CELLS(fdt, "/chosen", "linux,initrd-end", 0, 0x40940000 + 1000000);

	expect_str(fdt, "/memory@40000000", "device_type", "memory");
	EXPECT_CELLS(fdt, "/memory@40000000", "reg", HI(LAYOUT_RAM_BASE), LO(LAYOUT_RAM_BASE), HI(SZ_1G), LO(SZ_1G));
	/* Exactly one memory node, and no PCIe bridge without devices. */
	cr_expect_lt(fdt_node_offset_by_prop_value(fdt, node(fdt, "/memory@40000000"), "device_type", "memory", 7), 0);
	cr_expect_lt(fdt_path_offset(fdt, "/pcie@10000000"), 0);
	free(fdt);

	/* No initrd: no initrd properties. */
	struct boot_plan no_initrd = plan_with_initrd;

	no_initrd.initrd_size = 0;
	no_initrd.initrd_gpa = 0;
	fdt = build(&cfg, &no_initrd);
	expect_absent(fdt, "/chosen", "linux,initrd-start");
	expect_absent(fdt, "/chosen", "linux,initrd-end");
	free(fdt);
	vm_config_free(&cfg);
}

Test(fdt, cpus_have_kvm_mpidrs)
{
	static const unsigned int counts[] = { 1, 2, 16, 17, 64 };

	for (size_t k = 0; k < ARRAY_SIZE(counts); k++) {
		struct vm_config cfg;
		void *fdt;
		int cpus, child, n = 0;

		config(&cfg, counts[k], 0);
		fdt = build(&cfg, NULL);
		cpus = node(fdt, "/cpus");
		EXPECT_CELLS(fdt, "/cpus", "#address-cells", 1);
		EXPECT_CELLS(fdt, "/cpus", "#size-cells", 0);
		fdt_for_each_subnode(child, fdt, cpus) {
			/* KVM (arch/arm64/kvm/sys_regs.h): MPIDR Aff0 = vcpu_id & 0xf, Aff1 = (vcpu_id >> 4) & 0xff. */
			u32 want = (u32)(n % 16) | (u32)(n / 16) << 8;
			char path[64];
			int len;

			snprintf(path, sizeof(path), "/cpus/cpu@%x", want);
			cr_expect_eq(child, fdt_path_offset(fdt, path), "vcpu %d is not %s", n, path);
			cr_expect_str_eq(fdt_getprop(fdt, child, "device_type", &len), "cpu");
			cr_expect_str_eq(fdt_getprop(fdt, child, "compatible", &len), "arm,arm-v8");
			cr_expect_str_eq(fdt_getprop(fdt, child, "enable-method", &len), "psci");
			const fdt32_t *reg = fdt_getprop(fdt, child, "reg", &len);
			cr_assert(reg && len == 4);
			cr_expect_eq(fdt32_ld(reg), want, "vcpu %d reg", n);
			cr_expect_eq(fdt_cpu_mpidr((unsigned int)n), want);
			n++;
		}
		cr_expect_eq(n, (int)counts[k], "cpu node count");
		/* GICR frames for every vCPU. */
		EXPECT_CELLS(fdt, "/intc@2000000", "reg", HI(LAYOUT_GICD_BASE), LO(LAYOUT_GICD_BASE), 0, 0x10000,
			     HI(LAYOUT_GICR_BASE), LO(LAYOUT_GICR_BASE), 0, counts[k] * 0x20000);
		free(fdt);
		vm_config_free(&cfg);
	}
}

Test(fdt, psci_timer_gic_its_uart)
{
	struct vm_config cfg;
	void *fdt;

	config(&cfg, 2, 0);
	fdt = build(&cfg, NULL);

	EXPECT_STRLIST(fdt, "/psci", "compatible", "arm,psci-1.0\0arm,psci-0.2");
	expect_str(fdt, "/psci", "method", "hvc");

	expect_str(fdt, "/timer", "compatible", "arm,armv8-timer");
	/* Secure, non-secure physical, virtual, hypervisor: PPIs 13, 14, 11, 10, level high. */
	EXPECT_CELLS(fdt, "/timer", "interrupts", 1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4);
	expect_empty(fdt, "/timer", "always-on");

	expect_str(fdt, "/intc@2000000", "compatible", "arm,gic-v3");
	EXPECT_CELLS(fdt, "/intc@2000000", "#interrupt-cells", 3);
	expect_empty(fdt, "/intc@2000000", "interrupt-controller");
	EXPECT_CELLS(fdt, "/intc@2000000", "interrupts", 1, 9, 4);
	EXPECT_CELLS(fdt, "/intc@2000000", "#address-cells", 2);
	EXPECT_CELLS(fdt, "/intc@2000000", "#size-cells", 2);
	expect_empty(fdt, "/intc@2000000", "ranges");
	EXPECT_CELLS(fdt, "/intc@2000000", "phandle", FDT_PHANDLE_GIC);
	cr_expect_eq(fdt_node_offset_by_phandle(fdt, FDT_PHANDLE_GIC), node(fdt, "/intc@2000000"));

	expect_str(fdt, "/intc@2000000/its@7ff0000", "compatible", "arm,gic-v3-its");
	expect_empty(fdt, "/intc@2000000/its@7ff0000", "msi-controller");
	EXPECT_CELLS(fdt, "/intc@2000000/its@7ff0000", "#msi-cells", 1);
	EXPECT_CELLS(fdt, "/intc@2000000/its@7ff0000", "reg", 0, LO(LAYOUT_ITS_BASE), 0, LO(LAYOUT_ITS_SIZE));
	EXPECT_CELLS(fdt, "/intc@2000000/its@7ff0000", "phandle", FDT_PHANDLE_ITS);
	cr_expect_eq(fdt_node_offset_by_phandle(fdt, FDT_PHANDLE_ITS), node(fdt, "/intc@2000000/its@7ff0000"));

	expect_str(fdt, "/uart@1000000", "compatible", "ns16550a");
	EXPECT_CELLS(fdt, "/uart@1000000", "reg", 0, LO(LAYOUT_UART_BASE), 0, LO(LAYOUT_UART_SIZE));
	EXPECT_CELLS(fdt, "/uart@1000000", "interrupts", 0, LAYOUT_SPI_UART, 4);
	EXPECT_CELLS(fdt, "/uart@1000000", "clock-frequency", 1843200);
	EXPECT_CELLS(fdt, "/uart@1000000", "reg-shift", 0);
	EXPECT_CELLS(fdt, "/uart@1000000", "reg-io-width", 1);
	free(fdt);
	vm_config_free(&cfg);
}

Test(fdt, pcie_host_bridge)
{
	struct vm_config cfg;
	const char *pcie = "/pcie@10000000";
	const fdt32_t *map, *mask;
	void *fdt;
	int len, mlen;

	config(&cfg, 1, 2);
	fdt = build(&cfg, NULL);
	expect_str(fdt, pcie, "compatible", "pci-host-ecam-generic");
	expect_str(fdt, pcie, "device_type", "pci");
	EXPECT_CELLS(fdt, pcie, "reg", 0, LO(LAYOUT_ECAM_BASE), 0, LO(LAYOUT_ECAM_SIZE));
	EXPECT_CELLS(fdt, pcie, "bus-range", 0, 0xff);
	/* ECAM: 1 MiB per bus of the range. */
	cr_expect_eq(256 * SZ_1M, LAYOUT_ECAM_SIZE);
	EXPECT_CELLS(fdt, pcie, "#address-cells", 3);
	EXPECT_CELLS(fdt, pcie, "#size-cells", 2);
	EXPECT_CELLS(fdt, pcie, "#interrupt-cells", 1);
	/* 32-bit non-prefetchable and 64-bit prefetchable windows, identity mapped. */
	EXPECT_CELLS(fdt, pcie, "ranges",
		     0x02000000, HI(LAYOUT_PCI_MMIO32_BASE), LO(LAYOUT_PCI_MMIO32_BASE),
		     HI(LAYOUT_PCI_MMIO32_BASE), LO(LAYOUT_PCI_MMIO32_BASE),
		     HI(LAYOUT_PCI_MMIO32_SIZE), LO(LAYOUT_PCI_MMIO32_SIZE),
		     0x43000000, HI(LAYOUT_PCI_MMIO64_BASE), LO(LAYOUT_PCI_MMIO64_BASE),
		     HI(LAYOUT_PCI_MMIO64_BASE), LO(LAYOUT_PCI_MMIO64_BASE),
		     HI(LAYOUT_PCI_MMIO64_SIZE), LO(LAYOUT_PCI_MMIO64_SIZE));
	/* Requester id -> ITS device id, identity, for the whole RID space. */
	EXPECT_CELLS(fdt, pcie, "msi-map", 0, FDT_PHANDLE_ITS, 0, 0xff00); /* buses 0..254: the vSMMU ids sit above */
	expect_empty(fdt, pcie, "dma-coherent");
	EXPECT_CELLS(fdt, pcie, "linux,pci-domain", 0);

	/* Resolve INTx of every slot through interrupt-map as of_irq_parse_raw does: mask the child unit
	 * address and pin, find the entry, read the parent specifier. */
	mask = prop(fdt, pcie, "interrupt-map-mask", &mlen);
	cr_assert_eq(mlen, 16);
	map = prop(fdt, pcie, "interrupt-map", &len);
	cr_assert_eq(len % 40, 0, "entries of 3+1+1+2+3 cells");
	for (u32 slot = 0; slot < 32; slot++) {
		for (u32 pin = 1; pin <= 4; pin++) {
			const u32 key[4] = { slot << 11, 0, 0, pin };
			int found = 0;

			for (int e = 0; e < len / 40; e++) {
				const fdt32_t *ent = map + 10 * e;
				bool match = true;

				for (int c = 0; c < 4; c++)
					match &= (key[c] & fdt32_ld(&mask[c])) == fdt32_ld(&ent[c]);
				if (!match)
					continue;
				found++;
				cr_expect_eq(fdt32_ld(&ent[4]), FDT_PHANDLE_GIC);
				cr_expect_eq(fdt32_ld(&ent[5]), 0);
				cr_expect_eq(fdt32_ld(&ent[6]), 0);
				cr_expect_eq(fdt32_ld(&ent[7]), 0, "SPI");
				/* Standard swizzle: INTA of slot s is INT(s mod 4)A of the root. */
				cr_expect_eq(fdt32_ld(&ent[8]), LAYOUT_SPI_PCI_INTX_BASE + (slot + pin - 1) % 4,
					     "slot %u pin %u", slot, pin);
				cr_expect_eq(fdt32_ld(&ent[9]), 4, "level high");
			}
			cr_expect_eq(found, 1, "slot %u pin %u: %d interrupt-map entries", slot, pin, found);
		}
	}
	free(fdt);
	vm_config_free(&cfg);
}

Test(fdt, buffer_too_small)
{
	struct vm_config cfg;
	char buf[256];

	config(&cfg, 4, 1);
	cr_expect_eq(fdt_build(&cfg, NULL, buf, sizeof(buf)), -ENOSPC);
	vm_config_free(&cfg);
}

Test(fdt, dump_dtb)
{
	char *dir = scratch_dir(), *out, *want, *err, *kpath;
	void *img = fake_image(0, 8 * SZ_1M, 0xa, 4096), *expect, *got;
	struct vm_config cfg;
	struct boot_files bf;
	struct capture c;
	struct stat st;
	FILE *f;

	config(&cfg, 3, 1);
	kpath = scratch_file(dir, "Image", img, 4096);
	free(cfg.kernel);
	cfg.kernel = kpath;
	cr_assert(asprintf(&out, "%s/guest.dtb", dir) > 0);
	cfg.dump_dtb = out;

	cr_assert_eq(boot_prepare(&cfg, &bf), 0);
	cr_assert_eq(boot_dump_dtb(&cfg, &bf), 0);
	cr_assert_eq(stat(out, &st), 0);
	/* Byte for byte what the guest would get for the same plan. */
	expect = build(&cfg, &bf.plan);
	cr_assert_eq((u64)st.st_size, fdt_totalsize(expect));
	got = malloc((size_t)st.st_size);
	f = fopen(out, "rb");
	cr_assert(f && got);
	cr_assert_eq(fread(got, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	cr_expect_eq(memcmp(got, expect, (size_t)st.st_size), 0);
	free(got);
	free(expect);

	/* Cannot write: -errno like every host failure (main makes it exit 1), after one message. */
	cr_assert(asprintf(&cfg.dump_dtb, "%s/no/such/dir/x.dtb", dir) > 0);
	capture_begin(&c, 2);
	cr_expect_eq(boot_dump_dtb(&cfg, &bf), -ENOENT);
	err = capture_end(&c);
	cr_assert(asprintf(&want, "ivmm: error: cannot write %s: No such file or directory\n", cfg.dump_dtb) > 0);
	cr_expect_str_eq(err, want);
	free(want);
	free(err);
	boot_files_free(&bf);

	/* Bad input: boot_prepare's usage error, and nothing written (the binary's path: exit 2). */
	void *big = fake_image(0, 63 * SZ_1M, 0xa, 4096);

	free(scratch_file(dir, "Image", big, 4096));
	free(big);
	cfg.mem_size = 64 * SZ_1M;
	free(cfg.dump_dtb);
	cr_assert(asprintf(&cfg.dump_dtb, "%s/small.dtb", dir) > 0);
	capture_begin(&c, 2);
	cr_expect_eq(ivmm_exit_for_errno(boot_prepare(&cfg, &bf)), IVMM_EXIT_USAGE);
	err = capture_end(&c);
	cr_assert(asprintf(&want, "ivmm: error: memory too small: kernel %s needs 65 MiB (with 2 MiB for the device "
				  "tree), memory is 64 MiB\n", kpath) > 0);
	cr_expect_str_eq(err, want);
	cr_expect_neq(stat(cfg.dump_dtb, &st), 0);
	free(want);
	free(err);

	free(out);
	vm_config_free(&cfg);
	free(img);
	scratch_rm(dir);
}
