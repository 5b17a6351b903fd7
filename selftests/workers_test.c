// SPDX-License-Identifier: GPL-2.0
/*
 * Workers: ops from the rings that would block run in the channel's
 * workers, so the SQEs after them complete first (uapi: "Workers and
 * completion order").
 *
 * The op that blocks is a READ with CAPCHAN_SQE_ASYNC whose destination
 * page is missing in a userfaultfd region: it waits in the worker's copy
 * until the test supplies the page, and the fault event says it is there.
 * Nothing waits for time, except where a thread or a charge must go away
 * after a close or an exit (bounded by CQ_WAIT_MS, never a speed check).
 *
 *  - out_of_order (from ENTER and from a poll thread): NOP and READ
 *    submitted after the blocked READ complete before it; it completes
 *    last with the file's bytes.  fdinfo counts it in flight meanwhile.
 *  - chain_stays_in_order: a linked chain whose first op blocks runs in
 *    the worker, in order, after an independent NOP behind it completed.
 *  - efault_after_unmap: a READ later in such a chain whose buffer is
 *    unmapped while the chain waits gives -EFAULT, the rest of the chain
 *    -ECANCELED, ops outside it their results.
 *  - revoke_while_blocked: REVOKE (of the parent: it kills what was
 *    derived) while an op in a worker waits: that op finishes (it started
 *    before), its chain's next op on the revoked capability and any op
 *    submitted after REVOKE returned give -EKEYREVOKED.  revoke_storm:
 *    REVOKEs racing 8 ASYNC READs, 100 times: each CQE exactly once, each
 *    a full read or -EKEYREVOKED, while another thread REVOKEs.
 *  - backpressure: at the in-flight bound ENTER consumes nothing (-EBUSY),
 *    and everything completes once the blocked ops do.
 *  - close_interrupts / exit_interrupts / exec_interrupts: a channel
 *    closed, or its submitting process exiting or exec'ing, while an op
 *    blocks in a worker for good (its userfaultfd kept open elsewhere):
 *    the close returns, the worker goes, every charge comes back.  With a
 *    poll thread, the op it handed over is its creator's, interrupted at
 *    that process's exit or exec.
 *  - inline_when_it_cannot_block, invoke_async_is_einval.
 *  - chain_cqes_in_order: a chain whose first op runs inline and whose
 *    second goes to a worker, then, in the same batch, a READ that blocks
 *    inline (its page missing): the chain's CQEs come in its order while
 *    the READ still blocks (the batch posts the first before it hands
 *    the second over, not when it ends).
 *  - async_mkdir_umask: on a channel made under umask 027, an ASYNC MKDIR
 *    (0777) submitted under umask 0 makes a 0777 directory: the worker
 *    takes its submitter's umask, not the kernel threads' 022; through a
 *    poll thread 0750: the thread's umask is its creator's at SETUP.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#define CQ_WAIT_MS	20000
#define LEN		64
#define EXEC_ENV	"CAPCHAN_WORKERS_EXEC_CHILD"

/* After execve() in exec_interrupts: nothing to do but go. */
__attribute__((constructor)) static void workers_exec_child(void)
{
	if (getenv(EXEC_ENV))
		_exit(0);
}

/* ENTER @n, or wake the poll thread until its SQ head catches up. */
static int submit(struct capchan *ch, unsigned int n, bool sqpoll)
{
	return cc_submit(ch, n, sqpoll, CQ_WAIT_MS);
}

FIXTURE(wk) {
	struct cc_tree t;
	struct capchan ch;
	struct cc_uffd_page u;
	uint32_t dh, fh;
	bool sqpoll;
	unsigned char buf[4 * LEN];
};

FIXTURE_VARIANT(wk) {
	bool sqpoll;
};

FIXTURE_VARIANT_ADD(wk, enter) {
	.sqpoll = false,
};

FIXTURE_VARIANT_ADD(wk, poll_thread) {
	.sqpoll = true,
};

