/* guest_garbage.c: the garbage-writing guest rig (see guest_garbage.h). The device under test is an edu-like
 * function: BAR0 32-bit 1 MiB (mmap), BAR1 I/O (hidden), BAR2/3 64-bit prefetchable 64 KiB (mmap) holding
 * the MSI-X table (8 vectors at 0) and PBA (at 0x8000); MSI 64-bit with per-vector masks (4 vectors), PM,
 * MSI-X and a vendor capability; INTA. gg_reset (see guest_garbage.h) puts it back to power-on the way a guest
 * would, without rebuilding anything, so the fuzzer (tests/fuzz/guest_garbage_fuzz.c) builds it once. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include "boot/layout.h"
#include "tests/unit/guest_garbage.h"

#define RW (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE)
#define RWM (RW | VFIO_REGION_INFO_FLAG_MMAP)
#define MSI_CAP 0x40
#define PM_CAP 0x58
#define MSIX_CAP 0x70
#define VNDR_CAP 0x80
#define SLOT1 (1u << 15)           /* ECAM offset of 00:01.0 */
#define BAR0_SIZE SZ_1M
#define BAR2_SIZE SZ_64K
#define PBA_OFF 0x8000
#define MSI_VECS 4
#define DOORBELL 0x03010040ULL
#define SPI_INTA_SLOT1 (LAYOUT_SPI_PCI_INTX_BASE + 1) /* INTA of slot 1 swizzles to the second line */
#define CMD_BITS (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE)

