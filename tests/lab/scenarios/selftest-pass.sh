# selftest-pass: a trivially passing scenario for the runner's own test (tests/lab/selftest.sh); it also checks
# that no process of an earlier, killed scenario survived.
# manual
# timeout: 10
for c in /proc/[0-9]*/cmdline; do
	if tr '\0' ' ' < "$c" 2>/dev/null | grep -q '^sleep 100000'; then
		lab_fail "a process of a killed scenario is still running: pid $(basename "$(dirname "$c")")"
	fi
done
echo "selftest-pass: ok"
