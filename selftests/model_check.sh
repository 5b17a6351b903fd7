#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# model_check.sh - check capchan's Promela models with spin.
#
#   module/ring_sqpoll.pml    the SQ/CQ rings with the kernel poll thread's
#                             NEED_WAKEUP handshake, over x86-TSO store
#                             buffers
#   module/cap_lifecycle.pml  capability enter/exit, derive, export/import,
#                             revoke, close
#   module/ring_workers.pml   the CQ and its producers: two ENTER threads
#                             taking batches of SQEs under ring_lock with
#                             their CQE slots reserved (ctx->inflight),
#                             posting under cq_lock, and the workers they
#                             hand blocking ops to
#   module/chain_follow.pml   a chain run op by op whose next SQEs follow
#                             the ENTER or the worker running its op: put
#                             on its list, handed over with it, or finding
#                             the chain's state given back
#
# Each model is checked exhaustively (spin -a, pan built with -DSAFETY:
# assertions and invalid end states, i.e. deadlocks), and each of its
# broken variants (-DBROKEN_*: a barrier or a check taken out) must be
# refuted: a broken variant that passes means the model can no longer see
# the bug it was written to catch.  One TAP line per check; exits non-zero
# if a model fails or a broken variant passes.  Needs spin and gcc; about
# two minutes of CPU in all.  CAPCHAN_BUILD (default build/) holds the work
# files and error trails (build/model/<check>/); CAPCHAN_MODEL_MEMLIM (MB,
# default 2048) and CAPCHAN_MODEL_DEPTH (default 10000) bound each search:
# a correct model whose search hits either bound fails, it proved nothing.
set -u

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
repo=$(CDPATH='' cd -- "$here/.." && pwd)
build=${CAPCHAN_BUILD:-$repo/build}/model
# pan's memory bound (MB) and depth bound: each run takes seconds
memlim=${CAPCHAN_MODEL_MEMLIM:-2048}
depth=${CAPCHAN_MODEL_DEPTH:-10000}

n=0
bad=0

if ! command -v spin > /dev/null 2>&1 || ! command -v gcc > /dev/null 2>&1; then
	echo "1..1"
	echo "not ok 1 - model checks: spin or gcc missing (apt-get install spin gcc)"
	exit 1
fi

plan=28
echo "1..$plan"

# run_pan NAME MODEL EXPECT DESCRIPTION [SPIN -D OPTIONS...]
# EXPECT is "pass" (no error) or "fail" (spin must find a violation).
run_pan() {
	name=$1 model=$2 expect=$3 desc=$4
	shift 4
	n=$((n + 1))
	dir=$build/$name
	rm -rf "$dir"
	mkdir -p "$dir"
	cp "$repo/module/$model" "$dir/"
	log=$dir/pan.log
	if ! (cd "$dir" && spin -a "$@" "$model" > spin.log 2>&1); then
		echo "not ok $n - $desc: spin -a failed (see $dir/spin.log)"
		bad=$((bad + 1))
		return
	fi
	# -w: pan.c's generated code trips gcc's array-bound warnings
	if ! (cd "$dir" && gcc -w -O2 -DSAFETY -DCOLLAPSE -DMEMLIM="$memlim" \
			-o pan pan.c > gcc.log 2>&1); then
		echo "not ok $n - $desc: pan did not build (see $dir/gcc.log)"
		bad=$((bad + 1))
		return
	fi
	(cd "$dir" && ./pan -m"$depth" > "$log" 2>&1)
	errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
	states=$(sed -n 's/^ *\([0-9][0-9]*\) states, stored.*/\1/p' "$log" | tail -n 1)
	# a search cut short by the depth or memory bound proves nothing
	cut=
	grep -q 'max search depth too small' "$log" && cut="depth bound $depth reached"
	grep -q 'reached -DMEMLIM bound' "$log" && cut="memory bound ${memlim} MB reached"
	if [ -z "$errors" ]; then
		echo "not ok $n - $desc: no verdict from pan (see $log)"
		bad=$((bad + 1))
		return
	fi
	if [ "$expect" = pass ]; then
		if [ "$errors" -eq 0 ] && [ -z "$cut" ]; then
			echo "ok $n - $desc ($states states)"
		else
			echo "not ok $n - $desc: errors $errors${cut:+, $cut} (see $log and the trail: cd $dir && spin -t -p $* $model)"
			bad=$((bad + 1))
		fi
	else
		if [ "$errors" -gt 0 ]; then
			what=$(grep -m 1 '^pan:1: ' "$log" | sed 's/^pan:1: //')
			echo "ok $n - $desc: refuted: $what"
		else
			echo "not ok $n - $desc: spin found no violation (${states} states${cut:+, $cut})"
			bad=$((bad + 1))
		fi
	fi
}

