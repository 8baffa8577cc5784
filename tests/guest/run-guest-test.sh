#!/bin/sh
# Run one guest test program and judge it.
#
#   run-guest-test.sh BTVM EXPECTED_STATUS [ARGS...]
#
# Runs "BTVM -nographic -no-reboot ARGS..." under a 60-second timeout with
# stdin from /dev/null, shows everything it printed, and passes when
#   - the exit status is EXPECTED_STATUS (1 for a guest that wrote 0 to
#     the debug-exit port 0xf4: status = (value << 1) | 1), and
#   - the serial output has a line "PASS" and no "FAIL" anywhere.
#
# With GUEST_VM=qemu the same program runs under qemu-system-i386 instead
# (with an isa-debug-exit device at 0xf4), to check the test itself
# against another implementation: GUEST_VM=qemu ctest -R guest/
set -u
btvm=$1
expect=$2
shift 2
timeout=${GUEST_TIMEOUT:-60}
out=$(mktemp "${TMPDIR:-/tmp}/btvm-guest.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT

if [ "${GUEST_VM:-btvm}" = qemu ]; then
    # btvm's engine choice means nothing to QEMU: drop "-accel ENGINE".
    for a in "$@"; do
        shift
        if [ "${skip:-0}" = 1 ]; then skip=0; continue; fi
        if [ "$a" = -accel ]; then skip=1; continue; fi
        set -- "$@" "$a"
    done
    timeout "$timeout" qemu-system-i386 -nographic -no-reboot -monitor none \
        -device isa-debug-exit,iobase=0xf4,iosize=1 "$@" </dev/null >"$out" 2>&1
else
    timeout "$timeout" "$btvm" -nographic -no-reboot "$@" </dev/null >"$out" 2>&1
fi
status=$?
tr -d '\r' <"$out"

ok=1
if [ "$status" -eq 124 ]; then
    echo "run-guest-test: timed out after ${timeout}s"
    ok=0
elif [ "$status" -ne "$expect" ]; then
    echo "run-guest-test: exit status $status, expected $expect"
    ok=0
fi
if ! tr -d '\r' <"$out" | grep -qx 'PASS'; then
    echo "run-guest-test: no PASS line in the output"
    ok=0
fi
if grep -q 'FAIL' "$out"; then
    echo "run-guest-test: the output reports a failure"
    ok=0
fi
[ "$ok" -eq 1 ]
