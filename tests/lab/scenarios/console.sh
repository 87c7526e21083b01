# console: type into the L2 shell through ivmm's stdin (a pipe) and read the answer on its stdout: the command
# `echo hello-$((6*7))` must print hello-42 (computed by the guest's shell, so the input really went through
# the 16550A receiver and the guest's interrupt-driven 8250 driver). Input is paced: the feeder waits for
# "L2: shell ready" before typing, then `poweroff -f` ends the guest and ivmm exits 0.
# timeout: 180
lab_need_ivmm
out=/tmp/console.out
feed=/tmp/console-feed.sh
cat > "$feed" <<'FEED'
out=$1
wait_for() {
	i=0
	while ! grep -q "$1" "$out" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt "$2" ] || { echo "feeder: gave up waiting for '$1'" >&2; return 1; }
		usleep 100000
	done
}
wait_for 'L2: shell ready' 1200 || exit 1
sleep 1
printf 'echo hello-$((6*7))\n'
wait_for '^hello-42' 300
# The UART interrupt (SPI 1 = INTID 33) fired in the guest: RX and TX are interrupt driven.
printf 'awk "/ttyS0/ { print \\"uart-irqs\\", \\$2 }" /proc/interrupts\n'
wait_for '^uart-irqs' 300
printf 'poweroff -f\n'
# Keep stdin open (the guest must power off because it was told to, not because input ended) until ivmm has
# exited: then the next write fails and the feeder ends.
i=0
while [ $i -lt 30 ]; do sleep 1; printf '\n' 2>/dev/null || exit 0; i=$((i + 1)); done
FEED
lab_run_timeout 150 "$out" sh -c "sh $feed $out | $LAB_IVMM run --kernel $LAB_L2_KERNEL --initrd $LAB_L2_INITRD --cpus 1 --memory 256M"
rc=$?
[ $rc = 124 ] && { lab_tail "$out" 30; lab_fail "the guest did not power off within 150 s"; }
lab_expect "$out" 'L2: shell ready' "the L2 shell did not start"
lab_expect "$out" 'echo hello-' "the typed command was not echoed by the guest"
lab_expect "$out" '^hello-42' "the guest did not answer hello-42"
lab_expect "$out" '^uart-irqs [1-9]' "the guest saw no UART interrupts"
lab_info "$(grep '^uart-irqs' "$out" | tr -d '\r')"
[ $rc = 0 ] || { lab_tail "$out" 30; lab_fail "ivmm exited with status $rc after poweroff -f (expected 0)"; }
echo "console: ok"
