/* vsmmu.h: the emulated SMMUv3 (vSMMU) a guest drives with its own arm-smmu-v3 driver, backed by an iommufd
 * vIOMMU so that the physical SMMU translates the guest's passthrough devices in two stages: the guest's
 * stage 1 (its context descriptors and page tables) over ivmm's stage 2 (the IOAS holding guest RAM).
 *
 * What the guest sees: one SMMUv3 MMIO frame (page 0 + page 1) with stage 1 only, AArch64 tables,
 * little-endian, linear and 2-level stream tables, no stall, no substreams, no ATS, MSIs; its ID registers
 * are the host SMMU's (the fields the iommufd uAPI lets a VMM read) masked to that. What ivmm does with what
 * the guest programs (docs/vsmmu.md has the full mapping):
 *   - an STE (read from the guest's stream table at CFGI_STE/CFGI_STE_RANGE/CFGI_ALL, and at SMMUEN 0->1)
 *     becomes the device's HWPT: abort and bypass map to two preallocated nested HWPTs, a stage-1 STE to a
 *     nested HWPT of its own (IOMMU_HWPT_ALLOC with the STE fields the kernel accepts), attached
 *     make-before-break; while SMMUEN=0, GBPA decides between abort and bypass;
 *   - invalidations (CFGI_CD*, TLBI_NH_*, TLBI_NSNH_ALL) are checked as the kernel would check them and
 *     gathered; everything up to a CMD_SYNC, a configuration command or the end of the queue goes to the
 *     kernel in ONE IOMMU_HWPT_INVALIDATE on the vIOMMU;
 *   - an illegal command sets CMDQ_CONS.ERR = CERROR_ILL at its index and GERROR.CMDQ_ERR, and the queue stops
 *     until the guest acknowledges through GERRORN, as the architecture says; a queue in memory the guest
 *     does not have gives CERROR_ABT;
 *   - CMD_SYNC completes with SEV, a wired interrupt, or its MSI write (a 32-bit write into guest RAM, or an
 *     MSI to the vITS when MSIAddress is its doorbell);
 *   - events (the kernel's vEVENTQ while the guest has EVTQEN set, and the ones ivmm raises for STEs it
 *     refuses) go into the guest's EVTQ, loss shown as OVFLG, one interrupt per batch (vsmmu_evtq.c).
 * Objects (all through iommu/iommufd.h, in this order): a nest-parent stage-2 HWPT on the IOAS, a vIOMMU on it,
 * a vDEVICE per stream (virt_id = the guest StreamID) before any STE can be attached, the abort and bypass
 * nested HWPTs. vsmmu_destroy() detaches every device and frees them in reverse.
 *
 * The machine gives it a struct viommu_config (iommu/viommu.h) and reaches it through vsmmu_viommu_ops.
 *
 * Threading: every register access and everything it triggers runs under the vSMMU's own lock; calls on the
 * iommufd context, which several vSMMUs share, also take the caller's ictx_lock. Guest mistakes never fail
 * the VMM: they become the architected error plus a rate-limited log_guest() line. */
#ifndef IVMM_IOMMU_VSMMU_H
#define IVMM_IOMMU_VSMMU_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include "iommu/iommufd.h"
#include "iommu/viommu.h"
#include "vmm/bus.h"
#include "vmm/compiler.h"

struct vsmmu;

#define VSMMU_LAT_SAMPLES 1024

