#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make demo: boot Debian's stock 6.1 kernel in QEMU, load capchan.ko and
# run the examples (demo-guest.sh drives capcat, captour, capls, capsandbox,
# capchan-policy, capserve and capmap in the guest).
# Shows the guest's own lines and capchan's kernel messages; the full
# serial log (boot messages included) stays in the log file it names.
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
repo=$(CDPATH='' cd -- "$here/.." && pwd)
mkdir -p "$repo/build"
log=$repo/build/demo.log

status=0
sh "$repo/selftests/vm/run.sh" -q -k "${CAPCHAN_DEMO_KERNEL:-6.1}" -t 300 \
	-o "$log" \
	-f "$here/capcat:/bin/capcat" -f "$here/captour:/bin/captour" \
	-f "$here/capls:/bin/capls" -f "$here/capsandbox:/bin/capsandbox" \
	-f "$here/capchan-policy:/bin/capchan-policy" \
	-f "$here/capserve:/bin/capserve" -f "$here/capmap:/bin/capmap" \
	"$here/demo-guest.sh" > "$log.verdict" 2>&1 || status=$?
# drop firmware noise and boot messages, keep the guest and capchan lines
tr -d '\r' < "$log" | sed -n '/^capchan-vm: kernel/,$p' |
	grep -v -e '^\[' -e 'dmesg-' -e '^capchan-vm: poweroff' || true
tr -d '\r' < "$log" | grep -e '\] capchan: ' | sort -u || true
cat "$log.verdict"
rm -f "$log.verdict"
exit "$status"
