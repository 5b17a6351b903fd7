// SPDX-License-Identifier: GPL-2.0
/*
 * Many threads on one channel.
 *
 *  - blocked: one thread's READ stays blocked inside the module (its
 *    destination page is missing in a userfaultfd region, so the op waits
 *    in the page fault until the test supplies the page), once as an ENTER
 *    of the ring and once as an INVOKE.  Meanwhile 8 threads each INVOKE
 *    1000 READs and STATs on other capabilities of the same channel, all
 *    with their exact results, and the channel's fdinfo is readable and
 *    exact.  Then the page is supplied and the blocked READ completes with
 *    its full byte count and the file's bytes.  (A FIFO cannot be a
 *    capability: OPEN and GRANT take only directories and regular files,
 *    so the page fault is the op that blocks for as long as the test likes.)
 *  - getevents_sees_its_cqes: a thread waiting in ENTER(GETEVENTS) while
 *    another thread's batch is half done returns only once the CQEs it
 *    counted are visible in the ring.
 *  - close_reopen_vs_invoke: one thread per slot CLOSEs its handle and
 *    OPENs a new one, again and again, while 6 others INVOKE READ and STAT
 *    on whatever the slots hold: every such INVOKE gives its exact success
 *    value or -EBADF (the stale-handle errno), never anything else; each
 *    CLOSE gives 0, each OPEN a handle; afterwards the table and the
 *    user's capability and file counts are exactly what is left.
 *  - shared_ring: threads that each push SQEs (a mutex around the SQ tail)
 *    and ENTER them on one ring, reaping under another mutex; every
 *    user_data comes back exactly once with its exact result (NOP 0, READ
 *    its byte count and the file's bytes).
 *    - blocked_enter_others_enter: one thread's ENTER is blocked in its
 *      READ into a missing userfaultfd page; with no page supplied 4
 *      threads ENTER 1000 NOPs and READs each on the same ring (ENTER runs
 *      its ops with no channel lock held), fdinfo readable and sane
 *      meanwhile; then the page comes and the blocked ENTER returns 1, its
 *      CQE exact.
 *    - many_enter_threads: 4 threads ENTER 20000 ops, each with to_submit
 *      what it pushed (it may consume another's SQEs); in the end
 *      sq_head == sq_tail == cq_tail.
 *    - in_flight_bound_with_blocked_enter: max_inflight 2, one ENTER
 *      blocked in its op holding a slot: another ENTER of 3 NOPs takes
 *      one per pass, each NOP's CQE giving its slot back, and returns 3;
 *      with two blocked ENTERs holding both slots an ENTER is -EBUSY.
 *    - long_chain_blocked_others_enter: one thread ENTERs a chain of 12
 *      (longer than the 8 SQEs an ENTER takes at a time) whose tenth op
 *      is the blocked READ: the whole chain is consumed at once (sq_head
 *      12), the CQEs of its first 8 ops (one batch) posted, the ninth
 *      not yet, and another thread's ENTER of 3 NOPs behind it returns 3
 *      with their CQEs while the READ stays blocked (before, such a chain
 *      ran op by op holding the ring); then the page comes and the
 *      chain's other 4 CQEs follow, in order, exact.
 *    - long_chain_goes_to_a_worker: the same chain with the READ marked
 *      CAPCHAN_SQE_ASYNC: the READ and the 2 ops after it go to one
 *      worker (worker-punted + 1), the ENTER returns 12 while the READ
 *      blocks there, the 9 CQEs before it posted; then the 3 follow in
 *      order.
 *
 * Nothing waits for time: a blocked op is known to be blocked by the
 * userfaultfd event it raised.  The harness timeout bounds every test;
 * where an ENTER could wait behind a blocked one, the test gives it a
 * generous deadline (PE_DEADLINE_S) and, missed, fails and unblocks
 * everything rather than hang: a deadline, not a measure of speed.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"


#define NR_WORKERS	8
#define WORKER_OPS	1000
#define IO_LEN		64

/* ---- the workers: READs and STATs with exact results -------------------- */

struct worker {
	pthread_t thread;
	int chfd;
	uint32_t h;			/* a FILE capability on jail/file */
	unsigned int seed;
	const unsigned char *data;	/* jail/file's content */
	int ok;				/* ops with their exact result */
	int bad;			/* anything else */
	long first_bad;			/* the first such result (op << 32 | res) */
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned char buf[IO_LEN];
	struct capchan_stat st;
	struct capchan_sqe s;
	int i, r;

	for (i = 0; i < WORKER_OPS; i++) {
		bool good;

		if (i % 2 == 0) {
			uint64_t off = (w->seed * 131u + i * 37u) %
				       (CC_FILE_LEN - IO_LEN);

			memset(buf, 0, sizeof(buf));
			capchan_prep_read(&s, w->h, buf, IO_LEN, off);
			r = cc_invoke(w->chfd, &s);
			good = r == IO_LEN &&
			       !memcmp(buf, w->data + off, IO_LEN);
		} else {
			memset(&st, 0, sizeof(st));
			capchan_prep_stat(&s, w->h, &st);
			r = cc_invoke(w->chfd, &s);
			good = r == 0 && st.size == CC_FILE_LEN;
		}
		if (good) {
			w->ok++;
		} else {
			if (!w->bad)
				w->first_bad = ((long)s.opcode << 32) |
					       (uint32_t)r;
			w->bad++;
		}
	}
	return NULL;
}

/* ---- the blocked op ------------------------------------------------------ */

enum block_via { VIA_ENTER, VIA_INVOKE };

struct blocked {
	pthread_t thread;
	enum block_via via;
	struct capchan *ch;
	uint32_t h;
	void *buf;
	unsigned int len;
	int res;			/* the READ's result (CQE or INVOKE) */
	int enter_res;			/* ENTER's own result */
	uint64_t user_data;		/* the CQE's */
};

static void *blocked_main(void *arg)
{
	struct blocked *b = arg;
	struct capchan_sqe s;

	capchan_prep_read(&s, b->h, b->buf, b->len, 0);
	if (b->via == VIA_INVOKE) {
		b->res = cc_invoke(b->ch->fd, &s);
		return NULL;
	}
	s.user_data = 0xb10cedULL;
	cc_sq_push(b->ch, &s);
	b->enter_res = cc_enter(b->ch->fd, 1, 1, CAPCHAN_ENTER_GETEVENTS);
	if (b->enter_res == 1) {
		struct capchan_cqe cqe;

		if (cc_cq_pop(b->ch, &cqe) == 0) {
			b->res = cqe.res;
			b->user_data = cqe.user_data;
		} else {
			b->res = -ENODATA;
		}
	}
	return NULL;
}

FIXTURE(blocked)
{
	struct cc_tree t;
	struct capchan ch;
	struct cc_uffd_page u;
	uint32_t dh;
	uint32_t fh[NR_WORKERS];
	uint32_t bh;			/* the blocked READ's capability */
};

FIXTURE_VARIANT(blocked)
{
	enum block_via via;
};

FIXTURE_VARIANT_ADD(blocked, enter)
{
	.via = VIA_ENTER,
};

FIXTURE_VARIANT_ADD(blocked, invoke)
{
	.via = VIA_INVOKE,
};

