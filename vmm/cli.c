/* cli.c: the command line (see cli.h). getopt_long collects the options in one pass; then every --config
 * file is applied in order, then the other options in the order given, so options override the file
 * whatever their position. Values are checked with the same rules as the config file (config_parse.h).
 * A --device adds a device, or replaces the file's device with the same id; an id given twice on the
 * command line is an error. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "boot/layout.h"
#include "vmm/cli.h"
#include "vmm/config.h"
#include "vmm/config_file.h"
#include "vmm/config_parse.h"
#include "vmm/log.h"

#ifndef IVMM_VERSION
#define IVMM_VERSION "unknown"
#endif

enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_MEMORY,
	OPT_CPUS,
	OPT_CONFIG,
	OPT_DUMP_DTB,
	OPT_DEVICE,
	OPT_HUGEPAGES,
	OPT_VIOMMU,
	OPT_STATS,
	OPT_API_SOCKET,
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
};

static const struct option long_opts[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "dump-dtb", required_argument, NULL, OPT_DUMP_DTB },
	{ "device", required_argument, NULL, OPT_DEVICE },
	{ "hugepages", optional_argument, NULL, OPT_HUGEPAGES },
	{ "viommu", required_argument, NULL, OPT_VIOMMU },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "api-socket", required_argument, NULL, OPT_API_SOCKET },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static const char help_text[] =
	"Usage: ivmm run --kernel IMAGE [options]\n"
	"       ivmm host-check [--device DDDD:BB:DD.F]...   (is this host ready? ivmm host-check --help)\n"
	"       ivmm ctl [--json] PATH COMMAND [ARGS]      (talk to --api-socket PATH; ivmm ctl --help)\n"
	"       ivmm --help | --version\n"
	"\n"
	"ivmm boots an arm64 Linux guest on KVM, with PCI devices passed through over VFIO + iommufd.\n"
	"\n"
	"Options of 'run':\n"
	"  --kernel IMAGE       arm64 Linux Image (uncompressed arch/arm64/boot/Image)\n"
	"  --initrd FILE        initial ramdisk / initramfs\n"
	"  --cmdline STRING     kernel command line (default \"" IVMM_DEFAULT_CMDLINE "\")\n"
	"  --memory SIZE        guest RAM, e.g. 512M or 2G (default 512M); a multiple of 2M,\n"
	"                       at least 64M and at most 511G\n"
	"  --cpus N             number of vCPUs, 1 to 64 (default 1)\n"
	"  --hugepages[=BOOL]   back guest RAM with huge pages (--hugepages=off undoes the\n"
	"                       config file's hugepages = true)\n"
	"  --device vfio-pci,host=DDDD:BB:DD.F[,id=NAME][,viommu=NAME|off][,vsid=N]\n"
	"           [,guest-vfio=BOOL]\n"
	"                       pass a host PCI device through (bound to vfio-pci; repeatable);\n"
	"                       viommu=NAME puts it behind that vSMMU (devices naming the same\n"
	"                       one share it), viommu=off keeps it out; vsid= sets the StreamID\n"
	"                       the guest sees (default: its requester ID); guest-vfio=on: the\n"
	"                       guest takes it with its own VFIO/iommufd (no direct MSI mapping\n"
	"                       in the device tree, which would make the guest refuse that)\n"
	"  --viommu smmuv3[,msi=on|off][,evtq=N]|none\n"
	"                       emulate an SMMUv3 for the passthrough devices: the guest's own\n"
	"                       arm-smmu-v3 driver programs nested translation (its stage 1\n"
	"                       over ivmm's stage 2); one vSMMU per host SMMU the devices sit\n"
	"                       behind (default none); msi=off hides its MSIs (wired\n"
	"                       interrupts only), evtq=N offers an event queue of 2^N entries\n"
	"                       (1 to 12, default 12)\n"
	"  --stats              print per-vSMMU counters when the VM ends (also on SIGUSR1)\n"
	"  --api-socket PATH    serve the control socket at PATH (mode 0600; a stale socket\n"
	"                       there is replaced, anything else refused): one JSON object per\n"
	"                       line each way, for 'ivmm ctl PATH COMMAND' (stats,\n"
	"                       vsmmu-state, inject, trace, quit: ivmm ctl --help)\n"
	"  --config FILE        read a machine description first (INI; see configs/*.ini;\n"
	"                       repeatable, files apply in order):\n"
	"                         [machine] memory, cpus, hugepages, viommu, api-socket\n"
	"                         [boot]    kernel, initrd, cmdline (paths relative to FILE)\n"
	"                         [device \"NAME\"] driver = vfio-pci, host = DDDD:BB:DD.F,\n"
	"                                  viommu = NAME|off, vsid = N, guest-vfio = BOOL\n"
	"                       a line is at most 198 characters: a longer cmdline (up to\n"
	"                       2047) goes on over indented lines, joined with spaces\n"
	"                       options on the command line override the file; devices\n"
	"                       given on the command line add to the file's; one with the\n"
	"                       same id replaces it\n"
	"  --dump-dtb FILE      write the device tree the guest would get to FILE and exit\n"
	"                       (inspect it with: dtc -I dtb -O dts FILE); needs no KVM\n"
	"  -h, --help           show this help\n"
	"  -V, --version        show the version\n"
	"\n"
	"Sizes take a K, M, G or T suffix (powers of 1024) or are plain bytes.\n"
	"\n"
	"Console: the guest's serial port is ivmm's stdin and stdout. On a terminal,\n"
	"keys go to the guest raw (Ctrl-C too); Ctrl-A is the escape key:\n"
	"  Ctrl-A x        quit ivmm (exit status 0)\n"
	"  Ctrl-A Ctrl-A   send one Ctrl-A to the guest\n"
	"  Ctrl-A h        list these keys\n"
	"\n"
	"Exit status:\n"
	"  0    the guest powered off (or --help, --version, --dump-dtb done)\n"
	"  1    runtime failure on the host (KVM, iommufd, VFIO, I/O)\n"
	"  2    bad command line or config file (the message names the option or FILE:LINE)\n"
	"  3    the guest asked for a reset (ivmm does not reboot it)\n"
	"  4    the guest reported a crash\n"
	"  128+N  ended by signal N (SIGINT, SIGTERM, SIGHUP)\n"
	"\n"
	"Signals: SIGINT, SIGTERM and SIGHUP end the VM (during the setup too: it stops\n"
	"and undoes itself); SIGUSR1 prints the --stats counters without stopping the guest.\n"
	"\n"
	"The manual page ivmm(1) has all of this in full (docs/ivmm.1 in the source tree).\n";

struct cli_opt {
	int id;
	const char *arg;
};

static const char *opt_name(int id)
{
	for (const struct option *o = long_opts; o->name; o++)
		if (o->val == id)
			return o->name;
	return "?";
}

/* "--foo" that getopt_long refused: ambiguous prefix, value on a flag, or unknown. */
static void report_bad_option(const char *arg, int optopt_val)
{
	char matches[256] = "";
	size_t n = 0, len;
	const char *eq;

	if (strncmp(arg, "--", 2)) {
		pr_err("unknown option '-%c' (try 'ivmm --help')", optopt_val ? optopt_val : '?');
		return;
	}
	eq = strchr(arg, '=');
	len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
	for (const struct option *o = long_opts; o->name; o++) {
		if (!strncmp(o->name, arg + 2, len) && len) {
			if (strlen(o->name) == len && o->has_arg == no_argument && eq) {
				pr_err("option '--%s' takes no value", o->name);
				return;
			}
			snprintf(matches + strlen(matches), sizeof(matches) - strlen(matches), "%s--%s",
				 n++ ? ", " : "", o->name);
		}
	}
	if (n > 1 && len)
		pr_err("ambiguous option '%.*s' (could be %s)", (int)len + 2, arg, matches);
	else
		pr_err("unknown option '%s' (try 'ivmm --help')", arg);
}

