#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the initramfs of the Linux guests boot_test.c boots: static busybox
# and guest-init as /init.
#
# usage: mkguest.sh OUTPUT.cpio.gz
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: mkguest.sh OUTPUT}
busybox=$(command -v busybox || true)
headers=$([ -n "$busybox" ] && readelf -l "$busybox" 2>/dev/null || echo interpreter)
if grep -q 'interpreter' <<< "$headers"; then
	echo "mkguest: no static busybox (install busybox-static)" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{bin,dev,proc,sys}
cp "$busybox" "$tmp/bin/busybox"
cp "$here/guest-init" "$tmp/init"
chmod 755 "$tmp/init"
(cd "$tmp" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -9n > "$out.tmp"
mv "$out.tmp" "$out"
