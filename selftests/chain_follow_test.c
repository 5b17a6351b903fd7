// SPDX-License-Identifier: GPL-2.0
/*
 * A chain run op by op follows its worker.  A linked chain longer than
 * the 32 SQEs an ENTER copies whole, or one cut by what an ENTER consumes
 * (to_submit, the SQ tail, CQ or in-flight room), runs op by op in the
 * channel's chain state.  When an op of it would block (here: a READ
 * with CAPCHAN_SQE_ASYNC whose buffer is a userfaultfd page), it goes to
 * a worker and the rest of the chain follows it there as it is consumed,
 * so the ENTER, and every ENTER after it, goes on (uapi: CAPCHAN_IOC_ENTER
 * and "Workers and completion order").  When the worker runs out of the
 * chain's SQEs before the chain ends, it gives the chain's state (its
 * handle, whether it failed) back to the next SQE of it.
 *
 *  - long_chain_follows: a chain of 40 whose 6th op blocks in a worker:
 *    the ENTER (or the poll thread) consumes all 40 and an independent
 *    NOP after them, whose CQE comes after the chain's first 5, while the
 *    READ blocks; then the chain's other 35 CQEs, in order, exact.
 *  - cut_chain_follows: a chain whose 2nd op blocks, published 3 SQEs at
 *    a time: the next 3 are consumed at once and follow it, a NOP ENTERed
 *    after them completes, then the chain's 5 CQEs come in order.
 *  - handle_comes_back: OPEN with ASYNC (made in the worker), then
 *    READ(CHAIN), the chain cut after it; the worker runs out and gives
 *    the handle back: a STAT(CHAIN) and a CLOSE(CHAIN) ENTERed later act
 *    on the OPEN's capability, a STAT(CHAIN) after the chain is -EBADF.
 *  - failure_comes_back: an ASYNC OPEN of a missing file ends a cut
 *    chain's work with -ENOENT: the chain's next two SQEs, ENTERed later,
 *    are -ECANCELED, the NOP after the chain 0.
 *  - follow_races_give_back: 2000 chains of OPEN(ASYNC), READ(CHAIN),
 *    STAT(CHAIN), CLOSE(CHAIN), published and ENTERed two SQEs at a
 *    time, so the later half is put on the work's list or finds the state
 *    given back, whichever comes first: every CQE once, in chain order,
 *    exact; no capability left behind.
 *  - close_while_following: the channel closed while a worker holds a
 *    blocked READ and 4 SQEs that followed it: the close returns, the
 *    worker goes, every charge comes back.
 *  - fault_holds_no_ring (ENTER only: a poll thread is the one consumer):
 *    a chain cut by to_submit whose 6th op, a READ with no ASYNC, blocks
 *    in a page fault in its ENTER: the ops of a chain run op by op run
 *    without ring_lock, so another thread's ENTER of the chain's other 6
 *    SQEs and 4 NOPs returns 10 at once (the 6 follow the blocked op, the
 *    NOPs complete); once the page comes, A posts its 6 (one batch: its
 *    CQEs wait for the batch's blocked op) and the 6 that followed go to
 *    one worker (a work of no op of its own) and complete in order.
 *  - full_lead_waits: an ENTER is followed by at most 31 SQEs (what the
 *    closing bound leaves it, capchan(7)): another thread's ENTER of 40
 *    returns 31, the next one waits until the blocked op is done and
 *    then consumes the rest, which follow the worker; every CQE in order.
 *  - no_worker_runs_here: with RLIMIT_NPROC 0 (no worker can be made),
 *    what followed a blocked op runs in the ENTER that ran that op,
 *    after it and the op before it in its batch, in order; no work is
 *    made.
 *
 * Each runs from ENTER and from a poll thread.  A blocked op is known to
 * be blocked by the userfaultfd event it raised; where a submit could
 * wait behind it, it runs in a thread given a generous deadline
 * (WAIT_MS), and a missed one fails the test and unblocks everything: a
 * deadline, not a measure of speed.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#include <sys/resource.h>

#define WAIT_MS		20000
#define LEN		64
#define RING		64
#define LONG_LEN	40	/* longer than a chain copied whole (32) */
#define LONG_BLOCKED	6	/* user_data of its blocked READ */
#define RACE_CHAINS	2000