r=ring_sqpoll.pml
run_pan ring2 $r pass "ring_sqpoll: ring 2, 3 SQEs: no lost/duplicated CQE, no missed wakeup, no deadlock" -DRING=2 -DNREQ=3
run_pan ring4 $r pass "ring_sqpoll: ring 4, 3 SQEs across its end: no lost/duplicated CQE, no missed wakeup, no deadlock" -DRING=4 -DNREQ=3 -DSTART=2
run_pan ring2-nobarrier $r fail "ring_sqpoll broken: capchan_submit() without W1 is caught" -DRING=2 -DNREQ=3 -DBROKEN_SUBMIT_BARRIER
run_pan ring4-nobarrier $r fail "ring_sqpoll broken: capchan_submit() without W1 is caught (ring 4)" -DRING=4 -DNREQ=3 -DSTART=2 -DBROKEN_SUBMIT_BARRIER
run_pan ring2-recheck $r fail "ring_sqpoll broken: thread re-checks the SQ before its smp_mb() is caught" -DRING=2 -DNREQ=3 -DBROKEN_THREAD_RECHECK
run_pan ring4-recheck $r fail "ring_sqpoll broken: thread re-checks the SQ before its smp_mb() is caught (ring 4)" -DRING=4 -DNREQ=3 -DSTART=2 -DBROKEN_THREAD_RECHECK
run_pan ring2-cqspace $r fail "ring_sqpoll broken: thread ignoring the CQ-space rule is caught" -DRING=2 -DNREQ=3 -DBROKEN_CQ_SPACE
c=cap_lifecycle.pml
run_pan cap $c pass "cap_lifecycle: no op after REVOKE returned, no object dropped under an op, each capability freed once"
run_pan cap-norecheck $c fail "cap_lifecycle broken: capchan_cap_enter() without the revoked re-check is caught" -DBROKEN_ENTER_NO_RECHECK
run_pan cap-inc $c fail "cap_lifecycle broken: capchan_cap_enter() with atomic_inc() is caught" -DBROKEN_ENTER_INC
run_pan cap-link $c fail "cap_lifecycle broken: capchan_cap_link() under a revoked parent is caught" -DBROKEN_LINK_NO_CHECK
w=ring_workers.pml
w2="-DCQ=2 -DNOPS=5 -DLINKS=5 -DMAXIF=2 -DNW=2 -DNSUB=2 -DBATCH=2"
run_pan workers2 $w pass "ring_workers: CQ 2, 5 SQEs, chains of 2, 2 ENTERs, batch 2, 2 workers: no lost/overwritten/early CQE, tail monotonic, inflight bounded, no deadlock" $w2
run_pan workers4 $w pass "ring_workers: CQ 4, 5 SQEs, a chain of 3 run op by op, bound 3, 2 ENTERs, batch 2, 2 workers: no lost/overwritten/early CQE, tail monotonic, inflight bounded, no deadlock" -DCQ=4 -DNOPS=5 -DLINKS=6 -DMAXIF=3 -DNW=2 -DNSUB=2 -DBATCH=2
run_pan workers3-batch3 $w pass "ring_workers: CQ 3, 5 SQEs, a chain of 3 in one batch, 2 ENTERs, batch 3, 2 workers: no lost/overwritten/early CQE, tail monotonic, inflight bounded, no deadlock" -DCQ=3 -DNOPS=5 -DLINKS=6 -DMAXIF=3 -DNW=2 -DNSUB=2 -DBATCH=3
run_pan workers2-spaceorder $w fail "ring_workers broken: capchan_ring_room() reading cached_cq_tail before inflight is caught" $w2 -DBROKEN_SPACE_ORDER
run_pan workers2-spaceorder-enter $w fail "ring_workers broken: the same is caught between two ENTERs, no op punted" $w2 -DMAYBLOCK=0 -DBROKEN_SPACE_ORDER
run_pan workers2-early $w fail "ring_workers broken: worker dropping inflight before it posts is caught" $w2 -DBROKEN_WORKER_EARLY
run_pan workers2-batchearly $w fail "ring_workers broken: batch dropping its reservations before it posts is caught" $w2 -DBROKEN_BATCH_EARLY
run_pan workers2-unlocked $w fail "ring_workers broken: reserving after ring_lock is let go of is caught" $w2 -DBROKEN_RESERVE_UNLOCKED
run_pan workers2-puntreserve $w fail "ring_workers broken: punt reserving the work's slots again is caught" $w2 -DBROKEN_PUNT_RESERVE
run_pan workers2-puntmask $w fail "ring_workers broken: batch posting the rest of a punted chain too is caught" $w2 -DBROKEN_PUNT_MASK
f=chain_follow.pml
f1="-DCHAIN_A=3 -DCHAIN_B=1"
run_pan follow $f pass "chain_follow: chains of 3 and 1, 2 ENTERs, 1 SQE may follow an ENTER: each op once, in chain order, in its chain's state, nothing left on a list" $f1
run_pan follow-2x2 $f pass "chain_follow: chains of 2 and 2: the same" -DCHAIN_A=2 -DCHAIN_B=2
run_pan follow-split $f fail "chain_follow broken: giving the state back in a second critical section is caught" $f1 -DBROKEN_GIVE_BACK_SPLIT
run_pan follow-parklate $f fail "chain_follow broken: a chain following a work only after it was queued is caught" $f1 -DBROKEN_PARK_LATE
run_pan follow-noback $f fail "chain_follow broken: the next SQE ignoring the state given back is caught" $f1 -DBROKEN_NO_TAKE_BACK
run_pan follow-backorder $f fail "chain_follow broken: clearing park before setting back is caught" $f1 -DBROKEN_BACK_ORDER
run_pan follow-nosplice $f fail "chain_follow broken: a hand-over leaving what followed the ENTER behind is caught" $f1 -DBROKEN_NO_SPLICE

if [ "$n" -ne "$plan" ]; then
	echo "not ok $((n + 1)) - model_check.sh: plan says $plan checks, ran $n"
	bad=$((bad + 1))
fi
[ "$bad" -eq 0 ]
