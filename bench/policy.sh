#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# policy.sh [-k SPEC] - what the policy hooks cost (capbench -w policy):
# NOP through INVOKE and the rings and a 4 KiB ring READ, in instructions
# per op under QEMU icount (one vCPU), with no policy, with the cheapest
# eBPF program on capchan_authorize and with an allow-all channel filter;
# then the same "no policy" rows from a second boot whose module has the
# hooks compiled out (-DCAPCHAN_NO_POLICY).  Writes bench/results/
# policy-<kernel>.csv ("module,workload,variant,batch,ops,ns_per_op,
# crossings_per_op") and prints it.
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
repo=$(CDPATH='' cd -- "$here/.." && pwd)
build=${CAPCHAN_BUILD:-$repo/build}
spec=6.1
while getopts k: opt; do
	case $opt in
	k) spec=$OPTARG ;;
	*) echo "usage: policy.sh [-k SPEC]" >&2; exit 2 ;;
	esac
done

make -s -C "$repo/libcapchan" libcapchan.a
make -s -C "$here" capbench
mkdir -p "$build/bench" "$here/results"

# the same sources with the hooks compiled out
noh=$build/bench/no-policy-src
rm -rf "$noh"
mkdir -p "$noh"
cp -r "$repo/Kbuild" "$repo/VERSION" "$repo/module" "$repo/uapi" "$noh/"
rm -f "$noh"/module/*.o "$noh"/module/*.ko "$noh"/module/.*.cmd
echo 'ccflags-y += -DCAPCHAN_NO_POLICY' >>"$noh/module/Kbuild"

out=$here/results/policy-$spec.csv
echo "module,workload,variant,batch,ops,ns_per_op,crossings_per_op" >"$out.tmp"
# boot LABEL MODULE_SRC WORKLOAD
boot() {
	log=$build/bench/policy-$spec-$1.log
	echo "capbench -r 1 -w $3" >"$build/bench/policy.args"
	CAPCHAN_BUILD=$build/policy-$1 CAPCHAN_MODULE_SRC=$2 \
		CAPCHAN_VM_SMP=1 CAPCHAN_VM_DEBUG=0 CAPCHAN_VM_ACCEL="-accel tcg" \
		CAPCHAN_QEMU_ARGS="-icount shift=0,sleep=off" \
		CAPCHAN_VM_PROG_TIMEOUT=900 CAPCHAN_VM_START_TIMEOUT=600 \
		sh "$repo/selftests/vm/run.sh" -k "$spec" -t 1200 -q \
		-a "$build/bench/policy.args" -o "$log" "$here/capbench" \
		>"$log.verdict" 2>&1 || { cat "$log.verdict"; exit 1; }
	awk -v l="$1" '
		/capchan-vm: run capbench/ { on = 1; next }
		/capchan-vm: exit capbench/ { on = 0 }
		on && /^policy-/ { print l "," $0 }' "$log" >>"$out.tmp"
}
boot hooks "$repo" policy
boot compiled-out "$noh" policy-none
mv "$out.tmp" "$out"
cat "$out"
