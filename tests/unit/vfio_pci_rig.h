/* vfio_pci_rig.h: the rig the vfio-pci model's tests share (test_vfio_pci.c, test_vfio_pci_reset.c): one function
 * on the fake VFIO backend (its config space image written by the test with vpr_cfg_put before vpr_create),
 * the fake hv, an MMIO bus and the ECAM host bridge, the model at 00:01.0; guest config accesses through the
 * ECAM, guest MMIO through the bus, and what the fakes hold (memslots, the device's own config bytes). */
#ifndef IVMM_TEST_VFIO_PCI_RIG_H
#define IVMM_TEST_VFIO_PCI_RIG_H

#include <criterion/criterion.h>
#include <string.h>
#include "boot/layout.h"
#include "devices/pci_host.h"
#include "devices/vfio_pci.h"
#include "tests/unit/fake_hv.h"
#include "tests/unit/fake_vfio.h"
#include "vmm/bus.h"

#define VPR_SLOT1 (1 << 15) /* ECAM offset of 00:01.0 */

struct vfio_pci_rig {
	struct fake_vfio fv;
	struct vfio_dev vdev;
	struct fake_hv fh;
	struct bus bus;
	struct pci_host host;
	struct vfio_pci *vp;
};

/* Bytes of the device's own config space (what VFIO reads and writes). */
static inline void vpr_cfg_put(struct vfio_pci_rig *r, u32 off, u32 size, u32 v)
{
	for (u32 i = 0; i < size; i++)
		r->fv.regions[VFIO_PCI_CONFIG_REGION_INDEX].data[off + i] = (u8)(v >> (8 * i));
}

static inline u32 vpr_real_cfg(struct vfio_pci_rig *r, u32 off, u32 size)
{
	u32 v = 0;

	for (u32 i = 0; i < size; i++)
		v |= (u32)r->fv.regions[VFIO_PCI_CONFIG_REGION_INDEX].data[off + i] << (8 * i);
	return v;
}

/* Open the fake device (its image set up) as bdf, bind it, and create the model named name. Returns what
 * vfio_pci_create returns. */
static inline int vpr_create(struct vfio_pci_rig *r, const char *bdf, const char *name)
{
	fake_vfio_open(&r->fv, &r->vdev, bdf);
	cr_assert_eq(vfio_dev_bind(&r->vdev, 3), 0);
	fake_hv_init(&r->fh);
	cr_assert_eq(bus_init(&r->bus), 0);
	cr_assert_eq(pci_host_init(&r->host, &r->bus, LAYOUT_ECAM_BASE, LAYOUT_ECAM_SIZE), 0);
	return vfio_pci_create(&r->vp, name, &r->vdev, &r->host, &r->fh.hv, &r->bus, -1);
}

static inline void vpr_down(struct vfio_pci_rig *r)
{
	vfio_pci_destroy(r->vp);
	r->vp = NULL;
	pci_host_destroy(&r->host);
	bus_destroy(&r->bus);
	vfio_dev_close(&r->vdev);
	fake_vfio_release(&r->fv);
}

/* The guest's config accesses (through the ECAM). */
static inline u32 vpr_cfgr(struct vfio_pci_rig *r, u32 off, u32 size)
{
	return (u32)pci_host_ecam_read(&r->host, VPR_SLOT1 + off, size);
}

static inline void vpr_cfgw(struct vfio_pci_rig *r, u32 off, u32 size, u32 v)
{
	pci_host_ecam_write(&r->host, VPR_SLOT1 + off, v, size);
}

/* The guest's MMIO (through the bus); a region must be there. */
static inline u64 vpr_mmio_read(struct vfio_pci_rig *r, u64 addr, unsigned int size)
{
	u8 d[8] = { 0 };
	u64 v = 0;

	cr_assert_eq(bus_access(&r->bus, addr, d, size, false), 0, "no region at 0x%llx", (unsigned long long)addr);
	for (unsigned int i = 0; i < size; i++)
		v |= (u64)d[i] << (8 * i);
	return v;
}

static inline void vpr_mmio_write(struct vfio_pci_rig *r, u64 addr, u64 v, unsigned int size)
{
	u8 d[8];

	for (unsigned int i = 0; i < size; i++)
		d[i] = (u8)(v >> (8 * i));
	cr_assert_eq(bus_access(&r->bus, addr, d, size, true), 0, "no region at 0x%llx", (unsigned long long)addr);
}

/* Memslots: the one at gpa, and how many are live. */
static inline const struct fake_hv_map *vpr_map_at(struct vfio_pci_rig *r, u64 gpa)
{
	for (unsigned int i = 0; i < FAKE_HV_MAX_MAPS; i++)
		if (r->fh.maps[i].used && r->fh.maps[i].gpa == gpa)
			return &r->fh.maps[i];
	return NULL;
}

static inline unsigned int vpr_live_maps(struct vfio_pci_rig *r)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FAKE_HV_MAX_MAPS; i++)
		n += r->fh.maps[i].used;
	return n;
}

#endif
