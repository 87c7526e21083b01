# lib.sh: helpers for lab scenarios. Sourced by L1's /init (busybox sh, cwd /lab) before each
# tests/lab/scenarios/NAME.sh; see docs/lab.md for the scenario contract.
#
#   lab_fail REASON             print "FAIL: REASON" (to stderr) and exit 1 (the runner reports REASON)
#   lab_info TEXT               print "info: TEXT"
#   lab_edu_bdf                 print edu's BDF (1234:11e8), e.g. 0000:00:01.0; fails if there is none. L1 has
#                               two edus (run.sh); this is always the first (lowest BDF), the one every
#                               single-device scenario uses
#   lab_bind_edu                bind edu to vfio-pci (idempotent), print its cdev path /dev/vfio/devices/vfioN
#   lab_unbind_edu              unbind edu from its driver (no driver afterwards); lab_unbind BDF for any device
#   lab_edu2_bdf                print the second edu's BDF (e.g. 0000:00:02.0); fails if there is none
#   lab_bind_edu2               lab_bind_edu for the second edu
#   lab_nvme_bdf                print the NVMe controller's BDF (class 0x010802, 00:03.0); fails if there is none
#   lab_dut_bdf                 print the device under test of the device-agnostic scenarios (device-*.sh): the
#                               first edu in L1, run-host.sh's first --device on a host (any PCI device)
#   lab_absent_bdf              print a BDF that no PCI device has here (0000:00:1f.7, or another)
#   lab_re STRING               print STRING with its dots escaped (a BDF in a regex)
#   lab_bind_vfio BDF           bind any PCI device to vfio-pci (idempotent), print its cdev (what the two above use)
#   lab_need_ivmm               fail with "ivmm not built" unless $LAB_IVMM (/usr/bin/ivmm) exists
#   lab_need_prog NAME          fail with "NAME not built" unless $LAB_PROGS/NAME (/progs/NAME) exists
#   lab_run_l2 TIMEOUT OUTFILE IVMM-ARGS...
#                               run `ivmm run --kernel /l2/Image --initrd /l2/initramfs.cpio.gz IVMM-ARGS...`,
#                               output to OUTFILE; returns ivmm's exit code, or 124 after killing it on timeout
#   lab_run_timeout TIMEOUT OUTFILE CMD...
#                               the same for any command (both: stdin from $LAB_STDIN when set, else /dev/null)
#   lab_run_dut_l2 PROGS TIMEOUT [IVMM-ARGS...]
#                               pass the device under test through (guest-vfio=on) to L2, which runs /progs/PROG
#                               for each of PROGS (a comma list; L2 kernel with iommu.passthrough=1); fails unless
#                               ivmm exits 0 and each PASSes; output in /tmp/FIRST-PROG.out (lab_run_edu_l2 is the
#                               same for one PROG on edu)
#   lab_expect FILE REGEX WHAT  fail with "WHAT (no /REGEX/ in FILE)" unless FILE has a line matching REGEX
#   lab_tail FILE [N]           print the last N (default 20) lines of FILE, indented (for diagnostics)
#   lab_uptime                  print L1 uptime in seconds (e.g. 12.34)
#   lab_variant                 print the host variant L1 plays (noril, erratum: the lab kernel's ivmm_lab_*
#                               switches; 64k: the 64 KiB-page kernel; ivmm.variant= on L1's command line, set by
#                               run.sh for scenario NAME@VARIANT); nothing on the plain lab or a real host
#   lab_wait_for FILE REGEX TENTHS
#                               wait until FILE has a line matching REGEX, at most TENTHS tenths of a second
#                               (returns 1 on time-out, saying so on stderr)
#   lab_guest_ready OUT PROG K TENTHS
#                               for a guest that waits on its console at each step (l2_console_step): wait, at
#                               most TENTHS tenths of a second, until OUT holds PROG's whole line "PROG: ready K ...
#                               waiting" and print it; returns 0, 1 when PROG ended first (its L2-RESULT line), 2
#                               on time-out
#   lab_feed_hold               for a console feeder piped into ivmm: keep ivmm's stdin open (the guest must
#                               power off because it was told to, not because input ended) until ivmm has
#                               exited (a write fails), at most 30 s
#   lab_vsmmu_stat FILE KEY [VSMMU]
#                               print KEY's value from the last `ivmm: stats: VSMMU ...` lines (ivmm run --stats)
#                               in FILE (VSMMU default vsmmu0): a counter (`inval-cmds N`, `delivered N`, ...) or
#                               an opcode count (`TLBI_NH_VA=N`; 0 when not listed); fails the scenario when FILE
#                               has no stats line for VSMMU or no such counter. The events line's keys work too:
#                               delivered, dropped-full, dropped-abort, while-disabled, lost-host, irqs, reads
#                               (`sync-irqs` and `irqs`, `events` and `events delivered` do not mix up)

