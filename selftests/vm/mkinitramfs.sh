#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# mkinitramfs.sh [options] OUT MODULE_KO [PROGRAM...]
#
# Builds the initramfs (gzip'd newc cpio) the capchan test VM boots:
#   /init             guest-init.sh (loads the module, runs the programs)
#   /bin/busybox      busybox-static, with one symlink per applet
#   /capchan.ko       MODULE_KO
#   /lib/kmods/       the kernel's own modules from -K, and their load order
#   /bin/t/<name>     each PROGRAM (basename kept), run in the given order
#   /etc/capchan-vm/  programs (run order and arguments), config
#
# Options:
#   -a ARGSFILE    arguments for programs: lines "NAME ARG...", NAME being a
#                  program's basename; '#' starts a comment line. Arguments
#                  are split on blanks, with no quoting.
#   -f SRC[:DEST]  add a file at DEST (absolute; default /data/<basename>).
#   -K DIR         the booted kernel's modules to load before the tests:
#                  DIR/order names them (files in DIR), dependencies first
#                  (kernel.sh's KMODS).
#   -p PARAMS      module parameters for insmod ("name=value ...").
#   -T SECONDS     per-program timeout (default $CAPCHAN_VM_PROG_TIMEOUT or
#                  120).
# CAPCHAN_VM_HANG_AFTER (seconds, default the timeout + 30): a program still
# there this long after its start could not be killed; guest-init.sh then
# reports it hung, with the kernel's stacks, and runs nothing more.
# Programs must be static (or scripts for busybox sh): the image carries
# no shared libraries.

set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
busybox=${CAPCHAN_BUSYBOX:-/bin/busybox}

die() {
	echo "mkinitramfs.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: mkinitramfs.sh [-a ARGSFILE] [-f SRC[:DEST]]... [-K DIR] [-p PARAMS] [-T SECONDS] OUT MODULE_KO [PROGRAM...]" >&2
	exit 2
}

argsfile=
extras=
kmods=
params=
prog_timeout=${CAPCHAN_VM_PROG_TIMEOUT:-120}
hang_after=${CAPCHAN_VM_HANG_AFTER:-}
nl='
'
while getopts a:f:K:p:T: opt; do
	case $opt in
	a) argsfile=$OPTARG ;;
	f) extras=$extras$OPTARG$nl ;;
	K) kmods=$OPTARG ;;
	p) params=$OPTARG ;;
	T) prog_timeout=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || usage
out=$1
ko=$2
shift 2

[ -f "$ko" ] || die "no module file $ko"
[ -x "$busybox" ] || die "no $busybox (install busybox-static)"
[ -z "$argsfile" ] || [ -f "$argsfile" ] || die "no args file $argsfile"
[ -z "$kmods" ] || [ -f "$kmods/order" ] || die "no module list $kmods/order"
case $prog_timeout in
'' | *[!0-9]*) die "bad timeout '$prog_timeout'" ;;
esac
# timeout sends KILL 10 s after TERM; 20 s more for the exit itself
[ -n "$hang_after" ] || hang_after=$((prog_timeout + 30))
case $hang_after in
'' | *[!0-9]* | 0) die "bad CAPCHAN_VM_HANG_AFTER '$hang_after'" ;;
esac
case $params in
*\'*) die "module parameters must not contain a single quote" ;;
esac

stage=$(mktemp -d "${TMPDIR:-/tmp}/capchan-initramfs.XXXXXX")
# the guest's / is this folder: mktemp made it 0700, tests that drop to
# an unprivileged uid need to traverse it
chmod 755 "$stage"
trap 'rm -rf "$stage"' EXIT
trap 'exit 130' INT TERM

mkdir -p "$stage/bin/t" "$stage/dev" "$stage/proc" "$stage/sys" "$stage/tmp" \
	"$stage/etc/capchan-vm" "$stage/usr" "$stage/root"
# Programs and scripts may expect the usual bin directories.
ln -s bin "$stage/sbin"
ln -s ../bin "$stage/usr/bin"
ln -s ../bin "$stage/usr/sbin"

cp "$busybox" "$stage/bin/busybox"
for applet in $("$busybox" --list); do
	case $applet in
	busybox | */*) ;;
	*) ln -s busybox "$stage/bin/$applet" ;;
	esac
done

cp "$here/guest-init.sh" "$stage/init"
chmod 755 "$stage/init"
cp "$ko" "$stage/capchan.ko"
if [ -n "$kmods" ]; then
	mkdir -p "$stage/lib/kmods"
	while IFS= read -r m; do
		case $m in
		'' | */* | *[!A-Za-z0-9_.-]*) die "bad module name '$m' in $kmods/order" ;;
		esac
		cp "$kmods/$m" "$stage/lib/kmods/$m" || die "no module $kmods/$m"
	done <"$kmods/order"
	cp "$kmods/order" "$stage/lib/kmods/order"
fi

: >"$stage/etc/capchan-vm/programs"
for prog; do
	[ -f "$prog" ] || die "no program $prog"
	name=${prog##*/}
	case $name in
	*[!A-Za-z0-9_.+-]*) die "program name '$name' has odd characters" ;;
	esac
	[ ! -e "$stage/bin/t/$name" ] || die "two programs named $name"
	# A dynamically linked program would fail in the guest with a baffling
	# "not found"; say so here instead.
	if command -v readelf >/dev/null 2>&1 &&
		readelf -l "$prog" 2>/dev/null | grep -q 'program interpreter'; then
		die "$prog is dynamically linked; build it with -static"
	fi
	cp "$prog" "$stage/bin/t/$name"
	chmod 755 "$stage/bin/t/$name"
	args=
	if [ -n "$argsfile" ]; then
		args=$(awk -v n="$name" '$1 == n { $1 = ""; sub(/^ +/, ""); print; exit }' "$argsfile")
	fi
	echo "$name $args" >>"$stage/etc/capchan-vm/programs"
done

printf 'PROG_TIMEOUT=%s\nHANG_AFTER=%s\nMODPARAMS='\''%s'\''\n' "$prog_timeout" "$hang_after" "$params" \
	>"$stage/etc/capchan-vm/config"

if [ -n "$extras" ]; then
	echo "$extras" | while IFS= read -r spec; do
		[ -n "$spec" ] || continue
		src=${spec%%:*}
		dst=/data/${src##*/}
		case $spec in
		*:*) dst=${spec#*:} ;;
		esac
		case $dst in
		/*) ;;
		*) die "extra file destination '$dst' must be absolute" ;;
		esac
		[ -f "$src" ] || die "no extra file $src"
		mkdir -p "$stage${dst%/*}"
		cp "$src" "$stage$dst"
	done
fi

mkdir -p "$(dirname -- "$out")"
# Owner root for every entry whatever user builds the image; a sorted list
# keeps the archive reproducible.
(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
