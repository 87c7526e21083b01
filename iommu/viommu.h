/* viommu.h: the vIOMMU contract, what the machine (vmm/passthrough.c) asks of an emulated IOMMU model and
 * what a model asks of each device behind it. The machine fills a struct viommu_config (where the model's
 * frame and interrupts are, the shared iommufd context and IOAS, the streams with their per-device ops, the
 * main loop) and drives the model only through its struct viommu_ops: create, its MMIO region for the bus,
 * its counters, its state, fault injection, its trace, destroy. A model embeds struct viommu in its own
 * object and gives its ops table; the vSMMU (iommu/vsmmu.h, vsmmu_viommu_ops) is the first one. The model's device-tree node is written by boot/fdt.c
 * from the config and the address map alone (the tree is a pure function of them, --dump-dtb needs no
 * model), with the compatible that ops->compatible names. */
#ifndef IVMM_IOMMU_VIOMMU_H
#define IVMM_IOMMU_VIOMMU_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include "iommu/iommufd.h"
#include "vmm/bus.h"
#include "vmm/compiler.h"
#include "vmm/guest_mem.h"
#include "vmm/hv.h"
#include "vmm/loop.h"

#define VIOMMU_MAX_STREAMS 16

/* What a vIOMMU model asks of the device behind one of its streams; the machine implements it over its
 * VFIO device (vmm/viommu_vfio.h). Called with the iommufd lock (viommu_config.ictx_lock) held. */
struct viommu_stream_ops {
	/* Attach the device to the HWPT pt_id, or replace what it is attached to with it. 0 or -errno; the
	 * failure's one line is in last_err(dev), printed here too unless how is FAIL_QUIET (the model then
	 * reports it itself, rate-limited, because the guest drove the change). */
	int (*attach)(void *dev, u32 pt_id, enum fail_report how);
	/* Detach the device (iommufd then blocks its DMA). 0 or -errno after one printed line. */
	int (*detach)(void *dev);
	/* The line of the last failed attach or detach. */
	const char *(*last_err)(void *dev);
};

/* One passthrough device behind the vIOMMU: bound to the iommufd (dev_id valid), not attached. */
struct viommu_stream_config {
	const char *name;          /* device name for messages */
	const struct viommu_stream_ops *ops;
	void *dev;                 /* the context of ops (not owned) */
	u32 dev_id;                /* the device's iommufd dev_id (from its bind) */
	u32 vsid;                  /* the StreamID the guest sees (the device tree's iommu-map) */
};

/* What the machine gives a vIOMMU model to create it from. */
struct viommu_config {
	const char *name;          /* "vsmmu0", for messages and --stats */
	u64 base;                  /* guest physical base of the frame (the model's region size) */
	u32 spi_evtq, spi_gerror, spi_sync; /* wired interrupts (GIC SPI numbers) */
	u32 msi_devid;             /* the model's own ITS device id (its msi-parent specifier) */
	u64 msi_doorbell;          /* GPA of the vITS GITS_TRANSLATER: MSI writes there become hv MSIs */
	bool no_msi;               /* hide MSI support (SMMUv3: IDR0.MSI): the guest uses the wired interrupts */
	unsigned int evtq_log2;    /* SMMUv3: IDR1.EVTQS offered (1..VSMMU_EVTQS), 0 = VSMMU_EVTQS */
	struct iommufd *ictx;      /* the VM's iommufd context (not owned) */
	pthread_mutex_t *ictx_lock; /* serialises calls on ictx among the models that share it */
	u32 ioas_id;               /* IOAS holding guest RAM at IOVA = GPA */
	const struct guest_mem *mem;
	struct hv *hv;
	unsigned int nstreams;     /* 1..VIOMMU_MAX_STREAMS, all behind one host SMMU */
	struct viommu_stream_config streams[VIOMMU_MAX_STREAMS];
	/* The main loop that serves the vEVENTQ fd (see vmm/loop.h for the contract); loop.watch NULL: no
	 * vEVENTQ is allocated (events ivmm raises itself still reach the guest). */
	struct loop_watcher loop;
	/* Send an event to every vCPU (wakes WFE): a CMD_SYNC with CS=SEV completes with it (NULL: none). Called
	 * with the model's lock held; must not block. */
	void (*sev)(void *ctx);
	void *sev_ctx;             /* the context of sev */
};

struct viommu_ops;

/* A model instance as the machine sees it (the model's object embeds it). */
struct viommu {
	const struct viommu_ops *ops;
};

/* Structured output a model writes its counters and state into, without knowing the format (the control
 * socket, vmm/ctl_json.c, makes JSON of it; iommu/ stays free of a JSON library). key is NULL inside an
 * array. begin opens an object (array false) or an array, end closes the innermost one. */
struct viommu_out {
	void (*uint)(void *ctx, const char *key, u64 v);
	void (*sint)(void *ctx, const char *key, long long v);
	void (*num)(void *ctx, const char *key, double v);
	void (*str)(void *ctx, const char *key, const char *v);
	void (*flag)(void *ctx, const char *key, bool v);
	void (*begin)(void *ctx, const char *key, bool array);
	void (*end)(void *ctx);
	void *ctx;
};

/* A fault or error to inject as if the hardware had raised it. kind: "event" (type an architected event name
 * or number, sid its StreamID, addr its address), "gerror" (type a global error name), "cmd-error" (type the
 * error the next command fails with), "evtq-overflow" (no type). */
struct viommu_inject {
	const char *kind;
	const char *type;          /* NULL when the kind takes none */
	u32 sid;
	u64 addr;
};

/* What the machine asks of a vIOMMU model. */
struct viommu_ops {
	const char *kind;          /* the --viommu value that selects it ("smmuv3") */
	const char *compatible;    /* its device-tree compatible ("arm,smmu-v3") */
	/* Build the model and its iommufd objects from cfg, its streams attached as the model is at reset. On
	 * failure everything done is undone and one message names the step and the device. 0 or -errno. */
	int __must_check (*create)(const struct viommu_config *cfg, struct viommu **out);
	/* The MMIO region to register on the bus (valid until destroy). */
	struct mmio_region *(*region)(struct viommu *v);
	/* Its name (viommu_config.name). */
	const char *(*name)(struct viommu *v);
	/* Print the counters as "stats: NAME ..." lines (info level): what --stats and SIGUSR1 show. */
	void (*stats_print)(struct viommu *v);
	/* The same counters into out (a consistent copy, taken under the model's lock). */
	void (*stats)(struct viommu *v, const struct viommu_out *out);
	/* The model's state (registers, queues, per stream, the event path) into out, under its lock. */
	void (*dump)(struct viommu *v, const struct viommu_out *out);
	/* Inject req under the model's lock. 0, or -EINVAL for a request the model does not know (why, one
	 * line, in err). Counted in the model's stats. */
	int (*inject)(struct viommu *v, const struct viommu_inject *req, char *err, size_t errlen);
	/* Trace on (appended to the file path, or stderr when NULL) or off: each guest command and what the
	 * model did with it, each iommufd call and its result, one rate-limited line each. 0 or -errno (why in
	 * err). */
	int (*trace)(struct viommu *v, bool on, const char *path, char *err, size_t errlen);
	/* Detach the devices and free the model's objects in reverse; NULL is fine. The region must be off the
	 * bus (or the vCPUs stopped). */
	void (*destroy)(struct viommu *v);
};

#endif
