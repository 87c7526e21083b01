/* vsmmu_race.c: a ThreadSanitizer test of the vSMMU's concurrency claims (docs/vsmmu.md, "Events" and
 * "Threads"): the event path (the main loop's vEVENTQ callback writing the guest's EVTQ ring) and the STE
 * and queue-control path (vCPUs' MMIO) are safe against each other: no vDEVICE or vEVENTQ is used after it
 * was freed, no record is written after EVTQEN was cleared, no wakeup is lost. A standalone program, not
 * Criterion (which does not mix well with TSan), built by `make tsan` with -fsanitize=thread from the
 * library sources it needs and the unit tests' fakes; the fakes are not thread-safe and are used, like the
 * kernel's own locking, under the vSMMU's ictx_lock (the producer takes it too).
 *
 * Threads, for TIME seconds (argv[1], default 4):
 *   loop      the VM's main loop as vmm/vm.c runs it (the contract of vmm/loop.h): a watch table under
 *             a mutex filled by cfg.loop.watch/unwatch (the vEVENTQ fd changes at every EVTQEN 0->1), an eventfd
 *             that wakes poll() when it changes, poll() on a copy and the callbacks called from the copy
 *             without the table lock, so one may run once more for an fd just unwatched (counted: "late");
 *             now and then it dawdles before the callbacks, so a vCPU can even have watched a new fd by then
 *   producer  the kernel: pushes records into whichever vEVENTQ is live, as fast as its pipe takes them;
 *             each record carries a producer sequence number, its vEVENTQ's id and a checksum
 *   vcpu0     STE rewrites of stream 0 (stage 1 with two CDs, bypass, abort) + CFGI_STE + CMD_SYNC under the
 *             guest driver's lock, and GBPA toggles (which act while vcpu1 has SMMUEN off)
 *   vcpu1     the guest's event handler (reads the ring from EVTQ_CONS to EVTQ_PROD, acknowledges
 *             overflows), STE rewrites of stream 1, EVTQEN off/on toggles (every other one with a new ring
 *             size; every other one with a pipe holding garbage squatting the old vEVENTQ's fd numbers
 *             meanwhile, as another device's fds would), SMMUEN off/on toggles
 * Checked: every record in the guest's ring is one the producer wrote (checksum), in producer order and in
 * vEVENTQ order; while EVTQEN is 0 no vEVENTQ is live or watched and the ring and EVTQ_PROD do not change;
 * after EVTQEN=1 exactly one vEVENTQ is live, watched, as deep as the ring; an fd leaves the loop before it
 * is closed, and a late callback reads nothing (not the squatter's garbage); the main loop never stops reading
 * a full vEVENTQ for long, and drains it at the end (no lost wakeup); every record pushed is delivered,
 * dropped (ring full) or died unread with its vEVENTQ, and the guest read exactly the delivered ones; the
 * interrupt counters match the fake hv; no error line was logged; vsmmu_destroy leaves only the IOAS, every
 * device detached, nothing watched and no fd open. The fake's object ids are never reused, so allocating
 * operations are paced over the run to stay within FAKE_IOMMUFD_MAX_OBJS.
 *
 * Prints one line, "vsmmu_race: ok: ..." or "vsmmu_race: FAIL: ...", and exits 0 only when the invariants hold
 * and TSan reported nothing (its options here: halt_on_error=1, exitcode=66; TSAN_OPTIONS may override). */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sanitizer/common_interface_defs.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "boot/layout.h"
#include "iommu/smmuv3_regs.h"
#include "iommu/vsmmu.h"
#include "tests/unit/fake_hv.h"
#include "tests/unit/fake_iommufd.h"
#include "tests/unit/fake_vfio.h"
#include "vmm/viommu_vfio.h"

#define NDEV 2
#define RAM LAYOUT_RAM_BASE
#define RAM_SIZE (4 * SZ_1M)
#define STRTAB (RAM + 0x00000)
#define STRTAB_LOG2 8
#define CD_A (RAM + 0x10000)
#define CD_B (RAM + 0x10040)
#define CMDQ (RAM + 0x20000)
#define CMDQ_LOG2 8
#define EVTQ (RAM + 0x60000)
#define EVTQ_LOG2_MAX 6
#define FRAME LAYOUT_VSMMU_FRAME(0)
#define SPI_EVTQ LAYOUT_SPI_VSMMU(0, LAYOUT_VSMMU_SPI_EVTQ)
#define SPI_GERROR LAYOUT_SPI_VSMMU(0, LAYOUT_VSMMU_SPI_GERROR)
#define SPI_SYNC LAYOUT_SPI_VSMMU(0, LAYOUT_VSMMU_SPI_SYNC)
#define EVTQ_PROD_OFF (SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD)
#define EVTQ_CONS_OFF (SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_CONS)
#define REC_SIZE IOMMUFD_VEVENT_SMMUV3_SIZE
#define REC_MAGIC 0x7e57ULL
#define LOOP_MAX 4
#define STALL_MAX_S 2.0   /* a full vEVENTQ nobody reads for this long: a lost wakeup */
#define DRAIN_MAX_S 5.0

/* ---- the main loop (the contract of vmm/loop.h) ---- */

struct race_slot {
	int fd;
	loop_fn fn;
	void *opaque;
	ino_t ino;                         /* the file fd named when watched */
};

