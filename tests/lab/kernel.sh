#!/usr/bin/env bash
# kernel.sh: build (or reuse) the lab kernel Image that serves as both L1 (emulated arm64 host) and L2 (guest).
#   bash tests/lab/kernel.sh [4k|64k]   (default 4k) 64k: the same kernel with 64 KiB pages
#                                        (CONFIG_ARM64_64K_PAGES), the L1 of the lab's 64k host variant and
#                                        its 64 KiB-page guest
#
# Source: Debian's linux-source package unpacked by scripts/deps.sh. Config: allnoconfig + configs/lab/kernel.fragment
# + olddefconfig, then every fragment option is checked. Patches: configs/lab/*.patch (lab-only, see their headers).
# The result is cached in $CACHE/kernel/<key>/Image, key = sha256 of source version, fragment, patches, this
# script and the cross compiler version, so later runs (and CI on the same machine) reuse it.
# Prints the path of the Image on stdout; the build log goes to $CACHE/kernel/<key>/build.log.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
CACHE=${IVMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ivmm-lab}
SYS=$CACHE/sysroot
CROSS=aarch64-linux-gnu-
JOBS=${IVMM_JOBS:-3}
PAGES=${1:-4k}
case "$PAGES" in 4k|64k) ;; *) echo "kernel: error: page size '$PAGES' (4k or 64k)" >&2; exit 2 ;; esac

die() { printf 'kernel: error: %s\n' "$*" >&2; exit 1; }

tarball=$(ls "$SYS"/ksrc/usr/src/linux-source-*.tar.xz 2>/dev/null | head -n1) || true
[ -n "$tarball" ] || die "no kernel source under $SYS/ksrc (run scripts/deps.sh lab)"
command -v ${CROSS}gcc >/dev/null || die "${CROSS}gcc missing (run scripts/deps.sh lab)"

# The fragment of this page size: 64k swaps the page-size option, nothing else.
fragment=$(mktemp)
trap 'rm -f "$fragment"' EXIT
if [ "$PAGES" = 64k ]; then
	sed 's/^CONFIG_ARM64_4K_PAGES=y$/CONFIG_ARM64_64K_PAGES=y/' "$top/configs/lab/kernel.fragment" > "$fragment"
else
	cp "$top/configs/lab/kernel.fragment" "$fragment"
fi
key=$( { readlink "$SYS/ksrc.version"; cat "$fragment" "$top"/configs/lab/*.patch "$0";
         ${CROSS}gcc --version | head -n1; } | sha256sum | cut -c1-16)
out=$CACHE/kernel/$key
if [ -f "$out/Image" ]; then echo "$out/Image"; exit 0; fi

mkdir -p "$out"
src=$CACHE/build/linux-$key
log=$out/build.log
{
	echo "kernel: building $key ($PAGES pages) from $(basename "$tarball") (log: $log)" >&2
	rm -rf "$src"; mkdir -p "$src"
	tar -C "$src" --strip-components=1 -xf "$tarball"
	for p in "$top"/configs/lab/*.patch; do
		patch -d "$src" -p1 --forward --quiet < "$p" || die "patch $(basename "$p") does not apply"
	done
	m() { make -C "$src" ARCH=arm64 CROSS_COMPILE=$CROSS "$@"; }
	m allnoconfig >/dev/null
	(cd "$src" && ARCH=arm64 CROSS_COMPILE=$CROSS scripts/kconfig/merge_config.sh -m .config "$fragment") >/dev/null
	m olddefconfig >/dev/null
	bad=0
	while IFS= read -r line; do
		case "$line" in CONFIG_*=*) ;; *) continue ;; esac
		grep -qx "$line" "$src/.config" || { echo "kernel: option dropped by Kconfig: $line" >&2; bad=1; }
	done < "$fragment"
	[ $bad = 0 ] || die "requested options were not set (unmet dependencies); fix configs/lab/kernel.fragment"
	m -j"$JOBS" Image >>"$log" 2>&1 || { tail -n 30 "$log" >&2; die "kernel build failed"; }
	cp "$src/.config" "$out/config"
	cp "$src/arch/arm64/boot/Image" "$out/Image.tmp" && mv "$out/Image.tmp" "$out/Image"
} 1>&2
# Keep the configured tree small: objects are not needed once the Image is cached.
make -C "$src" ARCH=arm64 CROSS_COMPILE=$CROSS clean >/dev/null 2>&1 || true
echo "$out/Image"
