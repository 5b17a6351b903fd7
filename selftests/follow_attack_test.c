// SPDX-License-Identifier: GPL-2.0
/*
 * Attacks on a chain run op by op that follows its worker (uapi:
 * CAPCHAN_IOC_ENTER and "Workers and completion order"): once an op of
 * such a chain goes to a worker, each later SQE of the chain consumed by
 * an ENTER or the poll thread is put on the work's list, and a worker
 * that runs out before the chain ends gives the chain's state (handle,
 * failure) back to the next SQE of it.  What each test tries:
 *
 *  - handle_no_cross_after_work_end: a chain OPEN, READ(CHAIN) blocked in
 *    a worker, STAT(CHAIN) ends in the work; a new chain cut by to_submit
 *    that starts with READ(CHAIN) runs in the channel's chain state while
 *    the old work still holds the OPEN's handle: -EBADF, its rest
 *    -ECANCELED, then the old chain's READ and STAT finish on the OPEN's
 *    capability.  Showed: no handle crosses from one chain to the next.
 *  - handle_no_cross_after_give_back: the same, but the worker gives the
 *    handle back and a NOP ends the chain inline: the next cut chain's
 *    READ(CHAIN) is -EBADF; a third chain then goes to a worker again
 *    (no stale give-back left to trip over) and completes exactly.
 *  - threads_race_give_back: 3 threads ENTER the same ring 1 or 2 SQEs at
 *    a time while the SQ tail is published piecewise (so chains are also
 *    cut by the tail; the poll thread consumes as it goes), 600 rounds
 *    of 8 chains of OPEN(ASYNC), READ(CHAIN), STAT(CHAIN), NOP(ASYNC),
 *    CLOSE(CHAIN): every CQE once, in chain order, exact results;
 *    inflight back to 0 and no capability left.  Showed: no CQE lost,
 *    doubled or out of its chain's order.
 *  - revoke_while_following: READ(d) blocked in a worker with READ(d) and
 *    STAT(d) following it; REVOKE of d's parent returns 1 while the READ
 *    blocks: the READ started before finishes, the following READ is
 *    -EKEYREVOKED (no op starts on d after REVOKE returned), STAT
 *    -ECANCELED.
 *  - owner_killed_while_other_follows: a forked child's READ blocks in a
 *    worker (its own userfaultfd page, which the parent keeps open so
 *    the child's exit does not resolve the fault); the parent ENTERs
 *    three SQEs of the same chain, which may not follow the child's work
 *    (another process: they would run as the child), so its ENTER waits,
 *    nothing consumed; SIGKILL of the child: the ENTER goes on, -EINTR,
 *    then -ECANCELED for the parent's three (none ran: the parent's
 *    buffer untouched), inflight 0, one work interrupted, and the chain's
 *    failure given back: its next SQEs -ECANCELED until it ends, then a
 *    NOP runs.  (On 3a09c63 the three followed the child's work.)
 *  - owner_exec_while_other_follows: as above, but the child execs (its
 *    channel fd is O_CLOEXEC): the ENTER goes on, -EINTR and -ECANCELED
 *    for the parent's SQEs, inflight 0, one work interrupted, the child
 *    alive in its new image.
 *  - other_follower_runs_in_owner_mm: as above, but the child lets its
 *    page in: the parent's ENTER goes on once the child's READ is done,
 *    and the parent's READ runs as the parent, into the parent's memory
 *    (on 3a09c63 it followed the work and ran in the child's).
 *  - policy_caller_follows_owner (was a finding, see there): with the
 *    denyuid policy refusing uid nobody as caller, a uid-nobody process
 *    sharing the ring ENTERs the rest of a chain whose op blocks in a
 *    root work: its SQEs do not follow that work (they would run as
 *    root); its ENTER waits until the op is done, and then they run as
 *    the sandbox: the OPEN refused (-E_DENY), the NOP after it
 *    -ECANCELED.
 *  - inflight_cut_gives_back: max_inflight 3, a chain of 7 whose first op
 *    (READ) blocks in a worker: the ENTER (or the poll thread) consumes 3
 *    (two follow the READ), the next ENTER is -EBUSY; once the READ is in,
 *    the worker runs the two, gives the chain back, and the other 4 run
 *    where they are consumed: 7 CQEs once each, in order, exact.
 *  - close_with_long_list: 60 SQEs (OPENs) follow a blocked worker; the
 *    module refuses to unload (EWOULDBLOCK) meanwhile; the channel's close
 *    interrupts the worker, which cancels all 60: the worker goes, every
 *    charge comes back.
 *
 * Each runs from ENTER and from a poll thread (the fork and policy tests
 * ENTER only: the poll thread consumes every SQE as its owner).  Every
 * wait has a deadline (WAIT_MS); a blocked op is known to be blocked by
 * the userfaultfd event it raised.
 *
 * Seen, not kept as a test: when the owner child's exit also released
 * its userfaultfd (nobody else held it), its blocked READ completed in
 * full (64) instead of -EINTR on 6.1 (every run), -EINTR on 6.12: on 6.1
 * the release resolves the fault before the interrupt ends it.  Harmless
 * (the bytes land in the dying process's memory, the ops after it are
 * -ECANCELED); the parent now holds the userfaultfd, as
 * workers_attack_test's fork_child_exit does.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capchan_policy.h"
#include "denyuid.skel.h"

#define WAIT_MS		20000
#define LEN		64
#define RING		64

#define RACE_ROUNDS	600
#define RACE_CHAINS	8
#define RACE_LEN	5
#define RACE_THREADS	3

#define LONG_LIST	60
/* denyuid's errno for callers of uid nobody */
#define E_DENY		3003

FIXTURE(fa) {
	struct cc_tree t;
	struct capchan ch;
	struct cc_uffd_page u;
	uint32_t dh, fh;
	bool sqpoll;
	unsigned char buf[LEN];
};

