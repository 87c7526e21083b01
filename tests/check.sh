#!/usr/bin/env bash
# check.sh: `make check`, the README's test command: unit tests (make unit), the vSMMU's ThreadSanitizer race
# test (make tsan), the install test (tests/install.sh) and the man page check (tests/manpage.sh), then every
# lab scenario (make check-lab), then the lab runner's self-test (tests/lab/selftest.sh). Every part runs even
# if an earlier one failed. The last line is `check: N passed, N failed` over unit tests + the race test (one)
# + the install test and the man page check (one each) + lab scenarios + the runner self-test; the exit
# status is non-zero if anything failed or did not run.
# The body is one { } block: bash parses it whole before running, so editing this file while it
# runs (a long lab run) cannot corrupt the running instance.
{
set -uo pipefail
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
notes=()
t0=$SECONDS

strip() { sed 's/\x1b\[[0-9;]*m//g'; }

# ---- unit tests ----
echo "check: unit tests (make unit)"
# stdin is /dev/null for every part: a test that reads stdin must see EOF, never wait on a terminal or pipe.
$MAKE --no-print-directory unit < /dev/null 2>&1 | tee "$tmp/unit.log"
urc=${PIPESTATUS[0]}
syn=$(strip < "$tmp/unit.log" | grep -o 'Synthesis: Tested: [0-9]* | Passing: [0-9]* | Failing: [0-9]* | Crashing: [0-9]*' | tail -n1)
if [ -n "$syn" ]; then
	tested=$(echo "$syn" | sed 's/.*Tested: \([0-9]*\).*/\1/')
	passing=$(echo "$syn" | sed 's/.*Passing: \([0-9]*\).*/\1/')
	pass=$((pass + passing))
	fail=$((fail + tested - passing))
	if [ "$urc" != 0 ] && [ "$tested" = "$passing" ]; then
		fail=$((fail + 1)); notes+=("make unit exited $urc although every test passed (sanitizer report at exit?)")
	fi
	notes+=("unit: $passing/$tested passed")
else
	fail=$((fail + 1)); notes+=("unit: the tests did not run (make unit exited $urc, no Criterion Synthesis line)")
fi
t_unit=$((SECONDS - t0))

# ---- ThreadSanitizer: the vSMMU's concurrency claims (one test) ----
echo "check: vSMMU race test (make tsan)"
$MAKE --no-print-directory tsan < /dev/null 2>&1 | tee "$tmp/tsan.log"
trc=${PIPESTATUS[0]}
tline=$(grep -E '^vsmmu_race: ' "$tmp/tsan.log" | tail -n1 | cut -c1-160)
if [ "$trc" = 0 ] && [ -n "$tline" ]; then
	pass=$((pass + 1)); notes+=("tsan: passed (${tline#vsmmu_race: })")
elif grep -q 'WARNING: ThreadSanitizer' "$tmp/tsan.log"; then
	fail=$((fail + 1)); notes+=("tsan: FAILED, ThreadSanitizer reported a race (make tsan exited $trc)")
else
	fail=$((fail + 1)); notes+=("tsan: FAILED (make tsan exited $trc${tline:+: ${tline#vsmmu_race: }})")
fi
t_tsan=$((SECONDS - t0 - t_unit))

# ---- make install / uninstall and the man page (one test each) ----
echo "check: install test (tests/install.sh)"
if bash tests/install.sh < /dev/null; then pass=$((pass + 1)); else fail=$((fail + 1)); notes+=("install test FAILED"); fi
echo "check: man page (tests/manpage.sh)"
if bash tests/manpage.sh < /dev/null; then pass=$((pass + 1)); else fail=$((fail + 1)); notes+=("man page check FAILED"); fi
t_docs=$((SECONDS - t0 - t_unit - t_tsan))

# ---- lab scenarios ----
echo "check: lab scenarios (make check-lab)"
$MAKE --no-print-directory check-lab < /dev/null 2>&1 | tee "$tmp/lab.log"
lrc=${PIPESTATUS[0]}
last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/lab.log" | tail -n1)
if [ -n "$last" ]; then
	set -- $last
	pass=$((pass + $1)); fail=$((fail + $3))
	notes+=("lab: $1 passed, $3 failed")
	if [ "$lrc" != 0 ] && [ "$3" = 0 ]; then fail=$((fail + 1)); notes+=("make check-lab exited $lrc"); fi
else
	fail=$((fail + 1)); notes+=("lab: the scenarios did not run (make check-lab exited $lrc)")
fi
t_lab=$((SECONDS - t0 - t_unit - t_tsan - t_docs))

# ---- the runner's own failure handling ----
echo "check: lab runner self-test (tests/lab/selftest.sh)"
if bash tests/lab/selftest.sh < /dev/null; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
t_self=$((SECONDS - t0 - t_unit - t_tsan - t_docs - t_lab))

for n in "${notes[@]}"; do echo "check: $n"; done
echo "check: took ${t_unit}s unit, ${t_tsan}s tsan, ${t_docs}s install + man page, ${t_lab}s lab, ${t_self}s runner self-test"
echo "check: $pass passed, $fail failed"
[ "$fail" = 0 ]
exit $?
}