FIXTURE(cf) {
	struct cc_tree t;
	struct capchan ch;
	struct cc_uffd_page u;
	uint32_t dh, fh;
	bool sqpoll;
	unsigned char buf[LEN];
};

FIXTURE_VARIANT(cf) {
	bool sqpoll;
};

FIXTURE_VARIANT_ADD(cf, enter) {
	.sqpoll = false,
};

FIXTURE_VARIANT_ADD(cf, poll_thread) {
	.sqpoll = true,
};

/* A channel of RING entries with the jail (*@dh) and its file (*@fh). */
static int cf_channel(FIXTURE_DATA(cf) *self, struct capchan *ch,
		      uint32_t *dh, uint32_t *fh)
{
	return cc_channel_jail_file(ch, RING, self->sqpoll, self->t.jail_fd,
				    R_LOOKUP | R_READ | R_SEEK | R_STAT,
				    R_READ | R_SEEK | R_STAT, dh, fh);
}

FIXTURE_SETUP(cf)
{
	int r;

	self->u.uffd = -1;
	self->u.mem = MAP_FAILED;
	self->ch.fd = -1;
	self->sqpoll = variant->sqpoll;
	ASSERT_EQ(0, cc_tree_create(&self->t, "follow"));
	ASSERT_EQ(0, cf_channel(self, &self->ch, &self->dh, &self->fh));
	r = cc_uffd_page_init(&self->u);
	if (r == -ENOSYS || r == -EPERM)
		SKIP(return, "no userfaultfd in this kernel");
	ASSERT_EQ(0, r);
}

FIXTURE_TEARDOWN(cf)
{
	cc_uffd_page_destroy(&self->u);
	if (self->ch.fd >= 0)
		capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
}

/* ENTER @n, or wake the poll thread until its SQ head catches up. */
static int submit(struct capchan *ch, unsigned int n, bool sqpoll)
{
	return cc_submit(ch, n, sqpoll, WAIT_MS);
}

static int submit_past_block(struct capchan *ch, unsigned int n, bool sqpoll,
			     struct cc_uffd_page *u, int *res)
{
	return cc_submit_past_block(ch, n, sqpoll, u, WAIT_MS, res);
}

static void push_read(struct capchan *ch, uint32_t h, unsigned int flags,
		      void *buf, uint64_t off, uint64_t ud)
{
	cc_push(ch, CAPCHAN_OP_READ, h, flags, buf, LEN, off, ud);
}

