/*
 * SPDX-License-Identifier: GPL-2.0
 *
 * capchan - Promela model of the CQ and its producers: any number of
 * submitters (ENTER from several threads, or the poll thread), each
 * taking a batch of SQEs out of the SQ under ctx->ring_lock with their CQE
 * slots reserved in ctx->inflight, running them without the lock and
 * posting their CQEs under ctx->cq_lock; and the workers
 * (module/worker.c) finishing the ops a batch handed them, in the slots
 * reserved for them.  Checked with spin by selftests/model_check.sh.
 * Not compiled: module/Kbuild lists its objects.
 *
 * What it models (names as in module/ring.c and module/worker.c):
 *  - submitter(s): NSUB application threads sharing one SQ, each calling
 *    ENTER until every SQE is consumed; each ENTER is capchan_ring_submit().
 *    Before each ENTER the thread publishes any number of new SQEs the SQ
 *    has room for (at least one if none waits) and asks for all that wait
 *    (to_submit; 1 when another thread took them all).  The SQ ring itself
 *    (the SQE slots, the sq_tail/sq_head handshake: ring_sqpoll.pml's
 *    subject) is left out: sq_tail counts the SQEs published, sq_head
 *    those consumed (ctx->cached_sq_head, stored to rings->sq_head in the
 *    same critical section).  The poll thread runs the same batches: one
 *    more submitter.  capchan_ring_submit() is:
 *     . mutex_lock_killable(ring_lock);
 *     . while done < to_submit, capchan_ring_room(): the load-acquire of
 *       sq_tail [S1] and want = min(to_submit - done, sq_tail - sq_head,
 *       sq_entries) (none: stop, not busy); then three loads in this
 *       order: atomic_read_acquire(inflight), READ_ONCE(cached_cq_tail),
 *       smp_load_acquire(cq_head) [C2] (capchan_cq_space()); space =
 *       cq_entries - (tail - head) - inflight, room = max_inflight -
 *       inflight, n = min(want, space, room); n == 0: stop, busy;
 *     . when the channel's chain goes on (ctx->chain.in_link) or
 *       capchan_batch_fill() finds no chain ending within min(n, BATCH)
 *       SQEs: one SQE under ring_lock, a batch of one:
 *       capchan_ring_consume() (atomic_add(1, inflight), sq_head + 1), run
 *       inline with the channel's chain state (in_link set from its LINK
 *       bit), capchan_batch_post(), and round again with ring_lock held;
 *       not modelled here: an op of it that goes to a worker, which
 *       then takes each later SQE of the chain as it is consumed
 *       (capchan_chain_step(): reserved under ring_lock like any, its CQE
 *       posted by the worker like a punted chain's rest); that hand-over
 *       is chain_follow.pml's subject;
 *     . else the batch, the SQEs up to the last chain end within
 *       min(n, BATCH): capchan_ring_consume() (atomic_add(nr, inflight),
 *       sq_head + nr), mutex_unlock(ring_lock), capchan_batch_run(): each
 *       op runs inline, or (capchan_batch_run_one(), an op that may block,
 *       MAYBLOCK says which, a free choice) goes to a worker with the rest
 *       of its chain (capchan_workers_punt(): the reservations move with
 *       the work, no new atomic_add; a punt that fails is an op run inline
 *       after all, which the free choice covers); then capchan_batch_post():
 *       spin_lock(cq_lock), capchan_post_cqe() for each op not punted (the
 *       CQE at cached_cq_tail, then cached_cq_tail + 1),
 *       capchan_publish_cqes() (store-release cq_tail [C1]; cq_published
 *       [C3] gets the same value, read only by waiters, not modelled),
 *       spin_unlock(cq_lock), and only then atomic_sub_return_release(
 *       posted, inflight); done += nr; ENTER returns at done == to_submit,
 *       else takes ring_lock again and goes round.  A chain longer than
 *       BATCH copied whole (capchan_chain_copy(), capchan_chain_run()) is
 *       this same step: consumed and reserved under ring_lock, run after
 *       it, posted a batch at a time under cq_lock (each post its own
 *       reservation drop), handed over with all its rest: a longer
 *       batch whose posts come in parts, each part one post as modelled
 *       (the model's batches post once; a part posting early only
 *       releases slots sooner);
 *     . mutex_unlock(ring_lock); ENTER returning -EBUSY (nothing consumed,
 *       no CQ room or at the in-flight bound): the thread tries again once
 *       anything capchan_ring_room() read has changed (a CQE reaped or
 *       posted, a reservation made or dropped): waiting on exactly what
 *       could change the answer, so a state where nothing ever can is a
 *       deadlock.  The CQ waitqueue (ENTER(GETEVENTS), poll) is not
 *       modelled, nor is the bound on ops while closing (*cut).
 *  - worker(w): capchan_worker() -> capchan_work_run(): takes a work off
 *    the queue and posts one CQE per op of it with capchan_post_cqe_locked():
 *    spin_lock(cq_lock), capchan_post_cqe(), capchan_publish_cqes(),
 *    spin_unlock(cq_lock), and only then atomic_dec_return_release(
 *    inflight).  What the op does, the worker pool (making, idling,
 *    exiting: workers->lock; here NW workers live throughout) and
 *    cancelling are left out; a cancelled or failed op posts its CQE the
 *    same way.
 *  - app: the application's reaping thread (capchan_peek_cqe() /
 *    capchan_cqe_seen()): load-acquire cq_tail [C1], read the CQE,
 *    store-release cq_head [C2].  A separate process, so a thread reaping
 *    between its ENTERs is one of the interleavings.
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
 *  - poster (a worker, or a submitter's batch) -> submitter: CQE and
 *    cached_cq_tail under cq_lock, then atomic_dec_return_release() /
 *    atomic_sub_return_release(inflight) (locked instructions: they drain
 *    the buffer) -> atomic_read_acquire(inflight), then cached_cq_tail
 *    (loads stay in order on x86).  A batch posts without ring_lock, so
 *    this holds between two ENTERs as between a worker and an ENTER;
 *  - submitter -> submitter: the reservation (atomic_add, locked) and
 *    sq_head are written under ring_lock and read under it by the next
 *    holder (a mutex: release/acquire);
 *  - submitter -> worker: the reservation was made under ring_lock before
 *    the batch ran; the work goes through workers->lock; every poster
 *    posts under cq_lock (spin_lock is a locked RMW);
 *  - kernel -> app [C1] and app -> kernel [C2]: store-release, then
 *    load-acquire.
 * And the loads a buffer could let run early read counters that only ever
 * move one way, stale values erring on the safe side: a stale cq_head or
 * cached_cq_tail means less room, fewer CQEs seen; inflight only grows by
 * ring_lock's holder's own locked atomic_add, which the reader, holding
 * ring_lock, sees, so a stale read of it is too high (less room).  The one
 * stale value that is not safe, cached_cq_tail too low for the inflight
 * read, is what reading inflight first rules out, a load->load order TSO
 * keeps (BROKEN_SPACE_ORDER breaks it).  On weaker CPUs the same pairs are
 * release/acquire or a lock, but the argument above is the model's claim,
 * not more.
 *
 * Steps.  Every load or store of shared state is a step of its own,
 * except:
 *  - capchan_ring_room()'s load of cq_head is one step with the
 *    arithmetic after it and capchan_batch_fill() (which reads only what
 *    ring_lock covers);
 *  - capchan_ring_consume() is one step, with the mutex_unlock() after it
 *    on the batch path and the op's chain state on the one-by-one path
 *    (ring_lock held: the other submitters are out, and the workers' and
 *    batches' decrements of inflight commute with the add);
 *  - a punt is one step (no worker can see the work before it is queued);
 *  - posts under cq_lock are one step per CQE, the first with spin_lock,
 *    the last with the publish and spin_unlock (a worker's one CQE: all
 *    of it one step): the app reads no slot at or past cq_tail, and the
 *    one reader of cached_cq_tail without the lock, capchan_ring_room(),
 *    sees it move CQE by CQE;
 *  - the app's reap is one step (the slot it reads is written again only
 *    after its cq_head store, else it is an overwrite, which the writer's
 *    assert catches in either order).
 *
 * Properties (any violation is an error trail):
 *  - no CQE overwritten before the app read it (assert at each CQE write:
 *    its slot was read; the app marks a slot read);
 *  - the app never reads a slot before the CQE for that index was written
 *    in it (assert in app: the slot holds a CQE, posted at that index);
 *  - every consumed SQE's CQE is read exactly once (assert in app: not
 *    seen before; at its end: all seen; an op whose CQE never comes
 *    leaves the app waiting: an invalid end state);
 *  - cq_tail never moves backwards (assert at each publish);
 *  - inflight never exceeds max_inflight (assert at each reservation),
 *    and is 0 once the workers are done (capchan_workers_destroy()'s WARN);
 *  - no deadlock (spin's invalid end states).
 *
 * Compile-time variants, each of which spin must refute (by an
 * overwritten CQE unless said otherwise):
 *  -DBROKEN_SPACE_ORDER      capchan_ring_room() reads cached_cq_tail
 *                            before inflight: a CQE posted and its
 *                            reservation dropped between the two loads is
 *                            counted in neither (by a worker, or by another
 *                            ENTER's batch: caught with -DMAYBLOCK=0 too).
 *  -DBROKEN_WORKER_EARLY     the worker drops inflight before it posts.
 *  -DBROKEN_BATCH_EARLY      capchan_batch_post() drops the batch's
 *                            reservations before it posts.
 *  -DBROKEN_RESERVE_UNLOCKED capchan_ring_consume()'s atomic_add after
 *                            mutex_unlock(ring_lock): another ENTER checks
 *                            the room between this one's check and its
 *                            reservation (the bound's assert; an overwrite
 *                            when MAXIF > CQ).
 *  -DBROKEN_PUNT_RESERVE     capchan_workers_punt() reserves the work's
 *                            slots again, atomic_add(1 + nr_rest), as
 *                            before the batches (the bound's assert, else
 *                            the WARN: inflight never gets back to 0).
 *  -DBROKEN_PUNT_MASK        capchan_batch_run_one() marks only the op it
 *                            hands over as punted, not the rest of its
 *                            chain: the batch posts those CQEs as well as
 *                            the worker (a CQE read twice).
 *
 * Parameters: -DCQ=n cq_entries; -DSQ=n sq_entries (<= CQ, as SETUP
 * wants; default CQ); -DNOPS=n SQEs in all (at most 15); -DMAXIF=n
 * max_inflight; -DNW=n workers; -DNSUB=n submitting threads; -DBATCH=n
 * CAPCHAN_SUBMIT_BATCH (8 in module/ring.c; at most 7 here);
 * -DLINKS=mask SQEs with CAPCHAN_SQE_LINK (bit i: SQE i links to SQE
 * i + 1; default 5: chains 0-1 and 2-3); -DMAYBLOCK=mask SQEs whose op
 * may stop with -EIOCBQUEUED (default all).  Defaults: CQ 2, NOPS 4,
 * MAXIF 2, NW 1, NSUB 2, BATCH 2.
 */

