# bench-mmio: MMIO round-trip cost from L2 to a passed-through edu register, once with BAR0 as a KVM memslot
# (the normal case: no exit) and once with every BAR access trapped by ivmm (IVMM_VFIO_NO_MMAP=1: exit, bus,
# pread on the VFIO device). Prints `BENCH mmio-mapped-ns N ns` and `BENCH mmio-trapped-ns N ns` for
# tests/lab/bench.sh.
# manual
# timeout: 300
lab_need_ivmm
bdf=$(lab_edu_bdf) || exit 1
lab_bind_edu > /dev/null || exit 1
out=/tmp/bench-mmio.out
lab_run_l2 120 $out --device "vfio-pci,host=$bdf" --cmdline "console=ttyS0 ivmm.l2=l2-mmio-bench"
rc=$?
[ $rc = 0 ] || { lab_tail $out 30; lab_fail "mapped run: ivmm exited with status $rc"; }
lab_expect $out '^bench mmio-mapped-ns [0-9]+' "no mapped measurement"
mapped=$(sed -n 's/^bench mmio-mapped-ns \([0-9]*\).*/\1/p' $out | head -n1)
IVMM_VFIO_NO_MMAP=1 lab_run_l2 120 $out --device "vfio-pci,host=$bdf" \
	--cmdline "console=ttyS0 ivmm.l2=l2-mmio-bench l2bench.mmio=trapped"
rc=$?
[ $rc = 0 ] || { lab_tail $out 30; lab_fail "trapped run: ivmm exited with status $rc"; }
lab_expect $out 'every BAR access is trapped' "ivmm did not trap the BARs"
lab_expect $out '^bench mmio-trapped-ns [0-9]+' "no trapped measurement"
trapped=$(sed -n 's/^bench mmio-trapped-ns \([0-9]*\).*/\1/p' $out | head -n1)
echo "BENCH mmio-mapped-ns $mapped ns"
echo "BENCH mmio-trapped-ns $trapped ns"
