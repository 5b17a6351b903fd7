#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# run.sh [options] [PROGRAM...] - build capchan.ko for a stock Debian
# kernel, boot that kernel in QEMU with the module and the given static test
# programs, and judge the run.
#
# The host kernel cannot load modules, so every module test runs in a QEMU
# guest (about 5 s from boot to poweroff under TCG).  KVM is used only where
# a probe boot proved it works (accel.sh); a guest that prints nothing
# within CAPCHAN_VM_START_TIMEOUT seconds is stopped at once.
#
# Options:
#   -k SPEC       kernel: 6.1 (default), 6.12 or an exact release (kernel.sh)
#   -t SECONDS    limit for the whole VM run (default 300)
#   -o LOGFILE    serial log (default <build>/<release>/vm.log)
#   -m KO         use this capchan.ko instead of building one
#   -a ARGSFILE   program arguments, "NAME ARG..." lines (mkinitramfs.sh)
#   -f SRC[:DEST] extra file for the guest (repeatable; mkinitramfs.sh)
#   -p PARAMS     module parameters for insmod
#   -q            do not copy the serial output to stdout (log file only)
# Environment: CAPCHAN_CACHE, CAPCHAN_BUILD (default <repo>/build),
#   CAPCHAN_MODULE_SRC (tree holding Kbuild, VERSION, module/, uapi/; default the
#   repo), CAPCHAN_VM_PROG_TIMEOUT (per program, default 120),
#   CAPCHAN_VM_HANG_AFTER (a program still there this many seconds after
#   its start is reported hung and nothing more runs; default timeout + 30),
#   CAPCHAN_QEMU, CAPCHAN_VM_ACCEL (QEMU accelerator options, e.g.
#   "-accel tcg"; default: chosen by accel.sh), CAPCHAN_VM_START_TIMEOUT
#   (seconds until the guest's first line, default 180), CAPCHAN_VM_APPEND (extra kernel command line),
#   CAPCHAN_VM_SMP (guest CPUs, default 2), CAPCHAN_QEMU_ARGS (extra QEMU
#   options, split on blanks, e.g. "-icount shift=0,sleep=off"),
#   CAPCHAN_VM_DEBUG (default 1; 0 boots without slub_debug and KFENCE,
#   whose checks on every allocation would distort benchmarks),
#   CAPCHAN_VM_DISK (default 1; 0 boots without the test disk, below).
#
# The test disk: a fresh, empty ext4 image (<build>/<release>/disk.img,
# CAPCHAN_VM_DISK_MB, default 128 MiB, sparse) attached as a virtio disk
# with the serial "capchan-disk"; the guest loads ext4 and virtio_blk from
# kernel.sh's KMODS and mounts it at /mnt/disk (guest-init.sh).  It is
# there for what tmpfs cannot show: a read that misses the page cache and
# really waits for a device.  A virtio disk rather than a loop device over
# an image in the initramfs, because (1) the device's work is done by
# QEMU's I/O threads outside the guest's CPUs, so a miss waits for a
# device as on real hardware and many misses overlap, where a loop
# device would be a guest kernel thread copying from guest memory on the
# same vCPUs; (2) the image stays out of the initramfs, which keeps the
# boot as short as before.  cache=unsafe: the image is scratch, made anew
# for every run, so the host need not sync it when the guest flushes.
# mkfs.ext4 initialises the inode tables and journal itself: otherwise
# the guest's ext4lazyinit thread would write them during the tests.
#
# The module is built in <build>/<release>/module, a copy of the repo's
# Kbuild, module/ and uapi/ kept in sync file by file so that kbuild's
# incremental build works and the source tree stays clean.
#
# Verdict: exit 0 only if the guest finished, the module loaded, created
# /dev/capchan and unloaded, every program exited 0 (or 4, kselftest's
# "skip"), the kernel logged no bug, warning or memory-corruption report,
# and the taint flags are at most 4096|8192 (out-of-tree, unsigned module:
# 12288 is expected). Otherwise each reason is printed as
# "capchan-vm: FAIL <reason>" and the exit status is 1.
# Summary line: "capchan-vm: <release>: P passed, F failed, S skipped",
# counted from the KTAP lines of the programs; the same numbers go to
# <build>/<release>/counts as "P F S".

