/* test_config_file.c: the INI config file (vmm/config_file.c): the shipped examples in configs/ load to the
 * machines their comments describe, comments/quotes/CRLF/BOM are accepted, relative paths follow the file,
 * and every bad input gives exactly one "FILE:LINE: ..." message naming the key and value. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/unit/fe_util.h"
#include "vmm/config.h"
#include "vmm/config_file.h"

/* Load text as DIR/vm.ini into a default config; returns config_file_load's value, stderr in *err and the
 * file's path in *path (both malloc'd). */
static int load_text(const char *dir, const char *text, struct vm_config *cfg, char **err, char **path)
{
	struct capture c;
	int ret;

	*path = scratch_file(dir, "vm.ini", text, strlen(text));
	vm_config_init(cfg);
	capture_begin(&c, 2);
	ret = config_file_load(*path, cfg);
	*err = capture_end(&c);
	return ret;
}

static char *top_path(const char *rel)
{
	const char *top = getenv("IVMM_TOP");
	char *p;

	cr_assert(top, "IVMM_TOP (the repo root) must be set: run through make unit");
	cr_assert(asprintf(&p, "%s/%s", top, rel) > 0);
	return p;
}

struct bad_ini {
	const char *text;
	const char *msg;   /* after "ivmm: error: PATH", %s-free */
};

static const struct bad_ini bad_inis[] = {
	{ "memory = 1G\n",
	  ":1: key 'memory' outside a section (put it under [machine], [boot] or [device \"NAME\"])" },
	{ "# c\n[network]\nx = 1\n", ":2: unknown section [network] (known: [machine], [boot], [device \"NAME\"])" },
	{ "[machine]\n[devices]\n", ":2: unknown section [devices] (known: [machine], [boot], [device \"NAME\"])" },
	{ "[machine]\nram = 1G\n", ":2: unknown key 'ram' in [machine] (known: memory, cpus, hugepages, viommu, api-socket)" },
	{ "[boot]\nkernel = a\nappend = b\n", ":3: unknown key 'append' in [boot] (known: kernel, initrd, cmdline)" },
	{ "[device \"a\"]\ndriver = vfio-pci\nhost = 00:01.0\nrom = no\n",
	  ":4: unknown key 'rom' in [device \"a\"] (known: driver, host, viommu, vsid, guest-vfio)" },
	{ "[machine]\nmemory = 3X\n", ":2: memory = '3X': not a size (examples: 512M, 2G, 1048576)" },
	{ "[machine]\nmemory = 32M\n", ":2: memory = '32M': below the minimum of 64M" },
	{ "[machine]\nmemory = 129M\n", ":2: memory = '129M': not a multiple of 2 MiB" },
	{ "[machine]\nmemory = 1T\n",
	  ":2: memory = '1T': above the maximum of 511G (guest RAM must end below the 64-bit PCI window at "
	  "0x8000000000)" },
	{ "[machine]\ncpus = 0\n", ":2: cpus = '0': not a CPU count from 1 to 64" },
	{ "[machine]\ncpus = 100\n", ":2: cpus = '100': not a CPU count from 1 to 64" },
	{ "[machine]\nhugepages = sometimes\n",
	  ":2: hugepages = 'sometimes': not a boolean (true/false, yes/no, on/off, 1/0)" },
	{ "[machine]\ncpus = 2\n\n[machine]\ncpus = 4\n", ":5: cpus given twice in [machine] (first at line 2)" },
	{ "[boot]\nkernel =\n", ":2: kernel = '': empty path" },
	{ "[boot]\ninitrd = \"\"\n", ":2: initrd = '': empty path" },
	{ "[boot]\nkernel = a\n  b\n",
	  ":3: indented line continues the value of 'kernel': only cmdline may go on over indented lines (remove "
	  "the indentation)" },
	{ "[boot]\ncmdline = a\nkernel = k\n  b\n",
	  ":4: indented line continues the value of 'kernel': only cmdline may go on over indented lines (remove "
	  "the indentation)" },
	{ "[machine]\ncpus = 2\n\t4\n",
	  ":3: indented line continues the value of 'cpus': only cmdline may go on over indented lines (remove "
	  "the indentation)" },
	{ "[boot]\nkernel\n", ":2: syntax error (expected [section], key = value or a comment)" },
	{ "[boot\nkernel = a\n", ":1: syntax error (expected [section], key = value or a comment)" },
	{ "[device]\ndriver = vfio-pci\n", ":1: section [device]: expected [device \"NAME\"]" },
	{ "[device edu]\n", ":1: section [device edu]: expected [device \"NAME\"]" },
	{ "[device \"\"]\n", ":1: [device \"\"]: device name '' is not a valid name (1 to 31 letters, digits, '_', "
			     "'.' or '-')" },
	{ "[device \"my nic\"]\n", ":1: [device \"my nic\"]: device name 'my nic' is not a valid name (1 to 31 "
				   "letters, digits, '_', '.' or '-')" },
	{ "[device \"a\"]\ndriver = vfio-pci\nhost = 00:01.0\n[device \"a\"]\n",
	  ":4: [device \"a\"]: device 'a' is already defined (PATH:1)" },
	{ "[device \"a\"]\ndriver = virtio-pci\n", ":2: driver = 'virtio-pci': unknown driver (supported: vfio-pci)" },
	{ "[device \"a\"]\ndriver = vfio-pci\nhost = 0000:00:01\n",
	  ":3: host = '0000:00:01': not a PCI address (DDDD:BB:DD.F or BB:DD.F)" },
	{ "[device \"a\"]\ndriver = vfio-pci\nhost = 00:01.0\nhost = 00:02.0\n",
	  ":4: host given twice in [device \"a\"] (first at line 3)" },
	{ "# nothing but a name\n[device \"a\"]\n", ":2: device 'a' has no driver (driver = vfio-pci)" },
	{ "[device \"a\"]\ndriver = vfio-pci\n[boot]\nkernel = k\n", ":1: device 'a' has no host (host = DDDD:BB:DD.F)" },
};

