// SPDX-License-Identifier: GPL-2.0
/*
 * Attacks on ENTER as it runs its ops with no channel lock: ring_lock
 * covers only copying up to eight SQEs out of the SQ, reserving their CQE
 * slots (ctx->inflight) and publishing the SQ head; the ops then run in
 * several ENTERs of several threads at once, are posted under cq_lock,
 * and an op that would block goes to a worker with the rest of its chain.
 * A chain longer than a batch is copied and consumed whole and runs the
 * same way; one that goes on past what an ENTER consumes (or from an
 * earlier ENTER) runs op by op under ring_lock with the channel's chain
 * state.
 *
 * Tests marked FINDING fail on purpose against the module they were
 * written for: each reproduces a defect, the fix is in its comment.
 *
 *  - punt_grow_race (FINDING): two ENTERs punt at once while no worker
 *    can be made (RLIMIT_NPROC 0): one work is left queued with no
 *    worker at all, its CQE never comes and the in-flight count never
 *    returns to 0 (release WARNs, the work leaks).
 *  - closing_bound (FINDING): after an op let go of a file, ENTER runs
 *    more than the 32 more ops capchan(7) promises (batch shapes chosen
 *    with LINK chains get it to 38).
 *  - chain_handles: four threads run OPEN+READ(CHAIN)+CLOSE(CHAIN)
 *    chains on one ring, some longer than a batch (consumed whole, or op
 *    by op where another thread's ENTER cuts them), each on a file of its
 *    own: every READ reads its own thread's file.
 *  - cq_garbage_small_inflight: max_inflight 2, three threads ENTER NOPs,
 *    ASYNC NOPs and READs while the reaper scribbles impossible CQ heads:
 *    every consumed SQE has exactly one exact CQE, inflight back to 0.
 *  - revoke_vs_blocked_batch: a READ consumed with a STAT blocked in a
 *    page fault starts after a REVOKE from another ENTER returned:
 *    -EKEYREVOKED, the STAT that had started finishes.
 *  - sq_tail_garbage: garbage SQ tails while three threads ENTER: one
 *    CQE per consumed SQE, cq_tail == sq_head, inflight back to 0.
 *  - exit_mid_batch: a process exits with two ENTERs blocked mid-batch
 *    and a chain cut by its ENTER's to_submit whose first op, run op by
 *    op without ring_lock, blocks, with the chain's next SQE, ENTERed by
 *    another thread meanwhile, following it: the killed chain ENTER
 *    stops after its blocked op, what followed it is cancelled; every
 *    consumed SQE has its exact CQE, inflight 0 (the channel is the
 *    parent's too); the parent's ENTER of the rest finds the chain
 *    failed, and the chain state clean after it.  (Before, the chain's
 *    op held ring_lock and the other ENTER waited for it.)
 *  - killed_enter_takes_no_more: a child ENTERs 24 SQEs, the first a READ
 *    blocked in a page fault; SIGKILLed meanwhile, its ENTER finishes
 *    that batch of 8 (-EFAULT, 7 NOPs) and takes no more: the mutex it
 *    then takes uncontended does not look at signals (before, it took
 *    the other 16 too).  The parent consumes the 16 itself.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#include <sys/resource.h>

#define EA_FLEN		16	/* bytes of each chain_handles file */
#define EA_DEADLINE_MS	20000

/* ------------------------------------------------------------------ */
/* A shared ring: pushes under one lock, ENTERs outside it             */
/* ------------------------------------------------------------------ */

struct ea_op {
	uint8_t opcode;
	uint8_t flags;
	int expect;		/* the exact result */
	_Atomic int seen;	/* CQEs with this user_data */
	int res;
	void *buf;
	uint32_t len;
	uint32_t h;
	const char *path;
};

struct ea_ring {
	struct capchan *ch;
	pthread_mutex_t push_lock;
	struct ea_op *ops;
	long nr_ops;
	_Atomic long next;	/* next op to push */
	_Atomic long consumed;	/* SQEs ENTERs said they consumed */
	_Atomic long stray;	/* CQEs with a user_data never pushed */
	_Atomic long bad_enter;	/* an ENTER result that is never right */
	_Atomic int stop;
	_Atomic int go;		/* the submitters may start */
};

static int ea_ring_init(struct ea_ring *r, struct capchan *ch, long nr_ops)
{
	memset(r, 0, sizeof(*r));
	r->ch = ch;
	r->nr_ops = nr_ops;
	r->ops = calloc(nr_ops, sizeof(*r->ops));
	if (!r->ops)
		return -ENOMEM;
	pthread_mutex_init(&r->push_lock, NULL);
	return 0;
}

static void ea_ring_free(struct ea_ring *r)
{
	free(r->ops);
	r->ops = NULL;
}

/* Room for @n more SQEs in the SQ (the module's head, acquire). */
static bool ea_sq_room(struct capchan *ch, unsigned int n)
{
	unsigned int head = __atomic_load_n(ch->sq.khead, __ATOMIC_ACQUIRE);
	unsigned int tail = *ch->sq.ktail;

	return tail - head + n <= ch->sq.ring_entries;
}

/* No room to push: consume what others left in the SQ (never wait idle). */
static void ea_enter_pending(struct ea_ring *r)
{
	unsigned int head = __atomic_load_n(r->ch->sq.khead, __ATOMIC_ACQUIRE);
	unsigned int tail = __atomic_load_n(r->ch->sq.ktail, __ATOMIC_ACQUIRE);
	int n = tail != head ? cc_enter(r->ch->fd, tail - head, 0, 0) : 0;

	if (n > 0)
		atomic_fetch_add(&r->consumed, n);
	else
		usleep(200);
}

static void ea_push_op(struct ea_ring *r, long i)
{
	struct ea_op *o = &r->ops[i];
	struct capchan_sqe s;

	cc_sqe(&s, o->opcode, o->h);
	s.flags = o->flags;
	switch (o->opcode) {
	case CAPCHAN_OP_OPEN:
		capchan_prep_open(&s, o->h, o->path, 0, 0, R_READ | R_SEEK);
		s.flags = o->flags;
		break;
	case CAPCHAN_OP_READ:
		s.addr = (uintptr_t)o->buf;
		s.len = o->len;
		s.off = 0;
		break;
	default:
		break;
	}
	s.user_data = i;
	cc_sq_push(r->ch, &s);
}

