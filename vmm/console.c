/* console.c: stdin -> UART receiver, with the Ctrl-A escape on terminals (see console.h). The UART's host
 * buffer gives back-pressure: while it is full ivmm stops reading stdin and waits on the UART's wake fd, so a
 * fast producer (a pipe, a file) never loses bytes however slowly the guest reads.
 * Output: a non-blocking stdout (console_out_open) and the event loop's flushing of UART output that found
 * stdout full, so that neither vCPUs nor the loop (and with it SIGINT/SIGTERM handling) ever wait on it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "devices/uart16550.h"
#include "vmm/console.h"
#include "vmm/log.h"

size_t console_filter(bool *esc, const u8 *in, size_t n, u8 *out, bool *quit, bool *help)
{
	size_t o = 0;

	*quit = false;
	*help = false;
	for (size_t i = 0; i < n; i++) {
		u8 ch = in[i];

		if (!*esc) {
			if (ch == CONSOLE_ESCAPE)
				*esc = true;
			else
				out[o++] = ch;
			continue;
		}
		*esc = false;
		switch (ch) {
		case 'x':
		case 'X':
			*quit = true;
			return o;
		case 'h':
		case 'H':
		case '?':
			*help = true;
			break;
		case CONSOLE_ESCAPE:
			out[o++] = CONSOLE_ESCAPE;
			break;
		default:
			out[o++] = CONSOLE_ESCAPE;
			out[o++] = ch;
			break;
		}
	}
	return o;
}

int console_init(struct console *c, int in_fd, struct uart16550 *uart)
{
	int ret;

	memset(c, 0, sizeof(*c));
	c->in_fd = in_fd;
	c->uart = uart;
	c->in_open = true;
	c->is_tty = isatty(in_fd);
	ret = term_raw(&c->term, in_fd);
	if (ret)
		return ret;
	return 0;
}

void console_fini(struct console *c)
{
	term_restore(&c->term);
}

int console_poll_fd(struct console *c)
{
	if (!c->in_open)
		return -1;
	/* A held Ctrl-A may come out together with the next key: then two bytes of room are needed. */
	if (!uart16550_rx_wait_room(c->uart, c->esc ? 2 : 1))
		return uart16550_wake_fd(c->uart);
	return c->in_fd;
}

int console_handle(struct console *c, int fd)
{
	u8 in[256], out[sizeof(in) + 1];
	size_t room, want, n_out;
	bool quit = false, help = false;
	ssize_t n;

	if (fd == uart16550_wake_fd(c->uart)) {
		u64 v;

		if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			pr_warn("console: reading the UART wake fd: %s", strerror(errno));
		return CONSOLE_OK;
	}
	room = uart16550_rx_room(c->uart);
	want = MIN(room, sizeof(in));
	if (c->esc && want)
		want--; /* a held Ctrl-A may come out with the next byte */
	if (!want)
		return CONSOLE_OK;
	n = read(c->in_fd, in, want);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return CONSOLE_OK;
		pr_debug("console: input closed (%s); the guest keeps running", strerror(errno));
		c->in_open = false;
		return CONSOLE_OK;
	}
	if (n == 0) {
		pr_debug("console: end of input; the guest keeps running");
		c->in_open = false;
		return CONSOLE_OK;
	}
	if (c->is_tty) {
		n_out = console_filter(&c->esc, in, (size_t)n, out, &quit, &help);
	} else {
		memcpy(out, in, (size_t)n);
		n_out = (size_t)n;
	}
	if (help)
		pr_info("console escapes: Ctrl-A x quit, Ctrl-A Ctrl-A send Ctrl-A, Ctrl-A h this help");
	if (n_out && uart16550_rx_push(c->uart, out, n_out) != n_out)
		pr_warn("console: UART input buffer overflow, input dropped");
	return quit ? CONSOLE_QUIT : CONSOLE_OK;
}

/* ---- output ---- */

int console_out_open(struct console_out *o, int fd)
{
	struct stat st;
	char path[64];
	int flags, nfd;

	o->fd = o->shared_fd = -1;
	if (fstat(fd, &st) < 0) {
		int ret = -errno;

		if (errno == EBADF) {
			/* Started with stdout closed (ivmm ... >&-): nowhere to write, like an unplugged cable. The
			 * UART sees fd -1, its first write fails and it discards guest output from then on. */
			pr_info("console: stdout (fd %d) is closed: guest output is discarded", fd);
			return 0;
		}

		pr_err("console: stdout (fd %d): %s", fd, strerror(errno));
		return ret;
	}
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (nfd < 0)
			goto err;
		o->fd = nfd;
		return 0;
	}
	if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		nfd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (nfd >= 0) {
			o->fd = nfd;
			return 0;
		}
		pr_debug("console: cannot reopen stdout through %s (%s): making it non-blocking in place", path,
			 strerror(errno));
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		goto err;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0)
		goto err;
	if (!(flags & O_NONBLOCK)) {
		if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
			close(nfd);
			goto err;
		}
		o->shared_fd = fd;
		o->saved_flags = flags;
	}
	o->fd = nfd;
	return 0;

err:
	nfd = -errno;
	pr_err("console: preparing stdout (fd %d) for non-blocking output: %s", fd, strerror(errno));
	return nfd;
}

void console_out_close(struct console_out *o)
{
	if (o->shared_fd >= 0)
		(void)fcntl(o->shared_fd, F_SETFL, o->saved_flags);
	if (o->fd >= 0)
		close(o->fd);
	o->fd = o->shared_fd = -1;
}

void console_out_pollfds(struct console *c, struct pollfd pfd[2])
{
	pfd[0] = (struct pollfd){ .fd = uart16550_tx_fd(c->uart), .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = -1, .events = POLLOUT };
	if (uart16550_tx_blocked(c->uart))
		pfd[1].fd = uart16550_out_fd(c->uart);
}

void console_out_handle(struct console *c, const struct pollfd pfd[2])
{
	bool kicked = pfd[0].revents & POLLIN;

	if (kicked) {
		u64 v;

		if (read(pfd[0].fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			pr_warn("console: reading the UART output fd: %s", strerror(errno));
	}
	/* POLLERR/POLLHUP too: the flush finds the failure and discards output from then on. */
	if (kicked || (pfd[1].fd >= 0 && pfd[1].revents))
		(void)uart16550_tx_flush(c->uart);
}

size_t console_out_drain(struct console *c, int abort_fd, int timeout_ms)
{
	size_t left;

	while (uart16550_tx_flush(c->uart) == -EAGAIN) {
		struct pollfd pfd[2] = {
			{ .fd = uart16550_out_fd(c->uart), .events = POLLOUT },
			{ .fd = abort_fd, .events = POLLIN },
		};
		int n = poll(pfd, 2, timeout_ms);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (pfd[1].revents & POLLIN))
			break;
	}
	left = uart16550_tx_pending(c->uart);
	if (left)
		pr_warn("console: %zu bytes of guest output dropped: stdout is not being read", left);
	return left;
}
