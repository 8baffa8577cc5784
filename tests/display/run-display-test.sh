#!/bin/sh
# The SDL window end to end, under a private Xvfb: boot Debian's kernel
# with its console on the VGA text screen, read the screen back through
# -screendump, type into the busybox shell on tty0 through X (xdotool),
# and see the answer on the screen.
#
#   run-display-test.sh BTVM SCREEN_TEXT GUEST_IMAGES_DIR [extra btvm args...]
#
# Passes when
#   - the screen (screendumps on SIGUSR1, decoded by screen-text) shows
#     the kernel's log lines, the same ones the serial console printed,
#   - the shell prompt appears on the screen, the typed command's output
#     ("btvm42ok") appears after it, and Ctrl-Alt-S (the statistics
#     overlay's hot key) did not reach the guest,
#   - typing "poweroff -f" ends btvm with status 0 and the screendump
#     written at exit decodes.
# Xvfb and xdotool come from scripts/install-deps; missing ones fail the
# test.  DISPLAY_TIMEOUT (seconds, default 150) bounds the whole run.
set -u
btvm=$1
screen_text=$2
images=$3
shift 3
limit=${DISPLAY_TIMEOUT:-150}
for tool in Xvfb xdotool; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "run-display-test: $tool is missing (scripts/install-deps installs it)"
        exit 1
    fi
done
for f in vmlinuz initrd.gz; do
    if [ ! -s "$images/$f" ]; then
        echo "run-display-test: $images/$f is missing: run guests/linux/build-guest.sh"
        exit 1
    fi
done
work=$(mktemp -d "${TMPDIR:-/tmp}/btvm-display.XXXXXX") || exit 1
xpid=
bpid=
cleanup() {
    [ -n "$bpid" ] && kill "$bpid" 2>/dev/null
    [ -n "$xpid" ] && kill "$xpid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }

# A display number nobody uses: Xvfb picks it and writes it to fd 3.
Xvfb -displayfd 3 -screen 0 1024x768x24 -nolisten tcp 3>"$work/display" 2>"$work/xvfb.log" &
xpid=$!
i=0
while [ ! -s "$work/display" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if [ ! -s "$work/display" ]; then
    echo "run-display-test: Xvfb did not start:"; cat "$work/xvfb.log"; exit 1
fi
DISPLAY=:$(cat "$work/display")
export DISPLAY
echo "run-display-test: Xvfb on $DISPLAY"

"$btvm" -display sdl -screendump "$work/screen.png" -no-reboot -m 256 \
    -kernel "$images/vmlinuz" -initrd "$images/initrd.gz" \
    -append "console=ttyS0 console=tty0 panic=-1" "$@" </dev/null >"$work/serial.log" 2>&1 &
bpid=$!

fail() {
    echo "run-display-test: $* (after $(elapsed) s)"
    echo "--- the screen:"; cat "$work/screen.txt" 2>/dev/null
    echo "--- the serial console (last 20 lines):"; tr -d '\r' <"$work/serial.log" | tail -n 20
    exit 1
}

# Dump the screen (SIGUSR1) and decode it into screen.txt.
snap() {
    rm -f "$work/screen.png"
    kill -USR1 "$bpid" 2>/dev/null || fail "btvm is gone"
    i=0
    while [ ! -s "$work/screen.png" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    "$screen_text" "$work/screen.png" >"$work/screen.txt" 2>&1
}

# wait_for REGEX SECONDS: until the screen shows a line matching REGEX.
wait_for() {
    deadline=$(( $(date +%s) + $2 ))
    while [ "$(date +%s)" -lt "$deadline" ] && [ "$(elapsed)" -lt "$limit" ]; do
        sleep 1
        snap
        grep -q -- "$1" "$work/screen.txt" && return 0
    done
    return 1
}

# The window first: btvm handles SIGUSR1 from then on.
win=
i=0
while [ -z "$win" ] && [ $i -lt 300 ] && kill -0 "$bpid" 2>/dev/null; do
    win=$(xdotool search --name '^btvm' 2>/dev/null | head -n 1)
    [ -n "$win" ] || sleep 0.1
    i=$((i + 1))
done
[ -n "$win" ] || fail "no btvm window on $DISPLAY"
wait_for '^~ #$' 90 || fail "no shell prompt on the VGA screen"
echo "run-display-test: shell prompt on the screen after $(elapsed) s"

# The kernel's text: log lines on the screen that the serial console
# printed too (both are consoles).
tr -d '\r' <"$work/serial.log" >"$work/serial.txt"
n=0
while IFS= read -r line; do
    case "$line" in
    '['*']'*) grep -q -F -x -- "$line" "$work/serial.txt" && n=$((n + 1)) ;;
    esac
done <"$work/screen.txt"
[ "$n" -ge 5 ] || fail "only $n kernel log lines on the screen match the serial console"
echo "run-display-test: $n kernel log lines on the screen match the serial console"

xdotool windowfocus --sync "$win" || fail "cannot focus the btvm window"
xdotool key ctrl+alt+s     # the overlay on: the hot key must not reach the guest
xdotool type --delay 20 'echo btvm$((6*7))ok'
xdotool key Return
wait_for '^btvm42ok$' 30 || fail "the typed command's output did not appear"
grep -q '^~ # echo btvm\$((6\*7))ok$' "$work/screen.txt" ||
    fail "the command line on the screen is not what was typed"
echo "run-display-test: typed command ran after $(elapsed) s"

xdotool key ctrl+alt+s
xdotool type --delay 20 'poweroff -f'
xdotool key Return
i=0
while kill -0 "$bpid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$bpid" 2>/dev/null; then
    fail "btvm did not end after poweroff -f"
fi
wait "$bpid"
status=$?
bpid=
[ "$status" -eq 0 ] || fail "btvm exit status $status, expected 0"
"$screen_text" "$work/screen.png" >"$work/screen.txt" || fail "the screendump at exit does not decode"
grep -q 'poweroff -f' "$work/screen.txt" || fail "the screendump at exit lacks the last command"
echo "run-display-test: PASS after $(elapsed) s"