/* Pop what is there; returns how many. */
static long ea_reap(struct ea_ring *r)
{
	struct capchan_cqe c;
	long n = 0;

	while (!cc_cq_pop(r->ch, &c)) {
		if (c.user_data >= (uint64_t)r->nr_ops) {
			atomic_fetch_add(&r->stray, 1);
		} else {
			r->ops[c.user_data].res = c.res;
			atomic_fetch_add(&r->ops[c.user_data].seen, 1);
		}
		n++;
	}
	return n;
}

/* Ops [from, to) each seen once with its exact result: how many are not. */
static long ea_check(struct ea_ring *r, long from, long to, long *first)
{
	long i, bad = 0;

	for (i = from; i < to; i++) {
		struct ea_op *o = &r->ops[i];

		if (atomic_load(&o->seen) != 1 || o->res != o->expect) {
			if (!bad)
				*first = i;
			bad++;
		}
	}
	return bad;
}

/* ENTER until everything pushed is consumed (or @ms pass). */
static void ea_drain(struct ea_ring *r, unsigned int ms)
{
	double end = cc_now() + ms / 1000.0;

	while (cc_now() < end) {
		unsigned int head = __atomic_load_n(r->ch->sq.khead,
						    __ATOMIC_ACQUIRE);
		unsigned int tail = *r->ch->sq.ktail;
		int n;

		ea_reap(r);
		if (head == tail)
			return;
		n = cc_enter(r->ch->fd, tail - head, 0, 0);
		if (n > 0)
			atomic_fetch_add(&r->consumed, n);
		else
			usleep(1000);
	}
}

static void ea_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* ------------------------------------------------------------------ */
/* punt_grow_race                                                      */
/* ------------------------------------------------------------------ */

struct ea_sub {
	pthread_t thread;
	struct ea_ring *r;
	int cpu;		/* -1: anywhere */
	unsigned int flags;	/* SQE flags of its NOPs */
	long pushed;
};

/*
 * Push EA_NOP_BATCH NOPs at a time and ENTER them, outside the push lock:
 * many punts per system call.
 */
#define EA_NOP_BATCH	8

static void *ea_nop_main(void *arg)
{
	struct ea_sub *t = arg;
	struct ea_ring *r = t->r;

	if (t->cpu >= 0)
		ea_pin(t->cpu);
	while (!atomic_load(&r->go))
		usleep(1000);
	while (!atomic_load(&r->stop)) {
		long i, j;
		int n;

		pthread_mutex_lock(&r->push_lock);
		if (!ea_sq_room(r->ch, EA_NOP_BATCH)) {
			pthread_mutex_unlock(&r->push_lock);
			ea_enter_pending(r);
			continue;
		}
		if (atomic_load(&r->next) + EA_NOP_BATCH > r->nr_ops) {
			pthread_mutex_unlock(&r->push_lock);
			break;
		}
		i = atomic_fetch_add(&r->next, EA_NOP_BATCH);
		for (j = i; j < i + EA_NOP_BATCH; j++) {
			r->ops[j] = (struct ea_op){ .opcode = CAPCHAN_OP_NOP,
						    .flags = t->flags };
			ea_push_op(r, j);
		}
		pthread_mutex_unlock(&r->push_lock);
		t->pushed += EA_NOP_BATCH;
		n = cc_enter(r->ch->fd, EA_NOP_BATCH, 0, 0);
		if (n > 0)
			atomic_fetch_add(&r->consumed, n);
		else if (n != 0 && n != -EBUSY)
			atomic_store(&r->bad_enter, n);
	}
	return NULL;
}

FIXTURE(ea)
{
	struct cc_tree t;
	struct capchan ch;
	bool ch_up;
	struct rlimit nproc;
	bool nproc_lowered;
};

FIXTURE_SETUP(ea)
{
	ASSERT_EQ(0, cc_tree_create(&self->t, "enter-attack"));
}

FIXTURE_TEARDOWN(ea)
{
	if (self->nproc_lowered)
		setrlimit(RLIMIT_NPROC, &self->nproc);
	if (self->ch_up)
		capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
}

/*
 * FINDING: capchan_workers_punt() decides, after a failed
 * capchan_worker_make(), that its work is an orphan only when w->nr drops
 * to 0, and then takes back its own work only.  Before 53d044d every punt
 * of a channel ran under ring_lock, one at a time; now two ENTERs punt at
 * once.  With no worker and none makeable (the submitter's RLIMIT_NPROC
 * at 0, or max_user_workers reached by the user's other channels):
 *   A: queue a, nr 0 -> 1 (grow)          B: queue b, nr 1 -> 2 (grow)
 *   A: make fails, nr 2 -> 1: "a worker remains", a stays queued
 *   B: make fails, nr 1 -> 0: orphan, takes b back and runs it inline
 * a is on the queue of a channel with no worker and none coming: its CQE
 * never comes, ctx->inflight never returns to 0, release WARNs
 * (capchan_workers_destroy()) and frees the workers with a still queued;
 * a's wait entry stays on its process's wait_pidfd, woken at that
 * process's exit after the channel was freed.  Seen on 6.1 with the
 * healing below left out: "WARNING: ... capchan_workers_destroy" at the
 * close, then at exit_group "general protection fault ... 0x6b6b6b6b6b6b6b6b"
 * in capchan_work_owner_died() from do_notify_parent(): a use after free
 * any local user can cause.  Here the test raises the limit again and
 * punts once more, so a worker is made and runs a: the kernel is left
 * clean, the test has failed.
 * Fix: queue a work only under w->lock while w->nr counts a worker that
 * exists (workers leave only with the queue empty, under the lock); count
 * workers being made apart (nr_making, for the max_workers bound), and
 * when the make fails and no worker exists, run the op inline, never
 * leaving it queued.
 */
