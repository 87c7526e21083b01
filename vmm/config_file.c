/* config_file.c: the INI config file (format in config_file.h). libinih does the tokenising; this file
 * feeds it lines through its own reader, which counts lines and tracks section headers (libinih tells the
 * handler neither the line number nor about empty sections), and turns keys into struct vm_config fields
 * with the rules of config_parse.h. The first problem found is the one reported, as FILE:LINE. */
#include <errno.h>
#include <stdbool.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vmm/config.h"
#include "vmm/config_file.h"
#include "vmm/config_parse.h"
#include "vmm/log.h"

enum section { SEC_NONE, SEC_MACHINE, SEC_BOOT, SEC_DEVICE };

enum key {
	K_MEMORY, K_CPUS, K_HUGEPAGES, K_MVIOMMU, K_API_SOCKET, /* [machine] */
	K_KERNEL, K_INITRD, K_CMDLINE,   /* [boot] */
	K_DRIVER, K_HOST, K_VIOMMU, K_VSID, K_GUEST_VFIO, /* [device "NAME"] */
	K_COUNT,
};

static const struct key_desc {
	const char *name;
	enum section sec;
} keys[K_COUNT] = {
	[K_MEMORY] = { "memory", SEC_MACHINE },   [K_CPUS] = { "cpus", SEC_MACHINE },
	[K_HUGEPAGES] = { "hugepages", SEC_MACHINE }, [K_KERNEL] = { "kernel", SEC_BOOT },
	[K_INITRD] = { "initrd", SEC_BOOT },      [K_CMDLINE] = { "cmdline", SEC_BOOT },
	[K_DRIVER] = { "driver", SEC_DEVICE },    [K_HOST] = { "host", SEC_DEVICE },
	[K_MVIOMMU] = { "viommu", SEC_MACHINE },  [K_VIOMMU] = { "viommu", SEC_DEVICE },
	[K_API_SOCKET] = { "api-socket", SEC_MACHINE },
	[K_VSID] = { "vsid", SEC_DEVICE },        [K_GUEST_VFIO] = { "guest-vfio", SEC_DEVICE },
};

struct cf_state {
	const char *path;
	FILE *f;
	char *buf;                 /* getline buffer */
	size_t cap;
	int lineno;
	struct vm_config *cfg;
	enum section sec;
	char sec_text[64];         /* the header as written, for messages */
	int dev;                   /* index into cfg->devices in SEC_DEVICE */
	bool after_key;            /* last content line was a key: an indented line continues it */
	int cont_line;             /* line of the last such continuation */
	int key_line[K_COUNT];     /* line of first [machine]/[boot] key, 0 if not seen */
	int dev_key_line[IVMM_MAX_DEVICES][K_COUNT];
	int dev_line[IVMM_MAX_DEVICES]; /* header line of each device this file added, 0 if not ours */
	int read_errno;            /* why getline() stopped, when it failed */
	int err_line;              /* first problem found by us (0: none) */
	char err[512];
};

static void __printf(2, 3) cf_error(struct cf_state *st, const char *fmt, ...)
{
	va_list ap;

	if (st->err_line)
		return;
	st->err_line = st->lineno;
	va_start(ap, fmt);
	vsnprintf(st->err, sizeof(st->err), fmt, ap);
	va_end(ap);
}

