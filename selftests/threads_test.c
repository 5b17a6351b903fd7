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
 *
 * Nothing waits for time: a blocked op is known to be blocked by the
 * userfaultfd event it raised.  The harness timeout bounds every test.
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

TEST_HARNESS_MAIN