TEST_F_TIMEOUT(ea, punt_grow_race, 400)
{
	const long nr_ops = 1000000;
	struct capchan *ch = &self->ch;
	struct capchan_params p;
	struct ea_sub t[2];
	struct ea_ring r;
	struct rlimit low;
	struct capchan_cqe c;
	long first = -1, pushed, stuck, punted = 0;
	double end;
	int i;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs two CPUs");
	/*
	 * Room for many stranded works: each keeps its CQE slot, and the
	 * healing punt at the end needs one more.
	 */
	memset(&p, 0, sizeof(p));
	p.flags = CAPCHAN_SETUP_CQSIZE | CAPCHAN_SETUP_INFLIGHT;
	p.cq_entries = CAPCHAN_MAX_CQ_ENTRIES;
	p.max_inflight = CAPCHAN_MAX_INFLIGHT;
	ASSERT_EQ(0, capchan_queue_init_params(64, ch, &p));
	self->ch_up = true;
	ASSERT_EQ(0, ea_ring_init(&r, ch, nr_ops));
	/* made before the limit is lowered; they wait for r.go */
	for (i = 0; i < 2; i++) {
		t[i] = (struct ea_sub){ .r = &r, .cpu = i,
					.flags = CAPCHAN_SQE_ASYNC };
		ASSERT_EQ(0, pthread_create(&t[i].thread, NULL, ea_nop_main,
					    &t[i]));
	}

	/* no worker may be made: an ASYNC NOP runs inline */
	ASSERT_EQ(0, getrlimit(RLIMIT_NPROC, &self->nproc));
	low = self->nproc;
	low.rlim_cur = 0;
	ASSERT_EQ(0, setrlimit(RLIMIT_NPROC, &low));
	self->nproc_lowered = true;
	cc_push(ch, CAPCHAN_OP_NOP, 0, CAPCHAN_SQE_ASYNC, NULL, 0, 0, 1ULL << 40);
	EXPECT_EQ(1, cc_enter(ch->fd, 1, 0, 0));
	ASSERT_EQ(0, cc_cq_pop(ch, &c));
	EXPECT_EQ(1ULL << 40, c.user_data);
	EXPECT_EQ(0, c.res);
	EXPECT_EQ(0, cc_fdv(ch->fd, "workers-made"));
	EXPECT_EQ(0, cc_fdv(ch->fd, "inflight"));

	/*
	 * two threads on two CPUs punt at once, over and over; bounded in
	 * time too, well inside the VM runner's 120 s per program
	 */
	atomic_store(&r.go, 1);
	end = cc_now() + 60;
	while (cc_now() < end && atomic_load(&r.next) < nr_ops) {
		ea_reap(&r);
		/* a work queued with no worker alive (none can be made) */
		punted = cc_fdv(ch->fd, "worker-punted");
		if (punted)
			break;
		usleep(5000);
	}
	atomic_store(&r.stop, 1);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_join(t[i].thread, NULL));
	ea_drain(&r, 5000);
	pushed = atomic_load(&r.next);
	/* every op ran inline: its CQE is there at once */
	end = cc_now() + 3;
	while (cc_now() < end && ea_check(&r, 0, pushed, &first)) {
		ea_reap(&r);
		usleep(2000);
	}
	stuck = ea_check(&r, 0, pushed, &first);
	TH_LOG("%ld NOPs pushed, %ld consumed, worker-punted %ld", pushed,
	       atomic_load(&r.consumed), punted);
	EXPECT_EQ(0, atomic_load(&r.bad_enter));
	EXPECT_EQ(pushed, atomic_load(&r.consumed));
	EXPECT_EQ(0, stuck)
		TH_LOG("%ld CQEs missing (first user_data %ld): queued with no worker, inflight %lld, workers %lld",
		       stuck, first, cc_fdv(ch->fd, "inflight"),
		       cc_fdv(ch->fd, "workers"));
	EXPECT_EQ(0, cc_fdv(ch->fd, "inflight"));
	EXPECT_EQ(0, atomic_load(&r.stray));

	/* heal: a worker may be made again, and it runs what was left */
	ASSERT_EQ(0, setrlimit(RLIMIT_NPROC, &self->nproc));
	self->nproc_lowered = false;
	if (stuck) {
		cc_push(ch, CAPCHAN_OP_NOP, 0, CAPCHAN_SQE_ASYNC, NULL, 0, 0,
			1ULL << 41);
		EXPECT_EQ(1, cc_enter(ch->fd, 1, 0, 0));
		EXPECT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, 10000));
		ea_reap(&r);
		while (!cc_cq_pop(ch, &c))
			;
		TH_LOG("after a worker was made: %ld still missing",
		       ea_check(&r, 0, pushed, &first));
	}
	ea_ring_free(&r);
}

/* ------------------------------------------------------------------ */
/* closing_bound                                                       */
/* ------------------------------------------------------------------ */

/* Push @n NOPs, all linked but the last (a chain of n; n == 1: a single). */
static void ea_push_chain(struct capchan *ch, unsigned int n, uint64_t *ud)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		cc_push(ch, CAPCHAN_OP_NOP, 0, i + 1 < n ? CAPCHAN_SQE_LINK : 0,
			NULL, 0, 0, (*ud)++);
}

/*
 * FINDING: capchan(7): "at most 32 more operations run meanwhile" once an
 * op let go of a file (its close is task work, run when ENTER returns).
 * capchan_ring_submit() now counts whole batches and checks between them,
 * so with batch shapes chosen by LINK chains (1, 8, 8, 8, 6, 8) the bound
 * is crossed at 31 and the next batch of 8 still runs: 38 more ops after
 * the CLOSE.  With OPEN+CLOSE pairs that is 19 files held by one ENTER
 * instead of 16.
 * Fix: once an op released, take at most CAPCHAN_OPS_WHILE_CLOSING -
 * closing SQEs into the next batch (a smaller @max for
 * capchan_ring_room()/capchan_batch_fill(); a chain that then does not
 * fit runs op by op, counted one by one as now); or say 39 in the man page.
 */
