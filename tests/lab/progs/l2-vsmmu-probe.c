/* l2-vsmmu-probe: L2 program (tests/lab/scenarios/vsmmu-probe.sh, vsmmu-two.sh, device-vsmmu.sh; ivmm run
 * --viommu smmuv3). Checks that L2's own arm-smmu-v3 driver probed ivmm's emulated SMMUv3 and put the
 * passed-through devices behind it (device-agnostic: every passed-through function, l2_dut.h, edu or not):
 *   - /sys/class/iommu/ has an entry (printed with what /sys/bus/pci/devices/BDF/iommu points to);
 *   - every passed-through function has an iommu_group (group number and default domain type printed, and the
 *     IOMMU it is behind: `device at BDF, behind IOMMU NAME`, which vsmmu-two.sh reads);
 *   - L2's kernel log (klogctl READ_ALL) has no arm-smmu-v3 line saying error, failed, timeout, aborted, lost,
 *     "will not be reported" or "EVTQ overflow" (case-insensitive; the offending lines are printed).
 * `N IOMMU(s) in /sys/class/iommu` is printed for the scenarios. The device tree's SMMU nodes (name,
 * compatible) and whether the PCIe node has an iommu-map, and the driver's arm-smmu-v3 lines are printed for the
 * record. Exit 0 when all three hold. */
#include "tests/lab/progs/l2_dut.h"
#include "tests/lab/progs/l2_iommufd.h"

static const char *const bad_words[] = {
	"error", "failed", "timeout", "aborted", "lost", "will not be reported", "EVTQ overflow",
};

static int list_iommus(void)
{
	DIR *d = opendir("/sys/class/iommu");
	struct dirent *e;
	int n = 0;

	if (!d) {
		edu_say("no /sys/class/iommu: %s (kernel without IOMMU support?)", strerror(errno));
		return 0;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		edu_say("/sys/class/iommu/%s", e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/* For the record: the device tree nodes naming an SMMU (with their compatible) and the PCIe nodes' iommu-map. */
static void show_dt(void)
{
	const char *base = "/sys/firmware/devicetree/base";
	DIR *d = opendir(base);
	struct dirent *e;

	if (!d) {
		edu_say("no %s: %s", base, strerror(errno));
		return;
	}
	while ((e = readdir(d))) {
		char p[600], compat[128] = "";
		int fd;

		if (strstr(e->d_name, "smmu")) {
			snprintf(p, sizeof(p), "%s/%s/compatible", base, e->d_name);
			fd = open(p, O_RDONLY);
			if (fd >= 0) {
				ssize_t n = read(fd, compat, sizeof(compat) - 1);

				compat[n > 0 ? n : 0] = 0;
				close(fd);
			}
			edu_say("device tree: /%s compatible \"%s\"", e->d_name, compat);
		} else if (!strncmp(e->d_name, "pcie@", 5)) {
			snprintf(p, sizeof(p), "%s/%s/iommu-map", base, e->d_name);
			edu_say("device tree: /%s %s", e->d_name, access(p, F_OK) ? "has no iommu-map" : "has an iommu-map");
		}
	}
	closedir(d);
}

/* The last path component of a sysfs link, or NULL. */
static const char *link_name(const char *path, char *buf, size_t len)
{
	ssize_t n = readlink(path, buf, len - 1);

	if (n <= 0)
		return NULL;
	buf[n] = 0;
	return strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
}

static bool bad_line(const char *line)
{
	if (!strstr(line, "arm-smmu-v3"))
		return false;
	for (size_t i = 0; i < sizeof(bad_words) / sizeof(bad_words[0]); i++)
		if (strcasestr(line, bad_words[i]))
			return true;
	return false;
}

/* One device: the IOMMU it is behind and its iommu_group (into group). 0, or -1 after a message. */
static int probe_dev(const char *bdf, char *group_out, size_t glen)
{
	char p[300], buf[300], type[64] = "?";
	const char *iommu, *group;
	int fd;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/iommu", bdf);
	iommu = link_name(p, buf, sizeof(buf));
	edu_say("device at %s, behind IOMMU %s", bdf, iommu ? iommu : "(none: no iommu link)");
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	group = link_name(p, buf, sizeof(buf));
	if (!group) {
		edu_say("device %s has no iommu_group", bdf);
		return -1;
	}
	snprintf(group_out, glen, "%.*s", (int)(glen - 1), group);
	snprintf(p, sizeof(p), "/sys/kernel/iommu_groups/%s/type", group_out);
	fd = open(p, O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, type, sizeof(type) - 1);

		type[n > 0 ? n : 0] = 0;
		type[strcspn(type, "\n")] = 0;
		close(fd);
	}
	edu_say("device %s is in iommu group %s (default domain type %s)", bdf, group_out, type);
	return 0;
}

int main(void)
{
	char bdfs[8][EDU_BDF_LEN], groups[200] = "", group[64];
	char *log, *line, *save = NULL;
	int fails = 0, nr_iommu, smmu_lines = 0, bad = 0, ndev;

	edu_prog = "l2-vsmmu-probe";
	show_dt();
	nr_iommu = list_iommus();
	edu_say("%d IOMMU(s) in /sys/class/iommu", nr_iommu);
	if (!nr_iommu) {
		edu_say("no IOMMU registered in /sys/class/iommu: the vSMMU did not probe");
		fails++;
	}

	ndev = l2_pci_endpoints(bdfs, 8);
	if (ndev <= 0)
		return 1;
	for (int i = 0; i < ndev; i++) {
		char bdf[EDU_BDF_LEN];

		memcpy(bdf, bdfs[i], sizeof(bdf));
		if (probe_dev(bdf, group, sizeof(group))) {
			fails++;
			continue;
		}
		snprintf(groups + strlen(groups), sizeof(groups) - strlen(groups), "%s%s", groups[0] ? " and " : "",
			 group);
	}

	log = l2_klog();
	if (!log)
		return 1;
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strstr(line, "arm-smmu-v3"))
			continue;
		smmu_lines++;
		if (bad_line(line)) {
			edu_say("bad kernel line: %s", line);
			bad++;
		} else if (smmu_lines <= 12) {
			edu_say("kernel: %s", line);
		}
	}
	free(log);
	edu_say("kernel log: %d arm-smmu-v3 lines, %d of them reporting a problem", smmu_lines, bad);
	if (!smmu_lines) {
		edu_say("no arm-smmu-v3 line in the kernel log: the driver never looked at the vSMMU");
		fails++;
	}
	if (bad)
		fails++;
	if (fails)
		return 1;
	edu_say("%d IOMMU(s), %d device(s) in group(s) %s, clean arm-smmu-v3 log", nr_iommu, ndev, groups);
	return 0;
}
