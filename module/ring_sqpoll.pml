/*
 * SPDX-License-Identifier: GPL-2.0
 *
 * capchan - Promela model of the SQ/CQ rings consumed by the kernel poll
 * thread (CAPCHAN_SETUP_SQPOLL), checked with spin by
 * selftests/model_check.sh.  Not compiled: module/Kbuild lists its objects.
 *
 * What it models, one process each (names as in module/sqpoll.c,
 * module/ring.c and libcapchan/submit.c, capchan.h):
 *  - submitter: the application.  capchan_get_sqe() (SQ room from the
 *    load-acquired sq_head [S2]); capchan__submit_sqpoll(), the SQPOLL
 *    path of capchan_submit(): capchan__flush_sq() (write the SQE,
 *    store-release sq_tail [S1]), capchan_sq_needs_wakeup() (full barrier
 *    [W1], then read sq_flags), and only with CAPCHAN_SQ_NEED_WAKEUP set
 *    ioctl ENTER(CAPCHAN_ENTER_SQ_WAKEUP): capchan_ring_enter() ->
 *    capchan_sqpoll_enter() -> wake_up(&sq->wait).  capchan_peek_cqe() /
 *    capchan_cqe_seen() reap (load-acquire cq_tail [C1], read the CQE,
 *    store-release cq_head [C2]).  At the end it waits for every CQE
 *    (ENTER(GETEVENTS)) and closes the channel: capchan_sqpoll_destroy()'s
 *    kthread_stop().
 *  - sqpoll: capchan_sqpoll_thread().  Each pass is capchan_sqpoll_batch()
 *    -> capchan_ring_submit() (capchan_submit_sqes() before the poll
 *    thread): load-acquire sq_tail [S1], consume an SQE only while the CQ
 *    has a free slot by the load-acquired cq_head [C2] (capchan_cq_space()),
 *    capchan_post_cqe(), store-release sq_head [S2] and cq_tail [C1].
 *    Idle (nothing consumed: an empty SQ or a full CQ) it polls again or,
 *    once sq_thread_idle ran out, prepare_to_wait()s, sets NEED_WAKEUP
 *    (capchan_sqpoll_set_flags()), smp_mb() (W1's pair), re-checks the SQ
 *    (capchan_sq_pending()) and kthread_should_stop(), and schedule()s.
 *    Only the thread consumes the SQ of an SQPOLL channel (ENTER ignores
 *    to_submit there), so ctx->lock plays no part and is left out.
 *  - flusher(p): the x86 store buffer of process p draining to memory.
 *  - monitor: the missed-wakeup property.
 *
 * Memory model.  Promela is sequentially consistent, so every store to
 * shared memory goes through its process's FIFO store buffer (x86-TSO): a
 * store reaches memory some time later, in program order, so a later load
 * of another location can pass it; a load of a location the process itself
 * has buffered sees its own newest buffered value; a full barrier (smp_mb,
 * __atomic_thread_fence(SEQ_CST)) waits for the buffer to drain.  On x86
 * store-release and load-acquire are plain moves (TSO keeps store order and
 * load order), so [S1] [S2] [C1] [C2] need no extra step here; only W1 and
 * its pair in the thread do.  Nothing else is taken to drain a buffer
 * (ctx->lock, the waitqueue lock, the syscall): the model is weaker than
 * the machine, so what it proves holds on the machine.
 *
 * Properties (any violation is an error trail):
 *  - the thread reads every SQE exactly once, with the content the
 *    submitter wrote (assert in sqpoll: no torn or reused SQE slot);
 *  - the submitter reaps its NREQ CQEs in order, each exactly once and none
 *    overwritten before it was consumed (assert in submitter: the CQ-space
 *    rule and C1/C2);
 *  - no missed wakeup: never the thread asleep, the submitter done
 *    submitting (it will not enter again) and an SQE not consumed (assert
 *    in monitor);
 *  - no deadlock: every run ends with every CQE reaped and the thread
 *    stopped (spin's invalid end state check; a thread asleep over a
 *    non-empty SQ while the submitter waits for its CQEs is one).
 *
 * Compile-time variants, each of which spin must refute:
 *  -DBROKEN_SUBMIT_BARRIER  capchan_submit() without W1: its read of
 *                           sq_flags passes its buffered sq_tail store.
 *  -DBROKEN_THREAD_RECHECK  the thread re-checks the SQ before its
 *                           smp_mb(): the re-check passes its buffered
 *                           NEED_WAKEUP store.
 *  -DBROKEN_CQ_SPACE        the thread ignores the CQ-space rule.
 *
 * Parameters: -DRING=n SQ entries (a power of two; the CQ gets as many,
 * the smallest CQ CAPCHAN_SETUP_CQSIZE allows, so it fills), -DNREQ=n SQEs
 * submitted in all, -DSTART=n the ring indices to start from: the rings
 * as a run of n earlier SQEs left them (slots holding that run's SQEs and
 * CQEs), so a few SQEs also cross the end of a larger ring.
 */

