/* ctl_cmds.c: one request line of the control socket to its reply (protocol in vmm/ctl.h). The line is
 * parsed with jansson (strict JSON, duplicate keys refused); anything but an object with a known string
 * "cmd" and valid arguments is answered {"ok": false, "error": "..."}; nothing here touches the guest
 * except what a command is for (quit, inject), and every path frees what it built. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vmm/ctl.h"

char *ctl_error_reply(const char *why)
{
	json_t *r = json_pack("{s:b, s:s}", "ok", 0, "error", why);
	char *s = r ? json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	json_decref(r);
	return s;
}

static char *__printf(1, 2) errorf(const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return ctl_error_reply(why);
}

/* The reply {"ok": true, then r's members} (r consumed). */
static char *ok_reply(json_t *r)
{
	json_t *o = json_pack("{s:b}", "ok", 1);
	char *s = NULL;

	if (o && r && !json_object_update(o, r))
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	json_decref(r);
	return s;
}

/* A string argument: 0, -ENOENT (absent) or -EINVAL (not a string). */
static int arg_str(json_t *req, const char *key, const char **out)
{
	json_t *v = json_object_get(req, key);

	if (!v)
		return -ENOENT;
	if (!json_is_string(v))
		return -EINVAL;
	*out = json_string_value(v);
	return 0;
}

/* A non-negative integer argument, as a JSON integer or a string in C notation ("0x1000"), at most max. */
static int arg_uint(json_t *req, const char *key, u64 max, u64 *out)
{
	json_t *v = json_object_get(req, key);
	const char *s;
	char *end;

	if (!v)
		return -ENOENT;
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0 || (u64)json_integer_value(v) > max)
			return -EINVAL;
		*out = (u64)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -EINVAL;
	s = json_string_value(v);
	errno = 0;
	*out = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || *out > max)
		return -EINVAL;
	return 0;
}

static struct viommu *find_viommu(const struct ctl_machine *m, json_t *req, char **err)
{
	const char *name = NULL;
	int ret = arg_str(req, "name", &name);

	if (ret) {
		*err = errorf("\"name\" %s (the vIOMMU's name, e.g. \"vsmmu0\")",
			      ret == -ENOENT ? "is missing" : "must be a string");
		return NULL;
	}
	for (unsigned int i = 0; i < m->nviommus; i++)
		if (!strcmp(m->viommus[i]->ops->name(m->viommus[i]), name))
			return m->viommus[i];
	*err = m->nviommus ? errorf("no vIOMMU named '%s' (%s ... has %u)", name,
				    m->viommus[0]->ops->name(m->viommus[0]), m->nviommus) :
			     errorf("no vIOMMU named '%s' (this VM has none)", name);
	return NULL;
}

/* Fill a fresh object with what fill writes into a viommu_out; NULL (and *err) when that failed. */
static json_t *model_object(struct viommu *v, void (*fill)(struct viommu *, const struct viommu_out *),
			    char **err)
{
	json_t *o = json_object();
	struct ctl_json_out j;
	struct viommu_out out;

	if (!o)
		return NULL;
	ctl_json_out_init(&j, o, &out);
	fill(v, &out);
	if (j.failed || j.depth != 1) {
		json_decref(o);
		*err = ctl_error_reply("out of memory building the reply");
		return NULL;
	}
	return o;
}

static char *cmd_stats(const struct ctl_machine *m, json_t *req)
{
	json_t *arr = json_array(), *o;
	char *err = NULL;

	if (!arr)
		return NULL;
	for (unsigned int i = 0; i < m->nviommus; i++) {
		o = model_object(m->viommus[i], m->viommus[i]->ops->stats, &err);
		if (!o || json_array_append_new(arr, o)) {
			json_decref(arr);
			return err;
		}
	}
	return ok_reply(json_pack("{s:o}", "viommus", arr));
}

static char *cmd_quit(const struct ctl_machine *m, json_t *req)
{
	m->quit(m->quit_ctx);
	return ok_reply(json_object());
}

