/*
 * SPDX-License-Identifier: GPL-2.0
 *
 * capchan - Promela model of a linked chain run op by op that follows
 * the worker its blocked op went to (module/ring.c capchan_chain_step(),
 * module/worker.c capchan_workers_follow(), capchan_work_follow()).
 * Checked with spin by selftests/model_check.sh.  Not compiled:
 * module/Kbuild lists its objects.
 *
 * What it models:
 *  - submitter(): ENTER (capchan_ring_submit()) or the poll thread, any
 *    number of them sharing the SQ, each consuming one SQE of a chain run
 *    op by op per turn of ring_lock (capchan_chain_step()): holding
 *    ring_lock longer only removes interleavings.  Under ring_lock it
 *    reads whether the chain follows a work (capchan_workers_following(),
 *    a plain read: memory for the list entry is got when it does),
 *    consumes the SQE, then (capchan_workers_follow()) with no work to
 *    follow and no state given back (two reads without the lock: the
 *    work, load-acquire, then the state) runs it at once, else under the
 *    workers' lock either puts it on the
 *    list of the work the chain follows (the chain's end unparks it) or
 *    takes back the state a work gave back and runs it in the channel's
 *    chain state (ctx->chain) as capchan_batch_run_one() does: a new
 *    chain resets the state, a failed chain cancels the op, and an op
 *    that would block (a free choice) goes to a worker: the work made,
 *    queued and, if the op links on, parked in one critical section of
 *    the workers' lock (capchan_workers_punt(), capchan_work_park()).
 *  - worker(w): capchan_work_run() of work w: it takes the work off the
 *    queue under the workers' lock, runs the op, then
 *    capchan_work_follow(): under the workers' lock, the next list entry,
 *    run in the work's chain state (capchan_work_next()), or, with none
 *    left and the chain still following this work, the state given back
 *    in that same critical section: back set, then park cleared
 *    (store-release), each a step of its own, since the submitter's
 *    first look does not take the lock.
 *  - An op (exec): runs once, after the op before it in its chain, in the
 *    right chain state: its failure flag and the handle
 *    CAPCHAN_HANDLE_CHAIN names are checked against the truth kept per
 *    chain as its ops run; an op may make a handle, use one, or fail.
 *  - init: the SQEs (CHAIN_A ops linked, then CHAIN_B), the processes,
 *    and at the end: every SQE ran exactly once, no list holds an entry,
 *    no work is parked.
 * Workers' lock and ring_lock are locks (sequentially consistent between
 * their holders); every shared variable here is read and written under
 * one of them, except `park`'s hint read, which only decides whether an
 * entry is made ready (a stale non-zero wastes it; zero cannot be stale:
 * only ring_lock's holder parks).
 *
 * Broken variants (each must be refuted by model_check.sh):
 *  -DBROKEN_GIVE_BACK_SPLIT  the worker finds its list empty and gives the
 *                            state back in two critical sections: an SQE
 *                            put on the list between them never runs
 *  -DBROKEN_PARK_LATE        the punt queues the work, then parks it in a
 *                            later critical section: the worker may be
 *                            done before, and SQEs follow a work gone
 *  -DBROKEN_NO_TAKE_BACK     the next SQE ignores the state given back:
 *                            a handle made or a failure seen in the
 *                            worker is lost
 *  -DBROKEN_BACK_ORDER       the worker clears park before it sets back:
 *                            a submitter looking without the lock in
 *                            between finds neither
 */

#ifndef CHAIN_A
#define CHAIN_A		3	/* ops of the first chain */
#endif
#ifndef CHAIN_B
#define CHAIN_B		2	/* then a second chain */
#endif
#ifndef NSUB
#define NSUB		2	/* ENTER threads / poll thread */
#endif
#define NSQE		(CHAIN_A + CHAIN_B)
#define NWORK		(NSQE + 1)	/* work ids 1..NSQE; 0: none */

bit link[NSQE];		/* CAPCHAN_SQE_LINK */
bit mkh[NSQE];		/* makes a handle (OPEN) */
bit useh[NSQE];		/* uses CAPCHAN_HANDLE_CHAIN */
bit canfail[NSQE];	/* may fail */
byte chain_of[NSQE];

/* what the ops really did, per chain: the checks' truth */
byte truth_handle[2];
bit truth_failed[2];
byte ran[NSQE];

bit ring_lock;
bit wlock;
byte sq_head;

/* ctx->chain: the ring side's chain state (ring_lock) */
bit ch_inlink;
bit ch_failed;
byte ch_handle;

/* the workers' lock: the work the chain follows, the state given back */
byte park;
bit back;
bit back_failed;
byte back_handle;

/* each work: its op, the chain handle it was handed, its list */
byte nworks;
byte wop[NWORK];
byte wh[NWORK];
chan more[NWORK] = [NSQE] of { byte };

inline lock(l)
{
	atomic { l == 0 -> l = 1 }
}

inline unlock(l)
{
	l = 0
}

