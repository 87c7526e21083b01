/* pci_cfg.c: the emulated config image, BAR register emulation and capability walk (see pci_cfg.h). */
#include <errno.h>
#include <string.h>
#include "devices/pci_cfg.h"
#include "vmm/bits.h"

bool pci_cfg_access_ok(u32 off, u32 size)
{
	if (size != 1 && size != 2 && size != 4)
		return false;
	return IS_ALIGNED(off, size) && off < PCI_CFG_SPACE_EXP_SIZE && size <= PCI_CFG_SPACE_EXP_SIZE - off;
}

void pci_cfg_init(struct pci_cfg *c)
{
	memset(c, 0, sizeof(*c));
}

static u32 get_le(const u8 *a, u32 off, u32 size)
{
	u32 v = 0;

	for (u32 i = 0; i < size; i++)
		v |= (u32)a[off + i] << (8 * i);
	return v;
}

static void set_le(u8 *a, u32 off, u32 size, u32 v)
{
	for (u32 i = 0; i < size; i++)
		a[off + i] = (u8)(v >> (8 * i));
}

u32 pci_cfg_get(const struct pci_cfg *c, u32 off, u32 size)
{
	return get_le(c->val, off, size);
}

void pci_cfg_set(struct pci_cfg *c, u32 off, u32 size, u32 val)
{
	set_le(c->val, off, size, val);
}

void pci_cfg_set_wmask(struct pci_cfg *c, u32 off, u32 size, u32 mask)
{
	set_le(c->wmask, off, size, mask);
}

void pci_cfg_set_w1c(struct pci_cfg *c, u32 off, u32 size, u32 mask)
{
	set_le(c->w1cmask, off, size, mask);
}

void pci_cfg_write(struct pci_cfg *c, u32 off, u32 size, u32 val)
{
	for (u32 i = 0; i < size; i++) {
		u8 b = (u8)(val >> (8 * i));
		u8 wm = c->wmask[off + i], w1c = c->w1cmask[off + i];
		u8 v = c->val[off + i];

		v = (u8)((v & ~wm) | (b & wm));
		v = (u8)(v & ~(b & w1c));
		c->val[off + i] = v;
	}
}

void pci_bar_decode(u32 reg, struct pci_bar *b)
{
	b->io = reg & PCI_BASE_ADDRESS_SPACE_IO;
	b->is64 = !b->io && (reg & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64;
	b->prefetch = !b->io && (reg & PCI_BASE_ADDRESS_MEM_PREFETCH);
}

u64 pci_bar_size_from_probe(u32 lo, u32 hi, bool is64)
{
	u64 mask = lo & (u32)PCI_BASE_ADDRESS_MEM_MASK;

	if (is64)
		mask |= (u64)hi << 32;
	else
		mask |= GENMASK(63, 32);
	if (!(mask & GENMASK(63, 4)))
		return 0;
	return ~mask + 1;
}

static u32 bar_reg(unsigned int idx)
{
	return PCI_BASE_ADDRESS_0 + 4 * idx;
}

int pci_cfg_bar_setup(struct pci_cfg *c, unsigned int idx, const struct pci_bar *b, u64 addr)
{
	if (idx >= PCI_NUM_BARS)
		return -EINVAL;
	if (!b->size || b->io) {
		/* Hidden: an unimplemented BAR reads 0 and sizes to 0. */
		pci_cfg_set(c, bar_reg(idx), 4, 0);
		pci_cfg_set_wmask(c, bar_reg(idx), 4, 0);
		return 0;
	}
	if (b->size < 16 || (b->size & (b->size - 1)) || !IS_ALIGNED(addr, b->size))
		return -EINVAL;
	if (b->is64 && idx + 1 >= PCI_NUM_BARS)
		return -EINVAL;
	if (!b->is64 && (addr >> 32 || b->size > BIT(32) / 2))
		return -EINVAL;

	u64 amask = ~(b->size - 1);
	u32 flags = (b->is64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : PCI_BASE_ADDRESS_MEM_TYPE_32) |
		    (b->prefetch ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);

	pci_cfg_set(c, bar_reg(idx), 4, (u32)addr | flags);
	pci_cfg_set_wmask(c, bar_reg(idx), 4, (u32)amask & (u32)PCI_BASE_ADDRESS_MEM_MASK);
	if (b->is64) {
		pci_cfg_set(c, bar_reg(idx + 1), 4, (u32)(addr >> 32));
		pci_cfg_set_wmask(c, bar_reg(idx + 1), 4, (u32)(amask >> 32));
	}
	return 0;
}

u64 pci_cfg_bar_addr(const struct pci_cfg *c, unsigned int idx, const struct pci_bar *b)
{
	if (idx >= PCI_NUM_BARS || !b->size || b->io)
		return 0;
	u64 a = pci_cfg_get(c, bar_reg(idx), 4) & (u32)PCI_BASE_ADDRESS_MEM_MASK;

	if (b->is64 && idx + 1 < PCI_NUM_BARS)
		a |= (u64)pci_cfg_get(c, bar_reg(idx + 1), 4) << 32;
	return a;
}

int pci_cap_walk(const u8 *cfg, size_t len, struct pci_cap *caps, unsigned int max)
{
	unsigned int n = 0, ttl = PCI_CAP_MAX;

	if (len < PCI_CFG_SPACE_SIZE)
		return -EINVAL;
	if (!(get_le(cfg, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return 0;
	u32 ptr = cfg[PCI_CAPABILITY_LIST] & ~3u;

	while (ptr) {
		if (ptr < PCI_STD_HEADER_SIZEOF || ptr + 2 > PCI_CFG_SPACE_SIZE)
			return -EINVAL;
		if (!ttl--)
			return -ELOOP;
		u8 id = cfg[ptr + PCI_CAP_LIST_ID];

		/* Linux stops at an id of 0xff (a device that reads all-ones). */
		if (id == 0xff)
			break;
		if (n < max) {
			caps[n].id = id;
			caps[n].off = (u8)ptr;
		}
		n++;
		ptr = cfg[ptr + PCI_CAP_LIST_NEXT] & ~3u;
	}
	return (int)MIN(n, max);
}

u32 pci_msi_cap_len(u16 flags)
{
	u32 len = 10;

	if (flags & PCI_MSI_FLAGS_64BIT)
		len += 4;
	if (flags & PCI_MSI_FLAGS_MASKBIT)
		len += 10;
	return len;
}

void pci_cfg_link_caps(struct pci_cfg *c, const struct pci_cap *caps, unsigned int n)
{
	u16 status = (u16)pci_cfg_get(c, PCI_STATUS, 2);

	pci_cfg_set(c, PCI_CAPABILITY_LIST, 1, n ? caps[0].off : 0);
	for (unsigned int i = 0; i < n; i++)
		pci_cfg_set(c, caps[i].off + PCI_CAP_LIST_NEXT, 1, i + 1 < n ? caps[i + 1].off : 0);
	if (n)
		status |= PCI_STATUS_CAP_LIST;
	else
		status &= (u16)~PCI_STATUS_CAP_LIST;
	pci_cfg_set(c, PCI_STATUS, 2, status);
}
