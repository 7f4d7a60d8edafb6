#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bench, inside the test VM: the exit round-trip benchmark on lkvm_lite
# (also with "lkvm-lite trace" attached) and on stock kvm_amd, then the boot
# of a stock Linux guest with lkvm-lite and with QEMU on kvm_amd, in the
# same VM, interleaved. Only one of the two can
# own SVM at a time, so each round loads lkvm_lite, measures, unloads it,
# loads kvm_amd, measures the same guest loop, unloads it. Run-to-run noise
# under TCG is large and drifts, so the peers alternate within every round
# and each figure is the median over the rounds.
#
# Then the network benchmark (selftests/bench/net_bench.sh): lkvm-lite's
# virtio-net beside QEMU/KVM with and without vhost-net and a native veth
# pair, in rounds of its own.
#
# Writes "name value" lines (the medians) to $LKVM_VM_OUT/bench.txt, which
# selftests/bench/bench-json.sh turns into bench.json on the host, and why
# a network column failed, if one did, to $LKVM_VM_OUT/bench-failed.txt.
#
# usage: run-bench.sh [ROUNDS [N [BOOT_ROUNDS [NET_ROUNDS]]]]
#   ROUNDS: rounds of lkvm then kvm (default 5)
#   N:      exits per measurement (default 30000: under TCG, where one exit
#           costs 20 to 150 us, 0.7 to 2 s each)
#   BOOT_ROUNDS: rounds of lkvm-lite then QEMU/KVM boots (default 3)
#   NET_ROUNDS: rounds of the network benchmark's four columns (default 3)
#   $BENCH: the parts to run, of "exit boot net" (default: all three)
#   $LKVM_MODULE: the module to load (default kernel/lkvm_lite.ko)

rounds=${1:-5}
n=${2:-30000}
boot_rounds=${3:-3}
net_rounds=${4:-3}
parts=${BENCH:-exit boot net}
bench=build/selftests/exit_bench
boot_bench=build/selftests/boot_bench
# Both VMMs boot the same kernel (the test VM's own, Debian's) and the same
# initramfs, whose init reports and powers off (lkvm.test=init), with the
# same memory, one vCPU and the same command line.
boot_kernel=/boot/vmlinuz-$(uname -r)
boot_initrd=build/selftests/boot-guest.cpio.gz
boot_mem=256
boot_params="lkvm.test=init"
launcher=tools/lkvm-lite/lkvm-lite
module=${LKVM_MODULE:-kernel/lkvm_lite.ko}
out=${LKVM_VM_OUT:?run-bench.sh runs in the test VM (selftests/vm/run.sh)}/bench.txt
failed=$LKVM_VM_OUT/bench-failed.txt
raw=/tmp/bench-raw

fail() {
	echo "run-bench: $*" >&2
	dmesg | tail -n 20 | sed 's/^/run-bench: dmesg: /' >&2
	exit 1
}

# lkvm_lite's CPUID loop again, with "lkvm-lite trace" attached to every
# exit: the figure is exit.cpuid_us.lkvm_traced.
measure_traced() {
	$launcher trace -o /tmp/bench-trace.json -- $bench lkvm cpuid "$n" > /tmp/bench-one ||
		fail "lkvm-lite trace -- exit_bench lkvm cpuid $n failed"
	sed -n 's/^exit\.cpuid_us\.lkvm /exit.cpuid_us.lkvm_traced /p' /tmp/bench-one > /tmp/bench-traced
	[ -s /tmp/bench-traced ] || fail "exit_bench under lkvm-lite trace printed no figure"
	sed 's/^/# /' /tmp/bench-traced
	cat /tmp/bench-traced >> "$raw"
}

# $1: lkvm or kvm. Appends "name value" lines to $raw.
measure() {
	for kind in cpuid pio; do
		$bench "$1" $kind "$n" > /tmp/bench-one || fail "exit_bench $1 $kind $n failed"
		sed 's/^/# /' /tmp/bench-one
		cat /tmp/bench-one >> "$raw"
	done
}

