# console: type into the L2 shell through ivmm's stdin (a pipe) and read the answer on its stdout: the command
# `echo hello-$((6*7))` must print hello-42 (computed by the guest's shell, so the input really went through
# the 16550A receiver and the guest's interrupt-driven 8250 driver). Input is paced: the feeder waits for
# "L2: shell ready" before typing, then `poweroff -f` ends the guest and ivmm exits 0.
# Then a console nobody reads: ivmm's stdout is a FIFO whose reader never reads, the guest floods it
# (l2-flood), and SIGTERM must still end ivmm at once (exit 143) with one line saying how much guest output
# was dropped: neither a vCPU nor the event loop may block on the full stdout.
# timeout: 240
lab_need_ivmm
out=/tmp/console.out
feed=/tmp/console-feed.sh
cat > "$feed" <<'FEED'
. "${LAB_DIR:-/lab}/lib.sh"
out=$1
lab_wait_for "$out" 'L2: shell ready' 1200 || exit 1
sleep 1
printf 'echo hello-$((6*7))\n'
lab_wait_for "$out" '^hello-42' 300
# The UART interrupt (SPI 1 = INTID 33) fired in the guest: RX and TX are interrupt driven.
printf 'awk "/ttyS0/ { print \\"uart-irqs\\", \\$2 }" /proc/interrupts\n'
lab_wait_for "$out" '^uart-irqs' 300
printf 'poweroff -f\n'
lab_feed_hold
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


stuck=/tmp/console-stuck.fifo err=/tmp/console-stuck.err dump=/tmp/console-stuck.out go=/tmp/console-stuck.go
rm -f "$stuck" "$dump" "$go"
mkfifo "$stuck" || lab_fail "mkfifo failed"
# The reader holds the FIFO open and reads nothing until ivmm is gone; then it collects what the pipe held.
(while [ ! -e "$go" ]; do usleep 100000; done; cat) < "$stuck" > "$dump" &
holder=$!
# The guest floods its console by itself (L2 runs /progs/l2-flood); ivmm logs (debug) the moment its stdout
# stops taking output. From then on the guest is stalled on THRE = 0 and ivmm holds unsent output.
IVMM_LOG=debug $LAB_IVMM run --kernel $LAB_L2_KERNEL --initrd $LAB_L2_INITRD --cpus 1 --memory 256M \
	--cmdline "console=ttyS0 ivmm.l2=l2-flood" < /dev/null > "$stuck" 2> "$err" &
ivmm=$!
i=0
while ! grep -q 'console output blocked' "$err" && kill -0 $ivmm 2>/dev/null && [ $i -lt 1800 ]; do
	usleep 100000
	i=$((i + 1))
done
stop_holder() { touch "$go"; wait $holder; rm -f "$stuck" "$go"; }
if ! kill -0 $ivmm 2>/dev/null; then
	stop_holder; lab_tail "$err"; lab_fail "ivmm ended before SIGTERM"
fi
grep -q 'console output blocked' "$err" || {
	kill -KILL $ivmm; stop_holder; lab_tail "$err"
	lab_fail "the guest's output never filled the console within 180 s (the test proved nothing)"
}
sleep 1
kill -TERM $ivmm
i=0
while kill -0 $ivmm 2>/dev/null && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
if kill -0 $ivmm 2>/dev/null; then
	kill -KILL $ivmm
	stop_holder
	lab_tail "$err"
	lab_fail "ivmm did not stop within 10 s of SIGTERM while its stdout was full"
fi
wait $ivmm
rc=$?
stop_holder
lab_info "stopped $((i / 10)).$((i % 10)) s after SIGTERM; the pipe held $(wc -c < "$dump") bytes," \
	"$(grep -c ivmm-flood-line "$dump") flood lines; $(grep 'dropped' "$err")"
grep -q ivmm-flood-line "$dump" || { lab_tail "$dump" 20; lab_fail "the flood program did not run in the guest"; }
[ $rc = 143 ] || { lab_tail "$err"; lab_fail "ivmm exited with status $rc after SIGTERM (expected 143)"; }
lab_expect "$err" 'Terminated: stopping the guest' "ivmm did not report the signal"
lab_expect "$err" 'bytes of guest output dropped: stdout is not being read' \
	"ivmm held no unsent output at SIGTERM (the test proved nothing)"
echo "console: ok"
