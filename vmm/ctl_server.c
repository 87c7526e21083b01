/* ctl_server.c: the control socket (vmm/ctl.h) on the main thread's event loop (vmm/loop.h). Everything is
 * non-blocking: the listening socket and each client are watched fds, a client's bytes are gathered into
 * lines (at most CTL_LINE_MAX; a longer one is answered with an error and skipped up to its newline), each
 * line answered by ctl_request(), replies written as far as the socket takes them and the rest when it is
 * writable again (a client that lets more than CTL_OUT_MAX pile up is dropped). A client that hangs up, even
 * mid-line, is closed without a reply. At most CTL_MAX_CLIENTS at once: one more gets an error line and is
 * closed. Nothing here takes a lock of the guest's: the commands take their model's own lock, briefly. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "vmm/ctl.h"
#include "vmm/log.h"

/* Bytes read per wake-up of one client (the loop serves others too; the rest comes next poll). */
#define CTL_READ_PER_WAKE (4 * CTL_LINE_MAX)

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		pr_err("api socket '%s': path longer than %zu bytes", path, sizeof(sa->sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa->sun_path, path);
	return 0;
}

/* path exists: remove it if it is a stale socket, else refuse. */
static int reuse_stale(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, ret;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		ret = -errno;
		pr_err("api socket %s: %s", path, strerror(errno));
		return ret;
	}
	if (!S_ISSOCK(st.st_mode)) {
		pr_err("api socket %s: exists and is not a socket (not removed; choose another path)", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		pr_err("api socket: socket: %s", strerror(errno));
		return ret;
	}
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) ? -errno : 0;
	close(fd);
	if (!ret) {
		pr_err("api socket %s: in use (another ivmm is listening on it)", path);
		return -EADDRINUSE;
	}
	if (ret != -ECONNREFUSED) {
		pr_err("api socket %s: exists and cannot be probed: %s", path, strerror(-ret));
		return ret;
	}
	if (unlink(path) && errno != ENOENT) {
		ret = -errno;
		pr_err("api socket %s: removing the stale socket: %s", path, strerror(errno));
		return ret;
	}
	pr_info("api socket %s: removed a stale socket (nobody listening)", path);
	return 0;
}