exit_part() {
	echo "# exit_bench: $rounds rounds of lkvm then kvm, $n exits per figure"
	i=1
	while [ "$i" -le "$rounds" ]; do
		echo "# round $i"
		insmod "$module" || fail "$module did not load"
		measure lkvm
		measure_traced
		rmmod lkvm_lite || fail "lkvm_lite did not unload"
		modprobe kvm_amd || fail "kvm_amd did not load"
		measure kvm
		modprobe -r kvm_amd || fail "kvm_amd did not unload"
		i=$((i + 1))
	done
}

# $1: lkvm or qemu_kvm: one boot, its three figures appended to $raw.
measure_boot() {
	name=$1
	if [ "$name" = lkvm ]; then
		set -- $launcher run -k "$boot_kernel" -i "$boot_initrd" -m ${boot_mem}M \
			-p "$boot_params"
	else
		set -- qemu-system-x86_64 -accel kvm -cpu host -smp 1 -m ${boot_mem}M \
			-nodefaults -no-user-config -display none -no-reboot -serial stdio \
			-kernel "$boot_kernel" -initrd "$boot_initrd" \
			-append "console=ttyS0 panic=-1 $boot_params"
	fi
	# A boot that fails or hangs (nested KVM under TCG does, now and then)
	# is reported and leaves no figures; the medians come from the others.
	if ! $boot_bench "$name" $boot_mem "$@" > /tmp/bench-one 2>&1; then
		sed 's/^/# failed: /' /tmp/bench-one
		eval "failed_$name=\$((failed_$name + 1))"
		return
	fi
	sed 's/^/# /' /tmp/bench-one
	cat /tmp/bench-one >> "$raw"
}

boot_part() {
	failed_lkvm=0
	failed_qemu_kvm=0

	echo "# boot_bench: $boot_rounds rounds of lkvm-lite then QEMU/KVM, ${boot_mem} MiB guests"
	i=1
	while [ "$i" -le "$boot_rounds" ]; do
		echo "# boot round $i"
		insmod "$module" || fail "$module did not load"
		measure_boot lkvm
		rmmod lkvm_lite || fail "lkvm_lite did not unload"
		modprobe kvm_amd || fail "kvm_amd did not load"
		measure_boot qemu_kvm
		modprobe -r kvm_amd || fail "kvm_amd did not unload"
		i=$((i + 1))
	done

	# Failed boots are figures too, so that bench.json shows them.
	echo "boot.failed_boots.lkvm $failed_lkvm" >> "$raw"
	echo "boot.failed_boots.qemu_kvm $failed_qemu_kvm" >> "$raw"
	for name in lkvm qemu_kvm; do
		grep -q "^boot.to_init_s.$name " "$raw" || fail "no $name boot succeeded"
	done
}

# A column that fails leaves its reason in $failed; the others go on.
net_part() {
	selftests/bench/net_bench.sh "$raw" "$failed" "$net_rounds" ||
		fail "the network benchmark failed"
}

: > "$raw"
rm -f "$failed"
# kvm_amd gives SVM up only when unloaded: start without it.
modprobe -r kvm_amd 2>/dev/null
for part in $parts; do
	case $part in
	exit | boot | net) ${part}_part ;;
	*) fail "unknown part $part in BENCH (exit, boot, net)" ;;
	esac
done

# The median of each name's values, in the order the names came.
awk '
	!($1 in n) { order[++names] = $1 }
	{ v[$1, ++n[$1]] = $2 }
	END {
		for (i = 1; i <= names; i++) {
			name = order[i]
			k = n[name]
			# Insertion sort: a handful of values.
			for (a = 2; a <= k; a++)
				for (b = a; b > 1 && v[name, b - 1] + 0 > v[name, b] + 0; b--) {
					t = v[name, b]; v[name, b] = v[name, b - 1]; v[name, b - 1] = t
				}
			if (k % 2)
				m = v[name, (k + 1) / 2]
			else
				m = (v[name, k / 2] + v[name, k / 2 + 1]) / 2
			# Per-packet figures are mostly well below 1.
			printf (m != 0 && m < 1 && m > -1) ? "%s %.4f\n" : "%s %.2f\n", name, m
		}
	}' "$raw" > "$out" || fail "could not write $out"
echo "# medians:"
sed 's/^/# /' "$out"
