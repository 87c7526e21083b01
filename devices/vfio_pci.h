/* vfio_pci.h: the vfio-pci passthrough device model. A host PCI function opened through its VFIO cdev
 * (devices/vfio_dev.h, already bound and attached by vmm/passthrough.c) is shown to the guest on the ECAM
 * host bridge with a virtualised config space:
 *   - identity (vendor/device/class/subsystem/revision/pin) read from the real device;
 *   - BAR registers emulated with sizing, I/O BARs and the ROM BAR hidden, initial addresses from the bridge's
 *     windows; while memory decode is on, a BAR decodes at the guest-programmed address: mmap-able parts
 *     (VFIO_REGION_INFO_FLAG_MMAP, sparse areas honoured, MSI-X table/PBA pages excluded) are KVM memslots,
 *     everything else is trapped on the MMIO bus and forwarded with pread/pwrite;
 *   - command register: memory decode, bus mastering and INTx disable are passed to the device;
 *   - live registers the guest may write in part (vfio_pci_fwd): Status error bits (W1C), PCIe Device
 *     Control error-reporting enables, relaxed ordering and no-snoop, PCIe Device Status error bits (W1C),
 *     PM PMCSR power state (when the device keeps its state leaving D3hot). Everything else there (DevCtl
 *     payload/read request size, Link Control, PME enable) is host or topology policy: the guest's write is
 *     dropped, as for a read-only bit;
 *   - resets (vfio_pci_reset.c): the guest's FLR (DevCtl Initiate FLR) is a VFIO_DEVICE_RESET followed by the
 *     config state of a function after FLR; FLR is offered (DevCap) only when VFIO can reset the device; PMCSR
 *     reads No_Soft_Reset, so no PM reset is offered (the power state is kept here, not forwarded, for a device
 *     that would reset itself leaving D3hot); the Advanced Features capability (AF FLR) is hidden;
 *   - the capability list: MSI and MSI-X virtualised (their table/PBA emulated), power management, PCI Express
 *     and vendor capabilities read live (writes: see above), every other capability and the extended config
 *     space hidden;
 *   - interrupts (vfio_pci_irq.c): enabled MSI/MSI-X vectors become VFIO_DEVICE_SET_IRQS eventfds routed by
 *     hv->irqfd_msi() with devid = the guest requester id; a masked vector has no route (its eventfd keeps
 *     the event, reported pending, delivered on unmask); INTx is the fallback (irqfd_spi with resample).
 * The device is reset at creation and at destruction (when VFIO can reset it).
 * IVMM_VFIO_NO_MMAP=1 in the environment keeps every BAR trapped (no memslots): for measuring the trapped
 * path (make bench) and for debugging; never needed for correctness. */
#ifndef IVMM_DEVICES_VFIO_PCI_H
#define IVMM_DEVICES_VFIO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include "devices/pci_cfg.h"
#include "devices/pci_host.h"
#include "devices/vfio_dev.h"
#include "vmm/bus.h"
#include "vmm/compiler.h"
#include "vmm/hv.h"

#define VFIO_PCI_MAX_PIECES 24
#define VFIO_PCI_NO_ADDR (~0ULL)
#define VFIO_PCI_MAX_MSI 32
#define VFIO_PCI_MAX_MSIX 2048

struct vfio_pci;

/* A part of a BAR that is a memslot when the BAR decodes. */
struct vfio_pci_piece {
	u64 off, len;          /* inside the BAR */
	void *host;            /* mmap of that part */
	bool mapped;           /* memslot currently installed */
};

/* An mmap of a BAR (whole region or one sparse area). */
struct vfio_pci_mmap {
	void *addr;
	u64 off, len;
};

struct vfio_pci_bar {
	struct vfio_pci *dev;
	unsigned int idx;
	struct pci_bar info;   /* size 0: hidden/absent */
	struct vfio_region region;
	struct vfio_pci_mmap maps[VFIO_DEV_MAX_SPARSE];
	unsigned int nmaps;
	struct vfio_pci_piece pieces[VFIO_PCI_MAX_PIECES];
	unsigned int npieces;
	struct mmio_region mmio;      /* the trapped view while decoding */
	char name[48];
	u64 gpa;                       /* where it decodes now, or VFIO_PCI_NO_ADDR */
};

struct vfio_pci_vec {
	int efd;               /* eventfd given to VFIO, -1 */
	int route;             /* hv irqfd handle, -1 */
	u64 addr;              /* of the route */
	u32 data;
};

enum vfio_pci_irq_mode { VFIO_PCI_IRQ_NONE, VFIO_PCI_IRQ_INTX, VFIO_PCI_IRQ_MSI, VFIO_PCI_IRQ_MSIX };

/* A live (read-from-the-device) 16-bit register whose guest writes are forwarded to the device, limited to
 * the bits that are safe to hand to a guest. */