Test(config_file, bad_input)
{
	char *dir = scratch_dir();

	for (size_t i = 0; i < ARRAY_SIZE(bad_inis); i++) {
		struct vm_config cfg;
		char *err, *path, *want, *tmpl;
		int ret = load_text(dir, bad_inis[i].text, &cfg, &err, &path);

		/* "PATH" inside a message stands for the file's path. */
		cr_assert(asprintf(&tmpl, "ivmm: error: PATH%s\n", bad_inis[i].msg) > 0);
		want = subst(tmpl, "PATH", path);
		cr_expect_eq(ret, -EINVAL, "case %zu: got %d", i, ret);
		cr_expect_str_eq(err, want, "case %zu", i);
		free(tmpl);
		free(want);
		free(err);
		free(path);
		vm_config_free(&cfg);
	}
	scratch_rm(dir);
}

Test(config_file, too_many_devices)
{
	char *dir = scratch_dir(), *text = NULL, *err, *path, *want;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct vm_config cfg;

	for (int i = 0; i <= IVMM_MAX_DEVICES; i++)
		fprintf(f, "[device \"d%d\"]\ndriver = vfio-pci\nhost = 00:%02x.0\n", i, i + 1);
	fclose(f);
	cr_expect_eq(load_text(dir, text, &cfg, &err, &path), -EINVAL);
	cr_assert(asprintf(&want, "ivmm: error: %s:%d: [device \"d16\"]: too many devices (at most 16)\n", path,
			   3 * IVMM_MAX_DEVICES + 1) > 0);
	cr_expect_str_eq(err, want);
	free(want);
	free(err);
	free(path);
	free(text);
	vm_config_free(&cfg);
	scratch_rm(dir);
}

