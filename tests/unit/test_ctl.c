/* test_ctl.c: the control socket's protocol (vmm/ctl_cmds.c) against a vSMMU on the fakes (vsmmu_rig.h):
 * every command with its real effect on the vSMMU (stats counters, the state dump's registers and streams,
 * each kind of injection seen by the guest: the event record in its EVTQ with its fields, the GERROR bit, the
 * next command failing with the injected CERROR, OVFLG), and every malformed request (bad JSON, not an
 * object, no or non-string "cmd", unknown command, duplicate keys, missing or invalid arguments, an unknown
 * vSMMU) answered with an error and nothing done. The socket itself (vmm/ctl_server.c) on a real struct loop
 * pumped as vm_run's loop does: requests and replies, several per write, an oversized line answered once and
 * skipped, a client hanging up mid-line dropped, the fifth client refused, an existing file refused, a stale
 * socket replaced, one in use refused, mode 0600, the file removed at close. ASan checks nothing leaks. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "iommu/vsmmu_internal.h"
#include "tests/unit/cr_stderr.h"
#include "tests/unit/vsmmu_rig.h"
#include "vmm/ctl.h"

static struct vsmmu_rig rig;
static struct viommu *viommus[1];
static unsigned int quits;
static struct ctl_machine machine;

static void on_quit(void *ctx)
{
	quits++;
}

static void setup(void)
{
	if (!getenv("CTL_DEBUG"))
		cr_redirect_stderr();
	rig_up(&rig, 2);
	rig_bypass_up(&rig, 5);
	viommus[0] = &rig.vs->viommu;
	quits = 0;
	machine = (struct ctl_machine){ .viommus = viommus, .nviommus = 1, .quit = on_quit };
}

static void teardown(void)
{
	rig_fini(&rig);
}

TestSuite(ctl, .init = setup, .fini = teardown);

/* The reply to line, parsed; asserts it is one JSON object with a boolean "ok" equal to ok. */
static json_t *ask(const char *line, bool ok)
{
	char *reply = ctl_request(&machine, line, strlen(line));
	json_error_t e;
	json_t *r;

	cr_assert(reply, "no reply to %s", line);
	cr_assert_null(strchr(reply, '\n'), "a reply is one line: %s", reply);
	r = json_loads(reply, 0, &e);
	cr_assert(r && json_is_object(r), "reply not an object: %s", reply);
	cr_assert(json_is_boolean(json_object_get(r, "ok")), "no ok in %s", reply);
	cr_assert_eq(json_is_true(json_object_get(r, "ok")), ok, "request %s -> %s", line, reply);
	if (!ok)
		cr_assert(json_is_string(json_object_get(r, "error")), "no error text in %s", reply);
	free(reply);
	return r;
}

/* The error text of a refused request contains want. */
static void refused(const char *line, const char *want)
{
	json_t *r = ask(line, false);
	const char *err = json_string_value(json_object_get(r, "error"));

	cr_assert(strstr(err, want), "%s: error '%s' lacks '%s'", line, err, want);
	json_decref(r);
}

static json_int_t path_int(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(o, a);

	if (b)
		v = json_object_get(v, b);
	cr_assert(json_is_integer(v), "%s.%s not an integer", a, b ? b : "");
	return json_integer_value(v);
}

static json_t *stats0(void)
{
	json_t *r = ask("{\"cmd\": \"stats\"}", true), *v = json_array_get(json_object_get(r, "viommus"), 0);

	cr_assert_eq(json_array_size(json_object_get(r, "viommus")), 1);
	json_incref(v);
	json_decref(r);
	return v;
}

