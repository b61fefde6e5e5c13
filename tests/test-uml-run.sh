#!/bin/sh
# uml-run end to end: the one-shot example from its man page, its exit codes.
set -u
build=${UML_TEST_BUILDDIR:-.}
run="$build/examples/uml-run"
tmp=$(mktemp -d)
export UML_DIR="$tmp/run"
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # name expected actual
	if [ "$2" = "$3" ]; then echo "ok: $1"; else echo "FAIL: $1: expected '$2', got '$3'"; fail=1; fi
}

out=$("$run" --busybox --run 'uname -r; exit 7'); rc=$?
check "--run exits with the command's status" 7 "$rc"
check "--run prints the guest kernel version" "$(/usr/bin/linux.uml --version)" "$out"

"$run" --busybox --quiet --timeout 5 --run 'sleep 100' > /dev/null; rc=$?
check "--timeout exits 124" 124 "$rc"

"$run" --busybox --quiet --run 'mount -t proc p /proc; echo c > /proc/sysrq-trigger' > /dev/null; rc=$?
check "a panic exits 123" 123 "$rc"

out=$("$run" --busybox --wait-for 'libuml: guest ready' --timeout 60); rc=$?
check "--wait-for succeeds when the text appears" 0 "$rc"
case $out in *"Linux version"*) check "--wait-for streams the console" yes yes ;;
	*) check "--wait-for streams the console" yes no ;; esac

"$run" --kernel /bin/true --run true 2> "$tmp/err"; rc=$?
check "a non-UML kernel exits 125" 125 "$rc"
grep -q '/bin/true' "$tmp/err" || { echo "FAIL: error does not name /bin/true"; fail=1; }

"$run" --no-such-option 2> /dev/null; rc=$?
check "a bad option exits 2" 2 "$rc"

# --attach: a terminal typed into, ^] to leave, the terminal restored
if command -v tmux > /dev/null; then
	sock="$tmp/tmux.sock"
	tmux -S "$sock" new-session -d -x 120 -y 30 \
		"UML_DIR='$UML_DIR' '$run' --busybox --attach; echo EXIT=\$?; stty -a > '$tmp/stty'; sleep 60"
	for i in $(seq 60); do
		tmux -S "$sock" capture-pane -p | grep -q '/ #' && break; sleep 1
	done
	tmux -S "$sock" send-keys 'echo attached-$((40+2))' Enter
	sleep 2
	tmux -S "$sock" send-keys C-]
	for i in $(seq 30); do [ -s "$tmp/stty" ] && break; sleep 1; done
	pane=$(tmux -S "$sock" capture-pane -p)
	tmux -S "$sock" kill-server
	case $pane in *attached-42*) check "--attach reaches the guest shell" yes yes ;;
		*) check "--attach reaches the guest shell" yes "no: $pane" ;; esac
	case $pane in *EXIT=0*) check "^] halts the guest, exit 0" yes yes ;;
		*) check "^] halts the guest, exit 0" yes no ;; esac
	grep -q -- ' icanon' "$tmp/stty" && check "the terminal is restored" yes yes ||
		check "the terminal is restored" yes no
else
	echo "SKIP: --attach test needs tmux"
fi

# NAT with a forward of a free host port (QEMU's syntax): uml-run says which
# port it got, the guest's httpd answers there, and uml-ctl adds, lists and
# removes forwards of the running guest
"$run" --busybox --umid fwd-test --quiet --timeout 300 \
	--net 'nat,hostfwd=tcp:127.0.0.1:0-:80' \
	--run 'mount -t tmpfs t /mnt && echo hello-through-hostfwd >/mnt/index.html &&
		httpd -p 80 -h /mnt && until [ -e /mnt/stop ]; do sleep 1; done' \
	> "$tmp/fwd.out" 2> "$tmp/fwd.err" &
runpid=$!
"$run" --busybox --quiet --net 'nat,hostfwd=tcp:127.0.0.1:80' --run true 2> "$tmp/bad.err"; rc=$?
check "a malformed hostfwd exits 125" 125 "$rc"
grep -q "bad hostfwd" "$tmp/bad.err" || { echo "FAIL: no 'bad hostfwd' message"; fail=1; }
port=
for i in $(seq 120); do
	port=$(sed -n 's/^uml-run: hostfwd tcp 127.0.0.1:\([0-9]*\) -> guest port 80$/\1/p' "$tmp/fwd.err")
	[ -n "$port" ] && break; sleep 1
done
check "uml-run prints the picked port" yes "$([ -n "$port" ] && [ "$port" != 0 ] && echo yes)"
fetch() { # port: the guest's page through the forward, retried while the guest boots
	for i in $(seq 120); do
		out=$(curl -s -m 5 "http://127.0.0.1:$1/") && [ -n "$out" ] && { echo "$out"; return; }
		sleep 1
	done
}
check "the guest's httpd answers through the forward" hello-through-hostfwd "$(fetch "$port")"
ctl="$build/examples/uml-ctl"
port2=$("$ctl" fwd-test hostfwd add tcp::0-:80); rc=$?
check "uml-ctl hostfwd add" 0 "$rc"
check "a forward added by uml-ctl answers" hello-through-hostfwd "$(fetch "$port2")"
"$ctl" fwd-test hostfwd list > "$tmp/list"
grep -q "^hostfwd tcp 127.0.0.1 $port2 10.0.2.15 80$" "$tmp/list" ||
	{ echo "FAIL: hostfwd list lacks port $port2:"; cat "$tmp/list"; fail=1; }
"$ctl" fwd-test hostfwd add "tcp::$port2-:80" 2> /dev/null; rc=$?
check "uml-ctl hostfwd add of a forwarded port is refused" 1 "$rc"
"$ctl" fwd-test hostfwd remove "tcp::$port2"; rc=$?
check "uml-ctl hostfwd remove" 0 "$rc"
"$ctl" fwd-test hostfwd remove "tcp::$port2" 2> /dev/null; rc=$?
check "removing it again is refused" 1 "$rc"
"$ctl" fwd-test hostfwd bogus 2> /dev/null; rc=$?
check "uml-ctl hostfwd usage error" 2 "$rc"
"$ctl" fwd-test halt > /dev/null
wait "$runpid"
check "uml-ctl hostfwd list of a guest that ended" 3 \
	"$("$ctl" fwd-test hostfwd list 2> /dev/null; echo $?)"

check "no runtime files left" "" "$(ls -A "$tmp/run" 2>/dev/null)"
exit $fail