FIXTURE_SETUP(wk)
{
	struct capchan_params p;
	int fd, r;

	self->u.uffd = -1;
	self->u.mem = MAP_FAILED;
	self->ch.fd = -1;
	ASSERT_EQ(0, cc_tree_create(&self->t, "workers"));
	memset(&p, 0, sizeof(p));
	self->sqpoll = variant->sqpoll;
	if (variant->sqpoll)
		p.flags = CAPCHAN_SETUP_SQPOLL;
	ASSERT_EQ(0, capchan_queue_init_params(16, &self->ch, &p));
	ASSERT_NE(0, p.features & CAPCHAN_FEAT_WORKERS);
	r = cc_grant(self->ch.fd, self->t.jail_fd, R_LOOKUP | R_READ | R_STAT,
		     NULL);
	ASSERT_TRUE(cc_handle_ok(r));
	self->dh = r;
	fd = openat(self->t.jail_fd, "file", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	r = cc_grant(self->ch.fd, fd,
		     R_READ | R_SEEK | R_STAT | R_DERIVE | R_REVOKE, NULL);
	close(fd);
	ASSERT_TRUE(cc_handle_ok(r));
	self->fh = r;
	r = cc_uffd_page_init(&self->u);
	if (r == -ENOSYS)
		SKIP(return, "no userfaultfd in this kernel");
	ASSERT_EQ(0, r);
}

FIXTURE_TEARDOWN(wk)
{
	cc_uffd_page_destroy(&self->u);
	if (self->ch.fd >= 0)
		capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
}

TEST_F_TIMEOUT(wk, out_of_order, 120)
{
	struct capchan_cqe c;

	cc_push(&self->ch, CAPCHAN_OP_READ, self->fh, CAPCHAN_SQE_ASYNC,
	     self->u.mem, LEN, 0, 1);
	cc_push(&self->ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 2);
	cc_push(&self->ch, CAPCHAN_OP_READ, self->fh, 0, self->buf, LEN, LEN, 3);
	ASSERT_EQ(3, submit(&self->ch, 3, self->sqpoll));
	/* the first READ waits in a worker, in its copy to the page */
	ASSERT_EQ(0, cc_uffd_wait_fault(&self->u));

	ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
	EXPECT_EQ(2, c.user_data);
	EXPECT_EQ(0, c.res);
	ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
	EXPECT_EQ(3, c.user_data);
	EXPECT_EQ(LEN, c.res);
	EXPECT_EQ(0, memcmp(self->buf, self->t.data + LEN, LEN));
	EXPECT_EQ(0, cc_cq_pending(&self->ch));
	EXPECT_EQ(1, cc_fdv(self->ch.fd, "inflight"));
	EXPECT_EQ(1, cc_fdv(self->ch.fd, "worker-punted"));
	EXPECT_EQ(1, cc_fdv(self->ch.fd, "workers"));

	ASSERT_EQ(0, cc_uffd_supply(&self->u, 0x5a));
	ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
	EXPECT_EQ(1, c.user_data);
	EXPECT_EQ(LEN, c.res);
	EXPECT_EQ(0, memcmp(self->u.mem, self->t.data, LEN));
	EXPECT_EQ(0x5a, self->u.mem[LEN]);
	EXPECT_EQ(0, cc_fdv(self->ch.fd, "inflight"));
}

TEST_F_TIMEOUT(wk, chain_stays_in_order, 120)
{
	struct capchan_stat st;
	struct capchan_cqe c;
	uint64_t want[3] = { 10, 11, 12 };
	int i;

	cc_push(&self->ch, CAPCHAN_OP_READ, self->fh,
	     CAPCHAN_SQE_ASYNC | CAPCHAN_SQE_LINK, self->u.mem, LEN, 0, 10);
	cc_push(&self->ch, CAPCHAN_OP_STAT, self->fh, CAPCHAN_SQE_LINK, &st,
	     sizeof(st), 0, 11);
	cc_push(&self->ch, CAPCHAN_OP_READ, self->fh, 0, self->buf, LEN, LEN, 12);
	cc_push(&self->ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 13);
	memset(&st, 0, sizeof(st));
	ASSERT_EQ(4, submit(&self->ch, 4, self->sqpoll));
	ASSERT_EQ(0, cc_uffd_wait_fault(&self->u));

	ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
	EXPECT_EQ(13, c.user_data);
	EXPECT_EQ(0, c.res);
	EXPECT_EQ(0, cc_cq_pending(&self->ch));
	/* the chain's three CQEs are reserved, none posted */
	EXPECT_EQ(3, cc_fdv(self->ch.fd, "inflight"));

	ASSERT_EQ(0, cc_uffd_supply(&self->u, 0));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
		EXPECT_EQ(want[i], c.user_data);
		EXPECT_EQ(i == 1 ? 0 : LEN, c.res) TH_LOG("CQE %d", i);
	}
	EXPECT_EQ(CC_FILE_LEN, st.size);
	EXPECT_EQ(0, memcmp(self->u.mem, self->t.data, LEN));
	EXPECT_EQ(0, memcmp(self->buf, self->t.data + LEN, LEN));
	EXPECT_EQ(0, cc_fdv(self->ch.fd, "inflight"));
}

