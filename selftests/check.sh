#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check: boot the test VM, load the module, run the selftests, judge.
#
# usage: check.sh [PROGRAM...]   (default: every selftest program built)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
out=$repo/build/vm/last
timeout=${LKVM_CHECK_TIMEOUT:-1500}

start=$(date +%s)
"$here/vm/run.sh" -t "$timeout" -o "$out" -- selftests/run-in-vm.sh "$@"
vm_rc=$?
"$here/summarize.sh" "$out/output.log" "$repo/build/selftests/manifest" "$@" > "$out/summary"
sum_rc=$?

grep -v '^[0-9]* passed, ' "$out/summary"
if [ "$vm_rc" != 0 ]; then
	echo "summary: the test VM failed (status $vm_rc); console log: $out/console.log"
fi
echo "summary: make check took $(($(date +%s) - start))s"
tail -n 1 "$out/summary"
[ "$vm_rc" = 0 ] && [ "$sum_rc" = 0 ]
