/* bits.h: BIT/GENMASK/FIELD_GET/FIELD_PREP over 64-bit values, for every hardware register field. */
#ifndef IVMM_BITS_H
#define IVMM_BITS_H

#include <stdint.h>

#define BIT(n) (1ULL << (n))
/* Bits h..l inclusive, h >= l, both < 64. */
#define GENMASK(h, l) ((~0ULL >> (63 - (h))) & (~0ULL << (l)))
#define FIELD_SHIFT(mask) (__builtin_ctzll(mask))
#define FIELD_GET(mask, reg) ((uint64_t)(((uint64_t)(reg) & (mask)) >> FIELD_SHIFT(mask)))
#define FIELD_PREP(mask, val) ((((uint64_t)(val)) << FIELD_SHIFT(mask)) & (mask))
/* Does val fit in the field? */
#define FIELD_FIT(mask, val) (((((uint64_t)(val)) << FIELD_SHIFT(mask)) & ~(mask)) == 0)

#endif
