#!/usr/bin/env bash
# build.sh: assemble the lab images in build/lab/ (run by `make lab` after the arm64 ivmm and test programs):
#   build/lab/Image                  the lab kernel (a link to the cached build from tests/lab/kernel.sh)
#   build/lab/Image-64k              the same with 64 KiB pages (kernel.sh 64k): L1 of the 64k host variant
#   build/lab/l2-initramfs.cpio.gz   guest root: busybox, /init (init/l2-init), /progs/l2-* (tests/lab/progs/l2-*.c)
#   build/lab/l1-initramfs.cpio.gz   emulated host root: busybox, /init (init/l1-init), /usr/bin/ivmm, /progs/*,
#                                    /lab/lib.sh, /lab/scenarios/, /configs/, /l2/Image, /l2/initramfs.cpio.gz,
#                                    /l2/Image-64k (a 64 KiB-page guest),
#                                    /bundle/ivmm-host-bundle.tar.gz (scenario host-bundle)
#   build/lab/ivmm-host-bundle.tar.gz  the portable host bundle (tests/lab/bundle.sh), packed from the same files
# It packs whatever build/arm64/ holds: without build/arm64/ivmm the L1 image is still produced (scenarios that
# need ivmm then fail with "ivmm not built"). It compiles nothing; `make lab` does. Rerunning takes ~1-2 s; an
# image is only rewritten when its content changed (so its mtime says when it last changed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
CACHE=${IVMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ivmm-lab}
BUSYBOX=$CACHE/sysroot/arm64/bin/busybox
out=$top/build/lab
arm=$top/build/arm64

log() { printf 'lab-build: %s\n' "$*" >&2; }
die() { printf 'lab-build: error: %s\n' "$*" >&2; exit 1; }

[ -x "$BUSYBOX" ] || die "no static arm64 busybox at $BUSYBOX (run scripts/deps.sh lab)"
command -v cpio >/dev/null || die "cpio missing (run scripts/deps.sh lab)"
mkdir -p "$out" "$CACHE"

# ---- kernel: one build at a time per machine; wait for a build someone else started by hand ----
kernel() {
	exec 8>"$CACHE/kernel.lock"
	if ! flock -n 8; then
		log "another lab kernel build holds $CACHE/kernel.lock: waiting"
		flock 8
	fi
	local waited=0
	while pgrep -f 'tests/lab/kernel\.sh' >/dev/null 2>&1; do
		[ $waited = 1 ] || log "a lab kernel build (tests/lab/kernel.sh) is running: waiting for it"
		waited=1
		sleep 5
	done
	bash "$here/kernel.sh" "$@"
	exec 8>&-
}
# link TARGET NAME: build/lab/NAME -> TARGET, atomically and only when it changes (a lab boot may be starting).
link() {
	if [ "$(readlink "$out/$2" 2>/dev/null)" != "$1" ]; then
		ln -sfn "$1" "$out/.$2.$$" && mv -T "$out/.$2.$$" "$out/$2"
	fi
}
image=$(kernel 4k) || die "lab kernel build failed (log under $CACHE/kernel/)"
[ -f "$image" ] || die "kernel.sh printed '$image', which is not a file"
link "$image" Image
image64=$(kernel 64k) || die "lab kernel build (64k pages) failed (log under $CACHE/kernel/)"
[ -f "$image64" ] || die "kernel.sh 64k printed '$image64', which is not a file"
link "$image64" Image-64k

