#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the sanitized kernel the test VM can boot instead of Debian's:
# Debian's linux-source-6.1, x86_64 defconfig trimmed to what the test VM
# needs, plus KASAN, lockdep, atomic-sleep checks, kmemleak, UBSAN, list
# and object debugging. Built once into a cache directory keyed by the
# config recipe (configure() below), the source package's version and the
# compiler, and reused from then on. A cold build took 19 min on 2 CPUs.
#
# usage: build-debug-kernel.sh [-p]
#   -p  only print the cache directory, build nothing
# Prints the cache directory last. It holds: bzImage; build/, the kernel
# build directory for "make -C build M=..." module builds; modules/, the
# installed modules (lib/modules/KVER); kver, the kernel release; and
# build.log.
#
# Environment: LKVM_DEBUG_KERNEL_CACHE (default /var/cache/lkvm-lite),
# LINUX_SRC_TAR (default /usr/src/linux-source-6.1.tar.xz), JOBS (default
# the number of CPUs). The build runs at nice 19.
set -euo pipefail

cache_root=${LKVM_DEBUG_KERNEL_CACHE:-/var/cache/lkvm-lite}
tar=${LINUX_SRC_TAR:-/usr/src/linux-source-6.1.tar.xz}
jobs=${JOBS:-$(nproc)}

cfg() {
	"$src/scripts/config" --file "$dir/build/.config" "$@"
}

# The config, on top of defconfig; the cache key is made from this function.
configure() {
	# Nothing the test VM has or needs: it is a QEMU pc with virtio-9p, a
	# serial console and no NIC, disk, display, USB or sound.
	cfg -d WERROR -d LOCALVERSION_AUTO --set-str LOCALVERSION -lkvm-debug \
	    -d DRM -d SOUND -d USB_SUPPORT -d WLAN -d WIRELESS -d CFG80211 -d MAC80211 -d RFKILL \
	    -d NETFILTER -d ETHERNET -d NETCONSOLE -d ATA -d SCSI -d MD -d BLK_DEV_LOOP \
	    -d VIRTIO_BLK -d INPUT_JOYSTICK -d INPUT_TABLET -d INPUT_TOUCHSCREEN -d INPUT_MISC \
	    -d HID -d AGP -d PCCARD -d EFI -d HIBERNATION -d KEXEC -d CRASH_DUMP -d AUDIT \
	    -d SECURITY_SELINUX -d NFS_FS -d EXT4_FS -d ISO9660_FS -d MSDOS_FS -d VFAT_FS \
	    -d AMD_IOMMU -d INTEL_IOMMU -d MACINTOSH_DRIVERS -d X86_PLATFORM_DEVICES -d I2C \
	    -d WATCHDOG -d NUMA -d IA32_EMULATION -d VIRTIO_INPUT -d HOTPLUG_PCI -d CONNECTOR \
	    -d IP_MROUTE -d IP_PNP -d XFRM_USER -d NETLABEL -d MODULE_SIG

	# What it needs built in: virtio-pci, 9p over virtio, overlayfs, tmpfs,
	# devtmpfs, the 8250 console, the MSR driver; kvm_amd as a module (the
	# tests load and unload it); tracing, perf and BPF with BTF for the
	# module's tracepoints and lkvm-lite trace.
	cfg -e PCI -e VIRTIO_MENU -e VIRTIO_PCI -e VIRTIO_PCI_LEGACY -e NET -e NET_9P \
	    -e NET_9P_VIRTIO -e 9P_FS -e OVERLAY_FS -e TMPFS -e DEVTMPFS -e SERIAL_8250 \
	    -e SERIAL_8250_CONSOLE -e X86_MSR -e HOTPLUG_CPU -e VIRTUALIZATION -m KVM -m KVM_AMD \
	    -d KVM_INTEL -e VETH -e FTRACE -e KPROBES -e KPROBE_EVENTS -e PERF_EVENTS \
	    -e BPF_SYSCALL -e BPF_JIT -e DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT -e DEBUG_INFO_BTF \
	    -e DEBUG_FS -e MAGIC_SYSRQ -e IKCONFIG_PROC -e IKCONFIG

	# The sanitizers.
	cfg -e KASAN -e KASAN_GENERIC -e KASAN_INLINE -e KASAN_VMALLOC \
	    -e PROVE_LOCKING -e DEBUG_ATOMIC_SLEEP \
	    -e DEBUG_KMEMLEAK -d DEBUG_KMEMLEAK_DEFAULT_OFF -d DEBUG_KMEMLEAK_AUTO_SCAN \
	    --set-val DEBUG_KMEMLEAK_MEM_POOL_SIZE 65536 \
	    -e UBSAN -e UBSAN_BOUNDS -e UBSAN_SHIFT -e UBSAN_BOOL -e UBSAN_ENUM -d UBSAN_TRAP \
	    -e DEBUG_LIST -e DEBUG_PLIST -e DEBUG_SG -e DEBUG_NOTIFIERS \
	    -e DEBUG_OBJECTS -e DEBUG_OBJECTS_FREE -e DEBUG_OBJECTS_TIMERS -e DEBUG_OBJECTS_WORK \
	    -e DEBUG_OBJECTS_RCU_HEAD -e DEBUG_OBJECTS_PERCPU_COUNTER \
	    --set-val DEBUG_OBJECTS_ENABLE_DEFAULT 1 -e DEBUG_VM -e PANIC_ON_OOPS
}