# Where things are: L1's paths unless set. run-host.sh (the portable host bundle, docs/lab.md) exports them
# pointing into the unpacked bundle, and exports LAB_DEVICE, LAB_DEVICE2 (edus), LAB_NVME and LAB_DUT (the first
# device given), the BDFs given with its --device (empty: none given): when set, lab_edu_bdf, lab_edu2_bdf,
# lab_nvme_bdf and lab_dut_bdf print them and never pick a device of the host by searching.
LAB_DIR=${LAB_DIR:-/lab}
LAB_IVMM=${LAB_IVMM:-/usr/bin/ivmm}
LAB_PROGS=${LAB_PROGS:-/progs}
LAB_L2_KERNEL=${LAB_L2_KERNEL:-/l2/Image}
LAB_L2_INITRD=${LAB_L2_INITRD:-/l2/initramfs.cpio.gz}
LAB_EDU_ID="0x1234 0x11e8"

# To stderr, so that a failure inside $(...) still reaches the log: write `x=$(lab_edu_bdf) || exit 1`.
lab_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

lab_info() {
	echo "info: $*"
}

lab_uptime() {
	cut -d' ' -f1 /proc/uptime
}

lab_variant() {
	local w
	for w in $(cat /proc/cmdline); do
		case "$w" in ivmm.variant=*) echo "${w#ivmm.variant=}" ;; esac
	done
}

lab_tail() {
	[ -f "$1" ] || { echo "    ($1 does not exist)"; return 0; }
	tail -n "${2:-20}" "$1" | sed 's/^/    | /'
}

