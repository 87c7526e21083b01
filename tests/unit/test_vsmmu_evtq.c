/* test_vsmmu_evtq.c: the vSMMU's event path (iommu/vsmmu_evtq.c), as a guest and the kernel drive it: the
 * kernel's vEVENTQ (a pipe in fake_iommufd, filled with fake_iommufd_push_event) read by the main loop's
 * callback (rig_loop_turn) into the guest's EVTQ ring. Covered: a record lands at EVTQ_PROD and PROD wraps with
 * the ring, order is kept; a full ring drops the record and toggles EVTQ_PROD.OVFLG once until the guest
 * acknowledges with EVTQ_CONS.OVACKFLG; the kernel's LOST_EVENTS headers and sequence gaps are an overflow too
 * and counted lost-host; EVTQEN=0 destroys (and unwatches) the vEVENTQ and nothing is written, not even by a
 * late callback for the old fd (also when its number names another device's fd by then), and EVTQEN=1
 * allocates a new one as deep as the guest's ring; the interrupt (one per batch): an MSI to the vITS doorbell
 * as the vSMMU's device, a 32-bit write into RAM, the wired SPI without EVTQ_IRQ_CFG0 or with MSIs hidden,
 * nothing without EVTQ_IRQEN; a ring outside guest RAM
 * (GERROR.EVTQ_ABT_ERR); reads batched at record boundaries and bounded per wake-up; the events ivmm raises
 * itself (C_BAD_STE, F_CD_FETCH, F_STE_FETCH) in the same ring and order; the vEVENTQ freed at vsmmu_destroy,
 * also when the kernel says EBUSY a few times or for longer than the retries (retired, destroyed later).
 * Every test checks that the event counters add up: each record the vSMMU was handed is delivered, dropped
 * (full, abort) or counted while-disabled, exactly once. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "tests/unit/cr_stderr.h"
#include "tests/unit/vsmmu_rig.h"

static struct vsmmu_rig rig;

static void setup(void)
{
	cr_redirect_stderr();
	rig_up(&rig, 2);
	rig_strtab_linear(&rig);
	rig_cmdq(&rig, 5);
}

static void teardown(void)
{
	rig_fini(&rig);
}

TestSuite(vsmmu_evtq, .init = setup, .fini = teardown);
/* Tests that build the vSMMU themselves (other options). */
TestSuite(vsmmu_evtq_cfg, .init = cr_redirect_stderr, .fini = teardown);

#define EVTQ_PROD_OFF (SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_PROD)
#define EVTQ_CONS_OFF (SMMU_PAGE_SIZE + ARM_SMMU_EVTQ_CONS)
#define REC_SIZE IOMMUFD_VEVENT_SMMUV3_SIZE

/* ---- the kernel's side ---- */

/* The record the fake kernel reports for tag: a stage-1 translation fault of one of the two streams, every
 * dword distinct so a misplaced or torn copy shows. */
static void rec(u32 tag, u64 evt[4])
{
	evt[0] = FIELD_PREP(EVTQ_0_ID, EVT_ID_F_TRANSLATION) | FIELD_PREP(EVTQ_0_SID, rig_vsid(tag % 2));
	evt[1] = 0x5eed00000000ULL | tag;
	evt[2] = 0x10000000ULL + (u64)tag * 0x1000;
	evt[3] = (u64)tag << 12;
}

/* Push n records tagged first.. with kernel sequence numbers seq..; returns the next sequence number. */
static u32 push(u32 seq, u32 first, unsigned int n)
{
	u32 vq = rig_veventq(&rig);

	for (unsigned int i = 0; i < n; i++) {
		u64 e[4];

		rec(first + i, e);
		cr_assert_eq(fake_iommufd_push_event(&rig.fi, vq, 0, seq + i, e), 0);
	}
	return seq + n;
}

/* A bare LOST_EVENTS header carrying sequence seq. */
static void push_lost(u32 seq)
{
	cr_assert_eq(fake_iommufd_push_event(&rig.fi, rig_veventq(&rig), IOMMU_VEVENTQ_FLAG_LOST_EVENTS, seq, NULL), 0);
}

/* Bytes the vSMMU has not read yet from its vEVENTQ. */
static int pending(void)
{
	return fake_iommufd_veventq_pending(&rig.fi, rig_veventq(&rig));
}

/* ---- the guest's side ---- */

static u32 prod(void)
{
	return rig_rd32(&rig, EVTQ_PROD_OFF);
}

/* EVTQ of 2^log2 entries at gpa (PROD = CONS = 0), EVTQEN on, the other CR0 bits kept. */
static void evtq_at(u64 gpa, unsigned int log2)
{
	u32 cr0 = rig_rd32(&rig, ARM_SMMU_CR0) & ~CR0_EVTQEN;

	rig_cr0(&rig, cr0);
	rig.evtq_log2 = log2;
	rig.evtq_cons = 0;
	rig_wr64(&rig, ARM_SMMU_EVTQ_BASE, Q_BASE_RWA | gpa | FIELD_PREP(Q_BASE_LOG2SIZE, log2));
	rig_wr32(&rig, EVTQ_PROD_OFF, 0);
	rig_wr32(&rig, EVTQ_CONS_OFF, 0);
	rig_cr0(&rig, cr0 | CR0_EVTQEN);
}

