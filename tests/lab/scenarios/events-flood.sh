# events-flood: an event storm against an 8-entry event queue (`--viommu smmuv3,evtq=3`). In L2, l2-events-flood
# makes 4 edu DMAs of 4 KiB to an unmapped IOVA (QEMU's SMMU raises one F_TRANSLATION per 4-byte access: 4096
# events), waits for the driver's dump rate limit to reset, then makes one 4-byte faulting DMA (one event). L2
# must report the loss ("EVTQ overflow detected"), dump the late event after it (edu's StreamID, its address),
# and dump nothing else; ivmm must stay up, print no error and exit 0. What can be counted, and is checked:
#   A = faulting accesses L2 made = events the host SMMU raised (L1's own event queue is far larger);
#   C = dumps + "arm_smmu_dump_event: N callbacks suppressed" in L2's log = events L2's driver took from its
#       queue (its dumps are rate-limited to 10 per 5 s; the late event closes the storm's last interval);
#   delivered = C: what ivmm wrote into the guest's queue is exactly what the guest's driver read;
#   delivered + dropped-full + dropped-abort + while-disabled + lost-host = A: every event the host raised is
#       either in the guest's queue or counted as lost (dropped-full: guest queue full; lost-host: lost in the
#       kernel's vEVENTQ, a LOST_EVENTS record or a sequence gap);
#   dropped-full + lost-host > 0: the loss L2 reported was counted by ivmm.
# timeout: 300
lab_run_edu_l2 l2-events-flood 240 --viommu smmuv3,evtq=3 --stats
out=/tmp/l2-events-flood.out
sums=$(sed -n 's/^l2-events-flood: faulting accesses \([0-9]*\); L2.s driver: dumps \([0-9]*\) + suppressed \([0-9]*\) = consumed \([0-9]*\); overflows \([0-9]*\).*/\1 \2 \3 \4 \5/p' $out | tail -n 1)
[ -n "$sums" ] || lab_fail "l2-events-flood printed no 'faulting accesses' line"
set -- $sums
acc=$1 dumps=$2 supp=$3 cons=$4 ovf=$5
deliv=$(lab_vsmmu_stat $out delivered) || exit 1
full=$(lab_vsmmu_stat $out dropped-full) || exit 1
abt=$(lab_vsmmu_stat $out dropped-abort) || exit 1
dis=$(lab_vsmmu_stat $out while-disabled) || exit 1
lost=$(lab_vsmmu_stat $out lost-host) || exit 1
irqs=$(lab_vsmmu_stat $out irqs) || exit 1
reads=$(lab_vsmmu_stat $out reads) || exit 1
total=$((deliv + full + abt + dis + lost))
lab_info "L2: $acc faulting accesses; its driver dumped $dumps events, suppressed $supp (consumed $cons), reported $ovf overflows"
lab_info "vsmmu0: delivered $deliv + dropped-full $full + dropped-abort $abt + while-disabled $dis + lost-host $lost = $total; irqs $irqs, vEVENTQ reads $reads"
errs=$(grep -c '^ivmm: error' $out)
[ "$errs" = 0 ] || lab_fail "ivmm printed $errs error line(s): $(grep '^ivmm: error' $out | head -n 1)"
[ "$ovf" -gt 0 ] || lab_fail "L2 reported no EVTQ overflow"
[ $((full + lost)) -gt 0 ] || lab_fail "L2 reported $ovf overflows but vsmmu0 counted no lost event"
[ "$deliv" -ge "$dumps" ] || lab_fail "L2's driver dumped $dumps events but vsmmu0 delivered only $deliv"
[ "$deliv" = "$cons" ] || lab_fail "vsmmu0 delivered $deliv events, L2's driver consumed $cons ($dumps dumped + $supp suppressed)"
[ "$total" = "$acc" ] || lab_fail "vsmmu0 accounted for $total events (delivered + dropped + lost), L2 made $acc faulting accesses"
echo "events-flood: $acc events: $deliv delivered (all consumed by L2), $full dropped on a full queue, $lost lost in the kernel; L2 saw the overflow and a later event"
