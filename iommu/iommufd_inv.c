/* iommufd_inv.c: batches of ARM SMMUv3 invalidation commands for IOMMU_HWPT_INVALIDATE on a vIOMMU, with
 * accounting of what the kernel consumed. The vSMMU gathers commands until the guest's CMD_SYNC, then
 * flushes; a kernel error names the command it stopped at. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include "iommu/iommufd_internal.h"

void iommufd_inv_batch_init(struct iommufd_inv_batch *b, struct iommufd *ictx, u32 viommu_id)
{
	memset(b, 0, sizeof(*b));
	b->ictx = ictx;
	b->viommu_id = viommu_id;
}

int iommufd_inv_batch_flush(struct iommufd_inv_batch *b, u32 *bad_index)
{
	u32 asked = b->nr, done = b->nr;
	int rc;

	if (!asked)
		return 0;
	rc = iommufd_invalidate_raw(b->ictx, b->viommu_id, b->cmds, &done);
	b->nr = 0;
	b->submitted += asked;
	b->consumed += done;
	if (rc) {
		b->failed += asked - done;
		if (bad_index)
			*bad_index = done;
		return rc;
	}
	/* Success with a short count would be a kernel contract break: account it as failed. */
	if (done < asked) {
		b->failed += asked - done;
		if (bad_index)
			*bad_index = done;
		return -EIO;
	}
	return 0;
}

int iommufd_inv_batch_add(struct iommufd_inv_batch *b, const u64 cmd[2])
{
	if (b->nr == IOMMUFD_INV_BATCH_MAX) {
		int rc = iommufd_inv_batch_flush(b, NULL);

		if (rc)
			return rc;
	}
	b->cmds[b->nr].cmd[0] = htole64(cmd[0]);
	b->cmds[b->nr].cmd[1] = htole64(cmd[1]);
	b->nr++;
	return 0;
}

int iommufd_invalidate_smmuv3(struct iommufd *ictx, u32 viommu_id, const u64 (*cmds)[2], u32 n, u32 *done)
{
	struct iommu_viommu_arm_smmuv3_invalidate chunk[IOMMUFD_INV_BATCH_MAX];
	u32 total = 0;

	while (total < n) {
		u32 k = n - total < IOMMUFD_INV_BATCH_MAX ? n - total : IOMMUFD_INV_BATCH_MAX;
		u32 handled = k;
		int rc;

		for (u32 i = 0; i < k; i++) {
			chunk[i].cmd[0] = htole64(cmds[total + i][0]);
			chunk[i].cmd[1] = htole64(cmds[total + i][1]);
		}
		rc = iommufd_invalidate_raw(ictx, viommu_id, chunk, &handled);
		total += handled;
		if (rc || handled < k) {
			*done = total;
			return rc ? rc : -EIO;
		}
	}
	*done = total;
	return 0;
}