FIXTURE_VARIANT(fa) {
	bool sqpoll;
};

FIXTURE_VARIANT_ADD(fa, enter) {
	.sqpoll = false,
};

FIXTURE_VARIANT_ADD(fa, poll_thread) {
	.sqpoll = true,
};

/* A channel of RING entries with the jail (*@dh) and its file (*@fh). */
static int fa_channel(FIXTURE_DATA(fa) *self, struct capchan *ch,
		      uint32_t *dh, uint32_t *fh)
{
	return cc_channel_jail_file(ch, RING, self->sqpoll, self->t.jail_fd,
				    R_LOOKUP | R_READ | R_SEEK | R_STAT,
				    R_READ | R_SEEK | R_STAT | R_DERIVE |
				    R_REVOKE, dh, fh);
}

FIXTURE_SETUP(fa)
{
	int r;

	self->u.uffd = -1;
	self->u.mem = MAP_FAILED;
	self->ch.fd = -1;
	self->sqpoll = variant->sqpoll;
	memset(self->buf, 0, sizeof(self->buf));
	ASSERT_EQ(0, cc_tree_create(&self->t, "fattack"));
	ASSERT_EQ(0, fa_channel(self, &self->ch, &self->dh, &self->fh));
	r = cc_uffd_page_init(&self->u);
	if (r == -ENOSYS || r == -EPERM)
		SKIP(return, "no userfaultfd in this kernel");
	ASSERT_EQ(0, r);
}

FIXTURE_TEARDOWN(fa)
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

static void push_open(struct capchan *ch, uint32_t dh, unsigned int flags,
		      uint64_t ud)
{
	struct capchan_sqe s;

	capchan_prep_open(&s, dh, "file", O_RDONLY, 0,
			  R_READ | R_SEEK | R_STAT);
	s.flags = flags;
	s.user_data = ud;
	cc_sq_push(ch, &s);
}

static long long wait_worker_idle(struct capchan *ch)
{
	return cc_wait_fdv(ch->fd, "workers-idle", 1, WAIT_MS);
}

TEST_F_TIMEOUT(fa, handle_no_cross_after_work_end, 120)
{
	struct capchan *ch = &self->ch;
	long long caps0 = cc_fdv(ch->fd, "user-caps");
	struct capchan_stat st;
	struct capchan_cqe c;
	int res[4], sub_res, opened;

	push_open(ch, self->dh, CAPCHAN_SQE_LINK, 1);
	push_read(ch, CAPCHAN_HANDLE_CHAIN, CAPCHAN_SQE_LINK | CAPCHAN_SQE_ASYNC,
		  self->u.mem, 0, 2);
	ASSERT_EQ(0, submit_past_block(ch, 2, self->sqpoll, &self->u, &sub_res));
	EXPECT_EQ(2, sub_res);
	ASSERT_EQ(0, cc_reap(ch, &c, WAIT_MS));
	EXPECT_EQ(1, c.user_data);
	ASSERT_TRUE(cc_handle_ok(c.res)) TH_LOG("OPEN: %d", c.res);
	opened = c.res;

	/* the chain ends in the work: STAT(CHAIN) follows it */
	memset(&st, 0, sizeof(st));
	cc_push(ch, CAPCHAN_OP_STAT, CAPCHAN_HANDLE_CHAIN, 0, &st, sizeof(st),
		0, 3);
	ASSERT_EQ(1, submit(ch, 1, self->sqpoll));
	EXPECT_EQ(2, cc_fdv(ch->fd, "inflight"));

	/*
	 * A new chain, cut after its first SQE so it runs op by op in the
	 * channel's chain state, which last held the OPEN's handle.
	 */
	push_read(ch, CAPCHAN_HANDLE_CHAIN, CAPCHAN_SQE_LINK, self->buf, 0, 4);
	ASSERT_EQ(1, submit(ch, 1, self->sqpoll));
	cc_push(ch, CAPCHAN_OP_NOP, 0, CAPCHAN_SQE_LINK, NULL, 0, 0, 5);
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 6);
	ASSERT_EQ(2, submit(ch, 2, self->sqpoll));
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 7);
	ASSERT_EQ(1, submit(ch, 1, self->sqpoll));
	ASSERT_EQ(4, cc_pop_seq(ch, 4, 4, res));
	EXPECT_EQ(-EBADF, res[0]);
	EXPECT_EQ(-ECANCELED, res[1]);
	EXPECT_EQ(-ECANCELED, res[2]);
	EXPECT_EQ(0, res[3]);
	/* nothing was read into buf by a READ(CHAIN) that named nothing */
	EXPECT_EQ(0, self->buf[0] | self->buf[LEN - 1]);
	EXPECT_EQ(-EAGAIN, cc_cq_pop(ch, &c));
	EXPECT_EQ(2, cc_fdv(ch->fd, "inflight"));

	/* the old chain goes on in its work, on the OPEN's capability */
	ASSERT_EQ(0, cc_uffd_supply(&self->u, 0));
	ASSERT_EQ(2, cc_pop_seq(ch, 2, 2, res));
	EXPECT_EQ(LEN, res[0]);
	EXPECT_EQ(0, res[1]);
	EXPECT_EQ(CC_FILE_LEN, st.size);
	EXPECT_EQ(0, memcmp(self->u.mem, self->t.data, LEN));
	EXPECT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, WAIT_MS));
	EXPECT_EQ(0, cc_close_cap(ch->fd, opened));
	EXPECT_EQ(caps0, cc_fdv(ch->fd, "user-caps"));
	EXPECT_EQ(1, cc_fdv(ch->fd, "worker-punted"));
}

