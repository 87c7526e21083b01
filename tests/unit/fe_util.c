/* fe_util.c: helpers for the front-end and boot unit tests (see fe_util.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tests/unit/fe_util.h"
#include "vmm/cli.h"
#include "vmm/config.h"

void capture_begin(struct capture *c, int fd)
{
	char path[] = "/tmp/ivmm-capture-XXXXXX";

	fflush(fd == 1 ? stdout : stderr);
	c->fd = fd;
	c->file = mkstemp(path);
	cr_assert(c->file >= 0);
	unlink(path);
	c->saved = dup(fd);
	cr_assert(c->saved >= 0);
	cr_assert(dup2(c->file, fd) == fd);
}

char *capture_end(struct capture *c)
{
	off_t len;
	char *out;

	fflush(c->fd == 1 ? stdout : stderr);
	cr_assert(dup2(c->saved, c->fd) == c->fd);
	close(c->saved);
	len = lseek(c->file, 0, SEEK_END);
	cr_assert(len >= 0);
	out = calloc(1, (size_t)len + 1);
	cr_assert(out);
	cr_assert(pread(c->file, out, (size_t)len, 0) == len);
	close(c->file);
	return out;
}

char *scratch_dir(void)
{
	char *dir = strdup("/tmp/ivmm-test-XXXXXX");

	cr_assert(dir && mkdtemp(dir));
	return dir;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void scratch_rm(char *dir)
{
	if (dir)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

char *scratch_file(const char *dir, const char *name, const void *data, size_t len)
{
	char *path;
	FILE *f;

	cr_assert(asprintf(&path, "%s/%s", dir, name) > 0);
	f = fopen(path, "w");
	cr_assert(f, "cannot create %s", path);
	cr_assert(fwrite(data, 1, len, f) == len);
	cr_assert(fclose(f) == 0);
	return path;
}

static void put_le(u8 *p, u64 v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (u8)(v >> (8 * i));
}

void *fake_image(u64 text_offset, u64 image_size, u64 flags, size_t file_size)
{
	u8 *img;

	cr_assert(file_size >= 64);
	img = malloc(file_size);
	cr_assert(img);
	memset(img, 0xaa, file_size);
	memset(img, 0, 64);
	put_le(img + 0x00, 0x14000010, 4);   /* b +0x40: what code0 of a real Image looks like */
	put_le(img + 0x08, text_offset, 8);
	put_le(img + 0x10, image_size, 8);
	put_le(img + 0x18, flags, 8);
	memcpy(img + 0x38, "ARM\x64", 4);
	return img;
}

int run_cli(struct vm_config *cfg, char **err, const char *const *args)
{
	char *argv[64];
	struct capture c;
	enum cli_action action;
	int argc = 0, ret;

	argv[argc++] = (char *)"ivmm";
	while (*args && argc < 63)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	vm_config_init(cfg);
	capture_begin(&c, 2);
	ret = cli_parse(argc, argv, cfg, &action);
	*err = capture_end(&c);
	if (!ret)
		cr_assert_eq(action, CLI_RUN, "run_cli is for 'run' command lines");
	return ret;
}

char *subst(const char *tmpl, const char *key, const char *val)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	const char *p;

	cr_assert(f);
	cr_assert(key[0]);
	while ((p = strstr(tmpl, key))) {
		fprintf(f, "%.*s%s", (int)(p - tmpl), tmpl, val);
		tmpl = p + strlen(key);
	}
	fputs(tmpl, f);
	cr_assert_eq(fclose(f), 0);
	return out;
}

static int temp_fd(void)
{
	char path[] = "/tmp/ivmm-out-XXXXXX";
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	unlink(path);
	return fd;
}

static char *slurp_fd(int fd)
{
	off_t len = lseek(fd, 0, SEEK_END);
	char *s;

	cr_assert(len >= 0);
	s = calloc(1, (size_t)len + 1);
	cr_assert(s);
	cr_assert(pread(fd, s, (size_t)len, 0) == len);
	close(fd);
	return s;
}

/* One attempt; the exec errno comes back through a close-on-exec pipe (0 when exec worked). */
static int run_once(const char *const *argv, char **out, char **err, int *exec_errno)
{
	int ofd = temp_fd(), efd = temp_fd(), status, pfd[2];
	pid_t pid;

	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY), e;

		close(pfd[0]);
		if (in < 0 || dup2(in, 0) < 0 || dup2(ofd, 1) < 0 || dup2(efd, 2) < 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		e = errno;
		if (write(pfd[1], &e, sizeof(e)) != sizeof(e))
			_exit(126);
		_exit(127);
	}
	close(pfd[1]);
	*exec_errno = 0;
	if (read(pfd[0], exec_errno, sizeof(*exec_errno)) != sizeof(*exec_errno))
		*exec_errno = 0;
	close(pfd[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	*out = slurp_fd(ofd);
	*err = slurp_fd(efd);
	return status;
}

int run_program(const char *const *argv, char **out, char **err)
{
	int status, exec_errno;

	/* The build tree is shared: a concurrent relink of the binary makes exec fail with ETXTBSY for a
	 * moment. That, and only that, is retried. */
	for (int tries = 0;; tries++) {
		status = run_once(argv, out, err, &exec_errno);
		if (exec_errno != ETXTBSY || tries == 20)
			break;
		free(*out);
		free(*err);
		usleep(100 * 1000);
	}
	cr_assert_eq(exec_errno, 0, "cannot run %s: %s", argv[0], strerror(exec_errno));
	cr_assert(WIFEXITED(status), "%s did not exit normally (status 0x%x)", argv[0], status);
	return WEXITSTATUS(status);
}
