/* config.h: struct vm_config, the validated description of a machine. Built by the CLI (vmm/cli.c) and
 * the INI config file parser (vmm/config_file.c) with no side effects; consumed by vm_create() and boot/.
 * Every string is heap-owned by the config and freed by vm_config_free(). */
#ifndef IVMM_CONFIG_H
#define IVMM_CONFIG_H

#include <stdbool.h>
#include "boot/layout.h"
#include "vmm/compiler.h"

#define IVMM_MAX_DEVICES 16
#define IVMM_VSMMU_EVTQ_LOG2_MAX 12

#define IVMM_DEFAULT_MEM (512 * SZ_1M)
#define IVMM_DEFAULT_CPUS 1
#define IVMM_DEFAULT_CMDLINE "console=ttyS0 earlycon"
/* arm64 COMMAND_LINE_SIZE (arch/arm64/include/uapi/asm/setup.h) is 2048 bytes with the NUL. */
#define IVMM_MAX_CMDLINE 2047

/* Exit codes of the ivmm binary (documented in README and --help). */
enum ivmm_exit {
	IVMM_EXIT_OK = 0,          /* guest powered off; or --help/--version/--dump-dtb done */
	IVMM_EXIT_RUNTIME = 1,     /* host failure: KVM, iommufd, VFIO, I/O */
	IVMM_EXIT_USAGE = 2,       /* bad command line or config file (message names option or file:line) */
	IVMM_EXIT_RESET = 3,       /* guest asked for a reset (PSCI SYSTEM_RESET); ivmm does not reboot it */
	IVMM_EXIT_CRASH = 4,       /* guest reported a crash (KVM_SYSTEM_EVENT_CRASH) */
	/* 128 + signal number when ended by SIGINT/SIGTERM, as shells do */
};

/* The exit status for a -errno from cli_parse(), config_file_load() or boot_prepare() (either sign):
 * 0 -> IVMM_EXIT_OK; what the user can fix -> IVMM_EXIT_USAGE: EINVAL (bad value or content), ENOEXEC (not
 * an arm64 Image), E2BIG, and open() errors on a path the user gave (ENOENT, EACCES, EISDIR, ENOTDIR, ELOOP,
 * ENAMETOOLONG); anything else (EIO, ENOMEM, ...) is host trouble -> IVMM_EXIT_RUNTIME. */
int ivmm_exit_for_errno(int err);

enum vm_device_driver {
	VM_DEV_VFIO_PCI,
};

/* The machine's vIOMMU for passthrough devices (--viommu, [machine] viommu). */
enum vm_viommu {
	VM_VIOMMU_NONE,
	VM_VIOMMU_SMMUV3,
};

/* A vSMMU of the machine, as vm_config_finish() placed the devices (index n is at LAYOUT_VSMMU_BASE + n *
 * LAYOUT_VSMMU_STRIDE, SPIs LAYOUT_SPI_VSMMU(n, ...), ITS device id LAYOUT_VSMMU_DEVID(n)). */
struct vm_vsmmu_config {
	char name[32];             /* user-given (viommu=NAME) or "vsmmuN" */
	char host_iommu[64];       /* the host IOMMU its devices sit behind (sysfs), "" if unknown or named */
	unsigned int ndevices;
};

struct vm_device_config {
	char *id;                  /* user-given or generated name ("vfio0") */
	enum vm_device_driver driver;
	char *host;                /* vfio-pci: host BDF, normalised to DDDD:BB:DD.F */
	char *where;               /* where it was given, for messages: "--device" or "file.ini:12" */
	bool from_cli;             /* given by --device (which replaces a file's device of the same id) */
	char *viommu;              /* viommu=: NULL = as the machine says, "off", or a vSMMU name */
	bool vsid_set;             /* vsid= given */
	u32 vsid;                  /* the StreamID the guest sees (vm_config_finish: default = guest_rid) */
	bool guest_vfio;           /* guest-vfio=: the guest drives it through its own VFIO/iommufd, so the
				    * device tree gives it no direct MSI-window mapping (boot/fdt.c) */
	/* Resolved by vm_config_finish(): */
	int vsmmu;                 /* index into vm_config.vsmmus, -1 = not behind a vSMMU */
	u32 guest_rid;             /* requester ID in the guest: bus 0, slot LAYOUT_PCI_SLOT(index) */
};

struct vm_config {
	char *kernel;              /* arm64 Image path (required for run) */
	char *initrd;              /* optional */
	char *cmdline;             /* kernel command line; default "console=ttyS0 earlycon" */
	char *dump_dtb;            /* --dump-dtb FILE: write the DTB and exit */
	char *config_file;         /* --config FILE, for messages */
	u64 mem_size;              /* bytes, multiple of 2 MiB */
	unsigned int ncpus;        /* 1..IVMM_MAX_CPUS */
	bool hugepages;            /* back RAM with MAP_HUGETLB */
	enum vm_viommu viommu;     /* default for devices without viommu= */
	bool viommu_msi;           /* the vSMMUs offer MSIs (IDR0.MSI; default on): off = wired interrupts only */
	unsigned int viommu_evtq_log2; /* IDR1.EVTQS the vSMMUs offer, 0 = default (IVMM_VSMMU_EVTQ_LOG2_MAX) */
	bool stats;                /* --stats: print counters at the end (and on SIGUSR1) */
	char *api_socket;          /* --api-socket PATH: the control socket (vmm/ctl.h), NULL = none */
	unsigned int ndevices;
	struct vm_device_config devices[IVMM_MAX_DEVICES];
	unsigned int nvsmmus;      /* set by vm_config_finish() */
	struct vm_vsmmu_config vsmmus[IVMM_MAX_VSMMUS];
};

/* The vSMMU index of device d, or -1 (also for a config vm_config_finish() has not placed). */
static inline int vm_device_vsmmu(const struct vm_config *cfg, const struct vm_device_config *d)
{
	return d->vsmmu >= 0 && (unsigned int)d->vsmmu < cfg->nvsmmus ? d->vsmmu : -1;
}

void vm_config_init(struct vm_config *cfg);   /* defaults */
void vm_config_free(struct vm_config *cfg);

/* The device named id, or NULL. */
struct vm_device_config *vm_config_find_device(struct vm_config *cfg, const char *id);
/* Last step of building a config (cli_parse calls it after merging file and options): a kernel is given,
 * every device has a host and an id (missing ids become "vfioN"), no host BDF is used twice; then the
 * devices are placed behind vSMMUs: viommu=NAME groups devices by name, viommu=off keeps a device out, and
 * with the machine's viommu = smmuv3 the others get one vSMMU per host IOMMU they sit behind (read from
 * SYSFS/bus/pci/devices/BDF/iommu; sysfs_root NULL = "/sys"; unknown counts as one). StreamIDs default to
 * the guest requester ID and must differ within a vSMMU. Returns 0 or -EINVAL/-ENOMEM after printing one
 * "ivmm: error: ..." line. */
int __must_check vm_config_finish(struct vm_config *cfg);
int __must_check vm_config_finish_at(struct vm_config *cfg, const char *sysfs_root);

#endif