FIXTURE_SETUP(blocked)
{
	int i, fd, r;

	self->u.uffd = -1;
	self->u.mem = MAP_FAILED;
	ASSERT_EQ(0, cc_tree_create(&self->t, "threads"));
	ASSERT_EQ(0, capchan_queue_init(8, &self->ch, 0));
	r = cc_grant(self->ch.fd, self->t.jail_fd, R_LOOKUP | R_READ |
		     R_SEEK | R_STAT, NULL);
	ASSERT_TRUE(cc_handle_ok(r)) TH_LOG("grant: %d", r);
	self->dh = r;
	fd = openat(self->t.jail_fd, "file", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	/* 8 capabilities of their own: half granted, half opened beneath */
	for (i = 0; i < NR_WORKERS; i++) {
		if (i % 2)
			r = cc_grant(self->ch.fd, fd, R_READ | R_SEEK | R_STAT,
				     NULL);
		else
			r = capchan_open_beneath(&self->ch, self->dh, "file",
						 O_RDONLY, 0,
						 R_READ | R_SEEK | R_STAT);
		ASSERT_TRUE(cc_handle_ok(r)) TH_LOG("cap %d: %d", i, r);
		self->fh[i] = r;
	}
	r = cc_grant(self->ch.fd, fd, R_READ | R_SEEK, NULL);
	ASSERT_TRUE(cc_handle_ok(r));
	self->bh = r;
	close(fd);
	r = cc_uffd_page_init(&self->u);
	if (r == -ENOSYS)
		SKIP(return, "no userfaultfd in this kernel");
	ASSERT_EQ(0, r);
}

FIXTURE_TEARDOWN(blocked)
{
	cc_uffd_page_destroy(&self->u);
	capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
}

TEST_F_TIMEOUT(blocked, others_proceed, 300)
{
	struct worker w[NR_WORKERS];
	struct blocked b = {
		.via = variant->via,
		.ch = &self->ch,
		.h = self->bh,
		.buf = self->u.mem,
		.len = 1000,
		.res = -ENODATA,
		.enter_res = -ENODATA,
	};
	struct cc_fdinfo *fi = calloc(1, sizeof(*fi));
	int i;

	ASSERT_NE(NULL, fi);
	ASSERT_EQ(0, pthread_create(&b.thread, NULL, blocked_main, &b));
	/* the READ reached the module's copy into the page and waits there */
	ASSERT_EQ(0, cc_uffd_wait_fault(&self->u));

	for (i = 0; i < NR_WORKERS; i++) {
		w[i] = (struct worker){
			.chfd = self->ch.fd, .h = self->fh[i], .seed = i + 1,
			.data = self->t.data,
		};
		ASSERT_EQ(0, pthread_create(&w[i].thread, NULL, worker_main,
					    &w[i]));
	}
	/* fdinfo while the workers run and the READ is blocked */
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(2 + NR_WORKERS, fi->caps);
	for (i = 0; i < NR_WORKERS; i++) {
		ASSERT_EQ(0, pthread_join(w[i].thread, NULL));
		EXPECT_EQ(WORKER_OPS, w[i].ok);
		EXPECT_EQ(0, w[i].bad)
			TH_LOG("worker %d: op %ld gave %d", i,
			       w[i].first_bad >> 32, (int)w[i].first_bad);
	}

	/* still blocked: nothing completed, the ring shows the SQE consumed */
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(2 + NR_WORKERS, fi->caps);
	EXPECT_EQ(2 + NR_WORKERS, fi->ncap);
	EXPECT_EQ(0, fi->bad_cap_lines);
	EXPECT_EQ(b.via == VIA_ENTER ? 1 : 0, fi->sq_head);
	EXPECT_EQ(0, fi->cq_tail);
	EXPECT_EQ(-ENODATA, b.res);

	/* the page arrives: the READ completes, with the file's bytes */
	ASSERT_EQ(0, cc_uffd_supply(&self->u, 0xa5));
	ASSERT_EQ(0, pthread_join(b.thread, NULL));
	EXPECT_EQ(1000, b.res);
	EXPECT_EQ(0, memcmp(self->u.mem, self->t.data, 1000));
	/* the page's own bytes beyond what was read */
	EXPECT_EQ(0xa5, self->u.mem[1000]);
	if (b.via == VIA_ENTER) {
		EXPECT_EQ(1, b.enter_res);
		EXPECT_EQ(0xb10cedULL, b.user_data);
	}
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(b.via == VIA_ENTER ? 1 : 0, fi->sq_head);
	EXPECT_EQ(b.via == VIA_ENTER ? 1 : 0, fi->cq_tail);
	EXPECT_EQ(b.via == VIA_ENTER ? 1 : 0, fi->cq_head);
	free(fi);
}

/*
 * A waiter in ENTER(GETEVENTS) returns only when the CQEs it counted are
 * in the application's view of the ring.  One thread ENTERs a NOP and a
 * READ whose page is missing: the NOP's CQE is written, but the batch
 * publishes its tail only when the READ is done.  Another thread's
 * ENTER(GETEVENTS, 1) must wait until then, and see its CQE on return.
 */
struct cq_waiter {
	pthread_t thread;
	struct capchan *ch;
	int res;			/* ENTER's */
	unsigned int ready;		/* CQEs visible when it returned */
	int returned;
};

static void *cq_waiter_main(void *arg)
{
	struct cq_waiter *w = arg;

	w->res = cc_enter(w->ch->fd, 0, 1, CAPCHAN_ENTER_GETEVENTS);
	w->ready = capchan_cq_ready(w->ch);
	__atomic_store_n(&w->returned, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct submitter {
	pthread_t thread;
	int fd;
	int res;
};

static void *submitter_main(void *arg)
{
	struct submitter *t = arg;

	t->res = cc_enter(t->fd, 2, 0, 0);
	return NULL;
}

TEST_F_TIMEOUT(blocked, getevents_sees_its_cqes, 120)
{
	struct cq_waiter w = { .ch = &self->ch, .res = -ENODATA };
	struct submitter sub = { .fd = self->ch.fd, .res = -ENODATA };
	struct capchan_cqe cqe;
	struct capchan_sqe s;
	int early;

	if (variant->via != VIA_ENTER)
		SKIP(return, "rings only");
	capchan_prep_nop(&s);
	s.user_data = 1;
	cc_sq_push(&self->ch, &s);
	capchan_prep_read(&s, self->bh, self->u.mem, 1000, 0);
	s.user_data = 2;
	cc_sq_push(&self->ch, &s);
	ASSERT_EQ(0, pthread_create(&sub.thread, NULL, submitter_main, &sub));
	/* the NOP is done, the READ waits in the page fault */
	ASSERT_EQ(0, cc_uffd_wait_fault(&self->u));
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, cq_waiter_main, &w));
	usleep(200000);		/* room for a wrong early return */
	early = __atomic_load_n(&w.returned, __ATOMIC_ACQUIRE);
	EXPECT_EQ(0, early) TH_LOG("ENTER(GETEVENTS) returned %d with %u CQEs visible",
				   w.res, w.ready);

	ASSERT_EQ(0, cc_uffd_supply(&self->u, 0));
	ASSERT_EQ(0, pthread_join(sub.thread, NULL));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(2, sub.res);
	EXPECT_EQ(0, w.res);
	EXPECT_LE(1, w.ready);
	ASSERT_EQ(0, cc_cq_pop(&self->ch, &cqe));
	EXPECT_EQ(1, cqe.user_data);
	EXPECT_EQ(0, cqe.res);
	ASSERT_EQ(0, cc_cq_pop(&self->ch, &cqe));
	EXPECT_EQ(2, cqe.user_data);
	EXPECT_EQ(1000, cqe.res);
}

/* ---- CLOSE and OPEN racing INVOKE ---------------------------------------- */

#define NR_SLOTS	4		/* one closer each */
#define NR_USERS	6
#define CLOSER_ROUNDS	1000
#define CLOSER_READS	4		/* the closer's own, between rounds */
#define USER_OPS	2500

struct race {
	int chfd;
	struct capchan *ch;
	uint32_t dh;
	const unsigned char *data;
	_Atomic uint32_t slot[NR_SLOTS];
	_Atomic long last_bad;		/* the last unexpected result */
};

struct racer {
	pthread_t thread;
	struct race *r;
	unsigned int id;
	int ok, ebadf, bad;
};

static void race_bad(struct racer *t, unsigned int op, int res)
{
	t->bad++;
	atomic_store(&t->r->last_bad, ((long)op << 32) | (uint32_t)res);
}

/* READ of IO_LEN bytes at @off through @h: true if exact. */
static bool race_read(struct race *r, uint32_t h, uint64_t off, int *res)
{
	unsigned char buf[IO_LEN];
	struct capchan_sqe s;

	memset(buf, 0, sizeof(buf));
	capchan_prep_read(&s, h, buf, IO_LEN, off);
	*res = cc_invoke(r->chfd, &s);
	return *res == IO_LEN && !memcmp(buf, r->data + off, IO_LEN);
}

/*
 * The owner of slot @id: CLOSE its handle (nobody else closes it: exactly
 * 0), OPEN a new one and publish it, then a few READs of its own through
 * it (exact) while the users race for it.
 */
static void *closer_main(void *arg)
{
	struct racer *c = arg;
	struct race *r = c->r;
	unsigned int i, j;

	for (i = 0; i < CLOSER_ROUNDS; i++) {
		uint32_t h = atomic_load(&r->slot[c->id]);
		struct capchan_sqe s;
		int res;

		cc_sqe(&s, CAPCHAN_OP_CLOSE, h);
		res = cc_invoke(r->chfd, &s);
		if (res != 0) {
			race_bad(c, CAPCHAN_OP_CLOSE, res);
			continue;
		}
		res = capchan_open_beneath(r->ch, r->dh, "file", O_RDONLY, 0,
					   R_READ | R_SEEK | R_STAT);
		if (!cc_handle_ok(res)) {
			race_bad(c, CAPCHAN_OP_OPEN, res);
			break;
		}
		h = res;
		atomic_store(&r->slot[c->id], h);
		c->ok++;
		for (j = 0; j < CLOSER_READS; j++) {
			if (!race_read(r, h, (i * 7u + j * 101u) %
				       (CC_FILE_LEN - IO_LEN), &res))
				race_bad(c, CAPCHAN_OP_READ, res);
		}
	}
	return NULL;
}

/* READs and STATs of whatever the slots hold: exact, or -EBADF. */
static void *user_main(void *arg)
{
	struct racer *u = arg;
	struct race *r = u->r;
	struct capchan_stat st;
	unsigned int i;

	for (i = 0; i < USER_OPS; i++) {
		uint32_t h = atomic_load(&r->slot[(i + u->id) % NR_SLOTS]);
		uint64_t off = (u->id * 53u + i * 29u) % (CC_FILE_LEN - IO_LEN);
		struct capchan_sqe s;
		bool good;
		int res;

		if (i % 3) {
			good = race_read(r, h, off, &res);
			s.opcode = CAPCHAN_OP_READ;
		} else {
			memset(&st, 0, sizeof(st));
			capchan_prep_stat(&s, h, &st);
			res = cc_invoke(r->chfd, &s);
			good = res == 0 && st.size == CC_FILE_LEN;
		}
		if (good)
			u->ok++;
		else if (res == -EBADF)
			u->ebadf++;
		else
			race_bad(u, s.opcode, res);
	}
	return NULL;
}

FIXTURE(race)
{
	struct cc_tree t;
	struct capchan ch;
};

FIXTURE_SETUP(race)
{
	ASSERT_EQ(0, cc_tree_create(&self->t, "threads-race"));
	ASSERT_EQ(0, capchan_queue_init(8, &self->ch, 0));
}

FIXTURE_TEARDOWN(race)
{
	capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
}

TEST_F_TIMEOUT(race, close_reopen_vs_invoke, 300)
{
	struct racer c[NR_SLOTS], u[NR_USERS];
	uint32_t first[NR_SLOTS];
	struct race *r = calloc(1, sizeof(*r));
	long long caps0, files0, caps1, files1;
	int i, h, err, users_ok = 0, users_ebadf = 0;
	struct cc_fdinfo *fi = calloc(1, sizeof(*fi));

	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, fi);
	r->chfd = self->ch.fd;
	r->ch = &self->ch;
	r->data = self->t.data;
	h = cc_grant(self->ch.fd, self->t.jail_fd, R_LOOKUP | R_READ | R_SEEK |
		     R_STAT, NULL);
	ASSERT_TRUE(cc_handle_ok(h));
	r->dh = h;
	caps0 = cc_fdinfo_value(self->ch.fd, "user-caps", &err);
	ASSERT_EQ(0, err);
	files0 = cc_fdinfo_value(self->ch.fd, "user-files", &err);
	ASSERT_EQ(0, err);
	for (i = 0; i < NR_SLOTS; i++) {
		h = capchan_open_beneath(&self->ch, r->dh, "file", O_RDONLY, 0,
					 R_READ | R_SEEK | R_STAT);
		ASSERT_TRUE(cc_handle_ok(h));
		atomic_store(&r->slot[i], (uint32_t)h);
		first[i] = h;
	}

	for (i = 0; i < NR_USERS; i++) {
		u[i] = (struct racer){ .r = r, .id = i };
		ASSERT_EQ(0, pthread_create(&u[i].thread, NULL, user_main,
					    &u[i]));
	}
	for (i = 0; i < NR_SLOTS; i++) {
		c[i] = (struct racer){ .r = r, .id = i };
		ASSERT_EQ(0, pthread_create(&c[i].thread, NULL, closer_main,
					    &c[i]));
	}
	for (i = 0; i < NR_SLOTS; i++) {
		ASSERT_EQ(0, pthread_join(c[i].thread, NULL));
		EXPECT_EQ(0, c[i].bad) TH_LOG("last unexpected: op %ld res %d",
					      atomic_load(&r->last_bad) >> 32,
					      (int)atomic_load(&r->last_bad));
		EXPECT_EQ(CLOSER_ROUNDS, c[i].ok);
	}
	for (i = 0; i < NR_USERS; i++) {
		ASSERT_EQ(0, pthread_join(u[i].thread, NULL));
		EXPECT_EQ(0, u[i].bad) TH_LOG("last unexpected: op %ld res %d",
					      atomic_load(&r->last_bad) >> 32,
					      (int)atomic_load(&r->last_bad));
		EXPECT_EQ(USER_OPS, u[i].ok + u[i].ebadf + u[i].bad);
		users_ok += u[i].ok;
		users_ebadf += u[i].ebadf;
	}
	TH_LOG("%d closes, users: %d exact, %d -EBADF", NR_SLOTS * CLOSER_ROUNDS,
	       users_ok, users_ebadf);

	/* exactly the DIR and one capability per slot are left */
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(1 + NR_SLOTS, fi->caps);
	EXPECT_EQ(1 + NR_SLOTS, fi->ncap);
	for (i = 0; i < NR_SLOTS; i++) {
		uint32_t sh = atomic_load(&r->slot[i]);

		EXPECT_NE(NULL, cc_fdinfo_find(fi, sh))
			TH_LOG("slot %d handle 0x%x", i, sh);
	}
	/* nothing leaked: every closed capability and its file uncharged */
	caps1 = cc_fdinfo_value(self->ch.fd, "user-caps", &err);
	ASSERT_EQ(0, err);
	files1 = cc_fdinfo_value(self->ch.fd, "user-files", &err);
	ASSERT_EQ(0, err);
	EXPECT_EQ(caps0 + NR_SLOTS, caps1);
	EXPECT_EQ(files0 + NR_SLOTS, files1);
	/* the handles left work, the closed ones do not */
	for (i = 0; i < NR_SLOTS; i++) {
		struct capchan_stat st = { 0 };

		EXPECT_EQ(0, capchan_stat(&self->ch, atomic_load(&r->slot[i]),
					  &st));
		EXPECT_EQ(CC_FILE_LEN, st.size);
		EXPECT_EQ(-EBADF, capchan_stat(&self->ch, first[i], &st));
	}
	free(fi);
	free(r);
}

