#!/usr/bin/env bash
# manpage.sh: the man page docs/ivmm.1 is complete and clean, for make check (one test):
#   - every option `ivmm --help` prints (--long ones, -h, -V), every NAME= parameter it shows (the --device
#     and --viommu parameters, --hugepages=), its config sections and its console keys appear in the page as
#     mandoc renders it;
#   - every IVMM_* environment variable the code reads (getenv in vmm/ devices/ iommu/ boot/) is documented;
#   - `mandoc -Tlint` reports nothing. Only its note that the machine's mandoc.db is out of date for an .Xr
#     target (run makewhatis) is ignored: that is the machine's state, not the page's.
# Prints what it checked and `manpage: PASS` or one `manpage: FAIL: ...` line per problem; exit 0 only on PASS.
# Usage: tests/manpage.sh [IVMM-BINARY]   (default build/host/ivmm)
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/host/ivmm}
page=${IVMM_MANPAGE:-docs/ivmm.1}
fails=0
fail() { echo "manpage: FAIL: $*"; fails=$((fails + 1)); }

command -v mandoc > /dev/null || { echo "manpage: FAIL: no mandoc (scripts/deps.sh host installs it)"; exit 1; }
[ -f "$page" ] || { echo "manpage: FAIL: no $page"; exit 1; }
help=$("$bin" --help 2>&1) || { echo "manpage: FAIL: '$bin --help' did not run"; exit 1; }
text=$(mandoc -Tascii "$page" 2>/dev/null | col -b) || { echo "manpage: FAIL: mandoc cannot render $page"; exit 1; }

has() { grep -qF -- "$1" <<< "$text"; }

# Options, parameters, sections and keys of --help.
mapfile -t opts < <(grep -oE -- '(^|[^a-zA-Z0-9-])--[a-z][a-z0-9-]*' <<< "$help" | grep -oE -- '--[a-z0-9-]+' | sort -u)
mapfile -t shorts < <(grep -E -- '^ +-[a-zA-Z],' <<< "$help" | grep -oE -- '^ +-[a-zA-Z]' | tr -d ' ' | sort -u)
mapfile -t params < <(grep -oE -- '[a-z][a-z0-9-]*=' <<< "$help" | sort -u)
mapfile -t sections < <(grep -oE -- '\[(machine|boot|device)' <<< "$help" | sort -u)
mapfile -t keys < <(grep -oE -- '^ +Ctrl-A [^ ]+' <<< "$help" | sed 's/^ *//' | sort -u)
[ ${#opts[@]} -ge 10 ] || fail "found only ${#opts[@]} long options in '$bin --help' (the extraction is broken?)"
for w in "${opts[@]}" "${shorts[@]}" "${params[@]}" "${sections[@]}" "${keys[@]}"; do
	has "$w" || fail "'$w' (from ivmm --help) is not in $page"
done

# The environment the code reads.
mapfile -t envs < <(grep -rhoE 'getenv\("IVMM_[A-Z0-9_]+"\)' vmm devices iommu boot | grep -oE 'IVMM_[A-Z0-9_]+' | sort -u)
for e in "${envs[@]}"; do
	sed -n '/^ENVIRONMENT/,/^[A-Z]/p' <<< "$text" | grep -qw -- "$e" || fail "$e (read by the code) is not in ENVIRONMENT"
done

lint=$(mandoc -Tlint "$page" 2>&1 | grep -v 'outdated mandoc.db')
[ -z "$lint" ] || fail "mandoc -Tlint $page:"$'\n'"$lint"

echo "manpage: checked ${#opts[@]} long and ${#shorts[@]} short options, ${#params[@]} parameters," \
	"${#sections[@]} config sections, ${#keys[@]} console keys, ${#envs[@]} environment variables, mandoc -Tlint"
if [ $fails = 0 ]; then echo "manpage: PASS"; else echo "manpage: $fails problem(s)"; fi
[ $fails = 0 ]
