# bad-input: the real binary in L1 refuses bad input with one exact message and exit status 2, before touching
# KVM: missing kernel, a file that is not an arm64 Image, bad --memory, --cpus 0, an unknown option, a bad
# config file line. Then a host without KVM (/dev/kvm renamed away for one run, always put back): one exact
# message and exit status 1 (a runtime failure, not a usage error).
# timeout: 30
lab_need_ivmm
n=0
# check_status STATUS EXPECTED-MESSAGE ARGS...: ivmm must print exactly EXPECTED-MESSAGE (one line, stderr)
# and exit with STATUS.
check_status() {
	local status=$1 want=$2 got rc
	shift 2
	got=$("$LAB_IVMM" "$@" 2>&1 < /dev/null)
	rc=$?
	[ $rc = "$status" ] || lab_fail "ivmm $*: exit status $rc (expected $status); output: $got"
	[ "$got" = "$want" ] || lab_fail "ivmm $*: printed '$got', expected '$want'"
	n=$((n + 1))
}
# check EXPECTED-MESSAGE ARGS...: a usage error (exit 2).
check() {
	check_status 2 "$@"
}
K=$LAB_L2_KERNEL
check "ivmm: error: cannot open kernel /no/such/Image: No such file or directory" run --kernel /no/such/Image
check "ivmm: error: $LAB_DIR/lib.sh: not an arm64 Linux Image (bad magic)" run --kernel "$LAB_DIR/lib.sh"
check "ivmm: error: $LAB_L2_INITRD: not an arm64 Linux Image (gzip-compressed: decompress it first)" \
	run --kernel "$LAB_L2_INITRD"
check "ivmm: error: --memory '12Q': not a size (examples: 512M, 2G, 1048576)" run --kernel "$K" --memory 12Q
check "ivmm: error: --memory '16M': below the minimum of 64M" run --kernel "$K" --memory 16M
check "ivmm: error: --cpus '0': not a CPU count from 1 to 64" run --kernel "$K" --cpus 0
check "ivmm: error: unknown option '--frobnicate' (try 'ivmm --help')" run --kernel "$K" --frobnicate
printf '[machine]\nmemory = 256M\nmemroy = 1G\n' > /tmp/bad-input.ini
check "ivmm: error: /tmp/bad-input.ini:3: unknown key 'memroy' in [machine] (known: memory, cpus, hugepages, viommu, api-socket)" \
	run --kernel "$K" --config /tmp/bad-input.ini
check "ivmm: error: no kernel given (--kernel or [boot] kernel)" run

# No KVM. /dev/kvm is put back on every way out of this shell (lab_fail exits, signals); only a SIGKILL from the
# scenario watchdog could skip that, and the next boot of L1 has a fresh /dev anyway.
[ -c /dev/kvm ] || lab_fail "/dev/kvm missing before the no-KVM case"
[ -e /dev/kvm.hidden ] && lab_fail "/dev/kvm.hidden exists already"
kvm_restore() {
	[ -e /dev/kvm.hidden ] && [ ! -e /dev/kvm ] && mv /dev/kvm.hidden /dev/kvm
}
trap kvm_restore EXIT
trap 'kvm_restore; exit 130' INT TERM HUP
mv /dev/kvm /dev/kvm.hidden || lab_fail "cannot rename /dev/kvm away"
check_status 1 "ivmm: error: /dev/kvm: No such file (is KVM enabled? on x86 use the lab: make lab-shell)" \
	run --kernel "$K"
kvm_restore
trap - EXIT INT TERM HUP
[ -c /dev/kvm ] || lab_fail "/dev/kvm was not put back"
left=$(pidof ivmm)
[ -z "$left" ] || lab_fail "ivmm processes left: $left"
echo "bad-input: ok ($n cases)"
