# events-teardown: stage-1 fault events in flight while L2 tears edu's translation down. In L2,
# l2-events-teardown runs 9 rounds, each with 4 KiB faulting edu DMAs (1024 events each) and then, while those
# events are still on their way, closing edu's VFIO cdev and iommufd, unbinding edu from vfio-pci (rebound next
# round) or detaching it from its IOAS and attaching it again: every round makes L2's arm-smmu-v3 driver
# rewrite edu's STE (new nested HWPTs in ivmm). Then a final DMA round trip through a fresh mapping must work,
# and L2 powers off while one more faulting DMA's events arrive (its driver disables the vSMMU). ivmm must not
# crash, must exit 0 and must print no `ivmm: error` line; its warnings and event counters are printed, and
# they add up: every record ivmm read from the vEVENTQ (host-records) or raised itself (events) was delivered
# into the guest's ring or counted where it went instead (dropped-full, dropped-abort, or while-disabled: after
# EVTQEN was cleared, never written into the ring); lost-host counts what the kernel lost before ivmm read.
# timeout: 360
lab_run_edu_l2 l2-events-teardown 300 --viommu smmuv3 --stats
out=/tmp/l2-events-teardown.out
lab_expect $out '^l2-events-teardown: final round trip' "edu did not work after the teardown rounds"
grep '^ivmm: warning' $out | head -n 5 | sed 's/^/info: ivmm said: /'
deliv=$(lab_vsmmu_stat $out delivered) || exit 1
lost=$(lab_vsmmu_stat $out lost-host) || exit 1
full=$(lab_vsmmu_stat $out dropped-full) || exit 1
dis=$(lab_vsmmu_stat $out while-disabled) || exit 1
abt=$(lab_vsmmu_stat $out dropped-abort) || exit 1
read=$(lab_vsmmu_stat $out host-records) || exit 1
own=$(lab_vsmmu_stat $out events) || exit 1
nested=$(lab_vsmmu_stat $out nested-hwpts) || exit 1
att=$(lab_vsmmu_stat $out attaches) || exit 1
lab_info "vsmmu0: $nested nested HWPTs, $att attaches; events delivered $deliv, dropped-full $full, lost-host $lost, while-disabled $dis"
errs=$(grep -c '^ivmm: error' $out)
if [ "$errs" != 0 ]; then
	grep '^ivmm: error' $out | head -n 10 | sed 's/^/    | /'
	lab_fail "ivmm printed $errs error line(s): $(grep '^ivmm: error' $out | head -n 1)"
fi
[ $((read + own)) = $((deliv + full + abt + dis)) ] ||
	lab_fail "the event counters do not add up: read $read + raised $own != delivered $deliv + dropped-full $full + dropped-abort $abt + while-disabled $dis"
[ "$read" -gt 0 ] || lab_fail "no record was read from the vEVENTQ: the faulting DMAs raised no event"
[ "$nested" -gt 1 ] || lab_fail "vsmmu0 built $nested nested HWPTs: L2's STE rewrites did not reach it"
echo "events-teardown: 9 teardown rounds with events in flight, no ivmm error, edu works after"
