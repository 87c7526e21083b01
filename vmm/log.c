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

int log_fail_format(char *buf, size_t len, const char *prefix, int rc, const char *hint, const char *fmt,
		    va_list ap)
{
	char what[384];

	vsnprintf(what, sizeof(what), fmt, ap);
	snprintf(buf, len, "%s: %s: %s%s%s%s", prefix, what, strerror(-rc), hint ? " (" : "", hint ? hint : "",
		 hint ? ")" : "");
	return rc;
}

int log_fail_into(char *buf, size_t len, const char *prefix, int rc, const char *hint, const char *fmt,
		  va_list ap)
{
	log_fail_format(buf, len, prefix, rc, hint, fmt, ap);
	pr_err("%s", buf);
	return rc;
}

bool ratelimit_ok(struct ratelimit *rl, unsigned int burst, unsigned int interval_s)
{
	time_t now = time(NULL);
	unsigned int missed = 0;
	bool ok;

	pthread_mutex_lock(&rl->lock);
	if (now - rl->start >= (time_t)interval_s) {
		missed = rl->missed;
		rl->start = now;
		rl->printed = 0;
		rl->missed = 0;
	}
	ok = rl->printed < burst;
	if (ok)
		rl->printed++;
	else
		rl->missed++;
	pthread_mutex_unlock(&rl->lock);
	/* Printed outside the lock: one slow stderr write does not hold up the other threads. */
	if (missed)
		log_msg(LOG_WARN, "%u messages suppressed", missed);
	return ok;
}
