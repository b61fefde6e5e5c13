#!/bin/sh
# uml-lab builds its built-in lab (three guests, two links, one switch),
# pings across it and leaves nothing behind.
set -eu
build=${UML_TEST_BUILDDIR:-$(dirname "$0")/..}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
before=$(ls -d /tmp/uml-lab-* 2>/dev/null | wc -l)
"$build/examples/uml-lab" > "$out" 2>&1 || { cat "$out"; echo "FAIL: uml-lab failed"; exit 1; }
cat "$out"
[ "$(grep -c ' ok$' "$out")" -eq 4 ] || { echo "FAIL: not 4 pings ok"; exit 1; }
# the names the guests see, with the MACs libuml derived from the umids
grep -q '^b .*vec0(02:.*vec1(02:.*eth0(02:' "$out" || { echo "FAIL: interface names"; exit 1; }
[ "$(ls -d /tmp/uml-lab-* 2>/dev/null | wc -l)" -eq "$before" ] ||
	{ echo "FAIL: uml-lab left a directory"; exit 1; }
if pgrep -f 'uml-lab-.*/run/switch-lan' >/dev/null; then echo "FAIL: switch survived"; exit 1; fi
echo "ok: lab pinged, nothing left"
