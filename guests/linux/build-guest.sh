#!/usr/bin/env bash
# Builds the Debian Linux guest btvm boots: Debian 12's i386 kernel
# (linux-image-686, non-PAE) and initramfs images made from Debian's
# busybox-static:i386.
#
#   guests/linux/build-guest.sh [OUTDIR]      (default: guest-images/ at the top)
#   guests/linux/build-guest.sh --initrd FILE INIT [EXTRA_DIR] [OUTDIR]
#
# The second form builds only one more initramfs, FILE (gzip'd cpio), from
# the same busybox with INIT as /init and EXTRA_DIR's contents copied over
# its root (benchmarks/build.sh makes the benchmark initramfs this way); it
# uses (and fetches if missing) the packages in OUTDIR/debs like the first.
#
# Writes, in OUTDIR:
#   vmlinuz          the kernel's bzImage, from the package's /boot/vmlinuz-*
#   initrd.gz        interactive initramfs: /init mounts /proc, /sys, /dev and
#                    starts a busybox shell on the console
#   initrd-test.gz   the same, with an /init that runs the integration test
#                    (tests/linux/) and powers off
#   debs/            the downloaded packages (the cache: delete to refetch)
#
# Packages come from the host's apt sources through `apt-get download`; the
# i386 architecture is added to dpkg first when missing (which needs root
# or sudo: scripts/install-deps --guest does the same).  Nothing is
# installed on the host.  Exits non-zero with a reason when anything
# cannot be fetched, so the tests that need the images fail, never skip.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
extra_file= extra_init= extra_dir=
if [ "${1:-}" = --initrd ]; then
  [ $# -ge 3 ] || { echo "usage: $0 --initrd FILE INIT [EXTRA_DIR] [OUTDIR]" >&2; exit 2; }
  extra_file=$2 extra_init=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
  shift 3
  if [ $# -ge 1 ]; then extra_dir=$(cd "$1" && pwd); shift; fi
  mkdir -p "$(dirname "$extra_file")"
  extra_file=$(cd "$(dirname "$extra_file")" && pwd)/$(basename "$extra_file")
fi
out=${1:-$top/guest-images}
mkdir -p "$out/debs"
out=$(cd "$out" && pwd)

die() { echo "build-guest: $*" >&2; exit 1; }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

for tool in apt-get dpkg-deb cpio gzip; do
  command -v "$tool" >/dev/null || die "$tool is missing (Debian host needed)"
done

# 1. The packages.  linux-image-686 is a metapackage naming the current
#    kernel ABI package (linux-image-6.1.0-N-686); resolve it, then fetch.
fetch() {
  if ! dpkg --print-foreign-architectures | grep -qx i386; then
    echo "build-guest: adding the i386 dpkg architecture"
    $SUDO dpkg --add-architecture i386
    $SUDO apt-get update -q
  fi
  local kpkg
  kpkg=$(apt-cache depends linux-image-686:i386 2>/dev/null |
         awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
  if [ -z "$kpkg" ]; then
    $SUDO apt-get update -q
    kpkg=$(apt-cache depends linux-image-686:i386 2>/dev/null |
           awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
  fi
  [ -n "$kpkg" ] || die "cannot resolve linux-image-686:i386 (apt sources without bookworm i386?)"
  case "$kpkg" in *:i386) ;; *) kpkg="$kpkg:i386" ;; esac
  # apt-get download writes to the current directory; as root its
  # sandbox user _apt must be able to write there too.
  chmod 0777 "$out/debs" 2>/dev/null || true
  (cd "$out/debs" && apt-get download -q "$kpkg" busybox-static:i386) ||
    die "apt-get download of $kpkg busybox-static:i386 failed (network?)"
}

kdeb=$(ls "$out"/debs/linux-image-*_i386.deb 2>/dev/null | head -n 1 || true)
bdeb=$(ls "$out"/debs/busybox-static_*_i386.deb 2>/dev/null | head -n 1 || true)
if [ -z "$kdeb" ] || [ -z "$bdeb" ]; then
  fetch
  kdeb=$(ls "$out"/debs/linux-image-*_i386.deb | head -n 1)
  bdeb=$(ls "$out"/debs/busybox-static_*_i386.deb | head -n 1)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/btvm-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 2. The kernel.
if [ -z "$extra_file" ] && [ ! -s "$out/vmlinuz" ] || [ "$kdeb" -nt "$out/vmlinuz" ]; then
  mkdir "$work/k"
  dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$work/k" --wildcards './boot/vmlinuz-*'
  cp "$work/k"/boot/vmlinuz-* "$out/vmlinuz.tmp"
  mv "$out/vmlinuz.tmp" "$out/vmlinuz"
fi

# 3. The initramfs images: busybox, the applet links, an /init.
mkdir "$work/bb"
dpkg-deb -x "$bdeb" "$work/bb"
[ -x "$work/bb/bin/busybox" ] || die "$bdeb has no /bin/busybox"

# make_initrd NAME INIT_SCRIPT [EXTRA_DIR [OUTFILE]]
make_initrd() {
  local name=$1 init=$2 extra=${3:-} dest=${4:-$out/$1} root="$work/root-$1"
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc}
  cp "$work/bb/bin/busybox" "$root/bin/busybox"
  # The applet links are made by /init at boot (busybox --install), so the
  # list always matches the binary; sh is needed before that.
  ln -s busybox "$root/bin/sh"
  cp "$init" "$root/init"
  chmod 0755 "$root/init"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
  [ -z "$extra" ] || cp -a "$extra/." "$root/"
  (cd "$root" && find . -print0 | LC_ALL=C sort -z |
     cpio --null -o -H newc --owner=0:0 --quiet) | gzip -9n >"$dest.tmp"
  mv "$dest.tmp" "$dest"
}

if [ -n "$extra_file" ]; then
  make_initrd "$(basename "$extra_file")" "$extra_init" "$extra_dir" "$extra_file"
  echo "build-guest: $extra_file ($(stat -c %s "$extra_file") bytes)"
  exit 0
fi

make_initrd initrd.gz "$here/init"
make_initrd initrd-test.gz "$here/init-test"

echo "build-guest: $out/vmlinuz ($(stat -c %s "$out/vmlinuz") bytes)," \
     "initrd.gz ($(stat -c %s "$out/initrd.gz")), initrd-test.gz ($(stat -c %s "$out/initrd-test.gz"))"
