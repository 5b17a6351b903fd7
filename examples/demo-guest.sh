#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the demo VM (see demo.sh), with capcat, captour, capls,
# capsandbox, capchan-policy, capserve and capmap in /bin.
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
echo "-- capchan-policy: a system policy on the writable tracepoint capchan_authorize"
# pins live on bpffs; the minimal guest does not mount it by itself
grep -q ' /sys/fs/bpf bpf ' /proc/mounts || mount -t bpf bpf /sys/fs/bpf
echo "capcat before any policy:"
capcat /tmp/demo docs/inside.txt
capchan-policy attach denyuid --uid 0 --errno EACCES --pin demo-deny
# the audit stream in the background, attached for its own run: wait until
# it is attached before the op it must see
capchan-policy audit --count 2 --timeout 60 >/tmp/audit.out 2>/tmp/audit.err &
audit_pid=$!
i=0
while ! grep -q attached /tmp/audit.err && [ "$i" -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
capchan-policy list
echo "capcat with the policy (uid 0 refused with EACCES):"
if capcat /tmp/demo docs/inside.txt; then
	echo "demo: the policy did not refuse the op" >&2
	exit 1
fi
wait "$audit_pid" || { echo "demo: audit failed" >&2; cat /tmp/audit.err >&2; exit 1; }
echo "the audit stream (capchan-policy audit --count 2):"
cat /tmp/audit.out
grep -q 'denied .*by=policy err=-EACCES' /tmp/audit.out ||
	{ echo "demo: no policy denial in the audit stream" >&2; exit 1; }
capchan-policy detach demo-deny
capchan-policy list
echo "capcat after detach:"
capcat /tmp/demo docs/inside.txt

echo
echo "-- capsandbox: a channel filter (classic BPF, no privilege) refuses WRITE, READ works"
capsandbox -e EPERM /tmp/demo docs/inside.txt

echo
echo "-- capserve: lend a directory read-only to uid 65534 in the sandbox, revoke it half-way"
# root's alone: the client reads it with the server's credentials only
mkdir -p /tmp/serve
echo "served by capserve" > /tmp/serve/hello.txt
printf 'read by the client before REVOKE.\nnever reached: REVOKE came first\n' \
	> /tmp/serve/notes.txt
chmod 0600 /tmp/serve/hello.txt /tmp/serve/notes.txt
chmod 0700 /tmp/serve
capserve -u 65534 /tmp/serve notes.txt ||
	{ echo "demo: capserve did not go as expected" >&2; exit 1; }

echo
echo "-- capmap: map a file through its capability (no copy), revoke, SIGBUS"
{ echo "a file read through a mapping of its capability"; seq 1 2000; } \
	> /tmp/map.txt
capmap /tmp/map.txt ||
	{ echo "demo: capmap did not go as expected" >&2; exit 1; }

echo

echo "== demo finished =="