TEST_F_TIMEOUT(cf, long_chain_follows, 120)
{
	struct capchan *ch = &self->ch;
	struct capchan_cqe c;
	int res[LONG_LEN];
	int i, sub_res;

	for (i = 1; i <= LONG_LEN; i++) {
		unsigned int link = i < LONG_LEN ? CAPCHAN_SQE_LINK : 0;

		if (i == LONG_BLOCKED)
			push_read(ch, self->fh, link | CAPCHAN_SQE_ASYNC,
				  self->u.mem, 0, i);
		else if (i == LONG_LEN)
			push_read(ch, self->fh, link, self->buf, LEN, i);
		else
			cc_push(ch, CAPCHAN_OP_NOP, 0, link, NULL, 0, 0, i);
	}
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 100);
	ASSERT_EQ(0, submit_past_block(ch, LONG_LEN + 1, self->sqpoll,
				       &self->u, &sub_res))
		TH_LOG("the submit waited behind the chain's blocked READ (%d, sq-head %lld)",
		       sub_res, cc_fdv(ch->fd, "sq-head"));
	EXPECT_EQ(LONG_LEN + 1, sub_res);
	EXPECT_EQ(LONG_LEN + 1, cc_fdv(ch->fd, "sq-head"));

	/* the chain's 5 ops before the READ, then the NOP after the chain */
	for (i = 1; i < LONG_BLOCKED; i++) {
		ASSERT_EQ(0, cc_reap(ch, &c, WAIT_MS)) TH_LOG("CQE %d", i);
		EXPECT_EQ(i, c.user_data);
		EXPECT_EQ(0, c.res);
	}
	ASSERT_EQ(0, cc_reap(ch, &c, WAIT_MS));
	EXPECT_EQ(100, c.user_data);
	EXPECT_EQ(0, c.res);
	EXPECT_EQ(-EAGAIN, cc_cq_pop(ch, &c));
	EXPECT_EQ(LONG_LEN - LONG_BLOCKED + 1, cc_fdv(ch->fd, "inflight"));
	EXPECT_EQ(1, cc_fdv(ch->fd, "worker-punted"));

	ASSERT_EQ(0, cc_uffd_supply(&self->u, 0));
	ASSERT_EQ(LONG_LEN - LONG_BLOCKED + 1,
		  cc_pop_seq(ch, LONG_BLOCKED, LONG_LEN - LONG_BLOCKED + 1, res));
	EXPECT_EQ(LEN, res[0]);
	for (i = 1; i < LONG_LEN - LONG_BLOCKED; i++)
		EXPECT_EQ(0, res[i]) TH_LOG("CQE %d", LONG_BLOCKED + i);
	EXPECT_EQ(LEN, res[LONG_LEN - LONG_BLOCKED]);
	EXPECT_EQ(0, memcmp(self->u.mem, self->t.data, LEN));
	EXPECT_EQ(0, memcmp(self->buf, self->t.data + LEN, LEN));
	EXPECT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, WAIT_MS));
	EXPECT_EQ(1, cc_fdv(ch->fd, "worker-punted"));
}

TEST_F_TIMEOUT(cf, cut_chain_follows, 120)
{
	struct capchan *ch = &self->ch;
	struct capchan_stat st;
	struct capchan_cqe c;
	int res[5];
	int sub_res;

	cc_push(ch, CAPCHAN_OP_NOP, 0, CAPCHAN_SQE_LINK, NULL, 0, 0, 1);
	push_read(ch, self->fh, CAPCHAN_SQE_LINK | CAPCHAN_SQE_ASYNC,
		  self->u.mem, 0, 2);
	cc_push(ch, CAPCHAN_OP_NOP, 0, CAPCHAN_SQE_LINK, NULL, 0, 0, 3);
	ASSERT_EQ(0, submit_past_block(ch, 3, self->sqpoll, &self->u, &sub_res))
		TH_LOG("the submit waited behind the chain's blocked READ (%d)",
		       sub_res);
	EXPECT_EQ(3, sub_res);
	ASSERT_EQ(0, cc_reap(ch, &c, WAIT_MS));
	EXPECT_EQ(1, c.user_data);
	EXPECT_EQ(0, c.res);

	/* the chain goes on: these follow the worker, not run here */
	memset(&st, 0, sizeof(st));
	cc_push(ch, CAPCHAN_OP_STAT, self->fh, CAPCHAN_SQE_LINK, &st,
		sizeof(st), 0, 4);
	cc_push(ch, CAPCHAN_OP_NOP, 0, CAPCHAN_SQE_LINK, NULL, 0, 0, 5);
	push_read(ch, self->fh, 0, self->buf, LEN, 6);
	ASSERT_EQ(3, submit(ch, 3, self->sqpoll));
	EXPECT_EQ(0, st.size);
	/* the chain ended: this one runs now */
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 7);
	ASSERT_EQ(1, submit(ch, 1, self->sqpoll));
	ASSERT_EQ(0, cc_reap(ch, &c, WAIT_MS));
	EXPECT_EQ(7, c.user_data);
	EXPECT_EQ(0, c.res);
	EXPECT_EQ(-EAGAIN, cc_cq_pop(ch, &c));
	EXPECT_EQ(5, cc_fdv(ch->fd, "inflight"));

	ASSERT_EQ(0, cc_uffd_supply(&self->u, 0));
	ASSERT_EQ(5, cc_pop_seq(ch, 2, 5, res));
	EXPECT_EQ(LEN, res[0]);
	EXPECT_EQ(0, res[1]);
	EXPECT_EQ(0, res[2]);
	EXPECT_EQ(0, res[3]);
	EXPECT_EQ(LEN, res[4]);
	EXPECT_EQ(CC_FILE_LEN, st.size);
	EXPECT_EQ(0, memcmp(self->buf, self->t.data + LEN, LEN));
	EXPECT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, WAIT_MS));
	EXPECT_EQ(1, cc_fdv(ch->fd, "worker-punted"));
}

