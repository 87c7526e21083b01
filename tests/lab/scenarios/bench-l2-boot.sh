# bench-l2-boot: how long ivmm takes to boot L2 to its /init, 3 times in a row. For tests/lab/bench.sh, which
# collects the `BENCH <key> <value> <unit>` lines of every bench-* scenario over several L1 boots.
# manual
# timeout: 200
lab_need_ivmm
for i in 1 2 3; do
	t0=$(lab_uptime)
	lab_run_l2 60 /tmp/bench-l2.out --cmdline "console=ttyS0 earlycon ivmm.l2="
	rc=$?
	t1=$(lab_uptime)
	[ $rc = 0 ] || { lab_tail /tmp/bench-l2.out; lab_fail "ivmm run exited with status $rc"; }
	lab_expect /tmp/bench-l2.out 'L2: init reached, uptime' "L2 did not reach /init"
	up=$(sed -n 's/.*L2: init reached, uptime \([0-9.]*\).*/\1/p' /tmp/bench-l2.out | head -n1)
	echo "BENCH l2-uptime-at-init $up s"
	echo "BENCH l2-whole-run-in-l1 $(echo "$t0 $t1" | awk '{ printf "%.2f", $2 - $1 }') s"
done
