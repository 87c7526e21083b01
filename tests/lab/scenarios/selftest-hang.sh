# selftest-hang: a scenario that never ends, for the runner's own test (tests/lab/selftest.sh): L1 must kill
# it at its timeout (and the child it started) and report FAIL with a timeout reason.
# manual
# timeout: 3
echo "selftest-hang: sleeping forever"
sleep 100000 &
sleep 100000
