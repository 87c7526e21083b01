/* test_iommufd_events.c: vEVENTQ record parsing (header + SMMUv3 record, bare LOST_EVENTS headers,
 * truncation), sequence accounting (gaps, lost markers, wrap at INT_MAX), reading a vEVENTQ fd, and
 * HWPT_INVALIDATE batching with its consumed/failed accounting. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "iommu/iommufd.h"
#include "iommu/smmuv3_regs.h"
#include "tests/unit/fake_iommufd.h"

static void quiet(void)
{
	cr_redirect_stderr();
}

TestSuite(vevent, .init = quiet);
TestSuite(inv, .init = quiet);

/* Append one record as the kernel lays it out (little-endian record dwords). */
static size_t put(u8 *buf, size_t off, u32 flags, u32 seq, const u64 evt[4])
{
	struct iommufd_vevent_header h = { .flags = flags, .sequence = seq };

	memcpy(buf + off, &h, sizeof(h));
	off += sizeof(h);
	if (!(flags & IOMMU_VEVENTQ_FLAG_LOST_EVENTS)) {
		for (int i = 0; i < 4; i++) {
			u64 le = htole64(evt[i]);

			memcpy(buf + off + 8 * i, &le, 8);
		}
		off += 32;
	}
	return off;
}

static const u64 bad_cd[4] = { 0x000000100000000aULL, 0x0000008000000000ULL, 0x1000, 0 };

Test(vevent, parses_records_and_lost_marker)
{
	u8 buf[256];
	u64 other[4] = { FIELD_PREP(EVTQ_0_ID, EVT_ID_F_TRANSLATION) | FIELD_PREP(EVTQ_0_SID, 0x20), 1, 2, 3 };
	size_t len = 0, off = 0;
	struct iommufd_vevent ev;

	len = put(buf, len, 0, 0, bad_cd);
	len = put(buf, len, 0, 1, other);
	len = put(buf, len, IOMMU_VEVENTQ_FLAG_LOST_EVENTS, 2, NULL);
	cr_assert_eq(len, 40 + 40 + 8);
	cr_assert_eq(IOMMUFD_VEVENT_SMMUV3_SIZE, 40);

	cr_assert_eq(iommufd_vevent_parse(buf, len, &off, &ev), 1);
	cr_assert_eq(off, 40);
	cr_assert(ev.has_data);
	cr_assert(!ev.lost_events);
	cr_assert_eq(ev.sequence, 0);
	cr_assert_eq(ev.evt[0], 0x000000100000000aULL);
	cr_assert_eq(FIELD_GET(EVTQ_0_ID, ev.evt[0]), EVT_ID_C_BAD_CD);
	cr_assert_eq(FIELD_GET(EVTQ_0_SID, ev.evt[0]), 0x10);
	cr_assert_eq(ev.evt[2], 0x1000);

	cr_assert_eq(iommufd_vevent_parse(buf, len, &off, &ev), 1);
	cr_assert_eq(ev.sequence, 1);
	cr_assert_eq(FIELD_GET(EVTQ_0_SID, ev.evt[0]), 0x20);
	cr_assert_eq(ev.evt[3], 3);

	cr_assert_eq(iommufd_vevent_parse(buf, len, &off, &ev), 1);
	cr_assert(ev.lost_events);
	cr_assert(!ev.has_data);
	cr_assert_eq(ev.flags, IOMMU_VEVENTQ_FLAG_LOST_EVENTS);
	cr_assert_eq(ev.sequence, 2);
	cr_assert_eq(off, len);
	cr_assert_eq(iommufd_vevent_parse(buf, len, &off, &ev), 0, "end of buffer");
}

Test(vevent, truncated_records_are_errors)
{
	u8 buf[64];
	size_t len = put(buf, 0, 0, 0, bad_cd), off;
	struct iommufd_vevent ev;

	for (size_t cut = 1; cut < len; cut++) {
		off = 0;
		cr_assert_eq(iommufd_vevent_parse(buf, cut, &off, &ev), -EPROTO, "cut at %zu", cut);
		cr_assert_eq(off, 0, "offset not advanced on error");
	}
}

Test(vevent, sequence_accounting_counts_gaps_and_lost_markers)
{
	struct iommufd_vevent_seq s = { 0 };
	struct iommufd_vevent ev = { .has_data = true };

	ev.sequence = 0;
	cr_assert_eq(iommufd_vevent_seq_account(&s, &ev), 0);
	ev.sequence = 1;
	cr_assert_eq(iommufd_vevent_seq_account(&s, &ev), 0);
	ev.sequence = 4; /* 2 and 3 lost */
	cr_assert_eq(iommufd_vevent_seq_account(&s, &ev), 2);
	/* Tail marker: the queue overflowed; its sequence is that of the last lost event (5, 6). */
	struct iommufd_vevent lost = { .flags = IOMMU_VEVENTQ_FLAG_LOST_EVENTS, .lost_events = true, .sequence = 6 };
	cr_assert_eq(iommufd_vevent_seq_account(&s, &lost), 2);
	ev.sequence = 7;
	cr_assert_eq(iommufd_vevent_seq_account(&s, &ev), 0);
	cr_assert_eq(s.received, 4);
	cr_assert_eq(s.lost, 4);
	cr_assert_eq(s.next, 8);
}

