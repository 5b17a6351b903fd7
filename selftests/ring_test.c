// SPDX-License-Identifier: GPL-2.0
/*
 * Submission through the rings: batches, ordering, linked chains, CQ full
 * (-EBUSY, nothing lost), user-space tampering with ring indices and SQE
 * bytes, poll/epoll readiness, GETEVENTS waits and signals, fdinfo.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#include <sys/epoll.h>

/* ------------------------------------------------------------------ */
/* Ring sizes                                                          */
/* ------------------------------------------------------------------ */

FIXTURE(sizes) {
	struct cc_tree t;
	struct capchan ch;
	uint32_t dh, fh;
};

FIXTURE_VARIANT(sizes) {
	unsigned int sq;
};

FIXTURE_VARIANT_ADD(sizes, sq1) { .sq = 1 };
FIXTURE_VARIANT_ADD(sizes, sq8) { .sq = 8 };
FIXTURE_VARIANT_ADD(sizes, sq256) { .sq = 256 };
FIXTURE_VARIANT_ADD(sizes, sq4096) { .sq = 4096 };

FIXTURE_SETUP(sizes)
{
	int h;

	self->ch.fd = -1;
	ASSERT_EQ(0, cc_tree_create(&self->t, "ring"));
	ASSERT_EQ(0, capchan_queue_init(variant->sq, &self->ch, 0));
	ASSERT_EQ(variant->sq, self->ch.sq.ring_entries);
	ASSERT_EQ(2 * variant->sq, self->ch.cq.ring_entries);
	h = capchan_grant(&self->ch, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, h);
	self->dh = h;
	h = capchan_open_beneath(&self->ch, self->dh, "file", 0, 0,
				 R_READ | R_SEEK | R_STAT);
	ASSERT_LT(0, h);
	self->fh = h;
}

FIXTURE_TEARDOWN(sizes)
{
	capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
}

/*
 * NOP batches of 1, half and all of the SQ, repeated so the free-running
 * counters wrap around the rings several times; every CQE exactly once, in
 * order, with its user_data.
 */
TEST_F_TIMEOUT(sizes, nop_batches, 120)
{
	const unsigned int sq = variant->sq;
	const unsigned int batches[] = { 1, sq / 2 ? sq / 2 : 1, sq };
	uint64_t next_ud = 1, expect_ud = 1, total = 0;

	for (size_t b = 0; b < CC_ARRAY_SIZE(batches); b++) {
		unsigned int n = batches[b];
		unsigned int rounds = 3 * (2 * sq) / n + 2;

		if (rounds > 64)
			rounds = 64;
		for (unsigned int r = 0; r < rounds; r++) {
			struct capchan_cqe *cqe;

			for (unsigned int i = 0; i < n; i++) {
				struct capchan_sqe *sqe = capchan_get_sqe(&self->ch);

				ASSERT_NE(NULL, sqe);
				capchan_prep_nop(sqe);
				capchan_sqe_set_data64(sqe, next_ud++);
			}
			ASSERT_EQ(n, capchan_submit_and_wait(&self->ch, n));
			ASSERT_EQ(n, capchan_cq_ready(&self->ch));
			for (unsigned int i = 0; i < n; i++) {
				ASSERT_EQ(0, capchan_peek_cqe(&self->ch, &cqe));
				ASSERT_EQ(expect_ud, cqe->user_data);
				ASSERT_EQ(0, cqe->res);
				ASSERT_EQ(0, cqe->flags);
				expect_ud++;
				capchan_cqe_seen(&self->ch, cqe);
			}
			ASSERT_EQ(-EAGAIN, capchan_peek_cqe(&self->ch, &cqe));
			total += n;
		}
	}
	EXPECT_EQ(next_ud - 1, total);
	EXPECT_EQ(*self->ch.sq.khead, (unsigned int)total);
	EXPECT_EQ(*self->ch.cq.ktail, (unsigned int)total);
	EXPECT_EQ(0, *self->ch.cq.koverflow);
	EXPECT_EQ(0, *self->ch.sq.kdropped);
}

/* The whole file in 512-byte READs at explicit offsets through the SQ. */
TEST_F(sizes, reads)
{
	const unsigned int chunk = 512;
	const unsigned int nchunks = (CC_FILE_LEN + chunk - 1) / chunk;
	unsigned char *out = calloc(nchunks, chunk);
	unsigned int done = 0;

	ASSERT_NE(NULL, out);
	while (done < nchunks) {
		unsigned int n = 0, got = 0;
		struct capchan_sqe *sqe;
		struct capchan_cqe *cqe;

		while (done + n < nchunks && (sqe = capchan_get_sqe(&self->ch))) {
			unsigned int c = done + n;

			capchan_prep_read(sqe, self->fh, out + c * chunk, chunk,
					  (uint64_t)c * chunk);
			capchan_sqe_set_data64(sqe, c);
			n++;
		}
		ASSERT_LT(0, n);
		ASSERT_EQ(n, capchan_submit_and_wait(&self->ch, n));
		while (capchan_peek_cqe(&self->ch, &cqe) == 0) {
			unsigned int c = (unsigned int)cqe->user_data;
			unsigned int want = c == nchunks - 1 ?
				CC_FILE_LEN - c * chunk : chunk;

			ASSERT_EQ(done + got, c);
			ASSERT_EQ(want, cqe->res);
			got++;
			capchan_cqe_seen(&self->ch, cqe);
		}
		ASSERT_EQ(n, got);
		done += n;
	}
	EXPECT_EQ(0, memcmp(out, self->t.data, CC_FILE_LEN));
	free(out);
}

