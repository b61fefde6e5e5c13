#!/bin/sh
# libuml.sym, the public header, the shared library and the Python cdef must
# name the same functions.  The cdef is held to exactly the header's functions
# (bindings/python/tests/test_cdef.py also compares their signatures).
set -eu
src=${UML_TEST_SRCDIR:-$(dirname "$0")/..}
build=${UML_TEST_BUILDDIR:-$src}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sed -n 's/^[[:space:]]*\(uml_[a-z0-9_]*\);.*/\1/p' "$src/libuml/libuml.sym" | sort > "$tmp/sym"
tr '\n' ' ' < "$src/include/uml/libuml.h" | grep -o 'UML_EXPORT[^;]*' |
	grep -o '\buml_[a-z0-9_]*(' | tr -d '(' | sort -u > "$tmp/header"
nm -D --defined-only "$build/libuml/.libs/libuml.so" | awk '$2 == "T" { print $3 }' |
	sed 's/@.*//' | sort -u > "$tmp/lib"

fail=0
compare() {
	if ! diff -u "$tmp/$1" "$tmp/$2" > "$tmp/diff"; then
		echo "FAIL: $1 and $2 differ:"; cat "$tmp/diff"; fail=1
	else
		echo "ok: $1 and $2 agree ($(wc -l < "$tmp/$1") functions)"
	fi
}
compare sym header
compare sym lib
cdef="$src/bindings/python/uml/_cdef.h"
if [ -f "$cdef" ]; then
	grep -o '\buml_[a-z0-9_]*(' "$cdef" | tr -d '(' | sort -u > "$tmp/cdef"
	compare header cdef
fi
# nothing but uml_ symbols may leak out of the library
leaked=$(nm -D --defined-only "$build/libuml/.libs/libuml.so" | awk '$2 ~ /[TDB]/ { print $3 }' |
	sed 's/@.*//' | grep -v '^uml_' | grep -v '^LIBUML_' || true)
if [ -n "$leaked" ]; then echo "FAIL: exported non-API symbols: $leaked"; fail=1; fi
exit $fail
