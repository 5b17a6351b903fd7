#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0 OR MIT)
# Every public function and macro of capchan.h has a man page, every .so
# link resolves, and every page formats with groff -ww without a warning.
# usage: check-man.sh MANDIR capchan.h
set -eu
man=$(cd "$1" && pwd) hdr=$2
if ! command -v groff >/dev/null 2>&1; then
	echo "check-man: groff not installed, skipped"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# .so requests name man3/<page>, relative to the top of a man hierarchy.
ln -s "$man" "$tmp/man3"
ln -s "$man" "$tmp/man7"
fail=0

{
	# out-of-line functions: "int capchan_x(" / "ssize_t capchan_x(" ...
	sed -n 's/^[a-z_ ]*[ *]\(capchan_[a-z0-9_]*\)(.*/\1/p' "$hdr"
	# static inline hot paths (not the internal capchan__ helpers)
	sed -n 's/^static inline [^(]*[ *]\(capchan_[a-z0-9_]*\)(.*/\1/p' "$hdr"
	# public function-like macros
	sed -n 's/^#define \([Cc][Aa][Pp][Cc][Hh][Aa][Nn]_[A-Za-z0-9_]*\)(.*/\1/p' "$hdr"
} | grep -v '^capchan__' | sort -u > "$tmp/names"
for n in $(cat "$tmp/names"); do
	[ -f "$man/$n.3" ] || { echo "check-man: no page for $n" >&2; fail=1; }
done

pages=0
for f in "$man"/*.[37]; do
	pages=$((pages + 1))
	target=$(sed -n 's/^\.so \(.*\)$/\1/p' "$f")
	if [ -n "$target" ] && [ ! -f "$tmp/$target" ]; then
		echo "check-man: $(basename "$f"): .so $target does not exist" >&2
		fail=1
		continue
	fi
	out=$(cd "$tmp" && groff -t -man -Tutf8 -ww -z "$f" 2>&1) || true
	if [ -n "$out" ]; then
		echo "check-man: $(basename "$f"): $out" >&2
		fail=1
	fi
done
[ "$fail" = 0 ] || exit 1
echo "check-man: $pages pages, $(wc -l < "$tmp/names") public names documented: ok"
