#!/bin/sh
# run-host.sh: runs ivmm's lab scenarios natively on an arm64 Linux host, from the unpacked host bundle that
# tests/lab/bundle.sh makes (`make host-bundle`; this file is tests/lab/bundle/run-host.sh; docs/lab.md, "The
# host bundle"). As root on the host:
#
#   tar xzf ivmm-host-bundle.tar.gz && cd ivmm-host-bundle
#   ./run-host.sh --device BDF [--device BDF]... [-v] [--out DIR] [SCENARIO...]
#   ./run-host.sh --list [--device BDF]...        what each scenario needs, and what would run or be skipped
#
# Each SCENARIO (default: every one that is not `# manual`, `# lab-only` or selftest-*, l1-health first, then by
# name) runs as in the lab's L1: in its own session, cwd lab/, after sourcing lab/lib.sh, killed with its whole
# session at its `# timeout:` (default 60 s); whatever it left running (any process that inherited its run's
# IVMM_HOST_RUN marker) is killed before the next one starts. lib.sh finds the bundle's files through LAB_DIR,
# LAB_IVMM, LAB_PROGS, LAB_L2_KERNEL and LAB_L2_INITRD, and its device helpers return the devices given here,
# never one found by searching the host. run-host.sh and the scenarios run under the bundle's static busybox
# (bin/busybox, its applets first in PATH): the same shell and tools as in L1, whatever the host's are.
#
# --device BDF   (repeatable; DDDD:BB:DD.F or BB:DD.F) a PCI device the scenarios may take. The first one given,
#                whatever it is, is the device under test of the device-agnostic scenarios (device-config,
#                device-irqs, device-vsmmu: config space and BARs against the host's sysfs, MSI/MSI-X set up
#                through VFIO in the guest, vSMMU probe, STE attach and invalidation batching, nothing asked of
#                the device itself; device-fault, a stage-1 fault event, when the lab can make the device DMA:
#                edu, NVMe controllers). The first QEMU edu (1234:11e8) is the one every edu scenario uses, a
#                second edu the one vsmmu-two adds, an NVMe controller (class 0x010802) the one passthrough-nvme
#                and vsmmu-nvme give to the guest (it is unbound from its driver and data is written to it:
#                never name a disk you need). A scenario needing a device that was not given is reported SKIP.
#                The scenarios bind the devices they use to vfio-pci and leave them there.
# -v, --verbose  copy each scenario's output to stdout while it runs
# --out DIR      where each scenario's output (NAME.out) and the summary go (default: results/DATE-TIME/ here)
#
# Output, as the lab's runner prints it: `lab: info: ...` (the devices; `ivmm host-check` with them, when the
# bundled ivmm has it), one `lab: NAME PASS`, `lab: NAME FAIL <reason>` (the last `FAIL:` line it printed, or
# the timeout; then its last output lines, `    | `) or `lab: NAME SKIP <reason>` per scenario, the time of
# each, and `N passed, N failed` (`, N skipped` when some were). Exit status: 0 when none failed; 1 when one
# failed or the host cannot run them (not arm64, not root, no /dev/kvm: one line says which); 2 for a bad
# command line.
# Lines 2 to here are --help.

here=$(cd "$(dirname "$0")" && pwd)
me=run-host
# On arm64, everything below runs under the bundle's busybox (checked again after the host checks).
BB=$here/bin/busybox
case "$(uname -m)" in
aarch64|arm64)
	if [ -z "${IVMM_RUN_HOST_BB:-}" ] && [ -x "$BB" ] && "$BB" true 2>/dev/null; then
		export IVMM_RUN_HOST_BB=1
		exec "$BB" sh "$0" "$@"
	fi ;;
esac
under_bb=${IVMM_RUN_HOST_BB:-}
unset IVMM_RUN_HOST_BB
TAIL=15
[ "${CI:-}" = true ] && TAIL=60