/* ---- ENTER from many threads on one ring --------------------------------- */

#define PE_THREADS	4
#define PE_BATCH_MAX	8		/* SQEs one thread pushes before its ENTER */
#define PE_RING		64		/* SQEs: CQ 128, in-flight bound 64 */
#define PE_BLOCKED_OPS	1000		/* per thread, beside the blocked ENTER */
#define PE_MANY_OPS	20000		/* all threads together */
#define PE_DEADLINE_S	60		/* a missed one is a failure, not slowness */
#define PE_BLOCKED_LEN	1000

/* One op of the table: its SQE's user_data is its index. */
struct pe_op {
	uint8_t opcode;			/* NOP or READ */
	uint32_t len;
	uint64_t off;
	unsigned char *buf;
	int res;			/* from its CQE */
	int seen;			/* CQEs with its user_data */
};

/*
 * A ring shared by threads that each push and ENTER.  The SQ tail and the
 * CQ head are the application's: one pusher and one reaper at a time.
 * ops[nops] is the blocked READ's, when a test has one.
 */
struct pe_ring {
	struct capchan *ch;
	uint32_t fh;			/* READ | SEEK on jail/file */
	const unsigned char *data;	/* jail/file's content */
	pthread_mutex_t push_lock;
	pthread_mutex_t reap_lock;
	unsigned int nops;
	struct pe_op *ops;
	unsigned char *bufs;
	_Atomic int may_reap;		/* 0: leave CQEs in the ring */
	_Atomic long consumed;		/* what the ENTERs returned, summed */
	_Atomic int finished;		/* submitters done */
	int stray;			/* CQEs of no op (reap_lock) */
};

