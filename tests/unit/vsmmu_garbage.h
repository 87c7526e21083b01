/* vsmmu_garbage.h: a guest writing garbage to the vSMMU, as a rig shared by the unit test
 * (tests/unit/test_vsmmu_garbage.c, fixed seeds) and the libFuzzer target (tests/fuzz/vsmmu_garbage_fuzz.c,
 * `make fuzz`). On the vSMMU rig (vsmmu_rig.h: three devices on the fakes), from a sensible start (a linear
 * stream table with stage-1 STEs, queues in RAM, SMMUEN|CMDQEN|EVTQEN), each step is one of: a 32- or 64-bit
 * MMIO access at any offset of both pages (biased towards the real registers, with plausible values: bases in
 * or near guest RAM, queue pointers, GBPA updates, CR0 bits), guest memory rewritten (STEs of every kind,
 * level-1 descriptors, command queue entries legal and illegal, random words), a batch of commands published
 * the way a driver does, a driver skipping a failed command as Linux does, a blind GERROR acknowledgement, a
 * re-probe, or a one-shot host failure (HWPT alloc, attach, invalidate at an entry, vEVENTQ alloc, SPI).
 * After every step: the registers' own rules (CR0ACK = CR0, GBPA's UPDATE never seen, queue pointers within
 * the queue sizes, only architected GERROR bits, IDR0 unchanged) and rig_check's object invariants; at the
 * end the vSMMU's invalidation counters agree with what the kernel fake accepted, and vsmmu_destroy leaves
 * only the rig's IOAS. A broken one fails through rig_assert.h (Criterion, or abort() for the fuzzer). */
#ifndef IVMM_TEST_VSMMU_GARBAGE_H
#define IVMM_TEST_VSMMU_GARBAGE_H

#include "tests/unit/vsmmu_rig.h"

struct vg {
	struct vsmmu_rig rig;
	u64 rng;           /* xorshift state (data == NULL) */
	const u8 *data;    /* or the fuzzer's input: each choice takes the next 1, 2, 4 or 8 bytes */
	size_t len, pos;
	bool exhausted;    /* the input ran out: the run ends there */
	void *ram;         /* the guest RAM every run reuses (allocated by the first; vg_free frees it) */
};

/* One run: the rig built, up to steps steps with choices from seed (data NULL) or from data[0..len), the
 * final checks, the rig torn down (rig_fini: also safe to call again after a failed assertion). Returns the
 * steps done (fewer when the input ran out or the fake ran out of object ids). */
unsigned int vg_run(struct vg *g, u64 seed, const u8 *data, size_t len, unsigned int steps);
/* Free what the runs kept (the guest RAM). */
void vg_free(struct vg *g);

#endif
