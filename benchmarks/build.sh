#!/usr/bin/env bash
# Builds what benchmarks/run and the smoke test (tests/bench) run:
#
#   benchmarks/build.sh OUTDIR [--no-linux]
#
#   OUTDIR/nano.elf          the nanobenchmark kernel (benchmarks/nano/nano.c
#                            with the tests/guest/lib runtime, Multiboot ELF)
#   OUTDIR/bench-native      benchmarks/linux/bench.c for the host (x86-64)
#   OUTDIR/bench32           the same source, gcc -m32 -static (the guest's)
#   OUTDIR/initrd-bench.gz   busybox + /bench + benchmarks/linux/init-bench,
#                            made by guests/linux/build-guest.sh --initrd from
#                            the packages in guest-images/debs (fetched if
#                            missing); skipped with --no-linux
#
# Needs gcc with -m32 (gcc-multilib), nasm and ld: what scripts/install-deps
# installs.  Exits non-zero with a reason when something cannot be built.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [--no-linux]" >&2; exit 2; }
out=$1
linux=1
[ "${2:-}" = --no-linux ] && linux=0
mkdir -p "$out"
out=$(cd "$out" && pwd)
lib=$root/tests/guest/lib

# --- the nanobenchmark kernel (flags as tests/guest/CMakeLists.txt) ---------
gflags=(-m32 -march=i686 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -nostdlib -O2
        -fno-builtin -fno-tree-loop-distribute-patterns -fno-asynchronous-unwind-tables
        -fcf-protection=none -Wall -Wextra -Werror -I"$lib")
nasm -f elf32 -I"$lib/" -o "$out/nano_start.o" "$lib/start.asm"
gcc "${gflags[@]}" -c "$lib/guest.c" -o "$out/nano_guest.o"
gcc "${gflags[@]}" -c "$here/nano/nano.c" -o "$out/nano.o"
ld -m elf_i386 -nostdlib --build-id=none -z max-page-size=0x1000 -z noexecstack \
   --no-warn-rwx-segments -T "$lib/link.ld" -o "$out/nano.elf" \
   "$out/nano_start.o" "$out/nano_guest.o" "$out/nano.o" "$(gcc -m32 -print-libgcc-file-name)"

# --- the Linux workload program, native and 32-bit static --------------------
gcc -O2 -Wall -Wextra -Werror -o "$out/bench-native" "$here/linux/bench.c"
gcc -m32 -static -O2 -Wall -Wextra -Werror -o "$out/bench32" "$here/linux/bench.c"

# --- the benchmark initramfs ---------------------------------------------------
if [ "$linux" = 1 ]; then
  rm -rf "$out/initrd-extra"
  mkdir -p "$out/initrd-extra"
  cp "$out/bench32" "$out/initrd-extra/bench"
  if [ ! -s "$out/initrd-bench.gz" ] || [ "$out/bench32" -nt "$out/initrd-bench.gz" ] ||
     [ "$here/linux/init-bench" -nt "$out/initrd-bench.gz" ]; then
    "$root/guests/linux/build-guest.sh" --initrd "$out/initrd-bench.gz" "$here/linux/init-bench" \
      "$out/initrd-extra" "$root/guest-images" >&2
  fi
fi
echo "benchmarks/build.sh: built in $out" >&2
