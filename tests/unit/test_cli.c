/* test_cli.c: the command line (vmm/cli.c) and the value rules it shares with the config file
 * (vmm/config_parse.c): every bad input has one exact message and a usage error; good inputs produce the
 * expected struct vm_config; --config is applied first and the options override it in any order. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tests/unit/fe_util.h"
#include "vmm/cli.h"
#include "vmm/config.h"
#include "vmm/config_parse.h"

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

struct bad_case {
	const char *const *args;
	const char *msg;   /* the exact stderr */
};

static const struct bad_case bad_cases[] = {
	{ ARGS("run"), "ivmm: error: no kernel given (--kernel or [boot] kernel)\n" },
	{ ARGS("start"),
	  "ivmm: error: unknown command 'start' (expected 'run', 'host-check', 'ctl', '--help' or '--version')\n" },
	{ ARGS("--kernel", "Image"),
	  "ivmm: error: unknown command '--kernel' (expected 'run', 'host-check', 'ctl', '--help' or '--version')\n" },
	{ ARGS("run", "--kernel", "I", "--foo"), "ivmm: error: unknown option '--foo' (try 'ivmm --help')\n" },
	{ ARGS("run", "--kernel", "I", "--foo=1"), "ivmm: error: unknown option '--foo=1' (try 'ivmm --help')\n" },
	{ ARGS("run", "-x"), "ivmm: error: unknown option '-x' (try 'ivmm --help')\n" },
	{ ARGS("run", "--c", "x"), "ivmm: error: ambiguous option '--c' (could be --cmdline, --cpus, --config)\n" },
	{ ARGS("run", "--kernel"), "ivmm: error: option '--kernel' needs a value\n" },
	{ ARGS("run", "--kernel", "I", "--hugepages=maybe"),
	  "ivmm: error: --hugepages 'maybe': not a boolean (true/false, yes/no, on/off, 1/0)\n" },
	{ ARGS("run", "--kernel", "I", "--version=1"), "ivmm: error: option '--version' takes no value\n" },
	{ ARGS("run", "--kernel", "I", "extra"),
	  "ivmm: error: unexpected argument 'extra' (options start with --; try 'ivmm --help')\n" },
	{ ARGS("run", "--kernel", ""), "ivmm: error: --kernel '': empty path\n" },
	{ ARGS("run", "--kernel", "I", "--initrd", ""), "ivmm: error: --initrd '': empty path\n" },
	{ ARGS("run", "--kernel", "I", "--memory", "lots"),
	  "ivmm: error: --memory 'lots': not a size (examples: 512M, 2G, 1048576)\n" },
	{ ARGS("run", "--kernel", "I", "--memory", ""),
	  "ivmm: error: --memory '': not a size (examples: 512M, 2G, 1048576)\n" },
	{ ARGS("run", "--kernel", "I", "--memory", "-512M"),
	  "ivmm: error: --memory '-512M': not a size (examples: 512M, 2G, 1048576)\n" },
	{ ARGS("run", "--kernel", "I", "--memory", "512MB"),
	  "ivmm: error: --memory '512MB': not a size (examples: 512M, 2G, 1048576)\n" },
	{ ARGS("run", "--kernel", "I", "--memory", "1.5G"),
	  "ivmm: error: --memory '1.5G': not a size (examples: 512M, 2G, 1048576)\n" },
	{ ARGS("run", "--kernel", "I", "--memory", "65M"), "ivmm: error: --memory '65M': not a multiple of 2 MiB\n" },
	{ ARGS("run", "--kernel", "I", "--memory", "1000000"),
	  "ivmm: error: --memory '1000000': below the minimum of 64M\n" },
	{ ARGS("run", "--kernel", "I", "--memory", "0"), "ivmm: error: --memory '0': below the minimum of 64M\n" },
	{ ARGS("run", "--kernel", "I", "--memory", "62M"), "ivmm: error: --memory '62M': below the minimum of 64M\n" },
	{ ARGS("run", "--kernel", "I", "--memory", "512G"),
	  "ivmm: error: --memory '512G': above the maximum of 511G (guest RAM must end below the 64-bit PCI "
	  "window at 0x8000000000)\n" },
	{ ARGS("run", "--kernel", "I", "--memory", "99999999999999999999999"),
	  "ivmm: error: --memory '99999999999999999999999': above the maximum of 511G (guest RAM must end below "
	  "the 64-bit PCI window at 0x8000000000)\n" },
	{ ARGS("run", "--kernel", "I", "--memory", "17179869184T"),
	  "ivmm: error: --memory '17179869184T': above the maximum of 511G (guest RAM must end below "
	  "the 64-bit PCI window at 0x8000000000)\n" },
	{ ARGS("run", "--kernel", "I", "--cpus", "0"), "ivmm: error: --cpus '0': not a CPU count from 1 to 64\n" },
	{ ARGS("run", "--kernel", "I", "--cpus", "65"), "ivmm: error: --cpus '65': not a CPU count from 1 to 64\n" },
	{ ARGS("run", "--kernel", "I", "--cpus", "two"), "ivmm: error: --cpus 'two': not a CPU count from 1 to 64\n" },
	{ ARGS("run", "--kernel", "I", "--cpus", "-1"), "ivmm: error: --cpus '-1': not a CPU count from 1 to 64\n" },
	{ ARGS("run", "--kernel", "I", "--cpus", "4294967297"),
	  "ivmm: error: --cpus '4294967297': not a CPU count from 1 to 64\n" },
	{ ARGS("run", "--kernel", "I", "--device", "virtio-net,host=0000:00:01.0"),
	  "ivmm: error: --device 'virtio-net,host=0000:00:01.0': driver 'virtio-net': unknown driver "
	  "(supported: vfio-pci)\n" },
	{ ARGS("run", "--kernel", "I", "--device", "host=0000:00:01.0"),
	  "ivmm: error: --device 'host=0000:00:01.0': the driver comes first (e.g. vfio-pci,host=0000:00:01.0)\n" },
	{ ARGS("run", "--kernel", "I", "--device", "vfio-pci"),
	  "ivmm: error: --device 'vfio-pci': missing host=DDDD:BB:DD.F\n" },
	{ ARGS("run", "--kernel", "I", "--device", "vfio-pci,host=0000:00:01.0,bar=1"),
	  "ivmm: error: --device 'vfio-pci,host=0000:00:01.0,bar=1': unknown parameter 'bar' (known: host, id, viommu, vsid, guest-vfio)\n" },
	{ ARGS("run", "--kernel", "I", "--device", "vfio-pci,host"),
	  "ivmm: error: --device 'vfio-pci,host': host needs a value (host=...)\n" },
	{ ARGS("run", "--kernel", "I", "--device", "vfio-pci,host=00:01.0,host=00:02.0"),
	  "ivmm: error: --device 'vfio-pci,host=00:01.0,host=00:02.0': host given twice\n" },
	{ ARGS("run", "--kernel", "I", "--device", "vfio-pci,host=00:20.0"),
	  "ivmm: error: --device 'vfio-pci,host=00:20.0': host '00:20.0' is not a PCI address (DDDD:BB:DD.F or "
	  "BB:DD.F)\n" },
	{ ARGS("run", "--kernel", "I", "--device", "vfio-pci,host=00:01.8"),
	  "ivmm: error: --device 'vfio-pci,host=00:01.8': host '00:01.8' is not a PCI address (DDDD:BB:DD.F or "
	  "BB:DD.F)\n" },
	{ ARGS("run", "--kernel", "I", "--device", "vfio-pci,host=10000:00:01.0"),
	  "ivmm: error: --device 'vfio-pci,host=10000:00:01.0': host '10000:00:01.0' is not a PCI address "
	  "(DDDD:BB:DD.F or BB:DD.F)\n" },
	{ ARGS("run", "--kernel", "I", "--device", "vfio-pci,host=0000:00:01.0x"),
	  "ivmm: error: --device 'vfio-pci,host=0000:00:01.0x': host '0000:00:01.0x' is not a PCI address "
	  "(DDDD:BB:DD.F or BB:DD.F)\n" },
	{ ARGS("run", "--kernel", "I", "--device", "vfio-pci,host=00:01.0,id=a b"),
	  "ivmm: error: --device 'vfio-pci,host=00:01.0,id=a b': id 'a b' is not a valid name (1 to 31 letters, "
	  "digits, '_', '.' or '-')\n" },
	{ ARGS("run", "--kernel", "I", "--device", "vfio-pci,host=00:01.0,id=x", "--device",
	       "vfio-pci,host=00:02.0,id=x"),
	  "ivmm: error: --device 'vfio-pci,host=00:02.0,id=x': id 'x' is already used (--device)\n" },
	{ ARGS("run", "--kernel", "I", "--device", "vfio-pci,host=00:01.0", "--device", "vfio-pci,host=0000:00:01.0"),
	  "ivmm: error: --device: device 'vfio1' uses host 0000:00:01.0, already given to device 'vfio0' "
	  "(--device)\n" },
	{ ARGS("run", "--kernel", "I", "--viommu", "intel"),
	  "ivmm: error: --viommu 'intel': unknown vIOMMU (supported: smmuv3, none)\n" },
	{ ARGS("run", "--kernel", "I", "--viommu", "smmuv3,msi=maybe"),
	  "ivmm: error: --viommu 'smmuv3,msi=maybe': msi= is not a boolean (on/off)\n" },
	{ ARGS("run", "--kernel", "I", "--viommu", "smmuv3,evtq=13"),
	  "ivmm: error: --viommu 'smmuv3,evtq=13': evtq= is not a queue size from 1 to 12 (log2 of entries)\n" },
	{ ARGS("run", "--kernel", "I", "--viommu", "smmuv3,ats=on"),
	  "ivmm: error: --viommu 'smmuv3,ats=on': not smmuv3[,msi=on|off][,evtq=1..12] or none\n" },
	{ ARGS("run", "--kernel", "I", "--viommu", "none,msi=on"),
	  "ivmm: error: --viommu 'none,msi=on': not smmuv3[,msi=on|off][,evtq=1..12] or none\n" },
	{ ARGS("run", "--kernel", "I", "--device", "vfio-pci,host=00:01.0,viommu=a/b"),
	  "ivmm: error: --device 'vfio-pci,host=00:01.0,viommu=a/b': viommu 'a/b' is not 'off' or a vSMMU name (1 "
	  "to 31 letters, digits, '_', '.' or '-')\n" },
	{ ARGS("run", "--kernel", "I", "--device", "vfio-pci,host=00:01.0,viommu=a,vsid=0x10000"),
	  "ivmm: error: --device 'vfio-pci,host=00:01.0,viommu=a,vsid=0x10000': vsid '0x10000' is not a StreamID "
	  "from 0 to 0xffff\n" },
	{ ARGS("run", "--kernel", "I", "--device", "vfio-pci,host=00:01.0,viommu=a,vsid=12x"),
	  "ivmm: error: --device 'vfio-pci,host=00:01.0,viommu=a,vsid=12x': vsid '12x' is not a StreamID "
	  "from 0 to 0xffff\n" },
	{ ARGS("run", "--kernel", "I", "--device", "vfio-pci,host=00:01.0,guest-vfio=perhaps"),
	  "ivmm: error: --device 'vfio-pci,host=00:01.0,guest-vfio=perhaps': guest-vfio 'perhaps' is not a "
	  "boolean (true/false, yes/no, on/off, 1/0)\n" },
	{ ARGS("run", "--kernel", "I", "--device", "vfio-pci,host=00:01.0,vsid=8"),
	  "ivmm: error: --device: device 'vfio0' has vsid= but is not behind a vSMMU (give viommu=NAME or --viommu "
	  "smmuv3)\n" },
	{ ARGS("run", "--kernel", "I", "--config", ""), "ivmm: error: --config '': empty path\n" },
	{ ARGS("run", "--kernel", "I", "--config", "/nonexistent/ivmm.ini"),
	  "ivmm: error: cannot read config file '/nonexistent/ivmm.ini': No such file or directory\n" },
};

