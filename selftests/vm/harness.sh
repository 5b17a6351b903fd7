#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# harness.sh - provide the kernel's kselftest harness headers for the
# capchan selftests.
#
# kselftest_harness.h and kselftest.h are kernel files: they are never
# committed. They are taken from Debian's linux-source-6.1 package at build
# time and put into <repo>/selftests/kselftest/ (gitignored). The 139 MB
# package is streamed: only its source tarball is read, and only the two
# headers are written to disk. Nothing is done if they are already there.
#
# Prints the include directory (use it as -I<dir>).

set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
repo=${CAPCHAN_REPO:-$(CDPATH='' cd -- "$here/../.." && pwd)}
cache=${CAPCHAN_CACHE:-$repo/.cache}
out=$repo/selftests/kselftest
pkg=linux-source-6.1
top=linux-source-6.1/tools/testing/selftests

if [ -f "$out/kselftest_harness.h" ] && [ -f "$out/kselftest.h" ]; then
	echo "$out"
	exit 0
fi

dl=$cache/debs
mkdir -p "$dl"
tmp=$(mktemp -d "$cache/harness.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# apt downloads as the _apt user, which cannot write into a root-owned
# folder; as root, tell apt so instead of letting it warn.
sandbox_opt=
[ "$(id -u)" -eq 0 ] && sandbox_opt=-oAPT::Sandbox::User=root

# A download interrupted after the move would leave a usable .deb; reuse it.
deb=
for f in "$dl/${pkg}"_*.deb; do
	[ -f "$f" ] && deb=$f
done
if [ -z "$deb" ]; then
	echo "harness.sh: downloading $pkg" >&2
	(cd "$tmp" && apt-get -q $sandbox_opt download "$pkg" >&2) ||
		{ echo "harness.sh: apt-get download $pkg failed (run apt-get update?)" >&2; exit 1; }
	for f in "$tmp/${pkg}"_*.deb; do
		mv "$f" "$dl/"
		deb=$dl/${f##*/}
	done
fi

# Stream: the source tarball is never written to disk, and only the two
# headers are extracted from it (about 12 s, mostly xz). Stopping tar early
# saves little and makes dpkg-deb complain about a broken pipe.
dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$pkg.tar.xz" |
	tar -xJ -C "$tmp" "$top/kselftest_harness.h" "$top/kselftest.h"
for f in kselftest_harness.h kselftest.h; do
	[ -s "$tmp/$top/$f" ] ||
		{ echo "harness.sh: $f not found in $deb" >&2; exit 1; }
done

mkdir -p "$out"
cp "$tmp/$top/kselftest_harness.h" "$tmp/$top/kselftest.h" "$out/"
# Only the two headers are needed; the package is not kept.
rm -f "$deb"
echo "$out"