/* Errors through the ring are CQEs, never lost. */
TEST_F(sizes, errors_in_cqes)
{
	const unsigned int n = variant->sq;
	struct capchan_sqe *sqe;
	struct capchan_cqe *cqe;
	char buf[8];

	for (unsigned int i = 0; i < n; i++) {
		sqe = capchan_get_sqe(&self->ch);
		ASSERT_NE(NULL, sqe);
		switch (i % 4) {
		case 0: capchan_prep_read(sqe, 0, buf, 8, 0); break;
		case 1: capchan_prep_read(sqe, self->dh, buf, 8, 0); break;
		case 2: capchan_prep_nop(sqe); sqe->resv2 = 1; break;
		case 3: capchan_prep_read(sqe, self->fh, buf, 8, 0); break;
		}
		capchan_sqe_set_data64(sqe, i);
	}
	ASSERT_EQ(n, capchan_submit(&self->ch));
	for (unsigned int i = 0; i < n; i++) {
		const int want[] = { -EBADF, -EISDIR, -EINVAL, 8 };

		ASSERT_EQ(0, capchan_peek_cqe(&self->ch, &cqe));
		EXPECT_EQ(i, cqe->user_data);
		EXPECT_EQ(want[i % 4], cqe->res) TH_LOG("sqe %u", i);
		capchan_cqe_seen(&self->ch, cqe);
	}
	EXPECT_EQ(-EAGAIN, capchan_peek_cqe(&self->ch, &cqe));
}

/* ------------------------------------------------------------------ */
/* Raw ring tests (a 16-entry SQ, 32-entry CQ)                         */
/* ------------------------------------------------------------------ */

FIXTURE(ring) {
	struct cc_tree t;
	struct capchan ch;
	struct capchan_params p;
	uint32_t dh, fh;
	char buf[256];
};

FIXTURE_SETUP(ring)
{
	int h;

	self->ch.fd = -1;
	ASSERT_EQ(0, cc_tree_create(&self->t, "ring"));
	memset(&self->p, 0, sizeof(self->p));
	ASSERT_EQ(0, capchan_queue_init_params(16, &self->ch, &self->p));
	h = capchan_grant(&self->ch, self->t.jail_fd, R_ALL);
	ASSERT_LT(0, h);
	self->dh = h;
	h = capchan_open_beneath(&self->ch, self->dh, "file", 0, 0,
				 R_READ | R_SEEK | R_STAT | R_DERIVE);
	ASSERT_LT(0, h);
	self->fh = h;
}

FIXTURE_TEARDOWN(ring)
{
	capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
}

static void push(FIXTURE_DATA(ring) *self, struct capchan_sqe *s,
		 uint64_t ud, unsigned int flags)
{
	s->user_data = ud;
	s->flags = flags;
	cc_sq_push(&self->ch, s);
}

static void push_nop(FIXTURE_DATA(ring) *self, uint64_t ud, unsigned int flags)
{
	struct capchan_sqe s;

	cc_sqe(&s, CAPCHAN_OP_NOP, 0);
	push(self, &s, ud, flags);
}

/* Pop exactly n CQEs into out[]; returns how many were there. */
static unsigned int pop_all(FIXTURE_DATA(ring) *self, struct capchan_cqe *out,
			    unsigned int max)
{
	unsigned int n = 0;

	while (n < max && cc_cq_pop(&self->ch, &out[n]) == 0)
		n++;
	return n;
}

TEST_F(ring, enter_counts)
{
	struct capchan_cqe c[32];

	/* Nothing queued. */
	EXPECT_EQ(0, cc_enter(self->ch.fd, 0, 0, 0));
	EXPECT_EQ(0, cc_enter(self->ch.fd, 5, 0, 0));
	/* to_submit beyond what is queued. */
	for (int i = 0; i < 3; i++)
		push_nop(self, i, 0);
	EXPECT_EQ(3, cc_enter(self->ch.fd, 100, 0, 0));
	/* to_submit below what is queued. */
	for (int i = 3; i < 8; i++)
		push_nop(self, i, 0);
	EXPECT_EQ(2, cc_enter(self->ch.fd, 2, 0, 0));
	EXPECT_EQ(5, *self->ch.sq.khead);
	EXPECT_EQ(3, cc_enter(self->ch.fd, 0xffffffff, 0, 0));
	EXPECT_EQ(8, *self->ch.sq.khead);
	ASSERT_EQ(8, pop_all(self, c, 32));
	for (int i = 0; i < 8; i++) {
		EXPECT_EQ(i, c[i].user_data);
		EXPECT_EQ(0, c[i].res);
	}
	/* GETEVENTS with enough already pending returns at once. */
	push_nop(self, 100, 0);
	push_nop(self, 101, 0);
	EXPECT_EQ(2, cc_enter(self->ch.fd, 2, 2, CAPCHAN_ENTER_GETEVENTS));
	EXPECT_EQ(0, cc_enter(self->ch.fd, 0, 1, CAPCHAN_ENTER_GETEVENTS));
	EXPECT_EQ(0, cc_enter(self->ch.fd, 0, 2, CAPCHAN_ENTER_GETEVENTS));
	ASSERT_EQ(2, pop_all(self, c, 32));
	EXPECT_EQ(100, c[0].user_data);
	EXPECT_EQ(101, c[1].user_data);
}

