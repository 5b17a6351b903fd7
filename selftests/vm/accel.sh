#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# accel.sh VMLINUZ - choose the QEMU accelerator for the capchan VM, by proof.
#
# Prints the QEMU options to use ("-accel kvm" or the TCG options below) on
# stdout;
# what it found out goes to stderr.  A /dev/kvm node proves nothing: on
# nested machines it can accept a guest and then spin silently after the
# firmware forever.  So KVM is used only after a probe boot under it (the
# given kernel and a two-file initramfs whose /init prints a marker and
# powers off) printed that marker within CAPCHAN_VM_PROBE_TIMEOUT seconds
# (default 20; a KVM guest prints it in about one).  Otherwise:
#   capchan-vm: kvm present but unusable (no guest output in N s), using tcg
# The verdict is cached in $CAPCHAN_CACHE/vm-accel, keyed by host name,
# host kernel and QEMU version, so the probe is paid once per machine.
#
# Environment: CAPCHAN_VM_ACCEL (use these options, no probe),
#   CAPCHAN_QEMU (default qemu-system-x86_64), CAPCHAN_CACHE (default
#   <repo>/.cache), CAPCHAN_KVM_DEV (default /dev/kvm),
#   CAPCHAN_VM_PROBE_TIMEOUT (seconds, default 20), CAPCHAN_BUSYBOX.
# "accel.sh -t" prints only the TCG options, for run.sh's own fallback.

set -eu

# TCG runs single-threaded: QEMU 7.2's multi-threaded TCG lets one vCPU keep
# running a translated block that another vCPU has just rewritten.  The
# kernel rewrites its own code whenever a tracepoint, static key or BPF
# trampoline is switched (text_poke_bp), and the vCPU that keeps executing
# the stale int3 loops in the int3 handler for good: a soft lockup that no
# timeout inside the guest can end.  With one thread, a vCPU stops only
# between blocks, so every block it runs next is translated afresh.  The
# cost is the guest's second vCPU sharing a host thread with the first.
tcg="-accel tcg,thread=single"
if [ "${1:-}" = -t ]; then
	echo "$tcg"
	exit 0
fi

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
repo=${CAPCHAN_REPO:-$(CDPATH='' cd -- "$here/../.." && pwd)}
cache=${CAPCHAN_CACHE:-$repo/.cache}
qemu=${CAPCHAN_QEMU:-qemu-system-x86_64}
kvmdev=${CAPCHAN_KVM_DEV:-/dev/kvm}
probe_s=${CAPCHAN_VM_PROBE_TIMEOUT:-20}
busybox=${CAPCHAN_BUSYBOX:-/bin/busybox}
marker="capchan-vm-probe: alive"

say() {
	echo "capchan-vm: $*" >&2
}

[ $# -eq 1 ] || { echo "usage: accel.sh VMLINUZ" >&2; exit 2; }
vmlinuz=$1
case $probe_s in
'' | *[!0-9]* | 0) echo "accel.sh: CAPCHAN_VM_PROBE_TIMEOUT must be a positive number" >&2; exit 2 ;;
esac

if [ -n "${CAPCHAN_VM_ACCEL:-}" ]; then
	echo "$CAPCHAN_VM_ACCEL"
	exit 0
fi
if [ ! -r "$kvmdev" ] || [ ! -w "$kvmdev" ]; then
	echo "$tcg"
	exit 0
fi

mkdir -p "$cache"
verdict=$cache/vm-accel
key="tcg1 $(uname -n) $(uname -r) $("$qemu" --version 2>/dev/null | head -n 1) $kvmdev"
if [ -f "$verdict" ] && [ "$(head -n 1 "$verdict")" = "$key" ]; then
	sed -n 2p "$verdict"
	exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/capchan-probe.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# The probe's initramfs: busybox and an /init that proves the guest runs.
mkdir -p "$work/root/bin" "$work/root/dev"
cp "$busybox" "$work/root/bin/busybox"
cat >"$work/root/init" <<EOF
#!/bin/busybox sh
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec >/dev/console 2>&1
echo "$marker"
/bin/busybox poweroff -f
EOF
chmod 755 "$work/root/init"
(cd "$work/root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	gzip -1 >"$work/initrd.gz"

rc=0
"$here/qemu-watch.sh" -q -l $((probe_s + 30)) -s "$probe_s" -m "$marker" \
	-o "$work/log" -- "$qemu" -accel kvm -machine q35 -cpu max -smp 1 -m 256 \
	-nographic -no-reboot -kernel "$vmlinuz" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 panic=-1 quiet" || rc=$?
if grep -a -q -F "$marker" "$work/log"; then
	accel="-accel kvm"
	say "kvm works (probe boot printed its marker), using kvm"
else
	accel=$tcg
	case $rc in
	69 | 124) why="no guest output in $probe_s s" ;;
	*) why="qemu exited with status $rc: $(grep -a -v '^$' "$work/log" | tail -n 1 | tr -d '\r')" ;;
	esac
	say "kvm present but unusable ($why), using tcg"
fi
printf '%s\n%s\n' "$key" "$accel" >"$verdict.tmp"
mv "$verdict.tmp" "$verdict"
echo "$accel"
