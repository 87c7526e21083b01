/* log.c: stderr logging with levels and rate limiting (see log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vmm/log.h"

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const tag[] = { "error: ", "warning: ", "", "debug: " };
	char buf[1024];
	va_list ap;

	if (lvl == LOG_DEBUG) {
		const char *e = getenv("IVMM_LOG");

		if (!e || strcmp(e, "debug"))
			return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* One write per line so lines from vCPU threads do not interleave. */
	fprintf(stderr, "ivmm: %s%s\n", tag[lvl], buf);
}

bool ratelimit_ok(struct ratelimit *rl, unsigned int burst, unsigned int interval_s)
{
	time_t now = time(NULL);

	if (now - rl->start >= (time_t)interval_s) {
		if (rl->missed)
			log_msg(LOG_WARN, "%u messages suppressed", rl->missed);
		rl->start = now;
		rl->printed = 0;
		rl->missed = 0;
	}
	if (rl->printed < burst) {
		rl->printed++;
		return true;
	}
	rl->missed++;
	return false;
}
