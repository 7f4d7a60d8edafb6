#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the test VM's initramfs: static busybox, the modules that reach the
# host root over 9p, and initramfs-init as /init.
#
# usage: mkinitramfs.sh OUTPUT.cpio.gz
# Environment: LKVM_VM_KVER, LKVM_VM_MODDIR and LKVM_VM_MODULES, another
# kernel's release, modules directory and the modules its initramfs loads
# (default: Debian's kernel, /lib/modules/KVER, config.sh's list).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=selftests/vm/config.sh
. "$here/config.sh"

out=${1:?usage: mkinitramfs.sh OUTPUT}
# Another kernel's modules (make check-sanitized): its release and where they are.
kver=${LKVM_VM_KVER:-$(lkvm_vm_kver)}
[ -n "$kver" ] || { echo "mkinitramfs: no Debian kernel in /boot (make deps)" >&2; exit 1; }
moddir=${LKVM_VM_MODDIR:-/lib/modules/$kver}
busybox=$(command -v busybox || true)
# A static binary has no program interpreter. (Read the headers first: a
# grep -q that stops early would make readelf fail under pipefail.)
headers=$([ -n "$busybox" ] && readelf -l "$busybox" 2>/dev/null || echo interpreter)
if grep -q 'interpreter' <<< "$headers"; then
	echo "mkinitramfs: no static busybox (install busybox-static)" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{bin,dev,proc,sys,modules}
cp "$busybox" "$tmp/bin/busybox"
cp "$here/initramfs-init" "$tmp/init"
chmod 755 "$tmp/init"

: > "$tmp/modules/order"
for m in $LKVM_VM_MODULES; do
	f=$(find "$moddir/kernel" -name "$m.ko*" -print -quit)
	[ -n "$f" ] || { echo "mkinitramfs: module $m not found under $moddir" >&2; exit 1; }
	case "$f" in
	*.ko.xz) xz -dc "$f" > "$tmp/modules/$m.ko" ;;
	*.ko.zst) zstd -qdc "$f" > "$tmp/modules/$m.ko" ;;
	*.ko.gz) gzip -dc "$f" > "$tmp/modules/$m.ko" ;;
	*) cp "$f" "$tmp/modules/$m.ko" ;;
	esac
	echo "$m" >> "$tmp/modules/order"
done

(cd "$tmp" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"