# lab__edu_nth N: the BDF of the Nth edu (1-based) in BDF order (the glob sorts), or fail.
lab__edu_nth() {
	local d n=0
	for d in /sys/bus/pci/devices/*; do
		[ -f "$d/vendor" ] || continue
		if [ "$(cat "$d/vendor") $(cat "$d/device")" = "$LAB_EDU_ID" ]; then
			n=$((n + 1))
			if [ $n = "$1" ]; then
				basename "$d"
				return 0
			fi
		fi
	done
	return 1
}

# lab__given SET BDF WHAT: under run-host.sh (SET non-empty) print the BDF it was given, or fail naming WHAT.
lab__given() {
	[ -n "$1" ] || return 1
	[ -n "$2" ] || lab_fail "no $3 given (run-host.sh --device)"
	echo "$2"
}

lab_edu_bdf() {
	lab__given "${LAB_DEVICE+set}" "$LAB_DEVICE" edu && return 0
	lab__edu_nth 1 || lab_fail "no edu PCI device (1234:11e8) in L1"
}

lab_edu2_bdf() {
	lab__given "${LAB_DEVICE2+set}" "$LAB_DEVICE2" "second edu" && return 0
	lab__edu_nth 2 || lab_fail "no second edu PCI device (1234:11e8) in L1 (run.sh gives L1 two)"
}

# Prints the vfio cdev of a BDF bound to vfio-pci, or nothing.
lab__cdev_of() {
	local v
	for v in /sys/bus/pci/devices/$1/vfio-dev/vfio*; do
		[ -e "$v" ] || continue
		echo "/dev/vfio/devices/$(basename "$v")"
		return 0
	done
	return 1
}

lab__driver_of() {
	local l=/sys/bus/pci/devices/$1/driver
	[ -e "$l" ] && basename "$(readlink "$l")"
	return 0
}

# The NVMe controller's BDF (class 0x010802; QEMU's nvme in the lab, tests/lab/run.sh).
lab_nvme_bdf() {
	local d
	lab__given "${LAB_NVME+set}" "$LAB_NVME" "NVMe controller" && return 0
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/class" 2>/dev/null)" = 0x010802 ] && { basename "$d"; return 0; }
	done
	lab_fail "no NVMe controller (class 0x010802) in L1"
}

# The device under test of the device-agnostic scenarios (device-*.sh): run-host.sh's first --device (LAB_DUT),
# in the lab's L1 the first edu.
lab_dut_bdf() {
	lab__given "${LAB_DUT+set}" "$LAB_DUT" "device to test" && return 0
	lab__edu_nth 1 || lab_fail "no edu PCI device (1234:11e8) in L1 to test"
}

# STRING with its dots escaped, for a regex (lab_expect, grep -E) that names a BDF.
lab_re() {
	echo "$1" | sed 's/[.]/\\./g'
}

# A BDF no PCI device has on this host (for the "no such device" checks).
lab_absent_bdf() {
	local b
	for b in 0000:00:1f.7 0000:ff:1f.7 00ff:ff:1f.7; do
		[ -e "/sys/bus/pci/devices/$b" ] || { echo "$b"; return 0; }
	done
	lab_fail "every BDF tried for 'no such device' exists on this host"
}

lab_bind_vfio() {
	local bdf=$1 drv i cdev
	drv=$(lab__driver_of "$bdf")
	if [ "$drv" != vfio-pci ]; then
		[ -d /sys/bus/pci/drivers/vfio-pci ] || lab_fail "no vfio-pci driver in L1"
		if [ -n "$drv" ]; then
			echo "$bdf" > "/sys/bus/pci/devices/$bdf/driver/unbind" || lab_fail "cannot unbind $bdf from $drv"
		fi
		echo vfio-pci > "/sys/bus/pci/devices/$bdf/driver_override" || lab_fail "cannot set driver_override on $bdf"
		echo "$bdf" > /sys/bus/pci/drivers_probe 2>/dev/null
		drv=$(lab__driver_of "$bdf")
		[ "$drv" = vfio-pci ] || lab_fail "$bdf did not bind to vfio-pci (driver: ${drv:-none})"
	fi
	# devtmpfs creates the node asynchronously; give it a moment.
	i=0
	while :; do
		cdev=$(lab__cdev_of "$bdf") && [ -c "$cdev" ] && break
		i=$((i + 1))
		[ $i -lt 50 ] || lab_fail "$bdf bound to vfio-pci but no cdev under /dev/vfio/devices"
		usleep 100000
	done
	echo "$cdev"
}

lab_bind_edu() {
	local bdf
	bdf=$(lab_edu_bdf) || exit 1
	lab_bind_vfio "$bdf"
}

lab_bind_edu2() {
	local bdf
	bdf=$(lab_edu2_bdf) || exit 1
	lab_bind_vfio "$bdf"
}

lab_unbind() {
	if [ -e "/sys/bus/pci/devices/$1/driver" ]; then
		echo "$1" > "/sys/bus/pci/devices/$1/driver/unbind" || lab_fail "cannot unbind $1"
	fi
	return 0
}

lab_unbind_edu() {
	local bdf
	bdf=$(lab_edu_bdf) || exit 1
	lab_unbind "$bdf"
}

lab_need_ivmm() {
	[ -x "$LAB_IVMM" ] || lab_fail "ivmm not built (no $LAB_IVMM in the L1 image: run make lab)"
}

lab_need_prog() {
	[ -x "$LAB_PROGS/$1" ] || lab_fail "$1 not built (no $LAB_PROGS/$1 in the L1 image: run make lab)"
}

# lab_run_timeout TIMEOUT OUTFILE CMD...: runs CMD in its own session with output to OUTFILE, stdin from
# $LAB_STDIN (default /dev/null; a FIFO to talk to the guest's console); on timeout kills the whole session
# (TERM, then KILL after 2 s) and returns 124, else returns CMD's exit code.
lab_run_timeout() {
	local t=$1 out=$2 pid ticks=0 rc
	shift 2
	setsid "$@" > "$out" 2>&1 < "${LAB_STDIN:-/dev/null}" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if [ $ticks -ge $((t * 10)) ]; then
			echo "info: '$1' still running after ${t}s: killing it" >> "$out"
			kill -TERM -"$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
			ticks=0
			while kill -0 "$pid" 2>/dev/null && [ $ticks -lt 20 ]; do
				usleep 100000
				ticks=$((ticks + 1))
			done
			kill -KILL -"$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			return 124
		fi
		usleep 100000
		ticks=$((ticks + 1))
	done
	wait "$pid"
	rc=$?
	return $rc
}

lab_run_l2() {
	local t=$1 out=$2
	shift 2
	lab_need_ivmm
	lab_run_timeout "$t" "$out" "$LAB_IVMM" run --kernel "$LAB_L2_KERNEL" --initrd "$LAB_L2_INITRD" "$@"
}

lab_expect() {
	grep -Eq -- "$2" "$1" 2>/dev/null && return 0
	echo "info: last lines of $1:"
	lab_tail "$1"
	lab_fail "$3 (no /$2/ in $(basename "$1"))"
}

# lab__run_progs_l2 BDF DEVPARAMS CMDLINE PROGS TIMEOUT [IVMM-ARGS...]: BDF bound to vfio-pci and passed through
# (`--device vfio-pci,host=BDF,DEVPARAMS`), L2 booted with `console=ttyS0 CMDLINE ivmm.l2=PROGS` (a comma list)
# runs them in order. Shows ivmm's and the programs' lines; fails the scenario unless ivmm exits 0 and L2 reports
# every one PASS. The output stays in /tmp/FIRST-PROG.out for further checks.
lab__run_progs_l2() {
	local bdf=$1 params=$2 cmdline=$3 progs=$4 t=$5 out rc p pat
	shift 5
	lab_need_ivmm
	lab_bind_vfio "$bdf" > /dev/null || exit 1
	out=/tmp/${progs%%,*}.out
	lab_run_l2 "$t" "$out" --device "vfio-pci,host=$bdf,$params" --cmdline "console=ttyS0 ${cmdline:+$cmdline }ivmm.l2=$progs" "$@"
	rc=$?
	pat=$(echo "$progs" | sed 's/,/:|/g')
	grep -E "^(ivmm:|$pat:|L2-RESULT)" "$out"
	[ $rc = 0 ] || { lab_tail "$out" 30; lab_fail "ivmm exited with status $rc"; }
	for p in $(echo "$progs" | tr , ' '); do
		lab_expect "$out" "L2-RESULT $p PASS" "$p did not pass"
	done
}

# lab_run_edu_l2 PROG TIMEOUT [IVMM-ARGS...]: edu passed through to L2, which runs /progs/PROG (ivmm.l2=PROG), a
# program that takes edu with VFIO in L2 (so the device is guest-vfio=on: behind a vSMMU, no direct MSI window
# for it). As lab__run_progs_l2; the output stays in /tmp/PROG.out.
lab_run_edu_l2() {
	local prog=$1 t=$2 bdf
	shift 2
	bdf=$(lab_edu_bdf) || exit 1
	lab__run_progs_l2 "$bdf" guest-vfio=on "" "$prog" "$t" "$@"
}

# lab_run_dut_l2 PROGS TIMEOUT [IVMM-ARGS...]: the device under test (lab_dut_bdf) passed through with
# guest-vfio=on, L2 running PROGS (a comma list), as lab__run_progs_l2. L2 boots with iommu.passthrough=1: a
# guest kernel driver that takes the device at boot (an NVMe, a NIC) gets an identity default domain, whose
# MSIs reach the host's doorbell without the direct MSI window guest-vfio=on leaves out (docs/vsmmu.md); the
# programs then take the device with the guest's own VFIO. The output stays in /tmp/FIRST-PROG.out.
lab_run_dut_l2() {
	local progs=$1 t=$2 bdf
	shift 2
	bdf=$(lab_dut_bdf) || exit 1
	lab__run_progs_l2 "$bdf" guest-vfio=on iommu.passthrough=1 "$progs" "$t" "$@"
}

lab_guest_ready() {
	local i=0 l
	while [ $i -lt "$4" ]; do
		# Only a whole line (the guest's console arrives in pieces): up to its last word.
		l=$(grep "^$2: ready $3 .* waiting" "$1" 2>/dev/null | head -n 1 | tr -d '\r')
		[ -n "$l" ] && { echo "$l"; return 0; }
		grep -q "L2-RESULT $2" "$1" 2>/dev/null && return 1
		usleep 100000
		i=$((i + 1))
	done
	return 2
}

lab_wait_for() {
	local i=0
	while ! grep -q -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt "$3" ] || { echo "gave up waiting for /$2/ in $1" >&2; return 1; }
		usleep 100000
	done
}

lab_feed_hold() {
	local i=0
	while [ $i -lt 30 ]; do
		sleep 1
		printf '\n' 2>/dev/null || return 0
		i=$((i + 1))
	done
}

lab_vsmmu_stat() {
	local file=$1 key=$2 name=${3:-vsmmu0} lines v
	lines=$(grep "^ivmm: stats: $name " "$file" 2>/dev/null | sed 's/$/ /')
	[ -n "$lines" ] ||
		lab_fail "no 'ivmm: stats: $name' line in $(basename "$file") (ivmm run without --stats or that vSMMU?)"
	case "$key" in
	[A-Z]*)
		v=$(echo "$lines" | grep " opcodes " | tail -n 1 | sed -n "s/.* $key=\([0-9][0-9]*\) .*/\1/p")
		v=${v:-0} ;;
	*)
		v=$(echo "$lines" | grep -v " opcodes " | sed -n "s/.* $key \([0-9][0-9.]*\) .*/\1/p" | tail -n 1)
		[ -n "$v" ] || lab_fail "no counter '$key' in the 'ivmm: stats: $name' lines of $(basename "$file")" ;;
	esac
	echo "$v"
}