TEST_F(ea, closing_bound)
{
	struct capchan *ch = &self->ch;
	struct capchan_cqe c;
	uint64_t ud = 1;
	unsigned int i, pushed;
	int fd, h, n, got = 0;

	ASSERT_EQ(0, capchan_queue_init(64, ch, 0));
	self->ch_up = true;
	fd = openat(self->t.jail_fd, "hello", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	h = cc_grant(ch->fd, fd, R_READ, NULL);
	/* the capability's reference is the file's last: CLOSE closes it */
	close(fd);
	ASSERT_TRUE(cc_handle_ok(h));

	cc_push(ch, CAPCHAN_OP_CLOSE, h, 0, NULL, 0, 0, ud++);
	/* batch 1 ends at the CLOSE: the chain of 8 after it does not fit */
	for (i = 0; i < 3; i++)
		ea_push_chain(ch, 8, &ud);
	/* batch 5: 6 singles, the chain after them does not fit */
	for (i = 0; i < 6; i++)
		ea_push_chain(ch, 1, &ud);
	ea_push_chain(ch, 8, &ud);
	for (i = 0; i < 8; i++)
		ea_push_chain(ch, 1, &ud);
	pushed = ud - 1;
	ASSERT_EQ(47, pushed);

	n = cc_enter(ch->fd, pushed, 0, 0);
	TH_LOG("ENTER(%u) with a CLOSE first consumed %d", pushed, n);
	EXPECT_LE(1, n);
	/* the CLOSE and at most 32 more */
	EXPECT_GE(1 + 32, n);
	while (!cc_cq_pop(ch, &c)) {
		EXPECT_EQ((uint64_t)got + 1, c.user_data);
		EXPECT_EQ(0, c.res);
		got++;
	}
	EXPECT_EQ(n, got);
	/* the rest in later ENTERs */
	while (got < (int)pushed) {
		n = cc_enter(ch->fd, pushed - got, 0, 0);
		ASSERT_LT(0, n);
		while (!cc_cq_pop(ch, &c)) {
			EXPECT_EQ(0, c.res);
			got++;
		}
	}
	EXPECT_EQ(0, cc_fdv(ch->fd, "inflight"));
}

/* ------------------------------------------------------------------ */
/* chain_handles                                                       */
/* ------------------------------------------------------------------ */

#define CH_THREADS	4
#define CH_CHAINS	150	/* per thread */
#define CH_PAD		7	/* NOPs in a long chain: 10 ops */

struct ea_chainer {
	pthread_t thread;
	struct ea_ring *r;
	uint32_t dir;
	int idx;
	char path[16];
	unsigned char (*bufs)[EA_FLEN];	/* one per chain */
};

static void *ea_chain_main(void *arg)
{
	struct ea_chainer *t = arg;
	struct ea_ring *r = t->r;
	int k;

	for (k = 0; k < CH_CHAINS; k++) {
		bool longc = (k % 3) == 2;
		unsigned int len = 3 + (longc ? CH_PAD : 0), j;
		long base;
		int n;

		pthread_mutex_lock(&r->push_lock);
		while (!ea_sq_room(r->ch, len)) {
			pthread_mutex_unlock(&r->push_lock);
			ea_enter_pending(r);
			pthread_mutex_lock(&r->push_lock);
		}
		base = atomic_fetch_add(&r->next, len);
		j = 0;
		r->ops[base + j] = (struct ea_op){
			.opcode = CAPCHAN_OP_OPEN, .flags = CAPCHAN_SQE_LINK,
			.h = t->dir, .path = t->path, .expect = 1 };
		ea_push_op(r, base + j++);
		if (longc) {
			unsigned int p;

			for (p = 0; p < CH_PAD; p++) {
				r->ops[base + j] = (struct ea_op){
					.opcode = CAPCHAN_OP_NOP,
					.flags = CAPCHAN_SQE_LINK };
				ea_push_op(r, base + j++);
			}
		}
		r->ops[base + j] = (struct ea_op){
			.opcode = CAPCHAN_OP_READ, .flags = CAPCHAN_SQE_LINK,
			.h = CAPCHAN_HANDLE_CHAIN, .buf = t->bufs[k],
			.len = EA_FLEN, .expect = EA_FLEN };
		ea_push_op(r, base + j++);
		r->ops[base + j] = (struct ea_op){
			.opcode = CAPCHAN_OP_CLOSE, .h = CAPCHAN_HANDLE_CHAIN };
		ea_push_op(r, base + j++);
		pthread_mutex_unlock(&r->push_lock);
		/* whatever is at the head: maybe another thread's chains */
		n = cc_enter(r->ch->fd, len, 0, 0);
		if (n > 0)
			atomic_fetch_add(&r->consumed, n);
		else if (n != -EBUSY)
			atomic_store(&r->bad_enter, n);
	}
	return NULL;
}

TEST_F_TIMEOUT(ea, chain_handles, 300)
{
	/* every third chain is long */
	const long nr_ops = CH_THREADS * (CH_CHAINS * 3 +
					  CH_CHAINS / 3 * CH_PAD);
	struct capchan *ch = &self->ch;
	struct ea_chainer t[CH_THREADS];
	char content[CH_THREADS][EA_FLEN];
	struct ea_ring r;
	long pushed, i, first = -1, bad, wrong = 0;
	int k, h;

	ASSERT_EQ(0, capchan_queue_init(64, ch, 0));
	self->ch_up = true;
	h = cc_grant(ch->fd, self->t.jail_fd, R_LOOKUP | R_READ | R_SEEK, NULL);
	ASSERT_TRUE(cc_handle_ok(h));
	ASSERT_EQ(0, ea_ring_init(&r, ch, nr_ops));
	for (k = 0; k < CH_THREADS; k++) {
		char name[16];

		memset(content[k], 'a' + k, EA_FLEN);
		snprintf(name, sizeof(name), "own%d", k);
		ASSERT_EQ(0, cc_put_file(self->t.jail_fd, name, content[k],
					 EA_FLEN, 0644));
		t[k] = (struct ea_chainer){ .r = &r, .dir = h, .idx = k };
		memcpy(t[k].path, name, sizeof(name));
		t[k].bufs = calloc(CH_CHAINS, EA_FLEN);
		ASSERT_NE(NULL, t[k].bufs);
	}
	for (k = 0; k < CH_THREADS; k++)
		ASSERT_EQ(0, pthread_create(&t[k].thread, NULL, ea_chain_main,
					    &t[k]));
	for (k = 0; k < CH_THREADS; k++) {
		while (pthread_tryjoin_np(t[k].thread, NULL) == EBUSY) {
			ea_reap(&r);
			usleep(1000);
		}
	}
	ea_drain(&r, EA_DEADLINE_MS);
	pushed = atomic_load(&r.next);
	EXPECT_EQ(nr_ops, pushed);
	EXPECT_EQ(pushed, atomic_load(&r.consumed));
	EXPECT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, EA_DEADLINE_MS));
	ea_reap(&r);
	/* OPEN gives a handle: any well-formed one */
	for (i = 0; i < pushed; i++)
		if (r.ops[i].opcode == CAPCHAN_OP_OPEN &&
		    cc_handle_ok(r.ops[i].res))
			r.ops[i].expect = r.ops[i].res;
	bad = ea_check(&r, 0, pushed, &first);
	EXPECT_EQ(0, bad) TH_LOG("%ld bad; op %ld (opcode %d): seen %d res %d",
				 bad, first, first >= 0 ? r.ops[first].opcode : -1,
				 first >= 0 ? atomic_load(&r.ops[first].seen) : 0,
				 first >= 0 ? r.ops[first].res : 0);
	EXPECT_EQ(0, atomic_load(&r.stray));
	EXPECT_EQ(0, atomic_load(&r.bad_enter));
	/* each READ through CAPCHAN_HANDLE_CHAIN read its own chain's file */
	for (k = 0; k < CH_THREADS; k++) {
		int c;

		for (c = 0; c < CH_CHAINS; c++)
			if (memcmp(t[k].bufs[c], content[k], EA_FLEN))
				wrong++;
		free(t[k].bufs);
	}
	EXPECT_EQ(0, wrong);
	/* every OPEN was closed by its chain: the DIR is all that is left */
	EXPECT_EQ(1, cc_fdv(ch->fd, "caps"));
	ea_ring_free(&r);
}