TEST_F_TIMEOUT(wk, efault_after_unmap, 120)
{
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *b = mmap(NULL, pg, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct capchan_stat st;
	struct capchan_cqe c;

	ASSERT_NE(MAP_FAILED, b);
	cc_push(&self->ch, CAPCHAN_OP_READ, self->fh,
	     CAPCHAN_SQE_ASYNC | CAPCHAN_SQE_LINK, self->u.mem, LEN, 0, 20);
	cc_push(&self->ch, CAPCHAN_OP_READ, self->fh, CAPCHAN_SQE_LINK, b, LEN, 0,
	     21);
	cc_push(&self->ch, CAPCHAN_OP_STAT, self->fh, 0, &st, sizeof(st), 0, 22);
	cc_push(&self->ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 23);
	cc_push(&self->ch, CAPCHAN_OP_READ, self->fh, 0, self->buf, LEN, LEN, 24);
	ASSERT_EQ(5, submit(&self->ch, 5, self->sqpoll));
	ASSERT_EQ(0, cc_uffd_wait_fault(&self->u));
	ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
	EXPECT_EQ(23, c.user_data);
	EXPECT_EQ(0, c.res);
	ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
	EXPECT_EQ(24, c.user_data);
	EXPECT_EQ(LEN, c.res);

	/* the chain's second buffer goes while the chain waits */
	ASSERT_EQ(0, munmap(b, pg));
	ASSERT_EQ(0, cc_uffd_supply(&self->u, 0));
	ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
	EXPECT_EQ(20, c.user_data);
	EXPECT_EQ(LEN, c.res);
	ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
	EXPECT_EQ(21, c.user_data);
	EXPECT_EQ(-EFAULT, c.res);
	ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
	EXPECT_EQ(22, c.user_data);
	EXPECT_EQ(-ECANCELED, c.res);

	/* nothing else is affected: the next ASYNC READ reads */
	cc_push(&self->ch, CAPCHAN_OP_READ, self->fh, CAPCHAN_SQE_ASYNC,
	     self->buf, LEN, 2 * LEN, 25);
	ASSERT_EQ(1, submit(&self->ch, 1, self->sqpoll));
	ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
	EXPECT_EQ(25, c.user_data);
	EXPECT_EQ(LEN, c.res);
	EXPECT_EQ(0, memcmp(self->buf, self->t.data + 2 * LEN, LEN));
}

TEST_F_TIMEOUT(wk, revoke_while_blocked, 120)
{
	struct capchan_cqe c;
	int d;

	d = cc_derive(self->ch.fd, self->fh, R_READ | R_SEEK | R_REVOKE);
	ASSERT_TRUE(cc_handle_ok(d));
	cc_push(&self->ch, CAPCHAN_OP_READ, d,
	     CAPCHAN_SQE_ASYNC | CAPCHAN_SQE_LINK, self->u.mem, LEN, 0, 30);
	cc_push(&self->ch, CAPCHAN_OP_READ, d, 0, self->buf, LEN, LEN, 31);
	ASSERT_EQ(2, submit(&self->ch, 2, self->sqpoll));
	ASSERT_EQ(0, cc_uffd_wait_fault(&self->u));

	/* REVOKE of the parent: d and all below it die (1 capability) */
	ASSERT_EQ(1, cc_revoke(self->ch.fd, self->fh));
	/* after REVOKE returned, no op starts on d: not even in a worker */
	cc_push(&self->ch, CAPCHAN_OP_READ, d, CAPCHAN_SQE_ASYNC, self->buf, LEN,
	     0, 32);
	ASSERT_EQ(1, submit(&self->ch, 1, self->sqpoll));
	ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
	EXPECT_EQ(32, c.user_data);
	EXPECT_EQ(-EKEYREVOKED, c.res);

	ASSERT_EQ(0, cc_uffd_supply(&self->u, 0));
	ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
	EXPECT_EQ(30, c.user_data);
	EXPECT_EQ(LEN, c.res);
	ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
	EXPECT_EQ(31, c.user_data);
	EXPECT_EQ(-EKEYREVOKED, c.res);
	/* the parent was not revoked */
	cc_push(&self->ch, CAPCHAN_OP_READ, self->fh, CAPCHAN_SQE_ASYNC,
	     self->buf, LEN, 0, 33);
	ASSERT_EQ(1, submit(&self->ch, 1, self->sqpoll));
	ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
	EXPECT_EQ(33, c.user_data);
	EXPECT_EQ(LEN, c.res);
	EXPECT_EQ(0, cc_close_cap(self->ch.fd, d));
}

struct revoker {
	int chfd;
	uint32_t h;
	atomic_bool stop;
	long revokes;
	int bad;		/* REVOKE results other than >= 0 */
};

/* REVOKE @h (what was derived from it) again and again until told. */
static void *revoker_main(void *arg)
{
	struct revoker *r = arg;

	while (!atomic_load(&r->stop)) {
		if (cc_revoke(r->chfd, r->h) < 0)
			r->bad++;
		r->revokes++;
	}
	return NULL;
}

TEST_F_TIMEOUT(wk, revoke_storm, 300)
{
	static unsigned char bufs[8][CC_FILE_LEN];
	struct revoker rv = { .chfd = self->ch.fd, .h = self->fh };
	int round, i, full = 0, revoked = 0, caps0;
	pthread_t t;

	caps0 = cc_fdv(self->ch.fd, "caps");
	ASSERT_EQ(0, pthread_create(&t, NULL, revoker_main, &rv));
	for (round = 0; round < 100; round++) {
		unsigned int seen = 0;
		int d = cc_derive(self->ch.fd, self->fh, R_READ | R_SEEK);

		ASSERT_TRUE(cc_handle_ok(d));
		for (i = 0; i < 8; i++)
			cc_push(&self->ch, CAPCHAN_OP_READ, d, CAPCHAN_SQE_ASYNC,
			     bufs[i], CC_FILE_LEN, 0, 100 + i);
		ASSERT_EQ(8, submit(&self->ch, 8, self->sqpoll));
		for (i = 0; i < 8; i++) {
			struct capchan_cqe c;
			int k;

			ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
			k = (int)c.user_data - 100;
			ASSERT_TRUE(k >= 0 && k < 8) TH_LOG("user_data %llu",
				(unsigned long long)c.user_data);
			ASSERT_EQ(0, seen & (1U << k)) TH_LOG("CQE %d twice", k);
			seen |= 1U << k;
			if (c.res == CC_FILE_LEN) {
				full++;
				EXPECT_EQ(0, memcmp(bufs[k], self->t.data,
						    CC_FILE_LEN));
			} else {
				EXPECT_EQ(-EKEYREVOKED, c.res);
				revoked++;
			}
		}
		EXPECT_EQ(0, cc_cq_pending(&self->ch));
		EXPECT_EQ(0, cc_close_cap(self->ch.fd, d));
	}
	atomic_store(&rv.stop, true);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, rv.bad);
	EXPECT_EQ(800, full + revoked);
	EXPECT_EQ(caps0, cc_fdv(self->ch.fd, "caps"));
	EXPECT_EQ(0, cc_fdv(self->ch.fd, "inflight"));
	TH_LOG("%d full reads, %d revoked, %ld REVOKEs", full, revoked,
	       rv.revokes);
}

