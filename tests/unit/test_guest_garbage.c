/* test_guest_garbage.c: a guest writing garbage never crashes ivmm, and leaves every device consistent.
 * The rig (guest_garbage.c) drives the real UART, ECAM host bridge and vfio-pci models through the MMIO bus
 * with seeded random accesses; each seed below is one deterministic run, and a failure names the seed and
 * step; IVMM_GG_SEED=<seed> runs only that seed (e.g. under a debugger). Invariants are checked along the way and at the end, then the
 * teardown must leave nothing behind in the fakes. gg_reset (what the fuzzer does between inputs instead of
 * rebuilding) must give a rig on which a run goes exactly as on a fresh one. Every input of the fuzzer's seed
 * corpus (tests/fuzz/corpus/) runs as the fuzzer runs it. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdlib.h>
#include "tests/unit/corpus.h"
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

struct outcome {
	u64 digest;
	unsigned long step, tx_written, tx_out, in_accepted, in_consumed, deliveries;
};

/* One complete run, as the fuzzer does it, and what it observed. */
static struct outcome complete_run(struct gg *g, bool faults, unsigned long steps)
{
	cr_assert(gg_run(g, steps, CHECK_EVERY), "%s", g->why);
	if (faults)
		cr_assert(gg_recover(g), "%s (after recovery)", g->why);
	cr_assert(gg_drain_uart(g), "%s (draining the UART)", g->why);
	return (struct outcome){ g->digest, g->step, g->tx_written, g->tx_out, g->in_accepted, g->in_consumed,
				 g->deliveries };
}

static void expect_same(const struct outcome *a, const struct outcome *b, const char *what)
{
	cr_expect_eq(a->step, b->step, "%s: steps", what);
	cr_expect_eq(a->tx_written, b->tx_written, "%s: console bytes written", what);
	cr_expect_eq(a->tx_out, b->tx_out, "%s: console bytes out", what);
	cr_expect_eq(a->in_accepted, b->in_accepted, "%s: input accepted", what);
	cr_expect_eq(a->in_consumed, b->in_consumed, "%s: input consumed", what);
	cr_expect_eq(a->deliveries, b->deliveries, "%s: interrupts delivered", what);
	cr_assert_eq(a->digest, b->digest, "%s: the guest observed something else (digest 0x%llx vs 0x%llx)", what,
		     (unsigned long long)a->digest, (unsigned long long)b->digest);
}

/* A run of seed B after a run of seed A and gg_reset is the run of seed B on a fresh rig, value for value,
 * in every flavour (and from a fuzzer-style byte input too). */
Test(guest_garbage, a_reset_rig_runs_like_a_fresh_one, .init = cr_redirect_stderr, .timeout = 60)
{
	static u8 input[4096];
	u64 x = 0x243f6a8885a308d3ULL;

	for (unsigned int i = 0; i < sizeof(input); i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		input[i] = (u8)x;
	}
	for (unsigned int flavour = 0; flavour < 4; flavour++) {
		bool faults = flavour & 1, disciplined = flavour & 2;
		struct gg *used = calloc(1, sizeof(*used)), *fresh = calloc(1, sizeof(*fresh));
		const u8 *data = flavour == 3 ? input : NULL;
		size_t len = data ? sizeof(input) : 0;
		struct outcome a, b;

		cr_assert(used && fresh);
		cr_assert(gg_setup(used, seeds[1], NULL, 0, !faults, !disciplined), "%s", used->why);
		(void)complete_run(used, !faults, STEPS / 4);
		cr_assert(gg_reset(used), "%s (reset)", used->why);
		cr_assert(gg_begin(used, seeds[2], data, len, faults, disciplined), "%s", used->why);
		a = complete_run(used, faults, STEPS / 4);
		cr_assert(gg_reset(used), "%s (second reset)", used->why);

		cr_assert(gg_setup(fresh, seeds[2], data, len, faults, disciplined), "%s", fresh->why);
		b = complete_run(fresh, faults, STEPS / 4);
		expect_same(&a, &b, faults ? (disciplined ? "faults, disciplined" : "faults") :
					     (disciplined ? "disciplined" : "anything goes"));
		/* The newer rig first: each one's fd count was taken with the older one open. */
		cr_assert(gg_teardown(fresh), "%s (teardown)", fresh->why);
		cr_assert(gg_teardown(used), "%s (teardown after resets)", used->why);
		free(used);
		free(fresh);
	}
}

/* Many short runs on one rig, as a fuzzing session does: every reset finds nothing left behind, and the
 * teardown at the end still finds the fakes and the fd table clean. */
Test(guest_garbage, many_runs_on_one_rig, .init = cr_redirect_stderr, .timeout = 60)
{
	struct gg *g = calloc(1, sizeof(*g));

	cr_assert_not_null(g);
	cr_assert(gg_setup(g, 1, NULL, 0, false, false), "%s", g->why);
	cr_assert(gg_reset(g), "%s (reset of a fresh rig)", g->why);
	for (unsigned int r = 0; r < 200; r++) {
		bool faults = r % 3 == 1, disciplined = r % 4 == 2;

		cr_assert(gg_begin(g, 0x1000 + r, NULL, 0, faults, disciplined), "%s", g->why);
		(void)complete_run(g, faults, 200);
		cr_assert(gg_reset(g), "run %u: %s", r, g->why);
	}
	cr_assert(gg_teardown(g), "%s (teardown)", g->why);
	free(g);
}

/* As guest_garbage_fuzz.c runs an input: byte 0 the flavour, the rest the choices, then a reset. */
static void replay_one(const u8 *data, size_t len, const char *name, void *ctx)
{
	struct gg *g = ctx;
	bool faults, disciplined;

	if (len < 1)
		return;
	faults = data[0] & 1;
	disciplined = data[0] & 2;
	cr_assert(gg_begin(g, 0, data + 1, len - 1, faults, disciplined), "corpus/%s: %s", name, g->why);
	cr_assert(gg_run(g, 1u << 16, 0), "corpus/%s: %s", name, g->why);
	if (faults)
		cr_assert(gg_recover(g), "corpus/%s: %s (after recovery)", name, g->why);
	cr_assert(gg_drain_uart(g), "corpus/%s: %s (draining the UART)", name, g->why);
	cr_assert(gg_reset(g), "corpus/%s: %s (reset)", name, g->why);
}

Test(guest_garbage, fuzz_corpus_replays, .init = cr_redirect_stderr, .timeout = 120)
{
	struct gg *g = calloc(1, sizeof(*g));
	int n;

	cr_assert_not_null(g);
	cr_assert(gg_setup(g, 0, NULL, 0, false, false), "%s", g->why);
	n = corpus_replay("tests/fuzz/corpus", 16384, replay_one, g);
	cr_assert_geq(n, 1, "no corpus replayed from tests/fuzz/corpus (%d)", n);
	cr_assert(gg_teardown(g), "%s (teardown)", g->why);
	free(g);
}
