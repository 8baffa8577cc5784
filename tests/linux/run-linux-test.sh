#!/bin/sh
# Boot Debian's i386 kernel with the test initramfs and judge the run.
#
#   run-linux-test.sh BTVM GUEST_IMAGES_DIR [extra btvm args...]
#
# The images come from guests/linux/build-guest.sh (scripts/install-deps
# --guest builds them).  Missing images are a failure, never a skip: the
# milestone is that this boots.  Passes when
#   - btvm exits with status 0 (the guest's `poweroff -f`),
#   - every check of the test /init (guests/linux/init-test) reported ok
#     and it printed "LINUXTEST PASS",
#   - the kernel log has no Oops, BUG:, WARNING: or Call Trace.
# LINUX_TIMEOUT (seconds, default 1700) bounds the run; LINUX_APPEND adds
# kernel parameters.
set -u
btvm=$1
images=$2
shift 2
timeout=${LINUX_TIMEOUT:-1700}
for f in vmlinuz initrd-test.gz; do
    if [ ! -s "$images/$f" ]; then
        echo "run-linux-test: $images/$f is missing: run guests/linux/build-guest.sh" \
             "(or scripts/install-deps --guest)"
        exit 1
    fi
done
out=$(mktemp "${TMPDIR:-/tmp}/btvm-linux.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT

start=$(date +%s)
timeout "$timeout" "$btvm" -nographic -no-reboot -m 256 -stats \
    -kernel "$images/vmlinuz" -initrd "$images/initrd-test.gz" \
    -append "console=ttyS0 panic=-1${LINUX_APPEND:+ $LINUX_APPEND}" "$@" </dev/null >"$out" 2>&1
status=$?
end=$(date +%s)
tr -d '\r' <"$out"
echo "run-linux-test: exit status $status after $((end - start)) s"

ok=1
if [ "$status" -eq 124 ]; then
    echo "run-linux-test: timed out after ${timeout}s"
    ok=0
elif [ "$status" -ne 0 ]; then
    echo "run-linux-test: exit status $status, expected 0 (poweroff -f)"
    ok=0
fi
for check in uname cpuinfo shell-loop fork-exec pipeline md5-pipe awk-file sleep; do
    if ! grep -q "^LINUXTEST $check ok" "$out"; then
        echo "run-linux-test: check '$check' did not report ok"
        ok=0
    fi
done
if ! grep -q '^LINUXTEST PASS' "$out"; then
    echo "run-linux-test: no 'LINUXTEST PASS' line"
    ok=0
fi
if grep -E -q 'Oops|BUG:|WARNING:|Call Trace|Kernel panic' "$out"; then
    echo "run-linux-test: the kernel log reports a problem:"
    grep -E 'Oops|BUG:|WARNING:|Call Trace|Kernel panic' "$out" | head -n 5
    ok=0
fi
[ "$ok" -eq 1 ]
