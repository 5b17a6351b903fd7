#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# run.sh [-k "SPEC..."] [-m MODES] [-r ROUNDS] [-s SCALE] [-w WORKLOADS] - the capchan
# benchmark run: build capbench, then for each kernel boot it twice in QEMU
# through selftests/vm/run.sh and collect its CSV:
#
#   icount  -icount shift=0,sleep=off, one vCPU: the guest clock advances
#           one nanosecond per executed instruction, so "ns/op" reads
#           "instructions per op" (user + kernel), nearly identical run
#           to run (bench/README: Determinism);
#   wall    plain TCG, one vCPU: real time, noisy and distorted by
#           emulation, so only ratios within the run are reported.
#
# Both boots run without slub_debug/KFENCE (CAPCHAN_VM_DEBUG=0), with
# max_caps=65535 so the lookup and revoke workloads reach 65000 and 100000
# capabilities.
#
# Options:
#   -k SPECS     kernels, blank-separated (default "6.1 6.12"; see
#                selftests/vm/kernel.sh)
#   -m MODES     boots per kernel, blank-separated (default "icount wall";
#                "icount" alone for a quick run)
#   -r ROUNDS    timed rounds per variant in the wall boot (default 7; the
#                best counts); the icount boot always uses 1
#   -s SCALE     multiply every op count (default 1)
#   -w LIST      workloads (default capmem,nop,read,orc,lookup,revoke)
#
# Output, in bench/results/ (CAPCHAN_BENCH_RESULTS overrides):
#   <spec>-icount.csv, <spec>-wall.csv   capbench's CSV, one per boot
#   <spec>-kernel.txt                    the exact kernel release booted
#   source.txt                           the capchan commit measured
#   *.svg, table.md                      from report.sh
# Serial logs go to <build>/bench/ (build: CAPCHAN_BUILD or <repo>/build).
# Exit status 0 when every boot passed and every CSV is complete.

set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
repo=$(CDPATH='' cd -- "$here/.." && pwd)
build=${CAPCHAN_BUILD:-$repo/build}
results=${CAPCHAN_BENCH_RESULTS:-$here/results}

say() {
	echo "capbench-run: $*"
}

usage() {
	echo "usage: run.sh [-k \"SPEC...\"] [-m \"MODES...\"] [-r ROUNDS] [-s SCALE] [-w WORKLOADS]" >&2
	exit 2
}

specs="6.1 6.12"
modes="icount wall"
rounds=7
scale=1
workloads=capmem,nop,read,orc,lookup,revoke
while getopts k:m:r:s:w: opt; do
	case $opt in
	k) specs=$OPTARG ;;
	m) modes=$OPTARG ;;
	r) rounds=$OPTARG ;;
	s) scale=$OPTARG ;;
	w) workloads=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
case $rounds in '' | *[!0-9]*) usage ;; esac
for mode in $modes; do
	case $mode in icount | wall) ;; *) usage ;; esac
done

t_start=$(date +%s)
say "building libcapchan and capbench"
make -s -C "$repo/libcapchan" lib
make -s -C "$here" capbench

mkdir -p "$results" "$build/bench"
# Which capchan was measured: the commit, and whether the parts that
# decide the numbers had uncommitted changes.
if rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null); then
	if [ -n "$(git -C "$repo" status --porcelain -- module uapi libcapchan 2>/dev/null)" ]; then
		rev="$rev (module/uapi/libcapchan modified)"
	fi
else
	rev=unknown
fi
echo "$rev" >"$results/source.txt"
# Each boot builds the module from the working tree: an edit during the run
# would mix versions between kernels, so notice one.
srcsum() {
	cat "$repo"/Kbuild "$repo"/module/Kbuild "$repo"/module/*.[ch] \
		"$repo"/uapi/linux/*.h "$repo"/libcapchan/*.[ch] 2>/dev/null | cksum
}
sum0=$(srcsum)
logs=$(CDPATH='' cd -- "$build/bench" && pwd)
status=0

# boot SPEC MODE: one VM run; leaves $results/SPEC-MODE.csv.
boot() {
	spec=$1
	mode=$2
	log=$logs/$spec-$mode.log
	args=$logs/$spec-$mode.args
	csv=$results/$spec-$mode.csv
	if [ "$mode" = icount ]; then
		echo "capbench -r 1 -s $scale -w $workloads" >"$args"
		# icount needs TCG even where KVM exists
		accel="-accel tcg"
		qargs="-icount shift=0,sleep=off"
	else
		echo "capbench -r $rounds -s $scale -w $workloads" >"$args"
		accel=${CAPCHAN_VM_ACCEL:-}
		qargs=
	fi
	say "$spec $mode: booting (log $log)"
	t0=$(date +%s)
	rc=0
	CAPCHAN_VM_SMP=1 CAPCHAN_VM_DEBUG=0 CAPCHAN_VM_ACCEL=$accel \
		CAPCHAN_QEMU_ARGS=$qargs CAPCHAN_VM_PROG_TIMEOUT=900 CAPCHAN_VM_START_TIMEOUT=600 \
		sh "$repo/selftests/vm/run.sh" -k "$spec" -t 1200 -q \
		-p max_caps=65535 -a "$args" -o "$log" "$here/capbench" \
		>"$log.verdict" 2>&1 || rc=$?
	t1=$(date +%s)
	# The CSV: capbench's header and rows, between its run/exit markers.
	# Kernel messages on the same console never match the row pattern.
	awk '
		/capchan-vm: run capbench/ { on = 1; next }
		/capchan-vm: exit capbench/ { on = 0 }
		on && /^workload,variant,batch,ops,ns_per_op,crossings_per_op$/ { print; next }
		on && /^[a-z0-9]+,[a-z0-9_-]+,[0-9]+,[0-9]+,-?[0-9.]+,[0-9.]+$/ { print }
	' "$log" >"$csv"
	rel=$(sed -n 's/.*capchan-vm: kernel //p' "$log" | head -n 1)
	[ -z "$rel" ] || echo "$rel" >"$results/$spec-kernel.txt"
	grep -a '^capbench: ' "$log" | sed "s/^/  [$spec $mode] /" || true
	if [ "$rc" -ne 0 ]; then
		say "$spec $mode: FAIL (vm verdict below)"
		sed 's/^/  /' "$log.verdict"
		status=1
	fi
	rows=$(($(wc -l <"$csv") - 1))
	say "$spec $mode: $rows rows in $csv ($((t1 - t0))s)"
	[ "$rows" -gt 0 ] || status=1
}

for spec in $specs; do
	for mode in $modes; do
		boot "$spec" "$mode"
	done
done

if [ "$(srcsum)" != "$sum0" ]; then
	say "FAIL module/uapi/libcapchan sources changed during the run: results mix versions; run again"
	status=1
fi
sh "$here/report.sh" "$results" || status=1
t_end=$(date +%s)
say "total $((t_end - t_start))s; results in $results"
exit $status