#ifndef CQ
#define CQ	2
#endif
#ifndef SQ
#define SQ	CQ
#endif
#ifndef NOPS
#define NOPS	4
#endif
#ifndef MAXIF
#define MAXIF	2
#endif
#ifndef NW
#define NW	1
#endif
#ifndef NSUB
#define NSUB	2
#endif
#ifndef BATCH
#define BATCH	2
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

bool ring_lock;		/* ctx->ring_lock */
byte sq_tail;		/* rings->sq_tail: SQEs published [S1] */
byte sq_head;		/* ctx->cached_sq_head (and rings->sq_head [S2]) */
bool in_link;		/* ctx->chain.in_link */

/* workers->queue: the first SQE of a work and its number of CQEs */
chan works = [NOPS] of { byte, byte };

/* ghosts */
byte running;		/* workers running a work */
short got;		/* SQEs whose CQE the app read: bit i for SQE i */
byte subs_done;
bool app_done;

/*
 * capchan_post_cqe() for SQE @op, cq_lock held: the CQE at cached_cq_tail,
 * whose slot must hold no CQE the app has not read, then the tail + 1.
 */
inline post_cqe(op)
{
	assert(cqe[cached_cq_tail % CQ] == 0);	/* no unread CQE overwritten */
	cqe[cached_cq_tail % CQ] = (op) + 1;
	cqe_idx[cached_cq_tail % CQ] = cached_cq_tail;
	cached_cq_tail++
}