struct race_loop {
	pthread_mutex_t lock;
	struct race_slot w[LOOP_MAX];
	unsigned int n;
	unsigned int watches, unwatches;  /* under lock */
	int wake_fd;
	atomic_bool stop;
	u64 callbacks, late;               /* loop thread only (read after join) */
	struct race *race;
};

/* ---- the whole test ---- */

/* What allocates fake ids, each with its share of the run's budget (one thread each). */
enum alloc_kind { ALLOC_STE0, ALLOC_STE1, ALLOC_EVTQEN, ALLOC_SMMUEN, ALLOC_KINDS };
static const double alloc_share[ALLOC_KINDS] = { 0.4, 0.1, 0.25, 0.25 };

struct race {
	/* What a VM gives a vSMMU, on the fakes. */
	struct fake_iommufd fi;
	struct iommufd ictx;
	pthread_mutex_t ictx_lock;
	struct fake_vfio fv[NDEV];
	struct vfio_dev dev[NDEV];
	u32 vdevice[NDEV];                 /* the vDEVICE ids the vSMMU made */
	struct fake_hv fh;
	struct guest_mem mem;
	u32 ioas;
	struct viommu_config cfg;
	struct vsmmu *vs;
	struct mmio_region *reg;
	struct race_loop loop;

	/* Run control. */
	double t0, duration;
	u32 id0, id_budget;                /* fake ids in use at the start; how many the run may use */
	u32 ids_taken[ALLOC_KINDS];        /* of the budget, by kind (each kind by one thread) */
	atomic_bool stop;                  /* producer and vCPUs */
	atomic_bool failed;
	pthread_mutex_t fail_lock;
	char why[512];

	/* The guest driver: its lock over the stream table and the command queue, its queue producer. */
	pthread_mutex_t guest_lock;
	u32 cmdq_prod;                     /* under guest_lock */
	/* vcpu1 (and main after the join): CR0 as written, the event ring and what was read from it. */
	u32 cr0;
	unsigned int evtq_log2;
	u32 evtq_cons, ovack;
	u64 consumed, overflows_seen, last_pseq, last_vq;
	bool seen_any;
	u64 evtq_toggles, smmuen_toggles, ste_rewrites[NDEV], gbpa_toggles;
	u8 snap[32u << EVTQ_LOG2_MAX];
	int squat[2];                      /* a pipe holding the old vEVENTQ's fd numbers, -1 = none */
	u64 squats;

	/* Producer. */
	u64 pushed, pipe_full, veventqs_used;
	double max_stall;
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void __printf(2, 3) fail(struct race *r, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&r->fail_lock);
	if (!atomic_load(&r->failed)) {
		va_start(ap, fmt);
		vsnprintf(r->why, sizeof(r->why), fmt, ap);
		va_end(ap);
		atomic_store(&r->failed, true);
	}
	pthread_mutex_unlock(&r->fail_lock);
	atomic_store(&r->stop, true);
}

static bool running(struct race *r)
{
	return !atomic_load(&r->stop) && !atomic_load(&r->failed);
}

/* ---- the main loop thread ---- */

static void wake(struct race_loop *l)
{
	u64 one = 1;

	if (write(l->wake_fd, &one, sizeof(one)) != sizeof(one))
		fail(l->race, "main loop wake: %s", strerror(errno));
}

/* cfg.loop.watch: called by the vSMMU with its lock held, from a vCPU (EVTQEN 0->1). */
static int race_watch(void *ctx, int fd, short events, loop_fn fn, void *opaque)
{
	struct race_loop *l = ctx;
	struct stat sb;
	int rc = fstat(fd, &sb) ? -errno : 0;

	pthread_mutex_lock(&l->lock);
	for (unsigned int i = 0; i < l->n; i++)
		if (l->w[i].fd == fd)
			rc = -EEXIST;
	if (!rc && l->n == LOOP_MAX)
		rc = -ENOSPC;
	if (!rc) {
		l->w[l->n++] = (struct race_slot){ fd, fn, opaque, sb.st_ino };
		l->watches++;
	}
	pthread_mutex_unlock(&l->lock);
	if (rc)
		fail(l->race, "watch of fd %d: %s", fd, strerror(-rc));
	else
		wake(l);
	return rc;
}

static void race_unwatch(void *ctx, int fd)
{
	struct race_loop *l = ctx;
	bool found = false, same = false;
	struct stat sb;

	pthread_mutex_lock(&l->lock);
	for (unsigned int i = 0; i < l->n; i++)
		if (l->w[i].fd == fd) {
			/* The fd must leave the loop before it is closed (its number could be reused). */
			same = !fstat(fd, &sb) && sb.st_ino == l->w[i].ino;
			l->w[i] = l->w[--l->n];
			found = true;
			break;
		}
	if (found)
		l->unwatches++;
	pthread_mutex_unlock(&l->lock);
	if (!found)
		fail(l->race, "unwatch of fd %d, which is not watched", fd);
	else if (!same)
		fail(l->race, "fd %d was closed (or reused) before it was unwatched", fd);
	wake(l);
}

static bool loop_has(struct race_loop *l, const struct race_slot *w)
{
	bool has = false;

	pthread_mutex_lock(&l->lock);
	for (unsigned int i = 0; i < l->n; i++)
		has |= l->w[i].fd == w->fd && l->w[i].fn == w->fn && l->w[i].opaque == w->opaque;
	pthread_mutex_unlock(&l->lock);
	return has;
}