TEST_F_TIMEOUT(fa, handle_no_cross_after_give_back, 120)
{
	struct capchan *ch = &self->ch;
	long long caps0 = cc_fdv(ch->fd, "user-caps");
	struct capchan_cqe c;
	int res[3], sub_res, opened;

	push_open(ch, self->dh, CAPCHAN_SQE_LINK, 1);
	push_read(ch, CAPCHAN_HANDLE_CHAIN, CAPCHAN_SQE_LINK | CAPCHAN_SQE_ASYNC,
		  self->u.mem, 0, 2);
	ASSERT_EQ(0, submit_past_block(ch, 2, self->sqpoll, &self->u, &sub_res));
	EXPECT_EQ(2, sub_res);
	ASSERT_EQ(0, cc_reap(ch, &c, WAIT_MS));
	EXPECT_EQ(1, c.user_data);
	ASSERT_TRUE(cc_handle_ok(c.res)) TH_LOG("OPEN: %d", c.res);
	opened = c.res;
	ASSERT_EQ(0, cc_uffd_supply(&self->u, 0));
	ASSERT_EQ(0, cc_reap(ch, &c, WAIT_MS));
	EXPECT_EQ(2, c.user_data);
	EXPECT_EQ(LEN, c.res);
	/* it gave the handle back: a NOP ends the chain here */
	ASSERT_EQ(1, wait_worker_idle(ch));
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 3);
	ASSERT_EQ(1, submit(ch, 1, self->sqpoll));
	ASSERT_EQ(0, cc_reap(ch, &c, WAIT_MS));
	EXPECT_EQ(3, c.user_data);
	EXPECT_EQ(0, c.res);

	/* a new chain run op by op: the handle given back is not its own */
	push_read(ch, CAPCHAN_HANDLE_CHAIN, CAPCHAN_SQE_LINK, self->buf, 0, 4);
	ASSERT_EQ(1, submit(ch, 1, self->sqpoll));
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 5);
	ASSERT_EQ(1, submit(ch, 1, self->sqpoll));
	ASSERT_EQ(2, cc_pop_seq(ch, 4, 2, res));
	EXPECT_EQ(-EBADF, res[0]);
	EXPECT_EQ(-ECANCELED, res[1]);
	EXPECT_EQ(0, self->buf[0] | self->buf[LEN - 1]);

	/* a third, cut chain goes to a worker again and ends inline */
	cc_push(ch, CAPCHAN_OP_NOP, 0, CAPCHAN_SQE_LINK, NULL, 0, 0, 6);
	ASSERT_EQ(1, submit(ch, 1, self->sqpoll));
	push_read(ch, self->fh, CAPCHAN_SQE_LINK | CAPCHAN_SQE_ASYNC, self->buf,
		  LEN, 7);
	ASSERT_EQ(1, submit(ch, 1, self->sqpoll));
	ASSERT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, WAIT_MS));
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 8);
	ASSERT_EQ(1, submit(ch, 1, self->sqpoll));
	ASSERT_EQ(3, cc_pop_seq(ch, 6, 3, res));
	EXPECT_EQ(0, res[0]);
	EXPECT_EQ(LEN, res[1]);
	EXPECT_EQ(0, res[2]);
	EXPECT_EQ(0, memcmp(self->buf, self->t.data + LEN, LEN));
	EXPECT_EQ(0, cc_close_cap(ch->fd, opened));
	EXPECT_EQ(caps0, cc_fdv(ch->fd, "user-caps"));
	EXPECT_EQ(2, cc_fdv(ch->fd, "worker-punted"));
}

/* Threads that ENTER the ring (or wake its poll thread) until told to stop. */
struct racer {
	pthread_t thread;
	struct capchan *ch;
	bool sqpoll;
	volatile bool *stop;
	unsigned int seed;
	long enters, bad;
	int last_bad;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;

