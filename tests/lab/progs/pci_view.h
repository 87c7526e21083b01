/* pci_view.h: a PCI function as the scenarios compare it, read from sysfs alone (/sys/bus/pci/devices/BDF/config
 * and .../resource), so that the same code reads the host's device in L1 (tests/lab/progs/pci-view.c) and the
 * guest's in L2 (tests/lab/progs/l2-dev-config.c): ids, class and revision, header type, interrupt pin, every
 * BAR with its size and kind, the capability list in order, MSI and MSI-X details, the extended capability list.
 * pci_view_passthrough() turns the host's view into the one ivmm's vfio-pci model documents for the guest
 * (docs/passthrough.md, "What the guest sees"): I/O BARs and the expansion ROM hidden, only the PM, MSI, vendor,
 * PCIe and MSI-X capabilities kept, MSI capped at 32 vectors, no extended capabilities, one function.
 * pci_view_print() writes it as lines (one per item) that diff cleanly. Header-only, libc only. */
#ifndef IVMM_LAB_PCI_VIEW_H
#define IVMM_LAB_PCI_VIEW_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PV_BARS 6
#define PV_MAX_CAPS 48
#define PV_CFG_SIZE 4096
/* struct resource flags in sysfs "resource" lines (include/linux/ioport.h). */
#define PV_RES_IO 0x00000100ul
#define PV_RES_MEM 0x00000200ul
#define PV_RES_PREFETCH 0x00002000ul
#define PV_RES_MEM64 0x00100000ul

struct pci_view_bar {
	uint64_t size;     /* 0: not implemented */
	bool io, mem64, prefetch;
};

struct pci_view {
	uint16_t vendor, device, subsys_vendor, subsys_device;
	uint32_t class;    /* class code, sub-class, prog-if */
	uint8_t revision, header, pin;
	struct pci_view_bar bar[PV_BARS];
	uint64_t rom_size;
	uint8_t caps[PV_MAX_CAPS];
	unsigned int ncaps;
	uint16_t extcaps[PV_MAX_CAPS];
	unsigned int nextcaps;
	bool msi, msi64, msi_maskbit, msi_enabled;   /* msi_enabled, msix_enabled: state, not printed */
	unsigned int msi_vectors;             /* Multiple Message Capable, as a count */
	bool msix, msix_enabled;
	unsigned int msix_vectors;
	uint32_t msix_table, msix_pba;        /* BIR in bits 2:0, offset above */
};

static inline uint16_t pv_le16(const uint8_t *c, unsigned int off)
{
	return (uint16_t)(c[off] | c[off + 1] << 8);
}

static inline uint32_t pv_le32(const uint8_t *c, unsigned int off)
{
	return (uint32_t)pv_le16(c, off) | (uint32_t)pv_le16(c, off + 2) << 16;
}

/* Read the view of the function at sysfs directory dir. 0, or -1 with the reason in err. */
static inline int pci_view_read(const char *dir, struct pci_view *v, char *err, size_t errlen)
{
	uint8_t c[PV_CFG_SIZE];
	char path[400], line[256];
	ssize_t n;
	FILE *f;
	int fd;

	memset(v, 0, sizeof(*v));
	memset(c, 0, sizeof(c));
	snprintf(path, sizeof(path), "%s/config", dir);
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		snprintf(err, errlen, "open %.300s: %s", path, strerror(errno));
		return -1;
	}
	n = pread(fd, c, sizeof(c), 0);
	close(fd);
	if (n < 64) {
		snprintf(err, errlen, "read %.300s: %s (need at least the 64-byte header)", path,
			 n < 0 ? strerror(errno) : "short");
		return -1;
	}
	v->vendor = pv_le16(c, 0x00);
	v->device = pv_le16(c, 0x02);
	v->revision = c[0x08];
	v->class = pv_le32(c, 0x08) >> 8;
	v->header = c[0x0e];
	v->subsys_vendor = pv_le16(c, 0x2c);
	v->subsys_device = pv_le16(c, 0x2e);
	v->pin = c[0x3d];
	if ((v->header & 0x7f) != 0) {
		snprintf(err, errlen, "%.300s: header type 0x%02x: not an endpoint (type 0)", dir, v->header);
		return -1;
	}

	/* Capabilities (bounded walk: at most PV_MAX_CAPS, pointers inside the header's 256 bytes). */
	if ((pv_le16(c, 0x06) & 0x10) && n < 256) {
		snprintf(err, errlen, "%.300s: only %zd bytes of config space readable: the capabilities need 256 (run as root)",
			 path, n);
		return -1;
	}
	if (pv_le16(c, 0x06) & 0x10) {
		unsigned int p = c[0x34] & 0xfc;

		while (p >= 0x40 && p < 256 && v->ncaps < PV_MAX_CAPS && n > (ssize_t)p + 1) {
			uint8_t id = c[p];

			v->caps[v->ncaps++] = id;
			if (id == 0x05 && n >= (ssize_t)p + 4) {
				uint16_t fl = pv_le16(c, p + 2);

				v->msi = true;
				v->msi64 = fl & 0x80;
				v->msi_maskbit = fl & 0x100;
				v->msi_vectors = 1u << ((fl >> 1) & 7);
				v->msi_enabled = fl & 0x1;
			} else if (id == 0x11 && n >= (ssize_t)p + 12) {
				v->msix = true;
				v->msix_vectors = (pv_le16(c, p + 2) & 0x7ff) + 1u;
				v->msix_enabled = pv_le16(c, p + 2) & 0x8000;
				v->msix_table = pv_le32(c, p + 4);
				v->msix_pba = pv_le32(c, p + 8);
			}
			p = c[p + 1] & 0xfc;
		}
	}
	/* Extended capabilities (PCIe config space past 256 bytes, when readable). */
	if (n >= 0x104) {
		unsigned int p = 0x100;

		while (p >= 0x100 && p + 4 <= (unsigned int)n && v->nextcaps < PV_MAX_CAPS) {
			uint32_t h = pv_le32(c, p);

			if (!h || h == 0xffffffffu)
				break;
			v->extcaps[v->nextcaps++] = (uint16_t)(h & 0xffff);
			p = (h >> 20) & 0xffc;
		}
	}

	/* BARs and ROM from "resource": "start end flags" per line, BAR0..5 then the ROM. */
	snprintf(path, sizeof(path), "%s/resource", dir);
	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "open %.300s: %s", path, strerror(errno));
		return -1;
	}
	for (unsigned int i = 0; i <= PV_BARS && fgets(line, sizeof(line), f); i++) {
		unsigned long long start, end, flags;
		uint64_t size;

		if (sscanf(line, "%llx %llx %llx", &start, &end, &flags) != 3) {
			snprintf(err, errlen, "%.300s line %u: '%.60s' is not 'start end flags'", path, i + 1, line);
			fclose(f);
			return -1;
		}
		size = start || end ? end - start + 1 : 0;
		if (i == PV_BARS) {
			v->rom_size = size;
			break;
		}
		if (!size || !(flags & (PV_RES_IO | PV_RES_MEM)))
			continue;
		v->bar[i].size = size;
		v->bar[i].io = flags & PV_RES_IO;
		v->bar[i].mem64 = flags & PV_RES_MEM64;
		v->bar[i].prefetch = flags & PV_RES_PREFETCH;
	}
	fclose(f);
	return 0;
}

