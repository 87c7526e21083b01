# passthrough-nvme: QEMU's nvme controller passed through to L2 without a vSMMU (DMA addresses are guest
# physical): L2's stock nvme driver writes and reads back data with O_DIRECT over MSI-X queues (l2-nvme).
# timeout: 300
lab_need_ivmm
bdf=$(lab_nvme_bdf) || exit 1
lab_bind_vfio "$bdf" > /dev/null || exit 1
out=/tmp/passthrough-nvme.out
lab_run_l2 240 "$out" --device "vfio-pci,host=$bdf" --cmdline "console=ttyS0 ivmm.l2=l2-nvme"
rc=$?
grep -E "^(ivmm:|l2-nvme:|L2-RESULT)|nvme" "$out" | head -n 30
[ $rc = 0 ] || { lab_tail "$out" 30; lab_fail "ivmm exited with status $rc"; }
lab_expect "$out" "L2-RESULT l2-nvme PASS" "l2-nvme did not pass"
lab_info "$(grep -o 'nvme interrupts before [0-9]* after [0-9]*' "$out" | head -n 1)"
echo "passthrough-nvme: L2's nvme driver: data checked, MSI-X interrupts arrived"
