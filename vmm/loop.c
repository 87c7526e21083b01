/* loop.c: the main thread's watch table (see loop.h): registration from any thread, a snapshot for each
 * poll() of the VM's event loop, the dispatch of what poll() reported, and the wake-up that makes a running
 * poll() see a change. The loop itself (signals, console, the stop event) is vm_run.c's. */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "vmm/log.h"
#include "vmm/loop.h"

int loop_init(struct loop *l)
{
	int ret;

	l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->wake_fd < 0) {
		ret = -errno;
		pr_err("vm: main loop wake eventfd: %s", strerror(errno));
		return ret;
	}
	ret = -pthread_mutex_init(&l->lock, NULL);
	if (ret) {
		pr_err("vm: watch lock mutex init: %s", strerror(-ret));
		close(l->wake_fd);
		l->wake_fd = -1;
		return ret;
	}
	for (unsigned int i = 0; i < LOOP_MAX_WATCHES; i++)
		l->watches[i].fd = -1;
	return 0;
}

void loop_fini(struct loop *l)
{
	close(l->wake_fd);
	l->wake_fd = -1;
	pthread_mutex_destroy(&l->lock);
}

static void wake_loop(struct loop *l)
{
	u64 one = 1;

	if (write(l->wake_fd, &one, sizeof(one)) != sizeof(one) && errno != EAGAIN)
		pr_warn("vm: cannot wake the main loop: %s", strerror(errno));
}

int loop_watch(struct loop *l, int fd, short events, loop_fn fn, void *opaque)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&l->lock);
	for (unsigned int i = 0; i < LOOP_MAX_WATCHES; i++)
		if (l->watches[i].fd == fd) {
			ret = -EEXIST;
			goto out;
		}
	for (unsigned int i = 0; i < LOOP_MAX_WATCHES; i++) {
		if (l->watches[i].fd < 0) {
			l->watches[i] = (struct loop_watch){ .fd = fd, .events = events, .fn = fn, .opaque = opaque };
			ret = 0;
			break;
		}
	}
out:
	pthread_mutex_unlock(&l->lock);
	if (!ret)
		wake_loop(l);
	return ret;
}

void loop_unwatch(struct loop *l, int fd)
{
	pthread_mutex_lock(&l->lock);
	for (unsigned int i = 0; i < LOOP_MAX_WATCHES; i++)
		if (l->watches[i].fd == fd)
			l->watches[i].fd = -1;
	pthread_mutex_unlock(&l->lock);
	wake_loop(l);
}

static int watcher_watch(void *ctx, int fd, short events, loop_fn fn, void *opaque)
{
	return loop_watch(ctx, fd, events, fn, opaque);
}

static void watcher_unwatch(void *ctx, int fd)
{
	loop_unwatch(ctx, fd);
}

struct loop_watcher loop_watcher(struct loop *l)
{
	return (struct loop_watcher){ .watch = watcher_watch, .unwatch = watcher_unwatch, .ctx = l };
}

unsigned int loop_snapshot(struct loop *l, struct pollfd *pfd, struct loop_watch *w)
{
	unsigned int n = 0;

	pthread_mutex_lock(&l->lock);
	for (unsigned int i = 0; i < LOOP_MAX_WATCHES; i++) {
		if (l->watches[i].fd < 0)
			continue;
		w[n] = l->watches[i];
		pfd[n++] = (struct pollfd){ .fd = l->watches[i].fd, .events = l->watches[i].events };
	}
	pthread_mutex_unlock(&l->lock);
	return n;
}

/* Called from the copy the poll was built from, without the table lock (so a device may loop_unwatch while
 * holding its own lock, which its callback takes too). */
void loop_dispatch(const struct pollfd *pfd, const struct loop_watch *w, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (pfd[i].revents)
			w[i].fn(w[i].opaque, pfd[i].fd, pfd[i].revents);
}

void loop_woken(struct loop *l)
{
	u64 v;

	(void)!read(l->wake_fd, &v, sizeof(v));
}
