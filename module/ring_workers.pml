/*
 * SPDX-License-Identifier: GPL-2.0
 *
 * capchan - Promela model of the CQ with two kinds of producer: the
 * submitter (ENTER, or the poll thread, under ctx->ring_lock) and the
 * workers (module/worker.c) finishing ops it handed them, each with its
 * CQE slot reserved in ctx->inflight.  Checked with spin by
 * selftests/model_check.sh.  Not compiled: module/Kbuild lists its objects.
 *
 * What it models (names as in module/ring.c and module/worker.c):
 *  - submitter: the application's submitting thread calling ENTER until
 *    every SQE is consumed; each ENTER is capchan_ring_submit().  Before
 *    each ENTER the thread publishes any number of new SQEs the SQ has
 *    room for (at least one if none waits) and asks for all that wait.
 *    The SQ ring itself (sq_tail, sq_head, the SQE slots: ring_sqpoll.pml's
 *    subject) is left out, only how many SQEs are published matters (a
 *    chain whose last SQE is not yet published runs inline).  The poll
 *    thread runs the same batches, with the application publishing
 *    between them: the same interleavings.  A batch is:
 *     . cq_space(): capchan_cq_space(), three loads in this order:
 *       atomic_read_acquire(inflight), READ_ONCE(cached_cq_tail),
 *       smp_load_acquire(cq_head) [C2];
 *     . the loop while done < to_submit, space and inflight < max_inflight
 *       (atomic_read(): backpressure); consume an SQE; capchan_execute()
 *       either finishes it or, for an op that may block, stops with
 *       -EIOCBQUEUED (a free choice per SQE, MAYBLOCK says which may);
 *     . capchan_ring_punt() with capchan_chain_rest() (chain_rest here)
 *       and capchan_workers_punt(): with room for 1 + rest CQEs in @space
 *       and inflight + 1 + rest <= max_inflight, atomic_add(1 + rest,
 *       inflight), then queue the work (the op and the rest of its chain,
 *       taken out of the SQ); else the op runs inline after all
 *       (capchan_execute_finish()), as it does when a worker cannot be
 *       made (the orphan path: the reservation taken back before any
 *       worker saw the work);
 *     . post_submit(): capchan_post_cqe_submit() -> capchan_post_cqe():
 *       without cq_lock when atomic_read_acquire(inflight) is 0, else
 *       under it;
 *     . the end of the batch: capchan_publish_cqes() under cq_lock when
 *       atomic_read_acquire(inflight) != 0, else without;
 *     . ENTER returning -EBUSY (nothing consumed: no CQ room or at the
 *       in-flight bound): the thread tries again once anything the batch
 *       read has changed (a CQE reaped, a worker's CQE posted or its
 *       reservation dropped): waiting on exactly what could change the
 *       answer, so a state where nothing ever can is a deadlock.  The
 *       CQ waitqueue (ENTER(GETEVENTS), poll) is not modelled.
 *  - worker(w): capchan_worker() -> capchan_work_run(): takes a work off
 *    the queue and posts one CQE per op of it with capchan_post_cqe_locked():
 *    spin_lock(cq_lock), capchan_post_cqe() (write the CQE at
 *    cached_cq_tail, then cached_cq_tail + 1), capchan_publish_cqes()
 *    (store-release cq_tail [C1]; cq_published [C3] gets the same value
 *    in the same critical section and is only read by waiters, not
 *    modelled), spin_unlock(cq_lock), and only then
 *    atomic_dec_return_release(inflight).  What the op does, the worker
 *    pool (making, idling, exiting: workers->lock; here NW workers live
 *    throughout) and cancelling are left out; a cancelled or failed op
 *    posts its CQE the same way.
 *  - app: the application's reaping thread (capchan_peek_cqe() /
 *    capchan_cqe_seen()): load-acquire cq_tail [C1], read the CQE,
 *    store-release cq_head [C2].  A separate process, so a one-thread
 *    application (reaping between its ENTERs) is one of the interleavings.
 *  - init, at the end: capchan_workers_destroy() at channel release, which
 *    waits for the workers to be done and WARNs if inflight is not 0.
 *
 * Memory model.  Sequentially consistent, unlike ring_sqpoll.pml, and
 * that loses nothing here.  x86-TSO differs from SC only by the store
 * buffer: a load may pass its own process's older stores to other
 * locations.  That changes an outcome only in a store->load pattern where
 * each of two processes must see the other's store (store buffering,
 * Dekker), as the NEED_WAKEUP handshake does: hence ring_sqpoll.pml's
 * buffers.  Here every value travels one way, producer stores then a
 * release, consumer an acquire then loads (message passing), which TSO
 * keeps exactly as SC does:
 *  - worker -> submitter: CQE and cached_cq_tail under cq_lock, then
 *    atomic_dec_return_release(inflight) (a locked instruction: it drains
 *    the buffer) -> atomic_read_acquire(inflight), then cached_cq_tail
 *    (loads stay in order on x86);
 *  - submitter -> worker: atomic_add(inflight) (locked), the work through
 *    workers->lock; both post under cq_lock (spin_lock is a locked RMW);
 *  - kernel -> app [C1] and app -> kernel [C2]: store-release, then
 *    load-acquire.
 * And the loads a buffer could let run early read counters that only ever
 * move one way, stale values erring on the safe side: a stale cq_head or
 * cq_tail means less room, fewer CQEs seen; inflight only grows by the
 * submitter's own locked atomic_add, so a stale read of it is too high
 * (cq_lock taken for nothing, less room).  The one stale value that is
 * not safe, cached_cq_tail too low, is what reading inflight first rules
 * out, a load->load order TSO keeps (BROKEN_SPACE_ORDER breaks it).  On
 * weaker CPUs the same pairs are release/acquire or a lock, but the
 * argument above is the model's claim, not more.
 *
 * Steps.  Every load or store of shared state is a step of its own,
 * except: the submitter's post under cq_lock is one step (guarded by the
 * free lock: no lock holder looks in between, the app reads no slot at or
 * past cq_tail, and only the submitter reads cached_cq_tail without the
 * lock); the reservation and the queueing of a work are one step (no
 * worker can see the work before it is queued, and only workers besides
 * the submitter touch inflight); the app's reap is one step (the slot it
 * reads is written again only after its cq_head store, else it is an
 * overwrite, which the writer's assert catches in either order).  A
 * cached_cq_tail + 1 store is one step with its load: its writers are
 * never concurrent unless the protocol is already broken.
 *
 * Properties (any violation is an error trail):
 *  - no CQE overwritten before the app read it (assert at each CQE write:
 *    its slot was read; the app marks a slot read);
 *  - the app never reads a slot before the CQE for that index was written
 *    in it (assert in app: the slot holds a CQE, posted at that index);
 *  - every op's CQE is read exactly once (assert in app: not seen before;
 *    at its end: all seen; an op whose CQE never comes leaves the app
 *    waiting: an invalid end state);
 *  - cq_tail never moves backwards (assert at each publish);
 *  - inflight never exceeds max_inflight (assert at the reservation), and
 *    is 0 once the workers are done (capchan_workers_destroy()'s WARN);
 *  - no deadlock (spin's invalid end states).
 *
 * Compile-time variants, each of which spin must refute (the first
 * three by an overwritten CQE, the fourth first by the WARN: inflight
 * ends at -1, its chain's second CQE having no reservation):
 *  -DBROKEN_SPACE_ORDER      capchan_cq_space() reads cached_cq_tail
 *                            before inflight: a worker's CQE between the
 *                            two loads is counted in neither.
 *  -DBROKEN_WORKER_EARLY     the worker drops inflight before it posts.
 *  -DBROKEN_SUBMIT_NOCHECK   capchan_post_cqe_submit() never takes cq_lock
 *                            (does not look at inflight).
 *  -DBROKEN_CHAIN_RESERVE    capchan_workers_punt() reserves one slot for
 *                            a chain of two (atomic_add(1, ...)).
 *
 * Parameters: -DCQ=n cq_entries; -DSQ=n sq_entries (<= CQ, as SETUP
 * wants; default CQ); -DNOPS=n SQEs in all (at most 15); -DMAXIF=n
 * max_inflight; -DNW=n workers; -DLINKS=mask SQEs with CAPCHAN_SQE_LINK
 * (bit i: SQE i links to SQE i + 1; default 5: chains 0-1 and 2-3);
 * -DMAYBLOCK=mask SQEs whose op may stop with -EIOCBQUEUED (default all).
 * Defaults: CQ 2, NOPS 5, MAXIF 2, NW 2.
 */

