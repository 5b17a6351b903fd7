/*
 * SPDX-License-Identifier: GPL-2.0
 *
 * capchan - Promela model of a linked chain run op by op, whose next SQEs
 * follow what runs an op of it: the ENTER that runs it without ring_lock
 * (module/ring.c capchan_chain_step(); module/worker.c
 * capchan_workers_lead(), capchan_workers_unlead()) or the worker it went
 * to (capchan_workers_punt(), capchan_work_follow()).  Checked with spin
 * by selftests/model_check.sh.  Not compiled: module/Kbuild lists its
 * objects.
 *
 * What it models:
 *  - submitter(): ENTER (capchan_ring_submit()) or the poll thread, any
 *    number of them sharing the SQ, each taking one SQE of a chain run op
 *    by op per turn of ring_lock.  Under ring_lock:
 *    capchan_workers_following() (nothing followed: a plain read; else
 *    under the workers' lock: room, or full: an ENTER is followed by at
 *    most LEADMAX SQEs, then the submitter lets go of ring_lock and waits
 *    until there is room, capchan_workers_wait_room()); the SQE consumed;
 *    capchan_workers_follow(): with nothing followed and no state given
 *    back (two reads without the lock: park, load-acquire, then back) the
 *    SQE runs here; else under the workers' lock it is put on the list of
 *    what the chain follows (the chain's end: park cleared) or the state
 *    given back is taken.  To run it, the state goes with the op (own) and
 *    the ring keeps only where the chain is; if the chain goes on, the
 *    submitter leads (park = its follow, under the workers' lock), then
 *    lets go of ring_lock and runs the op (capchan_batch_run_one(): a new
 *    chain resets the state, a failed one cancels the op).  The op may go
 *    to a worker (a free choice): the work made, queued and handed what
 *    followed the submitter (moved to its list), and the chain if it still
 *    followed the submitter, in one critical section of the workers' lock
 *    (capchan_work_queue(), capchan_work_park()).  Else
 *    capchan_workers_unlead(): what followed goes to a work of no op of
 *    its own in the same way (if a worker can be made: a free choice), or
 *    runs here, one at a time, and with none left the state is given
 *    back (capchan_follow_next()).
 *  - worker(w): capchan_work_run() of work w: it takes the work off the
 *    queue under the workers' lock, runs the op (unless it has none),
 *    then capchan_work_follow() with capchan_follow_next(): under the
 *    workers' lock, the next list entry, run in the work's chain state
 *    (capchan_work_next()), or, with none left and the chain still
 *    following this work, the state given back in that same critical
 *    section: back set, then park cleared (store-release), each a step of
 *    its own, since the submitter's first look does not take the lock.
 *  - An op (exec): runs once, after the op before it in its chain, in the
 *    right chain state: its failure flag and the handle
 *    CAPCHAN_HANDLE_CHAIN names are checked against the truth kept per
 *    chain as its ops run; an op may make a handle, use one, or fail.
 *  - init: the SQEs (CHAIN_A ops linked, then CHAIN_B), the processes,
 *    and at the end: every SQE ran exactly once, no list holds an entry,
 *    nothing is followed.
 * Workers' lock and ring_lock are locks (sequentially consistent between
 * their holders); every shared variable here is read and written under
 * one of them, except the lock-free looks at park and back above.
 *
 * Broken variants (each must be refuted by model_check.sh):
 *  -DBROKEN_GIVE_BACK_SPLIT  capchan_follow_next() finds the list empty
 *                            and gives the state back in two critical
 *                            sections: an SQE put on the list between
 *                            them never runs
 *  -DBROKEN_PARK_LATE        a hand-over queues the work, then has the
 *                            chain follow it in a later critical section:
 *                            the worker may be done before, and SQEs
 *                            follow a work gone
 *  -DBROKEN_NO_TAKE_BACK     the next SQE ignores the state given back:
 *                            a handle made or a failure seen is lost
 *  -DBROKEN_BACK_ORDER       park cleared before back is set: a submitter
 *                            looking without the lock in between finds
 *                            neither
 *  -DBROKEN_NO_SPLICE        a hand-over from a submitter leaves what
 *                            followed it on the submitter's list
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
#ifndef LEADMAX
#define LEADMAX		1	/* SQEs that may follow an ENTER */
#endif
#define NSQE		(CHAIN_A + CHAIN_B)
/* follow ids: 0 none, works 1..NSQE, submitter s's NSQE + 1 + s */
#define NF		(NSQE + NSUB + 1)

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

/* the workers' lock: what the chain follows, the state given back */
byte park;
bit back;
bit back_failed;
byte back_handle;

/* each follow: its list, how many were put on it, how many may be */
chan more[NF] = [NSQE] of { byte };
byte nr[NF];
byte maxf[NF];

/* each work: its op (or none), the chain state it was handed */
byte nworks;
byte wop[NF];
bit wnoop[NF];
bit wfailed[NF];
byte wh[NF];

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

