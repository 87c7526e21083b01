# inject-guest: L2's stock arm-smmu-v3 driver reacts to each fault and error `ivmm ctl inject` puts into its
# vSMMU the way it reacts to a real one, and the guest's DMA still works afterwards. edu is passed through behind
# the vSMMU (guest-vfio=on) with --api-socket; L2 sits in its shell (its console a FIFO this scenario holds) and
# runs l2-vsmmu-dma (its own VFIO + iommufd, nested translation) when told. Checked, in L2's kernel log: each
# event (F_TRANSLATION, F_ADDR_SIZE, F_ACCESS, F_PERMISSION, C_BAD_STE, C_BAD_CD, F_CD_FETCH, F_STE_FETCH,
# C_BAD_STREAMID) as "event 0xNN received" (or "event: NAME"), each global error but SFM_ERR (after which Linux disables the SMMU)
# as "unexpected global error reported (0x...)" with its bit, an EVTQ overflow as "EVTQ overflow detected";
# a CERROR_ILL and a CERROR_ABT on the next command as "CMDQ error" with the driver's recovery (it skips an
# illegal command, retries an aborted fetch), the DMA program passing after each; all counted as injected.
# timeout: 600
lab_need_ivmm
bdf=$(lab_edu_bdf) || exit 1
cdev=$(lab_bind_edu) || exit 1
out=/tmp/inject-guest.out sock=/tmp/ivmm-inject.sock
rm -f $sock
lab_ivmm_console $out /tmp/inject-guest.in --memory 512M --viommu smmuv3 --device "vfio-pci,host=$bdf,guest-vfio=on" \
	--api-socket $sock --cmdline "console=ttyS0"
pid=$LAB_IVMM_PID
stop() { kill -KILL $pid 2>/dev/null; lab_tail $out 40; lab_fail "$1"; }

ctl() {
	r=$("$LAB_IVMM" ctl $sock "$@" 2>&1) || stop "ivmm ctl $*: $r"
}
# guest CMD: type CMD in L2's shell; its exit status in $grc (a computed marker: the echoed line does not match).
n=0
guest() {
	n=$((n + 1))
	printf '%s; echo mark-$((%d * 7))-rc$?\n' "$1" $n >&3
	lab_wait_for $out "mark-$((n * 7))-rc" 1800 || stop "the guest did not finish '$1'"
	grc=$(sed -n "s/.*mark-$((n * 7))-rc\([0-9]*\).*/\1/p" $out | tr -d '\r' | tail -n 1)
}
# gcount ERE: how many lines of L2's kernel log match ERE (asked through its shell: the console's log level is
# not ours to rely on), in $cnt.
gcount() {
	n=$((n + 1))
	printf "echo cnt%d-\$(dmesg | grep -cE '%s')-x\n" $n "$1" >&3
	lab_wait_for $out "cnt$n-[0-9][0-9]*-x" 300 || stop "the guest did not answer a dmesg count"
	cnt=$(sed -n "s/.*cnt$n-\([0-9]*\)-x.*/\1/p" $out | tr -d '\r' | tail -n 1)
}
# inject WHAT ERE ARGS...: inject ARGS, then L2's driver must log a new line matching ERE within ~10 s.
injected=0
inject() {
	local what=$1 ere=$2 before i=0
	shift 2
	gcount "$ere"
	before=$cnt
	ctl inject vsmmu0 "$@"
	injected=$((injected + 1))
	while :; do
		gcount "$ere"
		[ "$cnt" -gt "$before" ] && return 0
		i=$((i + 1))
		[ $i -lt 20 ] || stop "L2's driver did not log /$ere/ for an injected $what"
		usleep 500000
	done
}
dma() {
	guest /progs/l2-vsmmu-dma
	[ "$grc" = 0 ] || stop "l2-vsmmu-dma failed ($grc) $1"
}

r=$("$LAB_IVMM" ctl --json $sock vsmmu-state vsmmu0 2>&1) || stop "vsmmu-state: $r"
sid=$(echo "$r" | sed -n 's/.*"streams":\[{"sid":"\(0x[0-9a-f]*\)".*/\1/p')
[ -n "$sid" ] || stop "vsmmu-state: no stream: $r"

# Events first: the driver prints at most 10 event dumps per 5 s (the DMA program's own faults would use them).
# Its two formats: "event 0xNN received:" and "event: NAME client: ...".
for e in F_TRANSLATION:0x10 F_ADDR_SIZE:0x11 F_ACCESS:0x12 F_PERMISSION:0x13 C_BAD_STE:0x04 C_BAD_CD:0x0a \
	F_CD_FETCH:0x09 F_STE_FETCH:0x03 C_BAD_STREAMID:0x02; do
	inject ${e%:*} "arm-smmu-v3.*(event ${e#*:} received|event: ${e%:*} )" event $sid ${e%:*} 0x4000
done
lab_info "9 injected events, each logged by L2's driver"

for g in EVTQ_ABT_ERR:00000004 MSI_CMDQ_ABT:00000010 MSI_EVTQ_ABT:00000020 MSI_GERROR_ABT:00000080 \
	CMDQ_ERR:00000001; do
	inject ${g%:*} "arm-smmu-v3.*unexpected global error reported .0x${g#*:}" gerror ${g%:*}
done
lab_info "5 injected global errors, each logged by L2's driver"

inject evtq-overflow 'arm-smmu-v3.*EVTQ overflow detected' evtq-overflow
lab_info "an injected EVTQ overflow, logged by L2's driver"

dma "before the command errors"
for c in CERROR_ILL CERROR_ABT; do
	gcount 'arm-smmu-v3.*CMDQ error'
	before=$cnt
	ctl inject vsmmu0 cmd-error $c
	injected=$((injected + 1))
	guest /progs/l2-vsmmu-dma
	rc1=$grc
	gcount 'arm-smmu-v3.*CMDQ error'
	[ "$cnt" -gt "$before" ] || stop "L2's driver did not log a CMDQ error for the injected $c"
	# The program that met the error may fail (the command the driver skipped was real); the next one must pass.
	dma "after an injected $c"
	lab_info "$c: L2's driver logged a CMDQ error, the DMA program then exited $rc1, the next one passed"
done

ctl stats
echo "$r" | grep -q "injected: $injected$" || stop "stats: not $injected injected: $r"
ctl quit
lab_ivmm_reap $pid 60 || stop "ivmm still running 60 s after quit"
exec 3>&-
[ "$LAB_IVMM_RC" = 0 ] || { lab_tail $out 30; lab_fail "ivmm exited $LAB_IVMM_RC after quit, not 0"; }
lab_nothing_left "$bdf" "$cdev" "after quit"
echo "inject-guest: $injected injections, each handled by L2's arm-smmu-v3 driver; DMA works after them"
