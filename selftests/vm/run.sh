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
# usage: run.sh [-t SECONDS] [-o OUTDIR] [-c CPUS] [-m MEM] [-q] -- COMMAND...
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
quiet=0

usage() {
	sed -n 's/^# usage: //p' "$0" >&2
	exit 2
}

while getopts "t:o:c:m:qh" opt; do
	case $opt in
	t) timeout=$OPTARG ;;
	o) outdir=$OPTARG ;;
	c) cpus=$OPTARG ;;
	m) mem=$OPTARG ;;
	q) quiet=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || usage

kver=$(lkvm_vm_kver)
kernel=/boot/vmlinuz-$kver
initramfs=$repo/build/vm/initramfs.cpio.gz
for f in "$kernel" "$initramfs"; do
	[ -r "$f" ] || { echo "lkvm-vm: $f is missing (run make deps; make)" >&2; exit 125; }
done
qemu=$(command -v qemu-system-x86_64) ||
	{ echo "lkvm-vm: qemu-system-x86_64 not found (run make deps)" >&2; exit 125; }

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
rm -f "$outdir/job" "$outdir/status" "$outdir/output.log" "$outdir/console.log"
{
	printf 'export LKVM_VM_OUT=%q\n' "$outdir"
	printf 'cd %q || exit 1\n' "$repo"
	printf '%s\n' "$*"
} > "$outdir/job"
: > "$outdir/output.log"

start=$(date +%s)
timeout -k 10 "$timeout" "$qemu" \
	-nodefaults -display none -no-reboot \
	-machine pc -accel tcg,thread=multi -cpu max -smp "$cpus" -m "$mem" \
	-nic none \
	-kernel "$kernel" -initrd "$initramfs" \
	-append "console=ttyS0 panic=-1 oops=panic mitigations=off lkvm.out=$outdir lkvm.init=$here/guest-init.sh" \
	-serial "file:$outdir/console.log" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$outdir,mount_tag=lkvmout,security_model=none,multidevs=remap" \
	</dev/null &
qemu_pid=$!

if [ "$quiet" = 0 ]; then
	tail -n +1 -f --pid=$qemu_pid "$outdir/output.log" &
	tail_pid=$!
fi
wait $qemu_pid
qemu_rc=$?
[ "$quiet" = 0 ] && wait "$tail_pid"
secs=$(($(date +%s) - start))

if [ -s "$outdir/status" ]; then
	echo "lkvm-vm: test VM ran for ${secs}s; console log: $outdir/console.log" >&2
	exit "$(cat "$outdir/status")"
fi

if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
	echo "lkvm-vm: the test VM hit its time limit of ${timeout}s" >&2
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