TEST_F(ring, enter_validation)
{
	struct capchan_enter e;

	memset(&e, 0, sizeof(e));
	e.resv0 = 1;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ch.fd, CAPCHAN_IOC_ENTER, &e));
	EXPECT_EQ(EINVAL, errno);
	for (int i = 0; i < 2; i++) {
		memset(&e, 0, sizeof(e));
		e.resv[i] = 1ULL << 33;
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->ch.fd, CAPCHAN_IOC_ENTER, &e));
		EXPECT_EQ(EINVAL, errno) TH_LOG("resv[%d]", i);
	}
	for (int bit = 1; bit < 32; bit++) {
		memset(&e, 0, sizeof(e));
		e.flags = 1U << bit;
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->ch.fd, CAPCHAN_IOC_ENTER, &e));
		EXPECT_EQ(EINVAL, errno) TH_LOG("flag bit %d", bit);
	}
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ch.fd, CAPCHAN_IOC_ENTER, NULL));
	EXPECT_EQ(EFAULT, errno);
	/* A rejected ENTER consumed nothing. */
	push_nop(self, 7, 0);
	memset(&e, 0, sizeof(e));
	e.to_submit = 1;
	e.resv0 = 1;
	EXPECT_EQ(-1, ioctl(self->ch.fd, CAPCHAN_IOC_ENTER, &e));
	EXPECT_EQ(0, *self->ch.sq.khead);
	EXPECT_EQ(1, cc_enter(self->ch.fd, 1, 0, 0));
}

/* ------------------------------------------------------------------ */
/* Linked chains                                                       */
/* ------------------------------------------------------------------ */

TEST_F(ring, chain_failure_cancels_rest)
{
	const int want[] = { 0, -EBADF, -ECANCELED, -ECANCELED, 0, 0, 8 };
	struct capchan_cqe c[32];
	struct capchan_sqe s;

	push_nop(self, 1, CAPCHAN_SQE_LINK);
	capchan_prep_read(&s, 0x7777, self->buf, 8, 0);	/* bad handle */
	push(self, &s, 2, CAPCHAN_SQE_LINK);
	push_nop(self, 3, CAPCHAN_SQE_LINK);
	capchan_prep_read(&s, self->fh, self->buf, 8, 0);	/* would work */
	push(self, &s, 4, 0);
	push_nop(self, 5, 0);			/* not part of the chain */
	/* A second chain that succeeds. */
	push_nop(self, 6, CAPCHAN_SQE_LINK);
	capchan_prep_read(&s, self->fh, self->buf, 8, 0);
	push(self, &s, 7, 0);
	ASSERT_EQ(7, cc_enter(self->ch.fd, 7, 0, 0));
	ASSERT_EQ(7, pop_all(self, c, 32));
	for (int i = 0; i < 7; i++) {
		EXPECT_EQ(i + 1, c[i].user_data);
		EXPECT_EQ(want[i], c[i].res) TH_LOG("sqe %d", i + 1);
	}
}

/* The flagship batch: open + read + close in one submission. */
TEST_F(ring, chain_open_read_close)
{
	struct capchan_cqe c[32];
	struct capchan_sqe s;
	struct cc_fdinfo *fi = malloc(sizeof(*fi));

	ASSERT_NE(NULL, fi);
	memset(self->buf, 0, sizeof(self->buf));
	capchan_prep_open(&s, self->dh, "hello", 0, 0, R_READ);
	push(self, &s, 1, CAPCHAN_SQE_LINK);
	capchan_prep_read(&s, CAPCHAN_HANDLE_CHAIN, self->buf,
			  sizeof(self->buf), CAPCHAN_OFF_CURRENT);
	push(self, &s, 2, CAPCHAN_SQE_LINK);
	capchan_prep_close(&s, CAPCHAN_HANDLE_CHAIN);
	push(self, &s, 3, 0);
	ASSERT_EQ(3, cc_enter(self->ch.fd, 3, 3, CAPCHAN_ENTER_GETEVENTS));
	ASSERT_EQ(3, pop_all(self, c, 32));
	EXPECT_EQ(1, c[0].user_data);
	EXPECT_LT(0, c[0].res);
	EXPECT_EQ(2, c[1].user_data);
	EXPECT_EQ(strlen(CC_HELLO), c[1].res);
	EXPECT_STREQ(CC_HELLO, self->buf);
	EXPECT_EQ(3, c[2].user_data);
	EXPECT_EQ(0, c[2].res);
	/* The opened handle is gone again. */
	EXPECT_EQ(-EBADF, capchan_read(&self->ch, c[0].res, self->buf, 4,
				       CAPCHAN_OFF_CURRENT));
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(2, fi->caps);		/* dh and fh */
	free(fi);
}

TEST_F(ring, chain_open_fails)
{
	struct capchan_cqe c[32];
	struct capchan_sqe s;

	capchan_prep_open(&s, self->dh, "missing", 0, 0, R_READ);
	push(self, &s, 1, CAPCHAN_SQE_LINK);
	capchan_prep_read(&s, CAPCHAN_HANDLE_CHAIN, self->buf, 16,
			  CAPCHAN_OFF_CURRENT);
	push(self, &s, 2, CAPCHAN_SQE_LINK);
	capchan_prep_close(&s, CAPCHAN_HANDLE_CHAIN);
	push(self, &s, 3, 0);
	ASSERT_EQ(3, cc_enter(self->ch.fd, 3, 0, 0));
	ASSERT_EQ(3, pop_all(self, c, 32));
	EXPECT_EQ(-ENOENT, c[0].res);
	EXPECT_EQ(-ECANCELED, c[1].res);
	EXPECT_EQ(-ECANCELED, c[2].res);
}

