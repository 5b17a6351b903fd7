#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# accel_test.sh - host test of the VM runner's accelerator choice and of its
# early-output watchdog, with fake QEMUs (no KVM, broken or not, needed).
#
# A fake QEMU is a script that behaves by the accelerator it is given:
#   hang     print SeaBIOS-like lines, then nothing, for ten minutes
#   silent   print nothing at all, for ten minutes
#   alive    print the guest marker the caller looks for, then exit 0
#   fail     print an error and exit 1 (no KVM module, say)
# Every case must end well within its deadline plus a margin; the fake
# QEMUs would otherwise run for ten minutes, so a watchdog that does not
# fire shows up as a failure, not as a slow pass.
#
# TAP output; exit 0 only if every case passed.

set -u

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/capchan-accel-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

n=0
failed=0
ok() {
	n=$((n + 1))
	echo "ok $n $*"
}
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n $*"
}
check() {
	name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# fake_qemu FILE KVM_MODE TCG_MODE: writes a fake QEMU; every call appends
# its arguments to FILE.calls.
fake_qemu() {
	cat >"$1" <<EOF
#!/bin/sh
if [ "\${1:-}" = --version ]; then echo "QEMU emulator version 0.0 (fake)"; exit 0; fi
echo "\$*" >>"$1.calls"
echo \$\$ >"$1.pid"
case " \$* " in
*" -accel kvm "*) mode=$2 ;;
*) mode=$3 ;;
esac
case \$mode in
hang) echo "SeaBIOS (version fake)"; echo "Booting from ROM..."; exec sleep 600 ;;
silent) exec sleep 600 ;;
alive) echo "[    0.1] early noise"; echo "capchan-vm-probe: alive"; echo "capchan-vm: kernel fake"; exit 0 ;;
fail) echo "Could not access KVM kernel module: No such file or directory" >&2; exit 1 ;;
esac
EOF
	chmod 755 "$1"
	: >"$1.calls"
}

not_running() {
	! kill -0 "$1" 2>/dev/null
}

calls() {
	wc -l <"$1.calls" | tr -d ' '
}

# Shared fixture: a writable "kvm device" (a plain file), a fake kernel.
: >"$work/kvm"
: >"$work/vmlinuz"
export CAPCHAN_KVM_DEV="$work/kvm"
unset CAPCHAN_VM_ACCEL || true

echo "TAP version 13"
echo "1..20"

# 1. A KVM that hangs after the firmware: TCG, the one-line reason, bounded.
fake_qemu "$work/q1" hang alive
t0=$(date +%s)
out=$(CAPCHAN_QEMU="$work/q1" CAPCHAN_CACHE="$work/c1" CAPCHAN_VM_PROBE_TIMEOUT=2 \
	sh "$here/accel.sh" "$work/vmlinuz" 2>"$work/err1")
t1=$(date +%s)
check "hanging kvm: falls back to tcg" [ "$out" = "-accel tcg,thread=single" ]
check "hanging kvm: says why in one line" \
	grep -q -x 'capchan-vm: kvm present but unusable (no guest output in 2 s), using tcg' "$work/err1"
check "hanging kvm: probe ends within its deadline (2 s + margin, took $((t1 - t0)) s)" \
	[ $((t1 - t0)) -le 20 ]
check "hanging kvm: probed once, under kvm" [ "$(calls "$work/q1")" = 1 ]
check "verdict cached" grep -q -x -- '-accel tcg,thread=single' "$work/c1/vm-accel"

# 2. The cached verdict is reused: no second probe, no second message.
out=$(CAPCHAN_QEMU="$work/q1" CAPCHAN_CACHE="$work/c1" CAPCHAN_VM_PROBE_TIMEOUT=2 \
	sh "$here/accel.sh" "$work/vmlinuz" 2>"$work/err2")
check "cached verdict reused without a probe" \
	[ "$out" = "-accel tcg,thread=single" ] && [ "$(calls "$work/q1")" = 1 ] && [ ! -s "$work/err2" ]

# 3. CAPCHAN_VM_ACCEL overrides, even with a stale or missing verdict.
out=$(CAPCHAN_VM_ACCEL="-accel kvm -accel tcg" CAPCHAN_QEMU="$work/q1" \
	CAPCHAN_CACHE="$work/c3" sh "$here/accel.sh" "$work/vmlinuz" 2>/dev/null)
check "CAPCHAN_VM_ACCEL overrides without a probe" \
	[ "$out" = "-accel kvm -accel tcg" ] && [ "$(calls "$work/q1")" = 1 ]

# 4. A KVM that works is used.
fake_qemu "$work/q4" alive alive
out=$(CAPCHAN_QEMU="$work/q4" CAPCHAN_CACHE="$work/c4" CAPCHAN_VM_PROBE_TIMEOUT=2 \
	sh "$here/accel.sh" "$work/vmlinuz" 2>/dev/null)
check "working kvm: used" [ "$out" = "-accel kvm" ]

