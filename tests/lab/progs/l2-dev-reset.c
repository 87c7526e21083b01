/* l2-dev-reset: L2 program (tests/lab/scenarios/device-reset.sh): a reset the guest asks for reaches the device.
 * The device under test (tests/lab/progs/l2_dut.h: the one passed-through function) is taken from the guest's
 * driver, and its reset methods (sysfs reset_method) and config space are checked against what ivmm offers
 * (docs/passthrough.md, "Resets"): with `ivmm.flr=1` on the command line (the host's function has FLR and can be
 * reset) the guest must see "flr", its DevCap FLR bit and, since ivmm reads No_Soft_Reset 1 in PMCSR, no "pm";
 * with `ivmm.flr=0` neither. Then, with FLR, it puts device state in the function that only a reset clears
 * (the device knowledge is here, in dev_state: for an NVMe controller CC.EN=1 with its admin queue attributes,
 * CSTS.RDY=1 and INTMS=1, their reset values being 0), checks it holds on its own for 300 ms, prints
 * `l2-dev-reset: ready 1 before-reset waiting` and waits for a line on the console (the scenario counts L1's
 * vfio-pci reset lines meanwhile), resets the function the way Linux does (`echo 1 > reset` with reset_method
 * flr: pci_reset_function, pcie_flr), prints `ready 2 after-reset waiting` and waits again (the scenario counts
 * again: one more), and checks the state is gone (CC, CSTS.RDY, INTMS back to 0), that Initiate FLR reads 0 and
 * that the config space Linux restored decodes BAR0 where it did. Exit 0 when all holds. */
#include <sys/stat.h>
#include "tests/lab/progs/l2_dut.h"
#include "tests/lab/progs/l2_dma_trigger.h"

#define CAP_ID_PM 0x01
#define CAP_ID_EXP 0x10
#define PM_CTRL 4
#define PM_CTRL_NO_SOFT_RESET 0x0008
#define EXP_DEVCAP 4
#define EXP_DEVCAP_FLR (1u << 28)
#define EXP_DEVCTL 8
#define EXP_DEVCTL_BCR_FLR 0x8000
#define CFG_BAR0 0x10
#define NVME_REG_INTMS 0x0c

/* The state of the function that a reset must clear. */
struct dev_state {
	uint32_t cc, csts, intms, aqa;
};

static void state_read(volatile uint8_t *bar, struct dev_state *s)
{
	s->cc = rd32(bar, NVME_REG_CC);
	s->csts = rd32(bar, NVME_REG_CSTS);
	s->intms = rd32(bar, NVME_REG_INTMS);
	s->aqa = rd32(bar, NVME_REG_AQA);
}

static void state_say(const char *when, const struct dev_state *s)
{
	edu_say("%s: CC 0x%08x CSTS 0x%08x INTMS 0x%08x AQA 0x%08x", when, s->cc, s->csts, s->intms, s->aqa);
}

static bool state_set(const struct dev_state *s)
{
	return (s->cc & NVME_CC_EN) && (s->csts & NVME_CSTS_RDY) && (s->intms & 1);
}

static bool state_reset(const struct dev_state *s)
{
	return s->cc == 0 && !(s->csts & NVME_CSTS_RDY) && s->intms == 0;
}

/* Enable the controller with admin queues of 16 entries (never rung: no DMA, bus mastering stays off) and mask
 * interrupt vector 0. 0, or -1 after a message. */
static int state_put(volatile uint8_t *bar)
{
	wr32(bar, NVME_REG_CC, 0);
	if (l2_trig_nvme_ready(bar, 0))
		return -1;
	wr32(bar, NVME_REG_AQA, 15u << 16 | 15u);
	wr64(bar, NVME_REG_ASQ, 0x7f000000ull);
	wr64(bar, NVME_REG_ACQ, 0x7f001000ull);
	wr32(bar, NVME_REG_INTMS, 1);
	wr32(bar, NVME_REG_CC, NVME_CC_IOSQES | NVME_CC_IOCQES | NVME_CC_EN);
	return l2_trig_nvme_ready(bar, 1);
}

/* Offset of the first capability id in the guest's config space, 0 if none. */
static unsigned int cap_find(const char *bdf, uint8_t id)
{
	uint8_t c[256];

	if (edu_cfg_rw(bdf, 0, c, sizeof(c), 0) || !(c[0x06] & 0x10))
		return 0;
	for (unsigned int p = c[0x34] & ~3u, n = 0; p >= 0x40 && p < 0xff && n < 48; p = c[p + 1] & ~3u, n++)
		if (c[p] == id)
			return p;
	return 0;
}

static uint32_t cfg32(const char *bdf, unsigned int off)
{
	uint32_t v = ~0u;

	(void)edu_cfg_rw(bdf, off, &v, 4, 0);
	return v;
}

/* The guest's driver lets go of the function (nothing to do without one). */
static int unbind(const char *bdf)
{
	char p[300], drv[300];
	ssize_t n;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(p, drv, sizeof(drv) - 1);
	if (n < 0)
		return 0;
	drv[n] = 0;
	edu_say("unbinding %s from the guest's %s driver", bdf, strrchr(drv, '/') ? strrchr(drv, '/') + 1 : drv);
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	return write_str(p, bdf);
}