TEST_F_TIMEOUT(wk, inline_when_it_cannot_block, 60)
{
	struct capchan_cqe c;
	int i;

	/* tmpfs: every page cached, fsync does nothing: no worker needed */
	cc_push(&self->ch, CAPCHAN_OP_READ, self->fh, 0, self->buf, LEN, 0, 1);
	cc_push(&self->ch, CAPCHAN_OP_FSYNC, self->fh, 0, NULL, 0, 0, 2);
	ASSERT_EQ(2, submit(&self->ch, 2, self->sqpoll));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
		EXPECT_EQ(i + 1, c.user_data);
	}
	EXPECT_EQ(0, cc_fdv(self->ch.fd, "worker-punted"));
	EXPECT_EQ(0, cc_fdv(self->ch.fd, "workers"));
}

TEST_F(wk, invoke_async_is_einval)
{
	struct capchan_sqe s;

	cc_sqe(&s, CAPCHAN_OP_NOP, 0);
	s.flags = CAPCHAN_SQE_ASYNC;
	EXPECT_EQ(-EINVAL, cc_invoke(self->ch.fd, &s));
	cc_sqe(&s, CAPCHAN_OP_READ, self->fh);
	s.flags = CAPCHAN_SQE_ASYNC;
	s.addr = (uintptr_t)self->buf;
	s.len = LEN;
	EXPECT_EQ(-EINVAL, cc_invoke(self->ch.fd, &s));
	s.flags = 0;
	EXPECT_EQ(LEN, cc_invoke(self->ch.fd, &s));
}

