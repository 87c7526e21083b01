#!/usr/bin/env bash
# deps.sh: install (or, without root, list) everything ivmm's build, unit tests and lab need.
#
# Idempotent: a second run on a provisioned machine changes nothing and takes a few seconds.
# Follows the apt rules in shared/notes/lab-facts.md:
#   - system packages come from bookworm and, for qemu-system-arm only, bookworm-backports
#     (backports keep their default priority 100, so nothing else is pulled from there);
#   - nothing from trixie/sid is ever installed: newer files (uAPI headers, kernel source) and arm64
#     static libraries are fetched with a private apt state under the cache dir and unpacked with dpkg -x.
#
# Usage: scripts/deps.sh [host|lab|fuzz|all]   (default all)
#   host: native build + unit tests (gcc, libfdt, libinih, criterion, current uAPI headers; mandoc lints the
#         man page in make check)
#   lab:  cross toolchain, arm64 sysroot, qemu 10, kernel source and build tools
#   fuzz: host + clang with libFuzzer (make fuzz only; not part of all)
# Prints the sysroot it prepared (uapi/, arm64/, ksrc/). Exit 0 on success, 1 when something is missing and cannot be installed.
set -euo pipefail

what=${1:-all}
CACHE=${IVMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ivmm-lab}
PAPT=$CACHE/apt            # private apt state: never touches the system's sources or pins
DEBS=$CACHE/debs
SYS=$CACHE/sysroot         # unpacked packages: uapi-amd64/, uapi-arm64/, arm64/ (libs, busybox)

# Pinned versions (lab-facts.md: the kernel source and headers that were actually exercised).
KVER_PIN=${IVMM_KERNEL_PKG_VERSION:-7.3.4-1~bpo13+1}
KSRC_PKG=linux-source-7.3

HOST_PKGS=(gcc make git libc6-dev pkg-config libfdt-dev libinih-dev libjansson-dev libcriterion-dev device-tree-compiler
           valgrind xz-utils ca-certificates mandoc)
LAB_PKGS=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross flex bison bc libssl-dev libelf-dev cpio rsync
          xz-utils kmod patch)
FUZZ_PKGS=(clang libclang-rt-dev)
QEMU_MIN=10

log() { printf 'deps: %s\n' "$*" >&2; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

missing_pkgs() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
	done
}

