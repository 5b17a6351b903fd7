#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0 OR MIT)
# The shared library exports exactly the functions listed in the version
# script, each under the version node that lists it, and its soname is
# libcapchan.so.0.
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
# "NODE symbol" pairs as the map assigns them, and as the library has them
awk '/^LIBCAPCHAN_[0-9.]+ *\{/ { node = $1 }
     /^[[:space:]]*capchan_[a-z0-9_]*;$/ { sub(/^[[:space:]]*/, ""); sub(/;$/, ""); print node " " $0 }' \
	"$map" | sort > "$tmp/want-ver"
objdump -T "$so" | awk '$4 == ".text" { print $6 " " $7 }' | sort > "$tmp/got-ver"
if ! diff -u "$tmp/want-ver" "$tmp/got-ver"; then
	echo "check-abi: a symbol is not in the version node the map gives it" >&2
	exit 1
fi
soname=$(objdump -p "$so" | awk '$1 == "SONAME" { print $2 }')
[ "$soname" = libcapchan.so.0 ] || {
	echo "check-abi: soname is '$soname', want libcapchan.so.0" >&2
	exit 1
}
echo "check-abi: $(wc -l < "$tmp/want") symbols in $(cut -d' ' -f1 "$tmp/want-ver" | sort -u | tr '\n' ' ')nodes, soname $soname: ok"
