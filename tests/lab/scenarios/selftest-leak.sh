# selftest-leak: leaves a process running in another session (as lab_run_timeout's ivmm would be if the
# scenario were killed), for the runner's own test: L1 must kill it before the next scenario (selftest-pass
# fails if it survives).
# manual
# timeout: 10
setsid sleep 100000 > /dev/null 2>&1 < /dev/null &
sleep 100000 &
echo "selftest-leak: left two sleeps behind"
