/* sig.c: the stop signals (see sig.h). */
#include <errno.h>
#include <signal.h>
#include "vmm/sig.h"

void sig_stop_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP); /* the terminal went away: the same clean end */
}

int sig_stop_pending(void)
{
	static const int stops[] = { SIGHUP, SIGINT, SIGTERM }; /* lowest number first, as the kernel delivers */
	sigset_t pending;

	if (sigpending(&pending))
		return 0;
	for (unsigned int i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
		if (sigismember(&pending, stops[i]) == 1)
			return stops[i];
	return 0;
}

int sig_stop_check(void)
{
	return sig_stop_pending() ? -EINTR : 0;
}
