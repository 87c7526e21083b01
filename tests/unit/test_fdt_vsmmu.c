/* test_fdt_vsmmu.c: the device tree and the config-time placement of a machine with vSMMUs: devices grouped
 * by viommu=NAME and by host IOMMU (a fake sysfs tree), StreamIDs (default = requester ID, vsid=, duplicates
 * refused), the arm,smmu-v3 nodes (frame, edge SPIs, msi-parent with the vSMMU's ITS device id), the bridge's
 * iommu-map, and the direct MSI-window region for kernel-driven devices (none with guest-vfio=on). */
#include <criterion/criterion.h>
#include <libfdt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "boot/fdt.h"
#include "boot/layout.h"
#include <errno.h>
#include "tests/unit/cr_stderr.h"
#include "vmm/config.h"

static void base_config(struct vm_config *cfg)
{
	vm_config_init(cfg);
	cfg->kernel = strdup("Image");
}

static struct vm_device_config *add_dev(struct vm_config *cfg, const char *host, const char *viommu)
{
	struct vm_device_config *d = &cfg->devices[cfg->ndevices++];

	d->host = strdup(host);
	d->where = strdup("--device");
	d->viommu = viommu ? strdup(viommu) : NULL;
	return d;
}

/* A sysfs tree whose devices link to the IOMMUs named: iommus[i] for bdfs[i] ("" = no link). */
static char *fake_sysfs(const char *const *bdfs, const char *const *iommus, unsigned int n)
{
	char tmpl[] = "/tmp/ivmm-sysfs-XXXXXX", path[PATH_MAX], target[PATH_MAX];
	char *root = strdup(mkdtemp(tmpl));

	snprintf(path, sizeof(path), "%s/bus", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/bus/pci", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/bus/pci/devices", root);
	mkdir(path, 0755);
	for (unsigned int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", root, bdfs[i]);
		cr_assert_eq(mkdir(path, 0755), 0);
		if (!iommus[i][0])
			continue;
		snprintf(target, sizeof(target), "../../../devices/platform/%s/iommu/%s", iommus[i], iommus[i]);
		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/iommu", root, bdfs[i]);
		cr_assert_eq(symlink(target, path), 0);
	}
	return root;
}

static void rm_sysfs(char *root)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	cr_assert_eq(system(cmd), 0);
	free(root);
}

Test(vsmmu_config, one_vsmmu_per_host_iommu)
{
	static const char *const bdfs[] = { "0000:00:01.0", "0000:00:02.0", "0000:00:03.0" };
	static const char *const iommus[] = { "smmu3.0x9050000", "smmu3.0xa000000", "smmu3.0x9050000" };
	char *root = fake_sysfs(bdfs, iommus, 3);
	struct vm_config cfg;

	base_config(&cfg);
	cfg.viommu = VM_VIOMMU_SMMUV3;
	for (unsigned int i = 0; i < 3; i++)
		add_dev(&cfg, bdfs[i], NULL);
	cr_assert_eq(vm_config_finish_at(&cfg, root), 0);
	cr_expect_eq(cfg.nvsmmus, 2, "two host SMMUs, two vSMMUs");
	cr_expect_eq(cfg.devices[0].vsmmu, 0);
	cr_expect_eq(cfg.devices[1].vsmmu, 1);
	cr_expect_eq(cfg.devices[2].vsmmu, 0, "same host SMMU as the first device");
	cr_expect_str_eq(cfg.vsmmus[0].name, "vsmmu0");
	cr_expect_str_eq(cfg.vsmmus[1].name, "vsmmu1");
	cr_expect_str_eq(cfg.vsmmus[0].host_iommu, "smmu3.0x9050000");
	cr_expect_eq(cfg.vsmmus[0].ndevices, 2);
	/* StreamID = requester ID: bus 0, slot index + 1. */
	for (unsigned int i = 0; i < 3; i++) {
		cr_expect_eq(cfg.devices[i].guest_rid, (i + 1) << 3);
		cr_expect_eq(cfg.devices[i].vsid, (i + 1) << 3);
	}
	vm_config_free(&cfg);
	rm_sysfs(root);
}

