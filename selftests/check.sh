#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check: boot the test VM, load the module, run the selftests; boot a
# second, SVM-less test VM for the tests of how loading is refused; judge.
#
# usage: check.sh [PROGRAM...]   (default: every selftest program built)
# Environment: LKVM_CHECK_TIMEOUT (seconds per test VM), LKVM_CHECK_OUT (where
# the VMs' logs go, default build/vm).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
manifest=$repo/build/selftests/manifest
timeout=${LKVM_CHECK_TIMEOUT:-1200}
start=$(date +%s)
rc=0

# Does the manifest give VM kind $1 any program that was asked for?
wanted() {
	local prog

	for prog in $(awk -v vm="$1" '$3 == vm { print $1 }' "$manifest"); do
		if [ $# -eq 1 ] || echo " ${*:2} " | grep -q " $prog "; then
			return 0
		fi
	done
	return 1
}

logs=()
for vm in svm nosvm; do
	out=${LKVM_CHECK_OUT:-$repo/build/vm}/$vm
	rm -f "$out/output.log"
	wanted "$vm" "$@" || continue
	model=max
	# qemu64 is an AMD model; (max,-svm makes static glibc binaries abort at
	# start under QEMU 7.2 TCG, so the initramfs could not run.)
	[ "$vm" = nosvm ] && model=qemu64,-svm
	"$here/vm/run.sh" -t "$timeout" -o "$out" -C "$model" -- selftests/run-in-vm.sh "$vm" "$@"
	vm_rc=$?
	if [ "$vm_rc" != 0 ]; then
		echo "summary: the $vm test VM failed (status $vm_rc); console log: $out/console.log"
		rc=1
	elif grep -q '^not ok\|^Bail out!\|^LKVM-KERNEL-BUG' "$out/output.log"; then
		echo "summary: tests failed in the $vm test VM; last 40 lines of $out/console.log:"
		tail -n 40 "$out/console.log" | sed 's/^/summary:   /'
	fi
	logs+=("$out/output.log")
done

summary=${LKVM_CHECK_OUT:-$repo/build/vm}/summary
"$here/summarize.sh" "$manifest" "${logs[@]}" -- "$@" > "$summary"
sum_rc=$?
grep -v '^[0-9]* passed, ' "$summary"
echo "summary: make check took $(($(date +%s) - start))s"
tail -n 1 "$summary"
[ "$rc" = 0 ] && [ "$sum_rc" = 0 ]
