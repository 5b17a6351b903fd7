#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the demo VM (see demo.sh), with capcat, captour and capls in
# /bin.
set -eu

echo "== capchan demo on $(uname -sr) =="
mkdir -p /tmp/demo/docs
echo "a file inside the granted directory" > /tmp/demo/docs/inside.txt
echo "a secret outside of it" > /tmp/secret.txt
ln -s ../../secret.txt /tmp/demo/docs/sneaky-link

echo
echo "-- capcat: print a file through a capability opened beneath a sealed grant"
capcat -v /tmp/demo docs/inside.txt

echo
echo "-- capcat: escapes are refused by the module (each fails closed)"
for p in ../secret.txt /tmp/secret.txt docs/sneaky-link; do
	if capcat /tmp/demo "$p"; then
		echo "demo: ESCAPE: $p was readable" >&2
		exit 1
	fi
done

echo
echo "-- captour: grant, seal, open beneath, derive read-only, revoke, batch"
captour /tmp/demo

echo
echo "-- capls: list a tree through a DIR capability (lookup list stat only, sealed)"
mkdir -p /tmp/tree/src/lib /tmp/tree/empty
echo "capchan demo tree" > /tmp/tree/README
echo "int main(void) { return 0; }" > /tmp/tree/src/main.c
echo "int util(void) { return 1; }" > /tmp/tree/src/lib/util.c
ln -s src/main.c /tmp/tree/main-link
capls /tmp/tree
echo "-- capls -d 1: only the top level"
capls -d 1 /tmp/tree

echo
echo "-- capls --try-unlink: UNLINK through a capability derived without REMOVE"
capls --try-unlink README /tmp/tree
[ -f /tmp/tree/README ] || { echo "demo: README was removed" >&2; exit 1; }

echo

echo "== demo finished =="