/* libinih's line buffer is 200 bytes: 198 characters plus newline and NUL. */
Test(config_file, long_line)
{
	static const struct {
		int digits;        /* width of the value after "cmdline = " */
		const char *err;   /* NULL: accepted */
	} cases[] = {
		{ 188, NULL },
		{ 189, "ivmm: error: PATH:2: line longer than 198 characters (a long cmdline goes on over indented "
		       "lines)\n" },
	};
	char *dir = scratch_dir();

	cr_assert_eq(strlen("cmdline = ") + 188, 198);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char text[512], *err, *path;
		struct vm_config cfg;
		int ret;

		snprintf(text, sizeof(text), "[boot]\ncmdline = %0*d\n", cases[i].digits, 0);
		ret = load_text(dir, text, &cfg, &err, &path);
		if (cases[i].err) {
			char *want = subst(cases[i].err, "PATH", path);

			cr_expect_eq(ret, -EINVAL, "case %zu", i);
			cr_expect_str_eq(err, want, "case %zu", i);
			free(want);
		} else {
			cr_expect_eq(ret, 0, "case %zu: %s", i, err);
			cr_expect_eq(strlen(cfg.cmdline), (size_t)cases[i].digits, "case %zu", i);
		}
		free(err);
		free(path);
		vm_config_free(&cfg);
	}
	scratch_rm(dir);
}

/* A [boot] section whose cmdline is "first" followed by nlines indented lines of width characters each
 * ('a', 'b', ...), the last one last_width wide; *expect gets the command line it stands for. */
static char *continued_cmdline(int nlines, int width, int last_width, char **expect)
{
	char *text = NULL, *exp = NULL;
	size_t tlen = 0, elen = 0;
	FILE *t = open_memstream(&text, &tlen), *e = open_memstream(&exp, &elen);

	cr_assert(t && e);
	fputs("[boot]\ncmdline = first\n", t);
	fputs("first", e);
	for (int i = 0; i < nlines; i++) {
		int w = i == nlines - 1 ? last_width : width;

		/* Alternate indentation and a comment line in between: both are allowed. */
		fputs(i % 2 ? "\t" : "    ", t);
		fputc(' ', e);
		for (int j = 0; j < w; j++) {
			fputc('a' + i % 26, t);
			fputc('a' + i % 26, e);
		}
		fputs(i == 3 ? "\n# a comment between continuation lines\n" : "\n", t);
	}
	fclose(t);
	fclose(e);
	*expect = exp;
	return text;
}

Test(config_file, cmdline_over_indented_lines)
{
	/* "first" then nlines continuation lines, each adding a space and its width: the cases reach, meet
	 * and pass the 2047-character limit (a 2000-character command line fits). */
	static const struct {
		int nlines, width, last_width;
		size_t len;          /* of the command line */
		int err_line;        /* 0: accepted */
	} cases[] = {
		{ 1, 10, 10, 5 + 1 + 10, 0 },
		{ 11, 180, 1, 5 + 10 * 181 + 2, 0 },           /* 1817 */
		{ 11, 180, 180, 5 + 11 * 181, 0 },             /* 1996 */
		{ 12, 180, 50, 5 + 11 * 181 + 51, 0 },         /* 2047: the limit */
		{ 12, 180, 51, 5 + 11 * 181 + 52, 15 },        /* 2048 */
		{ 12, 180, 180, 5 + 12 * 181, 15 },            /* 2177 */
	};
	char *dir = scratch_dir();

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct vm_config cfg;
		char *expect, *text = continued_cmdline(cases[i].nlines, cases[i].width, cases[i].last_width, &expect);
		char *err, *path, *want;
		int ret = load_text(dir, text, &cfg, &err, &path);

		cr_assert_eq(strlen(expect), cases[i].len, "case %zu", i);
		if (!cases[i].err_line) {
			cr_expect_eq(ret, 0, "case %zu: %s", i, err);
			cr_expect_str_eq(err, "", "case %zu", i);
			cr_expect_str_eq(cfg.cmdline, expect, "case %zu", i);
		} else {
			/* Line numbers: [boot] 1, cmdline 2, continuations from 3, one comment line after the 4th. */
			cr_assert(asprintf(&want, "ivmm: error: %s:%d: cmdline is %zu characters, more than the 2047 "
						  "an arm64 kernel accepts\n", path, cases[i].err_line, cases[i].len) > 0);
			cr_expect_eq(ret, -EINVAL, "case %zu", i);
			cr_expect_str_eq(err, want, "case %zu", i);
			free(want);
		}
		free(text);
		free(expect);
		free(err);
		free(path);
		vm_config_free(&cfg);
	}
	scratch_rm(dir);
}