static void pe_ring_free(struct pe_ring *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->push_lock);
	pthread_mutex_destroy(&r->reap_lock);
	free(r->ops);
	free(r->bufs);
	free(r);
}

/* @nops NOPs and READs (IO_LEN bytes at spread offsets), and a blocked slot. */
static struct pe_ring *pe_ring_new(struct capchan *ch, uint32_t fh,
				   const unsigned char *data, unsigned int nops)
{
	struct pe_ring *r = calloc(1, sizeof(*r));
	unsigned int i;

	if (!r)
		return NULL;
	pthread_mutex_init(&r->push_lock, NULL);
	pthread_mutex_init(&r->reap_lock, NULL);
	r->ch = ch;
	r->fh = fh;
	r->data = data;
	r->nops = nops;
	r->may_reap = 1;
	r->ops = calloc(nops + 1, sizeof(*r->ops));
	r->bufs = calloc(nops, IO_LEN);
	if (!r->ops || !r->bufs) {
		pe_ring_free(r);
		return NULL;
	}
	for (i = 0; i < nops; i++) {
		struct pe_op *op = &r->ops[i];

		if (i % 2) {
			op->opcode = CAPCHAN_OP_NOP;
			continue;
		}
		op->opcode = CAPCHAN_OP_READ;
		op->len = IO_LEN;
		op->off = (i * 37u) % (CC_FILE_LEN - IO_LEN);
		op->buf = r->bufs + (size_t)i * IO_LEN;
	}
	return r;
}

/* Every CQE in the ring into the table. */
static void pe_reap(struct pe_ring *r)
{
	struct capchan_cqe c;

	if (!atomic_load(&r->may_reap))
		return;
	pthread_mutex_lock(&r->reap_lock);
	while (cc_cq_pop(r->ch, &c) == 0) {
		if (c.user_data > r->nops) {
			r->stray++;
			continue;
		}
		if (!r->ops[c.user_data].seen++)
			r->ops[c.user_data].res = c.res;
	}
	pthread_mutex_unlock(&r->reap_lock);
}

/*
 * Ops [first, first + n) not seen exactly once with their exact result
 * (NOP 0, READ its length and the file's bytes); the first in *first_bad.
 */
static int pe_check(const struct pe_ring *r, unsigned int first,
		    unsigned int n, long *first_bad)
{
	unsigned int i;
	int bad = 0;

	for (i = first; i < first + n; i++) {
		const struct pe_op *op = &r->ops[i];
		bool good = op->seen == 1;

		if (good && op->opcode == CAPCHAN_OP_NOP)
			good = op->res == 0;
		else if (good)
			good = op->res == (int)op->len &&
			       !memcmp(op->buf, r->data + op->off, op->len);
		if (!good && !bad++)
			*first_bad = i;
	}
	return bad;
}

/*
 * A thread that pushes batches of its ops (1..PE_BATCH_MAX SQEs) and
 * ENTERs them itself, to_submit = what it pushed; the ENTER may consume
 * other threads' SQEs instead, which is fine: it ENTERs again until the
 * SQ head has passed its own, reaping whatever CQEs are there meanwhile.
 */
struct pe_submitter {
	pthread_t thread;
	struct pe_ring *r;
	unsigned int id, first, count;
	unsigned int enters;
	int bad_enter;			/* an ENTER result not in 0..to_submit, -EBUSY */
	unsigned int bad_want;		/* its to_submit */
};

static void pe_push(struct pe_ring *r, unsigned int i)
{
	const struct pe_op *op = &r->ops[i];

	cc_push(r->ch, op->opcode, op->opcode == CAPCHAN_OP_NOP ? 0 : r->fh,
		0, op->buf, op->len, op->off, i);
}

