/* test_vfio_dev_ops.c: the vfio_dev wrappers over the fake backend: bind/attach/detach with their
 * messages, region info through a real (and growing) capability chain, region I/O bounds, config space
 * little-endian helpers, mmap rules, irq eventfds/mask/disable, reset, and attach state mirrored into the
 * fake iommufd so HWPT teardown order is enforced across both layers. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include "devices/vfio_dev.h"
#include "iommu/smmuv3_regs.h"
#include "tests/unit/fake_iommufd.h"
#include "tests/unit/fake_vfio.h"

TestSuite(vfio_dev, .init = cr_redirect_stderr);

struct env {
	struct fake_vfio fv;
	struct vfio_dev dev;
};

static void env_init(struct env *e, bool bind)
{
	fake_vfio_init(&e->fv);
	fake_vfio_open(&e->fv, &e->dev, "0000:00:01.0");
	if (bind)
		cr_assert_eq(vfio_dev_bind(&e->dev, 5), 0);
}

static void env_done(struct env *e)
{
	vfio_dev_close(&e->dev);
	fake_vfio_release(&e->fv);
}

Test(vfio_dev, bind_and_attach_track_state)
{
	struct env e;

	env_init(&e, false);
	e.fv.next_dev_id = 7;
	cr_assert_eq(vfio_dev_bind(&e.dev, 5), 0);
	cr_assert(e.dev.bound);
	cr_assert_eq(e.dev.dev_id, 7);
	cr_assert_eq(vfio_dev_attach(&e.dev, 3, FAIL_PRINT), 0);
	cr_assert(e.dev.attached);
	cr_assert_eq(e.dev.pt_id, 3);
	cr_assert_eq(vfio_dev_attach(&e.dev, 9, FAIL_PRINT), 0, "replace");
	cr_assert_eq(e.dev.pt_id, 9);
	cr_assert_eq(e.fv.attached_pt, 9);
	cr_assert_eq(vfio_dev_detach(&e.dev), 0);
	cr_assert(!e.dev.attached);
	cr_assert_eq(e.fv.attached_pt, 0);
	env_done(&e);
	cr_assert(e.fv.closed);
}

Test(vfio_dev, bind_errors_say_what_it_means)
{
	struct env e;

	env_init(&e, false);
	e.fv.fail_bind = -EBUSY;
	cr_assert_eq(vfio_dev_bind(&e.dev, 5), -EBUSY);
	cr_assert_str_eq(e.dev.last_err, "vfio 0000:00:01.0: VFIO_DEVICE_BIND_IOMMUFD (iommufd fd 5): Device or resource "
					 "busy (device in use through its legacy VFIO group)");
	cr_assert(!e.dev.bound);
	cr_assert_eq(vfio_dev_bind(&e.dev, 5), 0);
	cr_assert_eq(vfio_dev_bind(&e.dev, 5), -EINVAL, "second bind");
	cr_assert_str_eq(e.dev.last_err, "vfio 0000:00:01.0: VFIO_DEVICE_BIND_IOMMUFD (iommufd fd 5): Invalid argument "
					 "(already bound: is the device in use by another VMM or process?)");
	e.fv.fail_attach = -EINVAL;
	cr_assert_eq(vfio_dev_attach(&e.dev, 4, FAIL_PRINT), -EINVAL);
	cr_assert_str_eq(e.dev.last_err, "vfio 0000:00:01.0: VFIO_DEVICE_ATTACH_IOMMUFD_PT (dev 1, pt 4): Invalid argument");
	cr_assert(!e.dev.attached);
	cr_assert_eq(vfio_dev_attach(&e.dev, 4, FAIL_PRINT), 0);
	e.fv.fail_attach = -EBUSY;
	cr_assert_eq(vfio_dev_attach(&e.dev, 6, FAIL_PRINT), -EBUSY);
	cr_assert_str_eq(e.dev.last_err, "vfio 0000:00:01.0: VFIO_DEVICE_ATTACH_IOMMUFD_PT (dev 1, pt 6, replacing the "
					 "current one): Device or resource busy");
	cr_assert_eq(e.dev.pt_id, 4, "a failed replace keeps the old attachment");
	e.fv.fail_reset = -ENOTTY;
	cr_assert_eq(vfio_dev_reset(&e.dev, FAIL_PRINT), -ENOTTY);
	cr_assert_str_eq(e.dev.last_err, "vfio 0000:00:01.0: VFIO_DEVICE_RESET: Inappropriate ioctl for device");
	cr_assert_eq(vfio_dev_reset(&e.dev, FAIL_PRINT), 0);
	cr_assert_eq(e.fv.resets, 1);
	env_done(&e);
}

Test(vfio_dev, device_info)
{
	struct env e;
	struct vfio_device_info info;

	env_init(&e, true);
	cr_assert_eq(vfio_dev_get_info(&e.dev, &info), 0);
	cr_assert_eq(info.flags, VFIO_DEVICE_FLAGS_RESET | VFIO_DEVICE_FLAGS_PCI);
	cr_assert_eq(info.num_regions, VFIO_PCI_CONFIG_REGION_INDEX + 1);
	cr_assert_eq(info.num_irqs, VFIO_PCI_REQ_IRQ_INDEX + 1);
	env_done(&e);
}

Test(vfio_dev, region_info_retries_with_the_size_the_kernel_asks)
{
	struct env e;
	struct vfio_region r;
	struct fake_vfio_region *fr;

	env_init(&e, true);
	cr_assert_eq(fake_vfio_set_region(&e.fv, VFIO_PCI_BAR2_REGION_INDEX, 0x4000,
					  VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP), 0);
	fr = &e.fv.regions[VFIO_PCI_BAR2_REGION_INDEX];
	fr->sparse = true;
	fr->nr_areas = 2;
	fr->areas[0] = (struct vfio_region_sparse_mmap_area){ 0, 0x1000 };
	fr->areas[1] = (struct vfio_region_sparse_mmap_area){ 0x2000, 0x2000 };
	fr->msix_mappable = true;
	e.fv.extra_cap_len = 400; /* chain > the first buffer: the wrapper must ask again */
	cr_assert_eq(vfio_dev_region_info(&e.dev, VFIO_PCI_BAR2_REGION_INDEX, &r), 0, "%s", e.dev.last_err);
	cr_assert_eq(e.fv.region_info_calls, 2);
	cr_assert_eq(r.index, VFIO_PCI_BAR2_REGION_INDEX);
	cr_assert_eq(r.size, 0x4000);
	cr_assert_eq(r.offset, (u64)VFIO_PCI_BAR2_REGION_INDEX << FAKE_VFIO_REGION_SHIFT);
	cr_assert(r.sparse);
	cr_assert_eq(r.nr_areas, 2);
	cr_assert_eq(r.areas[1].offset, 0x2000);
	cr_assert(r.msix_mappable, "capability after the unknown one is found");

	e.fv.extra_cap_len = 0;
	e.fv.region_info_calls = 0;
	cr_assert_eq(vfio_dev_region_info(&e.dev, VFIO_PCI_BAR2_REGION_INDEX, &r), 0);
	cr_assert_eq(e.fv.region_info_calls, 1, "small chains fit the first buffer");

	e.fv.fail_region_info = -EINVAL;
	cr_assert_eq(vfio_dev_region_info(&e.dev, 3, &r), -EINVAL);
	cr_assert_str_eq(e.dev.last_err, "vfio 0000:00:01.0: VFIO_DEVICE_GET_REGION_INFO region 3: Invalid argument");
	env_done(&e);
}