die() { echo "$me: error: $*" >&2; exit "${2:-1}"; }
usage_error() { echo "$me: error: $* (see --help)" >&2; exit 2; }

# ---- command line (plain POSIX sh: --help and --list also work where the bundle cannot run) ----
devices= scenarios= verbose=0 out= list=0
while [ $# -gt 0 ]; do
	case "$1" in
	--device) [ $# -ge 2 ] || usage_error "--device needs a BDF"; devices="$devices $2"; shift ;;
	--device=*) devices="$devices ${1#--device=}" ;;
	--out) [ $# -ge 2 ] || usage_error "--out needs a directory"; out=$2; shift ;;
	--out=*) out=${1#--out=} ;;
	-v|--verbose) verbose=1 ;;
	--list) list=1 ;;
	-h|--help) sed -n '2,/^# Lines 2 to here/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) usage_error "unknown option '$1'" ;;
	*) case "$1" in *[!A-Za-z0-9_.-]*) usage_error "bad scenario name '$1'" ;; esac
	   case " $scenarios " in *" $1 "*) usage_error "scenario $1 named twice" ;; esac
	   scenarios="$scenarios $1" ;;
	esac
	shift
done

bdfs=
for d in $devices; do
	b=$(echo "$d" | tr A-F a-f)
	case "$b" in
	[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f].[0-7]) b=0000:$b ;;
	[0-9a-f][0-9a-f][0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f].[0-7]) ;;
	*) usage_error "--device '$d': not a PCI address (DDDD:BB:DD.F or BB:DD.F)" ;;
	esac
	case " $bdfs " in *" $b "*) usage_error "device $b given twice" ;; esac
	bdfs="$bdfs $b"
done

S=$here/lab/scenarios
case "$here" in *[[:space:]]*) die "$here: unpack the bundle where its path has no spaces (scenarios build command lines from it)" ;; esac
if [ ! -f "$here/lab/lib.sh" ] || [ ! -d "$S" ]; then
	die "$here is not an unpacked ivmm host bundle (no lab/lib.sh, lab/scenarios/)"
fi
for s in $scenarios; do
	[ -f "$S/$s.sh" ] ||
		usage_error "no scenario $s ($S/$s.sh); have: $(cd "$S" && ls *.sh | sed 's/\.sh$//' | tr '\n' ' ')"
done

# ---- can this host run them at all? (--list needs none of it) ----
if [ $list = 0 ]; then
	case "$(uname -m)" in
	aarch64|arm64) ;;
	*) die "this host is $(uname -m), not arm64: the bundle's ivmm, guest and tools are arm64 (use an arm64 Linux host)" ;;
	esac
	[ "$(id -u)" = 0 ] ||
		die "not running as root: the scenarios bind devices to vfio-pci and change /dev and /proc/sys (run it as root)"
	[ -c /dev/kvm ] || die "no /dev/kvm: this host's kernel offers no KVM (CONFIG_KVM, booted at EL2)"
fi