Test(ctl, stats_has_every_counter_with_its_value)
{
	struct rig_cmd sync = rig_cmd_op(CMDQ_OP_CMD_SYNC);
	struct vsmmu_stats st;
	u64 total = 0;
	json_t *v;

	rig_submit(&rig, &sync, 1);
	v = stats0();
	vsmmu_stats_get(rig.vs, &st);
	cr_assert_str_eq(json_string_value(json_object_get(v, "name")), "vsmmu0");
	for (unsigned int op = 0; op < 256; op++)
		total += st.cmds[op];
	cr_assert_gt(total, 0);
	cr_assert_eq(path_int(v, "commands", NULL), (json_int_t)total);
	cr_assert_eq(path_int(v, "attaches", NULL), (json_int_t)st.attaches);
	cr_assert_eq(path_int(v, "opcodes", "CMD_SYNC"), (json_int_t)st.cmds[CMDQ_OP_CMD_SYNC]);
	static const char *const keys[] = { "commands", "inval-cmds", "inval-ioctls", "max-batch", "inval-dropped",
		"inval-repeats", "inval-reissued", "inval-host-errors", "nested-hwpts", "attach-failures", "blocked",
		"ste-errors", "cmd-errors", "events", "sync-msis", "sync-irqs", "sync-sevs", "service-failure",
		"injected" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		cr_assert(json_is_integer(json_object_get(v, keys[i])), "no %s", keys[i]);
	cr_assert(json_is_real(json_object_get(v, "cmds-per-ioctl")));
	static const char *const ev[] = { "delivered", "dropped-full", "dropped-abort", "while-disabled",
		"lost-host", "host-records", "irqs", "reads" };
	for (size_t i = 0; i < ARRAY_SIZE(ev); i++)
		cr_assert(json_is_integer(json_object_get(json_object_get(v, "event-delivery"), ev[i])), "no %s", ev[i]);
	cr_assert(json_is_real(json_object_get(json_object_get(v, "event-delivery"), "latency-p99-us")));
	json_decref(v);
}

Test(ctl, stats_without_viommu_is_an_empty_list)
{
	json_t *r;

	machine.nviommus = 0;
	r = ask("{\"cmd\":\"stats\"}", true);
	cr_assert_eq(json_array_size(json_object_get(r, "viommus")), 0);
	json_decref(r);
	refused("{\"cmd\":\"vsmmu-state\",\"name\":\"vsmmu0\"}", "has none");
}

Test(ctl, quit_stops_the_guest_once)
{
	json_decref(ask("{\"cmd\":\"quit\"}", true));
	cr_assert_eq(quits, 1);
}

Test(ctl, vsmmu_state_shows_registers_and_streams)
{
	json_t *r = ask("{\"cmd\":\"vsmmu-state\",\"name\":\"vsmmu0\"}", true);
	json_t *st = json_object_get(r, "state"), *regs = json_object_get(st, "registers");
	json_t *streams = json_object_get(st, "streams"), *s0 = json_array_get(streams, 0);
	char want[32];

	snprintf(want, sizeof(want), "0x%x", rig_rd32(&rig, ARM_SMMU_CR0));
	cr_assert_str_eq(json_string_value(json_object_get(regs, "CR0")), want);
	snprintf(want, sizeof(want), "0x%llx", (unsigned long long)rig_rd64(&rig, ARM_SMMU_STRTAB_BASE));
	cr_assert_str_eq(json_string_value(json_object_get(regs, "STRTAB_BASE")), want);
	static const char *const names[] = { "CR0ACK", "CR1", "CR2", "GBPA", "IRQ_CTRL", "GERROR", "GERRORN",
		"STRTAB_BASE_CFG", "CMDQ_BASE", "CMDQ_PROD", "CMDQ_CONS", "EVTQ_BASE", "EVTQ_PROD", "EVTQ_CONS" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		cr_assert(json_is_string(json_object_get(regs, names[i])), "no %s", names[i]);
	cr_assert_eq(json_array_size(streams), 2);
	snprintf(want, sizeof(want), "0x%x", rig_vsid(0));
	cr_assert_str_eq(json_string_value(json_object_get(s0, "sid")), want);
	cr_assert_str_eq(json_string_value(json_object_get(s0, "device")), rig.vs->streams[0].name);
	cr_assert_str_eq(json_string_value(json_object_get(s0, "target")), "bypass");
	cr_assert_str_eq(json_string_value(json_object_get(s0, "why")), "the guest's STE says bypass");
	cr_assert_eq(path_int(s0, "vdevice", NULL), rig.vs->streams[0].vdevice_id);
	cr_assert_neq(rig.vs->streams[0].vdevice_id, 0);
	cr_assert(json_is_false(json_object_get(st, "service-failure")));
	cr_assert(json_is_array(json_object_get(json_object_get(st, "event-path"), "retired")));
	json_decref(r);
}

/* A stream the vSMMU aborted for a broken STE says so, with the STE words of a nested one beside it. */
Test(ctl, vsmmu_state_says_why_a_stream_aborts)
{
	struct rig_cmd cmds[] = { rig_cmd_cfgi_ste(rig_vsid(0)), rig_cmd_cfgi_ste(rig_vsid(1)),
				  rig_cmd_op(CMDQ_OP_CMD_SYNC) };
	json_t *r, *streams;
	char want[32];

	rig_ste(&rig, rig_vsid(0), rig_ste_cfg(STE_CFG_S2_TRANS), 0);
	rig_ste(&rig, rig_vsid(1), rig_ste_s1(rig_cd(1)), 0);
	rig_submit(&rig, cmds, ARRAY_SIZE(cmds));
	r = ask("{\"cmd\":\"vsmmu-state\",\"name\":\"vsmmu0\"}", true);
	streams = json_object_get(json_object_get(r, "state"), "streams");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(streams, 0), "target")), "abort");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(streams, 0), "why")), "C_BAD_STE");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(streams, 1), "target")), "nested");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(streams, 1), "why")),
			 "the guest's stage-1 STE");
	snprintf(want, sizeof(want), "0x%llx", (unsigned long long)rig.vs->streams[1].ste[0]);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(streams, 1), "ste0")), want);
	cr_assert_neq(rig.vs->streams[1].ste[0], 0);
	cr_assert_eq(path_int(json_array_get(streams, 1), "nested-hwpt", NULL), rig.vs->streams[1].nested_id);
	cr_assert_neq(rig.vs->streams[1].nested_id, 0);
	json_decref(r);
}

