/* vsmmu_evtq.c: the vSMMU's event queue. Events reach the guest's EVTQ ring from two sources: the kernel's
 * vEVENTQ (stage-1 faults the physical SMMU saw for a device of this vIOMMU, StreamID already the vSID) and
 * the events ivmm raises itself for STEs it refuses (vsmmu_event). What the architecture says, and ivmm does:
 *   - a record goes into the ring at EVTQ_PROD (through the bounds-checked guest-memory helpers), PROD
 *     advances with wrap; order is kept;
 *   - a full ring drops the record and toggles EVTQ_PROD.OVFLG (unless an overflow is already unacknowledged:
 *     OVFLG != EVTQ_CONS.OVACKFLG), so the guest's driver reports "EVTQ overflow detected -- events lost";
 *     events the kernel lost (a LOST_EVENTS header or a gap in its sequence numbers) are reported the same
 *     way, never only in a host log;
 *   - a ring outside guest RAM raises GERROR.EVENTQ_ABT_ERR and the record is dropped;
 *   - with IRQ_CTRL.EVTQ_IRQEN, one interrupt per batch of records (not per record): an MSI to EVTQ_IRQ_CFG0/1
 *     when the guest set an address (the vITS doorbell, as the vSMMU's ITS device), else the `eventq` SPI.
 * The vEVENTQ exists while the guest has CR0.EVTQEN set: allocated (depth = the guest ring's size, within
 * the kernel's limit) when EVTQEN goes 0 -> 1, destroyed when it goes 1 -> 0 and at teardown. CR0ACK.EVTQEN
 * says 1 only once the vEVENTQ exists: when the kernel refuses it, or the previous one is still busy, the ack
 * stays 0 (as a real SMMU shows a queue it cannot enable) and every CR0ACK read (the guest polls it) tries
 * again, one DESTROY of the retired queue and one ALLOC at most, never sleeping; only teardown waits. Its
 * fd is served by the VM's main loop (viommu_config.loop): the callback takes vs->lock and reads only if the
 * fd is still the vSMMU's current vEVENTQ, so a record is never written while CR0ACK.EVTQEN is 0, nor read
 * from a freed queue.
 * Runs with vs->lock held except vsmmu_evtq_readable, which takes it, and vsmmu_evtq_teardown. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "iommu/vsmmu_internal.h"
#include "vmm/log.h"

/* Records per read() (each 8-byte header + 32-byte event) and reads per wake-up (bounded: the main loop
 * serves other fds too; the rest waits for the next poll). */
#define EVTQ_READ_RECORDS 64
#define EVTQ_READS_PER_WAKE 16

static unsigned int evtq_shift(const struct vsmmu *vs)
{
	return vsmmu_q_shift(vs->evtq_base, vs->evtqs);
}

/* Toggle OVFLG for an overflow, unless the guest has not acknowledged the previous one. */
static void overflow(struct vsmmu *vs)
{
	bool ovflg = vs->evtq_prod & Q_OVERFLOW_FLAG, ovack = vs->evtq_cons & Q_OVERFLOW_FLAG;

	if (ovflg == ovack)
		vs->evtq_prod ^= Q_OVERFLOW_FLAG;
}

/* Put one record in the guest's ring. Returns true when it was written. */
static bool evtq_put(struct vsmmu *vs, const u64 evt[EVTQ_ENT_DWORDS])
{
	unsigned int shift = evtq_shift(vs);
	u32 prod = vsmmu_q_ptr(vs->evtq_prod, shift), cons = vsmmu_q_ptr(vs->evtq_cons, shift);
	u64 rec[EVTQ_ENT_DWORDS], gpa;

	if (!(vs->cr0ack & CR0_EVTQEN)) {
		vs->stats.evt_disabled++;
		return false;
	}
	if (vsmmu_q_full(prod, cons, shift)) {
		vs->stats.evt_dropped_full++;
		overflow(vs);
		return false;
	}
	gpa = (vs->evtq_base & Q_BASE_ADDR_MASK) + (u64)vsmmu_q_idx(prod, shift) * sizeof(rec);
	for (unsigned int i = 0; i < EVTQ_ENT_DWORDS; i++)
		rec[i] = htole64(evt[i]);
	if (gmem_write(vs->cfg.mem, gpa, rec, sizeof(rec))) {
		log_guest("%s: event queue entry at 0x%llx is outside guest RAM: EVENTQ_ABT_ERR", vs->name,
			  (unsigned long long)gpa);
		vs->stats.evt_dropped_abt++;
		vsmmu_gerror_raise(vs, GERROR_EVTQ_ABT_ERR);
		return false;
	}
	vs->evtq_prod = vsmmu_q_inc(prod, shift) | (vs->evtq_prod & Q_OVERFLOW_FLAG);
	vs->stats.evt_delivered++;
	return true;
}

