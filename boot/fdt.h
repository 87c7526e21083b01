/* fdt.h: device tree generation (libfdt). The DTB is a pure function of the validated config and the boot
 * plan: cpus (psci), memory, psci (hvc), arch timer, GICv3 + ITS (msi-controller), 16550A UART, chosen
 * (bootargs, stdout-path, initrd), aliases, and, when the config has passthrough devices, the PCIe ECAM host
 * bridge (msi-map to the ITS) and, for devices behind vSMMUs, one arm,smmu-v3 node per vSMMU (wired interrupts,
 * msi-parent to the ITS with the vSMMU's own device id) and the bridge's iommu-map (requester ID -> StreamID);
 * a device behind a vSMMU that the guest drives with a kernel driver (not guest-vfio) gets a node under the
 * bridge whose memory-region is the host's software MSI window, mapped 1:1 (reserved-memory with
 * iommu-addresses equal to its reg: docs/vsmmu.md, "MSIs").
 * Every address comes from boot/layout.h, so `ivmm run --dump-dtb` writes exactly
 * what the guest gets without needing KVM. */
#ifndef IVMM_FDT_H
#define IVMM_FDT_H

#include <stddef.h>
#include "boot/layout.h"
#include "vmm/compiler.h"

struct vm_config;
struct boot_plan;

/* Fixed phandles. */
#define FDT_PHANDLE_GIC 1
#define FDT_PHANDLE_ITS 2
#define FDT_PHANDLE_CLK 3
#define FDT_PHANDLE_MSI_WINDOW 4
#define FDT_PHANDLE_VSMMU(n) (16 + (n))
#define FDT_PHANDLE_PCI_DEV(i) (32 + (i))

/* PCIe host bridge: buses 0..FDT_PCI_BUSES-1, 1 MiB of ECAM each; INTx through interrupt-map with the
 * standard swizzle. */
#define FDT_PCI_BUSES 256
#define FDT_PCI_IMAP_SLOT_MASK 0x1800 /* devfn slot bits 0-1 in phys.hi: the swizzle repeats every 4 slots */
_Static_assert(FDT_PCI_BUSES * SZ_1M == LAYOUT_ECAM_SIZE, "ECAM size and bus-range disagree");

/* The cpu node reg (MPIDR affinity, Aff1:Aff0) KVM gives vCPU n: Aff0 = n % 16, Aff1 = n / 16. */
u32 fdt_cpu_mpidr(unsigned int vcpu);
/* GIC SPI of INTx pin (1 = INTA .. 4 = INTD) of a device in slot: LAYOUT_SPI_PCI_INTX_BASE + (slot + pin - 1) % 4. */
u32 fdt_pci_intx_spi(unsigned int slot, unsigned int pin);

/* Build into buf (bufsz bytes). plan may be NULL-initrd (initrd_size 0). Returns DTB size (> 0) or -errno. */
int __must_check fdt_build(const struct vm_config *cfg, const struct boot_plan *plan, void *buf, size_t bufsz);

#endif
