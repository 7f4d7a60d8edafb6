#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bench's network part, inside the test VM (run-bench.sh runs it):
# guest->host and host->guest TCP throughput and the 64-byte UDP packet
# rate, with iperf3, for four columns measured in the same run:
#
#   lkvm        lkvm-lite run -n ifname=lkvmb0, the in-kernel virtio-net
#   qemu_vhost  QEMU on kvm_amd, virtio-net-pci on a tap with vhost-net
#   qemu_user   the same with QEMU's own virtio-net (vhost=off)
#   native      a veth pair between two network namespaces, no VM
#
# The VMs boot the test VM's own kernel (Debian's) with the same initramfs
# (net-guest-init: an iperf3 server on the guest's NIC), 256 MiB and one
# vCPU; the host runs the clients. For the VMs, each traffic run is also
# counted: VM exits, interrupts the NIC raised and returns to userspace,
# per packet that crossed the NIC either way. Only one of lkvm_lite and
# kvm_amd can own SVM at a time, so each round loads lkvm_lite for its
# column, unloads it, loads kvm_amd for the two QEMU columns and unloads
# it; the rounds interleave the columns and run-bench.sh takes medians.
#
# Appends "name value" lines to RAW. A column that fails in a round (its
# VMM does not start, the guest does not come up, a client fails) leaves
# no figures for that round, adds a line saying why to FAILED and is
# counted in net.failed_rounds.NAME; the other columns go on.
#
# usage: net_bench.sh RAW FAILED [ROUNDS [SECONDS]]
#   ROUNDS:  rounds of the four columns (default 3)
#   SECONDS: length of each iperf3 run (default 3)
#   $LKVM_MODULE: the module to load (default kernel/lkvm_lite.ko)

raw=${1:?usage: net_bench.sh RAW FAILED [ROUNDS [SECONDS]]}
failed=${2:?usage: net_bench.sh RAW FAILED [ROUNDS [SECONDS]]}
rounds=${3:-3}
secs=${4:-3}
kernel=/boot/vmlinuz-$(uname -r)
initrd=build/selftests/net-bench-guest.cpio.gz
launcher=tools/lkvm-lite/lkvm-lite
module=${LKVM_MODULE:-kernel/lkvm_lite.ko}
mem=256
tmp=/tmp/net-bench
# Link-local only: the VMs' host ends and the native pair.
vm_host=169.254.77.1
vm_guest=169.254.77.2
ns_host=169.254.76.1
ns_guest=169.254.76.2
prefix=24
# Nested KVM under TCG boots a guest in tens of seconds, and hangs now
# and then: give up on a column after this long.
boot_timeout=300

die() {
	echo "net_bench: $*" >&2
	dmesg | tail -n 20 | sed 's/^/net_bench: dmesg: /' >&2
	exit 1
}

# $1: column, rest: why. The column's figures for this round are dropped.
col_failed() {
	name=$1
	shift
	echo "# net: $name failed in round $round: $*"
	echo "net.$name round $round: $*" >> "$failed"
	eval "failed_$name=\$((failed_$name + 1))"
}

# One iperf3 client run, its JSON report in $1; the rest are iperf3's
# options. The server is $server; $client_prefix runs the client where
# it must (a namespace for native). For the QEMU columns perf counts
# KVM's returns to userspace and the MSIs it injected during the run,
# into $tmp/perf. The first connection may come before the server in a
# guest listens: a failed run is tried twice more.
client() {
	out=$1
	shift
	set -- $client_prefix timeout $((secs + 60)) iperf3 -c "$server" -t "$secs" -J "$@"
	if [ "$kind" = kvm ]; then
		set -- perf stat -a -x, -o "$tmp/perf" \
			-e kvm:kvm_userspace_exit -e kvm:kvm_msi_set_irq -- "$@"
	fi
	try=1
	while ! "$@" > "$out" 2> "$tmp/client.err"; do
		if [ $try -ge 3 ]; then
			why=$(jq -r '.error // empty' "$out" 2>/dev/null)
			[ -n "$why" ] || why=$(tail -n 1 "$tmp/client.err")
			client_error="iperf3 $*: $why"
			return 1
		fi
		try=$((try + 1))
		sleep 2
	done
}

# The cumulative counters of the running VM: "exits userspace_exits irqs
# packets". For KVM the middle two come from perf per run instead (0 here).
snapshot() {
	if [ "$kind" = lkvm ]; then
		$launcher stat "$vmm" --json > "$tmp/stat.json" 2> "$tmp/stat.err" || return 1
		jq -e -r '"\(.vcpu.exits) \(.vcpu.userspace_exits) \(.vm.net_irqs)" +
			  " \(.vm.net_tx_packets + .vm.net_rx_packets)"' \
			"$tmp/stat.json" 2>> "$tmp/stat.err" || return 1
	else
		st=/sys/class/net/$hostif/statistics
		echo "$(cat /sys/kernel/debug/kvm/exits) 0 0" \
		     "$(($(cat "$st/rx_packets") + $(cat "$st/tx_packets")))"
	fi
}

