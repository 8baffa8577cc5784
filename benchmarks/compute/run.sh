#!/usr/bin/env bash
# The compute benchmark of issue 4: benchmarks/compute/sieve64.c (a sieve of
# Eratosthenes to 3 * 64 Mi over three 64 MiB arrays) run natively on the
# host (x86-64, gcc -O2) and as a 32-bit Multiboot guest with paging on
# (4 KiB pages) under btvm -accel bt, btvm -accel interp and
# qemu-system-i386 -accel tcg, N times each, in the same run.  Every run's
# checksum line must match the native one.  Prints a Markdown table: the
# median wall time, the spread, and the ratios to native and to QEMU.
#
# The guest is built twice (see SIEVE_PTE_FLAGS in sieve64.c):
#   sieve64.elf             page-table entries with accessed and dirty preset
#                           (0x63), as Linux maps the memory its kernel owns;
#                           every engine runs this one and the goals (at most
#                           1.5x native, QEMU TCG at least 5x slower) are
#                           stated for it;
#   sieve64-fresh-ptes.elf  entries with A and D clear (0x3): the CPU sets them
#                           on each page's first touch.  Only btvm -accel bt
#                           runs it: under its shadow paging every page's
#                           first write is a host fault (D must be set exactly
#                           then), 49,152 pages here; real hardware and QEMU's
#                           software TLB hardly notice.  Its row and ratios
#                           are printed too.
#
# usage: benchmarks/compute/run.sh [-n RUNS (default 3)] [-no-interp] [-interp-runs N] [-bt-runs N]
#                                  [-fresh-ptes-runs N] [-timeout S]
#   -no-interp          skip btvm -accel interp (it takes about a minute a run)
#   -interp-runs N      runs of the interpreter (default: RUNS)
#   -bt-runs N          runs of the translator (default: RUNS)
#   -fresh-ptes-runs N  runs of the translator on the guest whose PTEs have
#                       A/D clear (default: RUNS; 0 skips it)
#   -timeout S          give up on a run after S seconds (default 600); the
#                       table then says "> S" for that engine
# The -*-runs counts are capped at RUNS (one run of each engine per round).
# BTVM=path/to/btvm picks another build of btvm (default build/btvm).
# Needs build/btvm (cmake -S . -B build && cmake --build build), gcc with
# -m32 support, nasm and ld; qemu-system-i386 is optional.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

runs=3
interp=1
interp_runs=
bt_runs=
fresh_runs=
timeout_s=600
usage() {
  echo "usage: $0 [-n RUNS] [-no-interp] [-interp-runs N] [-bt-runs N] [-fresh-ptes-runs N] [-timeout S]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    -n) runs=$2; shift 2 ;;
    -no-interp) interp=0; shift ;;
    -interp-runs) interp_runs=$2; shift 2 ;;
    -bt-runs) bt_runs=$2; shift 2 ;;
    -fresh-ptes-runs) fresh_runs=$2; shift 2 ;;
    -timeout) timeout_s=$2; shift 2 ;;
    *) usage ;;
  esac
done
interp_runs=${interp_runs:-$runs}
bt_runs=${bt_runs:-$runs}
fresh_runs=${fresh_runs:-$runs}
btvm=${BTVM:-build/btvm}
[ -x "$btvm" ] || { echo "build btvm first: cmake -S . -B build && cmake --build build" >&2; exit 1; }
mem=512

# --- build -------------------------------------------------------------------
out=build/benchmarks/compute
mkdir -p "$out"
lib=tests/guest/lib
echo "building $out/sieve64-native, $out/sieve64.elf and $out/sieve64-fresh-ptes.elf" >&2
gcc -O2 -Wall -Wextra -o "$out/sieve64-native" "$here/sieve64.c"
gflags=(-m32 -march=i686 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -nostdlib -O2
        -fno-builtin -fno-tree-loop-distribute-patterns -fno-asynchronous-unwind-tables
        -fcf-protection=none -Wall -Wextra -I"$lib")
nasm -f elf32 -I"$lib/" -o "$out/start.o" "$lib/start.asm"
gcc "${gflags[@]}" -c "$lib/guest.c" -o "$out/guest.o"
libgcc=$(gcc -m32 -print-libgcc-file-name)
# guest NAME [CFLAGS...]: build $out/NAME.elf from sieve64.c.
guest() {
  local name=$1; shift
  gcc "${gflags[@]}" -DSIEVE_GUEST "$@" -c "$here/sieve64.c" -o "$out/$name.o"
  ld -m elf_i386 -nostdlib --build-id=none -z max-page-size=0x1000 -z noexecstack \
     --no-warn-rwx-segments -T "$lib/link.ld" -o "$out/$name.elf" \
     "$out/start.o" "$out/guest.o" "$out/$name.o" "$libgcc"
}
guest sieve64                                     # PTEs 0x63: A/D preset (the default)
guest sieve64-fresh-ptes -DSIEVE_PTE_FLAGS=0x3    # PTEs 0x3: A/D clear
kernel=$out/sieve64.elf
fresh_kernel=$out/sieve64-fresh-ptes.elf

# --- run ---------------------------------------------------------------------
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
spread() { sort -g | awk 'NR==1{min=$1} {max=$1} END {printf "%.3f-%.3f", min, max}'; }