/*
 * Wait until every worker of the channel has nothing to do (each gave
 * back what it held): 0, or -ETIMEDOUT.
 */
static int wait_workers_idle(struct capchan *ch)
{
	double end = cc_now() + WAIT_MS / 1000.0;

	while (cc_now() < end) {
		long long nr = cc_fdv(ch->fd, "workers");

		if (nr > 0 && cc_fdv(ch->fd, "workers-idle") == nr &&
		    cc_fdv(ch->fd, "inflight") == 0)
			return 0;
		usleep(1000);
	}
	return -ETIMEDOUT;
}

TEST_F_TIMEOUT(cf, handle_comes_back, 120)
{
	struct capchan *ch = &self->ch;
	long long caps0 = cc_fdv(ch->fd, "user-caps");
	struct capchan_stat st;
	struct capchan_sqe s;
	struct capchan_cqe c;
	int sub_res;

	capchan_prep_open(&s, self->dh, "file", O_RDONLY, 0,
			  R_READ | R_SEEK | R_STAT);
	/* the handle is made in the worker: only it knows it */
	s.flags = CAPCHAN_SQE_LINK | CAPCHAN_SQE_ASYNC;
	s.user_data = 1;
	cc_sq_push(ch, &s);
	/* ASYNC: to a worker of its own if the first gave back already */
	push_read(ch, CAPCHAN_HANDLE_CHAIN, CAPCHAN_SQE_LINK | CAPCHAN_SQE_ASYNC,
		  self->u.mem, 0, 2);
	ASSERT_EQ(0, submit_past_block(ch, 2, self->sqpoll, &self->u, &sub_res))
		TH_LOG("the submit waited behind the chain's blocked READ (%d)",
		       sub_res);
	EXPECT_EQ(2, sub_res);
	ASSERT_EQ(0, cc_reap(ch, &c, WAIT_MS));
	EXPECT_EQ(1, c.user_data);
	EXPECT_TRUE(cc_handle_ok(c.res)) TH_LOG("OPEN: %d", c.res);
	EXPECT_EQ(caps0 + 1, cc_fdv(ch->fd, "user-caps"));

	ASSERT_EQ(0, cc_uffd_supply(&self->u, 0));
	ASSERT_EQ(0, cc_reap(ch, &c, WAIT_MS));
	EXPECT_EQ(2, c.user_data);
	EXPECT_EQ(LEN, c.res);
	EXPECT_EQ(0, memcmp(self->u.mem, self->t.data, LEN));
	/* the workers ran out of the chain: the state was given back */
	ASSERT_EQ(0, wait_workers_idle(ch));

	memset(&st, 0, sizeof(st));
	cc_push(ch, CAPCHAN_OP_STAT, CAPCHAN_HANDLE_CHAIN, CAPCHAN_SQE_LINK,
		&st, sizeof(st), 0, 3);
	cc_push(ch, CAPCHAN_OP_CLOSE, CAPCHAN_HANDLE_CHAIN, 0, NULL, 0, 0, 4);
	cc_push(ch, CAPCHAN_OP_STAT, CAPCHAN_HANDLE_CHAIN, 0, &st, sizeof(st),
		0, 5);
	ASSERT_EQ(3, submit(ch, 3, self->sqpoll));
	ASSERT_EQ(0, cc_reap(ch, &c, WAIT_MS));
	EXPECT_EQ(3, c.user_data);
	EXPECT_EQ(0, c.res);
	EXPECT_EQ(CC_FILE_LEN, st.size);
	ASSERT_EQ(0, cc_reap(ch, &c, WAIT_MS));
	EXPECT_EQ(4, c.user_data);
	EXPECT_EQ(0, c.res);
	/* a new chain: CAPCHAN_HANDLE_CHAIN names nothing in it */
	ASSERT_EQ(0, cc_reap(ch, &c, WAIT_MS));
	EXPECT_EQ(5, c.user_data);
	EXPECT_EQ(-EBADF, c.res);
	EXPECT_EQ(caps0, cc_fdv(ch->fd, "user-caps"));
}

