/* term.c: raw mode on the console terminal and its restoration (see term.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "vmm/log.h"
#include "vmm/term.h"

int term_raw(struct term *t, int fd)
{
	struct termios raw;

	t->fd = fd;
	t->raw = false;
	if (!isatty(fd))
		return 0;
	if (tcgetattr(fd, &t->saved) < 0) {
		int ret = -errno;

		pr_err("terminal: tcgetattr: %s", strerror(errno));
		return ret;
	}
	raw = t->saved;
	raw.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXOFF);
	raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	raw.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
	raw.c_cflag |= CS8;
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSANOW, &raw) < 0) {
		int ret = -errno;

		pr_err("terminal: tcsetattr: %s", strerror(errno));
		return ret;
	}
	t->raw = true;
	return 0;
}

void term_restore(struct term *t)
{
	if (!t->raw)
		return;
	if (tcsetattr(t->fd, TCSANOW, &t->saved) < 0)
		pr_warn("terminal: could not restore settings: %s (run 'stty sane')", strerror(errno));
	t->raw = false;
}