# ---- background ivmm runs, and what an ivmm that is gone must not leave behind (scenarios/sigkill.sh) ----
#   lab_ivmm_start OUTFILE IVMM-ARGS...
#                               start `ivmm run --kernel /l2/Image --initrd /l2/initramfs.cpio.gz IVMM-ARGS...` in the
#                               background, stdin /dev/null, output to OUTFILE (environment as the caller's);
#                               its pid in LAB_IVMM_PID
#   lab_ivmm_console OUTFILE FIFO IVMM-ARGS...
#                               for a scenario that types into L2's shell while it drives ivmm: as
#                               lab_ivmm_start, but ivmm's stdin is FIFO (made here, held open on fd 3: `printf ...
#                               >&3` types), and wait (240 s) for `L2: shell ready` (no ivmm.l2 given); fails the
#                               scenario, ivmm killed, when the shell does not come
#   lab_ivmm_reap PID SECONDS   wait at most SECONDS for PID (a child of the scenario) to end: its exit status in
#                               LAB_IVMM_RC; returns 1 (LAB_IVMM_RC empty) if it is still running
#   lab_nothing_left BDF CDEV WHAT
#                               fail (naming WHAT) unless no ivmm process or thread is left, no process holds CDEV
#                               or /dev/iommu open, BDF is still bound to vfio-pci, and CDEV opens again

