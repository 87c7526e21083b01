/* console.h: the host side of the guest console: ivmm's stdin feeds the UART's receiver (raw terminal when
 * stdin is a tty), the UART writes stdout. Works with stdin a pipe, a file or /dev/null: end of input only
 * stops reading, the guest keeps running. On a terminal, Ctrl-A is an escape key as in QEMU:
 *   Ctrl-A x       quit ivmm (exit status 0, like a QEMU quit)
 *   Ctrl-A Ctrl-A  send one Ctrl-A to the guest
 *   Ctrl-A h       print this help
 * (Ctrl-A followed by anything else sends both keys.) */
#ifndef IVMM_CONSOLE_H
#define IVMM_CONSOLE_H

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