TEST_F_TIMEOUT(cf, failure_comes_back, 120)
{
	struct capchan *ch = &self->ch;
	struct capchan_sqe s;
	struct capchan_cqe c;
	int res[3];

	capchan_prep_open(&s, self->dh, "missing", O_RDONLY, 0, R_READ);
	s.flags = CAPCHAN_SQE_LINK | CAPCHAN_SQE_ASYNC;
	s.user_data = 1;
	cc_sq_push(ch, &s);
	ASSERT_EQ(1, submit(ch, 1, self->sqpoll));
	ASSERT_EQ(0, cc_reap(ch, &c, WAIT_MS));
	EXPECT_EQ(1, c.user_data);
	EXPECT_EQ(-ENOENT, c.res);
	ASSERT_EQ(0, wait_workers_idle(ch));

	cc_push(ch, CAPCHAN_OP_NOP, 0, CAPCHAN_SQE_LINK, NULL, 0, 0, 2);
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 3);
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 4);
	ASSERT_EQ(3, submit(ch, 3, self->sqpoll));
	ASSERT_EQ(3, cc_pop_seq(ch, 2, 3, res));
	EXPECT_EQ(-ECANCELED, res[0]);
	EXPECT_EQ(-ECANCELED, res[1]);
	EXPECT_EQ(0, res[2]);
	EXPECT_EQ(1, cc_fdv(ch->fd, "worker-punted"));
}