# ---- the devices: the device under test (the first), which one is the edu, the second edu, the NVMe ----
dut=${bdfs# }
dut=${dut%% *}
edu1= edu2= nvme=
dev_id() {
	echo "$(cat "/sys/bus/pci/devices/$1/vendor" 2>/dev/null) $(cat "/sys/bus/pci/devices/$1/device" 2>/dev/null)"
}
is_edu() {
	[ "$(dev_id "$1")" = "0x1234 0x11e8" ]
}
is_nvme() {
	[ "$(cat "/sys/bus/pci/devices/$1/class" 2>/dev/null)" = 0x010802 ]
}
for b in $bdfs; do
	[ -e "/sys/bus/pci/devices/$b" ] || die "no PCI device $b (/sys/bus/pci/devices/$b does not exist)"
	if is_edu "$b"; then
		if [ -z "$edu1" ]; then edu1=$b; elif [ -z "$edu2" ]; then edu2=$b; fi
	elif is_nvme "$b" && [ -z "$nvme" ]; then
		nvme=$b
	fi
done

# needs FILE: what a scenario needs, from what it calls (comments aside) and its `# needs:` / `# lab-only` lines.
needs() {
	n=$(sed -n 's/^#[[:space:]]*needs:[[:space:]]*//p' "$1" | tr '\n' ' ')
	grep -q '^#[[:space:]]*lab-only[[:space:]]*$' "$1" && n="$n lab-only"
	code=$(grep -v '^[[:space:]]*#' "$1")
	echo "$code" | grep -Eq 'lab_edu_bdf|lab_bind_edu|lab_unbind_edu|lab_run_edu_l2' && n="$n edu"
	echo "$code" | grep -Eq 'lab_edu2_bdf|lab_bind_edu2' && n="$n edu2"
	echo "$code" | grep -q 'lab_nvme_bdf' && n="$n nvme"
	echo "$code" | grep -Eq 'lab_dut_bdf|lab_run_dut_l2' && n="$n device"
	echo $n
}
# skip_reason FILE: why the scenario cannot run with the devices given (nothing: it can).
skip_reason() {
	for w in $(needs "$1"); do
		case "$w" in
		lab-only) echo "lab-only: runs in the lab's L1 only"; return ;;
		edu) [ -n "$edu1" ] || { echo "needs QEMU's edu device"; return; } ;;
		edu2) [ -n "$edu2" ] || { echo "needs a second QEMU edu device"; return; } ;;
		nvme) [ -n "$nvme" ] || { echo "needs an NVMe controller (--device; its data is overwritten)"; return; } ;;
		device) [ -n "$dut" ] || { echo "needs a device to test (--device BDF: any PCI device)"; return; } ;;
		device-dma)
			# The devices tests/lab/progs/l2_dma_trigger.h has a DMA trigger for (keep the two in step).
			[ -n "$dut" ] || { echo "needs a device to test (--device BDF)"; return; }
			is_edu "$dut" || is_nvme "$dut" ||
				{ echo "the lab knows no way to make $dut ($(dev_id "$dut" | sed 's/0x//g; s/ /:/')) do DMA (edu, NVMe: l2_dma_trigger.h)"; return; } ;;
		esac
	done
}
timeout_of() {
	t=$(sed -n 's/^#[[:space:]]*timeout:[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$1" | head -n1)
	echo "${t:-60}"
}

if [ -z "$scenarios" ]; then
	for f in "$S"/l1-health.sh "$S"/*.sh; do
		[ -f "$f" ] || continue
		s=$(basename "$f" .sh)
		case "$s" in selftest-*) continue ;; esac
		grep -q '^#[[:space:]]*manual[[:space:]]*$' "$f" && continue
		grep -q '^#[[:space:]]*lab-only[[:space:]]*$' "$f" && continue
		case " $scenarios " in *" $s "*) continue ;; esac
		scenarios="$scenarios $s"
	done
fi

if [ $list = 1 ]; then
	for s in $scenarios; do
		r=$(skip_reason "$S/$s.sh")
		printf '%-24s timeout %4ss  needs: %-14s %s\n' "$s" "$(timeout_of "$S/$s.sh")" "$(needs "$S/$s.sh" | sed 's/^$/-/')" \
			"${r:+SKIP $r}"
	done
	exit 0
fi

[ -n "$under_bb" ] || die "the bundle's busybox does not run on this host ($BB)"
host_path=$PATH

# ---- where outputs go; busybox's applets first in PATH ----
[ -n "$out" ] || out=$here/results/$(date +%Y%m%d-%H%M%S)
[ ! -e "$out/summary.log" ] || out=$out-$$
mkdir -p "$out/.bin" || die "cannot create $out"
out=$(cd "$out" && pwd)
if ! "$BB" --install -s "$out/.bin" 2>/dev/null; then
	for a in $("$BB" --list); do ln -sf "$BB" "$out/.bin/$a"; done
fi
export PATH="$out/.bin:$host_path"
: > "$out/summary.log"
say() { echo "lab: $*" | tee -a "$out/summary.log"; }

# What lib.sh and the scenarios use (lib.sh's defaults are L1's paths).
export LAB_DIR="$here/lab" LAB_IVMM="$here/bin/ivmm" LAB_PROGS="$here/progs" LAB_L2_KERNEL="$here/l2/Image" \
	LAB_L2_INITRD="$here/l2/initramfs.cpio.gz" LAB_DEVICE="$edu1" LAB_DEVICE2="$edu2" LAB_NVME="$nvme" LAB_DUT="$dut"

say "info: host $(uname -n), kernel $(uname -r), $(grep -c '^processor' /proc/cpuinfo) CPUs;" \
	"bundle built from $(sed -n 's/^built from //p' "$here/MANIFEST" 2>/dev/null)"
[ -x "$LAB_IVMM" ] || say "info: the bundle has no ivmm ($LAB_IVMM): the scenarios needing it fail"
[ -c /dev/iommu ] || say "info: no /dev/iommu (CONFIG_IOMMUFD): passthrough scenarios will fail"
for b in $bdfs; do
	id=$(dev_id "$b" | sed 's/0x//g; s/ /:/')
	drv=$(readlink "/sys/bus/pci/devices/$b/driver" 2>/dev/null)
	drv=${drv##*/}
	what="$id class $(cat "/sys/bus/pci/devices/$b/class"), driver ${drv:-none}"
	uses=
	[ "$b" != "$dut" ] || uses="the device-agnostic scenarios test it"
	case "$b" in
	"$edu1") kind="QEMU's edu" u="the edu scenarios use it" ;;
	"$edu2") kind="a second QEMU edu" u="the scenarios with two edus use it" ;;
	"$nvme") kind="NVMe controller" u="the nvme scenarios give it to the guest, which writes to it" ;;
	*) kind="a device" u= ;;
	esac
	[ -n "$u$uses" ] || uses="only ivmm host-check looks at it"
	say "info: device $b: $kind ($what): ${u:+$u}${u:+${uses:+; }}$uses"