[ -r "$tar" ] || { echo "build-debug-kernel: $tar missing (make deps)" >&2; exit 1; }
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || stat -c %Y "$tar")
key=$( { declare -f configure; echo "$srcver"; gcc --version | head -n1; } | sha256sum | cut -c1-16)
dir=$cache_root/debug-kernel-$key

if [ "${1:-}" = -p ]; then
	echo "$dir"
	exit 0
fi
if [ -e "$dir/done" ]; then
	echo "$dir"
	exit 0
fi
for tool in flex bison bc pahole; do
	command -v "$tool" > /dev/null ||
		{ echo "build-debug-kernel: $tool missing (make deps)" >&2; exit 1; }
done

rm -rf "$dir"
mkdir -p "$dir/build"
start=$(date +%s)
echo "build-debug-kernel: building into $dir (log: $dir/build.log)" >&2
exec 3>&2 > "$dir/build.log" 2>&1
trap 'echo "build-debug-kernel: failed; the end of $dir/build.log:" >&3; tail -n 30 "$dir/build.log" >&3' ERR

tar -xJf "$tar" -C "$dir"
src=$dir/linux-source-6.1
make_k() {
	nice -n 19 make -C "$src" O="$dir/build" -j"$jobs" "$@"
}

make_k defconfig
configure
make_k olddefconfig

# olddefconfig drops what it cannot satisfy: make sure nothing we rely on went.
missing=
for opt in KASAN PROVE_LOCKING DEBUG_ATOMIC_SLEEP DEBUG_KMEMLEAK UBSAN DEBUG_LIST \
	   DEBUG_OBJECTS VIRTIO_PCI NET_9P_VIRTIO 9P_FS OVERLAY_FS DEVTMPFS \
	   SERIAL_8250_CONSOLE DEBUG_INFO_BTF BPF_SYSCALL FTRACE X86_MSR; do
	grep -q "^CONFIG_$opt=y" "$dir/build/.config" || missing="$missing $opt"
done
for opt in KVM KVM_AMD; do
	grep -q "^CONFIG_$opt=m" "$dir/build/.config" || missing="$missing $opt"
done
if [ -n "$missing" ]; then
	echo "build-debug-kernel: the config lost:$missing" >&3
	exit 1
fi

make_k bzImage modules
make_k INSTALL_MOD_PATH="$dir/modules" INSTALL_MOD_STRIP=1 modules_install
make_k -s --no-print-directory kernelrelease > "$dir/kver"
kver=$(cat "$dir/kver")
cp "$dir/build/arch/x86/boot/bzImage" "$dir/bzImage"
# The installed modules' build link points at our build directory.
ln -sfn "$dir/build" "$dir/modules/lib/modules/$kver/build"
# Out-of-tree builds need the tree's headers, scripts, Module.symvers and
# vmlinux (for the module's BTF), not its objects.
find "$dir/build" -name '*.o' ! -path '*/scripts/*' ! -path '*/tools/*' -delete
echo "cold build took $(($(date +%s) - start)) s on $jobs CPUs" | tee "$dir/build-time"
touch "$dir/done"
echo "$dir" >&3
