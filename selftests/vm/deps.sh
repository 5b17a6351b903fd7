#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# deps.sh - install the Debian 12 packages capchan needs to build and test,
# only the ones that are missing.
#
# Checking with dpkg-query first keeps a repeated run (every `make check`)
# well under a second and lets it run without root once all is there.
# Kernels for the VM are not installed here: kernel.sh downloads and
# unpacks them into the cache without touching /boot.

set -eu

# libc6-dev: libc.a for the static test binaries; openssl: DKMS makes its
# module signing key with it on first use; sparse: make sparse; spin: make
# model (the Promela models in module/*.pml); valgrind: the host unit tests
# run under memcheck in make check; e2fsprogs: the VM's test disk
# (mkfs.ext4, vm/run.sh); kmod, xz-utils: kernel.sh's guest modules.
pkgs="qemu-system-x86 busybox-static cpio kmod liburing-dev libbpf-dev bpftool
dwarves check dkms libzstd-dev libelf-dev zlib1g-dev pkg-config xz-utils clang
llvm gcc libc6-dev make openssl linux-headers-amd64 sparse spin valgrind
e2fsprogs"

# One dpkg-query for all; unknown packages just produce no line.
# shellcheck disable=SC2086 # pkgs is a word list
installed=$(dpkg-query -W -f='${Package} ${Status}\n' $pkgs 2>/dev/null |
	awk '$NF == "installed" { print $1 }' || true)
missing=
for p in $pkgs; do
	echo "$installed" | grep -qxF "$p" || missing="$missing $p"
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing Debian packages:$missing" >&2
	echo "deps.sh: install them as root: apt-get update && apt-get install -y$missing" >&2
	exit 1
fi

echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# Recommends would add QEMU's GUI and much else; the firmware QEMU boots
# with (seabios, ipxe-qemu) is a hard dependency and comes anyway.
# shellcheck disable=SC2086 # missing is a word list
apt-get install -y -q --no-install-recommends $missing
