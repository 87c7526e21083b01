#!/usr/bin/env bash
# run.sh: the lab's host-side runner. Boots L1 (QEMU TCG arm64 with EL2, a nested SMMUv3 and QEMU's edu
# device) once, lets L1's /init run the scenarios, and reports them.
#
#   bash tests/lab/run.sh [options] [SCENARIO...]   run scenarios (none named: every non-manual one)
#   bash tests/lab/run.sh --shell                   interactive L1 console (edu bound, ivmm installed)
#   bash tests/lab/run.sh --demo                    L1 runs the demo guest on the console
# Options: --no-build (use build/lab as is), -v|--verbose (copy the console to stdout), --append "ARGS"
# (extra L1 kernel arguments). Environment: IVMM_LAB_MEM (default 2G), IVMM_LAB_CPU (QEMU -cpu, default
# max), IVMM_LAB_BOOT_TIMEOUT (seconds for L1 to reach /init, default 120), IVMM_LAB_GRACE (seconds the host
# waits beyond a scenario's own timeout, default 30), IVMM_LAB_APPEND (extra kernel arguments),
# IVMM_LAB_VERBOSE=1, IVMM_LAB_TAIL (console lines shown under a failure: 15, or 60 when CI=true).
#
# Output: `lab: NAME PASS` / `lab: NAME FAIL <reason>` per scenario (NAME@VARIANT on a host variant's boot, and
# `lab: NAME@VARIANT SKIP <reason>` for a scenario that says `# skip-on: VARIANT REASON`: not run, not counted) (a failure also shows the scenario's last
# console lines), then `N passed, N failed`. Exit 0 iff every scenario passed. The console of every boot is
# kept in build/lab/logs/ (build/lab/logs/latest.log is the last one).
#
# Timeouts: L1 enforces each scenario's `# timeout:`. The host kills QEMU if L1 does not reach /init within
# IVMM_LAB_BOOT_TIMEOUT, if a scenario has no result within its timeout + IVMM_LAB_GRACE, or if the whole boot
# exceeds the sum of both; a kernel panic ends the boot at once (panic=-1 + -no-reboot). Scenarios left
# without a result are reported FAIL with the reason. Runs are serialized machine-wide with flock on
# $CACHE/lab.lock; QEMU never reads stdin except with --shell/--demo.
# The body is one { } block: bash parses it whole before running, so editing this file while it
# runs (a long lab run) cannot corrupt the running instance.
{
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
CACHE=${IVMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ivmm-lab}
lab=$top/build/lab
MEM=${IVMM_LAB_MEM:-2G}
CPU=${IVMM_LAB_CPU:-max}
BOOT_TIMEOUT=${IVMM_LAB_BOOT_TIMEOUT:-120}
GRACE=${IVMM_LAB_GRACE:-30}
VERBOSE=${IVMM_LAB_VERBOSE:-0}
# Console lines shown under a failure; CI keeps no build/lab/logs, so it shows more.
if [ "${CI:-}" = true ]; then TAIL=${IVMM_LAB_TAIL:-60}; else TAIL=${IVMM_LAB_TAIL:-15}; fi
APPEND=${IVMM_LAB_APPEND:-}
DEFAULT_TIMEOUT=60
# The host variants the lab kernel can play (configs/lab/0002-*.patch), and the one this run plays (set by
# the runner itself for NAME@VARIANT scenarios).
VARIANTS="noril erratum 64k"
VARIANT=${IVMM_LAB_VARIANT:-}

die() { printf 'lab: error: %s\n' "$*" >&2; exit 2; }
say() { printf 'lab: %s\n' "$*"; }

mode=test build=1
scenarios=() skips=()
fwd=()   # options a variant's run is given too
while [ $# -gt 0 ]; do
	case "$1" in
	--shell) mode=shell ;;
	--demo) mode=demo ;;
	--no-build) build=0 ;;
	-v|--verbose) VERBOSE=1; fwd+=(-v) ;;
	--append) shift; APPEND="$APPEND ${1:-}"; fwd+=(--append "${1:-}") ;;
	-h|--help) sed -n '2,/^# The body is one/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) scenarios+=("$1") ;;
	esac
	shift
done

command -v qemu-system-aarch64 >/dev/null || die "qemu-system-aarch64 missing (run scripts/deps.sh lab)"