Test(ctl, inject_event_reaches_the_guest_evtq_with_its_fields)
{
	u64 evt[4][4];
	json_t *v;

	rig_evtq(&rig, 4);
	json_decref(ask("{\"cmd\":\"inject\",\"name\":\"vsmmu0\",\"kind\":\"event\",\"sid\":8,"
			"\"type\":\"F_TRANSLATION\",\"addr\":\"0x12345000\"}", true));
	json_decref(ask("{\"cmd\":\"inject\",\"name\":\"vsmmu0\",\"kind\":\"event\",\"sid\":16,"
			"\"type\":\"0x09\",\"addr\":4096}", true));
	json_decref(ask("{\"cmd\":\"inject\",\"name\":\"vsmmu0\",\"kind\":\"event\",\"type\":\"c_bad_ste\"}", true));
	cr_assert_eq(rig_events(&rig, evt, 4), 3);
	cr_assert_eq(FIELD_GET(EVTQ_0_ID, evt[0][0]), EVT_ID_F_TRANSLATION);
	cr_assert_eq(FIELD_GET(EVTQ_0_SID, evt[0][0]), 8);
	cr_assert_eq(evt[0][2], 0x12345000);
	cr_assert_eq(FIELD_GET(EVTQ_0_ID, evt[1][0]), EVT_ID_F_CD_FETCH);
	cr_assert_eq(evt[1][3], 4096);
	cr_assert_eq(FIELD_GET(EVTQ_0_ID, evt[2][0]), EVT_ID_C_BAD_STE);
	v = stats0();
	cr_assert_eq(path_int(v, "injected", NULL), 3);
	cr_assert_eq(path_int(v, "event-delivery", "delivered"), 3);
	json_decref(v);
}

Test(ctl, inject_gerror_toggles_the_bit_once)
{
	json_decref(ask("{\"cmd\":\"inject\",\"name\":\"vsmmu0\",\"kind\":\"gerror\",\"type\":\"SFM_ERR\"}", true));
	cr_assert(rig_gerror_active(&rig, GERROR_SFM_ERR));
	refused("{\"cmd\":\"inject\",\"name\":\"vsmmu0\",\"kind\":\"gerror\",\"type\":\"SFM_ERR\"}", "already active");
	rig_gerror_ack(&rig);
	json_decref(ask("{\"cmd\":\"inject\",\"name\":\"vsmmu0\",\"kind\":\"gerror\",\"type\":\"MSI_EVTQ_ABT\"}", true));
	cr_assert(rig_gerror_active(&rig, GERROR_MSI_EVTQ_ABT_ERR));
	refused("{\"cmd\":\"inject\",\"name\":\"vsmmu0\",\"kind\":\"gerror\",\"type\":\"PRIQ\"}", "unknown global error");
}