/* One test walks the table so each failing line names its arguments. */
Test(cli, bad_input)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *bc = &bad_cases[i];
		struct vm_config cfg;
		char *err;
		int ret = run_cli(&cfg, &err, bc->args);

		cr_expect(ret == -EINVAL || ret == -ENOENT, "case %zu (%s %s): expected -EINVAL/-ENOENT, got %d", i,
			  bc->args[0], bc->args[1] ? bc->args[1] : "", ret);
		cr_expect_eq(ivmm_exit_for_errno(ret), IVMM_EXIT_USAGE, "case %zu", i);
		cr_expect_str_eq(err, bc->msg, "case %zu", i);
		free(err);
		vm_config_free(&cfg);
	}
}

Test(cli, too_many_devices)
{
	const char *args[4 + 2 * (IVMM_MAX_DEVICES + 1) + 1];
	char specs[IVMM_MAX_DEVICES + 1][40];
	struct vm_config cfg;
	int n = 0;
	char *err;

	args[n++] = "run";
	args[n++] = "--kernel";
	args[n++] = "I";
	for (int i = 0; i <= IVMM_MAX_DEVICES; i++) {
		snprintf(specs[i], sizeof(specs[i]), "vfio-pci,host=00:%02x.0", i + 1);
		args[n++] = "--device";
		args[n++] = specs[i];
	}
	args[n] = NULL;
	cr_assert_eq(run_cli(&cfg, &err, args), -EINVAL);
	cr_expect_str_eq(err, "ivmm: error: --device 'vfio-pci,host=00:11.0': too many devices (at most 16)\n");
	free(err);
	vm_config_free(&cfg);
}

