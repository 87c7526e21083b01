/* iommufd-chain: lab program (runs in L1 as `/progs/iommufd-chain <bdf>`, edu bound to vfio-pci). Walks the
 * whole nested iommufd chain on edu with ivmm's own layers (iommu/iommufd.h, devices/vfio_dev.h):
 * bind -> GET_HW_INFO -> IOAS -> IOAS_MAP -> nest-parent HWPT -> vIOMMU -> vDEVICE(0x10) -> vEVENTQ(64) ->
 * nested HWPT (vSTE: S1 translate, CD table = a zeroed page) -> attach; then the vEVENTQ must read empty (so
 * what follows is the DMA's doing), an edu DMA faults on the invalid CD and the vEVENTQ must deliver C_BAD_CD
 * for vSID 0x10. HWPT_INVALIDATE batches are checked for
 * the count the kernel consumes. Tears down in order and rebinds.
 * Prints `step NAME ok` per step and `iommufd-chain: PASS` or `iommufd-chain: FAIL <step>: <error>`. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "devices/vfio_dev.h"
#include "iommu/iommufd.h"
#include "iommu/smmuv3_regs.h"
#include "vmm/bits.h"

#define VIRT_SID 0x10
#define VEVENTQ_DEPTH 64
#define PAGE 0x1000UL
#define NR_PAGES 4            /* page 0: CD table (zeroed), pages 1..3: DMA buffer */
/* QEMU's edu clamps DMA addresses to its dma_mask: the lab gives it 40 bits (tests/lab/run.sh, EDU_DMA_MASK
 * there), not the 28 of edu's default. */
#define EDU_DMA_MASK ((1ULL << 40) - 1)

/* edu BAR0 registers (lab-facts.md) */
#define EDU_IDENT 0x00
#define EDU_LIVENESS 0x04
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_DMA_RUN BIT(0)
#define EDU_DMA_BUF 0x40000
#define EDU_IDENT_VALUE 0x010000edU

#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY BIT(1)
#define PCI_COMMAND_MASTER BIT(2)

struct chain {
	const char *bdf;
	struct vfio_dev dev;
	struct iommufd ictx;
	bool dev_open, ictx_open;
	u8 *mem;                    /* NR_PAGES of our own memory */
	u64 iova;                   /* IOVA of mem (page 0 = CD table) */
	bool mapped;
	u32 ioas, s2, viommu, vdev, veventq, nested;
	int evfd;
	volatile u32 *bar0;
	size_t bar0_len;
	const char *step;
	char err[600];
};