# ---- which scenarios, and their timeouts (the same header L1 reads) ----
scenario_timeout() {
	local t
	t=$(sed -n 's/^#[[:space:]]*timeout:[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$here/scenarios/$1.sh" | head -n1)
	echo "${t:-$DEFAULT_TIMEOUT}"
}
if [ "$mode" = test ]; then
	if [ ${#scenarios[@]} = 0 ]; then
		# Every non-manual scenario, alphabetically, except that l1-health (is the lab sane?) comes first.
		for f in "$here"/scenarios/l1-health.sh "$here"/scenarios/*.sh; do
			s=$(basename "$f" .sh)
			[ -f "$f" ] || continue
			grep -q '^#[[:space:]]*manual[[:space:]]*$' "$f" && continue
			grep -q '^#[[:space:]]*variant-only[[:space:]]*$' "$f" && continue
			case " ${scenarios[*]} " in *" $s "*) continue ;; esac
			scenarios+=("$s")
		done
		# Then the host variants each scenario asks for (`# variants: noril erratum`), after all the others.
		for f in "$here"/scenarios/*.sh; do
			grep -q '^#[[:space:]]*manual[[:space:]]*$' "$f" && continue
			for v in $(sed -n 's/^#[[:space:]]*variants:[[:space:]]*//p' "$f" | head -n1); do
				scenarios+=("$(basename "$f" .sh)@$v")
			done
			# `# skip-on: VARIANT REASON`: it cannot apply there; said, not run, not counted.
			while read -r v why; do
				[ -n "$v" ] && skips+=("$(basename "$f" .sh)@$v SKIP $why")
			done < <(sed -n 's/^#[[:space:]]*skip-on:[[:space:]]*//p' "$f")
		done
	fi
	uniq=()
	for s in "${scenarios[@]}"; do
		case " ${uniq[*]} " in *" $s "*) die "scenario $s named twice" ;; esac
		uniq+=("$s")
		case "$s" in *@*) v=${s#*@}; s=${s%%@*} ;; *) v= ;; esac
		case "$s" in *[!A-Za-z0-9_.-]*|'') die "bad scenario name '$s'" ;; esac
		[ -z "$v" ] || case " $VARIANTS " in *" $v "*) ;; *) die "no host variant '$v' (have: $VARIANTS)" ;; esac
		[ -f "$here/scenarios/$s.sh" ] || die "no scenario $s (tests/lab/scenarios/$s.sh); have: $(cd "$here/scenarios" && ls *.sh | sed 's/\.sh$//' | tr '\n' ' ')"
	done
	# A NAME@VARIANT asked for by name whose scenario says `# skip-on: VARIANT`: said, not run.
	kept=()
	for s in "${scenarios[@]}"; do
		why=
		case "$s" in *@*) why=$(sed -n "s/^#[[:space:]]*skip-on:[[:space:]]*${s#*@}[[:space:]]\{1,\}//p" \
			"$here/scenarios/${s%%@*}.sh" | head -n1) ;; esac
		if [ -n "$why" ]; then say "$s SKIP $why"; else kept+=("$s"); fi
	done
	[ ${#kept[@]} -gt 0 ] || [ ${#kept[@]} = ${#scenarios[@]} ] || { echo "0 passed, 0 failed"; exit 0; }
	scenarios=("${kept[@]}")
	[ ${#scenarios[@]} -gt 0 ] || die "no scenarios to run"
fi

# ---- host variants: NAME@VARIANT runs NAME on an L1 booted with the lab kernel's switch ivmm_lab_VARIANT ----
# (configs/lab/0002-*.patch: noril hides IDR3.RIL, erratum sets REPEAT_TLBI_CFGI). Each variant is one more L1
# boot, by this script run again with IVMM_LAB_VARIANT set; the lines name NAME@VARIANT and the last line
# counts every boot's scenarios.
if [ "$mode" = test ] && [ -z "$VARIANT" ] && [[ " ${scenarios[*]}" == *@* ]]; then
	declare -A group
	order=()
	for s in "${scenarios[@]}"; do
		case "$s" in *@*) v=${s#*@} ;; *) v=- ;; esac
		[ -n "${group[$v]+x}" ] || order+=("$v")
		group[$v]+=" ${s%%@*}"
	done
	pass=0 fail=0 first=1
	for v in "${order[@]}"; do
		b=(--no-build); [ "$first" = 1 ] && [ "$build" = 1 ] && b=()
		first=0
		[ "$v" = - ] && v=
		for k in "${skips[@]}"; do
			[ -n "$v" ] && [[ "$k" == *"@$v SKIP "* ]] && say "$k"
		done
		out=$(mktemp)
		# shellcheck disable=SC2086
		IVMM_LAB_VARIANT=$v bash "$0" "${b[@]}" "${fwd[@]}" ${group[${v:--}]} | tee "$out" |
			sed -u -E 's/^([0-9]+) passed, ([0-9]+) failed$/lab: boot'"${v:+ @$v}"': \1 passed, \2 failed/'
		last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n1)
		rm -f "$out"
		if [ -n "$last" ]; then
			set -- $last
			pass=$((pass + $1)) fail=$((fail + $3))
		else
			n=$(wc -w <<< "${group[${v:--}]}")
			say "boot${v:+ @$v} ended without a result: its $n scenario(s) count as failed"
			fail=$((fail + n))
		fi
	done
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit $?
fi
# The variant's L1: 64k boots the 64 KiB-page kernel; the others the one kernel with their switch. L1 reads
# ivmm.variant= (lib.sh's lab_variant).
KERNEL=$lab/Image
case "$VARIANT" in
'') ;;
64k) KERNEL=$lab/Image-64k; APPEND="$APPEND ivmm.variant=64k" ;;
*) APPEND="$APPEND ivmm_lab_$VARIANT ivmm.variant=$VARIANT" ;;
esac
# label NAME: how a scenario is named in the output (NAME@VARIANT on a variant's boot).
label() { printf '%s%s' "$1" "${VARIANT:+@$VARIANT}"; }