static char *cmd_state(const struct ctl_machine *m, json_t *req)
{
	char *err = NULL;
	struct viommu *v = find_viommu(m, req, &err);
	json_t *o;

	if (!v)
		return err;
	o = model_object(v, v->ops->dump, &err);
	if (!o)
		return err;
	return ok_reply(json_pack("{s:o}", "state", o));
}

static char *cmd_inject(const struct ctl_machine *m, json_t *req)
{
	char *err = NULL, why[384];
	struct viommu *v = find_viommu(m, req, &err);
	struct viommu_inject inj = { 0 };
	u64 sid = 0, addr = 0;
	int ret;

	if (!v)
		return err;
	if (arg_str(req, "kind", &inj.kind))
		return ctl_error_reply("\"kind\" must be a string: event, gerror, cmd-error or evtq-overflow");
	ret = arg_str(req, "type", &inj.type);
	if (ret == -EINVAL)
		return ctl_error_reply("\"type\" must be a string");
	if (ret && strcmp(inj.kind, "evtq-overflow") && (!strcmp(inj.kind, "event") || !strcmp(inj.kind, "gerror") ||
							 !strcmp(inj.kind, "cmd-error")))
		return errorf("inject %s needs a \"type\"", inj.kind);
	ret = arg_uint(req, "sid", UINT32_MAX, &sid);
	if (ret == -EINVAL)
		return ctl_error_reply("\"sid\" must be a StreamID (an integer from 0 to 0xffffffff)");
	ret = arg_uint(req, "addr", UINT64_MAX, &addr);
	if (ret == -EINVAL)
		return ctl_error_reply("\"addr\" must be a non-negative integer (or a string such as \"0x1000\")");
	inj.sid = (u32)sid;
	inj.addr = addr;
	why[0] = 0;
	if (v->ops->inject(v, &inj, why, sizeof(why)))
		return ctl_error_reply(why[0] ? why : "injection refused");
	return ok_reply(json_object());
}

static char *cmd_trace(const struct ctl_machine *m, json_t *req)
{
	char *err = NULL, why[384];
	struct viommu *v = find_viommu(m, req, &err);
	const char *file = NULL;
	json_t *on = json_object_get(req, "on");

	if (!v)
		return err;
	if (!json_is_boolean(on))
		return ctl_error_reply("\"on\" must be true or false");
	if (arg_str(req, "file", &file) == -EINVAL || (file && file[0] != '/'))
		return ctl_error_reply("\"file\" must be an absolute path");
	why[0] = 0;
	if (v->ops->trace(v, json_is_true(on), file, why, sizeof(why)))
		return ctl_error_reply(why[0] ? why : "trace refused");
	return ok_reply(json_object());
}

static const struct {
	const char *name;
	char *(*fn)(const struct ctl_machine *m, json_t *req);
} cmds[] = {
	{ "stats", cmd_stats },
	{ "quit", cmd_quit },
	{ "vsmmu-state", cmd_state },
	{ "inject", cmd_inject },
	{ "trace", cmd_trace },
};

char *ctl_request(const struct ctl_machine *m, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	const char *cmd = NULL;
	char *reply;
	int ret;

	if (!req)
		return errorf("bad JSON at column %d: %s", jerr.column, jerr.text);
	if (!json_is_object(req)) {
		json_decref(req);
		return ctl_error_reply("a request is a JSON object: {\"cmd\": \"...\"}");
	}
	ret = arg_str(req, "cmd", &cmd);
	if (ret) {
		json_decref(req);
		return ctl_error_reply(ret == -ENOENT ? "no \"cmd\" in the request" : "\"cmd\" must be a string");
	}
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		if (!strcmp(cmds[i].name, cmd)) {
			reply = cmds[i].fn(m, req);
			json_decref(req);
			return reply;
		}
	}
	reply = errorf("unknown command '%.64s' (known: stats, quit, vsmmu-state, inject, trace)", cmd);
	json_decref(req);
	return reply;
}
