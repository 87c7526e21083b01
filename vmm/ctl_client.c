/* ctl_client.c: `ivmm ctl [--json] PATH COMMAND [ARGS]`, the control socket's client (vmm/ctl.h): the
 * command line becomes one request line, the reply line is printed as indented "key: value" lines (or as
 * it came with --json). Exit status: 0 the reply says ok, 1 an error reply or no connection/reply (10 s),
 * 2 bad usage. */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "vmm/ctl.h"

#define CTL_REPLY_TIMEOUT_MS 10000
#define CTL_REPLY_MAX (1024 * 1024)

static const char usage[] =
	"Usage: ivmm ctl [--json] PATH COMMAND [ARGS]\n"
	"\n"
	"Talk to a running 'ivmm run --api-socket PATH'. Commands:\n"
	"  stats                          every vSMMU's counters (what --stats prints)\n"
	"  vsmmu-state NAME               registers, streams (STE words, HWPT and vDEVICE ids,\n"
	"                                 target) and event path of vSMMU NAME\n"
	"  inject NAME event SID TYPE [ADDR]\n"
	"                                 an event record into NAME's event queue, with its\n"
	"                                 interrupt; TYPE: F_TRANSLATION, F_ADDR_SIZE, F_ACCESS,\n"
	"                                 F_PERMISSION, C_BAD_STE, C_BAD_CD, F_CD_FETCH,\n"
	"                                 F_STE_FETCH, C_BAD_STREAMID (or its number)\n"
	"  inject NAME gerror KIND        a global error: SFM_ERR, CMDQ_ERR, EVTQ_ABT_ERR,\n"
	"                                 MSI_CMDQ_ABT, MSI_EVTQ_ABT, MSI_GERROR_ABT\n"
	"  inject NAME cmd-error KIND     the next command fails: CERROR_ILL, CERROR_ABT,\n"
	"                                 CERROR_ATC_INV_SYNC\n"
	"  inject NAME evtq-overflow      EVTQ_PROD.OVFLG, as if events had been lost\n"
	"  trace NAME on|off [FILE]       NAME's guest commands and iommufd calls, one line\n"
	"                                 each (at most 1000 a second), to ivmm's stderr or\n"
	"                                 appended to FILE\n"
	"  quit                           stop the guest (ivmm exits 0)\n"
	"  raw LINE                       send LINE as the request, as is\n"
	"\n"
	"  --json    print the reply as it came (one JSON object)\n"
	"\n"
	"Exit status: 0 ok, 1 an error reply or no connection, 2 bad usage.\n";

static int bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "ivmm: error: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (try 'ivmm ctl --help')\n");
	return 2;
}

/* A number argument as the server takes it: a JSON integer when it fits, else the string (it checks). */
static json_t *num_arg(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (!errno && end != s && !*end && s[0] != '-' && v <= (unsigned long long)INT64_MAX)
		return json_integer((json_int_t)v);
	return json_string(s);
}

/* The request for argv (after PATH) into *line (malloc'ed). 0 or the exit status 2 after a message. */
static int build_request(int argc, char **argv, char **line)
{
	const char *cmd = argv[0];
	json_t *r;

	*line = NULL;
	if (!strcmp(cmd, "raw")) {
		if (argc != 2)
			return bad_usage("'raw' takes one argument, the request line%s", "");
		*line = strdup(argv[1]);
		return *line ? 0 : 1;
	}
	if (!strcmp(cmd, "stats") || !strcmp(cmd, "quit")) {
		if (argc != 1)
			return bad_usage("'%s' takes no arguments", cmd);
		r = json_pack("{s:s}", "cmd", cmd);
	} else if (!strcmp(cmd, "vsmmu-state")) {
		if (argc != 2)
			return bad_usage("'%s' takes one argument, the vSMMU's name", cmd);
		r = json_pack("{s:s, s:s}", "cmd", cmd, "name", argv[1]);
	} else if (!strcmp(cmd, "trace")) {
		char *abs = NULL;

		if (argc < 3 || argc > 4 || (strcmp(argv[2], "on") && strcmp(argv[2], "off")))
			return bad_usage("'%s' takes NAME on|off [FILE]", cmd);
		r = json_pack("{s:s, s:s, s:b}", "cmd", cmd, "name", argv[1], "on", !strcmp(argv[2], "on"));
		/* The file is opened by ivmm, whose working directory is not ours. */
		if (r && argc == 4) {
			char *cwd = argv[3][0] == '/' ? NULL : getcwd(NULL, 0);

			if (argv[3][0] != '/' && (!cwd || asprintf(&abs, "%s/%s", cwd, argv[3]) < 0))
				abs = NULL;
			free(cwd);
			json_object_set_new(r, "file", json_string(abs ? abs : argv[3]));
			free(abs);
		}
	} else if (!strcmp(cmd, "inject")) {
		if (argc < 3)
			return bad_usage("'%s' needs NAME and what to inject", cmd);
		r = json_pack("{s:s, s:s, s:s}", "cmd", cmd, "name", argv[1], "kind", argv[2]);
		if (r && !strcmp(argv[2], "event")) {
			if (argc < 5 || argc > 6) {
				json_decref(r);
				return bad_usage("'inject NAME event' takes SID TYPE [ADDR]%s", "");
			}
			json_object_set_new(r, "sid", num_arg(argv[3]));
			json_object_set_new(r, "type", json_string(argv[4]));
			if (argc == 6)
				json_object_set_new(r, "addr", num_arg(argv[5]));
		} else if (r && (!strcmp(argv[2], "gerror") || !strcmp(argv[2], "cmd-error"))) {
			if (argc != 4) {
				json_decref(r);
				return bad_usage("'inject NAME %s' takes KIND", argv[2]);
			}
			json_object_set_new(r, "type", json_string(argv[3]));
		} else if (r && !strcmp(argv[2], "evtq-overflow")) {
			if (argc != 3) {
				json_decref(r);
				return bad_usage("'inject NAME %s' takes no more arguments", argv[2]);
			}
		} else {
			json_decref(r);
			return bad_usage("unknown injection '%s' (event, gerror, cmd-error, evtq-overflow)", argv[2]);
		}
	} else {
		return bad_usage("unknown command '%s'", cmd);
	}
	*line = r ? json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(r);
	return *line ? 0 : 1;
}