static void *loop_main(void *arg)
{
	struct race_loop *l = arg;
	u64 round = 0;

	while (!atomic_load(&l->stop)) {
		struct pollfd pfd[1 + LOOP_MAX] = { { .fd = l->wake_fd, .events = POLLIN } };
		struct race_slot copy[LOOP_MAX];
		unsigned int n;
		u64 v;

		pthread_mutex_lock(&l->lock);
		n = l->n;
		memcpy(copy, l->w, n * sizeof(copy[0]));
		pthread_mutex_unlock(&l->lock);
		for (unsigned int i = 0; i < n; i++)
			pfd[1 + i] = (struct pollfd){ .fd = copy[i].fd, .events = POLLIN };
		if (poll(pfd, 1 + n, 100) < 0) {
			if (errno == EINTR)
				continue;
			fail(l->race, "main loop poll: %s", strerror(errno));
			return NULL;
		}
		if (pfd[0].revents & POLLIN)
			(void)!read(l->wake_fd, &v, sizeof(v));
		/* Now and then the loop is busy elsewhere (console output, other devices) before the watches:
		 * a vCPU may meanwhile unwatch an fd of the copy, and even watch a new one. */
		if (++round % 8 == 0)
			usleep(500);
		for (unsigned int i = 0; i < n; i++) {
			if (!pfd[1 + i].revents)
				continue;
			l->callbacks++;
			if (!loop_has(l, &copy[i]))
				l->late++; /* unwatched while we polled: the callback must do nothing harmful */
			copy[i].fn(copy[i].opaque, copy[i].fd, pfd[1 + i].revents);
		}
	}
	return NULL;
}

/* ---- the kernel: the producer thread ---- */

static u64 mix(u64 x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ULL;
	x ^= x >> 27;
	x *= 0x81dadef4bc2dd44dULL;
	return x ^ (x >> 33);
}

static void make_record(u64 pseq, u32 vq, u64 e[4])
{
	e[0] = FIELD_PREP(EVTQ_0_ID, EVT_ID_F_TRANSLATION) | FIELD_PREP(EVTQ_0_SID, LAYOUT_PCI_RID(pseq % NDEV));
	e[1] = (REC_MAGIC << 48) | vq;
	e[2] = pseq;
	e[3] = mix(e[0] ^ mix(e[1] ^ mix(e[2])));
}

static void *producer_main(void *arg)
{
	struct race *r = arg;
	u32 cur = 0, from = 1, kseq = 0;
	u64 pseq = 1;
	double stall = 0;

	while (running(r)) {
		int rc = -ENOENT;

		pthread_mutex_lock(&r->ictx_lock);
		if (cur && !r->fi.objs[cur].live)
			cur = 0;
		if (!cur) {
			/* ids only grow: the next vEVENTQ has a higher id than the last one. */
			cur = fake_iommufd_find_live(&r->fi, IOMMUFD_OBJ_VEVENTQ, from);
			if (cur) {
				from = cur + 1;
				kseq = 0;
				stall = 0;
				r->veventqs_used++;
			}
		}
		if (cur) {
			u64 e[4];

			/* The kernel reports events only for devices with a vDEVICE (it is never freed before). */
			if (!r->fi.objs[r->vdevice[pseq % NDEV]].live)
				fail(r, "vDEVICE %u is gone while its events are reported", r->vdevice[pseq % NDEV]);
			make_record(pseq, cur, e);
			rc = fake_iommufd_push_event(&r->fi, cur, 0, kseq, e);
			if (!rc) {
				kseq++;
				pseq++;
				r->pushed++;
				stall = 0;
			} else if (rc == -EIO) {
				/* The pipe is full: the main loop has not read it for a while. */
				double t = now_s();

				r->pipe_full++;
				if (!stall)
					stall = t;
				if (t - stall > r->max_stall)
					r->max_stall = t - stall;
			} else {
				fail(r, "push into vEVENTQ %u: %s", cur, strerror(-rc));
			}
		}
		pthread_mutex_unlock(&r->ictx_lock);
		if (r->max_stall > STALL_MAX_S)
			fail(r, "vEVENTQ %u stayed full for %.1f s: the main loop stopped reading it (lost wakeup)", cur,
			     r->max_stall);
		if (rc)
			sched_yield();
	}
	return NULL;
}

/* ---- the guest: MMIO and memory ---- */

static u32 rd32(struct race *r, u64 off)
{
	return (u32)r->reg->ops->read(r->reg->opaque, off, 4);
}

static void wr32(struct race *r, u64 off, u32 val)
{
	r->reg->ops->write(r->reg->opaque, off, val, 4);
}

static void wr64(struct race *r, u64 off, u64 val)
{
	r->reg->ops->write(r->reg->opaque, off, val, 8);
}

static void put64(struct race *r, u64 gpa, u64 val)
{
	u64 le = htole64(val);

	memcpy(gmem_ptr(&r->mem, gpa, 8), &le, 8);
}

static u64 get64(struct race *r, u64 gpa)
{
	u64 le;

	memcpy(&le, gmem_ptr(&r->mem, gpa, 8), 8);
	return le64toh(le);
}

static void write_cr0(struct race *r, u32 cr0)
{
	wr32(r, ARM_SMMU_CR0, cr0);
	r->cr0 = cr0;
	if (rd32(r, ARM_SMMU_CR0ACK) != cr0)
		fail(r, "CR0ACK 0x%x after CR0 = 0x%x", rd32(r, ARM_SMMU_CR0ACK), cr0);
}

/* May this kind of operation allocate n more fake ids now (counted if so)? Each kind spends its share of the
 * budget evenly over the run; n is an upper bound of what the operation allocates. */
