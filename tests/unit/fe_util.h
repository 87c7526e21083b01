/* fe_util.h: helpers for the front-end and boot unit tests (test_cli, test_config_file, test_image,
 * test_layout, test_fdt): capture what a call prints on stderr/stdout, scratch directories and files,
 * synthetic arm64 Image headers. Criterion runs each test in its own process, so redirecting fds is safe. */
#ifndef IVMM_TEST_FE_UTIL_H
#define IVMM_TEST_FE_UTIL_H

#include <stddef.h>
#include "vmm/compiler.h"

struct vm_config;

struct capture {
	int fd;        /* 1 or 2 */
	int saved;     /* the original fd */
	int file;      /* temp file receiving the output */
};
/* Start sending fd (1 or 2) to a temp file. */
void capture_begin(struct capture *c, int fd);
/* Stop and return everything written meanwhile (malloc'd, NUL-terminated). */
char *capture_end(struct capture *c);

/* A fresh directory under /tmp (malloc'd path); scratch_rm() removes it recursively and frees the path. */
char *scratch_dir(void);
void scratch_rm(char *dir);
/* Write len bytes to dir/name (creating parents is not supported); returns malloc'd full path. */
char *scratch_file(const char *dir, const char *name, const void *data, size_t len);

/* A 64-byte arm64 Image header followed by payload bytes of 0xaa up to file_size (>= 64). */
void *fake_image(u64 text_offset, u64 image_size, u64 flags, size_t file_size);

/* Run cli_parse on a NULL-terminated list of arguments after "ivmm" with stderr captured.
 * Returns cli_parse's value; *err gets stderr (malloc'd); cfg is initialised by the call. */
int run_cli(struct vm_config *cfg, char **err, const char *const *args);

/* tmpl with every occurrence of key replaced by val (malloc'd); for expected messages and arguments that
 * name scratch files. */
char *subst(const char *tmpl, const char *key, const char *val);

/* Run argv[0] (a path) with stdin from /dev/null, stdout and stderr captured (malloc'd into *out, *err).
 * Returns its exit status; asserts that it exited normally. */
int run_program(const char *const *argv, char **out, char **err);

#endif
