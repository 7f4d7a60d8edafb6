# SPDX-License-Identifier: GPL-2.0
#
# lkvm-lite: the module, the launcher, the selftests and the test VM.
#
#   make            build everything (module at W=1, launcher, selftests)
#   make check      install what is missing, build, run all selftests in the test VM
#   make check-sanitized  the same on a KASAN/lockdep/UBSAN/kmemleak kernel (built once)
#   make run        boot a Linux guest with lkvm-lite in the test VM, show its console
#   make vm CMD=..  run one shell command in the test VM (T=prog: one selftest)
#   make bench      benchmarks in the test VM, lkvm_lite beside kvm_amd; writes bench.json
#   make style      checkpatch.pl over kernel/ and uapi/
#   make deps       install the Debian packages the above need (as root)

KVER ?= $(shell . $(CURDIR)/selftests/vm/config.sh && lkvm_vm_kver)
KDIR ?= /lib/modules/$(KVER)/build
BUILD := $(CURDIR)/build
LINUX_SRC_TAR ?= /usr/src/linux-source-6.1.tar.xz
LINUX_SRC := $(BUILD)/linux-src
# Files taken from Debian's linux-source-6.1 at build time; never committed.
LINUX_SRC_FILES := tools/testing/selftests/kselftest.h \
		   tools/testing/selftests/kselftest_harness.h \
		   scripts/checkpatch.pl scripts/spelling.txt scripts/const_structs.checkpatch \
		   scripts/extract-vmlinux
INITRAMFS := $(BUILD)/vm/initramfs.cpio.gz

all: module launcher selftests initramfs

deps:
	@tools/install-deps.sh

# The module builds with W=1 and must stay free of warnings.
module:
	@test -d "$(KDIR)" || { echo "no kernel headers at '$(KDIR)': run make deps" >&2; exit 1; }
	@mkdir -p $(BUILD)
	@$(MAKE) -C $(KDIR) M=$(CURDIR)/kernel W=1 modules > $(BUILD)/module.log 2>&1; \
		rc=$$?; cat $(BUILD)/module.log; test $$rc = 0
	@! grep -E 'warning:|error:' $(BUILD)/module.log || \
		{ echo "the module build has warnings" >&2; exit 1; }
	@$(MAKE) --no-print-directory module-btf

# BTF for the module, so BPF programs can use its types (Documentation/
# tracing.rst). Kbuild makes it only next to a vmlinux, which Debian's
# headers lack: its base is the vmlinux inside the kernel image itself.
VMLINUX_BTF := $(BUILD)/vmlinux-$(KVER)
$(VMLINUX_BTF): $(LINUX_SRC)/.stamp
	@test -r /boot/vmlinuz-$(KVER) || { echo "/boot/vmlinuz-$(KVER) missing: run make deps" >&2; exit 1; }
	$(LINUX_SRC)/scripts/extract-vmlinux /boot/vmlinuz-$(KVER) > $@.tmp
	@readelf -S $@.tmp | grep -q '\.BTF' || { echo "no BTF in /boot/vmlinuz-$(KVER)" >&2; exit 1; }
	mv $@.tmp $@

module-btf: $(VMLINUX_BTF)
	@readelf -S kernel/lkvm_lite.ko | grep -q '\.BTF' || \
		pahole -J --btf_base $(VMLINUX_BTF) kernel/lkvm_lite.ko

launcher:
	$(MAKE) -C tools/lkvm-lite

$(LINUX_SRC)/.stamp: $(LINUX_SRC_TAR) Makefile
	@test -r "$<" || { echo "$< missing: run make deps" >&2; exit 1; }
	rm -rf $(LINUX_SRC) && mkdir -p $(LINUX_SRC)
	tar -xJf $< -C $(LINUX_SRC) --strip-components=1 \
		$(addprefix linux-source-6.1/,$(LINUX_SRC_FILES))
	touch $@

selftests: $(LINUX_SRC)/.stamp
	$(MAKE) -C selftests OUT=$(BUILD)/selftests KSFT_DIR=$(LINUX_SRC)/tools/testing/selftests

initramfs: $(INITRAMFS)

$(INITRAMFS): selftests/vm/mkinitramfs.sh selftests/vm/initramfs-init selftests/vm/config.sh
	@mkdir -p $(dir $@)
	selftests/vm/mkinitramfs.sh $@

# check, run and vm install missing packages first, then build in a fresh
# make so that KVER and KDIR see what was just installed.
check: deps
	@$(MAKE) --no-print-directory all style
	selftests/check.sh $(T)

# make check on the sanitized kernel (KASAN, lockdep, UBSAN, kmemleak...),
# built once from linux-source-6.1 and cached in /var/cache/lkvm-lite.
check-sanitized: deps-sanitized
	@$(MAKE) --no-print-directory all style
	selftests/check-sanitized.sh $(T)

deps-sanitized:
	@tools/install-deps.sh --sanitized

# Boot the launcher's default guest (the test VM's own kernel and the
# launcher's built-in initramfs) and show its console; ARGS adds options.
run: deps
	@$(MAKE) --no-print-directory all
	selftests/vm/run.sh -t 600 -- \
		'insmod kernel/lkvm_lite.ko && tools/lkvm-lite/lkvm-lite info && \
		 tools/lkvm-lite/lkvm-lite run $(ARGS)'

CMD ?= selftests/run-in-vm.sh svm $(T)
vm: deps
	@$(MAKE) --no-print-directory all
	selftests/vm/run.sh -t $(or $(TIMEOUT),600) -- '$(CMD)'

# The benchmarks run in their own output directory so that a make vm or
# make check at the same time does not clobber their figures, on one vCPU:
# single-threaded TCG runs all vCPUs round robin on one host thread, and a
# second one only adds noise to an exit round trip. BENCH="exit boot net"
# or any of them (BENCH=net) picks the parts to run.
BENCH_OUT := $(BUILD)/vm/bench
bench: deps
	@$(MAKE) --no-print-directory all
	@rm -f $(BENCH_OUT)/bench.txt $(BENCH_OUT)/bench-failed.txt
	selftests/vm/run.sh -c 1 -t 2400 -o $(BENCH_OUT) -- BENCH='$(BENCH)' selftests/bench/run-bench.sh
	@selftests/bench/bench-json.sh $(BENCH_OUT)/bench.txt $(CURDIR)/bench.json \
		$(BENCH_OUT)/bench-failed.txt

# kernel/trace.h is written in TRACE_EVENT()'s macro language, which
# checkpatch reads as plain C and cannot judge (as with Linux's own).
STYLE_EXEMPT := kernel/trace.h
style: $(LINUX_SRC)/.stamp
	$(LINUX_SRC)/scripts/checkpatch.pl --no-tree --strict --max-line-length=100 --quiet \
		--ignore FILE_PATH_CHANGES -f \
		$(filter-out %.mod.c $(STYLE_EXEMPT),$(wildcard kernel/*.c kernel/*.h uapi/linux/*.h))

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kernel clean || true
	$(MAKE) -C tools/lkvm-lite clean
	rm -rf $(BUILD)

.PHONY: all deps deps-sanitized module module-btf launcher selftests initramfs check \
	check-sanitized run vm bench style clean