static bool may_alloc(struct race *r, enum alloc_kind kind, u32 n)
{
	double frac = (now_s() - r->t0) / r->duration;

	if (frac > 1)
		frac = 1;
	if (r->ids_taken[kind] + n > (u32)(frac * alloc_share[kind] * r->id_budget))
		return false;
	r->ids_taken[kind] += n;
	return true;
}

/* Submit commands and wait for them (the vSMMU consumes them in the CMDQ_PROD write). guest_lock held. */
static void submit(struct race *r, const u64 (*cmds)[2], unsigned int n)
{
	u32 mask = (2u << CMDQ_LOG2) - 1, cons;

	for (unsigned int i = 0; i < n; i++) {
		u64 gpa = CMDQ + (u64)(r->cmdq_prod & ((1u << CMDQ_LOG2) - 1)) * 16;

		put64(r, gpa, cmds[i][0]);
		put64(r, gpa + 8, cmds[i][1]);
		r->cmdq_prod = (r->cmdq_prod + 1) & mask;
	}
	wr32(r, ARM_SMMU_CMDQ_PROD, r->cmdq_prod);
	cons = rd32(r, ARM_SMMU_CMDQ_CONS);
	if (cons != r->cmdq_prod)
		fail(r, "CMDQ_CONS 0x%x after CMDQ_PROD 0x%x (command error?)", cons, r->cmdq_prod);
}

/* Rewrite stream i's STE (stage 1 on CD A, bypass, stage 1 on CD B, abort in turn) and validate it. */
static void ste_rewrite(struct race *r, unsigned int i, u64 iter)
{
	static const unsigned int cfgs[4] = { STE_CFG_S1_TRANS, STE_CFG_BYPASS, STE_CFG_S1_TRANS, STE_CFG_ABORT };
	unsigned int k = (unsigned int)(iter % 4), cfg = cfgs[k];
	u32 sid = LAYOUT_PCI_RID(i);
	u64 ste = STRTAB + (u64)sid * STRTAB_STE_SIZE, s0;
	const u64 cmds[2][2] = {
		{ FIELD_PREP(CMDQ_0_OP, CMDQ_OP_CFGI_STE) | FIELD_PREP(CMDQ_CFGI_0_SID, sid), CMDQ_CFGI_1_LEAF },
		{ FIELD_PREP(CMDQ_0_OP, CMDQ_OP_CMD_SYNC) | FIELD_PREP(CMDQ_SYNC_0_CS, CMDQ_SYNC_CS_IRQ), 0 },
	};

	if (cfg == STE_CFG_S1_TRANS && !may_alloc(r, i ? ALLOC_STE1 : ALLOC_STE0, 1))
		cfg = k ? STE_CFG_ABORT : STE_CFG_BYPASS; /* over the id budget for now: no new nested HWPT */
	s0 = STE_0_V | FIELD_PREP(STE_0_CFG, cfg) | (cfg == STE_CFG_S1_TRANS ? (k ? CD_B : CD_A) : 0);
	pthread_mutex_lock(&r->guest_lock);
	put64(r, ste, s0);
	submit(r, cmds, 2);
	pthread_mutex_unlock(&r->guest_lock);
	r->ste_rewrites[i]++;
}

/* The guest's event handler: read what is new, check it, consume it, acknowledge an overflow. */
static void consume(struct race *r)
{
	unsigned int shift = r->evtq_log2;
	u32 wrap = (2u << shift) - 1, prod = rd32(r, EVTQ_PROD_OFF), n = 0;

	while ((r->evtq_cons & wrap) != (prod & wrap)) {
		u64 gpa = EVTQ + (u64)(r->evtq_cons & ((1u << shift) - 1)) * 32, e[4], want[4];
		u32 vq;

		for (unsigned int i = 0; i < 4; i++)
			e[i] = get64(r, gpa + 8 * i);
		vq = (u32)(e[1] & 0xffffffff);
		make_record(e[2], vq, want);
		if (memcmp(e, want, sizeof(e)))
			fail(r, "ring slot 0x%llx holds no record the kernel wrote: %016llx %016llx %016llx %016llx",
			     (unsigned long long)gpa, (unsigned long long)e[0], (unsigned long long)e[1],
			     (unsigned long long)e[2], (unsigned long long)e[3]);
		else if (r->seen_any && (e[2] <= r->last_pseq || vq < r->last_vq))
			fail(r, "record %llu of vEVENTQ %u after record %llu of vEVENTQ %llu: out of order",
			     (unsigned long long)e[2], vq, (unsigned long long)r->last_pseq,
			     (unsigned long long)r->last_vq);
		r->seen_any = true;
		r->last_pseq = e[2];
		r->last_vq = vq;
		r->consumed++;
		r->evtq_cons = (r->evtq_cons + 1) & wrap;
		if (++n > (1u << shift)) {
			fail(r, "more records than the ring holds (PROD 0x%x)", prod);
			break;
		}
	}
	if ((prod & Q_OVERFLOW_FLAG) != r->ovack)
		r->overflows_seen++;
	r->ovack = prod & Q_OVERFLOW_FLAG;
	wr32(r, EVTQ_CONS_OFF, r->evtq_cons | r->ovack);
}