Test(vsmmu_config, named_off_and_vsid)
{
	struct vm_config cfg;

	base_config(&cfg);
	add_dev(&cfg, "0000:00:01.0", "a");
	add_dev(&cfg, "0000:00:02.0", "off");
	add_dev(&cfg, "0000:00:03.0", "b")->vsid_set = true;
	cfg.devices[2].vsid = 0x42;
	add_dev(&cfg, "0000:00:04.0", "a");
	add_dev(&cfg, "0000:00:05.0", NULL); /* the machine has no vIOMMU: plain passthrough */
	cr_assert_eq(vm_config_finish_at(&cfg, "/nonexistent"), 0);
	cr_expect_eq(cfg.nvsmmus, 2);
	cr_expect_str_eq(cfg.vsmmus[0].name, "a");
	cr_expect_str_eq(cfg.vsmmus[1].name, "b");
	cr_expect_eq(vm_device_vsmmu(&cfg, &cfg.devices[0]), 0);
	cr_expect_eq(vm_device_vsmmu(&cfg, &cfg.devices[1]), -1);
	cr_expect_eq(vm_device_vsmmu(&cfg, &cfg.devices[2]), 1);
	cr_expect_eq(cfg.devices[2].vsid, 0x42);
	cr_expect_eq(vm_device_vsmmu(&cfg, &cfg.devices[3]), 0);
	cr_expect_eq(vm_device_vsmmu(&cfg, &cfg.devices[4]), -1);
	vm_config_free(&cfg);
}

Test(vsmmu_config, duplicate_vsid_refused, .init = cr_redirect_stderr)
{
	struct vm_config cfg;

	base_config(&cfg);
	add_dev(&cfg, "0000:00:01.0", "a")->vsid_set = true;
	cfg.devices[0].vsid = 0x10; /* the second device's default (its requester ID) */
	add_dev(&cfg, "0000:00:01.1", "a");
	cr_assert_eq(vm_config_finish_at(&cfg, "/nonexistent"), -EINVAL);
	cr_expect(cr_stderr_has("device 'vfio1' has StreamID 0x10 on a, already given to device 'vfio0'"),
		  "the message names both devices and the vSMMU");
	vm_config_free(&cfg);
}

Test(vsmmu_config, vsid_without_vsmmu_refused, .init = cr_redirect_stderr)
{
	struct vm_config cfg;

	base_config(&cfg);
	add_dev(&cfg, "0000:00:01.0", NULL)->vsid_set = true;
	cr_assert_eq(vm_config_finish_at(&cfg, "/nonexistent"), -EINVAL);
	cr_expect(cr_stderr_has("has vsid= but is not behind a vSMMU"));
	vm_config_free(&cfg);
}

Test(vsmmu_config, too_many_vsmmus_refused, .init = cr_redirect_stderr)
{
	struct vm_config cfg;
	char host[16], name[8];

	base_config(&cfg);
	for (unsigned int i = 0; i <= IVMM_MAX_VSMMUS; i++) {
		snprintf(host, sizeof(host), "0000:00:%02x.0", i + 1);
		snprintf(name, sizeof(name), "s%u", i);
		add_dev(&cfg, host, name);
	}
	cr_assert_eq(vm_config_finish_at(&cfg, "/nonexistent"), -EINVAL);
	cr_expect(cr_stderr_has("a machine has at most 8"));
	vm_config_free(&cfg);
}

/* ---- the device tree ---- */

static void *build_fdt(const struct vm_config *cfg)
{
	void *fdt = calloc(1, 65536);

	cr_assert(fdt);
	cr_assert_gt(fdt_build(cfg, NULL, fdt, 65536), 0);
	return fdt;
}

static const fdt32_t *getprop(const void *fdt, const char *path, const char *name, int *len)
{
	int off = fdt_path_offset(fdt, path);
	const fdt32_t *p;

	cr_assert_geq(off, 0, "node %s missing", path);
	p = fdt_getprop(fdt, off, name, len);
	cr_assert(p, "%s:%s missing", path, name);
	return p;
}

static void expect_cells(const void *fdt, const char *path, const char *name, const u32 *want, int n)
{
	int len;
	const fdt32_t *p = getprop(fdt, path, name, &len);

	cr_assert_eq(len, n * 4, "%s:%s has %d bytes, want %d", path, name, len, n * 4);
	for (int i = 0; i < n; i++)
		cr_expect_eq(fdt32_to_cpu(p[i]), want[i], "%s:%s cell %d: 0x%x, want 0x%x", path, name, i,
			     fdt32_to_cpu(p[i]), want[i]);
}