#ifndef CQ
#define CQ	2
#endif
#ifndef SQ
#define SQ	CQ
#endif
#ifndef NOPS
#define NOPS	5
#endif
#ifndef MAXIF
#define MAXIF	2
#endif
#ifndef NW
#define NW	2
#endif
#ifndef LINKS
#define LINKS	5
#endif
#ifndef MAYBLOCK
#define MAYBLOCK	((1 << NOPS) - 1)
#endif

#define LINKED(i)	((LINKS >> (i)) & 1)
#define MAY_BLOCK(i)	((MAYBLOCK >> (i)) & 1)
#define ALL		((1 << NOPS) - 1)

/* the CQE array: user_data (SQE number + 1), 0 once the app read it */
byte cqe[CQ];
byte cqe_idx[CQ];	/* ghost: the CQ index the CQE was posted at */
byte cq_tail;		/* rings->cq_tail (and ctx->cq_published) */
byte cq_head;		/* rings->cq_head, the app's */
byte cached_cq_tail;	/* ctx->cached_cq_tail */
short inflight;		/* ctx->inflight (an atomic_t: may go below 0) */
bool cq_lock;		/* ctx->cq_lock */

/* workers->queue: the first SQE of a work and its number of CQEs */
chan works = [NOPS] of { byte, byte };

