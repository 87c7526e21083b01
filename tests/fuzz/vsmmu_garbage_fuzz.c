/* vsmmu_garbage_fuzz.c: libFuzzer target over the vSMMU garbage rig (tests/unit/vsmmu_garbage.h): the fuzzer
 * input is the guest's arm-smmu-v3 driver gone wrong, read as the rig's choices (a byte for a small one, two or
 * four for a larger range, eight for a raw 64-bit value): which MMIO
 * access, register value, STE, command, batch, re-probe or host failure comes next. The run ends when the
 * input is spent (or after 65536 steps). Every input builds the rig afresh and tears it down (vg_run: fakes,
 * guest RAM, three devices, the vSMMU), so each starts from the same state and a leak of any iommufd object,
 * fd or allocation shows; a broken invariant aborts with rig_assert.h's message, ASan/UBSan catch the rest.
 * Built and run by `make fuzz` (tests/fuzz/run.sh), seeded from tests/fuzz/corpus-vsmmu/. The rig lives in
 * one file-scope pointer because libFuzzer's entry points take no context; nothing else here has state. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "tests/unit/vsmmu_garbage.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vg *rig;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	rig = calloc(1, sizeof(*rig));
	if (!rig) {
		fprintf(stderr, "vsmmu-garbage: out of memory for the rig\n");
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size)
		(void)vg_run(rig, 0, data, size, 1u << 16);
	return 0;
}