/* Send line, read the reply line into *reply (malloc'ed, no newline). 0 or -errno after a message. */
static int exchange(const char *path, const char *line, char **reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = 0, cap = 0;
	char *buf = NULL, *nb;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ivmm: error: %s: path too long for a socket\n", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		fprintf(stderr, "ivmm: error: %s: cannot connect: %s\n", path, strerror(errno));
		goto out;
	}
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0 || send(fd, "\n", 1, MSG_NOSIGNAL) < 0) {
		ret = -errno;
		fprintf(stderr, "ivmm: error: %s: sending the request: %s\n", path, strerror(errno));
		goto out;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (len + 1 >= cap) {
			cap = cap ? cap * 2 : 4096;
			nb = cap <= CTL_REPLY_MAX ? realloc(buf, cap) : NULL;
			if (!nb) {
				ret = -ENOMEM;
				fprintf(stderr, "ivmm: error: %s: reply too long\n", path);
				goto out;
			}
			buf = nb;
		}
		ret = poll(&p, 1, CTL_REPLY_TIMEOUT_MS);
		if (ret == 0) {
			ret = -ETIMEDOUT;
			fprintf(stderr, "ivmm: error: %s: no reply within %d s\n", path, CTL_REPLY_TIMEOUT_MS / 1000);
			goto out;
		}
		n = ret < 0 ? -1 : recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n ? -errno : -ECONNRESET;
			fprintf(stderr, "ivmm: error: %s: %s before a full reply\n", path,
				n ? strerror(errno) : "connection closed");
			goto out;
		}
		len += (size_t)n;
		buf[len] = 0;
		nb = memchr(buf, '\n', len);
		if (nb) {
			*nb = 0;
			*reply = buf;
			buf = NULL;
			ret = 0;
			goto out;
		}
	}
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return ret;
}

static void print_value(const char *key, json_t *v, int indent);

static void print_members(json_t *v, int indent)
{
	const char *k;
	json_t *m;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, k, m)
			if (strcmp(k, "ok") || indent)
				print_value(k, m, indent);
	} else {
		json_array_foreach(v, i, m)
			print_value("-", m, indent);
	}
}

static void print_value(const char *key, json_t *v, int indent)
{
	if (json_is_object(v) || json_is_array(v)) {
		if (!json_object_size(v) && !json_array_size(v)) {
			printf("%*s%s: %s\n", indent, "", key, json_is_object(v) ? "{}" : "none");
			return;
		}
		printf("%*s%s:\n", indent, "", key);
		print_members(v, indent + 2);
		return;
	}
	if (json_is_string(v))
		printf("%*s%s: %s\n", indent, "", key, json_string_value(v));
	else if (json_is_integer(v))
		printf("%*s%s: %lld\n", indent, "", key, (long long)json_integer_value(v));
	else if (json_is_real(v))
		printf("%*s%s: %.1f\n", indent, "", key, json_real_value(v));
	else
		printf("%*s%s: %s\n", indent, "", key, json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null");
}

/* Print the reply; its exit status. */
static int show(const char *reply, bool raw)
{
	json_error_t jerr;
	json_t *r = json_loads(reply, 0, &jerr), *ok;
	int status;

	if (!r || !json_is_object(r)) {
		fprintf(stderr, "ivmm: error: the reply is not a JSON object: %s\n", reply);
		json_decref(r);
		return 1;
	}
	ok = json_object_get(r, "ok");
	status = json_is_true(ok) ? 0 : 1;
	if (raw)
		printf("%s\n", reply);
	else if (status)
		fprintf(stderr, "ivmm: error: %s\n", json_string_value(json_object_get(r, "error")) ?
			json_string_value(json_object_get(r, "error")) : reply);
	else if (json_object_size(r) == 1)
		printf("ok\n");
	else
		print_members(r, 0);
	json_decref(r);
	return status;
}

int ctl_main(int argc, char **argv)
{
	char *line = NULL, *reply = NULL;
	bool raw = false;
	int i = 1, status;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc > i && !strcmp(argv[i], "--json")) {
		raw = true;
		i++;
	}
	if (argc - i < 2)
		return bad_usage("ctl needs PATH and COMMAND%s", "");
	status = build_request(argc - i - 1, argv + i + 1, &line);
	if (status)
		return status;
	if (exchange(argv[i], line, &reply))
		status = 1;
	else
		status = show(reply, raw);
	free(line);
	free(reply);
	return status;
}