Test(config_file, cmdline_continuation_details)
{
	/* Quotes per line, ';' comments, an empty first value, and a following key ending the value. */
	static const struct {
		const char *text, *cmdline;
	} cases[] = {
		{ "[boot]\ncmdline = a\n  \"b  c\"\n  d ; comment\nkernel = k\n", "a b  c d" },
		{ "[boot]\ncmdline =\n  root=/dev/vda\n  rw\n", "root=/dev/vda rw" },
		{ "[boot]\ncmdline = a\n\n  b\n[machine]\ncpus = 2\n", "a b" },
	};
	char *dir = scratch_dir();

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct vm_config cfg;
		char *err, *path;

		cr_expect_eq(load_text(dir, cases[i].text, &cfg, &err, &path), 0, "case %zu: %s", i, err);
		cr_expect_str_eq(cfg.cmdline, cases[i].cmdline, "case %zu: [%s]", i, cfg.cmdline);
		free(err);
		free(path);
		vm_config_free(&cfg);
	}
	scratch_rm(dir);
}

Test(config_file, unreadable)
{
	char *dir = scratch_dir(), *err, *want;
	struct vm_config cfg;
	struct capture c;

	vm_config_init(&cfg);
	capture_begin(&c, 2);
	cr_expect_eq(config_file_load(dir, &cfg), -EISDIR);
	err = capture_end(&c);
	cr_assert(asprintf(&want, "ivmm: error: cannot read config file '%s': Is a directory\n", dir) > 0);
	cr_expect_str_eq(err, want);
	free(want);
	free(err);
	vm_config_free(&cfg);
	scratch_rm(dir);
}

Test(config_file, syntax_features)
{
	/* BOM, CRLF, comments of both kinds, inline ';' comment, quotes, spaces around '=', ':' separator,
	 * sections given twice, case of booleans. */
	static const char text[] =
		"\xef\xbb\xbf# a comment\r\n"
		"; another\r\n"
		"[machine]\r\n"
		"memory=2G ; inline comment\r\n"
		"\r\n"
		"[boot]\r\n"
		"kernel = \"Image with space\"\r\n"
		"cmdline = \"console=ttyS0 quiet # not a comment\"\r\n"
		"[ machine ]\r\n"
		"cpus: 8\r\n"
		"hugepages = Yes\r\n"
		"[device \"gpu-0\"]\r\n"
		"host = 0001:0A:00.1\r\n"
		"driver = vfio-pci\r\n";
	char *dir = scratch_dir(), *err, *path, *want;
	struct vm_config cfg;

	cr_assert_eq(load_text(dir, text, &cfg, &err, &path), 0, "%s", err);
	cr_expect_str_eq(err, "");
	cr_expect_eq(cfg.mem_size, 2 * SZ_1G);
	cr_expect_eq(cfg.ncpus, 8);
	cr_expect(cfg.hugepages);
	cr_assert(asprintf(&want, "%s/Image with space", dir) > 0);
	cr_expect_str_eq(cfg.kernel, want);
	cr_expect_str_eq(cfg.cmdline, "console=ttyS0 quiet # not a comment");
	cr_assert_eq(cfg.ndevices, 1);
	cr_expect_str_eq(cfg.devices[0].id, "gpu-0");
	cr_expect_str_eq(cfg.devices[0].host, "0001:0a:00.1");
	free(want);
	cr_assert(asprintf(&want, "%s:12", path) > 0);
	cr_expect_str_eq(cfg.devices[0].where, want);
	free(want);
	free(err);
	free(path);
	vm_config_free(&cfg);
	scratch_rm(dir);
}

Test(config_file, file_values_replace_earlier_ones)
{
	static const char text[] = "[boot]\nkernel = /abs/Image\ncmdline =\n";
	char *dir = scratch_dir(), *err, *path;
	struct vm_config cfg;

	cr_assert_eq(load_text(dir, text, &cfg, &err, &path), 0, "%s", err);
	cr_expect_str_eq(cfg.kernel, "/abs/Image");   /* absolute: untouched */
	cr_expect_str_eq(cfg.cmdline, "");             /* an empty command line is allowed */
	cr_expect_eq(cfg.mem_size, IVMM_DEFAULT_MEM);  /* not in the file: default kept */
	free(err);
	free(path);
	vm_config_free(&cfg);
	scratch_rm(dir);
}

