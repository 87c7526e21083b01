# boot: ivmm in L1 boots the lab kernel as L2 with the busybox initramfs (2 vCPUs, stdin /dev/null): L2 reaches
# /init with both CPUs online (the secondary started through PSCI CPU_ON), its init powers off (ivmm.l2= with
# no programs) and ivmm exits 0. The end of stdin at start must not end the VM. @64k: L1 itself runs with
# 64 KiB pages (its KernelPageSize), and its 4 KiB-page guest boots the same.
# timeout: 150
# variants: 64k
lab_need_ivmm
if [ "$(lab_variant)" = 64k ]; then
	kps=$(sed -n 's/^KernelPageSize: *\([0-9]*\) kB$/\1/p' /proc/self/smaps | head -n 1)
	[ "$kps" = 64 ] || lab_fail "the 64k host variant runs with ${kps:-?} KiB pages, not 64"
	lab_info "L1 runs with 64 KiB pages"
fi
out=/tmp/boot.out
lab_run_l2 120 "$out" --cpus 2 --memory 256M --cmdline "console=ttyS0 earlycon ivmm.l2="
rc=$?
lab_info "ivmm exit status $rc; $(grep -c '' "$out") lines of output"
[ $rc = 124 ] && { lab_tail "$out" 30; lab_fail "L2 did not power off within 120 s"; }
lab_expect "$out" 'Booting Linux on physical CPU' "the L2 kernel printed nothing on the 16550A console"
lab_expect "$out" 'ttyS0 .*0*1000000 .*is a 16550A' "the L2 8250 driver did not bind to the UART as a 16550A"
lab_expect "$out" 'L2: init reached' "L2 did not reach /init"
lab_expect "$out" 'L2: cpus online 2' "L2 does not have 2 CPUs online"
[ $rc = 0 ] || { lab_tail "$out" 30; lab_fail "ivmm exited with status $rc after the L2 poweroff (expected 0)"; }
lab_info "$(grep -o 'ttyS0 .*is a 16550A' "$out" | head -n1)"
# ivmm's own diagnostics (guest accesses to nothing, etc.), for the log.
grep '^ivmm: ' "$out" | head -n 10 | sed 's/^/info: /'
echo "boot: ok ($(grep -o 'L2: init reached, uptime [0-9.]*' "$out"))"