/* An SQE that followed, in state (f, hd, inl): capchan_work_next(). */
inline run_next(i, f, hd, inl)
{
	if
	:: !inl -> f = 0; hd = 0
	:: else
	fi;
	inl = link[i];
	exec(i, f, hd)
}

/*
 * capchan_follow_next() of follow @me in a loop, each entry run: until
 * none is left, then the state given back if the chain still follows.
 */
inline follow_all(me, f, hd, inl, j)
{
	do
	:: lock(wlock);
		if
		:: len(more[me]) > 0 ->
			more[me]?j;
			unlock(wlock);
			run_next(j, f, hd, inl)
		:: else ->
#ifdef BROKEN_GIVE_BACK_SPLIT
			unlock(wlock);
			lock(wlock);
#endif
			if
			:: park == me ->
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

/*
 * Under the workers' lock, a work @w just queued: what followed @lead
 * moves to it, and the chain if it still followed @lead
 * (capchan_work_park()).
 */
inline park_on(w, lead, j)
{
#ifndef BROKEN_NO_SPLICE
	do
	:: len(more[lead]) > 0 -> more[lead]?j; more[w]!j
	:: else -> break
	od;
#endif
	if
	:: park == lead -> park = w
	:: else
	fi
}

proctype worker(byte w)
{
	bit f, inl;
	byte hd = wh[w];
	byte j;

	/* capchan_worker(): the work comes off the queue under the lock */
	lock(wlock);
	unlock(wlock);
	if
	:: wnoop[w] -> f = wfailed[w]; inl = 1
	:: else -> f = 0; exec(wop[w], f, hd); inl = link[wop[w]]
	fi;
	follow_all(w, f, hd, inl, j)
}

proctype submitter(byte me)
{
	byte i, w, j;
	bit following, fast, followed, isfull, punted;
	bit ofl, oinl;		/* the state that runs with the op: own */
	byte oh;

	do
	:: lock(ring_lock);
		if
		:: sq_head == NSQE -> unlock(ring_lock); break
		:: else
		fi;
		/* capchan_workers_following() */
		following = 0;
		isfull = 0;
		if
		:: park != 0 ->
			lock(wlock);
			if
			:: park == 0
			:: park != 0 && nr[park] >= maxf[park] -> isfull = 1
			:: else -> following = 1
			fi;
			unlock(wlock)
		:: else
		fi;
		if
		:: isfull ->
			/* capchan_workers_wait_room(), ring_lock let go of */
			unlock(ring_lock);
			(park == 0 || nr[park] < maxf[park]);
			goto next
		:: else
		fi;
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
				/* only ring_lock's holder makes it follow */
				assert(following && nr[park] < maxf[park]);
				more[park]!i;
				nr[park]++;
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
		:: followed ->
			ch_inlink = link[i];
			unlock(ring_lock);
			goto next
		:: else
		fi;
		/* the state runs with the op; the ring keeps where it is */
		ofl = ch_failed;
		oh = ch_handle;
		oinl = ch_inlink;
		ch_inlink = link[i];
		if
		:: link[i] ->
			/* capchan_workers_lead() */
			nr[me] = 0;
			maxf[me] = LEADMAX;
			lock(wlock);
			assert(park == 0 && !back);
			park = me;
			unlock(wlock)
		:: else
		fi;
		unlock(ring_lock);
		/* capchan_batch_run_one() with own */
		if
		:: !oinl -> ofl = 0; oh = 0
		:: else
		fi;
		oinl = link[i];
		punted = 0;
		if
		:: ofl -> exec(i, ofl, oh)
		:: else ->
			if
			:: true ->
				/* would block: capchan_workers_punt() */
				/* a new work: kvzalloc() */
				atomic { nworks++; w = nworks };
				wop[w] = i;
				wnoop[w] = 0;
				wh[w] = oh;
				maxf[w] = 255;
				lock(wlock);
				run worker(w);
#ifndef BROKEN_PARK_LATE
				if
				:: link[i] -> park_on(w, me, j)
				:: else
				fi;
				unlock(wlock);
#else
				unlock(wlock);
				lock(wlock);
				if
				:: link[i] -> park_on(w, me, j)
				:: else
				fi;
				unlock(wlock);
#endif
				punted = 1
			:: true -> exec(i, ofl, oh)
			fi
		fi;
		/* capchan_workers_unlead() */
		if
		:: link[i] && !punted ->
			if
			:: len(more[me]) > 0 ->
				/* a worker can be made: a work of no op */
				/* a new work: kvzalloc() */
				atomic { nworks++; w = nworks };
				wnoop[w] = 1;
				wfailed[w] = ofl;
				wh[w] = oh;
				maxf[w] = 255;
				lock(wlock);
				run worker(w);
				park_on(w, me, j);
				unlock(wlock)
			:: true ->
				/* none, or nothing followed: here */
				follow_all(me, ofl, oh, oinl, j)
			fi
		:: else
		fi;
next:
		skip
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
		:: i < NSUB -> run submitter(NSQE + 1 + i); i++
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
	:: i < NF -> assert(len(more[i]) == 0); i++
	:: else -> break
	od;
	assert(park == 0)
}
