#!/usr/bin/env bash
# Interpreter speed on a loop-heavy guest: the sieve/CRC/fib Multiboot
# kernel of tests/guest (sieve.c), run N times under btvm -accel interp,
# with QEMU TCG on the same kernel in the same run as the peer.
# Prints a Markdown table: medians over the runs, and the spread.
#
# usage: benchmarks/interp-speed.sh [runs (default 5)] [scale (default 3)]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
scale=${2:-3}
kernel=build/tests/guest/sieve.elf
[ -x build/btvm ] && [ -f "$kernel" ] || { echo "build first: cmake -S . -B build && cmake --build build" >&2; exit 1; }

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
spread() { sort -g | awk 'NR==1{min=$1} {max=$1} END {printf "%s-%s", min, max}'; }

now() { date +%s.%N; }
btvm_secs=(); btvm_ips=(); qemu_secs=()
for i in $(seq "$runs"); do
  echo "run $i/$runs: btvm" >&2
  t0=$(now)
  out=$(build/btvm -nographic -no-reboot -stats -accel interp -kernel "$kernel" -append "scale=$scale" 2>&1 || true)
  t1=$(now)
  grep -q '^PASS' <<<"$out" || { echo "btvm run failed:" >&2; echo "$out" >&2; exit 1; }
  btvm_secs+=("$(echo "$t1 - $t0" | bc -l)")
  btvm_ips+=("$(awk '/instructions\/s/ {print $2}' <<<"$out")")
  insns=$(awk '/guest instructions/ {print $3}' <<<"$out")
  if command -v qemu-system-i386 >/dev/null; then
    echo "run $i/$runs: qemu tcg" >&2
    t0=$(now)
    qout=$(qemu-system-i386 -accel tcg -m 256 -nographic -no-reboot -kernel "$kernel" -append "scale=$scale" \
      -device isa-debug-exit,iobase=0xf4,iosize=1 2>&1 || true)
    t1=$(now)
    grep -q '^PASS' <<<"$qout" || { echo "qemu run failed:" >&2; echo "$qout" >&2; exit 1; }
    qemu_secs+=("$(echo "$t1 - $t0" | bc -l)")
  fi
done

b_med=$(printf '%s\n' "${btvm_secs[@]}" | median)
ips_med=$(printf '%s\n' "${btvm_ips[@]}" | median)
echo
echo "| engine | wall time, median of $runs (s) | spread (s) | guest instructions/s (median) |"
echo "|---|---|---|---|"
printf '| btvm -accel interp | %.3f | %s | %.1f M |\n' "$b_med" \
  "$(printf '%s\n' "${btvm_secs[@]}" | spread | awk -F- '{printf "%.3f-%.3f", $1, $2}')" \
  "$(echo "$ips_med / 1000000" | bc -l)"
if [ ${#qemu_secs[@]} -gt 0 ]; then
  q_med=$(printf '%s\n' "${qemu_secs[@]}" | median)
  printf '| qemu-system-i386 -accel tcg | %.3f | %s | — |\n' "$q_med" \
    "$(printf '%s\n' "${qemu_secs[@]}" | spread | awk -F- '{printf "%.3f-%.3f", $1, $2}')"
  echo
  printf 'btvm interp / QEMU TCG wall time: %.2fx (guest: %s instructions per run, scale=%s)\n' \
    "$(echo "$b_med / $q_med" | bc -l)" "$insns" "$scale"
fi
