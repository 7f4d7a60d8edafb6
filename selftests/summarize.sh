#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Judge a selftest run from the TAP that run-in-vm.sh printed in each test
# VM and the manifest of what was built. Prints per-program counts and the
# closing line "N passed, N failed, N skipped"; exits non-zero if any test
# failed, the module did not load in the usual test VM, the kernel reported
# a bug, a program hung (run-in-vm.sh killed it), fewer tests ran than the
# manifest says were built, a program asked for is not in the manifest, or
# a test skipped: the test VM provides everything the tests need, so a
# skip there means it broke
# (LKVM_CHECK_ALLOW_SKIP=1 accepts skips, for a hand-made environment).
#
# usage: summarize.sh MANIFEST OUTPUT.log... -- [PROGRAM...]
set -uo pipefail

manifest=${1:?usage: summarize.sh MANIFEST OUTPUT.log... -- [PROGRAM...]}
shift
logs=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	logs+=("$1")
	shift
done
[ $# -gt 0 ] && shift
only=" $* "
for log in "${logs[@]}"; do
	[ -e "$log" ] || : > "$log"
done

awk -v only="$only" -v allow_skip="${LKVM_CHECK_ALLOW_SKIP:-0}" '
FNR == NR {
	if (only == "  " || index(only, " " $1 " ")) {
		want[$1] = $2
		nwant++
		if ($3 == "svm")
			need_module = 1
	}
	next
}
/^# selftest: / { prog = $3; started[prog] = 1; next }
/^# selftest-exit: / { secs[$3] = $5; next }
/^# selftest-hung: / { hung[$3] = $0; next }
/^LKVM-MODULE-LOADED/ { loaded = 1; next }
/^LKVM-KERNEL-BUG/ { bug = 1; next }
/^Bail out!/ { bail = bail $0 "\n"; next }
/^not ok [0-9]+/ { if (prog != "") { ran[prog]++; fail[prog]++ } next }
/^ok [0-9]+/ {
	if (prog == "")
		next
	ran[prog]++
	if ($0 ~ /# (SKIP|skip)/)
		skip[prog]++
	else
		pass[prog]++
	next
}
END {
	ok = 1
	n = split(only, asked, " ")
	for (i = 1; i <= n; i++) {
		if (!(asked[i] in want)) {
			printf "summary: no selftest program named %s\n", asked[i]
			ok = 0
		}
	}
	if (nwant == 0) {
		printf "summary: no tests selected\n"
		ok = 0
	}
	if (need_module && !loaded) {
		printf "summary: the module did not load in the test VM\n"
		ok = 0
	}
	if (bail != "") {
		printf "summary: %s", bail
		ok = 0
	}
	if (bug) {
		printf "summary: the kernel reported a bug during the run (see the log above)\n"
		ok = 0
	}
	for (p in want) {
		P += pass[p]; F += fail[p]; S += skip[p]
		missing = want[p] - ran[p]
		printf "summary: %-24s %2d built, %2d ran: %d passed, %d failed, %d skipped%s\n",
		       p, want[p], ran[p], pass[p], fail[p], skip[p],
		       p in secs ? " in " secs[p] : ""
		if (p in hung) {
			sub(/^# selftest-hung: /, "", hung[p])
			printf "summary: %s (its kernel stacks are in the log)\n", hung[p]
			ok = 0
		}
		if (missing > 0) {
			printf "summary: %s: %d of its tests did not run%s\n", p, missing,
			       started[p] ? "" : " (program never started)"
			F += missing
			ok = 0
		} else if (missing < 0) {
			printf "summary: %s: more results than tests built\n", p
			ok = 0
		}
	}
	if (F > 0)
		ok = 0
	if (S > 0 && allow_skip != "1") {
		printf "summary: %d tests skipped: the test VM should provide all they need\n", S
		ok = 0
	}
	printf "%d passed, %d failed, %d skipped\n", P, F, S
	exit ok ? 0 : 1
}' "$manifest" "${logs[@]}"