tmp=$(mktemp -d "$out/.stage.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# fresh BIN [SRC...]: is BIN at least as new as the library sources and SRC? A stale binary (make arm64 not
# rerun, or failed) is packed with a warning, or left out when IVMM_LAB_EXCLUDE_STALE=1 (make lab does this
# when the arm64 build failed, so an old binary never passes for the current code).
lib_srcs=$(cd "$top" && ls vmm/*.[ch] devices/*.[ch] iommu/*.[ch] boot/*.[ch] 2>/dev/null | sed "s|^|$top/|")
fresh() {
	local bin=$1 f
	shift
	for f in $lib_srcs "$@"; do
		if [ "$f" -nt "$bin" ]; then
			if [ "${IVMM_LAB_EXCLUDE_STALE:-0}" = 1 ]; then
				log "warning: ${bin#$top/} is older than ${f#$top/} and the arm64 build failed: left out"
				return 1
			fi
			log "warning: ${bin#$top/} is older than ${f#$top/} (run make arm64, or make lab)"
			return 0
		fi
	done
	return 0
}

# base_root DIR INIT: busybox-only root with INIT as /init.
base_root() {
	local r=$1
	mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,progs}
	cp "$BUSYBOX" "$r/bin/busybox"
	ln -s busybox "$r/bin/sh"
	install -m 0755 "$2" "$r/init"
	# The kernel opens /dev/console before /init runs; init also remounts /dev, so this is a convenience.
	if [ "$(id -u)" = 0 ]; then mknod -m 600 "$r/dev/console" c 5 1; fi
}

# pack DIR OUT: cpio newc + gzip, root-owned, reproducible order; replace OUT only when it changed.
pack() {
	local r=$1 dst=$2
	find "$r" -exec touch -h -d @1 {} +
	(cd "$r" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet --reproducible -o -H newc -R 0:0) | gzip -n -1 > "$tmp/pack.gz"
	if [ -f "$dst" ] && cmp -s "$tmp/pack.gz" "$dst"; then
		rm -f "$tmp/pack.gz"
		return 1
	fi
	mv "$tmp/pack.gz" "$dst"
}

# ---- L2 root ----
l2=$tmp/l2
base_root "$l2" "$here/init/l2-init"
shopt -s nullglob
n2=0
for src in "$top"/tests/lab/progs/l2-*.c; do
	name=$(basename "$src" .c)
	if [ -x "$arm/progs/$name" ] && fresh "$arm/progs/$name" "$src"; then
		install -m 0755 "$arm/progs/$name" "$l2/progs/$name"; n2=$((n2 + 1))
	else
		log "warning: $name not built (no $arm/progs/$name): not in the L2 image"
	fi
done
changed=
pack "$l2" "$out/l2-initramfs.cpio.gz" && changed="l2 "

# ---- L1 root ----
l1=$tmp/l1
base_root "$l1" "$here/init/l1-init"
mkdir -p "$l1"/{lab/scenarios,l2,configs}
if [ -x "$arm/ivmm" ] && fresh "$arm/ivmm" "$top/vmm/main.c"; then
	install -m 0755 "$arm/ivmm" "$l1/usr/bin/ivmm"
	ivmm_state="ivmm $(stat -c %s "$arm/ivmm") bytes"
else
	ivmm_state="NO ivmm (build/arm64/ivmm not built: scenarios needing it will fail)"
	log "warning: build/arm64/ivmm not built or out of date: the L1 image has no ivmm"
fi
n1=0
for src in "$top"/tests/lab/progs/*.c; do
	name=$(basename "$src" .c)
	case "$name" in l2-*) continue ;; esac
	if [ -x "$arm/progs/$name" ] && fresh "$arm/progs/$name" "$src"; then
		install -m 0755 "$arm/progs/$name" "$l1/progs/$name"; n1=$((n1 + 1))
	else
		log "warning: $name not built (no $arm/progs/$name): not in the L1 image"
	fi
done
install -m 0644 "$here/lib.sh" "$l1/lab/lib.sh"
for s in "$here"/scenarios/*.sh; do install -m 0644 "$s" "$l1/lab/scenarios/"; done
cp -r "$top/configs/." "$l1/configs/"
rm -f "$l1"/configs/lab/*.patch
cp "$image" "$l1/l2/Image"
cp "$image64" "$l1/l2/Image-64k"
cp "$out/l2-initramfs.cpio.gz" "$l1/l2/initramfs.cpio.gz"
# The portable host bundle, made of exactly what the image holds, goes into it too: scenario host-bundle runs it
# in L1 as on any arm64 host.
bash "$here/bundle.sh" --root "$l1" "$out/ivmm-host-bundle.tar.gz" || die "packing the host bundle failed"
mkdir -p "$l1/bundle"
cp "$out/ivmm-host-bundle.tar.gz" "$l1/bundle/"
pack "$l1" "$out/l1-initramfs.cpio.gz" && changed+="l1"

log "images in build/lab (${changed:-unchanged}): L1 $(stat -c %s "$out/l1-initramfs.cpio.gz") bytes with $ivmm_state," \
	"$n1 L1 progs, $(ls "$l1/lab/scenarios" | wc -l) scenarios; L2 $n2 progs"