Test(config_file, shipped_minimal)
{
	char *path = top_path("configs/minimal.ini"), *want;
	struct vm_config cfg;

	vm_config_init(&cfg);
	cr_assert_eq(config_file_load(path, &cfg), 0);
	cr_assert(asprintf(&want, "%s/configs/../build/lab/Image", getenv("IVMM_TOP")) > 0);
	cr_expect_str_eq(cfg.kernel, want);
	free(want);
	cr_assert(asprintf(&want, "%s/configs/../build/lab/l2-initramfs.cpio.gz", getenv("IVMM_TOP")) > 0);
	cr_expect_str_eq(cfg.initrd, want);
	free(want);
	cr_expect_str_eq(cfg.cmdline, "console=ttyS0 earlycon");
	cr_expect_eq(cfg.mem_size, 512 * SZ_1M);
	cr_expect_eq(cfg.ncpus, 1);
	cr_expect_eq(cfg.ndevices, 0);
	vm_config_free(&cfg);
	free(path);
}

Test(config_file, shipped_demo_lab)
{
	char *path = top_path("configs/demo-lab.ini"), *want;
	struct vm_config cfg;

	vm_config_init(&cfg);
	cr_assert_eq(config_file_load(path, &cfg), 0);
	cr_expect_str_eq(cfg.kernel, "/l2/Image");
	cr_expect_str_eq(cfg.initrd, "/l2/initramfs.cpio.gz");
	cr_expect_eq(cfg.mem_size, 512 * SZ_1M);
	cr_expect_eq(cfg.ncpus, 2);
	cr_expect_not(cfg.hugepages);
	cr_assert_eq(cfg.ndevices, 1);
	cr_expect_str_eq(cfg.devices[0].id, "edu");
	cr_expect_eq(cfg.devices[0].driver, VM_DEV_VFIO_PCI);
	/* edu's BDF in L1 with QEMU's -net none (lab-facts.md). */
	cr_expect_str_eq(cfg.devices[0].host, "0000:00:01.0");
	cr_expect_eq(cfg.viommu, VM_VIOMMU_SMMUV3);
	cr_expect(cfg.devices[0].guest_vfio);
	cr_assert(asprintf(&want, "%s:", path) > 0);
	cr_expect(!strncmp(cfg.devices[0].where, want, strlen(want)), "%s", cfg.devices[0].where);
	free(want);
	cr_expect_eq(vm_config_finish(&cfg), 0);
	vm_config_free(&cfg);
	free(path);
}

Test(config_file, shipped_demo)
{
	char *path = top_path("configs/demo.ini");
	struct vm_config cfg;

	vm_config_init(&cfg);
	cr_assert_eq(config_file_load(path, &cfg), 0);
	cr_expect_str_eq(cfg.kernel, "/boot/Image");
	cr_expect_eq(cfg.mem_size, SZ_1G);
	cr_expect_eq(cfg.ncpus, 4);
	cr_assert_eq(cfg.ndevices, 1);
	cr_expect_str_eq(cfg.devices[0].host, "0000:01:00.0");
	cr_expect_eq(vm_config_finish(&cfg), 0);
	vm_config_free(&cfg);
	free(path);
}

Test(config_file, api_socket_key)
{
	static const char text[] = "[machine]\napi-socket = run/api.sock\n";
	char *dir = scratch_dir(), *err, *path, *want;
	struct vm_config cfg;

	cr_assert_eq(load_text(dir, text, &cfg, &err, &path), 0, "%s", err);
	/* Relative to the file, as the [boot] paths are. */
	cr_assert(asprintf(&want, "%s/run/api.sock", dir) > 0);
	cr_expect_str_eq(cfg.api_socket, want);
	free(want);
	free(err);
	free(path);
	vm_config_free(&cfg);
	cr_assert_neq(load_text(dir, "[machine]\napi-socket =\n", &cfg, &err, &path), 0);
	cr_expect(strstr(err, "api-socket = '': empty path"), "%s", err);
	free(err);
	free(path);
	vm_config_free(&cfg);
	scratch_rm(dir);
}