/* ------------------------------------------------------------------ */
/* cq_garbage_small_inflight                                           */
/* ------------------------------------------------------------------ */

#define CG_OPS		6000
#define CG_LEN		64

struct ea_mixer {
	pthread_t thread;
	struct ea_ring *r;
	uint32_t fh;
	int kind;		/* 0 NOP, 1 ASYNC NOP, 2 READ */
	unsigned char (*bufs)[CG_LEN];
};

static void *ea_mix_main(void *arg)
{
	struct ea_mixer *t = arg;
	struct ea_ring *r = t->r;
	unsigned int seed = t->kind + 1;

	for (;;) {
		unsigned int want = 1 + (rand_r(&seed) % 3), j;
		long base;
		int n;

		pthread_mutex_lock(&r->push_lock);
		if (!ea_sq_room(r->ch, want)) {
			pthread_mutex_unlock(&r->push_lock);
			ea_enter_pending(r);
			continue;
		}
		if (atomic_load(&r->next) + want > r->nr_ops) {
			pthread_mutex_unlock(&r->push_lock);
			break;
		}
		base = atomic_fetch_add(&r->next, want);
		for (j = 0; j < want; j++) {
			struct ea_op *o = &r->ops[base + j];

			*o = (struct ea_op){ .opcode = CAPCHAN_OP_NOP };
			if (t->kind == 1)
				o->flags = CAPCHAN_SQE_ASYNC;
			if (t->kind == 2) {
				o->opcode = CAPCHAN_OP_READ;
				o->h = t->fh;
				o->buf = t->bufs[base + j];
				o->len = CG_LEN;
				o->expect = CG_LEN;
			}
			ea_push_op(r, base + j);
		}
		pthread_mutex_unlock(&r->push_lock);
		n = cc_enter(r->ch->fd, want, 0, 0);
		if (n > 0)
			atomic_fetch_add(&r->consumed, n);
		else if (n != 0 && n != -EBUSY)
			atomic_store(&r->bad_enter, n);
	}
	return NULL;
}

TEST_F_TIMEOUT(ea, cq_garbage_small_inflight, 300)
{
	struct capchan *ch = &self->ch;
	struct capchan_params p;
	struct ea_mixer t[3];
	unsigned char (*bufs)[CG_LEN];
	struct ea_ring r;
	long pushed, first = -1, bad, i, scribbles = 0, wrong = 0;
	int k, fd, fh;

	memset(&p, 0, sizeof(p));
	p.flags = CAPCHAN_SETUP_INFLIGHT;
	p.max_inflight = 2;
	ASSERT_EQ(0, capchan_queue_init_params(16, ch, &p));
	self->ch_up = true;
	EXPECT_EQ(2, p.max_inflight);
	fd = openat(self->t.jail_fd, "file", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	fh = cc_grant(ch->fd, fd, R_READ | R_SEEK, NULL);
	close(fd);
	ASSERT_TRUE(cc_handle_ok(fh));
	ASSERT_EQ(0, ea_ring_init(&r, ch, CG_OPS));
	bufs = calloc(CG_OPS, CG_LEN);
	ASSERT_NE(NULL, bufs);
	for (k = 0; k < 3; k++) {
		t[k] = (struct ea_mixer){ .r = &r, .fh = fh, .kind = k,
					  .bufs = bufs };
		ASSERT_EQ(0, pthread_create(&t[k].thread, NULL, ea_mix_main,
					    &t[k]));
	}
	for (k = 0; k < 3; k++) {
		while (pthread_tryjoin_np(t[k].thread, NULL) == EBUSY) {
			unsigned int head, tail, junk;

			ea_reap(&r);
			head = *ch->cq.khead;
			tail = __atomic_load_n(ch->cq.ktail, __ATOMIC_ACQUIRE);
			/*
			 * Heads no CQ of 32 can have, however far the tail
			 * moves meanwhile: far ahead of the tail or far
			 * behind.  (A head between the true one and the
			 * tail would claim unread CQEs consumed: the
			 * application's own loss, not tested here.)
			 */
			switch (scribbles % 3) {
			case 0:
				junk = head + 0x80000000u;
				break;
			case 1:
				junk = tail + 0x10000u;
				break;
			default:
				junk = head - 0x10000u;
				break;
			}
			__atomic_store_n(ch->cq.khead, junk, __ATOMIC_RELEASE);
			usleep(300);
			__atomic_store_n(ch->cq.khead, head, __ATOMIC_RELEASE);
			scribbles++;
			usleep(300);
		}
	}
	ea_drain(&r, EA_DEADLINE_MS);
	EXPECT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, EA_DEADLINE_MS));
	ea_reap(&r);
	pushed = atomic_load(&r.next);
	TH_LOG("%ld ops, %ld scribbles", pushed, scribbles);
	EXPECT_EQ(pushed, atomic_load(&r.consumed));
	bad = ea_check(&r, 0, pushed, &first);
	EXPECT_EQ(0, bad) TH_LOG("%ld bad; op %ld: seen %d res %d", bad, first,
				 first >= 0 ? atomic_load(&r.ops[first].seen) : 0,
				 first >= 0 ? r.ops[first].res : 0);
	for (i = 0; i < pushed; i++)
		if (r.ops[i].opcode == CAPCHAN_OP_READ &&
		    memcmp(r.ops[i].buf, self->t.data, CG_LEN))
			wrong++;
	EXPECT_EQ(0, wrong);
	EXPECT_EQ(0, atomic_load(&r.stray));
	EXPECT_EQ(0, atomic_load(&r.bad_enter));
	EXPECT_EQ(cc_fdv(ch->fd, "sq-tail"), cc_fdv(ch->fd, "sq-head"));
	free(bufs);
	ea_ring_free(&r);
}

