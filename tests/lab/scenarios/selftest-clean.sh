# selftest-clean: run after selftest-leak by the runner's own test: nothing it left behind may survive.
# manual
# timeout: 10
. /lab/scenarios/selftest-pass.sh