/* CHAIN names the latest OPEN/DERIVE/IMPORT of this chain only. */
TEST_F(ring, chain_handle_sources)
{
	struct capchan_cqe c[32];
	struct capchan_sqe s;
	int capfd;

	/* No source earlier in the chain. */
	push_nop(self, 1, CAPCHAN_SQE_LINK);
	capchan_prep_read(&s, CAPCHAN_HANDLE_CHAIN, self->buf, 8, 0);
	push(self, &s, 2, 0);
	/* Outside any chain. */
	capchan_prep_read(&s, CAPCHAN_HANDLE_CHAIN, self->buf, 8, 0);
	push(self, &s, 3, 0);
	ASSERT_EQ(3, cc_enter(self->ch.fd, 3, 0, 0));
	ASSERT_EQ(3, pop_all(self, c, 32));
	EXPECT_EQ(0, c[0].res);
	EXPECT_EQ(-EBADF, c[1].res);
	EXPECT_EQ(-EBADF, c[2].res);

	/* The latest of two OPENs. */
	capchan_prep_open(&s, self->dh, "hello", 0, 0, R_READ);
	push(self, &s, 10, CAPCHAN_SQE_LINK);
	capchan_prep_open(&s, self->dh, "sub/inner", 0, 0, R_READ);
	push(self, &s, 11, CAPCHAN_SQE_LINK);
	memset(self->buf, 0, sizeof(self->buf));
	capchan_prep_read(&s, CAPCHAN_HANDLE_CHAIN, self->buf, 64,
			  CAPCHAN_OFF_CURRENT);
	push(self, &s, 12, 0);
	ASSERT_EQ(3, cc_enter(self->ch.fd, 3, 0, 0));
	ASSERT_EQ(3, pop_all(self, c, 32));
	EXPECT_LT(0, c[0].res);
	EXPECT_LT(0, c[1].res);
	EXPECT_NE(c[0].res, c[1].res);
	EXPECT_EQ(6, c[2].res);
	EXPECT_STREQ("inner\n", self->buf);
	EXPECT_EQ(0, capchan_close(&self->ch, c[0].res));
	EXPECT_EQ(0, capchan_close(&self->ch, c[1].res));

	/* DERIVE as a source; a failing use cancels the CLOSE. */
	capchan_prep_derive(&s, self->fh, R_READ);
	push(self, &s, 20, CAPCHAN_SQE_LINK);
	capchan_prep_stat(&s, CAPCHAN_HANDLE_CHAIN,
			  (struct capchan_stat *)self->buf);
	push(self, &s, 21, CAPCHAN_SQE_LINK);	/* no STAT right */
	capchan_prep_close(&s, CAPCHAN_HANDLE_CHAIN);
	push(self, &s, 22, 0);
	ASSERT_EQ(3, cc_enter(self->ch.fd, 3, 0, 0));
	ASSERT_EQ(3, pop_all(self, c, 32));
	EXPECT_LT(0, c[0].res);
	EXPECT_EQ(-EPERM, c[1].res);
	EXPECT_EQ(-ECANCELED, c[2].res);
	EXPECT_EQ(0, capchan_close(&self->ch, c[0].res));	/* still open */

	/*
	 * IMPORT (and EXPORT) name file descriptors of whoever calls, so they
	 * run only through INVOKE: from the rings they are refused, and the
	 * rest of their chain is cancelled.
	 */
	capfd = capchan_export(&self->ch, self->dh, R_LOOKUP | R_READ);
	ASSERT_LE(0, capfd);
	capchan_prep_import(&s, capfd);
	push(self, &s, 30, CAPCHAN_SQE_LINK);
	capchan_prep_open(&s, CAPCHAN_HANDLE_CHAIN, "sub/deeper/leaf", 0, 0,
			  R_READ);
	push(self, &s, 31, 0);
	capchan_prep_export(&s, self->dh, R_READ);
	push(self, &s, 32, 0);
	ASSERT_EQ(3, cc_enter(self->ch.fd, 3, 0, 0));
	ASSERT_EQ(3, pop_all(self, c, 32));
	EXPECT_EQ(-EOPNOTSUPP, c[0].res);
	EXPECT_EQ(-ECANCELED, c[1].res);
	EXPECT_EQ(-EOPNOTSUPP, c[2].res);
	close(capfd);
}

/* LINK links the next SQE, even one submitted by a later ENTER. */
TEST_F(ring, chain_spans_enter)
{
	struct capchan_cqe c[4];
	struct capchan_sqe s;

	capchan_prep_read(&s, 0x7777, self->buf, 8, 0);	/* fails */
	push(self, &s, 1, CAPCHAN_SQE_LINK);
	ASSERT_EQ(1, cc_enter(self->ch.fd, 1, 0, 0));
	ASSERT_EQ(1, pop_all(self, c, 4));
	EXPECT_EQ(-EBADF, c[0].res);
	push_nop(self, 2, 0);
	ASSERT_EQ(1, cc_enter(self->ch.fd, 1, 0, 0));
	push_nop(self, 3, 0);
	ASSERT_EQ(1, cc_enter(self->ch.fd, 1, 0, 0));
	ASSERT_EQ(2, pop_all(self, c, 4));
	EXPECT_EQ(2, c[0].user_data);
	EXPECT_EQ(-ECANCELED, c[0].res);
	EXPECT_EQ(3, c[1].user_data);
	EXPECT_EQ(0, c[1].res);
}

/* Each chain has its own CHAIN handle. */
TEST_F(ring, chain_handle_not_inherited)
{
	struct capchan_cqe c[32];
	struct capchan_sqe s;

	capchan_prep_open(&s, self->dh, "hello", 0, 0, R_READ);
	push(self, &s, 1, 0);				/* chain of one */
	capchan_prep_read(&s, CAPCHAN_HANDLE_CHAIN, self->buf, 8, 0);
	push(self, &s, 2, 0);				/* a new chain */
	ASSERT_EQ(2, cc_enter(self->ch.fd, 2, 0, 0));
	ASSERT_EQ(2, pop_all(self, c, 32));
	EXPECT_LT(0, c[0].res);
	EXPECT_EQ(-EBADF, c[1].res);
}

