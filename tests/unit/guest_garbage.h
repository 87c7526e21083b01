/* guest_garbage.h: a guest that writes garbage, as a reusable rig. One MMIO bus carries the 16550A UART and
 * the PCIe ECAM host bridge with a vfio-pci model on fake VFIO (BARs, MSI, MSI-X) and a fake hypervisor; a
 * stream of choices (a seeded xorshift, or a libFuzzer input) drives accesses of every size at every offset
 * through bus_access() exactly as a vCPU would, plus BAR moves, command toggles, MSI/MSI-X storms, device
 * interrupts and host console input/output. After the run, gg_check() asserts invariants that catch real
 * bugs (memslots match decoding BARs, live irqfd routes match enabled+unmasked vectors, UART registers match
 * what the guest wrote and the data that flowed, ...) and gg_teardown() that nothing leaked.
 * No Criterion here: the same code is the libFuzzer target (make fuzz). Functions return false with a
 * message in g->why on a broken invariant.
 *
 * Built once, run many times: gg_reset() brings the rig back to the state gg_setup() built (the device through
 * the config writes a guest's driver would do, its MSI-X table included, then the device's own config space
 * as after its reset; the UART reset and its console drained; the fakes' logs cleared) without freeing or
 * creating anything, and proves it: the device's config space reads as it did after the build, the fakes hold
 * the same memslots, routes and VFIO interrupt state, and exactly as many fds are open as when the run began. A run
 * after gg_reset() behaves as on a fresh rig (test_guest_garbage.c compares them), which is what makes a fuzzer
 * execution cheap: no mmap, fd or allocation churn per input beyond what the guest's own actions cause.
 * What it does not restore: the contents of the BARs' device memory (the guest's reads of it are not checked
 * and never steer a run; they stay out of g->digest). */
#ifndef IVMM_TEST_GUEST_GARBAGE_H
#define IVMM_TEST_GUEST_GARBAGE_H

#include <stdbool.h>
#include <stddef.h>
#include "devices/pci_host.h"
#include "devices/uart16550.h"
#include "devices/vfio_pci.h"
#include "tests/unit/fake_hv.h"
#include "tests/unit/fake_vfio.h"
#include "vmm/bus.h"

#define GG_MSIX_VECS 8
#define GG_TX_LOG (1u << 20)
#define GG_CFG_SNAP 256            /* config bytes compared after a reset (the rest reads as zero: hidden) */
#define GG_FD_SCAN 64              /* fd numbers the cheap fd count and the eventfd shortcut cover */
#define GG_FULL_RESET_CHECK 16     /* every 16th reset compares all of GG_CFG_SNAP, the others what may differ */

struct gg_uart_shadow {
	u8 ier, lcr, mcr, scr, dll, dlm;
	bool fifo;
};

struct gg {
	/* Choice source: xorshift state, or a byte stream (fuzzer input) when data is set. */
	u64 rng;
	const u8 *data;
	size_t len, pos;
	bool exhausted;
	u64 seed;
	unsigned long step;
	bool faults;       /* inject one-shot host failures (hv and VFIO) into some operations */
	bool disciplined;  /* UART: no loopback, FIFO resets or device resets, so host input must arrive whole */

	struct fake_hv fh;
	struct fake_vfio fv;
	struct vfio_dev vdev;
	struct bus bus;
	struct pci_host host;
	struct vfio_pci *vp;
	struct uart16550 *uart;
	int out_r, out_w;  /* console pipe (non-blocking, small) */
	int fds_before;    /* open fds before gg_setup (/proc count; gg_teardown checks it) */
	int fds_begin;     /* open fds below GG_FD_SCAN when this run began (gg_reset checks it: the harness's
			    * own fds, a fuzzer's files, may come and go between runs) */

	/* The state right after the build, for gg_reset. */
	struct {
		u8 cfg[GG_CFG_SNAP];           /* the guest's view of the device's config space */
		u8 *dev_cfg;                   /* the fake device's own config region */
		size_t dev_cfg_len;
		bool vfio_enabled[FAKE_VFIO_NR_IRQS];
		bool vfio_masked[FAKE_VFIO_NR_IRQS];
		unsigned int irqfds, irqfds_msi;
		bool spi_level[FAKE_HV_MAX_SPIS];
	} built;
	unsigned long tx_dropped0; /* the UART's dropped-byte count when this run began */
	u64 cfg_dirty;             /* config dwords (of GG_CFG_SNAP) the run wrote: what gg_reset must look at */
	unsigned long resets;
	/* Eventfds the "device" wrote to since their last read (bit per fd number below GG_FD_SCAN): only these
	 * can hold a count, so delivery and pending checks skip a system call on the others. */
	u64 kicked[GG_FD_SCAN / 64];
	unsigned int nkicked;      /* bits set in kicked (0: nothing to deliver, no loop over the routes) */
	/* A hash of everything the guest observed that may steer or judge a run (bus results, read values but
	 * device memory), so that two runs of one input can be compared. */
	u64 digest;

	/* What the guest programmed, as it believes it to be. */
	u32 msix[GG_MSIX_VECS][4];
	struct gg_uart_shadow us;
	/* UART data accounting. */
	u8 in_next;                /* next host input byte (1..255: a 0 read means "FIFO empty") */
	unsigned long in_accepted, in_consumed;
	u8 in_expect;              /* next byte RBR must return (disciplined) */
	bool in_short;             /* a push came back short: the wake fd must fire once the guest drains */
	u8 *tx_log;                /* THR bytes that must reach the console, in order */
	unsigned long tx_written, tx_out;
	unsigned long deliveries;  /* eventfds the "hypervisor" consumed through a live route */

	char why[512];
};

/* Build the rig and begin a run (seed for the xorshift; data/len: a fuzzer input instead, or NULL). false + why
 * on failure. */
bool gg_setup(struct gg *g, u64 seed, const u8 *data, size_t len, bool faults, bool disciplined);
/* Begin another run on a rig gg_reset() brought back (the same arguments as gg_setup). */
bool gg_begin(struct gg *g, u64 seed, const u8 *data, size_t len, bool faults, bool disciplined);
/* After a run that passed (gg_run, gg_recover when faults, gg_drain_uart): back to the state gg_setup built,
 * checked (see above). false + why when something cannot be brought back or was left behind. */
bool gg_reset(struct gg *g);
/* Run up to steps operations (fewer when a fuzzer input runs out), checking invariants every check_every
 * steps (0: only at the end). */
bool gg_run(struct gg *g, unsigned long steps, unsigned long check_every);
/* Every invariant, now. */
bool gg_check(struct gg *g);
/* Clear injected failures and redo what a guest would to recover (decode and interrupt enables rewritten),
 * then check everything including completeness (every decoding BAR mapped, every unmasked vector routed). */
bool gg_recover(struct gg *g);
/* UART: assert RTS, drain every byte of host input and console output, check nothing was lost. */
bool gg_drain_uart(struct gg *g);
/* Destroy everything and check the fakes hold nothing (memslot, route, eventfd, fd, mmap, bus region). */
bool gg_teardown(struct gg *g);

#endif
