/* iommufd_iova.c: pure helpers over an IOAS's allowed IOVA ranges (IOMMU_IOAS_IOVA_RANGES): is a range
 * usable, and where is the first usable place for one. Used to keep guest RAM and test buffers out of
 * reserved windows such as the arm64 sw_msi window. */
#include <errno.h>
#include <stdio.h>
#include "iommu/iommufd.h"

static const struct iommu_iova_range *range_at(const struct iommu_iova_range *r, size_t nr, u64 a)
{
	for (size_t i = 0; i < nr; i++)
		if (r[i].start <= a && a <= r[i].last)
			return &r[i];
	return NULL;
}

int iommufd_check_iova(const struct iommu_iova_range *ranges, size_t nr, u64 iova, u64 length, char *why,
		       size_t whylen)
{
	u64 last = iova + length - 1;
	const struct iommu_iova_range *r;
	u64 p = iova, hole_end = UINT64_MAX;

	if (!length || last < iova) {
		snprintf(why, whylen, "IOVA 0x%llx length 0x%llx is empty or wraps", (unsigned long long)iova,
			 (unsigned long long)length);
		return -ERANGE;
	}
	r = range_at(ranges, nr, iova);
	if (r && last <= r->last)
		return 0;
	/* Find the first reserved address in [iova, last] and the hole around it. */
	while ((r = range_at(ranges, nr, p)) && r->last < last)
		p = r->last + 1;
	if (r) {
		snprintf(why, whylen, "IOVA 0x%llx-0x%llx spans more than one allowed range",
			 (unsigned long long)iova, (unsigned long long)last);
		return -ERANGE;
	}
	for (size_t i = 0; i < nr; i++)
		if (ranges[i].start > p && ranges[i].start - 1 < hole_end)
			hole_end = ranges[i].start - 1;
	u64 hole_start = 0;
	for (size_t i = 0; i < nr; i++)
		if (ranges[i].last < p && ranges[i].last + 1 > hole_start)
			hole_start = ranges[i].last + 1;
	snprintf(why, whylen, "IOVA 0x%llx-0x%llx overlaps reserved 0x%llx-0x%llx", (unsigned long long)iova,
		 (unsigned long long)last, (unsigned long long)hole_start, (unsigned long long)hole_end);
	return -ERANGE;
}

int iommufd_find_iova(const struct iommu_iova_range *ranges, size_t nr, u64 min, u64 length, u64 align, u64 *iova)
{
	bool found = false;
	u64 best = 0;

	if (!length || !align || (align & (align - 1)))
		return -EINVAL;
	for (size_t i = 0; i < nr; i++) {
		u64 s = ranges[i].start > min ? ranges[i].start : min;
		u64 c = (s + align - 1) & ~(align - 1);

		if (c < s || c > ranges[i].last)
			continue; /* wrapped while aligning, or past the range */
		if (length - 1 > ranges[i].last - c)
			continue;
		if (!found || c < best) {
			best = c;
			found = true;
		}
	}
	if (!found)
		return -ENOSPC;
	*iova = best;
	return 0;
}