Test(cli, cmdline_length)
{
	char line[2049];
	struct vm_config cfg;
	char *err;

	memset(line, 'x', sizeof(line) - 1);
	line[2047] = '\0';
	cr_expect_eq(run_cli(&cfg, &err, ARGS("run", "--kernel", "I", "--cmdline", line)), 0, "%s", err);
	cr_expect_eq(strlen(cfg.cmdline), 2047);
	free(err);
	vm_config_free(&cfg);

	line[2047] = 'x';
	line[2048] = '\0';
	cr_expect_eq(run_cli(&cfg, &err, ARGS("run", "--kernel", "I", "--cmdline", line)), -EINVAL);
	cr_expect_str_eq(err, "ivmm: error: kernel command line is 2048 characters, more than the 2047 an arm64 "
			      "kernel accepts\n");
	free(err);
	vm_config_free(&cfg);
}

Test(cli, defaults)
{
	struct vm_config cfg;
	char *err;

	cr_assert_eq(run_cli(&cfg, &err, ARGS("run", "--kernel", "Image")), 0);
	cr_expect_str_eq(err, "");
	cr_expect_str_eq(cfg.kernel, "Image");
	cr_expect_null(cfg.initrd);
	cr_expect_str_eq(cfg.cmdline, "console=ttyS0 earlycon");
	cr_expect_eq(cfg.mem_size, 512 * SZ_1M);
	cr_expect_eq(cfg.ncpus, 1);
	cr_expect_not(cfg.hugepages);
	cr_expect_eq(cfg.ndevices, 0);
	cr_expect_null(cfg.dump_dtb);
	cr_expect_null(cfg.config_file);
	free(err);
	vm_config_free(&cfg);
}

