/* config_parse.c: value parsers shared by the CLI and the config file (see config_parse.h). Every reason
 * string is part of the user interface and checked word for word by tests/unit/test_cli.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "boot/layout.h"
#include "vmm/config_parse.h"

/* The numbers inside the reason strings below, kept in step with the layout at compile time. */
_Static_assert(LAYOUT_RAM_MIN == 64 * SZ_1M, "update the 'below the minimum' message");
_Static_assert(CONFIG_MEM_MAX == 511 * SZ_1G, "update the 'above the maximum' message");
_Static_assert(IVMM_MAX_CPUS == 64, "update the CPU count message");
_Static_assert(DEVICE_ID_MAX == 31, "update the device name message");

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

const char *parse_size(const char *s, u64 *out)
{
	static const char bad[] = "not a size (examples: 512M, 2G, 1048576)";
	size_t n = strlen(s), digits = strspn(s, "0123456789");
	unsigned int shift = 0;
	u64 v = 0;

	if (!all_digits(s, digits))
		return bad;
	if (n == digits + 1) {
		switch (s[digits]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		case 't': case 'T': shift = 40; break;
		default: return bad;
		}
	} else if (n != digits) {
		return bad;
	}
	for (size_t i = 0; i < digits; i++) {
		unsigned int d = (unsigned int)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return "too large";
		v = v * 10 + d;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return "too large";
	*out = v << shift;
	return NULL;
}

const char *parse_mem_size(const char *s, u64 *out)
{
	const char *why = parse_size(s, out);

	if (why && strcmp(why, "too large"))
		return why;
	if (why || *out > CONFIG_MEM_MAX)
		return "above the maximum of 511G (guest RAM must end below the 64-bit PCI window at 0x8000000000)";
	if (*out < LAYOUT_RAM_MIN)
		return "below the minimum of 64M";
	if (!IS_ALIGNED(*out, SZ_2M))
		return "not a multiple of 2 MiB";
	return NULL;
}

const char *parse_cpus(const char *s, unsigned int *out)
{
	static const char bad[] = "not a CPU count from 1 to 64";
	size_t n = strlen(s);
	unsigned int v = 0;

	if (!all_digits(s, n) || n > 3)
		return bad;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned int)(s[i] - '0');
	if (v < 1 || v > IVMM_MAX_CPUS)
		return bad;
	*out = v;
	return NULL;
}

const char *parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return NULL;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return NULL;
		}
	}
	return "not a boolean (true/false, yes/no, on/off, 1/0)";
}

/* Exactly 1..max hex digits at *p, advancing *p; value into *v. */
static bool hex_field(const char **p, size_t max, unsigned int *v)
{
	size_t n = 0;

	*v = 0;
	while (isxdigit((unsigned char)(*p)[n])) {
		if (++n > max)
			return false;
		char c = (char)tolower((unsigned char)(*p)[n - 1]);
		*v = *v * 16 + (unsigned int)(isdigit((unsigned char)c) ? c - '0' : c - 'a' + 10);
	}
	*p += n;
	return n > 0;
}

const char *parse_bdf(const char *s, char out[BDF_STR_LEN])
{
	static const char bad[] = "not a PCI address (DDDD:BB:DD.F or BB:DD.F)";
	unsigned int f[4] = { 0 };
	const char *p = s;

	/* With a domain there are two ':' before the '.'. */
	bool has_domain = strchr(s, ':') && strchr(strchr(s, ':') + 1, ':');
	unsigned int i = has_domain ? 0 : 1;

	for (; i < 4; i++) {
		static const char sep[] = { ':', ':', '.', '\0' };
		static const size_t width[] = { 4, 2, 2, 1 };

		if (!hex_field(&p, width[i], &f[i]) || *p != sep[i])
			return bad;
		if (sep[i])
			p++;
	}
	if (f[2] > 0x1f || f[3] > 7)
		return bad;
	snprintf(out, BDF_STR_LEN, "%04x:%02x:%02x.%x", f[0], f[1], f[2], f[3]);
	return NULL;
}

const char *check_device_id(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > DEVICE_ID_MAX || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					       "0123456789_.-") != n)
		return "not a valid name (1 to 31 letters, digits, '_', '.' or '-')";
	return NULL;
}

const char *parse_driver(const char *s, enum vm_device_driver *out)
{
	if (!strcmp(s, "vfio-pci")) {
		*out = VM_DEV_VFIO_PCI;
		return NULL;
	}
	return "unknown driver (supported: vfio-pci)";
}

const char *driver_name(enum vm_device_driver d)
{
	switch (d) {
	case VM_DEV_VFIO_PCI:
		return "vfio-pci";
	}
	return "?";
}

const char *parse_viommu(const char *s, struct vm_config *cfg)
{
	static const char bad[] = "not smmuv3[,msi=on|off][,evtq=1..12] or none";
	char buf[64], *tok, *save = NULL;
	enum vm_viommu kind;
	bool msi = true;
	unsigned int evtq = 0;

	if (strlen(s) >= sizeof(buf))
		return bad;
	strcpy(buf, s);
	tok = strtok_r(buf, ",", &save);
	if (!tok)
		return bad;
	if (!strcmp(tok, "smmuv3"))
		kind = VM_VIOMMU_SMMUV3;
	else if (!strcmp(tok, "none") || !strcmp(tok, "off"))
		kind = VM_VIOMMU_NONE;
	else
		return "unknown vIOMMU (supported: smmuv3, none)";
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (kind != VM_VIOMMU_SMMUV3)
			return bad;
		if (!strncmp(tok, "msi=", 4)) {
			if (parse_bool(tok + 4, &msi))
				return "msi= is not a boolean (on/off)";
		} else if (!strncmp(tok, "evtq=", 5)) {
			const char *v = tok + 5;

			if (!*v || strlen(v) > 2 || strspn(v, "0123456789") != strlen(v) || atoi(v) < 1 ||
			    atoi(v) > IVMM_VSMMU_EVTQ_LOG2_MAX)
				return "evtq= is not a queue size from 1 to 12 (log2 of entries)";
			evtq = (unsigned int)atoi(v);
		} else {
			return bad;
		}
	}
	cfg->viommu = kind;
	cfg->viommu_msi = msi;
	cfg->viommu_evtq_log2 = evtq;
	return NULL;
}

const char *check_device_viommu(const char *s)
{
	if (!strcmp(s, "off"))
		return NULL;
	return check_device_id(s) ? "not 'off' or a vSMMU name (1 to 31 letters, digits, '_', '.' or '-')" : NULL;
}

const char *parse_vsid(const char *s, u32 *out)
{
	static const char bad[] = "not a StreamID from 0 to 0xffff";
	unsigned long v = 0;
	const char *p = s;
	bool hex = !strncmp(s, "0x", 2) || !strncmp(s, "0X", 2);

	if (hex)
		p += 2;
	if (!*p || strlen(p) > (hex ? 4 : 5) || strspn(p, hex ? "0123456789abcdefABCDEF" : "0123456789") != strlen(p))
		return bad;
	for (; *p; p++)
		v = v * (hex ? 16 : 10) + (unsigned long)(isdigit((unsigned char)*p) ? *p - '0' : tolower((unsigned char)*p) - 'a' + 10);
	if (v > 0xffff)
		return bad;
	*out = (u32)v;
	return NULL;
}
