#!/usr/bin/env bash
# Checks the installed library as a user sees it: installs build directory BUILD (default:
# ./build) into a temporary directory with `meson install --destdir`, then, through
# pkg-config alone, builds examples/train_bc.c against the installed headers and libqtrain,
# runs it and requires a test accuracy above 0.9 (chance is 0.5). Also requires that the
# headers kept out of the API (src/include/qtrain/) were not installed, and, when a C++
# compiler is present, that the installed umbrella header compiles as C++.
# Usage: tools/check-install.sh [BUILD]. Prints one line per check; exits non-zero on failure.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-install: $*" >&2; exit 1; }

meson install -C "$build" --no-rebuild --destdir "$tmp/root" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "meson install failed"; }
pc=$(find "$tmp/root" -name qtrain.pc)
[ -n "$pc" ] || fail "no qtrain.pc was installed"
libdir=$(dirname "$(dirname "$pc")")
export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$tmp/root"
includedir=$(pkg-config --cflags-only-I qtrain | sed "s/^ *-I//; s/ *$//")
[ -f "$includedir/qtrain/qtrain.h" ] && [ -f "$includedir/qtrain/version.h" ] ||
    fail "qtrain/qtrain.h and qtrain/version.h were not installed under $includedir"
for h in "$src"/src/include/qtrain/*.h; do
    [ ! -e "$includedir/qtrain/$(basename "$h")" ] ||
        fail "$(basename "$h") is not part of the API but was installed"
done
echo "installed: $(ls "$includedir/qtrain" | wc -l) headers, $(basename "$(readlink -f "$libdir/libqtrain.so")"), qtrain.pc $(pkg-config --modversion qtrain)"

# shellcheck disable=SC2046  # pkg-config's flags are meant to be split
cc -std=c11 -Wall -Wextra -Werror "$src/examples/train_bc.c" $(pkg-config --cflags --libs qtrain) \
    -o "$tmp/train_bc" || fail "examples/train_bc.c does not build against the installed library"
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/train_bc") || fail "train_bc failed"
echo "example: $out"
acc=$(printf '%s\n' "$out" | sed -n 's/.*test accuracy \([0-9.]*\).*/\1/p')
[ -n "$acc" ] || fail "train_bc printed no accuracy"
awk -v a="$acc" 'BEGIN { exit !(a > 0.9) }' || fail "test accuracy $acc is not above 0.9"

if command -v c++ >/dev/null; then
    # shellcheck disable=SC2046
    printf '#include "qtrain/qtrain.h"\nint main() { return QTRAIN_VERSION > 0 ? 0 : 1; }\n' |
        c++ -x c++ -Wall -Wextra -pedantic -Werror - $(pkg-config --cflags qtrain) -fsyntax-only ||
        fail "the installed qtrain/qtrain.h does not compile as C++"
    echo "c++: the installed umbrella header compiles"
fi
echo "check-install: all passed"
