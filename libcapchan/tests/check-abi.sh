#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0 OR MIT)
# The shared library exports exactly the functions listed in the version
# script, each under LIBCAPCHAN_0.1, and its soname is libcapchan.so.0.
# usage: check-abi.sh libcapchan.so.X.Y.Z libcapchan.map
set -eu
so=$1 map=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sed -n 's/^[[:space:]]*\(capchan_[a-z0-9_]*\);$/\1/p' "$map" | sort > "$tmp/want"
nm -D --defined-only "$so" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort > "$tmp/got"
if ! diff -u "$tmp/want" "$tmp/got"; then
	echo "check-abi: exported functions differ from $map" >&2
	exit 1
fi
objdump -T "$so" | awk '$4 == ".text" { print $6 " " $7 }' |
	grep -v '^LIBCAPCHAN_0\.1 ' && {
	echo "check-abi: a symbol is not versioned LIBCAPCHAN_0.1" >&2
	exit 1
}
soname=$(objdump -p "$so" | awk '$1 == "SONAME" { print $2 }')
[ "$soname" = libcapchan.so.0 ] || {
	echo "check-abi: soname is '$soname', want libcapchan.so.0" >&2
	exit 1
}
echo "check-abi: $(wc -l < "$tmp/want") symbols, LIBCAPCHAN_0.1, soname $soname: ok"
