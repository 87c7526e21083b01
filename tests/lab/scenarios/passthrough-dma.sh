# passthrough-dma: edu passed through to L2 (no vSMMU: DMA addresses are guest-physical, ivmm maps all guest
# RAM in the IOAS at IOVA = GPA); in L2, l2-edu-dma enables bus mastering and round-trips patterns through
# guest RAM with edu DMAs in both directions.
# timeout: 240
lab_need_ivmm
bdf=$(lab_edu_bdf) || exit 1
lab_bind_edu > /dev/null || exit 1
out=/tmp/passthrough-dma.out
lab_run_l2 180 $out --device "vfio-pci,host=$bdf" --cmdline "console=ttyS0 ivmm.l2=l2-edu-dma"
rc=$?
grep -E '^(ivmm:|l2-edu-dma:|L2-RESULT)' $out
[ $rc = 0 ] || { lab_tail $out 30; lab_fail "ivmm exited with status $rc"; }
lab_expect $out 'L2-RESULT l2-edu-dma PASS' "l2-edu-dma did not pass"
echo "passthrough-dma: edu DMA both ways through L2 RAM"
