#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages that building and testing lkvm-lite need.
# Does nothing when all are present; otherwise needs root and apt-get.
# usage: install-deps.sh [--sanitized]   (--sanitized: what make check-sanitized needs too)
set -euo pipefail

packages=(
	# the module, the launcher and the selftests
	gcc make libc6-dev binutils kmod perl
	linux-headers-amd64
	# the module's BTF (pahole), and the eBPF tracing tool
	dwarves clang llvm libbpf-dev bpftool
	# kselftest harness headers and checkpatch.pl are extracted from here
	linux-source-6.1 xz-utils
	# the test VM: QEMU, the kernel it runs, its initramfs
	qemu-system-x86 linux-image-amd64 busybox-static cpio gzip
	# used by the tests inside the test VM
	iproute2 procps linux-perf trace-cmd
	# the network benchmark: traffic, and reading iperf3's JSON
	iperf3 jq
)

# make check-sanitized also builds a kernel.
if [ "${1:-}" = --sanitized ]; then
	packages+=(flex bison bc libelf-dev libssl-dev)
fi

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages and not root; as root run: apt-get install ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
