/* main.c: ivmm's entry point: parse the command line (and config file), then either dump the DTB or build
 * and run the VM, mapping every outcome to the exit statuses of vmm/config.h:
 *   0 guest powered off / help / version / --dump-dtb, 1 host failure, 2 usage or config error,
 *   3 guest reset, 4 guest crash, 128 + N ended by signal N (SIGINT, SIGTERM, SIGHUP: while the guest runs,
 *   or during the setup, which then stops at its next check and undoes itself: vmm/sig.h). */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "boot/boot.h"
#include "vmm/cli.h"
#include "vmm/config.h"
#include "vmm/ctl.h"
#include "vmm/host_check.h"
#include "vmm/log.h"
#include "vmm/sig.h"
#include "vmm/vm.h"

/* vm_create() failed with ret: 128 + N when a stop signal ended the setup, else a host failure. */
static int setup_failed_status(int ret)
{
	int sig = ret == -EINTR ? sig_stop_pending() : 0;

	if (!sig)
		return IVMM_EXIT_RUNTIME;
	pr_info("%s: stopped during setup (everything undone)", strsignal(sig));
	return 128 + sig;
}

int main(int argc, char **argv)
{
	struct vm_config cfg;
	enum cli_action action;
	struct boot_files bf;
	struct vm *vm;
	struct ctl_server ctl = { .path = NULL, .fd = -1 };
	struct timespec t_start;
	int status, ret;

	/* `ivmm host-check`: inspect the host, touch nothing (vmm/host_check.h). */
	if (argc > 1 && !strcmp(argv[1], "host-check"))
		return host_check_main(argc - 1, argv + 1);
	/* `ivmm ctl PATH COMMAND`: the control socket's client (vmm/ctl.h). */
	if (argc > 1 && !strcmp(argv[1], "ctl"))
		return ctl_main(argc - 1, argv + 1);

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
	/* Bad kernel/initrd/memory size: exit 2; an I/O or memory failure reading them: exit 1. */
	ret = boot_prepare(&cfg, &bf);
	if (ret) {
		vm_config_free(&cfg);
		return ivmm_exit_for_errno(ret);
	}
	if (cfg.dump_dtb) {
		/* Writing the file is the host's business: any failure there is exit 1. */
		status = boot_dump_dtb(&cfg, &bf) ? IVMM_EXIT_RUNTIME : IVMM_EXIT_OK;
	} else if (cfg.api_socket && (ret = ctl_server_open(&ctl, cfg.api_socket))) {
		/* Before the VM is built: a path in use fails at once, without pinning guest RAM. */
		status = IVMM_EXIT_RUNTIME;
	} else {
		ret = vm_create(&cfg, &bf, &vm);
		if (ret) {
			status = setup_failed_status(ret);
		} else {
			vm->stats.t_start = t_start;
			vm->ctl = cfg.api_socket ? &ctl : NULL;
			status = vm_run(vm);
			vm_destroy(vm);
		}
		ctl_server_close(&ctl);
	}
	boot_files_free(&bf);
	vm_config_free(&cfg);
	return status;
}