Test(ctl, inject_cmd_error_fails_the_next_command_only)
{
	struct rig_cmd sync = rig_cmd_op(CMDQ_OP_CMD_SYNC);
	u32 at;

	json_decref(ask("{\"cmd\":\"inject\",\"name\":\"vsmmu0\",\"kind\":\"cmd-error\",\"type\":\"CERROR_ABT\"}", true));
	at = rig_push(&rig, sync);
	rig_kick(&rig);
	cr_assert_eq(rig_cons_err(rig_cons(&rig)), CMDQ_ERR_CERROR_ABT);
	cr_assert_eq(vsmmu_q_ptr(rig_cons(&rig), 5), at);
	cr_assert(rig_gerror_active(&rig, GERROR_CMDQ_ERR));
	/* The guest acknowledges and resumes: the same command now completes. */
	rig_gerror_ack(&rig);
	rig_kick(&rig);
	cr_assert_eq(vsmmu_q_ptr(rig_cons(&rig), 5), vsmmu_q_inc(at, 5));
	refused("{\"cmd\":\"inject\",\"name\":\"vsmmu0\",\"kind\":\"cmd-error\"}", "needs a \"type\"");
}

Test(ctl, inject_evtq_overflow_sets_ovflg)
{
	rig_evtq(&rig, 4);
	json_decref(ask("{\"cmd\":\"inject\",\"name\":\"vsmmu0\",\"kind\":\"evtq-overflow\"}", true));
	cr_assert(rig_rd32(&rig, SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD) & Q_OVERFLOW_FLAG);
}

Test(ctl, malformed_requests_get_errors_and_change_nothing)
{
	struct vsmmu_stats before, after;

	vsmmu_stats_get(rig.vs, &before);
	refused("{\"cmd\": ", "bad JSON");
	refused("", "bad JSON");
	refused("{\"cmd\":\"stats\"} trailing", "bad JSON");
	refused("[1, 2]", "JSON object");
	refused("\"stats\"", "JSON object");
	refused("{}", "no \"cmd\"");
	refused("{\"cmd\": 7}", "must be a string");
	refused("{\"cmd\": \"reboot\"}", "unknown command 'reboot'");
	refused("{\"cmd\": \"stats\", \"cmd\": \"quit\"}", "duplicate");
	refused("{\"cmd\": \"vsmmu-state\"}", "\"name\" is missing");
	refused("{\"cmd\": \"vsmmu-state\", \"name\": 0}", "must be a string");
	refused("{\"cmd\": \"vsmmu-state\", \"name\": \"vsmmu9\"}", "no vIOMMU named 'vsmmu9'");
	refused("{\"cmd\": \"inject\", \"name\": \"vsmmu0\"}", "\"kind\"");
	refused("{\"cmd\": \"inject\", \"name\": \"vsmmu0\", \"kind\": \"melt\"}", "unknown injection 'melt'");
	refused("{\"cmd\": \"inject\", \"name\": \"vsmmu0\", \"kind\": \"event\"}", "needs a \"type\"");
	refused("{\"cmd\": \"inject\", \"name\": \"vsmmu0\", \"kind\": \"event\", \"type\": \"F_NOPE\"}",
		"unknown event type 'F_NOPE'");
	refused("{\"cmd\": \"inject\", \"name\": \"vsmmu0\", \"kind\": \"event\", \"type\": 16}", "\"type\" must be");
	refused("{\"cmd\": \"inject\", \"name\": \"vsmmu0\", \"kind\": \"event\", \"type\": \"C_BAD_STE\", \"sid\": -1}",
		"\"sid\"");
	refused("{\"cmd\": \"inject\", \"name\": \"vsmmu0\", \"kind\": \"event\", \"type\": \"C_BAD_STE\", \"sid\": \"x\"}",
		"\"sid\"");
	refused("{\"cmd\": \"inject\", \"name\": \"vsmmu0\", \"kind\": \"event\", \"type\": \"C_BAD_STE\", "
		"\"sid\": 65536}", "beyond");
	refused("{\"cmd\": \"inject\", \"name\": \"vsmmu0\", \"kind\": \"event\", \"type\": \"C_BAD_STE\", "
		"\"addr\": true}", "\"addr\"");
	refused("{\"cmd\": \"inject\", \"name\": \"vsmmu0\", \"kind\": \"cmd-error\", \"type\": \"CERROR_X\"}",
		"unknown command error");
	cr_assert_eq(quits, 0);
	cr_assert_eq(rig.vs->inject_cerror, 0);
	vsmmu_stats_get(rig.vs, &after);
	cr_assert_eq(memcmp(&before, &after, sizeof(before)), 0, "a refused request changed the counters");
}

