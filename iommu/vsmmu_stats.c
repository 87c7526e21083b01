/* vsmmu_stats.c: the vSMMU's counters for --stats and SIGUSR1 (see vsmmu.h): a consistent copy under the
 * vSMMU's lock, and the "stats: NAME ..." lines (commands, invalidation batching, STEs and attaches, CMD_SYNC
 * completions, opcodes, event delivery with its latency percentiles), and the same counters under the same
 * names into a struct viommu_out for the control socket. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "iommu/vsmmu_internal.h"
#include "vmm/log.h"

static int cmp_u32(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/* Percentile p (0..100) of the latency samples, in microseconds; 0 without samples. */
static double lat_percentile_us(const struct vsmmu_stats *st, unsigned int p)
{
	u32 sorted[VSMMU_LAT_SAMPLES];
	size_t n = (size_t)MIN(st->lat_n, (u64)VSMMU_LAT_SAMPLES), i;

	if (!n)
		return 0;
	memcpy(sorted, st->lat_ns, n * sizeof(sorted[0]));
	qsort(sorted, n, sizeof(sorted[0]), cmp_u32);
	i = (n * p + 99) / 100;
	return (double)sorted[i ? i - 1 : 0] / 1000.0;
}

void vsmmu_stats_get(struct vsmmu *vs, struct vsmmu_stats *out)
{
	pthread_mutex_lock(&vs->lock);
	*out = vs->stats;
	pthread_mutex_unlock(&vs->lock);
}

void vsmmu_stats_print(struct vsmmu *vs)
{
	struct vsmmu_stats st;
	char ops[1024];
	size_t len = 0;
	u64 total = 0;

	vsmmu_stats_get(vs, &st);
	ops[0] = 0;
	for (unsigned int op = 0; op < 256; op++) {
		if (!st.cmds[op])
			continue;
		total += st.cmds[op];
		if (len < sizeof(ops))
			len += (size_t)snprintf(ops + len, sizeof(ops) - len, " %s=%llu",
						vsmmu_cmd_name((u8)op) ? vsmmu_cmd_name((u8)op) : "?",
						(unsigned long long)st.cmds[op]);
	}
	/* cmds-per-ioctl: per batch, the erratum's second issue of a batch not counted. */
	u64 batches = st.inv_ioctls - st.inv_repeats;

	pr_info("stats: %s commands %llu inval-cmds %llu inval-ioctls %llu cmds-per-ioctl %.1f max-batch %llu "
		"inval-dropped %llu inval-repeats %llu inval-reissued %llu inval-host-errors %llu nested-hwpts %llu "
		"attaches %llu attach-failures %llu blocked %llu ste-errors %llu cmd-errors %llu events %llu "
		"sync-msis %llu sync-irqs %llu sync-sevs %llu service-failure %llu injected %llu", vs->name,
		(unsigned long long)total,
		(unsigned long long)st.inv_cmds, (unsigned long long)st.inv_ioctls,
		batches ? (double)st.inv_cmds / (double)batches : 0.0,
		(unsigned long long)st.inv_max_batch, (unsigned long long)st.inv_dropped,
		(unsigned long long)st.inv_repeats, (unsigned long long)st.inv_reissued,
		(unsigned long long)st.inv_host_errors, (unsigned long long)st.nested_allocs,
		(unsigned long long)st.attaches, (unsigned long long)st.attach_failures, (unsigned long long)st.blocked,
		(unsigned long long)st.ste_errors, (unsigned long long)st.cmd_errors, (unsigned long long)st.events,
		(unsigned long long)st.sync_msis, (unsigned long long)st.sync_irqs, (unsigned long long)st.sync_sevs,
		(unsigned long long)st.sfm, (unsigned long long)st.injected);
	pr_info("stats: %s opcodes%s", vs->name, ops[0] ? ops : " none");
	double span_s = (double)(st.evt_last_ns - st.evt_first_ns) / 1e9;

	pr_info("stats: %s events delivered %llu dropped-full %llu dropped-abort %llu while-disabled %llu "
		"lost-host %llu host-records %llu irqs %llu reads %llu latency-p50-us %.1f latency-p99-us %.1f "
		"events-per-s %.0f",
		vs->name, (unsigned long long)st.evt_delivered, (unsigned long long)st.evt_dropped_full,
		(unsigned long long)st.evt_dropped_abt, (unsigned long long)st.evt_disabled,
		(unsigned long long)st.evt_lost_host, (unsigned long long)st.evt_host_records,
		(unsigned long long)st.evt_irqs, (unsigned long long)st.evt_reads,
		lat_percentile_us(&st, 50), lat_percentile_us(&st, 99),
		span_s > 0 ? (double)st.evt_delivered / span_s : 0.0);
}

