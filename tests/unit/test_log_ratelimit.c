/* test_log_ratelimit.c: pr_err_ratelimited (vmm/log.h), used by the KVM backend on paths a guest drives: the
 * first failures print in full as errors, a flood from one call site stops at the burst, call sites are
 * limited independently (a guest flooding one path does not silence another), and the limit of a call site
 * holds across threads (N vCPUs hitting it together print the burst once, not N times). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "vmm/log.h"
#include "tests/unit/cr_stderr.h"

static void site_a(unsigned int i)
{
	pr_err_ratelimited("kvm: site a %u", i);
}

static void site_b(void)
{
	pr_err_ratelimited("kvm: site b");
}

Test(log_ratelimit, a_flood_from_one_site_stops_at_the_burst, .init = cr_redirect_stderr)
{
	static char out[8192];
	unsigned int lines = 0, a = 0, b = 0;
	char *save = NULL;

	for (unsigned int i = 0; i < 1000; i++)
		site_a(i);
	site_b();
	cr_stderr_read(out, sizeof(out));
	cr_assert(strstr(out, "ivmm: error: kvm: site a 0\n"), "the first failure prints in full as an error:\n%s",
		  out);
	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		lines++;
		a += strstr(l, "site a") != NULL;
		b += strstr(l, "site b") != NULL;
	}
	/* 10 per 5 s; a slow runner may cross one window boundary, which allows one more burst and a
	 * "suppressed" line, never the 1000. */
	cr_assert(a == 10 || a == 20, "site a printed %u lines", a);
	cr_assert_eq(b, 1, "another call site is not silenced by the flood");
	cr_assert_leq(lines, 23);
}

/* One call site reached by every thread: log_guest() as a guest error on 8 vCPUs at once would be. */
static void site_shared(unsigned int i)
{
	log_guest("site shared %u", i);
}

struct flood {
	pthread_barrier_t *start;
	unsigned int n;
};

static void *flood_thread(void *arg)
{
	struct flood *f = arg;

	pthread_barrier_wait(f->start);
	for (unsigned int i = 0; i < f->n; i++)
		site_shared(i);
	return NULL;
}

Test(log_ratelimit, one_call_site_is_limited_across_threads, .init = cr_redirect_stderr)
{
	enum { THREADS = 8 };
	static char out[65536];
	pthread_barrier_t start;
	pthread_t t[THREADS];
	struct flood f;
	unsigned int lines = 0;
	char *save = NULL;

	cr_assert_eq(pthread_barrier_init(&start, NULL, THREADS), 0);
	f = (struct flood){ .start = &start, .n = 200 };
	for (unsigned int i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, flood_thread, &f), 0);
	for (unsigned int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	cr_stderr_read(out, sizeof(out));
	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		lines += strstr(l, "ivmm: warning: guest: site shared ") != NULL;
	/* 10 per 5 s for the call site as a whole (one window boundary may allow a second burst); a per-thread
	 * limit would let 8 x 10 through. */
	cr_assert(lines == 10 || lines == 20, "%u threads printed %u lines from one call site", THREADS, lines);
}