struct entering {
	pthread_t thread;
	struct capchan *ch;
	bool sqpoll;
	int res;
};

static void *enter_main(void *arg)
{
	struct entering *e = arg;

	e->res = submit(e->ch, 3, e->sqpoll);
	return NULL;
}

TEST_F_TIMEOUT(wk, chain_cqes_in_order, 120)
{
	struct entering e = { .ch = &self->ch, .sqpoll = self->sqpoll };
	struct capchan_cqe c;
	double end;

	cc_push(&self->ch, CAPCHAN_OP_NOP, 0, CAPCHAN_SQE_LINK, NULL, 0, 0, 1);
	cc_push(&self->ch, CAPCHAN_OP_NOP, 0, CAPCHAN_SQE_ASYNC, NULL, 0, 0, 2);
	/* no ASYNC: it blocks the batch, inline, in its copy to the page */
	cc_push(&self->ch, CAPCHAN_OP_READ, self->fh, 0, self->u.mem, LEN, 0, 3);
	ASSERT_EQ(0, pthread_create(&e.thread, NULL, enter_main, &e));
	ASSERT_EQ(0, cc_uffd_wait_fault(&self->u));

	/* the READ still blocks: both CQEs of the chain, in its order */
	end = cc_now() + CQ_WAIT_MS / 1000.0;
	while (cc_cq_pending(&self->ch) < 2 && cc_now() < end)
		usleep(1000);
	ASSERT_EQ(2, cc_cq_pending(&self->ch));
	ASSERT_EQ(0, cc_cq_pop(&self->ch, &c));
	EXPECT_EQ(1, c.user_data);
	EXPECT_EQ(0, c.res);
	ASSERT_EQ(0, cc_cq_pop(&self->ch, &c));
	EXPECT_EQ(2, c.user_data);
	EXPECT_EQ(0, c.res);

	ASSERT_EQ(0, cc_uffd_supply(&self->u, 0x5a));
	ASSERT_EQ(0, pthread_join(e.thread, NULL));
	EXPECT_EQ(3, e.res);
	ASSERT_EQ(0, cc_reap(&self->ch, &c, CQ_WAIT_MS));
	EXPECT_EQ(3, c.user_data);
	EXPECT_EQ(LEN, c.res);
	EXPECT_EQ(0, cc_wait_fdv(self->ch.fd, "inflight", 0, CQ_WAIT_MS));
}

TEST_F_TIMEOUT(wk, async_mkdir_umask, 60)
{
	struct capchan_params p;
	struct capchan_cqe c;
	struct capchan ch;
	struct stat st;
	mode_t old;
	int dh;

	/* a channel made under umask 027 and used under umask 0 */
	memset(&p, 0, sizeof(p));
	if (self->sqpoll)
		p.flags = CAPCHAN_SETUP_SQPOLL;
	old = umask(027);
	ASSERT_EQ(0, capchan_queue_init_params(4, &ch, &p));
	umask(0);
	dh = cc_grant(ch.fd, self->t.jail_fd, R_LOOKUP | R_CREATE, NULL);
	ASSERT_TRUE(cc_handle_ok(dh));
	cc_push(&ch, CAPCHAN_OP_MKDIR, dh, CAPCHAN_SQE_ASYNC, "um", 0, 0777, 5);
	EXPECT_EQ(1, submit(&ch, 1, self->sqpoll));
	umask(old);
	ASSERT_EQ(0, cc_reap(&ch, &c, CQ_WAIT_MS));
	EXPECT_EQ(5, c.user_data);
	EXPECT_EQ(0, c.res);
	EXPECT_EQ(1, cc_fdv(ch.fd, "worker-punted"));
	capchan_queue_exit(&ch);
	ASSERT_EQ(0, fstatat(self->t.jail_fd, "um", &st, 0));
	/* ENTER's submitter had 0; the poll thread took 027 at SETUP */
	EXPECT_EQ(self->sqpoll ? 0750 : 0777, st.st_mode & 07777);
	EXPECT_EQ(0, unlinkat(self->t.jail_fd, "um", AT_REMOVEDIR));
}