/* Slot idx of the guest ring at RIG_EVTQ holds the record of tag. */
static void expect_slot(unsigned int idx, u32 tag)
{
	u64 e[4];

	rec(tag, e);
	for (unsigned int i = 0; i < 4; i++)
		cr_assert_eq(rig_get64(&rig, RIG_EVTQ + idx * 32ULL + 8 * i), e[i], "slot %u dword %u: tag %u expected",
			     idx, i, tag);
}

/* The guest reads what is new: exactly n records, tags first.., in order. */
static void expect_records(u32 first, unsigned int n)
{
	u64 got[1100][4];
	unsigned int k = rig_events(&rig, got, 1100);

	cr_assert_eq(k, n, "%u records in the ring, expected %u", k, n);
	for (unsigned int i = 0; i < n; i++) {
		u64 e[4];

		rec(first + i, e);
		cr_assert_arr_eq(got[i], e, sizeof(e), "record %u is not tag %u (order or content)", i, first + i);
	}
}

static void irq_setup(u64 cfg0, u32 cfg1)
{
	rig_wr64(&rig, ARM_SMMU_EVTQ_IRQ_CFG0, cfg0);
	rig_wr32(&rig, ARM_SMMU_EVTQ_IRQ_CFG1, cfg1);
	rig_wr32(&rig, ARM_SMMU_IRQ_CTRL, IRQ_CTRL_EVTQ_IRQEN);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_IRQ_CTRLACK), IRQ_CTRL_EVTQ_IRQEN);
}

/* ---- counters ---- */

struct evt_want {
	u64 delivered, full, abt, disabled, lost, irqs, reads;
};

/* The event counters are exactly w, and add up: every record the vSMMU was handed (records with data read
 * from its vEVENTQ plus the events it raised itself) was delivered, dropped or counted while-disabled once. */
static void expect_counters(u64 handed, struct evt_want w)
{
	struct vsmmu_stats st = rig_stats(&rig);

	cr_assert_eq(st.evt_delivered, w.delivered, "delivered %llu", (unsigned long long)st.evt_delivered);
	cr_assert_eq(st.evt_dropped_full, w.full, "dropped-full %llu", (unsigned long long)st.evt_dropped_full);
	cr_assert_eq(st.evt_dropped_abt, w.abt, "dropped-abort %llu", (unsigned long long)st.evt_dropped_abt);
	cr_assert_eq(st.evt_disabled, w.disabled, "while-disabled %llu", (unsigned long long)st.evt_disabled);
	cr_assert_eq(st.evt_lost_host, w.lost, "lost-host %llu", (unsigned long long)st.evt_lost_host);
	cr_assert_eq(st.evt_irqs, w.irqs, "irqs %llu", (unsigned long long)st.evt_irqs);
	cr_assert_eq(st.evt_reads, w.reads, "reads %llu", (unsigned long long)st.evt_reads);
	cr_assert_eq(st.evt_delivered + st.evt_dropped_full + st.evt_dropped_abt + st.evt_disabled, handed,
		     "the counters add up to the %llu records handed to the vSMMU", (unsigned long long)handed);
	cr_assert_eq(st.evt_host_records + st.events, handed, "read %llu + raised %llu: the records handed",
		     (unsigned long long)st.evt_host_records, (unsigned long long)st.events);
}

/* ---- placement, order ---- */

Test(vsmmu_evtq, record_lands_at_prod_and_prod_wraps)
{
	u32 seq;

	evtq_at(RIG_EVTQ, 3); /* 8 entries */
	cr_assert_eq(rig.fi.objs[rig_veventq(&rig)].depth, 8, "the vEVENTQ is as deep as the guest's ring");
	seq = push(0, 0, 6);
	rig_loop_turn(&rig);
	cr_assert_eq(prod(), 6, "PROD after six records");
	for (unsigned int i = 0; i < 6; i++)
		expect_slot(i, i);
	cr_assert_eq(rig_get64(&rig, RIG_EVTQ + 6 * 32), 0, "nothing past PROD");
	expect_records(0, 6);

	/* Five more: slots 6, 7, then 0, 1, 2 with the wrap bit set. */
	(void)push(seq, 6, 5);
	rig_loop_turn(&rig);
	cr_assert_eq(prod(), (1u << 3) | 3, "PROD index 3 with the wrap bit: 0x%x", prod());
	expect_slot(6, 6);
	expect_slot(7, 7);
	expect_slot(0, 8);
	expect_slot(1, 9);
	expect_slot(2, 10);
	expect_slot(3, 3); /* the old record, not overwritten */
	cr_assert_eq(rig_get64(&rig, RIG_EVTQ + 8 * 32), 0, "nothing written past the ring's end");
	expect_records(6, 5);
	cr_assert_eq(pending(), 0, "everything read");
	/* No EVTQ_IRQEN: no interrupt at all. */
	cr_assert_eq(rig.fh.ncalls, 0);
	expect_counters(11, (struct evt_want){ .delivered = 11, .reads = 2 });
}