Test(fdt_vsmmu, nodes_iommu_map_and_msi_window)
{
	struct vm_config cfg;
	void *fdt;
	int len;

	base_config(&cfg);
	add_dev(&cfg, "0000:00:01.0", "a");                      /* kernel driver: direct MSI window */
	add_dev(&cfg, "0000:00:02.0", "b")->guest_vfio = true;  /* guest VFIO: none */
	add_dev(&cfg, "0000:00:03.0", "off");                    /* no vSMMU: no iommu-map entry */
	cr_assert_eq(vm_config_finish_at(&cfg, "/nonexistent"), 0);
	fdt = build_fdt(&cfg);

	for (unsigned int n = 0; n < 2; n++) {
		char path[32];
		const u32 reg[] = { 0, (u32)LAYOUT_VSMMU_FRAME(n), 0, (u32)LAYOUT_VSMMU_SIZE };
		const u32 irqs[] = { 0, LAYOUT_SPI_VSMMU(n, 0), 1, 0, LAYOUT_SPI_VSMMU(n, 1), 1,
				     0, LAYOUT_SPI_VSMMU(n, 2), 1 };
		const u32 msi[] = { FDT_PHANDLE_ITS, LAYOUT_VSMMU_DEVID(n) };
		const u32 one = 1, ph = FDT_PHANDLE_VSMMU(n);
		const char *names;

		snprintf(path, sizeof(path), "/smmuv3@%llx", (unsigned long long)LAYOUT_VSMMU_FRAME(n));
		cr_expect_str_eq((const char *)getprop(fdt, path, "compatible", &len), "arm,smmu-v3");
		expect_cells(fdt, path, "reg", reg, 4);
		expect_cells(fdt, path, "interrupts", irqs, 9);
		names = (const char *)getprop(fdt, path, "interrupt-names", &len);
		cr_expect_eq(len, (int)sizeof("eventq\0gerror\0cmdq-sync"));
		cr_expect_eq(memcmp(names, "eventq\0gerror\0cmdq-sync", (size_t)len), 0);
		expect_cells(fdt, path, "msi-parent", msi, 2);
		expect_cells(fdt, path, "#iommu-cells", &one, 1);
		expect_cells(fdt, path, "phandle", &ph, 1);
		(void)getprop(fdt, path, "dma-coherent", &len);
		cr_expect_eq(len, 0);
	}
	{
		const u32 map[] = { 0x08, FDT_PHANDLE_VSMMU(0), 0x08, 1, 0x10, FDT_PHANDLE_VSMMU(1), 0x10, 1 };
		const u32 win[] = { 0, (u32)LAYOUT_SW_MSI_BASE, 0, (u32)LAYOUT_SW_MSI_SIZE };
		const u32 iova[] = { FDT_PHANDLE_PCI_DEV(0), 0, 0, (u32)LAYOUT_SW_MSI_BASE, 0, (u32)LAYOUT_SW_MSI_SIZE };
		const u32 dreg[] = { 0x0800, 0, 0, 0, 0 }, mr = FDT_PHANDLE_MSI_WINDOW;

		expect_cells(fdt, "/pcie@10000000", "iommu-map", map, 8);
		expect_cells(fdt, "/reserved-memory/msi-window@8000000", "reg", win, 4);
		expect_cells(fdt, "/reserved-memory/msi-window@8000000", "iommu-addresses", iova, 6);
		expect_cells(fdt, "/pcie@10000000/device@1,0", "reg", dreg, 5);
		expect_cells(fdt, "/pcie@10000000/device@1,0", "memory-region", &mr, 1);
		cr_expect_lt(fdt_path_offset(fdt, "/pcie@10000000/device@2,0"), 0, "guest-vfio=on: no node");
		cr_expect_lt(fdt_path_offset(fdt, "/pcie@10000000/device@3,0"), 0, "no vSMMU: no node");
	}
	/* The doorbell page the guest's own iommufd maps at 0x08000000 is the vITS translater page. */
	cr_expect_eq(LAYOUT_ITS_DOORBELL & ~0xfffULL, LAYOUT_SW_MSI_BASE);
	free(fdt);
	vm_config_free(&cfg);
}

Test(fdt_vsmmu, no_vsmmu_no_nodes)
{
	struct vm_config cfg;
	void *fdt;

	base_config(&cfg);
	add_dev(&cfg, "0000:00:01.0", NULL);
	cr_assert_eq(vm_config_finish_at(&cfg, "/nonexistent"), 0);
	fdt = build_fdt(&cfg);
	cr_expect_lt(fdt_path_offset(fdt, "/smmuv3@4000000"), 0);
	cr_expect_lt(fdt_path_offset(fdt, "/reserved-memory"), 0);
	cr_expect_eq(fdt_getprop(fdt, fdt_path_offset(fdt, "/pcie@10000000"), "iommu-map", NULL), NULL);
	free(fdt);
	vm_config_free(&cfg);
}
