#!/usr/bin/env bash
# A bootable 1.44 MB floppy image for Bochs holding a Multiboot kernel:
# benchmarks/bochs/loader.asm in the boot sector, the kernel's flat image
# (loaded at 1 MiB) after it.
#
#   benchmarks/bochs/mkfloppy.sh KERNEL.elf "COMMAND LINE" OUT.img
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 3 ] || { echo "usage: $0 KERNEL.elf CMDLINE OUT.img" >&2; exit 2; }
elf=$1 cmdline=$2 img=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/btvm-floppy.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
objcopy -O binary "$elf" "$tmp/kernel.bin"
sym() { nm "$elf" | awk -v s="$1" '$3 == s { print "0x" $1 }'; }
start=$(sym _start) end=$(sym _end)
lowest=$(readelf -lW "$elf" | awk '$1 == "LOAD" { print $3; exit }')
[ "$((lowest))" -eq $((0x100000)) ] || { echo "mkfloppy: $elf does not load at 1 MiB" >&2; exit 1; }
nasm -f bin -DKSIZE="$(stat -c %s "$tmp/kernel.bin")" -DBSS_END="$end" -DENTRY="$start" \
     -DCMDLINE="\"$cmdline\"" -o "$tmp/boot.bin" "$here/loader.asm"
cat "$tmp/boot.bin" "$tmp/kernel.bin" >"$tmp/floppy.img"
truncate -s 1474560 "$tmp/floppy.img"
mv "$tmp/floppy.img" "$img"
