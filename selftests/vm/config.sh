# SPDX-License-Identifier: GPL-2.0
# Sourced by the test-VM scripts: which kernel the test VM runs.
#
# The test VM runs Debian's packaged kernel, the one linux-image-amd64
# points at; the module is built against the matching headers.

lkvm_vm_kver() {
	local dep

	dep=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null |
	      grep -o 'linux-image-[0-9][^ ,]*-amd64' | head -n1)
	if [ -n "$dep" ] && [ -e "/boot/vmlinuz-${dep#linux-image-}" ]; then
		echo "${dep#linux-image-}"
		return
	fi
	# shellcheck disable=SC2012
	ls /boot/vmlinuz-*-amd64 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -V | tail -n1
}

# The modules the test VM's initramfs loads, in order, to reach the host's
# root filesystem over virtio-9p and lay a tmpfs overlay on it (a kernel
# with them built in sets it empty).
LKVM_VM_MODULES=${LKVM_VM_MODULES-"virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev
virtio_pci netfs fscache 9pnet 9pnet_virtio 9p overlay"}