static void *pe_submitter_main(void *arg)
{
	struct pe_submitter *t = arg;
	struct pe_ring *r = t->r;
	struct capchan *ch = r->ch;
	unsigned int i = t->first, end = t->first + t->count, round = 0;

	while (i < end && !t->bad_enter) {
		unsigned int k = 1 + (t->id * 3 + round++) % PE_BATCH_MAX;
		unsigned int j, mine, want;

		if (k > end - i)
			k = end - i;
		pthread_mutex_lock(&r->push_lock);
		for (j = 0; j < k; j++)
			pe_push(r, i + j);
		mine = *ch->sq.ktail;		/* one past our last SQE */
		pthread_mutex_unlock(&r->push_lock);
		i += k;
		want = k;
		for (;;) {
			unsigned int head;
			int n = cc_enter(ch->fd, want, 0, 0);

			t->enters++;
			if (n >= 0 && (unsigned int)n <= want) {
				atomic_fetch_add(&r->consumed, n);
			} else if (n == -EBUSY) {
				/* no CQ room or in-flight room: make some */
				sched_yield();
			} else {
				t->bad_enter = n ? n : -1;
				t->bad_want = want;
				break;
			}
			pe_reap(r);
			/* pairs with the module's store-release of sq_head */
			head = __atomic_load_n(ch->sq.khead, __ATOMIC_ACQUIRE);
			if ((int)(head - mine) >= 0)
				break;
			want = mine - head;
		}
	}
	atomic_fetch_add(&r->finished, 1);
	return NULL;
}

static void pe_start(struct __test_metadata *_metadata, struct pe_ring *r,
		     struct pe_submitter *t, unsigned int nr,
		     unsigned int per_thread)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		t[i] = (struct pe_submitter){
			.r = r, .id = i, .first = i * per_thread,
			.count = per_thread,
		};
		ASSERT_EQ(0, pthread_create(&t[i].thread, NULL,
					    pe_submitter_main, &t[i]));
	}
}

/* A thread ENTERing one READ into a userfaultfd page: it blocks in it. */
struct pe_blocked {
	pthread_t thread;
	struct capchan *ch;
	pthread_mutex_t *push_lock;	/* NULL: nobody else pushes now */
	uint32_t h;
	void *buf;
	uint64_t user_data;
	int enter_res;
	_Atomic int returned;
};

static void *pe_blocked_main(void *arg)
{
	struct pe_blocked *b = arg;

	if (b->push_lock)
		pthread_mutex_lock(b->push_lock);
	/* positioned (offset 0), no CAPCHAN_SQE_ASYNC */
	cc_push(b->ch, CAPCHAN_OP_READ, b->h, 0, b->buf, PE_BLOCKED_LEN, 0,
		b->user_data);
	if (b->push_lock)
		pthread_mutex_unlock(b->push_lock);
	b->enter_res = cc_enter(b->ch->fd, 1, 1, CAPCHAN_ENTER_GETEVENTS);
	atomic_store(&b->returned, 1);
	return NULL;
}

/* A thread doing one ENTER (to_submit, no waiting) for a bounded join. */
struct pe_enter {
	pthread_t thread;
	int fd;
	unsigned int to_submit;
	int res;
};

static void *pe_enter_main(void *arg)
{
	struct pe_enter *e = arg;

	e->res = cc_enter(e->fd, e->to_submit, 0, 0);
	return NULL;
}

/*
 * Rings of @entries SQEs (and a bound of @max_inflight ops in flight when
 * not 0), and a READ | SEEK capability on jail/file: its handle or -errno.
 */
static int pe_channel(struct capchan *ch, int jail_fd, unsigned int entries,
		      unsigned int max_inflight, struct capchan_params *p)
{
	int fd, h;

	memset(p, 0, sizeof(*p));
	if (max_inflight) {
		p->flags = CAPCHAN_SETUP_INFLIGHT;
		p->max_inflight = max_inflight;
	}
	h = capchan_queue_init_params(entries, ch, p);
	if (h)
		return h;
	fd = openat(jail_fd, "file", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		h = -errno;
	} else {
		h = cc_grant(ch->fd, fd, R_READ | R_SEEK, NULL);
		close(fd);
	}
	if (h < 0)
		capchan_queue_exit(ch);
	return h;
}

FIXTURE(shared_ring)
{
	struct cc_tree t;
	struct capchan ch;
	bool ch_up;
	struct cc_uffd_page u[2];
};

FIXTURE_SETUP(shared_ring)
{
	int i, r;

	for (i = 0; i < 2; i++) {
		self->u[i].uffd = -1;
		self->u[i].mem = MAP_FAILED;
	}
	ASSERT_EQ(0, cc_tree_create(&self->t, "threads-enter"));
	for (i = 0; i < 2; i++) {
		r = cc_uffd_page_init(&self->u[i]);
		if (r == -ENOSYS)
			SKIP(return, "no userfaultfd in this kernel");
		ASSERT_EQ(0, r);
	}
}

FIXTURE_TEARDOWN(shared_ring)
{
	if (self->ch_up)
		capchan_queue_exit(&self->ch);
	cc_uffd_page_destroy(&self->u[0]);
	cc_uffd_page_destroy(&self->u[1]);
	cc_tree_destroy(&self->t);
}

/*
 * Let a blocked ENTER go after a missed deadline, so that a test fails
 * rather than hangs: nobody reaps until its GETEVENTS has seen its CQE,
 * then everyone goes on.  false if a thread is still stuck (its memory
 * is then left alone).
 */
static bool pe_unwind(struct pe_ring *r, struct cc_uffd_page *u,
		      struct pe_blocked *b, struct pe_submitter *t,
		      unsigned int nr)
{
	bool all = true;
	unsigned int i;

	if (r)
		atomic_store(&r->may_reap, 0);
	cc_uffd_supply(u, 0);
	if (cc_join_timeout(b->thread, PE_DEADLINE_S))
		all = false;
	if (r)
		atomic_store(&r->may_reap, 1);
	for (i = 0; i < nr; i++)
		if (cc_join_timeout(t[i].thread, PE_DEADLINE_S))
			all = false;
	return all;
}

