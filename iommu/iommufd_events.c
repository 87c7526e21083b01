/* iommufd_events.c: vEVENTQ records: parsing what a read() of a vEVENTQ fd returns (struct
 * iommufd_vevent_header + struct iommu_vevent_arm_smmuv3, or a bare LOST_EVENTS header) and sequence
 * accounting so lost events are counted, never silent. Pure functions, no I/O. */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include "iommu/iommufd.h"

int iommufd_vevent_parse(const void *buf, size_t len, size_t *off, struct iommufd_vevent *out)
{
	const unsigned char *p = buf;
	struct iommufd_vevent_header hdr;
	struct iommu_vevent_arm_smmuv3 evt;

	if (*off >= len)
		return 0;
	if (len - *off < sizeof(hdr))
		return -EPROTO;
	memcpy(&hdr, p + *off, sizeof(hdr));
	memset(out, 0, sizeof(*out));
	out->flags = hdr.flags;
	out->sequence = hdr.sequence;
	out->lost_events = hdr.flags & IOMMU_VEVENTQ_FLAG_LOST_EVENTS;
	if (out->lost_events) {
		/* A LOST_EVENTS header is never followed by data. */
		*off += sizeof(hdr);
		return 1;
	}
	if (len - *off - sizeof(hdr) < sizeof(evt))
		return -EPROTO;
	memcpy(&evt, p + *off + sizeof(hdr), sizeof(evt));
	for (int i = 0; i < 4; i++)
		out->evt[i] = le64toh(evt.evt[i]);
	out->has_data = true;
	*off += sizeof(hdr) + sizeof(evt);
	return 1;
}

/* Sequences run 0..INT_MAX and wrap to 0. The queue starts at 0, so a reader that starts at 0 also sees
 * events lost before its first read. A LOST_EVENTS header carries the sequence of the last lost event. */
u32 iommufd_vevent_seq_account(struct iommufd_vevent_seq *s, const struct iommufd_vevent *ev)
{
	u32 seq = ev->sequence & INT_MAX;
	u32 gap = (seq - s->next) & INT_MAX;
	u32 lost = ev->lost_events ? gap + 1 : gap;

	s->started = true;
	s->next = (seq + 1) & INT_MAX;
	s->lost += lost;
	if (ev->has_data)
		s->received++;
	return lost;
}
