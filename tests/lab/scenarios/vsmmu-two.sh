# vsmmu-two: two passthrough devices, each behind its own vSMMU. L1's two edus go to L2 with
# `--device vfio-pci,host=EDU1,viommu=a,guest-vfio=on --device vfio-pci,host=EDU2,viommu=b,guest-vfio=on`
# (L2 takes both with its own VFIO/iommufd): L2 must see two SMMUs
# (l2-vsmmu-probe: two entries in /sys/class/iommu, each edu in an iommu group behind a different one, a clean
# arm-smmu-v3 log) and both edus must pass l2-vsmmu-dma (round trips both ways through L2's iommufd, blocked
# after the unmap, working after the remap). ivmm's --stats must show both vSMMUs, a and b, each with a nested
# HWPT, no command error, and events delivered (each edu's faulting DMAs after the unmap reach its own vSMMU).
# timeout: 300
lab_need_ivmm
b1=$(lab_edu_bdf) || exit 1
b2=$(lab_edu2_bdf) || exit 1
lab_bind_edu > /dev/null || exit 1
lab_bind_edu2 > /dev/null || exit 1
lab_info "edus $b1 (viommu=a) and $b2 (viommu=b)"
out=/tmp/vsmmu-two.out
lab_run_l2 240 $out --device "vfio-pci,host=$b1,viommu=a,guest-vfio=on" \
	--device "vfio-pci,host=$b2,viommu=b,guest-vfio=on" --stats \
	--cmdline "console=ttyS0 quiet ivmm.l2=l2-vsmmu-probe,l2-vsmmu-dma"
rc=$?
grep -E '^(ivmm:|l2-vsmmu-probe:|l2-vsmmu-dma:|L2-RESULT)' $out
[ $rc = 0 ] || { lab_tail $out 30; lab_fail "ivmm exited with status $rc"; }
lab_expect $out 'L2-RESULT l2-vsmmu-probe PASS' "l2-vsmmu-probe did not pass with two vSMMUs"
lab_expect $out 'L2-RESULT l2-vsmmu-dma PASS' "l2-vsmmu-dma did not pass on both edus"
lab_expect $out '^l2-vsmmu-dma: 2 of 2 edus passed' "l2-vsmmu-dma did not test two edus"
n=$(sed -n 's/^l2-vsmmu-probe: \([0-9]*\) IOMMU(s) in \/sys\/class\/iommu.*/\1/p' $out | tail -n 1)
[ "$n" = 2 ] || lab_fail "L2 has ${n:-no} IOMMU(s) in /sys/class/iommu, not 2"
i1=$(sed -n 's/^l2-vsmmu-probe: device at 0000:00:01\.0, behind IOMMU //p' $out | tail -n 1 | tr -d '\r')
i2=$(sed -n 's/^l2-vsmmu-probe: device at 0000:00:02\.0, behind IOMMU //p' $out | tail -n 1 | tr -d '\r')
lab_info "L2: edu 00:01.0 behind $i1, edu 00:02.0 behind $i2"
[ -n "$i1" ] && [ -n "$i2" ] || lab_fail "L2 did not show both edus (00:01.0 and 00:02.0) behind an IOMMU"
[ "$i1" != "$i2" ] || lab_fail "both edus are behind the same IOMMU $i1 in L2"
for v in a b; do
	nested=$(lab_vsmmu_stat $out nested-hwpts $v) || exit 1
	cerr=$(lab_vsmmu_stat $out cmd-errors $v) || exit 1
	cmds=$(lab_vsmmu_stat $out commands $v) || exit 1
	deliv=$(lab_vsmmu_stat $out delivered $v) || exit 1
	lab_info "vSMMU $v: $cmds commands, $nested nested HWPTs, $cerr command errors, $deliv events delivered"
	[ "$nested" -gt 0 ] || lab_fail "vSMMU $v built no nested HWPT"
	[ "$cerr" = 0 ] || lab_fail "vSMMU $v reported $cerr command errors"
	# l2-vsmmu-dma's DMAs after each unmap fault: each edu's events must reach its own vSMMU.
	[ "$deliv" -gt 0 ] || lab_fail "vSMMU $v delivered no event although its edu's DMAs faulted after the unmap"
done
echo "vsmmu-two: two edus behind two vSMMUs, L2 sees two SMMUs and both pass the DMA test"
