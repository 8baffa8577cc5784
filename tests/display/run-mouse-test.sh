#!/bin/sh
# The host mouse through the SDL window to the guest's PS/2 mouse, under a
# private Xvfb: mouse_guest.elf reports the packets it gets on COM1.
#
#   run-mouse-test.sh BTVM MOUSE_GUEST_ELF
#
# A click grabs the mouse (not the guest's), then relative motion right
# and down and a left click must reach the guest, which then exits with
# PASS (btvm status 1, the runtime's debug-exit 0).
set -u
btvm=$1
elf=$2
for tool in Xvfb xdotool; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "run-mouse-test: $tool is missing (scripts/install-deps installs it)"
        exit 1
    fi
done
work=$(mktemp -d "${TMPDIR:-/tmp}/btvm-mouse.XXXXXX") || exit 1
xpid=
bpid=
cleanup() {
    [ -n "$bpid" ] && kill "$bpid" 2>/dev/null
    [ -n "$xpid" ] && kill "$xpid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "run-mouse-test: $*"
    echo "--- COM1:"; tr -d '\r' <"$work/serial.log"
    exit 1
}

Xvfb -displayfd 3 -screen 0 1024x768x24 -nolisten tcp 3>"$work/display" 2>"$work/xvfb.log" &
xpid=$!
i=0
while [ ! -s "$work/display" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$work/display" ] || { echo "run-mouse-test: Xvfb did not start"; cat "$work/xvfb.log"; exit 1; }
DISPLAY=:$(cat "$work/display")
export DISPLAY

"$btvm" -display sdl -kernel "$elf" </dev/null >"$work/serial.log" 2>&1 &
bpid=$!
i=0
while ! grep -q MOUSE-READY "$work/serial.log" 2>/dev/null; do
    kill -0 "$bpid" 2>/dev/null || fail "btvm ended early"
    [ $i -lt 300 ] || fail "the guest did not get its mouse ready"
    sleep 0.1
    i=$((i + 1))
done
win=$(xdotool search --sync --name '^btvm' | head -n 1)
[ -n "$win" ] || fail "no btvm window"
xdotool windowfocus --sync "$win"
xdotool mousemove --window "$win" 200 150
sleep 0.3
xdotool click 1            # grabs the mouse: relative motion from now on
sleep 0.5
for step in 1 2 3 4 5; do
    xdotool mousemove_relative -- 15 10
    sleep 0.1
done
xdotool click 1
i=0
while kill -0 "$bpid" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 "$bpid" 2>/dev/null && fail "the guest did not see the motion and the click"
wait "$bpid"
status=$?
bpid=
tr -d '\r' <"$work/serial.log"
[ "$status" -eq 1 ] || fail "btvm exit status $status, expected 1 (PASS)"
grep -q '^PASS' "$work/serial.log" || fail "no PASS"
echo "run-mouse-test: PASS"
