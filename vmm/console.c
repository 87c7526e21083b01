/* console.c: stdin -> UART receiver, with the Ctrl-A escape on terminals (see console.h). The UART's host
 * buffer gives back-pressure: while it is full ivmm stops reading stdin and waits on the UART's wake fd, so a
 * fast producer (a pipe, a file) never loses bytes however slowly the guest reads. */
#include <errno.h>
#include <string.h>
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
