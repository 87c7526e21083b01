# passthrough-bad-input: device-agnostic (the device under test, lab_dut_bdf: edu in the lab, run-host.sh's
# first --device on a host). Passthrough failures on the real binary are one clear message and exit status 1
# (a runtime failure), with everything undone: a BDF with no device, the device not bound to vfio-pci (the
# message says how to bind it), the device in use by another ivmm; afterwards it still works for a normal run
# (l2-dev-config passes on it).
# timeout: 240
lab_need_ivmm
bdf=$(lab_dut_bdf) || exit 1
none=$(lab_absent_bdf) || exit 1
nre=$(lab_re "$none")
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
lab_bind_vfio "$bdf" > /dev/null || exit 1
expect1 "vfio $nre: no such PCI device \(/sys/bus/pci/devices/$nre does not exist\)" --device "vfio-pci,host=$none"
lab_unbind "$bdf"
expect1 "vfio $bdf: not bound to vfio-pci \(no driver\); bind it with: echo vfio-pci > " --device "vfio-pci,host=$bdf"
lab_bind_vfio "$bdf" > /dev/null || exit 1

# In use: a first ivmm keeps the device (its L2 waits on a shell fed by a FIFO nobody writes), a second one must fail.
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
lab_run_dut_l2 l2-dev-config 120
echo "passthrough-bad-input: ok"