static int set_path(char **field, const char *opt, const char *v)
{
	if (!v[0]) {
		pr_err("--%s '': empty path", opt);
		return -EINVAL;
	}
	free(*field);
	*field = strdup(v);
	if (!*field) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* --device DRIVER,host=BDF[,id=NAME][,viommu=NAME|off][,vsid=N][,guest-vfio=BOOL] */
static int add_device(struct vm_config *cfg, const char *spec)
{
	char *copy = strdup(spec), *tok, *save = NULL, *host = NULL, *id = NULL, *viommu = NULL, *vsid = NULL;
	char *gvfio = NULL;
	u32 vsid_val = 0;
	bool gvfio_val = false;
	char why[160] = "", bdf[BDF_STR_LEN];
	enum vm_device_driver drv = VM_DEV_VFIO_PCI;
	const char *r;
	int ret = -EINVAL;

	if (!copy) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	tok = strtok_r(copy, ",", &save);
	if (!tok || strchr(tok, '=')) {
		snprintf(why, sizeof(why), "the driver comes first (e.g. vfio-pci,host=0000:00:01.0)");
		goto bad;
	}
	r = parse_driver(tok, &drv);
	if (r) {
		snprintf(why, sizeof(why), "driver '%s': %s", tok, r);
		goto bad;
	}
	while ((tok = strtok_r(NULL, ",", &save))) {
		char *eq = strchr(tok, '=');
		char **slot;

		if (eq)
			*eq++ = '\0';
		if (!strcmp(tok, "host"))
			slot = &host;
		else if (!strcmp(tok, "id"))
			slot = &id;
		else if (!strcmp(tok, "viommu"))
			slot = &viommu;
		else if (!strcmp(tok, "vsid"))
			slot = &vsid;
		else if (!strcmp(tok, "guest-vfio"))
			slot = &gvfio;
		else {
			snprintf(why, sizeof(why), "unknown parameter '%s' (known: host, id, viommu, vsid, guest-vfio)",
				 tok);
			goto bad;
		}
		if (!eq) {
			snprintf(why, sizeof(why), "%s needs a value (%s=...)", tok, tok);
			goto bad;
		}
		if (*slot) {
			snprintf(why, sizeof(why), "%s given twice", tok);
			goto bad;
		}
		*slot = eq;
	}
	if (!host) {
		snprintf(why, sizeof(why), "missing host=DDDD:BB:DD.F");
		goto bad;
	}
	r = parse_bdf(host, bdf);
	if (r) {
		snprintf(why, sizeof(why), "host '%s' is %s", host, r);
		goto bad;
	}
	if (viommu && (r = check_device_viommu(viommu))) {
		snprintf(why, sizeof(why), "viommu '%s' is %s", viommu, r);
		goto bad;
	}
	if (vsid && (r = parse_vsid(vsid, &vsid_val))) {
		snprintf(why, sizeof(why), "vsid '%s' is %s", vsid, r);
		goto bad;
	}
	if (gvfio && (r = parse_bool(gvfio, &gvfio_val))) {
		snprintf(why, sizeof(why), "guest-vfio '%s' is %s", gvfio, r);
		goto bad;
	}
	struct vm_device_config *d = NULL;

	if (id) {
		r = check_device_id(id);
		if (r) {
			snprintf(why, sizeof(why), "id '%s' is %s", id, r);
			goto bad;
		}
		d = vm_config_find_device(cfg, id);
		if (d && d->from_cli) {
			snprintf(why, sizeof(why), "id '%s' is already used (%s)", id, d->where);
			goto bad;
		}
	}
	if (d) {
		/* A config file's device of the same id: the command line overrides it, in its place. */
		pr_debug("--device '%s' replaces device '%s' (%s)", spec, d->id, d->where);
		free(d->host);
		free(d->where);
		free(d->viommu);
		d->host = d->where = d->viommu = NULL;
	} else {
		if (cfg->ndevices >= IVMM_MAX_DEVICES) {
			snprintf(why, sizeof(why), "too many devices (at most %d)", IVMM_MAX_DEVICES);
			goto bad;
		}
		d = &cfg->devices[cfg->ndevices];
		memset(d, 0, sizeof(*d));
		d->id = id ? strdup(id) : NULL;
		cfg->ndevices++;  /* owned by cfg from here, freed by vm_config_free() even when incomplete */
	}
	d->driver = drv;
	d->from_cli = true;
	d->host = strdup(bdf);
	d->where = strdup("--device");
	d->viommu = viommu ? strdup(viommu) : NULL;
	d->vsid_set = vsid != NULL;
	d->vsid = vsid_val;
	d->guest_vfio = gvfio_val;
	if (!d->host || !d->where || (id && !d->id) || (viommu && !d->viommu)) {
		pr_err("out of memory");
		ret = -ENOMEM;
		goto out;
	}
	ret = 0;
	goto out;
bad:
	pr_err("--device '%s': %s", spec, why);
out:
	free(copy);
	return ret;
}

static int apply_option(struct vm_config *cfg, const struct cli_opt *o)
{
	const char *why = NULL;

	switch (o->id) {
	case OPT_KERNEL:
		return set_path(&cfg->kernel, "kernel", o->arg);
	case OPT_INITRD:
		return set_path(&cfg->initrd, "initrd", o->arg);
	case OPT_DUMP_DTB:
		return set_path(&cfg->dump_dtb, "dump-dtb", o->arg);
	case OPT_CMDLINE:
		free(cfg->cmdline);
		cfg->cmdline = strdup(o->arg);
		if (!cfg->cmdline) {
			pr_err("out of memory");
			return -ENOMEM;
		}
		return 0;
	case OPT_MEMORY:
		why = parse_mem_size(o->arg, &cfg->mem_size);
		break;
	case OPT_CPUS:
		why = parse_cpus(o->arg, &cfg->ncpus);
		break;
	case OPT_HUGEPAGES:
		if (!o->arg) {
			cfg->hugepages = true;
			return 0;
		}
		why = parse_bool(o->arg, &cfg->hugepages);
		break;
	case OPT_DEVICE:
		return add_device(cfg, o->arg);
	case OPT_VIOMMU:
		why = parse_viommu(o->arg, cfg);
		break;
	case OPT_STATS:
		cfg->stats = true;
		return 0;
	case OPT_API_SOCKET:
		return set_path(&cfg->api_socket, "api-socket", o->arg);
	}
	if (why) {
		pr_err("--%s '%s': %s", opt_name(o->id), o->arg, why);
		return -EINVAL;
	}
	return 0;
}

int cli_parse(int argc, char **argv, struct vm_config *cfg, enum cli_action *action)
{
	struct cli_opt *opts;
	int nopts = 0, c, ret = -EINVAL;
	bool help = false, version = false;

	*action = CLI_EXIT;
	if (argc < 2) {
		pr_err("no command given (try 'ivmm --help')");
		return -EINVAL;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(help_text, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") || !strcmp(argv[1], "version")) {
		printf("ivmm %s\n", IVMM_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "run")) {
		pr_err("unknown command '%s' (expected 'run', 'host-check', 'ctl', '--help' or '--version')", argv[1]);
		return -EINVAL;
	}

	opts = calloc((size_t)argc, sizeof(*opts));
	if (!opts) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	/* getopt keeps its position in libc globals: start afresh on every call. "+" stops at the first
	 * non-option (reported below), ":" reports a missing value as ':'. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "+:hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			help = true;
			break;
		case 'V':
			version = true;
			break;
		case ':':
			pr_err("option '--%s' needs a value", opt_name(optopt));
			goto out;
		case '?':
			report_bad_option(argv[optind], optopt);
			goto out;
		default:
			opts[nopts++] = (struct cli_opt){ c, optarg };
			break;
		}
	}
	if (optind < argc - 1) {
		pr_err("unexpected argument '%s' (options start with --; try 'ivmm --help')", argv[optind + 1]);
		goto out;
	}
	if (help || version) {
		if (help)
			fputs(help_text, stdout);
		else
			printf("ivmm %s\n", IVMM_VERSION);
		ret = 0;
		goto out;
	}

	for (int i = 0; i < nopts; i++) {
		if (opts[i].id != OPT_CONFIG)
			continue;
		ret = set_path(&cfg->config_file, "config", opts[i].arg);
		if (!ret)
			ret = config_file_load(opts[i].arg, cfg);
		if (ret)
			goto out;
	}
	for (int i = 0; i < nopts; i++) {
		if (opts[i].id == OPT_CONFIG)
			continue;
		ret = apply_option(cfg, &opts[i]);
		if (ret)
			goto out;
	}
	ret = vm_config_finish(cfg);
	if (!ret)
		*action = CLI_RUN;
out:
	free(opts);
	return ret;
}
