# ctl: the control socket against a running guest. The device under test (lab_dut_bdf) is passed through behind
# the vSMMU with --api-socket; L2 sits in its shell (its console a FIFO this scenario holds). `ivmm ctl`:
# stats (exit 0, the vSMMU's counters), vsmmu-state (the guest's driver has enabled the vSMMU: CR0 with SMMUEN,
# the device's stream and its StreamID), an injected F_TRANSLATION for that StreamID which L2's arm-smmu-v3
# driver logs, counted as injected; trace on to a file and off; bad requests (malformed JSON, an unknown command, an oversized line, an
# unknown vSMMU: exit 1 with the documented errors; bad usage: exit 2) and a second ivmm on the same path
# (refused, exit 1); the guest still answers on its console after all of it; then quit: ivmm exits 0, the socket
# file is gone and nothing of ivmm is left.
# timeout: 420
lab_need_ivmm
bdf=$(lab_dut_bdf) || exit 1
cdev=$(lab_bind_vfio "$bdf") || exit 1
out=/tmp/ctl.out sock=/tmp/ivmm-ctl.sock
rm -f $sock
lab_ivmm_console $out /tmp/ctl.in --memory 256M --viommu smmuv3 --device "vfio-pci,host=$bdf" --api-socket $sock \
	--cmdline "console=ttyS0"
pid=$LAB_IVMM_PID
stop() { kill -KILL $pid 2>/dev/null; lab_tail $out 30; lab_fail "$1"; }
[ -S $sock ] || stop "no socket at $sock"
mode=$(ls -l $sock | cut -c1-10)
[ "$mode" = srw------- ] || stop "the socket has mode $mode, not srw-------"

# ctl EXPECTED-STATUS ARGS...: run ivmm ctl, its output in $r; fail unless it exits EXPECTED-STATUS.
ctl() {
	local want=$1 rc
	shift
	r=$("$LAB_IVMM" ctl "$@" 2>&1)
	rc=$?
	[ $rc = "$want" ] || stop "ivmm ctl $*: exit $rc, not $want: $r"
}
# The guest's console still answers (a computed marker, so the echoed command line does not match).
alive() {
	n=$((n + 1))
	printf 'echo alive-$((%d * 7))-x\n' $n >&3
	lab_wait_for $out "alive-$((n * 7))-x" 300 || stop "the guest does not answer on its console $1"
}
n=0

ctl 0 $sock stats
echo "$r" | grep -q 'name: vsmmu0' || stop "stats: no vsmmu0 in: $r"
echo "$r" | grep -q 'commands: [1-9]' || stop "stats: the guest's driver sent no commands? $r"
ctl 0 --json $sock vsmmu-state vsmmu0
cr0=$(echo "$r" | sed -n 's/.*"CR0":"\(0x[0-9a-f]*\)".*/\1/p')
[ -n "$cr0" ] && [ $((cr0 & 1)) = 1 ] || stop "vsmmu-state: CR0 '$cr0' without SMMUEN: $r"
sid=$(echo "$r" | sed -n 's/.*"streams":\[{"sid":"\(0x[0-9a-f]*\)".*/\1/p')
[ -n "$sid" ] || stop "vsmmu-state: no stream: $r"
lab_info "vsmmu0: CR0 $cr0, the device's StreamID $sid"

# An injected F_TRANSLATION reaches L2's driver, which logs it as a real one.
ctl 0 $sock inject vsmmu0 event $sid F_TRANSLATION 0x12345000
# (its line, not ivmm's own "injected F_TRANSLATION" warning: the driver names itself)
evt='arm-smmu-v3.*\(F_TRANSLATION\|event 0x10\)'
lab_wait_for $out "$evt" 300 || stop "L2's arm-smmu-v3 driver did not log the injected event"
lab_info "L2 logged: $(grep "$evt" $out | head -n 1 | tr -d '\r')"
ctl 0 $sock stats
echo "$r" | grep -q 'injected: 1$' || stop "stats: the injection is not counted: $r"

# The trace: on to a file (the "on" line there), then off.
rm -f /tmp/ctl-trace.txt
ctl 0 $sock trace vsmmu0 on /tmp/ctl-trace.txt
grep -q '^trace: vsmmu0: on' /tmp/ctl-trace.txt || stop "trace on: no 'trace: vsmmu0: on' line in /tmp/ctl-trace.txt"
ctl 0 $sock trace vsmmu0 off
ctl 1 $sock trace vsmmu0 on /nonexistent/dir/t
echo "$r" | grep -q 'cannot open /nonexistent/dir/t' || stop "trace to an impossible file: $r"

# Bad requests: documented errors, the guest unaffected.
ctl 1 $sock raw '{"cmd": '
echo "$r" | grep -q 'bad JSON' || stop "malformed JSON: $r"
ctl 1 $sock raw '{"cmd": "reboot"}'
echo "$r" | grep -q "unknown command 'reboot'" || stop "unknown command: $r"
ctl 1 $sock raw "$(head -c 5000 /dev/zero | tr '\0' x)"
echo "$r" | grep -q 'longer than 4096 bytes' || stop "oversized line: $r"
ctl 1 $sock vsmmu-state vsmmu9
echo "$r" | grep -q "no vIOMMU named 'vsmmu9'" || stop "unknown vSMMU: $r"
ctl 2 $sock inject vsmmu0 event
ctl 2 $sock
r=$("$LAB_IVMM" run --kernel "$LAB_L2_KERNEL" --initrd "$LAB_L2_INITRD" --memory 256M --api-socket $sock 2>&1 < /dev/null)
rc=$?
[ $rc = 1 ] || stop "a second ivmm on $sock exited $rc, not 1: $r"
echo "$r" | grep -q 'in use' || stop "a second ivmm on $sock: $r"
alive "after the bad requests"
kill -0 $pid 2>/dev/null || stop "ivmm ended during the bad requests"

ctl 0 $sock quit
lab_ivmm_reap $pid 60 || stop "ivmm still running 60 s after quit"
exec 3>&-
[ "$LAB_IVMM_RC" = 0 ] || { lab_tail $out 30; lab_fail "ivmm exited $LAB_IVMM_RC after quit, not 0"; }
[ ! -e $sock ] || lab_fail "the socket $sock outlived ivmm"
lab_expect $out 'api socket: quit: stopping the guest' "no line about the quit"
lab_nothing_left "$bdf" "$cdev" "after quit"
echo "ctl: stats, vsmmu-state, an injected event L2 logged, trace, bad requests refused, quit: exit 0"
