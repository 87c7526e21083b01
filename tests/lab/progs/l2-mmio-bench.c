/* l2-mmio-bench: L2 program (tests/lab/scenarios/bench-mmio.sh). Times MMIO reads of edu's ident register
 * (BAR0, mapped through sysfs resource0) and prints `bench mmio-mapped-ns N` (BAR0 is a KVM memslot: no exit)
 * or, when the kernel command line has l2bench.mmio=trapped (ivmm run with IVMM_VFIO_NO_MMAP=1, every BAR
 * access exits to ivmm and is forwarded to the device with pread), `bench mmio-trapped-ns N`, N being the mean
 * round trip of one 4-byte read in nanoseconds of L2 time. Exit 1 if a read returns the wrong value. */
#include "tests/lab/progs/l2_edu.h"

static int trapped_mode(void)
{
	char val[64];

	l2_cmdline_get("l2bench.mmio", val, sizeof(val));
	return !strcmp(val, "trapped");
}

int main(void)
{
	char bdf[64];
	volatile uint8_t *bar;
	int trapped = trapped_mode();
	unsigned int n = trapped ? 2000 : 200000;

	edu_prog = "l2-mmio-bench";
	bar = edu_open(bdf, sizeof(bdf), CMD_MEMORY);
	if (!bar)
		return 1;
	for (unsigned int i = 0; i < 100; i++)
		(void)rd32(bar, EDU_IDENT);
	uint64_t t0 = now_ns();

	for (unsigned int i = 0; i < n; i++) {
		if (rd32(bar, EDU_IDENT) != EDU_IDENT_VALUE) {
			edu_say("read %u returned the wrong ident", i);
			return 1;
		}
	}
	uint64_t t1 = now_ns();

	printf("bench mmio-%s-ns %llu\n", trapped ? "trapped" : "mapped", (unsigned long long)((t1 - t0) / n));
	fflush(stdout);
	return 0;
}
