#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# contend.sh [-k SPEC] [-m MODULE_SRC] [-l LABEL] [-W] - another user's
# DERIVE+CLOSE latency while a 100000-node tree is revoked and re-revoked
# (capbench -w contend), one vCPU, under QEMU icount (instructions, so the
# figures repeat to the digit); with -W, two vCPUs and wall-clock time
# (QEMU's icount does not boot with two), so the other user runs beside the
# revoker and waits only for what it shares with it.
#
#   -k SPEC        kernel (selftests/vm/kernel.sh; default 6.1)
#   -m MODULE_SRC  a tree with Kbuild, VERSION, module/ and uapi/ to build the module
#                  from (default: this one), e.g. a worktree of an older
#                  commit, to measure "before"
#   -l LABEL       what to call this module in the output (default: the
#                  commit of MODULE_SRC)
#   -W             two vCPUs, wall clock (noisy: compare within one machine)
# Appends "label,mode,kernel,workload,variant,batch,ops,ns_per_op,crossings"
# rows to bench/results/contend.csv and prints them.
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
repo=$(CDPATH='' cd -- "$here/.." && pwd)
build=${CAPCHAN_BUILD:-$repo/build}
spec=6.1
modsrc=$repo
label=
smp=1
qargs="-icount shift=0,sleep=off"
mode=icount
while getopts k:m:l:W opt; do
	case $opt in
	k) spec=$OPTARG ;;
	m) modsrc=$(CDPATH='' cd -- "$OPTARG" && pwd) ;;
	l) label=$OPTARG ;;
	W) smp=2 qargs= mode=wall ;;
	*) echo "usage: contend.sh [-k SPEC] [-m MODULE_SRC] [-l LABEL] [-W]" >&2; exit 2 ;;
	esac
done
[ -n "$label" ] || label=$(git -C "$modsrc" rev-parse --short HEAD 2>/dev/null || echo unknown)

make -s -C "$repo/libcapchan" libcapchan.a
make -s -C "$here" capbench
mkdir -p "$build/bench" "$here/results"
log=$build/bench/contend-$spec-$label-$mode.log
echo "capbench -w contend" >"$build/bench/contend.args"
# a build folder of its own, so another module source never mixes with ours
CAPCHAN_BUILD=$build/contend-$label CAPCHAN_MODULE_SRC=$modsrc \
	CAPCHAN_VM_SMP=$smp CAPCHAN_VM_DEBUG=0 CAPCHAN_VM_ACCEL="-accel tcg" \
	CAPCHAN_QEMU_ARGS=$qargs CAPCHAN_VM_PROG_TIMEOUT=900 \
	CAPCHAN_VM_START_TIMEOUT=600 \
	sh "$repo/selftests/vm/run.sh" -k "$spec" -t 1200 -q -p max_caps=65535 \
	-a "$build/bench/contend.args" -o "$log" "$here/capbench" >"$log.verdict" 2>&1 ||
	{ cat "$log.verdict"; exit 1; }
kernel=$(sed -n 's/.*capchan-vm: kernel //p' "$log" | head -n 1)
out=$(awk -v l="$label" -v m="$mode" -v k="$kernel" '
	/capchan-vm: run capbench/ { on = 1; next }
	/capchan-vm: exit capbench/ { on = 0 }
	on && /^contend,/ { print l "," m "," k "," $0 }' "$log")
[ -n "$out" ] || { echo "contend.sh: no rows (see $log)" >&2; exit 1; }
[ -f "$here/results/contend.csv" ] ||
	echo "label,mode,kernel,workload,variant,batch,ops,ns_per_op,crossings_per_op" >"$here/results/contend.csv"
echo "$out" >>"$here/results/contend.csv"
echo "$out"
grep -a '^capbench: ' "$log" || true
