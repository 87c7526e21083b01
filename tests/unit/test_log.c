/* test_log.c: the shared failure-line helper of vmm/log.h (used by vfio_dev and iommufd for last_err). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "vmm/log.h"
#include "tests/unit/cr_stderr.h"

static int __printf(5, 6) fmt_line(char *buf, size_t len, int rc, const char *hint, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = log_fail_format(buf, len, "vfio 0000:00:01.0", rc, hint, fmt, ap);
	va_end(ap);
	return ret;
}

static int __printf(4, 5) print_line(char *buf, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = log_fail_into(buf, len, "iommufd", rc, NULL, fmt, ap);
	va_end(ap);
	return ret;
}

Test(log, fail_line_with_and_without_hint)
{
	char buf[256];

	cr_assert_eq(fmt_line(buf, sizeof(buf), -EBUSY, NULL, "region %u read", 7), -EBUSY);
	cr_assert_str_eq(buf, "vfio 0000:00:01.0: region 7 read: Device or resource busy");
	cr_assert_eq(fmt_line(buf, sizeof(buf), -EINVAL, "try again", "ATTACH pt %u", 3), -EINVAL);
	cr_assert_str_eq(buf, "vfio 0000:00:01.0: ATTACH pt 3: Invalid argument (try again)");
	/* A short buffer is truncated, never overrun. */
	cr_assert_eq(fmt_line(buf, 8, -EIO, NULL, "x"), -EIO);
	cr_assert_str_eq(buf, "vfio 00");
}

Test(log, fail_into_prints_the_same_line, .init = cr_redirect_stderr)
{
	char buf[128], out[256] = "";

	cr_assert_eq(print_line(buf, sizeof(buf), -ENOENT, "IOAS_ALLOC"), -ENOENT);
	cr_assert_str_eq(buf, "iommufd: IOAS_ALLOC: No such file or directory");
	cr_assert_str_eq(cr_stderr_read(out, sizeof(out)), "ivmm: error: iommufd: IOAS_ALLOC: No such file or directory\n");
}
