/* corpus.c: replay a fuzz corpus directory in the unit tests (see corpus.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tests/unit/corpus.h"

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_dot(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

int corpus_replay(const char *subdir, size_t max, void (*fn)(const u8 *data, size_t len, const char *name, void *ctx),
		  void *ctx)
{
	const char *top = getenv("IVMM_TOP");
	struct dirent **names;
	char dir[512], path[1024];
	u8 *buf = malloc(max ? max : 1);
	int n, done = 0, ret = 0;

	if (!buf)
		return -ENOMEM;
	snprintf(dir, sizeof(dir), "%s/%s", top && top[0] ? top : ".", subdir);
	n = scandir(dir, &names, not_dot, name_cmp);
	if (n < 0) {
		ret = -errno;
		goto out_buf;
	}
	for (int i = 0; i < n; i++) {
		ssize_t len = -1;
		int fd = -1;

		if (!ret) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			fd = open(path, O_RDONLY);
			len = fd < 0 ? -1 : read(fd, buf, max);
			if (len < 0)
				ret = -errno;
		}
		if (fd >= 0)
			close(fd);
		if (len >= 0) {
			fn(buf, (size_t)len, names[i]->d_name, ctx);
			done++;
		}
		free(names[i]);
	}
	free(names);
out_buf:
	free(buf);
	return ret ? ret : done;
}
