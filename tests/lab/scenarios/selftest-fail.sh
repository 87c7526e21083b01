# selftest-fail: fails with a known reason, for the runner's own test (tests/lab/selftest.sh).
# manual
# timeout: 10
echo "FAIL: not this one"
echo "selftest-fail: about to fail"
lab_fail "expected failure 42 (a * stays a *)"