/* ------------------------------------------------------------------ */
/* CQ full: -EBUSY and nothing lost                                    */
/* ------------------------------------------------------------------ */

TEST(cq_full_ebusy)
{
	struct capchan_params p;
	struct capchan ch;
	struct capchan_cqe c;
	unsigned int next = 0, seen = 0;

	memset(&p, 0, sizeof(p));
	p.flags = CAPCHAN_SETUP_CQSIZE;
	p.cq_entries = 4;
	ASSERT_EQ(0, capchan_queue_init_params(4, &ch, &p));
	ASSERT_EQ(4, ch.cq.ring_entries);

#define PUSH_NOP() do {							\
		struct capchan_sqe s_;					\
		cc_sqe(&s_, CAPCHAN_OP_NOP, 0);				\
		s_.user_data = next++;					\
		cc_sq_push(&ch, &s_);					\
	} while (0)
#define POP(n) do {							\
		for (int k_ = 0; k_ < (n); k_++) {			\
			ASSERT_EQ(0, cc_cq_pop(&ch, &c));		\
			ASSERT_EQ(seen, c.user_data);			\
			ASSERT_EQ(0, c.res);				\
			seen++;						\
		}							\
	} while (0)

	for (int i = 0; i < 4; i++)
		PUSH_NOP();
	ASSERT_EQ(4, cc_enter(ch.fd, 4, 0, 0));
	ASSERT_EQ(4, cc_cq_pending(&ch));
	/* CQ full: nothing can be consumed. */
	for (int i = 0; i < 4; i++)
		PUSH_NOP();
	EXPECT_EQ(-EBUSY, cc_enter(ch.fd, 4, 0, 0));
	EXPECT_EQ(-EBUSY, cc_enter(ch.fd, 1, 0, 0));
	EXPECT_EQ(-EBUSY, cc_enter(ch.fd, 4, 1, CAPCHAN_ENTER_GETEVENTS));
	EXPECT_EQ(4, *ch.sq.khead);		/* nothing consumed */
	EXPECT_EQ(4, *ch.cq.ktail);
	EXPECT_EQ(0, *ch.cq.koverflow);
	/* Waiting only (to_submit 0) is fine with CQEs pending. */
	EXPECT_EQ(0, cc_enter(ch.fd, 0, 1, CAPCHAN_ENTER_GETEVENTS));
	/* Two places: exactly two consumed. */
	POP(2);
	EXPECT_EQ(2, cc_enter(ch.fd, 4, 0, 0));
	EXPECT_EQ(6, *ch.sq.khead);
	EXPECT_EQ(-EBUSY, cc_enter(ch.fd, 4, 0, 0));
	POP(4);
	EXPECT_EQ(2, cc_enter(ch.fd, 4, 0, 0));
	POP(2);
	EXPECT_EQ(-EAGAIN, cc_cq_pop(&ch, &c));
	EXPECT_EQ(8, seen);
	EXPECT_EQ(8, next);
	capchan_queue_exit(&ch);
#undef PUSH_NOP
#undef POP
}

/* ------------------------------------------------------------------ */
/* Tampering with what user space owns (and what it does not)          */
/* ------------------------------------------------------------------ */

/* SQ tail far ahead: clamped to the SQ size, garbage is not double-run. */
TEST_F(ring, garbage_sq_tail)
{
	struct capchan_cqe c[64];
	struct capchan_sqe s;
	unsigned int head;

	for (unsigned int i = 0; i < 16; i++) {
		cc_sqe(&s, CAPCHAN_OP_NOP, 0);
		s.user_data = i;
		self->ch.sq.sqes[i] = s;
	}
	*self->ch.sq.ktail = 1000000;
	EXPECT_EQ(16, cc_enter(self->ch.fd, 0xffffffff, 0, 0));
	EXPECT_EQ(16, *self->ch.sq.khead);
	EXPECT_EQ(16, cc_enter(self->ch.fd, 1000, 0, 0));
	EXPECT_EQ(32, *self->ch.sq.khead);
	/* CQ (32) now full. */
	EXPECT_EQ(-EBUSY, cc_enter(self->ch.fd, 1000, 0, 0));
	ASSERT_EQ(32, pop_all(self, c, 64));
	for (unsigned int i = 0; i < 32; i++) {
		EXPECT_EQ(i % 16, c[i].user_data);
		EXPECT_EQ(0, c[i].res);
	}
	/* Tail behind head: also clamped. */
	head = *self->ch.sq.khead;
	*self->ch.sq.ktail = head - 1;
	EXPECT_EQ(16, cc_enter(self->ch.fd, 16, 0, 0));
	ASSERT_EQ(16, pop_all(self, c, 64));
	/* Back to sane: nothing queued, then normal use. */
	head = *self->ch.sq.khead;
	EXPECT_EQ(48, head);
	*self->ch.sq.ktail = head;
	EXPECT_EQ(0, cc_enter(self->ch.fd, 10, 0, 0));
	push_nop(self, 4242, 0);
	EXPECT_EQ(1, cc_enter(self->ch.fd, 1, 0, 0));
	ASSERT_EQ(1, pop_all(self, c, 64));
	EXPECT_EQ(4242, c[0].user_data);
	EXPECT_EQ(0, c[0].res);
}

