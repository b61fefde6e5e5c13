#!/bin/sh
# uml-mkrootfs end to end: a configured busybox guest with an injected file
# that boots to its login prompt, fixing up an existing image, a COW overlay
# on top, and the errors it reports.
set -u
build=${UML_TEST_BUILDDIR:-.}
mk="$build/examples/uml-mkrootfs"
run="$build/examples/uml-run"
tmp=$(mktemp -d)
export UML_DIR="$tmp/run"
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # name expected actual
	if [ "$2" = "$3" ]; then echo "ok: $1"; else echo "FAIL: $1: expected '$2', got '$3'"; fail=1; fi
}

echo 'hello from the host' > "$tmp/hello"
out=$("$mk" -q --busybox --hostname mkguest --net static:10.0.2.15/24,10.0.2.2 \
	--no-root-password --inject "$tmp/hello:/root/hello" -o "$tmp/bb.img"); rc=$?
check "a busybox guest is made" 0 "$rc"
check "the image path is printed" "$tmp/bb.img" "$out"
check "e2fsck -fn is clean" 0 "$(e2fsck -fn "$tmp/bb.img" > /dev/null 2>&1; echo $?)"
check "the host name is set" mkguest "$(debugfs -R 'cat /etc/hostname' "$tmp/bb.img" 2>/dev/null)"
check "the injected file is in" 'hello from the host' \
	"$(debugfs -R 'cat /root/hello' "$tmp/bb.img" 2>/dev/null)"

"$run" --rootfs "$tmp/bb.img" --wait-for 'mkguest login:' --timeout 60 > "$tmp/console" 2>&1; rc=$?
check "the guest boots to its login prompt" 0 "$rc"

# an existing image is configured in place; one halted by mconsole (not
# unmounted) is refused until e2fsck replayed its journal
"$mk" -q --hostname renamed -o "$tmp/bb.img" > /dev/null 2> "$tmp/err"; rc=$?
if [ "$rc" != 0 ]; then
	grep -q 'e2fsck -fy' "$tmp/err" || { echo "FAIL: no advice in: $(cat "$tmp/err")"; fail=1; }
	e2fsck -fy "$tmp/bb.img" > /dev/null 2>&1
	"$mk" -q --hostname renamed -o "$tmp/bb.img" > /dev/null; rc=$?
fi
check "an existing image is reconfigured" 0 "$rc"
check "with the new host name" renamed "$(debugfs -R 'cat /etc/hostname' "$tmp/bb.img" 2>/dev/null)"

out=$("$mk" -q --cow "$tmp/bb.img" -o "$tmp/guest.cow"); rc=$?
check "a COW overlay is made over it" "0 $tmp/guest.cow" "$rc $out"
# UML's magic 0x4f4f4f4d ("MOOO"), stored big-endian
check "the overlay is a COW file" OOOM "$(head -c 4 "$tmp/guest.cow")"

"$mk" -q --busybox -o "$tmp/bb.img" 2> "$tmp/err"; rc=$?
check "an existing image is not replaced without --force" 1 "$rc"
grep -q 'exists' "$tmp/err" || { echo "FAIL: no 'exists' in: $(cat "$tmp/err")"; fail=1; }

"$mk" -q --busybox --net wifi -o "$tmp/x.img" 2> "$tmp/err"; rc=$?
check "a bad --net is a usage error" 2 "$rc"
grep -q 'wifi' "$tmp/err" || { echo "FAIL: error does not name the setting"; fail=1; }

"$mk" -q --busybox --debootstrap bookworm -o "$tmp/x.img" 2> /dev/null; rc=$?
check "two sources are a usage error" 2 "$rc"

if [ "$(id -u)" != 0 ]; then
	"$mk" -q --debootstrap bookworm -o "$tmp/deb.img" 2> "$tmp/err"; rc=$?
	check "debootstrap without root fails" 1 "$rc"
	grep -q 'needs root' "$tmp/err" || { echo "FAIL: no reason in: $(cat "$tmp/err")"; fail=1; }
elif ! command -v setpriv > /dev/null; then
	echo "skip: debootstrap without root: no setpriv to drop root"
elif ! setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$mk"; then
	# a build dir below a private one (mktemp -d makes 0700 dirs)
	echo "skip: debootstrap without root: user nobody cannot reach $mk"
else
	setpriv --reuid=65534 --regid=65534 --clear-groups "$mk" -q --debootstrap bookworm \
		-o /tmp/libuml-never.img 2> "$tmp/err"; rc=$?
	check "debootstrap without root fails" 1 "$rc"
	grep -q 'needs root' "$tmp/err" || { echo "FAIL: no reason in: $(cat "$tmp/err")"; fail=1; }
fi
exit $fail