/* A channel with an in-flight bound of 2. */
TEST_F_TIMEOUT(wk, backpressure, 120)
{
	struct capchan_params p;
	struct capchan ch2;
	struct capchan_cqe c;
	int fd, h, i;

	if (self->sqpoll)
		SKIP(return, "ENTER's answer is what is checked");
	memset(&p, 0, sizeof(p));
	p.flags = CAPCHAN_SETUP_INFLIGHT;
	p.max_inflight = 2;
	ASSERT_EQ(0, capchan_queue_init_params(8, &ch2, &p));
	EXPECT_EQ(2, p.max_inflight);
	fd = openat(self->t.jail_fd, "file", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	h = cc_grant(ch2.fd, fd, R_READ | R_SEEK, NULL);
	close(fd);
	ASSERT_TRUE(cc_handle_ok(h));

	cc_push(&ch2, CAPCHAN_OP_READ, h, CAPCHAN_SQE_ASYNC, self->u.mem, LEN, 0, 1);
	cc_push(&ch2, CAPCHAN_OP_READ, h, CAPCHAN_SQE_ASYNC, self->u.mem + LEN,
	     LEN, LEN, 2);
	ASSERT_EQ(2, cc_enter(ch2.fd, 2, 0, 0));
	ASSERT_EQ(0, cc_uffd_wait_fault(&self->u));
	EXPECT_EQ(2, cc_fdv(ch2.fd, "inflight"));

	cc_push(&ch2, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 3);
	cc_push(&ch2, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 4);
	/* at the bound: nothing consumed, nothing lost */
	EXPECT_EQ(-EBUSY, cc_enter(ch2.fd, 2, 0, 0));
	EXPECT_EQ(2, cc_fdv(ch2.fd, "sq-head"));
	EXPECT_EQ(0, cc_cq_pending(&ch2));

	ASSERT_EQ(0, cc_uffd_supply(&self->u, 0));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, cc_reap(&ch2, &c, CQ_WAIT_MS));
		EXPECT_EQ(LEN, c.res) TH_LOG("CQE %llu",
					     (unsigned long long)c.user_data);
	}
	EXPECT_EQ(0, memcmp(self->u.mem, self->t.data, 2 * LEN));
	ASSERT_EQ(2, cc_enter(ch2.fd, 2, 0, 0));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, cc_reap(&ch2, &c, CQ_WAIT_MS));
		EXPECT_EQ(3 + i, c.user_data);
		EXPECT_EQ(0, c.res);
	}
	capchan_queue_exit(&ch2);
}

