/* l2-edu-dma: L2 program (tests/lab/scenarios/passthrough-dma.sh). With bus mastering enabled through a sysfs
 * config write, it runs edu DMAs both ways through a locked page of guest RAM whose guest-physical address
 * comes from /proc/self/pagemap (no vSMMU: DMA addresses are guest-physical, and ivmm maps all guest RAM in
 * the IOAS at IOVA = GPA): pattern -> edu buffer, RAM overwritten, edu buffer -> RAM, pattern back. Several
 * rounds with different patterns, sizes and offsets. Exit 0 when every round trip matches. */
#include <sys/mman.h>
#include "tests/lab/progs/l2_edu.h"

#define PAGE 4096u

static int virt_to_phys(const void *p, uint64_t *phys)
{
	uint64_t e, va = (uint64_t)(uintptr_t)p;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0) {
		edu_say("open /proc/self/pagemap: %s", strerror(errno));
		return -1;
	}
	if (pread(fd, &e, 8, (off_t)(va / PAGE * 8)) != 8) {
		edu_say("read /proc/self/pagemap: %s", strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	if (!(e >> 63) || !(e & ((1ull << 55) - 1))) {
		edu_say("page at %p not present or PFN hidden (pagemap entry 0x%016llx)", p, (unsigned long long)e);
		return -1;
	}
	*phys = (e & ((1ull << 55) - 1)) * PAGE + va % PAGE;
	return 0;
}

static uint8_t pat(unsigned int round, unsigned int i)
{
	return (uint8_t)(i * 7 + round * 31 + (i >> 8) + 1);
}

int main(void)
{
	static const struct { uint32_t off, len; } rounds[] = { { 0, PAGE }, { 0x100, 0x200 }, { 0xff8, 8 }, { 0, PAGE } };
	char bdf[64];
	volatile uint8_t *bar;
	uint8_t *buf;
	uint64_t phys;
	int bad = 0;

	edu_prog = "l2-edu-dma";
	bar = edu_open(bdf, sizeof(bdf), CMD_MEMORY | CMD_MASTER);
	if (!bar)
		return 1;
	buf = aligned_alloc(PAGE, PAGE);
	if (!buf || mlock(buf, PAGE)) {
		edu_say("cannot allocate and lock a page: %s", strerror(errno));
		return 1;
	}
	memset(buf, 0, PAGE);
	if (virt_to_phys(buf, &phys))
		return 1;
	edu_say("buffer at guest-physical 0x%llx", (unsigned long long)phys);

	for (unsigned int r = 0; r < sizeof(rounds) / sizeof(rounds[0]); r++) {
		uint32_t off = rounds[r].off, len = rounds[r].len;
		unsigned int wrong = 0, first = 0;

		for (unsigned int i = 0; i < PAGE; i++)
			buf[i] = pat(r, i);
		__sync_synchronize();
		/* RAM -> edu: pattern bytes [off, off+len) land at the same offset of edu's buffer. */
		if (edu_dma(bar, phys + off, EDU_DMA_BUF + off, len, 0))
			return 1;
		memset(buf, 0xa5, PAGE);
		__sync_synchronize();
		/* edu -> RAM. */
		if (edu_dma(bar, EDU_DMA_BUF + off, phys + off, len, EDU_DMA_TO_RAM))
			return 1;
		for (unsigned int i = 0; i < PAGE; i++) {
			uint8_t want = (i >= off && i < off + len) ? pat(r, i) : 0xa5;

			if (((volatile uint8_t *)buf)[i] != want) {
				if (!wrong++)
					first = i;
			}
		}
		if (wrong) {
			bool untouched = true;

			for (unsigned int i = off; i < off + len; i++)
				untouched &= buf[i] == 0xa5;
			edu_say("round %u (%u bytes at +0x%x): %u bytes differ, first at +0x%x: 0x%02x, expected 0x%02x%s",
				r, len, off, wrong, first, buf[first],
				(first >= off && first < off + len) ? pat(r, first) : 0xa5,
				untouched ? " (RAM untouched: DMA did not reach guest RAM; note QEMU's edu clamps DMA "
					    "addresses to its dma_mask, 28 bits unless -device edu,dma_mask=...)" : "");
			bad++;
		} else {
			edu_say("round %u: %u bytes at +0x%x round-tripped", r, len, off);
		}
	}
	return bad ? 1 : 0;
}
