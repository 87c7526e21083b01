#!/usr/bin/env bash
# run.sh: `make fuzz`, once per fuzzer: run one libFuzzer binary (build/fuzz/guest-garbage from
# tests/fuzz/guest_garbage_fuzz.c, build/fuzz/vsmmu-garbage from tests/fuzz/vsmmu_garbage_fuzz.c) for TIME
# seconds on CORPUS (new inputs are written there), seeded from SEEDS (tests/fuzz/corpus/, corpus-vsmmu/, kept
# in the tree), then print one line with its name, the number of executions and the rate. A crash or a broken
# invariant stops it: the input that did it is saved as build/fuzz/NAME-crash-* (replay it with
# `build/fuzz/NAME build/fuzz/NAME-crash-...`), the report is above and in build/fuzz/NAME.last-run.log, and
# the exit status is the fuzzer's.
# Usage: tests/fuzz/run.sh BINARY TIME CORPUS SEEDS
set -uo pipefail
[ $# = 4 ] || { echo "usage: $0 BINARY TIME CORPUS SEEDS" >&2; exit 2; }
bin=$1 time=$2 corpus=$3 seeds=$4
dir=$(dirname "$bin")
name=$(basename "$bin")
log=$dir/$name.last-run.log
mkdir -p "$corpus"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$bin" -max_total_time="$time" -max_len=16384 -print_final_stats=1 \
	-artifact_prefix="$dir/$name-" "$corpus" "$seeds" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
echo "fuzz: $name: ${runs:-?} executions in ${time} s: ${rate:-?} exec/s; corpus: $(find "$corpus" -type f | wc -l) inputs in $corpus (seeds: $(find "$seeds" -type f | wc -l) in $seeds)"
if [ "$rc" != 0 ]; then
	echo "fuzz: $name stopped with status $rc: see the report above (also in $log); the input is $(ls -t "$dir/$name"-crash-* "$dir/$name"-leak-* "$dir/$name"-timeout-* 2>/dev/null | head -n1)"
fi
exit "$rc"