TEST_F_TIMEOUT(cf, follow_races_give_back, 600)
{
	struct capchan *ch = &self->ch;
	long long caps0 = cc_fdv(ch->fd, "user-caps");
	struct capchan_stat st;
	struct capchan_sqe s;
	int i, bad = 0;

	for (i = 0; i < RACE_CHAINS && bad < 5; i++) {
		uint64_t ud = (uint64_t)i * 4 + 1;
		int res[4], n;

		capchan_prep_open(&s, self->dh, "file", O_RDONLY, 0,
				  R_READ | R_SEEK | R_STAT);
		s.flags = CAPCHAN_SQE_LINK | CAPCHAN_SQE_ASYNC;
		s.user_data = ud;
		cc_sq_push(ch, &s);
		push_read(ch, CAPCHAN_HANDLE_CHAIN, CAPCHAN_SQE_LINK, self->buf,
			  LEN, ud + 1);
		if (submit(ch, 2, self->sqpoll) != 2) {
			bad++;
			break;
		}
		/* the work may still run the READ, or have given back */
		if (i & 1)
			usleep(i % 7 * 10);
		memset(&st, 0, sizeof(st));
		cc_push(ch, CAPCHAN_OP_STAT, CAPCHAN_HANDLE_CHAIN,
			CAPCHAN_SQE_LINK, &st, sizeof(st), 0, ud + 2);
		cc_push(ch, CAPCHAN_OP_CLOSE, CAPCHAN_HANDLE_CHAIN, 0, NULL, 0,
			0, ud + 3);
		if (submit(ch, 2, self->sqpoll) != 2) {
			bad++;
			break;
		}
		n = cc_pop_seq(ch, ud, 4, res);
		if (n != 4 || !cc_handle_ok(res[0]) || res[1] != LEN ||
		    res[2] != 0 || res[3] != 0 || st.size != CC_FILE_LEN) {
			TH_LOG("chain %d: popped %d: %d %d %d %d, size %lld", i,
			       n, res[0], res[1], res[2], res[3],
			       (long long)st.size);
			bad++;
		}
	}
	EXPECT_EQ(0, bad);
	EXPECT_EQ(RACE_CHAINS, i);
	EXPECT_EQ(0, memcmp(self->buf, self->t.data + LEN, LEN));
	EXPECT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, WAIT_MS));
	EXPECT_EQ(caps0, cc_fdv(ch->fd, "user-caps"));
	EXPECT_EQ(RACE_CHAINS, cc_fdv(ch->fd, "worker-punted"));
}

TEST_F_TIMEOUT(cf, close_while_following, 120)
{
	long long caps0 = cc_fdv(self->ch.fd, "user-caps");
	long long files0 = cc_fdv(self->ch.fd, "user-files");
	struct capchan ch2;
	uint32_t dh2, fh2;
	char comm[32];
	int i, sub_res;

	ASSERT_EQ(0, cf_channel(self, &ch2, &dh2, &fh2));
	snprintf(comm, sizeof(comm), "capchan-wk/%lld",
		 cc_fdv(ch2.fd, "channel-id"));
	EXPECT_EQ(caps0 + 2, cc_fdv(self->ch.fd, "user-caps"));

	push_read(&ch2, fh2, CAPCHAN_SQE_LINK | CAPCHAN_SQE_ASYNC,
		  self->u.mem, 0, 1);
	ASSERT_EQ(0, submit_past_block(&ch2, 1, self->sqpoll, &self->u,
				       &sub_res));
	EXPECT_EQ(1, sub_res);
	for (i = 0; i < 4; i++)
		cc_push(&ch2, CAPCHAN_OP_NOP, 0, i < 3 ? CAPCHAN_SQE_LINK : 0,
			NULL, 0, 0, 2 + i);
	ASSERT_EQ(4, submit(&ch2, 4, self->sqpoll));
	EXPECT_EQ(5, cc_fdv(ch2.fd, "inflight"));
	EXPECT_NE(0, cc_find_comm(comm));

	/* the release interrupts the worker and waits for all of its work */
	capchan_queue_exit(&ch2);
	EXPECT_TRUE(cc_wait_comm_gone(comm, WAIT_MS));
	EXPECT_EQ(caps0, cc_wait_fdv(self->ch.fd, "user-caps", caps0, WAIT_MS));
	EXPECT_EQ(files0, cc_wait_fdv(self->ch.fd, "user-files", files0,
				      WAIT_MS));
	EXPECT_EQ(1, cc_wait_fdv(self->ch.fd, "user-channels", 1, WAIT_MS));
}

/*
 * A chain of @len linked SQEs (user_data first..first + len - 1, the last
 * unlinked): NOPs, and a READ of the file into the userfaultfd page at
 * @blocked (with no ASYNC: it blocks in the ENTER that runs it).
 */
static void push_chain(FIXTURE_DATA(cf) *self, uint64_t first, int len,
		       uint64_t blocked)
{
	int i;

	for (i = 0; i < len; i++) {
		uint64_t ud = first + i;
		unsigned int link = i < len - 1 ? CAPCHAN_SQE_LINK : 0;

		if (ud == blocked)
			push_read(&self->ch, self->fh, link, self->u.mem, 0, ud);
		else
			cc_push(&self->ch, CAPCHAN_OP_NOP, 0, link, NULL, 0, 0,
				ud);
	}
}