struct vfio_pci_fwd {
	u16 off;               /* config offset */
	u16 mask;              /* bits the guest may change */
	u16 zero;              /* written as 0 in a read-modify-write (W1C bits a write must not clear) */
	bool w1c;              /* mask bits are write-1-to-clear: forward only the guest's 1s, no read */
};

#define VFIO_PCI_MAX_FWD 4

struct vfio_pci_msix_entry {
	u32 addr_lo, addr_hi, data, ctrl;
};

struct vfio_pci {
	struct pci_dev pdev;
	char name[32];
	struct vfio_dev *vdev;         /* not owned */
	struct hv *hv;
	struct bus *bus;
	struct pci_host *host;
	u64 page_size;
	pthread_mutex_t lock;          /* config state, BAR mapping, interrupts */

	struct pci_cfg cfg;
	u8 live[PCI_CFG_SPACE_SIZE];   /* bytes read from the device on every access */
	struct vfio_pci_fwd fwd[VFIO_PCI_MAX_FWD]; /* live registers the guest may write (part of) */
	unsigned int nfwd;
	struct vfio_pci_bar bars[PCI_NUM_BARS];
	struct pci_windows win_before, win_after; /* host windows around our BAR placement, to give it back */
	bool can_reset;
	u64 msi_doorbell;              /* non-zero: MSI routes use this address (the vITS doorbell), not the
					* guest's: behind a vSMMU the guest writes an IOVA of its stage 1 */

	/* Interrupts. */
	enum vfio_pci_irq_mode mode;
	struct vfio_pci_vec vecs[VFIO_PCI_MAX_MSIX];
	unsigned int nvecs;            /* vectors set up in VFIO for the current mode */
	bool intx_ok;                  /* pin != 0 and VFIO has an INTx */
	u32 intx_spi;
	int intx_resample;             /* resample eventfd, -1 */

	bool msi_present;
	u8 msi_cap;
	u16 msi_flags;                 /* device's Message Control (capability bits) */
	unsigned int msi_max;          /* vectors the virtual capability offers */

	bool msix_present;
	u8 msix_cap;
	unsigned int msix_nvec;
	u8 msix_table_bar, msix_pba_bar;
	u32 msix_table_off, msix_pba_off;
	struct vfio_pci_msix_entry *msix_table;

	/* Resets (vfio_pci_reset.c). */
	u8 pm_cap, exp_cap;            /* power management / PCI Express capability offsets, 0: none */
	bool flr;                      /* FLR offered: the device's DevCap has it and VFIO can reset the device */
	bool pm_virtual;               /* the PMCSR power state is kept here (pm_state), not forwarded */
	u8 pm_state;
	u8 reset_cfg[PCI_CFG_SPACE_SIZE]; /* the virtual config image as created, BAR addresses 0: after a reset */
	unsigned int flrs, flr_failures;  /* guest FLRs done / whose VFIO reset failed */
};

/* Build the model for vdev (open, bound and attached): read its config space and regions, reset it, set up
 * BARs (placed in host's windows; -ENOSPC with a message naming the BAR when one does not fit), add it to
 * host at the first free slot (or slot >= 1). name is used in messages. On error everything done is undone
 * and *out untouched. */
int __must_check vfio_pci_create(struct vfio_pci **out, const char *name, struct vfio_dev *vdev,
				 struct pci_host *host, struct hv *hv, struct bus *bus, int slot);
/* Stop decoding, tear interrupts down, reset the device, remove it from the bridge, give its BAR space back
 * to the bridge's windows (pci_windows_release: destroy devices in reverse order of creation), free. NULL is
 * fine. */
void vfio_pci_destroy(struct vfio_pci *vp);

/* Config handlers (also what the bridge calls through pdev.ops). */
u32 vfio_pci_cfg_read(struct vfio_pci *vp, u32 off, u32 size);
void vfio_pci_cfg_write(struct vfio_pci *vp, u32 off, u32 size, u32 val);

/* ---- internal, shared by vfio_pci.c, vfio_pci_bar.c and vfio_pci_irq.c ---- */
/* Virtualise the device's MSI / MSI-X capability at off of its config image raw (true: kept, false: hidden
 * with a message). MSI-X needs the BARs probed first. */