Test(vsmmu_evtq, order_is_kept_across_batches)
{
	u32 seq;

	evtq_at(RIG_EVTQ, 5);
	seq = push(0, 0, 5);
	rig_loop_turn(&rig);
	seq = push(seq, 5, 7);
	rig_loop_turn(&rig);
	expect_records(0, 12);
	(void)push(seq, 12, 3);
	rig_loop_turn(&rig);
	rig_loop_turn(&rig); /* nothing new: nothing happens */
	expect_records(12, 3);
	expect_counters(15, (struct evt_want){ .delivered = 15, .reads = 3 });
}

/* ---- overflow ---- */

Test(vsmmu_evtq, full_ring_drops_and_toggles_ovflg_once_until_acknowledged)
{
	u32 seq;

	evtq_at(RIG_EVTQ, 2); /* 4 entries */
	/* Six records: four fit, two are dropped, OVFLG toggles once. */
	seq = push(0, 0, 6);
	rig_loop_turn(&rig);
	cr_assert_eq(prod(), Q_OVERFLOW_FLAG | (1u << 2), "full (index 0, wrap 1) and OVFLG: 0x%x", prod());
	expect_counters(6, (struct evt_want){ .delivered = 4, .full = 2, .reads = 1 });
	/* More while the overflow is unacknowledged: dropped, OVFLG stays. */
	seq = push(seq, 6, 2);
	rig_loop_turn(&rig);
	cr_assert_eq(prod(), Q_OVERFLOW_FLAG | (1u << 2), "OVFLG not toggled back");
	for (unsigned int i = 0; i < 4; i++)
		expect_slot(i, i); /* the first four, nothing overwritten */

	/* The guest consumes all four without acknowledging: room again, no new toggle while records fit. */
	rig_wr32(&rig, EVTQ_CONS_OFF, 1u << 2);
	seq = push(seq, 8, 4);
	rig_loop_turn(&rig);
	cr_assert_eq(prod(), Q_OVERFLOW_FLAG | 0, "four more written, wrap back to 0: 0x%x", prod());
	for (unsigned int i = 0; i < 4; i++)
		expect_slot(i, 8 + i);
	seq = push(seq, 12, 1);
	rig_loop_turn(&rig);
	cr_assert(prod() & Q_OVERFLOW_FLAG, "a second overflow before the acknowledgement toggles nothing");

	/* Acknowledged (OVACKFLG = OVFLG) and consumed: the next overflow toggles again. */
	rig_wr32(&rig, EVTQ_CONS_OFF, Q_OVERFLOW_FLAG | 0);
	(void)push(seq, 13, 5);
	rig_loop_turn(&rig);
	cr_assert_eq(prod(), 1u << 2, "four written, one dropped: OVFLG toggled to 0: 0x%x", prod());
	for (unsigned int i = 0; i < 4; i++)
		expect_slot(i, 13 + i);
	cr_assert_eq(pending(), 0);
	expect_counters(18, (struct evt_want){ .delivered = 12, .full = 6, .reads = 5 });
}

Test(vsmmu_evtq, kernel_lost_events_are_an_overflow_and_counted)
{
	evtq_at(RIG_EVTQ, 4);
	/* seq 0, 1; a LOST_EVENTS header for 2..4 (it carries the last lost one); 5; then 8 (6 and 7 missing). */
	(void)push(0, 0, 2);
	push_lost(4);
	(void)push(5, 2, 1);
	(void)push(8, 3, 1);
	rig_loop_turn(&rig);
	cr_assert(prod() & Q_OVERFLOW_FLAG, "the guest is told events were lost");
	cr_assert_eq(prod() & ~Q_OVERFLOW_FLAG, 4, "the four records are in the ring, the header is not");
	expect_counters(4, (struct evt_want){ .delivered = 4, .lost = 3 + 2, .reads = 1 });
	expect_records(0, 4); /* and acknowledges the overflow */
	cr_assert_eq(rig_rd32(&rig, EVTQ_CONS_OFF) & Q_OVERFLOW_FLAG, Q_OVERFLOW_FLAG);

	/* The sequence goes on across reads: 9 follows 8, no loss, OVFLG stays acknowledged. */
	(void)push(9, 4, 1);
	rig_loop_turn(&rig);
	cr_assert_eq(prod(), Q_OVERFLOW_FLAG | 5, "no new overflow: 0x%x", prod());
	/* A gap after the acknowledgement toggles OVFLG again, although the ring has room. */
	(void)push(11, 5, 1);
	rig_loop_turn(&rig);
	cr_assert_eq(prod(), 6, "OVFLG toggled back to 0 for the lost seq 10: 0x%x", prod());
	expect_records(4, 2);
	expect_counters(6, (struct evt_want){ .delivered = 6, .lost = 6, .reads = 3 });
}

