#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot the throwaway test VM and run one shell command in it.
#
# QEMU (TCG, -cpu max: AMD SVM with NPT), Debian's packaged kernel, the
# host's root filesystem read-only over 9p under a tmpfs overlay, no NIC.
# The command runs as root from the repository's top directory with the
# same paths as on the host. Its output streams here; the VM's console is
# saved to OUTDIR/console.log and its tail is printed if the VM fails.
#
# Environment: LKVM_VM_KERNEL, LKVM_VM_INITRAMFS and LKVM_VM_APPEND boot
# another kernel than Debian's (selftests/check-sanitized.sh).
#
# usage: run.sh [-t SECONDS] [-o OUTDIR] [-c CPUS] [-m MEM] [-C MODEL] [-q] [-g] [-Q QEMU-ARG]... -- COMMAND...
#
#   -C  QEMU CPU model (default max; qemu64,-svm is an AMD CPU without SVM)
#   -q  do not stream the command's output
#   -g  start QEMU's gdbstub on localhost:1234 (gdb vmlinux -ex 'target remote :1234')
#   -Q  pass an extra argument to QEMU, e.g. -Q -d -Q int,guest_errors -Q -D -Q /tmp/q.log
# exit:  the command's status; 124 if the VM timed out, 125 if it did not
#        boot or died before the command finished.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=selftests/vm/config.sh
. "$here/config.sh"

timeout=600
outdir=$repo/build/vm/last
cpus=2
mem=2G
cpu_model=max
# One host thread runs all vCPUs: multi-threaded TCG lost an IPI between
# vCPUs after a nested SVM guest ran (Documentation/testing.rst).
tcg_thread=${LKVM_VM_TCG_THREAD:-single}
quiet=0

usage() {
	sed -n 's/^# usage: //p' "$0" >&2
	exit 2
}

extra=()
while getopts "t:o:c:m:C:qgQ:h" opt; do
	case $opt in
	t) timeout=$OPTARG ;;
	o) outdir=$OPTARG ;;
	c) cpus=$OPTARG ;;
	m) mem=$OPTARG ;;
	C) cpu_model=$OPTARG ;;
	q) quiet=1 ;;
	g) extra+=(-gdb tcp:127.0.0.1:1234) ;;
	Q) extra+=("$OPTARG") ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || usage

# Another kernel (make check-sanitized): its image, its initramfs (made by
# mkinitramfs.sh for it) and what its command line needs in addition.
kernel=${LKVM_VM_KERNEL:-/boot/vmlinuz-$(lkvm_vm_kver)}
initramfs=${LKVM_VM_INITRAMFS:-$repo/build/vm/initramfs.cpio.gz}
append=${LKVM_VM_APPEND:-}
for f in "$kernel" "$initramfs"; do
	[ -r "$f" ] || { echo "lkvm-vm: $f is missing (run make deps; make)" >&2; exit 125; }
done
qemu=$(command -v qemu-system-x86_64) ||
	{ echo "lkvm-vm: qemu-system-x86_64 not found (run make deps)" >&2; exit 125; }

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
rm -f "$outdir"/{job,status,output.log,console.log,monitor.*,kallsyms,dmesg.log,timed-out}
mkfifo "$outdir/monitor.in" "$outdir/monitor.out"
{
	printf 'export LKVM_VM_OUT=%q\n' "$outdir"
	printf 'cd %q || exit 1\n' "$repo"
	printf '%s\n' "$*"
} > "$outdir/job"
: > "$outdir/output.log"

