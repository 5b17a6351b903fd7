#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# kernel.sh SPEC - fetch a stock Debian kernel for the capchan VM tests.
#
# SPEC is "6.1" (bookworm's current stock amd64 kernel), "6.1-rt" (its
# PREEMPT_RT flavour), "6.12" (the newest 6.12 amd64 kernel from
# <codename>-backports) or an exact release such as "6.1.0-56-amd64" or
# "6.12.57+deb12-amd64".
#
# The host kernel cannot load modules, so capchan runs inside QEMU booting a
# stock kernel. We need only that kernel's vmlinuz and its headers, so the
# packages are downloaded (never installed: installing would run initramfs
# generation and write /boot) and unpacked into a cache:
#   ${CAPCHAN_CACHE:-<repo>/.cache}/kernels/<release>/
# On success it prints shell-evaluable lines:
#   KVER=<release>
#   VMLINUZ=<path to vmlinuz>
#   KDIR=<path to the headers build dir, usable as make -C $KDIR M=...>
#   KMODS=<folder of guest modules, see below; empty if unavailable>
# Progress goes to stderr so that `eval "$(kernel.sh 6.1)"` works.
#
# Guest modules: the VM needs a disk file system (ext4 on a virtio disk,
# selftests/vm/run.sh), which Debian builds as modules.  Of the image's
# hundreds of MB of modules only those in VM_MODULES and what they depend
# on (modules.dep, made by depmod from the image's modules; built-in ones
# skipped via modules.builtin) are kept, uncompressed, in
# <release>/vm-modules/, with a file "order" naming them in a load order
# (dependencies first).  A cache made before this existed gets them on its
# next use (one more download of the image package).  Failing to get them
# is not fatal (retried once a day): KMODS stays empty and the tests that
# need a disk skip.
#
# Backports are fetched with a private apt configuration (sources list and
# state folders inside the cache) so the system's apt sources and candidate
# versions never change. Its archive host is the one the system's own
# sources already use: it is read from them at run time.

set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
repo=${CAPCHAN_REPO:-$(CDPATH='' cd -- "$here/../.." && pwd)}
cache=${CAPCHAN_CACHE:-$repo/.cache}
kcache=$cache/kernels
# apt's messages are parsed below; keep them in one language.
LC_ALL=C
export LC_ALL

die() {
	echo "kernel.sh: $*" >&2
	exit 1
}

say() {
	echo "kernel.sh: $*" >&2
}

usage() {
	echo "usage: kernel.sh 6.1|6.1-rt|6.12|<exact release, e.g. 6.1.0-56-amd64>" >&2
	exit 2
}

[ $# -eq 1 ] || usage
spec=$1

mkdir -p "$kcache"
kcache=$(CDPATH='' cd -- "$kcache" && pwd)
case $kcache in
*[!A-Za-z0-9_./+@%,:-]*)
	# The paths are printed unquoted for eval and for make; a space would
	# also break kbuild itself.
	die "cache path '$kcache' has characters kbuild cannot cope with; set CAPCHAN_CACHE"
	;;
esac

today=$(date +%Y-%m-%d)

# apt runs its downloads as the unprivileged _apt user, which cannot write
# into a root-owned cache folder; as root, say so up front instead of
# letting apt warn about it on every run.
sandbox_opt=
if [ "$(id -u)" -eq 0 ]; then
	sandbox_opt=-oAPT::Sandbox::User=root
fi

# --- private apt configuration for backports -------------------------------

papt=$cache/apt-backports
use_private=0

# apt_get/apt_cache run apt against the system configuration or, when
# use_private=1, against the private backports configuration.
apt_get() {
	if [ "$use_private" -eq 1 ]; then
		apt-get -q $sandbox_opt \
			-o Dir::Etc::SourceList="$papt/sources.list" \
			-o Dir::Etc::SourceParts=- \
			-o Dir::State::Lists="$papt/lists" \
			-o Dir::Cache="$papt/cache" "$@"
	else
		apt-get -q $sandbox_opt "$@"
	fi
}

