/* test_guest_garbage.c: a guest writing garbage never crashes ivmm, and leaves every device consistent.
 * The rig (guest_garbage.c) drives the real UART, ECAM host bridge and vfio-pci models through the MMIO bus
 * with seeded random accesses; each seed below is one deterministic run, and a failure names the seed and
 * step; IVMM_GG_SEED=<seed> runs only that seed (e.g. under a debugger). Invariants are checked along the way and at the end, then the
 * teardown must leave nothing behind in the fakes. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdlib.h>
#include "tests/unit/guest_garbage.h"

static const u64 seeds[] = {
	0x1, 0x2545f4914f6cdd1dULL, 0x9e3779b97f4a7c15ULL, 0xdeadbeefcafef00dULL, 0x0123456789abcdefULL, 0x5eed5eedULL,
};

#define STEPS 20000
#define CHECK_EVERY 16

static void run(bool faults, bool disciplined)
{
	const char *only = getenv("IVMM_GG_SEED");
	unsigned int nseeds = only ? 1 : sizeof(seeds) / sizeof(seeds[0]);

	for (unsigned int s = 0; s < nseeds; s++) {
		struct gg *g = calloc(1, sizeof(*g));
		u64 seed = only ? strtoull(only, NULL, 0) : seeds[s];

		cr_assert_not_null(g);
		cr_assert(gg_setup(g, seed, NULL, 0, faults, disciplined), "%s", g->why);
		cr_assert(gg_run(g, STEPS, CHECK_EVERY), "%s", g->why);
		if (faults)
			cr_assert(gg_recover(g), "%s (after recovery)", g->why);
		cr_assert(gg_drain_uart(g), "%s (draining the UART)", g->why);
		cr_assert(gg_teardown(g), "%s (teardown)", g->why);
		free(g);
	}
}

/* Anything goes: every register, size and offset; UART loopback, FIFO resets and device resets too. */
Test(guest_garbage, anything_goes, .init = cr_redirect_stderr, .timeout = 60)
{
	run(false, false);
}

/* The same, with one-shot host failures (memslot, irqfd, VFIO config/BAR I/O) thrown in: what is live
 * stays consistent, and after the guest redoes its enables everything is mapped and routed again. */
Test(guest_garbage, with_host_failures, .init = cr_redirect_stderr, .timeout = 60)
{
	run(true, false);
}

/* A guest that leaves the UART's FIFO and loopback alone while writing garbage elsewhere: every byte of host
 * input reaches it, in order, exactly once. */
Test(guest_garbage, uart_input_arrives_whole, .init = cr_redirect_stderr, .timeout = 60)
{
	run(false, true);
}
