# device-reset: a reset the guest asks for reaches the device (docs/passthrough.md, "Resets"). The NVMe
# controller (QEMU's has FLR) is passed through to L2 without a vSMMU; l2-dev-reset unbinds L2's nvme driver,
# checks the guest is offered FLR and no PM reset, puts state in the controller that only a reset clears and
# resets the function as Linux does (sysfs reset, reset_method flr). It stops before and after the reset (`ready K
# STATE waiting`) until this scenario, which holds the guest's console (a FIFO as ivmm's stdin), has looked at
# L1's kernel log: across the guest's reset there must be exactly one `vfio-pci BDF: resetting` and one `reset
# done` (drivers/pci/pci.c, pci_dev_save_and_disable() / pci_dev_restore(): printed for every reset of a function
# whose driver has no reset_prepare/reset_done, as vfio-pci has none), i.e. ivmm turned the guest's FLR into
# VFIO_DEVICE_RESET. The guest then checks the state is gone; ivmm (IVMM_LOG=debug) logged the reset once, and
# no error. On a host whose function cannot be reset with FLR (no flr in its reset_method), the guest must be
# offered none. Afterwards nothing of ivmm is left and the device is usable.
# timeout: 240
lab_need_ivmm
bdf=$(lab_nvme_bdf) || exit 1
cdev=$(lab_bind_vfio "$bdf") || exit 1
out=/tmp/device-reset.out fifo=/tmp/device-reset.in res=/tmp/device-reset.res
rm -f $fifo $res $out
mkfifo $fifo || lab_fail "cannot make the FIFO $fifo"
exec 3<> $fifo
methods=$(cat "/sys/bus/pci/devices/$bdf/reset_method" 2>/dev/null)
flr=0
case " $methods " in *" flr "*) flr=1 ;; esac
lab_info "$bdf: the host's reset methods: '${methods:-none}' (guest must be offered FLR: $flr)"

# The timestamp of L1's last kernel message: a mark in its log (robust to the log wrapping, unlike a count).
klog_mark() {
	dmesg | tail -n 1 | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p'
}
# How many kernel messages containing $2 came after mark $1.
klog_since() {
	dmesg | awk -v m="$1" -v pat="$2" 'index($0, pat) { t = $0; sub(/^\[ */, "", t); sub(/\].*/, "", t);
		if (t + 0 > m + 0) n++ } END { print n + 0 }'
}
# Answer the guest's two steps: at the first take a mark, at the second count what came after it.
answer() {
	local k=1 l mark
	while [ $k -le 2 ]; do
		l=$(lab_guest_ready $out l2-dev-reset $k 1800)
		case $? in
		1) return 0 ;;
		2) echo "step $k: no 'ready $k' line from the guest within 180 s" >> $res; return 0 ;;
		esac
		if [ $k = 1 ]; then
			mark=$(klog_mark)
			echo "mark ${mark:-none}" >> $res
		else
			echo "resetting $(klog_since "$mark" "vfio-pci $bdf: resetting")" >> $res
			echo "done $(klog_since "$mark" "vfio-pci $bdf: reset done")" >> $res
		fi
		echo go >&3
		k=$((k + 1))
	done
}
answer &
apid=$!
(export IVMM_LOG=debug LAB_STDIN=$fifo
	lab_run_l2 200 "$out" --device "vfio-pci,host=$bdf" --cmdline "console=ttyS0 quiet ivmm.flr=$flr ivmm.l2=l2-dev-reset")
rc=$?
kill $apid 2>/dev/null
wait $apid 2>/dev/null
exec 3>&-
grep -E "^(l2-dev-reset:|L2-RESULT)|function level reset|FLR|ivmm: (error|warning)" "$out" | tr -d '\r' | head -n 40
sed 's/^/info: /' $res 2>/dev/null
[ $rc = 0 ] || { lab_tail "$out" 30; lab_fail "ivmm exited with status $rc"; }
lab_expect "$out" "L2-RESULT l2-dev-reset PASS" "l2-dev-reset did not pass"
! grep -q "^ivmm: error" "$out" || lab_fail "ivmm reported an error: $(grep -m 1 '^ivmm: error' "$out")"
bad=$(grep '^step' $res 2>/dev/null | head -n 1)
[ -z "$bad" ] || lab_fail "$bad"
if [ $flr = 1 ]; then
	grep -q '^mark [0-9]' $res || lab_fail "no mark taken in L1's kernel log before the guest's reset"
	n=$(sed -n 's/^resetting //p' $res)
	d=$(sed -n 's/^done //p' $res)
	[ "$n" = 1 ] && [ "$d" = 1 ] ||
		lab_fail "across the guest's FLR L1's kernel logged '$bdf: resetting' ${n:-no} times and 'reset done' ${d:-no} times, not once each: the guest's reset did not reach the device as one VFIO_DEVICE_RESET"
	ivmm_n=$(grep -c "the guest's function level reset: device reset" "$out")
	[ "$ivmm_n" = 1 ] || lab_fail "ivmm logged $ivmm_n function level resets of the guest, not 1"
fi
lab_nothing_left "$bdf" "$cdev" "after the run"
if [ $flr = 1 ]; then
	echo "device-reset: $bdf: the guest's FLR was one reset in L1 (vfio-pci: resetting, reset done); $(grep -o 'flr: CC.*' "$out" | tr -d '\r' | head -n 1)"
else
	echo "device-reset: $bdf: no FLR on the host, none offered to the guest"
fi
