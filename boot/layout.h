/* layout.h: the guest physical address map of an ivmm machine (one place, so FDT, devices and tests agree).
 *
 *   0x0000_0000 .. 0x00ff_ffff  unused (reads fault)
 *   0x0100_0000 .. 0x0100_0fff  16550A UART
 *   0x0200_0000 .. 0x0200_ffff  GICv3 distributor
 *   0x0201_0000 .. 0x02ff_ffff  GICv3 redistributors, 128 KiB per vCPU (up to IVMM_MAX_CPUS)
 *   0x0400_0000 .. 0x04ff_ffff  vSMMUv3 instances, 128 KiB each (up to IVMM_MAX_VSMMUS)
 *   0x07ff_0000 .. 0x0800_ffff  GICv3 ITS: control frame, then the translation frame whose GITS_TRANSLATER
 *                               page is at 0x0800_0000, the first page of the host's software MSI window
 *   0x0800_0000 .. 0x080f_ffff  the host kernel's software MSI window for passthrough devices (arm-smmu-v3
 *                               MSI_IOVA_BASE/LENGTH): never guest RAM. Behind a vSMMU a device's MSI write
 *                               (to this window, as the host programs it) passes the guest's stage 1 first;
 *                               a guest that drives the device through its own VFIO/iommufd maps its ITS
 *                               doorbell page at the first page of its own SW_MSI window, 0x0800_0000, and with
 *                               the doorbell placed here that mapping is the identity the host needs
 *                               (docs/vsmmu.md, "MSIs")
 *   0x1000_0000 .. 0x1fff_ffff  PCIe ECAM (256 buses x 1 MiB)
 *   0x2000_0000 .. 0x3fff_ffff  PCI 32-bit non-prefetchable MMIO window
 *   0x4000_0000 .. RAM end      guest RAM (kernel, DTB, initrd inside)
 *   0x80_0000_0000 .. +256 GiB  PCI 64-bit prefetchable MMIO window (needs a 40-bit IPA space)
 */
#ifndef IVMM_LAYOUT_H
#define IVMM_LAYOUT_H

#include "vmm/compiler.h"

#define IVMM_MAX_CPUS 64
#define IVMM_MAX_VSMMUS 8

#define LAYOUT_UART_BASE 0x01000000ULL
#define LAYOUT_UART_SIZE 0x1000ULL

#define LAYOUT_GICD_BASE 0x02000000ULL
#define LAYOUT_GICD_SIZE 0x10000ULL
#define LAYOUT_GICR_BASE 0x02010000ULL
#define LAYOUT_GICR_STRIDE 0x20000ULL /* RD + SGI frames */
#define LAYOUT_GICR_SIZE(ncpus) ((u64)(ncpus) * LAYOUT_GICR_STRIDE)
#define LAYOUT_ITS_BASE 0x07ff0000ULL
#define LAYOUT_ITS_SIZE 0x20000ULL
/* GITS_TRANSLATER: the address MSIs are written to (translation frame at +64 KiB, register at +0x40). */
#define LAYOUT_ITS_DOORBELL (LAYOUT_ITS_BASE + 0x10040ULL)

#define LAYOUT_VSMMU_BASE 0x04000000ULL
#define LAYOUT_VSMMU_STRIDE 0x20000ULL /* page 0 + page 1 */
#define LAYOUT_VSMMU_SIZE 0x20000ULL
#define LAYOUT_VSMMU_FRAME(n) (LAYOUT_VSMMU_BASE + (u64)(n) * LAYOUT_VSMMU_STRIDE)
/* ITS device id of vSMMU n (its own MSIs): above the PCI requester IDs the msi-map covers (buses 0..254). */
#define LAYOUT_VSMMU_DEVID(n) (0xff00u + (u32)(n))
#define LAYOUT_PCI_MSI_RIDS 0xff00u

#define LAYOUT_SW_MSI_BASE 0x08000000ULL
#define LAYOUT_SW_MSI_SIZE 0x100000ULL

#define LAYOUT_ECAM_BASE 0x10000000ULL
#define LAYOUT_ECAM_SIZE 0x10000000ULL
#define LAYOUT_PCI_MMIO32_BASE 0x20000000ULL
#define LAYOUT_PCI_MMIO32_SIZE 0x20000000ULL

#define LAYOUT_RAM_BASE 0x40000000ULL
#define LAYOUT_RAM_MIN (64 * SZ_1M)

#define LAYOUT_PCI_MMIO64_BASE 0x8000000000ULL
#define LAYOUT_PCI_MMIO64_SIZE 0x4000000000ULL

/* Minimum IPA bits the layout needs (the 64-bit PCI window ends below 1 << 40). */
#define LAYOUT_MIN_IPA_BITS 40

/* Interrupts: GIC SPI numbers (INTID - 32) used by on-board devices. */
#define LAYOUT_SPI_UART 1
#define LAYOUT_SPI_PCI_INTX_BASE 4 /* INTA..INTD = 4..7 */
#define LAYOUT_SPI_VSMMU_BASE 8    /* per vSMMU n: eventq, gerror, cmdq-sync = 8+3n, 9+3n, 10+3n */
#define LAYOUT_SPI_VSMMU(n, k) (LAYOUT_SPI_VSMMU_BASE + 3 * (u32)(n) + (u32)(k))
#define LAYOUT_VSMMU_SPI_EVTQ 0
#define LAYOUT_VSMMU_SPI_GERROR 1
#define LAYOUT_VSMMU_SPI_SYNC 2

/* PCI: passthrough device i (config order) sits in slot LAYOUT_PCI_SLOT(i) of bus 0, function 0. */
#define LAYOUT_PCI_SLOT(i) ((unsigned int)(i) + 1)
#define LAYOUT_PCI_RID(i) (LAYOUT_PCI_SLOT(i) << 3)

/* PPIs (INTID - 16) of the architected timer, as on every arm64 machine. */
#define LAYOUT_PPI_TIMER_SEC 13
#define LAYOUT_PPI_TIMER_PHYS 14
#define LAYOUT_PPI_TIMER_VIRT 11
#define LAYOUT_PPI_TIMER_HYP 10

#endif
