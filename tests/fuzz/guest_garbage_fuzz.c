/* guest_garbage_fuzz.c: libFuzzer target over the guest-garbage rig (tests/unit/guest_garbage.h): the fuzzer
 * input is the guest. Byte 0 picks the flavour (bit 0: one-shot host failures, bit 1: UART input
 * discipline), the rest is the stream of choices (accesses, values, sizes, offsets) the rig consumes. Any
 * broken invariant or leak aborts with the rig's message; ASan/UBSan catch the rest. Built and run by
 * `make fuzz` (clang; tests/fuzz/run.sh prints the rate), seeded from tests/fuzz/corpus/.
 *
 * An execution is cheap because the rig is built once, in LLVMFuzzerInitialize, and each input ends with
 * gg_reset(), which puts the device, the UART and the fakes back to their built state (checking that the run
 * left no fd, memslot, route or register behind) instead of freeing and rebuilding them: no mmap, munmap or
 * fd churn per input beyond what the guest's own actions cause. Invariants are checked once, at the end of
 * the input (and after recovery and the UART drain), not every few steps as the unit tests do: a state that is
 * wrong after step k and right again later is still caught, by the input cut after step k, which libFuzzer
 * tries as it shortens and splices inputs. The rig lives in one file-scope pointer because libFuzzer's entry
 * points take no context; nothing else here has state. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "tests/unit/guest_garbage.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gg *rig;

static void broken(const char *when)
{
	fprintf(stderr, "guest-garbage invariant broken%s: %s\n", when, rig->why);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	rig = calloc(1, sizeof(*rig));
	if (!rig) {
		fprintf(stderr, "guest-garbage: out of memory for the rig\n");
		abort();
	}
	if (!gg_setup(rig, 0, NULL, 0, false, false))
		broken(" building the rig");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool faults, disciplined;

	if (size < 1)
		return 0;
	faults = data[0] & 1;
	disciplined = data[0] & 2;
	if (!gg_begin(rig, 0, data + 1, size - 1, faults, disciplined) || !gg_run(rig, 1u << 16, 0) ||
	    (faults && !gg_recover(rig)) || !gg_drain_uart(rig))
		broken("");
	if (!gg_reset(rig))
		broken(" (reset after the input)");
	return 0;
}