/* The reset methods the guest's PCI core found (empty: none, the reset attribute absent). */
static void reset_methods(const char *bdf, char *buf, size_t len)
{
	char p[300];
	int fd;
	ssize_t n;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/reset_method", bdf);
	fd = open(p, O_RDONLY);
	n = fd >= 0 ? read(fd, buf, len - 1) : 0;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

static bool has_word(const char *list, const char *w)
{
	size_t l = strlen(w);

	for (const char *p = strstr(list, w); p; p = strstr(p + 1, w))
		if ((p == list || p[-1] == ' ') && (p[l] == 0 || p[l] == ' '))
			return true;
	return false;
}

/* BAR0 through sysfs resource0, its whole size. */
static volatile uint8_t *map_bar0(const char *bdf, size_t *size)
{
	char p[300];
	struct stat st;
	void *m;
	int fd;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/resource0", bdf);
	fd = open(p, O_RDWR | O_SYNC);
	if (fd < 0 || fstat(fd, &st)) {
		edu_say("open %s: %s", p, strerror(errno));
		return NULL;
	}
	*size = (size_t)st.st_size;
	m = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		edu_say("mmap %s (%zu bytes): %s", p, *size, strerror(errno));
		return NULL;
	}
	return m;
}

int main(void)
{
	char bdf[EDU_BDF_LEN], methods[256], want[8], p[300];
	struct dev_state before, held, after;
	unsigned int exp, pm;
	volatile uint8_t *bar;
	uint32_t bar0;
	size_t size;
	uint64_t t0;
	bool flr;

	edu_prog = "l2-dev-reset";
	if (l2_dut_find(bdf, sizeof(bdf)))
		return 1;
	if (!l2_trig_nvme_match(l2_pci_attr(bdf, "vendor"), l2_pci_attr(bdf, "device"), l2_pci_attr(bdf, "class"))) {
		edu_say("%s (class 0x%06lx) is not an NVMe controller: the lab knows no state of it to check", bdf,
			l2_pci_attr(bdf, "class"));
		return 1;
	}
	l2_cmdline_get("ivmm.flr", want, sizeof(want));
	flr = strcmp(want, "0") != 0;
	if (unbind(bdf))
		return 1;
	reset_methods(bdf, methods, sizeof(methods));
	exp = cap_find(bdf, CAP_ID_EXP);
	pm = cap_find(bdf, CAP_ID_PM);
	edu_say("reset methods: '%s'; DevCap 0x%08x, PMCSR 0x%04x", methods, exp ? cfg32(bdf, exp + EXP_DEVCAP) : 0,
		pm ? cfg32(bdf, pm + PM_CTRL) & 0xffff : 0);
	if (pm && !(cfg32(bdf, pm + PM_CTRL) & PM_CTRL_NO_SOFT_RESET)) {
		edu_say("PMCSR has No_Soft_Reset clear: a PM reset is offered");
		return 1;
	}
	if (has_word(methods, "pm")) {
		edu_say("the guest's PCI core offers a PM reset ('%s'): ivmm must not", methods);
		return 1;
	}
	if (!flr) {
		if (has_word(methods, "flr") || (exp && (cfg32(bdf, exp + EXP_DEVCAP) & EXP_DEVCAP_FLR))) {
			edu_say("FLR offered although the host cannot reset the function with it");
			return 1;
		}
		edu_say("no FLR offered, as expected of this function");
		return 0;
	}
	if (!exp || !(cfg32(bdf, exp + EXP_DEVCAP) & EXP_DEVCAP_FLR) || !has_word(methods, "flr")) {
		edu_say("FLR not offered (reset methods '%s'), though the host's function has it", methods);
		return 1;
	}
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/reset_method", bdf);
	if (write_str(p, "flr") || edu_cmd_set(bdf, CMD_MEMORY))
		return 1;
	bar = map_bar0(bdf, &size);
	if (!bar)
		return 1;
	if (size < NVME_REG_ACQ + 8) {
		edu_say("BAR0 is only %zu bytes", size);
		return 1;
	}
	bar0 = cfg32(bdf, CFG_BAR0);
	if (state_put(bar))
		return 1;
	state_read(bar, &before);
	state_say("state set", &before);
	usleep(300000);
	state_read(bar, &held);
	state_say("300 ms later", &held);
	if (!state_set(&before) || !state_set(&held)) {
		edu_say("the state does not hold without a reset: nothing to check");
		return 1;
	}
	if (l2_console_step(1, "before-reset"))
		return 1;
	t0 = now_ns();
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/reset", bdf);
	if (write_str(p, "1"))
		return 1;
	edu_say("reset (flr) returned after %llu ms", (unsigned long long)((now_ns() - t0) / 1000000));
	if (l2_console_step(2, "after-reset"))
		return 1;
	state_read(bar, &after);
	state_say("after the reset", &after);
	if (!state_reset(&after)) {
		edu_say("the state set before the reset is still there: the function was not reset");
		return 1;
	}
	if (cfg32(bdf, exp + EXP_DEVCTL) & EXP_DEVCTL_BCR_FLR) {
		edu_say("Initiate FLR reads 1 after the reset (DevCtl 0x%04x)", cfg32(bdf, exp + EXP_DEVCTL) & 0xffff);
		return 1;
	}
	if (cfg32(bdf, CFG_BAR0) != bar0 || !(cfg32(bdf, CFG_COMMAND) & CMD_MEMORY)) {
		edu_say("config space after the reset: BAR0 0x%08x (was 0x%08x), command 0x%04x", cfg32(bdf, CFG_BAR0),
			bar0, cfg32(bdf, CFG_COMMAND) & 0xffff);
		return 1;
	}
	edu_say("flr: CC 0x%x -> 0x%x, CSTS.RDY %u -> %u, INTMS 0x%x -> 0x%x; BAR0 0x%08x decodes again", before.cc,
		after.cc, before.csts & NVME_CSTS_RDY, after.csts & NVME_CSTS_RDY, before.intms, after.intms, bar0);
	return 0;
}