Test(vsmmu_evtq, lost_events_before_the_first_record_count_too)
{
	evtq_at(RIG_EVTQ, 4);
	push_lost(0); /* the very first event was lost */
	(void)push(1, 0, 1);
	rig_loop_turn(&rig);
	cr_assert(prod() & Q_OVERFLOW_FLAG);
	expect_records(0, 1);
	expect_counters(1, (struct evt_want){ .delivered = 1, .lost = 1, .reads = 1 });
}

/* ---- EVTQEN ---- */

Test(vsmmu_evtq, evtqen_off_destroys_the_veventq_and_nothing_is_written)
{
	u8 before[16 * 32];
	void (*fn)(void *, int, short);
	void *opaque;
	u32 vq, seq, p;
	int fd;

	evtq_at(RIG_EVTQ, 4);
	vq = rig_veventq(&rig);
	fd = rig.watch_fd;
	fn = rig.watch_fn;
	opaque = rig.watch_opaque;
	cr_assert_eq(rig.watches, 1);
	seq = push(0, 0, 3);
	rig_loop_turn(&rig);
	expect_records(0, 3);
	(void)push(seq, 3, 4); /* queued in the kernel, not read yet */

	rig_cr0(&rig, rig_rd32(&rig, ARM_SMMU_CR0) & ~CR0_EVTQEN);
	cr_assert_not(rig.fi.objs[vq].live, "EVTQEN=0 destroyed the vEVENTQ");
	cr_assert_null(iommufd_obj_find(&rig.ictx, vq), "and the tracker forgot it");
	cr_assert_eq(rig_live(&rig, IOMMUFD_OBJ_VEVENTQ), 0);
	cr_assert_eq(rig.watch_fd, -1, "its fd left the main loop");
	cr_assert_eq(rig.unwatches, 1);
	cr_assert_eq(rig.fi.veventq_discarded, 4 * REC_SIZE, "the four unread records died with it");

	/* The main loop may call back once more for the fd it just stopped watching: nothing happens. */
	memcpy(before, rig_ptr(&rig, RIG_EVTQ, sizeof(before)), sizeof(before));
	p = prod();
	fn(opaque, fd, POLLIN);
	fn(opaque, fd, POLLNVAL);
	rig_loop_turn(&rig);
	/* ivmm's own event while EVTQEN=0: not written either, counted while-disabled. */
	rig_cr0(&rig, rig_rd32(&rig, ARM_SMMU_CR0) | CR0_SMMUEN);
	rig_ste(&rig, rig_vsid(0), rig_ste_cfg(STE_CFG_S2_TRANS), 0);
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_ste(rig_vsid(0)), rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0) },
		   2);
	cr_assert_eq(rig_stats(&rig).events, 1);
	cr_assert_arr_eq(rig_ptr(&rig, RIG_EVTQ, sizeof(before)), before, sizeof(before), "the ring is untouched");
	cr_assert_eq(prod(), p, "PROD unchanged");
	expect_counters(4, (struct evt_want){ .delivered = 3, .disabled = 1, .reads = 1 });

	/* EVTQEN=1 again, with another ring size: a new vEVENTQ that deep, watched, its sequence from 0. */
	evtq_at(RIG_EVTQ, 6);
	cr_assert_eq(rig.watches, 2);
	cr_assert_gt(rig_veventq(&rig), vq, "a new vEVENTQ");
	cr_assert_eq(rig.fi.objs[rig_veventq(&rig)].depth, 64);
	cr_assert_eq(rig_live(&rig, IOMMUFD_OBJ_VEVENTQ), 1);
	(void)push(0, 7, 2);
	rig_loop_turn(&rig);
	expect_records(7, 2);
	expect_counters(6, (struct evt_want){ .delivered = 5, .disabled = 1, .reads = 2 });
	rig_check(&rig);
}

Test(vsmmu_evtq, late_callback_for_a_reused_fd_number_reads_nothing)
{
	static const u8 garbage[REC_SIZE] = { [0 ... REC_SIZE - 1] = 0xa5 };
	void (*fn)(void *, int, short);
	int squat[2], old_fd, left = 0;
	void *opaque;

	evtq_at(RIG_EVTQ, 4);
	old_fd = rig.watch_fd;
	fn = rig.watch_fn;
	opaque = rig.watch_opaque;
	rig_cr0(&rig, rig_rd32(&rig, ARM_SMMU_CR0) & ~CR0_EVTQEN);
	/* Another device opens a pipe meanwhile: it gets the old vEVENTQ's fd number (the lowest free). */
	cr_assert_eq(pipe2(squat, O_CLOEXEC | O_NONBLOCK), 0);
	cr_assert_eq(squat[0], old_fd, "the fd number is reused");
	cr_assert_eq(write(squat[1], garbage, sizeof(garbage)), (ssize_t)sizeof(garbage));
	evtq_at(RIG_EVTQ, 4);
	cr_assert_neq(rig.watch_fd, old_fd, "the new vEVENTQ has another fd");
	(void)push(0, 0, 1);
	/* The main loop's last callback for the old number, now with EVTQEN set again: not the vSMMU's fd. */
	fn(opaque, old_fd, POLLIN);
	cr_assert_eq(ioctl(squat[0], FIONREAD, &left), 0);
	cr_assert_eq(left, REC_SIZE, "nothing read from the other device's pipe");
	cr_assert_eq(prod(), 0, "nothing written");
	cr_assert_eq(pending(), REC_SIZE, "nor read from the vSMMU's own vEVENTQ on that wake-up");
	rig_loop_turn(&rig);
	expect_records(0, 1);
	expect_counters(1, (struct evt_want){ .delivered = 1, .reads = 1 });
	close(squat[0]);
	close(squat[1]);
}