/* CQ head ahead of the tail, or far behind it: treated as full. */
TEST_F(ring, garbage_cq_head)
{
	struct capchan_cqe c[64];
	unsigned int tail;

	for (int i = 0; i < 3; i++)
		push_nop(self, i, 0);
	ASSERT_EQ(3, cc_enter(self->ch.fd, 3, 0, 0));
	ASSERT_EQ(3, pop_all(self, c, 64));
	tail = *self->ch.cq.ktail;
	ASSERT_EQ(3, tail);

	push_nop(self, 100, 0);
	*self->ch.cq.khead = tail + 5;			/* ahead */
	EXPECT_EQ(-EBUSY, cc_enter(self->ch.fd, 1, 0, 0));
	*self->ch.cq.khead = tail + 0x80000000u;
	EXPECT_EQ(-EBUSY, cc_enter(self->ch.fd, 1, 0, 0));
	*self->ch.cq.khead = tail - 1000;		/* far behind */
	EXPECT_EQ(-EBUSY, cc_enter(self->ch.fd, 1, 0, 0));
	*self->ch.cq.khead = tail - 32;			/* exactly full */
	EXPECT_EQ(-EBUSY, cc_enter(self->ch.fd, 1, 0, 0));
	EXPECT_EQ(3, *self->ch.sq.khead);		/* nothing consumed */
	EXPECT_EQ(tail, *self->ch.cq.ktail);
	*self->ch.cq.khead = tail - 31;			/* one place */
	push_nop(self, 101, 0);
	EXPECT_EQ(1, cc_enter(self->ch.fd, 2, 0, 0));
	EXPECT_EQ(tail + 1, *self->ch.cq.ktail);
	EXPECT_EQ(100, self->ch.cq.cqes[tail & 31].user_data);
	/* Sane again: the rest goes through; nothing lost or doubled. */
	*self->ch.cq.khead = tail + 1;
	EXPECT_EQ(1, cc_enter(self->ch.fd, 1, 0, 0));
	ASSERT_EQ(1, pop_all(self, c, 64));
	EXPECT_EQ(101, c[0].user_data);
	EXPECT_EQ(-EAGAIN, cc_cq_pop(&self->ch, &c[0]));
}

/* Counters the module owns: scribbling on them changes nothing. */
TEST_F(ring, module_owned_fields_ignored)
{
	struct capchan_cqe c[4];
	char *r = self->ch.ring_ptr;

	*self->ch.sq.khead = 12345;
	*self->ch.cq.ktail = 999;
	*(unsigned int *)(r + self->p.sq_off.ring_mask) = 0xffffffff;
	*(unsigned int *)(r + self->p.sq_off.ring_entries) = 0;
	*(unsigned int *)(r + self->p.cq_off.ring_mask) = 0xffffffff;
	*(unsigned int *)(r + self->p.cq_off.ring_entries) = 1;
	*self->ch.sq.kflags = 0xffffffff;
	*self->ch.cq.koverflow = 77;

	push_nop(self, 55, 0);
	EXPECT_EQ(1, cc_enter(self->ch.fd, 1, 0, 0));
	/* The module rewrote its counters from its private copies. */
	EXPECT_EQ(1, *self->ch.sq.khead);
	EXPECT_EQ(1, *self->ch.cq.ktail);
	ASSERT_EQ(1, pop_all(self, c, 4));
	EXPECT_EQ(55, c[0].user_data);
	EXPECT_EQ(0, c[0].res);
	EXPECT_EQ(0, c[0].flags);
}

/* SQEs full of random bytes: one -EINVAL CQE each. */
TEST_F(ring, garbage_sqes)
{
	struct capchan_cqe c[64];
	unsigned int total = 0;

	for (unsigned int round = 0; round < 20; round++) {
		unsigned int n = 16;

		for (unsigned int i = 0; i < n; i++) {
			struct capchan_sqe s;

			cc_fill_pattern((unsigned char *)&s, sizeof(s),
					round * 100 + i + 7);
			s.flags = 0;
			s.user_data = total + i;
			if (!s.resv1 && !s.resv2)
				s.resv1 = 1;
			cc_sq_push(&self->ch, &s);
		}
		ASSERT_EQ(n, cc_enter(self->ch.fd, n, 0, 0));
		ASSERT_EQ(n, pop_all(self, c, 64));
		for (unsigned int i = 0; i < n; i++) {
			EXPECT_EQ(total + i, c[i].user_data);
			EXPECT_EQ(-EINVAL, c[i].res);
		}
		total += n;
	}
	/* Random bytes with the reserved fields zero: only errors. */
	for (unsigned int round = 0; round < 20; round++) {
		unsigned int n = 16;

		for (unsigned int i = 0; i < n; i++) {
			struct capchan_sqe s;

			cc_fill_pattern((unsigned char *)&s, sizeof(s),
					round * 1000 + i + 99991);
			s.flags = 0;
			s.resv0 = 0;
			s.resv1 = 0;
			s.resv2 = 0;
			s.user_data = total + i;
			cc_sq_push(&self->ch, &s);
		}
		ASSERT_EQ(n, cc_enter(self->ch.fd, n, 0, 0));
		ASSERT_EQ(n, pop_all(self, c, 64));
		for (unsigned int i = 0; i < n; i++) {
			EXPECT_EQ(total + i, c[i].user_data);
			EXPECT_GT(0, c[i].res);
		}
		total += n;
	}
	/* The channel is intact. */
	EXPECT_EQ(8, capchan_read(&self->ch, self->fh, self->buf, 8, 0));
	EXPECT_EQ(0, memcmp(self->buf, self->t.data, 8));
}

/*
 * A thread scribbles on everything user space can write (SQ tail, CQ head,
 * SQEs) while the main thread keeps entering: every ENTER returns a count
 * or -EBUSY, nothing hangs, and the channel is usable afterwards.
 */
struct scribble {
	struct capchan *ch;
	atomic_int stop;
	unsigned long writes;
};