	while (!*r->stop) {
		unsigned int head = __atomic_load_n(r->ch->sq.khead,
						    __ATOMIC_ACQUIRE);
		unsigned int tail = __atomic_load_n(r->ch->sq.ktail,
						    __ATOMIC_ACQUIRE);
		int n;

		if (head == tail) {
			sched_yield();
			continue;
		}
		if (r->sqpoll) {
			n = cc_enter(r->ch->fd, 0, 0, CAPCHAN_ENTER_SQ_WAKEUP);
			if (n < 0) {
				r->bad++;
				r->last_bad = n;
			}
			sched_yield();
			continue;
		}
		n = cc_enter(r->ch->fd, 1 + rand_r(&r->seed) % 2, 0, 0);
		r->enters++;
		/* another thread took them: 0; the CQ is never full here */
		if (n < 0 || n > 2) {
			r->bad++;
			r->last_bad = n;
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(fa, threads_race_give_back, 900)
{
	struct capchan *ch = &self->ch;
	long long caps0 = cc_fdv(ch->fd, "user-caps");
	struct racer rc[RACE_THREADS];
	volatile bool stop = false;
	int round, i, bad = 0;

	for (i = 0; i < RACE_THREADS; i++) {
		rc[i] = (struct racer){ .ch = ch, .sqpoll = self->sqpoll,
					.stop = &stop, .seed = 7 + i };
		ASSERT_EQ(0, pthread_create(&rc[i].thread, NULL, racer_main,
					    &rc[i]));
	}
	for (round = 0; round < RACE_ROUNDS && bad < 5; round++) {
		/* per chain: how many CQEs seen, and the results */
		int seen[RACE_CHAINS] = { 0 };
		int res[RACE_CHAINS][RACE_LEN];
		struct capchan_stat st[RACE_CHAINS];
		int k, j, got, bad0 = bad;

		memset(st, 0, sizeof(st));
		/* chains one after another in the SQ, consumed piecewise */
		for (k = 0; k < RACE_CHAINS; k++) {
			uint64_t ud = (uint64_t)k * 8 + 1;

			push_open(ch, self->dh,
				  CAPCHAN_SQE_LINK | CAPCHAN_SQE_ASYNC, ud);
			if (self->sqpoll || (k + round) % 3 == 0)
				usleep(50 * (k % 3));
			push_read(ch, CAPCHAN_HANDLE_CHAIN, CAPCHAN_SQE_LINK,
				  self->buf, LEN, ud + 1);
			cc_push(ch, CAPCHAN_OP_STAT, CAPCHAN_HANDLE_CHAIN,
				CAPCHAN_SQE_LINK, &st[k], sizeof(st[k]), 0,
				ud + 2);
			if (self->sqpoll || (k + round) % 2 == 0)
				usleep(50 * (k % 2));
			cc_push(ch, CAPCHAN_OP_NOP, 0,
				CAPCHAN_SQE_LINK | CAPCHAN_SQE_ASYNC, NULL, 0,
				0, ud + 3);
			cc_push(ch, CAPCHAN_OP_CLOSE, CAPCHAN_HANDLE_CHAIN, 0,
				NULL, 0, 0, ud + 4);
		}
		for (got = 0; got < RACE_CHAINS * RACE_LEN; got++) {
			struct capchan_cqe c;

			if (cc_reap(ch, &c, WAIT_MS)) {
				TH_LOG("round %d: only %d CQEs (sq-head %lld inflight %lld)",
				       round, got, cc_fdv(ch->fd, "sq-head"),
				       cc_fdv(ch->fd, "inflight"));
				bad++;
				break;
			}
			k = (c.user_data - 1) / 8;
			j = (c.user_data - 1) % 8;
			if (c.user_data < 1 || k >= RACE_CHAINS ||
			    j >= RACE_LEN || seen[k] != j) {
				TH_LOG("round %d: CQE %llu out of order or again (chain saw %d)",
				       round, (unsigned long long)c.user_data,
				       k < RACE_CHAINS ? seen[k] : -1);
				bad++;
				continue;
			}
			res[k][j] = c.res;
			seen[k]++;
		}
		for (k = 0; k < RACE_CHAINS && bad == bad0; k++) {
			if (!cc_handle_ok(res[k][0]) || res[k][1] != LEN ||
			    res[k][2] || res[k][3] || res[k][4] ||
			    st[k].size != CC_FILE_LEN) {
				TH_LOG("round %d chain %d: %d %d %d %d %d size %lld",
				       round, k, res[k][0], res[k][1],
				       res[k][2], res[k][3], res[k][4],
				       (long long)st[k].size);
				bad++;
			}
		}
	}
	stop = true;
	for (i = 0; i < RACE_THREADS; i++) {
		EXPECT_EQ(0, cc_join_timeout(rc[i].thread, WAIT_MS / 1000));
		EXPECT_EQ(0, rc[i].bad) TH_LOG("racer %d: last %d", i,
						rc[i].last_bad);
	}
	EXPECT_EQ(0, bad);
	EXPECT_EQ(RACE_ROUNDS, round);
	EXPECT_EQ(0, memcmp(self->buf, self->t.data + LEN, LEN));
	EXPECT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, WAIT_MS));
	/* the poll thread's and workers' fput()s are delayed: wait for them */
	EXPECT_EQ(caps0, cc_wait_fdv(ch->fd, "user-caps", caps0, WAIT_MS));
	EXPECT_EQ(0, cc_cq_pending(ch));
}

TEST_F_TIMEOUT(fa, revoke_while_following, 120)
{
	struct capchan *ch = &self->ch;
	struct capchan_stat st;
	int res[4], sub_res, d;

	d = cc_derive(ch->fd, self->fh, R_READ | R_SEEK | R_STAT);
	ASSERT_TRUE(cc_handle_ok(d)) TH_LOG("DERIVE: %d", d);
	push_read(ch, d, CAPCHAN_SQE_LINK | CAPCHAN_SQE_ASYNC, self->u.mem, 0,
		  1);
	ASSERT_EQ(0, submit_past_block(ch, 1, self->sqpoll, &self->u, &sub_res));
	EXPECT_EQ(1, sub_res);
	memset(&st, 0, sizeof(st));
	push_read(ch, d, CAPCHAN_SQE_LINK, self->buf, LEN, 2);
	cc_push(ch, CAPCHAN_OP_STAT, d, 0, &st, sizeof(st), 0, 3);
	ASSERT_EQ(2, submit(ch, 2, self->sqpoll));
	EXPECT_EQ(3, cc_fdv(ch->fd, "inflight"));
	/* REVOKE returns while the READ blocks; the others have not started */
	EXPECT_EQ(1, cc_revoke(ch->fd, self->fh));
	ASSERT_EQ(0, cc_uffd_supply(&self->u, 0));
	ASSERT_EQ(3, cc_pop_seq(ch, 1, 3, res));
	EXPECT_EQ(LEN, res[0]);
	EXPECT_EQ(-EKEYREVOKED, res[1]);
	EXPECT_EQ(-ECANCELED, res[2]);
	EXPECT_EQ(0, self->buf[0] | self->buf[LEN - 1]);
	EXPECT_EQ(0, st.size);
	/* and nothing after it either */
	cc_push(ch, CAPCHAN_OP_STAT, d, 0, &st, sizeof(st), 0, 4);
	ASSERT_EQ(1, submit(ch, 1, self->sqpoll));
	ASSERT_EQ(1, cc_pop_seq(ch, 4, 1, res));
	EXPECT_EQ(-EKEYREVOKED, res[0]);
	EXPECT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, WAIT_MS));
}

/* An owner child that execs this binary: the new image only waits. */
#define EXEC_ENV	"CAPCHAN_FOLLOW_EXEC_PAUSE"

__attribute__((constructor)) static void exec_image_waits(void)
{
	if (getenv(EXEC_ENV)) {
		for (;;)
			pause();
	}
}