Test(vsmmu_evtq_cfg, veventq_depth_is_the_guest_ring_capped_at_idr1)
{
	rig_init(&rig, 1);
	rig.cfg.evtq_log2 = 5;
	cr_assert_eq(rig_create(&rig), 0);
	cr_assert_eq(FIELD_GET(IDR1_EVTQS, rig_rd32(&rig, ARM_SMMU_IDR1)), 5);
	/* The guest asks for 2^10 entries: the ring is 2^5 (as IDR1 says), and so is the vEVENTQ. */
	evtq_at(RIG_EVTQ, 10);
	cr_assert_eq(rig.fi.objs[rig_veventq(&rig)].depth, 32);
	(void)push(0, 0, 33);
	rig_loop_turn(&rig);
	cr_assert_eq(prod(), Q_OVERFLOW_FLAG | 32, "32 records wrap a 32-entry ring; the 33rd overflows: 0x%x", prod());
	expect_counters(33, (struct evt_want){ .delivered = 32, .full = 1, .reads = 1 });
	rig_fini(&rig);

	/* Without the option: up to VSMMU_EVTQS (12), whatever the guest asks. */
	rig_up(&rig, 1);
	evtq_at(RIG_EVTQ, 19);
	cr_assert_eq(rig.fi.objs[rig_veventq(&rig)].depth, 1u << 12);
}

/* ---- interrupts ---- */

Test(vsmmu_evtq, msi_to_the_doorbell_as_the_vsmmu_device)
{
	const struct fake_hv_call *c;

	irq_setup(RIG_DOORBELL, 0x2a);
	evtq_at(RIG_EVTQ, 4);
	(void)push(0, 0, 3);
	rig_loop_turn(&rig);
	cr_assert_eq(fake_hv_count(&rig.fh, FAKE_SIGNAL_MSI), 1, "one MSI for the batch");
	c = fake_hv_last(&rig.fh, FAKE_SIGNAL_MSI);
	cr_assert_eq(c->addr, RIG_DOORBELL);
	cr_assert_eq(c->data, 0x2a, "EVTQ_IRQ_CFG1 is the data");
	cr_assert_eq(c->devid, RIG_DEVID, "sent as the vSMMU's own ITS device");
	cr_assert_eq(fake_hv_count(&rig.fh, FAKE_IRQ_LINE), 0, "no wired interrupt");
	expect_records(0, 3);
	expect_counters(3, (struct evt_want){ .delivered = 3, .irqs = 1, .reads = 1 });
}

Test(vsmmu_evtq, msi_into_ram_is_a_32bit_write)
{
	const u64 target = RIG_SCRATCH + 0x100;

	rig_put64(&rig, target, ~0ULL);
	irq_setup(target, 0x12345678);
	evtq_at(RIG_EVTQ, 4);
	(void)push(0, 0, 2);
	rig_loop_turn(&rig);
	cr_assert_eq(rig_get32(&rig, target), 0x12345678, "EVTQ_IRQ_CFG1 written at EVTQ_IRQ_CFG0");
	cr_assert_eq(rig_get32(&rig, target + 4), 0xffffffff, "32 bits only");
	cr_assert_eq(rig.fh.ncalls, 0, "no MSI, no wired interrupt");
	expect_counters(2, (struct evt_want){ .delivered = 2, .irqs = 1, .reads = 1 });
}

Test(vsmmu_evtq, msi_address_elsewhere_is_msi_evtq_abt_err)
{
	irq_setup(0x2000, 1); /* below RAM, not the doorbell */
	evtq_at(RIG_EVTQ, 4);
	(void)push(0, 0, 1);
	rig_loop_turn(&rig);
	cr_assert(rig_gerror_active(&rig, GERROR_MSI_EVTQ_ABT_ERR));
	expect_records(0, 1); /* the record itself is delivered */
	expect_counters(1, (struct evt_want){ .delivered = 1, .irqs = 1, .reads = 1 });
}

Test(vsmmu_evtq, wired_spi_without_cfg0)
{
	irq_setup(0, 0);
	evtq_at(RIG_EVTQ, 4);
	(void)push(0, 0, 3);
	rig_loop_turn(&rig);
	cr_assert_eq(rig.fh.spi_raises[RIG_SPI_EVTQ], 1, "the eventq SPI pulsed once");
	cr_assert_not(rig.fh.spi_level[RIG_SPI_EVTQ], "an edge: raised and lowered");
	cr_assert_eq(fake_hv_count(&rig.fh, FAKE_IRQ_LINE), 2);
	cr_assert_eq(fake_hv_count(&rig.fh, FAKE_SIGNAL_MSI), 0);
	expect_counters(3, (struct evt_want){ .delivered = 3, .irqs = 1, .reads = 1 });
}

