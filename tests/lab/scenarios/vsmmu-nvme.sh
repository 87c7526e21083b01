# vsmmu-nvme: the mainstream use, a guest KERNEL driver behind the vSMMU. L1 has QEMU's nvme controller (a
# small backing file, tests/lab/run.sh); ivmm passes it through to L2 behind the vSMMU (no guest-vfio: the
# device tree gives it the direct mapping of the host's MSI window). L2's stock nvme driver takes it with a
# DMA-API domain of L2's arm-smmu-v3 driver and MSI-X queues; l2-nvme writes and reads back data with
# O_DIRECT and checks the controller's interrupts arrived. From --stats: a nested HWPT, no command errors.
# This proves the device-tree MSI window for kernel drivers and MSI-X end to end.
# timeout: 300
# variants: 64k
lab_need_ivmm
bdf=$(lab_nvme_bdf) || exit 1
lab_bind_vfio "$bdf" > /dev/null || exit 1
out=/tmp/vsmmu-nvme.out
lab_run_l2 240 "$out" --viommu smmuv3 --stats --device "vfio-pci,host=$bdf" --cmdline "console=ttyS0 ivmm.l2=l2-nvme"
rc=$?
grep -E "^(ivmm:|l2-nvme:|L2-RESULT)|arm-smmu-v3|nvme" "$out" | head -n 40
[ $rc = 0 ] || { lab_tail "$out" 30; lab_fail "ivmm exited with status $rc"; }
lab_expect "$out" "L2-RESULT l2-nvme PASS" "l2-nvme did not pass"
lab_expect "$out" "IOMMU domain type DMA" "the nvme controller is not in a DMA-API domain of L2's SMMU driver"
nested=$(lab_vsmmu_stat "$out" nested-hwpts) || exit 1
cerr=$(lab_vsmmu_stat "$out" cmd-errors) || exit 1
[ "$nested" -gt 0 ] || lab_fail "no nested HWPT: L2's stage-1 STE for the controller never reached the host"
[ "$cerr" = 0 ] || lab_fail "vsmmu0 reported $cerr command errors to the guest"
lab_info "$(grep -o 'nvme interrupts before [0-9]* after [0-9]*' "$out" | head -n 1)"
echo "vsmmu-nvme: L2's nvme driver behind the vSMMU: data checked, MSI-X interrupts arrived"