#ifndef RING
#define RING	2
#endif
#ifndef NREQ
#define NREQ	3
#endif
#define CQ_N	RING
/* store buffer entries per process: more than a run can leave in one */
#define SB	(3 * NREQ + 4)
#ifndef START
#define START	0
#endif
#define END	(START + NREQ)	/* the indices once every SQE is in */

/* shared locations: the ring header, then the SQE and CQE arrays */
#define SQ_TAIL		0
#define SQ_HEAD		1
#define CQ_TAIL		2
#define CQ_HEAD		3
#define SQ_FLAGS	4
#define SQE(i)		(5 + ((i) % RING))
#define CQE(i)		(5 + RING + ((i) % CQ_N))
#define NLOC		(5 + RING + CQ_N)

#define NEED_WAKEUP	1	/* CAPCHAN_SQ_NEED_WAKEUP */

#define APP	0
#define KTH	1

byte mem[NLOC];

typedef storebuf {
	byte addr[SB];
	byte val[SB];
	byte n
};
storebuf sb[2];

/* thread state as the scheduler sees it (prepare_to_wait/wake_up) */
#define TASK_RUNNING		0
#define TASK_INTERRUPTIBLE	1
byte tstate = TASK_RUNNING;
bool in_schedule;	/* blocked in schedule() */
bool should_stop;	/* kthread_stop() */

/* ghosts for the properties */
byte published;		/* SQEs the submitter stored a tail for */
byte consumed;		/* SQEs the thread consumed */
bool submit_done;	/* the submitter made its last submit and wake decision */
bool missed_wakeup;	/* set by the monitor, which then fails */

byte scratch[2];	/* inline temporaries, one per process */

/*
 * Buffer a store (SB is never reached: the assert says if it were).
 * Appending to its own buffer is invisible to the other processes, so a
 * store is folded into the step before or after it where that saves
 * states; loads and barriers stay steps of their own.
 */
#define APPEND(p, a, v)					\
	assert(sb[p].n < SB);				\
	sb[p].addr[sb[p].n] = a;			\
	sb[p].val[sb[p].n] = v;				\
	sb[p].n++

/* A load: the newest own buffered store to @a, else memory. */
inline load(p, a, r)
{
	d_step {
		r = mem[a];
		scratch[p] = 0;
		do
		:: scratch[p] < sb[p].n ->
			if
			:: sb[p].addr[scratch[p]] == a -> r = sb[p].val[scratch[p]]
			:: else -> skip
			fi;
			scratch[p]++
		:: else -> break
		od;
		scratch[p] = 0
	}
}

/*
 * A full barrier: the buffer drains.  Draining it in one step loses no
 * behaviour: the flusher may have committed any prefix before.
 */
inline mb(p)
{
	d_step {
		scratch[p] = 0;
		do
		:: scratch[p] < sb[p].n ->
			mem[sb[p].addr[scratch[p]]] = sb[p].val[scratch[p]];
			scratch[p]++
		:: else -> break
		od;
		sb[p].n = 0;
		scratch[p] = 0
	}
}

/* The store buffer of process p: commits its oldest store, any time. */
proctype flusher(byte p)
{
	byte i;

end:	do
	:: d_step {
		sb[p].n > 0 ->
		mem[sb[p].addr[0]] = sb[p].val[0];
		i = 1;
		do
		:: i < sb[p].n ->
			sb[p].addr[i - 1] = sb[p].addr[i];
			sb[p].val[i - 1] = sb[p].val[i];
			i++
		:: else -> break
		od;
		sb[p].n--;
		sb[p].addr[sb[p].n] = 0;
		sb[p].val[sb[p].n] = 0;
		i = 0
	   }
	od
}

/* wake_up(&sq->wait), as ENTER(SQ_WAKEUP) does, or kthread_stop() */
inline wake_thread()
{
	tstate = TASK_RUNNING
}

/*
 * The application: capchan_get_sqe() + capchan_submit() one SQE at a
 * time (SQE n carries n as its user_data), reaping CQEs in between with
 * capchan_peek_cqe()/capchan_cqe_seen(), then waiting for the rest.
 */
