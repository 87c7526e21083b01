# events-fault: a stage-1 fault of a passthrough device reaches the guest's own SMMU driver through ivmm's vSMMU
# event queue. In L2, l2-events-fault makes edu (through L2's iommufd) DMA to an IOVA it never mapped; L2's
# arm-smmu-v3 driver must dump F_TRANSLATION (0x10) events whose StreamID (dword0 63:32) is edu's vSID and whose
# address and direction (RnW) are the faulting access's, and L2's event queue interrupt count (/proc/interrupts,
# arm-smmu-v3-evtq) must grow. Run twice: with the vSMMU's MSIs (default: L2's event interrupt must be an MSI
# through the vITS, "ITS-pMSI") and with `--viommu smmuv3,msi=off` (it must be the wired eventq SPI, "GICv3").
# Both times ivmm's --stats must show events delivered > 0 and event interrupts (irqs) > 0, no error lines,
# and ivmm must exit 0.
# timeout: 420
# variants: 64k
for mode in msi wired; do
	opt=smmuv3
	[ $mode = wired ] && opt=smmuv3,msi=off
	lab_info "--- $mode: --viommu $opt"
	lab_run_edu_l2 l2-events-fault 180 --viommu $opt --stats
	out=/tmp/events-fault-$mode.out
	cp /tmp/l2-events-fault.out $out
	deliv=$(lab_vsmmu_stat $out delivered) || exit 1
	irqs=$(lab_vsmmu_stat $out irqs) || exit 1
	lost=$(lab_vsmmu_stat $out lost-host) || exit 1
	full=$(lab_vsmmu_stat $out dropped-full) || exit 1
	line=$(sed -n 's/^l2-events-fault: event queue interrupt after: //p' $out | tail -n 1 | tr -d '\r')
	lab_info "$mode: L2's event queue interrupt: $line"
	lab_info "$mode: vsmmu0 events delivered $deliv, irqs $irqs, dropped-full $full, lost-host $lost"
	errs=$(grep -c '^ivmm: error' $out)
	[ "$errs" = 0 ] || lab_fail "$mode: ivmm printed $errs error line(s): $(grep '^ivmm: error' $out | head -n 1)"
	[ "$deliv" -gt 0 ] || lab_fail "$mode: vsmmu0 delivered no event to the guest's event queue"
	[ "$irqs" -gt 0 ] || lab_fail "$mode: vsmmu0 raised no event queue interrupt"
	# The vSMMU's MSI goes through the vITS (L2 names it ITS-pMSI-<smmu>); msi=off leaves the GIC's SPI.
	case "$mode:$line" in
	msi:*MSI*|wired:*GIC*) ;;
	msi:*) lab_fail "the vSMMU offers MSIs, but L2's event queue interrupt is not one: $line" ;;
	*) lab_fail "msi=off, but L2's event queue interrupt is not the wired SPI: $line" ;;
	esac
done
echo "events-fault: edu's F_TRANSLATION reached L2's driver with its vSID, by MSI and by the wired interrupt"
