/* fdt.c: the guest's device tree, written with libfdt's sequential-write API (see fdt.h for the contents).
 * Every address, size and interrupt number comes from boot/layout.h; CPU nodes carry the MPIDR KVM gives
 * vCPU n (arch/arm64/kvm/sys_regs.h kvm_calculate_mpidr: Aff0 = n & 15, Aff1 = n >> 4). */
#include <errno.h>
#include <libfdt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "boot/boot.h"
#include "boot/fdt.h"
#include "boot/layout.h"
#include "vmm/config.h"

/* Interrupt specifier cells of the arm,gic-v3 binding. */
#define GIC_SPI 0
#define GIC_PPI 1
#define IRQ_TYPE_EDGE_RISING 1
#define IRQ_TYPE_LEVEL_HIGH 4

#define GIC_PPI_MAINTENANCE 9
#define UART_CLOCK_HZ 1843200

/* PCI address cells (IEEE 1275 PCI binding): phys.hi space codes. */
#define PCI_SPACE_MMIO32 0x02000000u
#define PCI_SPACE_MMIO64 0x03000000u
#define PCI_PREFETCHABLE 0x40000000u
#define PCI_INTX_PINS 4

/* A builder with a sticky error: the first libfdt failure is kept and everything after it is skipped. */
struct fdtb {
	void *fdt;
	int err;
};

static void chk(struct fdtb *b, int r)
{
	if (r < 0 && !b->err)
		b->err = r;
}