/* Live vEVENTQs in the fake; *id and *depth: the last one's. */
static unsigned int live_veventqs(struct race *r, u32 *id, u32 *depth)
{
	unsigned int n = 0;

	pthread_mutex_lock(&r->ictx_lock);
	*id = *depth = 0;
	for (u32 v = fake_iommufd_find_live(&r->fi, IOMMUFD_OBJ_VEVENTQ, 1); v;
	     v = fake_iommufd_find_live(&r->fi, IOMMUFD_OBJ_VEVENTQ, v + 1)) {
		*id = v;
		*depth = r->fi.objs[v].depth;
		n++;
	}
	pthread_mutex_unlock(&r->ictx_lock);
	return n;
}

static unsigned int watched(struct race *r)
{
	unsigned int n;

	pthread_mutex_lock(&r->loop.lock);
	n = r->loop.n;
	pthread_mutex_unlock(&r->loop.lock);
	return n;
}

/* EVTQEN 1 -> 0 -> 1: nothing may touch the ring in between. */
static void evtq_toggle(struct race *r)
{
	unsigned int n;
	size_t len;
	u32 prod, vq, depth;

	write_cr0(r, r->cr0 & ~CR0_EVTQEN);
	/* From here on EVTQ_PROD must not move. */
	prod = rd32(r, EVTQ_PROD_OFF);
	consume(r); /* what was written before: the guest may still read it */
	if (live_veventqs(r, &vq, &depth))
		fail(r, "vEVENTQ %u still live with EVTQEN=0", vq);
	if (watched(r))
		fail(r, "an fd is still watched with EVTQEN=0");
	len = 32u << r->evtq_log2;
	memcpy(r->snap, gmem_ptr(&r->mem, EVTQ, len), len);
	/* Let the producer and the main loop run (a late callback for the old fd among them). */
	for (unsigned int i = 0; i < 4; i++)
		sched_yield();
	if (r->evtq_toggles % 4)
		usleep((unsigned int)(r->evtq_toggles % 4) * 100);
	if (memcmp(r->snap, gmem_ptr(&r->mem, EVTQ, len), len))
		fail(r, "the ring changed while EVTQEN=0");
	if (rd32(r, EVTQ_PROD_OFF) != prod)
		fail(r, "EVTQ_PROD moved while EVTQEN=0 (0x%x -> 0x%x)", prod, rd32(r, EVTQ_PROD_OFF));
	/* Every other time another device opens fds meanwhile: the old vEVENTQ's fd numbers now name a pipe
	 * holding garbage, which a late callback for the old fd must not read. */
	if (r->squat[0] >= 0) {
		close(r->squat[0]);
		close(r->squat[1]);
		r->squat[0] = r->squat[1] = -1;
	} else if (!pipe2(r->squat, O_CLOEXEC | O_NONBLOCK)) {
		static const u8 garbage[REC_SIZE] = { [0 ... REC_SIZE - 1] = 0xa5 };

		if (write(r->squat[1], garbage, sizeof(garbage)) != sizeof(garbage))
			fail(r, "squatter pipe write: %s", strerror(errno));
		r->squats++;
	} else {
		r->squat[0] = r->squat[1] = -1;
	}
	if (r->evtq_toggles % 2) {
		/* A new ring size; PROD and CONS back to 0 (both writable while the queue is off). */
		r->evtq_log2 = r->evtq_log2 == 3 ? EVTQ_LOG2_MAX : 3;
		wr64(r, ARM_SMMU_EVTQ_BASE, Q_BASE_RWA | EVTQ | FIELD_PREP(Q_BASE_LOG2SIZE, r->evtq_log2));
		wr32(r, EVTQ_PROD_OFF, 0);
		wr32(r, EVTQ_CONS_OFF, 0);
		r->evtq_cons = r->ovack = 0;
	}
	write_cr0(r, r->cr0 | CR0_EVTQEN);
	r->evtq_toggles++;
	n = live_veventqs(r, &vq, &depth);
	if (n != 1)
		fail(r, "%u vEVENTQs live after EVTQEN=1", n);
	else if (depth != 1u << r->evtq_log2)
		fail(r, "vEVENTQ %u of depth %u for a ring of %u", vq, depth, 1u << r->evtq_log2);
	if (watched(r) != 1)
		fail(r, "%u fds watched after EVTQEN=1", watched(r));
}

/* SMMUEN 1 -> 0 -> 1 (GBPA decides in between, vcpu0 may change it); re-reads every STE. */
static void smmuen_toggle(struct race *r)
{
	pthread_mutex_lock(&r->guest_lock);
	write_cr0(r, r->cr0 & ~CR0_SMMUEN);
	usleep(50);
	write_cr0(r, r->cr0 | CR0_SMMUEN);
	pthread_mutex_unlock(&r->guest_lock);
	r->smmuen_toggles++;
}

static void gbpa_toggle(struct race *r)
{
	u32 fields = (r->gbpa_toggles & 1) ? GBPA_ABORT : 0;

	wr32(r, ARM_SMMU_GBPA, fields | GBPA_UPDATE);
	if (rd32(r, ARM_SMMU_GBPA) != fields)
		fail(r, "GBPA reads 0x%x after an update to 0x%x", rd32(r, ARM_SMMU_GBPA), fields);
	r->gbpa_toggles++;
}

static void *vcpu0_main(void *arg)
{
	struct race *r = arg;

	for (u64 iter = 0; running(r); iter++) {
		if (iter % 4 == 3)
			gbpa_toggle(r);
		else
			ste_rewrite(r, 0, r->ste_rewrites[0]);
	}
	return NULL;
}

