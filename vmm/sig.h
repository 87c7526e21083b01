/* sig.h: the signals that end ivmm, SIGINT, SIGTERM and SIGHUP (exit status 128 + N), as one set for everyone
 * who handles them. main blocks them in its first line, before any thread exists (vm_block_signals), so a stop
 * signal stays pending until it is taken: by vm_run's signalfd while the guest runs, and before that by the
 * setup itself. vm_create and the long loops under it (vCPUs, each passthrough device, guest RAM pinned for
 * DMA chunk by chunk) call sig_stop_check() between steps and unwind everything with -EINTR; main then exits
 * with 128 + sig_stop_pending(). Nothing is consumed, so the signal that stopped the setup is still pending
 * when main names it. No state of its own: the pending set is the process's (one sigpending() call). */
#ifndef IVMM_SIG_H
#define IVMM_SIG_H

#include <signal.h>

/* Fill set with the stop signals (SIGINT, SIGTERM, SIGHUP; nothing else). */
void sig_stop_set(sigset_t *set);
/* The lowest-numbered stop signal pending (blocked and not yet taken) for this thread or the process, or 0. */
int sig_stop_pending(void);
/* -EINTR when a stop signal is pending (setup must unwind and end with 128 + sig_stop_pending()), else 0. */
int sig_stop_check(void);

#endif