Test(cli, every_option)
{
	struct vm_config cfg;
	char *err;

	cr_assert_eq(run_cli(&cfg, &err,
			     ARGS("run", "--kernel", "/k/Image", "--initrd=/k/initrd", "--cmdline", "root=/dev/vda quiet",
				  "--memory", "2G", "--cpus", "64", "--hugepages", "--dump-dtb", "out.dtb", "--device",
				  "vfio-pci,host=0000:00:01.0,id=edu", "--device", "vfio-pci,host=3:1F.7")),
		     0);
	cr_expect_str_eq(err, "");
	cr_expect_str_eq(cfg.kernel, "/k/Image");
	cr_expect_str_eq(cfg.initrd, "/k/initrd");
	cr_expect_str_eq(cfg.cmdline, "root=/dev/vda quiet");
	cr_expect_eq(cfg.mem_size, 2 * SZ_1G);
	cr_expect_eq(cfg.ncpus, 64);
	cr_expect(cfg.hugepages);
	cr_expect_str_eq(cfg.dump_dtb, "out.dtb");
	cr_assert_eq(cfg.ndevices, 2);
	cr_expect_str_eq(cfg.devices[0].id, "edu");
	cr_expect_str_eq(cfg.devices[0].host, "0000:00:01.0");
	cr_expect_eq(cfg.devices[0].driver, VM_DEV_VFIO_PCI);
	cr_expect_str_eq(cfg.devices[0].where, "--device");
	/* No id: the first free vfioN; the short BDF gets domain 0 and lower case. */
	cr_expect_str_eq(cfg.devices[1].id, "vfio0");
	cr_expect_str_eq(cfg.devices[1].host, "0000:03:1f.7");
	free(err);
	vm_config_free(&cfg);
}

Test(cli, viommu_options)
{
	struct vm_config cfg;
	char *err;

	cr_assert_eq(run_cli(&cfg, &err,
			     ARGS("run", "--kernel", "/k/Image", "--viommu", "smmuv3,msi=off,evtq=3", "--stats", "--device",
				  "vfio-pci,host=00:01.0,viommu=left,vsid=0x20,guest-vfio=on", "--device",
				  "vfio-pci,host=00:02.0,viommu=off")),
		     0);
	cr_expect_str_eq(err, "");
	cr_expect_eq(cfg.viommu, VM_VIOMMU_SMMUV3);
	cr_expect_not(cfg.viommu_msi);
	cr_expect_eq(cfg.viommu_evtq_log2, 3);
	cr_expect(cfg.stats);
	cr_assert_eq(cfg.nvsmmus, 1);
	cr_expect_str_eq(cfg.vsmmus[0].name, "left");
	cr_expect_eq(vm_device_vsmmu(&cfg, &cfg.devices[0]), 0);
	cr_expect_eq(cfg.devices[0].vsid, 0x20);
	cr_expect(cfg.devices[0].guest_vfio);
	cr_expect_eq(vm_device_vsmmu(&cfg, &cfg.devices[1]), -1);
	free(err);
	vm_config_free(&cfg);

	/* Defaults: no vIOMMU, MSIs on when one is asked for, no stats, no control socket. */
	cr_assert_eq(run_cli(&cfg, &err, ARGS("run", "--kernel", "/k/Image", "--viommu", "smmuv3")), 0);
	cr_expect(cfg.viommu_msi);
	cr_expect_eq(cfg.viommu_evtq_log2, 0);
	cr_expect_not(cfg.stats);
	cr_expect_null(cfg.api_socket);
	free(err);
	vm_config_free(&cfg);

	cr_assert_eq(run_cli(&cfg, &err, ARGS("run", "--kernel", "/k/Image", "--api-socket", "/run/ivmm.sock")), 0);
	cr_expect_str_eq(cfg.api_socket, "/run/ivmm.sock");
	free(err);
	vm_config_free(&cfg);
}

Test(cli, generated_ids_skip_taken_names)
{
	struct vm_config cfg;
	char *err;

	cr_assert_eq(run_cli(&cfg, &err,
			     ARGS("run", "--kernel", "I", "--device", "vfio-pci,host=00:01.0", "--device",
				  "vfio-pci,host=00:02.0,id=vfio0", "--device", "vfio-pci,host=00:03.0")),
		     0);
	cr_assert_eq(cfg.ndevices, 3);
	cr_expect_str_eq(cfg.devices[0].id, "vfio1");
	cr_expect_str_eq(cfg.devices[1].id, "vfio0");
	cr_expect_str_eq(cfg.devices[2].id, "vfio2");
	free(err);
	vm_config_free(&cfg);
}

Test(cli, sizes_and_last_option_wins)
{
	static const struct {
		const char *arg;
		u64 bytes;
	} sizes[] = {
		{ "512M", 512 * SZ_1M }, { "512m", 512 * SZ_1M }, { "2G", 2 * SZ_1G }, { "65536K", 64 * SZ_1M },
		{ "67108864", 64 * SZ_1M }, { "511G", 511 * SZ_1G }, { "1026M", 1026 * SZ_1M },
	};

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		struct vm_config cfg;
		char *err;

		cr_assert_eq(run_cli(&cfg, &err, ARGS("run", "--memory", "128M", "--kernel", "I", "--memory",
						      sizes[i].arg)),
			     0, "%s", sizes[i].arg);
		cr_expect_eq(cfg.mem_size, sizes[i].bytes, "%s", sizes[i].arg);
		free(err);
		vm_config_free(&cfg);
	}
}