want=
declare -A secs ips timedout
# run_one NAME COMMAND...: time one run, check its checksum line, record the time.
run_one() {
  local name=$1; shift
  local t0 t1 o line
  t0=$(now)
  local rc=0
  o=$(timeout -s INT "$timeout_s" "$@" 2>&1 </dev/null) || rc=$?
  t1=$(now)
  if [ "$rc" = 124 ]; then
    echo "  $name: no result after $timeout_s s (timed out); its statistics:" >&2
    grep -E 'guest instructions|instructions/s' <<<"$o" | sed 's/^/    /' >&2 || true
    timedout[$name]=1
    return 0
  fi
  line=$(grep -m1 '^sieve64: limit=' <<<"$o" | tr -d '\r' || true)
  if [ -z "$want" ]; then want=$line; fi
  if [ -z "$line" ] || [ "$line" != "$want" ]; then
    echo "$name: checksum line differs from native's or is missing" >&2
    echo "  native: $want" >&2
    echo "--- output:" >&2; echo "$o" >&2
    exit 1
  fi
  if [ "$name" != native ] && ! grep -q '^PASS' <<<"$o"; then
    echo "$name: the guest did not finish with PASS:" >&2; echo "$o" >&2; exit 1
  fi
  secs[$name]+="$(echo "$t1 - $t0" | bc -l) "
  local i
  i=$(awk '/instructions\/s/ {print $2}' <<<"$o")
  [ -n "$i" ] && ips[$name]+="$i "
  echo "  $name: $(echo "$t1 - $t0" | bc -l | awk '{printf "%.3f", $1}') s" >&2
}

engines=(native bt)
[ "$fresh_runs" -gt 0 ] && engines+=(bt-fresh)
[ "$interp" = 1 ] && engines+=(interp)
have_qemu=0
if command -v qemu-system-i386 >/dev/null; then have_qemu=1; engines+=(qemu); fi

for i in $(seq "$runs"); do
  echo "round $i/$runs" >&2
  run_one native "$out/sieve64-native"
  [ "$i" -le "$bt_runs" ] && run_one bt "$btvm" -nographic -no-reboot -stats -m "$mem" -accel bt -kernel "$kernel"
  [ "$i" -le "$fresh_runs" ] && run_one bt-fresh "$btvm" -nographic -no-reboot -stats -m "$mem" -accel bt -kernel "$fresh_kernel"
  if [ "$interp" = 1 ] && [ "$i" -le "$interp_runs" ]; then
    run_one interp "$btvm" -nographic -no-reboot -stats -m "$mem" -accel interp -kernel "$kernel"
  fi
  if [ "$have_qemu" = 1 ]; then
    run_one qemu qemu-system-i386 -accel tcg -m "$mem" -nographic -no-reboot -kernel "$kernel" \
      -device isa-debug-exit,iobase=0xf4,iosize=1
  fi
done

# --- report ------------------------------------------------------------------
med() { tr ' ' '\n' <<<"${secs[$1]}" | grep . | median; }
nat=$(med native)
q=; [ "$have_qemu" = 1 ] && q=$(med qemu)
label() {
  case $1 in
    native) echo "native x86-64 (gcc -O2)" ;;
    bt) echo "btvm -accel bt, PTEs with A/D set" ;;
    bt-fresh) echo "btvm -accel bt, PTEs with A/D clear" ;;
    interp) echo "btvm -accel interp" ;;
    qemu) echo "qemu-system-i386 -accel tcg" ;;
  esac
}
echo
echo "Result: \`$want\`"
echo
echo "| engine | runs | wall time, median (s) | spread (s) | / native | QEMU TCG / this | guest instructions/s (median) |"
echo "|---|---|---|---|---|---|---|"
for e in "${engines[@]}"; do
  if [ -z "${secs[$e]:-}" ]; then
    [ -n "${timedout[$e]:-}" ] && printf '| %s | 0 | > %s (timed out) | — | — | — | — |\n' "$(label "$e")" "$timeout_s"
    continue
  fi
  m=$(med "$e")
  n=$(tr ' ' '\n' <<<"${secs[$e]}" | grep -c .)
  sp=$(tr ' ' '\n' <<<"${secs[$e]}" | grep . | spread)
  rn=$(echo "$m / $nat" | bc -l | awk '{printf "%.2fx", $1}')
  rq="—"; [ -n "$q" ] && rq=$(echo "$q / $m" | bc -l | awk '{printf "%.2fx", $1}')
  ip="—"
  if [ -n "${ips[$e]:-}" ]; then
    ip=$(tr ' ' '\n' <<<"${ips[$e]}" | grep . | median | awk '{printf "%.0f M", $1 / 1e6}')
  fi
  printf '| %s | %s | %.3f | %s | %s | %s | %s |\n' "$(label "$e")" "$n" "$m" "$sp" "$rn" "$rq" "$ip"
done
echo
# ratios ENGINE: "X.XXx native, QEMU TCG is Y.YYx slower than it"
ratios() {
  local m
  m=$(med "$1")
  printf '%.2fx native' "$(echo "$m / $nat" | bc -l)"
  if [ -n "$q" ]; then
    printf ', QEMU TCG is %.2fx slower than it' "$(echo "$q / $m" | bc -l)"
  else
    printf ', QEMU TCG not run'
  fi
}
if [ -n "${secs[bt]:-}" ]; then
  echo "btvm -accel bt, PTEs with A/D set: $(ratios bt) (goals: at most 1.5x native, QEMU TCG at least 5x slower)"
elif [ "$bt_runs" -gt 0 ]; then
  echo "btvm -accel bt, PTEs with A/D set: no run finished within $timeout_s s"
fi
if [ -n "${secs[bt-fresh]:-}" ]; then
  echo "btvm -accel bt, PTEs with A/D clear: $(ratios bt-fresh) (the goals are for the default guest; this one adds a host fault per page's first write)"
elif [ "$fresh_runs" -gt 0 ]; then
  echo "btvm -accel bt, PTEs with A/D clear: no run finished within $timeout_s s"
fi