/* ghosts */
byte busy;		/* workers running a work */
short got;		/* SQEs whose CQE the app read: bit i for SQE i */
bool sub_done, app_done;

/*
 * capchan_post_cqe()'s write of the CQE at index @t: its slot must hold
 * no CQE the app has not read.
 */
inline write_cqe(t, op)
{
	assert(cqe[(t) % CQ] == 0);	/* no unread CQE overwritten */
	cqe[(t) % CQ] = (op) + 1;
	cqe_idx[(t) % CQ] = t
}

/* capchan_publish_cqes(): [C1], never backwards */
inline publish(t)
{
	assert((t) >= cq_tail);
	cq_tail = t
}

/* capchan_post_cqe_locked(), for SQE @op */
inline post_locked(op, t)
{
#ifdef BROKEN_WORKER_EARLY
	inflight--;
#endif
	/* spin_lock(&ctx->cq_lock); the CQE at cached_cq_tail */
	d_step {
		!cq_lock ->
		cq_lock = true;
		t = cached_cq_tail;
		write_cqe(t, op)
	}
	/* WRITE_ONCE(cached_cq_tail, cached_cq_tail + 1) */
	cached_cq_tail++;
	d_step {
		/* capchan_publish_cqes() */
		t = cached_cq_tail;
		publish(t);
		/* spin_unlock(&ctx->cq_lock) */
		cq_lock = false;
		t = 0
	}
#ifndef BROKEN_WORKER_EARLY
	/* atomic_dec_return_release(&ctx->inflight) */
	inflight--
#endif
}

/* capchan_worker() -> capchan_work_run() */
proctype worker(byte w)
{
	byte first, cnt, i, t;

end:	do
	:: atomic { works ? first, cnt -> busy++; i = 0 };
		do
		:: i < cnt ->
			post_locked(first + i, t);
			i++
		:: else ->
			d_step {
				busy--;
				first = 0;
				cnt = 0;
				i = 0
			};
			break
		od
	od
}

/*
 * capchan_chain_rest(): SQEs after the current one in its chain, all
 * published; @ok false when the chain goes on past @tl or @mx.
 */
inline chain_rest(hd, tl, mx, n, ok, i)
{
	n = 0;
	ok = false;
	i = hd;
	do
	:: i != tl && n < mx ->
		n++;
		if
		:: !LINKED(i) -> ok = true; break
		:: else -> i++
		fi
	:: else -> break
	od;
	i = 0
}

/* capchan_post_cqe_submit() */
inline post_submit(op, t, r)
{
#ifndef BROKEN_SUBMIT_NOCHECK
	r = inflight;		/* atomic_read_acquire() */
	if
	:: r != 0 ->
		/* under cq_lock: lock, capchan_post_cqe(), unlock */
		d_step {
			!cq_lock ->
			t = cached_cq_tail;
			write_cqe(t, op);
			cached_cq_tail = t + 1;
			t = 0
		}
	:: else ->
#endif
		d_step {
			t = cached_cq_tail;
			write_cqe(t, op)
		}
		cached_cq_tail++;
		t = 0
#ifndef BROKEN_SUBMIT_NOCHECK
	fi;
	r = 0
#endif
}

