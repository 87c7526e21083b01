/* guest_mem.h: the guest's RAM as seen by the VMM. Every access to guest memory goes through these
 * bounds-checked helpers: a guest-supplied address that is out of RAM, or a range that wraps or runs past
 * the end, yields NULL / -EFAULT, never a host pointer outside the mapping. */
#ifndef IVMM_GUEST_MEM_H
#define IVMM_GUEST_MEM_H

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include "vmm/compiler.h"

struct guest_mem {
	u8 *host;  /* host mapping of guest RAM */
	u64 gpa;   /* guest physical base */
	u64 size;  /* bytes */
};

static inline bool gmem_contains(const struct guest_mem *m, u64 gpa, u64 len)
{
	if (!m->host || gpa < m->gpa)
		return false;
	u64 off = gpa - m->gpa;
	return off <= m->size && len <= m->size - off;
}

/* Host pointer for [gpa, gpa+len) or NULL if any byte is outside guest RAM. len may be 0. */
static inline void *gmem_ptr(const struct guest_mem *m, u64 gpa, u64 len)
{
	return gmem_contains(m, gpa, len) ? m->host + (gpa - m->gpa) : NULL;
}

static inline int __must_check gmem_read(const struct guest_mem *m, u64 gpa, void *dst, u64 len)
{
	const void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

static inline int __must_check gmem_write(const struct guest_mem *m, u64 gpa, const void *src, u64 len)
{
	void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

#endif