bool vfio_pci_msi_init(struct vfio_pci *vp, const u8 *raw, u8 off);
bool vfio_pci_msix_init(struct vfio_pci *vp, const u8 *raw, u8 off);
/* INTx availability and its SPI (pin swizzled by slot as in the FDT interrupt-map); after pci_host_add(). */
void vfio_pci_intx_init(struct vfio_pci *vp, const u8 *raw);
/* Make VFIO and the hv routes match the virtual MSI/MSI-X/INTx state (lock held). */
void vfio_pci_irq_update(struct vfio_pci *vp);
/* Tear every interrupt down and free irq state (lock held or device no longer visible). */
void vfio_pci_irq_fini(struct vfio_pci *vp);
/* MSI capability pending bits (lock held). */
u32 vfio_pci_msi_pending(struct vfio_pci *vp);
/* Trapped MSI-X table / PBA access at offset off of bar; true if handled. Lock held. */
bool vfio_pci_msix_read(struct vfio_pci *vp, unsigned int bar, u64 off, unsigned int size, u64 *val);
bool vfio_pci_msix_write(struct vfio_pci *vp, unsigned int bar, u64 off, unsigned int size, u64 val);
/* Is [off, off+len) of bar the MSI-X table or PBA? */
bool vfio_pci_msix_overlaps(const struct vfio_pci *vp, unsigned int bar, u64 off, u64 len);
/* Interrupts as after a function reset (lock held): every mode torn down in VFIO and the hypervisor, the MSI-X
 * table's entries masked and zero. The caller has put the MSI/MSI-X capabilities back to disabled and calls
 * vfio_pci_irq_update() once the device is reset. */
void vfio_pci_irq_reset(struct vfio_pci *vp);
/* Pass the command register's decode / bus master / INTx disable to the device after the guest's value
 * changed from old, memslots following memory decode (lock held). */
void vfio_pci_cmd_update(struct vfio_pci *vp, u16 old);

/* ---- vfio_pci_bar.c ---- */
/* At creation: region info and type of every BAR from its VFIO region and the raw config image (I/O BARs
 * hidden, the upper half of a 64-bit BAR skipped). 0 or -errno after one message. */
int __must_check vfio_pci_bars_probe(struct vfio_pci *vp, const u8 *raw);
/* Place the probed BARs in the host bridge's windows and set up their emulated registers. 0, -ENOSPC (no
 * room: one message naming the BAR and the window) or -errno after one message; nothing kept on error. */
int __must_check vfio_pci_bars_place(struct vfio_pci *vp);
/* Give the window space vfio_pci_bars_place() took back (when no later device was placed after it). */
void vfio_pci_bars_release(struct vfio_pci *vp);
/* mmap what VFIO lets us of each BAR and compute its memslot pieces (MSI-X table and PBA pages excluded);
 * what cannot be mmapped stays trapped (a warning, not an error). IVMM_VFIO_NO_MMAP=1 traps everything. */
void vfio_pci_bars_mmap(struct vfio_pci *vp);
/* Undo vfio_pci_bars_mmap() (the BARs no longer decode). */
void vfio_pci_bars_munmap(struct vfio_pci *vp);
/* Make every BAR decode where the guest wants it (lock held); written is the BAR whose register the guest
 * wrote (-1: the command register), the one whose refused address is reported. */
void vfio_pci_bars_update(struct vfio_pci *vp, int written);
/* Stop every BAR decoding: memslots and trap regions removed (lock held). */
void vfio_pci_bars_undecode(struct vfio_pci *vp);

/* ---- vfio_pci_reset.c ---- */
/* At creation, before the config space is read: note whether VFIO can reset the device and reset it.
 * 0 or -errno (the wrapper said why). */
int __must_check vfio_pci_reset_begin(struct vfio_pci *vp, const struct vfio_device_info *info);
/* Does leaving D3hot keep the device's state (No_Soft_Reset in the PMCSR of its PM capability at off)? Only
 * then does the guest's power state reach the device. */
bool vfio_pci_pm_forwarded(const u8 *raw, u8 off);
/* Once the virtual config space is complete: decide what the guest is offered (FLR in DevCap) and keep the
 * image a reset returns to. raw: the device's config space as read at creation. */
void vfio_pci_reset_setup(struct vfio_pci *vp, const u8 *raw);
/* Clear the device's memory decode / bus mastering so it is quiet until the guest enables it. */
void vfio_pci_quiesce(struct vfio_pci *vp);
/* At destruction (interrupts and memslots gone): quiesce and reset the device. */
void vfio_pci_reset_end(struct vfio_pci *vp);
/* What the guest reads of the registers resets depend on (lock held): DevCap FLR hidden unless offered, DevCtl
 * Initiate FLR 0, PMCSR No_Soft_Reset 1 (and the power state when it is kept here). v: the value so far. */
u32 vfio_pci_reset_cfg_read(const struct vfio_pci *vp, u32 off, u32 size, u32 v);
/* After a guest config write (lock held): Initiate FLR -> vfio_pci_flr(); the PMCSR power state kept here. */
void vfio_pci_reset_cfg_write(struct vfio_pci *vp, u32 off, u32 size, u32 val);
/* The guest's function level reset (lock held): see vfio_pci_reset.c. */
void vfio_pci_flr(struct vfio_pci *vp);

#endif