Test(vsmmu_evtq_cfg, wired_spi_when_msis_are_hidden)
{
	rig_init(&rig, 1);
	rig.cfg.no_msi = true;
	cr_assert_eq(rig_create(&rig), 0);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_IDR0) & IDR0_MSI, 0, "IDR0.MSI hidden");
	irq_setup(RIG_DOORBELL, 0x2a); /* a guest that programs it anyway */
	evtq_at(RIG_EVTQ, 4);
	(void)push(0, 0, 2);
	rig_loop_turn(&rig);
	cr_assert_eq(rig.fh.spi_raises[RIG_SPI_EVTQ], 1);
	cr_assert_eq(fake_hv_count(&rig.fh, FAKE_SIGNAL_MSI), 0, "no MSI without IDR0.MSI");
	expect_counters(2, (struct evt_want){ .delivered = 2, .irqs = 1, .reads = 1 });
}

Test(vsmmu_evtq, one_interrupt_per_batch)
{
	u32 seq;

	irq_setup(RIG_DOORBELL, 7);
	evtq_at(RIG_EVTQ, 6); /* 64 entries */
	seq = push(0, 0, 40);
	rig_loop_turn(&rig);
	cr_assert_eq(fake_hv_count(&rig.fh, FAKE_SIGNAL_MSI), 1, "40 records, one interrupt");
	expect_counters(40, (struct evt_want){ .delivered = 40, .irqs = 1, .reads = 1 });
	rig_loop_turn(&rig);
	cr_assert_eq(fake_hv_count(&rig.fh, FAKE_SIGNAL_MSI), 1, "an empty wake-up sends nothing");
	seq = push(seq, 40, 1);
	rig_loop_turn(&rig);
	cr_assert_eq(fake_hv_count(&rig.fh, FAKE_SIGNAL_MSI), 2);
	/* A batch partly dropped still interrupts once; one wholly dropped does not. */
	seq = push(seq, 41, 30);
	rig_loop_turn(&rig);
	cr_assert_eq(fake_hv_count(&rig.fh, FAKE_SIGNAL_MSI), 3);
	(void)push(seq, 71, 5);
	rig_loop_turn(&rig);
	cr_assert_eq(fake_hv_count(&rig.fh, FAKE_SIGNAL_MSI), 3, "nothing written, no interrupt");
	expect_records(0, 64);
	expect_counters(76, (struct evt_want){ .delivered = 64, .full = 12, .irqs = 3, .reads = 4 });
}

/* ---- a ring outside guest RAM ---- */

Test(vsmmu_evtq, ring_outside_ram_is_evtq_abt_err)
{
	u32 seq;

	rig_wr32(&rig, ARM_SMMU_IRQ_CTRL, IRQ_CTRL_EVTQ_IRQEN | IRQ_CTRL_GERROR_IRQEN);
	evtq_at(0x1000, 4);
	seq = push(0, 0, 3);
	rig_loop_turn(&rig);
	cr_assert(rig_gerror_active(&rig, GERROR_EVTQ_ABT_ERR));
	cr_assert_eq(rig.fh.spi_raises[RIG_SPI_GERROR], 1, "one GERROR interrupt for the three");
	cr_assert_eq(rig.fh.spi_raises[RIG_SPI_EVTQ], 0, "nothing written, no EVTQ interrupt");
	cr_assert_eq(prod(), 0);
	cr_assert_eq(pending(), 0, "read and dropped, not left in the kernel");
	expect_counters(3, (struct evt_want){ .abt = 3, .reads = 1 });

	/* Straddling the end of RAM: the slots inside are written, the first one outside is an abort. */
	rig_gerror_ack(&rig);
	evtq_at(RIG_RAM + RIG_RAM_SIZE - 2 * 32, 2);
	(void)push(0, 10, 3);
	rig_loop_turn(&rig);
	cr_assert_eq(prod(), 2);
	cr_assert(rig_gerror_active(&rig, GERROR_EVTQ_ABT_ERR));
	for (unsigned int i = 0; i < 2; i++) {
		u64 e[4];

		rec(10 + i, e);
		cr_assert_eq(rig_get64(&rig, RIG_RAM + RIG_RAM_SIZE - 64 + 32 * i), e[0]);
	}
	(void)seq;
	expect_counters(6, (struct evt_want){ .delivered = 2, .abt = 4, .irqs = 1, .reads = 2 });
}

/* ---- batched reads ---- */