/* The trace file's text (at most len - 1 bytes). */
static const char *slurp(const char *file, char *buf, size_t len)
{
	FILE *f = fopen(file, "r");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = 0;
	return buf;
}

/* How many times what occurs in s. */
static unsigned int count(const char *s, const char *what)
{
	unsigned int n = 0;

	for (; (s = strstr(s, what)); s++)
		n++;
	return n;
}

Test(ctl, trace_shows_commands_and_iommufd_calls_until_off)
{
	struct rig_cmd cmds[] = { rig_cmd_cfgi_ste(rig_vsid(1)), rig_cmd_op(CMDQ_OP_CMD_SYNC) };
	char dirt[] = "/tmp/ivmm-trace-XXXXXX", file[64], req[256];
	static char buf[1 << 20];

	cr_assert(mkdtemp(dirt));
	snprintf(file, sizeof(file), "%s/trace.txt", dirt);
	snprintf(req, sizeof(req), "{\"cmd\":\"trace\",\"name\":\"vsmmu0\",\"on\":true,\"file\":\"%s\"}", file);
	json_decref(ask(req, true));
	rig_ste(&rig, rig_vsid(1), rig_ste_s1(rig_cd(1)), 0);
	rig_submit(&rig, cmds, ARRAY_SIZE(cmds));
	json_decref(ask("{\"cmd\":\"inject\",\"name\":\"vsmmu0\",\"kind\":\"gerror\",\"type\":\"SFM_ERR\"}", true));
	slurp(file, buf, sizeof(buf));
	cr_assert(strstr(buf, "trace: vsmmu0: on\n"), "%s", buf);
	cr_assert(strstr(buf, " cmd at 0x0: CFGI_STE 0x"), "%s", buf);
	cr_assert(strstr(buf, ": batch flushed, the STEs read again\n"), "%s", buf);
	cr_assert(strstr(buf, " iommufd HWPT_ALLOC nested for edu1, vSTE 0x"), "%s", buf);
	cr_assert(strstr(buf, " iommufd attach edu1 (StreamID 0x10) to HWPT "), "%s", buf);
	cr_assert(strstr(buf, " cmd at 0x1: CMD_SYNC 0x"), "%s", buf);
	cr_assert(strstr(buf, " GERROR 0x100 raised"), "%s", buf);
	/* CFGI_STE, then the ALLOC and the attach it led to, in that order. */
	cr_assert(strstr(buf, "CFGI_STE") < strstr(buf, "HWPT_ALLOC"));
	cr_assert(strstr(buf, "HWPT_ALLOC") < strstr(buf, "attach edu1"));
	json_decref(ask("{\"cmd\":\"trace\",\"name\":\"vsmmu0\",\"on\":false}", true));
	rig_submit(&rig, cmds + 1, 1);
	cr_assert_null(strstr(slurp(file, buf, sizeof(buf)), "cmd at 0x2"), "traced after off: %s", buf);
	unlink(file);
	rmdir(dirt);
}

