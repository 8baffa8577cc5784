#!/bin/sh
# A btvm invocation that must be refused cleanly:
#
#   run-bad-input.sh BTVM [ARGS...]
#
# passes when btvm exits with a status from 1 to 125 (not a crash, not a
# signal, not the timeout), printed exactly one line on stderr and that
# line starts with "btvm: ".
set -u
btvm=$1
shift
err=$(mktemp "${TMPDIR:-/tmp}/btvm-bad.XXXXXX") || exit 1
trap 'rm -f "$err"' EXIT
timeout 20 "$btvm" "$@" </dev/null >/dev/null 2>"$err"
status=$?
echo "btvm $* -> exit status $status, stderr:"
cat "$err"
ok=1
if [ "$status" -eq 0 ] || [ "$status" -gt 125 ]; then
    echo "run-bad-input: expected an error status (1..125), got $status"
    ok=0
fi
lines=$(wc -l <"$err")
if [ "$lines" -ne 1 ]; then
    echo "run-bad-input: expected one line on stderr, got $lines"
    ok=0
fi
if ! head -n 1 "$err" | grep -q '^btvm: '; then
    echo "run-bad-input: the message does not start with 'btvm: '"
    ok=0
fi
[ "$ok" -eq 1 ]
