/* test_vsmmu_garbage.c: a guest writing garbage to the vSMMU (the rig and what it checks after every step:
 * tests/unit/vsmmu_garbage.h, also the libFuzzer target's, make fuzz). Here on fixed seeds, 2500 steps each, and
 * once driven by bytes as the fuzzer drives it. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
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
	cr_assert_lt(done, 1u << 20, "the run did not end when the input did");
	cr_assert(g.exhausted);
	cr_assert_eq(vg_run(&g, 0, in, sizeof(in), 1u << 20), done, "the same input, the same run");
}
