#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bench, on the host: merge the figures a benchmark run wrote ("name
# value" lines) into bench.json, one flat JSON object of name -> number,
# keeping the names other benchmarks wrote there and replacing ours; then
# print our figures as a table, lkvm beside its peer. A name ending in
# .lkvm is our side of a figure, one ending in .kvm (kvm_amd) or .qemu_kvm
# (QEMU on kvm_amd) the peer's; the table pairs them by what comes before.
# A name ending in .lkvm_traced (lkvm_lite with lkvm-lite trace attached)
# goes in a second table, beside the same figure untraced. The network
# figures (net.*) have four columns, lkvm, qemu_vhost, qemu_user and
# native, and a table of their own, followed by why a column failed if
# FAILED (one reason a line) says so.
#
# usage: bench-json.sh FIGURES BENCH_JSON [FAILED]

figures=${1:?usage: bench-json.sh FIGURES BENCH_JSON [FAILED]}
json=${2:?usage: bench-json.sh FIGURES BENCH_JSON [FAILED]}
failed=${3:-}

[ -s "$figures" ] || { echo "bench-json: no figures in $figures" >&2; exit 1; }
if ! awk 'NF != 2 || $2 !~ /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/ { exit 1 }' "$figures"; then
	echo "bench-json: $figures has a line that is not \"name number\"" >&2
	exit 1
fi

# What bench.json holds now, as "name value" lines (it is flat: every
# "name": number pair is a figure).
old=$(mktemp)
trap 'rm -f "$old" "$json.tmp"' EXIT
if [ -e "$json" ]; then
	grep -o '"[^"]*"[[:space:]]*:[[:space:]]*-\{0,1\}[0-9][-+0-9.eE]*' "$json" |
		sed 's/^"\([^"]*\)"[[:space:]]*:[[:space:]]*/\1 /' > "$old"
fi

awk '
	FNR == NR { val[$1] = $2; next }
	{ val[$1] = $2 }
	END {
		n = 0
		for (k in val)
			keys[++n] = k
		for (a = 2; a <= n; a++)
			for (b = a; b > 1 && keys[b - 1] > keys[b]; b--) {
				t = keys[b]; keys[b] = keys[b - 1]; keys[b - 1] = t
			}
		printf "{\n"
		for (i = 1; i <= n; i++)
			printf "  \"%s\": %s%s\n", keys[i], val[keys[i]], i < n ? "," : ""
		printf "}\n"
	}' "$old" "$figures" > "$json.tmp" && mv "$json.tmp" "$json" || exit 1

awk '
	/^net\./ { next }
	{
		side = $1; sub(/.*\./, "", side)
		fig = $1; sub(/\.[^.]*$/, "", fig)
		if (side == "lkvm_traced") { traced[fig] = $2; next }
		if (side == "kvm" || side == "qemu_kvm") { peer[fig] = side; side = "kvm" }
		if (side != "lkvm" && side != "kvm") { side = "lkvm"; fig = $1 }
		if (!(fig in seen)) { seen[fig] = 1; order[++n] = fig }
		val[fig, side] = $2
	}
	END {
		if (!n)
			exit
		printf "%-36s %12s %12s %10s  %s\n", "figure", "lkvm", "peer", "lkvm/peer", "peer"
		for (i = 1; i <= n; i++) {
			f = order[i]
			l = ((f, "lkvm") in val) ? val[f, "lkvm"] : "-"
			k = ((f, "kvm") in val) ? val[f, "kvm"] : "-"
			r = (l != "-" && k != "-" && k + 0 != 0) ? sprintf("%.2f", l / k) : "-"
			p = (f in peer) ? peer[f] : "-"
			printf "%-36s %12s %12s %10s  %s\n", f, l, k, r, p
		}
		# lkvm_lite with "lkvm-lite trace" attached, beside itself without.
		first = 1
		for (i = 1; i <= n; i++) {
			f = order[i]
			if (!(f in traced) || !((f, "lkvm") in val) || val[f, "lkvm"] + 0 == 0)
				continue
			if (first)
				printf "\n%-36s %12s %12s %10s\n", "lkvm_lite, traced", "untraced",
				       "traced", "ratio"
			first = 0
			printf "%-36s %12s %12s %10.2f\n", f, val[f, "lkvm"], traced[f],
			       traced[f] / val[f, "lkvm"]
		}
	}' "$figures" || exit 1

# The network benchmark: one row a figure, one column a VMM (or none).
awk '
	!/^net\./ { next }
	{
		col = $1; sub(/.*\./, "", col)
		fig = $1; sub(/\.[^.]*$/, "", fig)
		if (!(fig in seen)) { seen[fig] = 1; order[++n] = fig }
		val[fig, col] = $2
	}
	END {
		if (!n)
			exit
		split("lkvm qemu_vhost qemu_user native", cols, " ")
		printf "\n%-30s %11s %11s %11s %11s\n", "network", cols[1], cols[2], cols[3], cols[4]
		for (i = 1; i <= n; i++) {
			printf "%-30s", order[i]
			# A figure missing from a column that failed in a round
			# failed with it; the reasons come below the table.
			for (c = 1; c <= 4; c++) {
				v = "-"
				if ((order[i], cols[c]) in val)
					v = val[order[i], cols[c]]
				else if (("net.failed_rounds", cols[c]) in val &&
					 val["net.failed_rounds", cols[c]] + 0 > 0)
					v = "failed"
				printf " %11s", v
			}
			printf "\n"
		}
	}' "$figures" || exit 1
if [ -n "$failed" ] && [ -s "$failed" ]; then
	echo
	sed 's/^/failed: /' "$failed"
fi
echo "bench: figures written to $json"