static void *scribbler(void *arg)
{
	struct scribble *sc = arg;
	uint32_t x = 2463534242u;
	unsigned int n = sc->ch->sq.ring_entries;

	while (!atomic_load(&sc->stop)) {
		x ^= x << 13; x ^= x >> 17; x ^= x << 5;
		switch (x % 4) {
		case 0:
			__atomic_store_n(sc->ch->sq.ktail, x >> 3, __ATOMIC_RELAXED);
			break;
		case 1:
			__atomic_store_n(sc->ch->cq.khead, x >> 5, __ATOMIC_RELAXED);
			break;
		default: {
			unsigned char *p = (unsigned char *)
				&sc->ch->sq.sqes[(x >> 8) % n];

			p[(x >> 16) % sizeof(struct capchan_sqe)] = (unsigned char)x;
			break;
		}
		}
		sc->writes++;
	}
	return NULL;
}

TEST_F_TIMEOUT(ring, scribble_while_entering, 120)
{
	struct scribble sc = { .ch = &self->ch };
	struct capchan_cqe c[64];
	unsigned long enters = 0, bad = 0;
	pthread_t th;
	int h;
	double end;

	/* Start from NOPs so some of them run. */
	for (int i = 0; i < 16; i++)
		push_nop(self, i, 0);
	ASSERT_EQ(0, pthread_create(&th, NULL, scribbler, &sc));
	end = cc_now() + 2.0;
	while (cc_now() < end) {
		int r = cc_enter(self->ch.fd, 1 + enters % 40, 0, 0);

		if (r < 0 && r != -EBUSY)
			bad++;
		if (r > 16)
			bad++;
		enters++;
	}
	atomic_store(&sc.stop, 1);
	pthread_join(th, NULL);
	EXPECT_EQ(0, bad);
	TH_LOG("%lu enters, %lu scribbles", enters, sc.writes);

	/* Make the indices sane: SQ empty, CQ empty. */
	*self->ch.sq.ktail = *self->ch.sq.khead;
	*self->ch.cq.khead = *self->ch.cq.ktail;
	EXPECT_EQ(0, cc_enter(self->ch.fd, 16, 0, 0));
	/*
	 * The last scribbled SQE may have carried LINK and failed: a chain
	 * continues into the next ENTER, so the first NOP may be cancelled.
	 * It ends that chain; the second one runs.
	 */
	push_nop(self, 998, 0);
	push_nop(self, 999, 0);
	EXPECT_EQ(2, cc_enter(self->ch.fd, 2, 0, 0));
	ASSERT_EQ(2, pop_all(self, c, 64));
	EXPECT_EQ(998, c[0].user_data);
	EXPECT_TRUE(c[0].res == 0 || c[0].res == -ECANCELED) TH_LOG("%d", c[0].res);
	EXPECT_EQ(999, c[1].user_data);
	EXPECT_EQ(0, c[1].res);
	/*
	 * Scribbled SQEs may have closed or revoked the fixture's handles
	 * (they are valid ops on guessable handles); a fresh root works.
	 */
	h = capchan_grant(&self->ch, self->t.jail_fd, R_LOOKUP | R_READ);
	ASSERT_LT(0, h);
	h = capchan_open_beneath(&self->ch, h, "hello", 0, 0, R_READ);
	ASSERT_LT(0, h);
	memset(self->buf, 0, sizeof(self->buf));
	EXPECT_EQ(strlen(CC_HELLO), capchan_read(&self->ch, h, self->buf, 64,
						 CAPCHAN_OFF_CURRENT));
	EXPECT_STREQ(CC_HELLO, self->buf);
}

/* ------------------------------------------------------------------ */
/* Waiting: poll, epoll, GETEVENTS                                     */
/* ------------------------------------------------------------------ */

TEST_F(ring, poll_readiness)
{
	struct pollfd pfd = { .fd = self->ch.fd, .events = POLLIN | POLLRDNORM };
	struct capchan_cqe c[4];

	EXPECT_EQ(0, poll(&pfd, 1, 0));
	EXPECT_EQ(0, pfd.revents);
	push_nop(self, 1, 0);
	/* Queued but not submitted: still nothing to reap. */
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	ASSERT_EQ(1, cc_enter(self->ch.fd, 1, 0, 0));
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN | POLLRDNORM, pfd.revents);
	/* Never writable, never an error. */
	pfd.events = POLLIN | POLLOUT | POLLPRI;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN, pfd.revents);
	pfd.events = POLLIN | POLLRDNORM;
	ASSERT_EQ(1, pop_all(self, c, 4));
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	EXPECT_EQ(0, pfd.revents);
}

TEST_F(ring, epoll_readiness)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0xabc };
	struct epoll_event out[2];
	struct capchan_cqe c[4];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->ch.fd, &ev));
	EXPECT_EQ(0, epoll_wait(ep, out, 2, 0));
	push_nop(self, 1, 0);
	push_nop(self, 2, 0);
	ASSERT_EQ(2, cc_enter(self->ch.fd, 2, 0, 0));
	ASSERT_EQ(1, epoll_wait(ep, out, 2, 1000));
	EXPECT_EQ(0xabc, out[0].data.u64);
	EXPECT_EQ(EPOLLIN, out[0].events);	/* masked by what was asked */
	ASSERT_EQ(2, pop_all(self, c, 4));
	EXPECT_EQ(0, epoll_wait(ep, out, 2, 0));
	close(ep);
}

struct late_submit {
	FIXTURE_DATA(ring) *self;
	int delay_ms;
	int res;
};

static void *late_submitter(void *arg)
{
	struct late_submit *ls = arg;

	usleep(ls->delay_ms * 1000);
	push_nop(ls->self, 0x5151, 0);
	ls->res = cc_enter(ls->self->ch.fd, 1, 0, 0);
	return NULL;
}