TEST_F_TIMEOUT(shared_ring, blocked_enter_others_enter, 300)
{
	const unsigned int nops = PE_THREADS * PE_BLOCKED_OPS;
	struct pe_submitter t[PE_THREADS];
	struct capchan_params p;
	struct pe_blocked b;
	struct pe_ring *r;
	struct cc_fdinfo *fi = calloc(1, sizeof(*fi));
	int i, h, reads = 0, reads_bad = 0, done, bad, r_fault;
	long first_bad = -1;
	double end;

	ASSERT_NE(NULL, fi);
	h = pe_channel(&self->ch, self->t.jail_fd, PE_RING, 0, &p);
	ASSERT_TRUE(cc_handle_ok(h)) TH_LOG("channel: %d", h);
	self->ch_up = true;
	r = pe_ring_new(&self->ch, h, self->t.data, nops);
	ASSERT_NE(NULL, r);
	/* the blocked READ: ops[nops], into the missing page */
	r->ops[nops] = (struct pe_op){
		.opcode = CAPCHAN_OP_READ, .len = PE_BLOCKED_LEN, .off = 0,
		.buf = self->u[0].mem,
	};
	b = (struct pe_blocked){
		.ch = &self->ch, .push_lock = &r->push_lock, .h = h,
		.buf = self->u[0].mem, .user_data = nops, .enter_res = -ENODATA,
	};
	ASSERT_EQ(0, pthread_create(&b.thread, NULL, pe_blocked_main, &b));
	/* B is inside its ENTER, in the READ's copy into the page */
	r_fault = cc_uffd_wait_fault_ms(&self->u[0], PE_DEADLINE_S * 1000);
	if (r_fault)
		pe_unwind(NULL, &self->u[0], &b, NULL, 0);
	ASSERT_EQ(0, r_fault) TH_LOG("the READ never faulted: ENTER %d",
				     b.enter_res);
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(1, fi->sq_head);
	EXPECT_EQ(0, fi->cq_tail);

	/* no page supplied: 4 threads push and ENTER on the same ring */
	pe_start(_metadata, r, t, PE_THREADS, PE_BLOCKED_OPS);
	end = cc_now() + PE_DEADLINE_S;
	while (atomic_load(&r->finished) < PE_THREADS && cc_now() < end) {
		/* fdinfo stays readable and sane meanwhile */
		if (cc_read_fdinfo(self->ch.fd, fi) || fi->sq_entries != PE_RING ||
		    fi->cq_entries != 2 * PE_RING || fi->caps != 1 ||
		    fi->ncap != 1 || fi->bad_cap_lines || fi->sq_head < 1 ||
		    fi->sq_head > 1 + nops || fi->cq_tail > nops)
			reads_bad++;
		reads++;
		usleep(20000);
	}
	done = atomic_load(&r->finished);
	EXPECT_EQ(PE_THREADS, done)
		TH_LOG("one ENTER blocked in its op: after %d s %d of %d threads done, %ld of %u SQEs consumed",
		       PE_DEADLINE_S, done, PE_THREADS,
		       atomic_load(&r->consumed), nops);
	if (done < PE_THREADS) {
		EXPECT_TRUE(pe_unwind(r, &self->u[0], &b, t, PE_THREADS));
		free(fi);
		return;		/* r is left to any thread still stuck */
	}
	EXPECT_EQ(0, reads_bad) TH_LOG("%d of %d fdinfo reads", reads_bad,
				       reads);
	for (i = 0; i < PE_THREADS; i++) {
		ASSERT_EQ(0, pthread_join(t[i].thread, NULL));
		EXPECT_EQ(0, t[i].bad_enter)
			TH_LOG("thread %d: ENTER(%u) gave %d", i,
			       t[i].bad_want, t[i].bad_enter);
	}
	EXPECT_EQ(nops, atomic_load(&r->consumed));
	bad = pe_check(r, 0, nops, &first_bad);
	EXPECT_EQ(0, bad) TH_LOG("op %ld: seen %d, res %d", first_bad,
				 first_bad >= 0 ? r->ops[first_bad].seen : 0,
				 first_bad >= 0 ? r->ops[first_bad].res : 0);
	EXPECT_EQ(0, r->stray);

	/* B is still blocked, its SQE consumed, its CQE not posted */
	EXPECT_EQ(0, atomic_load(&b.returned));
	EXPECT_EQ(0, r->ops[nops].seen);
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(1 + nops, fi->sq_tail);
	EXPECT_EQ(1 + nops, fi->sq_head);
	EXPECT_EQ(nops, fi->cq_tail);
	EXPECT_EQ(nops, fi->cq_head);
	EXPECT_EQ(1, cc_fdv(self->ch.fd, "inflight"));

	/* the page arrives: B's ENTER returns 1, its CQE exact */
	ASSERT_EQ(0, cc_uffd_supply(&self->u[0], 0xa5));
	ASSERT_EQ(0, cc_join_timeout(b.thread, PE_DEADLINE_S));
	EXPECT_EQ(1, b.enter_res);
	pe_reap(r);
	bad = pe_check(r, nops, 1, &first_bad);
	EXPECT_EQ(0, bad) TH_LOG("blocked READ: seen %d, res %d",
				 r->ops[nops].seen, r->ops[nops].res);
	EXPECT_EQ(0xa5, self->u[0].mem[PE_BLOCKED_LEN]);
	EXPECT_EQ(0, r->stray);
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(1 + nops, fi->sq_head);
	EXPECT_EQ(1 + nops, fi->cq_tail);
	EXPECT_EQ(1 + nops, fi->cq_head);
	EXPECT_EQ(0, cc_fdv(self->ch.fd, "inflight"));
	pe_ring_free(r);
	free(fi);
}

TEST_F_TIMEOUT(shared_ring, many_enter_threads, 300)
{
	const unsigned int per = PE_MANY_OPS / PE_THREADS;
	struct pe_submitter t[PE_THREADS];
	struct capchan_params p;
	struct pe_ring *r;
	struct cc_fdinfo *fi = calloc(1, sizeof(*fi));
	unsigned int enters = 0;
	long first_bad = -1;
	int i, h, bad;

	ASSERT_NE(NULL, fi);
	h = pe_channel(&self->ch, self->t.jail_fd, PE_RING, 0, &p);
	ASSERT_TRUE(cc_handle_ok(h)) TH_LOG("channel: %d", h);
	self->ch_up = true;
	r = pe_ring_new(&self->ch, h, self->t.data, PE_MANY_OPS);
	ASSERT_NE(NULL, r);

	pe_start(_metadata, r, t, PE_THREADS, per);
	for (i = 0; i < PE_THREADS; i++) {
		ASSERT_EQ(0, pthread_join(t[i].thread, NULL));
		EXPECT_EQ(0, t[i].bad_enter)
			TH_LOG("thread %d: ENTER(%u) gave %d", i,
			       t[i].bad_want, t[i].bad_enter);
		enters += t[i].enters;
	}
	pe_reap(r);
	EXPECT_EQ(PE_MANY_OPS, atomic_load(&r->consumed));
	bad = pe_check(r, 0, PE_MANY_OPS, &first_bad);
	EXPECT_EQ(0, bad) TH_LOG("%d bad, op %ld: seen %d, res %d", bad,
				 first_bad,
				 first_bad >= 0 ? r->ops[first_bad].seen : 0,
				 first_bad >= 0 ? r->ops[first_bad].res : 0);
	EXPECT_EQ(0, r->stray);
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(PE_MANY_OPS, fi->sq_tail);
	EXPECT_EQ(PE_MANY_OPS, fi->sq_head);
	EXPECT_EQ(PE_MANY_OPS, fi->cq_tail);
	EXPECT_EQ(PE_MANY_OPS, fi->cq_head);
	EXPECT_EQ(0, cc_fdv(self->ch.fd, "inflight"));
	TH_LOG("%u ENTERs for %d ops", enters, PE_MANY_OPS);
	pe_ring_free(r);
	free(fi);
}