/* An ENTER of @n in a thread: the chain's blocked op runs in it. */
static int start_enter(struct cc_submitter *s, struct capchan *ch,
		       unsigned int n)
{
	return cc_submit_start(s, ch, n, false, WAIT_MS);
}

TEST_F_TIMEOUT(cf, fault_holds_no_ring, 120)
{
	struct capchan *ch = &self->ch;
	struct capchan_cqe c;
	struct cc_submitter a, b;
	int res[12], i;

	if (self->sqpoll)
		SKIP(return, "the poll thread is the only consumer");
	push_chain(self, 1, 12, 6);
	for (i = 0; i < 4; i++)
		cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 13 + i);
	/* the chain cut after its 6th op, which blocks in A */
	ASSERT_EQ(0, start_enter(&a, ch, 6));
	ASSERT_EQ(0, cc_uffd_wait_fault_ms(&self->u, WAIT_MS));
	ASSERT_EQ(0, start_enter(&b, ch, 10));
	i = cc_join_timeout(b.thread, WAIT_MS / 1000);
	EXPECT_EQ(0, i) TH_LOG("B's ENTER waited behind A's blocked op (sq-head %lld)",
			       cc_fdv(ch->fd, "sq-head"));
	if (i) {
		cc_uffd_supply(&self->u, 0);
		cc_join_timeout(a.thread, WAIT_MS / 1000);
		cc_join_timeout(b.thread, WAIT_MS / 1000);
		return;
	}
	EXPECT_EQ(10, b.res);
	/* A took its 6 as one batch: their CQEs come when the 6th is done */
	for (i = 13; i <= 16; i++) {
		ASSERT_EQ(0, cc_reap(ch, &c, WAIT_MS)) TH_LOG("CQE %d", i);
		EXPECT_EQ(i, c.user_data);
		EXPECT_EQ(0, c.res);
	}
	EXPECT_EQ(-EAGAIN, cc_cq_pop(ch, &c));
	EXPECT_EQ(12, cc_fdv(ch->fd, "inflight"));

	ASSERT_EQ(0, cc_uffd_supply(&self->u, 0));
	EXPECT_EQ(0, cc_join_timeout(a.thread, WAIT_MS / 1000));
	EXPECT_EQ(6, a.res);
	ASSERT_EQ(12, cc_pop_seq(ch, 1, 12, res));
	for (i = 0; i < 12; i++)
		EXPECT_EQ(i == 5 ? LEN : 0, res[i]) TH_LOG("CQE %d", 1 + i);
	EXPECT_EQ(0, memcmp(self->u.mem, self->t.data, LEN));
	EXPECT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, WAIT_MS));
	/* what followed went to a worker as one work */
	EXPECT_EQ(1, cc_fdv(ch->fd, "worker-punted"));
}

