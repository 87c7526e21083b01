# vsmmu-probe: with `--viommu smmuv3` ivmm puts edu behind an emulated SMMUv3 (device tree node smmuv3@4000000,
# iommu-map on the PCIe node) and L2's own arm-smmu-v3 driver probes it: in L2, l2-vsmmu-probe finds an IOMMU in
# /sys/class/iommu, an iommu_group for edu and no arm-smmu-v3 error in the kernel log. ivmm's --stats must show
# that the guest drove the vSMMU's command queue (commands > 0) without a command or STE error.
# timeout: 240
# variants: 64k
lab_run_edu_l2 l2-vsmmu-probe 180 --viommu smmuv3 --stats
out=/tmp/l2-vsmmu-probe.out
cmds=$(lab_vsmmu_stat $out commands) || exit 1
cerr=$(lab_vsmmu_stat $out cmd-errors) || exit 1
serr=$(lab_vsmmu_stat $out ste-errors) || exit 1
lab_info "vsmmu0: $cmds commands from the guest, $cerr command errors, $serr STE errors"
[ "$cmds" -gt 0 ] || lab_fail "the guest issued no command to vsmmu0 (its driver never enabled the command queue?)"
[ "$cerr" = 0 ] || lab_fail "vsmmu0 reported $cerr command errors to the guest"
[ "$serr" = 0 ] || lab_fail "vsmmu0 hit $serr STE errors"
echo "vsmmu-probe: L2's arm-smmu-v3 probed the vSMMU and put edu in an IOMMU group, no errors"