Test(vsmmu_evtq, batched_reads_across_record_boundaries)
{
	u32 seq;

	irq_setup(0, 0);
	evtq_at(RIG_EVTQ, 12);
	/* 200 records: reads of 64, 64, 64 and 8 records in one wake-up, one interrupt. */
	seq = push(0, 0, 200);
	cr_assert_eq(pending(), 200 * REC_SIZE);
	rig_loop_turn(&rig);
	cr_assert_eq(pending(), 0);
	expect_counters(200, (struct evt_want){ .delivered = 200, .irqs = 1, .reads = 4 });
	expect_records(0, 200);

	/* 1100: one wake-up reads at most 16 x 64 = 1024; the rest waits for the next one. */
	(void)push(seq, 200, 1100);
	rig_loop_turn(&rig);
	cr_assert_eq(pending(), 76 * REC_SIZE, "%d bytes left", pending());
	expect_counters(1224, (struct evt_want){ .delivered = 1224, .irqs = 2, .reads = 20 });
	rig_loop_turn(&rig);
	cr_assert_eq(pending(), 0);
	expect_records(200, 1100);
	expect_counters(1300, (struct evt_want){ .delivered = 1300, .irqs = 3, .reads = 22 });
	cr_assert_eq(rig.fh.spi_raises[RIG_SPI_EVTQ], 3);
}

/* ---- the events ivmm raises itself ---- */

static void cfgi(u32 sid)
{
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_ste(sid), rig_cmd_sync(CMDQ_SYNC_CS_NONE, 0, 0) }, 2);
	cr_assert_not(rig_gerror_active(&rig, GERROR_CMDQ_ERR));
}

Test(vsmmu_evtq, ivmm_events_share_the_ring_in_order)
{
	u64 e[8][4], k[4];
	u32 seq;

	irq_setup(0, 0);
	evtq_at(RIG_EVTQ, 4);
	rig_cr0(&rig, rig_rd32(&rig, ARM_SMMU_CR0) | CR0_SMMUEN);
	seq = push(0, 0, 2);
	rig_loop_turn(&rig);
	/* A stage-2 STE (no S2P): C_BAD_STE with the StreamID in dword 0. */
	rig_ste(&rig, rig_vsid(0), rig_ste_cfg(STE_CFG_S2_TRANS), 0);
	cfgi(rig_vsid(0));
	seq = push(seq, 2, 1);
	rig_loop_turn(&rig);
	/* A CD outside RAM: F_CD_FETCH with its address in dword 3. */
	rig_ste(&rig, rig_vsid(1), rig_ste_s1(0x2000), 0);
	cfgi(rig_vsid(1));
	/* A stream table outside RAM: F_STE_FETCH with the STE's address. */
	rig_cr0(&rig, rig_rd32(&rig, ARM_SMMU_CR0) & ~CR0_SMMUEN);
	rig_wr64(&rig, ARM_SMMU_STRTAB_BASE, 0x1000);
	rig_cr0(&rig, rig_rd32(&rig, ARM_SMMU_CR0) | CR0_SMMUEN);
	cfgi(rig_vsid(0));

	cr_assert_eq(rig_events(&rig, e, 8), 6);
	rec(0, k);
	cr_assert_arr_eq(e[0], k, sizeof(k));
	rec(1, k);
	cr_assert_arr_eq(e[1], k, sizeof(k));
	cr_assert_eq(e[2][0], FIELD_PREP(EVTQ_0_ID, EVT_ID_C_BAD_STE) | FIELD_PREP(EVTQ_0_SID, rig_vsid(0)));
	cr_assert(!e[2][1] && !e[2][2] && !e[2][3]);
	rec(2, k);
	cr_assert_arr_eq(e[3], k, sizeof(k));
	cr_assert_eq(e[4][0], FIELD_PREP(EVTQ_0_ID, EVT_ID_F_CD_FETCH) | FIELD_PREP(EVTQ_0_SID, rig_vsid(1)));
	cr_assert_eq(e[4][3], 0x2000, "the CD address in dword 3");
	cr_assert_eq(e[5][0], FIELD_PREP(EVTQ_0_ID, EVT_ID_F_STE_FETCH) | FIELD_PREP(EVTQ_0_SID, rig_vsid(0)));
	cr_assert_eq(e[5][3], 0x1000 + rig_vsid(0) * STRTAB_STE_SIZE, "the STE address in dword 3");
	cr_assert_eq(rig_stats(&rig).events, 3);
	cr_assert_eq(rig_stats(&rig).ste_errors, 3);
	/* Each of ivmm's own events is a batch of one: an interrupt each, plus one per vEVENTQ batch. */
	expect_counters(6, (struct evt_want){ .delivered = 6, .irqs = 5, .reads = 2 });
	cr_assert_eq(rig.fh.spi_raises[RIG_SPI_EVTQ], 5);
}

/* ---- teardown ---- */

Test(vsmmu_evtq, veventq_freed_at_destroy)
{
	u32 vq;

	evtq_at(RIG_EVTQ, 4);
	vq = rig_veventq(&rig);
	(void)push(0, 0, 3);
	rig_destroy_and_check(&rig);
	cr_assert_not(rig.fi.objs[vq].live);
	cr_assert_eq(rig.watch_fd, -1, "unwatched");
	cr_assert_eq(rig.unwatches, 1);
	cr_assert_eq(rig.fi.veventq_discarded, 3 * REC_SIZE);
}