qemu_ok() {
	command -v qemu-system-aarch64 >/dev/null 2>&1 || return 1
	local v
	v=$(qemu-system-aarch64 --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p' | head -n1)
	[ -n "$v" ] && [ "$v" -ge "$QEMU_MIN" ]
}

is_debian12() { [ -r /etc/os-release ] && . /etc/os-release && [ "${ID:-}" = debian ] && [ "${VERSION_ID:-}" = 12 ]; }

# ---- system packages ---------------------------------------------------------------------------
apt_updated=0
apt_update_once() {
	[ "$apt_updated" = 1 ] && return 0
	apt-get update -qq >/dev/null || die "apt-get update failed"
	apt_updated=1
}

ensure_backports() {
	local f=/etc/apt/sources.list.d/ivmm-bookworm-backports.sources
	if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		log "adding bookworm-backports (default priority 100: used only with -t)"
		cat > "$f" <<EOT
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
		apt_updated=0
	fi
}

install_system() {
	local want=("$@") miss need_qemu=0
	mapfile -t miss < <(missing_pkgs "${want[@]}")
	if [ "$what" != host ] && [ "$what" != fuzz ] && ! qemu_ok; then need_qemu=1; fi
	[ ${#miss[@]} -eq 0 ] && [ $need_qemu = 0 ] && return 0
	if [ "$(id -u)" != 0 ] || ! is_debian12; then
		log "missing: ${miss[*]:-} $([ $need_qemu = 1 ] && echo "qemu-system-arm>=$QEMU_MIN")"
		log "on Debian 12 as root: apt-get install ${miss[*]:-}"
		[ $need_qemu = 1 ] && log "and: apt-get install -t bookworm-backports --no-install-recommends qemu-system-arm"
		die "cannot install here (need root on Debian 12)"
	fi
	export DEBIAN_FRONTEND=noninteractive
	if [ ${#miss[@]} -gt 0 ]; then
		apt_update_once
		log "installing: ${miss[*]}"
		apt-get install -y -qq --no-install-recommends "${miss[@]}" >/dev/null || die "apt-get install ${miss[*]} failed"
	fi
	if [ $need_qemu = 1 ]; then
		ensure_backports
		apt_update_once
		log "installing qemu-system-arm from bookworm-backports"
		apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-arm qemu-system-data >/dev/null \
			|| die "installing qemu-system-arm from bookworm-backports failed"
		qemu_ok || die "qemu-system-aarch64 is older than $QEMU_MIN after install"
	fi
}

# ---- private apt: download-only, never installed -------------------------------------------------
papt() {
	apt-get -q -o Dir::State="$PAPT" -o Dir::State::Lists="$PAPT/lists" -o Dir::State::status="$PAPT/status" \
		-o Dir::Cache="$PAPT/cache" -o Dir::Etc::SourceList="$PAPT/sources.list" \
		-o Dir::Etc::SourceParts="$PAPT/empty" -o Dir::Etc::Preferences="$PAPT/prefs" \
		-o Dir::Etc::PreferencesParts="$PAPT/empty" -o APT::Architecture=amd64 \
		-o APT::Architectures::=amd64 -o APT::Architectures::=arm64 -o APT::Sandbox::User=root "$@"
}
papt_cache() {
	apt-cache -o Dir::State="$PAPT" -o Dir::State::Lists="$PAPT/lists" -o Dir::State::status="$PAPT/status" \
		-o Dir::Cache="$PAPT/cache" -o Dir::Etc::SourceList="$PAPT/sources.list" \
		-o Dir::Etc::SourceParts="$PAPT/empty" -o Dir::Etc::Preferences="$PAPT/prefs" \
		-o Dir::Etc::PreferencesParts="$PAPT/empty" -o APT::Architecture=amd64 \
		-o APT::Architectures::=amd64 -o APT::Architectures::=arm64 "$@"
}
papt_ready=0
papt_init() {
	[ "$papt_ready" = 1 ] && return 0
	mkdir -p "$PAPT/lists/partial" "$PAPT/cache/archives/partial" "$PAPT/empty" "$DEBS"
	touch "$PAPT/status" "$PAPT/prefs"
	cat > "$PAPT/sources.list" <<EOT
deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main
EOT
	# Refresh the private lists at most once a day.
	if [ -z "$(find "$PAPT/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then
		papt update -qq >/dev/null || die "private apt update failed"
	fi
	papt_ready=1
}

# fetch NAME[:ARCH] VERSION|'' -> prints path of the .deb in $DEBS
fetch_deb() {
	local spec=$1 ver=$2 name=${1%%:*} arch=amd64 f
	[[ $spec == *:* ]] && arch=${spec##*:}
	if [ -n "$ver" ]; then
		f=$(ls "$DEBS/${name}_${ver//:/%3a}_${arch}.deb" "$DEBS/${name}_${ver#*:}_${arch}.deb" \
		       "$DEBS/${name}_${ver#*:}_all.deb" 2>/dev/null | head -n1 || true)
		[ -n "$f" ] && { echo "$f"; return 0; }
	fi
	papt_init
	if [ -n "$ver" ] && ! papt_cache show "$spec=$ver" >/dev/null 2>&1; then
		log "warning: $spec version $ver is no longer offered; taking the newest one"
		ver=""
	fi
	[ -z "$ver" ] && ver=$(papt_cache policy "$spec" | sed -n 's/^ *\*\{0,3\} *\([0-9][^ ]*\) [0-9]*$/\1/p' | head -n1)
	[ -n "$ver" ] || die "no version of $spec found"
	(cd "$DEBS" && papt download "$spec=$ver" >/dev/null 2>&1) || die "download of $spec=$ver failed"
	f=$(ls -t "$DEBS/${name}_"*"_${arch}.deb" "$DEBS/${name}_"*"_all.deb" 2>/dev/null | head -n1 || true)
	[ -n "$f" ] || die "downloaded $spec=$ver but cannot find its .deb in $DEBS"
	echo "$f"
}

unpack() { # deb dest
	local stamp="$2/.$(basename "$1").unpacked"
	[ -e "$stamp" ] && return 0
	mkdir -p "$2"
	dpkg -x "$1" "$2"
	touch "$stamp"
}

# linux-libc-dev 7.x is Architecture: all, with every arch's asm/ under usr/include/<triplet>/.
prepare_uapi() {
	local d
	d=$(fetch_deb "linux-libc-dev" "$KVER_PIN")
	unpack "$d" "$SYS/uapi"
	[ -f "$SYS/uapi/usr/include/linux/iommufd.h" ] || die "$d has no linux/iommufd.h"
}

prepare_arm64_sysroot() {
	local p d
	[ -e "$SYS/arm64/.complete" ] && [ -x "$SYS/arm64/bin/busybox" ] &&
		[ -f "$SYS/arm64/usr/lib/aarch64-linux-gnu/libjansson.a" ] && return 0
	for p in libfdt-dev libfdt1 libinih-dev libinih1 libjansson-dev libjansson4 busybox-static; do
		d=$(fetch_deb "$p:arm64" "")
		unpack "$d" "$SYS/arm64"
	done
	touch "$SYS/arm64/.complete"
}

prepare_kernel_source() {
	local d
	d=$(fetch_deb "$KSRC_PKG" "$KVER_PIN")
	unpack "$d" "$SYS/ksrc"
	ln -sfn "$(basename "$d")" "$SYS/ksrc.version"
}

case "$what" in
	host) install_system "${HOST_PKGS[@]}"; prepare_uapi ;;
	lab)  install_system "${HOST_PKGS[@]}" "${LAB_PKGS[@]}"; prepare_uapi; prepare_arm64_sysroot; prepare_kernel_source ;;
	all)  install_system "${HOST_PKGS[@]}" "${LAB_PKGS[@]}"; prepare_uapi; prepare_arm64_sysroot; prepare_kernel_source ;;
	fuzz) install_system "${HOST_PKGS[@]}" "${FUZZ_PKGS[@]}"; prepare_uapi ;;
	*) die "usage: $0 [host|lab|fuzz|all]" ;;
esac
echo "$SYS"
