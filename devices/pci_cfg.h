/* pci_cfg.h: generic PCI configuration-space helpers: an emulated 4 KiB config image with per-bit write
 * masks (read-only, read-write, write-1-to-clear), BAR register emulation with sizing (the guest writes
 * all-ones and reads back the size mask), and the standard capability list walk with loop protection.
 * Used by the ECAM host bridge's devices (devices/vfio_pci.c); no I/O, no allocation, pure functions. */
#ifndef IVMM_DEVICES_PCI_CFG_H
#define IVMM_DEVICES_PCI_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/pci_regs.h>
#include "vmm/compiler.h"

#define PCI_NUM_BARS 6
/* Linux's PCI_FIND_CAP_TTL: a capability list longer than this is a loop. */
#define PCI_CAP_MAX 48

struct pci_cfg {
	u8 val[PCI_CFG_SPACE_EXP_SIZE];    /* what the guest reads */
	u8 wmask[PCI_CFG_SPACE_EXP_SIZE];  /* bits the guest may write */
	u8 w1cmask[PCI_CFG_SPACE_EXP_SIZE];/* bits a guest 1 clears */
};

/* A config access the ECAM may forward: size 1, 2 or 4, naturally aligned, inside 4 KiB. */
bool pci_cfg_access_ok(u32 off, u32 size);
/* Does [off, off+size) touch [start, start+len)? */
static inline bool pci_cfg_overlaps(u32 off, u32 size, u32 start, u32 len)
{
	return off < start + len && start < off + size;
}

void pci_cfg_init(struct pci_cfg *c);  /* all zero, nothing writable */
/* Little-endian get/set of 1, 2 or 4 bytes, ignoring masks (the device model's own view). */
u32 pci_cfg_get(const struct pci_cfg *c, u32 off, u32 size);
void pci_cfg_set(struct pci_cfg *c, u32 off, u32 size, u32 val);
void pci_cfg_set_wmask(struct pci_cfg *c, u32 off, u32 size, u32 mask);
void pci_cfg_set_w1c(struct pci_cfg *c, u32 off, u32 size, u32 mask);
/* A guest write: writable bits take val, W1C bits written as 1 are cleared, the rest stay. */
void pci_cfg_write(struct pci_cfg *c, u32 off, u32 size, u32 val);

/* ---- BARs ---- */
struct pci_bar {
	u64 size;       /* 0: not implemented (reads 0, ignores writes) */
	bool io;        /* I/O space BAR (ivmm does not forward I/O space: such BARs are hidden) */
	bool is64;      /* 64-bit memory BAR: uses register idx+1 as the upper half */
	bool prefetch;
};

/* Decode the flag bits of a BAR register as read from a device (size untouched). */
void pci_bar_decode(u32 reg, struct pci_bar *b);
/* Size of a memory BAR from the values read back after writing all-ones (hi ignored unless is64). */
u64 pci_bar_size_from_probe(u32 lo, u32 hi, bool is64);
/* Set up virtual BAR idx (and idx+1 when 64-bit) at addr: the register reads addr | type bits and only the
 * address bits above the size are writable, which is what makes sizing work. A hidden BAR (size 0 or I/O)
 * reads 0. -EINVAL: size not a power of two >= 16, addr not aligned to size, idx out of range, or a 64-bit BAR
 * in the last slot / a 32-bit BAR above 4 GiB. */
int __must_check pci_cfg_bar_setup(struct pci_cfg *c, unsigned int idx, const struct pci_bar *b, u64 addr);
/* The address the guest has programmed into BAR idx (both halves for 64-bit). */
u64 pci_cfg_bar_addr(const struct pci_cfg *c, unsigned int idx, const struct pci_bar *b);

/* ---- Capabilities ---- */
struct pci_cap {
	u8 id;
	u8 off;
};

/* Walk the standard capability list of a config image (len >= 256 bytes), starting at PCI_CAPABILITY_LIST
 * when PCI_STATUS has CAP_LIST. Fills up to max entries. Returns the count, or -ELOOP (cycle / more than
 * PCI_CAP_MAX entries) or -EINVAL (a pointer into the header or running past 256 bytes). */
int pci_cap_walk(const u8 *cfg, size_t len, struct pci_cap *caps, unsigned int max);
/* Bytes of an MSI capability with these Message Control flags (10, 14, 20 or 24). */
u32 pci_msi_cap_len(u16 flags);
/* Link caps[0..n) (in order) as the virtual capability list: PCI_CAPABILITY_LIST, each next pointer, and
 * PCI_STATUS_CAP_LIST. n == 0 gives an empty list. */
void pci_cfg_link_caps(struct pci_cfg *c, const struct pci_cap *caps, unsigned int n);

#endif
