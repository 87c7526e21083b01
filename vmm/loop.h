/* loop.h: the main thread's watch table and the one watch contract. A device model that needs an fd served
 * on the main thread (the vSMMU's vEVENTQ) is handed a struct loop_watcher and calls its watch/unwatch; the
 * VM's event loop (vmm/vm_run.c) polls the fds a struct loop holds and calls their loop_fn. The contract is
 * here, at the bottom of the tree, so devices/ and iommu/ use it without including the VM. */
#ifndef IVMM_LOOP_H
#define IVMM_LOOP_H

#include <poll.h>
#include <pthread.h>
#include "vmm/compiler.h"

/* Called on the main thread when poll() reports one of the watched events (revents) on fd. */
typedef void (*loop_fn)(void *opaque, int fd, short revents);

/* How a model reaches the main loop: watch(ctx, fd, events, fn, opaque) and unwatch(ctx, fd), with the
 * contract of loop_watch()/loop_unwatch() below. watch NULL: there is no main loop (unit tests), the model
 * does without the fd. loop_watcher() gives the one over a struct loop. */
struct loop_watcher {
	int (*watch)(void *ctx, int fd, short events, loop_fn fn, void *opaque);
	void (*unwatch)(void *ctx, int fd);
	void *ctx;
};

#define LOOP_MAX_WATCHES 16

struct loop_watch {
	int fd;                      /* -1: free slot */
	short events;
	loop_fn fn;
	void *opaque;
};

/* The registered fds; wake_fd makes a running poll() see a change. */
struct loop {
	pthread_mutex_t lock;
	struct loop_watch watches[LOOP_MAX_WATCHES];
	int wake_fd;
};

/* Set up an empty table (before any device that may register an fd). 0 or -errno after one message; nothing
 * kept on error. */
int __must_check loop_init(struct loop *l);
/* Undo loop_init() (nothing is polled any more). */
void loop_fini(struct loop *l);
/* Have the main loop call fn(opaque, fd, revents) when poll() reports one of events on fd. From any thread;
 * a change wakes a running poll(). fn runs on the main thread without any lock of the table held, so it may
 * take its device's lock, and a device may call loop_watch/loop_unwatch with its lock held. Contract for the
 * owner: opaque stays valid until the loop has stopped, and fn may run once more for an fd unwatched while a
 * poll was under way, so fn checks, under its own lock, that fd is still the one it owns (the fd number may
 * have been reused). Returns 0, -EEXIST (fd already watched) or -ENOSPC (LOOP_MAX_WATCHES). */
int __must_check loop_watch(struct loop *l, int fd, short events, loop_fn fn, void *opaque);
/* Stop watching fd (see loop_watch for the callback that may still be on its way). */
void loop_unwatch(struct loop *l, int fd);
/* The watcher a model is given for l (ctx = l). */
struct loop_watcher loop_watcher(struct loop *l);

/* For the poller (the main thread): copy the registered watches into w and their pollfds into pfd (room for
 * LOOP_MAX_WATCHES each) under the table's lock; returns how many. */
unsigned int loop_snapshot(struct loop *l, struct pollfd *pfd, struct loop_watch *w);
/* Call the callbacks of the n watches of a snapshot whose pollfd has revents, without the table's lock. */
void loop_dispatch(const struct pollfd *pfd, const struct loop_watch *w, unsigned int n);
/* Consume a wake-up (wake_fd readable: the table changed, the next snapshot sees it). */
void loop_woken(struct loop *l);

#endif
