/* guest_garbage.h: a guest that writes garbage, as a reusable rig. One MMIO bus carries the 16550A UART and
 * the PCIe ECAM host bridge with a vfio-pci model on fake VFIO (BARs, MSI, MSI-X) and a fake hypervisor; a
 * stream of choices (a seeded xorshift, or a libFuzzer input) drives accesses of every size at every offset
 * through bus_access() exactly as a vCPU would, plus BAR moves, command toggles, MSI/MSI-X storms, device
 * interrupts and host console input/output. After the run, gg_check() asserts invariants that catch real
 * bugs (memslots match decoding BARs, live irqfd routes match enabled+unmasked vectors, UART registers match
 * what the guest wrote and the data that flowed, ...) and gg_teardown() that nothing leaked.
 * No Criterion here: the same code is the libFuzzer target (make fuzz). Functions return false with a
 * message in g->why on a broken invariant. */
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
	int fds_before;

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

/* Build the rig (seed for the xorshift; data/len: a fuzzer input instead, or NULL). false + why on failure. */
bool gg_setup(struct gg *g, u64 seed, const u8 *data, size_t len, bool faults, bool disciplined);
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