static char *trim(char *s)
{
	char *e = s + strlen(s);

	while (*s == ' ' || *s == '\t')
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* A "[...]" header line (already trimmed, starts with '['). Headers libinih will reject (no ']') are
 * left to it. */
static void section_begin(struct cf_state *st, char *line)
{
	static const char known[] = "(known: [machine], [boot], [device \"NAME\"])";
	struct vm_config *cfg = st->cfg;
	char *end = strchr(line, ']'), *name;
	const char *why;
	size_t n;

	if (!end)
		return;
	*end = '\0';
	name = trim(line + 1);
	snprintf(st->sec_text, sizeof(st->sec_text), "%s", name);
	st->sec = SEC_NONE;
	if (!strcmp(name, "machine")) {
		st->sec = SEC_MACHINE;
		return;
	}
	if (!strcmp(name, "boot")) {
		st->sec = SEC_BOOT;
		return;
	}
	if (strncmp(name, "device", 6) || (name[6] && name[6] != ' ' && name[6] != '\t')) {
		cf_error(st, "unknown section [%s] %s", name, known);
		return;
	}
	name = trim(name + 6);
	n = strlen(name);
	if (n < 2 || name[0] != '"' || name[n - 1] != '"') {
		cf_error(st, "section [%s]: expected [device \"NAME\"]", st->sec_text);
		return;
	}
	name[n - 1] = '\0';
	name++;
	why = check_device_id(name);
	if (why) {
		cf_error(st, "[%s]: device name '%s' is %s", st->sec_text, name, why);
		return;
	}
	struct vm_device_config *other = vm_config_find_device(cfg, name);
	if (other) {
		cf_error(st, "[%s]: device '%s' is already defined (%s)", st->sec_text, name, other->where);
		return;
	}
	if (cfg->ndevices >= IVMM_MAX_DEVICES) {
		cf_error(st, "[%s]: too many devices (at most %d)", st->sec_text, IVMM_MAX_DEVICES);
		return;
	}
	struct vm_device_config *d = &cfg->devices[cfg->ndevices];

	memset(d, 0, sizeof(*d));
	d->driver = VM_DEV_VFIO_PCI;
	d->id = strdup(name);
	if (!d->id || asprintf(&d->where, "%s:%d", st->path, st->lineno) < 0) {
		free(d->id);
		memset(d, 0, sizeof(*d));
		cf_error(st, "out of memory");
		return;
	}
	st->dev = (int)cfg->ndevices++;
	st->dev_line[st->dev] = st->lineno;
	st->sec = SEC_DEVICE;
}

/* libinih reader: one line per call, counted; section headers noted before libinih sees them. */
static char *cf_reader(char *str, int num, void *stream)
{
	struct cf_state *st = stream;
	ssize_t len;
	char *p, *start;

	if (st->err_line)
		return NULL;      /* stop at our first problem */
	errno = 0;
	len = getline(&st->buf, &st->cap, st->f);
	if (len < 0) {
		st->read_errno = errno;
		return NULL;
	}
	st->lineno++;
	if (len > 0 && st->buf[len - 1] == '\n')
		st->buf[--len] = '\0';
	/* libinih needs room for the line, '\n' and NUL. */
	if (num < 2 || len > num - 2) {
		cf_error(st, "line longer than %d characters (a long cmdline goes on over indented lines)",
			 num < 2 ? 0 : num - 2);
		return NULL;
	}
	memcpy(str, st->buf, (size_t)len);
	str[len] = '\n';
	str[len + 1] = '\0';

	p = st->buf;
	if (st->lineno == 1 && !strncmp(p, "\xef\xbb\xbf", 3))
		p += 3;   /* UTF-8 byte order mark, skipped by libinih too */
	start = p;
	p = trim(p);
	if (!*p || *p == '#' || *p == ';')
		return str;                   /* blank or comment: libinih keeps its state too */
	if (st->after_key && p > start) {
		st->cont_line = st->lineno;   /* indented: libinih continues the previous value */
		return str;
	}
	st->after_key = *p != '[';
	if (*p == '[')
		section_begin(st, p);
	return str;
}

static char *resolve_path(const struct cf_state *st, const char *v)
{
	const char *slash = strrchr(st->path, '/');
	char *out;

	if (v[0] == '/' || !slash)
		return strdup(v);
	if (asprintf(&out, "%.*s/%s", (int)(slash - st->path), st->path, v) < 0)
		return NULL;
	return out;
}

static bool set_string(struct cf_state *st, char **field, char *v)
{
	if (!v) {
		cf_error(st, "out of memory");
		return false;
	}
	free(*field);
	*field = v;
	return true;
}

/* A ';' at the start or after a space or tab starts a comment (libinih's rule on key lines). */
static void cut_inline_comment(char *v)
{
	for (char *p = v; *p; p++) {
		if (*p == ';' && (p == v || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	}
	trim(v);
}

/* The whole command line must fit arm64's COMMAND_LINE_SIZE; reported at the line that made it too long. */
static bool check_cmdline(struct cf_state *st)
{
	size_t n = strlen(st->cfg->cmdline);

	if (n <= IVMM_MAX_CMDLINE)
		return true;
	cf_error(st, "cmdline is %zu characters, more than the %d an arm64 kernel accepts", n, IVMM_MAX_CMDLINE);
	return false;
}

/* An indented line after cmdline: its text joins the command line after one space (libinih has already
 * trimmed it and removed a ';' comment). */
static bool append_cmdline(struct cf_state *st, const char *piece)
{
	char *old = st->cfg->cmdline, *joined;

	if (!piece[0])
		return true;
	if (asprintf(&joined, "%s%s%s", old, old[0] ? " " : "", piece) < 0)
		joined = NULL;
	return set_string(st, &st->cfg->cmdline, joined) && check_cmdline(st);
}

static int cf_handler(void *user, const char *section, const char *name, const char *value)
{
	struct cf_state *st = user;
	struct vm_config *cfg = st->cfg;
	char vbuf[512];
	const char *why = NULL;
	int *seen, k;
	size_t n;

	(void)section;    /* tracked by the reader, with the line it started on */
	if (st->err_line)
		return 0;
	if (st->sec == SEC_NONE && !st->sec_text[0]) {
		cf_error(st, "key '%s' outside a section (put it under [machine], [boot] or [device \"NAME\"])",
			 name);
		return 0;
	}
	if (st->sec == SEC_NONE)
		return 0;   /* keys of a bad section: its header was reported */

	snprintf(vbuf, sizeof(vbuf), "%s", value);
	/* libinih 55 leaves a ';' comment on a continuation line: cut it as on a key line. */
	if (st->cont_line == st->lineno)
		cut_inline_comment(vbuf);
	/* Strip one pair of double quotes, git-config style (each line of a continued value on its own). */
	n = strlen(vbuf);
	if (n >= 2 && vbuf[0] == '"' && vbuf[n - 1] == '"') {
		memmove(vbuf, vbuf + 1, n - 2);
		vbuf[n - 2] = '\0';
	}

	if (st->cont_line == st->lineno) {
		if (st->sec != SEC_BOOT || strcmp(name, "cmdline")) {
			cf_error(st, "indented line continues the value of '%s': only cmdline may go on over "
				 "indented lines (remove the indentation)", name);
			return 0;
		}
		return append_cmdline(st, vbuf);
	}

	for (k = 0; k < K_COUNT; k++)
		if (keys[k].sec == st->sec && !strcmp(keys[k].name, name))
			break;
	if (k == K_COUNT) {
		static const char *const known[] = {
			[SEC_MACHINE] = "memory, cpus, hugepages, viommu, api-socket",
			[SEC_BOOT] = "kernel, initrd, cmdline",
			[SEC_DEVICE] = "driver, host, viommu, vsid, guest-vfio",
		};
		cf_error(st, "unknown key '%s' in [%s] (known: %s)", name, st->sec_text, known[st->sec]);
		return 0;
	}
	seen = st->sec == SEC_DEVICE ? &st->dev_key_line[st->dev][k] : &st->key_line[k];
	if (*seen) {
		cf_error(st, "%s given twice in [%s] (first at line %d)", name, st->sec_text, *seen);
		return 0;
	}
	*seen = st->lineno;

	switch ((enum key)k) {
	case K_MEMORY:
		why = parse_mem_size(vbuf, &cfg->mem_size);
		break;
	case K_CPUS:
		why = parse_cpus(vbuf, &cfg->ncpus);
		break;
	case K_HUGEPAGES:
		why = parse_bool(vbuf, &cfg->hugepages);
		break;
	case K_MVIOMMU:
		why = parse_viommu(vbuf, cfg);
		break;
	case K_API_SOCKET:
		if (!vbuf[0]) {
			why = "empty path";
			break;
		}
		return set_string(st, &cfg->api_socket, resolve_path(st, vbuf));
	case K_VIOMMU:
		why = check_device_viommu(vbuf);
		if (!why)
			return set_string(st, &cfg->devices[st->dev].viommu, strdup(vbuf));
		break;
	case K_VSID:
		why = parse_vsid(vbuf, &cfg->devices[st->dev].vsid);
		cfg->devices[st->dev].vsid_set = !why;
		break;
	case K_GUEST_VFIO:
		why = parse_bool(vbuf, &cfg->devices[st->dev].guest_vfio);
		break;
	case K_KERNEL:
	case K_INITRD:
		if (!vbuf[0]) {
			why = "empty path";
			break;
		}
		return set_string(st, k == K_KERNEL ? &cfg->kernel : &cfg->initrd, resolve_path(st, vbuf));
	case K_CMDLINE:
		return set_string(st, &cfg->cmdline, strdup(vbuf)) && check_cmdline(st);
	case K_DRIVER:
		why = parse_driver(vbuf, &cfg->devices[st->dev].driver);
		break;
	case K_HOST: {
		char bdf[BDF_STR_LEN];

		why = parse_bdf(vbuf, bdf);
		if (!why)
			return set_string(st, &cfg->devices[st->dev].host, strdup(bdf));
		break;
	}
	case K_COUNT:
		break;
	}
	if (why) {
		cf_error(st, "%s = '%s': %s", name, vbuf, why);
		return 0;
	}
	return 1;
}

int config_file_load(const char *path, struct vm_config *cfg)
{
	struct cf_state *st;
	int ret, line;

	st = calloc(1, sizeof(*st));
	if (!st) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	st->path = path;
	st->cfg = cfg;
	st->f = fopen(path, "re");
	if (!st->f) {
		ret = -errno;
		pr_err("cannot read config file '%s': %s", path, strerror(errno));
		goto out;
	}
	line = ini_parse_stream(cf_reader, st, cf_handler, st);
	if (ferror(st->f)) {
		ret = -(st->read_errno ? st->read_errno : EIO);
		pr_err("cannot read config file '%s': %s", path, strerror(-ret));
		goto out;
	}
	if (line > 0 && (!st->err_line || line < st->err_line)) {
		pr_err("%s:%d: syntax error (expected [section], key = value or a comment)", path, line);
		ret = -EINVAL;
		goto out;
	}
	if (line < 0 && !st->err_line) {
		pr_err("cannot read config file '%s': out of memory", path);
		ret = -ENOMEM;
		goto out;
	}
	if (st->err_line) {
		pr_err("%s:%d: %s", path, st->err_line, st->err);
		ret = -EINVAL;
		goto out;
	}
	/* Every device this file defined needs a driver and a host. */
	ret = 0;
	for (int i = 0; i < IVMM_MAX_DEVICES && !ret; i++) {
		if (!st->dev_line[i])
			continue;
		const char *missing = !st->dev_key_line[i][K_DRIVER] ? "driver (driver = vfio-pci)"
				      : !st->dev_key_line[i][K_HOST] ? "host (host = DDDD:BB:DD.F)" : NULL;
		if (missing) {
			pr_err("%s:%d: device '%s' has no %s", path, st->dev_line[i], cfg->devices[i].id, missing);
			ret = -EINVAL;
		}
	}
out:
	if (st->f)
		fclose(st->f);
	free(st->buf);
	free(st);
	return ret;
}
