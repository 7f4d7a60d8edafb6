#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Print "program count VM" for each kselftest-harness program given: the
# number of tests it registers, and which test VM runs it (svm: the usual
# one; nosvm: the one whose CPU has no SVM).
#
# usage: count-tests.sh VM PROGRAM... The harness keeps one static
# __test_metadata object per test, named _<fixture>_<test>_object (fixtures
# themselves are _<fixture>_fixture_object). Fixture variants would
# multiply the count and are not used here; refuse them rather than
# miscount.
set -euo pipefail

vm=${1:?usage: count-tests.sh VM PROGRAM...}
shift
for prog in "$@"; do
	syms=$(nm "$prog")
	if grep -q '_variant_object$\|__fixture_variant_metadata' <<< "$syms"; then
		echo "count-tests: $prog uses fixture variants; teach count-tests.sh" >&2
		exit 1
	fi
	n=$(awk '$2 == "d" && $3 ~ /^_.*_object$/ && $3 !~ /_fixture_object$/' <<< "$syms" | wc -l)
	if [ "$n" -eq 0 ]; then
		echo "count-tests: $prog registers no tests" >&2
		exit 1
	fi
	echo "$(basename "$prog") $n $vm"
done
