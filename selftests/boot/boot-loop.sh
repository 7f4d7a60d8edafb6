#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Inside the test VM: boot Debian's kernel under lkvm-lite to power-off
# COUNT times, each within SECONDS, to catch a hang that comes once in many
# boots. Every lkvm_lite tracepoint records meanwhile (the ring keeps the
# last ones). The first boot still running at its limit is a hang: its
# trace, console output and task stacks go to the run's output directory
# and the loop stops. A hog on the test VM's host makes hangs that depend
# on timing likelier:
#
#   make vm TIMEOUT=3000 CMD='selftests/boot/boot-loop.sh 30 90'
#
# usage: boot-loop.sh COUNT SECONDS [KERNEL COMMAND LINE]...
#   LKVM_MODULE: the module to load (default kernel/lkvm_lite.ko)
# Prints a line per boot and "boot-loop: N boots, H hangs"; exits 1 on a hang.

n=${1:?usage: boot-loop.sh COUNT SECONDS [CMDLINE]...}
secs=${2:?usage: boot-loop.sh COUNT SECONDS [CMDLINE]...}
shift 2
t=/sys/kernel/tracing
out=${LKVM_VM_OUT:-/tmp}
con=/tmp/boot-loop-console.txt
[ -d /sys/module/lkvm_lite ] || insmod "${LKVM_MODULE:-kernel/lkvm_lite.ko}" || exit 1
echo 0 > $t/tracing_on
echo 8192 > $t/buffer_size_kb
echo 1 > $t/events/lkvm_lite/enable
i=1
while [ "$i" -le "$n" ]; do
	echo > $t/trace
	echo 1 > $t/tracing_on
	start=$(date +%s)
	tools/lkvm-lite/lkvm-lite run -k "/boot/vmlinuz-$(uname -r)" \
		-i build/selftests/boot-guest.cpio.gz -p "nokaslr lkvm.test=poweroff $*" \
		< /dev/null > $con 2>&1 &
	pid=$!
	while kill -0 $pid 2> /dev/null && [ $(($(date +%s) - start)) -lt "$secs" ]; do
		sleep 1
	done
	if kill -0 $pid 2> /dev/null; then
		echo 0 > $t/tracing_on
		echo "boot-loop: boot $i hung (still running after ${secs}s)"
		for task in /proc/$pid/task/*; do
			echo "== $task $(cat "$task/comm") state $(awk '{ print $3 }' "$task/stat")"
			cat "$task/stack"
		done > "$out/hang-stacks.txt"
		cp $t/trace "$out/hang-trace.txt"
		# The launcher prints the vCPU's registers when it is told to quit.
		kill -TERM $pid
		sleep 2
		kill -KILL $pid 2> /dev/null
		cp $con "$out/hang-console.txt"
		tail -n 12 $con
		echo "boot-loop: trace, console and stacks in $out/hang-*.txt"
		echo "boot-loop: $i boots, 1 hangs"
		exit 1
	fi
	wait $pid
	rc=$?
	echo "boot-loop: boot $i status $rc in $(($(date +%s) - start))s"
	[ $rc = 0 ] || tail -n 20 $con
	i=$((i + 1))
done
echo "boot-loop: $n boots, 0 hangs"
