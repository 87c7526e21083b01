/* config_parse.h: value parsers shared by the command line (vmm/cli.c) and the config file
 * (vmm/config_file.c): sizes, CPU counts, booleans, PCI addresses, device names and --device strings.
 * Each parser returns NULL on success or a static reason string ("not a multiple of 2 MiB") that the caller
 * prefixes with where the value came from ("--memory '3M'" or "file.ini:4: memory = '3M'"). No side effects. */
#ifndef IVMM_CONFIG_PARSE_H
#define IVMM_CONFIG_PARSE_H

#include <stdbool.h>
#include "boot/layout.h"
#include "vmm/compiler.h"
#include "vmm/config.h"

/* Largest RAM size: RAM starts at LAYOUT_RAM_BASE and must end at or below the 64-bit PCI window. */
#define CONFIG_MEM_MAX (LAYOUT_PCI_MMIO64_BASE - LAYOUT_RAM_BASE)

/* "512M", "2G", "1024K", "1T", plain bytes. Suffixes are binary (K = 1024) and case-insensitive. */
const char *parse_size(const char *s, u64 *out);
/* parse_size() plus the guest RAM rules: multiple of 2 MiB, >= LAYOUT_RAM_MIN, <= CONFIG_MEM_MAX. */
const char *parse_mem_size(const char *s, u64 *out);
/* Decimal 1..IVMM_MAX_CPUS. */
const char *parse_cpus(const char *s, unsigned int *out);
/* true/false, yes/no, on/off, 1/0. */
const char *parse_bool(const char *s, bool *out);
/* "DDDD:BB:DD.F" or "BB:DD.F" (hex) -> "dddd:bb:dd.f" in out (at least 13 bytes). */
#define BDF_STR_LEN 13
const char *parse_bdf(const char *s, char out[BDF_STR_LEN]);
/* Device names: 1..31 characters from [A-Za-z0-9_.-]. */
#define DEVICE_ID_MAX 31
const char *check_device_id(const char *s);
/* Driver name -> enum ("vfio-pci"). */
const char *parse_driver(const char *s, enum vm_device_driver *out);
const char *driver_name(enum vm_device_driver d);
/* The machine's vIOMMU: "smmuv3[,msi=on|off][,evtq=N]", or "none"/"off"; sets cfg->viommu, viommu_msi and
 * viommu_evtq_log2. */
const char *parse_viommu(const char *s, struct vm_config *cfg);
/* A device's viommu=: "off" or a vSMMU name (the device-name rules). */
const char *check_device_viommu(const char *s);
/* A StreamID: decimal or 0x-hex, 0..0xffff. */
const char *parse_vsid(const char *s, u32 *out);

#endif
