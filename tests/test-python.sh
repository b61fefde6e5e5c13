#!/bin/sh
# The Python bindings' pytest suite against the build tree, with Debian's
# python3 (python3-cffi, python3-pytest).  pytest collecting no tests
# (exit 5) is a failure here, not a pass.
set -u
src=${UML_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${UML_TEST_BUILDDIR:-$src}
python=${PYTHON3:-/usr/bin/python3}
lib="$build/libuml/.libs"

export PYTHONPATH="$build/bindings/python${PYTHONPATH:+:$PYTHONPATH}"
export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PYTHONDONTWRITEBYTECODE=1 UML_TEST_SRCDIR="$src"
# A sanitizer build of libuml needs its runtime loaded first into python.
if ldd "$lib/libuml.so" 2>/dev/null | grep -q libasan; then
	export LD_PRELOAD="$(${CC:-gcc} -print-file-name=libasan.so) $(${CC:-gcc} -print-file-name=libubsan.so)"
	export ASAN_OPTIONS=detect_leaks=0
fi

"$python" -m pytest -q -p no:cacheprovider "$src/bindings/python/tests"
rc=$?
if [ "$rc" -eq 5 ]; then
	echo "FAIL: pytest collected no tests in $src/bindings/python/tests"
	exit 1
fi
exit "$rc"
