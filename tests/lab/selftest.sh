#!/usr/bin/env bash
# selftest.sh: proves the lab runner's failure handling with three short boots (~20 s in all):
#   1. L1's watchdog: selftest-fail reports its lab_fail reason, selftest-hang is killed at its 3 s timeout
#      (with the child it forked) and reported FAIL "timeout", and selftest-pass still runs and passes after it;
#      processes selftest-leak leaves behind (even in another session) are gone before selftest-clean runs;
#      lib.sh's lab_run_timeout returns a command's status and output, and kills it (124) at its timeout;
#   2. the host's timeout: with L1's watchdog off (ivmm.watchdog=0) the host kills the hung L1 and reports
#      the hung scenario and the ones after it as FAIL;
#   3. a kernel panic in L1 ends the boot at once and is reported as the reason.
# Prints `lab: runner-selftest PASS` or `lab: runner-selftest FAIL <what>` and exits accordingly.
# The body is one { } block: bash parses it whole before running, so editing this file while it
# runs (a long lab run) cannot corrupt the running instance.
{
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
bad=

# check DESC PATTERN...: every pattern must appear in the last run's output. run CMD...: run it, expect failure.
check() {
	local desc=$1 p
	shift
	for p in "$@"; do
		grep -Eq -- "$p" "$out" || { bad="$desc: no /$p/ in the runner's output"; return 1; }
	done
}
run() {
	"$@" > "$out" 2>&1 < /dev/null
	local rc=$?
	[ $rc != 0 ] || { bad="run.sh exited 0 although scenarios failed"; return 1; }
}

{
	run bash "$here/run.sh" selftest-fail selftest-hang selftest-pass selftest-leak selftest-clean selftest-lib &&
	check "L1 watchdog" '^lab: selftest-fail FAIL expected failure 42 \(a \* stays a \*\)$' \
		'^lab: selftest-hang FAIL timeout: killed after 3s; last output: selftest-hang: sleeping forever$' \
		'^lab: selftest-pass PASS$' '^lab: note: selftest-leak left processes' '^lab: selftest-leak PASS$' \
		'^lab: selftest-clean PASS$' '^lab: selftest-lib PASS$' '^4 passed, 2 failed$' &&
	run env IVMM_LAB_GRACE=3 bash "$here/run.sh" --no-build --append ivmm.watchdog=0 selftest-hang selftest-pass &&
	check "host timeout" '^lab: selftest-hang FAIL host timeout: L1 gave no result for selftest-hang within 3s' \
		'^lab: selftest-pass FAIL not run: host timeout' '^0 passed, 2 failed$' &&
	run bash "$here/run.sh" --no-build selftest-panic selftest-pass &&
	check "kernel panic" '^lab: selftest-panic FAIL kernel panic in L1 during selftest-panic: sysrq triggered crash$' \
		'^lab: selftest-pass FAIL kernel panic' '^0 passed, 2 failed$'
} || true

if [ -z "$bad" ]; then
	echo "lab: runner-selftest PASS"
	exit 0
fi
echo "lab: runner-selftest FAIL $bad"
sed 's/^/    | /' "$out" | tail -n 30
exit 1
exit $?
}
