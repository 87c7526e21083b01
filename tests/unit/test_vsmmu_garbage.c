/* test_vsmmu_garbage.c: a guest writing garbage to the vSMMU (the rig and what it checks after every step:
 * tests/unit/vsmmu_garbage.h, also the libFuzzer target's, make fuzz). Here on fixed seeds, 2500 steps each, once
 * driven by bytes as the fuzzer drives it, and on every input of the fuzzer's seed corpus. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include "tests/unit/corpus.h"
#include "tests/unit/vsmmu_garbage.h"

static struct vg g;

static void teardown(void)
{
	vg_free(&g);
}

TestSuite(vsmmu_garbage, .init = cr_redirect_stderr, .fini = teardown);

static void run_seed(u64 seed, unsigned int steps)
{
	unsigned int done = vg_run(&g, seed, NULL, 0, steps);

	cr_assert_geq(done, steps / 2, "seed %llu: only %u steps", (unsigned long long)seed, done);
}

Test(vsmmu_garbage, seeds_1_to_4, .timeout = 60)
{
	for (u64 seed = 1; seed <= 4; seed++)
		run_seed(seed, 2500);
}

Test(vsmmu_garbage, seeds_5_to_8, .timeout = 60)
{
	for (u64 seed = 5; seed <= 8; seed++)
		run_seed(seed, 2500);
}

/* The same rig driven by bytes, as the fuzzer drives it: a run consumes the input and ends when it is spent. */
Test(vsmmu_garbage, byte_input_ends_the_run, .timeout = 60)
{
	u8 in[4096];
	u64 x = 42;

	for (size_t i = 0; i < sizeof(in); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		in[i] = (u8)x;
	}
	unsigned int done = vg_run(&g, 0, in, sizeof(in), 1u << 20);

	cr_assert_gt(done, 100, "only %u steps from %zu bytes", done, sizeof(in));
	cr_assert(g.exhausted, "the run did not end when the input did");
	cr_assert_eq(vg_run(&g, 0, in, sizeof(in), 1u << 20), done, "the same input, the same run");
}

static void replay_one(const u8 *data, size_t len, const char *name, void *ctx)
{
	unsigned int *steps = ctx;

	cr_log_info("corpus-vsmmu/%s: %zu bytes", name, len);
	if (len)
		*steps += vg_run(&g, 0, data, len, 1u << 16);
}

/* Every input of tests/fuzz/corpus-vsmmu/ (what make fuzz starts from and what it found) passes here too. */
Test(vsmmu_garbage, fuzz_corpus_replays, .timeout = 120)
{
	unsigned int steps = 0;
	int n = corpus_replay("tests/fuzz/corpus-vsmmu", 16384, replay_one, &steps);

	cr_assert_geq(n, 1, "no corpus replayed from tests/fuzz/corpus-vsmmu (%d)", n);
	cr_assert_gt(steps, (unsigned int)n, "%d inputs made only %u steps", n, steps);
}