/* capchan_publish_cqes(): [C1], never backwards */
inline publish()
{
	assert(cached_cq_tail >= cq_tail);
	cq_tail = cached_cq_tail
}

/* a reservation made: within the bound */
inline reserve(n)
{
	inflight = inflight + (n);
	assert(inflight <= MAXIF)
}

/* capchan_worker() -> capchan_work_run() */
proctype worker(byte w)
{
	byte first, cnt, i;

end:	do
	:: atomic { works ? first, cnt -> running++; i = 0 };
		do
		:: i < cnt ->
			/* capchan_post_cqe_locked() */
#ifdef BROKEN_WORKER_EARLY
			inflight--;
#endif
			d_step {
				!cq_lock ->
				post_cqe(first + i);
				publish()
			}
#ifndef BROKEN_WORKER_EARLY
			/* atomic_dec_return_release(&ctx->inflight) */
			inflight--;
#endif
			i++
		:: else ->
			d_step {
				running--;
				first = 0;
				cnt = 0;
				i = 0
			};
			break
		od
	od
}

/*
 * capchan_batch_post() for the @nr SQEs from @first, bit k of @punted set
 * for those a worker has (@np of them): post the others under cq_lock,
 * publish, then drop the others' reservations.
 */
inline batch_post(first, nr, punted, np, k, held)
{
#ifdef BROKEN_BATCH_EARLY
	inflight = inflight - ((nr) - (np));
#endif
	k = 0;
	do
	:: k < (nr) && ((punted) >> k) & 1 -> k++
	:: k < (nr) && !(((punted) >> k) & 1) ->
		d_step {
			/* spin_lock(&ctx->cq_lock) with the first */
			(held || !cq_lock) ->
			cq_lock = true;
			held = true;
			post_cqe((first) + k);
			k++;
			do
			:: k < (nr) && ((punted) >> k) & 1 -> k++
			:: else -> break
			od;
			if
			:: k == (nr) ->
				/* with the last: publish, spin_unlock() */
				publish();
				cq_lock = false;
				held = false
			:: else -> skip
			fi
		}
	:: k == (nr) -> break
	od;
#ifndef BROKEN_BATCH_EARLY
	/* atomic_sub_return_release(n, &ctx->inflight) */
	if
	:: (nr) > (np) -> inflight = inflight - ((nr) - (np))
	:: else -> skip
	fi;
#endif
	k = 0
}

