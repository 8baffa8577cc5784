#!/usr/bin/env bash
# Time to /init of the Debian Linux guest: btvm against QEMU TCG.
#
#   benchmarks/linux-boot.sh [RUNS] [-- extra kernel parameters]
#
# Boots guest-images/vmlinuz with the test initramfs (the same run as the
# linux/boot ctest) RUNS times (default 3) under build/btvm (-accel interp,
# and -accel bt when BTVM_ACCELS says so, e.g. BTVM_ACCELS="interp bt") and
# under qemu-system-i386 -accel tcg, and prints for each the median wall
# time to the kernel's "Run /init as init process" line and to the end of
# the run (the guest's poweroff), plus btvm's guest instruction count.
# Not a test: the numbers depend on the host and its load (check uptime).
# Needs the guest images (guests/linux/build-guest.sh) and build/btvm.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
shift || true
[ "${1:-}" = "--" ] && shift
extra="$*"
btvm=${BTVM:-build/btvm}
accels=${BTVM_ACCELS:-interp}
kernel=guest-images/vmlinuz
initrd=guest-images/initrd-test.gz
append="console=ttyS0 $extra"
for f in "$btvm" "$kernel" "$initrd"; do
  [ -e "$f" ] || { echo "linux-boot: $f is missing (build btvm; guests/linux/build-guest.sh)" >&2; exit 1; }
done

# one_run CMD... : prints "T_INIT T_END INSNS" (seconds; insns or -)
one_run() {
  local log t0 t_init=- t_end
  log=$(mktemp)
  t0=$(date +%s.%N)
  while IFS= read -r line; do
    printf '%s\n' "$line" >>"$log"
    if [ "$t_init" = - ] && [[ "$line" == *"Run /init as init process"* ]]; then
      t_init=$(echo "$(date +%s.%N) - $t0" | bc)
    fi
  done < <(timeout 1800 "$@" </dev/null 2>&1)
  t_end=$(echo "$(date +%s.%N) - $t0" | bc)
  local insns
  insns=$(awk '/guest instructions/ { print $3 }' "$log")
  grep -q '^LINUXTEST PASS' "$log" || echo "linux-boot: warning: a run did not pass (log: $log)" >&2
  grep -q '^LINUXTEST PASS' "$log" && rm -f "$log"
  echo "$t_init $t_end ${insns:--}"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

report() { # NAME then RUNS lines of "t_init t_end insns" on stdin
  local name=$1 data
  data=$(cat)
  printf '%-22s time to /init %7.1f s   to poweroff %7.1f s   guest insns %s\n' "$name" \
    "$(cut -d' ' -f1 <<<"$data" | median)" "$(cut -d' ' -f2 <<<"$data" | median)" \
    "$(cut -d' ' -f3 <<<"$data" | median)"
}

echo "Linux boot, median of $runs runs; append=\"$append\"; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for accel in $accels; do
  for i in $(seq "$runs"); do
    one_run "$btvm" -accel "$accel" -nographic -no-reboot -stats -m 256 -kernel "$kernel" \
            -initrd "$initrd" -append "$append"
  done | report "btvm -accel $accel"
done
if command -v qemu-system-i386 >/dev/null; then
  for i in $(seq "$runs"); do
    one_run qemu-system-i386 -accel tcg -nographic -no-reboot -m 256 -kernel "$kernel" \
            -initrd "$initrd" -append "$append"
  done | report "qemu-system-i386 tcg"
else
  echo "qemu-system-i386 not installed (apt-get install qemu-system-x86): no reference"
fi
