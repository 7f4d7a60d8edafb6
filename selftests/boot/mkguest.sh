#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the initramfs of the Linux guests the selftests and benchmarks boot:
# static busybox, guest-init (or --init's file) as /init, and the modules
# a stock Debian guest needs for a virtio-net NIC, in /lib/modules/net/
# with the order to load them in /lib/modules/net/order.
#
# usage: mkguest.sh [--kver VERSION] [--init FILE] [--bin PROGRAM]... OUTPUT.cpio.gz
#   --kver  the guest kernel's module version (default: the test VM's kernel)
#   --init  the guest's /init (default: guest-init beside this script)
#   --bin   add a dynamically linked program with the libraries it needs
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kver=$(. "$here/../vm/config.sh" && lkvm_vm_kver)
init=$here/guest-init
bins=()
while [ $# -gt 1 ]; do
	case "$1" in
	--kver) kver=$2; shift 2 ;;
	--init) init=$2; shift 2 ;;
	--bin) bins+=("$2"); shift 2 ;;
	*) echo "mkguest: unknown option $1" >&2; exit 2 ;;
	esac
done
out=${1:?usage: mkguest.sh [--kver VERSION] [--init FILE] [--bin PROGRAM]... OUTPUT}
busybox=$(command -v busybox || true)
headers=$([ -n "$busybox" ] && readelf -l "$busybox" 2>/dev/null || echo interpreter)
if grep -q 'interpreter' <<< "$headers"; then
	echo "mkguest: no static busybox (install busybox-static)" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{bin,dev,proc,sys,tmp,lib/modules/net}
cp "$busybox" "$tmp/bin/busybox"
cp "$init" "$tmp/init"
chmod 755 "$tmp/init"

# virtio_net and what it depends on, in load order.
moddir=/lib/modules/$kver/kernel
mods="drivers/virtio/virtio_ring.ko drivers/virtio/virtio.ko
      drivers/virtio/virtio_pci_modern_dev.ko drivers/virtio/virtio_pci_legacy_dev.ko
      drivers/virtio/virtio_pci.ko net/core/failover.ko drivers/net/net_failover.ko
      drivers/net/virtio_net.ko"
for m in $mods; do
	if [ ! -f "$moddir/$m" ]; then
		echo "mkguest: $moddir/$m not found (linux-image-$kver)" >&2
		exit 1
	fi
	cp "$moddir/$m" "$tmp/lib/modules/net/"
	basename "$m" >> "$tmp/lib/modules/net/order"
done

for b in "${bins[@]}"; do
	path=$(command -v "$b" || true)
	if [ -z "$path" ]; then
		echo "mkguest: --bin $b: not found" >&2
		exit 1
	fi
	cp "$path" "$tmp/bin/"
	# The loader and every library, at the paths the program looks for them.
	for lib in $(ldd "$path" | grep -o '/[^ ]*'); do
		mkdir -p "$tmp$(dirname "$lib")"
		cp -L "$lib" "$tmp$lib"
	done
done

(cd "$tmp" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -9n > "$out.tmp"
mv "$out.tmp" "$out"