/* The ENTERs: capchan_ring_submit() until every SQE is consumed. */
proctype submitter()
{
	byte next;		/* ctx->cached_sq_head */
	byte tail;		/* rings->sq_tail: published SQEs [S1] */
	byte todo;		/* to_submit */
	byte done, space, t, h, tq, op, rest, i;
	short r, rs, used;
	bool blocks, ok;

	do
	:: next == NOPS -> break
	:: else ->
		atomic {
			/*
			 * The thread publishes any number of SQEs, at least
			 * one if none is waiting, as room allows (sq_tail
			 * [S1]), then ENTER(to_submit: all waiting).
			 */
			if
			:: tail == next -> tail++
			:: else -> skip
			fi;
			do
			:: tail < NOPS && tail - next < SQ -> tail++
			:: true -> break
			od;
			todo = tail - next;
			done = 0
		}
		/* capchan_cq_space() */
#ifndef BROKEN_SPACE_ORDER
		rs = inflight;		/* atomic_read_acquire() */
		t = cached_cq_tail;	/* READ_ONCE() */
#else
		t = cached_cq_tail;
		rs = inflight;
#endif
		d_step {
			h = cq_head;	/* smp_load_acquire() [C2] */
			tq = t;
			used = t + rs - h;
			if
			:: used < 0 || used > CQ -> space = 0
			:: else -> space = CQ - used
			fi;
			used = 0;
			t = 0
		}
		do
		:: atomic {
			/* atomic_read(): the in-flight bound, backpressure */
			r = inflight;
			if
			:: done < todo && space > 0 && r >= 0 && r < MAXIF ->
				/* consume the SQE */
				op = next;
				next++;
				/* capchan_execute(): -EIOCBQUEUED? */
				if
				:: MAY_BLOCK(op) -> blocks = true
				:: true -> blocks = false
				fi
			:: else -> break
			fi
		   }
			if
			:: blocks ->
				/* capchan_ring_punt() */
				atomic {
					rest = 0;
					ok = true;
					if
					:: LINKED(op) ->
						chain_rest(next, tail,
							   todo - done - 1,
							   rest, ok, i)
					:: else -> skip
					fi;
					r = inflight;	/* atomic_read() */
					if
					:: ok && 1 + rest <= space &&
					   r + 1 + rest <= MAXIF -> skip
					:: else -> ok = false
					fi
				}
			:: else -> ok = false
			fi;
			if
			:: ok ->
				/*
				 * capchan_workers_punt(): reserve, then
				 * queue; the rest of the chain consumed
				 */
				d_step {
#ifndef BROKEN_CHAIN_RESERVE
					inflight = inflight + 1 + rest;
#else
					inflight = inflight + 1;
#endif
					assert(inflight <= MAXIF);
					works ! op, 1 + rest;
					next = next + rest;
					space = space - 1 - rest;
					done = done + 1 + rest;
					rest = 0;
					ok = false;
					blocks = false;
					r = 0
				}
			:: else ->
				/* inline (or capchan_execute_finish()) */
				post_submit(op, t, r);
				d_step {
					space--;
					done++;
					blocks = false;
					op = 0
				}
			fi
		od;
		/* [S2] sq_head: the thread's own business here */
		if
		:: done > 0 ->
			r = inflight;	/* atomic_read_acquire() */
			if
			:: r != 0 ->
				d_step {
					!cq_lock ->
					t = cached_cq_tail;
					publish(t);
					t = 0
				}
			:: else ->
				t = cached_cq_tail;
				d_step {
					publish(t);
					t = 0
				}
			fi
		:: else ->
			/*
			 * -EBUSY: again once anything capchan_cq_space() or
			 * the bound read changed: a CQE reaped, a worker's
			 * CQE posted or its reservation dropped
			 */
			cq_head != h || cached_cq_tail != tq || inflight != rs
		fi;
		d_step {
			r = 0;
			rs = 0;
			h = 0;
			tq = 0;
			op = 0
		}
	od;
	sub_done = true
}

/* The reaping thread: capchan_peek_cqe(), capchan_cqe_seen(). */
proctype app()
{
	byte h, v;

	do
	:: d_step {
		/* load-acquire cq_tail [C1], then the CQE */
		cq_tail != h ->
		v = cqe[h % CQ];
		/* written, for this index, and not read before */
		assert(v != 0 && cqe_idx[h % CQ] == h);
		assert((got & (1 << (v - 1))) == 0);
		got = got | (1 << (v - 1));
		cqe[h % CQ] = 0;
		h++;
		/* store-release cq_head [C2] */
		cq_head = h;
		v = 0
	   }
	:: got == ALL -> break
	od;
	app_done = true
}

init {
	byte w;

	atomic {
		w = 0;
		do
		:: w < NW -> run worker(w); w++
		:: else -> break
		od;
		run app();
		run submitter();
		w = 0
	}
	/* channel release: capchan_workers_destroy() once all is done */
	sub_done && app_done && busy == 0 && len(works) == 0;
	assert(inflight == 0);
	assert(cq_tail == NOPS && cached_cq_tail == NOPS)
}
