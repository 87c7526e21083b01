/* vsmmu_trace.c: the vSMMU's trace (the control socket's `trace NAME on|off [FILE]`, iommu/viommu.h): while on,
 * one line per guest command the queue consumes with what ivmm did with it, per iommufd call the vSMMU makes
 * with its result, and per global or command error raised, to stderr or a file (appended, line buffered).
 * At most VSMMU_TRACE_RATE lines a second: the lines past it in a second are counted and the next second's
 * first line says how many were left out. Lines are written with vs->lock held (VSMMU_TRACE in
 * vsmmu_internal.h costs one test while off). */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "iommu/vsmmu_internal.h"

void vsmmu_trace_line(struct vsmmu *vs, const char *fmt, ...)
{
	struct timespec now;
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((u64)now.tv_sec != vs->trace_sec) {
		if (vs->trace_dropped)
			fprintf(vs->trace, "trace: %s: %llu lines left out (at most %u a second)\n", vs->name,
				(unsigned long long)vs->trace_dropped, VSMMU_TRACE_RATE);
		vs->trace_sec = (u64)now.tv_sec;
		vs->trace_lines = 0;
		vs->trace_dropped = 0;
	}
	if (vs->trace_lines >= VSMMU_TRACE_RATE) {
		vs->trace_dropped++;
		return;
	}
	vs->trace_lines++;
	fprintf(vs->trace, "trace: %s: %lld.%06ld ", vs->name, (long long)now.tv_sec, now.tv_nsec / 1000);
	va_start(ap, fmt);
	vfprintf(vs->trace, fmt, ap);
	va_end(ap);
	fputc('\n', vs->trace);
}

/* With vs->lock held: stop tracing, closing a file of our own. */
static void trace_stop(struct vsmmu *vs)
{
	if (vs->trace && vs->trace != stderr)
		fclose(vs->trace);
	vs->trace = NULL;
}

int vsmmu_trace_set(struct vsmmu *vs, bool on, const char *path, char *err, size_t errlen)
{
	FILE *f = stderr;

	if (on && path) {
		/* Opened before taking the lock, without blocking (a FIFO with no reader would hang the main loop),
		 * mode 0600 (a trace holds STE words and addresses), and only a regular file: lines are written
		 * with the vSMMU's lock held, and a pipe whose reader stops would stall the vCPUs. */
		struct stat st;
		int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600);

		if (fd < 0) {
			int ret = -errno;

			snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
			return ret;
		}
		if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
			close(fd);
			snprintf(err, errlen, "%s is not a regular file", path);
			return -EINVAL;
		}
		f = fdopen(fd, "a");
		if (!f) {
			int ret = -errno;

			close(fd);
			snprintf(err, errlen, "cannot open %s: %s", path, strerror(-ret));
			return ret;
		}
		setvbuf(f, NULL, _IOLBF, 0);
	}
	pthread_mutex_lock(&vs->lock);
	trace_stop(vs);
	if (on) {
		vs->trace = f;
		vs->trace_sec = 0;
		vs->trace_dropped = 0;
		fprintf(f, "trace: %s: on\n", vs->name);
	}
	pthread_mutex_unlock(&vs->lock);
	return 0;
}

void vsmmu_trace_fini(struct vsmmu *vs)
{
	trace_stop(vs);
}
