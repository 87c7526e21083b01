# passthrough-bar: ivmm passes edu through to L2 (VFIO cdev + iommufd); in L2, l2-edu-bar finds edu by its
# ids at the guest BDF ivmm gives it (00:01.0), maps BAR0 and checks ident, liveness and factorial.
# Also: ivmm ends with exit 0 at the guest's poweroff and leaves edu usable (a second run works too).
# timeout: 300
lab_need_ivmm
bdf=$(lab_edu_bdf) || exit 1
lab_bind_edu > /dev/null || exit 1
out=/tmp/passthrough-bar.out
for run in 1 2; do
	lab_run_l2 120 $out --device "vfio-pci,host=$bdf,id=edu" --cmdline "console=ttyS0 ivmm.l2=l2-edu-bar"
	rc=$?
	grep -E '^(ivmm:|l2-edu-bar:|L2-RESULT)' $out | sed "s/^/run $run: /"
	[ $rc = 0 ] || { lab_tail $out 30; lab_fail "run $run: ivmm exited with status $rc"; }
	lab_expect $out 'l2-edu-bar: edu at 0000:00:01\.0' "run $run: edu not at guest 00:01.0"
	lab_expect $out 'L2-RESULT l2-edu-bar PASS' "run $run: l2-edu-bar did not pass"
done
echo "passthrough-bar: edu BAR0 works in L2 (ident, liveness, factorial), twice"