Test(vfio_dev, region_io_bounds_and_mmap_rules)
{
	struct env e;
	struct vfio_region r;
	struct fake_vfio_region *fr;
	u8 buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, back[8];
	void *p;

	env_init(&e, true);
	cr_assert_eq(fake_vfio_set_region(&e.fv, 0, 0x4000,
					  VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP), 0);
	fr = &e.fv.regions[0];
	fr->sparse = true;
	fr->nr_areas = 1;
	fr->areas[0] = (struct vfio_region_sparse_mmap_area){ 0x1000, 0x3000 };
	cr_assert_eq(vfio_dev_region_info(&e.dev, 0, &r), 0);

	cr_assert_eq(vfio_dev_region_write(&e.dev, &r, 0x3ff8, buf, 8), 0);
	cr_assert_eq(memcmp(fr->data + 0x3ff8, buf, 8), 0, "written at the region offset");
	cr_assert_eq(vfio_dev_region_read(&e.dev, &r, 0x3ff8, back, 8), 0);
	cr_assert_eq(memcmp(back, buf, 8), 0);
	cr_assert_eq(vfio_dev_region_read(&e.dev, &r, 0x3ffc, back, 8), -ERANGE);
	cr_assert_str_eq(e.dev.last_err, "vfio 0000:00:01.0: region 0 read at 0x3ffc length 8: outside the region "
					 "(size 0x4000): Numerical result out of range");
	cr_assert_eq(vfio_dev_region_write(&e.dev, &r, UINT64_MAX, buf, 8), -ERANGE);

	cr_assert_eq(vfio_dev_region_mmap(&e.dev, &r, 0x1000, 0x3000, PROT_READ | PROT_WRITE, &p), 0);
	cr_assert_eq(p, fr->data + 0x1000);
	cr_assert_eq(vfio_dev_region_mmap(&e.dev, &r, 0, 0x1000, PROT_READ, &p), -EPERM);
	cr_assert_str_eq(e.dev.last_err, "vfio 0000:00:01.0: region 0 mmap 0x0 length 0x1000: not an mmappable part of "
					 "the region: Operation not permitted");
	cr_assert_eq(vfio_dev_region_munmap(&e.dev, p, 0x3000), 0);

	e.fv.fail_pread = -EIO;
	cr_assert_eq(vfio_dev_region_read(&e.dev, &r, 0, back, 4), -EIO);
	cr_assert_str_eq(e.dev.last_err, "vfio 0000:00:01.0: region 0 read at 0x0 length 4: Input/output error");

	/* A read-only region refuses writes before reaching the kernel. */
	r.flags &= ~VFIO_REGION_INFO_FLAG_WRITE;
	cr_assert_eq(vfio_dev_region_write(&e.dev, &r, 0, buf, 4), -EACCES);
	cr_assert_str_eq(e.dev.last_err, "vfio 0000:00:01.0: region 0 write: region does not allow it: Permission denied");
	env_done(&e);
}

