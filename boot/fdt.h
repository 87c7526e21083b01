/* fdt.h: device tree generation (libfdt). The DTB is a pure function of the validated config and the boot
 * plan: cpus (psci), memory, psci (hvc), arch timer, GICv3 + ITS (msi-controller), 16550A UART, chosen
 * (bootargs, stdout-path, initrd), aliases, and, when the config has passthrough devices, the PCIe ECAM host
 * bridge (msi-map to the ITS). Every address comes from boot/layout.h, so `ivmm run --dump-dtb` writes exactly
 * what the guest gets without needing KVM. */
#ifndef IVMM_FDT_H
#define IVMM_FDT_H

#include <stddef.h>
#include "vmm/compiler.h"

struct vm_config;
struct boot_plan;

/* Fixed phandles. */
#define FDT_PHANDLE_GIC 1
#define FDT_PHANDLE_ITS 2
#define FDT_PHANDLE_CLK 3

/* Build into buf (bufsz bytes). plan may be NULL-initrd (initrd_size 0). Returns DTB size (> 0) or -errno. */
int __must_check fdt_build(const struct vm_config *cfg, const struct boot_plan *plan, void *buf, size_t bufsz);

#endif
