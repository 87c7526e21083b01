# sigkill: ivmm killed with SIGKILL, when none of its own cleanup runs and the kernel alone takes back the VM,
# the iommufd objects, the pinned guest RAM and the VFIO device: during the guest's boot, while L2 runs edu
# DMAs back to back, and during an MSI storm (l2-edu-busy). After each kill nothing is left in L1 (no ivmm
# process or thread, no fd on the vfio cdev or /dev/iommu, edu still bound to vfio-pci, its cdev opens), and
# the next, fresh ivmm run passes l2-edu-dma on the same edu (the runs of the DMA and MSI kills begin with it,
# a last run follows the third kill). Then Ctrl-C during the setup: SIGINT while ivmm pins 1 GiB of guest
# RAM for DMA ends it with 130 long before the setup would have finished, everything undone.
# timeout: 900
lab_need_ivmm
bdf=$(lab_edu_bdf) || exit 1
cdev=$(lab_bind_edu) || exit 1
dev="vfio-pci,host=$bdf,guest-vfio=on"

# kill9 WHAT OUT: SIGKILL the running ivmm, check it died of it and left nothing.
kill9() {
	kill -KILL "$LAB_IVMM_PID"
	lab_ivmm_reap "$LAB_IVMM_PID" 20 || lab_fail "$1: ivmm still there 20 s after SIGKILL"
	[ "$LAB_IVMM_RC" = 137 ] || { lab_tail "$2"; lab_fail "$1: ivmm exited $LAB_IVMM_RC, not 137 (SIGKILL)"; }
	lab_nothing_left "$bdf" "$cdev" "after SIGKILL $1"
	lab_info "SIGKILL $1 (L2's last words: $(grep -E '^(l2-edu-busy|L2-RESULT|\[)' "$2" | tail -n 1 | tr -d '\r'));" \
		"nothing left in L1, $cdev opens again"
}

# start_busy OUT MODE: a run whose L2 first proves edu with l2-edu-dma, then keeps it busy (ivmm.busy=MODE).
start_busy() {
	lab_ivmm_start "$1" --device "$dev" --cmdline "console=ttyS0 quiet ivmm.l2=l2-edu-dma,l2-edu-busy ivmm.busy=$2"
	lab_wait_for "$1" "l2-edu-busy: $3" 2400 ||
		{ kill -KILL "$LAB_IVMM_PID"; lab_tail "$1" 30; lab_fail "$2: L2 never got edu busy ($3)"; }
	lab_expect "$1" 'L2-RESULT l2-edu-dma PASS' "edu DMA in the run after the previous kill"
}

# 1. During the boot: the guest kernel has started printing.
out=/tmp/sigkill-boot.out
lab_ivmm_start "$out" --device "$dev" --cmdline "console=ttyS0 earlycon ivmm.l2=l2-edu-dma"
lab_wait_for "$out" 'Booting Linux' 1200 || { kill -KILL "$LAB_IVMM_PID"; lab_tail "$out"; lab_fail "L2 did not start booting"; }
kill9 "during the guest's boot" "$out"

# 2. While L2 runs edu DMAs back to back (after l2-edu-dma passed: edu works after kill 1).
out=/tmp/sigkill-dma.out
start_busy "$out" dma "dma loop running"
sleep 2
kill9 "during edu DMAs" "$out"

# 3. During an MSI storm (after l2-edu-dma passed again: edu works after kill 2).
out=/tmp/sigkill-msi.out
start_busy "$out" msi "msi storm running"
sleep 2
kill9 "during an MSI storm" "$out"

# 4. A fresh run after the last kill: edu's DMA in L2, and the time the setup takes with 1 GiB of RAM pinned
#    (IVMM_LOG=debug prints each phase) for step 5.
out=/tmp/sigkill-after.out
export IVMM_LOG=debug
lab_run_l2 240 "$out" --memory 1G --device "$dev" --cmdline "console=ttyS0 quiet ivmm.l2=l2-edu-dma"
rc=$?
[ $rc = 0 ] || { lab_tail "$out" 30; lab_fail "the run after the SIGKILLs exited $rc"; }
lab_expect "$out" 'L2-RESULT l2-edu-dma PASS' "edu DMA after the SIGKILLs"
pt_ms=$(sed -n 's/^ivmm: debug: vm: passthrough done in \([0-9]*\)\..*/\1/p' "$out")
[ -n "$pt_ms" ] || lab_fail "no 'vm: passthrough done' debug line in the full run"
lab_nothing_left "$bdf" "$cdev" "after the run that followed the SIGKILLs"
lab_info "a fresh run after the SIGKILLs passed l2-edu-dma; its passthrough setup (1 GiB pinned) took $pt_ms ms"

# 5. SIGINT while the passthrough phase pins guest RAM: right after the UART phase (the one before it).
out=/tmp/sigkill-sigint.out
lab_ivmm_start "$out" --memory 1G --device "$dev" --cmdline "console=ttyS0 quiet ivmm.l2="
lab_wait_for "$out" 'vm: UART done' 600 || { kill -KILL "$LAB_IVMM_PID"; lab_tail "$out"; lab_fail "no 'vm: UART done' line"; }
t0=$(lab_uptime)
kill -INT "$LAB_IVMM_PID"
lab_ivmm_reap "$LAB_IVMM_PID" 60 || { kill -KILL "$LAB_IVMM_PID"; lab_fail "ivmm still running 60 s after SIGINT during setup"; }
t1=$(lab_uptime)
unset IVMM_LOG
ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
[ "$LAB_IVMM_RC" = 130 ] || { lab_tail "$out"; lab_fail "SIGINT during setup: exit $LAB_IVMM_RC, not 130"; }
lab_expect "$out" '^ivmm: Interrupt: stopped during setup' "no 'stopped during setup' line"
! grep -q 'vm: passthrough done' "$out" || { lab_tail "$out"; lab_fail "the setup finished although SIGINT came during it"; }
! grep -q 'Booting Linux' "$out" || lab_fail "the guest started although SIGINT came during the setup"
[ "$ms" -lt "$pt_ms" ] || lab_fail "SIGINT during setup: exit after $ms ms, not before the $pt_ms ms the setup takes"
lab_nothing_left "$bdf" "$cdev" "after SIGINT during setup"
lab_info "SIGINT while pinning 1 GiB: exit 130 after $ms ms (the whole passthrough setup takes $pt_ms ms), nothing left"
echo "sigkill: ok (SIGKILL during boot, DMA and MSI storm: nothing left, edu works after each; SIGINT during setup: 130 in $ms ms)"
