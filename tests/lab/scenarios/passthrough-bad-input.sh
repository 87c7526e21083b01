# passthrough-bad-input: passthrough failures on the real binary in L1 are one clear message and exit status 1
# (a runtime failure), with everything undone: a BDF with no device, edu not bound to vfio-pci (the message
# says how to bind it), edu in use by another ivmm; afterwards edu still works for a normal run.
# timeout: 240
lab_need_ivmm
bdf=$(lab_edu_bdf) || exit 1
K="--kernel $LAB_L2_KERNEL --initrd $LAB_L2_INITRD"
# expect1 REGEX ARGS...: ivmm must fail with status 1 and print a line matching REGEX.
expect1() {
	local want=$1 got rc
	shift
	got=$("$LAB_IVMM" run $K "$@" 2>&1 < /dev/null)
	rc=$?
	[ $rc = 1 ] || lab_fail "ivmm $*: exit status $rc (expected 1); output: $(echo "$got" | tail -n 3)"
	echo "$got" | grep -Eq -- "$want" || lab_fail "ivmm $*: no /$want/ in: $got"
	echo "ok: $(echo "$got" | grep -E -- "$want" | head -n1)"
}
lab_bind_edu > /dev/null || exit 1
expect1 "vfio 0000:00:1f\.0: no such PCI device \(/sys/bus/pci/devices/0000:00:1f\.0 does not exist\)" \
	--device vfio-pci,host=0000:00:1f.0
lab_unbind_edu
expect1 "vfio $bdf: not bound to vfio-pci \(no driver\); bind it with: echo vfio-pci > " --device "vfio-pci,host=$bdf"
lab_bind_edu > /dev/null || exit 1

# In use: a first ivmm keeps edu (its L2 waits on a shell fed by a FIFO nobody writes), a second one must fail.
mkfifo /tmp/pt-hold
sleep 600 > /tmp/pt-hold &
holder=$!
setsid "$LAB_IVMM" run $K --device "vfio-pci,host=$bdf" --cmdline "console=ttyS0" < /tmp/pt-hold > /tmp/pt-first.out 2>&1 &
first=$!
i=0
until grep -q 'L2: shell ready' /tmp/pt-first.out 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 1200 ] || { kill $first $holder; lab_tail /tmp/pt-first.out; lab_fail "first ivmm did not reach the L2 shell"; }
	kill -0 $first 2>/dev/null || { kill $holder; lab_tail /tmp/pt-first.out; lab_fail "first ivmm ended early"; }
	usleep 100000
done
expect1 "vfio $bdf: .*(in use|already bound)" --device "vfio-pci,host=$bdf"
kill -TERM $first
wait $first
rc=$?
kill $holder 2>/dev/null
[ $rc = 143 ] || { lab_tail /tmp/pt-first.out; lab_fail "first ivmm ended with $rc after SIGTERM (expected 143)"; }
left=$(pidof ivmm)
[ -z "$left" ] || lab_fail "ivmm processes left: $left"

# Everything was released: a normal run works.
lab_run_l2 120 /tmp/pt-after.out --device "vfio-pci,host=$bdf" --cmdline "console=ttyS0 ivmm.l2=l2-edu-bar"
rc=$?
[ $rc = 0 ] || { lab_tail /tmp/pt-after.out 30; lab_fail "run after the failures: ivmm exited with status $rc"; }
lab_expect /tmp/pt-after.out 'L2-RESULT l2-edu-bar PASS' "edu not usable after the failures"
echo "passthrough-bad-input: ok"