/* Run op @i in chain state (@failed, @handle); capchan_execute(). */
inline exec(i, failed, handle)
{
	assert(ran[i] == 0);
	if
	:: i > 0 && link[i - 1] -> assert(ran[i - 1] == 1)
	:: else
	fi;
	assert(failed == truth_failed[chain_of[i]]);
	if
	:: failed -> skip		/* -ECANCELED */
	:: else ->
		if
		:: useh[i] -> assert(handle == truth_handle[chain_of[i]])
		:: else
		fi;
		if
		:: mkh[i] -> handle = i + 1; truth_handle[chain_of[i]] = i + 1
		:: else
		fi;
		if
		:: canfail[i] -> failed = 1; truth_failed[chain_of[i]] = 1
		:: true
		fi
	fi;
	ran[i] = 1
}

proctype worker(byte w)
{
	bit f = 0, inl;
	byte hd = wh[w];
	byte i;

	/* capchan_worker(): the work comes off the queue under the lock */
	lock(wlock);
	unlock(wlock);
	exec(wop[w], f, hd);
	inl = link[wop[w]];
	/* capchan_work_follow() */
	do
	:: lock(wlock);
		if
		:: len(more[w]) > 0 ->
			more[w]?i;
			unlock(wlock);
			/* capchan_work_next() */
			if
			:: !inl -> f = 0; hd = 0
			:: else
			fi;
			inl = link[i];
			exec(i, f, hd)
		:: else ->
#ifdef BROKEN_GIVE_BACK_SPLIT
			unlock(wlock);
			lock(wlock);
#endif
			if
			:: park == w ->
				assert(inl);
				back_failed = f;
				back_handle = hd;
#ifndef BROKEN_BACK_ORDER
				back = 1;
				park = 0
#else
				park = 0;
				back = 1
#endif
			:: else
			fi;
			unlock(wlock);
			break
		fi
	od
}

proctype submitter()
{
	byte i, w;
	bit following, fast, followed;

	do
	:: lock(ring_lock);
		if
		:: sq_head == NSQE -> unlock(ring_lock); break
		:: else
		fi;
		/* capchan_workers_following(): the entry got ready or not */
		following = (park != 0);
		/* capchan_ring_consume() */
		i = sq_head;
		sq_head++;
		/* capchan_workers_follow(): first a look without the lock */
		fast = 0;
		followed = 0;
		if
		:: park == 0 ->
			if
			:: back == 0 -> fast = 1
			:: else
			fi
		:: else
		fi;
		if
		:: fast -> skip
		:: else ->
			lock(wlock);
			if
			:: park != 0 ->
				/* only ring_lock's holder parks */
				assert(following);
				more[park]!i;
				if
				:: !link[i] -> park = 0
				:: else
				fi;
				followed = 1
			:: else ->
#ifndef BROKEN_NO_TAKE_BACK
				if
				:: back ->
					back = 0;
					ch_failed = back_failed;
					ch_handle = back_handle
				:: else
				fi
#else
				back = 0
#endif
			fi;
			unlock(wlock)
		fi;
		if
		:: followed -> ch_inlink = link[i]
		:: else ->
			/* capchan_batch_run_one() in ctx->chain */
			if
			:: !ch_inlink -> ch_failed = 0; ch_handle = 0
			:: else
			fi;
			ch_inlink = link[i];
			if
			:: ch_failed -> exec(i, ch_failed, ch_handle)
			:: else ->
				if
				:: true ->
					/* would block: capchan_workers_punt() */
					nworks++;
					w = nworks;
					wop[w] = i;
					wh[w] = ch_handle;
					lock(wlock);
					run worker(w);
#ifndef BROKEN_PARK_LATE
					if
					:: link[i] -> assert(park == 0 && !back); park = w
					:: else
					fi;
					unlock(wlock)
#else
					unlock(wlock);
					lock(wlock);
					if
					:: link[i] -> park = w
					:: else
					fi;
					unlock(wlock)
#endif
				:: true -> exec(i, ch_failed, ch_handle)
				fi
			fi
		fi;
		unlock(ring_lock)
	od
}

init
{
	byte i;

	/* A: OPEN, an op that may fail, a READ(CHAIN); B: READ(CHAIN), OPEN */
	atomic {
		i = 0;
		do
		:: i < NSQE ->
			chain_of[i] = (i < CHAIN_A -> 0 : 1);
			link[i] = (i != CHAIN_A - 1 && i != NSQE - 1 -> 1 : 0);
			i++
		:: else -> break
		od;
		mkh[0] = 1;
		canfail[1] = 1;
		useh[CHAIN_A - 1] = 1;
		useh[CHAIN_A] = 1;
		mkh[NSQE - 1] = 1;
		i = 0;
		do
		:: i < NSUB -> run submitter(); i++
		:: else -> break
		od
	}
	/* everything done: every SQE ran once, nothing left behind */
	_nr_pr == 1;
	i = 0;
	do
	:: i < NSQE -> assert(ran[i] == 1); i++
	:: else -> break
	od;
	i = 1;
	do
	:: i < NWORK -> assert(len(more[i]) == 0); i++
	:: else -> break
	od;
	assert(park == 0)
}
