# bench-vmm: ivmm's own costs over 3 L2 boots, from the `ivmm: stats:` line it prints with IVMM_STATS=1:
# VMM start (process start to the first KVM_RUN, wall and CPU time of the whole process), peak RSS, and the VMM
# overhead (peak RSS minus the guest RAM resident at exit). For tests/lab/bench.sh (BENCH lines).
# manual
# timeout: 200
lab_need_ivmm
export IVMM_STATS=1 IVMM_LOG=debug
out=/tmp/bench-vmm.out
for i in 1 2 3; do
	lab_run_l2 60 "$out" --memory 256M --cmdline "console=ttyS0 earlycon ivmm.l2="
	rc=$?
	[ $rc = 0 ] || { lab_tail "$out"; lab_fail "ivmm run exited with status $rc"; }
	lab_expect "$out" '^ivmm: stats: ' "ivmm printed no stats line with IVMM_STATS=1"
	grep "^ivmm: " "$out" | head -n 20
	s=$(grep '^ivmm: stats: ' "$out" | tail -n1)
	field() { echo "$s" | sed -n "s/.* $1 \([0-9.-]*\).*/\1/p"; }
	echo "BENCH vmm-start-wall $(field vmm-start-wall-ms) ms"
	echo "BENCH vmm-start-cpu $(field vmm-start-cpu-ms) ms"
	echo "BENCH vmm-peak-rss $(field peak-rss-kib) KiB"
	echo "BENCH vmm-overhead-rss $(field vmm-overhead-kib) KiB"
done
