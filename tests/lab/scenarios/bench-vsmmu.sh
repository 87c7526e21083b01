# bench-vsmmu: the vSMMU's costs, measured in the lab for tests/lab/bench.sh (`BENCH key value unit` lines).
#   invalidation: L2's map/unmap loop (l2-vsmmu-inval) -> commands per IOMMU_HWPT_INVALIDATE (ivmm's --stats)
#     and invalidation commands per second of the loop (L2's own timing of its cycles);
#   events: the faulting DMAs of l2-vsmmu-dma -> delivery latency (vEVENTQ wake-up in ivmm's main loop ->
#     the guest's interrupt sent, p50 and p99 from ivmm's timestamps) and the delivery rate, with no loss
#     in the kernel's queue (lost-host must be 0, or the numbers are refused).
# @noril (run.sh NAME@VARIANT: a host without range invalidation) measures the invalidation part only, as
# vsmmu-cmds-per-ioctl-noril: the guest then invalidates page by page and ivmm still makes one ioctl per CMD_SYNC
# (QEMU's accelerated SMMUv3 makes one per command, so its figure would be 1).
# A run that fails prints no BENCH line for its keys, so bench.sh reports them missing.
# manual
# timeout: 420
# variants: noril
lab_run_edu_l2 l2-vsmmu-inval 240 --viommu smmuv3 --stats
out=/tmp/l2-vsmmu-inval.out
icmds=$(lab_vsmmu_stat $out inval-cmds) || exit 1
iioctls=$(lab_vsmmu_stat $out inval-ioctls) || exit 1
ms=$(sed -n 's/^l2-vsmmu-inval: .* map\/unmap cycles .* in \([0-9][0-9]*\) ms.*/\1/p' $out | tail -n 1)
[ -n "$ms" ] && [ "$ms" -gt 0 ] || lab_fail "l2-vsmmu-inval printed no loop time"
[ "$iioctls" -gt 0 ] || lab_fail "no IOMMU_HWPT_INVALIDATE issued"
if [ "$(lab_variant)" = noril ]; then
	echo "BENCH vsmmu-cmds-per-ioctl-noril $(awk -v c="$icmds" -v i="$iioctls" 'BEGIN { printf "%.2f", c / i }') cmds"
	exit 0
fi
echo "BENCH vsmmu-cmds-per-ioctl $(awk -v c="$icmds" -v i="$iioctls" 'BEGIN { printf "%.2f", c / i }') cmds"
echo "BENCH vsmmu-inval-cmds-per-s $(awk -v c="$icmds" -v m="$ms" 'BEGIN { printf "%.0f", c * 1000 / m }') cmds/s"

lab_run_edu_l2 l2-vsmmu-dma 180 --viommu smmuv3 --stats
out=/tmp/l2-vsmmu-dma.out
delivered=$(lab_vsmmu_stat $out delivered) || exit 1
lost=$(lab_vsmmu_stat $out lost-host) || exit 1
[ "$delivered" -gt 0 ] || lab_fail "no event reached the guest"
[ "$lost" = 0 ] || lab_fail "$lost events lost in the kernel's vEVENTQ: the rate is not a loss-free one"
echo "BENCH vsmmu-event-latency-p50-us $(lab_vsmmu_stat $out latency-p50-us) us"
echo "BENCH vsmmu-event-latency-p99-us $(lab_vsmmu_stat $out latency-p99-us) us"
echo "BENCH vsmmu-events-per-s $(lab_vsmmu_stat $out events-per-s) events/s"
