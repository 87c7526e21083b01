#!/usr/bin/env bash
# bundle.sh: the portable host bundle build/host-bundle/ivmm-host-bundle.tar.gz (`make host-bundle`): what it takes
# to run the lab's scenarios natively on any arm64 Linux host with KVM and iommufd (docs/lab.md, "The host
# bundle"). It unpacks into one directory, ivmm-host-bundle/:
#   run-host.sh                       the runner (tests/lab/bundle/run-host.sh): ./run-host.sh --device BDF ...
#   bin/ivmm                          the static arm64 ivmm (build/arm64/ivmm)
#   bin/busybox                       the static arm64 busybox of the lab's images: run-host.sh and the scenarios
#                                     run under it, so they meet the shell and tools they meet in L1
#   l2/Image, l2/initramfs.cpio.gz    the guest kernel and root, as tests/lab/build.sh makes them (build/lab/)
#   progs/                            the test programs that run on the host (build/arm64/progs/, not l2-*)
#   lab/lib.sh, lab/scenarios/*.sh    the scenario library and every scenario
#   MANIFEST                          the source revision and the sha256 of every file
#
#   bash tests/lab/bundle.sh          runs `make arm64` and tests/lab/build.sh (each rebuilds only what is missing or
#                                     out of date; build.sh packs the bundle along with the L1 image, which holds
#                                     it as /bundle/ivmm-host-bundle.tar.gz), copies it to build/host-bundle/ and
#                                     prints its path (the only line on stdout)
#   bash tests/lab/bundle.sh --root DIR OUT
#                                     packs the bundle OUT from DIR, a staged L1 root (usr/bin/ivmm, bin/busybox,
#                                     progs/, lab/, l2/): how build.sh makes it from the very files it puts in the
#                                     L1 image. OUT is only rewritten when its content changed (reproducible tar).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
name=ivmm-host-bundle
st=

log() { printf 'host-bundle: %s\n' "$*" >&2; }
die() { printf 'host-bundle: error: %s\n' "$*" >&2; exit 1; }

# pack ROOT OUT
pack() {
	local root=$1 dst=$2 b f rev sum sumf
	sumf=$(dirname "$2")/.$(basename "$2").sha256
	for f in bin/busybox l2/Image l2/initramfs.cpio.gz lab/lib.sh; do
		[ -f "$root/$f" ] || die "$root/$f missing: not a staged L1 root"
	done
	mkdir -p "$(dirname "$dst")"
	st=$(mktemp -d "$(dirname "$dst")/.bundle.XXXXXX")
	trap 'rm -rf "$st"' EXIT
	b=$st/$name
	mkdir -p "$b/bin" "$b/l2" "$b/progs" "$b/lab/scenarios"
	install -m 0755 "$here/bundle/run-host.sh" "$b/run-host.sh"
	install -m 0755 "$root/bin/busybox" "$b/bin/busybox"
	if [ -f "$root/usr/bin/ivmm" ]; then
		install -m 0755 "$root/usr/bin/ivmm" "$b/bin/ivmm"
	else
		log "warning: no ivmm in $root: the bundle has none (the scenarios needing it fail)"
	fi
	install -m 0644 "$root/l2/Image" "$root/l2/initramfs.cpio.gz" "$b/l2/"
	for f in "$root"/progs/*; do
		[ -f "$f" ] && install -m 0755 "$f" "$b/progs/"
	done
	install -m 0644 "$root/lab/lib.sh" "$b/lab/lib.sh"
	for f in "$root"/lab/scenarios/*.sh; do install -m 0644 "$f" "$b/lab/scenarios/"; done
	rev=$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)
	{
		echo "built from $rev"
		echo "unpack on an arm64 Linux host and run, as root: ./run-host.sh --device BDF [SCENARIO...] (--help)"
		(cd "$b" && find . -type f ! -name MANIFEST | LC_ALL=C sort | sed 's|^\./||' | xargs sha256sum)
	} > "$b/MANIFEST"
	(cd "$st" && tar --sort=name --mtime=@1 --owner=0 --group=0 --numeric-owner --mode=go-w --format=gnu \
		-cf "$st/out.tar" "$name")
	# Compressing takes most of the time: skip it when the tar is the one OUT was made from (.OUT.sha256).
	sum=$(sha256sum < "$st/out.tar")
	if [ -f "$dst" ] && [ "$(cat "$sumf" 2>/dev/null)" = "$sum $(stat -c %s.%Y "$dst")" ]; then
		return 0
	fi
	gzip -n -6 < "$st/out.tar" > "$st/out.tar.gz"
	if ! cmp -s "$st/out.tar.gz" "$dst" 2>/dev/null; then
		mv "$st/out.tar.gz" "$dst"
	fi
	echo "$sum $(stat -c %s.%Y "$dst")" > "$sumf"
}

if [ "${1:-}" = --root ]; then
	[ $# = 3 ] || die "usage: bundle.sh --root DIR OUT"
	pack "$2" "$3"
	exit 0
fi
[ $# = 0 ] || die "usage: bundle.sh (no arguments), or bundle.sh --root DIR OUT (see its header)"

# Everything on stdout but the path goes to stderr.
make -C "$top" --no-print-directory arm64 >&2 || die "make arm64 failed: no bundle (it would hold out-of-date binaries)"
bash "$here/build.sh" >&2 || die "tests/lab/build.sh failed"
src=$top/build/lab/$name.tar.gz
[ -f "$src" ] || die "tests/lab/build.sh made no $src"
tar -tzf "$src" "$name/bin/ivmm" > /dev/null 2>&1 || die "$src has no bin/ivmm (build/arm64/ivmm not built or out of date)"
dst=$top/build/host-bundle/$name.tar.gz
mkdir -p "$(dirname "$dst")"
cp "$src" "$dst.tmp.$$" && mv "$dst.tmp.$$" "$dst"
log "$(stat -c %s "$dst") bytes, $(tar -tzf "$dst" | grep -c '[^/]$') files," \
	"$(tar -xzOf "$dst" "$name/MANIFEST" | sed -n 1p)"
echo "$dst"