TEST_F_TIMEOUT(cf, full_lead_waits, 120)
{
	struct capchan *ch = &self->ch;
	struct capchan_cqe c;
	struct cc_submitter a, b;
	int res[48], i;

	if (self->sqpoll)
		SKIP(return, "the poll thread is the only consumer");
	/* a chain of 46, its first op blocking in A; then 2 NOPs */
	push_chain(self, 1, 46, 1);
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 47);
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 48);
	ASSERT_EQ(0, start_enter(&a, ch, 1));
	ASSERT_EQ(0, cc_uffd_wait_fault_ms(&self->u, WAIT_MS));
	/* 31 follow A's op (the closing bound less A's own), no more */
	EXPECT_EQ(31, cc_enter(ch->fd, 40, 0, 0));
	EXPECT_EQ(32, cc_fdv(ch->fd, "sq-head"));
	EXPECT_EQ(32, cc_fdv(ch->fd, "inflight"));
	EXPECT_EQ(-EAGAIN, cc_cq_pop(ch, &c));
	/* this one waits until A's op is done, then takes the rest */
	ASSERT_EQ(0, start_enter(&b, ch, 16));
	ASSERT_EQ(0, cc_uffd_supply(&self->u, 0));
	EXPECT_EQ(0, cc_join_timeout(a.thread, WAIT_MS / 1000));
	EXPECT_EQ(1, a.res);
	EXPECT_EQ(0, cc_join_timeout(b.thread, WAIT_MS / 1000));
	EXPECT_EQ(16, b.res);
	EXPECT_EQ(48, cc_fdv(ch->fd, "sq-head"));
	/* the NOPs after the chain may come before its end: sort by order */
	for (i = 0; i < 48; i++)
		res[i] = -ENODATA;
	for (i = 0; i < 48; i++) {
		ASSERT_EQ(0, cc_reap(ch, &c, WAIT_MS)) TH_LOG("CQE %d", i);
		ASSERT_TRUE(c.user_data >= 1 && c.user_data <= 48);
		EXPECT_EQ(-ENODATA, res[c.user_data - 1]);
		res[c.user_data - 1] = c.res;
		/* the chain's CQEs come in its order */
		if (c.user_data > 1 && c.user_data <= 46)
			EXPECT_NE(-ENODATA, res[c.user_data - 2])
				TH_LOG("CQE %llu before %llu",
				       (unsigned long long)c.user_data,
				       (unsigned long long)c.user_data - 1);
	}
	EXPECT_EQ(LEN, res[0]);
	for (i = 1; i < 48; i++)
		EXPECT_EQ(0, res[i]) TH_LOG("CQE %d", i + 1);
	EXPECT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, WAIT_MS));
}

TEST_F_TIMEOUT(cf, no_worker_runs_here, 120)
{
	struct capchan *ch = &self->ch;
	struct rlimit old, none;
	struct capchan_cqe c;
	struct cc_submitter a;
	int res[5], i;

	if (self->sqpoll)
		SKIP(return, "the poll thread is the only consumer");
	ASSERT_EQ(0, getrlimit(RLIMIT_NPROC, &old));
	none = (struct rlimit){ .rlim_cur = 0, .rlim_max = old.rlim_max };
	ASSERT_EQ(0, setrlimit(RLIMIT_NPROC, &none));
	push_chain(self, 1, 5, 2);
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 6);
	ASSERT_EQ(0, start_enter(&a, ch, 2));
	ASSERT_EQ(0, cc_uffd_wait_fault_ms(&self->u, WAIT_MS));
	EXPECT_EQ(4, cc_enter(ch->fd, 4, 0, 0));
	/* A's two ran as one batch: CQE 1 comes with the READ's */
	ASSERT_EQ(0, cc_reap(ch, &c, WAIT_MS));
	EXPECT_EQ(6, c.user_data);
	EXPECT_EQ(0, c.res);
	EXPECT_EQ(-EAGAIN, cc_cq_pop(ch, &c));
	ASSERT_EQ(0, cc_uffd_supply(&self->u, 0));
	EXPECT_EQ(0, cc_join_timeout(a.thread, WAIT_MS / 1000));
	EXPECT_EQ(2, a.res);
	ASSERT_EQ(5, cc_pop_seq(ch, 1, 5, res));
	for (i = 0; i < 5; i++)
		EXPECT_EQ(i == 1 ? LEN : 0, res[i]) TH_LOG("CQE %d", 1 + i);
	EXPECT_EQ(0, cc_fdv(ch->fd, "inflight"));
	EXPECT_EQ(0, cc_fdv(ch->fd, "worker-punted"));
	ASSERT_EQ(0, setrlimit(RLIMIT_NPROC, &old));
}

TEST_HARNESS_MAIN