Test(ctl, trace_is_rate_limited)
{
	struct rig_cmd sync[31];
	char dirt[] = "/tmp/ivmm-trace-XXXXXX", file[64], req[256];
	static char buf[4 << 20];
	unsigned int lines;

	for (unsigned int i = 0; i < ARRAY_SIZE(sync); i++)
		sync[i] = rig_cmd_op(CMDQ_OP_CMD_SYNC);
	cr_assert(mkdtemp(dirt));
	snprintf(file, sizeof(file), "%s/trace.txt", dirt);
	snprintf(req, sizeof(req), "{\"cmd\":\"trace\",\"name\":\"vsmmu0\",\"on\":true,\"file\":\"%s\"}", file);
	json_decref(ask(req, true));
	for (unsigned int round = 0; round < 100; round++)
		rig_submit(&rig, sync, ARRAY_SIZE(sync));
	usleep(1100000);
	rig_submit(&rig, sync, 1);
	slurp(file, buf, sizeof(buf));
	lines = count(buf, " cmd at ");
	cr_assert_lt(lines, 3000, "%u command lines: not limited", lines);
	cr_assert_geq(lines, 1000, "%u command lines", lines);
	cr_assert(strstr(buf, "lines left out (at most 1000 a second)"), "no note of the lines left out");
	json_decref(ask("{\"cmd\":\"trace\",\"name\":\"vsmmu0\",\"on\":false}", true));
	unlink(file);
	rmdir(dirt);
}

Test(ctl, trace_bad_requests)
{
	refused("{\"cmd\":\"trace\",\"name\":\"vsmmu0\"}", "\"on\" must be true or false");
	refused("{\"cmd\":\"trace\",\"name\":\"vsmmu0\",\"on\":1}", "\"on\" must be true or false");
	refused("{\"cmd\":\"trace\",\"name\":\"vsmmu0\",\"on\":true,\"file\":\"rel.txt\"}", "absolute path");
	refused("{\"cmd\":\"trace\",\"name\":\"vsmmu0\",\"on\":true,\"file\":\"/nonexistent/dir/t\"}",
		"cannot open /nonexistent/dir/t");
	refused("{\"cmd\":\"trace\",\"name\":\"nope\",\"on\":true}", "no vIOMMU named 'nope'");
	cr_assert_null(rig.vs->trace);
	/* On to stderr, then off: nothing left open. */
	json_decref(ask("{\"cmd\":\"trace\",\"name\":\"vsmmu0\",\"on\":true}", true));
	cr_assert_eq(rig.vs->trace, stderr);
	json_decref(ask("{\"cmd\":\"trace\",\"name\":\"vsmmu0\",\"on\":false}", true));
	cr_assert_null(rig.vs->trace);
}

/* ---- the socket ---- */

static char dir[64], path[128];
static struct loop loop;
static struct ctl_server srv;

static void sock_setup(void)
{
	setup();
	strcpy(dir, "/tmp/ivmm-ctl-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/api.sock", dir);
	cr_assert_eq(loop_init(&loop), 0);
}

static void sock_teardown(void)
{
	ctl_server_close(&srv);
	loop_fini(&loop);
	unlink(path);
	rmdir(dir);
	teardown();
}

TestSuite(ctl_socket, .init = sock_setup, .fini = sock_teardown);

/* A few rounds of vm_run's loop over the watches (nothing else polled). */
static void pump(void)
{
	for (int round = 0; round < 8; round++) {
		struct pollfd pfd[LOOP_MAX_WATCHES];
		struct loop_watch w[LOOP_MAX_WATCHES];
		unsigned int n = loop_snapshot(&loop, pfd, w);

		if (poll(pfd, n, 20) > 0)
			loop_dispatch(pfd, w, n);
	}
}

static void serve(void)
{
	cr_assert_eq(ctl_server_open(&srv, path), 0);
	cr_assert_eq(ctl_server_start(&srv, &loop, &machine), 0);
}

static int client(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s", strerror(errno));
	pump();
	return fd;
}

static void say_n(int fd, const char *s, size_t len)
{
	cr_assert_eq(send(fd, s, len, MSG_NOSIGNAL), (ssize_t)len);
	pump();
}

static void say(int fd, const char *s)
{
	say_n(fd, s, strlen(s));
}

/* What the server wrote to fd so far (up to len - 1 bytes). */
static const char *heard(int fd, char *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = 0;
	return buf;
}


static unsigned int clients_open(void)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < CTL_MAX_CLIENTS; i++)
		n += srv.clients[i].fd >= 0;
	return n;
}