set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
repo=${CAPCHAN_REPO:-$(CDPATH='' cd -- "$here/../.." && pwd)}
build=${CAPCHAN_BUILD:-$repo/build}
modsrc=${CAPCHAN_MODULE_SRC:-$repo}
qemu=${CAPCHAN_QEMU:-qemu-system-x86_64}

usage() {
	echo "usage: run.sh [-k SPEC] [-t SECONDS] [-o LOGFILE] [-m KO] [-a ARGSFILE] [-f SRC[:DEST]]... [-p PARAMS] [-q] [PROGRAM...]" >&2
	exit 2
}

say() {
	echo "capchan-vm: $*"
}

spec=6.1
limit=300
log=
ko=
quiet=0
# Passed through to mkinitramfs.sh.
argsfile=
extras=
params=
nl='
'
while getopts k:t:o:m:a:f:p:q opt; do
	case $opt in
	k) spec=$OPTARG ;;
	t) limit=$OPTARG ;;
	o) log=$OPTARG ;;
	m) ko=$OPTARG ;;
	a) argsfile=$OPTARG ;;
	f) extras=$extras$OPTARG$nl ;;
	p) params=$OPTARG ;;
	q) quiet=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
case $limit in
'' | *[!0-9]*) usage ;;
esac

# Check the programs now, before the slow steps; absolute paths keep the
# messages unambiguous.
progs=
for p; do
	[ -f "$p" ] || { say "FAIL no program $p"; exit 1; }
	progs="$progs$(CDPATH='' cd -- "$(dirname -- "$p")" && pwd)/${p##*/}$nl"