/* A buffer at the same address in parent and child (fork copies it). */
static unsigned char shared_addr_buf[LEN];

/*
 * The child: a READ into its own userfaultfd page, LINKed, goes to a
 * worker (the work is the child's).  It sends the userfaultfd over @sock
 * (the parent keeps it open: the child's exit must not resolve the fault
 * by releasing it) and waits for a command: 'k' (sleep until killed),
 * 'x' (exec this binary, which then sleeps until killed) or 's' (let the
 * page in, then on 'q' exit 0 if its copy of shared_addr_buf is still
 * all zero: nothing another process ENTERed ran in its memory; else 4).
 */
static void owner_child(struct capchan *ch, uint32_t fh, int sock,
			const unsigned char *want)
{
	struct cc_uffd_page u;
	char cmd = 0;

	if (cc_uffd_page_init(&u))
		_exit(10);
	memset(shared_addr_buf, 0, sizeof(shared_addr_buf));
	push_read(ch, fh, CAPCHAN_SQE_LINK | CAPCHAN_SQE_ASYNC, u.mem, 0, 1);
	if (cc_enter(ch->fd, 1, 0, 0) != 1)
		_exit(11);
	if (cc_uffd_wait_fault_ms(&u, WAIT_MS))
		_exit(12);
	if (cc_send_fd(sock, u.uffd))
		_exit(13);
	if (read(sock, &cmd, 1) != 1)
		_exit(14);
	if (cmd == 'k') {
		for (;;)
			pause();
	}
	if (cmd == 'x') {
		/* the channel's fd is O_CLOEXEC: the exec closes it */
		setenv(EXEC_ENV, "1", 1);
		execl("/proc/self/exe", "follow_attack_test", (char *)NULL);
		_exit(16);
	}
	if (cc_uffd_supply(&u, 0))
		_exit(15);
	if (read(sock, &cmd, 1) != 1 || cmd != 'q')
		_exit(3);
	_exit(memcmp(shared_addr_buf, want, LEN) ? 0 : 4);
}

/*
 * Fork the owner child; wait until its READ blocks in a worker.  Its
 * pid, with the socket to command it in *@sock and its userfaultfd in
 * *@uffd; -1 on failure.
 */
static pid_t start_owner(FIXTURE_DATA(fa) *self, int *sock, int *uffd)
{
	struct pollfd p;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		close(sv[0]);
		owner_child(&self->ch, self->fh, sv[1], self->t.data + LEN);
	}
	close(sv[1]);
	p = (struct pollfd){ .fd = sv[0], .events = POLLIN };
	*uffd = -1;
	if (poll(&p, 1, WAIT_MS) == 1)
		*uffd = cc_recv_fd(sv[0]);
	if (*uffd < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(sv[0]);
		return -1;
	}
	*sock = sv[0];
	return pid;
}

/* The parent's ENTER of SQEs that may not follow the child's work. */
struct parent_enter {
	pthread_t thread;
	int fd;
	unsigned int n;
	int res;
};

static void *parent_enter_main(void *arg)
{
	struct parent_enter *e = arg;

	e->res = cc_enter(e->fd, e->n, 0, 0);
	return NULL;
}

static int parent_enter_start(struct parent_enter *e, int fd, unsigned int n)
{
	*e = (struct parent_enter){ .fd = fd, .n = n, .res = -ENODATA };
	return pthread_create(&e->thread, NULL, parent_enter_main, e);
}

TEST_F_TIMEOUT(fa, owner_killed_while_other_follows, 120)
{
	struct capchan *ch = &self->ch;
	long long caps0 = cc_fdv(ch->fd, "user-caps");
	long long intr0 = cc_fdv(ch->fd, "worker-interrupted");
	int res[4], to_child, status, uffd;
	struct parent_enter pe;
	pid_t pid;

	if (self->sqpoll)
		SKIP(return, "the poll thread's works are its owner's");
	pid = start_owner(self, &to_child, &uffd);
	ASSERT_GT(pid, 0);
	EXPECT_EQ(1, cc_fdv(ch->fd, "inflight"));

	/*
	 * The parent's SQEs of the chain do not follow the child's work
	 * (they would run as the child): its ENTER waits for the work.
	 */
	memset(shared_addr_buf, 0, sizeof(shared_addr_buf));
	push_read(ch, self->fh, CAPCHAN_SQE_LINK, shared_addr_buf, LEN, 2);
	cc_push(ch, CAPCHAN_OP_NOP, 0, CAPCHAN_SQE_LINK, NULL, 0, 0, 3);
	cc_push(ch, CAPCHAN_OP_NOP, 0, CAPCHAN_SQE_LINK, NULL, 0, 0, 4);
	ASSERT_EQ(0, parent_enter_start(&pe, ch->fd, 3));
	EXPECT_EQ(1, cc_fdv(ch->fd, "sq-head"));
	EXPECT_EQ(1, cc_fdv(ch->fd, "inflight"));
	EXPECT_EQ(0, cc_cq_pending(ch));

	EXPECT_EQ(1, write(to_child, "k", 1));
	EXPECT_EQ(0, kill(pid, SIGKILL));
	EXPECT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(to_child);
	/* the work interrupted, the chain given back failed: it goes on */
	EXPECT_EQ(0, cc_join_timeout(pe.thread, WAIT_MS / 1000));
	EXPECT_EQ(3, pe.res);

	ASSERT_EQ(4, cc_pop_seq(ch, 1, 4, res));
	EXPECT_EQ(-EINTR, res[0]);
	EXPECT_EQ(-ECANCELED, res[1]);
	EXPECT_EQ(-ECANCELED, res[2]);
	EXPECT_EQ(-ECANCELED, res[3]);
	EXPECT_EQ(0, shared_addr_buf[0] | shared_addr_buf[LEN - 1]);
	EXPECT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, WAIT_MS));
	EXPECT_EQ(intr0 + 1, cc_fdv(ch->fd, "worker-interrupted"));
	ASSERT_EQ(1, wait_worker_idle(ch));

	/* the chain's failure came back: its rest is cancelled here */
	cc_push(ch, CAPCHAN_OP_NOP, 0, CAPCHAN_SQE_LINK, NULL, 0, 0, 5);
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 6);
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 7);
	ASSERT_EQ(3, cc_enter_all(ch->fd, 3));
	ASSERT_EQ(3, cc_pop_seq(ch, 5, 3, res));
	EXPECT_EQ(-ECANCELED, res[0]);
	EXPECT_EQ(-ECANCELED, res[1]);
	EXPECT_EQ(0, res[2]);
	EXPECT_EQ(caps0, cc_fdv(ch->fd, "user-caps"));
	close(uffd);
}

