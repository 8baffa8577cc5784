#!/bin/sh
# display/monitor: on a terminal (a pty from script(1)), Ctrl-A C opens the
# monitor; "screendump FILE" writes a PNG that screen_text decodes, "info
# stats" prints the engines' counters, an unknown command is refused, and
# "quit" ends btvm with status 0.
# usage: run-monitor-test.sh BTVM KERNEL SCREEN_TEXT
set -u
btvm=$1 kernel=$2 screen_text=$3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
{
  sleep 1
  printf '\001c'
  sleep 0.5
  printf 'frobnicate\r'
  sleep 0.3
  printf 'screendump %s/m.png\r' "$out"
  sleep 1
  printf 'info stats\r'
  sleep 0.5
  printf 'quit\r'
  sleep 2
} | timeout 40 script -qec "$btvm -nographic -kernel $kernel" /dev/null > "$out/log" 2>&1
rc=$?
tr -d '\r' < "$out/log" > "$out/log.txt"
cat "$out/log.txt"
fail() { echo "display/monitor: $*" >&2; exit 1; }
[ "$rc" -eq 0 ] || fail "btvm ended with status $rc, expected 0 (quit)"
grep -q '^(btvm) ' "$out/log.txt" || fail "no monitor prompt"
grep -q 'unknown command: frobnicate' "$out/log.txt" || fail "an unknown command was not refused"
grep -q "screen written to $out/m.png" "$out/log.txt" || fail "screendump did not report the file"
[ -s "$out/m.png" ] || fail "no PNG written"
"$screen_text" "$out/m.png" > /dev/null || fail "the PNG does not decode"
grep -q 'guest instructions' "$out/log.txt" || fail "info stats printed no counters"
grep -q 'quit from the monitor' "$out/log.txt" || fail "quit did not end btvm"
echo "display/monitor: ok"
