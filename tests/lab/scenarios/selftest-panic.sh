# selftest-panic: crashes the L1 kernel, for the runner's own test (tests/lab/selftest.sh): the host must
# end the boot at once and report this scenario and the ones after it as FAIL with the panic.
# manual
# timeout: 10
echo "selftest-panic: crashing L1 through sysrq"
sleep 1    # let init's tee copy that line to the console first
echo c > /proc/sysrq-trigger
sleep 5