Test(cli, help_and_version)
{
	static const char *const helps[][2] = { { "--help", NULL }, { "-h", NULL }, { "run", "--help" } };
	struct vm_config cfg;
	enum cli_action action;
	struct capture c;
	char *out;

	for (size_t i = 0; i < ARRAY_SIZE(helps); i++) {
		char *argv[] = { "ivmm", (char *)helps[i][0], (char *)helps[i][1], NULL };

		vm_config_init(&cfg);
		capture_begin(&c, 1);
		cr_assert_eq(cli_parse(helps[i][1] ? 3 : 2, argv, &cfg, &action), 0);
		out = capture_end(&c);
		cr_expect_eq(action, CLI_EXIT);
		cr_expect(strstr(out, "Usage: ivmm run --kernel IMAGE"), "%s", out);
		/* Every option and every exit code is documented. */
		for (const char *const *o = ARGS("--kernel", "--initrd", "--cmdline", "--memory", "--cpus", "--config",
						 "--dump-dtb", "--device", "--hugepages", "--version", "configs/");
		     *o; o++)
			cr_expect(strstr(out, *o), "help lacks %s", *o);
		for (int code = 0; code <= 4; code++) {
			char line[16];

			snprintf(line, sizeof(line), "\n  %d ", code);
			cr_expect(strstr(out, line), "help lacks exit code %d", code);
		}
		cr_expect(strstr(out, "128+N"));
		/* The console escape keys (vmm/console.h). */
		cr_expect(strstr(out, "\n  Ctrl-A x        quit ivmm"), "%s", out);
		cr_expect(strstr(out, "\n  Ctrl-A h        list these keys"), "%s", out);
		/* How to write a long cmdline in the file, and what --device does to the file's devices. */
		cr_expect(strstr(out, "goes on over indented lines"), "%s", out);
		cr_expect(strstr(out, "devices\n                       given on the command line add to the file's; "
				      "one with the\n                       same id replaces it"), "%s", out);
		free(out);
		vm_config_free(&cfg);
	}

	char *argv[] = { "ivmm", "--version", NULL };

	vm_config_init(&cfg);
	capture_begin(&c, 1);
	cr_assert_eq(cli_parse(2, argv, &cfg, &action), 0);
	out = capture_end(&c);
	cr_expect_eq(action, CLI_EXIT);
	/* "ivmm VERSION\n" with the version the Makefile passes (git describe), one line. */
	cr_expect(!strncmp(out, "ivmm ", 5) && strlen(out) > 6, "%s", out);
	cr_expect(strchr(out, '\n') == out + strlen(out) - 1, "%s", out);
	cr_expect(!strstr(out, "unknown"), "IVMM_VERSION not set: %s", out);
	free(out);
	vm_config_free(&cfg);
}

Test(cli, no_command)
{
	char *argv[] = { "ivmm", NULL };
	struct vm_config cfg;
	enum cli_action action;
	struct capture c;
	char *err;

	vm_config_init(&cfg);
	capture_begin(&c, 2);
	cr_expect_eq(cli_parse(1, argv, &cfg, &action), -EINVAL);
	err = capture_end(&c);
	cr_expect_str_eq(err, "ivmm: error: no command given (try 'ivmm --help')\n");
	free(err);
	vm_config_free(&cfg);
}

/* The config file is applied first, whatever the position of --config; options override it. */
Test(cli, options_override_config_file_in_any_order)
{
	static const char ini[] = "[machine]\nmemory = 1G\ncpus = 2\nhugepages = true\n"
				  "[boot]\nkernel = Image\ninitrd = initrd.img\ncmdline = from-file\n"
				  "[device \"edu\"]\ndriver = vfio-pci\nhost = 0000:00:01.0\n";
	char *dir = scratch_dir(), *path = scratch_file(dir, "vm.ini", ini, sizeof(ini) - 1), *expect;
	struct vm_config cfg;
	char *err;

	/* Options before and after --config both win over the file. */
	cr_assert_eq(run_cli(&cfg, &err,
			     ARGS("run", "--cpus", "3", "--kernel", "/other/Image", "--config", path, "--cmdline", "x",
				  "--device", "vfio-pci,host=00:02.0")),
		     0, "%s", err);
	cr_expect(cfg.hugepages, "from the file");
	cr_expect_str_eq(err, "");
	cr_expect_eq(cfg.ncpus, 3);
	cr_expect_str_eq(cfg.kernel, "/other/Image");
	cr_expect_str_eq(cfg.cmdline, "x");
	/* Not overridden: from the file, relative paths resolved against its directory. */
	cr_expect_eq(cfg.mem_size, SZ_1G);
	cr_expect(cfg.hugepages);
	cr_assert(asprintf(&expect, "%s/initrd.img", dir) > 0);
	cr_expect_str_eq(cfg.initrd, expect);
	cr_expect_str_eq(cfg.config_file, path);
	/* Devices add up: the file's first, then the command line's. */
	cr_assert_eq(cfg.ndevices, 2);
	cr_expect_str_eq(cfg.devices[0].id, "edu");
	cr_expect_str_eq(cfg.devices[1].id, "vfio0");
	cr_expect_str_eq(cfg.devices[1].host, "0000:00:02.0");
	free(expect);
	free(err);
	vm_config_free(&cfg);

	/* --hugepages=off overrides the file's hugepages = true. */
	cr_assert_eq(run_cli(&cfg, &err, ARGS("run", "--hugepages=off", "--config", path)), 0, "%s", err);
	cr_expect_not(cfg.hugepages);
	free(err);
	vm_config_free(&cfg);

	free(path);
	scratch_rm(dir);
}

/* Command lines around config files: in args and msg, "@ONE", "@TWO" and "@BAD" stand for the files
 * holding ini_one, ini_two and ini_bad. */
struct file_case {
	const char *const *args;
	const char *msg;   /* the exact stderr; NULL: accepted */
};

static const char ini_one[] = "[boot]\nkernel = Image\n"
			      "[device \"edu\"]\ndriver = vfio-pci\nhost = 0000:00:01.0\n";
