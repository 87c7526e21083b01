/* test_console.c: the console's Ctrl-A escape filter, stdin -> UART with back-pressure and EOF (input through
 * a pipe, as in CI), and the output side: a non-blocking stdout and flushing/draining a console nobody reads. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <termios.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "devices/uart16550.h"
#include "tests/unit/fake_hv.h"
#include "vmm/console.h"

static size_t filt(bool *esc, const char *in, u8 *out, bool *quit, bool *help)
{
	return console_filter(esc, (const u8 *)in, strlen(in), out, quit, help);
}

Test(console, filter_passes_plain_input)
{
	bool esc = false, quit, help;
	u8 out[16];

	cr_assert_eq(filt(&esc, "ls -l\r", out, &quit, &help), 6);
	cr_assert_eq(memcmp(out, "ls -l\r", 6), 0);
	cr_assert_not(quit);
	cr_assert_not(help);
	cr_assert_not(esc);
}

Test(console, filter_quit_and_literal_escape)
{
	bool esc = false, quit, help;
	u8 out[16];

	cr_assert_eq(filt(&esc, "a\001\001b", out, &quit, &help), 3);
	cr_assert_eq(memcmp(out, "a\001b", 3), 0, "Ctrl-A Ctrl-A sends one Ctrl-A");
	cr_assert_eq(filt(&esc, "ab\001xcd", out, &quit, &help), 2);
	cr_assert(quit, "Ctrl-A x quits");
	cr_assert_eq(memcmp(out, "ab", 2), 0, "bytes before the escape still go out");
}

Test(console, filter_escape_split_across_reads)
{
	bool esc = false, quit, help;
	u8 out[16];

	cr_assert_eq(filt(&esc, "z\001", out, &quit, &help), 1);
	cr_assert(esc, "a trailing Ctrl-A is held");
	cr_assert_eq(filt(&esc, "x", out, &quit, &help), 0);
	cr_assert(quit);
	esc = false;
	cr_assert_eq(filt(&esc, "\001", out, &quit, &help), 0);
	cr_assert_eq(filt(&esc, "q", out, &quit, &help), 2, "Ctrl-A + other key sends both");
	cr_assert_eq(memcmp(out, "\001q", 2), 0);
	cr_assert_eq(filt(&esc, "\001h", out, &quit, &help), 0);
	cr_assert(help);
	cr_assert_not(quit);
}

Test(console, pipe_input_backpressure_and_eof)
{
	struct fake_hv fhv;
	struct uart16550 *u;
	struct mmio_region *r;
	struct console c;
	int in[2], out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	u8 data[UART_HOST_BUF_SIZE + 300];
	size_t got = 0;

	fake_hv_init(&fhv);
	cr_assert_geq(out_fd, 0);
	cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
	cr_assert_eq(uart16550_create(&fhv.hv, 0, 1, out_fd, &u), 0);
	r = uart16550_region(u);
	cr_assert_eq(console_init(&c, in[0], u), 0);
	cr_assert_not(c.is_tty);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (u8)(i * 7 + 3);
	cr_assert_eq(write(in[1], data, sizeof(data)), (ssize_t)sizeof(data));
	close(in[1]);

	/* The guest driver is up (FIFO on, RTS) and reads slowly while the host keeps feeding. */
	r->ops->write(r->opaque, UART_FCR, UART_FCR_ENABLE, 1);
	r->ops->write(r->opaque, UART_MCR, UART_MCR_RTS | UART_MCR_DTR, 1);
	for (int round = 0; round < 100000 && got < sizeof(data); round++) {
		int fd = console_poll_fd(&c);

		/* Input first, then the wake fd while the UART buffer is full, then -1 after EOF. */
		if (fd >= 0)
			cr_assert_eq(console_handle(&c, fd), CONSOLE_OK);
		if (fd == uart16550_wake_fd(u))
			cr_assert_eq(uart16550_rx_room(u), 0, "waiting on the wake fd only while the buffer is full");
		if (r->ops->read(r->opaque, UART_LSR, 1) & UART_LSR_DR) {
			u8 b = (u8)r->ops->read(r->opaque, UART_RBR, 1);

			cr_assert_eq(b, data[got], "byte %zu", got);
			got++;
		}
	}
	cr_assert_eq(got, sizeof(data), "every byte arrived, in order");
	/* EOF: reading stops, nothing else happens. */
	cr_assert_eq(console_poll_fd(&c), -1);
	cr_assert_not(c.in_open);
	console_fini(&c);
	uart16550_device(u)->ops->destroy(uart16550_device(u));
	close(in[0]);
	close(out_fd);
}