apt_cache() {
	if [ "$use_private" -eq 1 ]; then
		apt-cache \
			-o Dir::Etc::SourceList="$papt/sources.list" \
			-o Dir::Etc::SourceParts=- \
			-o Dir::State::Lists="$papt/lists" \
			-o Dir::Cache="$papt/cache" "$@"
	else
		apt-cache "$@"
	fi
}

codename() {
	# shellcheck disable=SC1091
	c=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	echo "${c:-bookworm}"
}

# Print "URI<TAB>signed-by-path" for every system source that serves the
# release's main suite, from both the one-line and the deb822 formats.
system_archives() {
	suite=$1
	etc=/etc/apt/
	eval "$(apt-config shell etc Dir::Etc/d)"
	files=
	[ -f "${etc}sources.list" ] && files="${etc}sources.list"
	for f in "${etc}sources.list.d/"*.list "${etc}sources.list.d/"*.sources; do
		[ -f "$f" ] && files="$files $f"
	done
	[ -n "$files" ] || return 0
	for f in $files; do
		case $f in
		*.sources)
			awk -v suite="$suite" '
			function flush() {
				if (types ~ /(^|[ \t])deb([ \t]|$)/ && tolower(enabled) != "no" &&
				    (" " suites " ") ~ ("[ \t]" suite "[ \t]")) {
					n = split(uris, u, /[ \t]+/)
					for (i = 1; i <= n; i++)
						if (u[i] != "")
							print u[i] "\t" signed
				}
				types = uris = suites = signed = enabled = ""
			}
			/^[ \t]*$/ { flush(); next }
			/^#/ || /^[ \t]/ { next }
			{
				key = tolower($0); sub(/:.*/, "", key)
				val = $0; sub(/^[^:]*:[ \t]*/, "", val)
				if (key == "types") types = val
				else if (key == "uris") uris = val
				else if (key == "suites") suites = val
				else if (key == "enabled") enabled = val
				else if (key == "signed-by" && val ~ /^\//) signed = val
			}
			END { flush() }' "$f"
			;;
		*)
			awk -v suite="$suite" '
			$1 != "deb" { next }
			{
				i = 2; signed = ""
				if ($2 ~ /^\[/) {
					for (; i <= NF; i++) {
						if ($i ~ /signed-by=/) {
							s = $i; sub(/.*signed-by=/, "", s)
							sub(/\]$/, "", s); signed = s
						}
						if ($i ~ /\]$/) { i++; break }
					}
				}
				if ($(i + 1) == suite)
					print $i "\t" signed
			}' "$f"
			;;
		esac
	done
}

# Write the private sources list (once) and refresh its package lists at
# most once a day.
private_setup() {
	use_private=1
	mkdir -p "$papt/lists/partial" "$papt/cache/archives/partial"
	cn=$(codename)
	if [ ! -s "$papt/sources.list" ]; then
		arch=$(system_archives "$cn" | awk '!seen[$1]++')
		[ -n "$arch" ] ||
			die "no system apt source for suite '$cn' found to derive the backports source from"
		echo "$arch" | while IFS="$(printf '\t')" read -r uri signed; do
			if [ -n "$signed" ]; then
				echo "deb [signed-by=$signed] $uri $cn-backports main"
			else
				echo "deb $uri $cn-backports main"
			fi
		done >"$papt/sources.list.tmp"
		mv "$papt/sources.list.tmp" "$papt/sources.list"
	fi
	if [ "$(cat "$papt/updated" 2>/dev/null || true)" != "$today" ]; then
		say "updating private $cn-backports package lists"
		apt_get update >&2 || die "apt-get update of $cn-backports failed"
		echo "$today" >"$papt/updated"
	fi
}

# --- resolving a SPEC to a release ----------------------------------------