TEST_F_TIMEOUT(fa, owner_exec_while_other_follows, 120)
{
	struct capchan *ch = &self->ch;
	long long intr0 = cc_fdv(ch->fd, "worker-interrupted");
	int res[4], to_child, status, uffd;
	struct parent_enter pe;
	pid_t pid;

	if (self->sqpoll)
		SKIP(return, "the poll thread's works are its owner's");
	pid = start_owner(self, &to_child, &uffd);
	ASSERT_GT(pid, 0);
	memset(shared_addr_buf, 0, sizeof(shared_addr_buf));
	push_read(ch, self->fh, CAPCHAN_SQE_LINK, shared_addr_buf, LEN, 2);
	cc_push(ch, CAPCHAN_OP_NOP, 0, CAPCHAN_SQE_LINK, NULL, 0, 0, 3);
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 4);
	/* they do not follow the child's work: the ENTER waits for it */
	ASSERT_EQ(0, parent_enter_start(&pe, ch->fd, 3));
	EXPECT_EQ(1, cc_fdv(ch->fd, "sq-head"));

	/* the exec closes the child's channel fd: its work is interrupted */
	EXPECT_EQ(1, write(to_child, "x", 1));
	EXPECT_EQ(0, cc_join_timeout(pe.thread, WAIT_MS / 1000));
	EXPECT_EQ(3, pe.res);
	ASSERT_EQ(4, cc_pop_seq(ch, 1, 4, res));
	EXPECT_EQ(-EINTR, res[0]);
	EXPECT_EQ(-ECANCELED, res[1]);
	EXPECT_EQ(-ECANCELED, res[2]);
	EXPECT_EQ(-ECANCELED, res[3]);
	EXPECT_EQ(0, shared_addr_buf[0] | shared_addr_buf[LEN - 1]);
	EXPECT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, WAIT_MS));
	EXPECT_EQ(intr0 + 1, cc_fdv(ch->fd, "worker-interrupted"));
	/* the child lives on in its new image: the exec, not an exit */
	EXPECT_EQ(0, waitpid(pid, &status, WNOHANG));
	EXPECT_EQ(0, kill(pid, SIGKILL));
	EXPECT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(to_child);
	close(uffd);
}

TEST_F_TIMEOUT(fa, other_follower_runs_in_owner_mm, 120)
{
	struct capchan *ch = &self->ch;
	int res[3], to_child, status, uffd;
	struct parent_enter pe;
	pid_t pid;

	if (self->sqpoll)
		SKIP(return, "the poll thread's works are its owner's");
	pid = start_owner(self, &to_child, &uffd);
	ASSERT_GT(pid, 0);

	memset(shared_addr_buf, 0, sizeof(shared_addr_buf));
	push_read(ch, self->fh, CAPCHAN_SQE_LINK, shared_addr_buf, LEN, 2);
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 3);
	/* they may not follow the child's work: the ENTER waits for it */
	ASSERT_EQ(0, parent_enter_start(&pe, ch->fd, 2));
	EXPECT_EQ(1, cc_fdv(ch->fd, "sq-head"));
	EXPECT_EQ(1, write(to_child, "s", 1));
	EXPECT_EQ(0, cc_join_timeout(pe.thread, WAIT_MS / 1000));
	EXPECT_EQ(2, pe.res);
	ASSERT_EQ(3, cc_pop_seq(ch, 1, 3, res));
	EXPECT_EQ(LEN, res[0]);
	EXPECT_EQ(LEN, res[1]);
	EXPECT_EQ(0, res[2]);
	/* the parent's READ ran as the parent: into the parent's memory */
	EXPECT_EQ(0, memcmp(shared_addr_buf, self->t.data + LEN, LEN));
	EXPECT_EQ(1, write(to_child, "q", 1));
	EXPECT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(to_child);
	close(uffd);
	EXPECT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, WAIT_MS));
}

