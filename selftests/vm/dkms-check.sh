#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# dkms-check.sh [-k RELEASE] - prove that the repo's dkms.conf builds
# capchan.ko, then leave DKMS as it was.
#
# DKMS only takes sources from /usr/src/<name>-<version>, so the module's
# sources (dkms.conf, Kbuild, VERSION, module/, uapi/; no build outputs) are copied
# there, added, built for RELEASE, checked, and removed again whatever
# happens. RELEASE defaults to the newest installed 6.1 headers
# (/lib/modules/6.1.*/build); the host's running kernel does not matter,
# DKMS builds against any installed headers. Needs root.
#
# Environment: CAPCHAN_MODULE_SRC (tree with dkms.conf; default the repo),
#   CAPCHAN_DKMS_KERNEL (same as -k).

set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
repo=${CAPCHAN_REPO:-$(CDPATH='' cd -- "$here/../.." && pwd)}
src=${CAPCHAN_MODULE_SRC:-$repo}
kernel=${CAPCHAN_DKMS_KERNEL:-}

die() {
	echo "dkms-check: FAIL $*" >&2
	exit 1
}

while getopts k: opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	*)
		echo "usage: dkms-check.sh [-k RELEASE]" >&2
		exit 2
		;;
	esac
done

[ "$(id -u)" -eq 0 ] || die "needs root (dkms writes /usr/src and /var/lib/dkms)"
command -v dkms >/dev/null 2>&1 || die "dkms is not installed (selftests/vm/deps.sh)"
[ -f "$src/dkms.conf" ] || die "no $src/dkms.conf"

[ -f "$src/VERSION" ] || die "no $src/VERSION"
ver=$(cat "$src/VERSION")
grep -q '^PACKAGE_VERSION="@VERSION@"$' "$src/dkms.conf" ||
	die "dkms.conf must say PACKAGE_VERSION=\"@VERSION@\" (filled from VERSION)"
name=$(sed -n 's/^PACKAGE_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$src/dkms.conf" | head -n 1)
[ -n "$ver" ] || die "no PACKAGE_VERSION in dkms.conf"
[ "$name" = capchan ] || die "dkms.conf PACKAGE_NAME is '$name', expected capchan"

if [ -z "$kernel" ]; then
	kernel=$(for d in /lib/modules/6.1.*/build; do
		[ -d "$d" ] || continue
		r=${d#/lib/modules/}
		echo "${r%/build}"
	done | sort -V | tail -n 1)
fi
[ -n "$kernel" ] || die "no installed 6.1 headers under /lib/modules/*/build (apt-get install linux-headers-amd64)"
[ -d "/lib/modules/$kernel/build" ] || die "no headers for $kernel in /lib/modules/$kernel/build"

usrsrc=/usr/src/capchan-$ver
# Never clobber a capchan that a user installed through DKMS.
[ ! -e "$usrsrc" ] || die "$usrsrc already exists; remove the installed capchan first"
if dkms status -m capchan -v "$ver" 2>/dev/null | grep -q .; then
	die "capchan/$ver is already registered with DKMS"
fi

# DKMS makes itself a module signing key on first use; a check should not
# leave one behind if there was none.
mok_existed=0
[ ! -e /var/lib/dkms/mok.key ] || mok_existed=1

added=0
cleanup() {
	if [ "$added" -eq 1 ]; then
		dkms remove "capchan/$ver" --all >/dev/null 2>&1 ||
			echo "dkms-check: warning: dkms remove capchan/$ver failed" >&2
	fi
	rm -rf "$usrsrc"
	rmdir "/var/lib/dkms/capchan" 2>/dev/null || true
	[ "$mok_existed" -eq 1 ] || rm -f /var/lib/dkms/mok.key /var/lib/dkms/mok.pub
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Sources only: an in-tree build may have left objects next to them, and
# stale objects would let DKMS "succeed" without compiling.
mkdir -p "$usrsrc"
sed "s/@VERSION@/$ver/" "$src/dkms.conf" > "$usrsrc/dkms.conf"
cp "$src/VERSION" "$usrsrc/"
[ ! -f "$src/Kbuild" ] || cp "$src/Kbuild" "$usrsrc/"
for d in module uapi; do
	[ -d "$src/$d" ] || continue
	(cd "$src" && find "$d" -type f ! -name '*.o' ! -name '*.ko' ! -name '*.mod' \
		! -name '*.mod.c' ! -name '.*.cmd' ! -name '*.order' ! -name '*.symvers' \
		! -name '.*.d' ! -name '*.dwo') | while IFS= read -r f; do
		mkdir -p "$usrsrc/$(dirname -- "$f")"
		cp "$src/$f" "$usrsrc/$f"
	done
done

echo "dkms-check: dkms add capchan/$ver"
dkms add -m capchan -v "$ver" || die "dkms add failed"
added=1
echo "dkms-check: dkms build capchan/$ver -k $kernel"
if ! dkms build -m capchan -v "$ver" -k "$kernel"; then
	tail -n 40 "/var/lib/dkms/capchan/$ver/build/make.log" >&2 2>/dev/null || true
	die "dkms build failed"
fi

ko=$(find "/var/lib/dkms/capchan/$ver/$kernel" -name 'capchan.ko*' -type f 2>/dev/null | head -n 1)
[ -n "$ko" ] || die "dkms build produced no capchan.ko"
dkms status -m capchan -v "$ver" -k "$kernel" | grep -q 'built' ||
	die "dkms status does not report capchan/$ver as built for $kernel"
echo "dkms-check: built $ko"
echo "dkms-check: PASS capchan/$ver for $kernel"
