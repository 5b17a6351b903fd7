#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# style.sh - the kernel's own style checker over capchan's kernel code.
#
# `make style` runs checkpatch.pl (--strict, file mode, no kernel tree)
# over module/ and uapi/ (kernel code; the rest is user space).  checkpatch.pl and the two data files it reads
# are kernel files, never committed: they are streamed out of Debian's
# linux-source-6.1 package into <cache>/checkpatch once, as
# vm/harness.sh does for the kselftest headers.  Exits non-zero if
# checkpatch reports anything not listed in IGNORE below.

set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
repo=$(CDPATH='' cd -- "$here/.." && pwd)
cache=${CAPCHAN_CACHE:-$repo/.cache}
out=$cache/checkpatch
pkg=linux-source-6.1

# Rules that do not fit here, each with its reason:
#  FILE_PATH_CHANGES    no MAINTAINERS file outside the kernel tree
#  LINUX_VERSION_CODE,  one source builds for 6.1 and 6.12: an out-of-tree
#  CONSTANT_COMPARISON  module tests LINUX_VERSION_CODE >= KERNEL_VERSION()
IGNORE=FILE_PATH_CHANGES,LINUX_VERSION_CODE,CONSTANT_COMPARISON
# and per file:
#  capchan_trace.h  TRACE_EVENT()'s own layout (open-ended lines, macro
#                   arguments used twice by design)
#  btf.c            the fallback "#define __bpf_kfunc __used noinline" for
#                   kernels before the macro existed is an attribute list
#  mmap.c           each mapping builds its own vm_operations_struct (the
#                   wrapper around the file system's): it cannot be const
#  uapi             user space has no BIT(); the header is dual licensed
#                   so that user space may include it
IGNORE_TRACE=$IGNORE,OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT,MACRO_ARG_REUSE
IGNORE_BTF=$IGNORE,COMPLEX_MACRO
IGNORE_MMAP=$IGNORE,CONST_STRUCT
IGNORE_UAPI=$IGNORE,BIT_MACRO,SPDX_LICENSE_TAG

if [ ! -f "$out/scripts/checkpatch.pl" ]; then
	command -v perl >/dev/null || { echo "style.sh: perl is missing" >&2; exit 1; }
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/style.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	trap 'exit 130' INT TERM
	sandbox_opt=
	[ "$(id -u)" -eq 0 ] && sandbox_opt=-oAPT::Sandbox::User=root
	echo "style.sh: downloading $pkg for checkpatch.pl" >&2
	(cd "$tmp" && apt-get -q $sandbox_opt download "$pkg" >&2) ||
		{ echo "style.sh: apt-get download $pkg failed (run apt-get update?)" >&2; exit 1; }
	deb=$(ls "$tmp/${pkg}"_*.deb | tail -n 1)
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$pkg.tar.xz" |
		tar -xJ -C "$tmp" "$pkg/scripts/checkpatch.pl" \
			"$pkg/scripts/spelling.txt" "$pkg/scripts/const_structs.checkpatch"
	mkdir -p "$out/scripts"
	cp "$tmp/$pkg/scripts/checkpatch.pl" "$tmp/$pkg/scripts/spelling.txt" \
		"$tmp/$pkg/scripts/const_structs.checkpatch" "$out/scripts/"
fi

cd "$repo"
checkpatch() {
	ign=$1
	shift
	# a clean file's "total: 0 errors, ..." line says nothing
	res=$(perl "$out/scripts/checkpatch.pl" --no-tree --strict --terse \
		--show-types --ignore "$ign" -f "$@") && rc=0 || rc=$?
	printf '%s\n' "$res" | grep -v -e '^total: 0 errors, 0 warnings, 0 checks' -e '^$' || true
	return "$rc"
}
st=0
for f in module/*.c module/*.h; do
	case $f in
	module/capchan_trace.h) checkpatch "$IGNORE_TRACE" "$f" || st=1 ;;
	module/btf.c) checkpatch "$IGNORE_BTF" "$f" || st=1 ;;
	module/mmap.c) checkpatch "$IGNORE_MMAP" "$f" || st=1 ;;
	*) checkpatch "$IGNORE" "$f" || st=1 ;;
	esac
done
checkpatch "$IGNORE_UAPI" uapi/linux/capchan.h || st=1
[ "$st" -eq 0 ] && echo "style: checkpatch --strict: module/ and uapi/ clean"
exit "$st"
