/* guest_garbage_fuzz.c: libFuzzer target over the guest-garbage rig (tests/unit/guest_garbage.h): the fuzzer
 * input is the guest. Byte 0 picks the flavour (bit 0: one-shot host failures, bit 1: UART input
 * discipline), the rest is the stream of choices (accesses, values, sizes, offsets) the rig consumes. Any
 * broken invariant or leak aborts with the rig's message; ASan/UBSan catch the rest. Built and run by
 * `make fuzz` (clang). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "tests/unit/guest_garbage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gg *g;
	bool ok, faults, disciplined;

	if (size < 1)
		return 0;
	faults = data[0] & 1;
	disciplined = data[0] & 2;
	g = calloc(1, sizeof(*g));
	if (!g)
		return 0;
	ok = gg_setup(g, 0, data + 1, size - 1, faults, disciplined) && gg_run(g, 1u << 16, 4) &&
	     (!faults || gg_recover(g)) && gg_drain_uart(g);
	ok = gg_teardown(g) && ok;
	if (!ok) {
		fprintf(stderr, "guest-garbage invariant broken: %s\n", g->why);
		abort();
	}
	free(g);
	return 0;
}