candidate() {
	apt_cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -v '^(none)$' || true
}

# 6.1: what the stock metapackage's candidate depends on; 6.1-rt: the same
# for the PREEMPT_RT flavour's metapackage.
resolve_stock() {
	meta=${1:-linux-image-amd64}
	v=$(candidate "$meta")
	if [ -z "$v" ] && [ "$(id -u)" -eq 0 ]; then
		# A fresh machine may have no package lists yet.
		apt_get update >&2 || true
		v=$(candidate "$meta")
	fi
	[ -n "$v" ] || die "$meta has no candidate (run apt-get update as root)"
	apt_cache show "$meta=$v" | sed -n 's/^Depends: //p' | head -n 1 |
		tr ',' '\n' | sed -n 's/^ *linux-image-\([0-9][^ ]*\).*/\1/p' |
		sed 's/-unsigned$//' | head -n 1
}

# 6.12: the newest plain amd64 flavour (not -rt, -cloud, -dbg) in backports.
# pkgnames also lists names that are only referenced (older ABIs named in
# Breaks:), so take the newest one that can actually be downloaded.
resolve_612() {
	private_setup
	for r in $(apt_cache pkgnames linux-image-6.12. |
		sed -n 's/^linux-image-\(6\.12\.[0-9][^-]*-amd64\)$/\1/p' |
		sort -Vr); do
		if [ -n "$(candidate "linux-image-$r")" ]; then
			echo "$r"
			return 0
		fi
	done
	return 1
}

resolve() {
	case $1 in
	6.1) resolve_stock ;;
	6.1-rt) resolve_stock linux-image-rt-amd64 ;;
	6.12) resolve_612 ;;
	esac
}

case $spec in
6.1 | 6.1-rt | 6.12)
	# Resolution needs apt; remember it for the day so a second call is
	# instant and needs no archive.
	rf=$kcache/resolved-$spec
	rel=
	if [ -f "$rf" ]; then
		read -r d r <"$rf" || true
		[ "${d:-}" = "$today" ] && rel=${r:-}
	fi
	if [ -z "$rel" ]; then
		rel=$(resolve "$spec" || true)
		if [ -n "$rel" ]; then
			echo "$today $rel" >"$rf"
		elif [ -f "$rf" ]; then
			# Offline: an older resolution still names a usable kernel.
			read -r d rel <"$rf" || true
			say "cannot resolve $spec now; using $rel resolved on $d"
		fi
	fi
	[ -n "$rel" ] || die "could not resolve kernel spec $spec"
	;;
[0-9]*.*-*)
	rel=$spec
	;;
*)
	usage
	;;
esac

case $rel in
*[!A-Za-z0-9_.+~-]*) die "bad kernel release '$rel'" ;;
esac

dest=$kcache/$rel
kdir=$dest/root/usr/src/linux-headers-$rel
vmlinuz=$dest/root/boot/vmlinuz-$rel

# The flavour headers' Makefile is one `include /usr/src/...-common/Makefile`
# line with an absolute path; point it at our extracted copy. Checked on
# every call so a moved cache still works.
fix_makefile() {
	mk=$kdir/Makefile
	grep -q "include $dest/root/usr/src/" "$mk" && return 0
	sed "s|include \(/usr/src/\)|include $dest/root\1|; s|include $kcache/[^/]*/root/usr/src/|include $dest/root/usr/src/|" \
		"$mk" >"$mk.tmp"
	mv "$mk.tmp" "$mk"
}

# What the guest loads before the tests: ext4 (crc32c_generic: ext4 and
# jbd2 ask the crypto API for "crc32c" at mount time, a lookup the guest
# cannot satisfy by loading a module on demand) and the virtio disk
# (virtio_pci is its transport; built in on 6.12).
VM_MODULES="crc32c_generic ext4 virtio_pci virtio_blk"
kmods=$dest/vm-modules