static void *vcpu1_main(void *arg)
{
	struct race *r = arg;

	for (u64 iter = 1; running(r); iter++) {
		consume(r);
		if (iter % 4 == 0)
			ste_rewrite(r, 1, r->ste_rewrites[1]);
		if (iter % 16 == 0 && may_alloc(r, ALLOC_EVTQEN, 1))
			evtq_toggle(r);
		if (iter % 64 == 0 && may_alloc(r, ALLOC_SMMUEN, NDEV))
			smmuen_toggle(r);
		usleep(20); /* a handler slower than the kernel: the ring fills now and then */
	}
	return NULL;
}

/* ---- setup and teardown ---- */

static unsigned int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int setup(struct race *r)
{
	static const char *const bdfs[NDEV] = { "0000:00:01.0", "0000:00:02.0" };
	static const char *const names[NDEV] = { "edu0", "edu1" };

	fake_iommufd_init(&r->fi);
	r->fi.hw_info.smmu.idr[0] = 0x0d44101b; /* the lab host's SMMU (tests/unit/vsmmu_rig.h) */
	r->fi.hw_info.smmu.idr[1] = 0x02730010;
	r->fi.hw_info.smmu.idr[3] = 0x00001414;
	r->fi.hw_info.smmu.idr[5] = 0x00000074;
	fake_iommufd_attach_ctx(&r->fi, &r->ictx);
	fake_hv_init(&r->fh);
	r->mem = (struct guest_mem){ .host = aligned_alloc(SZ_4K, RAM_SIZE), .gpa = RAM, .size = RAM_SIZE };
	if (!r->mem.host)
		return -ENOMEM;
	memset(r->mem.host, 0, RAM_SIZE);
	if (iommufd_ioas_alloc(&r->ictx, &r->ioas, FAIL_PRINT) ||
	    iommufd_ioas_map_fixed(&r->ictx, r->ioas, r->mem.host, RAM_SIZE, RAM, true))
		return -EIO;
	r->loop.race = r;
	r->loop.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->loop.wake_fd < 0)
		return -errno;
	r->cfg = (struct viommu_config){
		.name = "vsmmu0",
		.base = FRAME,
		.spi_evtq = SPI_EVTQ,
		.spi_gerror = SPI_GERROR,
		.spi_sync = SPI_SYNC,
		.msi_devid = LAYOUT_VSMMU_DEVID(0),
		.msi_doorbell = LAYOUT_ITS_DOORBELL,
		.ictx = &r->ictx,
		.ictx_lock = &r->ictx_lock,
		.ioas_id = r->ioas,
		.mem = &r->mem,
		.hv = &r->fh.hv,
		.nstreams = NDEV,
		.loop = { .watch = race_watch, .unwatch = race_unwatch, .ctx = &r->loop },
	};
	for (unsigned int i = 0; i < NDEV; i++) {
		fake_vfio_init(&r->fv[i]);
		r->fv[i].iommufd = &r->fi;
		r->fv[i].next_dev_id = i + 1;
		fake_vfio_open(&r->fv[i], &r->dev[i], bdfs[i]);
		if (vfio_dev_bind(&r->dev[i], iommufd_fd(&r->ictx)))
			return -EIO;
		r->cfg.streams[i] = viommu_vfio_stream(names[i], &r->dev[i], LAYOUT_PCI_RID(i));
	}
	if (vsmmu_create(&r->cfg, &r->vs))
		return -EIO;
	r->reg = vsmmu_region(r->vs);
	for (u32 id = fake_iommufd_find_live(&r->fi, IOMMUFD_OBJ_VDEVICE, 1); id;
	     id = fake_iommufd_find_live(&r->fi, IOMMUFD_OBJ_VDEVICE, id + 1))
		for (unsigned int i = 0; i < NDEV; i++)
			if (r->fi.objs[id].virt_id == LAYOUT_PCI_RID(i))
				r->vdevice[i] = id;

	/* The guest driver's probe (single-threaded): stream table with stage-1 STEs, command queue, event
	 * queue of 8 entries, the eventq interrupt wired (no EVTQ_IRQ_CFG0), everything on. */
	wr64(r, ARM_SMMU_STRTAB_BASE, STRTAB | STRTAB_BASE_RA);
	wr32(r, ARM_SMMU_STRTAB_BASE_CFG, (u32)(FIELD_PREP(STRTAB_BASE_CFG_FMT, STRTAB_BASE_CFG_FMT_LINEAR) |
						FIELD_PREP(STRTAB_BASE_CFG_LOG2SIZE, STRTAB_LOG2)));
	for (unsigned int i = 0; i < NDEV; i++)
		put64(r, STRTAB + (u64)LAYOUT_PCI_RID(i) * STRTAB_STE_SIZE,
		      STE_0_V | FIELD_PREP(STE_0_CFG, STE_CFG_S1_TRANS) | CD_A);
	wr64(r, ARM_SMMU_CMDQ_BASE, Q_BASE_RWA | CMDQ | FIELD_PREP(Q_BASE_LOG2SIZE, CMDQ_LOG2));
	r->evtq_log2 = 3;
	wr64(r, ARM_SMMU_EVTQ_BASE, Q_BASE_RWA | EVTQ | FIELD_PREP(Q_BASE_LOG2SIZE, r->evtq_log2));
	wr32(r, ARM_SMMU_IRQ_CTRL, IRQ_CTRL_EVTQ_IRQEN | IRQ_CTRL_GERROR_IRQEN);
	write_cr0(r, CR0_SMMUEN | CR0_CMDQEN | CR0_EVTQEN);
	return atomic_load(&r->failed) ? -EIO : 0;
}

