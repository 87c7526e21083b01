/* l2-flood: L2 program for the console scenario (tests/lab/scenarios/console.sh). Writes many numbered lines to
 * the console as fast as the guest can, so a host-side stdout that nobody reads fills up: ivmm must buffer,
 * show THRE = 0 to the guest, and still stop at once on SIGTERM. Usage: l2-flood [LINES] (default 20000). */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;

	for (long i = 0; i < n; i++)
		if (printf("ivmm-flood-line %06ld\n", i) < 0)
			return 1;
	return fflush(stdout) ? 1 : 0;
}