/* ------------------------------------------------------------------ */
/* exit_mid_batch                                                      */
/* ------------------------------------------------------------------ */

#define EX_LEN		64

struct ea_exiter {
	pthread_t thread;
	int fd;
	unsigned int to_submit;
	int res;
};

static void *ea_exit_enter(void *arg)
{
	struct ea_exiter *e = arg;

	e->res = cc_enter(e->fd, e->to_submit, 0, 0);
	return NULL;
}

/*
 * The child: two ENTERs blocked in a READ into a missing page, each with
 * three NOPs after it in its batch; a chain of ten (READ into a missing
 * page first) ENTERed with to_submit 9, so cut by its ENTER and run a
 * batch (8) at a time, blocked in its first op; an ENTER of one SQE (the
 * chain's ninth), which follows that batch, and a NOP after the chain.
 * Then it exits.  Exit code: 0, or the step that went wrong.
 */
static int ea_exit_child(struct capchan *ch, uint32_t fh)
{
	struct cc_uffd_page u[3];
	struct ea_exiter e[4];
	uint64_t ud = 1;
	int i;

	for (i = 0; i < 3; i++)
		if (cc_uffd_page_init(&u[i]))
			return 10 + i;
	for (i = 0; i < 2; i++) {
		int j;

		cc_push(ch, CAPCHAN_OP_READ, fh, 0, u[i].mem, EX_LEN, 0, ud++);
		for (j = 0; j < 3; j++)
			cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, ud++);
		e[i] = (struct ea_exiter){ .fd = ch->fd, .to_submit = 4 };
		if (pthread_create(&e[i].thread, NULL, ea_exit_enter, &e[i]))
			return 20 + i;
		if (cc_uffd_wait_fault(&u[i]))
			return 30 + i;
	}
	cc_push(ch, CAPCHAN_OP_READ, fh, CAPCHAN_SQE_LINK, u[2].mem, EX_LEN, 0,
		ud++);
	for (i = 0; i < 9; i++)
		cc_push(ch, CAPCHAN_OP_NOP, 0, i < 8 ? CAPCHAN_SQE_LINK : 0,
			NULL, 0, 0, ud++);
	/* a chain cut by to_submit runs op by op */
	e[2] = (struct ea_exiter){ .fd = ch->fd, .to_submit = 9 };
	if (pthread_create(&e[2].thread, NULL, ea_exit_enter, &e[2]))
		return 40;
	if (cc_uffd_wait_fault(&u[2]))
		return 41;
	/* one NOP more; the chain's next SQE follows its blocked op */
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, ud++);
	e[3] = (struct ea_exiter){ .fd = ch->fd, .to_submit = 1 };
	if (pthread_create(&e[3].thread, NULL, ea_exit_enter, &e[3]))
		return 50;
	if (cc_join_timeout(e[3].thread, EA_DEADLINE_MS / 1000))
		return 51;
	if (e[3].res != 1)
		return 52;
	/* exit_group: every thread killed mid-ENTER, pages never supplied */
	_exit(0);
}

TEST_F_TIMEOUT(ea, exit_mid_batch, 120)
{
	struct capchan *ch = &self->ch;
	struct capchan_cqe c;
	int res[20], seen[20] = { 0 };
	int fd, fh, st, i;
	long long head, n = 0;
	pid_t pid;

	ASSERT_EQ(0, capchan_queue_init(32, ch, 0));
	self->ch_up = true;
	fd = openat(self->t.jail_fd, "file", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	fh = cc_grant(ch->fd, fd, R_READ | R_SEEK, NULL);
	close(fd);
	ASSERT_TRUE(cc_handle_ok(fh));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(ea_exit_child(ch, fh));
	st = cc_wait_child(pid);
	if (st == 10)
		SKIP(return, "no userfaultfd here");
	ASSERT_EQ(0, st);

	/*
	 * 4 + 4 + 8 consumed by the killed ENTERs (the chain ENTER stops
	 * after its first batch, the READ and 7 NOPs), and the chain's next
	 * op, which followed it: every one consumed has its CQE, no other.
	 */
	EXPECT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, EA_DEADLINE_MS));
	EXPECT_EQ(19, cc_fdv(ch->fd, "sq-tail"));
	head = cc_fdv(ch->fd, "sq-head");
	EXPECT_EQ(17, head);
	while (!cc_cq_pop(ch, &c)) {
		n++;
		if (c.user_data >= 1 && c.user_data < 20) {
			seen[c.user_data]++;
			res[c.user_data] = c.res;
		}
	}
	EXPECT_EQ(head, n);
	/* what is left: the rest of the failed chain, then the NOP */
	EXPECT_EQ(19 - head, cc_enter(ch->fd, 19 - head, 0, 0));
	while (!cc_cq_pop(ch, &c)) {
		if (c.user_data >= 1 && c.user_data < 20) {
			seen[c.user_data]++;
			res[c.user_data] = c.res;
		}
	}
	for (i = 1; i <= 18; i++) {
		/* the READs: killed in the copy; the chain's rest cancelled */
		int want = (i == 1 || i == 5 || i == 9) ? -EFAULT :
			   i > 9 ? -ECANCELED : 0;

		EXPECT_EQ(1, seen[i]) TH_LOG("user_data %d", i);
		EXPECT_EQ(want, res[i]) TH_LOG("user_data %d", i);
	}
	/* the chain state is clean: the NOP after the chain runs on its own */
	EXPECT_EQ(1, seen[19]);
	EXPECT_EQ(0, res[19]);
	EXPECT_EQ(19, cc_fdv(ch->fd, "sq-head"));
	EXPECT_EQ(0, cc_fdv(ch->fd, "inflight"));
}

