# device-irqs: device-agnostic (the device under test, lab_dut_bdf: edu in the lab, run-host.sh's first --device
# on a host). MSI-X and MSI set up through VFIO in the guest reach VFIO in the host: the device is passed
# through behind the vSMMU (guest-vfio=on) and l2-dev-irqs takes it with the guest's own VFIO cdev + iommufd,
# enables N vectors of each index VFIO offers it (up to 4), checks the guest's side (its /proc/interrupts lines,
# the enable bit ivmm shows in config space), disables them and checks again; it stops at each of those states
# (`ready K STATE N waiting`) until this scenario, which holds the guest's console (a FIFO as ivmm's stdin), has checked
# the host's side in L1's /proc/interrupts and answers: MSI-X on -> at least N `vfio-msix[i](BDF)` vectors (ivmm
# asks VFIO for the whole table at enable), MSI on -> exactly N `vfio-msi[i](BDF)`, off -> none of that kind.
# Every step the guest reports is checked; at least one index must be there (the host's config space says
# which: MSI and MSI-X both when it has both). Afterwards nothing of ivmm is left and the device is usable.
# timeout: 300
lab_need_ivmm
lab_need_prog pci-view
bdf=$(lab_dut_bdf) || exit 1
cdev=$(lab_bind_vfio "$bdf") || exit 1
out=/tmp/l2-dev-irqs.out fifo=/tmp/device-irqs.in res=/tmp/device-irqs.res
rm -f $fifo $res $out
mkfifo $fifo || lab_fail "cannot make the FIFO $fifo"
exec 3<> $fifo
view=$("$LAB_PROGS/pci-view" --passthrough "$bdf") || lab_fail "pci-view cannot read $bdf"
want_steps=0
echo "$view" | grep -q '^msix ' && want_steps=$((want_steps + 2))
echo "$view" | grep -q '^msi ' && want_steps=$((want_steps + 2))
lab_info "$bdf: $(echo "$view" | grep -E '^msix? ' | tr '\n' ';') $want_steps steps expected"

host_lines() {
	grep -c "$1\[[0-9]*\]($bdf)" /proc/interrupts
}
# The host's side of each step the guest reports ready (a line in $res), then the answer on the console.
answer() {
	local k=1 l state n h ok
	while :; do
		l=$(lab_guest_ready $out l2-dev-irqs $k 2400)
		case $? in
		1) return 0 ;;
		2) echo "step $k: no 'ready $k' line from the guest within 240 s" >> $res; return 0 ;;
		esac
		set -- $l
		state=$4 n=$5
		case "$state" in
		msix-on) h=$(host_lines vfio-msix); ok=$([ "$h" -ge "$n" ] && echo y) ;;
		msi-on) h=$(host_lines vfio-msi); ok=$([ "$h" = "$n" ] && echo y) ;;
		msix-off) h=$(host_lines vfio-msix); ok=$([ "$h" = 0 ] && echo y) ;;
		msi-off) h=$(host_lines vfio-msi); ok=$([ "$h" = 0 ] && echo y) ;;
		*) h="?" ok= ;;
		esac
		if [ -n "$ok" ]; then
			echo "ok step $k: guest $state with $n vectors, host has $h ${state%-*} vectors for $bdf" >> $res
		else
			echo "step $k: guest $state with $n vectors, but the host has $h vfio-${state%-*} vectors for $bdf" >> $res
		fi
		echo go >&3
		k=$((k + 1))
	done
}
answer &
apid=$!
# In a subshell, so that a failure there still stops the answering loop before the scenario fails.
(LAB_STDIN=$fifo lab_run_dut_l2 l2-dev-irqs 240 --viommu smmuv3)
rc=$?
[ $rc = 0 ] || { kill $apid 2>/dev/null; wait $apid 2>/dev/null; exit 1; }
wait $apid
exec 3>&-
sed 's/^ok /info: /' $res 2>/dev/null
bad=$(grep -v '^ok ' $res 2>/dev/null | head -n 1)
[ -z "$bad" ] || lab_fail "$bad"
steps=$(sed -n 's/^l2-dev-irqs: steps \([0-9]*\).*/\1/p' $out | tr -d '\r' | tail -n 1)
checked=$(grep -c '^ok ' $res 2>/dev/null)
[ "$steps" = "$want_steps" ] ||
	lab_fail "the guest went through ${steps:-no} steps, not the $want_steps the host's MSI/MSI-X capabilities call for"
[ "$checked" = "$steps" ] || lab_fail "the host side was checked at $checked of the guest's $steps steps"
lab_nothing_left "$bdf" "$cdev" "after the run"
echo "device-irqs: $bdf: $steps MSI/MSI-X set-up steps in the guest, each seen by VFIO in the host"