/* A pseudo-terminal stands in for the user's terminal. */
static void open_pty(int *master, int *slave)
{
	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert_geq(*master, 0);
	cr_assert_eq(grantpt(*master), 0);
	cr_assert_eq(unlockpt(*master), 0);
	*slave = open(ptsname(*master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert_geq(*slave, 0);
}

Test(console, terminal_raw_mode_and_restore)
{
	struct fake_hv fhv;
	struct uart16550 *u;
	struct termios before, raw, after;
	struct console c;
	int master, slave;

	fake_hv_init(&fhv);
	open_pty(&master, &slave);
	cr_assert_eq(uart16550_create(&fhv.hv, 0, 1, slave, &u), 0);
	cr_assert_eq(tcgetattr(slave, &before), 0);
	cr_assert(before.c_lflag & ICANON, "a fresh pty starts cooked");
	cr_assert_eq(console_init(&c, slave, u), 0);
	cr_assert(c.is_tty);
	cr_assert_eq(tcgetattr(slave, &raw), 0);
	cr_assert_eq(raw.c_lflag & (ICANON | ECHO | ISIG | IEXTEN), 0, "no line editing, echo or signal keys");
	cr_assert_eq(raw.c_iflag & (ICRNL | IXON), 0, "CR and Ctrl-S/Ctrl-Q reach the guest");
	cr_assert(raw.c_oflag & OPOST, "output processing kept for host messages");
	console_fini(&c);
	cr_assert_eq(tcgetattr(slave, &after), 0);
	cr_assert_eq(after.c_lflag, before.c_lflag);
	cr_assert_eq(after.c_iflag, before.c_iflag);
	cr_assert_eq(after.c_oflag, before.c_oflag);
	console_fini(&c); /* twice is harmless */
	uart16550_device(u)->ops->destroy(uart16550_device(u));
	close(slave);
	close(master);
}

Test(console, terminal_keys_reach_the_guest_and_ctrl_a_x_quits)
{
	struct fake_hv fhv;
	struct uart16550 *u;
	struct mmio_region *r;
	struct console c;
	int master, slave;
	char got[8] = { 0 };

	fake_hv_init(&fhv);
	open_pty(&master, &slave);
	cr_assert_eq(uart16550_create(&fhv.hv, 0, 1, slave, &u), 0);
	r = uart16550_region(u);
	r->ops->write(r->opaque, UART_FCR, UART_FCR_ENABLE, 1);
	r->ops->write(r->opaque, UART_MCR, UART_MCR_RTS, 1);
	cr_assert_eq(console_init(&c, slave, u), 0);
	/* Ctrl-C and CR go to the guest as bytes; Ctrl-A Ctrl-A as one Ctrl-A. */
	cr_assert_eq(write(master, "\003a\r\001\001", 5), 5);
	cr_assert_eq(console_handle(&c, console_poll_fd(&c)), CONSOLE_OK);
	for (int i = 0; i < 4; i++) {
		cr_assert(r->ops->read(r->opaque, UART_LSR, 1) & UART_LSR_DR);
		got[i] = (char)r->ops->read(r->opaque, UART_RBR, 1);
	}
	cr_assert_eq(memcmp(got, "\003a\r\001", 4), 0);
	cr_assert_eq(write(master, "\001x", 2), 2);
	cr_assert_eq(console_handle(&c, console_poll_fd(&c)), CONSOLE_QUIT);
	console_fini(&c);
	uart16550_device(u)->ops->destroy(uart16550_device(u));
	close(slave);
	close(master);
}

/* A Ctrl-A held at the end of one read needs room for two bytes: with one byte of room the console waits for
 * the guest instead of spinning or dropping a byte. */
Test(console, held_escape_waits_for_two_bytes_of_room)
{
	struct fake_hv fhv;
	struct uart16550 *u;
	struct mmio_region *r;
	struct console c;
	int master, slave, wake;
	u8 fill[UART_HOST_BUF_SIZE];

	fake_hv_init(&fhv);
	open_pty(&master, &slave);
	cr_assert_eq(uart16550_create(&fhv.hv, 0, 1, slave, &u), 0);
	r = uart16550_region(u);
	wake = uart16550_wake_fd(u);
	cr_assert_eq(console_init(&c, slave, u), 0);
	memset(fill, 'f', sizeof(fill));
	cr_assert_eq(uart16550_rx_push(u, fill, sizeof(fill) - 1), sizeof(fill) - 1, "one byte of room left");
	cr_assert_eq(write(master, "\001", 1), 1);
	cr_assert_eq(console_poll_fd(&c), slave);
	cr_assert_eq(console_handle(&c, slave), CONSOLE_OK);
	cr_assert(c.esc);
	cr_assert_eq(uart16550_rx_room(u), 1, "the Ctrl-A is held, not queued");
	cr_assert_eq(write(master, "q", 1), 1);
	cr_assert_eq(console_poll_fd(&c), wake, "one byte of room is not enough for Ctrl-A + q");
	/* The guest's driver comes up and reads: room appears, the wake fd fires. */
	r->ops->write(r->opaque, UART_MCR, UART_MCR_RTS, 1);
	(void)r->ops->read(r->opaque, UART_RBR, 1);
	cr_assert_eq(console_handle(&c, wake), CONSOLE_OK, "wake fd drained");
	cr_assert_eq(console_poll_fd(&c), slave);
	size_t room = uart16550_rx_room(u);
	cr_assert_geq(room, 2);
	cr_assert_eq(console_handle(&c, slave), CONSOLE_OK);
	cr_assert_eq(uart16550_rx_room(u), room - 2, "both bytes queued");
	cr_assert_not(c.esc);
	console_fini(&c);
	uart16550_device(u)->ops->destroy(uart16550_device(u));
	close(slave);
	close(master);
}

/* stdout as a blocking pipe (what a shell gives): the UART gets a non-blocking description of the same pipe,
 * and the caller's description keeps its flags, during the run and after. */
Test(console, output_is_non_blocking_without_touching_the_shared_stdout)
{
	struct console_out o;
	int p[2], flags;
	char junk[512], b;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_geq(fcntl(p[1], F_SETPIPE_SZ, 4096), 4096);
	flags = fcntl(p[1], F_GETFL);
	cr_assert_eq(console_out_open(&o, p[1]), 0);
	cr_assert_neq(o.fd, p[1]);
	cr_assert_eq(fcntl(p[1], F_GETFL), flags, "the shared description is unchanged");
	cr_assert(fcntl(o.fd, F_GETFL) & O_NONBLOCK);
	memset(junk, 'j', sizeof(junk));
	while (write(o.fd, junk, sizeof(junk)) > 0)
		;
	cr_assert_eq(errno, EAGAIN, "a full pipe says so instead of blocking");
	cr_assert_eq(read(p[0], &b, 1), 1);
	cr_assert_eq(b, 'j', "same pipe");
	console_out_close(&o);
	console_out_close(&o); /* twice is harmless */
	cr_assert_eq(o.fd, -1);
	cr_assert_eq(fcntl(p[1], F_GETFL), flags);
	close(p[0]);
	close(p[1]);
}

/* The end of a run with a console nobody reads (the reviewer's SIGTERM hang): the guest's queued output
 * waits for the reader at most the timeout, and a second signal (abort fd readable) ends the wait at once. */
Test(console, drain_of_a_full_console_ends_on_timeout_or_signal)
{
	struct fake_hv fhv;
	struct uart16550 *u;
	struct mmio_region *r;
	struct console c;
	struct console_out o;
	struct pollfd pfd[2];
	struct timespec t0, t1;
	int p[2], in[2], abort_ev[2];
	char junk[512];

	fake_hv_init(&fhv);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(abort_ev, O_CLOEXEC), 0);
	cr_assert_geq(fcntl(p[1], F_SETPIPE_SZ, 4096), 4096);
	cr_assert_eq(console_out_open(&o, p[1]), 0);
	cr_assert_eq(uart16550_create(&fhv.hv, 0, 1, o.fd, &u), 0);
	r = uart16550_region(u);
	cr_assert_eq(console_init(&c, in[0], u), 0);
	memset(junk, 'j', sizeof(junk));
	while (write(o.fd, junk, sizeof(junk)) > 0)
		;
	for (int i = 0; i < 100; i++)
		r->ops->write(r->opaque, UART_THR, 'g', 1);
	cr_assert_eq(uart16550_tx_pending(u), 100);

	/* The event loop polls stdout for room only while output waits. */
	console_out_pollfds(&c, pfd);
	cr_assert_eq(pfd[0].fd, uart16550_tx_fd(u));
	cr_assert_eq(pfd[1].fd, o.fd);
	cr_assert_eq(pfd[1].events, POLLOUT);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(console_out_drain(&c, abort_ev[0], 200), 100, "timeout: the bytes are dropped");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_lt(t1.tv_sec - t0.tv_sec, 3);
	cr_assert_eq(write(abort_ev[1], "s", 1), 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(console_out_drain(&c, abort_ev[0], 60000), 100, "a second signal ends the wait");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_lt(t1.tv_sec - t0.tv_sec, 3);

	/* A reader comes back: the event loop's flush gets the output out. */
	cr_assert_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	while (read(p[0], junk, sizeof(junk)) > 0)
		;
	console_out_pollfds(&c, pfd);
	cr_assert_geq(poll(pfd, 2, 1000), 1);
	cr_assert(pfd[1].revents & POLLOUT);
	console_out_handle(&c, pfd);
	cr_assert_eq(uart16550_tx_pending(u), 0);
	cr_assert_eq(console_out_drain(&c, abort_ev[0], 200), 0);

	console_fini(&c);
	uart16550_device(u)->ops->destroy(uart16550_device(u));
	console_out_close(&o);
	for (int i = 0; i < 2; i++) {
		close(p[i]);
		close(in[i]);
		close(abort_ev[i]);
	}
}

/* ivmm started with stdout closed (ivmm ... >&-): the VM still starts, output is discarded like on an
 * unplugged cable, and nothing blocks or waits at the end of the run. */
Test(console, closed_stdout_discards_output_instead_of_failing)
{
	struct fake_hv fhv;
	struct uart16550 *u;
	struct mmio_region *r;
	struct console c;
	struct console_out o;
	struct pollfd pfd[2];
	int in[2], abort_ev[2], closed;

	fake_hv_init(&fhv);
	cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(abort_ev, O_CLOEXEC), 0);
	closed = dup(in[0]);
	cr_assert_geq(closed, 0);
	close(closed); /* a descriptor number that is surely not open */
	cr_assert_eq(console_out_open(&o, closed), 0, "a closed stdout is not a setup error");
	cr_assert_eq(o.fd, -1);
	cr_assert_eq(o.shared_fd, -1);
	cr_assert_eq(uart16550_create(&fhv.hv, 0, 1, o.fd, &u), 0);
	r = uart16550_region(u);
	cr_assert_eq(console_init(&c, in[0], u), 0);
	for (int i = 0; i < 100; i++)
		r->ops->write(r->opaque, UART_THR, 'g', 1);
	cr_assert_eq(uart16550_tx_pending(u), 0, "output to a closed stdout is dropped, not queued");
	console_out_pollfds(&c, pfd);
	cr_assert_eq(pfd[1].fd, -1, "the event loop never waits for room on it");
	cr_assert_eq(console_out_drain(&c, abort_ev[0], 60000), 0);
	console_fini(&c);
	uart16550_device(u)->ops->destroy(uart16550_device(u));
	console_out_close(&o);
	console_out_close(&o);
	for (int i = 0; i < 2; i++) {
		close(in[i]);
		close(abort_ev[i]);
	}
}
