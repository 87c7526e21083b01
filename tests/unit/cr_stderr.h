/* cr_stderr.h: reading what a test wrote to stderr under Criterion's cr_redirect_stderr (.init), for tests
 * that assert exact diagnostics. Reading consumes the text: read once, after the actions under test. */
#ifndef IVMM_TEST_CR_STDERR_H
#define IVMM_TEST_CR_STDERR_H

#include <criterion/redirect.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Read the redirected stderr written so far into buf (NUL-terminated, truncated to len - 1 bytes). */
static inline const char *cr_stderr_read(char *buf, size_t len)
{
	size_t n;

	fflush(stderr);
	n = fread(buf, 1, len - 1, cr_get_redirected_stderr());
	buf[n] = '\0';
	return buf;
}

/* Does the redirected stderr written so far contain text? (Consumes it.) */
static inline bool cr_stderr_has(const char *text)
{
	static char buf[65536];

	return strstr(cr_stderr_read(buf, sizeof(buf)), text) != NULL;
}

/* How many times needle occurs in text (overlapping ones too). */
static inline unsigned int cr_text_count(const char *text, const char *needle)
{
	unsigned int n = 0;

	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

#endif
