/* rig_assert.h: the assertions of the rigs shared by unit tests and fuzzers (tests/unit/vsmmu_rig.c,
 * vsmmu_garbage.c). Under Criterion (the default) they are Criterion's own assertions, so a unit test fails
 * with its message; built with -DIVMM_RIG_ABORT (the libFuzzer targets, tests/fuzz/) a failed one prints where,
 * what and the message to stderr and aborts, which libFuzzer reports as a crash with the input saved.
 * rig_assert(cond[, fmt, ...]), rig_assert_eq/neq/lt/leq/geq(a, b[, fmt, ...]), rig_assert_not_null(p[, ...]),
 * rig_fail(fmt, ...). */
#ifndef IVMM_TEST_RIG_ASSERT_H
#define IVMM_TEST_RIG_ASSERT_H

#ifdef IVMM_RIG_ABORT
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static inline void rig__fail(const char *file, int line, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 4, 5), noreturn));
static inline void rig__fail(const char *file, int line, const char *what, const char *fmt, ...)
{
	va_list ap;

	/* fmt is " " followed by the caller's format, if any (a format string may not be empty). */
	fprintf(stderr, "%s:%d: assertion failed: %s", file, line, what);
	if (fmt[1]) {
		fprintf(stderr, ":");
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fprintf(stderr, "\n");
	abort();
}

#define rig_assert(cond, ...) ((cond) ? (void)0 : rig__fail(__FILE__, __LINE__, #cond, " " __VA_ARGS__))
#define rig_assert_eq(a, b, ...) rig_assert((a) == (b), __VA_ARGS__)
#define rig_assert_neq(a, b, ...) rig_assert((a) != (b), __VA_ARGS__)
#define rig_assert_lt(a, b, ...) rig_assert((a) < (b), __VA_ARGS__)
#define rig_assert_leq(a, b, ...) rig_assert((a) <= (b), __VA_ARGS__)
#define rig_assert_geq(a, b, ...) rig_assert((a) >= (b), __VA_ARGS__)
#define rig_assert_not_null(p, ...) rig_assert((p) != NULL, __VA_ARGS__)
#define rig_fail(...) rig__fail(__FILE__, __LINE__, "rig_fail", " " __VA_ARGS__)
#else
#include <criterion/criterion.h>

#define rig_assert cr_assert
#define rig_assert_eq cr_assert_eq
#define rig_assert_neq cr_assert_neq
#define rig_assert_lt cr_assert_lt
#define rig_assert_leq cr_assert_leq
#define rig_assert_geq cr_assert_geq
#define rig_assert_not_null cr_assert_not_null
#define rig_fail cr_assert_fail
#endif

#endif
