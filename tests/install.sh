#!/usr/bin/env bash
# install.sh: make install and make uninstall, for make check (one test). Into a temporary DESTDIR, once with
# the default PREFIX (/usr/local) and once with PREFIX=/usr: exactly the ivmm binary (bin/), its man page
# (share/man/man1/ivmm.1, naming the configs directory of that PREFIX) and configs/*.ini (share/ivmm/configs/,
# nothing of configs/lab/) are installed, with modes 755/644, the installed binary runs and the installed page
# renders; then make uninstall leaves no file behind and removes share/ivmm.
# Prints `install: PASS` or `install: FAIL: ...` lines; exit 0 only on PASS.
set -uo pipefail
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "install: FAIL: $*"; fails=$((fails + 1)); }

configs=$(cd configs && ls -1 *.ini | sort)
for prefix in "" /usr; do
	d=$tmp/root${prefix//\//-}
	p=${prefix:-/usr/local}
	args=(DESTDIR="$d")
	[ -n "$prefix" ] && args+=(PREFIX="$prefix")
	if ! $MAKE --no-print-directory -s install "${args[@]}" > "$tmp/out" 2>&1; then
		fail "make install ${args[*]} failed:"; sed 's/^/    | /' "$tmp/out"; continue
	fi
	want=$( { echo "$p/bin/ivmm"; echo "$p/share/man/man1/ivmm.1"
		  for c in $configs; do echo "$p/share/ivmm/configs/$c"; done; } | sort)
	got=$(cd "$d" && find . -type f -o -type l | sed 's|^\.||' | sort)
	[ "$got" = "$want" ] || fail "PREFIX=$p: installed files differ from the expected ones:"$'\n'"$(diff <(echo "$want") <(echo "$got") | sed 's/^/    /')"
	[ "$(stat -c %a "$d$p/bin/ivmm" 2>/dev/null)" = 755 ] || fail "PREFIX=$p: bin/ivmm is not mode 755"
	for f in "$d$p/share/man/man1/ivmm.1" "$d$p"/share/ivmm/configs/*.ini; do
		[ "$(stat -c %a "$f" 2>/dev/null)" = 644 ] || fail "PREFIX=$p: ${f#$d} is not mode 644"
	done
	v=$("$d$p/bin/ivmm" --version 2>&1) || fail "PREFIX=$p: the installed ivmm --version failed: $v"
	case "$v" in "ivmm "*) ;; *) fail "PREFIX=$p: the installed ivmm --version printed '$v'" ;; esac
	grep -q "$p/share/ivmm/configs" "$d$p/share/man/man1/ivmm.1" ||
		fail "PREFIX=$p: the installed page does not name $p/share/ivmm/configs"
	[ "$p" = /usr/local ] || ! grep -v '^\.\\"' "$d$p/share/man/man1/ivmm.1" | grep -q /usr/local ||
		fail "PREFIX=$p: the installed page still names /usr/local"
	if command -v mandoc > /dev/null; then
		mandoc -Tascii "$d$p/share/man/man1/ivmm.1" > /dev/null 2>&1 || fail "PREFIX=$p: the installed page does not render"
	fi
	for c in $configs; do
		cmp -s "configs/$c" "$d$p/share/ivmm/configs/$c" || fail "PREFIX=$p: configs/$c installed differently"
	done

	if ! $MAKE --no-print-directory -s uninstall "${args[@]}" > "$tmp/out" 2>&1; then
		fail "make uninstall ${args[*]} failed:"; sed 's/^/    | /' "$tmp/out"; continue
	fi
	left=$(cd "$d" && find . -type f -o -type l)
	[ -z "$left" ] || fail "PREFIX=$p: left after make uninstall: $left"
	[ ! -e "$d$p/share/ivmm" ] || fail "PREFIX=$p: $p/share/ivmm is still there after make uninstall"
	echo "install: PREFIX=$p DESTDIR=<tmp>: $(echo "$want" | wc -l) files installed as expected, all gone after uninstall"
done
if [ $fails = 0 ]; then echo "install: PASS"; else echo "install: $fails problem(s)"; fi
[ $fails = 0 ]
