/* console.h: the host side of the guest console: ivmm's stdin feeds the UART's receiver (raw terminal when
 * stdin is a tty), the UART writes stdout. Works with stdin a pipe, a file or /dev/null: end of input only
 * stops reading, the guest keeps running. On a terminal, Ctrl-A is an escape key as in QEMU:
 *   Ctrl-A x       quit ivmm (exit status 0, like a QEMU quit)
 *   Ctrl-A Ctrl-A  send one Ctrl-A to the guest
 *   Ctrl-A h       print this help
 * (Ctrl-A followed by anything else sends both keys.) */
#ifndef IVMM_CONSOLE_H
#define IVMM_CONSOLE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include "vmm/compiler.h"
#include "vmm/term.h"

struct uart16550;

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

struct console {
	int in_fd;
	bool in_open;              /* still reading input (false after EOF or a read error) */
	bool is_tty;
	bool esc;                  /* Ctrl-A seen, waiting for the command key */
	struct term term;
	struct uart16550 *uart;
};

enum console_result { CONSOLE_OK = 0, CONSOLE_QUIT = 1 };

/* The guest's output side: a non-blocking descriptor for ivmm's stdout, so that a console nobody reads
 * (a full pipe, a stopped terminal) can never block a vCPU or the event loop. For a pipe or terminal a new
 * open file description is made through /proc/self/fd (O_NONBLOCK there does not touch the description
 * the shell and other processes share); regular files are used as they are (they do not block); anything
 * else (a socket, or no /proc) gets O_NONBLOCK on the shared description, restored by console_out_close. */
struct console_out {
	int fd;                    /* what the UART writes; -1 when closed */
	int shared_fd;             /* >= 0: O_NONBLOCK was set on this fd's description; restore saved_flags */
	int saved_flags;
};

/* Returns 0 or -errno (with a message). A closed fd (EBADF) is not an error: o->fd is -1 and the guest's
 * output is discarded (the UART treats the failing writes as a dead console). */
int __must_check console_out_open(struct console_out *o, int fd);
/* Safe on a closed or zeroed-and-fd=-1 struct, and more than once. */
void console_out_close(struct console_out *o);

/* The event loop's part of the output: fill pfd[0..1] (the UART's tx fd, and out_fd for POLLOUT while output
 * waits for room, else fd -1), then pass them back to console_out_handle after poll. */
void console_out_pollfds(struct console *c, struct pollfd pfd[2]);
void console_out_handle(struct console *c, const struct pollfd pfd[2]);
/* At the end of the run: write what the guest left queued, waiting for out_fd at most timeout_ms without
 * progress; gives up early (dropping the rest, with a message) when abort_fd becomes readable (a second
 * signal). Returns the number of bytes dropped. */
size_t console_out_drain(struct console *c, int abort_fd, int timeout_ms);

/* Start reading in_fd into uart (raw mode if in_fd is a terminal). Returns 0 or -errno. */
int __must_check console_init(struct console *c, int in_fd, struct uart16550 *uart);
/* Restore the terminal. Safe to call more than once. */
void console_fini(struct console *c);
/* The fd the event loop must poll for POLLIN now: the input, the UART's wake fd while its buffer is full, or
 * -1 when input has ended. */
int console_poll_fd(struct console *c);
/* fd (the one console_poll_fd returned) is readable: move input to the UART. Returns enum console_result. */
int console_handle(struct console *c, int fd);

/* The escape filter on its own: copies in[0..n) to out (room for n + 1 bytes) minus escape sequences,
 * carrying a pending Ctrl-A across calls in *esc. Sets *quit on Ctrl-A x (bytes after it are dropped) and
 * *help on Ctrl-A h. Returns the number of bytes written to out. */
size_t console_filter(bool *esc, const u8 *in, size_t n, u8 *out, bool *quit, bool *help);

#endif