/* Counters for --stats (vsmmu_stats_print). */
struct vsmmu_stats {
	u64 cmds[256];             /* commands consumed, by opcode */
	u64 cmd_errors;            /* CERROR_ILL/ABT raised */
	u64 inv_cmds;              /* invalidation commands handed to the kernel */
	u64 inv_ioctls;            /* IOMMU_HWPT_INVALIDATE calls */
	u64 inv_max_batch;         /* most commands in one call */
	u64 inv_dropped;           /* SID-carrying invalidations for a StreamID with no device, and those that
				    * came after a service failure (no-ops) */
	u64 inv_repeats;           /* batches issued a second time for the host's REPEAT_TLBI_CFGI erratum */
	u64 inv_reissued;          /* commands issued again because the kernel refused a later one in their block */
	u64 inv_host_errors;       /* batches the host failed (not a refusal): CERROR_ABT, the guest retries */
	u64 attach_failures;       /* HWPT replacements the host refused (the stream then aborts) */
	u64 blocked;               /* streams detached (DMA blocked) because even the abort HWPT was refused */
	u64 sfm;                   /* 1 once the vSMMU entered service failure (GERROR.SFM_ERR) */
	u64 nested_allocs;         /* nested HWPTs allocated for stage-1 STEs */
	u64 attaches;              /* HWPT replacements */
	u64 ste_errors;            /* STEs that could not be fetched or were refused (stream aborted) */
	u64 events;                /* events raised by ivmm itself (C_BAD_STE, F_STE_FETCH ...) */
	u64 sync_msis;             /* CMD_SYNC MSI writes (to memory or to the vITS) */
	u64 sync_irqs;             /* CMD_SYNC wired interrupts */
	u64 sync_sevs;             /* CMD_SYNC completions with CS=SEV (an event sent to every vCPU) */
	u64 evt_delivered;         /* event records written into the guest's EVTQ */
	u64 evt_dropped_full;      /* dropped because the guest's EVTQ was full (OVFLG) */
	u64 evt_dropped_abt;       /* dropped because the EVTQ is outside guest RAM (EVENTQ_ABT_ERR) */
	u64 evt_disabled;          /* arrived while EVTQEN was 0 */
	u64 evt_lost_host;         /* lost in the kernel's vEVENTQ (LOST_EVENTS, sequence gaps): OVFLG too */
	u64 evt_irqs;              /* EVTQ interrupts (MSI or wired), one per batch */
	u64 evt_reads;             /* read()s of the vEVENTQ that returned records */
	u64 injected;              /* faults and errors injected through the control socket (vsmmu_inject) */
	u64 evt_host_records;      /* event records read from the vEVENTQ: with the events ivmm raised itself,
				    * they add up to delivered + dropped-full + dropped-abort + while-disabled */
	/* Delivery latency of vEVENTQ batches: the main loop's wake-up for the readable fd -> the guest's
	 * interrupt sent (or the records written, with interrupts off); the last VSMMU_LAT_SAMPLES batches. */
	u32 lat_ns[VSMMU_LAT_SAMPLES];
	u64 lat_n;                 /* batches measured (the ring holds the last min(lat_n, VSMMU_LAT_SAMPLES)) */
	u64 evt_first_ns, evt_last_ns; /* CLOCK_MONOTONIC of the first and last vEVENTQ record delivered */
};

/* The vSMMU as a vIOMMU model (iommu/viommu.h, kind "smmuv3"): its ops wrap the functions below. */
extern const struct viommu_ops vsmmu_viommu_ops;

/* Build the vSMMU and its iommufd objects, attach every stream as GBPA says at reset (bypass). On failure
 * everything done is undone and one message names the step and the device. Returns 0 or -errno. */
int __must_check vsmmu_create(const struct viommu_config *cfg, struct vsmmu **out);
/* Detach the devices and free the iommufd objects in reverse order; NULL is fine. The region must be off
 * the bus (or the vCPUs stopped). */
void vsmmu_destroy(struct vsmmu *vs);
/* The MMIO region (page 0 + page 1) to register on the bus. */
struct mmio_region *vsmmu_region(struct vsmmu *vs);
/* A consistent copy of the counters. */
void vsmmu_stats_get(struct vsmmu *vs, struct vsmmu_stats *out);
/* Print the counters as "stats: NAME ..." lines (info level). */
void vsmmu_stats_print(struct vsmmu *vs);
/* The counters (as vsmmu_stats_print prints them) and the state, into out (vsmmu_ctl.c). */
void vsmmu_stats_out(struct vsmmu *vs, const struct viommu_out *out);
void vsmmu_dump(struct vsmmu *vs, const struct viommu_out *out);
/* Inject an event, a global error, a command error or an EVTQ overflow (struct viommu_inject). 0 or -EINVAL
 * with why in err. */
int vsmmu_inject(struct vsmmu *vs, const struct viommu_inject *req, char *err, size_t errlen);
/* Trace on (to path, appended, or stderr when NULL) or off. 0 or -errno with why in err. */
int vsmmu_trace_set(struct vsmmu *vs, bool on, const char *path, char *err, size_t errlen);
/* Name of a command opcode ("CFGI_STE"), or NULL for one ivmm has no name for. */
const char *vsmmu_cmd_name(u8 op);

/* ID registers for the guest from the host SMMU's GET_HW_INFO (pure, for tests): only the fields the uAPI
 * says a VMM may read, masked to what the vSMMU emulates. idr[0..5]. */
void vsmmu_derive_idr(const struct iommu_hw_info_arm_smmuv3 *host, u32 idr[6]);

#endif