# The test VM's CPU time so far, in ticks: "guest host_user host_kernel
# idle" (guest time, the nested guests', also counts as user time there).
cpu_ticks() {
	awk '$1 == "cpu" { print $10 + $11, $2 + $3 - $10 - $11, $4 + $7 + $8, $5 + $6; exit }' \
		/proc/stat
}

# $1: run, $2: column, rest: cpu_ticks before and after. Where the test
# VM's CPUs spent the run: what the guest ran, what the host's stack and
# the VMM cost, and what was left idle.
cpu_split() {
	awk -v r="$1" -v n="$2" -v g=$(($7 - $3)) -v u=$(($8 - $4)) -v k=$(($9 - $5)) \
		-v i=$((${10} - $6)) 'BEGIN { t = g + u + k + i; if (!t) t = 1
		printf "# cpu %s %s: guest %.0f%%, host kernel %.0f%%, host user %.0f%%, idle %.0f%%\n",
		       r, n, 100 * g / t, 100 * k / t, 100 * u / t, 100 * i / t }'
}

# $1: perf's event name: its count in the last run.
perf_count() {
	awk -F, -v e="$1" '$3 == e && $1 ~ /^[0-9]+$/ { print $1; found = 1 }
			   END { exit !found }' "$tmp/perf"
}

# The three traffic runs against a server that is up, with the counts
# around each for a VM. Appends the column's figures to $raw, or fails.
traffic() {
	name=$1
	tot_exits=0 tot_uexits=0 tot_irqs=0 tot_pkts=0
	figs=$tmp/figs
	: > "$figs"
	# g2h: the server (the guest) sends (-R); h2g: the host's client sends.
	for run in tcp_g2h tcp_h2g udp64; do
		case $run in
		tcp_g2h) set -- -R ;;
		tcp_h2g) set -- ;;
		udp64) set -- -R -u -l 64 -b 1G ;;
		esac
		if [ "$kind" != native ]; then
			before=$(snapshot) || { col_failed "$name" "lkvm-lite stat:" \
				"$(tail -n 1 "$tmp/stat.err")"; return 1; }
		fi
		ticks=$(cpu_ticks)
		client "$tmp/$run.json" "$@" || { col_failed "$name" "$client_error"; return 1; }
		cpu_split "$run" "$name" $ticks $(cpu_ticks)
		case $run in
		udp64)
			jq -r '.end.sum_received | (.packets - .lost_packets) / .seconds
			       | "net.udp64_pps.'"$name"' \(.)"' "$tmp/$run.json" ;;
		*)
			jq -r '.end.sum_received.bits_per_second / 1e6
			       | "net.'"$run"'_mbps.'"$name"' \(.)"' "$tmp/$run.json" ;;
		esac >> "$figs" || { col_failed "$name" "no figure in iperf3's $run report"; return 1; }
		[ "$kind" = native ] && continue
		after=$(snapshot) || { col_failed "$name" "lkvm-lite stat:" \
			"$(tail -n 1 "$tmp/stat.err")"; return 1; }
		set -- $before $after
		tot_exits=$((tot_exits + $5 - $1))
		tot_uexits=$((tot_uexits + $6 - $2))
		tot_irqs=$((tot_irqs + $7 - $3))
		tot_pkts=$((tot_pkts + $8 - $4))
		if [ "$kind" = kvm ]; then
			u=$(perf_count kvm:kvm_userspace_exit) && i=$(perf_count kvm:kvm_msi_set_irq) ||
				{ col_failed "$name" "perf stat: $(tail -n 1 "$tmp/perf")"; return 1; }
			tot_uexits=$((tot_uexits + u))
			tot_irqs=$((tot_irqs + i))
		fi
	done
	if [ "$kind" != native ]; then
		[ "$tot_pkts" -gt 0 ] || { col_failed "$name" "no packets counted"; return 1; }
		awk -v n="$name" -v e=$tot_exits -v u=$tot_uexits -v i=$tot_irqs -v p=$tot_pkts \
			'BEGIN { printf "net.exits_per_pkt.%s %.4f\n", n, e / p
				 printf "net.irqs_per_pkt.%s %.4f\n", n, i / p
				 printf "net.userspace_exits_per_pkt.%s %.4f\n", n, u / p }' >> "$figs"
	fi
	sed 's/^/# /' "$figs"
	cat "$figs" >> "$raw"
}

# The VMM in the background ($vmm), its console in $tmp/console; waits
# for the guest's iperf3 server. $hostif is the host end of its NIC.
wait_guest() {
	name=$1
	t=0
	while ! grep -q LKVM-NET-BENCH-READY "$tmp/console"; do
		if grep -q LKVM-NET-BENCH-FAILED "$tmp/console"; then
			col_failed "$name" "guest: $(grep -m 1 LKVM-NET-BENCH-FAILED "$tmp/console")"
			return 1
		fi
		if ! kill -0 "$vmm" 2>/dev/null; then
			col_failed "$name" "the VMM exited: $(tail -n 1 "$tmp/console")"
			return 1
		fi
		if [ $t -ge $((boot_timeout * 2)) ]; then
			col_failed "$name" "no iperf3 server in the guest after ${boot_timeout}s:" \
				"$(tail -n 1 "$tmp/console")"
			return 1
		fi
		sleep 0.5
		t=$((t + 1))
	done
}

