/* config.h: struct vm_config, the validated description of a machine. Built by the CLI (vmm/cli.c) and
 * the INI config file parser (vmm/config_file.c) with no side effects; consumed by vm_create() and boot/.
 * Every string is heap-owned by the config and freed by vm_config_free(). */
#ifndef IVMM_CONFIG_H
#define IVMM_CONFIG_H

#include <stdbool.h>
#include "vmm/compiler.h"

#define IVMM_MAX_DEVICES 16

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

struct vm_device_config {
	char *id;                  /* user-given or generated name ("vfio0") */
	enum vm_device_driver driver;
	char *host;                /* vfio-pci: host BDF, normalised to DDDD:BB:DD.F */
	char *where;               /* where it was given, for messages: "--device" or "file.ini:12" */
	bool from_cli;             /* given by --device (which replaces a file's device of the same id) */
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
	unsigned int ndevices;
	struct vm_device_config devices[IVMM_MAX_DEVICES];
};

void vm_config_init(struct vm_config *cfg);   /* defaults */
void vm_config_free(struct vm_config *cfg);

/* The device named id, or NULL. */
struct vm_device_config *vm_config_find_device(struct vm_config *cfg, const char *id);
/* Last step of building a config (cli_parse calls it after merging file and options): a kernel is given,
 * every device has a host and an id (missing ids become "vfioN"), no host BDF is used twice.
 * Returns 0 or -EINVAL/-ENOMEM after printing one "ivmm: error: ..." line. */
int __must_check vm_config_finish(struct vm_config *cfg);

#endif