static bool fail(struct gg *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct gg *g, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(g->why, sizeof(g->why), "seed 0x%llx step %lu: ", (unsigned long long)g->seed, g->step);

	va_start(ap, fmt);
	vsnprintf(g->why + n, sizeof(g->why) - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

#define REQUIRE(cond, ...)                          \
	do {                                        \
		if (!(cond))                        \
			return fail(g, __VA_ARGS__); \
	} while (0)

/* ---- choices ---- */

static u64 next(struct gg *g)
{
	if (g->data) {
		u64 v = 0;

		for (unsigned int i = 0; i < 8; i++) {
			if (g->pos >= g->len) {
				g->exhausted = true;
				break;
			}
			v |= (u64)g->data[g->pos++] << (8 * i);
		}
		return v;
	}
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return g->rng;
}

static u32 below(struct gg *g, u32 n)
{
	return n ? (u32)(next(g) % n) : 0;
}

static bool chance(struct gg *g, u32 in)
{
	return below(g, in) == 0;
}

/* ---- what the run observed, and which eventfds may hold a count ---- */

static void mix(struct gg *g, u64 v)
{
	g->digest = (g->digest ^ v) * 0x100000001b3ULL;
}

static bool kicked(const struct gg *g, int fd)
{
	return fd >= GG_FD_SCAN || (fd >= 0 && (g->kicked[fd / 64] >> (fd % 64) & 1));
}

/* An fd beyond the bitmap counts as kicked for good (nkicked never drops back for it). */
static void set_kicked(struct gg *g, int fd, bool on)
{
	u64 bit = 1ULL << (fd % 64);

	if (fd >= GG_FD_SCAN && on)
		g->nkicked++;
	if (fd < 0 || fd >= GG_FD_SCAN || !(g->kicked[fd / 64] & bit) == !on)
		return;
	g->kicked[fd / 64] ^= bit;
	if (on)
		g->nkicked++;
	else
		g->nkicked--;
}

/* ---- guest accesses ---- */

/* What bus.h promises for an access, from the region list as it is now. */
static int bus_expect(struct gg *g, u64 addr, unsigned int len)
{
	const struct mmio_region *r;

	if (len < 1 || len > 8)
		return -EINVAL;
	for (r = g->bus.regions; r; r = r->next) {
		u64 last = r->base + (r->len - 1);

		if (addr < r->base || addr > last)
			continue;
		if (len - 1 > last - addr)
			return -ENOENT;
		if ((len & (len - 1)) || !(r->sizes & len) || ((addr - r->base) & (len - 1)))
			return -EINVAL;
		return 0;
	}
	return -ENOENT;
}

static const struct mmio_region *bar_region(struct gg *g, unsigned int i);
static bool uart_seen_write(struct gg *g, unsigned int r, u8 v, bool dlab, bool loop);
static bool uart_seen_read(struct gg *g, unsigned int r, u8 v, bool dlab, bool line);
static void msix_shadow(struct gg *g, u64 off, unsigned int size, u64 v);
static bool uart_write(struct gg *g, unsigned int r, u8 v);

/* One vCPU access; the bus's answer must be what bus.h says, and a failed read must read zero. Accesses that
 * reach a UART register or the MSI-X table update the guest's view of them (and reads are checked). */
static bool gg_access(struct gg *g, u64 addr, unsigned int len, bool wr, u64 *val, int *ret_out)
{
	const struct mmio_region *r2 = bar_region(g, 2);
	u64 r2base = r2 ? r2->base : 0, r2len = r2 ? r2->len : 0;
	bool uart = addr >= LAYOUT_UART_BASE && addr < LAYOUT_UART_BASE + 8 && len == 1;
	bool dlab = g->us.lcr & UART_LCR_DLAB, loop = g->us.mcr & UART_MCR_LOOP;
	bool line = g->fh.spi_level[LAYOUT_SPI_UART];
	const struct mmio_region *r0 = bar_region(g, 0);
	/* Device memory (BAR0, BAR2 but its MSI-X table and PBA): its contents are not part of the run's record. */
	bool devmem = (r0 && addr >= r0->base && addr - r0->base < r0->len) ||
		      (r2 && addr >= r2base && addr - r2base < r2len && addr - r2base >= GG_MSIX_VECS * PCI_MSIX_ENTRY_SIZE &&
		       (addr - r2base < PBA_OFF || addr - r2base >= PBA_OFF + 8));
	u8 d[8];
	int want = bus_expect(g, addr, len), ret;

	for (unsigned int i = 0; i < 8; i++)
		d[i] = wr ? (u8)(*val >> (8 * i)) : 0xa5;
	ret = bus_access(&g->bus, addr, d, len, wr);
	if (ret_out)
		*ret_out = ret;
	mix(g, addr);
	mix(g, (u64)len << 32 | (u64)wr << 31 | (u32)ret);
	if (wr && addr >= LAYOUT_ECAM_BASE + SLOT1 && addr < LAYOUT_ECAM_BASE + SLOT1 + GG_CFG_SNAP) {
		u64 off = addr - LAYOUT_ECAM_BASE - SLOT1;

		g->cfg_dirty |= 1ULL << (off / 4);
		if (off / 4 != (off + (len ? len - 1 : 0)) / 4 && off + len <= GG_CFG_SNAP)
			g->cfg_dirty |= 1ULL << ((off + len - 1) / 4);
	}
	REQUIRE(ret == want, "%s of %u bytes at 0x%llx: bus says %d, bus.h rules say %d", wr ? "write" : "read", len,
		(unsigned long long)addr, ret, want);
	if (wr) {
		if (ret == 0 && uart)
			return uart_seen_write(g, (unsigned int)(addr - LAYOUT_UART_BASE), (u8)*val, dlab, loop);
		if (ret == 0 && r2 && addr >= r2base && addr - r2base < r2len)
			msix_shadow(g, addr - r2base, len, *val);
		return true;
	}
	u64 v = 0;

	/* Outside 1..8 (a caller bug: KVM never exits with those) the bus must not touch data at all. */
	for (unsigned int i = 0; i < len && len <= 8; i++) {
		REQUIRE(ret == 0 || d[i] == 0, "failed read at 0x%llx left byte %u = 0x%x", (unsigned long long)addr, i,
			d[i]);
		v |= (u64)d[i] << (8 * i);
	}
	*val = v;
	if (!devmem)
		mix(g, v);
	if (ret == 0 && uart)
		return uart_seen_read(g, (unsigned int)(addr - LAYOUT_UART_BASE), (u8)v, dlab, line);
	return true;
}

static bool mmio_w(struct gg *g, u64 addr, unsigned int len, u64 v, int *ret)
{
	return gg_access(g, addr, len, true, &v, ret);
}

static bool mmio_r(struct gg *g, u64 addr, unsigned int len, u64 *v, int *ret)
{
	return gg_access(g, addr, len, false, v, ret);
}

/* Config of our function straight from the bridge (no bus rules; reads have no side effects we care about). */
static u32 cfg(struct gg *g, u32 off, u32 size)
{
	return (u32)pci_host_ecam_read(&g->host, SLOT1 + off, size);
}

static bool cfg_w(struct gg *g, u32 off, unsigned int size, u32 v)
{
	return mmio_w(g, LAYOUT_ECAM_BASE + SLOT1 + off, size, v, NULL);
}

static u32 real_cfg(struct gg *g, u32 off, u32 size)
{
	u32 v = 0;

	for (u32 i = 0; i < size; i++)
		v |= (u32)g->fv.regions[VFIO_PCI_CONFIG_REGION_INDEX].data[off + i] << (8 * i);
	return v;
}

static u64 bar_addr(struct gg *g, unsigned int i)
{
	if (i == 0)
		return cfg(g, PCI_BASE_ADDRESS_0, 4) & ~0xfull;
	return (cfg(g, PCI_BASE_ADDRESS_2, 4) & ~0xfull) | (u64)cfg(g, PCI_BASE_ADDRESS_3, 4) << 32;
}

static u64 bar_size(unsigned int i)
{
	return i == 0 ? BAR0_SIZE : BAR2_SIZE;
}

/* The trapped view of BAR i while the model says it decodes (check_bars proves such a region is on the bus,
 * and that nothing else is). */
static const struct mmio_region *bar_region(struct gg *g, unsigned int i)
{
	const struct vfio_pci_bar *b = &g->vp->bars[i];

	return b->gpa != VFIO_PCI_NO_ADDR ? &b->mmio : NULL;
}

static int irq_index(struct gg *g)
{
	if (cfg(g, MSIX_CAP + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_ENABLE)
		return VFIO_PCI_MSIX_IRQ_INDEX;
	if (cfg(g, MSI_CAP + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_ENABLE)
		return VFIO_PCI_MSI_IRQ_INDEX;
	return VFIO_PCI_INTX_IRQ_INDEX;
}

/* An eventfd holds a count only if the device wrote it since it was last read (or closed and reused): the
 * others are not asked. */
static bool efd_readable(struct gg *g, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return fd >= 0 && kicked(g, fd) && poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* The hypervisor delivers whatever a live irqfd route's eventfd holds (KVM consumes it). */
static void hv_deliver(struct gg *g)
{
	for (unsigned int i = 0; g->nkicked && i < FAKE_HV_MAX_IRQFDS; i++) {
		int fd = g->fh.irqfds[i].eventfd;
		u64 cnt;

		if (!g->fh.irqfds[i].used || !kicked(g, fd))
			continue;
		if (read(fd, &cnt, 8) == 8)
			g->deliveries++;
		set_kicked(g, fd, false);
	}
}

/* ---- the device ---- */

static void cfg_put(struct gg *g, u32 off, u32 size, u32 v)
{
	for (u32 i = 0; i < size; i++)
		g->fv.regions[VFIO_PCI_CONFIG_REGION_INDEX].data[off + i] = (u8)(v >> (8 * i));
}

static bool device_image(struct gg *g)
{
	struct fake_vfio *f = &g->fv;

	fake_vfio_init(f);
	REQUIRE(!fake_vfio_set_region(f, VFIO_PCI_CONFIG_REGION_INDEX, 4096, RW) &&
			!fake_vfio_set_region(f, VFIO_PCI_BAR0_REGION_INDEX, BAR0_SIZE, RWM) &&
			!fake_vfio_set_region(f, VFIO_PCI_BAR1_REGION_INDEX, 256, RW) &&
			!fake_vfio_set_region(f, VFIO_PCI_BAR2_REGION_INDEX, BAR2_SIZE, RWM),
		"fake VFIO regions: out of memory");
	cfg_put(g, PCI_VENDOR_ID, 4, 0x11e81234);
	cfg_put(g, PCI_STATUS, 2, PCI_STATUS_CAP_LIST);
	cfg_put(g, PCI_CLASS_REVISION, 4, 0x00ff0010);
	cfg_put(g, PCI_BASE_ADDRESS_1, 4, PCI_BASE_ADDRESS_SPACE_IO);
	cfg_put(g, PCI_BASE_ADDRESS_2, 4, PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
	cfg_put(g, PCI_CAPABILITY_LIST, 1, MSI_CAP);
	cfg_put(g, PCI_INTERRUPT_PIN, 1, 1);
	cfg_put(g, MSI_CAP, 2, PCI_CAP_ID_MSI | PM_CAP << 8);
	cfg_put(g, MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT | (2 << 1));
	cfg_put(g, PM_CAP, 2, PCI_CAP_ID_PM | MSIX_CAP << 8);
	cfg_put(g, MSIX_CAP, 2, PCI_CAP_ID_MSIX | VNDR_CAP << 8);
	cfg_put(g, MSIX_CAP + PCI_MSIX_FLAGS, 2, GG_MSIX_VECS - 1);
	cfg_put(g, MSIX_CAP + PCI_MSIX_TABLE, 4, 0 | 2);
	cfg_put(g, MSIX_CAP + PCI_MSIX_PBA, 4, PBA_OFF | 2);
	cfg_put(g, VNDR_CAP, 2, PCI_CAP_ID_VNDR);
	cfg_put(g, VNDR_CAP + 2, 2, 0x5508);
	f->irqs[VFIO_PCI_INTX_IRQ_INDEX].count = 1;
	f->irqs[VFIO_PCI_INTX_IRQ_INDEX].flags = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE;
	f->irqs[VFIO_PCI_MSI_IRQ_INDEX].count = MSI_VECS;
	f->irqs[VFIO_PCI_MSI_IRQ_INDEX].flags = VFIO_IRQ_INFO_EVENTFD;
	f->irqs[VFIO_PCI_MSIX_IRQ_INDEX].count = GG_MSIX_VECS;
	f->irqs[VFIO_PCI_MSIX_IRQ_INDEX].flags = VFIO_IRQ_INFO_EVENTFD;
	return true;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Open fds below GG_FD_SCAN in one system call (no fd of its own, unlike /proc/self/fd). */
static int count_fds_fast(void)
{
	struct pollfd p[GG_FD_SCAN];
	int n = 0;

	for (int i = 0; i < GG_FD_SCAN; i++)
		p[i] = (struct pollfd){ .fd = i };
	if (poll(p, GG_FD_SCAN, 0) < 0)
		return -1;
	for (int i = 0; i < GG_FD_SCAN; i++)
		n += !(p[i].revents & POLLNVAL);
	return n;
}

bool gg_begin(struct gg *g, u64 seed, const u8 *data, size_t len, bool faults, bool disciplined)
{
	g->seed = seed;
	g->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
	g->data = data;
	g->len = len;
	g->pos = 0;
	g->exhausted = false;
	g->step = 0;
	g->faults = faults;
	g->disciplined = disciplined;
	memset(g->msix, 0, sizeof(g->msix));
	for (unsigned int i = 0; i < GG_MSIX_VECS; i++)
		g->msix[i][3] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
	memset(&g->us, 0, sizeof(g->us));
	g->in_next = g->in_expect = 1;
	g->in_accepted = g->in_consumed = 0;
	g->in_short = false;
	g->tx_written = g->tx_out = 0;
	g->tx_dropped0 = uart16550_tx_dropped(g->uart);
	g->deliveries = 0;
	g->digest = 0xcbf29ce484222325ULL;
	g->why[0] = '\0';
	g->fds_begin = count_fds_fast();
	REQUIRE(g->fds_begin > 0, "poll over the first %d fds: %s", GG_FD_SCAN, strerror(errno));
	/* A disciplined guest turns the FIFO on first (toggling it later would discard input). */
	return !disciplined || uart_write(g, UART_FCR, UART_FCR_ENABLE);
}

/* What gg_reset must find again: the device as the guest sees it, the fake device's own config, the fakes'
 * interrupt state, the fds. */
static bool snapshot(struct gg *g)
{
	struct fake_vfio_region *c = &g->fv.regions[VFIO_PCI_CONFIG_REGION_INDEX];

	for (u32 off = 0; off < GG_CFG_SNAP; off += 4) {
		u32 v = cfg(g, off, 4);

		memcpy(&g->built.cfg[off], &v, 4);
	}
	g->built.dev_cfg = malloc(c->size);
	REQUIRE(g->built.dev_cfg, "out of memory for the config snapshot");
	memcpy(g->built.dev_cfg, c->data, c->size);
	g->built.dev_cfg_len = c->size;
	for (int i = 0; i < FAKE_VFIO_NR_IRQS; i++) {
		g->built.vfio_enabled[i] = g->fv.enabled[i];
		g->built.vfio_masked[i] = g->fv.masked[i][0];
	}
	for (unsigned int i = 0; i < FAKE_HV_MAX_IRQFDS; i++) {
		g->built.irqfds += g->fh.irqfds[i].used;
		g->built.irqfds_msi += g->fh.irqfds[i].used && g->fh.irqfds[i].msi;
	}
	memcpy(g->built.spi_level, g->fh.spi_level, sizeof(g->built.spi_level));
	return true;
}

bool gg_setup(struct gg *g, u64 seed, const u8 *data, size_t len, bool faults, bool disciplined)
{
	int p[2];

	memset(g, 0, sizeof(*g));
	g->out_r = g->out_w = -1;
	g->fds_before = count_fds();
	g->tx_log = malloc(GG_TX_LOG);
	REQUIRE(g->tx_log, "out of memory for the TX log");
	REQUIRE(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
	g->out_r = p[0];
	g->out_w = p[1];
	(void)fcntl(g->out_w, F_SETPIPE_SZ, 4096); /* a slow console: output backs up into the UART */

	fake_hv_init(&g->fh);
	REQUIRE(bus_init(&g->bus) == 0, "bus_init");
	REQUIRE(uart16550_create(&g->fh.hv, LAYOUT_UART_BASE, LAYOUT_SPI_UART, g->out_w, &g->uart) == 0,
		"uart16550_create");
	REQUIRE(bus_register(&g->bus, uart16550_region(g->uart), NULL, 0) == 0, "UART region");
	REQUIRE(pci_host_init(&g->host, &g->bus, LAYOUT_ECAM_BASE, LAYOUT_ECAM_SIZE) == 0, "pci_host_init");
	if (!device_image(g))
		return false;
	fake_vfio_open(&g->fv, &g->vdev, "0000:00:01.0");
	REQUIRE(vfio_dev_bind(&g->vdev, 3) == 0, "vfio_dev_bind");
	REQUIRE(vfio_pci_create(&g->vp, "edu0", &g->vdev, &g->host, &g->fh.hv, &g->bus, -1) == 0, "vfio_pci_create");
	return snapshot(g) && gg_begin(g, seed, data, len, faults, disciplined);
}

/* ---- PCI operations ---- */

static const u16 hot_regs[] = {
	PCI_COMMAND, PCI_STATUS, PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_1, PCI_BASE_ADDRESS_2, PCI_BASE_ADDRESS_3,
	PCI_BASE_ADDRESS_4, PCI_ROM_ADDRESS, PCI_CAPABILITY_LIST, PCI_INTERRUPT_LINE, MSI_CAP,
	MSI_CAP + PCI_MSI_FLAGS, MSI_CAP + PCI_MSI_ADDRESS_LO, MSI_CAP + PCI_MSI_ADDRESS_HI, MSI_CAP + PCI_MSI_DATA_64,
	MSI_CAP + PCI_MSI_MASK_64, MSI_CAP + PCI_MSI_PENDING_64, PM_CAP + PCI_PM_CTRL, MSIX_CAP + PCI_MSIX_FLAGS,
	MSIX_CAP + PCI_MSIX_TABLE, MSIX_CAP + PCI_MSIX_PBA, VNDR_CAP + 2, 0x100, 0xffc,
};

static u32 garbage_value(struct gg *g)
{
	switch (below(g, 9)) {
	case 0:
		return 0;
	case 1:
		return 0xffffffff;
	case 2: /* a BAR address in the 32-bit window (some unaligned, some overlapping the other BAR) */
		return (u32)(LAYOUT_PCI_MMIO32_BASE + ((u64)below(g, 512) << 20) + (chance(g, 8) ? below(g, 1u << 20) : 0));
	case 3: /* the 64-bit window's low half */
		return (u32)(LAYOUT_PCI_MMIO64_BASE + ((u64)below(g, 64) << 16));
	case 4:
		return (u32)(LAYOUT_PCI_MMIO64_BASE >> 32) + below(g, 3) - 1;
	case 5:
		return PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | (below(g, 2) ? PCI_COMMAND_INTX_DISABLE : 0);
	case 6:
		return (u32)(PCI_MSI_FLAGS_ENABLE | below(g, 8) << 4) << (below(g, 2) * 16);
	case 7:
		return (u32)(PCI_MSIX_FLAGS_ENABLE | (below(g, 2) ? PCI_MSIX_FLAGS_MASKALL : 0)) << 16;
	default:
		return (u32)next(g);
	}
}

static unsigned int garbage_size(struct gg *g, bool wide)
{
	static const unsigned int common[] = { 1, 2, 4, 4, 8 };

	if (chance(g, 16))
		return below(g, 10); /* 0..9: impossible sizes too */
	return common[below(g, wide ? 5 : 4)];
}

static bool op_config(struct gg *g, bool wr)
{
	u64 target = SLOT1, addr;
	u32 reg = chance(g, 3) ? below(g, 4096) : hot_regs[below(g, ARRAY_SIZE(hot_regs))] + below(g, 4) * chance(g, 4);
	unsigned int size = garbage_size(g, false);
	u64 v;
	int ret;

	if (chance(g, 8)) /* another bus, device or function (or past the ECAM) */
		target = (u64)below(g, 0x11000000u) & ~0xfffull;
	addr = LAYOUT_ECAM_BASE + target + reg;
	if (wr)
		return mmio_w(g, addr, size, garbage_value(g), NULL);
	if (!mmio_r(g, addr, size, &v, &ret))
		return false;
	if (ret == 0 && target != SLOT1 && target < LAYOUT_ECAM_SIZE)
		REQUIRE(v == (size >= 8 ? ~0ull : (1ull << (8 * size)) - 1),
			"config read of absent function at ECAM+0x%llx: 0x%llx, not all-ones", (unsigned long long)(target + reg),
			(unsigned long long)v);
	return true;
}

/* Update the guest's view of the MSI-X table after a write the bus accepted. */
static void msix_shadow(struct gg *g, u64 off, unsigned int size, u64 v)
{
	if ((size != 4 && size != 8) || (off & 3) || off + size > GG_MSIX_VECS * PCI_MSIX_ENTRY_SIZE)
		return;
	for (unsigned int i = 0; i < size / 4; i++) {
		u64 w = off + 4 * i;
		u32 x = (u32)(v >> (32 * i));

		if (w % 16 == PCI_MSIX_ENTRY_VECTOR_CTRL)
			x &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
		g->msix[w / 16][(w % 16) / 4] = x;
	}
}

static bool op_bar(struct gg *g, bool wr)
{
	unsigned int i = below(g, 2) * 2, size = garbage_size(g, true);
	u64 base = bar_addr(g, i), off, addr, v;
	int ret;

	switch (below(g, 5)) {
	case 0:
		off = below(g, 0x90);              /* MSI-X table and just past it */
		break;
	case 1:
		off = PBA_OFF - 8 + below(g, 24);  /* around the PBA */
		break;
	case 2:
		off = bar_size(i) - 8 + below(g, 16); /* across the end */
		break;
	default:
		off = below(g, (u32)bar_size(i));
	}
	addr = chance(g, 10) ? (below(g, 2) ? LAYOUT_PCI_MMIO32_BASE : LAYOUT_PCI_MMIO64_BASE) + below(g, 1u << 26) :
			       base + off;
	if (!wr)
		return mmio_r(g, addr, size, &v, &ret);
	v = next(g);
	if (i == 2 && off < 0x90 && chance(g, 2)) {
		/* Plausible entry contents, so vectors really route. */
		switch (off % 16) {
		case PCI_MSIX_ENTRY_LOWER_ADDR:
			v = (u32)DOORBELL | (u64)(DOORBELL >> 32) << 32;
			break;
		case PCI_MSIX_ENTRY_DATA:
			v = (v & 0xffff) | (u64)below(g, 2) << 32;
			break;
		default:
			v = below(g, 2);
		}
	}
	return mmio_w(g, addr, size, v, &ret);
}

static bool op_bar_move(struct gg *g)
{
	u32 v = garbage_value(g);

	if (chance(g, 2))
		return cfg_w(g, PCI_BASE_ADDRESS_0, 4, chance(g, 3) ? v : (u32)(LAYOUT_PCI_MMIO32_BASE + ((u64)below(g, 8) << 20)));
	if (chance(g, 4)) /* onto BAR0 */
		return cfg_w(g, PCI_BASE_ADDRESS_3, 4, 0) && cfg_w(g, PCI_BASE_ADDRESS_2, 4, (u32)bar_addr(g, 0));
	if (chance(g, 3)) /* half a 64-bit update */
		return cfg_w(g, PCI_BASE_ADDRESS_2 + 4 * below(g, 2), 4, v);
	return cfg_w(g, PCI_BASE_ADDRESS_3, 4, (u32)(LAYOUT_PCI_MMIO64_BASE >> 32)) &&
	       cfg_w(g, PCI_BASE_ADDRESS_2, 4, (u32)(LAYOUT_PCI_MMIO64_BASE + ((u64)below(g, 16) << 16)));
}

static bool op_command(struct gg *g)
{
	u32 cmd = below(g, 4) ? (u32)(below(g, 8) & 7) | (below(g, 2) ? PCI_COMMAND_INTX_DISABLE : 0) : (u32)next(g);

	return cfg_w(g, PCI_COMMAND, below(g, 3) ? 2 : 4, chance(g, 4) ? cmd | PCI_COMMAND_MEMORY : cmd);
}

static bool op_msi_storm(struct gg *g)
{
	for (unsigned int n = 1 + below(g, 8); n--;) {
		switch (below(g, 5)) {
		case 0:
			if (!cfg_w(g, MSI_CAP + PCI_MSI_ADDRESS_LO, 4, chance(g, 4) ? (u32)next(g) : (u32)DOORBELL))
				return false;
			break;
		case 1:
			if (!cfg_w(g, MSI_CAP + PCI_MSI_DATA_64, 2, below(g, 0x10000)))
				return false;
			break;
		case 2:
			if (!cfg_w(g, MSI_CAP + PCI_MSI_MASK_64, 4, chance(g, 4) ? (u32)next(g) : below(g, 16)))
				return false;
			break;
		default:
			if (!cfg_w(g, MSI_CAP + PCI_MSI_FLAGS, 2, (below(g, 2) ? PCI_MSI_FLAGS_ENABLE : 0) | below(g, 8) << 4))
				return false;
		}
	}
	return true;
}

static bool op_msix_storm(struct gg *g)
{
	u64 base = bar_addr(g, 2);

	for (unsigned int n = 1 + below(g, 8); n--;) {
		if (below(g, 2)) {
			if (!cfg_w(g, MSIX_CAP + PCI_MSIX_FLAGS, 2,
				   (below(g, 3) ? PCI_MSIX_FLAGS_ENABLE : 0) | (below(g, 2) ? PCI_MSIX_FLAGS_MASKALL : 0)))
				return false;
		} else {
			unsigned int e = below(g, GG_MSIX_VECS);

			if (!mmio_w(g, base + 16 * e + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, below(g, 2), NULL))
				return false;
		}
	}
	return true;
}

/* The device raises one of its interrupts. */
static void op_kick(struct gg *g)
{
	int fd = g->fv.trigger_fd[irq_index(g)][below(g, GG_MSIX_VECS)];
	u64 one = 1;

	if (fd >= 0 && write(fd, &one, 8) == 8)
		set_kicked(g, fd, true);
}

/* ---- UART operations ---- */

static u64 uart_reg(unsigned int r)
{
	return LAYOUT_UART_BASE + r;
}

/* The guest's view after a register write the UART took (dlab, loop: LCR/MCR before it). */
static bool uart_seen_write(struct gg *g, unsigned int r, u8 v, bool dlab, bool loop)
{
	switch (r) {
	case UART_THR:
		if (dlab) {
			g->us.dll = v;
		} else if (!loop) {
			if (g->tx_written < GG_TX_LOG)
				g->tx_log[g->tx_written] = v;
			g->tx_written++;
		}
		break;
	case UART_IER:
		if (dlab)
			g->us.dlm = v;
		else
			g->us.ier = v & 0x0f;
		break;
	case UART_FCR:
		g->us.fifo = v & UART_FCR_ENABLE;
		break;
	case UART_LCR:
		g->us.lcr = v;
		break;
	case UART_MCR:
		g->us.mcr = v & 0x1f;
		break;
	case UART_SCR:
		g->us.scr = v;
		break;
	}
	return true;
}

/* A register read (dlab: LCR.DLAB, line: the interrupt line, both before it): registers that hold what the
 * guest wrote must read it back, IIR must match the line and IER. */
static bool uart_seen_read(struct gg *g, unsigned int r, u8 v, bool dlab, bool line)
{
	switch (r) {
	case UART_RBR:
		if (dlab) {
			REQUIRE(v == g->us.dll, "DLL reads 0x%llx, guest wrote 0x%x", (unsigned long long)(u64)v, g->us.dll);
		} else if (v) {
			g->in_consumed++;
			if (g->disciplined) {
				REQUIRE(v == g->in_expect, "RBR returned 0x%llx, host input byte 0x%x was next (input lost, "
					"duplicated or reordered)", (unsigned long long)(u64)v, g->in_expect);
				g->in_expect = g->in_expect == 255 ? 1 : g->in_expect + 1;
			}
		}
		break;
	case UART_IER:
		REQUIRE(v == (dlab ? g->us.dlm : g->us.ier), "%s reads 0x%llx, guest wrote 0x%x", dlab ? "DLM" : "IER",
			(unsigned long long)(u64)v, dlab ? g->us.dlm : g->us.ier);
		break;
	case UART_IIR:
		REQUIRE((v & UART_IIR_FIFO) == (g->us.fifo ? UART_IIR_FIFO : 0), "IIR 0x%llx: FIFO bits say %s",
			(unsigned long long)(u64)v, g->us.fifo ? "disabled but FCR enabled them" : "enabled but FCR did not");
		REQUIRE(line == !(v & UART_IIR_NO_INT), "IIR 0x%llx but the interrupt line is %s", (unsigned long long)(u64)v,
			line ? "high" : "low");
		if (!(v & UART_IIR_NO_INT)) {
			u32 id = FIELD_GET(UART_IIR_ID, v);
			u8 need = id == UART_IIR_ID_RLSI ? UART_IER_ELSI :
				  id == UART_IIR_ID_RDI || id == UART_IIR_ID_CTI ? UART_IER_ERBFI :
				  id == UART_IIR_ID_THRI ? UART_IER_ETBEI : UART_IER_EDSSI;

			REQUIRE(id != UART_IIR_ID_CTI || g->us.fifo, "character timeout with the FIFO off");
			REQUIRE(id != UART_IIR_ID_THRI || UART_TX_BUF_SIZE - uart16550_tx_pending(g->uart) >= UART_FIFO_SIZE,
				"IIR says THR empty while %zu bytes are queued (LSR.THRE reads 0)", uart16550_tx_pending(g->uart));
			REQUIRE(g->us.ier & need, "IIR reports source %u that IER 0x%x does not enable", id, g->us.ier);
		}
		break;
	case UART_LCR:
		REQUIRE(v == g->us.lcr, "LCR reads 0x%llx, guest wrote 0x%x", (unsigned long long)(u64)v, g->us.lcr);
		break;
	case UART_MCR:
		REQUIRE(v == g->us.mcr, "MCR reads 0x%llx, guest wrote 0x%x", (unsigned long long)(u64)v, g->us.mcr);
		break;
	case UART_LSR: {
		size_t pend = uart16550_tx_pending(g->uart);

		REQUIRE(!!(v & UART_LSR_THRE) == (UART_TX_BUF_SIZE - pend >= UART_FIFO_SIZE),
			"LSR 0x%llx with %zu bytes queued for the console", (unsigned long long)(u64)v, pend);
		REQUIRE(!!(v & UART_LSR_TEMT) == (pend == 0), "LSR 0x%llx with %zu bytes queued", (unsigned long long)(u64)v,
			pend);
		REQUIRE(!(v & (UART_LSR_PE | UART_LSR_FE | UART_LSR_BI | UART_LSR_FIFOE)),
			"LSR 0x%llx: parity/framing/break errors on a virtual line", (unsigned long long)(u64)v);
		break;
	}
	case UART_MSR: {
		u8 lines = 0xb0; /* CTS, DSR, DCD of a connected line */

		if (g->us.mcr & UART_MCR_LOOP)
			lines = (u8)((g->us.mcr & UART_MCR_RTS ? UART_MSR_CTS : 0) | (g->us.mcr & UART_MCR_DTR ? UART_MSR_DSR : 0) |
				     (g->us.mcr & UART_MCR_OUT1 ? UART_MSR_RI : 0) | (g->us.mcr & UART_MCR_OUT2 ? UART_MSR_DCD : 0));
		REQUIRE((v & 0xf0) == lines, "MSR 0x%llx, modem lines should be 0x%x (MCR 0x%x)", (unsigned long long)(u64)v,
			lines, g->us.mcr);
		break;
	}
	case UART_SCR:
		REQUIRE(v == g->us.scr, "SCR reads 0x%llx, guest wrote 0x%x", (unsigned long long)(u64)v, g->us.scr);
		break;
	}
	return true;
}

static bool uart_write(struct gg *g, unsigned int r, u8 v)
{
	int ret;

	if (!mmio_w(g, uart_reg(r), 1, v, &ret))
		return false;
	REQUIRE(ret == 0, "UART register %u write refused (%d)", r, ret);
	return true;
}

static bool uart_read(struct gg *g, unsigned int r, u8 *out)
{
	u64 v;
	int ret;

	if (!mmio_r(g, uart_reg(r), 1, &v, &ret))
		return false;
	REQUIRE(ret == 0, "UART register %u read refused (%d)", r, ret);
	*out = (u8)v;
	return true;
}

static void host_push(struct gg *g, unsigned int n)
{
	u8 buf[256] = { 0 };
	size_t got;

	n = n > sizeof(buf) ? sizeof(buf) : n;
	for (unsigned int i = 0; i < n; i++) {
		buf[i] = g->in_next;
		g->in_next = g->in_next == 255 ? 1 : g->in_next + 1;
	}
	got = uart16550_rx_push(g->uart, buf, n);
	g->in_accepted += got;
	if (got < n) {
		g->in_short = true;
		/* The host keeps what did not fit and offers it again later: rewind the generator. */
		for (size_t i = got; i < n; i++)
			g->in_next = g->in_next == 1 ? 255 : g->in_next - 1;
	}
}

/* The event loop: read the console, flush what the UART holds. Checks the bytes are the guest's, in order. */
static bool host_console(struct gg *g)
{
	u8 buf[4096];
	ssize_t n;
	u64 cnt;

	while ((n = read(g->out_r, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++, g->tx_out++) {
			if (uart16550_tx_dropped(g->uart) != g->tx_dropped0 || g->tx_out >= GG_TX_LOG)
				continue; /* once bytes were dropped only the counts are checked */
			REQUIRE(buf[i] == g->tx_log[g->tx_out], "console byte %lu is 0x%x, the guest wrote 0x%x", g->tx_out,
				buf[i], g->tx_log[g->tx_out]);
		}
	}
	(void)!read(uart16550_tx_fd(g->uart), &cnt, 8);
	(void)uart16550_tx_flush(g->uart);
	return true;
}

static bool op_uart(struct gg *g)
{
	unsigned int r = below(g, 8);
	u8 v = (u8)next(g), x;

	switch (below(g, 12)) {
	case 0: /* any offset (past the region too), any size; a disciplined guest keeps off the registers */
		return mmio_w(g, LAYOUT_UART_BASE + (g->disciplined ? 8 : 0) + below(g, 0x1010), garbage_size(g, true), v, NULL);
	case 1: {
		u64 rv;

		return mmio_r(g, LAYOUT_UART_BASE + (g->disciplined ? 8 : 0) + below(g, 0x1010), garbage_size(g, true), &rv,
			      NULL);
	}
	case 2:
	case 3:
		host_push(g, 1 + below(g, chance(g, 4) ? 256 : 24));
		return true;
	case 4: /* a burst of output, as a driver does when THRE says there is room */
		for (unsigned int n = below(g, 600); n--;)
			if (!uart_write(g, UART_THR, (u8)next(g)))
				return false;
		return true;
	case 5: /* the event loop gets round to the console now and then: output backs up in between */
		return chance(g, 6) ? host_console(g) : true;
	case 7: /* a driver's receive loop */
		for (unsigned int n = below(g, 40); n--;) {
			u8 lsr;

			if (!uart_read(g, UART_LSR, &lsr))
				return false;
			if (!(lsr & UART_LSR_DR))
				break;
			if (!uart_read(g, UART_RBR, &x))
				return false;
		}
		return true;
	case 6:
		if (!g->disciplined && chance(g, 8)) {
			uart16550_device(g->uart)->ops->reset(uart16550_device(g->uart));
			memset(&g->us, 0, sizeof(g->us));
			return true;
		}
		return uart_read(g, r, &x);
	default:
		break;
	}
	if (below(g, 2))
		return uart_read(g, r, &x);
	if (g->disciplined) {
		if (r == UART_FCR) /* FIFO on from the start and never reset: no input may be discarded */
			v = (u8)((v & UART_FCR_TRIGGER) | UART_FCR_ENABLE);
		if (r == UART_MCR)
			v &= (u8)~UART_MCR_LOOP;
	} else if (r == UART_MCR && chance(g, 2)) {
		v = (u8)(UART_MCR_RTS | (v & ~UART_MCR_LOOP)); /* mostly a driver's value: input flows */
	}
	if (r == UART_LCR && chance(g, 2))
		v &= (u8)~UART_LCR_DLAB;
	return uart_write(g, r, v);
}

/* ---- failures the host may throw at an operation ---- */

static void arm_fault(struct gg *g)
{
	switch (below(g, 10)) {
	case 0:
		g->fh.fail_mem_map = -ENOMEM;
		break;
	case 1:
		g->fh.fail_irqfd_msi = -ENOSPC;
		break;
	case 2:
		g->fh.fail_irqfd_spi = -ENOSPC;
		break;
	case 3:
		g->fv.fail_pread = -EIO;
		break;
	case 4:
		g->fv.fail_pwrite = -EIO;
		break;
	default:
		break;
	}
}

static void clear_faults(struct gg *g)
{
	g->fh.fail_mem_map = g->fh.fail_irqfd_msi = g->fh.fail_irqfd_spi = 0;
	g->fv.fail_pread = g->fv.fail_pwrite = 0;
}

static bool op(struct gg *g)
{
	bool ok;
	u64 v;

	if (g->faults && chance(g, 4))
		arm_fault(g);
	switch (below(g, 16)) {
	case 0:
	case 1:
		ok = op_config(g, true);
		break;
	case 2:
		ok = op_config(g, false);
		break;
	case 3:
	case 4:
		ok = op_bar(g, true);
		break;
	case 5:
		ok = op_bar(g, false);
		break;
	case 6:
		ok = op_bar_move(g);
		break;
	case 7:
		ok = op_command(g);
		break;
	case 8:
		ok = op_msi_storm(g);
		break;
	case 9:
		ok = op_msix_storm(g);
		break;
	case 10:
		op_kick(g);
		ok = true;
		break;
	case 11: { /* anywhere at all (but the UART's registers: a disciplined guest's input must arrive) */
		u64 a = next(g) >> below(g, 64);

		if (a >= LAYOUT_UART_BASE && a < LAYOUT_UART_BASE + 8)
			a += 8;
		ok = chance(g, 2) ? mmio_w(g, a, garbage_size(g, true), next(g), NULL) :
				    mmio_r(g, a, garbage_size(g, true), &v, NULL);
		break;
	}
	default:
		ok = op_uart(g);
		break;
	}
	clear_faults(g);
	hv_deliver(g);
	return ok;
}

bool gg_run(struct gg *g, unsigned long steps, unsigned long check_every)
{
	for (unsigned long i = 0; i < steps && !g->exhausted; i++) {
		g->step++;
		if (!op(g))
			return false;
		if (check_every && g->step % check_every == 0 && !gg_check(g))
			return false;
	}
	return gg_check(g);
}

/* ---- invariants ---- */

static bool check_identity(struct gg *g)
{
	static const u8 want[][2] = { { MSI_CAP, PCI_CAP_ID_MSI }, { PM_CAP, PCI_CAP_ID_PM },
				      { MSIX_CAP, PCI_CAP_ID_MSIX }, { VNDR_CAP, PCI_CAP_ID_VNDR } };
	u32 p = cfg(g, PCI_CAPABILITY_LIST, 1);

	REQUIRE(cfg(g, PCI_VENDOR_ID, 4) == 0x11e81234, "vendor/device ID now 0x%08x", cfg(g, PCI_VENDOR_ID, 4));
	REQUIRE(cfg(g, PCI_CLASS_REVISION, 4) == 0x00ff0010, "class/revision now 0x%08x", cfg(g, PCI_CLASS_REVISION, 4));
	REQUIRE(cfg(g, PCI_HEADER_TYPE, 1) == 0, "header type now 0x%x", cfg(g, PCI_HEADER_TYPE, 1));
	REQUIRE(cfg(g, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, "capability list bit gone");
	for (unsigned int i = 0; i < ARRAY_SIZE(want); i++) {
		REQUIRE(p == want[i][0] && cfg(g, p, 1) == want[i][1], "capability %u at 0x%x id 0x%x, want 0x%x id 0x%x",
			i, p, p ? cfg(g, p, 1) : 0, want[i][0], want[i][1]);
		p = cfg(g, p + PCI_CAP_LIST_NEXT, 1);
	}
	REQUIRE(p == 0, "capability list continues at 0x%x", p);
	REQUIRE(cfg(g, 0x100, 4) == 0, "extended config space visible");
	REQUIRE((cfg(g, MSI_CAP + PCI_MSI_FLAGS, 2) & ~(PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE)) ==
			(PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT | (2 << 1)),
		"MSI flags 0x%x: read-only bits changed", cfg(g, MSI_CAP + PCI_MSI_FLAGS, 2));
	REQUIRE((cfg(g, MSIX_CAP + PCI_MSIX_FLAGS, 2) & ~(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL)) ==
			GG_MSIX_VECS - 1,
		"MSI-X flags 0x%x: read-only bits changed", cfg(g, MSIX_CAP + PCI_MSIX_FLAGS, 2));
	REQUIRE(cfg(g, MSIX_CAP + PCI_MSIX_TABLE, 4) == 2 && cfg(g, MSIX_CAP + PCI_MSIX_PBA, 4) == (PBA_OFF | 2),
		"MSI-X table/PBA registers changed");
	return true;
}

static bool in_window(u64 a, u64 size)
{
	return (a >= LAYOUT_PCI_MMIO32_BASE && a <= LAYOUT_PCI_MMIO32_BASE + LAYOUT_PCI_MMIO32_SIZE - size) ||
	       (a >= LAYOUT_PCI_MMIO64_BASE && a <= LAYOUT_PCI_MMIO64_BASE + LAYOUT_PCI_MMIO64_SIZE - size);
}

/* The memslot pieces of a decoding BAR: everything mmap-able except the MSI-X table and PBA pages. */
struct piece {
	u64 off, len;
};
static const struct piece bar0_pieces[] = { { 0, BAR0_SIZE } };
static const struct piece bar2_pieces[] = { { 0x1000, 0x7000 }, { PBA_OFF + 0x1000, BAR2_SIZE - PBA_OFF - 0x1000 } };

static bool check_bars(struct gg *g, bool complete)
{
	u16 cmd = (u16)cfg(g, PCI_COMMAND, 2);
	bool mem = cmd & PCI_COMMAND_MEMORY, want[2];
	u64 a[2] = { bar_addr(g, 0), bar_addr(g, 2) };
	const struct mmio_region *reg[2] = { bar_region(g, 0), bar_region(g, 2) };
	unsigned int nmaps = 0, npieces = 0;
	u64 prev_last = 0;
	bool first = true;

	REQUIRE(!(cmd & ~(CMD_BITS | PCI_COMMAND_PARITY | PCI_COMMAND_SERR)), "command 0x%x: bits that are not writable",
		cmd);
	if (complete)
		REQUIRE(!((real_cfg(g, PCI_COMMAND, 2) ^ cmd) & CMD_BITS), "command: guest 0x%x, device 0x%x", cmd,
			real_cfg(g, PCI_COMMAND, 2));
	REQUIRE((cfg(g, PCI_BASE_ADDRESS_0, 4) & 0xf) == 0 && !(a[0] & (BAR0_SIZE - 1)), "BAR0 reads 0x%x",
		cfg(g, PCI_BASE_ADDRESS_0, 4));
	REQUIRE((cfg(g, PCI_BASE_ADDRESS_2, 4) & 0xf) == 0xc && !(a[1] & (BAR2_SIZE - 1)), "BAR2 reads 0x%x",
		cfg(g, PCI_BASE_ADDRESS_2, 4));
	REQUIRE(!cfg(g, PCI_BASE_ADDRESS_1, 4) && !cfg(g, PCI_BASE_ADDRESS_4, 4) && !cfg(g, PCI_BASE_ADDRESS_5, 4) &&
			!cfg(g, PCI_ROM_ADDRESS, 4),
		"a hidden BAR reads non-zero");

	/* The bus: sorted, disjoint, only known regions, and every BAR the model says decodes. */
	bool on_bus[2] = { false, false };

	for (const struct mmio_region *r = g->bus.regions; r; r = r->next) {
		REQUIRE(first || r->base > prev_last, "bus regions out of order or overlapping at %s", r->name);
		first = false;
		prev_last = r->base + (r->len - 1);
		REQUIRE(r == uart16550_region(g->uart) || r == &g->host.ecam || r == reg[0] || r == reg[1],
			"unknown region %s on the bus", r->name ? r->name : "?");
		on_bus[0] |= r == reg[0];
		on_bus[1] |= r == reg[1];
	}
	REQUIRE((!reg[0] || on_bus[0]) && (!reg[1] || on_bus[1]), "BAR%d decodes per the model but is not on the bus",
		reg[0] && !on_bus[0] ? 0 : 2);
	for (unsigned int b = 0; b < 2; b++) {
		unsigned int i = b * 2;

		want[b] = mem && in_window(a[b], bar_size(i));
		if (reg[b])
			REQUIRE(want[b] && reg[b]->base == a[b] && reg[b]->len == bar_size(i),
				"BAR%u trapped at 0x%llx (0x%llx bytes) but config says 0x%llx, memory %s", i,
				(unsigned long long)reg[b]->base, (unsigned long long)reg[b]->len, (unsigned long long)a[b],
				mem ? "on" : "off");
	}
	if (complete) {
		for (unsigned int b = 0; b < 2; b++) {
			const struct mmio_region *o = reg[!b];
			bool clash = o && a[b] < o->base + o->len && o->base < a[b] + bar_size(b * 2);

			REQUIRE(!want[b] || reg[b] || clash, "BAR%u decodes at 0x%llx per config, clashes with nothing, but is "
				"not on the bus", b * 2, (unsigned long long)a[b]);
		}
	}

	/* Memslots: each one a piece of a decoding BAR, at the right host memory. */
	for (unsigned int m = 0; m < FAKE_HV_MAX_MAPS; m++) {
		const struct fake_hv_map *map = &g->fh.maps[m];
		bool found = false;

		if (!map->used)
			continue;
		nmaps++;
		for (unsigned int b = 0; b < 2 && !found; b++) {
			const struct piece *ps = b ? bar2_pieces : bar0_pieces;
			unsigned int np = b ? ARRAY_SIZE(bar2_pieces) : ARRAY_SIZE(bar0_pieces);
			u8 *data = g->fv.regions[b ? VFIO_PCI_BAR2_REGION_INDEX : VFIO_PCI_BAR0_REGION_INDEX].data;

			for (unsigned int p = 0; p < np && reg[b]; p++)
				found |= map->gpa == a[b] + ps[p].off && map->size == ps[p].len && map->host == data + ps[p].off &&
					 !map->readonly;
		}
		REQUIRE(found, "memslot at 0x%llx (0x%llx bytes) is no piece of a decoding BAR (BAR0 %s 0x%llx, BAR2 %s "
			"0x%llx)", (unsigned long long)map->gpa, (unsigned long long)map->size, reg[0] ? "at" : "not at",
			(unsigned long long)a[0], reg[1] ? "at" : "not at", (unsigned long long)a[1]);
	}
	for (unsigned int b = 0; b < 2; b++)
		if (reg[b])
			npieces += b ? ARRAY_SIZE(bar2_pieces) : ARRAY_SIZE(bar0_pieces);
	if (complete) {
		REQUIRE(nmaps == npieces, "%u memslots for %u pieces of decoding BARs", nmaps, npieces);
		REQUIRE(!nmaps || (real_cfg(g, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY), "memslots live, device decode off");
	}
	return true;
}

static bool check_irqs(struct gg *g, bool complete)
{
	int idx = irq_index(g);
	u16 mf = (u16)cfg(g, MSI_CAP + PCI_MSI_FLAGS, 2);
	bool maskall = cfg(g, MSIX_CAP + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_MASKALL;
	unsigned int n = idx == VFIO_PCI_MSIX_IRQ_INDEX ? GG_MSIX_VECS :
			 idx == VFIO_PCI_MSI_IRQ_INDEX ? MIN(1u << FIELD_GET(PCI_MSI_FLAGS_QSIZE, mf), (unsigned int)MSI_VECS) :
							 1;
	u32 msi_mask = cfg(g, MSI_CAP + PCI_MSI_MASK_64, 4);
	u64 msi_addr = cfg(g, MSI_CAP + PCI_MSI_ADDRESS_LO, 4) | (u64)cfg(g, MSI_CAP + PCI_MSI_ADDRESS_HI, 4) << 32;
	u32 msi_data = cfg(g, MSI_CAP + PCI_MSI_DATA_64, 2), pend = 0;
	unsigned int want_routes = 0, routes = 0;
	bool masked[GG_MSIX_VECS] = { false }, routed[GG_MSIX_VECS] = { false };

	REQUIRE(!(msi_mask & ~((1u << MSI_VECS) - 1)), "MSI mask 0x%x has bits beyond the %u vectors", msi_mask, MSI_VECS);
	REQUIRE(!(msi_addr & 3), "MSI address 0x%llx not dword aligned", (unsigned long long)msi_addr);
	if (complete) {
		for (int i = 0; i < FAKE_VFIO_NR_IRQS; i++)
			REQUIRE(g->fv.enabled[i] == (i == idx), "VFIO irq index %d %s, guest mode index %d", i,
				g->fv.enabled[i] ? "enabled" : "disabled", idx);
	}
	for (unsigned int i = 0; i < FAKE_VFIO_MAX_VECTORS; i++) {
		int fd = g->fv.enabled[idx] ? g->fv.trigger_fd[idx][i] : -1;

		if (complete)
			REQUIRE((fd >= 0) == (i < n), "VFIO index %d vector %u eventfd %d with %u vectors", idx, i, fd, n);
		if (i < n && i < GG_MSIX_VECS) {
			masked[i] = idx == VFIO_PCI_MSIX_IRQ_INDEX ? (maskall || (g->msix[i][3] & 1)) :
				    idx == VFIO_PCI_MSI_IRQ_INDEX ? !!(msi_mask & BIT(i)) : false;
			want_routes += !masked[i];
		}
	}
	for (unsigned int r = 0; r < FAKE_HV_MAX_IRQFDS; r++) {
		const struct fake_hv_irqfd *q = &g->fh.irqfds[r];
		unsigned int i;

		if (!q->used)
			continue;
		routes++;
		for (i = 0; i < n; i++)
			if (g->fv.enabled[idx] && g->fv.trigger_fd[idx][i] == q->eventfd)
				break;
		REQUIRE(i < n, "irqfd route %u (eventfd %d) belongs to no vector VFIO has in mode index %d", r, q->eventfd, idx);
		REQUIRE(!masked[i], "masked vector %u still routed", i);
		REQUIRE(!routed[i], "vector %u routed twice", i);
		routed[i] = true;
		REQUIRE(q->msi == (idx != VFIO_PCI_INTX_IRQ_INDEX), "route kind wrong for mode index %d", idx);
		if (idx == VFIO_PCI_MSIX_IRQ_INDEX) {
			u64 ea = (u64)g->msix[i][1] << 32 | g->msix[i][0];

			REQUIRE(q->addr == ea && q->data == g->msix[i][2] && q->devid == 0x08,
				"MSI-X vector %u routed to 0x%llx/0x%x devid 0x%x, table says 0x%llx/0x%x", i,
				(unsigned long long)q->addr, q->data, q->devid, (unsigned long long)ea, g->msix[i][2]);
		} else if (idx == VFIO_PCI_MSI_IRQ_INDEX) {
			u32 ed = (msi_data & ~(n - 1)) | i;

			REQUIRE(q->addr == msi_addr && q->data == ed && q->devid == 0x08,
				"MSI vector %u routed to 0x%llx/0x%x devid 0x%x, capability says 0x%llx/0x%x", i,
				(unsigned long long)q->addr, q->data, q->devid, (unsigned long long)msi_addr, ed);
		} else {
			REQUIRE(q->spi == SPI_INTA_SLOT1 && q->resamplefd >= 0 &&
					q->resamplefd == g->fv.unmask_fd[VFIO_PCI_INTX_IRQ_INDEX][0],
				"INTx routed to SPI %u resample %d", q->spi, q->resamplefd);
		}
	}
	if (complete)
		REQUIRE(routes == want_routes, "%u irqfd routes for %u enabled, unmasked vectors (mode index %d)", routes,
			want_routes, idx);
	/* Pending: an event waits in the eventfd of a vector without a route (masked, or the hv refused it). */
	for (unsigned int i = 0; idx == VFIO_PCI_MSI_IRQ_INDEX && i < n; i++)
		if (!routed[i] && g->fv.enabled[idx] && efd_readable(g, g->fv.trigger_fd[idx][i]))
			pend |= BIT(i);
	REQUIRE(cfg(g, MSI_CAP + PCI_MSI_PENDING_64, 4) == pend, "MSI pending 0x%x, masked vectors with an event 0x%x",
		cfg(g, MSI_CAP + PCI_MSI_PENDING_64, 4), pend);

	/* The table and PBA as the guest reads them, when BAR2 decodes. */
	const struct mmio_region *r2 = bar_region(g, 2);

	if (r2) {
		u64 v, ppend = 0;

		for (unsigned int i = 0; i < GG_MSIX_VECS; i++) {
			/* Two 8-byte reads per entry (a driver may read either way; both are the same words). */
			for (unsigned int w = 0; w < 4; w += 2) {
				if (!mmio_r(g, r2->base + 16 * i + 4 * w, 8, &v, NULL))
					return false;
				REQUIRE((u32)v == g->msix[i][w] && (u32)(v >> 32) == g->msix[i][w + 1],
					"MSI-X entry %u words %u-%u read 0x%llx, guest wrote 0x%x 0x%x", i, w, w + 1,
					(unsigned long long)v, g->msix[i][w], g->msix[i][w + 1]);
			}
			if (idx == VFIO_PCI_MSIX_IRQ_INDEX && g->fv.enabled[idx] && !routed[i] &&
			    efd_readable(g, g->fv.trigger_fd[idx][i]))
				ppend |= BIT(i);
		}
		if (!mmio_r(g, r2->base + PBA_OFF, 8, &v, NULL))
			return false;
		REQUIRE(v == ppend, "PBA reads 0x%llx, masked vectors with an event 0x%llx", (unsigned long long)v,
			(unsigned long long)ppend);
	}
	return true;
}

/* Probe like a driver's interrupt handler: LSR then IIR must agree about received data. */
static bool check_uart(struct gg *g)
{
	u8 lsr, iir;

	if (g->us.lcr & UART_LCR_DLAB)
		return true;
	if (!uart_read(g, UART_LSR, &lsr) || !uart_read(g, UART_IIR, &iir))
		return false;
	if (!(iir & UART_IIR_NO_INT)) {
		u32 id = FIELD_GET(UART_IIR_ID, iir);
		bool rx = id == UART_IIR_ID_RDI || id == UART_IIR_ID_CTI;

		REQUIRE(id != UART_IIR_ID_RLSI, "IIR says line status right after LSR was read");
		REQUIRE(rx == ((g->us.ier & UART_IER_ERBFI) && (lsr & UART_LSR_DR)),
			"IIR 0x%x but LSR 0x%x (DR) with IER 0x%x", iir, lsr, g->us.ier);
	} else {
		REQUIRE(!((g->us.ier & UART_IER_ERBFI) && (lsr & UART_LSR_DR)), "data ready (LSR 0x%x), ERBFI on, IIR 0x%x", lsr,
			iir);
	}
	if (g->disciplined) {
		size_t room = uart16550_rx_room(g->uart);
		long held = (long)(g->in_accepted - g->in_consumed) - (long)(UART_HOST_BUF_SIZE - room);

		REQUIRE(held >= 0 && held <= UART_FIFO_SIZE,
			"%lu bytes accepted, %lu read, %zu bytes of host buffer free: %ld would be in the 16-byte FIFO",
			g->in_accepted, g->in_consumed, room, held);
		REQUIRE(!!(lsr & UART_LSR_DR) == (held > 0), "LSR.DR %d with %ld bytes in the FIFO", !!(lsr & UART_LSR_DR),
			held);
	}
	int in_pipe = 0;

	REQUIRE(ioctl(g->out_r, FIONREAD, &in_pipe) == 0, "FIONREAD on the console pipe: %s", strerror(errno));
	unsigned long dropped = uart16550_tx_dropped(g->uart) - g->tx_dropped0;

	REQUIRE(g->tx_out + (unsigned long)in_pipe + uart16550_tx_pending(g->uart) + dropped == g->tx_written,
		"console output: %lu written by the guest, %lu read from the console, %d in it, %zu queued, %lu dropped",
		g->tx_written, g->tx_out, in_pipe, uart16550_tx_pending(g->uart), dropped);
	return true;
}

bool gg_check(struct gg *g)
{
	return check_identity(g) && check_bars(g, !g->faults) && check_irqs(g, !g->faults) && check_uart(g);
}

bool gg_recover(struct gg *g)
{
	u16 cmd = (u16)cfg(g, PCI_COMMAND, 2);

	clear_faults(g);
	/* Decode flipped and back: the device's command register and every memslot are redone. */
	if (!cfg_w(g, PCI_COMMAND, 2, cmd ^ PCI_COMMAND_MEMORY) || !cfg_w(g, PCI_COMMAND, 2, cmd) ||
	    !cfg_w(g, MSI_CAP + PCI_MSI_FLAGS, 2, cfg(g, MSI_CAP + PCI_MSI_FLAGS, 2)) ||
	    !cfg_w(g, MSIX_CAP + PCI_MSIX_FLAGS, 2, cfg(g, MSIX_CAP + PCI_MSIX_FLAGS, 2)))
		return false;
	hv_deliver(g);
	return check_identity(g) && check_bars(g, true) && check_irqs(g, true) && check_uart(g);
}

bool gg_drain_uart(struct gg *g)
{
	u8 lsr, c;
	u64 cnt;

	if (!uart_write(g, UART_LCR, 0x03) || !uart_write(g, UART_MCR, UART_MCR_RTS | UART_MCR_DTR))
		return false;
	for (unsigned int guard = 0; guard < 4 * UART_HOST_BUF_SIZE; guard++) {
		if (!uart_read(g, UART_LSR, &lsr))
			return false;
		if (!(lsr & UART_LSR_DR))
			break;
		if (!uart_read(g, UART_RBR, &c))
			return false;
		REQUIRE(c != 0 || !g->disciplined, "LSR.DR set but RBR read 0 (no loopback byte can be there)");
	}
	REQUIRE(uart16550_rx_room(g->uart) == UART_HOST_BUF_SIZE, "host input left behind: %zu bytes of buffer free",
		uart16550_rx_room(g->uart));
	if (g->disciplined)
		REQUIRE(g->in_consumed == g->in_accepted, "host input: %lu bytes accepted, %lu reached the guest",
			g->in_accepted, g->in_consumed);
	if (g->in_short)
		REQUIRE(read(uart16550_wake_fd(g->uart), &cnt, 8) == 8, "a push came back short, the guest drained "
			"everything, and the wake fd never fired");
	for (unsigned int i = 0; i < 64 && uart16550_tx_pending(g->uart); i++)
		if (!host_console(g))
			return false;
	if (!host_console(g))
		return false;
	REQUIRE(uart16550_tx_pending(g->uart) == 0, "console output stuck: %zu bytes", uart16550_tx_pending(g->uart));
	return check_uart(g);
}

static u32 built32(const struct gg *g, u32 off)
{
	u32 v;

	memcpy(&v, &g->built.cfg[off], 4);
	return v;
}

static void reset_cfg(struct gg *g, u32 off, unsigned int size, u32 v)
{
	pci_host_ecam_write(&g->host, SLOT1 + off, v, size);
}

/* Empty an eventfd the device may have written (its count would otherwise reach the next run). */
static void efd_drain(struct gg *g, int fd)
{
	u64 cnt;

	if (fd >= 0 && kicked(g, fd))
		(void)!read(fd, &cnt, 8);
}

bool gg_reset(struct gg *g)
{
	struct fake_vfio_region *c = &g->fv.regions[VFIO_PCI_CONFIG_REGION_INDEX];
	u64 bar2 = (built32(g, PCI_BASE_ADDRESS_2) & ~0xfull) | (u64)built32(g, PCI_BASE_ADDRESS_3) << 32;
	unsigned int irqfds = 0, irqfds_msi = 0;
	int fds;
	u64 cnt;
	u8 buf[256];

	clear_faults(g);
	REQUIRE(uart16550_rx_room(g->uart) == UART_HOST_BUF_SIZE && !uart16550_tx_pending(g->uart),
		"reset with the UART not drained (%zu bytes of input, %zu of output left)",
		UART_HOST_BUF_SIZE - uart16550_rx_room(g->uart), uart16550_tx_pending(g->uart));

	/* The device as a driver's remove would leave it: MSI and MSI-X off (their eventfds and routes go), the
	 * MSI-X table entries the guest changed back to masked zeros (with decode on at the built BAR2 address,
	 * as a driver must; the guest's view of the table, g->msix, was checked against the model at the end of
	 * the run), the device's own config space as its reset leaves it, then every register that does not
	 * read as built written back to its built value, decode and BARs included. Straight to the bridge and
	 * the bus: these accesses are the rig's, not the run's. */
	if (cfg(g, MSIX_CAP, 4) != built32(g, MSIX_CAP))
		reset_cfg(g, MSIX_CAP + PCI_MSIX_FLAGS, 2, built32(g, MSIX_CAP) >> 16);
	if (cfg(g, MSI_CAP, 4) != built32(g, MSI_CAP))
		reset_cfg(g, MSI_CAP + PCI_MSI_FLAGS, 2, built32(g, MSI_CAP) >> 16);
	for (unsigned int i = 0; i < GG_MSIX_VECS; i++) {
		static const u32 clean[4] = { 0, 0, 0, PCI_MSIX_ENTRY_CTRL_MASKBIT };
		const struct mmio_region *r2;

		if (!memcmp(g->msix[i], clean, sizeof(clean)))
			continue;
		r2 = bar_region(g, 2);
		if (!r2 || r2->base != bar2) {
			reset_cfg(g, PCI_COMMAND, 2, 0);
			reset_cfg(g, PCI_BASE_ADDRESS_0, 4, built32(g, PCI_BASE_ADDRESS_0));
			reset_cfg(g, PCI_BASE_ADDRESS_3, 4, built32(g, PCI_BASE_ADDRESS_3));
			reset_cfg(g, PCI_BASE_ADDRESS_2, 4, built32(g, PCI_BASE_ADDRESS_2));
			reset_cfg(g, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
			r2 = bar_region(g, 2);
			REQUIRE(r2 && r2->base == bar2, "reset: BAR2 does not decode at 0x%llx", (unsigned long long)bar2);
		}
		for (unsigned int w = 0; w < 4; w++) {
			u8 v[4];

			memcpy(v, &clean[w], 4);
			REQUIRE(bus_access(&g->bus, bar2 + PCI_MSIX_ENTRY_SIZE * i + 4 * w, v, 4, true) == 0,
				"reset: MSI-X entry %u refused", i);
		}
	}
	REQUIRE(c->size == g->built.dev_cfg_len, "the device's config region changed size");
	memcpy(c->data, g->built.dev_cfg, c->size);
	/* What may differ: the dwords the run wrote, and those whose value lives in the device or its eventfds
	 * (command/status, MSI pending, PM control, the vendor capability); every GG_FULL_RESET_CHECK-th reset
	 * looks at all of them. */
	u64 look = g->cfg_dirty | 1ULL << (PCI_COMMAND / 4) | 1ULL << ((MSI_CAP + PCI_MSI_PENDING_64) / 4) |
		   1ULL << ((PM_CAP + PCI_PM_CTRL) / 4) | 1ULL << (VNDR_CAP / 4) | 1ULL << (MSI_CAP / 4) |
		   1ULL << (MSIX_CAP / 4);

	if (g->resets++ % GG_FULL_RESET_CHECK == 0)
		look = ~0ULL;
	for (u32 off = 0; off < GG_CFG_SNAP; off += 4) {
		if (!(look >> (off / 4) & 1) || cfg(g, off, 4) == built32(g, off))
			continue;
		reset_cfg(g, off, 4, built32(g, off));
		REQUIRE(cfg(g, off, 4) == built32(g, off), "reset: config 0x%02x reads 0x%08x, 0x%08x after the build", off,
			cfg(g, off, 4), built32(g, off));
	}

	/* What the device's interrupts left in the fakes. */
	for (int i = 0; i < FAKE_VFIO_NR_IRQS; i++) {
		REQUIRE(g->fv.enabled[i] == g->built.vfio_enabled[i] && g->fv.masked[i][0] == g->built.vfio_masked[i],
			"reset: VFIO irq index %d %s%s, after the build %s%s", i, g->fv.enabled[i] ? "enabled" : "disabled",
			g->fv.masked[i][0] ? " (masked)" : "", g->built.vfio_enabled[i] ? "enabled" : "disabled",
			g->built.vfio_masked[i] ? " (masked)" : "");
		for (int v = 0; v < FAKE_VFIO_MAX_VECTORS; v++)
			efd_drain(g, g->fv.trigger_fd[i][v]);
	}
	for (unsigned int i = 0; i < FAKE_HV_MAX_IRQFDS; i++) {
		irqfds += g->fh.irqfds[i].used;
		irqfds_msi += g->fh.irqfds[i].used && g->fh.irqfds[i].msi;
	}
	REQUIRE(irqfds == g->built.irqfds && irqfds_msi == g->built.irqfds_msi,
		"reset: %u irqfd routes (%u MSI), %u (%u) after the build", irqfds, irqfds_msi, g->built.irqfds,
		g->built.irqfds_msi);
	for (unsigned int i = 0; i < FAKE_HV_MAX_MAPS; i++)
		REQUIRE(!g->fh.maps[i].used, "reset: memslot at 0x%llx still mapped with decode off",
			(unsigned long long)g->fh.maps[i].gpa);
	REQUIRE(g->fh.batch_depth == 0, "irqfd batch left open (depth %d)", g->fh.batch_depth);
	memset(g->kicked, 0, sizeof(g->kicked));
	g->nkicked = 0;
	g->cfg_dirty = 0;

	/* The UART at power-on, its wake-ups consumed, nothing in the console (asked in one poll: after the
	 * drain there is normally nothing). */
	uart16550_device(g->uart)->ops->reset(uart16550_device(g->uart));
	struct pollfd left[3] = { { .fd = uart16550_wake_fd(g->uart), .events = POLLIN },
				  { .fd = uart16550_tx_fd(g->uart), .events = POLLIN },
				  { .fd = g->out_r, .events = POLLIN } };

	if (poll(left, 3, 0) > 0) {
		for (unsigned int i = 0; i < 2; i++)
			if (left[i].revents & POLLIN)
				(void)!read(left[i].fd, &cnt, 8);
		while ((left[2].revents & POLLIN) && read(g->out_r, buf, sizeof(buf)) > 0) {
		}
	}
	REQUIRE(!memcmp(g->fh.spi_level, g->built.spi_level, sizeof(g->built.spi_level)),
		"reset: an interrupt line is not at its level after the build");

	/* The fakes' logs start again (they are bounded; nothing reads them across runs). */
	g->fh.ncalls = 0;
	memset(g->fh.spi_raises, 0, sizeof(g->fh.spi_raises));
	g->fv.nr_irq_calls = 0;

	fds = count_fds_fast();
	REQUIRE(fds == g->fds_begin, "%d file descriptors open after the reset, %d when the run began: the run "
		"leaked or closed one", fds, g->fds_begin);
	return true;
}

bool gg_teardown(struct gg *g)
{
	unsigned int maps = 0, routes = 0;
	bool closed;
	int fds;

	vfio_pci_destroy(g->vp);
	g->vp = NULL;
	for (unsigned int i = 0; i < FAKE_HV_MAX_MAPS; i++)
		maps += g->fh.maps[i].used;
	for (unsigned int i = 0; i < FAKE_HV_MAX_IRQFDS; i++)
		routes += g->fh.irqfds[i].used;
	pci_host_destroy(&g->host);
	bus_unregister(&g->bus, uart16550_region(g->uart));
	REQUIRE(g->bus.regions == NULL, "bus region %s left after teardown", g->bus.regions->name);
	bus_destroy(&g->bus);
	uart16550_device(g->uart)->ops->destroy(uart16550_device(g->uart));
	vfio_dev_close(&g->vdev);
	closed = g->fv.closed;
	fake_vfio_release(&g->fv);
	close(g->out_r);
	close(g->out_w);
	free(g->tx_log);
	g->tx_log = NULL;
	free(g->built.dev_cfg);
	g->built.dev_cfg = NULL;
	REQUIRE(maps == 0, "%u memslots left after the device was destroyed", maps);
	REQUIRE(routes == 0, "%u irqfd routes left after the device was destroyed", routes);
	for (int i = 0; i < FAKE_VFIO_NR_IRQS; i++) {
		REQUIRE(!g->fv.enabled[i], "VFIO irq index %d still enabled", i);
		for (int v = 0; v < FAKE_VFIO_MAX_VECTORS; v++)
			REQUIRE(g->fv.trigger_fd[i][v] < 0, "VFIO irq index %d vector %d still has eventfd %d", i, v,
				g->fv.trigger_fd[i][v]);
	}
	REQUIRE(g->fv.live_mmaps == 0, "%d BAR mmaps left", g->fv.live_mmaps);
	REQUIRE(closed, "VFIO device not closed");
	REQUIRE(g->host.windows.mmio32.next == LAYOUT_PCI_MMIO32_BASE &&
			g->host.windows.mmio64.next == LAYOUT_PCI_MMIO64_BASE,
		"BAR space not given back to the bridge windows");
	fds = count_fds();
	REQUIRE(fds == g->fds_before, "%d file descriptors open after teardown, %d before", fds, g->fds_before);
	return true;
}