# Print each vCPU's RIP from a monitor log, with the kernel symbol it is in,
# from the guest's kallsyms if the job saved them (run-in-vm.sh does).
# Addresses there are 16 lowercase hex digits: they compare as text.
symbolize_rips() {
	local map=$outdir/kallsyms rip sym

	grep -o 'RIP=[0-9a-f]*' "$1" | cut -d= -f2 | while read -r rip; do
		sym=$(awk -v a="$rip" '$2 ~ /^[tT]$/ && $1 <= a && $1 > b { b = $1; s = $1 " " $3 $4 }
				    END { print s }' "$map" 2>/dev/null)
		if [ -n "$sym" ]; then
			printf 'lkvm-vm:   RIP %s %s+0x%x\n' "$rip" "${sym#* }" \
			       $((16#$rip - 16#${sym%% *}))
		else
			printf 'lkvm-vm:   RIP %s\n' "$rip"
		fi
	done
}

start=$(date +%s)
"$qemu" \
	-nodefaults -display none -no-reboot \
	-machine pc -accel "tcg,thread=$tcg_thread" -cpu "$cpu_model" -smp "$cpus" -m "$mem" \
	-nic none \
	-kernel "$kernel" -initrd "$initramfs" \
	-append "console=ttyS0 panic=-1 oops=panic mitigations=off nokaslr lkvm.out=$outdir lkvm.init=$here/guest-init.sh $append" \
	-serial "file:$outdir/console.log" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$outdir,mount_tag=lkvmout,security_model=none,multidevs=remap" \
	-chardev "pipe,id=mon0,path=$outdir/monitor" -mon chardev=mon0,mode=readline \
	"${extra[@]}" \
	</dev/null &
qemu_pid=$!
# If we are stopped (a CI time limit, ^C), take the VM down with us.
trap 'kill $qemu_pid ${monitor_pid:-} ${watchdog_pid:-} ${tail_pid:-} 2>/dev/null; exit 130' \
	INT TERM HUP
# The monitor's output must be drained, or QEMU blocks writing it.
cat "$outdir/monitor.out" > "$outdir/monitor.log" 2>/dev/null &
monitor_pid=$!

# On timeout, record where every vCPU is before stopping the VM: a hung
# guest is diagnosed from these registers and the console log. Nothing
# here may hold our stdout, or a caller reading it through a pipe would
# wait for the watchdog's sleep to end.
(
	trap 'kill $sleeper 2>/dev/null; exit 0' TERM
	sleep "$timeout" &
	sleeper=$!
	wait $sleeper
	kill -0 $qemu_pid 2>/dev/null || exit 0
	echo timeout > "$outdir/timed-out"
	printf 'info registers -a\ninfo cpus\n' > "$outdir/monitor.in"
	sleep 2
	# A CPU stopped in or right after VMRUN has its VMCB's physical
	# address in RAX: dump each page-aligned one (a hung nested guest is
	# told apart from a hung host by it).
	grep -o '^RAX=[0-9a-f]*000 ' "$outdir/monitor.log" | cut -c5-20 | sort -u |
	while read -r pa; do
		[ $((16#$pa)) -gt 0 ] && [ $((16#$pa)) -lt $((1 << 40)) ] || continue
		printf 'xp /512gx 0x%s\n' "$pa"
	done > "$outdir/monitor.in"
	sleep 2
	kill $qemu_pid
	sleep 10
	kill -9 $qemu_pid 2>/dev/null
) >/dev/null 2>&1 &
watchdog_pid=$!

if [ "$quiet" = 0 ]; then
	tail -n +1 -f --pid=$qemu_pid "$outdir/output.log" &
	tail_pid=$!
fi
wait $qemu_pid
qemu_rc=$?
kill $watchdog_pid 2>/dev/null
wait $watchdog_pid 2>/dev/null
sleep 0.2
kill $monitor_pid 2>/dev/null
[ "$quiet" = 0 ] && wait "$tail_pid"
secs=$(($(date +%s) - start))

if [ -s "$outdir/status" ]; then
	echo "lkvm-vm: test VM ran for ${secs}s; console log: $outdir/console.log" >&2
	exit "$(cat "$outdir/status")"
fi

if [ -e "$outdir/timed-out" ]; then
	rm -f "$outdir/timed-out"
	echo "lkvm-vm: the test VM hit its time limit of ${timeout}s; where its CPUs were:" >&2
	symbolize_rips "$outdir/monitor.log" >&2
	rc=124
elif grep -q LKVM-VM-BOOTED "$outdir/console.log" 2>/dev/null; then
	echo "lkvm-vm: the test VM died before the command finished (qemu exit $qemu_rc)" >&2
	rc=125
else
	echo "lkvm-vm: the test VM did not boot (qemu exit $qemu_rc)" >&2
	rc=125
fi
echo "lkvm-vm: last 60 lines of $outdir/console.log:" >&2
tail -n 60 "$outdir/console.log" >&2
exit $rc
