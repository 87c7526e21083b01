# poweroff: `poweroff -f` typed in the L2 shell (PSCI SYSTEM_OFF) ends ivmm with exit status 0 and nothing of
# it keeps running. Then the same for `reboot -f` (PSCI SYSTEM_RESET: exit status 3, ivmm does not reboot
# guests) and for an ivmm ended by SIGTERM while the guest runs: exit status 143 (128 + 15).
# timeout: 300
lab_need_ivmm
out=/tmp/poweroff.out
feed=/tmp/poweroff-feed.sh
cat > "$feed" <<'FEED'
. "${LAB_DIR:-/lab}/lib.sh"
out=$1
lab_wait_for "$out" 'L2: shell ready' 1200 || exit 1
sleep 1
printf 'poweroff -f\n'
lab_feed_hold
FEED
lab_run_timeout 100 "$out" sh -c "sh $feed $out | $LAB_IVMM run --kernel $LAB_L2_KERNEL --initrd $LAB_L2_INITRD --memory 256M"
rc=$?
lab_expect "$out" 'L2: shell ready' "the L2 shell did not start"
[ $rc = 0 ] || { lab_tail "$out" 30; lab_fail "ivmm exited with status $rc after poweroff -f (expected 0)"; }
usleep 200000
left=$(pidof ivmm)
[ -z "$left" ] || lab_fail "ivmm processes left after poweroff: $left"
lab_info "poweroff: exit 0, no ivmm left"

# `reboot -f` (PSCI SYSTEM_RESET): ivmm does not reboot guests, it exits with status 3 (IVMM_EXIT_RESET).
out3=/tmp/poweroff-reset.out
sed 's/poweroff -f/reboot -f/' "$feed" > /tmp/poweroff-reset-feed.sh
lab_run_timeout 100 "$out3" sh -c "sh /tmp/poweroff-reset-feed.sh $out3 | $LAB_IVMM run --kernel $LAB_L2_KERNEL --initrd $LAB_L2_INITRD --memory 256M"
rc=$?
lab_expect "$out3" 'L2: shell ready' "the L2 shell did not start (reset case)"
[ $rc = 3 ] || { lab_tail "$out3"; lab_fail "ivmm exited with status $rc after reboot -f (expected 3)"; }
lab_expect "$out3" '^ivmm: the guest asked for a reset' "no message about the guest reset"
left=$(pidof ivmm)
[ -z "$left" ] || lab_fail "ivmm processes left after the guest reset: $left"
lab_info "reboot -f: exit 3, no ivmm left"

# SIGTERM while the guest sits in its shell.
out2=/tmp/poweroff-term.out
"$LAB_IVMM" run --kernel "$LAB_L2_KERNEL" --initrd "$LAB_L2_INITRD" --memory 256M > "$out2" 2>&1 < /dev/null &
pid=$!
lab_wait_for "$out2" 'L2: shell ready' 1000 ||
	{ kill -KILL $pid; lab_tail "$out2"; lab_fail "the L2 shell did not start (SIGTERM case)"; }
kill -TERM $pid
i=0
while kill -0 $pid 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || { kill -KILL $pid; lab_fail "ivmm still running 10 s after SIGTERM"; }
	usleep 100000
done
wait $pid
rc=$?
[ $rc = 143 ] || { lab_tail "$out2"; lab_fail "ivmm exited with status $rc after SIGTERM (expected 143)"; }
left=$(pidof ivmm)
[ -z "$left" ] || lab_fail "ivmm processes left after SIGTERM: $left"
echo "poweroff: ok (poweroff -> 0, reboot -> 3, SIGTERM -> 143, nothing left)"