/* ------------------------------------------------------------------ */
/* killed_enter_takes_no_more                                          */
/* ------------------------------------------------------------------ */

#define KE_LEN		24

TEST_F_TIMEOUT(ea, killed_enter_takes_no_more, 120)
{
	struct capchan *ch = &self->ch;
	struct capchan_cqe c;
	int fd, fh, pfd[2], st, i, seen[KE_LEN + 1] = { 0 };
	char byte = 0;
	pid_t pid;

	ASSERT_EQ(0, capchan_queue_init(32, ch, 0));
	self->ch_up = true;
	fd = openat(self->t.jail_fd, "file", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	fh = cc_grant(ch->fd, fd, R_READ | R_SEEK, NULL);
	close(fd);
	ASSERT_TRUE(cc_handle_ok(fh));
	ASSERT_EQ(0, pipe(pfd));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct cc_uffd_page u = { .uffd = -1, .mem = MAP_FAILED };
		struct ea_exiter e = { .fd = ch->fd, .to_submit = KE_LEN };

		close(pfd[0]);
		if (cc_uffd_page_init(&u))
			_exit(10);
		cc_push(ch, CAPCHAN_OP_READ, fh, 0, u.mem, EX_LEN, 0, 1);
		for (i = 2; i <= KE_LEN; i++)
			cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, i);
		if (pthread_create(&e.thread, NULL, ea_exit_enter, &e))
			_exit(11);
		if (cc_uffd_wait_fault(&u))
			_exit(12);
		if (write(pfd[1], "f", 1) != 1)
			_exit(13);
		for (;;)
			pause();
	}
	close(pfd[1]);
	i = read(pfd[0], &byte, 1);
	close(pfd[0]);
	if (i != 1) {
		kill(pid, SIGKILL);
		st = cc_wait_child(pid);
		if (st == 10)
			SKIP(return, "no userfaultfd here");
		ASSERT_EQ(1, i) TH_LOG("child: %d", st);
	}
	/* the child's ENTER is in its first batch, blocked in the READ */
	EXPECT_EQ(8, cc_fdv(ch->fd, "sq-head"));
	ASSERT_EQ(0, kill(pid, SIGKILL));
	EXPECT_EQ(1000 + SIGKILL, cc_wait_child(pid));
	EXPECT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, EA_DEADLINE_MS));
	/* that batch finished, and no more was taken */
	EXPECT_EQ(8, cc_fdv(ch->fd, "sq-head"));
	EXPECT_EQ(KE_LEN, cc_fdv(ch->fd, "sq-tail"));
	EXPECT_EQ(KE_LEN - 8, cc_enter(ch->fd, KE_LEN, 0, 0));
	while (!cc_cq_pop(ch, &c)) {
		ASSERT_LE(1, c.user_data);
		ASSERT_GE(KE_LEN, c.user_data);
		/* the compiler cannot tell the ASSERTs above end the test */
		if (c.user_data <= KE_LEN)
			seen[c.user_data]++;
		EXPECT_EQ(c.user_data == 1 ? -EFAULT : 0, c.res)
			TH_LOG("user_data %llu", (unsigned long long)c.user_data);
	}
	for (i = 1; i <= KE_LEN; i++)
		EXPECT_EQ(1, seen[i]) TH_LOG("user_data %d", i);
	EXPECT_EQ(KE_LEN, cc_fdv(ch->fd, "cq-tail"));
	EXPECT_EQ(0, cc_fdv(ch->fd, "inflight"));
}

/* ------------------------------------------------------------------ */
/* revoke_vs_blocked_batch                                             */
/* ------------------------------------------------------------------ */

struct ea_stat_enter {
	pthread_t thread;
	struct capchan *ch;
	uint32_t h;
	void *page;
	void *buf;
	int res;
};

/* STAT into the missing page, then READ, one batch of one ENTER */
static void *ea_stat_read_main(void *arg)
{
	struct ea_stat_enter *e = arg;
	struct capchan_sqe s;

	capchan_prep_stat(&s, e->h, e->page);
	s.user_data = 1;
	cc_sq_push(e->ch, &s);
	capchan_prep_read(&s, e->h, e->buf, 64, 0);
	s.user_data = 2;
	cc_sq_push(e->ch, &s);
	e->res = cc_enter(e->ch->fd, 2, 0, 0);
	return NULL;
}

/*
 * An op that was consumed with others before a REVOKE but starts after
 * the REVOKE returned (its batch held up by the op before it, blocked in
 * a page fault) is refused: -EKEYREVOKED.  The op that had started (the
 * STAT, blocked in its copy out) finishes.  A REVOKE from another ENTER
 * meanwhile runs at once beside the blocked batch.
 */