stop_vmm() {
	kill "$vmm" 2>/dev/null
	t=0
	while kill -0 "$vmm" 2>/dev/null && [ $t -lt 20 ]; do
		sleep 0.5
		t=$((t + 1))
	done
	kill -9 "$vmm" 2>/dev/null
	wait "$vmm" 2>/dev/null
	sed 's/^/# console: /' "$tmp/console" | tail -n 3
}

column_lkvm() {
	kind=lkvm hostif=lkvmb0 server=$vm_guest client_prefix=
	ip link del "$hostif" 2>/dev/null
	$launcher run -k "$kernel" -i "$initrd" -m ${mem}M -n ifname=$hostif \
		-p "lkvm.net=$vm_guest/$prefix" > "$tmp/console" 2>&1 < /dev/null &
	vmm=$!
	# The launcher creates the host end before the guest boots.
	t=0
	while [ ! -e /sys/class/net/$hostif ]; do
		if ! kill -0 "$vmm" 2>/dev/null || [ $t -ge 40 ]; then
			col_failed lkvm "lkvm-lite run -n ifname=$hostif made no $hostif:" \
				"$(grep -m 1 . "$tmp/console")"
			stop_vmm
			return
		fi
		sleep 0.5
		t=$((t + 1))
	done
	ip addr add $vm_host/$prefix dev $hostif && ip link set $hostif up ||
		die "could not configure $hostif"
	wait_guest lkvm && traffic lkvm
	stop_vmm
	ip link del "$hostif" 2>/dev/null
}

# $1: qemu_vhost or qemu_user.
column_qemu() {
	name=$1
	kind=kvm hostif=lkvmq0 server=$vm_guest client_prefix=
	[ "$name" = qemu_vhost ] && vhost=on || vhost=off
	ip tuntap add dev $hostif mode tap && ip addr add $vm_host/$prefix dev $hostif &&
		ip link set $hostif up || die "could not make tap $hostif"
	qemu-system-x86_64 -enable-kvm -cpu host -smp 1 -m ${mem}M \
		-nodefaults -no-user-config -display none -no-reboot -serial stdio \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 lkvm.net=$vm_guest/$prefix" \
		-netdev tap,id=n0,ifname=$hostif,script=no,downscript=no,vhost=$vhost \
		-device virtio-net-pci,netdev=n0,romfile= \
		> "$tmp/console" 2>&1 < /dev/null &
	vmm=$!
	wait_guest "$name" && traffic "$name"
	stop_vmm
	ip link del $hostif || die "could not remove tap $hostif"
}

column_native() {
	kind=native server=$ns_guest client_prefix="ip netns exec lkvmb-h"
	ip netns add lkvmb-h && ip netns add lkvmb-g &&
		ip link add veth0 netns lkvmb-h type veth peer name veth1 netns lkvmb-g &&
		ip -n lkvmb-h addr add $ns_host/$prefix dev veth0 &&
		ip -n lkvmb-g addr add $ns_guest/$prefix dev veth1 &&
		ip -n lkvmb-h link set veth0 up && ip -n lkvmb-g link set veth1 up &&
		ip -n lkvmb-h link set lo up && ip -n lkvmb-g link set lo up ||
		die "could not make the veth pair"
	if ip netns exec lkvmb-g iperf3 -s -D -B $ns_guest -I "$tmp/native.pid"; then
		sleep 1
		traffic native
		kill "$(cat "$tmp/native.pid")"
	else
		col_failed native "iperf3 -s in namespace lkvmb-g failed"
	fi
	ip netns del lkvmb-h
	ip netns del lkvmb-g
}

[ -r "$initrd" ] || die "$initrd missing (make)"
command -v iperf3 > /dev/null && command -v jq > /dev/null || die "no iperf3 or jq (make deps)"
rm -rf "$tmp" && mkdir -p "$tmp" || die "cannot make $tmp"
modprobe tun && modprobe vhost_net || die "tun or vhost_net did not load"
# kvm_amd gives SVM up only when unloaded: start without it.
modprobe -r kvm_amd 2>/dev/null
failed_lkvm=0 failed_qemu_vhost=0 failed_qemu_user=0 failed_native=0

echo "# net_bench: $rounds rounds of lkvm, qemu_vhost, qemu_user, native; iperf3 -t $secs"
round=1
while [ "$round" -le "$rounds" ]; do
	echo "# net round $round"
	insmod "$module" || die "$module did not load"
	column_lkvm
	rmmod lkvm_lite || die "lkvm_lite did not unload"
	modprobe kvm_amd || die "kvm_amd did not load"
	column_qemu qemu_vhost
	column_qemu qemu_user
	modprobe -r kvm_amd || die "kvm_amd did not unload"
	column_native
	round=$((round + 1))
done

for name in lkvm qemu_vhost qemu_user native; do
	eval "echo net.failed_rounds.$name \$failed_$name" >> "$raw"
done
