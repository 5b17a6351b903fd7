#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# qemu-watch.sh -l LIMIT -s START -m MARKER -o LOG [-q] -- COMMAND [ARG...]
#
# Runs a QEMU command line (or anything that behaves like one) with two
# deadlines, so that a guest that never starts costs seconds, not the whole
# run's limit:
#   -l LIMIT   seconds for the whole run (GNU timeout)
#   -s START   seconds until MARKER must have appeared in the output; a guest
#              that prints nothing of it by then is killed.  0: no deadline.
#   -m MARKER  a fixed string the guest prints once it is alive
#   -o LOG     the raw serial output (stdout and stderr of COMMAND)
#   -q         do not copy the output to stdout while it runs
# Exit status: COMMAND's own, 124 if LIMIT ran out, 69 if MARKER did not
# appear within START seconds (nothing is printed for either: the callers
# word their own verdicts).
#
# Why a watcher and not only `timeout`: a broken accelerator (a nested
# /dev/kvm that accepts guests and then spins) hangs right after the
# firmware, silently, and only the absence of guest output tells.

set -eu

usage() {
	echo "usage: qemu-watch.sh -l LIMIT -s START -m MARKER -o LOG [-q] -- COMMAND [ARG...]" >&2
	exit 2
}

limit=
start=
marker=
log=
quiet=0
while getopts l:s:m:o:q opt; do
	case $opt in
	l) limit=$OPTARG ;;
	s) start=$OPTARG ;;
	m) marker=$OPTARG ;;
	o) log=$OPTARG ;;
	q) quiet=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" != -- ] || shift
[ $# -ge 1 ] && [ -n "$marker" ] && [ -n "$log" ] || usage
case $limit$start in
*[!0-9]*) usage ;;
esac
[ -n "$limit" ] && [ -n "$start" ] || usage

state=$(mktemp -d "${TMPDIR:-/tmp}/capchan-watch.XXXXXX")
tpid=
cleanup() {
	[ -z "$tpid" ] || kill "$tpid" 2>/dev/null || true
	rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

: >"$log"
# The runner subshell records timeout's pid (the one to kill) and, when it
# is done, the exit status: a file, because a finished child stays a zombie
# (and so "alive" to kill -0) until the shell reaps it.
(
	timeout "$limit" "$@" </dev/null >"$log" 2>&1 &
	echo $! >"$state/pid"
	rc=0
	wait $! || rc=$?
	echo "$rc" >"$state/rc"
) 2>/dev/null &
runner=$!
if [ "$quiet" -eq 0 ]; then
	tail -n +1 -f --pid="$runner" "$log" &
	tpid=$!
fi

stalled=0
waited=0
seen=0
[ "$start" -gt 0 ] || seen=1
while [ ! -f "$state/rc" ]; do
	if [ "$seen" -eq 0 ]; then
		if grep -a -q -F -- "$marker" "$log"; then
			seen=1
		elif [ "$waited" -ge "$start" ]; then
			stalled=1
			# timeout passes TERM on to the guest and exits
			[ ! -f "$state/pid" ] || kill -TERM "$(cat "$state/pid")" 2>/dev/null || true
			break
		fi
	fi
	sleep 1
	waited=$((waited + 1))
done
wait "$runner" || true
if [ -n "$tpid" ]; then
	wait "$tpid" 2>/dev/null || true
	tpid=
fi
if [ "$stalled" -eq 1 ]; then
	exit 69
fi
rc=$(cat "$state/rc" 2>/dev/null || echo 1)
exit "$rc"