TEST_F_TIMEOUT(ea, revoke_vs_blocked_batch, 120)
{
	struct capchan *ch = &self->ch;
	struct ea_stat_enter e;
	struct cc_uffd_page u;
	struct capchan_cqe c;
	unsigned char buf[64];
	int fd, h, child, r, i, got = 0;

	u.uffd = -1;
	u.mem = MAP_FAILED;
	r = cc_uffd_page_init(&u);
	if (r == -ENOSYS)
		SKIP(return, "no userfaultfd here");
	ASSERT_EQ(0, r);
	ASSERT_EQ(0, capchan_queue_init(16, ch, 0));
	self->ch_up = true;
	fd = openat(self->t.jail_fd, "file", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	h = cc_grant(ch->fd, fd, R_READ | R_SEEK | R_STAT | R_DERIVE | R_REVOKE,
		     NULL);
	close(fd);
	ASSERT_TRUE(cc_handle_ok(h));
	child = cc_derive(ch->fd, h, R_READ | R_SEEK | R_STAT);
	ASSERT_TRUE(cc_handle_ok(child));

	memset(buf, 0, sizeof(buf));
	e = (struct ea_stat_enter){ .ch = ch, .h = child, .page = u.mem,
				    .buf = buf, .res = -ENODATA };
	ASSERT_EQ(0, pthread_create(&e.thread, NULL, ea_stat_read_main, &e));
	ASSERT_EQ(0, cc_uffd_wait_fault(&u));
	EXPECT_EQ(2, cc_fdv(ch->fd, "sq-head"));
	EXPECT_EQ(2, cc_fdv(ch->fd, "inflight"));

	/* REVOKE through the ring, from this thread, beside the batch */
	cc_push(ch, CAPCHAN_OP_REVOKE, h, 0, NULL, 0, 0, 3);
	EXPECT_EQ(1, cc_enter(ch->fd, 1, 0, 0));
	ASSERT_EQ(0, cc_cq_pop(ch, &c));
	EXPECT_EQ(3, c.user_data);
	EXPECT_EQ(1, c.res);	/* the child, newly revoked */
	/* the batch's CQEs: none yet */
	EXPECT_EQ(-EAGAIN, cc_cq_pop(ch, &c));

	ASSERT_EQ(0, cc_uffd_supply(&u, 0));
	ASSERT_EQ(0, pthread_join(e.thread, NULL));
	EXPECT_EQ(2, e.res);
	while (!cc_cq_pop(ch, &c)) {
		got++;
		if (c.user_data == 1) {
			EXPECT_EQ(0, c.res);	/* started before: finishes */
		} else if (c.user_data == 2) {
			EXPECT_EQ(-EKEYREVOKED, c.res);
		} else {
			EXPECT_EQ(0, (long)c.user_data);
		}
	}
	EXPECT_EQ(2, got);
	for (i = 0; i < (int)sizeof(buf); i++)
		if (buf[i])
			break;
	EXPECT_EQ((int)sizeof(buf), i) TH_LOG("the revoked READ wrote");
	EXPECT_EQ(0, cc_fdv(ch->fd, "inflight"));
	cc_uffd_page_destroy(&u);
}

/* ------------------------------------------------------------------ */
/* sq_tail_garbage                                                     */
/* ------------------------------------------------------------------ */

#define SG_THREADS	3
#define SG_ENTERS	3000	/* per thread */

static _Atomic int ea_sg_stop;
static _Atomic long ea_sg_scribbles;

struct ea_sg {
	pthread_t thread;
	struct capchan *ch;
	_Atomic long *consumed;
	_Atomic long *bad;
};

static void *ea_sg_main(void *arg)
{
	struct ea_sg *t = arg;
	int k;

	while (!atomic_load(&ea_sg_scribbles))
		usleep(1000);
	for (k = 0; k < SG_ENTERS; k++) {
		int n = cc_enter(t->ch->fd, t->ch->sq.ring_entries, 0, 0);

		if (n > 0)
			atomic_fetch_add(t->consumed, n);
		else if (n != 0 && n != -EBUSY)
			atomic_store(t->bad, n);
	}
	return NULL;
}


static void *ea_sg_scribble(void *arg)
{
	struct capchan *ch = arg;
	unsigned int seed = 7;

	while (!atomic_load(&ea_sg_stop)) {
		unsigned int v = rand_r(&seed);

		/* anything: behind the head, far ahead, a little ahead */
		if (v & 1)
			v = __atomic_load_n(ch->sq.khead, __ATOMIC_RELAXED) +
			    (v >> 1) % 40 - 8;
		__atomic_store_n(ch->sq.ktail, v, __ATOMIC_RELEASE);
		atomic_fetch_add(&ea_sg_scribbles, 1);
		sched_yield();
	}
	return NULL;
}

/*
 * Garbage SQ tails written while three threads ENTER at once: whatever
 * the module consumes (the ring's NOPs, again and again) gets exactly one
 * CQE, never more than the CQ can hold, and the in-flight count returns
 * to 0.
 */
TEST_F_TIMEOUT(ea, sq_tail_garbage, 300)
{
	struct capchan *ch = &self->ch;
	struct ea_sg t[SG_THREADS];
	_Atomic long consumed = 0, bad = 0;
	struct capchan_cqe c;
	pthread_t scrib;
	long reaped = 0, wrong = 0;
	unsigned int i, head;
	int k;

	ASSERT_EQ(0, capchan_queue_init(16, ch, 0));
	self->ch_up = true;
	ASSERT_EQ(0, pthread_create(&scrib, NULL, ea_sg_scribble, ch));
	for (i = 0; i < ch->sq.ring_entries; i++) {
		struct capchan_sqe s;

		capchan_prep_nop(&s);
		s.user_data = 100 + i;
		ch->sq.sqes[i] = s;
	}
	for (k = 0; k < SG_THREADS; k++) {
		t[k] = (struct ea_sg){ .ch = ch, .consumed = &consumed,
				       .bad = &bad };
		ASSERT_EQ(0, pthread_create(&t[k].thread, NULL, ea_sg_main,
					    &t[k]));
	}
	for (k = 0; k < SG_THREADS; k++) {
		while (pthread_tryjoin_np(t[k].thread, NULL) == EBUSY) {
			while (!cc_cq_pop(ch, &c)) {
				reaped++;
				if (c.res || c.user_data < 100 ||
				    c.user_data >= 100 + ch->sq.ring_entries)
					wrong++;
			}
			usleep(500);
		}
	}
	atomic_store(&ea_sg_stop, 1);
	ASSERT_EQ(0, pthread_join(scrib, NULL));
	head = __atomic_load_n(ch->sq.khead, __ATOMIC_ACQUIRE);
	__atomic_store_n(ch->sq.ktail, head, __ATOMIC_RELEASE);
	EXPECT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, EA_DEADLINE_MS));
	while (!cc_cq_pop(ch, &c)) {
		reaped++;
		if (c.res || c.user_data < 100 ||
		    c.user_data >= 100 + ch->sq.ring_entries)
			wrong++;
	}
	TH_LOG("%ld SQEs consumed under %ld garbage tails",
	       atomic_load(&consumed), atomic_load(&ea_sg_scribbles));
	EXPECT_EQ(0, atomic_load(&bad));
	EXPECT_LT(0, atomic_load(&consumed));
	EXPECT_EQ(atomic_load(&consumed), reaped);
	EXPECT_EQ(0, wrong);
	EXPECT_EQ((long long)head, cc_fdv(ch->fd, "sq-head"));
	EXPECT_EQ((unsigned int)atomic_load(&consumed), head);
	EXPECT_EQ(head, *ch->cq.ktail);
}

TEST_HARNESS_MAIN