TEST_F_TIMEOUT(shared_ring, in_flight_bound_with_blocked_enter, 300)
{
	struct pe_blocked b[2];
	struct pe_enter e;
	struct capchan_params p;
	struct capchan_cqe c;
	struct capchan *ch = &self->ch;
	int i, h, r_fault, r_join;

	h = pe_channel(ch, self->t.jail_fd, 8, 2, &p);
	ASSERT_TRUE(cc_handle_ok(h)) TH_LOG("channel: %d", h);
	self->ch_up = true;
	EXPECT_EQ(2, p.max_inflight);
	for (i = 0; i < 2; i++)
		b[i] = (struct pe_blocked){
			.ch = ch, .h = h, .buf = self->u[i].mem,
			.user_data = 1 + i, .enter_res = -ENODATA,
		};

	/* one ENTER blocked in its READ: 1 of the 2 in flight */
	ASSERT_EQ(0, pthread_create(&b[0].thread, NULL, pe_blocked_main, &b[0]));
	r_fault = cc_uffd_wait_fault_ms(&self->u[0], PE_DEADLINE_S * 1000);
	if (r_fault)
		pe_unwind(NULL, &self->u[0], &b[0], NULL, 0);
	ASSERT_EQ(0, r_fault) TH_LOG("the READ never faulted: ENTER %d",
				     b[0].enter_res);
	EXPECT_EQ(1, cc_fdv(ch->fd, "sq-head"));
	EXPECT_EQ(1, cc_fdv(ch->fd, "inflight"));

	/*
	 * 3 NOPs from another thread: room for 1 per pass, and each NOP's
	 * CQE is posted, its slot given back, before the next pass.
	 */
	for (i = 0; i < 3; i++)
		cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 10 + i);
	e = (struct pe_enter){ .fd = ch->fd, .to_submit = 3, .res = -ENODATA };
	ASSERT_EQ(0, pthread_create(&e.thread, NULL, pe_enter_main, &e));
	r_join = cc_join_timeout(e.thread, PE_DEADLINE_S);
	EXPECT_EQ(0, r_join)
		TH_LOG("ENTER of 3 NOPs still waiting after %d s beside the blocked one",
		       PE_DEADLINE_S);
	if (r_join) {
		cc_uffd_supply(&self->u[0], 0);
		EXPECT_EQ(0, cc_join_timeout(b[0].thread, PE_DEADLINE_S));
		EXPECT_EQ(0, cc_join_timeout(e.thread, PE_DEADLINE_S));
		return;
	}
	EXPECT_EQ(3, e.res);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, cc_cq_pop(ch, &c)) TH_LOG("CQE %d", i);
		EXPECT_EQ(10 + i, c.user_data);
		EXPECT_EQ(0, c.res);
	}
	EXPECT_EQ(-EAGAIN, cc_cq_pop(ch, &c));
	EXPECT_EQ(4, cc_fdv(ch->fd, "sq-head"));
	EXPECT_EQ(1, cc_fdv(ch->fd, "inflight"));
	EXPECT_EQ(0, atomic_load(&b[0].returned));

	/* a second blocked ENTER: both slots held */
	ASSERT_EQ(0, pthread_create(&b[1].thread, NULL, pe_blocked_main, &b[1]));
	r_fault = cc_uffd_wait_fault_ms(&self->u[1], PE_DEADLINE_S * 1000);
	EXPECT_EQ(0, r_fault) TH_LOG("the second READ never faulted: ENTER %d",
				     b[1].enter_res);
	if (r_fault) {
		cc_uffd_supply(&self->u[0], 0);
		cc_uffd_supply(&self->u[1], 0);
		EXPECT_EQ(0, cc_join_timeout(b[0].thread, PE_DEADLINE_S));
		EXPECT_EQ(0, cc_join_timeout(b[1].thread, PE_DEADLINE_S));
		return;
	}
	EXPECT_EQ(5, cc_fdv(ch->fd, "sq-head"));
	EXPECT_EQ(2, cc_fdv(ch->fd, "inflight"));

	/* at the bound: nothing consumed, -EBUSY, the NOP stays queued */
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 20);
	e = (struct pe_enter){ .fd = ch->fd, .to_submit = 1, .res = -ENODATA };
	ASSERT_EQ(0, pthread_create(&e.thread, NULL, pe_enter_main, &e));
	r_join = cc_join_timeout(e.thread, PE_DEADLINE_S);
	EXPECT_EQ(0, r_join)
		TH_LOG("ENTER at the bound still waiting after %d s",
		       PE_DEADLINE_S);
	if (r_join) {
		cc_uffd_supply(&self->u[0], 0);
		cc_uffd_supply(&self->u[1], 0);
		EXPECT_EQ(0, cc_join_timeout(b[0].thread, PE_DEADLINE_S));
		EXPECT_EQ(0, cc_join_timeout(b[1].thread, PE_DEADLINE_S));
		EXPECT_EQ(0, cc_join_timeout(e.thread, PE_DEADLINE_S));
		return;
	}
	EXPECT_EQ(-EBUSY, e.res);
	EXPECT_EQ(5, cc_fdv(ch->fd, "sq-head"));
	EXPECT_EQ(6, cc_fdv(ch->fd, "sq-tail"));
	EXPECT_EQ(0, cc_cq_pending(ch));

	/* the pages arrive, one after the other: each ENTER returns 1 */
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, cc_uffd_supply(&self->u[i], 0x5a));
		ASSERT_EQ(0, cc_join_timeout(b[i].thread, PE_DEADLINE_S));
		EXPECT_EQ(1, b[i].enter_res);
		ASSERT_EQ(0, cc_cq_pop(ch, &c));
		EXPECT_EQ(1 + i, c.user_data);
		EXPECT_EQ(PE_BLOCKED_LEN, c.res);
		EXPECT_EQ(0, memcmp(self->u[i].mem, self->t.data,
				    PE_BLOCKED_LEN));
		EXPECT_EQ(0x5a, self->u[i].mem[PE_BLOCKED_LEN]);
	}
	EXPECT_EQ(0, cc_fdv(ch->fd, "inflight"));
	/* and the NOP left behind goes */
	EXPECT_EQ(1, cc_enter(ch->fd, 1, 0, 0));
	ASSERT_EQ(0, cc_cq_pop(ch, &c));
	EXPECT_EQ(20, c.user_data);
	EXPECT_EQ(0, c.res);
	EXPECT_EQ(6, cc_fdv(ch->fd, "sq-head"));
	EXPECT_EQ(6, cc_fdv(ch->fd, "cq-tail"));
}

/* A thread ENTERing a chain of LC_LEN NOPs, the LC_READth the blocked READ. */
#define LC_LEN		12
#define LC_READ		10

struct lc_chain {
	pthread_t thread;
	struct capchan *ch;
	uint32_t h;
	void *buf;
	int enter_res;
};

static void *lc_chain_main(void *arg)
{
	struct lc_chain *l = arg;
	unsigned int i;

	for (i = 1; i <= LC_LEN; i++) {
		unsigned int flags = i < LC_LEN ? CAPCHAN_SQE_LINK : 0;

		if (i == LC_READ)
			cc_push(l->ch, CAPCHAN_OP_READ, l->h, flags, l->buf,
				PE_BLOCKED_LEN, 0, i);
		else
			cc_push(l->ch, CAPCHAN_OP_NOP, 0, flags, NULL, 0, 0, i);
	}
	l->enter_res = cc_enter(l->ch->fd, LC_LEN, 0, 0);
	return NULL;
}