done
[ -z "$ko" ] || ko=$(CDPATH='' cd -- "$(dirname -- "$ko")" && pwd)/${ko##*/}

kv=$("$here/kernel.sh" "$spec") || { say "FAIL cannot get kernel $spec"; exit 1; }
KVER=''
VMLINUZ=''
KDIR=''
KMODS=''
eval "$kv"
if [ -z "$KVER" ] || [ ! -f "$VMLINUZ" ] || [ ! -d "$KDIR" ]; then
	say "FAIL kernel.sh gave no usable kernel for $spec"
	exit 1
fi

bdir=$build/$KVER
mkdir -p "$bdir"
bdir=$(CDPATH='' cd -- "$bdir" && pwd)
[ -n "$log" ] || log=$bdir/vm.log
counts=$bdir/counts
# One run per kernel at a time: they share the build copy and the image.
exec 9>"$bdir/.lock"
if command -v flock >/dev/null 2>&1; then
	flock 9
fi

# If we fail before the guest ran, the Makefile still finds counts to sum.
echo "0 1 0" >"$counts"

# --- build the module ----------------------------------------------------

# Files kbuild writes next to the sources; never copied, never pruned.
artefact() {
	case ${1##*/} in
	*.o | *.ko | *.mod | *.mod.c | .*.cmd | *.order | *.symvers | .*.d | *.dwo | *.tmp | .tmp_*)
		return 0
		;;
	esac
	return 1
}

# sync_tree SRC DST: make DST's source files equal to SRC's. Unchanged
# files keep their old time stamps so kbuild rebuilds only what changed.
sync_tree() {
	mkdir -p "$2"
	(cd "$2" && find . -type f) | while IFS= read -r f; do
		artefact "$f" && continue
		[ -f "$1/$f" ] || rm -f "$2/$f"
	done
	(cd "$1" && find . -type f) | while IFS= read -r f; do
		artefact "$f" && continue
		if ! cmp -s "$1/$f" "$2/$f"; then
			mkdir -p "$(dirname -- "$2/$f")"
			cp "$1/$f" "$2/$f"
		fi
	done
}

if [ -z "$ko" ]; then
	copy=$bdir/module
	[ -d "$modsrc/module" ] || { say "FAIL no $modsrc/module"; exit 1; }
	mkdir -p "$copy"
	if [ -f "$modsrc/Kbuild" ]; then
		cmp -s "$modsrc/Kbuild" "$copy/Kbuild" || cp "$modsrc/Kbuild" "$copy/Kbuild"
	else
		rm -f "$copy/Kbuild"
	fi
	# module/Kbuild reads the version from here (older trees had none)
	if [ -f "$modsrc/VERSION" ]; then
		cmp -s "$modsrc/VERSION" "$copy/VERSION" || cp "$modsrc/VERSION" "$copy/VERSION"
	else
		rm -f "$copy/VERSION"
	fi
	sync_tree "$modsrc/module" "$copy/module"
	if [ -d "$modsrc/uapi" ]; then
		sync_tree "$modsrc/uapi" "$copy/uapi"
	else
		rm -rf "$copy/uapi"
	fi
	say "building capchan.ko for $KVER"
	jobs=$(nproc 2>/dev/null || echo 2)
	if ! make -C "$KDIR" M="$copy/module" -j"$jobs" modules; then
		say "FAIL module build failed for $KVER"
		exit 1
	fi
	ko=$copy/module/capchan.ko
	[ -f "$ko" ] || { say "FAIL build made no $ko"; exit 1; }
fi

# --- initramfs -------------------------------------------------------------

initrd=$bdir/initrd.gz
mkinitramfs() {
	set --
	[ -z "$argsfile" ] || set -- "$@" -a "$argsfile"
	[ -z "$params" ] || set -- "$@" -p "$params"
	[ -z "$KMODS" ] || set -- "$@" -K "$KMODS"
	while IFS= read -r x; do
		[ -n "$x" ] && set -- "$@" -f "$x"
	done <<EOF
$extras
EOF
	set -- "$@" "$initrd" "$ko"
	while IFS= read -r x; do
		[ -n "$x" ] && set -- "$@" "$x"
	done <<EOF
$progs
EOF
	"$here/mkinitramfs.sh" "$@"
}
mkinitramfs || { say "FAIL initramfs build failed"; exit 1; }

# The test disk (see the top): not fatal when it cannot be made.
diskopt=
if [ "${CAPCHAN_VM_DISK:-1}" != 0 ]; then
	disk=$bdir/disk.img
	disk_mb=${CAPCHAN_VM_DISK_MB:-128}
	rm -f "$disk"
	if [ -z "$KMODS" ]; then
		say "note: no guest modules for $KVER: no test disk"
	elif ! command -v mkfs.ext4 >/dev/null 2>&1 &&
		! [ -x /sbin/mkfs.ext4 ] && ! [ -x /usr/sbin/mkfs.ext4 ]; then
		say "note: no mkfs.ext4 (install e2fsprogs): no test disk"
	elif truncate -s "${disk_mb}M" "$disk" &&
		PATH=$PATH:/sbin:/usr/sbin mkfs.ext4 -q -F -L capchan \
			-E lazy_itable_init=0,lazy_journal_init=0 "$disk"; then
		diskopt="-drive file=$disk,if=none,id=capdisk,format=raw,cache=unsafe
-device virtio-blk-pci,drive=capdisk,serial=capchan-disk"
	else
		say "note: mkfs.ext4 failed: no test disk"
		rm -f "$disk"
	fi
fi

# --- boot ------------------------------------------------------------------

# The accelerator is chosen by proof (accel.sh): KVM only where a probe
# guest under it printed something, TCG otherwise.
accel=$("$here/accel.sh" "$VMLINUZ") || { say "FAIL cannot choose an accelerator"; exit 1; }
# quiet keeps the boot short, but it would also hide KERN_WARNING lines, so
# a WARN would show up only as the panic that panic_on_warn makes of it;
# loglevel=5 (given after quiet, so it wins) keeps warnings on the console.
# Allocator debugging is on for tests; benchmarks (CAPCHAN_VM_DEBUG=0) turn
# it off because it slows every allocation and so skews op costs.
memdebug="slub_debug=FZPU kfence.sample_interval=10 "
[ "${CAPCHAN_VM_DEBUG:-1}" != 0 ] || memdebug="kfence.sample_interval=0 "
append="console=ttyS0 panic=-1 quiet loglevel=5 ${memdebug}panic_on_warn=1 oops=panic${CAPCHAN_VM_APPEND:+ $CAPCHAN_VM_APPEND}"
smp=${CAPCHAN_VM_SMP:-2}
case $smp in
'' | *[!0-9]*) say "FAIL CAPCHAN_VM_SMP must be a number"; exit 1 ;;
esac
# The guest's first line ("capchan-vm: kernel ...") must come within this
# many seconds, or the run stops at once instead of waiting out the limit.
start_s=${CAPCHAN_VM_START_TIMEOUT:-180}
case $start_s in
'' | *[!0-9]*) say "FAIL CAPCHAN_VM_START_TIMEOUT must be a number"; exit 1 ;;
esac

