# passthrough-intx: with MSI off, edu's INTA reaches L2 through ivmm's INTx fallback (VFIO INTx eventfd in L1 ->
# KVM irqfd on the swizzled SPI with a resample eventfd). In L2, l2-edu-intx takes edu with VFIO (no-IOMMU
# mode) and counts raise -> interrupt -> acknowledge -> unmask cycles.
# timeout: 240
lab_need_ivmm
bdf=$(lab_edu_bdf) || exit 1
lab_bind_edu > /dev/null || exit 1
out=/tmp/passthrough-intx.out
lab_run_l2 180 $out --device "vfio-pci,host=$bdf" --cmdline "console=ttyS0 ivmm.l2=l2-edu-intx"
rc=$?
grep -E '^(ivmm:|l2-edu-intx:|L2-RESULT)' $out
[ $rc = 0 ] || { lab_tail $out 30; lab_fail "ivmm exited with status $rc"; }
lab_expect $out 'L2-RESULT l2-edu-intx PASS' "l2-edu-intx did not pass"
echo "passthrough-intx: edu INTx delivered to L2"
