#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# phases.sh [-k SPEC] [-s SCALE] - where an ENTER and an OPEN spend their
# instructions (capbench -w phases): variants that stop at successive
# phases of the same path, batch 1, one vCPU under QEMU icount
# (instructions per op).  Writes bench/results/phases-<spec>.csv
# ("workload,variant,batch,ops,ns_per_op,crossings_per_op") and
# phases-<spec>-kernel.txt, and prints the CSV.  bench/README, "Phases",
# names the phases.
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
repo=$(CDPATH='' cd -- "$here/.." && pwd)
build=${CAPCHAN_BUILD:-$repo/build}
spec=6.1
scale=1
while getopts k:s: opt; do
	case $opt in
	k) spec=$OPTARG ;;
	s) scale=$OPTARG ;;
	*) echo "usage: phases.sh [-k SPEC] [-s SCALE]" >&2; exit 2 ;;
	esac
done

make -s -C "$repo/libcapchan" lib
make -s -C "$here" capbench
mkdir -p "$build/bench" "$here/results"

out=$here/results/phases-$spec.csv
log=$build/bench/phases-$spec.log
echo "capbench -r 1 -s $scale -w phases" >"$build/bench/phases.args"
CAPCHAN_VM_SMP=1 CAPCHAN_VM_DEBUG=0 CAPCHAN_VM_ACCEL="-accel tcg" \
	CAPCHAN_QEMU_ARGS="-icount shift=0,sleep=off" \
	CAPCHAN_VM_PROG_TIMEOUT=900 CAPCHAN_VM_START_TIMEOUT=600 \
	sh "$repo/selftests/vm/run.sh" -k "$spec" -t 1200 -q \
	-a "$build/bench/phases.args" -o "$log" "$here/capbench" \
	>"$log.verdict" 2>&1 || { cat "$log.verdict"; exit 1; }
awk '
	/capchan-vm: run capbench/ { on = 1; next }
	/capchan-vm: exit capbench/ { on = 0 }
	on && /^workload,variant,batch,ops,ns_per_op,crossings_per_op$/ { print; next }
	on && /^phases,[a-z0-9_-]+,[0-9]+,[0-9]+,-?[0-9.]+,[0-9.]+$/ { print }' \
	"$log" >"$out.tmp"
mv "$out.tmp" "$out"
sed -n 's/.*capchan-vm: kernel //p' "$log" | head -n 1 >"$here/results/phases-$spec-kernel.txt"
grep -a '^capbench: ' "$log" || true
cat "$out"
