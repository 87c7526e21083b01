/* term.h: the controlling terminal in raw mode while a guest owns the console, and its restoration on every
 * exit path (guest poweroff, error, SIGINT/SIGTERM, Ctrl-A x). */
#ifndef IVMM_TERM_H
#define IVMM_TERM_H

#include <stdbool.h>
#include <termios.h>
#include "vmm/compiler.h"

struct term {
	int fd;
	bool raw;                  /* we changed the settings and must restore them */
	struct termios saved;
};

/* If fd is a terminal: save its settings and switch to raw input (no echo, no line editing, no signals from
 * keys: Ctrl-C goes to the guest), keeping output post-processing so host messages still start a new line.
 * Not a terminal: nothing to do, returns 0. Returns -errno if the terminal refuses. */
int __must_check term_raw(struct term *t, int fd);
/* Put the saved settings back (no-op when term_raw changed nothing). */
void term_restore(struct term *t);

#endif
