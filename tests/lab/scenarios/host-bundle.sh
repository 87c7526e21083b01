# host-bundle: the portable host bundle (tests/lab/bundle.sh, `make host-bundle`) runs the lab's scenarios on an
# arm64 host as the lab does, so it cannot drift from the lab. L1 is such a host (KVM + iommufd + a nesting
# SMMUv3) and holds the bundle as /bundle/ivmm-host-bundle.tar.gz, packed by tests/lab/build.sh from the files of
# the L1 image itself (checked here: the same ivmm, guest kernel and root, L1 programs, lib.sh and scenarios:
# the bundle holds every scenario, byte for byte). It is unpacked in /tmp and
# `run-host.sh --device <nvme> --device <edu> --device <edu2> SCENARIO...` runs, natively, under the bundle's own
# busybox and paths, the device-agnostic scenarios (those whose first line says `NAME: device-agnostic`:
# device-*, host-check, passthrough-bad-input) and one edu scenario (vsmmu-dma); each must PASS there (none
# FAIL, none SKIP) and run-host.sh must run no other. The NVMe controller comes first, so it is the bundle's
# device under test: the device-agnostic scenarios, which test edu in the lab, test a device with other BARs,
# capabilities and interrupts (MSI-X) here, proving they know nothing of edu; vsmmu-dma proves the bundle's edu
# path (lab_edu_bdf from --device) still works. Running the lab's whole set a second time would prove no more
# (its files are the lab's) and cost half the lab's time. Each nested scenario runs in its own session under
# run-host.sh's watchdog with its own timeout, and what it leaves running is killed by its environment marker
# (L1's `kill -1` between scenarios would kill this scenario too).
# Time: the sum of the nested scenarios' own run times (docs/lab.md, "The host bundle"), hence the timeout.
# lab-only`, which run-host.sh leaves out by default (it would unpack and run itself).
# (selftest-* and bench-* are manual: in neither set.) All the others nest: each runs in its own session under
# run-host.sh's watchdog with its own timeout, and what it leaves running is killed by its environment marker
# (L1's `kill -1` between scenarios would kill this scenario too).
# Time: the sum of the nested scenarios' own run times (docs/lab.md, "The host bundle"), hence the timeout.
# lab-only
# timeout: 900
lab_need_ivmm
tgz=/bundle/ivmm-host-bundle.tar.gz
[ -f $tgz ] || lab_fail "no $tgz in the L1 image (tests/lab/build.sh packs it)"
dir=/tmp/host-bundle
rm -rf $dir
mkdir -p $dir
tar -xzf $tgz -C $dir || lab_fail "cannot unpack $tgz"
b=$dir/ivmm-host-bundle
[ -x $b/run-host.sh ] || lab_fail "no run-host.sh in $tgz"

# The bundle holds what L1 holds, no more, no less.
same() {
	cmp -s "$1" "$2" || lab_fail "the bundle's ${1#$b/} is not L1's $2"
}
same $b/bin/ivmm "$LAB_IVMM"
same $b/l2/Image "$LAB_L2_KERNEL"
same $b/l2/initramfs.cpio.gz "$LAB_L2_INITRD"
same $b/lab/lib.sh "$LAB_DIR/lib.sh"
for f in "$LAB_DIR"/scenarios/*.sh; do same $b/lab/scenarios/${f##*/} "$f"; done
for f in "$LAB_PROGS"/*; do [ ! -e "$f" ] || same $b/progs/${f##*/} "$f"; done
[ "$(ls $b/lab/scenarios)" = "$(ls "$LAB_DIR"/scenarios)" ] || lab_fail "the bundle has other scenarios than L1"
[ "$(ls $b/progs)" = "$(ls "$LAB_PROGS")" ] || lab_fail "the bundle has other programs than L1"
lab_info "$tgz ($(wc -c < $tgz) bytes, $(sed -n 1p $b/MANIFEST)) holds L1's ivmm, guest, programs and scenarios"

# The bundle's set: the device-agnostic scenarios, and one edu scenario.
expect=
for f in "$LAB_DIR"/scenarios/*.sh; do
	s=$(basename "$f" .sh)
	head -n 1 "$f" | grep -q "^# $s: device-agnostic" && expect="$expect $s"
done
[ -n "$expect" ] || lab_fail "no device-agnostic scenario in $LAB_DIR/scenarios"
expect="$expect vsmmu-dma"
n=$(echo $expect | wc -w)

e1=$(lab_edu_bdf) || exit 1
e2=$(lab_edu2_bdf) || exit 1
nv=$(lab_nvme_bdf) || exit 1
lab_info "running: run-host.sh --device $nv --device $e1 --device $e2 ($n scenarios expected)"
# shellcheck disable=SC2086
{ sh $b/run-host.sh --device $nv --device $e1 --device $e2 --out $dir/results $expect < /dev/null; echo $? > $dir/rc; } 2>&1 |
	tee $dir/run-host.out
rc=$(cat $dir/rc)

bad=
for s in $expect; do
	l=$(grep -E "^lab: $s (PASS|FAIL|SKIP)( |\$)" $dir/run-host.out | head -n 1)
	case "$l" in
	"lab: $s PASS") ;;
	"") bad="$bad; $s: no result" ;;
	*) bad="$bad; ${l#lab: }" ;;
	esac
done
for s in $(sed -nE 's/^lab: ([A-Za-z0-9_.-]+) (PASS|FAIL|SKIP)( .*)?$/\1/p' $dir/run-host.out); do
	case " $expect " in *" $s "*) ;; *) bad="$bad; $s ran in the bundle but is not in the lab's set" ;; esac
done
[ -z "$bad" ] || lab_fail "in the bundle:${bad#;}"
last=$(tail -n 1 $dir/run-host.out)
[ "$last" = "$n passed, 0 failed" ] || lab_fail "run-host.sh ended with '$last', not '$n passed, 0 failed'"
[ "$rc" = 0 ] || lab_fail "run-host.sh exited with status $rc although all passed"
echo "host-bundle: the $n scenarios asked for passed in the bundle (NVMe as the device under test)"