lab_ivmm_start() {
	local out=$1
	shift
	lab_need_ivmm
	"$LAB_IVMM" run --kernel "$LAB_L2_KERNEL" --initrd "$LAB_L2_INITRD" "$@" > "$out" 2>&1 < /dev/null &
	LAB_IVMM_PID=$!
}

lab_ivmm_console() {
	local out=$1 fifo=$2
	shift 2
	lab_need_ivmm
	rm -f "$fifo" "$out"
	mkfifo "$fifo" || lab_fail "cannot make the FIFO $fifo"
	exec 3<> "$fifo"
	"$LAB_IVMM" run --kernel "$LAB_L2_KERNEL" --initrd "$LAB_L2_INITRD" "$@" < "$fifo" > "$out" 2>&1 &
	LAB_IVMM_PID=$!
	lab_wait_for "$out" 'L2: shell ready' 2400 ||
		{ kill -KILL $LAB_IVMM_PID; lab_tail "$out" 30; lab_fail "the L2 shell did not start"; }
}

lab_ivmm_reap() {
	local pid=$1 i=0 state
	LAB_IVMM_RC=
	while [ $i -lt $(($2 * 10)) ]; do
		state=$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)
		[ -z "$state" ] || [ "$state" = Z ] && break
		usleep 100000
		i=$((i + 1))
	done
	[ -z "$state" ] || [ "$state" = Z ] || return 1
	wait "$pid"
	LAB_IVMM_RC=$?
	return 0
}

lab_nothing_left() {
	local bdf=$1 cdev=$2 what=$3 left t f l drv
	left=$(pidof ivmm)
	[ -z "$left" ] || lab_fail "$what: ivmm processes left: $left"
	for t in /proc/[0-9]*/task/[0-9]*/comm; do
		[ "$(cat "$t" 2>/dev/null)" = ivmm ] && lab_fail "$what: an ivmm thread is left: ${t%/comm}"
	done
	for f in /proc/[0-9]*/fd/*; do
		l=$(readlink "$f" 2>/dev/null) || continue
		case "$l" in
		"$cdev" | /dev/iommu) lab_fail "$what: ${f%/fd/*} still holds $l open" ;;
		esac
	done
	drv=$(lab__driver_of "$bdf")
	[ "$drv" = vfio-pci ] || lab_fail "$what: $bdf is bound to '${drv:-nothing}', not vfio-pci"
	( exec 3<> "$cdev" ) 2> /dev/null || lab_fail "$what: $cdev does not open again"
	return 0
}