Test(vfio_dev, config_space_is_little_endian)
{
	struct env e;
	u8 *cfg;
	u32 v;

	env_init(&e, true);
	cfg = e.fv.regions[VFIO_PCI_CONFIG_REGION_INDEX].data;
	cfg[0] = 0x34;
	cfg[1] = 0x12;
	cfg[2] = 0xe8;
	cfg[3] = 0x11;
	cr_assert_eq(vfio_dev_cfg_read(&e.dev, 0, 4, &v, FAIL_PRINT), 0);
	cr_assert_eq(v, 0x11e81234);
	cr_assert_eq(vfio_dev_cfg_read(&e.dev, 2, 2, &v, FAIL_PRINT), 0);
	cr_assert_eq(v, 0x11e8);
	cr_assert_eq(vfio_dev_cfg_read(&e.dev, 1, 1, &v, FAIL_PRINT), 0);
	cr_assert_eq(v, 0x12);
	cr_assert_eq(e.fv.region_info_calls, 1, "config region info fetched once");
	cr_assert_eq(vfio_dev_cfg_write(&e.dev, 4, 2, 0x0406, FAIL_PRINT), 0);
	cr_assert_eq(cfg[4], 0x06);
	cr_assert_eq(cfg[5], 0x04);
	cr_assert_eq(cfg[6], 0x00, "2-byte write leaves the next bytes alone");
	cr_assert_eq(vfio_dev_cfg_read(&e.dev, 0, 3, &v, FAIL_PRINT), -EINVAL);
	cr_assert_str_eq(e.dev.last_err, "vfio 0000:00:01.0: config read at 0x0: bad size 3: Invalid argument");
	cr_assert_eq(vfio_dev_cfg_read(&e.dev, 0xfe, 4, &v, FAIL_PRINT), -ERANGE);
	env_done(&e);
}

