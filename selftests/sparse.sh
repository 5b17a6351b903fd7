#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# sparse.sh [SPEC...] - build capchan.ko with the sparse checker (C=2) for
# Debian's stock kernels (default: 6.1 and 6.12; vm/kernel.sh fetches
# their headers), and fail if sparse says anything about capchan's files.
# sparse finds what the compiler does not: __user pointers used as kernel
# pointers, endianness mixups, lock context imbalances.  Debian's sparse
# package comes with vm/deps.sh (make deps).

set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
repo=$(CDPATH='' cd -- "$here/.." && pwd)
build=${CAPCHAN_BUILD:-$repo/build}
specs=${*:-6.1 6.12}

command -v sparse >/dev/null 2>&1 ||
	{ echo "sparse.sh: sparse is missing (make deps, or apt-get install sparse)" >&2; exit 1; }

st=0
for spec in $specs; do
	out=$(sh "$here/vm/kernel.sh" "$spec") || { echo "sparse.sh: no kernel $spec" >&2; exit 1; }
	kver=$(echo "$out" | sed -n 's/^KVER=//p')
	kdir=$(echo "$out" | sed -n 's/^KDIR=//p')
	# a copy of the sources, so that C=2 checks every file every time
	src=$build/sparse-$kver
	rm -rf "$src"
	mkdir -p "$src"
	cp -r "$repo/Kbuild" "$repo/VERSION" "$repo/module" "$repo/uapi" "$src/"
	log=$build/sparse-$kver.log
	if ! make -C "$kdir" M="$src/module" C=2 CHECK=sparse \
		-j"$(nproc 2>/dev/null || echo 2)" modules > "$log" 2>&1; then
		cat "$log"
		echo "sparse.sh: FAIL build for $kver"
		st=1
		continue
	fi
	# sparse's findings name a file of ours: "<src>/module/x.c:12:3: warning: ..."
	found=$(grep -E "^$src/(module|uapi)/[^:]+:[0-9]+:[0-9]+: (warning|error)" "$log" || true)
	if [ -n "$found" ]; then
		printf '%s\n' "$found" | sed "s|^$src/||"
		echo "sparse.sh: FAIL sparse reported $(printf '%s\n' "$found" | wc -l) problems for $kver"
		st=1
	else
		echo "sparse.sh: $kver: clean ($(grep -c '  CHECK ' "$log") files checked)"
	fi
done
exit "$st"