/* The end of a batch of n written records: one interrupt. */
static void evtq_notify(struct vsmmu *vs, unsigned int n)
{
	if (!n || !(vs->irq_ctrl & IRQ_CTRL_EVTQ_IRQEN))
		return;
	vs->stats.evt_irqs++;
	if ((vs->idr[0] & IDR0_MSI) && (vs->evtq_irq_cfg0 & MSI_CFG0_ADDR_MASK)) {
		if (vsmmu_msi_write(vs, vs->evtq_irq_cfg0 & MSI_CFG0_ADDR_MASK, vs->evtq_irq_cfg1)) {
			log_guest("%s: EVTQ MSI address 0x%llx is neither RAM nor the ITS doorbell", vs->name,
				  (unsigned long long)(vs->evtq_irq_cfg0 & MSI_CFG0_ADDR_MASK));
			vsmmu_gerror_raise(vs, GERROR_MSI_EVTQ_ABT_ERR);
		}
		return;
	}
	vsmmu_irq_pulse(vs, vs->cfg.spi_evtq);
}

void vsmmu_evtq_raise(struct vsmmu *vs, const u64 evt[EVTQ_ENT_DWORDS])
{
	evtq_notify(vs, evtq_put(vs, evt) ? 1 : 0);
}

void vsmmu_evtq_overflow(struct vsmmu *vs)
{
	overflow(vs);
	evtq_notify(vs, 1);
}

/* ---- the kernel's vEVENTQ ---- */

/* Destroy vEVENTQ id once. The kernel refuses (EBUSY) while any reference to its file exists, and the main
 * loop's poll() holds one until the unwatch wakes it, which takes a moment: the caller then tries again later
 * (never sleeping with vs->lock held). Returns 0 or -errno. */
static int veventq_destroy_once(struct vsmmu *vs, u32 id)
{
	int rc;

	pthread_mutex_lock(vs->cfg.ictx_lock);
	rc = iommufd_destroy(vs->cfg.ictx, id, FAIL_QUIET);
	VSMMU_TRACE(vs, "iommufd DESTROY vEVENTQ %u: %s", id, rc ? strerror(-rc) : "ok");
	if (rc && rc != -EBUSY)
		pr_err_ratelimited("%s: %s", vs->name, vs->cfg.ictx->last_err);
	pthread_mutex_unlock(vs->cfg.ictx_lock);
	return rc;
}

/* The retired vEVENTQ is gone, or there is none (one DESTROY try). */
static bool retired_gone(struct vsmmu *vs)
{
	if (vs->veventq_retired && !veventq_destroy_once(vs, vs->veventq_retired))
		vs->veventq_retired = 0;
	return !vs->veventq_retired;
}

/* EVTQEN 1 -> 0: the fd leaves the main loop first (its number is forgotten before it is closed), then one
 * DESTROY; a queue the kernel still holds is retired, destroyed before the next one is allocated. There is
 * at most one: no vEVENTQ is allocated while a retired one remains (veventq_alloc). */
static void veventq_free(struct vsmmu *vs)
{
	(void)retired_gone(vs);
	if (!vs->veventq_id)
		return;
	if (vs->cfg.loop.unwatch)
		vs->cfg.loop.unwatch(vs->cfg.loop.ctx, vs->veventq_fd);
	vs->veventq_fd = -1;
	if (veventq_destroy_once(vs, vs->veventq_id))
		vs->veventq_retired = vs->veventq_id;
	vs->veventq_id = 0;
}

/* EVTQEN 0 -> 1: a vEVENTQ for the guest's ring. Returns 0, or -errno when the queue cannot be enabled now
 * (the previous vEVENTQ still busy, or the kernel refused): CR0ACK.EVTQEN then stays 0, as a real SMMU shows
 * a queue it cannot enable, and the next CR0ACK read tries again. */
