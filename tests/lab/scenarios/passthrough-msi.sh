# passthrough-msi: edu's interrupts reach L2 as MSIs (ivmm's virtual MSI capability -> VFIO eventfd in L1 ->
# KVM irqfd with the guest requester id -> vITS). In L2, l2-edu-msi takes edu with VFIO (no-IOMMU mode), gets
# an MSI eventfd, issues raise-interrupt writes and DMAs with interrupt on completion, and checks that L2's
# /proc/interrupts count grew by exactly that number.
# timeout: 240
lab_need_ivmm
bdf=$(lab_edu_bdf) || exit 1
lab_bind_edu > /dev/null || exit 1
out=/tmp/passthrough-msi.out
lab_run_l2 180 $out --device "vfio-pci,host=$bdf" --cmdline "console=ttyS0 ivmm.l2=l2-edu-msi"
rc=$?
grep -E '^(ivmm:|l2-edu-msi:|L2-RESULT)' $out
[ $rc = 0 ] || { lab_tail $out 30; lab_fail "ivmm exited with status $rc"; }
lab_expect $out 'L2-RESULT l2-edu-msi PASS' "l2-edu-msi did not pass"
echo "passthrough-msi: edu MSIs counted exactly in L2"