mkdir -p "$(dirname -- "$log")"
boot() {
	say "booting $KVER (${accel#-accel }, limit ${limit}s, first output within ${start_s}s)"
	set -- -l "$limit" -s "$start_s" -m "capchan-vm: " -o "$log.raw"
	[ "$quiet" -eq 0 ] || set -- "$@" -q
	qrc=0
	# shellcheck disable=SC2086 # accel, diskopt and CAPCHAN_QEMU_ARGS are lists of options
	"$here/qemu-watch.sh" "$@" -- "$qemu" $accel -machine q35 -cpu max \
		-smp "$smp" -m 1024 -nographic -no-reboot -kernel "$VMLINUZ" \
		-initrd "$initrd" -append "$append" $diskopt ${CAPCHAN_QEMU_ARGS:-} || qrc=$?
}
start=$(date +%s)
boot
if [ "$qrc" -eq 69 ] && [ -z "${CAPCHAN_VM_ACCEL:-}" ] && [ "$accel" = "-accel kvm" ]; then
	# the probe passed but this guest hung all the same: forget the verdict
	say "kvm guest printed nothing in ${start_s}s, using tcg"
	accel=$("$here/accel.sh" -t)
	printf 'kvm failed a real boot\n%s\n' "$accel" >"${CAPCHAN_CACHE:-$repo/.cache}/vm-accel"
	boot
fi
end=$(date +%s)
# The serial console ends lines with CR LF; keep the log greppable.
tr -d '\r' <"$log.raw" >"$log"
rm -f "$log.raw"

# --- verdict -------------------------------------------------------------

names=
while IFS= read -r p; do
	[ -n "$p" ] && names="$names ${p##*/}"
done <<EOF
$progs
EOF