void vsmmu_stats_out(struct vsmmu *vs, const struct viommu_out *o)
{
	struct vsmmu_stats st;
	u64 total = 0, batches;
	double span_s;

	vsmmu_stats_get(vs, &st);
	for (unsigned int op = 0; op < 256; op++)
		total += st.cmds[op];
	batches = st.inv_ioctls - st.inv_repeats;
	span_s = (double)(st.evt_last_ns - st.evt_first_ns) / 1e9;
	o->str(o->ctx, "name", vs->name);
	o->uint(o->ctx, "commands", total);
	o->uint(o->ctx, "inval-cmds", st.inv_cmds);
	o->uint(o->ctx, "inval-ioctls", st.inv_ioctls);
	o->num(o->ctx, "cmds-per-ioctl", batches ? (double)st.inv_cmds / (double)batches : 0.0);
	o->uint(o->ctx, "max-batch", st.inv_max_batch);
	o->uint(o->ctx, "inval-dropped", st.inv_dropped);
	o->uint(o->ctx, "inval-repeats", st.inv_repeats);
	o->uint(o->ctx, "inval-reissued", st.inv_reissued);
	o->uint(o->ctx, "inval-host-errors", st.inv_host_errors);
	o->uint(o->ctx, "nested-hwpts", st.nested_allocs);
	o->uint(o->ctx, "attaches", st.attaches);
	o->uint(o->ctx, "attach-failures", st.attach_failures);
	o->uint(o->ctx, "blocked", st.blocked);
	o->uint(o->ctx, "ste-errors", st.ste_errors);
	o->uint(o->ctx, "cmd-errors", st.cmd_errors);
	o->uint(o->ctx, "events", st.events);
	o->uint(o->ctx, "sync-msis", st.sync_msis);
	o->uint(o->ctx, "sync-irqs", st.sync_irqs);
	o->uint(o->ctx, "sync-sevs", st.sync_sevs);
	o->uint(o->ctx, "service-failure", st.sfm);
	o->uint(o->ctx, "injected", st.injected);
	o->begin(o->ctx, "opcodes", false);
	for (unsigned int op = 0; op < 256; op++) {
		char unk[8];
		const char *n = vsmmu_cmd_name((u8)op);

		if (!st.cmds[op])
			continue;
		if (!n) {
			snprintf(unk, sizeof(unk), "0x%02x", op);
			n = unk;
		}
		o->uint(o->ctx, n, st.cmds[op]);
	}
	o->end(o->ctx);
	o->begin(o->ctx, "event-delivery", false);
	o->uint(o->ctx, "delivered", st.evt_delivered);
	o->uint(o->ctx, "dropped-full", st.evt_dropped_full);
	o->uint(o->ctx, "dropped-abort", st.evt_dropped_abt);
	o->uint(o->ctx, "while-disabled", st.evt_disabled);
	o->uint(o->ctx, "lost-host", st.evt_lost_host);
	o->uint(o->ctx, "host-records", st.evt_host_records);
	o->uint(o->ctx, "irqs", st.evt_irqs);
	o->uint(o->ctx, "reads", st.evt_reads);
	o->num(o->ctx, "latency-p50-us", lat_percentile_us(&st, 50));
	o->num(o->ctx, "latency-p99-us", lat_percentile_us(&st, 99));
	o->num(o->ctx, "events-per-s", span_s > 0 ? (double)st.evt_delivered / span_s : 0.0);
	o->end(o->ctx);
}