TEST_F_TIMEOUT(shared_ring, long_chain_blocked_others_enter, 300)
{
	struct capchan *ch = &self->ch;
	struct capchan_params p;
	struct capchan_cqe c;
	struct lc_chain l;
	struct pe_enter e;
	int i, h, r_fault, r_join;

	h = pe_channel(ch, self->t.jail_fd, PE_RING, 0, &p);
	ASSERT_TRUE(cc_handle_ok(h)) TH_LOG("channel: %d", h);
	self->ch_up = true;
	l = (struct lc_chain){
		.ch = ch, .h = h, .buf = self->u[0].mem, .enter_res = -ENODATA,
	};
	ASSERT_EQ(0, pthread_create(&l.thread, NULL, lc_chain_main, &l));
	r_fault = cc_uffd_wait_fault_ms(&self->u[0], PE_DEADLINE_S * 1000);
	if (r_fault) {
		cc_uffd_supply(&self->u[0], 0);
		EXPECT_EQ(0, cc_join_timeout(l.thread, PE_DEADLINE_S));
	}
	ASSERT_EQ(0, r_fault) TH_LOG("the READ never faulted: ENTER %d",
				     l.enter_res);
	/* the whole chain consumed at once, its first batch of 8 posted */
	EXPECT_EQ(LC_LEN, cc_fdv(ch->fd, "sq-head"));
	EXPECT_EQ(LC_LEN - 8, cc_fdv(ch->fd, "inflight"));
	for (i = 1; i <= 8; i++) {
		ASSERT_EQ(0, cc_cq_pop(ch, &c)) TH_LOG("chain CQE %d", i);
		EXPECT_EQ(i, c.user_data);
		EXPECT_EQ(0, c.res);
	}
	EXPECT_EQ(-EAGAIN, cc_cq_pop(ch, &c));

	/* 3 NOPs behind the chain, ENTERed by another thread */
	for (i = 0; i < 3; i++)
		cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 20 + i);
	e = (struct pe_enter){ .fd = ch->fd, .to_submit = 3, .res = -ENODATA };
	ASSERT_EQ(0, pthread_create(&e.thread, NULL, pe_enter_main, &e));
	r_join = cc_join_timeout(e.thread, PE_DEADLINE_S);
	EXPECT_EQ(0, r_join)
		TH_LOG("ENTER of 3 NOPs still waiting after %d s behind the chain's blocked READ (sq-head %lld)",
		       PE_DEADLINE_S, cc_fdv(ch->fd, "sq-head"));
	if (r_join) {
		cc_uffd_supply(&self->u[0], 0);
		EXPECT_EQ(0, cc_join_timeout(l.thread, PE_DEADLINE_S));
		EXPECT_EQ(0, cc_join_timeout(e.thread, PE_DEADLINE_S));
		return;
	}
	EXPECT_EQ(3, e.res);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, cc_cq_pop(ch, &c)) TH_LOG("CQE %d", i);
		EXPECT_EQ(20 + i, c.user_data);
		EXPECT_EQ(0, c.res);
	}
	EXPECT_EQ(-EAGAIN, cc_cq_pop(ch, &c));
	EXPECT_EQ(LC_LEN - 8, cc_fdv(ch->fd, "inflight"));

	/* the page arrives: the rest of the chain, in order */
	ASSERT_EQ(0, cc_uffd_supply(&self->u[0], 0x3c));
	ASSERT_EQ(0, cc_join_timeout(l.thread, PE_DEADLINE_S));
	EXPECT_EQ(LC_LEN, l.enter_res);
	for (i = 9; i <= LC_LEN; i++) {
		ASSERT_EQ(0, cc_cq_pop(ch, &c)) TH_LOG("chain CQE %d", i);
		EXPECT_EQ(i, c.user_data);
		EXPECT_EQ(i == LC_READ ? PE_BLOCKED_LEN : 0, c.res);
	}
	EXPECT_EQ(-EAGAIN, cc_cq_pop(ch, &c));
	EXPECT_EQ(0, memcmp(self->u[0].mem, self->t.data, PE_BLOCKED_LEN));
	EXPECT_EQ(0x3c, self->u[0].mem[PE_BLOCKED_LEN]);
	EXPECT_EQ(0, cc_fdv(ch->fd, "inflight"));
	EXPECT_EQ(LC_LEN + 3, cc_fdv(ch->fd, "cq-tail"));
}

TEST_F_TIMEOUT(shared_ring, long_chain_goes_to_a_worker, 300)
{
	struct capchan *ch = &self->ch;
	struct capchan_params p;
	struct capchan_cqe c;
	struct pe_enter e;
	long long punted;
	int i, h, r_fault, r_join;

	h = pe_channel(ch, self->t.jail_fd, PE_RING, 0, &p);
	ASSERT_TRUE(cc_handle_ok(h)) TH_LOG("channel: %d", h);
	self->ch_up = true;
	punted = cc_fdv(ch->fd, "worker-punted");
	for (i = 1; i <= LC_LEN; i++) {
		unsigned int flags = i < LC_LEN ? CAPCHAN_SQE_LINK : 0;

		if (i == LC_READ)
			cc_push(ch, CAPCHAN_OP_READ, h, flags | CAPCHAN_SQE_ASYNC,
				self->u[0].mem, PE_BLOCKED_LEN, 0, i);
		else
			cc_push(ch, CAPCHAN_OP_NOP, 0, flags, NULL, 0, 0, i);
	}
	e = (struct pe_enter){ .fd = ch->fd, .to_submit = LC_LEN, .res = -ENODATA };
	ASSERT_EQ(0, pthread_create(&e.thread, NULL, pe_enter_main, &e));
	r_fault = cc_uffd_wait_fault_ms(&self->u[0], PE_DEADLINE_S * 1000);
	EXPECT_EQ(0, r_fault) TH_LOG("the READ never faulted");
	r_join = cc_join_timeout(e.thread, PE_DEADLINE_S);
	EXPECT_EQ(0, r_join)
		TH_LOG("ENTER of the chain still waiting after %d s: its ASYNC READ ran inline",
		       PE_DEADLINE_S);
	if (r_fault || r_join) {
		cc_uffd_supply(&self->u[0], 0);
		EXPECT_EQ(0, cc_join_timeout(e.thread, PE_DEADLINE_S));
		return;
	}
	EXPECT_EQ(LC_LEN, e.res);
	EXPECT_EQ(punted + 1, cc_fdv(ch->fd, "worker-punted"));
	EXPECT_EQ(LC_LEN - LC_READ + 1, cc_fdv(ch->fd, "inflight"));
	/* the ops before the READ posted before it went to the worker */
	for (i = 1; i < LC_READ; i++) {
		ASSERT_EQ(0, cc_cq_pop(ch, &c)) TH_LOG("chain CQE %d", i);
		EXPECT_EQ(i, c.user_data);
		EXPECT_EQ(0, c.res);
	}
	EXPECT_EQ(-EAGAIN, cc_cq_pop(ch, &c));

	ASSERT_EQ(0, cc_uffd_supply(&self->u[0], 0x4b));
	for (i = LC_READ; i <= LC_LEN; i++) {
		ASSERT_EQ(0, cc_reap(ch, &c, PE_DEADLINE_S * 1000))
			TH_LOG("chain CQE %d", i);
		EXPECT_EQ(i, c.user_data);
		EXPECT_EQ(i == LC_READ ? PE_BLOCKED_LEN : 0, c.res);
	}
	EXPECT_EQ(-EAGAIN, cc_cq_pop(ch, &c));
	EXPECT_EQ(0, memcmp(self->u[0].mem, self->t.data, PE_BLOCKED_LEN));
	EXPECT_EQ(0x4b, self->u[0].mem[PE_BLOCKED_LEN]);
	EXPECT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, PE_DEADLINE_S * 1000));
	EXPECT_EQ(punted + 1, cc_fdv(ch->fd, "worker-punted"));
}

TEST_HARNESS_MAIN