done
[ -n "$bdfs" ] || say "info: no --device given: only the scenarios that need no device run"
[ -z "$bdfs" ] || [ -n "$edu1" ] ||
	say "info: no QEMU edu (1234:11e8) among the devices: the scenarios that need one are skipped"

# ---- ivmm host-check first, when the bundled ivmm has it: its lines are information, not a verdict ----
if [ -x "$LAB_IVMM" ] && "$LAB_IVMM" host-check --help > /dev/null 2>&1 < /dev/null; then
	set --
	for b in $bdfs; do set -- "$@" --device "$b"; done
	(. "$LAB_DIR/lib.sh"; lab_run_timeout 60 "$out/host-check.out" "$LAB_IVMM" host-check "$@")
	rc=$?
	sed 's/^/lab: info: /' "$out/host-check.out" | tee -a "$out/summary.log"
	say "info: ivmm host-check${*:+ $*} exited with status $rc"
elif [ -x "$LAB_IVMM" ]; then
	say "info: the bundled ivmm has no host-check"
fi

now() { read -r up _ < /proc/uptime; echo "${up%.*}"; }

# marked TOKEN: the pids of the processes whose environment holds IVMM_HOST_RUN=TOKEN (a scenario's, and what
# it started, in any session).
marked() {
	grep -lzxF "IVMM_HOST_RUN=$1" /proc/[0-9]*/environ 2>/dev/null | sed 's|^/proc/||; s|/environ$||' | tr '\n' ' '
}
# reap TOKEN NAME: give what a scenario left running 3 s to end (as L1 does), then kill it.
reap() {
	local pids i=0 n=0
	pids=$(marked "$1")
	while [ -n "$pids" ] && [ $i -lt 30 ]; do usleep 100000; i=$((i + 1)); pids=$(marked "$1"); done
	while [ -n "$pids" ] && [ $n -lt 10 ]; do
		[ $n -gt 0 ] || say "note: $2 left processes running; killing them: $(for p in $pids; do
			printf '%s(%s) ' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)"; done)"
		kill -KILL $pids 2>/dev/null
		usleep 100000
		n=$((n + 1))
		pids=$(marked "$1")
	done
}