TEST_F_TIMEOUT(fa, inflight_cut_gives_back, 120)
{
	struct capchan_params p;
	struct capchan ch2;
	int res[7], i, h, fd, r_fault;

	memset(&p, 0, sizeof(p));
	p.flags = CAPCHAN_SETUP_INFLIGHT |
		  (self->sqpoll ? CAPCHAN_SETUP_SQPOLL : 0);
	p.max_inflight = 3;
	ASSERT_EQ(0, capchan_queue_init_params(16, &ch2, &p));
	fd = openat(self->t.jail_fd, "file", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	h = cc_grant(ch2.fd, fd, R_READ | R_SEEK, NULL);
	close(fd);
	ASSERT_TRUE(cc_handle_ok(h));

	push_read(&ch2, h, CAPCHAN_SQE_LINK | CAPCHAN_SQE_ASYNC, self->u.mem,
		  0, 1);
	for (i = 2; i <= 7; i++)
		cc_push(&ch2, CAPCHAN_OP_NOP, 0, i < 7 ? CAPCHAN_SQE_LINK : 0,
			NULL, 0, 0, i);
	if (!self->sqpoll) {
		/* the READ goes to a worker: ENTER does not wait for it */
		EXPECT_EQ(3, cc_enter(ch2.fd, 7, 0, 0));
		r_fault = cc_uffd_wait_fault_ms(&self->u, WAIT_MS);
	} else {
		EXPECT_LE(0, cc_enter(ch2.fd, 0, 0, CAPCHAN_ENTER_SQ_WAKEUP));
		r_fault = cc_uffd_wait_fault_ms(&self->u, WAIT_MS);
		EXPECT_EQ(3, cc_wait_fdv(ch2.fd, "sq-head", 3, WAIT_MS));
	}
	if (r_fault)
		cc_uffd_supply(&self->u, 0);
	ASSERT_EQ(0, r_fault);
	/* the READ and two SQEs that follow it fill the bound */
	EXPECT_EQ(3, cc_fdv(ch2.fd, "sq-head"));
	EXPECT_EQ(3, cc_fdv(ch2.fd, "inflight"));
	EXPECT_EQ(0, cc_cq_pending(&ch2));
	if (!self->sqpoll)
		EXPECT_EQ(-EBUSY, cc_enter(ch2.fd, 4, 0, 0));

	/* the worker runs them and gives the chain back: the rest runs here */
	ASSERT_EQ(0, cc_uffd_supply(&self->u, 0));
	ASSERT_EQ(3, cc_pop_seq(&ch2, 1, 3, res));
	EXPECT_EQ(LEN, res[0]);
	EXPECT_EQ(0, res[1]);
	EXPECT_EQ(0, res[2]);
	if (!self->sqpoll) {
		/*
		 * Once the worker gave the chain back (idle), the rest runs
		 * here, each op's CQE posted before the next is consumed: all
		 * 4 in one ENTER.  (Before that, they would follow the work
		 * and hold the bound: fewer, then -EBUSY, as documented.)
		 */
		ASSERT_EQ(1, wait_worker_idle(&ch2));
		EXPECT_EQ(4, cc_enter(ch2.fd, 4, 0, 0));
	} else {
		EXPECT_LE(0, cc_enter(ch2.fd, 0, 0, CAPCHAN_ENTER_SQ_WAKEUP));
	}
	ASSERT_EQ(4, cc_pop_seq(&ch2, 4, 4, res));
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, res[i]) TH_LOG("CQE %d", 4 + i);
	EXPECT_EQ(7, cc_fdv(ch2.fd, "sq-head"));
	EXPECT_EQ(0, cc_wait_fdv(ch2.fd, "inflight", 0, WAIT_MS));
	EXPECT_EQ(1, cc_fdv(ch2.fd, "worker-punted"));
	EXPECT_EQ(0, cc_cq_pending(&ch2));
	capchan_queue_exit(&ch2);
}