emit() {
	fix_makefile
	echo "KVER=$rel"
	echo "VMLINUZ=$vmlinuz"
	echo "KDIR=$kdir"
	if [ -f "$kmods/.complete" ]; then
		echo "KMODS=$kmods"
	else
		echo "KMODS="
	fi
}

# extract_modules DEB ROOT: unpack VM_MODULES and their dependencies from
# the image package DEB into $kmods (through ROOT, a scratch folder).
extract_modules() {
	mdir=./lib/modules/$rel
	# The package ships no modules.dep (installing it runs depmod): make
	# it from the unpacked modules, in the scratch folder only.
	dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" "$mdir" || return 1
	depmod -b "$2" "$rel" || return 1
	# Paths of the wanted modules in load order: a depth-first walk of
	# modules.dep, each module after everything it needs.  Names match
	# with '-' and '_' alike, as modprobe's do.
	list=$(awk -v want="$VM_MODULES" '
		function key(p) {
			sub(/.*\//, "", p); sub(/\.ko(\.[a-z]+)?$/, "", p)
			gsub(/-/, "_", p); return p
		}
		function visit(p,    n, i, d) {
			if (p in done) return
			done[p] = 1
			n = split(deps[p], d, " ")
			for (i = 1; i <= n; i++) visit(d[i])
			print p
		}
		FILENAME ~ /modules\.builtin$/ { builtin[key($1)] = 1; next }
		{
			p = $1; sub(/:$/, "", p)
			path[key(p)] = p
			$1 = ""; deps[p] = $0
		}
		END {
			n = split(want, w, " ")
			for (i = 1; i <= n; i++) {
				k = w[i]; gsub(/-/, "_", k)
				if (k in builtin) continue
				if (!(k in path)) { print "MISSING " k; continue }
				visit(path[k])
			}
		}' "$2/$mdir/modules.builtin" "$2/$mdir/modules.dep") || return 1
	case $list in
	*MISSING*)
		say "image has no module $(echo "$list" | sed -n 's/^MISSING //p' | tr '\n' ' ')"
		return 1
		;;
	esac
	mkdir -p "$2/mods"
	: >"$2/mods/order"
	for p in $list; do
		f=${p##*/}
		case $f in
		*.ko) cp "$2/$mdir/$p" "$2/mods/$f" ;;
		*.ko.xz) xz -dc "$2/$mdir/$p" >"$2/mods/${f%.xz}" && f=${f%.xz} ;;
		*.ko.zst) zstd -qdc "$2/$mdir/$p" >"$2/mods/${f%.zst}" && f=${f%.zst} ;;
		*.ko.gz) gzip -dc "$2/$mdir/$p" >"$2/mods/${f%.gz}" && f=${f%.gz} ;;
		*) say "cannot unpack module $f"; return 1 ;;
		esac || return 1
		echo "$f" >>"$2/mods/order"
	done
	rm -rf "$kmods"
	mv "$2/mods" "$kmods"
	: >"$kmods/.complete"
}

if [ -f "$dest/.complete" ] && [ -f "$kmods/.complete" ]; then
	emit
	exit 0
fi

# Serialise fetches so that two runs for the same kernel (make -j) do not
# race on the private apt state or the extraction.
exec 9>"$kcache/.lock"
if command -v flock >/dev/null 2>&1; then
	flock 9
fi
if [ -f "$dest/.complete" ] && [ -f "$kmods/.complete" ]; then
	emit
	exit 0
fi

# Which apt configuration knows this release?
known() {
	[ -n "$(candidate "linux-image-$rel")" ] ||
		[ -n "$(candidate "linux-image-$rel-unsigned")" ]
}