/* Close a channel whose worker waits for a page nobody will supply. */
TEST_F_TIMEOUT(wk, close_interrupts, 120)
{
	struct capchan_params p;
	struct capchan ch2;
	char comm[32];
	long long caps0, files0;
	int fd, h;

	caps0 = cc_fdv(self->ch.fd, "user-caps");
	files0 = cc_fdv(self->ch.fd, "user-files");
	memset(&p, 0, sizeof(p));
	/* with a poll thread: it and the worker both go at the close */
	if (self->sqpoll)
		p.flags = CAPCHAN_SETUP_SQPOLL;
	ASSERT_EQ(0, capchan_queue_init_params(8, &ch2, &p));
	snprintf(comm, sizeof(comm), "capchan-wk/%lld",
		 cc_fdv(ch2.fd, "channel-id"));
	fd = openat(self->t.jail_fd, "file", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	h = cc_grant(ch2.fd, fd, R_READ | R_SEEK, NULL);
	close(fd);
	ASSERT_TRUE(cc_handle_ok(h));
	EXPECT_EQ(caps0 + 1, cc_fdv(self->ch.fd, "user-caps"));

	cc_push(&ch2, CAPCHAN_OP_READ, h, CAPCHAN_SQE_ASYNC, self->u.mem, LEN, 0, 1);
	ASSERT_EQ(1, submit(&ch2, 1, self->sqpoll));
	ASSERT_EQ(0, cc_uffd_wait_fault(&self->u));
	EXPECT_NE(0, cc_find_comm(comm));

	/* munmap and close: the release interrupts the worker, waits for it */
	capchan_queue_exit(&ch2);
	EXPECT_TRUE(cc_wait_comm_gone(comm, CQ_WAIT_MS));
	/* the poll thread's own fput()s are delayed: wait for them */
	EXPECT_EQ(caps0, cc_wait_fdv(self->ch.fd, "user-caps", caps0, CQ_WAIT_MS));
	EXPECT_EQ(files0, cc_wait_fdv(self->ch.fd, "user-files", files0, CQ_WAIT_MS));
	EXPECT_EQ(1, cc_wait_fdv(self->ch.fd, "user-channels", 1, CQ_WAIT_MS));
}

/*
 * A child submits an op that blocks in a worker for good (the parent
 * holds its userfaultfd and never answers), then exits or execs.  Its
 * capability and channel are let go of all the same.
 */
static void blocked_child(int sock, const char *file, bool exec, bool sqpoll)
{
	struct cc_uffd_page u;
	struct capchan ch;
	struct capchan_params p;
	char env[32];
	int fd, h;

	memset(&p, 0, sizeof(p));
	if (sqpoll)
		p.flags = CAPCHAN_SETUP_SQPOLL;
	if (capchan_queue_init_params(8, &ch, &p))
		_exit(10);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	h = cc_grant(ch.fd, fd, R_READ | R_SEEK, NULL);
	if (!cc_handle_ok(h))
		_exit(11);
	close(fd);
	if (cc_uffd_page_init(&u))
		_exit(12);
	if (cc_send_fd(sock, u.uffd))
		_exit(13);
	cc_push(&ch, CAPCHAN_OP_READ, h, CAPCHAN_SQE_ASYNC, u.mem, LEN, 0, 1);
	/* from a poll thread, the op is still this process's */
	if (submit(&ch, 1, sqpoll) != 1)
		_exit(14);
	if (cc_uffd_wait_fault(&u))
		_exit(15);
	if (cc_send_u32(sock, (uint32_t)cc_fdv(ch.fd, "channel-id")))
		_exit(16);
	if (!exec)
		_exit(0);
	/* the channel and userfaultfd are O_CLOEXEC: exec closes them */
	snprintf(env, sizeof(env), "%s=1", EXEC_ENV);
	putenv(env);
	execl("/proc/self/exe", "workers_test", NULL);
	_exit(17);
}

static void exit_or_exec(struct __test_metadata *_metadata,
			 FIXTURE_DATA(wk) *self, bool exec)
{
	char file[PATH_MAX + 16], comm[32];
	long long caps0, files0;
	int sv[2], uffd;
	uint32_t id;
	pid_t pid;

	caps0 = cc_fdv(self->ch.fd, "user-caps");
	files0 = cc_fdv(self->ch.fd, "user-files");
	snprintf(file, sizeof(file), "%s/file", self->t.jail);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(sv[0]);
		blocked_child(sv[1], file, exec, self->sqpoll);
	}
	close(sv[1]);
	uffd = cc_recv_fd(sv[0]);
	ASSERT_LE(0, uffd);
	ASSERT_EQ(0, cc_recv_u32(sv[0], &id));
	snprintf(comm, sizeof(comm), "capchan-wk/%u", id);
	EXPECT_EQ(0, cc_wait_child(pid));
	/* its userfaultfd is still open here: only capchan can end the wait */
	EXPECT_TRUE(cc_wait_comm_gone(comm, CQ_WAIT_MS));
	EXPECT_EQ(caps0, cc_wait_fdv(self->ch.fd, "user-caps", caps0, CQ_WAIT_MS));
	EXPECT_EQ(files0, cc_wait_fdv(self->ch.fd, "user-files", files0, CQ_WAIT_MS));
	EXPECT_EQ(1, cc_wait_fdv(self->ch.fd, "user-channels", 1, CQ_WAIT_MS));
	close(uffd);
	close(sv[0]);
}

TEST_F_TIMEOUT(wk, exit_interrupts, 120)
{
	exit_or_exec(_metadata, self, false);
}

TEST_F_TIMEOUT(wk, exec_interrupts, 120)
{
	exit_or_exec(_metadata, self, true);
}

TEST_HARNESS_MAIN
