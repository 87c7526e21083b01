/* l2-edu-bar: L2 program (tests/lab/scenarios/passthrough-bar.sh). Finds the passed-through edu by its ids,
 * enables memory decode, maps BAR0 through sysfs and checks the registers: ident 0x010000ed, liveness
 * (reads back the bitwise NOT of what was written, for several values), factorial (computed by the device,
 * status bit polled). Exit 0 when all hold; prints what differs otherwise. */
#include "tests/lab/progs/l2_edu.h"

static int factorial(volatile uint8_t *bar, uint32_t n, uint32_t *out)
{
	uint64_t t0 = now_ns();

	wr32(bar, EDU_FACT, n);
	while (rd32(bar, EDU_STATUS) & EDU_STATUS_COMPUTING) {
		if (now_ns() - t0 > 2000000000ull) {
			edu_say("factorial of %u: still computing after 2 s", n);
			return -1;
		}
	}
	*out = rd32(bar, EDU_FACT);
	return 0;
}

int main(void)
{
	static const uint32_t live[] = { 0, 1, 0x12345678, 0xdeadbeef, 0xffffffff };
	static const uint32_t fact[][2] = { { 0, 1 }, { 1, 1 }, { 5, 120 }, { 10, 3628800 }, { 12, 479001600 } };
	char bdf[64];
	volatile uint8_t *bar;
	int bad = 0;

	edu_prog = "l2-edu-bar";
	bar = edu_open(bdf, sizeof(bdf), CMD_MEMORY);
	if (!bar)
		return 1;
	uint32_t id = rd32(bar, EDU_IDENT);

	if (id != EDU_IDENT_VALUE) {
		edu_say("ident 0x%08x, expected 0x%08x", id, EDU_IDENT_VALUE);
		return 1;
	}
	edu_say("ident 0x%08x ok", id);
	for (unsigned int i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		wr32(bar, EDU_LIVENESS, live[i]);
		uint32_t v = rd32(bar, EDU_LIVENESS);

		if (v != (uint32_t)~live[i]) {
			edu_say("liveness: wrote 0x%08x, read 0x%08x (expected 0x%08x)", live[i], v, ~live[i]);
			bad++;
		}
	}
	if (!bad)
		edu_say("liveness ok");
	for (unsigned int i = 0; i < sizeof(fact) / sizeof(fact[0]); i++) {
		uint32_t v;

		if (factorial(bar, fact[i][0], &v)) {
			bad++;
			continue;
		}
		if (v != fact[i][1]) {
			edu_say("factorial(%u) = %u, expected %u", fact[i][0], v, fact[i][1]);
			bad++;
		}
	}
	if (bad)
		return 1;
	edu_say("factorial ok");
	return 0;
}