# A complete kernel from before the guest modules: fetch only those, at
# most once a day when that fails (offline, or the archive moved on).  In
# a subshell: nothing here may fail the kernel that is already there.
if [ -f "$dest/.complete" ]; then
	if [ "$(cat "$kmods.failed" 2>/dev/null || true)" = "$today" ]; then
		emit
		exit 0
	fi
	tmp=$dest/vm-modules.tmp.$$
	trap 'rm -rf "$tmp"' EXIT
	trap 'exit 130' INT TERM
	rm -rf "$tmp"
	mkdir -p "$tmp"
	if (
		known || { private_setup && known; } || exit 1
		image=linux-image-$rel
		[ -n "$(candidate "$image")" ] || image=$image-unsigned
		say "downloading $image for the guest modules"
		(cd "$tmp" && apt_get download "$image" >&2) &&
			extract_modules "$(ls "$tmp/$image"_*.deb)" "$tmp"
	); then
		rm -f "$kmods.failed"
	else
		say "no guest modules for $rel (the tests that need a disk will skip)"
		echo "$today" >"$kmods.failed"
	fi
	rm -rf "$tmp"
	trap - EXIT
	emit
	exit 0
fi

if ! known; then
	private_setup
	known || die "no linux-image package for $rel in the system sources or $(codename)-backports"
fi

image=linux-image-$rel
[ -n "$(candidate "$image")" ] || image=$image-unsigned
headers=linux-headers-$rel
# The flavour headers need their -common tree and the kbuild scripts.
deps=$(apt_cache depends "$headers" |
	sed -n 's/^ *Depends: <*\(linux-headers-[^ >]*-common[^ >]*\|linux-kbuild-[^ >]*\)>*.*/\1/p' |
	sort -u)
[ -n "$deps" ] || die "cannot find the dependencies of $headers"

tmp=$dest.tmp.$$
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
rm -rf "$tmp"
mkdir -p "$tmp/debs" "$tmp/root"

say "downloading $image $headers $(echo "$deps" | tr '\n' ' ')"
# shellcheck disable=SC2086 # deps is a newline-separated word list
if ! (cd "$tmp/debs" && apt_get download "$image" "$headers" $deps >&2); then
	# The archive keeps only current kernels: with old system package
	# lists the release may be gone. Refresh them once (root only) and
	# start over, which also re-resolves 6.1 to the current ABI.
	if [ "$use_private" -eq 0 ] && [ "$(id -u)" -eq 0 ] &&
		[ -z "${CAPCHAN_KERNEL_RETRIED:-}" ]; then
		say "download failed; refreshing the system package lists and retrying"
		apt_get update >&2 || true
		rm -rf "$tmp"
		rm -f "$kcache/resolved-$spec"
		CAPCHAN_KERNEL_RETRIED=1
		export CAPCHAN_KERNEL_RETRIED
		exec 9>&-
		exec "$0" "$spec"
	fi
	die "download failed (stale package lists? run apt-get update as root)"
fi

# Only /boot of the image is needed, and a few modules (extract_modules);
# all its modules would be hundreds of MB.
dpkg-deb --fsys-tarfile "$tmp/debs/$image"_*.deb | tar -x -C "$tmp/root" ./boot
kmods_final=$kmods
kmods=$tmp/vm-modules
mkdir -p "$tmp/mods-scratch"
extract_modules "$(ls "$tmp/debs/$image"_*.deb)" "$tmp/mods-scratch" ||
	say "no guest modules for $rel (the tests that need a disk will skip)"
rm -rf "$tmp/mods-scratch"
kmods=$kmods_final
for deb in "$tmp/debs"/linux-headers-*.deb "$tmp/debs"/linux-kbuild-*.deb; do
	dpkg-deb -x "$deb" "$tmp/root"
done
rm -rf "$tmp/debs"
[ -f "$tmp/root/boot/vmlinuz-$rel" ] || die "$image has no /boot/vmlinuz-$rel"
[ -f "$tmp/root/usr/src/linux-headers-$rel/Makefile" ] || die "$headers has no Makefile"

rm -rf "$dest"
mv "$tmp" "$dest"
: >"$dest/.complete"
trap - EXIT
emit