# ---- one lab at a time on this machine ----
mkdir -p "$CACHE" "$lab/logs"
exec 9>"$CACHE/lab.lock"
if ! flock -n 9; then
	say "waiting for another lab run to finish (lock $CACHE/lab.lock)"
	flock 9
fi

if [ "$build" = 1 ]; then
	bash "$here/build.sh" || die "building the lab images failed"
fi
for f in "$KERNEL" "$lab/l1-initramfs.cpio.gz"; do
	[ -e "$f" ] || die "$f missing: run make lab (or tests/lab/build.sh)"
done

stamp=$(date +%Y%m%d-%H%M%S)
case "$mode" in
test) tag=$(IFS=,; echo "${scenarios[*]}"); [ ${#tag} -le 60 ] || tag="${tag:0:60}+"; tag+=${VARIANT:+@$VARIANT} ;;
*) tag=$mode ;;
esac
log=$lab/logs/$stamp-$tag.log
[ ! -e "$log" ] || log=$lab/logs/$stamp-$tag-$$.log
ln -sfn "$(basename "$log")" "$lab/logs/latest.log"
# Keep the last 40 boots.
ls -1t "$lab"/logs/*.log 2>/dev/null | grep -v '/latest.log$' | tail -n +41 | while read -r old; do rm -f "$old" "$old.qemu"; done

cmdline="console=ttyAMA0 rdinit=/init panic=-1"
# QEMU's edu masks every DMA address with dma_mask, by default 28 bits, which would silently clamp the
# addresses of a guest whose RAM sits above 256 MiB (ivmm maps guest RAM at IOVA = GPA). The lab gives edu
# 40 bits, like a device that can reach any address the guest's IPA space holds.
EDU_DMA_MASK=${IVMM_LAB_EDU_DMA_MASK:-0xffffffffff}
# Two edus: the first lands at 00:01.0 (lab_edu_bdf, every single-device scenario), the second at 00:02.0
# (lab_edu2_bdf: two passthrough devices, e.g. each behind its own vSMMU in vsmmu-two). Both sit behind L1's
# one SMMUv3, each in its own IOMMU group; the second stays unbound until a scenario binds it.
# And QEMU's NVMe controller (00:03.0, class 0x010802) on a 16 MiB sparse file made fresh for every boot: the
# passthrough target for a guest kernel driver with MSI-X (passthrough-nvme, vsmmu-nvme). L1's own nvme driver
# takes it at boot; those scenarios rebind it to vfio-pci. One file per runner (an interactive session may
# run beside a test run), removed when QEMU is done.
nvme_img=$lab/nvme-$$.img
rm -f "$nvme_img"; truncate -s 16M "$nvme_img"
qemu=(qemu-system-aarch64 -M virt,virtualization=on,gic-version=3,iommu=smmuv3 -global arm-smmuv3.stage=nested
      -cpu "$CPU" -smp 2 -m "$MEM" -display none -net none -no-reboot
      -kernel "$KERNEL" -initrd "$lab/l1-initramfs.cpio.gz" -device "edu,dma_mask=$EDU_DMA_MASK"
      -device "edu,dma_mask=$EDU_DMA_MASK"
      -drive "file=$nvme_img,if=none,id=nvm,format=raw" -device "nvme,serial=ivmm-lab,drive=nvm")

# ---- interactive modes: the console is the terminal (Ctrl-A x quits QEMU), also copied to the log ----
if [ "$mode" != test ]; then
	chardev=stdio,id=con,mux=on,signal=off,logfile=$log
	extra=()
	if [ -t 0 ]; then
		say "$mode: L1 console follows; Ctrl-A x quits QEMU, Ctrl-A c toggles the QEMU monitor; log: $log"
	else
		say "$mode: stdin is not a terminal; the console is copied to stdout and $log"
	fi
	exec 9>&-   # the lock is for unattended runs; a long interactive session must not block CI
	"${qemu[@]}" -chardev "$chardev" -serial chardev:con -mon chardev=con,mode=readline "${extra[@]}" \
		-append "$cmdline ivmm.$mode=1 $APPEND"
	rc=$?
	rm -f "$nvme_img"
	exit $rc
fi

# ---- test mode ----
declare -A tmo result reason took
total=$BOOT_TIMEOUT
for s in "${scenarios[@]}"; do
	tmo[$s]=$(scenario_timeout "$s")
	total=$((total + tmo[$s] + GRACE))
done
list=$(IFS=,; echo "${scenarios[*]}")
: > "$log"
t0=$SECONDS
t0ms=$(($(date +%s%N) / 1000000))
"${qemu[@]}" -monitor none -serial "file:$log" -append "$cmdline ivmm.scenarios=$list $APPEND" \
	< /dev/null > "$log.qemu" 2>&1 &
qpid=$!
trap 'kill -KILL $qpid 2>/dev/null; rm -f "$nvme_img"' EXIT
trap 'say "interrupted"; exit 130' INT TERM

kill_qemu() {
	kill -TERM "$qpid" 2>/dev/null
	for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qpid" 2>/dev/null || return 0; sleep 0.2; done
	kill -KILL "$qpid" 2>/dev/null
}

# Print the last console lines of the current scenario (or of the boot), indented.
show_tail() {
	local n=${2:-$TAIL}
	printf '%s\n' "$1" | grep -v '^[[:space:]]*$' | tail -n "$n" | sed 's/^/    | /'
}

init_seen= done_seen= panic= current= hung= cur_out= boot_out= cur_t0=$SECONDS
deadline=$((t0 + BOOT_TIMEOUT))
overall=$((t0 + total))
partial=
exec 3< <(tail -n +1 -F --pid="$qpid" "$log" 2>/dev/null)
# on_deadline: decide why the boot is being ended, then kill QEMU.
on_deadline() {
	if [ -z "$init_seen" ]; then
		hung="L1 never reached /init within ${BOOT_TIMEOUT}s"
	elif [ -n "$current" ]; then
		hung="host timeout: L1 gave no result for $current within ${tmo[$current]}s + ${GRACE}s grace"
	elif [ -n "$done_seen" ]; then
		hung=   # every scenario reported; only the poweroff hung
		say "warning: L1 did not power off after LAB-DONE; killed"
	else
		hung="host timeout: L1 stopped between scenarios"
	fi
	[ -n "$panic" ] && hung="kernel panic in L1: $panic"
	kill_qemu
}
while :; do
	# Deadlines are checked on every line too: a hung L1 may still print (a kernel spewing warnings).
	if [ $SECONDS -ge $deadline ] || [ $SECONDS -ge $overall ]; then
		on_deadline
		break
	fi
	if IFS= read -r -t 1 line <&3; then
		line=${partial}${line}
		partial=
	else
		rc=$?
		if [ $rc -gt 128 ]; then
			partial+=$line
			continue
		fi
		# EOF: tail ended because QEMU exited.
		[ -n "$partial" ] && line=$partial && partial= || break
	fi
	line=${line%$'\r'}
	[ "$VERBOSE" = 1 ] && printf '  L1| %s\n' "$line"
	case "$line" in
	*"LAB-INIT uptime "*)
		init_seen=1
		ms=$(($(date +%s%N) / 1000000 - t0ms))
		say "L1 reached /init after $((ms / 1000)).$(printf %03d $((ms % 1000)))s wall (L1 uptime ${line##*LAB-INIT uptime }s)"
		deadline=$((SECONDS + GRACE))
		;;
	*"LAB-INFO "*)
		say "L1: ${line#*LAB-INFO }"
		;;
	*"LAB-BEGIN "*)
		read -r current _ <<< "${line#*LAB-BEGIN }"
		cur_out= cur_t0=$SECONDS
		deadline=$((SECONDS + ${tmo[$current]:-$DEFAULT_TIMEOUT} + GRACE))
		;;
	*"LAB-RESULT "*)
		# (read, not word splitting: a reason may hold glob characters)
		read -r name verdict why <<< "${line#*LAB-RESULT }"
		if [ -n "${tmo[$name]+x}" ] && [ -z "${result[$name]+x}" ]; then
			result[$name]=$verdict
			reason[$name]=$why
			took[$name]=$((SECONDS - cur_t0))
			if [ "$verdict" = PASS ]; then
				say "$(label "$name") PASS"
			else
				say "$(label "$name") FAIL $why"
				show_tail "$cur_out"
			fi
		fi
		current= cur_out=
		deadline=$((SECONDS + GRACE))
		;;
	*"LAB-NOTE "*)
		say "note: ${line#*LAB-NOTE }"
		;;
	*"LAB-DONE"*)
		done_seen=1
		deadline=$((SECONDS + 15))
		;;
	*"Kernel panic - not syncing"*)
		panic=${line#*Kernel panic - not syncing: }
		if [ -n "$current" ]; then cur_out+=$line$'\n'; fi
		deadline=$((SECONDS + 10))
		;;
	*)
		if [ -n "$current" ]; then cur_out+=$line$'\n'; fi
		;;
	esac
	boot_out+=$line$'\n'
	# Keep memory bounded on a chatty console.
	[ ${#boot_out} -lt 200000 ] || boot_out=${boot_out: -100000}
done
exec 3<&-
wait "$qpid" 2>/dev/null
qrc=$?
trap - EXIT
rm -f "$nvme_img"
elapsed=$((SECONDS - t0))

# ---- scenarios without a result ----
missing=0
for s in "${scenarios[@]}"; do
	[ -z "${result[$s]+x}" ] || continue
	missing=$((missing + 1))
	if [ -n "$hung" ] && [ "$s" = "$current" ]; then
		r=$hung
	elif [ -n "$panic" ]; then
		r="kernel panic in L1${current:+ during $current}: $panic"
	elif [ -n "$hung" ]; then
		r="not run: $hung"
	elif [ -z "$init_seen" ]; then
		r="L1 never reached /init (QEMU exited with status $qrc)"
	elif [ -n "$current" ] && [ "$s" = "$current" ]; then
		r="L1 ended during the scenario (QEMU exited with status $qrc)"
	else
		r="not run: L1 ended early (QEMU exited with status $qrc)"
	fi
	result[$s]=FAIL
	reason[$s]=$r
	say "$(label "$s") FAIL $r"
	if [ "$missing" = 1 ]; then
		if [ -n "$panic" ]; then
			echo "    last output of ${current:-L1} before the panic, then the panic:"
			show_tail "$(printf '%s' "${cur_out:-$boot_out}" | grep -v '^\[ *[0-9]*\.[0-9]*\]')" 10
			show_tail "$(printf '%s' "${cur_out:-$boot_out}" | grep -E 'Unable to handle|Internal error|BUG:|Kernel panic|sysrq: ' | grep -v '^[[:space:]]*$')" 10
		elif [ -n "$current" ] && [ -n "$cur_out" ]; then
			echo "    last console lines during $current:"
			show_tail "$cur_out" $((TAIL + 5))
		else
			echo "    last console lines:"
			show_tail "$boot_out" $((TAIL + 5))
		fi
		[ -s "$log.qemu" ] && { echo "    QEMU said:"; show_tail "$(cat "$log.qemu")" 10; }
	fi
done

pass=0 fail=0
for s in "${scenarios[@]}"; do
	if [ "${result[$s]}" = PASS ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
times=
for s in "${scenarios[@]}"; do [ -z "${took[$s]+x}" ] || times+=" $(label "$s") ${took[$s]}s,"; done
[ -z "$times" ] || say "time per scenario:${times%,}"
say "boot took ${elapsed}s; console log: ${log#$top/}"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
exit $?
}
