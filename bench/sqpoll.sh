#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# sqpoll.sh [-k SPEC] [-r ROUNDS] [-s SCALE] - poll threads (capbench -w sqpoll),
# and INVOKE from 1, 2, 4 threads on one channel (-w threads):
# capchan's CAPCHAN_SETUP_SQPOLL beside io_uring's IORING_SETUP_SQPOLL, NOP
# and the 4 KiB read, the submitter pinned to CPU 0 and every poll thread
# to CPU 1, from two boots of a two-CPU guest:
#
#   icount  -icount shift=0,sleep=off: guest nanoseconds are instructions
#           of both vCPUs together (QEMU runs them in turn on one host
#           thread).  QEMU's icount hangs bringing up the second vCPU at
#           boot, so this boot has maxcpus=1 and capbench onlines CPU 1
#           itself.  Crossings per op are exact here.  Ops: SCALE/8 of
#           capbench's (a poll thread's batch costs a whole round-robin
#           slice here, whatever the batch: bench/README).
#   wall    plain TCG, two vCPUs, real time: ops/s = 1e9 / ns_per_op.
#           ROUNDS (default 5) timed rounds, the best kept.
#
# Writes bench/results/sqpoll-<spec>.csv ("mode,workload,variant,batch,
# ops,ns_per_op,crossings_per_op") and sqpoll-<spec>-kernel.txt (the
# release booted), and prints the CSV.  bench/README says how to read it.
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
repo=$(CDPATH='' cd -- "$here/.." && pwd)
build=${CAPCHAN_BUILD:-$repo/build}
spec=6.1
scale=1
rounds=5
while getopts k:r:s: opt; do
	case $opt in
	k) spec=$OPTARG ;;
	r) rounds=$OPTARG ;;
	s) scale=$OPTARG ;;
	*) echo "usage: sqpoll.sh [-k SPEC] [-r ROUNDS] [-s SCALE]" >&2; exit 2 ;;
	esac
done

make -s -C "$repo/libcapchan" lib
make -s -C "$here" capbench
mkdir -p "$build/bench" "$here/results"

out=$here/results/sqpoll-$spec.csv
echo "mode,workload,variant,batch,ops,ns_per_op,crossings_per_op" >"$out.tmp"
# boot MODE ARGS QEMU_ARGS APPEND
boot() {
	log=$build/bench/sqpoll-$spec-$1.log
	echo "capbench $2 -w sqpoll,threads" >"$build/bench/sqpoll-$1.args"
	CAPCHAN_VM_SMP=2 CAPCHAN_VM_DEBUG=0 CAPCHAN_VM_ACCEL="-accel tcg" \
		CAPCHAN_QEMU_ARGS=$3 CAPCHAN_VM_APPEND=$4 \
		CAPCHAN_VM_PROG_TIMEOUT=900 CAPCHAN_VM_START_TIMEOUT=600 \
		sh "$repo/selftests/vm/run.sh" -k "$spec" -t 1200 -q \
		-a "$build/bench/sqpoll-$1.args" -o "$log" "$here/capbench" \
		>"$log.verdict" 2>&1 || { cat "$log.verdict"; exit 1; }
	awk -v m="$1" '
		/capchan-vm: run capbench/ { on = 1; next }
		/capchan-vm: exit capbench/ { on = 0 }
		on && /^(sqpoll-[a-z0-9]+|threads),[a-z0-9_-]+,[0-9]+,[0-9]+,-?[0-9.]+,[0-9.]+$/ { print m "," $0 }' \
		"$log" >>"$out.tmp"
	sed -n 's/.*capchan-vm: kernel //p' "$log" | head -n 1 >"$here/results/sqpoll-$spec-kernel.txt"
	grep -a '^capbench: ' "$log" | sed "s/^/  [$1] /" || true
}
boot icount "-r 1 -s $(awk -v s="$scale" 'BEGIN { print s / 8 }')" \
	"-icount shift=0,sleep=off" maxcpus=1
boot wall "-r $rounds -s $scale" "" ""
mv "$out.tmp" "$out"
cat "$out"