Test(vfio_dev, irqs_eventfds_mask_disable)
{
	struct env e;
	struct vfio_irq_info info;
	int fds[3] = { 10, -1, 12 };

	env_init(&e, true);
	e.fv.irqs[VFIO_PCI_MSIX_IRQ_INDEX].flags = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE;
	e.fv.irqs[VFIO_PCI_MSIX_IRQ_INDEX].count = 8;
	e.fv.irqs[VFIO_PCI_INTX_IRQ_INDEX].flags = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE |
						   VFIO_IRQ_INFO_AUTOMASKED;
	e.fv.irqs[VFIO_PCI_INTX_IRQ_INDEX].count = 1;

	cr_assert_eq(vfio_dev_irq_info(&e.dev, VFIO_PCI_MSIX_IRQ_INDEX, &info), 0);
	cr_assert_eq(info.count, 8);
	cr_assert_eq(info.flags, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE);

	cr_assert_eq(vfio_dev_irq_set_eventfds(&e.dev, VFIO_PCI_MSIX_IRQ_INDEX, 2, 3, fds, FAIL_PRINT), 0);
	cr_assert_eq(e.fv.trigger_fd[VFIO_PCI_MSIX_IRQ_INDEX][2], 10);
	cr_assert_eq(e.fv.trigger_fd[VFIO_PCI_MSIX_IRQ_INDEX][3], -1);
	cr_assert_eq(e.fv.trigger_fd[VFIO_PCI_MSIX_IRQ_INDEX][4], 12);
	cr_assert(e.fv.enabled[VFIO_PCI_MSIX_IRQ_INDEX]);
	const struct fake_vfio_irq_call *c = &e.fv.irq_calls[0];
	cr_assert_eq(c->flags, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER);
	cr_assert_eq(c->start, 2);
	cr_assert_eq(c->count, 3);

	cr_assert_eq(vfio_dev_irq_set_eventfds(&e.dev, VFIO_PCI_MSIX_IRQ_INDEX, 6, 3, fds, FAIL_PRINT), -EINVAL);
	cr_assert_str_eq(e.dev.last_err, "vfio 0000:00:01.0: VFIO_DEVICE_SET_IRQS MSI-X trigger eventfds (vectors 6..8): "
					 "Invalid argument");
	cr_assert_eq(vfio_dev_irq_set_eventfds(&e.dev, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, fds, FAIL_PRINT), -EINVAL);

	cr_assert_eq(vfio_dev_irq_mask(&e.dev, VFIO_PCI_INTX_IRQ_INDEX, 0, true), 0);
	cr_assert(e.fv.masked[VFIO_PCI_INTX_IRQ_INDEX][0]);
	cr_assert_eq(vfio_dev_irq_mask(&e.dev, VFIO_PCI_INTX_IRQ_INDEX, 0, false), 0);
	cr_assert(!e.fv.masked[VFIO_PCI_INTX_IRQ_INDEX][0]);
	cr_assert_eq(vfio_dev_irq_unmask_eventfd(&e.dev, VFIO_PCI_INTX_IRQ_INDEX, 0, 21, FAIL_PRINT), 0);
	cr_assert_eq(e.fv.unmask_fd[VFIO_PCI_INTX_IRQ_INDEX][0], 21);

	cr_assert_eq(vfio_dev_irq_disable(&e.dev, VFIO_PCI_MSIX_IRQ_INDEX, FAIL_PRINT), 0);
	cr_assert(!e.fv.enabled[VFIO_PCI_MSIX_IRQ_INDEX]);
	cr_assert_eq(e.fv.trigger_fd[VFIO_PCI_MSIX_IRQ_INDEX][2], -1);
	c = &e.fv.irq_calls[e.fv.nr_irq_calls - 1];
	cr_assert_eq(c->flags, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER);
	cr_assert_eq(c->count, 0);
	env_done(&e);
}