/* EVTQEN 1 -> 0 with the kernel still holding the vEVENTQ's file (EBUSY): one try under the lock, no sleep;
 * the queue is retired, CR0ACK.EVTQEN clears at once. EVTQEN 0 -> 1 needs it gone first: while it is still
 * busy the ack stays 0 and each CR0ACK read (the guest's poll) tries once more. */
Test(vsmmu_evtq, busy_veventq_is_retired_and_the_next_enable_waits_for_it)
{
	unsigned int calls;
	u32 vq, vq2, cr0;

	evtq_at(RIG_EVTQ, 4);
	vq = rig_veventq(&rig);
	(void)push(0, 0, 2);
	rig.fi.fail_destroy = -EBUSY;
	rig.fi.fail_destroy_n = 3;
	rig.fi.fail_destroy_id = vq;
	calls = rig.fi.destroy_calls;
	cr0 = rig_rd32(&rig, ARM_SMMU_CR0) & ~CR0_EVTQEN;
	rig_cr0(&rig, cr0);
	cr_assert_eq(rig.fi.destroy_calls, calls + 1, "one try, no retry loop under the lock");
	cr_assert(rig.fi.objs[vq].live, "still held by the kernel");
	cr_assert_eq(rig.watch_fd, -1, "but out of the main loop");
	/* Its file released, its number kept by iommufd_destroy's placeholder until the destroy works. */
	int qfd = iommufd_obj_find(&rig.ictx, vq)->fd;
	struct stat qst;

	cr_assert(qfd >= 0 && !fstat(qfd, &qst) && !S_ISFIFO(qst.st_mode), "and its file released (fd %d)", qfd);

	/* EVTQEN=1 while it is still busy (two more refusals): no second vEVENTQ, the ack stays 0. */
	rig_wr32(&rig, ARM_SMMU_CR0, cr0 | CR0_EVTQEN);
	cr_assert_eq(rig.fi.destroy_calls, calls + 2);
	cr_assert_eq(rig_live(&rig, IOMMUFD_OBJ_VEVENTQ), 1, "only the old one");
	/* The guest polls CR0ACK: the next read tries once (refused), the one after succeeds and allocates. */
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_CR0ACK) & CR0_EVTQEN, 0);
	cr_assert_eq(rig.fi.destroy_calls, calls + 3);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_CR0ACK) & CR0_EVTQEN, CR0_EVTQEN);
	cr_assert_not(rig.fi.objs[vq].live);
	vq2 = rig_veventq(&rig);
	cr_assert_gt(vq2, vq);
	(void)push(0, 5, 1);
	rig_loop_turn(&rig);
	expect_records(5, 1);
	expect_counters(1, (struct evt_want){ .delivered = 1, .reads = 1 });

	/* Retired at the end of the VM's life: vsmmu_destroy (no lock held) waits it out. */
	rig.fi.fail_destroy = -EBUSY;
	rig.fi.fail_destroy_n = 150;
	rig.fi.fail_destroy_id = vq2;
	rig_cr0(&rig, cr0);
	cr_assert(rig.fi.objs[vq2].live);
	rig_destroy_and_check(&rig);
	cr_assert_not(rig.fi.objs[vq2].live);
}

Test(vsmmu_evtq, a_refused_veventq_alloc_leaves_cr0ack_evtqen_0)
{
	u32 cr0 = (rig_rd32(&rig, ARM_SMMU_CR0) & ~CR0_EVTQEN) | CR0_SMMUEN;

	rig_cr0(&rig, cr0);
	cr_assert_eq(rig_live(&rig, IOMMUFD_OBJ_VEVENTQ), 0);
	rig.fi.fail_veventq_alloc = -ENOMEM;
	rig_wr32(&rig, ARM_SMMU_CR0, cr0 | CR0_EVTQEN);
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_CR0) & CR0_EVTQEN, CR0_EVTQEN);
	/* Each CR0ACK read retries: refused again, still 0. */
	rig.fi.fail_veventq_alloc = -ENOMEM;
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_CR0ACK) & CR0_EVTQEN, 0, "not acknowledged while it cannot exist");
	cr_assert_eq(rig_live(&rig, IOMMUFD_OBJ_VEVENTQ), 0);
	/* Nothing goes into the ring while the ack is 0: an event ivmm raises itself is counted disabled. */
	rig_ste(&rig, 0x8, rig_ste_cfg(9), 0); /* a reserved Config: C_BAD_STE */
	rig_submit(&rig, (const struct rig_cmd[]){ rig_cmd_cfgi_ste(0x8) }, 1);
	cr_assert_eq(rig_stats(&rig).evt_disabled, 1);
	cr_assert_eq(rig_events(&rig, NULL, 0), 0);
	/* The host allows it now: the next poll sees the queue enabled. */
	cr_assert_eq(rig_rd32(&rig, ARM_SMMU_CR0ACK) & CR0_EVTQEN, CR0_EVTQEN);
	cr_assert_eq(rig_live(&rig, IOMMUFD_OBJ_VEVENTQ), 1);
}