TEST_F_TIMEOUT(fa, close_with_long_list, 120)
{
	long long caps0 = cc_fdv(self->ch.fd, "user-caps");
	long long files0 = cc_fdv(self->ch.fd, "user-files");
	struct capchan ch2;
	uint32_t dh2, fh2;
	char comm[32];
	int i, sub_res;

	ASSERT_EQ(0, fa_channel(self, &ch2, &dh2, &fh2));
	snprintf(comm, sizeof(comm), "capchan-wk/%lld",
		 cc_fdv(ch2.fd, "channel-id"));
	push_read(&ch2, fh2, CAPCHAN_SQE_LINK | CAPCHAN_SQE_ASYNC,
		  self->u.mem, 0, 1);
	ASSERT_EQ(0, submit_past_block(&ch2, 1, self->sqpoll, &self->u,
				       &sub_res));
	EXPECT_EQ(1, sub_res);
	for (i = 0; i < LONG_LIST; i++)
		push_open(&ch2, dh2, i + 1 < LONG_LIST ? CAPCHAN_SQE_LINK : 0,
			  2 + i);
	ASSERT_EQ(LONG_LIST, submit(&ch2, LONG_LIST, self->sqpoll));
	EXPECT_EQ(LONG_LIST + 1, cc_fdv(ch2.fd, "inflight"));
	EXPECT_EQ(0, cc_cq_pending(&ch2));
	EXPECT_NE(0, cc_find_comm(comm));
	/* a worker holds the module: no unload */
	EXPECT_EQ(-1, syscall(SYS_delete_module, "capchan", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);

	capchan_queue_exit(&ch2);
	EXPECT_TRUE(cc_wait_comm_gone(comm, WAIT_MS));
	EXPECT_EQ(caps0, cc_wait_fdv(self->ch.fd, "user-caps", caps0, WAIT_MS));
	EXPECT_EQ(files0, cc_wait_fdv(self->ch.fd, "user-files", files0,
				      WAIT_MS));
	EXPECT_EQ(1, cc_wait_fdv(self->ch.fd, "user-channels", 1, WAIT_MS));
}

/*
 * A process of another uid that shares the ring: it ENTERs on command
 * ('e' and a count; answers what ENTER returned) until 'q'.
 */
static void enterer_child(int fd, int sock)
{
	uint32_t n;
	char cmd;

	if (cc_become(CC_UID_NOBODY, CC_GID_NOGROUP))
		_exit(10);
	for (;;) {
		if (read(sock, &cmd, 1) != 1)
			_exit(11);
		if (cmd == 'q')
			_exit(0);
		if (cc_recv_u32(sock, &n))
			_exit(12);
		if (cc_send_u32(sock, (uint32_t)cc_enter(fd, n, 0, 0)))
			_exit(13);
	}
}

/* Ask the child to ENTER @n: 0 or -EIO. */
static int child_enter_send(int sock, uint32_t n)
{
	if (write(sock, "e", 1) != 1 || cc_send_u32(sock, n))
		return -EIO;
	return 0;
}

/* What the child's ENTER returned, or -ETIMEDOUT. */
static int child_enter_reply(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	uint32_t r;

	if (poll(&p, 1, WAIT_MS) != 1 || cc_recv_u32(sock, &r))
		return -ETIMEDOUT;
	return (int)r;
}

/* Have the child ENTER @n: what its ENTER returned, or -errno. */
static int child_enter(int sock, uint32_t n)
{
	return child_enter_send(sock, n) ?: child_enter_reply(sock);
}

/*
 * Was a FINDING (medium: a policy decision made on the wrong caller),
 * on 3a09c63 and before; fixed in b0aa177 (capchan_follow_mine()).
 *
 * The denyuid policy refuses every op whose caller is uid nobody (a
 * sandbox that shares the ring of a root process: capchan_policy.h).
 * The sandbox's own ENTER of a NOP is refused (-E_DENY), as it should.
 * Then root ENTERs one SQE: a READ with ASYNC and LINK that blocks in a
 * worker, so its chain follows that work.  The sandbox now writes an
 * OPEN (LINK) and a NOP into the ring and ENTERs them itself: they are
 * consumed by the sandbox's ENTER, but put on root's work's list and
 * checked there with root's credentials, so the policy hook sees
 * caller_uid 0 and the OPEN succeeds (a new capability) instead of
 * -E_DENY; the NOP runs too.  The sandbox can keep the chain going for
 * as long as root's op blocks (an op it can make block, e.g. on a FIFO
 * it holds): one SQE root consumed lets the sandbox run any number of
 * ops as root.  Without a follow, an SQE the sandbox writes runs as
 * root only when root's ENTER consumes it ("SQEs written into a shared
 * ring run as whoever consumes them anyway", uapi), never when the
 * sandbox consumes it.
 * Where: capchan_chain_step() (ring.c) puts an SQE consumed by any task
 * on the parked work (capchan_workers_follow(), worker.c), and
 * capchan_work_next() runs it with the work's cred/caller_ns.
 * Suggested fix: follow a work only with SQEs consumed by the task that
 * made it (the same tgid and credentials, or the poll thread of its
 * owner); for any other consumer, do not append: wait for the give-back
 * (the ENTER stops there, -EBUSY/fewer consumed, as at a full CQ) or
 * cancel the chain's rest (-ECANCELED).  Checking the policy and filters
 * with the consumer's credentials at consume time would also do.
 * The fix: only SQEs consumed by the same process with the same
 * credentials and umask follow; the sandbox's ENTER, with nothing
 * consumed, waits until the work gave the chain back, then consumes its
 * SQEs and runs them as itself.
 */
TEST_F_TIMEOUT(fa, policy_caller_follows_owner, 120)
{
	struct capchan *ch = &self->ch;
	struct capchan_policy_deny d = {
		.err = -E_DENY, .match = CAPCHAN_POLICY_MATCH_CALLER,
	};
	uint32_t uid = CC_UID_NOBODY;
	struct capchan_denyuid *du;
	struct capchan_cqe c;
	int sv[2], res[3], sub_res, status;
	pid_t pid;

	if (self->sqpoll)
		SKIP(return, "the poll thread consumes every SQE as its owner");
	du = capchan_denyuid__open_and_load();
	if (!du)
		SKIP(return, "the denyuid policy does not load here");
	ASSERT_EQ(0, bpf_map__update_elem(du->maps.uids, &uid, sizeof(uid),
					  &d, sizeof(d), BPF_ANY));
	ASSERT_EQ(0, capchan_denyuid__attach(du));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(sv[0]);
		enterer_child(ch->fd, sv[1]);
	}
	close(sv[1]);

	/* the sandbox's own op: refused */
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 1);
	ASSERT_EQ(1, child_enter(sv[0], 1));
	ASSERT_EQ(0, cc_reap(ch, &c, WAIT_MS));
	EXPECT_EQ(1, c.user_data);
	EXPECT_EQ(-E_DENY, c.res);

	/* root's one SQE: blocks in a worker, its chain goes on */
	push_read(ch, self->fh, CAPCHAN_SQE_LINK | CAPCHAN_SQE_ASYNC,
		  self->u.mem, 0, 2);
	ASSERT_EQ(0, submit_past_block(ch, 1, false, &self->u, &sub_res));
	EXPECT_EQ(1, sub_res);

	/* the sandbox writes and consumes the chain's rest itself */
	push_open(ch, self->dh, CAPCHAN_SQE_LINK, 3);
	cc_push(ch, CAPCHAN_OP_NOP, 0, 0, NULL, 0, 0, 4);
	ASSERT_EQ(0, child_enter_send(sv[0], 2));
	/* its SQEs do not follow root's work: nothing consumed meanwhile */
	EXPECT_EQ(2, cc_fdv(ch->fd, "sq-head"));
	ASSERT_EQ(0, cc_uffd_supply(&self->u, 0));
	/* root's op done, the chain given back: the sandbox's ENTER goes on */
	EXPECT_EQ(2, child_enter_reply(sv[0]));
	ASSERT_EQ(3, cc_pop_seq(ch, 2, 3, res));
	EXPECT_EQ(LEN, res[0]);
	/* the sandbox's OPEN: as refused as its NOP was */
	EXPECT_EQ(-E_DENY, res[1]) TH_LOG("the sandbox's OPEN ran as root: %d",
					  res[1]);
	EXPECT_EQ(-ECANCELED, res[2]) TH_LOG("the sandbox's NOP: %d", res[2]);
	if (cc_handle_ok(res[1]))
		cc_close_cap(ch->fd, res[1]);

	EXPECT_EQ(1, write(sv[0], "q", 1));
	EXPECT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	close(sv[0]);
	EXPECT_EQ(0, cc_wait_fdv(ch->fd, "inflight", 0, WAIT_MS));
	capchan_denyuid__destroy(du);
}

TEST_HARNESS_MAIN