/* The host's view -> what ivmm shows the guest (devices/vfio_pci.c, docs/passthrough.md). */
static inline void pci_view_passthrough(struct pci_view *v)
{
	unsigned int keep = 0;

	v->header &= 0x7f;
	for (unsigned int i = 0; i < PV_BARS; i++)
		if (v->bar[i].io)
			memset(&v->bar[i], 0, sizeof(v->bar[i]));
	v->rom_size = 0;
	for (unsigned int i = 0; i < v->ncaps; i++) {
		switch (v->caps[i]) {
		case 0x01: /* power management */
		case 0x05: /* MSI */
		case 0x09: /* vendor specific */
		case 0x10: /* PCI Express */
		case 0x11: /* MSI-X */
			v->caps[keep++] = v->caps[i];
			break;
		}
	}
	v->ncaps = keep;
	if (v->msi_vectors > 32)
		v->msi_vectors = 32;
	v->nextcaps = 0;
}

static inline void pci_view_print(FILE *out, const char *prefix, const struct pci_view *v)
{
	fprintf(out, "%sid %04x:%04x subsys %04x:%04x class 0x%06x rev 0x%02x header 0x%02x pin %u\n", prefix,
		v->vendor, v->device, v->subsys_vendor, v->subsys_device, v->class, v->revision, v->header, v->pin);
	for (unsigned int i = 0; i < PV_BARS; i++) {
		const struct pci_view_bar *b = &v->bar[i];

		if (b->size)
			fprintf(out, "%sbar%u %s%s size 0x%llx\n", prefix, i, b->io ? "io" : b->mem64 ? "mem64" : "mem32",
				b->prefetch ? " prefetchable" : "", (unsigned long long)b->size);
	}
	if (v->rom_size)
		fprintf(out, "%srom size 0x%llx\n", prefix, (unsigned long long)v->rom_size);
	fprintf(out, "%scaps", prefix);
	for (unsigned int i = 0; i < v->ncaps; i++)
		fprintf(out, " 0x%02x", v->caps[i]);
	fprintf(out, "%s\n", v->ncaps ? "" : " none");
	if (v->msi)
		fprintf(out, "%smsi vectors %u%s%s\n", prefix, v->msi_vectors, v->msi64 ? " 64-bit" : " 32-bit",
			v->msi_maskbit ? " per-vector-mask" : "");
	if (v->msix)
		fprintf(out, "%smsix vectors %u table bar%u+0x%x pba bar%u+0x%x\n", prefix, v->msix_vectors,
			v->msix_table & 7, v->msix_table & ~7u, v->msix_pba & 7, v->msix_pba & ~7u);
	fprintf(out, "%sextcaps", prefix);
	for (unsigned int i = 0; i < v->nextcaps; i++)
		fprintf(out, " 0x%04x", v->extcaps[i]);
	fprintf(out, "%s\n", v->nextcaps ? "" : " none");
}

#endif
