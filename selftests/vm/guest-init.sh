#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# PID 1 of the test VM once the host root is mounted: set up the usual
# mounts, run the job the host left in the output directory, record its
# exit status beside its output, and power off.
#
# $1: the output directory (same path as on the host, writable).

out=$1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb

# /tmp stays the overlay's (writable, in RAM): the repository or the output
# directory may live under the host's /tmp, and a tmpfs would hide them.
mount -t tmpfs tmpfs /run
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
ip link set lo up 2>/dev/null
# Another kernel than Debian's (make check-sanitized): its modules where
# modprobe looks, and its image where the tests look for the running
# kernel's, to boot it as a guest.
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	lkvm.moddir=*)
		mkdir -p "/lib/modules/$(uname -r)"
		mount --bind "${arg#lkvm.moddir=}" "/lib/modules/$(uname -r)"
		;;
	lkvm.guest_kernel=*)
		ln -sf "${arg#lkvm.guest_kernel=}" "/boot/vmlinuz-$(uname -r)"
		;;
	esac
done
hostname lkvm-test-vm

echo "LKVM-VM-BOOTED" > /dev/ttyS0
sh "$out/job" > "$out/output.log" 2>&1 < /dev/null
echo $? > "$out/status"
sync
echo "LKVM-VM-DONE" > /dev/ttyS0
echo o > /proc/sysrq-trigger
sleep 30