static void cleanup(struct race *r)
{
	for (unsigned int i = 0; i < NDEV; i++) {
		vfio_dev_close(&r->dev[i]);
		fake_vfio_release(&r->fv[i]);
	}
	iommufd_close(&r->ictx);
	fake_iommufd_release(&r->fi);
	if (r->loop.wake_fd >= 0)
		close(r->loop.wake_fd);
	free(r->mem.host);
}

/* ---- the checks after the run ---- */

static void check_counters(struct race *r, const struct vsmmu_stats *st)
{
	u64 discarded = r->fi.veventq_discarded / REC_SIZE;
	u64 handed = st->evt_delivered + st->evt_dropped_full + st->evt_dropped_abt + st->evt_disabled;

	if (r->fi.veventq_discarded % REC_SIZE)
		fail(r, "%llu bytes died unread in vEVENTQs: not whole records", (unsigned long long)r->fi.veventq_discarded);
	if (handed + discarded != r->pushed)
		fail(r, "pushed %llu != delivered %llu + dropped-full %llu + dropped-abort %llu + while-disabled %llu + "
		     "died unread %llu", (unsigned long long)r->pushed, (unsigned long long)st->evt_delivered,
		     (unsigned long long)st->evt_dropped_full, (unsigned long long)st->evt_dropped_abt,
		     (unsigned long long)st->evt_disabled, (unsigned long long)discarded);
	if (r->consumed != st->evt_delivered)
		fail(r, "the guest read %llu records, %llu were delivered", (unsigned long long)r->consumed,
		     (unsigned long long)st->evt_delivered);
	if (st->evt_dropped_abt || st->evt_disabled || st->evt_lost_host || st->events || st->ste_errors ||
	    st->cmd_errors)
		fail(r, "dropped-abort %llu while-disabled %llu lost-host %llu events %llu ste-errors %llu cmd-errors %llu: "
		     "all should be 0", (unsigned long long)st->evt_dropped_abt, (unsigned long long)st->evt_disabled,
		     (unsigned long long)st->evt_lost_host, (unsigned long long)st->events,
		     (unsigned long long)st->ste_errors, (unsigned long long)st->cmd_errors);
	if (st->evt_irqs != r->fh.spi_raises[SPI_EVTQ] || st->sync_irqs != r->fh.spi_raises[SPI_SYNC] ||
	    r->fh.spi_raises[SPI_GERROR])
		fail(r, "interrupts: evt-irqs %llu vs eventq SPI %u, sync-irqs %llu vs sync SPI %u, gerror SPI %u",
		     (unsigned long long)st->evt_irqs, r->fh.spi_raises[SPI_EVTQ], (unsigned long long)st->sync_irqs,
		     r->fh.spi_raises[SPI_SYNC], r->fh.spi_raises[SPI_GERROR]);
	if (st->evt_irqs > st->evt_delivered || (st->evt_delivered && !st->evt_irqs))
		fail(r, "%llu interrupts for %llu records delivered", (unsigned long long)st->evt_irqs,
		     (unsigned long long)st->evt_delivered);
	if (st->evt_reads > handed || handed > st->evt_reads * 64)
		fail(r, "%llu reads for %llu records", (unsigned long long)st->evt_reads, (unsigned long long)handed);
	if (!r->pushed || !st->evt_delivered || !r->evtq_toggles || !r->smmuen_toggles || !r->gbpa_toggles ||
	    !r->ste_rewrites[0] || !r->ste_rewrites[1])
		fail(r, "the run did too little to prove anything");
}

static void check_destroyed(struct race *r, unsigned int fds0)
{
	for (unsigned int i = 0; i < NDEV; i++)
		if (r->fv[i].attached_pt || r->dev[i].attached)
			fail(r, "device %u still attached to %u after vsmmu_destroy", i, r->fv[i].attached_pt);
	if (fake_iommufd_live(&r->fi, IOMMUFD_OBJ_NR) != 1 || !r->fi.objs[r->ioas].live || r->ictx.nr_objs != 1)
		fail(r, "after vsmmu_destroy: %u live objects in the fake, %zu tracked (only the IOAS should be)",
		     fake_iommufd_live(&r->fi, IOMMUFD_OBJ_NR), r->ictx.nr_objs);
	if (r->loop.n || r->loop.watches != r->loop.unwatches)
		fail(r, "after vsmmu_destroy: %u fds watched (%u watches, %u unwatches)", r->loop.n, r->loop.watches,
		     r->loop.unwatches);
	if (r->loop.watches != r->evtq_toggles + 1)
		fail(r, "%u watches for %llu EVTQEN 0->1", r->loop.watches, (unsigned long long)r->evtq_toggles + 1);
	cleanup(r);
	r->loop.wake_fd = -1;
	if (open_fds() != fds0)
		fail(r, "%u fds open at the end, %u at the start", open_fds(), fds0);
}

/* ivmm's own log lines during the run (stderr went to a file): none is expected. */
static void check_log(struct race *r, FILE *log)
{
	char line[512], first[512] = "";
	unsigned int n = 0;

	fflush(stderr);
	rewind(log);
	while (fgets(line, sizeof(line), log)) {
		if (!n++)
			snprintf(first, sizeof(first), "%s", line);
		fputs(line, stdout);
	}
	if (n)
		fail(r, "%u log lines, the first: %s", n, strtok(first, "\n"));
}