proctype submitter()
{
	byte tail = START;	/* struct capchan_sq sqe_tail */
	byte cqh = START;	/* cq_head as this side last stored it */
	byte v;

	do
	:: d_step {
		/*
		 * capchan_get_sqe(): room by load-acquire of sq_head [S2]
		 * (never in our own buffer: the thread alone stores it);
		 * write the SQE; capchan__flush_sq(): store-release sq_tail
		 * [S1].
		 */
		tail < END && tail - mem[SQ_HEAD] < RING ->
		APPEND(APP, SQE(tail), tail + 1);
		tail++;
		APPEND(APP, SQ_TAIL, tail);
		published = tail
	   }
#ifndef BROKEN_SUBMIT_BARRIER
		/* capchan_sq_needs_wakeup(): [W1], pairs with the thread's smp_mb() */
		mb(APP);
#endif
		load(APP, SQ_FLAGS, v);
		d_step {
			if
			:: v & NEED_WAKEUP ->
				/* ioctl ENTER(CAPCHAN_ENTER_SQ_WAKEUP) */
				wake_thread()
			:: else -> skip
			fi;
			if
			:: tail == END -> submit_done = true
			:: else -> skip
			fi;
			v = 0
		}
	:: d_step {
		/* capchan_peek_cqe(): load-acquire cq_tail [C1], read the CQE */
		mem[CQ_TAIL] != cqh ->
		v = mem[CQE(cqh)];	/* never in our own buffer */
		assert(v == cqh + 1);	/* no CQE lost, duplicated or overwritten */
		cqh++;
		/* capchan_cqe_seen(): store-release cq_head [C2] */
		APPEND(APP, CQ_HEAD, cqh);
		v = 0
	   }
	:: tail == END && cqh == END -> break
	od;
	/* every CQE reaped exactly once: nothing more may come */
	assert(consumed == END);
	/* close(): capchan_sqpoll_destroy() stops the thread (kthread_stop) */
	d_step {
		should_stop = true;
		wake_thread()
	}
}

/* capchan_sqpoll_thread() */
proctype sqpoll()
{
	byte head = START;	/* ctx->cached_sq_head */
	byte ctail = START;	/* ctx->cached_cq_tail */
	byte t, h, v;
	bool work;

	do
	:: should_stop -> break		/* kthread_should_stop() */
	:: else ->
		/*
		 * capchan_sqpoll_batch(): capchan_ring_submit().  The loads of
		 * sq_tail and cq_head never hit our own buffer (the
		 * submitter alone stores them).
		 */
		load(KTH, SQ_TAIL, t);		/* [S1] load-acquire */
		load(KTH, CQ_HEAD, h);		/* [C2] load-acquire */
		work = false;
		do
		:: d_step {
#ifndef BROKEN_CQ_SPACE
			head != t && ctail - h < CQ_N ->
#else
			head != t ->
#endif
			v = mem[SQE(head)];	/* never in our own buffer */
			assert(v == head + 1);	/* the SQE as written, once */
			head++;
			consumed = head;
			APPEND(KTH, CQE(ctail), v);	/* capchan_post_cqe() */
			ctail++;
			work = true;
			v = 0
		   }
		:: else -> break
		od;
		if
		:: d_step {
			work ->
			APPEND(KTH, SQ_HEAD, head);	/* [S2] store-release */
			APPEND(KTH, CQ_TAIL, ctail);	/* [C1] store-release */
			work = false
		   }
		:: else ->
			/*
			 * Idle (or the CQ full): poll again, or the idle
			 * time ran out and it goes to sleep.
			 */
			if
			:: skip
			:: d_step {
				/* prepare_to_wait(&sq->wait) */
				tstate = TASK_INTERRUPTIBLE;
				APPEND(KTH, SQ_FLAGS, NEED_WAKEUP)
			   }
#ifndef BROKEN_THREAD_RECHECK
				mb(KTH);	/* pairs with the submitter's W1 */
				load(KTH, SQ_TAIL, t);
#else
				load(KTH, SQ_TAIL, t);
				mb(KTH);
#endif
				if
				:: d_step {
					t != head || should_stop ->
					/* work came (or stop): clear, finish_wait */
					APPEND(KTH, SQ_FLAGS, 0);
					tstate = TASK_RUNNING
				   }
				:: else ->
					/* schedule(): returns once woken */
					in_schedule = true;
					tstate == TASK_RUNNING;
					d_step {
						in_schedule = false;
						/* finish_wait(); clear NEED_WAKEUP */
						APPEND(KTH, SQ_FLAGS, 0)
					}
				fi
			fi
		fi;
		t = 0;
		h = 0
	od
}

/*
 * No missed wakeup: the thread asleep, the submitter past its last wake
 * decision, and an SQE published that the thread never consumed.
 */
proctype monitor()
{
end:	atomic {
		in_schedule && tstate == TASK_INTERRUPTIBLE && submit_done &&
		published != consumed && !should_stop ->
		missed_wakeup = true;
		assert(!missed_wakeup)
	}
}

init {
	byte i;

	atomic {
		/* the rings as START earlier SQEs left them */
		mem[SQ_TAIL] = START;
		mem[SQ_HEAD] = START;
		mem[CQ_TAIL] = START;
		mem[CQ_HEAD] = START;
		published = START;
		consumed = START;
		i = 0;
		do
		:: i < START ->
			mem[SQE(i)] = i + 1;
			mem[CQE(i)] = i + 1;
			i++
		:: else -> break
		od;
		i = 0;
		run flusher(APP);
		run flusher(KTH);
		run monitor();
		run sqpoll();
		run submitter()
	}
}