static void __printf(2, 3) begin(struct fdtb *b, const char *fmt, ...)
{
	char name[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	if (!b->err)
		chk(b, fdt_begin_node(b->fdt, name));
}

static void end(struct fdtb *b)
{
	if (!b->err)
		chk(b, fdt_end_node(b->fdt));
}

static void prop_u32(struct fdtb *b, const char *name, u32 v)
{
	if (!b->err)
		chk(b, fdt_property_u32(b->fdt, name, v));
}

static void prop_u64(struct fdtb *b, const char *name, u64 v)
{
	if (!b->err)
		chk(b, fdt_property_u64(b->fdt, name, v));
}

static void prop_str(struct fdtb *b, const char *name, const char *s)
{
	if (!b->err)
		chk(b, fdt_property_string(b->fdt, name, s));
}

static void prop_empty(struct fdtb *b, const char *name)
{
	if (!b->err)
		chk(b, fdt_property(b->fdt, name, NULL, 0));
}

/* A string list: strs is "a\0b\0" with its full length (including the last NUL). */
static void prop_strlist(struct fdtb *b, const char *name, const char *strs, size_t len)
{
	if (!b->err)
		chk(b, fdt_property(b->fdt, name, strs, (int)len));
}
#define PROP_STRLIST(b, name, lit) prop_strlist(b, name, lit, sizeof(lit))

/* Big-endian cells. */
static void prop_cells(struct fdtb *b, const char *name, const u32 *cells, size_t n)
{
	fdt32_t *p;

	if (b->err)
		return;
	chk(b, fdt_property_placeholder(b->fdt, name, (int)(n * sizeof(*p)), (void **)&p));
	if (!b->err)
		for (size_t i = 0; i < n; i++)
			p[i] = cpu_to_fdt32(cells[i]);
}

/* reg = <addr size> pairs with #address-cells = #size-cells = 2. */
static void prop_reg2(struct fdtb *b, const u64 *pairs, size_t npairs)
{
	u32 cells[8];

	for (size_t i = 0; i < npairs && i < 2; i++) {
		cells[4 * i + 0] = (u32)(pairs[2 * i] >> 32);
		cells[4 * i + 1] = (u32)pairs[2 * i];
		cells[4 * i + 2] = (u32)(pairs[2 * i + 1] >> 32);
		cells[4 * i + 3] = (u32)pairs[2 * i + 1];
	}
	prop_cells(b, "reg", cells, 4 * MIN(npairs, (size_t)2));
}

static void node_cpus(struct fdtb *b, const struct vm_config *cfg)
{
	begin(b, "cpus");
	prop_u32(b, "#address-cells", 1);
	prop_u32(b, "#size-cells", 0);
	for (unsigned int n = 0; n < cfg->ncpus; n++) {
		u32 mpidr = fdt_cpu_mpidr(n);

		begin(b, "cpu@%x", mpidr);
		prop_str(b, "device_type", "cpu");
		prop_str(b, "compatible", "arm,arm-v8");
		prop_u32(b, "reg", mpidr);
		prop_str(b, "enable-method", "psci");
		end(b);
	}
	end(b);
}

static void node_intc(struct fdtb *b, const struct vm_config *cfg)
{
	const u64 reg[] = { LAYOUT_GICD_BASE, LAYOUT_GICD_SIZE, LAYOUT_GICR_BASE, LAYOUT_GICR_SIZE(cfg->ncpus) };
	const u64 its_reg[] = { LAYOUT_ITS_BASE, LAYOUT_ITS_SIZE };
	const u32 maint[] = { GIC_PPI, GIC_PPI_MAINTENANCE, IRQ_TYPE_LEVEL_HIGH };

	begin(b, "intc@%llx", LAYOUT_GICD_BASE);
	prop_str(b, "compatible", "arm,gic-v3");
	prop_u32(b, "#interrupt-cells", 3);
	prop_empty(b, "interrupt-controller");
	prop_reg2(b, reg, 2);
	prop_cells(b, "interrupts", maint, ARRAY_SIZE(maint));
	prop_u32(b, "#address-cells", 2);
	prop_u32(b, "#size-cells", 2);
	prop_empty(b, "ranges");
	prop_u32(b, "phandle", FDT_PHANDLE_GIC);

	begin(b, "its@%llx", LAYOUT_ITS_BASE);
	prop_str(b, "compatible", "arm,gic-v3-its");
	prop_empty(b, "msi-controller");
	prop_u32(b, "#msi-cells", 1);
	prop_reg2(b, its_reg, 1);
	prop_u32(b, "phandle", FDT_PHANDLE_ITS);
	end(b);
	end(b);
}

static void node_timer(struct fdtb *b)
{
	const u32 irqs[] = {
		GIC_PPI, LAYOUT_PPI_TIMER_SEC, IRQ_TYPE_LEVEL_HIGH,
		GIC_PPI, LAYOUT_PPI_TIMER_PHYS, IRQ_TYPE_LEVEL_HIGH,
		GIC_PPI, LAYOUT_PPI_TIMER_VIRT, IRQ_TYPE_LEVEL_HIGH,
		GIC_PPI, LAYOUT_PPI_TIMER_HYP, IRQ_TYPE_LEVEL_HIGH,
	};

	begin(b, "timer");
	prop_str(b, "compatible", "arm,armv8-timer");
	prop_cells(b, "interrupts", irqs, ARRAY_SIZE(irqs));
	prop_empty(b, "always-on");
	end(b);
}

static void node_uart(struct fdtb *b)
{
	const u64 reg[] = { LAYOUT_UART_BASE, LAYOUT_UART_SIZE };
	const u32 irq[] = { GIC_SPI, LAYOUT_SPI_UART, IRQ_TYPE_LEVEL_HIGH };

	begin(b, "uart@%llx", LAYOUT_UART_BASE);
	prop_str(b, "compatible", "ns16550a");
	prop_reg2(b, reg, 1);
	prop_cells(b, "interrupts", irq, ARRAY_SIZE(irq));
	prop_u32(b, "clock-frequency", UART_CLOCK_HZ);
	prop_u32(b, "reg-shift", 0);
	prop_u32(b, "reg-io-width", 1);
	end(b);
}

/* One SMMUv3 per vSMMU (Documentation/devicetree/bindings/iommu/arm,smmu-v3.yaml). */
static void node_vsmmu(struct fdtb *b, unsigned int n)
{
	const u64 reg[] = { LAYOUT_VSMMU_FRAME(n), LAYOUT_VSMMU_SIZE };
	const u32 irqs[] = {
		GIC_SPI, LAYOUT_SPI_VSMMU(n, LAYOUT_VSMMU_SPI_EVTQ), IRQ_TYPE_EDGE_RISING,
		GIC_SPI, LAYOUT_SPI_VSMMU(n, LAYOUT_VSMMU_SPI_GERROR), IRQ_TYPE_EDGE_RISING,
		GIC_SPI, LAYOUT_SPI_VSMMU(n, LAYOUT_VSMMU_SPI_SYNC), IRQ_TYPE_EDGE_RISING,
	};
	const u32 msi_parent[] = { FDT_PHANDLE_ITS, LAYOUT_VSMMU_DEVID(n) };

	begin(b, "smmuv3@%llx", LAYOUT_VSMMU_FRAME(n));
	prop_str(b, "compatible", "arm,smmu-v3");
	prop_reg2(b, reg, 1);
	prop_cells(b, "interrupts", irqs, ARRAY_SIZE(irqs));
	PROP_STRLIST(b, "interrupt-names", "eventq\0gerror\0cmdq-sync");
	prop_cells(b, "msi-parent", msi_parent, ARRAY_SIZE(msi_parent));
	prop_u32(b, "#iommu-cells", 1);
	prop_empty(b, "dma-coherent");
	prop_u32(b, "phandle", FDT_PHANDLE_VSMMU(n));
	end(b);
}

/* Devices behind a vSMMU whose MSIs need the direct (1:1) mapping of the host's sw_msi window: the guest's
 * kernel driver maps its own doorbell elsewhere, but the host programmed the device to write 0x0800_0000+. */
static bool needs_msi_window(const struct vm_config *cfg, const struct vm_device_config *d)
{
	return vm_device_vsmmu(cfg, d) >= 0 && !d->guest_vfio;
}

static void node_reserved_memory(struct fdtb *b, const struct vm_config *cfg)
{
	const u64 reg[] = { LAYOUT_SW_MSI_BASE, LAYOUT_SW_MSI_SIZE };
	/* Per device: <&dev  PCI address (3 cells: the bridge's)  size (2 cells)>. */
	u32 maps[6 * IVMM_MAX_DEVICES];
	size_t n = 0;

	for (unsigned int i = 0; i < cfg->ndevices; i++) {
		if (!needs_msi_window(cfg, &cfg->devices[i]))
			continue;
		const u32 e[6] = { FDT_PHANDLE_PCI_DEV(i), 0, (u32)(LAYOUT_SW_MSI_BASE >> 32), (u32)LAYOUT_SW_MSI_BASE,
				   (u32)(LAYOUT_SW_MSI_SIZE >> 32), (u32)LAYOUT_SW_MSI_SIZE };

		memcpy(&maps[n], e, sizeof(e));
		n += 6;
	}
	if (!n)
		return;
	begin(b, "reserved-memory");
	prop_u32(b, "#address-cells", 2);
	prop_u32(b, "#size-cells", 2);
	prop_empty(b, "ranges");
	begin(b, "msi-window@%llx", LAYOUT_SW_MSI_BASE);
	prop_reg2(b, reg, 1);
	prop_empty(b, "no-map");
	prop_cells(b, "iommu-addresses", maps, n);
	prop_u32(b, "phandle", FDT_PHANDLE_MSI_WINDOW);
	end(b);
	end(b);
}

static void node_pcie(struct fdtb *b, const struct vm_config *cfg)
{
	const u64 reg[] = { LAYOUT_ECAM_BASE, LAYOUT_ECAM_SIZE };
	const u32 bus_range[] = { 0, FDT_PCI_BUSES - 1 };
	const u32 ranges[] = {
		/* child (3 cells)                     parent (2 cells)              size (2 cells) */
		PCI_SPACE_MMIO32, (u32)(LAYOUT_PCI_MMIO32_BASE >> 32), (u32)LAYOUT_PCI_MMIO32_BASE,
		(u32)(LAYOUT_PCI_MMIO32_BASE >> 32), (u32)LAYOUT_PCI_MMIO32_BASE,
		(u32)(LAYOUT_PCI_MMIO32_SIZE >> 32), (u32)LAYOUT_PCI_MMIO32_SIZE,
		PCI_SPACE_MMIO64 | PCI_PREFETCHABLE, (u32)(LAYOUT_PCI_MMIO64_BASE >> 32), (u32)LAYOUT_PCI_MMIO64_BASE,
		(u32)(LAYOUT_PCI_MMIO64_BASE >> 32), (u32)LAYOUT_PCI_MMIO64_BASE,
		(u32)(LAYOUT_PCI_MMIO64_SIZE >> 32), (u32)LAYOUT_PCI_MMIO64_SIZE,
	};
	/* Requester IDs of buses 0..254 are ITS device ids; the vSMMUs' own ids sit above (layout.h). */
	const u32 msi_map[] = { 0, FDT_PHANDLE_ITS, 0, LAYOUT_PCI_MSI_RIDS };
	u32 iommu_map[4 * IVMM_MAX_DEVICES];
	size_t niommu = 0;
	const u32 map_mask[] = { FDT_PCI_IMAP_SLOT_MASK, 0, 0, 7 };
	/* The mask keeps slot bits 0-1 only: 4 slot classes x 4 pins cover every slot (the swizzle repeats
	 * every 4 slots). Each entry: child addr (3), pin (1), GIC phandle (1), GIC addr (2), spec (3). */
	u32 imap[4 * PCI_INTX_PINS * 10], *e = imap;

	for (u32 slot = 0; slot < 4; slot++) {
		for (u32 pin = 1; pin <= PCI_INTX_PINS; pin++) {
			const u32 entry[10] = { slot << 11, 0, 0, pin, FDT_PHANDLE_GIC, 0, 0,
						GIC_SPI, fdt_pci_intx_spi(slot, pin), IRQ_TYPE_LEVEL_HIGH };

			memcpy(e, entry, sizeof(entry));
			e += 10;
		}
	}

	begin(b, "pcie@%llx", LAYOUT_ECAM_BASE);
	prop_str(b, "compatible", "pci-host-ecam-generic");
	prop_str(b, "device_type", "pci");
	prop_reg2(b, reg, 1);
	prop_cells(b, "bus-range", bus_range, ARRAY_SIZE(bus_range));
	prop_u32(b, "#address-cells", 3);
	prop_u32(b, "#size-cells", 2);
	prop_u32(b, "#interrupt-cells", 1);
	prop_cells(b, "ranges", ranges, ARRAY_SIZE(ranges));
	prop_cells(b, "msi-map", msi_map, ARRAY_SIZE(msi_map));
	/* Each device behind a vSMMU: its requester ID -> its StreamID there. A RID without an entry has no
	 * IOMMU in the guest (viommu=off). */
	for (unsigned int i = 0; i < cfg->ndevices; i++) {
		const struct vm_device_config *d = &cfg->devices[i];
		int k = vm_device_vsmmu(cfg, d);

		if (k < 0)
			continue;
		iommu_map[niommu++] = d->guest_rid;
		iommu_map[niommu++] = FDT_PHANDLE_VSMMU((unsigned int)k);
		iommu_map[niommu++] = d->vsid;
		iommu_map[niommu++] = 1;
	}
	if (niommu)
		prop_cells(b, "iommu-map", iommu_map, niommu);
	prop_cells(b, "interrupt-map-mask", map_mask, ARRAY_SIZE(map_mask));
	prop_cells(b, "interrupt-map", imap, ARRAY_SIZE(imap));
	prop_empty(b, "dma-coherent");
	prop_u32(b, "linux,pci-domain", 0);
	for (unsigned int i = 0; i < cfg->ndevices; i++) {
		const struct vm_device_config *d = &cfg->devices[i];
		/* reg: phys.hi with bus 0, device, function 0; no address, no size. */
		const u32 dreg[5] = { (d->guest_rid & 0xffff) << 8, 0, 0, 0, 0 };

		if (!needs_msi_window(cfg, d))
			continue;
		begin(b, "device@%x,0", LAYOUT_PCI_SLOT(i));
		prop_cells(b, "reg", dreg, ARRAY_SIZE(dreg));
		prop_u32(b, "memory-region", FDT_PHANDLE_MSI_WINDOW);
		prop_u32(b, "phandle", FDT_PHANDLE_PCI_DEV(i));
		end(b);
	}
	end(b);
}

u32 fdt_cpu_mpidr(unsigned int vcpu)
{
	return ((vcpu >> 4) & 0xff) << 8 | (vcpu & 0xf);
}

u32 fdt_pci_intx_spi(unsigned int slot, unsigned int pin)
{
	return LAYOUT_SPI_PCI_INTX_BASE + (slot + pin - 1) % PCI_INTX_PINS;
}

int fdt_build(const struct vm_config *cfg, const struct boot_plan *plan, void *buf, size_t bufsz)
{
	const u64 mem_reg[] = { LAYOUT_RAM_BASE, cfg->mem_size };
	struct fdtb b = { .fdt = buf };
	char uart_path[32];

	snprintf(uart_path, sizeof(uart_path), "/uart@%llx", LAYOUT_UART_BASE);
	chk(&b, fdt_create(buf, (int)MIN(bufsz, (size_t)INT_MAX)));
	if (!b.err)
		chk(&b, fdt_finish_reservemap(buf));
	begin(&b, "%s", "");
	PROP_STRLIST(&b, "compatible", "ivmm,virt\0linux,dummy-virt");
	prop_str(&b, "model", "ivmm virtual machine");
	prop_u32(&b, "#address-cells", 2);
	prop_u32(&b, "#size-cells", 2);
	prop_u32(&b, "interrupt-parent", FDT_PHANDLE_GIC);

	begin(&b, "chosen");
	prop_str(&b, "bootargs", cfg->cmdline ? cfg->cmdline : "");
	prop_str(&b, "stdout-path", uart_path);
	if (plan && plan->initrd_size) {
		prop_u64(&b, "linux,initrd-start", plan->initrd_gpa);
		prop_u64(&b, "linux,initrd-end", plan->initrd_gpa + plan->initrd_size);
	}
	end(&b);

	begin(&b, "aliases");
	prop_str(&b, "serial0", uart_path);
	end(&b);

	begin(&b, "memory@%llx", LAYOUT_RAM_BASE);
	prop_str(&b, "device_type", "memory");
	prop_reg2(&b, mem_reg, 1);
	end(&b);

	node_cpus(&b, cfg);

	begin(&b, "psci");
	PROP_STRLIST(&b, "compatible", "arm,psci-1.0\0arm,psci-0.2");
	prop_str(&b, "method", "hvc");
	end(&b);

	node_timer(&b);
	node_reserved_memory(&b, cfg);
	node_intc(&b, cfg);
	node_uart(&b);
	for (unsigned int n = 0; n < cfg->nvsmmus; n++)
		node_vsmmu(&b, n);
	if (cfg->ndevices)
		node_pcie(&b, cfg);
	end(&b);
	if (!b.err)
		chk(&b, fdt_finish(buf));
	if (b.err)
		return b.err == -FDT_ERR_NOSPACE ? -ENOSPC : -EINVAL;
	return (int)fdt_totalsize(buf);
}