/* TSan's defaults for this program: stop at the first report, exit 66 then. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "halt_on_error=1:exitcode=66:second_deadlock_stack=1";
}

int main(int argc, char **argv)
{
	struct race *r = calloc(1, sizeof(*r));
	pthread_t loop, prod, vcpu[2];
	struct vsmmu_stats st;
	unsigned int fds0, ids;
	FILE *log = tmpfile();
	int err_fd = dup(2), ok;
	double t_drain;
	u32 vq, depth;

	if (!r || !log || err_fd < 0) {
		printf("vsmmu_race: FAIL: setup: %s\n", strerror(errno));
		return 1;
	}
	/* TSan reports go to the real stderr, ivmm's log lines to a file checked at the end. */
	__sanitizer_set_report_fd((void *)(long)err_fd);
	fflush(stderr);
	dup2(fileno(log), 2);
	r->duration = argc > 1 ? atof(argv[1]) : 4.0;
	if (r->duration <= 0)
		r->duration = 4.0;
	pthread_mutex_init(&r->ictx_lock, NULL);
	pthread_mutex_init(&r->fail_lock, NULL);
	pthread_mutex_init(&r->guest_lock, NULL);
	pthread_mutex_init(&r->loop.lock, NULL);
	r->loop.wake_fd = -1;
	r->squat[0] = r->squat[1] = -1;
	fds0 = open_fds();
	if (setup(r)) {
		dup2(err_fd, 2);
		printf("vsmmu_race: FAIL: setup%s%s\n", r->why[0] ? ": " : "", r->why);
		return 1;
	}
	r->id0 = r->fi.next_id;
	r->id_budget = FAKE_IOMMUFD_MAX_OBJS - 64 - r->id0;
	r->t0 = now_s();
	pthread_create(&loop, NULL, loop_main, &r->loop);
	pthread_create(&prod, NULL, producer_main, r);
	pthread_create(&vcpu[0], NULL, vcpu0_main, r);
	pthread_create(&vcpu[1], NULL, vcpu1_main, r);
	while (running(r) && now_s() - r->t0 < r->duration)
		usleep(20000);
	atomic_store(&r->stop, true);
	pthread_join(prod, NULL);
	pthread_join(vcpu[0], NULL);
	pthread_join(vcpu[1], NULL);

	/* The main loop must empty the current vEVENTQ by itself (no lost wakeup); the guest keeps reading. */
	t_drain = now_s();
	for (;;) {
		int left;

		if (live_veventqs(r, &vq, &depth) != 1) {
			fail(r, "no vEVENTQ at the end (EVTQEN is set)");
			break;
		}
		pthread_mutex_lock(&r->ictx_lock);
		left = fake_iommufd_veventq_pending(&r->fi, vq);
		pthread_mutex_unlock(&r->ictx_lock);
		consume(r);
		if (!left)
			break;
		if (now_s() - t_drain > DRAIN_MAX_S) {
			fail(r, "%d bytes still unread in vEVENTQ %u after %.0f s: lost wakeup", left, vq, DRAIN_MAX_S);
			break;
		}
		usleep(1000);
	}
	t_drain = now_s() - t_drain;
	atomic_store(&r->loop.stop, true);
	wake(&r->loop);
	pthread_join(loop, NULL);
	consume(r);
	if (r->squat[0] >= 0) {
		close(r->squat[0]);
		close(r->squat[1]);
	}

	vsmmu_stats_get(r->vs, &st);
	check_counters(r, &st);
	ids = r->fi.next_id - r->id0;
	vsmmu_destroy(r->vs);
	r->vs = NULL;
	check_destroyed(r, fds0);
	dup2(err_fd, 2);
	check_log(r, log);
	fclose(log);

	ok = !atomic_load(&r->failed);
	printf("vsmmu_race: %s%s%s: %.1f s, pushed %llu (pipe full %llu, max stall %.0f ms), delivered %llu "
	       "dropped-full %llu died-unread %llu, guest read %llu (overflows %llu), irqs %llu, reads %llu, "
	       "vEVENTQs %llu, EVTQEN toggles %llu (fd squatters %llu), SMMUEN toggles %llu, GBPA %llu, "
	       "STE rewrites %llu+%llu, ids %u, callbacks %llu (late %llu), drain %.0f ms, tsan: no reports\n",
	       ok ? "ok" : "FAIL: ", ok ? "" : r->why, "", now_s() - r->t0, (unsigned long long)r->pushed,
	       (unsigned long long)r->pipe_full, r->max_stall * 1e3, (unsigned long long)st.evt_delivered,
	       (unsigned long long)st.evt_dropped_full, (unsigned long long)(r->fi.veventq_discarded / REC_SIZE),
	       (unsigned long long)r->consumed, (unsigned long long)r->overflows_seen, (unsigned long long)st.evt_irqs,
	       (unsigned long long)st.evt_reads, (unsigned long long)r->veventqs_used,
	       (unsigned long long)r->evtq_toggles, (unsigned long long)r->squats,
	       (unsigned long long)r->smmuen_toggles, (unsigned long long)r->gbpa_toggles,
	       (unsigned long long)r->ste_rewrites[0], (unsigned long long)r->ste_rewrites[1], ids,
	       (unsigned long long)r->loop.callbacks,
	       (unsigned long long)r->loop.late, t_drain * 1e3);
	close(err_fd);
	free(r);
	return ok ? 0 : 1;
}