Test(ctl_socket, requests_and_replies_one_line_each)
{
	struct stat st;
	char buf[65536];
	int fd;

	serve();
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0600);
	fd = client();
	say(fd, "{\"cmd\":\"stats\"}\n{\"cmd\":\"nope\"}\n{\"cmd\":\"quit\"}\n");
	heard(fd, buf, sizeof(buf));
	cr_assert_eq(count(buf, "\n"), 3, "%s", buf);
	cr_assert(strstr(buf, "\"viommus\""));
	cr_assert(strstr(buf, "unknown command 'nope'"));
	cr_assert_eq(count(buf, "{\"ok\":true,"), 1, "%s", buf);
	cr_assert_eq(count(buf, "{\"ok\":true}"), 1, "%s", buf);
	cr_assert_eq(count(buf, "{\"ok\":false,\"error\":"), 1, "%s", buf);
	cr_assert_eq(quits, 1);
	close(fd);
	pump();
	cr_assert_eq(clients_open(), 0);
	ctl_server_close(&srv);
	cr_assert_neq(stat(path, &st), 0, "the socket file outlived the server");
}

Test(ctl_socket, a_request_in_pieces_is_one_request)
{
	char buf[4096];
	int fd;

	serve();
	fd = client();
	say(fd, "{\"cmd\":");
	cr_assert_str_eq(heard(fd, buf, sizeof(buf)), "");
	say(fd, "\"quit\"}\n");
	cr_assert(strstr(heard(fd, buf, sizeof(buf)), "true"), "%s", buf);
	cr_assert_eq(quits, 1);
	close(fd);
}

Test(ctl_socket, oversized_line_gets_one_error_then_the_client_goes_on)
{
	static char big[3 * CTL_LINE_MAX];
	char buf[4096];
	int fd;

	serve();
	fd = client();
	memset(big, 'x', sizeof(big));
	say_n(fd, big, sizeof(big));
	say(fd, "\n{\"cmd\":\"quit\"}\n");
	heard(fd, buf, sizeof(buf));
	cr_assert_eq(count(buf, "longer than 4096 bytes"), 1, "%s", buf);
	cr_assert_eq(count(buf, "\n"), 2, "%s", buf);
	cr_assert_eq(quits, 1);
	close(fd);
}

Test(ctl_socket, a_client_hanging_up_mid_line_is_dropped)
{
	char buf[4096];
	int fd, fd2;

	serve();
	fd = client();
	say(fd, "{\"cmd\":\"qu");
	cr_assert_eq(clients_open(), 1);
	close(fd);
	pump();
	cr_assert_eq(clients_open(), 0);
	cr_assert_eq(quits, 0);
	fd2 = client();
	say(fd2, "{\"cmd\":\"stats\"}\n");
	cr_assert(strstr(heard(fd2, buf, sizeof(buf)), "\"viommus\""));
	close(fd2);
}

Test(ctl_socket, the_fifth_client_is_refused)
{
	int fds[CTL_MAX_CLIENTS + 1];
	char buf[4096];

	serve();
	for (unsigned int i = 0; i <= CTL_MAX_CLIENTS; i++)
		fds[i] = client();
	cr_assert_eq(clients_open(), CTL_MAX_CLIENTS);
	cr_assert(strstr(heard(fds[CTL_MAX_CLIENTS], buf, sizeof(buf)), "too many clients"), "%s", buf);
	cr_assert_eq(recv(fds[CTL_MAX_CLIENTS], buf, sizeof(buf), 0), 0, "the refused client stays open");
	say(fds[0], "{\"cmd\":\"stats\"}\n");
	cr_assert(strstr(heard(fds[0], buf, sizeof(buf)), "\"viommus\""));
	for (unsigned int i = 0; i <= CTL_MAX_CLIENTS; i++)
		close(fds[i]);
}

Test(ctl_socket, an_existing_file_is_refused_and_kept)
{
	int fd = open(path, O_CREAT | O_WRONLY, 0644);
	struct stat st;

	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(ctl_server_open(&srv, path), -EEXIST);
	cr_assert(cr_stderr_has("exists and is not a socket"));
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
}

Test(ctl_socket, a_stale_socket_is_replaced_one_in_use_refused)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctl_server other;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), c;
	char buf[4096];

	strcpy(sa.sun_path, path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd); /* the file stays: a socket nobody listens on */
	serve();
	cr_assert(cr_stderr_has("removed a stale socket"));
	cr_assert_eq(ctl_server_open(&other, path), -EADDRINUSE);
	c = client();
	say(c, "{\"cmd\":\"stats\"}\n");
	cr_assert(strstr(heard(c, buf, sizeof(buf)), "\"viommus\""), "the first server lost its socket");
	close(c);
}

