/* log.h: ivmm's diagnostics. One line per message on stderr, prefixed "ivmm: "; guest-caused messages
 * go through log_guest(), which is rate limited per call site (across threads) so a misbehaving guest cannot
 * flood the host. */
#ifndef IVMM_LOG_H
#define IVMM_LOG_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "vmm/compiler.h"

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Errors, warnings and info lines always print; debug lines only with IVMM_LOG=debug in the environment. */
void log_msg(enum log_level lvl, const char *fmt, ...) __printf(2, 3);

#define pr_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define pr_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define pr_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* "Do not print this error", the one way ivmm says it: a per-call argument of the layer functions whose
 * caller may report a failure itself (iommu/iommufd.h, devices/vfio_dev.h). FAIL_PRINT: the layer that
 * detects the failure prints its one line (and records it in its last_err); FAIL_QUIET: it only records it,
 * and the caller prints it (rate-limited when a guest drove the call) or says it in its own words. */
enum fail_report { FAIL_PRINT, FAIL_QUIET };

/* One host-operation failure line "PREFIX: WHAT: strerror(-rc)[ (hint)]" (WHAT formatted from fmt/ap) into
 * buf (for callers that keep the last error, e.g. vfio_dev/iommufd last_err); hint may be NULL.
 * log_fail_format only formats; log_fail_into also prints it with pr_err. Both return rc. */
int log_fail_format(char *buf, size_t len, const char *prefix, int rc, const char *hint, const char *fmt,
		    va_list ap) __printf(6, 0);
int log_fail_into(char *buf, size_t len, const char *prefix, int rc, const char *hint, const char *fmt,
		  va_list ap) __printf(6, 0);

/* Rate limit: at most `burst` messages per `interval_s` seconds per state, whichever threads ask (the state
 * has its own lock: N vCPUs hitting one call site together still print `burst` lines, not N times that). */
struct ratelimit {
	pthread_mutex_t lock;
	time_t start;
	unsigned int printed;
	unsigned int missed;
};
#define RATELIMIT_INIT { .lock = PTHREAD_MUTEX_INITIALIZER }
bool ratelimit_ok(struct ratelimit *rl, unsigned int burst, unsigned int interval_s);

/* A guest mistake: warn, rate-limited per call site (10 per 5 s), across all threads. */
#define log_guest(...)                                                  \
	do {                                                            \
		static struct ratelimit rl__ = RATELIMIT_INIT;          \
		if (ratelimit_ok(&rl__, 10, 5))                         \
			log_msg(LOG_WARN, "guest: " __VA_ARGS__);       \
	} while (0)

/* A host-side failure on a path the guest can drive (memslots for BARs the guest moves, irqfd routes for the
 * vectors it programs): an error line like pr_err, but rate-limited per call site like log_guest, so the
 * first failures (those at VM setup included) print in full and a guest cannot flood stderr. */
#define pr_err_ratelimited(...)                                 \
	do {                                                    \
		static struct ratelimit rl__ = RATELIMIT_INIT;  \
		if (ratelimit_ok(&rl__, 10, 5))                 \
			log_msg(LOG_ERR, __VA_ARGS__);          \
	} while (0)

#endif