# 5. No KVM device at all: TCG, no probe.
fake_qemu "$work/q5" alive alive
out=$(CAPCHAN_KVM_DEV="$work/no-such-kvm" CAPCHAN_QEMU="$work/q5" \
	CAPCHAN_CACHE="$work/c5" sh "$here/accel.sh" "$work/vmlinuz" 2>/dev/null)
check "no kvm device: tcg without a probe" \
	[ "$out" = "-accel tcg,thread=single" ] && [ "$(calls "$work/q5")" = 0 ]

# 6. QEMU refuses KVM outright: TCG, and the reason quotes QEMU.
fake_qemu "$work/q6" fail alive
out=$(CAPCHAN_QEMU="$work/q6" CAPCHAN_CACHE="$work/c6" CAPCHAN_VM_PROBE_TIMEOUT=2 \
	sh "$here/accel.sh" "$work/vmlinuz" 2>"$work/err6")
check "kvm refused by qemu: tcg, with qemu's reason" \
	[ "$out" = "-accel tcg,thread=single" ] && grep -q 'kvm present but unusable (qemu exited with status 1: Could not access KVM' "$work/err6"

# 7. The cache key: another QEMU version probes again.
fake_qemu "$work/q7" alive alive
sed -i 's/version 0.0/version 9.9/' "$work/q7"
cp "$work/c1/vm-accel" "$work/c7-verdict"
mkdir -p "$work/c7" && cp "$work/c7-verdict" "$work/c7/vm-accel"
out=$(CAPCHAN_QEMU="$work/q7" CAPCHAN_CACHE="$work/c7" CAPCHAN_VM_PROBE_TIMEOUT=2 \
	sh "$here/accel.sh" "$work/vmlinuz" 2>/dev/null)
check "a verdict for another qemu is not reused" \
	[ "$out" = "-accel kvm" ] && [ "$(calls "$work/q7")" = 1 ]

# 8. The watchdog alone: a guest that prints nothing is stopped at the
#    start deadline with status 69, long before the overall limit.
fake_qemu "$work/q8" silent silent
t0=$(date +%s)
rc=0
sh "$here/qemu-watch.sh" -q -l 300 -s 2 -m "capchan-vm: " -o "$work/log8" -- \
	"$work/q8" -accel tcg || rc=$?
t1=$(date +%s)
check "watchdog: silent guest stopped with 69 (got $rc)" [ "$rc" = 69 ]
check "watchdog: stopped near the start deadline (took $((t1 - t0)) s)" [ $((t1 - t0)) -le 20 ]
sleep 1
check "watchdog: the silent guest was killed" not_running "$(cat "$work/q8.pid")"

# 9. A guest that prints its marker is left alone until it ends.
fake_qemu "$work/q9" alive alive
rc=0
sh "$here/qemu-watch.sh" -q -l 300 -s 2 -m "capchan-vm: " -o "$work/log9" -- \
	"$work/q9" -accel tcg || rc=$?
check "watchdog: live guest keeps its exit status 0 (got $rc)" [ "$rc" = 0 ]
check "watchdog: output captured" grep -q 'capchan-vm: kernel fake' "$work/log9"

# 10. A guest that is alive but overruns the whole limit: 124.
cat >"$work/q10" <<'EOF'
#!/bin/sh
echo "capchan-vm: kernel fake"
exec sleep 600
EOF
chmod 755 "$work/q10"
rc=0
sh "$here/qemu-watch.sh" -q -l 3 -s 2 -m "capchan-vm: " -o "$work/log10" -- \
	"$work/q10" || rc=$?
check "watchdog: overall limit gives 124 (got $rc)" [ "$rc" = 124 ]

# 11. Without -q the output also reaches stdout.
out=$(sh "$here/qemu-watch.sh" -l 30 -s 5 -m "capchan-vm: " -o "$work/log11" -- \
	"$work/q9" -accel tcg)
check "watchdog: output copied to stdout" \
	sh -c "printf '%s\n' \"\$1\" | grep -q 'capchan-vm: kernel fake'" _ "$out"

# 12. A verdict cached before TCG went single-threaded ("-accel tcg", key
#     without the "tcg1" stamp) is not reused: the probe runs again.
fake_qemu "$work/q12" hang alive
mkdir -p "$work/c12"
printf '%s\n-accel tcg\n' "$(uname -n) $(uname -r) QEMU emulator version 0.0 (fake) $work/kvm" \
	>"$work/c12/vm-accel"
out=$(CAPCHAN_QEMU="$work/q12" CAPCHAN_CACHE="$work/c12" CAPCHAN_VM_PROBE_TIMEOUT=2 \
	sh "$here/accel.sh" "$work/vmlinuz" 2>/dev/null)
check "an old multi-threaded tcg verdict is probed again" \
	[ "$out" = "-accel tcg,thread=single" ] && [ "$(calls "$work/q12")" = 1 ]

# 13. run.sh's own fallback asks for the same TCG options.
check "accel.sh -t: single-threaded tcg" \
	[ "$(sh "$here/accel.sh" -t)" = "-accel tcg,thread=single" ]

echo "# $((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
