/* test_log_ratelimit.c: pr_err_ratelimited (vmm/log.h), used by the KVM backend on paths a guest drives: the
 * first failures print in full as errors, a flood from one call site stops at the burst, and call sites are
 * limited independently (a guest flooding one path does not silence another). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
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