int ctl_server_open(struct ctl_server *s, const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int ret;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	for (unsigned int i = 0; i < CTL_MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
	ret = unix_addr(path, &sa);
	if (ret)
		return ret;
	ret = reuse_stale(path, &sa);
	if (ret)
		return ret;
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->fd < 0) {
		ret = -errno;
		pr_err("api socket: socket: %s", strerror(errno));
		return ret;
	}
	/* Mode 0600 from the start: nobody else may connect in between. */
	old = umask(0177);
	ret = bind(s->fd, (const struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (ret) {
		pr_err("api socket %s: bind: %s", path, strerror(-ret));
		goto err_close;
	}
	if (listen(s->fd, CTL_MAX_CLIENTS) || stat(path, &st)) {
		ret = -errno;
		pr_err("api socket %s: listen: %s", path, strerror(errno));
		goto err_unlink;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->path = strdup(path);
	if (!s->path) {
		ret = -ENOMEM;
		pr_err("out of memory");
		goto err_unlink;
	}
	return 0;
err_unlink:
	unlink(path);
err_close:
	close(s->fd);
	s->fd = -1;
	return ret;
}

static void client_close(struct ctl_client *c)
{
	if (c->fd < 0)
		return;
	loop_unwatch(c->srv->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = c->in_len = 0;
	c->discarding = false;
}

static void client_readable(void *opaque, int fd, short revents);

/* Watch POLLOUT too while replies are pending. Returns false when the client had to be dropped. */
static bool client_rewatch(struct ctl_client *c)
{
	short want = POLLIN | (c->out_off < c->out_len ? POLLOUT : 0);

	if (want == c->events)
		return true;
	loop_unwatch(c->srv->loop, c->fd);
	if (loop_watch(c->srv->loop, c->fd, want, client_readable, c)) {
		client_close(c);
		return false;
	}
	c->events = want;
	return true;
}

/* Write what is pending. Returns false when the client is gone. */
static bool client_flush(struct ctl_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			client_close(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	return client_rewatch(c);
}

/* Queue reply (consumed) and a newline. Returns false when the client is gone. */
static bool client_reply(struct ctl_client *c, char *reply)
{
	size_t len;
	char *nb;

	if (!reply)
		reply = ctl_error_reply("out of memory"); /* may be NULL too: the client is dropped */
	if (!reply) {
		client_close(c);
		return false;
	}
	len = strlen(reply);
	/* What was sent goes first: the buffer holds only what is still to send, so CTL_OUT_MAX bounds it. */
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + len + 1 > CTL_OUT_MAX) {
		pr_warn("api socket: a client does not read its replies: dropped");
		free(reply);
		client_close(c);
		return false;
	}
	nb = realloc(c->out, c->out_len + len + 1);
	if (!nb) {
		free(reply);
		client_close(c);
		return false;
	}
	c->out = nb;
	memcpy(c->out + c->out_len, reply, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	free(reply);
	return client_flush(c);
}

/* Answer the complete lines in c->in and keep the rest. Returns false when the client is gone. */
static bool client_lines(struct ctl_client *c)
{
	size_t start = 0;
	char *nl;

	while ((nl = memchr(c->in + start, '\n', c->in_len - start))) {
		size_t len = (size_t)(nl - (c->in + start));

		if (c->discarding)
			c->discarding = false;
		else if (!client_reply(c, ctl_request(c->srv->m, c->in + start, len)))
			return false;
		start += len + 1;
	}
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
	if (c->in_len == sizeof(c->in)) {
		/* No newline in CTL_LINE_MAX bytes: answer once, skip the rest of that line. */
		c->in_len = 0;
		if (!c->discarding) {
			c->discarding = true;
			return client_reply(c, ctl_error_reply("request line longer than 4096 bytes"));
		}
	}
	return true;
}

static void client_readable(void *opaque, int fd, short revents)
{
	struct ctl_client *c = opaque;
	size_t total = 0;

	if (c->fd != fd)
		return; /* closed (and maybe reused) since the poll */
	if ((revents & POLLOUT) && !client_flush(c))
		return;
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	while (total < CTL_READ_PER_WAKE) {
		ssize_t n = recv(fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* Hung up (a partial line gets no reply) or failed. */
			client_close(c);
			return;
		}
		total += (size_t)n;
		c->in_len += (size_t)n;
		if (!client_lines(c))
			return;
	}
}

static void listen_readable(void *opaque, int fd, short revents)
{
	struct ctl_server *s = opaque;
	struct ctl_client *c = NULL;
	char *busy;
	int cfd;

	if (s->fd != fd)
		return;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
			pr_err_ratelimited("api socket: accept: %s", strerror(errno));
		return;
	}
	for (unsigned int i = 0; i < CTL_MAX_CLIENTS && !c; i++)
		if (s->clients[i].fd < 0)
			c = &s->clients[i];
	if (!c || loop_watch(s->loop, cfd, POLLIN, client_readable, c)) {
		busy = ctl_error_reply(c ? "the event loop is full" : "too many clients (at most 4 at once)");
		if (busy) {
			(void)!send(cfd, busy, strlen(busy), MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)!send(cfd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		free(busy);
		close(cfd);
		return;
	}
	*c = (struct ctl_client){ .fd = cfd, .srv = s, .events = POLLIN };
}

int ctl_server_start(struct ctl_server *s, struct loop *l, const struct ctl_machine *m)
{
	int ret;

	s->loop = l;
	s->m = m;
	ret = loop_watch(l, s->fd, POLLIN, listen_readable, s);
	if (ret) {
		pr_err("api socket %s: cannot be watched by the event loop: %s", s->path, strerror(-ret));
		s->loop = NULL;
	}
	return ret;
}

void ctl_server_close(struct ctl_server *s)
{
	struct stat st;

	if (!s->path)
		return;
	for (unsigned int i = 0; i < CTL_MAX_CLIENTS; i++) {
		if (s->clients[i].fd >= 0 && s->loop)
			client_close(&s->clients[i]);
	}
	if (s->loop)
		loop_unwatch(s->loop, s->fd);
	s->loop = NULL;
	close(s->fd);
	s->fd = -1;
	/* Remove the file only if it is still the socket we made. */
	if (!lstat(s->path, &st) && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
	free(s->path);
	s->path = NULL;
}