static const char ini_two[] = "[boot]\nkernel = Image\n"
			      "[device \"edu\"]\ndriver = vfio-pci\nhost = 0000:00:01.0\n"
			      "[device \"nic\"]\ndriver = vfio-pci\nhost = 0000:00:03.0\n";
static const char ini_bad[] = "[machine]\nmemory = 3X\n";

static const struct file_case file_cases[] = {
	/* A bad value in the file is reported even when an option would override it. */
	{ ARGS("run", "--memory", "1G", "--kernel", "I", "--config", "@BAD"),
	  "ivmm: error: @BAD:2: memory = '3X': not a size (examples: 512M, 2G, 1048576)\n" },
	/* The same host in the file and on the command line: both places named. */
	{ ARGS("run", "--config", "@ONE", "--device", "vfio-pci,host=0:1.0,id=dup"),
	  "ivmm: error: --device: device 'dup' uses host 0000:00:01.0, already given to device 'edu' "
	  "(@ONE:3)\n" },
	/* A --device replacing 'edu' with nic's host: the clash names both places. */
	{ ARGS("run", "--config", "@TWO", "--device", "vfio-pci,host=0:3.0,id=edu"),
	  "ivmm: error: @TWO:6: device 'nic' uses host 0000:00:03.0, already given to device 'edu' "
	  "(--device)\n" },
	/* One id twice on the command line, even when the first replaced a file device. */
	{ ARGS("run", "--config", "@ONE", "--device", "vfio-pci,host=0:2.0,id=edu", "--device",
	       "vfio-pci,host=0:4.0,id=edu"),
	  "ivmm: error: --device 'vfio-pci,host=0:4.0,id=edu': id 'edu' is already used (--device)\n" },
	/* One id in two files (here the same file twice). */
	{ ARGS("run", "--config", "@ONE", "--config", "@ONE"),
	  "ivmm: error: @ONE:3: [device \"edu\"]: device 'edu' is already defined (@ONE:3)\n" },
	{ ARGS("run", "--config", "@ONE", "--config", "@TWO"),
	  "ivmm: error: @TWO:3: [device \"edu\"]: device 'edu' is already defined (@ONE:3)\n" },
	/* Accepted: --device replaces the file's device of the same id, wherever --config is. */
	{ ARGS("run", "--device", "vfio-pci,host=0:2.0,id=edu", "--config", "@ONE"), NULL },
	{ ARGS("run", "--config", "@TWO", "--device", "vfio-pci,host=0:1.0,id=nic", "--device",
	       "vfio-pci,host=0:3.0,id=edu"), NULL },
};

/* s with every keys[i] replaced by vals[i] (malloc'd). */
static char *fill_in(const char *s, const char *const *keys, char *const *vals, int n)
{
	char *out = strdup(s), *next;

	cr_assert(out);
	for (int i = 0; i < n; i++) {
		next = subst(out, keys[i], vals[i]);
		free(out);
		out = next;
	}
	return out;
}

/* args with placeholders filled in, into argv (NULL-terminated, at most 31 entries); free with free_args. */
static void fill_args(char **argv, const char *const *args, const char *const *keys, char *const *vals, int n)
{
	int i = 0;

	for (; args[i]; i++) {
		cr_assert(i < 31);
		argv[i] = fill_in(args[i], keys, vals, n);
	}
	argv[i] = NULL;
}

static void free_args(char **argv)
{
	for (; *argv; argv++)
		free(*argv);
}

Test(cli, config_file_and_device_overrides)
{
	char *dir = scratch_dir();
	char *files[3] = {
		scratch_file(dir, "vm.ini", ini_one, sizeof(ini_one) - 1),
		scratch_file(dir, "two.ini", ini_two, sizeof(ini_two) - 1),
		scratch_file(dir, "bad.ini", ini_bad, sizeof(ini_bad) - 1),
	};

	for (size_t i = 0; i < ARRAY_SIZE(file_cases); i++) {
		const struct file_case *fc = &file_cases[i];
		static const char *const keys[3] = { "@ONE", "@TWO", "@BAD" };
		char *args[32], *err;
		struct vm_config cfg;
		int ret;

		fill_args(args, fc->args, keys, files, 3);
		ret = run_cli(&cfg, &err, (const char *const *)args);
		free_args(args);
		if (fc->msg) {
			char *want = fill_in(fc->msg, keys, files, 3);

			cr_expect_eq(ret, -EINVAL, "case %zu: got %d", i, ret);
			cr_expect_str_eq(err, want, "case %zu", i);
			free(want);
		} else {
			cr_expect_eq(ret, 0, "case %zu: %s", i, err);
			cr_expect_str_eq(err, "", "case %zu", i);
		}
		free(err);
		vm_config_free(&cfg);
	}
	for (int i = 0; i < 3; i++)
		free(files[i]);
	scratch_rm(dir);
}

/* What a --device that replaces a file device leaves: the file's slot, the new host, the file's other
 * devices untouched. */