static int fail_msg(struct chain *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_msg(struct chain *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

static void ok(struct chain *c, const char *step)
{
	c->step = step;
	printf("step %s ok\n", step);
	fflush(stdout);
}

/* Run one step: on failure, the error text is the layer's last message. */
#define STEP(c, name, expr, errsrc)                                           \
	do {                                                                  \
		(c)->step = (name);                                           \
		if ((expr)) {                                                 \
			snprintf((c)->err, sizeof((c)->err), "%s", (errsrc)); \
			return -1;                                            \
		}                                                             \
		ok((c), (name));                                              \
	} while (0)

static u32 mmio_read(struct chain *c, u32 off)
{
	return c->bar0[off / 4];
}

static void mmio_write(struct chain *c, u32 off, u32 val)
{
	c->bar0[off / 4] = val;
}

/* While we hold the device, a second open + bind must be refused with the "in use" message, and a BDF that
 * does not exist must be named as such: the real kernel's answers behind vfio_dev.c's messages. */
static int check_in_use(struct chain *c)
{
	struct vfio_dev other;
	struct iommufd ictx2;
	int rc;

	c->step = "in-use-refused";
	if (vfio_dev_open(&other, NULL, NULL, c->bdf))
		return fail_msg(c, "second open of the cdev failed (cdevs may be opened twice): %s", other.last_err);
	if (iommufd_open(&ictx2, NULL)) {
		vfio_dev_close(&other);
		return fail_msg(c, "%s", ictx2.last_err);
	}
	rc = vfio_dev_bind(&other, iommufd_fd(&ictx2));
	vfio_dev_close(&other);
	iommufd_close(&ictx2);
	if (!rc)
		return fail_msg(c, "a second bind of a device in use succeeded");
	if (!strstr(other.last_err, "in use"))
		return fail_msg(c, "second bind refused without saying the device is in use: %s", other.last_err);
	printf("  %s\n", other.last_err);
	ok(c, "in-use-refused");

	c->step = "no-such-device";
	rc = vfio_dev_open(&other, NULL, NULL, "0000:00:1f.7");
	if (rc != -ENODEV || !strstr(other.last_err, "no such PCI device")) {
		if (!rc)
			vfio_dev_close(&other);
		return fail_msg(c, "open of 0000:00:1f.7 returned %d: %s", rc, other.last_err);
	}
	ok(c, "no-such-device");
	return 0;
}

static int setup(struct chain *c)
{
	struct iommufd_hw_info hw;
	struct iommu_iova_range *ranges = NULL;
	size_t nr = 0;
	u64 align = 0;
	int rc;

	STEP(c, "open", vfio_dev_open(&c->dev, NULL, NULL, c->bdf), c->dev.last_err);
	c->dev_open = true;
	STEP(c, "iommufd-open", iommufd_open(&c->ictx, NULL), c->ictx.last_err);
	c->ictx_open = true;
	STEP(c, "bind", vfio_dev_bind(&c->dev, iommufd_fd(&c->ictx)), c->dev.last_err);
	printf("  dev_id %u (%s)\n", c->dev.dev_id, c->dev.cdev);
	if (check_in_use(c))
		return -1;

	STEP(c, "hw-info", iommufd_get_hw_info(&c->ictx, c->dev.dev_id, &hw, FAIL_PRINT), c->ictx.last_err);
	printf("  type %u idr0 0x%08x idr1 0x%08x idr3 0x%08x idr5 0x%08x iidr 0x%x aidr 0x%x\n", hw.type,
	       hw.smmu.idr[0], hw.smmu.idr[1], hw.smmu.idr[3], hw.smmu.idr[5], hw.smmu.iidr, hw.smmu.aidr);
	if (hw.type != IOMMU_HW_INFO_TYPE_ARM_SMMUV3)
		return fail_msg(c, "hw info type %u, expected ARM SMMUv3 (%u)", hw.type, IOMMU_HW_INFO_TYPE_ARM_SMMUV3);

	STEP(c, "ioas-alloc", iommufd_ioas_alloc(&c->ictx, &c->ioas, FAIL_PRINT), c->ictx.last_err);

	/* Pick the IOVA from the allowed ranges, clear of the sw_msi window (reserved only once a device is
	 * attached, so avoid it explicitly) and inside edu's DMA reach (EDU_DMA_MASK). */
	STEP(c, "iova-ranges", iommufd_ioas_iova_ranges(&c->ictx, c->ioas, &ranges, &nr, &align), c->ictx.last_err);
	if (align < PAGE)
		align = PAGE;
	rc = iommufd_find_iova(ranges, nr, PAGE, NR_PAGES * PAGE, align, &c->iova);
	free(ranges);
	if (rc)
		return fail_msg(c, "no allowed IOVA range holds %lu bytes", NR_PAGES * PAGE);
	if (c->iova + NR_PAGES * PAGE > IOMMUFD_ARM_SW_MSI_BASE || c->iova + NR_PAGES * PAGE > EDU_DMA_MASK)
		return fail_msg(c, "chosen IOVA 0x%llx is not below the sw_msi window / edu DMA mask",
				(unsigned long long)c->iova);
	printf("  iova 0x%llx (%zu allowed ranges, alignment 0x%llx)\n", (unsigned long long)c->iova, nr,
	       (unsigned long long)align);

	c->mem = mmap(NULL, NR_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (c->mem == MAP_FAILED) {
		c->mem = NULL;
		return fail_msg(c, "mmap of %lu bytes: %s", NR_PAGES * PAGE, strerror(errno));
	}
	memset(c->mem, 0, NR_PAGES * PAGE);
	memset(c->mem + PAGE, 0x5a, (NR_PAGES - 1) * PAGE);
	STEP(c, "ioas-map", iommufd_ioas_map_fixed(&c->ictx, c->ioas, c->mem, NR_PAGES * PAGE, c->iova, true),
	     c->ictx.last_err);
	c->mapped = true;

	STEP(c, "hwpt-nest-parent", iommufd_hwpt_alloc_nest_parent(&c->ictx, c->dev.dev_id, c->ioas, &c->s2, FAIL_PRINT),
	     c->ictx.last_err);
	STEP(c, "viommu-alloc", iommufd_viommu_alloc_smmuv3(&c->ictx, c->dev.dev_id, c->s2, &c->viommu, FAIL_PRINT),
	     c->ictx.last_err);
	STEP(c, "vdevice-alloc", iommufd_vdevice_alloc(&c->ictx, c->viommu, c->dev.dev_id, VIRT_SID, &c->vdev),
	     c->ictx.last_err);
	STEP(c, "veventq-alloc", iommufd_veventq_alloc_smmuv3(&c->ictx, c->viommu, VEVENTQ_DEPTH, &c->veventq, &c->evfd, FAIL_PRINT),
	     c->ictx.last_err);

	/* vSTE: valid, stage-1 translate, linear CD table of one CD at c->iova (an IPA mapped in the IOAS,
	 * backed by a zeroed page, so the CD has V=0). */
	u64 ste[2] = {
		STE_0_V | FIELD_PREP(STE_0_CFG, STE_CFG_S1_TRANS) | FIELD_PREP(STE_0_S1FMT, STE_S1FMT_LINEAR) |
			(c->iova & STE_0_S1CTXPTR),
		0,
	};
	STEP(c, "hwpt-nested", iommufd_hwpt_alloc_nested_smmuv3(&c->ictx, c->dev.dev_id, c->viommu, ste, &c->nested, FAIL_PRINT),
	     c->ictx.last_err);
	STEP(c, "attach", vfio_dev_attach(&c->dev, c->nested, FAIL_PRINT), c->dev.last_err);
	if (c->dev.pt_id != c->nested)
		return fail_msg(c, "attached pt %u, expected the nested HWPT %u", c->dev.pt_id, c->nested);

	/* Device ids and object ids share the iommufd's id space: all must differ. */
	u32 ids[] = { c->dev.dev_id, c->ioas, c->s2, c->viommu, c->vdev, c->veventq, c->nested };
	const char *names[] = { "dev", "ioas", "s2", "viommu", "vdevice", "veventq", "nested" };
	c->step = "ids";
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		if (!ids[i])
			return fail_msg(c, "%s id is 0", names[i]);
		for (size_t j = 0; j < i; j++)
			if (ids[i] == ids[j])
				return fail_msg(c, "%s and %s share id %u", names[j], names[i], ids[i]);
		const struct iommufd_obj *o = iommufd_obj_find(&c->ictx, ids[i]);
		if (i && !o)
			return fail_msg(c, "%s %u is not in the object tracker", names[i], ids[i]);
	}
	if (c->ictx.nr_objs != ARRAY_SIZE(ids) - 1)
		return fail_msg(c, "tracker holds %zu objects, expected %zu", c->ictx.nr_objs, ARRAY_SIZE(ids) - 1);
	printf("  ioas %u s2 %u viommu %u vdevice %u veventq %u (fd %d) nested %u\n", c->ioas, c->s2, c->viommu,
	       c->vdev, c->veventq, c->evfd, c->nested);
	ok(c, "ids");

	/* With the device attached, the IOAS reports the host's reserved ranges: our mapping must be in an
	 * allowed one and the sw_msi window must be reserved. */
	STEP(c, "reserved-ranges", iommufd_ioas_iova_ranges(&c->ictx, c->ioas, &ranges, &nr, &align), c->ictx.last_err);
	{
		char why[160];
		int in = iommufd_check_iova(ranges, nr, c->iova, NR_PAGES * PAGE, why, sizeof(why));
		char why2[160];
		int msi = iommufd_check_iova(ranges, nr, IOMMUFD_ARM_SW_MSI_BASE, PAGE, why2, sizeof(why2));

		for (size_t i = 0; i < nr; i++)
			printf("  allowed 0x%llx-0x%llx\n", (unsigned long long)ranges[i].start,
			       (unsigned long long)ranges[i].last);
		free(ranges);
		if (in)
			return fail_msg(c, "our mapping is not in an allowed range: %s", why);
		if (!msi)
			return fail_msg(c, "sw_msi window 0x%llx is not reserved in the IOAS",
					(unsigned long long)IOMMUFD_ARM_SW_MSI_BASE);
		printf("  %s\n", why2);
	}
	return 0;
}

/* n commands (host order, n <= 8) in ONE HWPT_INVALIDATE, as the vSMMU issues a batch; *done = commands the
 * kernel handled. */
static int inv_send(struct chain *c, const u64 (*cmds)[2], u32 n, u32 *done)
{
	struct iommu_viommu_arm_smmuv3_invalidate le[8];

	for (u32 i = 0; i < n; i++)
		iommufd_inv_cmd(&le[i], cmds[i]);
	return iommufd_hwpt_invalidate_smmuv3(&c->ictx, c->viommu, le, n, done, FAIL_PRINT);
}

/* HWPT_INVALIDATE on the vIOMMU: a batch the kernel must take whole (CD and TLB invalidations for our
 * vSID), then batches it must stop in: at a command not allowed on a vIOMMU, and at a vSID with no
 * vDEVICE. The consumed counts are what the vSMMU relies on to report CMDQ errors at the right index. */
static int invalidate(struct chain *c)
{
	const u64 good[][2] = {
		{ FIELD_PREP(CMDQ_0_OP, CMDQ_OP_CFGI_CD) | FIELD_PREP(CMDQ_CFGI_0_SID, VIRT_SID), CMDQ_CFGI_1_LEAF },
		{ FIELD_PREP(CMDQ_0_OP, CMDQ_OP_CFGI_CD_ALL) | FIELD_PREP(CMDQ_CFGI_0_SID, VIRT_SID), 0 },
		{ FIELD_PREP(CMDQ_0_OP, CMDQ_OP_TLBI_NH_ASID) | FIELD_PREP(CMDQ_TLBI_0_ASID, 1), 0 },
		{ FIELD_PREP(CMDQ_0_OP, CMDQ_OP_TLBI_NH_VA) | FIELD_PREP(CMDQ_TLBI_0_ASID, 1),
		  (0x40000000ULL & CMDQ_TLBI_1_VA) | CMDQ_TLBI_1_LEAF },
		{ FIELD_PREP(CMDQ_0_OP, CMDQ_OP_TLBI_NSNH_ALL), 0 },
	};
	const u64 bad_op[][2] = {
		{ FIELD_PREP(CMDQ_0_OP, CMDQ_OP_TLBI_NH_ALL), 0 },
		{ FIELD_PREP(CMDQ_0_OP, CMDQ_OP_CFGI_STE) | FIELD_PREP(CMDQ_CFGI_0_SID, VIRT_SID), CMDQ_CFGI_1_LEAF },
		{ FIELD_PREP(CMDQ_0_OP, CMDQ_OP_TLBI_NH_ALL), 0 },
	};
	const u64 bad_sid[][2] = {
		{ FIELD_PREP(CMDQ_0_OP, CMDQ_OP_TLBI_NH_ALL), 0 },
		{ FIELD_PREP(CMDQ_0_OP, CMDQ_OP_TLBI_NH_ALL), 0 },
		{ FIELD_PREP(CMDQ_0_OP, CMDQ_OP_CFGI_CD_ALL) | FIELD_PREP(CMDQ_CFGI_0_SID, VIRT_SID + 1), 0 },
	};
	u32 done = 0;
	u64 consumed;
	int rc;

	c->step = "invalidate";
	if (inv_send(c, good, ARRAY_SIZE(good), &done))
		return fail_msg(c, "%s", c->ictx.last_err);
	if (done != ARRAY_SIZE(good))
		return fail_msg(c, "kernel consumed %u of %zu commands", done, ARRAY_SIZE(good));
	consumed = done;
	ok(c, "invalidate");

	c->step = "invalidate-bad-op";
	rc = inv_send(c, bad_op, ARRAY_SIZE(bad_op), &done);
	consumed += done;
	if (rc != -EIO || done != 1 || consumed != ARRAY_SIZE(good) + 1)
		return fail_msg(c, "CFGI_STE at index 1: rc %d, stopped at %u, consumed %llu", rc, done,
				(unsigned long long)consumed);
	printf("  %s\n", c->ictx.last_err);
	ok(c, "invalidate-bad-op");

	c->step = "invalidate-unknown-vsid";
	rc = inv_send(c, bad_sid, ARRAY_SIZE(bad_sid), &done);
	if (rc != -EIO || done != 2)
		return fail_msg(c, "CFGI_CD_ALL for vSID 0x%x without a vDEVICE: rc %d, done %u", VIRT_SID + 1, rc, done);
	printf("  %s\n", c->ictx.last_err);
	ok(c, "invalidate-unknown-vsid");
	return 0;
}

static int edu_dma_fault(struct chain *c)
{
	struct vfio_region bar0;
	u32 cmd, v;
	void *p;

	STEP(c, "bus-master", vfio_dev_cfg_read(&c->dev, PCI_COMMAND, 2, &cmd, FAIL_PRINT) ||
	     vfio_dev_cfg_write(&c->dev, PCI_COMMAND, 2, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, FAIL_PRINT) ||
	     vfio_dev_cfg_read(&c->dev, PCI_COMMAND, 2, &v, FAIL_PRINT), c->dev.last_err);
	if (!(v & PCI_COMMAND_MASTER))
		return fail_msg(c, "command register 0x%04x after enabling bus mastering", v);

	STEP(c, "bar0-info", vfio_dev_region_info(&c->dev, VFIO_PCI_BAR0_REGION_INDEX, &bar0), c->dev.last_err);
	if (bar0.size < SZ_1M)
		return fail_msg(c, "BAR0 is 0x%llx bytes, expected 1 MiB", (unsigned long long)bar0.size);
	STEP(c, "bar0-mmap", vfio_dev_region_mmap(&c->dev, &bar0, 0, SZ_1M, PROT_READ | PROT_WRITE, &p), c->dev.last_err);
	c->bar0 = p;
	c->bar0_len = SZ_1M;

	c->step = "edu-ident";
	v = mmio_read(c, EDU_IDENT);
	if (v != EDU_IDENT_VALUE)
		return fail_msg(c, "edu ident 0x%08x, expected 0x%08x", v, EDU_IDENT_VALUE);
	mmio_write(c, EDU_LIVENESS, 0x12345678);
	v = mmio_read(c, EDU_LIVENESS);
	if (v != ~0x12345678U)
		return fail_msg(c, "edu liveness read 0x%08x after writing 0x12345678", v);
	ok(c, "edu-ident");

	/* Nothing may be queued yet: the records read afterwards must be the DMA's. Read the queue (not only
	 * poll it): a record the kernel queued before would be returned here. */
	c->step = "veventq-empty";
	{
		unsigned char buf[IOMMUFD_VEVENT_SMMUV3_SIZE * 4];
		struct pollfd pfd = { .fd = c->evfd, .events = POLLIN };
		ssize_t len;
		int n = poll(&pfd, 1, 0);

		if (n < 0)
			return fail_msg(c, "poll on vEVENTQ fd %d: %s", c->evfd, strerror(errno));
		len = iommufd_veventq_read(&c->ictx, c->evfd, buf, sizeof(buf), FAIL_PRINT);
		if (len < 0)
			return fail_msg(c, "%s", c->ictx.last_err);
		if (len > 0 || n > 0)
			return fail_msg(c, "the vEVENTQ holds %zd bytes before any DMA (poll said %s)", len,
					n > 0 ? "readable" : "empty");
	}
	ok(c, "veventq-empty");

	/* RAM -> edu: the device reads 8 bytes at an IOVA of our buffer; stage 1 needs the CD, which is invalid. */
	c->step = "dma-start";
	mmio_write(c, EDU_DMA_SRC, (u32)(c->iova + PAGE));
	mmio_write(c, EDU_DMA_DST, EDU_DMA_BUF);
	mmio_write(c, EDU_DMA_CNT, 8);
	mmio_write(c, EDU_DMA_CMD, EDU_DMA_RUN);
	ok(c, "dma-start");
	return 0;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static int wait_event(struct chain *c)
{
	struct iommufd_vevent_seq seq = { 0 };
	unsigned char buf[16 * IOMMUFD_VEVENT_SMMUV3_SIZE];
	struct iommufd_vevent ev;
	struct timespec t0;
	unsigned int records = 0, bad_cd = 0;
	int timeout = 10000;

	c->step = "vevent";
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = { .fd = c->evfd, .events = POLLIN };
		long left = timeout - ms_since(&t0);
		int n;

		if (left <= 0)
			break;
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail_msg(c, "poll on vEVENTQ fd %d: %s", c->evfd, strerror(errno));
		if (n == 0)
			break;
		ssize_t len = iommufd_veventq_read(&c->ictx, c->evfd, buf, sizeof(buf), FAIL_PRINT);
		if (len < 0)
			return fail_msg(c, "%s", c->ictx.last_err);
		size_t off = 0;
		int r;

		while ((r = iommufd_vevent_parse(buf, (size_t)len, &off, &ev)) == 1) {
			u32 lost = iommufd_vevent_seq_account(&seq, &ev);

			printf("  record flags 0x%x seq %u evt 0x%016llx 0x%016llx 0x%016llx 0x%016llx\n", ev.flags,
			       ev.sequence, (unsigned long long)ev.evt[0], (unsigned long long)ev.evt[1],
			       (unsigned long long)ev.evt[2], (unsigned long long)ev.evt[3]);
			if (lost || ev.lost_events)
				return fail_msg(c, "record seq %u: %u events lost (flags 0x%x)", ev.sequence, lost, ev.flags);
			if (ev.sequence != records)
				return fail_msg(c, "record %u has sequence %u", records, ev.sequence);
			records++;
			u32 id = (u32)FIELD_GET(EVTQ_0_ID, ev.evt[0]);
			u32 sid = (u32)FIELD_GET(EVTQ_0_SID, ev.evt[0]);
			if (id != EVT_ID_C_BAD_CD)
				return fail_msg(c, "record seq %u: event id 0x%02x, expected C_BAD_CD 0x%02x", ev.sequence,
						id, EVT_ID_C_BAD_CD);
			if (sid != VIRT_SID)
				return fail_msg(c, "record seq %u: StreamID 0x%x, expected the vSID 0x%x", ev.sequence, sid,
						VIRT_SID);
			bad_cd++;
		}
		if (r < 0)
			return fail_msg(c, "truncated record in a %zd byte read", len);
		/* After the first records, give stragglers a short while only. */
		if (records && timeout > ms_since(&t0) + 500)
			timeout = (int)ms_since(&t0) + 500;
	}
	if (!records)
		return fail_msg(c, "no record on the vEVENTQ within %d ms of the edu DMA", timeout);
	printf("  %u C_BAD_CD records for vSID 0x%x, sequences 0..%u, none lost\n", bad_cd, VIRT_SID, records - 1);
	ok(c, "vevent");
	return 0;
}

static int teardown(struct chain *c)
{
	if (c->bar0) {
		munmap((void *)c->bar0, c->bar0_len);
		c->bar0 = NULL;
	}
	/* Make before break: move the device to the S2 HWPT, then free what hangs off the vIOMMU. */
	STEP(c, "reattach-s2", vfio_dev_attach(&c->dev, c->s2, FAIL_PRINT), c->dev.last_err);
	STEP(c, "destroy-nested", iommufd_destroy(&c->ictx, c->nested, FAIL_PRINT), c->ictx.last_err);
	STEP(c, "destroy-veventq", iommufd_destroy(&c->ictx, c->veventq, FAIL_PRINT), c->ictx.last_err);
	STEP(c, "destroy-vdevice", iommufd_destroy(&c->ictx, c->vdev, FAIL_PRINT), c->ictx.last_err);
	STEP(c, "destroy-viommu", iommufd_destroy(&c->ictx, c->viommu, FAIL_PRINT), c->ictx.last_err);
	STEP(c, "detach", vfio_dev_detach(&c->dev), c->dev.last_err);
	STEP(c, "destroy-s2", iommufd_destroy(&c->ictx, c->s2, FAIL_PRINT), c->ictx.last_err);
	STEP(c, "ioas-unmap", iommufd_ioas_unmap(&c->ictx, c->ioas, c->iova, NR_PAGES * PAGE), c->ictx.last_err);
	c->mapped = false;
	STEP(c, "destroy-ioas", iommufd_destroy(&c->ictx, c->ioas, FAIL_PRINT), c->ictx.last_err);
	c->step = "tracker-empty";
	if (c->ictx.nr_objs)
		return fail_msg(c, "%zu objects still tracked after teardown", c->ictx.nr_objs);
	ok(c, "tracker-empty");

	vfio_dev_close(&c->dev);
	c->dev_open = false;
	iommufd_close(&c->ictx);
	c->ictx_open = false;
	ok(c, "close");

	/* The device must be usable again: open, bind to a fresh iommufd, attach to a fresh IOAS. */
	u32 ioas;
	STEP(c, "reopen", vfio_dev_open(&c->dev, NULL, NULL, c->bdf), c->dev.last_err);
	c->dev_open = true;
	STEP(c, "reopen-iommufd", iommufd_open(&c->ictx, NULL), c->ictx.last_err);
	c->ictx_open = true;
	STEP(c, "rebind", vfio_dev_bind(&c->dev, iommufd_fd(&c->ictx)), c->dev.last_err);
	STEP(c, "reattach-ioas", iommufd_ioas_alloc(&c->ictx, &ioas, FAIL_PRINT) || vfio_dev_attach(&c->dev, ioas, FAIL_PRINT),
	     c->dev.last_err[0] ? c->dev.last_err : c->ictx.last_err);
	STEP(c, "final-detach", vfio_dev_detach(&c->dev), c->dev.last_err);
	vfio_dev_close(&c->dev);
	c->dev_open = false;
	iommufd_close(&c->ictx);
	c->ictx_open = false;
	ok(c, "final-close");
	return 0;
}

/* After a failure: undo whatever exists, in order, without masking the first error. */
static void cleanup(struct chain *c)
{
	if (c->bar0)
		munmap((void *)c->bar0, c->bar0_len);
	if (c->dev_open && c->dev.attached) {
		/* The tracker cannot destroy a HWPT the device is attached to: detach first. */
		if (vfio_dev_detach(&c->dev))
			fprintf(stderr, "iommufd-chain: cleanup: %s\n", c->dev.last_err);
	}
	if (c->ictx_open) {
		if (c->mapped && iommufd_ioas_unmap(&c->ictx, c->ioas, c->iova, NR_PAGES * PAGE))
			fprintf(stderr, "iommufd-chain: cleanup: %s\n", c->ictx.last_err);
		if (iommufd_teardown(&c->ictx))
			fprintf(stderr, "iommufd-chain: cleanup: %s\n", c->ictx.last_err);
		iommufd_close(&c->ictx);
	}
	if (c->dev_open)
		vfio_dev_close(&c->dev);
}

int main(int argc, char **argv)
{
	struct chain c = { .evfd = -1, .step = "args" };
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s <pci-bdf>\n", argv[0]);
		printf("iommufd-chain: FAIL args: expected one BDF argument\n");
		return 2;
	}
	c.bdf = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = setup(&c);
	if (!rc)
		rc = invalidate(&c);
	if (!rc)
		rc = edu_dma_fault(&c);
	if (!rc)
		rc = wait_event(&c);
	if (!rc)
		rc = teardown(&c);
	if (rc) {
		printf("iommufd-chain: FAIL %s: %s\n", c.step, c.err);
		cleanup(&c);
		if (c.mem)
			munmap(c.mem, NR_PAGES * PAGE);
		return 1;
	}
	munmap(c.mem, NR_PAGES * PAGE);
	printf("iommufd-chain: PASS\n");
	return 0;
}