static int veventq_alloc(struct vsmmu *vs)
{
	u32 depth = 1u << evtq_shift(vs), id = 0;
	int fd = -1, rc;

	if (!vs->cfg.loop.watch)
		return 0; /* nobody would read it (vsmmu.h): ivmm's own events still go in */
	if (depth > IOMMUFD_VEVENTQ_MAX_DEPTH)
		depth = IOMMUFD_VEVENTQ_MAX_DEPTH;
	/* The kernel allows one vEVENTQ per vIOMMU: a retired one must be gone first. */
	if (!retired_gone(vs))
		return -EBUSY;
	pthread_mutex_lock(vs->cfg.ictx_lock);
	rc = iommufd_veventq_alloc_smmuv3(vs->cfg.ictx, vs->viommu_id, depth, &id, &fd, FAIL_QUIET);
	VSMMU_TRACE(vs, "iommufd VEVENTQ_ALLOC depth %u: %s %u fd %d", depth, rc ? strerror(-rc) : "vEVENTQ", id,
		    fd);
	if (rc)
		pr_err_ratelimited("%s: %s: the event queue stays disabled (CR0ACK.EVTQEN 0)", vs->name,
				   vs->cfg.ictx->last_err);
	pthread_mutex_unlock(vs->cfg.ictx_lock);
	if (rc)
		return rc;
	vs->veventq_id = id;
	vs->veventq_fd = fd;
	vs->veventq_seq = (struct iommufd_vevent_seq){ 0 };
	rc = vs->cfg.loop.watch(vs->cfg.loop.ctx, fd, POLLIN, vsmmu_evtq_readable, vs);
	if (rc) {
		pr_err_ratelimited("%s: cannot watch the vEVENTQ fd: the event queue stays disabled", vs->name);
		veventq_free(vs);
	}
	return rc;
}

void vsmmu_evtq_enable(struct vsmmu *vs, bool on)
{
	if (!on) {
		veventq_free(vs);
		vs->cr0ack &= ~(u32)CR0_EVTQEN;
		return;
	}
	if ((vs->cr0ack & CR0_EVTQEN) || (!vs->veventq_id && veventq_alloc(vs)))
		return;
	vs->cr0ack |= CR0_EVTQEN;
}

void vsmmu_evtq_teardown(struct vsmmu *vs)
{
	vsmmu_evtq_enable(vs, false);
	/* No lock is held and nothing polls any more: wait out the kernel's last reference (~100 ms at most). */
	for (unsigned int i = 0; i < 200 && !retired_gone(vs); i++)
		usleep(500);
	if (!retired_gone(vs))
		pr_err("%s: vEVENTQ %u still busy; it goes when the iommufd closes", vs->name, vs->veventq_retired);
}

/* Parse buf[0..len) and put its records in the guest ring. Returns the records written. */
static unsigned int deliver(struct vsmmu *vs, const u8 *buf, size_t len)
{
	struct iommufd_vevent ev;
	unsigned int written = 0;
	size_t off = 0;
	int rc;

	while ((rc = iommufd_vevent_parse(buf, len, &off, &ev)) == 1) {
		u32 lost = iommufd_vevent_seq_account(&vs->veventq_seq, &ev);

		if (lost) {
			/* The kernel's queue overflowed: the guest must learn that events were lost. */
			vs->stats.evt_lost_host += lost;
			overflow(vs);
		}
		if (!ev.has_data)
			continue;
		vs->stats.evt_host_records++;
		if (evtq_put(vs, ev.evt))
			written++;
	}
	if (rc < 0)
		pr_err_ratelimited("%s: vEVENTQ read ended inside a record (%zu of %zu bytes parsed)", vs->name, off,
				   len);
	return written;
}

static u64 now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (u64)t.tv_sec * 1000000000ULL + (u64)t.tv_nsec;
}

void vsmmu_evtq_readable(void *opaque, int fd, short revents)
{
	struct vsmmu *vs = opaque;
	u8 buf[EVTQ_READ_RECORDS * IOMMUFD_VEVENT_SMMUV3_SIZE];
	unsigned int written = 0;
	u64 t0 = now_ns(), t1;

	pthread_mutex_lock(&vs->lock);
	/* A wake-up for a vEVENTQ that was freed meanwhile (EVTQEN cleared): nothing to do. */
	for (unsigned int i = 0; i < EVTQ_READS_PER_WAKE && vs->veventq_id && vs->veventq_fd == fd; i++) {
		ssize_t n;

		pthread_mutex_lock(vs->cfg.ictx_lock);
			n = iommufd_veventq_read(vs->cfg.ictx, fd, buf, sizeof(buf), FAIL_QUIET);
			if (n < 0)
			pr_err_ratelimited("%s: %s", vs->name, vs->cfg.ictx->last_err);
		pthread_mutex_unlock(vs->cfg.ictx_lock);
		if (n <= 0)
			break;
		vs->stats.evt_reads++;
		written += deliver(vs, buf, (size_t)n);
	}
	evtq_notify(vs, written);
	if (written) {
		struct vsmmu_stats *st = &vs->stats;

		t1 = now_ns();
		st->lat_ns[st->lat_n++ % VSMMU_LAT_SAMPLES] = (u32)MIN(t1 - t0, (u64)UINT32_MAX);
		if (!st->evt_first_ns)
			st->evt_first_ns = t0;
		st->evt_last_ns = t1;
	}
	pthread_mutex_unlock(&vs->lock);
}
