/* ctl.h: the control socket (`ivmm run --api-socket PATH`) and its client (`ivmm ctl PATH COMMAND`).
 * Protocol: one JSON object per line each way (a line is at most CTL_LINE_MAX bytes with its newline):
 *   {"cmd": "stats"}                                   -> {"ok": true, "viommus": [{counters}...]}
 *   {"cmd": "quit"}                                    -> {"ok": true} and the guest stops (exit 0)
 *   {"cmd": "vsmmu-state", "name": N}                  -> {"ok": true, "state": {registers, streams...}}
 *   {"cmd": "inject", "name": N, "kind": K, "type": T, "sid": S, "addr": A}   -> {"ok": true}
 *     (K "event" with T an event name, S and A optional; "gerror" and "cmd-error" with T; "evtq-overflow")
 *   {"cmd": "trace", "name": N, "on": true|false, "file": F}  -> {"ok": true} (F absolute, optional: stderr)
 * any failure                                          -> {"ok": false, "error": "one line"}
 * Files: ctl_server.c (the socket and its clients on the main loop), ctl_cmds.c (a request line to its
 * reply), ctl_json.c (a vIOMMU's struct viommu_out over jansson), ctl_client.c (`ivmm ctl`). */
#ifndef IVMM_CTL_H
#define IVMM_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "iommu/viommu.h"
#include "vmm/compiler.h"
#include "vmm/loop.h"

#define CTL_LINE_MAX 4096          /* a request line, its newline included */
#define CTL_MAX_CLIENTS 4          /* clients served at once; more get an error reply and are closed */
#define CTL_OUT_MAX (256 * 1024)   /* replies a client has not read yet: beyond this it is dropped */

/* What the commands reach: the machine's vIOMMUs and a way to end the VM. */
struct ctl_machine {
	struct viommu *const *viommus;
	unsigned int nviommus;
	void (*quit)(void *ctx);       /* stop the guest, ivmm exits 0 (main thread) */
	void *quit_ctx;
};

/* ctl_cmds.c: answer one request line (without its newline). Returns the reply line, malloc'ed, without a
 * newline; NULL only when out of memory. */
char *ctl_request(const struct ctl_machine *m, const char *line, size_t len);
/* {"ok": false, "error": why}, malloc'ed (NULL when out of memory). */
char *ctl_error_reply(const char *why);

/* ctl_json.c: a struct viommu_out that builds JSON under root (an object). */
struct ctl_json_out {
	void *stack[8];                /* json_t *: the open objects and arrays, root first */
	unsigned int depth;
	bool failed;                   /* out of memory or nesting too deep: the reply is an error */
};
void ctl_json_out_init(struct ctl_json_out *j, void *root, struct viommu_out *out);

struct ctl_client {
	int fd;                        /* -1: free slot */
	struct ctl_server *srv;
	char in[CTL_LINE_MAX];
	size_t in_len;
	bool discarding;               /* an oversized line was answered: drop bytes up to its newline */
	char *out;                     /* replies not written yet */
	size_t out_len, out_off;
	short events;                  /* what the loop watches */
};

struct ctl_server {
	char *path;                    /* NULL: no socket */
	int fd;
	dev_t dev;                     /* the socket file we made (removed at close only if it is still ours) */
	ino_t ino;
	struct loop *loop;             /* NULL until ctl_server_start */
	const struct ctl_machine *m;
	struct ctl_client clients[CTL_MAX_CLIENTS];
};

/* Create the socket at path (mode 0600), listening. An existing path is refused unless it is a stale socket
 * (nobody accepts on it: connect() says ECONNREFUSED), which is removed first. 0 or -errno after one line:
 * -EEXIST (not a socket), -EADDRINUSE (in use), -ENAMETOOLONG, or the failing call's error. */
int __must_check ctl_server_open(struct ctl_server *s, const char *path);
/* Serve it on l's loop (main thread) with the commands of m (kept until close). 0 or -errno. */
int __must_check ctl_server_start(struct ctl_server *s, struct loop *l, const struct ctl_machine *m);
/* Drop the clients, close the socket and remove its file. Safe on a zeroed/closed server (fd 0 is never
 * ours: a zeroed server must have path NULL). */
void ctl_server_close(struct ctl_server *s);

/* ctl_client.c: `ivmm ctl [--json] PATH COMMAND [ARGS]` (argv[0] is "ctl"). Exit status: 0 ok, 1 an error
 * reply or no connection, 2 bad usage. */
int ctl_main(int argc, char **argv);

#endif
