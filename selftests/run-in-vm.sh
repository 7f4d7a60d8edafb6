#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside a test VM from the repository's top directory: load the
# module (in the usual VM), run the selftest programs the manifest assigns
# to this kind of VM, print their TAP. The host side (summarize.sh) checks
# the counts.
#
# usage: run-in-vm.sh VM [PROGRAM...]
#   VM: svm (the usual test VM) or nosvm (a CPU without SVM: the module
#   must not load there, and its tests check how it refuses)
#   PROGRAM: only these (default: every program of this VM in the manifest)

manifest=build/selftests/manifest
# The module built for the running kernel: kernel/lkvm_lite.ko for
# Debian's, build/kernel-KVER/ for another (make check-sanitized).
LKVM_MODULE="$PWD/build/kernel-$(uname -r)/lkvm_lite.ko"
[ -e "$LKVM_MODULE" ] || LKVM_MODULE="$PWD/kernel/lkvm_lite.ko"
export LKVM_MODULE
kmemleak=/sys/kernel/debug/kmemleak
vm=${1:?usage: run-in-vm.sh svm|nosvm [PROGRAM...]}
shift

progs=
for prog in $(awk -v vm="$vm" '$3 == vm { print $1 }' "$manifest"); do
	if [ $# -eq 0 ] || echo " $* " | grep -q " $prog "; then
		progs="$progs $prog"
	fi
done

# Anything the kernel reported as a bug while we ran fails the run: with a
# sanitized kernel also KASAN, UBSAN and lockdep reports, and the leaks
# kmemleak finds once everything ran (two scans: an object must stay
# unreferenced for one full scan to be reported).
check_kernel_log() {
	if [ -w "$kmemleak" ]; then
		echo scan > "$kmemleak"
		sleep 6
		echo scan > "$kmemleak"
		if [ -s "$kmemleak" ]; then
			echo "LKVM-KERNEL-BUG"
			echo "# kmemleak:"
			sed 's/^/# /' "$kmemleak"
		fi
	fi
	if dmesg | grep -E 'BUG:|WARNING:|UBSAN:|KASAN|general protection|Oops|Call Trace' \
		> /tmp/kernel-bugs
	then
		echo "LKVM-KERNEL-BUG"
		sed 's/^/# /' /tmp/kernel-bugs
	fi
	[ -n "$LKVM_VM_OUT" ] && dmesg > "$LKVM_VM_OUT/dmesg.log"
}

# Every program starts from the same state: all CPUs online, and the module
# loaded (in the usual VM). A program that could not restore it ends the run.
restore_baseline() {
	for f in /sys/devices/system/cpu/cpu*/online; do
		[ "$(cat "$f")" = 1 ] || echo 1 > "$f" || return 1
	done
	[ "$vm" = nosvm ] && return 0
	[ -d /sys/module/lkvm_lite ] || insmod "$LKVM_MODULE"
}

echo "# lkvm-selftests: $vm VM, kernel $(uname -r), $(nproc) CPUs"
modprobe -q msr
if [ "$vm" = nosvm ]; then
	# The module must not load here; the tests check how it refuses.
	echo "LKVM-NOSVM-VM"
else
	modprobe -q kvm_amd || echo "# kvm_amd did not load: its tests will skip"
	if ! insmod "$LKVM_MODULE"; then
		echo "Bail out! lkvm_lite.ko did not load"
		dmesg | tail -n 20 | sed 's/^/# /'
		exit 3
	fi
	if [ ! -c /dev/lkvm_lite ]; then
		echo "Bail out! lkvm_lite loaded but /dev/lkvm_lite is missing"
		exit 3
	fi
	echo "LKVM-MODULE-LOADED"
fi
# Leaks from before the tests (boot) are not theirs.
if [ -w "$kmemleak" ]; then
	echo scan > "$kmemleak"
	echo clear > "$kmemleak"
fi
# For the runner to name the functions where a hung VM's CPUs were.
[ -n "$LKVM_VM_OUT" ] && grep ' [tT] ' /proc/kallsyms > "$LKVM_VM_OUT/kallsyms"

# A program still running after $prog_limit seconds is hung: the kernel
# stacks of its threads and of every task blocked in the kernel (state D)
# go into the log, then it is killed, so that one hang fails one program
# and the others still run.
# (The longest program, fuzz_ioctl_test, allows itself 300 s.)
prog_limit=${LKVM_PROG_TIMEOUT:-420}

report_hung() {
	local pid=$1 prog=$2 t task

	echo "# selftest-hung: $prog still running after ${prog_limit}s; killed"
	for t in /proc/[0-9]*; do
		# stat after the command name: state, ppid, process group, session
		set -- $(sed 's/.*) //' "$t/stat" 2>/dev/null) x x x x
		[ "$4" = "$pid" ] || [ "$1" = D ] || continue
		echo "# task ${t#/proc/} ($(cat "$t/comm" 2>/dev/null)) state $1:"
		for task in "$t"/task/*; do
			echo "#  thread ${task##*/}:"
			sed 's/^/#   /' "$task/stack" 2>/dev/null
		done
	done
	dmesg | tail -n 100 | sed 's/^/# dmesg: /'
}

run_prog() {
	local prog=$1 pid status start n=0

	start=$(date +%s)
	# Its own session, so that the kill reaches its children too (the
	# harness puts each test's child in a process group of its own).
	setsid -w "build/selftests/$prog" &
	pid=$!
	(
		while kill -0 "$pid" 2>/dev/null; do
			sleep 1
			n=$((n + 1))
			if [ "$n" -ge "$prog_limit" ]; then
				report_hung "$pid" "$prog"
				pkill -KILL -s "$pid"
				break
			fi
		done
	) &
	wait "$pid"
	status=$?
	wait
	echo "# selftest-exit: $prog $status $(($(date +%s) - start))s"
}

for prog in $progs; do
	echo "# selftest: $prog"
	run_prog "$prog"
	if ! restore_baseline; then
		echo "Bail out! $prog left CPUs offline or the module unloadable"
		break
	fi
done
check_kernel_log
exit 0
