#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make check: every test capchan has, one summary line at the end.
#
#   1. host unit tests of libcapchan (Check), and of the VM runner's
#      accelerator probe and watchdog (fake QEMUs); the Promela models of
#      the rings, the CQ with workers and the capability lifecycle
#      (model_check.sh, spin)
#   2. the kselftests in QEMU on Debian's stock 6.1, 6.1 PREEMPT_RT and
#      6.12 kernels
#      (selftests/vm/run.sh: module load, tests, rmmod, kernel-log scan)
#   3. checkpatch --strict and sparse over the module (style.sh, sparse.sh)
#   4. the DKMS build against the installed 6.1 headers
#
# Ends with "N passed, N failed, N skipped" and exits non-zero if anything
# failed.  CAPCHAN_KERNELS overrides the kernel list (default
# "6.1 6.1-rt 6.12").
set -u

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
repo=$(CDPATH='' cd -- "$here/.." && pwd)
build=${CAPCHAN_BUILD:-$repo/build}
kernels=${CAPCHAN_KERNELS:-6.1 6.1-rt 6.12}

passed=0
failed=0
skipped=0
failures=

fail() {
	failed=$((failed + 1))
	failures="$failures
  $*"
}

# check_tap NAME TAP STATUS: count a Check run's TAP file (one line per
# test, CK_TAP_LOG_FILE_NAME), not its human summary; fail NAME if a test
# failed, the plan disagrees, or the run exited STATUS != 0 all the same
check_tap() {
	if [ ! -s "$2" ]; then
		fail "$1: no TAP output (exit status $3)"
		return
	fi
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$2" | tail -n 1)
	p=$(grep -c '^ok ' "$2")
	f=$(grep -c '^not ok ' "$2")
	passed=$((passed + p))
	[ "$f" -gt 0 ] && fail "$1: $f failed (see $2)"
	[ -n "$plan" ] && [ "$plan" -ne $((p + f)) ] &&
		fail "$1: TAP plan says $plan tests, $((p + f)) reported"
	[ "$3" -ne 0 ] && [ "$f" -eq 0 ] && fail "$1: exited $3"
}

# ---- 1. host unit tests ---------------------------------------------------
mkdir -p "$build"
echo "== host unit tests (Check) =="
tap=$build/check-host.tap
rm -f "$tap"
CK_TAP_LOG_FILE_NAME=$tap make -s -C "$repo/libcapchan" check > "$build/check-host.log" 2>&1
st=$?
cat "$build/check-host.log"
check_tap "host unit tests" "$tap" "$st"

# The same tests under valgrind: any invalid access, uninitialised use or
# definite/indirect leak fails them (exit 9).  Check forks each test and
# valgrind follows.  valgrind has no seccomp(2), so the sandbox's live
# tests (tag seccomp) run only above.
echo "== host unit tests under valgrind (memcheck) =="
tap=$build/check-host-valgrind.tap
rm -f "$tap"
CK_EXCLUDE_TAGS=seccomp CK_TAP_LOG_FILE_NAME=$tap valgrind -q --leak-check=full \
	--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
	--error-exitcode=9 "$repo/libcapchan/tests/libcapchan_check" \
	> "$build/check-host-valgrind.log" 2>&1
st=$?
grep -v 'unhandled ioctl 0xca\|could cause spurious\|README_MISSING' "$build/check-host-valgrind.log"
check_tap "host unit tests under valgrind" "$tap" "$st"

# run_tap NAME LOG CMD...: a host-side test program printing "ok"/"not ok"
# lines; counts them, and fails NAME if any failed, none passed, or the
# program exited non-zero
run_tap() {
	name=$1
	log=$2
	shift 2
	"$@" > "$log" 2>&1
	st=$?
	cat "$log"
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	passed=$((passed + p))
	if [ "$f" -gt 0 ]; then
		failed=$((failed + f - 1))
		fail "$name: $f failed"
	elif [ "$st" -ne 0 ] || [ "$p" -eq 0 ]; then
		fail "$name: exited $st with $p passed"
	fi
}

echo "== VM runner: accelerator probe and watchdog (fake QEMU) =="
run_tap "VM runner tests" "$build/accel-test.log" sh "$here/vm/accel_test.sh"

echo "== Promela models (spin) =="
run_tap "model checks" "$build/model-check.log" sh "$here/model_check.sh"

# ---- 2. kselftests in the VM ----------------------------------------------
tests=$(cd "$here" && ls -- *_test 2>/dev/null | tr '\n' ' ')
if [ -z "$tests" ]; then
	fail "no selftest binaries in selftests/ (make selftests)"
fi
# captour tours a scratch directory; capcat prints a file beneath a grant
mkdir -p "$build"
printf 'captour /tmp\ncapcat -v /sys/module capchan/parameters/max_caps\ncapls -b 512 -d 2 /sys/module/capchan\n' > "$build/examples.args"
for spec in $kernels; do
	echo "== kselftests in QEMU: Debian $spec =="
	# shellcheck disable=SC2046 # one argument per test binary
	out=$(sh "$here/vm/kernel.sh" "$spec") || { fail "kernel $spec: fetch failed"; continue; }
	rel=$(echo "$out" | sed -n 's/^KVER=//p')
	rm -f "$build/$rel/counts"
	# the examples run too, as smoke tests of the documented flows
	# shellcheck disable=SC2086 # one argument per test binary
	(cd "$here" && sh vm/run.sh -k "$spec" -t 1500 -a "$build/examples.args" \
		$tests "$repo/examples/captour" "$repo/examples/capcat" "$repo/examples/capls")
	st=$?
	if [ -f "$build/$rel/counts" ]; then
		read -r p f s < "$build/$rel/counts"
	else
		p=0 f=0 s=0
	fi
	passed=$((passed + p))
	skipped=$((skipped + s))
	[ "$f" -gt 0 ] && {
		failed=$((failed + f - 1))
		fail "kselftests on $rel: $f failed"
	}
	# the run itself failed (kernel log, rmmod, timeout) with no test to blame
	[ "$st" -ne 0 ] && [ "$f" -eq 0 ] && fail "VM run on $rel failed (see $build/$rel/vm.log)"
done

# ---- 3. the kernel code's own checkers --------------------------------------
echo "== make style: checkpatch --strict over module/ and uapi/ =="
if sh "$here/style.sh"; then
	passed=$((passed + 1))
else
	fail "checkpatch (make style)"
fi
echo "== make sparse: the module under sparse for 6.1 and 6.12 =="
if sh "$here/sparse.sh"; then
	passed=$((passed + 1))
else
	fail "sparse (make sparse)"
fi

# ---- 4. DKMS ---------------------------------------------------------------
echo "== DKMS build against the installed 6.1 headers =="
if sh "$here/vm/dkms-check.sh"; then
	passed=$((passed + 1))
else
	fail "dkms build"
fi

echo
if [ -n "$failures" ]; then
	echo "failures:$failures"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
