/* vfio_dev_sysfs.c: finding a VFIO cdev from a PCI address (see vfio_dev.h): BDF parsing and
 * normalisation, the sysfs walk from the BDF to its vfio-pci binding and /dev/vfio/devices/vfioN (each
 * failure one clear message saying what to fix), and the message for a cdev that cannot be opened. Pure
 * functions over the two roots given, so unit tests point them at a fake tree. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "devices/vfio_dev.h"
#include "vmm/log.h"

static int hexval(const char *s, size_t n, unsigned int *out)
{
	unsigned int v = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -EINVAL;
		v = v * 16 + (unsigned int)d;
	}
	*out = v;
	return 0;
}

int vfio_parse_bdf(const char *in, char *out, size_t outlen)
{
	unsigned int dom = 0, bus, devn, fn;
	size_t n = strlen(in);
	const char *p = in;

	/* [DDDD:]BB:DD.F */
	if (n == 12) {
		if (p[4] != ':' || hexval(p, 4, &dom))
			return -EINVAL;
		p += 5;
	} else if (n != 7) {
		return -EINVAL;
	}
	if (p[2] != ':' || p[5] != '.' || hexval(p, 2, &bus) || hexval(p + 3, 2, &devn) || hexval(p + 6, 1, &fn))
		return -EINVAL;
	if (devn > 0x1f || fn > 7)
		return -EINVAL;
	if ((size_t)snprintf(out, outlen, "%04x:%02x:%02x.%x", dom, bus, devn, fn) >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

static int __printf(4, 5) resolve_err(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	pr_err("%s", err);
	return rc;
}

int vfio_resolve_cdev(const char *sysfs_root, const char *dev_root, const char *bdf_in, char *path, size_t pathlen,
		      char *err, size_t errlen)
{
	char bdf[16], devdir[512], p[600], link[512];
	const char *drv;
	struct stat st;
	struct dirent *de;
	DIR *d;
	ssize_t n;
	int rc;

	if (!sysfs_root)
		sysfs_root = "/sys";
	if (!dev_root)
		dev_root = "/dev";
	if (vfio_parse_bdf(bdf_in, bdf, sizeof(bdf)))
		return resolve_err(err, errlen, -EINVAL, "vfio: '%s' is not a PCI address (expected DDDD:BB:DD.F)", bdf_in);
	snprintf(devdir, sizeof(devdir), "%s/bus/pci/devices/%s", sysfs_root, bdf);
	if (stat(devdir, &st) || !S_ISDIR(st.st_mode))
		return resolve_err(err, errlen, -ENODEV, "vfio %s: no such PCI device (%s does not exist)", bdf, devdir);

	snprintf(p, sizeof(p), "%s/driver", devdir);
	n = readlink(p, link, sizeof(link) - 1);
	if (n < 0) {
		return resolve_err(err, errlen, -EPERM,
				   "vfio %s: not bound to vfio-pci (no driver); bind it with: "
				   "echo vfio-pci > %s/driver_override; echo %s > %s/bus/pci/drivers_probe",
				   bdf, devdir, bdf, sysfs_root);
	}
	link[n] = '\0';
	drv = strrchr(link, '/');
	drv = drv ? drv + 1 : link;
	if (strcmp(drv, "vfio-pci")) {
		return resolve_err(err, errlen, -EPERM,
				   "vfio %s: bound to %s, not vfio-pci; bind it with: echo %s > %s/driver/unbind; "
				   "echo vfio-pci > %s/driver_override; echo %s > %s/bus/pci/drivers_probe",
				   bdf, drv, bdf, devdir, devdir, bdf, sysfs_root);
	}

	snprintf(p, sizeof(p), "%s/vfio-dev", devdir);
	d = opendir(p);
	rc = -ENOTSUP;
	if (d) {
		while ((de = readdir(d))) {
			unsigned int idx;

			if (strncmp(de->d_name, "vfio", 4) || !de->d_name[4] ||
			    sscanf(de->d_name + 4, "%u", &idx) != 1)
				continue;
			if ((size_t)snprintf(path, pathlen, "%s/vfio/devices/vfio%u", dev_root, idx) >= pathlen)
				rc = -ENAMETOOLONG;
			else
				rc = 0;
			break;
		}
		closedir(d);
	}
	if (rc == -ENAMETOOLONG)
		return resolve_err(err, errlen, rc, "vfio %s: cdev path under %s too long", bdf, dev_root);
	if (rc)
		return resolve_err(err, errlen, rc,
				   "vfio %s: bound to vfio-pci but has no VFIO cdev (%s is missing or empty): "
				   "kernel without CONFIG_VFIO_DEVICE_CDEV?", bdf, p);
	return 0;
}

void vfio_open_errmsg(const char *bdf, const char *path, int e, char *buf, size_t len)
{
	const char *hint = "";

	switch (e) {
	case EBUSY:
		hint = " (the device is in use: another VMM or process has it open)";
		break;
	case ENOENT:
		hint = " (no device node: is devtmpfs mounted on /dev?)";
		break;
	case EACCES:
	case EPERM:
		hint = " (need root or write access to the VFIO cdev)";
		break;
	}
	snprintf(buf, len, "vfio %s: cannot open %s: %s%s", bdf, path, strerror(e), hint);
}
