#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Inside the test VM: boot a guest with lkvm-lite while every lkvm_lite
# tracepoint records into the trace ring, and when it ends (or hangs past
# the time limit) print the last exits, with the guest's RIPs named from
# the test VM's own kallsyms (the guest runs the same kernel: add nokaslr
# to its command line), the module's kernel log and the launcher's status.
#
#   make vm CMD='selftests/boot/trace-boot.sh 120 -p nokaslr'
#
# usage: trace-boot.sh SECONDS [LAUNCHER RUN OPTIONS]...
#   (default: Debian's kernel and the boot tests' initramfs)

secs=${1:?usage: trace-boot.sh SECONDS [OPTIONS]...}
shift
t=/sys/kernel/tracing
[ -d /sys/module/lkvm_lite ] || insmod kernel/lkvm_lite.ko || exit 1
[ $# -gt 0 ] || set -- -k "/boot/vmlinuz-$(uname -r)" -i build/selftests/boot-guest.cpio.gz
echo 0 > $t/tracing_on
echo > $t/trace
echo 16384 > $t/buffer_size_kb
echo 1 > $t/events/lkvm_lite/enable
echo 1 > $t/tracing_on
timeout -s KILL "$secs" tools/lkvm-lite/lkvm-lite run "$@" < /dev/null
rc=$?
echo 0 > $t/tracing_on
echo "trace-boot: launcher status $rc (137: killed at the ${secs}s limit)"
# The whole trace, for reading on the host (run.sh's output directory).
[ -n "$LKVM_VM_OUT" ] && cp $t/trace "$LKVM_VM_OUT/trace.txt" &&
	echo "trace-boot: the whole trace is in $LKVM_VM_OUT/trace.txt"
echo "trace-boot: exits by reason:"
grep -o 'lkvm_exit: vm [0-9]* vcpu [0-9]* reason [a-z_0-9]*' $t/trace | awk '{ print $NF }' |
	sort | uniq -c | sort -rn
echo "trace-boot: last 60 events, guest RIPs named:"
tail -n 60 $t/trace | while read -r line; do
	rip=$(echo "$line" | sed -n 's/.* rip 0x\([0-9a-f]*\).*/\1/p')
	sym=
	if [ -n "$rip" ]; then
		rip=$(printf '%016x' "0x$rip")
		sym=$(awk -v a="$rip" '$1 <= a && $1 > b { b = $1; s = $3 } END { print s }' \
			/proc/kallsyms)
	fi
	echo "$line${sym:+ [$sym]}"
done
echo "trace-boot: kernel log:"
dmesg | grep lkvm_lite | tail -n 30
exit $rc