# One pass over the log. Output lines:
#   prog NAME PASSED FAILED SKIPPED STATUS   (STATUS: number, "crash", "notrun")
#   state KEY VALUE
#   kbad LINE                                 (kernel report lines)
facts=$(awk -v names="$names" '
function kernel_bad(l) {
	return l ~ /BUG:|BUG [^ ]+ \(.*\): |kernel BUG at|WARNING:|Oops|general protection fault|Kernel panic|refcount_t:|Redzone overwritten|Poison overwritten|Object padding overwritten|Padding overwritten|Freepointer corrupt|Object already free|Objects remaining|still has objects|KFENCE: [a-z-]+ (read|write|in)|invalid-free|use-after-free|out-of-bounds|UBSAN:|list_(add|del) corruption|unreferenced object|kmemleak|leaked|double fault|stack-protector|soft lockup|hard LOCKUP|blocked for more than|rcu_.*stall|Unable to handle|Call Trace:|BUG [a-z]/
}
BEGIN { n = split(names, order, " "); cur = "" }
{
	line = $0
	if ((i = index(line, "capchan-vm: ")) > 0) {
		msg = substr(line, i + 12)
		split(msg, w, " ")
		if (w[1] == "run") { cur = w[2]; started[cur] = 1; next }
		if (w[1] == "exit") { status[w[2]] = w[3]; cur = ""; next }
		if (w[1] == "module" && w[2] == "loaded") st["loaded"] = 1
		if (w[1] == "module" && w[2] == "load") st["loadfail"] = w[4]
		if (w[1] == "device") st["device"] = w[2]
		if (w[1] == "module" && w[2] == "unloaded") st["unloaded"] = 1
		if (w[1] == "rmmod") st["rmmodfail"] = w[3]
		if (w[1] == "tainted") st["tainted"] = w[2]
		if (w[1] == "tainted-final") st["tainted_final"] = w[2]
		if (w[1] == "dmesg-end") st["finished"] = 1
		if (w[1] == "kernel") st["kernel"] = w[2]
		next
	}
	if (line ~ /^\[ *[0-9]+\.[0-9]+\] /) {
		key = line; sub(/^\[ *[0-9]+\.[0-9]+\] /, "", key)
		if (kernel_bad(line) && nbad < 8 && !(key in seen)) {
			seen[key] = 1; nbad++
			print "kbad " line
		}
		next
	}
	if (cur == "")
		next
	if (line ~ /^(not )?ok [0-9]+( |$)/) {
		if (line ~ /#[ \t]*[Ss][Kk][Ii][Pp]/) sk[cur]++
		else if (line ~ /^ok/) ps[cur]++
		else fl[cur]++
	}
}
END {
	for (k = 1; k <= n; k++) {
		p = order[k]
		s = (p in status) ? status[p] : ((p in started) ? "crash" : "notrun")
		print "prog", p, ps[p] + 0, fl[p] + 0, sk[p] + 0, s
	}
	for (k in st)
		print "state", k, st[k]
}' "$log")

passed=0 failed=0 skipped=0
reasons=
fail() {
	reasons="$reasons$*$nl"
}
state() {
	echo "$facts" | awk -v k="$1" '$1 == "state" && $2 == k { print $3; exit }'
}

if [ "$qrc" -eq 124 ]; then
	fail "QEMU timed out after ${limit}s"
elif [ "$qrc" -eq 69 ]; then
	fail "guest printed nothing in ${start_s}s (no \"capchan-vm: \" line; accelerator ${accel#-accel }; see $log)"
elif [ "$qrc" -ne 0 ]; then
	fail "QEMU exited with status $qrc"
fi
[ "$(state finished)" = 1 ] || fail "guest did not finish (kernel panic, crash or hang; see $log)"
lf=$(state loadfail)
[ -z "$lf" ] || fail "module failed to load (insmod status $lf)"
if [ "$(state loaded)" = 1 ]; then
	[ "$(state device)" = present ] || fail "/dev/capchan missing after insmod"
	rf=$(state rmmodfail)
	[ -z "$rf" ] || fail "rmmod failed (status $rf)"
	if [ "$(state finished)" = 1 ] && [ "$(state unloaded)" != 1 ] && [ -z "$rf" ]; then
		fail "module was not unloaded"
	fi
fi
# Out-of-tree (4096) and unsigned (8192) modules taint; anything else
# (a warning, a bad page, a forced unload...) means trouble.
for key in tainted tainted_final; do
	t=$(state $key)
	[ -n "$t" ] || continue
	extra=$((t & ~12288))
	[ "$extra" -eq 0 ] || fail "kernel $key $t (unexpected flags $extra)"
done

progfacts=$(echo "$facts" | grep '^prog ' || true)
while read -r _ name p f s status; do
	[ -n "$name" ] || continue
	case $status in
	notrun)
		f=$((f > 0 ? f : 1))
		fail "$name did not run"
		;;
	crash)
		f=$((f > 0 ? f : 1))
		fail "$name did not finish"
		;;
	hung)
		f=$((f > 0 ? f : 1))
		fail "$name hung: still running long after its timeout's KILL (stacks in $log)"
		;;
	0)
		# A plain program without KTAP output counts as one test.
		[ $((p + f + s)) -gt 0 ] || p=1
		[ "$f" -eq 0 ] || fail "$name: $f test(s) failed"
		;;
	4)
		[ $((p + f + s)) -gt 0 ] || s=1
		say "$name skipped (exit 4)"
		[ "$f" -eq 0 ] || fail "$name: $f test(s) failed"
		;;
	*)
		f=$((f > 0 ? f : 1))
		case $status in
		124 | 137 | 143) fail "$name exited with status $status (timed out?)" ;;
		*) fail "$name exited with status $status" ;;
		esac
		;;
	esac
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
done <<EOF
$progfacts
EOF

kbad=$(echo "$facts" | sed -n 's/^kbad //p')
if [ -n "$kbad" ]; then
	while IFS= read -r l; do
		fail "kernel reported: $l"
	done <<EOF
$kbad
EOF
fi

# A failed run must never add up to "0 failed".
if [ -n "$reasons" ] && [ "$failed" -eq 0 ]; then
	failed=1
fi
echo "$passed $failed $skipped" >"$counts"

# Guest modules or the test disk that failed: reported, not fatal (the
# tests that need the disk skip and say so).
grep -E 'capchan-vm: (kmod [^ ]+ failed|disk (mount|umount) failed)' "$log" |
	sed 's/.*capchan-vm: /capchan-vm: note: /' || true

echo
say "$KVER: vm run $((end - start))s, log $log"
say "$KVER: $passed passed, $failed failed, $skipped skipped"
if [ -n "$reasons" ]; then
	while IFS= read -r r; do
		[ -n "$r" ] && say "FAIL $r"
	done <<EOF
$reasons
EOF
	exit 1
fi
say "PASS $KVER"
