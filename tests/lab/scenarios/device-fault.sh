# device-fault: device-agnostic where the device can be made to fault (the device under test, lab_dut_bdf: edu
# in the lab, run-host.sh's first --device on a host, which skips this for devices the lab knows no DMA trigger
# for: tests/lab/progs/l2_dma_trigger.h has edu and NVMe controllers). Behind the vSMMU (guest-vfio=on),
# l2-dev-fault makes the device access an IOVA its guest IOAS never mapped; the stage-1 fault must reach L2's
# arm-smmu-v3 driver as an F_TRANSLATION event for the device's StreamID, with an event queue interrupt. From
# ivmm's --stats: the events were delivered to the guest's queue (delivered >= the faults L2 saw), none
# dropped for a full queue or an abort.
# needs: device-dma
# timeout: 240
lab_run_dut_l2 l2-dev-fault 180 --viommu smmuv3 --stats
out=/tmp/l2-dev-fault.out
faults=$(sed -n 's/^l2-dev-fault: faults \([0-9][0-9]*\).*/\1/p' $out | tail -n 1)
[ -n "$faults" ] || lab_fail "l2-dev-fault printed no 'faults N' line"
del=$(lab_vsmmu_stat $out delivered) || exit 1
full=$(lab_vsmmu_stat $out dropped-full) || exit 1
abt=$(lab_vsmmu_stat $out dropped-abort) || exit 1
lab_info "vsmmu0: $faults fault event(s) seen by L2, $del delivered, $full dropped (full), $abt dropped (abort)"
[ "$del" -ge "$faults" ] || lab_fail "L2 saw $faults fault events but vsmmu0 delivered only $del"
[ "$full" = 0 ] && [ "$abt" = 0 ] || lab_fail "vsmmu0 dropped events: $full for a full queue, $abt for an abort"
echo "device-fault: $(lab_dut_bdf): $faults stage-1 fault(s) reached the guest's SMMU driver through vsmmu0"
