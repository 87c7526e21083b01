# selftest-lib: lib.sh's lab_run_timeout (which lab_run_l2 uses), for the runner's own test
# (tests/lab/selftest.sh): a command's exit status and output come back; a command that outlives its timeout
# is killed with everything it started and 124 is returned.
# manual
# timeout: 20
lab_run_timeout 5 /tmp/selftest-lib.1 sh -c 'echo hello; echo oops >&2; exit 7'
rc=$?
[ $rc = 7 ] || lab_fail "lab_run_timeout returned $rc for a command that exited 7"
lab_expect /tmp/selftest-lib.1 '^hello$' "stdout not captured"
lab_expect /tmp/selftest-lib.1 '^oops$' "stderr not captured"

t0=$(lab_uptime)
lab_run_timeout 1 /tmp/selftest-lib.2 sh -c 'sleep 100001 & sleep 100001'
rc=$?
t1=$(lab_uptime)
[ $rc = 124 ] || lab_fail "lab_run_timeout returned $rc for a command that outlived its timeout (expected 124)"
echo "$t0 $t1" | awk '{ exit !($2 - $1 < 4) }' || lab_fail "lab_run_timeout 1 took from $t0 to $t1"
for c in /proc/[0-9]*/cmdline; do
	if tr '\0' ' ' < "$c" 2>/dev/null | grep -q '^sleep 100001'; then
		lab_fail "a process lab_run_timeout started survived its timeout"
	fi
done
echo "selftest-lib: ok"