/* The two layers together: the nested HWPT cannot go while the device sits on it; the order used by the
 * lab program (re-attach to S2, destroy children, detach, destroy S2 and IOAS) empties everything. */
Test(vfio_dev, teardown_order_across_vfio_and_iommufd)
{
	struct fake_iommufd fi;
	struct iommufd ictx;
	struct env e;
	u32 ioas, s2, viommu, vdev, vq, nested;
	int fd;
	const u64 ste[2] = { STE_0_V | FIELD_PREP(STE_0_CFG, STE_CFG_S1_TRANS) | 0x1000, 0 };

	fake_iommufd_init(&fi);
	fake_iommufd_attach_ctx(&fi, &ictx);
	env_init(&e, false);
	e.fv.iommufd = &fi;
	cr_assert_eq(vfio_dev_bind(&e.dev, iommufd_fd(&ictx)), 0);
	cr_assert_eq(iommufd_ioas_alloc(&ictx, &ioas, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_hwpt_alloc_nest_parent(&ictx, e.dev.dev_id, ioas, &s2, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_viommu_alloc_smmuv3(&ictx, e.dev.dev_id, s2, &viommu, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_vdevice_alloc(&ictx, viommu, e.dev.dev_id, 0x10, &vdev), 0);
	cr_assert_eq(iommufd_veventq_alloc_smmuv3(&ictx, viommu, 64, &vq, &fd, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_hwpt_alloc_nested_smmuv3(&ictx, e.dev.dev_id, viommu, ste, &nested, FAIL_PRINT), 0);
	cr_assert_eq(vfio_dev_attach(&e.dev, nested, FAIL_PRINT), 0);

	cr_assert_eq(iommufd_destroy(&ictx, nested, FAIL_PRINT), -EBUSY, "attached");
	cr_assert_eq(vfio_dev_attach(&e.dev, s2, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_destroy(&ictx, nested, FAIL_PRINT), 0);
	cr_assert_eq(iommufd_teardown(&ictx), -EBUSY, "S2 still has the device");
	cr_assert_eq(fake_iommufd_live(&fi, IOMMUFD_OBJ_NR), 2);
	cr_assert_eq(vfio_dev_detach(&e.dev), 0);
	cr_assert_eq(iommufd_teardown(&ictx), 0);
	cr_assert_eq(fake_iommufd_live(&fi, IOMMUFD_OBJ_NR), 0);
	u32 want[] = { nested, vdev, vq, viommu, s2, ioas };
	for (size_t i = 0; i < 6; i++)
		cr_assert_eq(fi.destroyed[i], want[i], "destroy #%zu", i);

	/* Closing the device releases its attachment (the kernel unbinds on close). */
	cr_assert_eq(iommufd_ioas_alloc(&ictx, &ioas, FAIL_PRINT), 0);
	cr_assert_eq(vfio_dev_attach(&e.dev, ioas, FAIL_PRINT), 0);
	env_done(&e);
	cr_assert_eq(fi.attached[1], 0);
	iommufd_close(&ictx);
	cr_assert_eq(fake_iommufd_live(&fi, IOMMUFD_OBJ_NR), 0);
	fake_iommufd_release(&fi);
}