Test(cli, device_replaces_file_device_in_place)
{
	char *dir = scratch_dir(), *path = scratch_file(dir, "two.ini", ini_two, sizeof(ini_two) - 1), *err, *where;
	struct vm_config cfg;

	cr_assert_eq(run_cli(&cfg, &err, ARGS("run", "--device", "vfio-pci,host=0:9.0,id=edu", "--config", path,
					      "--device", "vfio-pci,host=0:7.0")),
		     0, "%s", err);
	cr_assert_eq(cfg.ndevices, 3);
	cr_expect_str_eq(cfg.devices[0].id, "edu");
	cr_expect_str_eq(cfg.devices[0].host, "0000:00:09.0");
	cr_expect_str_eq(cfg.devices[0].where, "--device");
	cr_expect(cfg.devices[0].from_cli);
	cr_expect_str_eq(cfg.devices[1].id, "nic");
	cr_expect_str_eq(cfg.devices[1].host, "0000:00:03.0");
	cr_assert(asprintf(&where, "%s:6", path) > 0);
	cr_expect_str_eq(cfg.devices[1].where, where);
	cr_expect_not(cfg.devices[1].from_cli);
	cr_expect_str_eq(cfg.devices[2].id, "vfio0");
	cr_expect_str_eq(cfg.devices[2].host, "0000:00:07.0");
	free(where);
	free(err);
	vm_config_free(&cfg);
	free(path);
	scratch_rm(dir);
}

/* What main exits with for a front-end errno: the user's mistakes are usage errors, the host's are not. */
Test(cli, exit_for_errno)
{
	static const struct {
		int err, status;
	} map[] = {
		{ 0, IVMM_EXIT_OK },
		{ -EINVAL, IVMM_EXIT_USAGE },      { -ENOENT, IVMM_EXIT_USAGE },       { -ENOEXEC, IVMM_EXIT_USAGE },
		{ -EACCES, IVMM_EXIT_USAGE },      { -EISDIR, IVMM_EXIT_USAGE },       { -E2BIG, IVMM_EXIT_USAGE },
		{ -ENOTDIR, IVMM_EXIT_USAGE },     { -ELOOP, IVMM_EXIT_USAGE },        { -ENAMETOOLONG, IVMM_EXIT_USAGE },
		{ EINVAL, IVMM_EXIT_USAGE },       /* either sign */
		{ -EIO, IVMM_EXIT_RUNTIME },       { -ENOMEM, IVMM_EXIT_RUNTIME },     { -EMFILE, IVMM_EXIT_RUNTIME },
		{ -EFAULT, IVMM_EXIT_RUNTIME },    { -ENOSPC, IVMM_EXIT_RUNTIME },     { EIO, IVMM_EXIT_RUNTIME },
		{ -EPERM, IVMM_EXIT_RUNTIME },
	};

	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		cr_expect_eq(ivmm_exit_for_errno(map[i].err), map[i].status, "errno %d", map[i].err);
}

Test(cli, parse_helpers)
{
	char bdf[BDF_STR_LEN];
	bool b;

	cr_expect_null(parse_bdf("0000:00:01.0", bdf));
	cr_expect_str_eq(bdf, "0000:00:01.0");
	cr_expect_null(parse_bdf("ABCD:EF:1F.7", bdf));
	cr_expect_str_eq(bdf, "abcd:ef:1f.7");
	cr_expect_null(parse_bdf("1:2.3", bdf));
	cr_expect_str_eq(bdf, "0000:01:02.3");
	for (const char *const *s = ARGS("", ":", "00:01", "00:01.", "0:0:0:0.0", "000:100:00.0", "00:01.0 ",
					 " 00:01.0", "g0:01.0", "00:01:0");
	     *s; s++)
		cr_expect_not_null(parse_bdf(*s, bdf), "'%s' accepted", *s);
	for (const char *const *s = ARGS("true", "YES", "on", "1"); *s; s++)
		cr_expect(!parse_bool(*s, &b) && b, "%s", *s);
	for (const char *const *s = ARGS("false", "No", "off", "0"); *s; s++)
		cr_expect(!parse_bool(*s, &b) && !b, "%s", *s);
	cr_expect_str_eq(parse_bool("maybe", &b), "not a boolean (true/false, yes/no, on/off, 1/0)");
	cr_expect_null(check_device_id("a-b_c.1"));
	cr_expect_null(check_device_id("abcdefghijklmnopqrstuvwxyz01234"));
	cr_expect_not_null(check_device_id("abcdefghijklmnopqrstuvwxyz012345"));
	cr_expect_not_null(check_device_id(""));
	cr_expect_not_null(check_device_id("a/b"));
}


/* The real binary (IVMM_BIN, set by make unit): each class of outcome ends with its documented exit status
 * (vmm/config.h) and a usage error prints exactly one line. In args, out and err: @K is a good Image, @DIR
 * the scratch directory, @DTB a writable output, @BADOUT one in a missing directory. */
static const struct {
	const char *const *args;
	int status;
	const char *out;   /* what stdout starts with ("": stdout is empty); NULL: not checked */
	const char *err;   /* the exact stderr; NULL: not checked */
} binary_cases[] = {
	{ ARGS("--help"), IVMM_EXIT_OK, "Usage: ivmm run", "" },
	{ ARGS("--version"), IVMM_EXIT_OK, "ivmm ", "" },
	{ ARGS("run", "--kernel", "@K", "--cpus", "0"), IVMM_EXIT_USAGE, "",
	  "ivmm: error: --cpus '0': not a CPU count from 1 to 64\n" },
	{ ARGS("run", "--memory", "1G"), IVMM_EXIT_USAGE, "",
	  "ivmm: error: no kernel given (--kernel or [boot] kernel)\n" },
	/* A bad kernel is a usage error too, found before anything touches KVM. */
	{ ARGS("run", "--kernel", "@DIR", "--dump-dtb", "@DTB"), IVMM_EXIT_USAGE, "",
	  "ivmm: error: kernel @DIR: not a regular file\n" },
	{ ARGS("run", "--kernel", "@DIR/missing", "--dump-dtb", "@DTB"), IVMM_EXIT_USAGE, "",
	  "ivmm: error: cannot open kernel @DIR/missing: No such file or directory\n" },
	{ ARGS("run", "--kernel", "@K", "--dump-dtb", "@DTB", "--cpus", "2"), IVMM_EXIT_OK, "", "" },
	/* The DTB file cannot be created: a runtime failure. */
	{ ARGS("run", "--kernel", "@K", "--dump-dtb", "@BADOUT"), IVMM_EXIT_RUNTIME, "",
	  "ivmm: error: cannot write @BADOUT: No such file or directory\n" },
};