/* A blocked poll() is woken by a completion posted by another thread. */
TEST_F(ring, poll_wakeup)
{
	struct pollfd pfd = { .fd = self->ch.fd, .events = POLLIN };
	struct late_submit ls = { .self = self, .delay_ms = 200 };
	struct capchan_cqe c[4];
	pthread_t th;
	double t0;

	ASSERT_EQ(0, pthread_create(&th, NULL, late_submitter, &ls));
	t0 = cc_now();
	EXPECT_EQ(1, poll(&pfd, 1, 10000));
	EXPECT_GT(9.0, cc_now() - t0);
	pthread_join(th, NULL);
	EXPECT_EQ(1, ls.res);
	ASSERT_EQ(1, pop_all(self, c, 4));
	EXPECT_EQ(0x5151, c[0].user_data);
}

/* GETEVENTS blocks until another thread's ENTER posts a CQE. */
TEST_F_TIMEOUT(ring, getevents_wakeup, 30)
{
	struct late_submit ls = { .self = self, .delay_ms = 200 };
	struct capchan_cqe c[4];
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, late_submitter, &ls));
	EXPECT_EQ(0, cc_enter(self->ch.fd, 0, 1, CAPCHAN_ENTER_GETEVENTS));
	EXPECT_LE(1, cc_cq_pending(&self->ch));
	pthread_join(th, NULL);
	EXPECT_EQ(1, ls.res);
	ASSERT_EQ(1, pop_all(self, c, 4));
	EXPECT_EQ(0x5151, c[0].user_data);
}

static volatile sig_atomic_t got_sig;

static void on_sig(int sig)
{
	(void)sig;
	got_sig = 1;
}

struct killer {
	pthread_t target;
	int delay_ms;
};

static void *kill_later(void *arg)
{
	struct killer *k = arg;

	usleep(k->delay_ms * 1000);
	pthread_kill(k->target, SIGUSR1);
	return NULL;
}

TEST_F_TIMEOUT(ring, getevents_eintr, 30)
{
	struct sigaction sa = { .sa_handler = on_sig };	/* no SA_RESTART */
	struct killer k = { .target = pthread_self(), .delay_ms = 300 };
	struct capchan_enter e;
	pthread_t th;
	int ret, err;

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, pthread_create(&th, NULL, kill_later, &k));
	memset(&e, 0, sizeof(e));
	e.min_complete = 1;
	e.flags = CAPCHAN_ENTER_GETEVENTS;
	errno = 0;
	ret = ioctl(self->ch.fd, CAPCHAN_IOC_ENTER, &e);
	err = errno;
	pthread_join(th, NULL);
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EINTR, err);
	EXPECT_EQ(1, got_sig);
	/* Nothing was consumed or posted. */
	EXPECT_EQ(0, cc_cq_pending(&self->ch));
}

/* A process blocked in GETEVENTS dies cleanly on SIGKILL. */
TEST_F_TIMEOUT(ring, getevents_sigkill, 30)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		cc_enter(self->ch.fd, 0, 1, CAPCHAN_ENTER_GETEVENTS);
		_exit(3);
	}
	usleep(300 * 1000);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	EXPECT_EQ(1000 + SIGKILL, cc_wait_child(pid));
}

/* ------------------------------------------------------------------ */
/* fdinfo                                                              */
/* ------------------------------------------------------------------ */

TEST_F(ring, fdinfo)
{
	struct cc_fdinfo *fi = malloc(sizeof(*fi));
	const struct cc_fdinfo_cap *cap;
	struct capchan_cqe c[8];

	ASSERT_NE(NULL, fi);
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(0, fi->sq_head);
	EXPECT_EQ(0, fi->sq_tail);
	EXPECT_EQ(16, fi->sq_entries);
	EXPECT_EQ(0, fi->cq_head);
	EXPECT_EQ(0, fi->cq_tail);
	EXPECT_EQ(32, fi->cq_entries);
	EXPECT_EQ(0, fi->sealed);
	EXPECT_EQ(2, fi->caps);
	EXPECT_EQ(2, fi->ncap);
	EXPECT_EQ(0, fi->bad_cap_lines);
	cap = cc_fdinfo_find(fi, self->dh);
	ASSERT_NE(NULL, cap);
	EXPECT_STREQ("dir", cap->type);
	EXPECT_EQ(R_ALL, cap->rights);
	EXPECT_EQ(0, cap->revoked);
	EXPECT_EQ(0, cap->depth);
	cap = cc_fdinfo_find(fi, self->fh);
	ASSERT_NE(NULL, cap);
	EXPECT_STREQ("file", cap->type);
	EXPECT_EQ(R_READ | R_SEEK | R_STAT | R_DERIVE, cap->rights);
	EXPECT_EQ(1, cap->depth);

	for (int i = 0; i < 5; i++)
		push_nop(self, i, 0);
	ASSERT_EQ(3, cc_enter(self->ch.fd, 3, 0, 0));
	ASSERT_EQ(2, pop_all(self, c, 2));
	ASSERT_EQ(0, capchan_seal(&self->ch));
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(3, fi->sq_head);
	EXPECT_EQ(5, fi->sq_tail);
	EXPECT_EQ(2, fi->cq_head);
	EXPECT_EQ(3, fi->cq_tail);
	EXPECT_EQ(1, fi->sealed);

	ASSERT_EQ(0, capchan_close(&self->ch, self->fh));
	ASSERT_EQ(0, cc_read_fdinfo(self->ch.fd, fi));
	EXPECT_EQ(1, fi->caps);
	EXPECT_EQ(1, fi->ncap);
	EXPECT_EQ(NULL, cc_fdinfo_find(fi, self->fh));
	free(fi);
}

TEST_HARNESS_MAIN