# run_one NAME: run one scenario (as l1-init's run_scenario does), print its result line, count it.
script='echo $$ > "$2.pid"; cd "$LAB_DIR" || exit 1; . "$LAB_DIR/lib.sh"; . "$LAB_DIR/scenarios/$1.sh"'
cur_tok= cur_o= seq=0
run_one() {
	local name=$1 f=$S/$1.sh t o tok bg start timedout= lines pg rc reason i took
	t=$(timeout_of "$f")
	o=$out/$name
	seq=$((seq + 1))
	tok=$$.$seq.$name
	rm -f "$o.out" "$o.rc" "$o.pid"
	cur_tok=$tok cur_o=$o
	if [ $verbose = 1 ]; then
		{ IVMM_HOST_RUN=$tok setsid "$BB" sh -c "$script" scenario "$name" "$o" < /dev/null
		  echo $? > "$o.rc"; } 2>&1 | tee "$o.out" | sed "s/^/  $name> /" &
	else
		{ IVMM_HOST_RUN=$tok setsid "$BB" sh -c "$script" scenario "$name" "$o" < /dev/null
		  echo $? > "$o.rc"; } > "$o.out" 2>&1 &
	fi
	bg=$!
	start=$(now)
	while [ ! -f "$o.rc" ]; do
		if [ $(($(now) - start)) -ge "$t" ]; then
			lines=$(wc -l < "$o.out")
			pg=$(cat "$o.pid" 2>/dev/null)
			[ -n "$pg" ] && kill -KILL -"$pg" 2>/dev/null
			timedout=1
			break
		fi
		usleep 100000
	done
	took=$(($(now) - start))
	reap "$tok" "$name"
	i=0
	while kill -0 "$bg" 2>/dev/null && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
	wait "$bg" 2>/dev/null
	cur_tok= cur_o=
	rc=$(cat "$o.rc" 2>/dev/null)
	times="$times $name ${took}s,"
	if [ -n "$timedout" ]; then
		reason="timeout: killed after ${t}s; last output: $(head -n "$lines" "$o.out" | grep -v '^[[:space:]]*$' | tail -n1)"
	elif [ "$rc" = 0 ]; then
		say "$name PASS"
		pass=$((pass + 1))
		return
	else
		reason=$(grep '^FAIL:' "$o.out" | tail -n1 | sed 's/^FAIL:[[:space:]]*//')
		reason=${reason:-exit status ${rc:-unknown} without a FAIL: line}
	fi
	say "$name FAIL $reason"
	grep -v '^[[:space:]]*$' "$o.out" | tail -n "$TAIL" | sed 's/^/    | /' | tee -a "$out/summary.log"
	fail=$((fail + 1))
}

on_signal() {
	if [ -n "$cur_o" ]; then
		pg=$(cat "$cur_o.pid" 2>/dev/null)
		[ -n "$pg" ] && kill -KILL -"$pg" 2>/dev/null
		pids=$(marked "$cur_tok")
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null
	fi
	say "interrupted"
	exit 130
}
trap on_signal INT TERM HUP

pass=0 fail=0 skip=0 times=
for s in $scenarios; do
	r=$(skip_reason "$S/$s.sh")
	if [ -n "$r" ]; then
		say "$s SKIP $r"
		skip=$((skip + 1))
		continue
	fi
	run_one "$s"
done
[ -z "$times" ] || say "time per scenario:${times%,}"
say "outputs in $out"
if [ $skip -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped" | tee -a "$out/summary.log"
else
	echo "$pass passed, $fail failed" | tee -a "$out/summary.log"
fi
[ $fail = 0 ]