/* The ENTERs of one thread: capchan_ring_submit() until all is consumed. */
proctype submitter(byte id)
{
	byte todo;		/* to_submit */
	byte done, want, n, first, nr, k, np, punted, h, tq;
	short rs;
	bool busy, locked, held;

	do
	:: sq_head == NOPS -> break
	:: else ->
		atomic {
			/*
			 * The thread publishes any number of SQEs, at least
			 * one if none is waiting, as room allows (sq_tail
			 * [S1]), then ENTER(to_submit: all waiting).
			 */
			if
			:: sq_tail == sq_head && sq_tail < NOPS -> sq_tail++
			:: else -> skip
			fi;
			do
			:: sq_tail < NOPS && sq_tail - sq_head < SQ -> sq_tail++
			:: true -> break
			od;
			todo = sq_tail - sq_head;
			if
			:: todo == 0 -> todo = 1
			:: else -> skip
			fi;
			done = 0;
			busy = false
		}
		/* mutex_lock_killable(&ctx->ring_lock) */
		atomic { !ring_lock -> ring_lock = true; locked = true };
		do
		:: done == todo -> break
		:: else ->
			/* capchan_ring_room(): smp_load_acquire(sq_tail) [S1] */
			d_step {
				want = todo - done;
				if
				:: sq_tail - sq_head < want -> want = sq_tail - sq_head
				:: else -> skip
				fi
			}
			if
			:: want == 0 -> break
			:: else -> skip
			fi;
#ifndef BROKEN_SPACE_ORDER
			rs = inflight;		/* atomic_read_acquire() */
			tq = cached_cq_tail;	/* READ_ONCE() */
#else
			tq = cached_cq_tail;
			rs = inflight;
#endif
			d_step {
				h = cq_head;	/* smp_load_acquire() [C2] */
				/* capchan_cq_space(), the in-flight bound */
				if
				:: tq < h || tq - h > CQ || rs < 0 ||
				   rs > CQ - (tq - h) ->
					n = 0
				:: else ->
					n = CQ - (tq - h) - rs
				fi;
				if
				:: rs >= MAXIF -> n = 0
				:: n > MAXIF - rs -> n = MAXIF - rs
				:: else -> skip
				fi;
				if
				:: n > want -> n = want
				:: else -> skip
				fi;
				want = 0;
				busy = (n == 0);
				/*
				 * capchan_batch_fill(): the SQEs up to the
				 * last chain end within min(n, BATCH), none
				 * when the channel's chain goes on (ring_lock
				 * held: nothing here is another's to change)
				 */
				if
				:: n > BATCH -> n = BATCH
				:: else -> skip
				fi;
				nr = 0;
				if
				:: !in_link ->
					k = 0;
					do
					:: k < n ->
						if
						:: !LINKED(sq_head + k) -> nr = k + 1
						:: else -> skip
						fi;
						k++
					:: else -> break
					od;
					k = 0
				:: else -> skip
				fi;
				n = 0
			}
			if
			:: busy -> break
			:: !busy && nr == 0 ->
				/*
				 * One SQE of a long chain, ring_lock held:
				 * capchan_ring_consume(ctx, 1), then run
				 * inline with ctx->chain
				 */
				d_step {
					reserve(1);
					first = sq_head;
					sq_head++;
					in_link = LINKED(first)
				}
				batch_post(first, 1, 0, 0, k, held);
				d_step {
					done++;
					first = 0
				}
			:: else ->
#ifndef BROKEN_RESERVE_UNLOCKED
				/* capchan_ring_consume(), mutex_unlock() */
				d_step {
					reserve(nr);
					first = sq_head;
					sq_head = sq_head + nr;
					ring_lock = false;
					locked = false
				}
#else
				d_step {
					first = sq_head;
					sq_head = sq_head + nr;
					ring_lock = false;
					locked = false
				}
				reserve(nr);
#endif
				/* capchan_batch_run() */
				k = 0;
				do
				:: k < nr ->
					if
					:: MAY_BLOCK(first + k) ->
						/*
						 * -EIOCBQUEUED: capchan_workers_punt()
						 * with the rest of its chain
						 */
						d_step {
							n = k;
							do
							:: n + 1 < nr && LINKED(first + n) -> n++
							:: else -> break
							od;
							works ! first + k, n + 1 - k;
#ifdef BROKEN_PUNT_RESERVE
							reserve(n + 1 - k);
#endif
#ifndef BROKEN_PUNT_MASK
							/* GENMASK(end, i) */
							np = np + n + 1 - k;
							do
							:: k <= n ->
								punted = punted | (1 << k);
								k++
							:: else -> break
							od;
#else
							np++;
							punted = punted | (1 << k);
							k = n + 1;
#endif
							n = 0
						}
					:: true -> k++	/* inline */
					fi
				:: else -> break
				od;
				batch_post(first, nr, punted, np, k, held);
				d_step {
					done = done + nr;
					first = 0;
					nr = 0;
					np = 0;
					punted = 0
				}
				if
				:: done == todo -> break	/* returned */
				:: else ->
					/* mutex_lock_killable(&ctx->ring_lock) */
					atomic {
						!ring_lock ->
						ring_lock = true;
						locked = true
					}
				fi
			fi
		od;
		/* mutex_unlock(&ctx->ring_lock) */
		if
		:: locked -> d_step { ring_lock = false; locked = false }
		:: else -> skip
		fi;
		if
		:: done == 0 && busy ->
			/*
			 * -EBUSY: again once anything capchan_ring_room()
			 * read changed: a CQE reaped or posted, a reservation
			 * made or dropped
			 */
			cq_head != h || cached_cq_tail != tq || inflight != rs
		:: else -> skip
		fi;
		d_step {
			rs = 0;
			h = 0;
			tq = 0;
			todo = 0;
			done = 0;
			busy = false
		}
	od;
	subs_done++
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
		w = 0;
		do
		:: w < NSUB -> run submitter(w); w++
		:: else -> break
		od;
		w = 0
	}
	/* channel release: capchan_workers_destroy() once all is done */
	subs_done == NSUB && app_done && running == 0 && len(works) == 0;
	assert(inflight == 0);
	assert(cq_tail == NOPS && cached_cq_tail == NOPS)
}
