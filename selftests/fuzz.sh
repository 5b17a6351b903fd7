#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make fuzz: the long run of fuzz_test (selftests/fuzz/) in QEMU on each
# kernel, seeded and bounded by count and by time.  For each kernel it
# prints what the run did (ioctls tried by command, SQEs tried by opcode
# and by result, CQEs checked), the kernel warnings the VM run's log scan
# found, and a verdict.  It exits non-zero if any kernel's run failed,
# warned, or fell short of the targets.
#
#   fuzz.sh [-s SEED]
#
# The seed is printed first; FUZZ_SEED=<it> make fuzz (or -s) runs the
# same random streams again.  Environment:
#   FUZZ_SEED        the seed (default: 64 random bits)
#   FUZZ_SECONDS     time bound of the fuzzing on each kernel (default 400;
#                    the tests stop earlier when they reach their goals)
#   FUZZ_MIN_SQES    target per kernel, also the tests' goal (1000000)
#   FUZZ_MIN_IOCTLS  target per kernel, also the ioctls test's goal (100000)
#   CAPCHAN_KERNELS  kernels (default "6.1 6.1-rt 6.12", as check.sh)
#   CAPCHAN_BUILD    build folder (default <repo>/build)
# Logs: <build>/fuzz-<kernel>.log (the guest's serial console) and
# <build>/fuzz-<kernel>.out (run.sh's verdict).
set -u

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
repo=$(CDPATH='' cd -- "$here/.." && pwd)
build=${CAPCHAN_BUILD:-$repo/build}
kernels=${CAPCHAN_KERNELS:-6.1 6.1-rt 6.12}
seed=${FUZZ_SEED:-}
secs=${FUZZ_SECONDS:-400}
min_sqes=${FUZZ_MIN_SQES:-1000000}
min_ioctls=${FUZZ_MIN_IOCTLS:-100000}

while getopts s: opt; do
	case $opt in
	s) seed=$OPTARG ;;
	*) echo "usage: fuzz.sh [-s SEED]" >&2; exit 2 ;;
	esac
done

# a number as fuzz_test reads it: decimal, or hexadecimal after 0x
number() {
	case $1 in
	0x?*) case ${1#0x} in *[!0-9a-fA-F]*) return 1 ;; esac ;;
	0?*) return 1 ;;	# octal to strtoull: not what anyone means
	?*) case $1 in *[!0-9]*) return 1 ;; esac ;;
	*) return 1 ;;
	esac
	return 0
}
[ -n "$seed" ] || seed=0x$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')
for v in "$seed" "$secs" "$min_sqes" "$min_ioctls"; do
	number "$v" || { echo "fuzz: '$v' is not a number" >&2; exit 2; }
done
[ -x "$here/fuzz_test" ] || { echo "fuzz: no $here/fuzz_test (make selftests)" >&2; exit 1; }

mkdir -p "$build"
args=$build/fuzz.args
echo "fuzz_test --long --seed $seed --seconds $secs --sqes $min_sqes --ioctls $min_ioctls" >"$args"

echo "fuzz: seed $seed (FUZZ_SEED=$seed make fuzz repeats it), kernels: $kernels"
echo "fuzz: per kernel at most ${secs} s of fuzzing; targets $min_sqes SQEs, $min_ioctls ioctls, 0 kernel warnings"
t0=$(date +%s)
failures=
for spec in $kernels; do
	log=$build/fuzz-$spec.log
	out=$build/fuzz-$spec.out
	echo
	echo "== fuzz on Debian $spec =="
	start=$(date +%s)
	# fuzz_test's own watchdogs end it within secs + 4 x 10 s
	CAPCHAN_VM_PROG_TIMEOUT=$((secs + 240)) sh "$here/vm/run.sh" -q -k "$spec" \
		-t $((secs + 900)) -a "$args" -o "$log" "$here/fuzz_test" >"$out" 2>&1
	st=$?
	took=$(($(date +%s) - start))
	rel=$(sed -n 's/^capchan-vm: \([^ ]*\): vm run .*/\1/p' "$out" | tail -n 1)
	[ -n "$rel" ] || rel=$spec
	if [ -f "$log" ]; then
		# each test's counts and time, then the run's summary
		sed -n 's/^# \(fuzz [a-z]*: [0-9]* ioctls, .*\)/  \1/p' "$log"
		sed -n 's/^# fuzz summary: /  /p' "$log"
	fi
	warnings=$(grep -c '^capchan-vm: FAIL kernel reported' "$out")
	echo "  kernel warnings: $warnings"
	totals=$([ -f "$log" ] && sed -n 's/^# fuzz totals: //p' "$log" | tail -n 1)
	ioctls=$(echo "$totals" | sed -n 's/.*ioctls=\([0-9]*\).*/\1/p')
	sqes=$(echo "$totals" | sed -n 's/.*sqes=\([0-9]*\).*/\1/p')
	tests=$(sed -n 's/^capchan-vm: [^ ]*: \([0-9]* passed, [0-9]* failed, [0-9]* skipped\)$/\1/p' "$out" | tail -n 1)
	bad=
	[ "$st" -eq 0 ] || bad="$bad; the VM run failed: $(sed -n 's/^capchan-vm: FAIL //p' "$out" | head -n 3 | paste -sd ';' -)"
	[ "$warnings" -eq 0 ] || bad="$bad; $warnings kernel warnings"
	[ -n "$sqes" ] && [ "$sqes" -ge "$min_sqes" ] || bad="$bad; ${sqes:-no} SQEs < $min_sqes"
	[ -n "$ioctls" ] && [ "$ioctls" -ge "$min_ioctls" ] || bad="$bad; ${ioctls:-no} ioctls < $min_ioctls"
	if [ -n "$bad" ]; then
		echo "fuzz $rel: FAIL in ${took} s (${tests:-no tests counted})$bad (see $log)"
		failures="$failures $spec"
	else
		echo "fuzz $rel: PASS in ${took} s ($tests; $sqes SQEs, $ioctls ioctls, 0 kernel warnings)"
	fi
done

echo
echo "fuzz: seed $seed, $(($(date +%s) - t0)) s in all"
if [ -n "$failures" ]; then
	echo "fuzz: FAILED on:$failures"
	exit 1
fi
echo "fuzz: PASSED on every kernel"