Test(cli, binary_exit_statuses)
{
	static const char *const keys[4] = { "@K", "@DIR", "@DTB", "@BADOUT" };
	const char *bin = getenv("IVMM_BIN");
	char *dir = scratch_dir(), *vals[4], *out, *err;
	void *img = fake_image(0, 8 * SZ_1M, 0xa, 4096);

	cr_assert(bin, "IVMM_BIN (the built ivmm) must be set: run through make unit");
	vals[0] = scratch_file(dir, "Image", img, 4096);
	vals[1] = dir;
	cr_assert(asprintf(&vals[2], "%s/guest.dtb", dir) > 0);
	cr_assert(asprintf(&vals[3], "%s/missing-dir/guest.dtb", dir) > 0);
	for (size_t i = 0; i < ARRAY_SIZE(binary_cases); i++) {
		char *argv[33];

		argv[0] = strdup(bin);
		fill_args(argv + 1, binary_cases[i].args, keys, vals, 4);
		cr_expect_eq(run_program((const char *const *)argv, &out, &err), binary_cases[i].status,
			     "case %zu: %s", i, err);
		if (binary_cases[i].out && !binary_cases[i].out[0])
			cr_expect_str_eq(out, "", "case %zu", i);
		else if (binary_cases[i].out)
			cr_expect(!strncmp(out, binary_cases[i].out, strlen(binary_cases[i].out)), "case %zu: %s", i,
				  out);
		if (binary_cases[i].err) {
			char *want = fill_in(binary_cases[i].err, keys, vals, 4);

			cr_expect_str_eq(err, want, "case %zu", i);
			free(want);
		}
		free_args(argv);
		free(out);
		free(err);
	}
	cr_expect_eq(access(vals[2], R_OK), 0, "no DTB written");

	free(img);
	free(vals[0]);
	free(vals[2]);
	free(vals[3]);
	scratch_rm(dir);
}

/* End to end: a 2000-character command line written over indented lines of a config file reaches the
 * guest's /chosen/bootargs (found in the DTB --dump-dtb writes) as one line. */
Test(cli, binary_long_cmdline_from_file)
{
	const char *bin = getenv("IVMM_BIN");
	char *dir = scratch_dir(), *ini = NULL, *want = NULL, *kpath, *ipath, *dtb, *out, *err, *blob;
	void *img = fake_image(0, 8 * SZ_1M, 0xa, 4096);
	size_t ilen = 0, wlen = 0;
	FILE *fi = open_memstream(&ini, &ilen), *fw = open_memstream(&want, &wlen), *fd;
	long n;

	cr_assert(bin, "IVMM_BIN (the built ivmm) must be set: run through make unit");
	cr_assert(fi && fw);
	kpath = scratch_file(dir, "Image", img, 4096);
	fprintf(fi, "[boot]\nkernel = Image\ncmdline = console=ttyS0\n");
	fputs("console=ttyS0", fw);
	/* 20 lines of "optNN=" and 93 letters: 13 + 20 * 100 = 2013 characters. */
	for (int i = 0; i < 20; i++) {
		fprintf(fi, "    opt%02d=", i);
		fprintf(fw, " opt%02d=", i);
		for (int j = 0; j < 93; j++) {
			fputc('a' + i, fi);
			fputc('a' + i, fw);
		}
		fputc('\n', fi);
	}
	fclose(fi);
	fclose(fw);
	cr_assert_eq(strlen(want), 2013);
	ipath = scratch_file(dir, "long.ini", ini, ilen);
	cr_assert(asprintf(&dtb, "%s/guest.dtb", dir) > 0);
	cr_assert_eq(run_program(ARGS(bin, "run", "--config", ipath, "--dump-dtb", dtb), &out, &err), IVMM_EXIT_OK,
		     "%s", err);
	cr_expect_str_eq(err, "");
	fd = fopen(dtb, "rb");
	cr_assert(fd);
	cr_assert_eq(fseek(fd, 0, SEEK_END), 0);
	n = ftell(fd);
	cr_assert_gt(n, 0);
	rewind(fd);
	blob = malloc((size_t)n);
	cr_assert(blob && fread(blob, 1, (size_t)n, fd) == (size_t)n);
	fclose(fd);
	/* The property value is NUL-terminated: the whole line, not a prefix of it. */
	cr_expect(memmem(blob, (size_t)n, want, strlen(want) + 1), "bootargs not in the DTB");
	free(blob);
	free(out);
	free(err);
	free(dtb);
	free(ipath);
	free(kpath);
	free(ini);
	free(want);
	free(img);
	scratch_rm(dir);
}
