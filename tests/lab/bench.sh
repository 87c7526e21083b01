#!/usr/bin/env bash
# bench.sh: `make bench`. Boots the lab IVMM_BENCH_RUNS times (default 5) running every bench-* scenario
# (tests/lab/scenarios/bench-*.sh print `BENCH <key> <value> <unit>` lines), and prints min and median of
# each measurement, plus L1's own boot: wall time from QEMU start to L1's /init, and L1's uptime there.
# Numbers are from an emulated (TCG) arm64 host: compare them with each other, not with real hardware.
# Exit status: 0 only when every run passed and every measurement the bench scenarios print (their
# `echo "BENCH key ...` lines) was measured in every run; otherwise 1, after saying what failed or is missing.
# The body is one { } block: bash parses it whole before running, so editing this file while it
# runs (a long lab run) cannot corrupt the running instance.
{
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
runs=${IVMM_BENCH_RUNS:-5}
data=$(mktemp)
trap 'rm -f "$data"' EXIT
benches=()
for f in "$here"/scenarios/bench-*.sh; do [ -f "$f" ] && benches+=("$(basename "$f" .sh)"); done
# And the host variants a bench asks for (`# variants: noril`): one more L1 boot each (run.sh NAME@VARIANT).
for f in "$here"/scenarios/bench-*.sh; do
	for v in $(sed -n 's/^#[[:space:]]*variants:[[:space:]]*//p' "$f" | head -n1); do
		benches+=("$(basename "$f" .sh)@$v")
	done
done

bash "$here/build.sh" || exit 1
failed=0
missing=()
# What every run must measure: L1's boot, and each bench scenario's BENCH keys.
expected="l1-wall-to-init l1-uptime-at-init $(sed -n 's/.*echo "BENCH \([A-Za-z0-9_.-]*\) .*/\1/p' \
	"$here"/scenarios/bench-*.sh | sort -u)"
for i in $(seq 1 "$runs"); do
	before=$(wc -l < "$data")
	out=$(bash "$here/run.sh" --no-build "${benches[@]:-l1-health}" 2>&1)
	rc=$?
	echo "$out" | grep -E '^lab: .*(FAIL|L1 reached)|passed, ' | sed "s/^/run $i: /"
	echo "$out" | sed -n 's/^lab: L1 reached \/init after \([0-9.]*\)s wall (L1 uptime \([0-9.]*\)s)$/l1-wall-to-init \1 s\nl1-uptime-at-init \2 s/p' >> "$data"
	# Every boot's console (a variant is a boot of its own).
	for log in $(echo "$out" | sed -n 's/^lab: boot took .*; console log: \(.*\)$/\1/p'); do
		tr -d '\r' < "$top/$log" | sed -n 's/^.*BENCH \([A-Za-z0-9_.-]*\) \([0-9.][0-9.]*\) \(.*\)$/\1 \2 \3/p' >> "$data"
	done
	got=$(tail -n +"$((before + 1))" "$data" | cut -d' ' -f1 | sort -u)
	for key in $expected; do
		echo "$got" | grep -qx -- "$key" || missing+=("$key in run $i")
	done
	if [ $rc != 0 ]; then
		failed=$((failed + 1))
		echo "run $i: failed (exit $rc); its numbers are missing. Last lines:"
		echo "$out" | tail -n 8 | sed 's/^/    | /'
	fi
done

echo
printf '%-28s %6s %10s %10s  %s\n' measurement n min median unit
sort -k1,1 -k2,2g "$data" | awk '
	function flush() { if (n) printf "%-28s %6d %10s %10s  %s\n", key, n, v[1], (n % 2 ? v[(n + 1) / 2] : sprintf("%.3f", (v[n / 2] + v[n / 2 + 1]) / 2)), unit }
	$1 != key { flush(); key = $1; n = 0; unit = $3 }
	{ v[++n] = $2 }
	END { flush() }' || failed=$((failed + 1))

echo
if [ "$failed" = 0 ] && [ ${#missing[@]} = 0 ]; then
	echo "bench: $runs runs, every measurement present"
	exit 0
fi
[ "$failed" = 0 ] || echo "bench: FAILED: $failed of $runs runs failed"
for m in "${missing[@]}"; do echo "bench: FAILED: missing measurement $m"; done
exit 1
}