Test(vevent, sequence_wraps_at_int_max)
{
	struct iommufd_vevent_seq s = { .started = true, .next = INT_MAX };
	struct iommufd_vevent ev = { .has_data = true, .sequence = INT_MAX };

	cr_assert_eq(iommufd_vevent_seq_account(&s, &ev), 0);
	cr_assert_eq(s.next, 0);
	ev.sequence = 0;
	cr_assert_eq(iommufd_vevent_seq_account(&s, &ev), 0);
	ev.sequence = 2;
	cr_assert_eq(iommufd_vevent_seq_account(&s, &ev), 1);
	/* A gap across the wrap: expected INT_MAX - 1, got 1 -> INT_MAX-1, INT_MAX, 0 lost. */
	struct iommufd_vevent_seq w = { .started = true, .next = INT_MAX - 1 };
	ev.sequence = 1;
	cr_assert_eq(iommufd_vevent_seq_account(&w, &ev), 3);
}

Test(vevent, first_record_not_zero_means_loss_before_first_read)
{
	struct iommufd_vevent_seq s = { 0 };
	struct iommufd_vevent ev = { .has_data = true, .sequence = 3 };

	cr_assert_eq(iommufd_vevent_seq_account(&s, &ev), 3);
}

Test(vevent, read_from_veventq_fd)
{
	struct fake_iommufd f;
	struct iommufd ictx;
	u32 ioas, s2, viommu, vq;
	int fd;
	u8 buf[4 * IOMMUFD_VEVENT_SMMUV3_SIZE];
	struct iommufd_vevent ev;
	size_t off = 0;

	fake_iommufd_init(&f);
	fake_iommufd_attach_ctx(&f, &ictx);
	cr_assert_eq(iommufd_ioas_alloc(&ictx, &ioas, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_hwpt_alloc_nest_parent(&ictx, 1, ioas, &s2, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_viommu_alloc_smmuv3(&ictx, 1, s2, &viommu, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_veventq_alloc_smmuv3(&ictx, viommu, 64, &vq, &fd, FAIL_PRINT), 0);

	cr_assert_eq(iommufd_veventq_read(&ictx, fd, buf, sizeof(buf), FAIL_PRINT), 0, "nothing queued (non-blocking)");
	cr_assert_eq(fake_iommufd_push_event(&f, vq, 0, 0, bad_cd), 0);
	cr_assert_eq(fake_iommufd_push_event(&f, vq, 0, 1, bad_cd), 0);
	ssize_t n = iommufd_veventq_read(&ictx, fd, buf, sizeof(buf), FAIL_PRINT);
	cr_assert_eq(n, 80);
	cr_assert_eq(iommufd_vevent_parse(buf, (size_t)n, &off, &ev), 1);
	cr_assert_eq(FIELD_GET(EVTQ_0_SID, ev.evt[0]), 0x10);
	cr_assert_eq(iommufd_vevent_parse(buf, (size_t)n, &off, &ev), 1);
	cr_assert_eq(ev.sequence, 1);
	cr_assert_eq(iommufd_vevent_parse(buf, (size_t)n, &off, &ev), 0);

	cr_assert_eq(iommufd_veventq_read(&ictx, fd, buf, 39, FAIL_PRINT), -EINVAL);
	char want[128];
	snprintf(want, sizeof(want), "iommufd: vEVENTQ fd %d read: buffer of 39 bytes holds no record: Invalid argument", fd);
	cr_assert_str_eq(ictx.last_err, want);
	iommufd_close(&ictx);
	fake_iommufd_release(&f);
}

/* ---- invalidation ---- */

struct inv_env {
	struct fake_iommufd f;
	struct iommufd ictx;
	u32 viommu;
};

static void inv_env(struct inv_env *e)
{
	u32 ioas, s2;

	fake_iommufd_init(&e->f);
	fake_iommufd_attach_ctx(&e->f, &e->ictx);
	cr_assert_eq(iommufd_ioas_alloc(&e->ictx, &ioas, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_hwpt_alloc_nest_parent(&e->ictx, 1, ioas, &s2, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_viommu_alloc_smmuv3(&e->ictx, 1, s2, &e->viommu, FAIL_PRINT), 0);
}

static void inv_done(struct inv_env *e)
{
	iommufd_close(&e->ictx);
	fake_iommufd_release(&e->f);
}

static void tlbi_va(u64 cmd[2], u64 asid, u64 va)
{
	cmd[0] = FIELD_PREP(CMDQ_0_OP, CMDQ_OP_TLBI_NH_VA) | (asid << 48);
	cmd[1] = va;
}

Test(inv, one_call_is_one_ioctl)
{
	struct inv_env e;
	u64 (*cmds)[2] = calloc(100, sizeof(*cmds));
	u32 done = 99;

	inv_env(&e);
	cr_assert_eq(fake_inv_send(&e.ictx, e.viommu, (const u64 (*)[2])cmds, 0, &done), 0, "no command: a no-op");
	cr_assert_eq(done, 0);
	cr_assert_eq(e.f.inv_calls, 0);
	for (u32 i = 0; i < 100; i++)
		tlbi_va(cmds[i], 1, 0x1000ULL * i);
	cr_assert_eq(fake_inv_send(&e.ictx, e.viommu, (const u64 (*)[2])cmds, 100, &done), 0);
	cr_assert_eq(e.f.inv_calls, 1, "100 commands, one ioctl");
	cr_assert_eq(e.f.inv_last_num_in, 100);
	cr_assert_eq(done, 100);
	cr_assert_eq(e.f.inv_cmds_accepted, 100);
	free(cmds);
	inv_done(&e);
}

Test(inv, kernel_stopping_midway_is_accounted_and_named)
{
	struct inv_env e;
	u64 cmds[20][2];
	u32 done = 99;

	inv_env(&e);
	for (u32 i = 0; i < 20; i++) {
		tlbi_va(cmds[i], 1, 0x1000ULL * i);
		if (i == 10) {
			/* CMD_SYNC is not an invalidation: the kernel rejects it. */
			cmds[i][0] = FIELD_PREP(CMDQ_0_OP, CMDQ_OP_CMD_SYNC);
			cmds[i][1] = 0;
		}
	}
	cr_assert_eq(fake_inv_send(&e.ictx, e.viommu, (const u64 (*)[2])cmds, 20, &done), -EIO);
	cr_assert_eq(done, 10);
	cr_assert_str_eq(e.ictx.last_err, "iommufd: HWPT_INVALIDATE viommu 3: command 10 of 20 (op 0x46, "
					  "0x0000000000000046 0x0000000000000000): Input/output error");
	/* The next call works normally. */
	tlbi_va(cmds[0], 2, 0);
	cr_assert_eq(fake_inv_send(&e.ictx, e.viommu, (const u64 (*)[2])cmds, 1, &done), 0);
	cr_assert_eq(done, 1);
	inv_done(&e);
}

Test(inv, whole_ioctl_failure_consumes_nothing)
{
	struct inv_env e;
	u64 cmds[2][2];
	u32 done = 99;

	inv_env(&e);
	tlbi_va(cmds[0], 1, 0);
	tlbi_va(cmds[1], 1, 0);
	e.f.fail_invalidate = -ENOMEM;
	cr_assert_eq(fake_inv_send(&e.ictx, e.viommu, (const u64 (*)[2])cmds, 2, &done), -ENOMEM);
	cr_assert_eq(done, 0);
	cr_assert_str_eq(e.ictx.last_err, "iommufd: HWPT_INVALIDATE viommu 3: command 0 of 2 (op 0x12, "
					  "0x0001000000000012 0x0000000000000000): Cannot allocate memory");
	inv_done(&e);
}

Test(inv, one_call_reports_where_it_stopped)
{
	struct inv_env e;
	u64 (*cmds)[2] = calloc(150, sizeof(*cmds));
	u32 done = 0;

	inv_env(&e);
	for (u32 i = 0; i < 150; i++)
		tlbi_va(cmds[i], 3, 0x1000ULL * i);
	cr_assert_eq(fake_inv_send(&e.ictx, e.viommu, (const u64 (*)[2])cmds, 150, &done), 0);
	cr_assert_eq(done, 150);
	cr_assert_eq(e.f.inv_calls, 1);
	cr_assert_eq(e.f.inv_last_num_in, 150);

	cmds[130][0] = FIELD_PREP(CMDQ_0_OP, CMDQ_OP_CFGI_STE); /* not allowed on a vIOMMU */
	cr_assert_eq(fake_inv_send(&e.ictx, e.viommu, (const u64 (*)[2])cmds, 150, &done), -EIO);
	cr_assert_eq(done, 130);
	cr_assert_eq(e.f.inv_calls, 2, "one ioctl, which stops at the refused command");
	free(cmds);
	inv_done(&e);
}

Test(inv, sid_commands_need_a_vdevice)
{
	struct inv_env e;
	u32 vdev, done = 9;
	const u64 cmds[][2] = {
		{ FIELD_PREP(CMDQ_0_OP, CMDQ_OP_CFGI_CD) | FIELD_PREP(CMDQ_CFGI_0_SID, 0x10), CMDQ_CFGI_1_LEAF },
		{ FIELD_PREP(CMDQ_0_OP, CMDQ_OP_TLBI_NH_ALL), 0 },
	};

	inv_env(&e);
	cr_assert_eq(fake_inv_send(&e.ictx, e.viommu, cmds, 2, &done), -EIO);
	cr_assert_eq(done, 0);
	cr_assert_eq(iommufd_vdevice_alloc(&e.ictx, e.viommu, 1, 0x10, &vdev), 0);
	cr_assert_eq(fake_inv_send(&e.ictx, e.viommu, cmds, 2, &done), 0);
	cr_assert_eq(done, 2);
	inv_done(&e);
}
