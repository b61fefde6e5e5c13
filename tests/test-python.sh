#!/bin/sh
# The Python bindings' pytest suite against the build tree, with Debian's
# python3 (python3-cffi, python3-pytest).  By hand, from the build dir:
#   UML_TEST_BUILDDIR=$PWD ../tests/test-python.sh -k asyncio  pytest collecting no tests
# (exit 5) is a failure here, not a pass.
set -u
src=${UML_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${UML_TEST_BUILDDIR:-$src}
python=${PYTHON3:-/usr/bin/python3}
lib="$build/libuml/.libs"

export PYTHONPATH="$build/bindings/python${PYTHONPATH:+:$PYTHONPATH}"
export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PYTHONDONTWRITEBYTECODE=1 UML_TEST_SRCDIR="$src"
# A sanitizer build of libuml needs its runtime loaded first into python
# (leak checks off: the interpreter keeps memory until exit).  conftest.py
# drops LD_PRELOAD again at start, so guest kernels do not inherit it.
if ldd "$lib/libuml.so" 2>/dev/null | grep -q libasan; then
	export LD_PRELOAD="$(${CC:-gcc} -print-file-name=libasan.so) $(${CC:-gcc} -print-file-name=libubsan.so)"
	export ASAN_OPTIONS=detect_leaks=0 UML_TEST_DROP_PRELOAD=1
fi

# pytest's own temporary directories go below one that is removed afterwards
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# arguments go to pytest; without test files first it runs the whole suite
case ${1:-} in ''|-*) set -- "$src/bindings/python/tests" "$@" ;; esac
"$python" -m pytest -q -p no:cacheprovider --basetemp="$tmp/pytest" "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
	echo "FAIL: pytest collected no tests in $src/bindings/python/tests"
	exit 1
fi
exit "$rc"