Test(ctl_socket, a_path_too_long_is_refused)
{
	char longp[200];

	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = 0;
	cr_assert_eq(ctl_server_open(&srv, longp), -ENAMETOOLONG);
}

/* ---- the client: the real binary (IVMM_BIN) against the server, the loop pumped until it exits ---- */

/* Run `ivmm ctl ARGS...` (NULL-terminated), its stdout+stderr into out; its exit status. */
static int run_ctl(char *out, size_t len, const char *const *args)
{
	const char *bin = getenv("IVMM_BIN");
	const char *argv[16] = { bin, "ctl" };
	int pfd[2], status = -1;
	size_t n = 0, argc = 2;
	pid_t pid;

	cr_assert(bin, "IVMM_BIN (the built ivmm) must be set: run through make unit");
	for (; *args && argc < ARRAY_SIZE(argv) - 1; args++)
		argv[argc++] = *args;
	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 500; i++) {
		ssize_t r;

		if (srv.path)
			pump();
		else
			usleep(10000);
		while (n + 1 < len && (r = read(pfd[0], out + n, len - n - 1)) > 0)
			n += (size_t)r;
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
	}
	while (n + 1 < len) {
		ssize_t r = read(pfd[0], out + n, len - n - 1);

		if (r <= 0)
			break;
		n += (size_t)r;
	}
	out[n] = 0;
	close(pfd[0]);
	cr_assert(WIFEXITED(status), "ivmm ctl did not exit: %s", out);
	return WEXITSTATUS(status);
}

#define CTL(out, ...) run_ctl(out, sizeof(out), (const char *const[]){ __VA_ARGS__, NULL })

Test(ctl_socket, client_prints_replies_and_exits_0_1_2)
{
	char out[65536];

	serve();
	cr_assert_eq(CTL(out, path, "stats"), 0, "%s", out);
	cr_assert(strstr(out, "name: vsmmu0") && strstr(out, "commands: ") && strstr(out, "delivered: "), "%s", out);
	cr_assert_eq(CTL(out, "--json", path, "vsmmu-state", "vsmmu0"), 0, "%s", out);
	cr_assert(!strncmp(out, "{\"ok\":true,", 11) && strstr(out, "\"CR0\":\"0x9\""), "%s", out);
	cr_assert_eq(CTL(out, path, "vsmmu-state", "vsmmu7"), 1, "%s", out);
	cr_assert(strstr(out, "no vIOMMU named 'vsmmu7'"), "%s", out);
	cr_assert_eq(CTL(out, path, "raw", "{\"cmd\": 1"), 1, "%s", out);
	cr_assert(strstr(out, "bad JSON"), "%s", out);
	rig_evtq(&rig, 4);
	cr_assert_eq(CTL(out, path, "inject", "vsmmu0", "event", "0x8", "F_PERMISSION", "0x4000"), 0, "%s", out);
	cr_assert_str_eq(out, "ok\n");
	cr_assert_eq(rig.vs->stats.injected, 1);
	cr_assert_eq(CTL(out, path, "inject", "vsmmu0", "event", "0x8"), 2, "%s", out);
	cr_assert_eq(CTL(out, path, "trace", "vsmmu0", "on"), 0, "%s", out);
	cr_assert_eq(rig.vs->trace, stderr);
	cr_assert_eq(CTL(out, path, "trace", "vsmmu0", "off"), 0, "%s", out);
	cr_assert_null(rig.vs->trace);
	cr_assert_eq(CTL(out, path, "trace", "vsmmu0", "maybe"), 2, "%s", out);
	cr_assert_eq(CTL(out, path, "frobnicate"), 2, "%s", out);
	cr_assert_eq(CTL(out, path), 2, "%s", out);
	cr_assert_eq(CTL(out, path, "quit"), 0, "%s", out);
	cr_assert_eq(quits, 1);
	ctl_server_close(&srv);
	cr_assert_eq(CTL(out, path, "stats"), 1, "%s", out);
	cr_assert(strstr(out, "cannot connect"), "%s", out);
}
