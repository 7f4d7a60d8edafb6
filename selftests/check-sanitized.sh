#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check-sanitized: make check on the sanitized kernel. Builds it once
# (selftests/vm/build-debug-kernel.sh, cached outside the repository),
# builds the module against it into build/kernel-KVER/, makes the test
# VM's initramfs for it, then runs selftests/check.sh with the test VMs
# booting it. run-in-vm.sh fails the run on any KASAN, UBSAN, lockdep,
# "BUG:" or "WARNING:" line in the kernel log and on any leak kmemleak
# reports after the tests.
#
# usage: check-sanitized.sh [PROGRAM...]   (default: every selftest program but boot_test and net_test)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
start=$(date +%s)

dir=$("$here/vm/build-debug-kernel.sh" | tail -n 1)
kver=$(cat "$dir/kver")
out=$repo/build/kernel-$kver
echo "check-sanitized: kernel $kver from $dir"

# The module's sources, built out of the tree so that kernel/ keeps the
# module for Debian's kernel.
rm -rf "$out/src"
mkdir -p "$out/src/kernel" "$out/src/uapi/linux"
cp "$repo"/kernel/{Kbuild,*.c,*.h,*.S} "$out/src/kernel/"
cp "$repo"/uapi/linux/*.h "$out/src/uapi/linux/"
if ! make -C "$dir/build" M="$out/src/kernel" W=1 modules > "$out/module.log" 2>&1; then
	cat "$out/module.log"
	echo "check-sanitized: the module does not build against $kver" >&2
	exit 1
fi
if grep -E 'warning:|error:' "$out/module.log"; then
	echo "check-sanitized: the module build has warnings" >&2
	exit 1
fi
cp "$out/src/kernel/lkvm_lite.ko" "$out/lkvm_lite.ko"

moddir=$dir/modules/lib/modules/$kver
# It has what the initramfs needs built in.
LKVM_VM_KVER=$kver LKVM_VM_MODDIR=$moddir LKVM_VM_MODULES="" \
	"$here/vm/mkinitramfs.sh" "$out/initramfs.cpio.gz"

# The tests that boot Linux as a guest boot the running kernel: this one.
# pci=noacpi: the sanitized kernel interprets the PCI routing method (_PRT)
# so slowly under TCG that ACPI gives up on it twice, 30 s each; the BIOS
# routing table says the same.
export LKVM_VM_KERNEL=$dir/bzImage
export LKVM_VM_INITRAMFS=$out/initramfs.cpio.gz
export LKVM_VM_APPEND="lkvm.moddir=$moddir lkvm.guest_kernel=$dir/bzImage pci=noacpi"
export LKVM_CHECK_OUT=$repo/build/vm/sanitized
export LKVM_CHECK_TIMEOUT=${LKVM_CHECK_TIMEOUT:-2400}
# Every program but boot_test and net_test, unless named: they boot the
# running kernel as a guest, and this one does not fit in its guests'
# memory (KASAN's shadow, kmemleak's pool: out of memory at 128 MiB), while
# Debian's, booted instead, is not the release boot_test compares with nor
# the one whose modules net_test's initramfs holds. The device's paths
# still run here under net_hostile_test's guests.
if [ $# -eq 0 ]; then
	# shellcheck disable=SC2046 # one word per program
	set -- $(awk '$1 != "boot_test" && $1 != "net_test" { print $1 }' \
		"$repo/build/selftests/manifest")
fi
rc=0
"$here/check.sh" "$@" || rc=$?
echo "summary: make check-sanitized took $(($(date +%s) - start))s"
exit $rc
