/* main.c: ivmm's entry point: parse the command line (and config file), then either dump the DTB or build
 * and run the VM, mapping every outcome to the exit statuses of vmm/config.h:
 *   0 guest powered off / help / version / --dump-dtb, 1 host failure, 2 usage or config error,
 *   3 guest reset, 4 guest crash, 128 + N ended by signal N. */
#include <time.h>
#include <unistd.h>
#include "boot/boot.h"
#include "vmm/cli.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/vm.h"

int main(int argc, char **argv)
{
	struct vm_config cfg;
	enum cli_action action;
	struct boot_files bf;
	struct vm *vm;
	struct timespec t_start;
	int status, ret;

	clock_gettime(CLOCK_MONOTONIC, &t_start);

	/* Before any thread exists, so every thread inherits the mask and SIGINT/SIGTERM end the VM cleanly. */
	if (vm_block_signals())
		return IVMM_EXIT_RUNTIME;

	vm_config_init(&cfg);
	ret = cli_parse(argc, argv, &cfg, &action);
	if (ret) {
		vm_config_free(&cfg);
		return ivmm_exit_for_errno(ret);
	}
	if (action == CLI_EXIT) {
		vm_config_free(&cfg);
		return IVMM_EXIT_OK;
	}
	if (cfg.dump_dtb) {
		status = boot_dump_dtb(&cfg);
		vm_config_free(&cfg);
		return status;
	}
	/* Bad kernel/initrd/memory size: exit 2; an I/O or memory failure reading them: exit 1. */
	ret = boot_prepare(&cfg, &bf);
	if (ret) {
		vm_config_free(&cfg);
		return ivmm_exit_for_errno(ret);
	}
	if (vm_create(&cfg, &bf, &vm)) {
		status = IVMM_EXIT_RUNTIME;
	} else {
		vm->stats.t_start = t_start;
		status = vm_run(vm);
		vm_destroy(vm);
	}
	boot_files_free(&bf);
	vm_config_free(&cfg);
	return status;
}
